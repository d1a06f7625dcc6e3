//! Keeps `docs/events.md`, the event catalogue for consumers of the NATS stream, true to the code.
//!
//! What the domain can emit is read from the event enums themselves, not from a list kept by
//! hand: a small serde `Deserializer` (the probe below) is handed to each enum's derived
//! `Deserialize`, which tells it the names of all its variants (the stored event types, since the
//! enums are externally tagged by variant name) and, per variant, the names of its fields as
//! serialised (the top-level keys of `data`, renames included). A new variant or field therefore
//! fails this test until the page describes it, and a type or field the page names that the code
//! does not have fails it too.
//!
//! The page's shape that this test relies on:
//! - a category section is a level-2 heading that starts with the category in backticks
//!   (`` ## `sip`: … ``); the categories are derived from the stream ids the domain builds, the
//!   way the relay derives them (the text before the first `-`);
//! - inside it, every level-3 heading starts with an event type of that category in backticks,
//!   each event type of the category has exactly one, and a type whose schema version is above 1
//!   says `schema version N` in its heading;
//! - under an event heading, every table row whose first cell is in backticks documents a field
//!   (`recorded_by`, `context.kind`, `recipients[].name`): the part before the first `.` or `[`
//!   is a key of `data`, every key has a row, and the row's last cell is the personal-data
//!   marker `**yes**`, `id` or `no`;
//! - the level-2 section whose heading contains "Schema versions" has one level-3 heading per
//!   event type with a schema version above 1, and no other;
//! - anywhere outside code blocks, a CamelCase word in backticks (`ConsentGiven`) is an event
//!   type the domain has.

use std::collections::{BTreeMap, BTreeSet};

use domain::context::StaffRef;
use domain::event::current_schema_version;
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::inbox::InboxEvent;
use domain::person::PersonEvent;
use domain::registry::{self, RegistryEvent};
use domain::sip::SipEvent;
use domain::unit::UnitEvent;
use serde::de::value::Error as ProbeError;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, VariantAccess, Visitor,
};

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md");

// ---- the probe ---------------------------------------------------------------------------------

/// A deserializer that reads no data: it only notes what a derived `Deserialize` of an enum asks
/// for. With `variant` unset it notes the enum's variant names; with it set, it picks that
/// variant and notes the names of its fields. Either way it then stops with an error.
#[derive(Default)]
struct Probe {
    variant: Option<&'static str>,
    variants: Vec<&'static str>,
    fields: Option<Vec<&'static str>>,
}

impl<'de> de::Deserializer<'de> for &mut Probe {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeError> {
        Err(de::Error::custom("the probe only reads enums"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.variants = variants.to_vec();
        if self.variant.is_none() {
            return Err(de::Error::custom("variants noted"));
        }
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de> EnumAccess<'de> for &mut Probe {
    type Error = ProbeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), ProbeError> {
        let name = self
            .variant
            .ok_or_else(|| de::Error::custom("no variant"))?;
        let chosen = seed.deserialize(IntoDeserializer::<ProbeError>::into_deserializer(name))?;
        Ok((chosen, self))
    }
}

impl<'de> VariantAccess<'de> for &mut Probe {
    type Error = ProbeError;

