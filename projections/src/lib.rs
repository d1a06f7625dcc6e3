//! The relay to NATS JetStream and the read models built from it (inbox, to-dos, ongoing plans,
//! the patient-facing plan, audit trail and access log, reporting tables). Filled by a later issue.
