//! Forms of the pages: what a form posted (`Fields`), how a form is shown (`FormView`, rendered
//! by `templates/form.html` for every form alike: labelled fields, hints and errors tied to their
//! field with `aria-describedby`), and how a refusal of the domain becomes a Swedish message
//! beside the field it concerns, with what was typed kept.

use crate::error::AppError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use domain::error::DomainError;

/// What a form posted, in order, repeated names kept (check boxes).
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The form's token (CSRF).
    pub fn csrf(&self) -> Option<&str> {
        self.first("_csrf")
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// What was typed as text worth keeping (a sentence, or anything longer than a code): shown
    /// to copy when it could not be saved, so that it is not lost with the form.
    pub fn typed_text(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(name, _)| !name.starts_with('_'))
            .map(|(_, value)| value.trim())
            .filter(|value| value.contains(char::is_whitespace) || value.chars().count() > 30)
            .map(str::to_owned)
            .collect()
    }

    /// The trimmed value, empty when absent.
    pub fn get(&self, name: &str) -> String {
        self.first(name).unwrap_or("").trim().to_owned()
    }

    /// The trimmed value, `None` when absent or empty.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name)).filter(|v| !v.is_empty())
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// How a write from this form is labelled (ADR 0049): the form's one-time key (`_key`,
    /// drawn when the page was made) as its `Idempotency-Key`, so a second submit of the same
    /// form (a double click, Enter twice, Back and Spara) is answered as the first was and
    /// writes nothing; the version the page showed (`_version`) as its `If-Match`, so a save
    /// over a change someone else made since is refused instead of overwriting it. The request
    /// hash covers what was posted to `path`, so the same key with other content is refused.
    pub fn write_meta(&self, path: &str) -> crate::pipeline::WriteMeta {
        let key = self
            .first("_key")
            .map(str::trim)
            .filter(|k| {
                !k.is_empty()
                    && k.len() <= 64
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            .map(|k| format!("web-{k}"));
        let if_match = self
            .first("_version")
            .and_then(|v| v.trim().parse::<i64>().ok());
        let mut body = Vec::new();
        for (name, value) in &self.0 {
            if name == "_csrf" {
                continue;
            }
            body.extend_from_slice(&(name.len() as u64).to_be_bytes());
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(&(value.len() as u64).to_be_bytes());
            body.extend_from_slice(value.as_bytes());
        }
        crate::pipeline::WriteMeta {
            idempotency_key: key,
            if_match,
            request_hash: crate::extract::request_hash("POST", path, &body),
        }
    }

    /// A date (`YYYY-MM-DD`, as `<input type=date>` sends it).
    pub fn date(&self, name: &'static str) -> Result<NaiveDate, FieldError> {
        let raw = self.get(name);
        if raw.is_empty() {
            return Err(FieldError::new(name, "Ange ett datum."));
        }
        NaiveDate::parse_from_str(&raw, "%Y-%m-%d").map_err(|_| {
            // Written right but no day of the calendar (2027-02-30): say so, not the form.
            let shaped = raw.len() == 10
                && raw.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            FieldError::new(
                name,
                if shaped {
                    "Det datumet finns inte i kalendern. Kontrollera dag och månad."
                } else {
                    "Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2026-12-24."
                },
            )
        })
    }

    /// An optional date.
    pub fn opt_date(&self, name: &'static str) -> Result<Option<NaiveDate>, FieldError> {
        if self.get(name).is_empty() {
            Ok(None)
        } else {
            self.date(name).map(Some)
        }
    }

    /// A local (Swedish) time as `<input type=datetime-local>` sends it, in UTC.
    pub fn local_time(&self, name: &'static str) -> Result<DateTime<Utc>, FieldError> {
        let raw = self.get(name);
        if raw.is_empty() {
            return Err(FieldError::new(name, "Ange datum och klockslag."));
        }
        let parsed = NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S"))
            .or_else(|_| NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f"))
            .or_else(|_| NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M"))
            .map_err(|_| {
                FieldError::new(
                    name,
                    "Ange datum och klockslag som ÅÅÅÅ-MM-DD TT:MM, till exempel 2026-12-24 13:00.",
                )
            })?;
        Ok(domain::time::local_to_utc(parsed.date(), parsed.time()))
    }
}

/// A value the page could not even turn into a command (a date that is no date).
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// Beside a required field left empty.
const REQUIRED: &str = "Fyll i det här fältet.";

/// Why a form was not accepted.
#[derive(Debug)]
pub(crate) enum Refusal {
    Field(FieldError),
    App(AppError),
}

impl From<FieldError> for Refusal {
    fn from(e: FieldError) -> Self {
        Refusal::Field(e)
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::App(e)
    }
}

impl From<DomainError> for Refusal {
    fn from(e: DomainError) -> Self {
        Refusal::App(e.into())
    }
}

/// One choice of a select, radio group or check-box group.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
    /// A short note after the label, e.g. "brev".
    pub note: Option<String>,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
            checked: false,
            note: None,
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Choice {
        self.note = Some(note.into());
        self
    }

    pub fn checked(mut self, checked: bool) -> Choice {
        self.checked = checked;
        self
    }
}

/// One field of a form.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The name posted.
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `date`, `month`, `datetime-local`, `tel`, `select`, `radios`, `checkboxes`,
    /// `checkbox` (one box, value "ja"), `hidden`.
    pub kind: &'static str,
    pub value: String,
    pub choices: Vec<Choice>,
    pub required: bool,
    pub hint: Option<String>,
    pub error: Option<String>,
    /// `autocomplete` attribute: `off`, since what is typed here is about patients, and a
    /// browser's form history on a shared computer in a ward would offer it to the next user.
    pub autocomplete: Option<&'static str>,
}

impl Field {
    fn new(name: &'static str, label: impl Into<String>, kind: &'static str) -> Field {
        Field {
            name,
            label: label.into(),
            kind,
            value: String::new(),
            choices: Vec::new(),
            required: false,
            hint: None,
            error: None,
            autocomplete: Some("off"),
        }
    }

    pub fn text(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "text")
    }
    pub fn textarea(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "textarea")
    }
    pub fn date(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "date")
    }
    /// A month, `YYYY-MM` (a month picker where the browser has one, a text box elsewhere).
    pub fn month(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "month")
    }
    pub fn datetime(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "datetime-local")
    }
    pub fn tel(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "tel")
    }
    pub fn select(name: &'static str, label: impl Into<String>, choices: Vec<Choice>) -> Field {
        Field {
            choices,
            ..Field::new(name, label, "select")
        }
    }
    pub fn radios(name: &'static str, label: impl Into<String>, choices: Vec<Choice>) -> Field {
        Field {
            choices,
            ..Field::new(name, label, "radios")
        }
    }
    pub fn checkboxes(name: &'static str, label: impl Into<String>, choices: Vec<Choice>) -> Field {
        Field {
            choices,
            ..Field::new(name, label, "checkboxes")
        }
    }
    pub fn checkbox(name: &'static str, label: impl Into<String>) -> Field {
        Field::new(name, label, "checkbox")
    }
    pub fn hidden(name: &'static str, value: impl Into<String>) -> Field {
        Field {
            value: value.into(),
            ..Field::new(name, "", "hidden")
        }
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Field {
        self.hint = Some(hint.into());
        self
    }
    pub fn value(mut self, value: impl Into<String>) -> Field {
        self.value = value.into();
        self
    }

    /// Whether nothing was given: no text, or no choice of a check-box group. A hidden field is
    /// never empty (the page sets it).
    fn is_empty(&self) -> bool {
        match self.kind {
            "hidden" => false,
            "checkboxes" => !self.choices.iter().any(|c| c.checked),
            _ => self.value.trim().is_empty(),
        }
    }

    /// What a required field left empty is told: a choice is chosen, text is filled in.
    fn required_message(&self) -> &'static str {
        match self.kind {
            "checkboxes" => "Välj minst ett alternativ.",
            "radios" | "select" => "Välj ett alternativ.",
            "checkbox" => "Kryssa i rutan.",
            _ => REQUIRED,
        }
    }

    /// Whether the check box (`checkbox`) is ticked.
    pub fn is_ticked(&self) -> bool {
        !self.value.is_empty()
    }

    /// Whether a choice of a select or radio group is the chosen one.
    pub fn selected(&self, choice: &Choice) -> bool {
        if self.kind == "checkboxes" {
            choice.checked
        } else {
            self.value == choice.value
        }
    }
}

