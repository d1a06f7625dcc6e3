//! A kallelse as a printed letter, one per letter recipient (the person, a relative, a unit
//! without samplan): `GET /sip/{id}/kallelse/{invitation_id}/brev/{recipient}`, laid out for A4
//! (print CSS; the browser's "Skriv ut" or print to PDF), and `POST` on the same path, "Markera
//! som postat", which records `RecordLettersPosted` for that recipient through the same command
//! path as the API's `record-letters-posted`.
//!
//! The letter tells the invitation as it stands: the meeting, its new time, or that it is
//! cancelled (`Invitation::letters_owed`). Only the coordinator's unit posts letters, so only it
//! sees them; a unit outside the plan gets the 404 page. Addresses come through the domain's
//! `view_for_unit` (`shown_address`): with protected identity there is no address for the person
//! or a relative, and the page says the letter goes through Skatteverket's forwarding instead.

use super::form::Fields;
use super::session::Visitor;
use super::{dates, WebError};
use crate::access_log::{self, action};
use crate::commands::sips::dto::{Recipient as RecipientDto, RecordLettersPostedRequest};
use crate::error::AppError;
use crate::pipeline::{Write, WriteMeta};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
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
    /// "Kallelse till SIP-möte", "Ny tid för …", "Inställt: …".
    heading: String,
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
    new_time: bool,
    meeting_word: &'static str,
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

/// `GET /sip/{id}/kallelse/{invitation_id}/brev/{recipient}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, invitation_id, recipient)): Path<(String, String, String)>,
    Query(after): Query<After>,
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
    let (_, _, sip, person_id) = crate::routes::sips::plan_of_unit(&state, &unit, &sip_id).await?;
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
    access_log::record(&state, caller, &person_id, action::READ_SIP, Some(&sip_id)).await?;

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
    let meeting_word = match inv.purpose {
        InvitationPurpose::Meeting => "SIP-möte",
        InvitationPurpose::FollowUp => "uppföljning av SIP",
    };
    let heading = match kind {
        LetterKind::Invitation => format!("Kallelse till {meeting_word}"),
        LetterKind::NewTime => format!("Ny tid för {meeting_word}"),
        LetterKind::Cancellation => format!("Inställt {meeting_word}"),
    };
    let key = recipient_key(&recipient);
    let page = LetterPage {
        layout: visitor.layout(
            format!("{heading} – brev till {}", to.name),
            sender.map(|u| u.name.clone()),
        ),
        back: format!("/sip/{sip_id}#kallelser"),
        action: format!("/sip/{sip_id}/kallelse/{}/brev/{key}", inv.invitation_id),
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
        cancelled: kind == LetterKind::Cancellation,
        new_time: kind == LetterKind::NewTime,
        meeting_word,
        day: dates::day(domain::time::local_date(inv.scheduled_at), today),
        time: dates::clock(inv.scheduled_at),
        form: form_words(inv.form),
        place: inv.place.clone(),
        reason: inv.reason.clone(),
        others: inv
            .recipients
            .iter()
            .filter(|r| r.recipient != recipient)
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
    visitor.check_form(fields.csrf())?;
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
}
