//! The person's plan as an HL7 FHIR R4 `Bundle` (type `collection`), for `GET
//! /me/plans/{id}/fhir`: a pure function of the published plan, the person and the units.
//!
//! What goes in, and how it follows the national care-plan contract (RIV-TA GetCarePlans 2, which
//! Inera's experimental "CarePlan Base Inera" derives its CarePlan from) where R4 allows:
//! - **CarePlan**: `status` from the plan's state (active; completed when closed because the goals
//!   were met or the need ended; revoked once consent is withdrawn and when closed for any other
//!   reason, a new plan replacing it among them), `intent` `plan`, `category` the contract's
//!   `typeOfCarePlan` code `SIP`, `subject` the Patient, `period` from the need to the closing,
//!   `author` the coordinator's unit, `contributor` every unit taking part (the contract's
//!   `participatingCareUnitHSAId`s), `careTeam`, `goal`s, and an `activity` per intervention plus
//!   one for the next follow-up (kind `Appointment`).
//! - **Goal**s: the main goal (category "Huvudmål") and each sub-goal, categorised by its heading.
//! - **CareTeam**: the coordinator, the fixed care contacts and every unit taking part.
//! - **Organization** per unit, `partOf` its principal (the region or municipality, itself an
//!   Organization); **Practitioner** for the coordinator (HSA-id) and fixed care contacts.
//! - **Patient**: the personnummer (or samordningsnummer) as identifier, the name, the birth
//!   date; phone and address only while the person has no protected identity.
//!
//! Only published content exists in the input (`PatientPlan`), which is what the contract calls
//! approved for the patient, so every resource here is approved for the patient. Resource ids are
//! UUIDs derived from what the resource describes (SHA-256 of a key), so the same plan gives the
//! same bundle, and entries refer to each other by `urn:uuid:` full URLs.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use domain::heading::Heading;
use domain::personnummer::parse_canonical;
use domain::sip::patient::{PatientIntervention, PatientPlan, PatientPlanStatus};
use domain::sip::{CloseReason, InterventionOutcome, InvitationPurpose, Responsible};
use projections::directory::UnitRow;
use projections::patient::PersonRow;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The personnummer's identifier system (the Swedish national OID).
pub const PERSONNUMMER_SYSTEM: &str = "urn:oid:1.2.752.129.2.1.3.1";
/// The samordningsnummer's identifier system.
pub const SAMORDNINGSNUMMER_SYSTEM: &str = "urn:oid:1.2.752.129.2.1.3.3";
/// HSA-id's identifier system.
pub const HSA_ID_SYSTEM: &str = "urn:oid:1.2.752.29.4.19";
/// The kind of care plan, with the codes of the national contract's `typeOfCarePlan`.
pub const CARE_PLAN_TYPE_SYSTEM: &str = "urn:samplan:fhir:type-of-care-plan";
/// The headings sub-goals are written under.
pub const HEADING_SYSTEM: &str = "urn:samplan:fhir:sip-heading";
/// samplan's own ids of plans and units.
pub const SIP_ID_SYSTEM: &str = "urn:samplan:sip-id";
pub const UNIT_ID_SYSTEM: &str = "urn:samplan:unit-id";
const GOAL_ACHIEVEMENT_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/goal-achievement";

/// Why an intervention of a unit the person's consent no longer names ended (ADR 0053).
const OUTSIDE_CONSENT: &str = "Aktören är inte längre med i planen: samtycket omfattar den inte.";

/// The FHIR `CarePlan.status` of a plan.
pub fn care_plan_status(plan: &PatientPlan) -> &'static str {
    match (plan.status, plan.closed.as_ref().map(|c| c.reason)) {
        (PatientPlanStatus::Active, _) => "active",
        // Without consent the plan is to be closed, nothing more is done in it: not R4's on-hold
        // ("expected to resume") but revoked (terminated before completion).
        (PatientPlanStatus::ConsentWithdrawn, _) => "revoked",
        (PatientPlanStatus::Closed, Some(CloseReason::GoalsMet | CloseReason::NoLongerNeeded)) => {
            "completed"
        }
        // Replaced by a new plan among them: R4's revoked "may have been replaced by a new plan".
        (PatientPlanStatus::Closed, _) => "revoked",
    }
}

