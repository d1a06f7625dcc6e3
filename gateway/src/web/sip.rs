//! One plan as a participating unit sees it: where it stands, who takes part and who
//! coordinates, the main goal, sub-goals under their headings with their interventions (the
//! unit's own drafts marked as such), the next follow-up, the history in Swedish words, and the
//! forms of the steps the caller may take (`sip_forms`). A unit that takes no part in the plan
//! gets the 404 page, exactly as for a plan that does not exist.
//!
//! The plan is read as `GET /api/v1/sips/{id}` reads it (`routes::sips::plan_of_unit`) and
//! shown through the domain's `view_for_unit`; the person's
//! name through the unit's own Pågående SIP row, so protected identity is respected the same way.

use super::form::{Fields, Refusal};
use super::persons::{refusal_or_page, refused};
use super::session::Visitor;
use super::start::person_text;
use super::{dates, Layout, WebError, WebQuery};
use crate::access_log::{self, action};
use crate::aggregate::{Aggregate, SipAggregate};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, NaiveDate, Utc};
use domain::heading::Heading;
use domain::policy::{PolicyProfile, Track};
use domain::sip::{
    view_for_unit, Attendee, AttendeeRole, CareContextKind, Consent, ConsentGiver, ConsentRefusal,
    ConsentStatus, ConsentView, MeetingForm, Responsible, SipState, SipView,
};
use domain::SipId;
use projections::directory::RelativeRow;
use std::collections::BTreeMap;

struct InterventionItem {
    what: String,
    responsible: String,
    performer: Option<String>,
    contact: Option<String>,
    period: String,
    draft: bool,
    /// As the latest follow-up that judged it said: "Avslutad vid uppföljningen 12 juni".
    judged: Option<String>,
}

struct SubGoalItem {
    text: String,
    responsible: String,
    draft: bool,
    judged: Option<String>,
    interventions: Vec<InterventionItem>,
}

/// How the latest follow-up that judged each goal (`None`: the main goal) and each intervention
/// judged it, in words with the day: the plan section says where things stand, not only the
/// "Möten" history (a review found a goal reached at a follow-up shown there alone).
struct Judged {
    goals: std::collections::BTreeMap<Option<String>, String>,
    interventions: std::collections::BTreeMap<String, String>,
}

impl Judged {
    fn of(view: &domain::sip::SipView, today: chrono::NaiveDate) -> Judged {
        let mut follow_ups: Vec<_> = view.follow_ups.iter().collect();
        follow_ups.sort_by_key(|f| (f.held_on, f.recorded_at));
        let mut judged = Judged {
            goals: Default::default(),
            interventions: Default::default(),
        };
        for f in follow_ups {
            let at = format!("vid uppföljningen {}", dates::day(f.held_on, today));
            for g in &f.goals {
                let word = if g.reached {
                    "Uppnått"
                } else {
                    "Inte uppnått"
                };
                judged
                    .goals
                    .insert(g.sub_goal_id.clone(), format!("{word} {at}"));
            }
            for i in &f.interventions {
                let word = crate::routes::me::outcome_text(i.outcome).1;
                judged
                    .interventions
                    .insert(i.intervention_id.clone(), format!("{word} {at}"));
            }
        }
        judged
    }
}

/// One consent as the page shows it.
struct ConsentItem {
    /// "Den enskilde", "Maria Berg (vårdnadshavare)", "Karl Ek (företrädare)".
    given_by: String,
    actors: Vec<String>,
    /// The närstående it lets the meeting invite by name; `None` when it does not say.
    relatives: Option<Vec<String>>,
    topics: Vec<String>,
    valid_until: String,
    recorded: String,
}

/// The "Samtycke" section: where consent stands, the consents in force (or, with none, the
/// latest that expired), and a refusal when consent was declined or withdrawn.
struct ConsentSection {
    status: &'static str,
    in_force: Vec<ConsentItem>,
    expired: Option<ConsentItem>,
    /// "Samtycke nekades av den enskilde.", when and by whom it was registered, and the note.
    refusal: Option<ConsentRefusalItem>,
    /// The person has närstående registered: a consent that does not say which of them may be
    /// invited says so (ADR 0051).
    has_narstaende: bool,
    /// Units that took part but that the consent that speaks no longer names: not called, and
    /// the plan is not shared with them (ADR 0053).
    left_out: Vec<String>,
}

/// A declined or withdrawn consent as the page shows it.
struct ConsentRefusalItem {
    text: String,
    recorded: String,
    note: Option<String>,
}

/// How the plan was closed: when, why, and the note.
struct ClosedItem {
    when: String,
    reason: &'static str,
    note: Option<String>,
    /// With "Ersatt av en ny plan": the new plan's page.
    replaced_by: Option<String>,
}

