//! A kallelse as a printed letter, one per letter recipient (the person, a relative, a unit
//! without samplan): `GET /sip/{id}/kallelse/{invitation_id}/brev/{recipient}`, laid out for A4
//! (print CSS; the browser's "Skriv ut" or print to PDF), and `POST` on the same path, "Markera
//! som postat", which records `RecordLettersPosted` for that recipient through the same command
//! path as the API's `record-letters-posted`.
//!
//! The letter tells the invitation as it stands: the meeting, its new time, or that it is
//! cancelled (`Invitation::letters_owed`), in words for its reader: the person ("ditt stöd"), a
//! guardian or relative (about the person, named), or a unit without samplan such as
//! Försäkringskassan or a school ("Ni kallas till SIP-möte för …": a kallelse to SIP is a summons,
//! not an invitation). Every letter names whom the meeting concerns by name and birth year, never
//! by personnummer; a child's letter to a guardian speaks of the child. Only the coordinator's
//! unit posts letters, so only it sees them; a unit outside the plan gets the 404 page. Addresses
//! come through the domain's `view_for_unit` (`shown_address`): with protected identity there is
//! no address for the person or a relative, and the page says the letter goes through
//! Skatteverket's forwarding instead.

use super::form::Fields;
use super::session::Visitor;
use super::{dates, WebError, WebQuery};
use crate::access_log::{self, action};
use crate::commands::sips::dto::{Recipient as RecipientDto, RecordLettersPostedRequest};
use crate::error::AppError;
use crate::pipeline::{Write, WriteMeta};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Datelike;
use domain::obligations::recipient_key;
use domain::sip::{
    view_for_unit, Delivery, Invitation, InvitationPurpose, LetterKind, MeetingForm, Recipient,
};
use domain::SipId;

/// The letter page.
#[derive(Template)]
#[template(path = "letter.html")]
struct LetterPage {
    layout: super::Layout,
    back: String,
    action: String,
    /// "Kallelse till SIP-möte", "Ny tid för …", "Inställt SIP-möte", "Inställd uppföljning av
    /// SIP".
    heading: String,
    /// The letter's opening paragraph, in words for its reader.
    lead: String,
    /// Whom the meeting concerns: name and birth year.
    concerning: String,
    /// "Har du frågor …" or "Har ni frågor …".
    questions: &'static str,
    sender_unit: String,
    sender_address: Option<String>,
    sender_phone: Option<String>,
    coordinator: String,
    date: String,
    recipient_name: String,
    /// Address lines; empty when there is none to show.
    address: Vec<String>,
    /// The person has protected identity and this recipient could lead to them.
    protected: bool,
    /// The unit has no address registered.
    address_missing: bool,
    cancelled: bool,
    day: String,
    time: String,
    form: &'static str,
    place: Option<String>,
    reason: String,
    others: Vec<String>,
    /// When a letter of the invitation as it stands was posted to this recipient.
    posted: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct After {
    efter: Option<i64>,
}

fn parse_recipient(key: &str) -> Option<Recipient> {
    match key.split_once(':') {
        Some(("unit", id)) => domain::UnitId::parse(id)
            .ok()
            .map(|unit_id| Recipient::Unit { unit_id }),
        Some(("relative", id)) if !id.is_empty() => Some(Recipient::Relative {
            relative_id: id.to_owned(),
        }),
        None if key == "person" => Some(Recipient::Person),
        _ => None,
    }
}

fn form_words(form: MeetingForm) -> &'static str {
    match form {
        MeetingForm::InPerson => "Fysiskt möte",
        MeetingForm::Video => "Videomöte",
        MeetingForm::Phone => "Telefonmöte",
    }
}

/// What the letter to `recipient` must tell, and when one telling it was posted.
fn letter_kind(
    inv: &Invitation,
    recipient: &Recipient,
) -> (LetterKind, Option<chrono::DateTime<chrono::Utc>>) {
    let kind = if inv.cancelled.is_some() {
        LetterKind::Cancellation
    } else if inv.rescheduled > 0 {
        LetterKind::NewTime
    } else {
        LetterKind::Invitation
    };
    let revision = inv.revision();
    let posted = inv
        .letters
        .iter()
        .filter(|l| l.recipient == *recipient && l.revision == revision)
        .map(|l| l.recorded_at)
        .max();
    (kind, posted)
}