/// The FHIR `CarePlan.activity.detail.status` of an intervention on `today`.
pub fn activity_status(
    plan: &PatientPlan,
    intervention: &PatientIntervention,
    today: NaiveDate,
) -> &'static str {
    let completed = intervention.outcome == Some(InterventionOutcome::Completed)
        || intervention.to.is_some_and(|to| to < today);
    // A unit the consent no longer names does nothing more in the plan: its intervention ended
    // there as the plan's would (ADR 0053).
    let ended = match plan.status {
        PatientPlanStatus::Closed | PatientPlanStatus::ConsentWithdrawn => true,
        PatientPlanStatus::Active => plan.outside_consent(&intervention.responsible),
    };
    match (completed, ended) {
        (true, _) => "completed",
        // Ended with the plan, or with the unit's part in it: before it began (cancelled) or
        // under way (stopped).
        (false, true) if intervention.from > today => "cancelled",
        (false, true) => "stopped",
        (false, false) if intervention.from > today => "not-started",
        (false, false) => "in-progress",
    }
}

/// A UUID (RFC 9562 version 8, name-based by SHA-256) for `key`.
fn uuid(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn text(s: &str) -> Value {
    json!({ "text": s })
}

/// Collects the bundle's entries, each once, in the order first added.
struct Entries {
    plan_key: String,
    order: Vec<String>,
    resources: BTreeMap<String, Value>,
}

impl Entries {
    /// The full URL of the resource for `key` (its `urn:uuid:`).
    fn url(&self, key: &str) -> String {
        format!("urn:uuid:{}", uuid(&format!("{}:{key}", self.plan_key)))
    }

    fn reference(&self, key: &str) -> Value {
        json!({ "reference": self.url(key) })
    }

    fn add(&mut self, key: &str, resource_type: &str, fields: Value) {
        if self.resources.contains_key(key) {
            return;
        }
        let mut resource = Map::new();
        resource.insert("resourceType".into(), json!(resource_type));
        resource.insert(
            "id".into(),
            json!(uuid(&format!("{}:{key}", self.plan_key))),
        );
        if let Value::Object(more) = fields {
            resource.extend(more);
        }
        self.order.push(key.to_owned());
        self.resources
            .insert(key.to_owned(), Value::Object(resource));
    }

    fn into_entries(mut self) -> Vec<Value> {
        let urls: Vec<String> = self.order.iter().map(|k| self.url(k)).collect();
        self.order
            .iter()
            .zip(urls)
            .filter_map(|(k, url)| {
                self.resources
                    .remove(k)
                    .map(|r| json!({ "fullUrl": url, "resource": r }))
            })
            .collect()
    }
}

/// Texts joined as sentences: each ends with a full stop unless it already ends a sentence, so a
/// text written with its own full stop ("Städning varannan vecka.") gets no second one.
fn sentences<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for text in texts {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if !out.is_empty() {
            if !out.ends_with(['.', '!', '?']) {
                out.push('.');
            }
            out.push(' ');
        }
        out.push_str(text);
    }
    out
}

fn drop_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null() && !matches!(v, Value::Array(a) if a.is_empty()))
                .map(|(k, v)| (k, drop_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(drop_nulls).collect()),
        other => other,
    }
}

fn principal_kind_text(kind: &str) -> &'static str {
    match kind {
        "region" => "Region",
        "municipality" => "Kommun",
        _ => "Extern aktör",
    }
}

/// Adds the unit's Organization (and its principal's); returns the unit's key.
fn add_unit(entries: &mut Entries, units: &BTreeMap<String, UnitRow>, unit_id: &str) -> String {
    let key = format!("unit:{unit_id}");
    let Some(unit) = units.get(unit_id) else {
        entries.add(
            &key,
            "Organization",
            json!({
                "identifier": [{ "system": UNIT_ID_SYSTEM, "value": unit_id }],
                "name": unit_id,
            }),
        );
        return key;
    };
    let principal_key = format!("principal:{}:{}", unit.principal_kind, unit.principal_name);
    entries.add(
        &principal_key,
        "Organization",
        json!({
            "active": true,
            "type": [text(principal_kind_text(&unit.principal_kind))],
            "name": unit.principal_name,
        }),
    );
    let part_of = entries.reference(&principal_key);
    entries.add(
        &key,
        "Organization",
        drop_nulls(json!({
            "identifier": [{ "system": UNIT_ID_SYSTEM, "value": unit.unit_id }],
            "active": true,
            "name": unit.name,
            "telecom": unit.phone.as_ref().map(|p| vec![json!({ "system": "phone", "value": p })]),
            "address": unit.address.as_ref().map(|a| vec![text(a)]),
            "partOf": part_of,
        })),
    );
    key
}