/// A button of a form; several buttons tell by `_do` what to do ("Spara", "Spara & dela ut").
#[derive(Debug, Clone)]
pub(crate) struct Button {
    pub label: &'static str,
    pub value: &'static str,
    pub secondary: bool,
}

/// A form as shown: its fields with what was typed and the errors beside them.
#[derive(Debug, Clone)]
pub(crate) struct FormView {
    /// Unique on the page: the ids of its fields start with it. A step's key, or a step and the
    /// item it changes (`andra-delmal-<id>`).
    pub key: String,
    pub action: String,
    /// `post` (the default: forms change something, or carry a personnummer that must stay out
    /// of the address bar) or `get` (a search that changes nothing and may be bookmarked).
    pub method: &'static str,
    pub title: String,
    pub intro: Option<String>,
    pub fields: Vec<Field>,
    pub buttons: Vec<Button>,
    /// A refusal that concerns no one field.
    pub error: Option<String>,
    /// Shown open (`<details open>`): the form has an error, or it is the next step.
    pub open: bool,
    /// The version of the stream the page showed, posted back as `_version` (see
    /// [`Fields::write_meta`]).
    pub version: Option<i64>,
    /// The form's one-time key, posted back as `_key`.
    pub once: Option<String>,
    /// Text a form that is no longer offered was sent with, shown to copy (nothing was saved).
    pub kept: Vec<String>,
    /// What Enter in a text field does (`_do`) when the first button would share or send: the
    /// browser submits with the first submit button in the form, so a hidden one ahead of the
    /// fields makes Enter save a draft instead of publishing to every participant.
    pub enter: Option<&'static str>,
}