/// Whom a letter is written to, as its words depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// The person the plan is for: "ditt stöd".
    Person,
    /// A guardian of a child: the letter speaks of the child.
    Guardian,
    /// A relative, god man or förvaltare: the letter names the person.
    Relative,
    /// A unit of health care or social services without samplan: "Ni kallas" — called, it
    /// must send a representative ("skyldig att komma", `003_b47277a6b8e59a80.txt`).
    Unit,
    /// An actor outside health care and social services (Försäkringskassan, a school): invited,
    /// not called, since the duty to come is those two's alone (000, 003).
    Invited,
}

/// Whom the meeting concerns, as a letter names them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Concerning {
    /// `None` when the coordinator's unit may not see the name (protected identity marked
    /// before it took part).
    name: Option<String>,
    birth_year: Option<i32>,
    /// Under 18 on the letter's date.
    child: bool,
}

impl Concerning {
    /// "Erik Lindqvist, född 1948"; never the personnummer.
    fn named(&self) -> String {
        match (&self.name, self.birth_year) {
            (Some(name), Some(year)) => format!("{name}, född {year}"),
            (Some(name), None) => name.clone(),
            (None, _) => "en person med skyddade personuppgifter".to_string(),
        }
    }

    /// "barnet Elsa Berg, född 2013" for a child, as [`Concerning::named`] otherwise.
    fn named_for_relatives(&self) -> String {
        match (&self.name, self.child) {
            (Some(_), true) => format!("barnet {}", self.named()),
            _ => self.named(),
        }
    }

    /// "Erik Lindqvists", "Jonas", or "personens".
    fn genitive(&self) -> String {
        match &self.name {
            Some(name) => super::min_plan::genitive(name),
            None if self.child => "barnets".to_string(),
            None => "personens".to_string(),
        }
    }
}

/// What a letter says, apart from the facts of the meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LetterText {
    heading: String,
    lead: String,
    questions: &'static str,
}

/// The heading and opening paragraph of the letter telling `kind` of a `purpose` meeting to
/// `reader`; `when` is the meeting's day and time in words. Swedish agreement: ett SIP-möte,
/// en uppföljning.
#[cfg(test)]
fn letter_text(
    kind: LetterKind,
    purpose: InvitationPurpose,
    reader: Reader,
    about: &Concerning,
    when: &str,
) -> LetterText {
    letter_text_for(kind, purpose, reader, about, when, false)
}