/// The Bundle of `plan`, about `person`, naming `units`; activity statuses as of `today`.
pub fn bundle(
    plan: &PatientPlan,
    person: &PersonRow,
    units: &BTreeMap<String, UnitRow>,
    today: NaiveDate,
) -> Value {
    let mut entries = Entries {
        plan_key: format!("samplan:{}", plan.sip_id),
        order: Vec::new(),
        resources: BTreeMap::new(),
    };
    // CarePlan first, so a reader finds it at the top; filled in at the end.
    entries.add("careplan", "CarePlan", json!({}));

    // The person.
    let pin = parse_canonical(&person.personal_identity_number).ok();
    let system = match pin {
        Some(p) if p.is_coordination_number() => SAMORDNINGSNUMMER_SYSTEM,
        _ => PERSONNUMMER_SYSTEM,
    };
    let shown = !person.protected_identity;
    entries.add(
        "patient",
        "Patient",
        drop_nulls(json!({
            "identifier": [{ "system": system, "value": person.personal_identity_number }],
            "name": [text(&person.name)],
            "birthDate": pin.map(|p| date(p.birth_date())),
            "telecom": person.phone.as_ref().filter(|_| shown)
                .map(|p| vec![json!({ "system": "phone", "value": p })]),
            "address": person.address.as_ref().filter(|_| shown).map(|a| vec![text(a)]),
            // What samplan knows of a death, as R4's `deceased[x]` (a date, no time of day).
            "deceasedDateTime": person.died_on.map(date),
        })),
    );
    let subject = entries.reference("patient");

    // Units.
    let unit_keys: Vec<String> = plan
        .taking_part()
        .iter()
        .map(|u| add_unit(&mut entries, units, u.as_str()))
        .collect();

    // The care team.
    let mut participants = Vec::new();
    let mut author = None;
    if let Some(c) = &plan.coordinator {
        let key = format!("practitioner:{}", c.staff_id.as_str());
        entries.add(
            &key,
            "Practitioner",
            json!({
                "identifier": [{ "system": HSA_ID_SYSTEM, "value": c.staff_id.as_str() }],
                "name": [text(&c.name)],
            }),
        );
        let unit_key = add_unit(&mut entries, units, c.unit_id.as_str());
        author = Some(entries.reference(&unit_key));
        participants.push(json!({
            "role": [text("Samordningsansvarig")],
            "member": entries.reference(&key),
            "onBehalfOf": entries.reference(&unit_key),
        }));
    }
    for (n, contact) in plan.fixed_care_contacts.iter().enumerate() {
        let key = format!("care-contact:{n}");
        entries.add(
            &key,
            "Practitioner",
            drop_nulls(json!({
                "name": [text(&contact.name)],
                "telecom": contact.phone.as_ref()
                    .map(|p| vec![json!({ "system": "phone", "value": p })]),
            })),
        );
        let on_behalf_of = contact
            .unit_id
            .as_ref()
            .map(|u| add_unit(&mut entries, units, u.as_str()))
            .map(|k| entries.reference(&k));
        participants.push(drop_nulls(json!({
            "role": [text("Fast vårdkontakt")],
            "member": entries.reference(&key),
            "onBehalfOf": on_behalf_of,
        })));
    }
    for key in &unit_keys {
        participants.push(json!({
            "role": [text("Deltagande enhet")],
            "member": entries.reference(key),
        }));
    }
    // A plan whose consent is withdrawn is revoked, its team no longer at work on it (a review
    // found the CareTeam active beside a revoked CarePlan).
    let ended = plan.status != PatientPlanStatus::Active;
    entries.add(
        "careteam",
        "CareTeam",
        drop_nulls(json!({
            "status": if ended { "inactive" } else { "active" },
            "name": "Samordnad individuell plan",
            "subject": subject,
            "participant": participants,
            "managingOrganization": author.clone().map(|a| vec![a]),
        })),
    );

    // Goals.
    // A plan ended before completion abandons its goals (R4's cancelled); one completed
    // completes them, each achieved or not as the follow-up judged.
    let lifecycle = match care_plan_status(plan) {
        "completed" => "completed",
        "revoked" => "cancelled",
        _ => "active",
    };
    let achievement = |reached: Option<bool>| {
        reached.map(|r| {
            let (code, display) = if r {
                ("achieved", "Achieved")
            } else {
                ("not-achieved", "Not Achieved")
            };
            json!({ "coding": [{ "system": GOAL_ACHIEVEMENT_SYSTEM, "code": code, "display": display }] })
        })
    };
    let mut goals = Vec::new();
    if let Some(main) = &plan.main_goal {
        entries.add(
            "goal:main",
            "Goal",
            drop_nulls(json!({
                "lifecycleStatus": lifecycle,
                "achievementStatus": achievement(plan.main_goal_reached),
                "category": [text("Huvudmål")],
                "description": text(main),
                "subject": subject,
            })),
        );
        goals.push(entries.reference("goal:main"));
    }
    for heading in Heading::ALL {
        let heading = *heading;
        for g in plan.sub_goals.iter().filter(|g| g.heading == heading) {
            let key = format!("goal:{}", g.id);
            let responsible = responsible_text(&g.responsible, units);
            entries.add(
                &key,
                "Goal",
                drop_nulls(json!({
                    "lifecycleStatus": lifecycle,
                    "achievementStatus": achievement(g.reached),
                    "category": [{
                        "coding": [{ "system": HEADING_SYSTEM, "code": heading.code(), "display": heading.label() }],
                        "text": heading.label(),
                    }],
                    "description": text(&g.text),
                    "subject": subject,
                    "note": std::iter::once(format!("Ansvarig: {responsible}"))
                        .chain(plan.outside_consent(&g.responsible).then(|| OUTSIDE_CONSENT.to_owned()))
                        .map(|n| text(&n))
                        .collect::<Vec<_>>(),
                })),
            );
            goals.push(entries.reference(&key));
        }
    }

    // Activities: the interventions, then the next follow-up.
    let mut activities = Vec::new();
    for i in &plan.interventions {
        let performer = match &i.responsible {
            Responsible::Unit { unit_id } => {
                let key = add_unit(&mut entries, units, unit_id.as_str());
                entries.reference(&key)
            }
            Responsible::Person => subject.clone(),
        };
        let goal_key = format!("goal:{}", i.sub_goal_id);
        let goal = plan
            .sub_goals
            .iter()
            .any(|g| g.id == i.sub_goal_id)
            .then(|| vec![entries.reference(&goal_key)]);
        let mut about = Vec::new();
        if let Some(p) = &i.responsible_person {
            about.push(format!("Ansvarig: {p}"));
        }
        if let Some(p) = &i.performer {
            about.push(format!("Utförs av: {p}"));
        }
        if let Some(c) = &i.contact {
            about.push(format!("Kontakt: {c}"));
        }
        let description =
            sentences(std::iter::once(i.what.as_str()).chain(about.iter().map(String::as_str)));
        activities.push(json!({
            "detail": drop_nulls(json!({
                "code": text(&i.what),
                "goal": goal,
                "status": activity_status(plan, i, today),
                "statusReason": plan
                    .outside_consent(&i.responsible)
                    .then(|| text(OUTSIDE_CONSENT)),
                "scheduledPeriod": drop_nulls(json!({ "start": date(i.from), "end": i.to.map(date) })),
                "performer": [performer],
                "description": description,
            })),
        }));
    }
    if plan.status == PatientPlanStatus::Active {
        // A kallelse says what it summons to: a new SIP-möte, or the plan's follow-up. None once
        // consent is withdrawn: no meeting or follow-up is held without it.
        let next = match (&plan.next_meeting, plan.next_follow_up_on) {
            (Some(m), _) => {
                let (code, what) = match m.purpose {
                    InvitationPurpose::Meeting => ("SIP-möte", "SIP-möte"),
                    InvitationPurpose::FollowUp => ("Uppföljning", "Uppföljning av planen"),
                };
                Some((
                    instant(m.scheduled_at),
                    code,
                    m.place
                        .as_ref()
                        .map(|p| format!("{what}. Plats: {p}"))
                        .unwrap_or_else(|| what.into()),
                ))
            }
            (None, Some(on)) => Some((date(on), "Uppföljning", "Uppföljning av planen".into())),
            (None, None) => None,
        };
        if let Some((start, code, description)) = next {
            activities.push(json!({
                "detail": drop_nulls(json!({
                    "kind": "Appointment",
                    "code": text(code),
                    "status": "scheduled",
                    "scheduledPeriod": { "start": start },
                    "performer": author.clone().map(|a| vec![a]),
                    "description": description,
                })),
            }));
        }
    }

    let contributors: Vec<Value> = unit_keys.iter().map(|k| entries.reference(k)).collect();
    let care_plan = drop_nulls(json!({
        "id": uuid(&format!("{}:careplan", entries.plan_key)),
        "resourceType": "CarePlan",
        "language": "sv-SE",
        "identifier": [{ "system": SIP_ID_SYSTEM, "value": plan.sip_id.to_string() }],
        "status": care_plan_status(plan),
        "intent": "plan",
        "category": [{
            "coding": [{ "system": CARE_PLAN_TYPE_SYSTEM, "code": "SIP", "display": "Samordnad individuell plan" }],
            "text": "Samordnad individuell plan (SIP)",
        }],
        "title": "Samordnad individuell plan",
        "description": plan.main_goal.as_ref().map(|g| format!("Huvudmål: {g}")),
        "subject": subject,
        "period": drop_nulls(json!({
            "start": instant(plan.started_at),
            "end": plan.closed.as_ref().map(|c| instant(c.closed_at)),
        })),
        "created": plan.first_published_at.map(instant),
        "author": author,
        "contributor": contributors,
        "careTeam": [entries.reference("careteam")],
        "goal": goals,
        "activity": activities,
        "note": plan.closed.as_ref().map(|c| vec![text(&format!("Avslutad: {}", c.reason_text))]),
    }));
    entries.resources.insert("careplan".into(), care_plan);

    // The last change the export shows: the plan's as its person reads it
    // (`PatientPlan::updated_at`), or the person's own record's (a death, contact details). The
    // Bundle's id follows it, so a consumer caching by either sees every change (two outside
    // reviews).
    let stamp = plan.updated_at().max(person.changed_at.unwrap_or_default());
    json!({
        "resourceType": "Bundle",
        "id": uuid(&format!("{}:bundle:{}", entries.plan_key, instant(stamp))),
        "meta": { "lastUpdated": instant(stamp) },
        "type": "collection",
        "timestamp": instant(stamp),
        "entry": entries.into_entries(),
    })
}