impl FormView {
    pub fn new(
        key: impl Into<String>,
        action: impl Into<String>,
        title: impl Into<String>,
    ) -> Self {
        FormView {
            key: key.into(),
            action: action.into(),
            method: "post",
            title: title.into(),
            intro: None,
            fields: Vec::new(),
            buttons: vec![Button {
                label: "Spara",
                value: "spara",
                secondary: false,
            }],
            error: None,
            open: false,
            version: None,
            once: None,
            kept: Vec::new(),
            enter: None,
        }
    }

    /// Guards the form against being sent twice, and, with `version`, against saving over a
    /// change made since the page was shown (see [`Fields::write_meta`]).
    pub fn guard(mut self, version: Option<i64>) -> Self {
        self.version = version;
        self.once = Some(ulid::Ulid::generate().to_string());
        self
    }

    /// A form that only reads: sent as a GET, without a form token.
    pub fn get(mut self) -> Self {
        self.method = "get";
        self
    }

    pub fn intro(mut self, text: impl Into<String>) -> Self {
        self.intro = Some(text.into());
        self
    }

    pub fn field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }

    pub fn button(mut self, label: &'static str) -> Self {
        self.buttons = vec![Button {
            label,
            value: "spara",
            secondary: false,
        }];
        self.enter = None;
        self
    }

    /// "Spara" (a draft only the unit sees) and "Spara & dela ut" (published to every
    /// participant).
    pub fn save_and_publish(mut self) -> Self {
        self.buttons = vec![
            Button {
                label: "Spara & dela ut",
                value: "dela-ut",
                secondary: false,
            },
            Button {
                label: "Spara som utkast",
                value: "spara",
                secondary: true,
            },
        ];
        self.enter = Some("spara");
        self
    }

    /// "Skicka" (sent to every recipient) and "Spara" (kept unsent, only the unit sees it), as
    /// a kallelse in Lifecare SP.
    pub fn send_and_save(mut self) -> Self {
        self.buttons = vec![
            Button {
                label: "Skicka",
                value: "skicka",
                secondary: false,
            },
            Button {
                label: "Spara",
                value: "spara",
                secondary: true,
            },
        ];
        self.enter = Some("spara");
        self
    }

    pub fn open(mut self, open: bool) -> Self {
        self.open = open;
        self
    }

    /// The form with what `posted` holds typed into its fields.
    pub fn fill(&mut self, posted: &Fields) {
        for field in &mut self.fields {
            if field.kind == "hidden" {
                continue;
            }
            match field.kind {
                "checkboxes" => {
                    let chosen = posted.all(field.name);
                    for choice in &mut field.choices {
                        choice.checked = chosen.contains(&choice.value);
                    }
                }
                _ => field.value = posted.get(field.name),
            }
        }
        self.open = true;
    }

    /// The refusal shown beside the field it concerns, or above the form.
    pub fn refuse(&mut self, refusal: &Refusal) {
        self.open = true;
        let (candidates, message): (Vec<&str>, String) = match refusal {
            Refusal::Field(e) => (vec![e.field], e.message.clone()),
            Refusal::App(AppError::Domain(e)) => (fields_of(e), message_of(e)),
            // The page's version is behind (ADR 0049): what was typed is kept, shown against
            // the plan as it is now.
            Refusal::App(AppError::VersionConflict { .. }) => (
                Vec::new(),
                "Planen har ändrats sedan du öppnade sidan (någon har sparat, kanske du själv i \
                 en annan flik), så det du skrev är inte sparat. Det finns kvar här: läs planen \
                 som den är nu och spara igen om det fortfarande stämmer."
                    .to_owned(),
            ),
            Refusal::App(AppError::Store(eventstore::StoreError::IdempotencyKeyReused {
                ..
            })) => (
                Vec::new(),
                // What was sent first was saved; what is sent now with other content is not
                // (a support review read "sparat" of a registration that never happened).
                "Formuläret är redan skickat och sparat med det som skickades först. Det du \
                 skickade nu är inte sparat; det finns kvar här att kopiera. Öppna sidan på nytt \
                 och fyll i formuläret igen om det ska sparas."
                    .to_owned(),
            ),
            Refusal::App(e) => (Vec::new(), e.problem().detail),
        };
        let target = candidates.iter().find_map(|c| {
            self.fields
                .iter()
                .position(|f| f.name == *c && f.kind != "hidden")
        });
        match target {
            // "Fill it in" said of a choice is said as a choice.
            Some(n) if message == REQUIRED => {
                self.fields[n].error = Some(self.fields[n].required_message().to_owned())
            }
            Some(n) => self.fields[n].error = Some(message),
            None => self.error = Some(message),
        }
        // Every required field left empty is marked too, so a form is put right in one go
        // rather than one refusal per submit.
        for field in &mut self.fields {
            if field.required && field.error.is_none() && field.is_empty() {
                field.error = Some(field.required_message().to_owned());
            }
        }
    }

    /// The id of a field's element (or its fieldset).
    pub fn id_of(&self, field: &Field) -> String {
        format!("{}-{}", self.key, field.name.replace(['.', '_'], "-"))
    }

    /// The ids that describe a field: its hint and its error.
    pub fn described_by(&self, field: &Field) -> String {
        let id = self.id_of(field);
        let mut ids = Vec::new();
        if field.hint.is_some() {
            ids.push(format!("{id}-hint"));
        }
        if field.error.is_some() {
            ids.push(format!("{id}-fel"));
        }
        ids.join(" ")
    }

    /// Every field that has something to correct: (the id to go to, its label, the message),
    /// for the summary a form with more than one shows at its top. A group's first choice is
    /// what the link goes to, since a fieldset takes no keyboard.
    pub fn errors(&self) -> Vec<(String, String, String)> {
        self.fields
            .iter()
            .filter_map(|f| {
                let message = f.error.as_ref()?;
                let id = self.id_of(f);
                let target = match f.kind {
                    "radios" | "checkboxes" => format!("{id}-1"),
                    _ => id,
                };
                let label = f.label.trim_end_matches(['.', ':', ' ']).to_owned();
                Some((target, label, message.clone()))
            })
            .collect()
    }
}