/// [`letter_text`] for a plan that is closed or whose consent is withdrawn (`plan_ends`): a
/// cancellation then says no new meeting is booked, rather than promise a new kallelse (an
/// outside review read the promise in a letter calling off a closed plan's meeting).
fn letter_text_for(
    kind: LetterKind,
    purpose: InvitationPurpose,
    reader: Reader,
    about: &Concerning,
    when: &str,
    plan_ends: bool,
) -> LetterText {
    let follow_up = purpose == InvitationPurpose::FollowUp;
    let invited = reader == Reader::Invited;
    let heading = match (kind, follow_up) {
        (LetterKind::Invitation, false) if invited => "Inbjudan till SIP-möte",
        (LetterKind::Invitation, true) if invited => "Inbjudan till uppföljning av SIP",
        (LetterKind::Invitation, false) => "Kallelse till SIP-möte",
        (LetterKind::Invitation, true) => "Kallelse till uppföljning av SIP",
        (LetterKind::NewTime, false) => "Ny tid för SIP-möte",
        (LetterKind::NewTime, true) => "Ny tid för uppföljning av SIP",
        (LetterKind::Cancellation, false) => "Inställt SIP-möte",
        (LetterKind::Cancellation, true) => "Inställd uppföljning av SIP",
    }
    .to_string();
    let questions = match (reader, kind) {
        (Reader::Unit | Reader::Invited, LetterKind::Cancellation) => "Har ni frågor?",
        (Reader::Invited, _) => "Har ni frågor om inbjudan?",
        (Reader::Unit, _) => "Har ni frågor om kallelsen?",
        (_, LetterKind::Cancellation) => "Har du frågor?",
        (_, _) => "Har du frågor, eller kan du inte komma?",
    };
    let summons = "En kallelse till SIP är en kallelse och inte en inbjudan: er verksamhet utser \
                   själv den representant som deltar.";
    let child_wishes = if about.child {
        " Barnets egna önskemål och behov tas upp vid mötet, även om barnet inte deltar."
    } else {
        ""
    };
    let lead = if kind == LetterKind::Cancellation {
        let (what, you, next) = match (follow_up, reader) {
            (false, Reader::Person) => (
                "Det SIP-möte",
                "du var kallad",
                "Du får en ny kallelse om ett nytt möte bokas.",
            ),
            (true, Reader::Person) => (
                "Den uppföljning av din SIP",
                "du var kallad",
                "Du får en ny kallelse om en ny tid bokas.",
            ),
            (false, Reader::Unit) => (
                "Det SIP-möte",
                "ni var kallade",
                "Ni får en ny kallelse om ett nytt möte bokas.",
            ),
            (false, Reader::Invited) => (
                "Det SIP-möte",
                "ni var inbjudna",
                "Ni får en ny inbjudan om ett nytt möte bokas.",
            ),
            (true, Reader::Invited) => (
                "Den uppföljning av SIP",
                "ni var inbjudna",
                "Ni får en ny inbjudan om en ny tid bokas.",
            ),
            (true, Reader::Unit) => (
                "Den uppföljning av SIP",
                "ni var kallade",
                "Ni får en ny kallelse om en ny tid bokas.",
            ),
            (false, _) => (
                "Det SIP-möte",
                "du var kallad",
                "Du får en ny kallelse om ett nytt möte bokas.",
            ),
            (true, _) => (
                "Den uppföljning av SIP",
                "du var kallad",
                "Du får en ny kallelse om en ny tid bokas.",
            ),
        };
        let concerned = match (reader, follow_up) {
            (Reader::Person, _) => String::new(),
            (Reader::Unit | Reader::Invited, false) => {
                format!(" Mötet gällde {}.", about.named())
            }
            (Reader::Unit | Reader::Invited, true) => {
                format!(" Uppföljningen gällde {}.", about.named())
            }
            (_, false) => format!(" Mötet gällde {}.", about.named_for_relatives()),
            (_, true) => format!(" Uppföljningen gällde {}.", about.named_for_relatives()),
        };
        let next = if plan_ends {
            "Planen avslutas, så inget nytt möte bokas."
        } else {
            next
        };
        format!("{what} som {you} till {when} blir inte av.{concerned} {next}")
    } else {
        let moved = match (kind, follow_up) {
            (LetterKind::NewTime, false) => "Mötet har fått en ny tid. ",
            (LetterKind::NewTime, true) => "Uppföljningen har fått en ny tid. ",
            _ => "",
        };
        let whose = about.genitive();
        let text = match (reader, follow_up) {
            (Reader::Person, false) => "Du är välkommen till ett SIP-möte – samordnad individuell \
                 plan. Vid mötet planerar vi tillsammans med dig hur vård och omsorg ska samverka \
                 kring ditt stöd."
                .to_string(),
            (Reader::Person, true) => "Du är välkommen till en uppföljning av din SIP – \
                 samordnad individuell plan. Vid uppföljningen går vi tillsammans med dig igenom \
                 hur planen har fungerat och vad som behöver ändras."
                .to_string(),
            (Reader::Guardian, false) => format!(
                "Som vårdnadshavare är du välkommen till ett SIP-möte – samordnad individuell \
                 plan – för {}. Vid mötet planerar vi tillsammans med er hur vård och omsorg ska \
                 samverka kring {whose} stöd.{child_wishes}",
                about.named_for_relatives()
            ),
            (Reader::Guardian, true) => format!(
                "Som vårdnadshavare är du välkommen till en uppföljning av den samordnade \
                 individuella planen (SIP) för {}. Vid uppföljningen går vi tillsammans med er \
                 igenom hur planen har fungerat och vad som behöver ändras.{child_wishes}",
                about.named_for_relatives()
            ),
            (Reader::Relative, false) => format!(
                "Du är välkommen till ett SIP-möte – samordnad individuell plan – för {}. Vid \
                 mötet planerar vi tillsammans hur vård och omsorg ska samverka kring {whose} \
                 stöd.{child_wishes}",
                about.named_for_relatives()
            ),
            (Reader::Relative, true) => format!(
                "Du är välkommen till en uppföljning av den samordnade individuella planen (SIP) \
                 för {}. Vid uppföljningen går vi tillsammans igenom hur planen har fungerat och \
                 vad som behöver ändras.{child_wishes}",
                about.named_for_relatives()
            ),
            (Reader::Unit, false) => format!(
                "Ni kallas till SIP-möte – samordnad individuell plan – för {}. Vid mötet \
                 planerar vi tillsammans med den enskilde hur våra insatser ska samordnas. \
                 {summons}",
                about.named()
            ),
            (Reader::Unit, true) => format!(
                "Ni kallas till uppföljning av den samordnade individuella planen (SIP) för {}. \
                 Följ upp era egna insatser inför mötet. {summons}",
                about.named()
            ),
            (Reader::Invited, false) => format!(
                "Ni bjuds in till SIP-möte – samordnad individuell plan – för {}. Vid mötet \
                 planerar vi tillsammans med den enskilde hur insatserna ska samordnas. Vi vill \
                 gärna att en representant för er verksamhet deltar.",
                about.named()
            ),
            (Reader::Invited, true) => format!(
                "Ni bjuds in till uppföljning av den samordnade individuella planen (SIP) för {}. \
                 Vi vill gärna att en representant för er verksamhet deltar och berättar hur era \
                 insatser har gått.",
                about.named()
            ),
        };
        format!("{moved}{text}")
    };
    LetterText {
        heading,
        lead,
        questions,
    }
}