fn responsible_text(responsible: &Responsible, units: &BTreeMap<String, UnitRow>) -> String {
    match responsible {
        Responsible::Unit { unit_id } => units
            .get(unit_id.as_str())
            .map(|u| u.name.clone())
            .unwrap_or_else(|| unit_id.as_str().to_owned()),
        Responsible::Person => "personen själv".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_joined_as_sentences_get_one_full_stop() {
        assert_eq!(
            sentences(["Städning varannan vecka.", "Utförs av: Hemtjänsten"]),
            "Städning varannan vecka. Utförs av: Hemtjänsten"
        );
        assert_eq!(
            sentences(["Städning", "Ansvarig: Anna", "Kontakt: 070-1"]),
            "Städning. Ansvarig: Anna. Kontakt: 070-1"
        );
        assert_eq!(sentences(["Städning"]), "Städning");
        assert_eq!(sentences(["Hjälp!", "Utförs av: X"]), "Hjälp! Utförs av: X");
    }

    #[test]
    fn ids_are_uuids_and_stable() {
        let a = uuid("samplan:x:careplan");
        assert_eq!(a, uuid("samplan:x:careplan"));
        assert_ne!(a, uuid("samplan:y:careplan"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8", "version 8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "RFC variant");
    }

    #[test]
    fn empty_values_are_left_out() {
        let v = drop_nulls(json!({ "a": null, "b": [], "c": { "d": null, "e": 1 } }));
        assert_eq!(v, json!({ "c": { "e": 1 } }));
    }
}