/// The fields a domain error may concern, most likely first; the form picks the first it has.
fn fields_of(e: &DomainError) -> Vec<&'static str> {
    use DomainError::*;
    match e {
        FieldMissing(f) | FieldTooLong { field: f, .. } => vec![f],
        InvalidPersonalIdentityNumber { .. } | PersonAlreadyRegistered | RelativeIsThePerson => {
            vec!["personal_identity_number"]
        }
        InvalidHeading(_) => vec!["heading"],
        KnownSinceInFuture | KnownSinceBeforeBirth { .. } => vec!["known_since"],
        TrackWithoutDischarge => vec!["track"],
        InvalidPeriod => vec!["to"],
        InFuture(_) | InPast(_) => vec![
            "scheduled_at",
            "held_at",
            "held_on",
            "follow_up_on",
            "valid_until",
            "from",
        ],
        UnknownUnit(_)
        | ActorNotCoveredByConsent(..)
        | RecorderNotCoveredByConsent(..)
        | CoordinatorUnitWithoutSamplan(..) => {
            vec!["actors", "recipients", "unit_id", "responsible"]
        }
        NoRecipients => vec!["recipients"],
        UnknownRelative(_)
        | NotAGuardian(_)
        | GuardianConsentForAdult
        | RepresentativeNotAccepted
        | ChildNeedsGuardianConsent
        | GuardianConsentMissing(_)
        | ChildCannotConsent => vec!["given_by", "recipients"],
        UnknownSubGoal(_) => vec!["sub_goal_id"],
        UnknownIntervention(_) => vec!["intervention_id"],
        ChairIsSecretary => vec!["secretary"],
        MeetingBeforeInvitation => vec!["held_at"],
        FollowUpBeforeMeeting => vec!["held_on"],
        MeetingUnchanged | MeetingAfterDischarge(_) => vec!["scheduled_at"],
        GoalsNotMet(_) => vec!["reason"],
        FollowUpDateMissing | FollowUpDateTooEarly => vec!["follow_up_on", "next_follow_up_on"],
        SameCoordinator => vec!["staff_id"],
        ReplacedBySelf => vec!["replaced_by"],
        RelativeExists(_) => vec!["name"],
        NotResponsibleActor => vec!["responsible"],
        InvalidId { .. } => vec!["staff_id", "unit_id"],
        _ => Vec::new(),
    }
}