/// A meeting held or a follow-up recorded, as the "Möten" section lists it (newest first).
struct MeetingEntry {
    /// "SIP-möte" or "Uppföljning".
    title: &'static str,
    when: String,
    /// Who chaired, minuted, attended, the follow-up date agreed, SIP-kollen…
    facts: Vec<(&'static str, String)>,
    /// Per goal judged at a follow-up: the goal, "Uppnått" or "Inte uppnått", the comment.
    goals: Vec<OutcomeItem>,
    /// Per intervention judged at a follow-up: it, "Fortsätter", "Ändrad" or "Avslutad", the
    /// comment.
    interventions: Vec<OutcomeItem>,
    note: Option<String>,
}

/// A goal or an intervention as judged at a follow-up.
struct OutcomeItem {
    what: String,
    outcome: &'static str,
    comment: Option<String>,
}

/// One line of the plan's history.
struct HistoryItem {
    when: String,
    who: String,
    what: String,
}

struct HeadingItem {
    label: &'static str,
    sub_goals: Vec<SubGoalItem>,
}

/// The SIP page.
#[derive(Template)]
#[template(path = "sip.html")]
struct SipPage {
    layout: Layout,
    /// What the step just taken did, said after the page was sent back to (`?klart=`).
    done: Option<&'static str>,
    /// The plan's id, for its printable page.
    sip_id: String,
    person: String,
    phase: &'static str,
    coordinator: Option<String>,
    participants: Vec<String>,
    main_goal: Option<(String, bool)>,
    main_goal_judged: Option<String>,
    headings: Vec<HeadingItem>,
    next_follow_up: Option<String>,
    /// The earliest kallelse neither held nor cancelled (as Min plan's "Nästa möte").
    next_meeting: Option<String>,
    /// The situation the plan started in and its deadlines (`need_facts`).
    need: Vec<(&'static str, String)>,
    /// Huvudmål, delmål and insatser wait for the SIP-möte: a line instead of their forms.
    goals_wait_for_meeting: bool,
    closed: Option<ClosedItem>,
    fixed_care_contacts: Vec<String>,
    consent: ConsentSection,
    /// The "Möten" section: meetings held and follow-ups recorded, newest first.
    meetings: Vec<MeetingEntry>,
    history: Vec<HistoryItem>,
    mappings: Vec<(&'static str, String)>,
    invitations: Vec<InvitationItem>,
    invitation_drafts: Vec<DraftItem>,
    person_link: String,
    forms: Vec<super::form::FormView>,
}

/// A kallelse as the page lists it.
struct InvitationItem {
    when: String,
    place: String,
    status: &'static str,
    /// (name, reached by letter, left out by the consent since: not called any more).
    recipients: Vec<(String, bool, bool)>,
    /// Active, but every unit it calls was left out by the consent since and nobody else is
    /// called: the coordinator is to call it off or call again.
    nobody_left: bool,
    representatives: Vec<String>,
    /// The units called in samplan that have not named their representative yet, while the
    /// meeting is ahead: whom the coordinator may need to remind.
    unanswered: Vec<String>,
    /// The printable letters (coordinator's unit only): (recipient, page, whether posted: "ej
    /// postat" while owed, "postat" once recorded, "inte postat" when none was and none is owed
    /// any more — the meeting was held or called off).
    letters: Vec<(String, String, &'static str)>,
}

/// A kallelse saved unsent ("Spara"), shown to the coordinator's unit only.
struct DraftItem {
    when: String,
    recipients: usize,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct After {
    efter: Option<i64>,
    /// The step just taken, to confirm it ([`DONE`]).
    klart: Option<String>,
}

/// What each step did, said on the plan's page (or the person's) after it succeeded, by the key
/// [`done_key`] gives: a form sent without a word back left staff unsure whether it went
/// through, and the step's own form is often gone from the page once taken.
const DONE: &[(&str, &str)] = &[
    ("behov", "SIP:en är startad. Nästa steg är samtycket."),
    ("registrerad", "Personen är registrerad."),
    ("narstaende", "Den närstående är tillagd."),
    ("kontaktuppgifter", "Kontaktuppgifterna är ändrade."),
    ("ta-bort", "Den närstående är borttagen."),
    ("skyddad", "Skyddade personuppgifter är registrerade. Personens planer ska avslutas."),
    ("avliden", "Dödsfallet är registrerat. Personens planer ska avslutas."),
    ("flyttat", "Flytten från länet är registrerad. Personens planer ska avslutas."),
    ("samtycke", "Samtycket är registrerat."),
    ("samtycke-nekat", "Det är registrerat att personen inte samtycker."),
    ("samtycke-aterkallat", "Det är registrerat att samtycket är återkallat."),
    ("underlag", "SIP-underlaget är skapat."),
    ("kartlaggning", "Kartläggningen är sparad."),
    ("kallelse", "Kallelsen är skickad."),
    ("kallelse-utkast", "Kallelsen är sparad men inte skickad. Bara er enhet ser den."),
    ("svar", "Svaret på kallelsen är registrerat."),
    ("mote", "SIP-mötet är registrerat."),
    ("huvudmal-delat", "Huvudmålet är sparat och utdelat."),
    ("huvudmal-utkast", "Huvudmålet är sparat som utkast. Bara er enhet ser det tills ni delar ut det."),
    ("delmal-delat", "Delmålet är sparat och utdelat."),
    ("delmal-utkast", "Delmålet är sparat som utkast. Bara er enhet ser det tills ni delar ut det."),
    ("andra-delmal-delat", "Delmålet är ändrat och utdelat."),
    ("andra-delmal-utkast", "Ändringen av delmålet är sparad som utkast. Bara er enhet ser den tills ni delar ut den."),
    ("insats-delat", "Insatsen är sparad och utdelad."),
    ("insats-utkast", "Insatsen är sparad som utkast. Bara er enhet ser den tills ni delar ut den."),
    ("andra-insats-delat", "Insatsen är ändrad och utdelad."),
    ("andra-insats-utkast", "Ändringen av insatsen är sparad som utkast. Bara er enhet ser den tills ni delar ut den."),
    ("dela-ut", "Era utkast är utdelade: alla som deltar i planen och den enskilde ser dem nu."),
    ("inga-insatser", "Det är registrerat att ni inte har något nytt att dela ut. Er dokumentation efter mötet är klar."),
    ("flytta", "Mötet är flyttat."),
    ("stall-in", "Kallelsen är inställd."),
    ("boka-uppfoljning", "Uppföljningen är bokad."),
    ("uppfoljning-insatser", "Uppföljningen av era insatser är registrerad."),
    ("uppfoljning", "Uppföljningen är registrerad."),
    ("samordnare", "Samordningsansvarig är bytt."),
    ("avslut", "Planen är avslutad."),
    ("utskrivning", "Utskrivningen är registrerad."),
];

/// The key in [`DONE`] of `step` taken with button `action` (`_do`): a draft saved and a draft
/// shared are told apart.
fn done_key(step: &str, action: &str) -> String {
    let drafts = matches!(
        step,
        "huvudmal" | "delmal" | "andra-delmal" | "insats" | "andra-insats"
    );
    match action {
        "dela-ut" if drafts => format!("{step}-delat"),
        "spara" if drafts || step == "kallelse" => format!("{step}-utkast"),
        _ => step.to_owned(),
    }
}

/// What [`DONE`] says for `key` (the plan's steps, and the person page's); nothing for a key it
/// does not know, so the address cannot put words of its own on the page.
pub(crate) fn done_text(key: &str) -> Option<&'static str> {
    DONE.iter().find(|(k, _)| *k == key).map(|(_, text)| *text)
}

/// `GET /sip/{id}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
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
    let done = after.klart.as_deref().and_then(done_text);
    render(&state, &visitor, &id, None, done).await
}

/// `POST /sip/{id}/{steg}`: one step of the plan, through `commands::sips::run`; refused, the
/// page again with the form as typed and the reason beside its field.
pub(crate) async fn post(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, step)): Path<(String, String)>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let fields = Fields(fields);
    visitor.check_posted(&fields)?;
    let caller = visitor.staff()?;
    let meta = fields.write_meta(&format!("/sip/{id}/{step}"));
    match super::sip_forms::run(&state, caller, &id, &step, &fields, &meta).await? {
        Ok(done) => {
            let key = done_key(&step, &fields.get("_do"));
            let to = match done_text(&key) {
                Some(_) => format!("/sip/{id}?efter={}&klart={key}#klart", done.position),
                None => format!("/sip/{id}?efter={}#{step}", done.position),
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(Refusal::App(e)) => {
            let refusal = refusal_or_page(e)?;
            render(&state, &visitor, &id, Some((&step, &fields, refusal)), None).await
        }
        Err(refusal) => render(&state, &visitor, &id, Some((&step, &fields, refusal)), None).await,
    }
}

/// Whether the form of step `key` only adds something of the unit's own beside what is there (a
/// new delmål, insats or kartläggning, the unit's answer to a kallelse, publishing its drafts):
/// nothing another unit saved meanwhile can be overwritten by it, so it needs no version, and
/// units documenting the same day do not refuse each other's saves (ADR 0049).
fn adds_alone(key: &str) -> bool {
    matches!(
        key,
        "delmal" | "insats" | "kartlaggning" | "svar" | "dela-ut" | "inga-insatser"
    )
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
    failed: Option<(&str, &Fields, Refusal)>,
    done: Option<&'static str>,
) -> Result<Response, WebError> {
    let caller = visitor.staff()?;
    let unit = caller.staff_unit()?.clone();
    let sip_id = SipId::parse(id).map_err(|_| WebError::NotFound)?;
    let pool = state.store.pool();
    let (version, position, sip, person_id) =
        crate::routes::sips::plan_of_unit(state, caller, &unit, &sip_id).await?;
    access_log::record(state, caller, &person_id, action::READ_SIP, Some(&sip_id)).await?;
    // The plan is read from the store, the units' names and who uses samplan from the directory:
    // let the directory catch up with the plan (bounded), so that a unit the plan names is never
    // missing from the page's lists (the coordinator's units, the recipients).
    crate::consistency::projection_position(
        state,
        projections::directory::PROJECTION,
        Some(position),
    )
    .await?;

    let now = state.clock.now();
    let today = domain::time::local_date(now);
    let policy = state.policy.for_municipality(None);
    let view = view_for_unit(&sip, &unit, policy, now);
    let units: BTreeMap<String, String> = projections::directory::units(pool)
        .await
        .map_err(crate::error::AppError::from)?
        .into_iter()
        .map(|u| (u.unit_id, u.name))
        .collect();
    let unit_name = |id: &str| units.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let responsible = |r: &Responsible| match r {
        Responsible::Unit { unit_id } => unit_name(unit_id.as_str()),
        Responsible::Person => "Den enskilde (egenvård)".to_string(),
    };
    let person = projections::inbox::ongoing_plan(pool, unit.as_str(), &sip_id.to_string())
        .await
        .map_err(crate::error::AppError::from)?
        .map(|o| person_text(&o.person))
        .unwrap_or_else(|| "Okänd person".into());
    let judged = Judged::of(&view, today);
    let headings = Heading::ALL
        .iter()
        .filter_map(|heading| {
            let sub_goals: Vec<SubGoalItem> = view
                .sub_goals
                .iter()
                .filter(|g| g.content.heading == *heading)
                .map(|g| SubGoalItem {
                    text: g.content.text.clone(),
                    responsible: responsible(&g.content.responsible),
                    draft: !g.published,
                    judged: judged.goals.get(&Some(g.id.clone())).cloned(),
                    interventions: view
                        .interventions
                        .iter()
                        .filter(|i| i.content.sub_goal_id == g.id)
                        .map(|i| InterventionItem {
                            what: i.content.what.clone(),
                            responsible: responsible(&i.content.responsible),
                            performer: i.content.performer.clone(),
                            contact: i.content.contact.clone(),
                            period: match i.content.to {
                                Some(to) => format!(
                                    "{} – {}",
                                    dates::day(i.content.from, today),
                                    dates::day(to, today)
                                ),
                                None => format!("från {}", dates::day(i.content.from, today)),
                            },
                            draft: !i.published,
                            judged: judged.interventions.get(&i.id).cloned(),
                        })
                        .collect(),
                })
                .collect();
            (!sub_goals.is_empty()).then(|| HeadingItem {
                label: heading.label(),
                sub_goals,
            })
        })
        .collect();
    // The history in Swedish words (`domain::sip::history`: no draft's content, no contact
    // details), newest first, from the plan's own stream.
    let mut history = Vec::new();
    let recorded_events = state
        .store
        .read_stream(&sip_id.stream_id(), 1)
        .await
        .map_err(crate::error::AppError::from)?;
    for recorded in recorded_events {
        let event = <SipAggregate as Aggregate>::decode(&recorded)?;
        let (by, at) = event.recorded();
        // A kallelse saved unsent is the coordinator's unit's own business.
        if matches!(event, domain::sip::SipEvent::InvitationDraftSaved { .. }) && by.unit_id != unit
        {
            continue;
        }
        history.push(HistoryItem {
            when: dates::moment(at, now),
            who: format!("{}, {}", by.name, unit_name(by.unit_id.as_str())),
            what: domain::sip::history::describe_for(&event, &unit),
        });
    }
    history.reverse();
    let units_rows = projections::directory::units(pool)
        .await
        .map_err(crate::error::AppError::from)?;
    let relatives = projections::directory::relatives(pool, unit.as_str(), &person_id.to_string())
        .await
        .map_err(crate::error::AppError::from)?;
    let consent = consent_section(&sip, &view.consent, &relatives, &unit_name, now);
    // Under 18 today (from the personnummer): a new kallelse goes to the guardians too.
    let child = projections::directory::person(pool, unit.as_str(), &person_id.to_string())
        .await
        .map_err(crate::error::AppError::from)?
        .and_then(|p| domain::personnummer::parse_canonical(&p.personal_identity_number).ok())
        .is_some_and(|pin| pin.is_child_on(today));
    // The närstående the consent lets a kallelse invite, as the domain judges it when it is sent.
    let guardians: Vec<&str> = relatives
        .iter()
        .filter(|r| r.kind == "guardian")
        .map(|r| r.relative_id.as_str())
        .collect();
    let invitable = domain::sip::relatives_cover(&sip, child, &guardians, today);
    let sip_text = sip_id.to_string();
    let left_out_units: std::collections::BTreeSet<domain::UnitId> = sip
        .participants
        .iter()
        .filter(|u| sip.left_out_by_consent(u))
        .cloned()
        .collect();
    let mut forms = super::sip_forms::forms(&super::sip_forms::Context {
        sip_id: &sip_text,
        view: &view,
        caller,
        units: &units_rows,
        relatives: &relatives,
        policy,
        now,
        child,
        invitable: invitable.as_ref(),
        left_out: &left_out_units,
    })
    .into_iter()
    // Each form carries a key of its own, so a second submit writes nothing; one that changes
    // what is there also carries the version shown, so a save over a change made since is
    // refused (ADR 0049). A form shown again after a refusal gets the plan's version now and a
    // new key, and keeps what was typed.
    .map(|form| {
        let version = (!adds_alone(&form.key)).then_some(version);
        form.guard(version)
    })
    .collect::<Vec<_>>();
    let failed_is_error = failed.is_some();
    if let Some((step, fields, refusal)) = failed {
        match forms.iter_mut().find(|f| f.key == step) {
            Some(form) => {
                form.fill(fields);
                form.refuse(&refusal);
            }
            None => {
                // The form is no longer offered (the plan moved on): the reason above them all.
                let mut form =
                    super::form::FormView::new("fel", format!("/sip/{sip_text}"), "Det gick inte");
                form.refuse(&refusal);
                form.buttons.clear();
                // What was typed is not lost with the form: it is shown, to copy into the journal, say.
                form.kept = fields.typed_text();
                forms.insert(0, form);
            }
        }
    }
    let mappings = view
        .mappings
        .iter()
        .map(|m| (m.mapping.heading.label(), m.mapping.text.clone()))
        .collect();
    let posts_letters = view.coordinator.as_ref().is_some_and(|c| c.unit_id == unit);
    let invitation_drafts = view
        .invitation_drafts
        .iter()
        .map(|d| DraftItem {
            when: d
                .scheduled_at
                .map(|at| dates::moment(at, now))
                .unwrap_or_else(|| "Tid inte vald".to_string()),
            recipients: d.recipients.len(),
        })
        .collect();
    // A unit the consent left out after it was called is called no more (ADR 0052, 0053): the
    // coordinator sees so, rather than wait for its answer (an outside review).
    let left_out = |r: &domain::sip::Recipient| matches!(r, domain::sip::Recipient::Unit { unit_id } if sip.left_out_by_consent(unit_id));
    let invitations = view
        .invitations
        .iter()
        .map(|i| InvitationItem {
            letters: if posts_letters {
                let owed: Vec<&domain::sip::Recipient> = i
                    .letters_owed()
                    .into_iter()
                    .map(|(r, _)| &r.recipient)
                    .collect();
                i.letter_recipients()
                    .into_iter()
                    .map(|r| {
                        (
                            r.name.clone(),
                            format!(
                                "/sip/{sip_id}/kallelse/{}/brev/{}",
                                super::path_segment(&i.invitation_id),
                                super::path_segment(&domain::obligations::recipient_key(
                                    &r.recipient
                                ))
                            ),
                            if owed.contains(&&r.recipient) {
                                "ska postas"
                            } else if i.letters.iter().any(|l| l.recipient == r.recipient) {
                                "postat"
                            } else {
                                "inte postat"
                            },
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            },
            when: dates::meeting_moment(i.scheduled_at, now),
            place: i.place.clone().unwrap_or_default(),
            status: if i.cancelled.is_some() {
                "Inställt"
            } else if i.held {
                "Mötet hölls"
            } else {
                "Kallad"
            },
            recipients: i
                .recipients
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        r.delivery == domain::sip::Delivery::Letter,
                        // Only a meeting still ahead calls nobody left out; a held or called-off
                        // one stands as it was (an outside review read a past meeting rewritten).
                        i.is_active() && left_out(&r.recipient),
                    )
                })
                .collect(),
            nobody_left: i.is_active()
                && !i.recipients.is_empty()
                && i.recipients.iter().all(|r| left_out(&r.recipient)),
            representatives: i
                .representatives
                .iter()
                // A left-out unit's representative is not coming to a meeting ahead.
                .filter(|(u, _)| !(i.is_active() && sip.left_out_by_consent(u)))
                .map(|(u, r)| {
                    let mut text = r.name.clone();
                    if let Some(title) = &r.profession {
                        text.push_str(&format!(" ({title})"));
                    }
                    text.push_str(&format!(", {}", unit_name(u.as_str())));
                    if let Some(phone) = &r.phone {
                        text.push_str(&format!(", telefon {phone}"));
                    }
                    text
                })
                .collect(),
            unanswered: if i.is_active() {
                i.invited_units()
                    .filter(|(u, delivery)| {
                        *delivery == domain::sip::Delivery::Digital
                            && !i.representatives.contains_key(*u)
                            && !sip.left_out_by_consent(u)
                    })
                    .map(|(u, _)| unit_name(u.as_str()))
                    .collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    let page = SipPage {
        done,
        sip_id: sip_id.to_string(),
        mappings,
        invitations,
        invitation_drafts,
        person_link: format!("/patienter/{person_id}"),
        forms,
        history,
        layout: visitor.layout("SIP", Some(unit_name(unit.as_str()))),
        phase: view.phase.label(),
        coordinator: view
            .coordinator
            .as_ref()
            .map(|c| format!("{}, {}", c.name, unit_name(c.unit_id.as_str()))),
        participants: view
            .participants
            .iter()
            .map(|u| unit_name(u.as_str()))
            .collect(),
        main_goal: view
            .main_goal
            .as_ref()
            .map(|g| (g.content.text.clone(), !g.published)),
        main_goal_judged: judged.goals.get(&None).cloned(),
        headings,
        next_follow_up: view.next_follow_up_on.map(|d| dates::agreed_day(d, today)),
        closed: view.closed.as_ref().map(|c| ClosedItem {
            when: dates::moment(c.recorded_at, now),
            reason: super::sip_forms::close_reason_label(c.reason),
            note: c.note.clone(),
            replaced_by: c.replaced_by.map(|id| format!("/sip/{id}")),
        }),
        next_meeting: view
            .invitations
            .iter()
            .filter(|i| i.is_active())
            .min_by_key(|i| i.scheduled_at)
            .filter(|_| view.closed.is_none())
            .map(|i| {
                let mut text = format!(
                    "{} {}",
                    match i.purpose {
                        domain::sip::InvitationPurpose::Meeting => "SIP-möte",
                        domain::sip::InvitationPurpose::FollowUp => "Uppföljning",
                    },
                    dates::meeting_moment(i.scheduled_at, now)
                );
                if let Some(place) = i.place.as_deref().filter(|p| !p.trim().is_empty()) {
                    text.push_str(&format!(", {place}"));
                }
                if i.scheduled_at < now {
                    text.push_str(" (tiden har passerat: registrera mötet)");
                }
                text
            }),
        need: need_facts(&view, policy, now),
        goals_wait_for_meeting: super::sip_forms::goals_wait_for_meeting(&view),
        fixed_care_contacts: view
            .basis
            .iter()
            .flat_map(|b| &b.fixed_care_contacts)
            .map(|f| {
                let mut text = f.name.clone();
                if let Some(u) = &f.unit_id {
                    text.push_str(&format!(", {}", unit_name(u.as_str())));
                }
                if let Some(phone) = &f.phone {
                    text.push_str(&format!(", tel. {phone}"));
                }
                text
            })
            .collect(),
        consent,
        meetings: meeting_entries(&view, &unit_name, now),
        person,
    };
    let response = visitor.page(&page)?;
    if failed_is_error {
        refused(response)
    } else {
        Ok(response)
    }
}

/// The situation the plan started in, as "Läge" lists it: since when the need is known, the
/// care context (with the discharge track, readiness and discharge), and, until the SIP-möte,
/// when the meeting must be held.
fn need_facts(
    view: &SipView,
    policy: &PolicyProfile,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let Some(need) = &view.need else {
        return Vec::new();
    };
    let mut facts = vec![("Behovet känt sedan", dates::moment(need.known_since, now))];
    let context = match (need.context.kind, need.context.track) {
        (CareContextKind::Outpatient, _) => "Öppenvård".to_owned(),
        (CareContextKind::Discharge, None) => "Utskrivning från slutenvården".to_owned(),
        (CareContextKind::Discharge, Some(track)) => {
            format!("Utskrivning från slutenvården, {}", track_word(track))
        }
    };
    facts.push(("Sammanhang", context));
    if let Some(at) = need.context.discharge_ready_at {
        facts.push(("Utskrivningsklar", dates::moment(at, now)));
    }
    if let Some(at) = view.discharged_at {
        let label = if at > now {
            "Planerad utskrivning"
        } else {
            "Utskriven"
        };
        facts.push((label, dates::moment(at, now)));
    }
    if view.meetings.is_empty() && view.closed.is_none() {
        if let Some(text) = super::sip_forms::meeting_deadline_text(
            policy,
            need.known_since,
            &need.context,
            view.discharged_at,
            now,
        ) {
            facts.push(("SIP-möte", text));
        }
    }
    facts
}

/// The consent section: the status in words, each consent in force (newest first), the latest
/// expired one when none is in force, and who declined or withdrew consent and when.
fn consent_section(
    sip: &SipState,
    consent: &ConsentView,
    relatives: &[RelativeRow],
    unit_name: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) -> ConsentSection {
    let today = domain::time::local_date(now);
    let giver = |g: &ConsentGiver| match g {
        ConsentGiver::Person => "Den enskilde".to_owned(),
        ConsentGiver::Guardian { relative_id } | ConsentGiver::Representative { relative_id } => {
            let role = match g {
                ConsentGiver::Guardian { .. } => "vårdnadshavare",
                _ => "företrädare",
            };
            match relatives.iter().find(|r| r.relative_id == *relative_id) {
                Some(r) => format!("{} ({role})", r.name),
                None => format!("En {role}"),
            }
        }
    };
    let item = |c: &Consent| ConsentItem {
        given_by: giver(&c.given_by),
        actors: c.actors.iter().map(|a| unit_name(a.as_str())).collect(),
        relatives: c.relatives.as_ref().map(|ids| {
            ids.iter()
                .map(|id| {
                    relatives
                        .iter()
                        .find(|r| r.relative_id == *id)
                        .map_or_else(|| "En närstående".to_owned(), |r| r.name.clone())
                })
                .collect()
        }),
        topics: c.topics.clone(),
        valid_until: dates::date_with_year(c.valid_until),
        recorded: format!(
            "{} av {}, {}",
            dates::moment(c.recorded_at, now),
            c.recorded_by.name,
            unit_name(c.recorded_by.unit_id.as_str())
        ),
    };
    let withdrawn = consent.status == ConsentStatus::Withdrawn;
    // Each giver's newest consent still valid (a renewal supersedes the one before it in
    // practice; the history keeps every consent), newest first.
    let mut newest: Vec<&Consent> = Vec::new();
    for c in consent.history.iter().rev() {
        if c.valid_until >= today && !newest.iter().any(|n| n.given_by == c.given_by) {
            newest.push(c);
        }
    }
    let in_force: Vec<ConsentItem> = if withdrawn {
        Vec::new()
    } else {
        newest.into_iter().map(item).collect()
    };
    let expired = match (in_force.is_empty(), withdrawn, consent.history.last()) {
        (true, false, Some(latest)) => Some(item(latest)),
        _ => None,
    };
    let refusal = |words: &str, r: &ConsentRefusal| ConsentRefusalItem {
        text: format!(
            "{words} av {}.",
            match &r.by {
                ConsentGiver::Person => "den enskilde".to_owned(),
                other => giver(other),
            }
        ),
        recorded: format!(
            "{} av {}, {}",
            dates::moment(r.recorded_at, now),
            r.recorded_by.name,
            unit_name(r.recorded_by.unit_id.as_str())
        ),
        note: r.note.clone(),
    };
    let refusal = match consent.status {
        ConsentStatus::Withdrawn => sip
            .consent_withdrawn
            .as_ref()
            .map(|r| refusal("Samtycket återkallades", r)),
        ConsentStatus::Declined => sip
            .consent_declined
            .as_ref()
            .map(|r| refusal("Samtycke nekades", r)),
        _ => None,
    };
    ConsentSection {
        status: match consent.status {
            ConsentStatus::Missing if consent.history.is_empty() => "Samtycke saknas",
            ConsentStatus::Missing => "Samtycket är inte komplett",
            ConsentStatus::Given => "Samtycke finns",
            ConsentStatus::Expired => "Samtycket har gått ut",
            ConsentStatus::Declined => "Samtycke nekat",
            ConsentStatus::Withdrawn => "Samtycket återkallat",
        },
        in_force,
        expired,
        refusal,
        has_narstaende: relatives.iter().any(|r| r.kind == "relative"),
        left_out: sip
            .participants
            .iter()
            .filter(|u| sip.left_out_by_consent(u))
            .map(|u| unit_name(u.as_str()))
            .collect(),
    }
}

/// A discharge track as staff name it in a sentence: "rött spår".
pub(crate) fn track_word(track: Track) -> &'static str {
    match track {
        Track::Green => "grönt spår",
        Track::Yellow => "gult spår",
        Track::Red => "rött spår",
    }
}

/// Who attended a meeting, as the "Möten" section names them: staff with their unit, everyone
/// else with what they were there as.
fn attendee_text(a: &Attendee, unit_name: &dyn Fn(&str) -> String) -> String {
    let role = match a.role {
        AttendeeRole::Staff | AttendeeRole::Representative if a.unit_id.is_some() => {
            return format!(
                "{}, {}",
                a.name,
                unit_name(a.unit_id.as_ref().map(|u| u.as_str()).unwrap_or_default())
            );
        }
        AttendeeRole::Staff => return a.name.clone(),
        AttendeeRole::Person => "den enskilde",
        AttendeeRole::Relative => "närstående",
        AttendeeRole::Representative => "företrädare",
        AttendeeRole::Other => return a.name.clone(),
    };
    // The meeting form names the person "Den enskilde": no need to say it twice.
    if a.name.trim().eq_ignore_ascii_case(role) {
        "Den enskilde".to_owned()
    } else {
        format!("{} ({role})", a.name)
    }
}

/// A goal's or an intervention's text without its closing full stop, so that what follows it
/// (the unit, the outcome) reads on.
fn sentence(text: &str) -> &str {
    text.trim().trim_end_matches('.')
}

/// How a meeting was held, in the kallelse's words.
fn meeting_form_label(form: MeetingForm) -> &'static str {
    match form {
        MeetingForm::InPerson => "Fysiskt möte",
        MeetingForm::Video => "Videomöte",
        MeetingForm::Phone => "Telefonmöte",
    }
}

/// Whether each of two dated entries is newer: by the day, then by when it was recorded. A
/// follow-up is dated by its day alone (`held_on`), a meeting by its time, so the day decides
/// first and the moment of recording breaks a tie.
fn newest_first<T>(entries: &mut [((NaiveDate, DateTime<Utc>), T)]) {
    entries.sort_by_key(|e| std::cmp::Reverse(e.0));
}

/// The "Möten" section: each SIP-möte held (time, form, chair, secretary, attendees with their
/// units, the follow-up date agreed, SIP-kollen when recorded, the coordinator from then on) and
/// each follow-up recorded (day, by the coordinator or by which unit, the goals and
/// interventions judged with their comments, the note, the next follow-up), newest first. What
/// Min plan shows the person, staff see here too.
fn meeting_entries(
    view: &SipView,
    unit_name: &dyn Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Vec<MeetingEntry> {
    let today = domain::time::local_date(now);
    let mut entries: Vec<((NaiveDate, DateTime<Utc>), MeetingEntry)> = Vec::new();
    for m in &view.meetings {
        let invitation = view
            .invitations
            .iter()
            .find(|i| i.invitation_id == m.invitation_id);
        let mut facts = Vec::new();
        if let Some(i) = invitation {
            let mut form = meeting_form_label(i.form).to_owned();
            if let Some(place) = i.place.as_deref().filter(|p| !p.trim().is_empty()) {
                form.push_str(&format!(", {place}"));
            }
            facts.push(("Mötesform", form));
        }
        facts.push(("Mötesledare", m.chair.clone()));
        facts.push(("Mötessekreterare", m.secretary.clone()));
        if !m.attendees.is_empty() {
            let names: Vec<String> = m
                .attendees
                .iter()
                .map(|a| attendee_text(a, unit_name))
                .collect();
            facts.push(("Deltagare", names.join("; ")));
        }
        facts.push((
            "Samordningsansvarig efter mötet",
            format!(
                "{}, {}",
                m.coordinator.name,
                unit_name(m.coordinator.unit_id.as_str())
            ),
        ));
        facts.push((
            "Uppföljning bestämd till",
            dates::agreed_day(m.follow_up_on, today),
        ));
        if let Some(offered) = m.sip_survey_offered {
            facts.push((
                "SIP-kollen",
                if offered {
                    "Erbjuden".to_owned()
                } else {
                    "Inte erbjuden".to_owned()
                },
            ));
        }
        entries.push((
            (domain::time::local_date(m.held_at), m.held_at),
            MeetingEntry {
                title: "SIP-möte",
                when: dates::moment(m.held_at, now),
                facts,
                goals: Vec::new(),
                interventions: Vec::new(),
                note: None,
            },
        ));
    }
    for f in &view.follow_ups {
        let by = unit_name(f.recorded_by.unit_id.as_str());
        let mut facts = vec![(
            "Uppföljd av",
            if f.by_coordinator {
                format!("Samordningsansvarig, {}, {by}", f.recorded_by.name)
            } else {
                format!("{by} (egna insatser), {}", f.recorded_by.name)
            },
        )];
        if let Some(i) = f
            .invitation_id
            .as_ref()
            .and_then(|id| view.invitations.iter().find(|i| i.invitation_id == *id))
        {
            let mut meeting = format!(
                "{}, {}",
                dates::moment(i.scheduled_at, now),
                meeting_form_label(i.form)
            );
            if let Some(place) = i.place.as_deref().filter(|p| !p.trim().is_empty()) {
                meeting.push_str(&format!(", {place}"));
            }
            facts.push(("Uppföljningsmöte", meeting));
        }
        if let Some(next) = f.next_follow_up_on {
            facts.push(("Nästa uppföljning", dates::agreed_day(next, today)));
        }
        let goals = f
            .goals
            .iter()
            .map(|g| OutcomeItem {
                what: match &g.sub_goal_id {
                    None => match &view.main_goal {
                        Some(goal) => format!("Huvudmål: {}", sentence(&goal.content.text)),
                        None => "Huvudmålet".to_owned(),
                    },
                    Some(id) => match view.sub_goals.iter().find(|s| s.id == *id) {
                        Some(s) => format!("Delmål: {}", sentence(&s.content.text)),
                        None => "Ett delmål som inte finns kvar i planen".to_owned(),
                    },
                },
                outcome: if g.reached {
                    "Uppnått"
                } else {
                    "Inte uppnått"
                },
                comment: g.comment.clone(),
            })
            .collect();
        let interventions = f
            .interventions
            .iter()
            .map(|i| OutcomeItem {
                what: match view
                    .interventions
                    .iter()
                    .find(|x| x.id == i.intervention_id)
                {
                    Some(x) => format!(
                        "{} ({})",
                        sentence(&x.content.what),
                        match &x.content.responsible {
                            Responsible::Unit { unit_id } => unit_name(unit_id.as_str()),
                            Responsible::Person => "egenvård".to_owned(),
                        }
                    ),
                    None => "En insats som inte finns kvar i planen".to_owned(),
                },
                outcome: crate::routes::me::outcome_text(i.outcome).1,
                comment: i.comment.clone(),
            })
            .collect();
        entries.push((
            (f.held_on, f.recorded_at),
            MeetingEntry {
                title: "Uppföljning",
                when: dates::day(f.held_on, today),
                facts,
                goals,
                interventions,
                note: f.note.clone(),
            },
        ));
    }
    newest_first(&mut entries);
    entries.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(id: &str) -> String {
        match id {
            "hemtjanst" => "Hemtjänst Centrum".to_owned(),
            other => other.to_owned(),
        }
    }

    fn attendee(name: &str, role: AttendeeRole, unit: Option<&str>) -> Attendee {
        Attendee {
            name: name.to_owned(),
            role,
            unit_id: unit.map(|u| domain::UnitId::parse(u).expect("a unit id")),
        }
    }

    #[test]
    fn attendees_are_named_with_their_unit_or_what_they_came_as() {
        assert_eq!(
            attendee_text(
                &attendee("Anna Berg", AttendeeRole::Staff, Some("hemtjanst")),
                &name
            ),
            "Anna Berg, Hemtjänst Centrum"
        );
        assert_eq!(
            attendee_text(
                &attendee("Anna Berg", AttendeeRole::Representative, Some("hemtjanst")),
                &name
            ),
            "Anna Berg, Hemtjänst Centrum"
        );
        assert_eq!(
            attendee_text(&attendee("Den enskilde", AttendeeRole::Person, None), &name),
            "Den enskilde"
        );
        assert_eq!(
            attendee_text(
                &attendee("Erik Lindqvist", AttendeeRole::Person, None),
                &name
            ),
            "Erik Lindqvist (den enskilde)"
        );
        assert_eq!(
            attendee_text(&attendee("Maria Berg", AttendeeRole::Relative, None), &name),
            "Maria Berg (närstående)"
        );
        assert_eq!(
            attendee_text(&attendee("Tolk", AttendeeRole::Other, None), &name),
            "Tolk"
        );
    }

    #[test]
    fn the_newest_meeting_or_follow_up_comes_first() {
        let day = |d: &str| d.parse::<NaiveDate>().expect("a day");
        let at = |t: &str| t.parse::<DateTime<Utc>>().expect("a time");
        let mut entries = vec![
            ((day("2026-09-01"), at("2026-09-01T11:00:00Z")), "SIP-möte"),
            // A follow-up dated the same day as the next one, recorded earlier.
            (
                (day("2026-11-06"), at("2026-11-06T09:00:00Z")),
                "uppföljning 1",
            ),
            (
                (day("2026-11-06"), at("2026-11-06T15:00:00Z")),
                "uppföljning 2",
            ),
            // Recorded late, held long ago: its day decides.
            (
                (day("2026-10-01"), at("2026-12-01T08:00:00Z")),
                "uppföljning 0",
            ),
        ];
        newest_first(&mut entries);
        let order: Vec<&str> = entries.iter().map(|(_, e)| *e).collect();
        assert_eq!(
            order,
            vec![
                "uppföljning 2",
                "uppföljning 1",
                "uppföljning 0",
                "SIP-möte"
            ]
        );
    }

    #[test]
    fn a_step_that_went_through_is_confirmed_in_its_own_words() {
        let said = |step: &str, action: &str| done_text(&done_key(step, action));
        assert_eq!(said("kallelse", "skicka"), Some("Kallelsen är skickad."));
        assert_eq!(
            said("kallelse", "spara"),
            Some("Kallelsen är sparad men inte skickad. Bara er enhet ser den.")
        );
        assert_eq!(
            said("delmal", "dela-ut"),
            Some("Delmålet är sparat och utdelat.")
        );
        assert!(said("delmal", "spara").is_some_and(|t| t.contains("utkast")));
        assert_eq!(said("samtycke", "spara"), Some("Samtycket är registrerat."));
        // The address cannot put words of its own on the page.
        assert_eq!(done_text("<script>alert(1)</script>"), None);
        assert_eq!(done_text(""), None);
        // Every key is said once.
        let mut keys: Vec<&str> = DONE.iter().map(|(k, _)| *k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), DONE.len());
    }
}