    fn unit_variant(self) -> Result<(), ProbeError> {
        self.fields = Some(Vec::new());
        Err(de::Error::custom("fields noted"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        _seed: T,
    ) -> Result<T::Value, ProbeError> {
        Err(de::Error::custom("events are struct variants"))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        Err(de::Error::custom("events are struct variants"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.fields = Some(fields.to_vec());
        Err(de::Error::custom("fields noted"))
    }
}

/// One stream kind's events as the code defines them.
struct Stream {
    category: String,
    /// Event type → the keys of its `data`.
    events: BTreeMap<&'static str, BTreeSet<&'static str>>,
}

fn stream_of<T: DeserializeOwned>(stream_id: &str, listed: &[&str]) -> Stream {
    let mut probe = Probe::default();
    assert!(
        T::deserialize(&mut probe).is_err(),
        "the probe reads nothing"
    );
    assert!(!probe.variants.is_empty(), "{stream_id}: no variants seen");
    let mut events = BTreeMap::new();
    for &variant in &probe.variants {
        let mut probe = Probe {
            variant: Some(variant),
            ..Probe::default()
        };
        assert!(
            T::deserialize(&mut probe).is_err(),
            "the probe reads nothing"
        );
        let fields = probe
            .fields
            .unwrap_or_else(|| panic!("{variant}: the probe saw no fields"));
        events.insert(variant, fields.into_iter().collect());
    }
    // The hand-kept list that decoding consults must name the same types as the enum.
    let variants: BTreeSet<&str> = events.keys().copied().collect();
    let listed: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(
        variants, listed,
        "{stream_id}: the enum's variants and its TYPES list differ"
    );
    // The category the relay puts in the subject: the stream id up to its first `-`.
    let category = stream_id
        .split_once('-')
        .map_or(stream_id, |(c, _)| c)
        .to_string();
    Stream { category, events }
}

/// Every stream kind, its category and its events, from the code.
fn streams() -> Vec<Stream> {
    let unit = UnitId::parse("probe").expect("a valid unit id");
    let streams = vec![
        stream_of::<PersonEvent>(PersonId::STREAM_PREFIX, PersonEvent::TYPES),
        stream_of::<UnitEvent>(&unit.stream_id(), UnitEvent::TYPES),
        stream_of::<SipEvent>(SipId::STREAM_PREFIX, SipEvent::TYPES),
        stream_of::<InboxEvent>(&unit.inbox_stream_id(), InboxEvent::TYPES),
        stream_of::<RegistryEvent>(&registry::stream_id("00"), RegistryEvent::TYPES),
    ];
    let mut seen = BTreeSet::new();
    for s in &streams {
        for t in s.events.keys() {
            assert!(seen.insert(*t), "{t} is an event of two streams");
            assert!(
                current_schema_version(t).is_some(),
                "{t} has no schema version: samplan could not read it back"
            );
        }
    }
    streams
}

// ---- the page ----------------------------------------------------------------------------------

/// A heading of the page (outside code blocks).
struct Heading {
    level: usize,
    text: String,
}

/// An event entry of a category section.
struct Entry {
    category: String,
    event_type: String,
    heading: String,
    line: usize,
    /// (top-level key, marker, line) of each field row.
    rows: Vec<(String, String, usize)>,
}

struct Page {
    headings: Vec<Heading>,
    entries: Vec<Entry>,
    /// Level-3 headings of the "Schema versions" section: (first backticked word, line).
    versioned: Vec<(String, usize)>,
    /// Every span in backticks outside code blocks: (text, line).
    spans: Vec<(String, usize)>,
}

/// The text of the first span in backticks at the start of `text`, if it starts with one.
fn leading_code(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('`')?;
    rest.split_once('`').map(|(code, _)| code)
}

fn spans_of(line: &str) -> Vec<String> {
    // Double backticks (rare in this page) are read as empty spans and ignored.
    line.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn read_page(categories: &BTreeSet<String>) -> Page {
    let text =
        std::fs::read_to_string(DOC_PATH).unwrap_or_else(|e| panic!("cannot read {DOC_PATH}: {e}"));
    let mut page = Page {
        headings: Vec::new(),
        entries: Vec::new(),
        versioned: Vec::new(),
        spans: Vec::new(),
    };
    let mut in_code = false;
    let mut category: Option<String> = None;
    let mut in_versions = false;
    let mut entry: Option<Entry> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        page.spans
            .extend(spans_of(line).into_iter().map(|s| (s, n)));
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && line[hashes..].starts_with(' ') {
            let text = line[hashes..].trim().to_string();
            if hashes <= 3 {
                page.entries.extend(entry.take());
            }
            if hashes <= 2 {
                category = None;
                in_versions = false;
            }
            if hashes == 2 {
                category = leading_code(&text)
                    .filter(|c| categories.contains(*c))
                    .map(str::to_string);
                in_versions = text.contains("Schema versions");
            }
            if hashes == 3 {
                let code = leading_code(&text).unwrap_or("").to_string();
                if let Some(cat) = &category {
                    entry = Some(Entry {
                        category: cat.clone(),
                        event_type: code.clone(),
                        heading: text.clone(),
                        line: n,
                        rows: Vec::new(),
                    });
                }
                if in_versions {
                    page.versioned.push((code, n));
                }
            }
            page.headings.push(Heading {
                level: hashes,
                text,
            });
            continue;
        }
        if let Some(e) = entry.as_mut() {
            if line.trim_start().starts_with('|') {
                let cells = cells(line);
                if let Some(path) = cells.first().and_then(|c| leading_code(c)) {
                    let key = path.split(['.', '[']).next().unwrap_or(path).to_string();
                    let marker = cells.last().cloned().unwrap_or_default();
                    e.rows.push((key, marker, n));
                }
            }
        }
    }
    page.entries.extend(entry.take());
    assert!(!in_code, "{DOC_PATH}: a code block is not closed");
    page
}

/// `ConsentGiven`, `PersonalIdentityNumberClaimed`: an upper-case ASCII letter, then letters and
/// digits with at least one more upper-case letter (so `SIP`, `Nats-Msg-Id` or `sip_id` are not).
fn looks_like_event_type(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().skip(1).any(|c| c.is_ascii_uppercase())
        && s.chars().any(|c| c.is_ascii_lowercase())
}

// ---- the test ----------------------------------------------------------------------------------

#[test]
fn the_event_catalogue_names_every_event_type_and_field_and_nothing_else() {
    let streams = streams();
    let categories: BTreeSet<String> = streams.iter().map(|s| s.category.clone()).collect();
    assert_eq!(
        categories.len(),
        streams.len(),
        "two stream kinds share a category"
    );
    let page = read_page(&categories);
    let mut problems: Vec<String> = Vec::new();

    // Every category has its section.
    for cat in &categories {
        let found = page
            .headings
            .iter()
            .any(|h| h.level == 2 && leading_code(&h.text) == Some(cat.as_str()));
        if !found {
            problems.push(format!(
                "the category {cat} has no section \"## `{cat}` …\""
            ));
        }
    }

    // Every event type of the code has exactly one entry, in its category's section, with every
    // key of its `data` and nothing else, each with a personal-data marker.
    let known: BTreeMap<&str, (&str, &BTreeSet<&str>)> = streams
        .iter()
        .flat_map(|s| {
            s.events
                .iter()
                .map(move |(t, f)| (*t, (s.category.as_str(), f)))
        })
        .collect();
    let mut documented: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &page.entries {
        let Some((category, fields)) = known.get(e.event_type.as_str()) else {
            problems.push(format!(
                "line {}: the heading \"### {}\" in the `{}` section names no event type the \
                 domain has",
                e.line, e.heading, e.category
            ));
            continue;
        };
        *documented.entry(e.event_type.as_str()).or_default() += 1;
        if *category != e.category {
            problems.push(format!(
                "line {}: {} is a `{category}` event, but stands in the `{}` section",
                e.line, e.event_type, e.category
            ));
        }
        let version = current_schema_version(&e.event_type).unwrap_or(1);
        if version > 1 && !e.heading.contains(&format!("schema version {version}")) {
            problems.push(format!(
                "line {}: {} is written with schema version {version}; its heading should say \
                 \"schema version {version}\"",
                e.line, e.event_type
            ));
        }
        let rows: BTreeSet<&str> = e.rows.iter().map(|(k, _, _)| k.as_str()).collect();
        for missing in fields.iter().filter(|f| !rows.contains(*f)) {
            problems.push(format!(
                "line {}: {} has the field `{missing}` in `data`, which its table does not \
                 describe",
                e.line, e.event_type
            ));
        }
        for (key, marker, line) in &e.rows {
            if !fields.contains(key.as_str()) {
                problems.push(format!(
                    "line {line}: {} has no field `{key}` in `data`",
                    e.event_type
                ));
            }
            if !["**yes**", "id", "no"].contains(&marker.as_str()) {
                problems.push(format!(
                    "line {line}: the row of `{key}` ends in {marker:?}, not a personal-data \
                     marker (**yes**, id or no)"
                ));
            }
        }
    }
    for t in known.keys() {
        match documented.get(t) {
            None => problems.push(format!("{t} has no entry (\"### `{t}`\") in its section")),
            Some(1) => {}
            Some(n) => problems.push(format!("{t} has {n} entries; one is enough")),
        }
    }

    // The schema-versions section covers exactly the types written above version 1.
    let above_one: BTreeSet<&str> = known
        .keys()
        .copied()
        .filter(|t| current_schema_version(t).unwrap_or(1) > 1)
        .collect();
    let versioned: BTreeSet<&str> = page.versioned.iter().map(|(t, _)| t.as_str()).collect();
    for t in above_one.difference(&versioned) {
        problems.push(format!(
            "{t} has schema version {}, but the section \"Schema versions\" has no \"### `{t}`\"",
            current_schema_version(t).unwrap_or(1)
        ));
    }
    for (t, line) in &page.versioned {
        if !above_one.contains(t.as_str()) {
            problems.push(format!(
                "line {line}: the section \"Schema versions\" has \"### {t}\", which is no event \
                 type written above version 1"
            ));
        }
    }

    // Anything else in backticks that looks like an event type is one.
    for (span, line) in &page.spans {
        if looks_like_event_type(span) && !known.contains_key(span.as_str()) {
            problems.push(format!(
                "line {line}: `{span}` looks like an event type, but the domain has none of that \
                 name"
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "docs/events.md and the domain disagree:\n- {}",
        problems.join("\n- ")
    );
}

#[test]
fn the_probe_sees_the_keys_that_are_stored() {
    // The probe reads the derived `Deserialize`; what is stored comes from `Serialize`. Checked
    // against each other on one event with an optional field that is left out when empty.
    let streams = streams();
    let sip = streams
        .iter()
        .find(|s| s.category == SipId::STREAM_PREFIX.trim_end_matches('-'))
        .expect("the sip stream");
    let probed = &sip.events["FollowUpRecorded"];
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let day = at.date_naive();
    let event = |invitation_id: Option<String>| SipEvent::FollowUpRecorded {
        follow_up_id: "fu-1".into(),
        held_on: day,
        invitation_id,
        by_coordinator: true,
        interventions: Vec::new(),
        goals: Vec::new(),
        next_follow_up_on: None,
        note: None,
        recorded_by: StaffRef {
            staff_id: StaffId::parse("SE2321000016-A1B2").expect("a valid HSA-id"),
            name: "Test".into(),
            unit_id: UnitId::parse("vc-test").expect("a valid unit id"),
        },
        recorded_at: at,
    };
    let keys = |e: SipEvent| -> BTreeSet<String> {
        let (_, _, data) = e.encode();
        data.as_object()
            .expect("data is an object")
            .keys()
            .cloned()
            .collect()
    };
    let probed: BTreeSet<String> = probed.iter().map(|k| k.to_string()).collect();
    assert_eq!(keys(event(Some("inv-1".into()))), probed);
    let mut without = probed.clone();
    without.remove("invitation_id");
    assert_eq!(keys(event(None)), without);
}