/// The domain's Swedish message, in plainer words where it names a field by its code.
fn message_of(e: &DomainError) -> String {
    match e {
        DomainError::FieldMissing(_) => REQUIRED.to_owned(),
        // The API's message lists the headings' codes; a page's list holds their names.
        DomainError::InvalidHeading(given) if given.trim().is_empty() => {
            "Välj en rubrik.".to_owned()
        }
        DomainError::InvalidHeading(_) => "Välj en av rubrikerna i listan.".to_owned(),
        DomainError::FieldTooLong { max, .. } => {
            format!("Texten får vara högst {max} tecken lång.")
        }
        other => other.message(),
    }
}

/// `datetime-local` value of a time, in Swedish local time.
pub(crate) fn local_input(at: DateTime<Utc>) -> String {
    domain::time::to_local(at)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused form marks every required field left empty, not only the one refused, so
    /// staff put it right in one submit (the outside audit needed three for "Starta SIP").
    #[test]
    fn a_refusal_marks_every_required_field_left_empty() {
        let mut form = FormView::new("behov", "/x", "Starta SIP")
            .field(Field::textarea("reason", "Varför behövs en SIP?").required())
            .field(Field::datetime("known_since", "Behovet känt sedan").required())
            .field(Field::checkboxes("actors", "Aktörer", vec![Choice::new("vc", "VC")]).required())
            .field(Field::text("note", "Anteckning"))
            .field(Field::hidden("atgard", "x"));
        form.fill(&posted(&[("known_since", "2099-01-01T10:00")]));
        form.refuse(&Refusal::Field(FieldError {
            field: "known_since",
            message: "Tidpunkten kan inte ligga i framtiden.".to_string(),
        }));
        let errors: Vec<(&str, Option<&str>)> = form
            .fields
            .iter()
            .map(|f| (f.name, f.error.as_deref()))
            .collect();
        // The summary at the form's top links each to its field (a group to its first choice).
        let summary: Vec<(String, String)> = form
            .errors()
            .into_iter()
            .map(|(target, label, _)| (target, label))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("behov-reason".into(), "Varför behövs en SIP?".into()),
                ("behov-known-since".into(), "Behovet känt sedan".into()),
                ("behov-actors-1".into(), "Aktörer".into()),
            ]
        );
        assert_eq!(
            errors,
            vec![
                ("reason", Some("Fyll i det här fältet.")),
                (
                    "known_since",
                    Some("Tidpunkten kan inte ligga i framtiden.")
                ),
                ("actors", Some("Välj minst ett alternativ.")),
                ("note", None),
                ("atgard", None),
            ]
        );
    }

    fn posted(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    /// A date written right that no calendar has is said to be so, not to be written wrong (a
    /// support review: "Ange datumet som ÅÅÅÅ-MM-DD" for 2027-02-30).
    #[test]
    fn a_day_the_calendar_lacks_is_told_apart_from_a_date_written_wrong() {
        let no_day = posted(&[("valid_until", "2027-02-30")])
            .date("valid_until")
            .expect_err("no such day");
        assert!(
            no_day.message.contains("finns inte i kalendern"),
            "{}",
            no_day.message
        );
        let written_wrong = posted(&[("valid_until", "30/2 2027")])
            .date("valid_until")
            .expect_err("not a date");
        assert!(
            written_wrong.message.contains("ÅÅÅÅ-MM-DD"),
            "{}",
            written_wrong.message
        );
    }

    #[test]
    fn repeated_fields_and_dates_are_read() {
        let f = posted(&[
            ("actors", "a"),
            ("actors", " b "),
            ("actors", ""),
            ("on", "2026-12-24"),
            ("at", "2026-12-24T13:00"),
        ]);
        assert_eq!(f.all("actors"), vec!["a", "b"]);
        assert_eq!(
            f.date("on").expect("a date"),
            NaiveDate::from_ymd_opt(2026, 12, 24).expect("valid")
        );
        assert!(f.date("missing").is_err());
        // 13:00 in Stockholm in winter is 12:00 UTC.
        assert_eq!(
            f.local_time("at").expect("a time").to_rfc3339(),
            "2026-12-24T12:00:00+00:00"
        );
        assert_eq!(f.opt("missing"), None);
    }

    #[test]
    fn a_domain_error_lands_beside_its_field_and_what_was_typed_is_kept() {
        let mut form = FormView::new("behov", "/x", "Behov")
            .field(Field::textarea("reason", "Varför").required())
            .field(Field::checkboxes(
                "actors",
                "Enheter",
                vec![Choice::new("a", "A"), Choice::new("b", "B")],
            ));
        form.fill(&posted(&[("reason", "  "), ("actors", "b")]));
        form.refuse(&Refusal::App(DomainError::FieldMissing("reason").into()));
        assert_eq!(
            form.fields[0].error.as_deref(),
            Some("Fyll i det här fältet.")
        );
        assert!(form.fields[1].choices[1].checked && !form.fields[1].choices[0].checked);
        assert_eq!(form.described_by(&form.fields[0]), "behov-reason-fel");
        // An error about no field of the form goes above it.
        form.refuse(&Refusal::App(DomainError::ConsentMissing.into()));
        assert!(form
            .error
            .as_deref()
            .is_some_and(|e| e.contains("Samtycke")));
    }
}