/// `GET /sip/{id}/kallelse/{invitation_id}/brev/{recipient}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, invitation_id, recipient)): Path<(String, String, String)>,
    WebQuery(after): WebQuery<After>,
) -> Result<Response, WebError> {
    if let Some(position) = after.efter {
        crate::consistency::projection_position(
            &state,
            projections::inbox::PROJECTION,
            Some(position),
        )
        .await?;
    }
    let caller = visitor.staff()?;
    let unit = caller.staff_unit()?.clone();
    let sip_id = SipId::parse(&id).map_err(|_| WebError::NotFound)?;
    let pool = state.store.pool();
    let (_, _, sip, person_id) =
        crate::routes::sips::plan_of_unit(&state, caller, &unit, &sip_id).await?;
    let Some(coordinator) = sip.coordinator().cloned() else {
        return Err(WebError::NotFound);
    };
    if coordinator.unit_id != unit {
        return Err(WebError::Forbidden(
            "Breven skrivs ut och postas av den samordningsansvariges enhet.".into(),
        ));
    }
    let recipient = parse_recipient(&recipient).ok_or(WebError::NotFound)?;
    let now = state.clock.now();
    let today = domain::time::local_date(now);
    let view = view_for_unit(&sip, &unit, state.policy.for_municipality(None), now);
    let inv = view
        .invitations
        .iter()
        .find(|i| i.invitation_id == invitation_id)
        .ok_or(WebError::NotFound)?;
    let to = inv
        .recipients
        .iter()
        .find(|r| r.recipient == recipient && r.delivery == Delivery::Letter)
        .ok_or(WebError::NotFound)?;
    access_log::record(
        &state,
        caller,
        &person_id,
        action::READ_LETTER,
        Some(&sip_id),
    )
    .await?;

    let units = projections::directory::units(pool)
        .await
        .map_err(AppError::from)?;
    let sender = units.iter().find(|u| u.unit_id == unit.as_str());
    let protected = sip.person_status.protected_identity
        && matches!(recipient, Recipient::Person | Recipient::Relative { .. });
    let address: Vec<String> = to
        .address
        .as_deref()
        .map(|a| {
            a.split([',', '\n'])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let (kind, posted) = letter_kind(inv, &recipient);
    // Whom the meeting concerns, as the directory lets this unit see them, and how the
    // recipient stands to them.
    let person_key = person_id.to_string();
    let (person, relatives) = futures::try_join!(
        projections::directory::person(pool, unit.as_str(), &person_key),
        async {
            match &recipient {
                Recipient::Relative { .. } => {
                    projections::directory::relatives(pool, unit.as_str(), &person_key).await
                }
                _ => Ok(Vec::new()),
            }
        }
    )
    .map_err(AppError::from)?;
    let pin = person
        .as_ref()
        .and_then(|p| domain::personnummer::parse_canonical(&p.personal_identity_number).ok());
    let about = Concerning {
        name: person
            .as_ref()
            .filter(|p| p.name_visible)
            .map(|p| p.name.clone()),
        birth_year: pin.as_ref().map(|p| p.birth_date().year()),
        child: pin.as_ref().is_some_and(|p| p.is_child_on(today)),
    };
    let reader = match &recipient {
        Recipient::Person => Reader::Person,
        Recipient::Unit { unit_id } => {
            let external = units
                .iter()
                .any(|u| u.unit_id == unit_id.as_str() && u.principal_kind == "external");
            if external {
                Reader::Invited
            } else {
                Reader::Unit
            }
        }
        Recipient::Relative { relative_id } => {
            let guardian = relatives
                .iter()
                .any(|r| r.relative_id == *relative_id && r.kind == "guardian");
            if guardian && about.child {
                Reader::Guardian
            } else {
                Reader::Relative
            }
        }
    };
    // A letter is kept: the meeting's date carries its year.
    let day = dates::day_with_year(domain::time::local_date(inv.scheduled_at));
    let time = dates::clock(inv.scheduled_at);
    let plan_ends = sip.is_closed() || sip.consent_withdrawn.is_some();
    let text = letter_text_for(
        kind,
        inv.purpose,
        reader,
        &about,
        &format!("{day} {time}"),
        plan_ends,
    );
    let heading = text.heading;
    let key = recipient_key(&recipient);
    let page = LetterPage {
        layout: visitor.layout(format!("Brev: {heading}"), sender.map(|u| u.name.clone())),
        back: format!("/sip/{sip_id}#kallelser"),
        action: format!(
            "/sip/{sip_id}/kallelse/{}/brev/{}",
            super::path_segment(&inv.invitation_id),
            super::path_segment(&key)
        ),
        heading,
        sender_unit: sender
            .map(|u| u.name.clone())
            .unwrap_or_else(|| unit.as_str().to_owned()),
        sender_address: sender.and_then(|u| u.address.clone()),
        sender_phone: sender.and_then(|u| u.phone.clone()),
        coordinator: coordinator.name.clone(),
        date: dates::date_with_year(today),
        recipient_name: to.name.clone(),
        address_missing: address.is_empty() && !protected,
        address,
        protected,
        lead: text.lead,
        concerning: about.named(),
        questions: text.questions,
        cancelled: kind == LetterKind::Cancellation,
        day,
        time,
        form: form_words(inv.form),
        place: inv.place.clone(),
        reason: inv.reason.clone(),
        others: inv
            .recipients
            .iter()
            .filter(|r| r.recipient != recipient)
            // A unit the consent has left out is not coming (ADR 0053).
            .filter(|r| {
                !matches!(&r.recipient, Recipient::Unit { unit_id } if sip.left_out_by_consent(unit_id))
            })
            .map(|r| r.name.clone())
            .collect(),
        posted: posted.map(|at| dates::moment(at, now)),
    };
    visitor.page(&page)
}

/// `POST /sip/{id}/kallelse/{invitation_id}/brev/{recipient}`: "Markera som postat".
pub(crate) async fn posted(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, invitation_id, recipient)): Path<(String, String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    let caller = visitor.staff()?;
    let dto = match parse_recipient(&recipient).ok_or(WebError::NotFound)? {
        Recipient::Person => RecipientDto::Person,
        Recipient::Relative { relative_id } => RecipientDto::Relative { relative_id },
        Recipient::Unit { unit_id } => RecipientDto::Unit {
            unit_id: unit_id.as_str().to_owned(),
        },
    };
    let meta = WriteMeta::default();
    let write = Write {
        caller,
        meta: &meta,
        correlation_id: None,
    };
    let body = RecordLettersPostedRequest {
        invitation_id: invitation_id.clone(),
        recipients: Some(vec![dto]),
    };
    let done = crate::commands::sips::run(&state, write, &id, body).await?;
    Ok(Redirect::to(&format!(
        "/sip/{id}/kallelse/{invitation_id}/brev/{recipient}?efter={}",
        done.position
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_recipient_is_named_in_the_url_as_the_to_dos_name_it() {
        for r in [
            Recipient::Person,
            Recipient::Relative {
                relative_id: "dotter".into(),
            },
            Recipient::Unit {
                unit_id: domain::UnitId::parse("fk-lulea").expect("unit id"),
            },
        ] {
            assert_eq!(parse_recipient(&recipient_key(&r)), Some(r));
        }
        assert_eq!(parse_recipient("relative:"), None);
        assert_eq!(parse_recipient("nagon"), None);
    }

    fn erik() -> Concerning {
        Concerning {
            name: Some("Erik Lindqvist".into()),
            birth_year: Some(1948),
            child: false,
        }
    }

    fn elsa() -> Concerning {
        Concerning {
            name: Some("Elsa Berg".into()),
            birth_year: Some(2013),
            child: true,
        }
    }

    const WHEN: &str = "tisdag 3 december kl. 09.00";

    #[test]
    fn a_cancellation_of_a_plan_that_ends_promises_no_new_kallelse() {
        let t = letter_text_for(
            LetterKind::Cancellation,
            InvitationPurpose::Meeting,
            Reader::Person,
            &erik(),
            WHEN,
            true,
        );
        assert!(
            t.lead
                .ends_with("blir inte av. Planen avslutas, så inget nytt möte bokas."),
            "{}",
            t.lead
        );
        let t = letter_text(
            LetterKind::Cancellation,
            InvitationPurpose::Meeting,
            Reader::Person,
            &erik(),
            WHEN,
        );
        assert!(t
            .lead
            .ends_with("Du får en ny kallelse om ett nytt möte bokas."));
    }

    #[test]
    fn the_person_is_welcomed_to_talk_about_their_own_support() {
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Person,
            &erik(),
            WHEN,
        );
        assert_eq!(t.heading, "Kallelse till SIP-möte");
        assert_eq!(
            t.lead,
            "Du är välkommen till ett SIP-möte – samordnad individuell plan. Vid mötet planerar \
             vi tillsammans med dig hur vård och omsorg ska samverka kring ditt stöd."
        );
        assert_eq!(t.questions, "Har du frågor, eller kan du inte komma?");
    }

    #[test]
    fn a_unit_without_samplan_is_summoned_for_a_named_person() {
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Unit,
            &erik(),
            WHEN,
        );
        assert_eq!(t.heading, "Kallelse till SIP-möte");
        assert!(
            t.lead.starts_with(
                "Ni kallas till SIP-möte – samordnad individuell plan – för Erik Lindqvist, \
                 född 1948."
            ),
            "{}",
            t.lead
        );
        assert!(t
            .lead
            .contains("En kallelse till SIP är en kallelse och inte en inbjudan"));
        assert!(!t.lead.contains("ditt stöd") && !t.lead.contains("Du "));
        assert_eq!(t.questions, "Har ni frågor om kallelsen?");

        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::FollowUp,
            Reader::Unit,
            &erik(),
            WHEN,
        );
        assert!(t.lead.starts_with(
            "Ni kallas till uppföljning av den samordnade individuella planen (SIP) för Erik \
             Lindqvist, född 1948."
        ));
    }

    #[test]
    fn an_actor_outside_care_and_social_services_is_invited_not_called() {
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Invited,
            &erik(),
            WHEN,
        );
        assert_eq!(t.heading, "Inbjudan till SIP-möte");
        assert!(
            t.lead.starts_with(
                "Ni bjuds in till SIP-möte – samordnad individuell plan – för Erik Lindqvist, \
                 född 1948."
            ),
            "{}",
            t.lead
        );
        assert!(!t.lead.contains("kallelse"), "{}", t.lead);
        assert_eq!(t.questions, "Har ni frågor om inbjudan?");
        let t = letter_text(
            LetterKind::Cancellation,
            InvitationPurpose::Meeting,
            Reader::Invited,
            &erik(),
            WHEN,
        );
        assert!(t.lead.contains("som ni var inbjudna till"), "{}", t.lead);
        assert!(t.lead.contains("Ni får en ny inbjudan"), "{}", t.lead);
    }

    #[test]
    fn a_relative_reads_about_the_person_by_name() {
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Relative,
            &erik(),
            WHEN,
        );
        assert_eq!(
            t.lead,
            "Du är välkommen till ett SIP-möte – samordnad individuell plan – för Erik \
             Lindqvist, född 1948. Vid mötet planerar vi tillsammans hur vård och omsorg ska \
             samverka kring Erik Lindqvists stöd."
        );
        // A name ending in s takes no extra s.
        let jonas = Concerning {
            name: Some("Jonas".into()),
            birth_year: Some(1990),
            child: false,
        };
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Relative,
            &jonas,
            WHEN,
        );
        assert!(t.lead.contains("kring Jonas stöd."), "{}", t.lead);
    }

    #[test]
    fn a_guardian_reads_about_the_child() {
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Guardian,
            &elsa(),
            WHEN,
        );
        assert_eq!(
            t.lead,
            "Som vårdnadshavare är du välkommen till ett SIP-möte – samordnad individuell plan \
             – för barnet Elsa Berg, född 2013. Vid mötet planerar vi tillsammans med er hur vård \
             och omsorg ska samverka kring Elsa Bergs stöd. Barnets egna önskemål och behov tas \
             upp vid mötet, även om barnet inte deltar."
        );
        let t = letter_text(
            LetterKind::Cancellation,
            InvitationPurpose::FollowUp,
            Reader::Guardian,
            &elsa(),
            WHEN,
        );
        assert_eq!(
            t.lead,
            "Den uppföljning av SIP som du var kallad till tisdag 3 december kl. 09.00 blir inte \
             av. Uppföljningen gällde barnet Elsa Berg, född 2013. Du får en ny kallelse om en ny \
             tid bokas."
        );
    }

    #[test]
    fn a_follow_up_agrees_in_gender_as_a_meeting_does() {
        let follow_up =
            |kind, reader| letter_text(kind, InvitationPurpose::FollowUp, reader, &erik(), WHEN);
        let t = follow_up(LetterKind::Invitation, Reader::Person);
        assert_eq!(t.heading, "Kallelse till uppföljning av SIP");
        assert!(t
            .lead
            .starts_with("Du är välkommen till en uppföljning av din SIP"));
        let t = follow_up(LetterKind::NewTime, Reader::Person);
        assert_eq!(t.heading, "Ny tid för uppföljning av SIP");
        assert!(t.lead.starts_with("Uppföljningen har fått en ny tid. "));
        let t = follow_up(LetterKind::Cancellation, Reader::Person);
        assert_eq!(t.heading, "Inställd uppföljning av SIP");
        assert_eq!(
            t.lead,
            "Den uppföljning av din SIP som du var kallad till tisdag 3 december kl. 09.00 blir \
             inte av. Du får en ny kallelse om en ny tid bokas."
        );
        let t = letter_text(
            LetterKind::Cancellation,
            InvitationPurpose::Meeting,
            Reader::Unit,
            &erik(),
            WHEN,
        );
        assert_eq!(t.heading, "Inställt SIP-möte");
        assert_eq!(
            t.lead,
            "Det SIP-möte som ni var kallade till tisdag 3 december kl. 09.00 blir inte av. \
             Mötet gällde Erik Lindqvist, född 1948. Ni får en ny kallelse om ett nytt möte \
             bokas."
        );

        // No combination says "ett uppföljning", "Det uppföljning" or "Inställt uppföljning".
        for kind in [
            LetterKind::Invitation,
            LetterKind::NewTime,
            LetterKind::Cancellation,
        ] {
            for reader in [
                Reader::Person,
                Reader::Guardian,
                Reader::Relative,
                Reader::Unit,
            ] {
                for about in [erik(), elsa()] {
                    let t = letter_text(kind, InvitationPurpose::FollowUp, reader, &about, WHEN);
                    let all = format!("{} {}", t.heading, t.lead);
                    for wrong in ["ett uppföljning", "Det uppföljning", "Inställt uppföljning"]
                    {
                        assert!(!all.contains(wrong), "{kind:?} {reader:?}: {all}");
                    }
                    // Only the person's own letter speaks of "din SIP" or "ditt stöd".
                    if reader != Reader::Person {
                        assert!(
                            !all.contains("din SIP") && !all.contains("ditt stöd"),
                            "{all}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_person_whose_name_the_unit_may_not_see_is_not_named() {
        let hidden = Concerning {
            name: None,
            birth_year: None,
            child: false,
        };
        assert_eq!(hidden.named(), "en person med skyddade personuppgifter");
        let t = letter_text(
            LetterKind::Invitation,
            InvitationPurpose::Meeting,
            Reader::Unit,
            &hidden,
            WHEN,
        );
        assert!(t
            .lead
            .contains("för en person med skyddade personuppgifter."));
    }
}
