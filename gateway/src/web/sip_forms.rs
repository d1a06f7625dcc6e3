//! The SIP page's forms, in the order staff work, and what they post. Each step is shown only to
//! whom it is for (the coordinator, an invited unit, every participant); each POST checks the
//! form token and calls the same `commands::sips::run` as the API's
//! `POST /api/v1/sips/{id}/{command}`, so nothing the API refuses becomes possible here.

use super::form::{local_input, Choice, Field, Fields, FormView, Refusal};
use super::persons::relative_kind_label;
use crate::auth::Caller;
use crate::commands::persons::RelativeKindDto;
use crate::commands::sips::dto::*;
use crate::error::AppError;
use crate::pipeline::{Write, WriteMeta, WriteResponse};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use domain::heading::Heading;
use domain::obligations::ObligationKind;
use domain::policy::{PolicyProfile, Track};
use domain::sip::{self as dsip, CareContextKind, ConsentStatus, SipPhase, SipView};
use projections::directory::{RelativeRow, UnitRow};
use std::collections::BTreeSet;

/// What the forms need to know about the plan and the caller.
pub(crate) struct Context<'a> {
    pub sip_id: &'a str,
    pub view: &'a SipView,
    pub caller: &'a Caller,
    pub units: &'a [UnitRow],
    pub relatives: &'a [RelativeRow],
    /// The deadlines the region's guidance gives (shown beside the kallelse's time).
    pub policy: &'a PolicyProfile,
    pub now: DateTime<Utc>,
    /// The person is under 18 today: a new kallelse goes to the guardians too.
    pub child: bool,
    /// The närstående the consent in force lets a meeting invite; `None`: it does not limit them.
    pub invitable: Option<&'a BTreeSet<String>>,
    /// The units the consent that speaks leaves out (ADR 0053): not called, not present.
    pub left_out: &'a BTreeSet<domain::UnitId>,
}

impl Context<'_> {
    fn unit(&self) -> &str {
        self.caller.unit.as_ref().map(|u| u.as_str()).unwrap_or("")
    }
    fn is_coordinator(&self) -> bool {
        self.view
            .coordinator
            .as_ref()
            .is_some_and(|c| c.staff_id.as_str() == self.caller.sub)
    }
    /// The caller's unit holds the coordination (the coordinator or a colleague of theirs).
    fn coordinators_unit(&self) -> bool {
        self.view
            .coordinator
            .as_ref()
            .is_some_and(|c| c.unit_id.as_str() == self.unit())
    }
    fn unit_name(&self, id: &str) -> String {
        self.units
            .iter()
            .find(|u| u.unit_id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_owned())
    }
    fn action(&self, step: &str) -> String {
        format!("/sip/{}/{step}", self.sip_id)
    }
    fn today(&self) -> chrono::NaiveDate {
        domain::time::local_date(self.now)
    }
    /// The registered units in the order staff read them: by name.
    fn units_by_name(&self) -> Vec<&UnitRow> {
        let mut units: Vec<&UnitRow> = self.units.iter().collect();
        units.sort_by_cached_key(|u| (name_order(&u.name), name_order(&u.principal_name)));
        units
    }
    /// Units to pick from: every registered unit by name, letter recipients marked.
    fn unit_choices(&self, skip_own: bool) -> Vec<Choice> {
        self.units_by_name()
            .into_iter()
            .filter(|u| !(skip_own && u.unit_id == self.unit()))
            .map(|u| {
                let c = Choice::new(
                    u.unit_id.clone(),
                    format!("{}, {}", u.name, u.principal_name),
                );
                if u.uses_samplan {
                    c
                } else {
                    c.note("brev")
                }
            })
            .collect()
    }
    /// Whether `unit` is registered as not using samplan (the coordinator documents for it).
    fn without_samplan(&self, unit: &str) -> bool {
        self.units
            .iter()
            .any(|u| u.unit_id == unit && !u.uses_samplan)
    }
    /// Whether the caller may document a delmål or insats `responsible` is responsible for, as
    /// the domain decides: each unit its own; the coordinator also the person's (egenvård) and
    /// those of units without samplan (002: "Är det externa aktörer som är delaktiga är det den
    /// samordningsansvariga som fyller i för dem").
    fn may_document(&self, responsible: &dsip::Responsible) -> bool {
        match responsible {
            dsip::Responsible::Unit { unit_id } if unit_id.as_str() == self.unit() => true,
            dsip::Responsible::Unit { unit_id } => {
                self.is_coordinator() && self.without_samplan(unit_id.as_str())
            }
            dsip::Responsible::Person => self.is_coordinator(),
        }
    }
    /// Who the caller may make responsible: their own unit; for the coordinator also the
    /// participating units without samplan (by name) and the person (egenvård).
    fn responsible_choices(&self) -> Vec<Choice> {
        let mut choices = vec![Choice::new(
            format!("unit:{}", self.unit()),
            format!("{} (din enhet)", self.unit_name(self.unit())),
        )];
        if self.is_coordinator() {
            choices.extend(
                self.units_by_name()
                    .into_iter()
                    .filter(|u| {
                        !u.uses_samplan
                            && u.unit_id != self.unit()
                            && self
                                .view
                                .participants
                                .iter()
                                .any(|p| p.as_str() == u.unit_id)
                    })
                    .map(|u| Choice::new(format!("unit:{}", u.unit_id), u.name.clone())),
            );
            choices.push(Choice::new("person", "Den enskilde (egenvård)"));
        }
        choices
    }
    fn active_invitations(&self) -> impl Iterator<Item = &dsip::Invitation> {
        self.view
            .invitations
            .iter()
            .filter(|i| i.cancelled.is_none() && !i.held)
    }
    /// The active kallelser summoning to `purpose`: a SIP-möte is recorded with the meeting
    /// form, a follow-up meeting with the uppföljning form.
    fn active_for(
        &self,
        purpose: dsip::InvitationPurpose,
    ) -> impl Iterator<Item = &dsip::Invitation> {
        self.active_invitations()
            .filter(move |i| i.purpose == purpose)
    }
    /// A kallelse as a choice: its time and, when there is one, its place.
    fn invitation_choice(&self, i: &dsip::Invitation) -> Choice {
        let mut label = super::dates::moment(i.scheduled_at, self.now);
        if let Some(place) = i.place.as_deref().filter(|p| !p.trim().is_empty()) {
            label.push_str(&format!(", {place}"));
        }
        Choice::new(i.invitation_id.clone(), label)
    }
}

/// The plan's delmål as an insats form offers them: "Rubrik: delmål".
/// The sub-goals an intervention may serve, each saying whose it is — the unit's own first — after
/// an empty "Välj delmål": with one preselected, a unit's intervention landed under another
/// unit's goal unnoticed (seed 002: each actor documents its sub-goals "med kopplade insatser").
fn goal_choices(cx: &Context<'_>) -> Vec<Choice> {
    use domain::sip::Responsible as Whose;
    let whose = |r: &Whose| match r {
        Whose::Unit { unit_id } if unit_id.as_str() == cx.unit() => "er enhet".to_owned(),
        Whose::Unit { unit_id } => cx.unit_name(unit_id.as_str()),
        Whose::Person => "den enskilde".to_owned(),
    };
    let (mine, others): (Vec<_>, Vec<_>) = cx.view.sub_goals.iter().partition(|g| {
        matches!(&g.content.responsible, Whose::Unit { unit_id } if unit_id.as_str() == cx.unit())
    });
    std::iter::once(Choice::new("", "Välj delmål"))
        .chain(mine.into_iter().chain(others).map(|g| {
            Choice::new(
                g.id.clone(),
                format!(
                    "{}: {} ({})",
                    g.content.heading.label(),
                    g.content.text,
                    whose(&g.content.responsible)
                ),
            )
        }))
        .collect()
}

/// Names as Swedish readers sort them: case ignored, å, ä and ö after z.
fn name_order(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| match c {
            'å' => '{',
            'ä' => '|',
            'ö' => '}',
            c => c,
        })
        .collect()
}

/// The time a new kallelse suggests: the next working day at 09.00, Swedish time.
fn default_kallelse_time(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = domain::calendar::add_working_days(domain::time::local_date(now), 1);
    let nine = chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(chrono::NaiveTime::MIN);
    domain::time::local_to_utc(day, nine)
}

/// A text in a label followed by more (`"…: utfall"`), without its own closing full stop.
fn label_of(text: &str) -> &str {
    text.trim_end().trim_end_matches('.')
}

/// A text cut to a short title, whole words and "…" when cut.
fn short(text: &str) -> String {
    const MAX: usize = 60;
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX).collect();
    let cut = cut.rsplit_once(' ').map(|(head, _)| head).unwrap_or(&cut);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':', ' ']))
}

/// The kallelse a follow-up being recorded concerns, unless the coordinator chooses another:
/// of the active follow-up kallelser (id and time) the earliest, even when its time is still
/// ahead (the follow-up may have been held sooner), so that it is not left to stand as the
/// plan's next meeting; none when there is none.
fn earliest_called<'a>(
    times: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>,
) -> Option<(&'a str, DateTime<Utc>)> {
    times.into_iter().min_by_key(|(_, at)| *at)
}

/// How a responsible is posted by the Ansvarig select.
fn responsible_value(responsible: &dsip::Responsible) -> String {
    match responsible {
        dsip::Responsible::Unit { unit_id } => format!("unit:{}", unit_id.as_str()),
        dsip::Responsible::Person => "person".to_owned(),
    }
}

/// When the SIP-möte must be held by the region's guidance, in words for the kallelse form and
/// the plan's page: "Mötet bör hållas tidigast … och senast …", and for the red track "före
/// hemgång". `None` when the guidance sets no figure and the plan is on no red track.
pub(crate) fn meeting_deadline_text(
    policy: &PolicyProfile,
    known_since: DateTime<Utc>,
    context: &dsip::NeedContext,
    discharged_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    let today = domain::time::local_date(now);
    let red = context.kind == CareContextKind::Discharge && context.track == Some(Track::Red);
    let due = policy.meeting_due(
        known_since,
        context.track,
        context.discharge_ready_at,
        discharged_at,
    );
    // On the red track the meeting is held before going home, as soon as it can be (001): a
    // profile's earliest day, meant for planning an outpatient SIP (002: 3–21 days), is not said
    // (a ward nurse's review read "tidigast" beside a meeting due before the discharge).
    let not_before = policy
        .meeting_not_before(known_since)
        .filter(|d| *d > today && !red)
        .map(|d| super::dates::day(d, today));
    // A red-track deadline that is the discharge itself is said with the red track below;
    // every other deadline is the end of a day.
    let latest = due
        .filter(|at| !(red && Some(*at) == discharged_at))
        .map(|at| super::dates::day(domain::time::local_date(at), today));
    let mut text = match (not_before, latest) {
        (Some(first), Some(last)) => {
            format!("Mötet bör hållas tidigast {first} och senast {last}.")
        }
        (None, Some(last)) => format!("Mötet bör hållas senast {last}."),
        (Some(first), None) => format!("Mötet bör hållas tidigast {first}."),
        (None, None) => String::new(),
    };
    if red {
        if !text.is_empty() {
            text.push(' ');
        }
        match discharged_at {
            // Gone home already: "before going home" cannot be done any more (a review read it
            // of a discharge "i går").
            Some(at) if at <= now => text.push_str(&format!(
                "Rött spår: den enskilde skrevs ut {}. Håll SIP-mötet så snart det går.",
                super::dates::moment(at, now)
            )),
            Some(at) => text.push_str(&format!(
                "Rött spår: mötet ska hållas före hemgång, {}.",
                super::dates::moment(at, now)
            )),
            None => text.push_str(
                "Rött spår: mötet ska hållas före hemgång. Registrera utskrivningen när tiden \
                 är känd.",
            ),
        }
    }
    (!text.is_empty()).then_some(text)
}

fn heading_choices() -> Vec<Choice> {
    Heading::ALL
        .iter()
        .map(|h| Choice::new(h.code(), h.label()))
        .collect()
}

/// The forms the caller may use on the plan now, the next step open.
pub(crate) fn forms(cx: &Context) -> Vec<FormView> {
    let mut forms = Vec::new();
    if cx.view.closed.is_some() {
        return forms;
    }
    let phase = cx.view.phase;
    let coordinator = cx.is_coordinator();
    let has_basis = cx.view.basis.is_some();
    let meeting_held = !cx.view.meetings.is_empty();

    // Withdrawn consent leaves one thing to do: close the plan (the domain refuses the rest).
    if phase == SipPhase::ConsentWithdrawn {
        if let Some(form) = close_form(cx) {
            forms.push(form);
        }
        return forms;
    }

    // Samtycke: the first, and later a new one whenever it is needed (the old one has expired,
    // a new actor is to take part, a child has turned 18). For a child, one per guardian. The
    // form starts from what the giver it offers first said last: a guardian's own consent, not
    // the other guardian's (a review saw a renewal tick a unit the first guardian had left out),
    // and for an adult the person's or representative's newest.
    let giver = default_giver(cx);
    let history = &cx.view.consent.history;
    let latest = if cx.child {
        history.iter().rev().find(|c| {
            matches!(&c.given_by, dsip::ConsentGiver::Guardian { relative_id }
                if giver == format!("guardian:{relative_id}"))
        })
    } else {
        history
            .iter()
            .rev()
            .find(|c| !matches!(c.given_by, dsip::ConsentGiver::Guardian { .. }))
    };
    let own = cx.unit().to_owned();
    let actors = cx
        .unit_choices(false)
        .into_iter()
        .map(|c| {
            let on = c.value == own
                || latest.is_some_and(|l| l.actors.iter().any(|a| a.as_str() == c.value));
            c.checked(on)
        })
        .collect();
    // Närstående the person may agree to have invited (001); guardians, god man and förvaltare
    // take part in their own right.
    let relatives: Vec<Choice> = cx
        .relatives
        .iter()
        .filter(|r| r.kind == "relative")
        .map(|r| {
            let on = latest.is_some_and(|l| {
                l.relatives
                    .as_ref()
                    .is_some_and(|ids| ids.contains(&r.relative_id))
            });
            Choice::new(r.relative_id.clone(), r.name.clone()).checked(on)
        })
        .collect();
    let consent_open = matches!(
        cx.view.consent.status,
        ConsentStatus::Missing | ConsentStatus::Expired
    ) && phase != SipPhase::ConsentDeclined;
    let (title, intro) = if latest.is_none() {
        (
            "Samtycke",
            "Samtycke till SIP. För ett barn: registrera samtycke från varje vårdnadshavare, ett i taget.",
        )
    } else {
        (
            "Nytt samtycke",
            "Registrera ett nytt samtycke när det gamla har gått ut eller snart går ut, när en ny \
             enhet ska delta eller när ett barn har fyllt 18 år och ska lämna eget samtycke. För \
             ett barn: ett samtycke från varje vårdnadshavare, ett i taget.",
        )
    };
    // Once there is a coordinator, a new consent is the coordinator's unit's to record (the
    // domain refuses it from other units).
    let may_record_consent = !has_basis || cx.coordinators_unit();
    if may_record_consent {
        let mut form = FormView::new("samtycke", cx.action("samtycke"), title)
            .intro(intro)
            .field(
                Field::radios(
                    "given_by",
                    "Vem lämnar samtycket?",
                    consent_givers(cx, false),
                )
                .value(default_giver(cx))
                .required(),
            )
            .field(Field::checkboxes("actors", "Enheter som samtycket gäller", actors).required());
        if !relatives.is_empty() {
            form = form.field(
                Field::checkboxes("relatives", "Närstående som får bjudas in", relatives).hint(
                    "Närstående bjuds in till mötet om den enskilde samtycker till det. Bara de \
                     ikryssade kan kallas.",
                ),
            );
        }
        forms.push(
            form.field(
                Field::textarea("topics", "Vad får mötet handla om?")
                    .required()
                    .hint("En sak per rad.")
                    .value(latest.map(|l| l.topics.join("\n")).unwrap_or_default()),
            )
            .field(
                Field::date("valid_until", "Samtycket gäller till och med")
                    .required()
                    .value((cx.today() + chrono::Duration::days(365)).to_string()),
            )
            .field(Field::checkbox(
                "person_accepted_representative",
                "Personen har godkänt att företrädaren deltar i stället",
            ))
            .open(consent_open),
        );
    }
    // Samtycke nekat: before the plan basis, while consent is not complete.
    if !has_basis && cx.view.consent.status == ConsentStatus::Missing {
        forms.push(
            FormView::new(
                "samtycke-nekat",
                cx.action("samtycke-nekat"),
                "Registrera att samtycke nekas",
            )
            .intro(
                "Den enskilde (eller en vårdnadshavare eller företrädare) vill inte ha en SIP. \
                 Utan samtycke kan ingen SIP hållas; därefter avslutas ärendet.",
            )
            .field(
                Field::radios(
                    "declined_by",
                    "Vem nekar samtycke?",
                    consent_givers(cx, true),
                )
                .value(default_giver(cx))
                .required(),
            )
            .field(
                Field::textarea("note", "Anteckning").hint(
                    "Till exempel vad den enskilde sa och att det är dokumenterat i journalen.",
                ),
            )
            .button("Registrera nekat samtycke"),
        );
    }
    // Samtycket återkallat: once consent has been given; any participating unit may be told.
    if !cx.view.consent.history.is_empty() {
        forms.push(
            FormView::new(
                "samtycke-aterkallat",
                cx.action("samtycke-aterkallat"),
                "Registrera att samtycket återkallas",
            )
            .intro(
                "När samtycket är återkallat kan planen bara avslutas. Alla enheter i planen får \
                 ett meddelande.",
            )
            .field(
                Field::radios(
                    "withdrawn_by",
                    "Vem återkallar samtycket?",
                    consent_givers(cx, true),
                )
                .value(default_giver(cx))
                .required(),
            )
            .field(
                Field::textarea("note", "Anteckning")
                    .hint("Till exempel när och till vem den enskilde sa det."),
            )
            // As for closing: Enter on the pre-chosen radio button sends the form, and this
            // cannot be undone.
            .field(Field::checkbox(
                "bekrafta",
                "Samtycket är återkallat. Det går inte att ångra: planen kan sedan bara avslutas.",
            ))
            .button("Registrera återkallat samtycke"),
        );
    }
    // SIP-underlag: whoever creates it becomes coordinator.
    if !has_basis && phase == SipPhase::AwaitingPlanBasis {
        forms.push(
            basis_fields(
                FormView::new("underlag", cx.action("underlag"), "SIP-underlag")
                    .intro("Du som skapar underlaget blir samordningsansvarig."),
                "",
            )
            .button("Skapa underlag")
            .open(true),
        );
    }
    if coordinator {
        forms.push(
            FormView::new("kartlaggning", cx.action("kartlaggning"), "Kartläggning")
                .field(Field::select("heading", "Rubrik", heading_choices()).required())
                .field(Field::textarea("text", "Kartläggning under rubriken").required())
                .open(phase == SipPhase::Preparing && cx.view.mappings.is_empty()),
        );
        // A kallelse saved unsent ("Spara") is shown again to finish and send ("Skicka").
        let saved = cx.view.invitation_drafts.first();
        let picked = |value: &str| {
            saved.is_some_and(|d| {
                d.recipients.iter().any(|r| match r {
                    dsip::Recipient::Unit { unit_id } => unit_id.as_str() == value,
                    dsip::Recipient::Person => value == "person",
                    dsip::Recipient::Relative { relative_id } => {
                        value.strip_prefix("relative:") == Some(relative_id.as_str())
                    }
                })
            })
        };
        // Whom the consent does not cover is marked, as the kallelse would be refused for them:
        // a unit it does not name, a närstående it does not let the meeting invite (001).
        let uncovered = "inte med i samtycket";
        let mut recipients: Vec<Choice> = cx
            .unit_choices(true)
            .into_iter()
            .map(|c| {
                if cx.view.consent.actors.iter().any(|a| a.as_str() == c.value) {
                    c
                } else {
                    c.note(uncovered)
                }
            })
            .collect();
        recipients.push(Choice::new("person", "Den enskilde").note("brev"));
        for r in cx.relatives {
            let left_out = r.kind == "relative"
                && cx
                    .invitable
                    .is_some_and(|ids| !ids.contains(&r.relative_id));
            recipients.push(
                Choice::new(format!("relative:{}", r.relative_id), r.name.clone())
                    .note(if left_out { uncovered } else { "brev" }),
            );
        }
        // A new kallelse goes to the person (and a child's guardians) unless the coordinator
        // unticks them, after the SIP-möte (a follow-up) also to the units taking part that the
        // consent still covers; a saved one keeps what it had.
        let taking_part: Vec<&str> = if meeting_held {
            cx.view
                .participants
                .iter()
                .filter(|u| cx.view.consent.actors.contains(u))
                .map(|u| u.as_str())
                .filter(|u| *u != cx.unit())
                .collect()
        } else {
            Vec::new()
        };
        let ticked = new_kallelse_recipients(cx.child, cx.relatives, &taking_part);
        let recipients = recipients
            .into_iter()
            .map(|c| {
                let on = match saved {
                    Some(_) => picked(&c.value),
                    None => ticked.contains(&c.value),
                };
                c.checked(on)
            })
            .collect();
        let mut form = FormView::new("kallelse", cx.action("kallelse"), "Kallelse").intro(
            "Enheter som använder samplan får kallelsen digitalt; de som är markerade ”brev” får \
             ett brev att skriva ut. ”Spara” sparar kallelsen utan att skicka den: ingen annan \
             ser den förrän du klickar ”Skicka”.",
        );
        if let Some(d) = saved {
            form = form.field(Field::hidden("invitation_id", d.invitation_id.clone()));
        }
        let purpose = match saved.map(|d| d.purpose) {
            Some(dsip::InvitationPurpose::FollowUp) => "follow_up",
            Some(dsip::InvitationPurpose::Meeting) => "meeting",
            None if cx.view.meetings.is_empty() => "meeting",
            None => "follow_up",
        };
        let meeting_form = match saved.map(|d| d.form) {
            Some(dsip::MeetingForm::Video) => "video",
            Some(dsip::MeetingForm::Phone) => "phone",
            _ => "in_person",
        };
        let when = match saved {
            Some(d) => d.scheduled_at.map(local_input).unwrap_or_default(),
            None => local_input(default_kallelse_time(cx.now)),
        };
        // Before the SIP-möte: the deadlines the guidance gives, beside the time being chosen.
        let mut time_hint = Vec::new();
        if cx.view.meetings.is_empty() {
            let send_due = cx
                .view
                .deadlines
                .iter()
                .filter(|d| d.obligation.kind == ObligationKind::SendInvitation)
                .find_map(|d| d.obligation.due_at);
            if let Some(due) = send_due {
                // With the hour when the deadline is one (the red track: by the discharge), as
                // Att göra says it (an outside review read the day here, the hour there).
                let mut day = super::dates::day(domain::time::local_date(due), cx.today());
                if super::dates::at_an_hour(due) {
                    day = format!("{day} {}", super::dates::clock(due));
                }
                time_hint.push(if due < cx.now {
                    format!("Kallelsen skulle ha skickats senast {day}.")
                } else {
                    format!("Skicka kallelsen senast {day}.")
                });
            }
            if let Some(need) = &cx.view.need {
                time_hint.extend(meeting_deadline_text(
                    cx.policy,
                    need.known_since,
                    &need.context,
                    cx.view.discharged_at,
                    cx.now,
                ));
            }
        }
        let mut time_field = Field::datetime("scheduled_at", "Datum och tid")
            .required()
            .value(when);
        if !time_hint.is_empty() {
            time_field = time_field.hint(time_hint.join(" "));
        }
        forms.push(
            form.field(
                Field::radios(
                    "purpose",
                    "Kallelse till",
                    vec![
                        Choice::new("meeting", "SIP-möte"),
                        Choice::new("follow_up", "Uppföljning"),
                    ],
                )
                .value(purpose)
                .required(),
            )
            .field(time_field)
            .field(
                Field::radios(
                    "form",
                    "Mötesform",
                    vec![
                        Choice::new("in_person", "Fysiskt möte"),
                        Choice::new("video", "Videomöte"),
                        Choice::new("phone", "Telefonmöte"),
                    ],
                )
                .value(meeting_form)
                .required(),
            )
            .field(
                Field::text("place", "Plats")
                    .hint("Adress eller rum; vid videomöte länk eller instruktion.")
                    .value(saved.and_then(|d| d.place.clone()).unwrap_or_default()),
            )
            .field(
                Field::textarea("reason", "Syfte med mötet")
                    .required()
                    .value(saved.and_then(|d| d.reason.clone()).unwrap_or_default()),
            )
            .field(Field::checkboxes("recipients", "Mottagare", recipients).required())
            .send_and_save()
            .open(
                (phase == SipPhase::Preparing && !cx.view.mappings.is_empty()) || saved.is_some(),
            ),
        );
    }
    // Svar på kallelse: an invited unit appoints its representative, and may name another one
    // later (a ward review found the form gone once answered, though the API takes a new answer:
    // the one who was to come fell ill). The first kallelse still unanswered comes first.
    let mut called: Vec<&dsip::Invitation> = cx
        .active_invitations()
        .filter(|inv| {
            inv.recipients.iter().any(|r| {
                matches!(&r.recipient, dsip::Recipient::Unit { unit_id } if unit_id.as_str() == cx.unit())
            })
        })
        .collect();
    called.sort_by_key(|inv| inv.representatives.keys().any(|u| u.as_str() == cx.unit()));
    if let Some(inv) = called.first() {
        let current = inv
            .representatives
            .iter()
            .find(|(u, _)| u.as_str() == cx.unit())
            .map(|(_, r)| r);
        let when = super::dates::moment(inv.scheduled_at, cx.now);
        let (title, intro, button) = match current {
            None => (
                "Svara på kallelsen",
                format!("Kallelse till {when}. Utse den som representerar er enhet på mötet."),
                "Utse representant",
            ),
            Some(r) => (
                "Byt representant",
                format!(
                    "Kallelse till {when}. Er representant är {}. Byt om någon annan kommer i \
                     stället; den samordningsansvariga ser det på planens sida.",
                    r.name
                ),
                "Byt representant",
            ),
        };
        let value = |f: fn(&dsip::Representative) -> Option<String>| {
            current.and_then(f).unwrap_or_default()
        };
        forms.push(
            FormView::new("svar", cx.action("svar"), title)
                .intro(intro)
                .field(Field::hidden("invitation_id", inv.invitation_id.clone()))
                .field(
                    Field::text("representative.name", "Representantens namn")
                        .required()
                        .value(value(|r| Some(r.name.clone()))),
                )
                .field(
                    Field::text("representative.profession", "Yrke eller titel")
                        .value(value(|r| r.profession.clone())),
                )
                .field(
                    Field::tel("representative.phone", "Telefon").value(value(|r| r.phone.clone())),
                )
                .button(button)
                .open(current.is_none()),
        );
    }
    if coordinator {
        // The SIP-möte form records a meeting kallelse only; a follow-up kallelse's meeting is
        // recorded with the uppföljning form. Moving and calling off take either.
        let mut called: Vec<&dsip::Invitation> =
            cx.active_for(dsip::InvitationPurpose::Meeting).collect();
        called.sort_by_key(|i| i.scheduled_at);
        let meetings: Vec<Choice> = called.iter().map(|i| cx.invitation_choice(i)).collect();
        if let Some(first) = called.first() {
            // Everyone called, to tick ("Markera vilka som deltagit", seed 002): the coordinator,
            // each unit's appointed representative, the person, and those called by letter —
            // relatives and units without samplan — whom nobody can tick in advance.
            let mut attendees = vec![Choice::new(
                format!("staff|{}|{}", cx.unit(), cx.caller.name),
                format!("{} (du), {}", cx.caller.name, cx.unit_name(cx.unit())),
            )
            .checked(true)];
            let mut by_letter = Vec::new();
            for inv in cx.active_for(dsip::InvitationPurpose::Meeting) {
                // A unit the consent has left out is called no more (an outside review found
                // its representative ticked, and so recorded as present).
                for (unit, rep) in inv
                    .representatives
                    .iter()
                    .filter(|(u, _)| !cx.left_out.contains(*u))
                {
                    attendees.push(
                        Choice::new(
                            format!("staff|{}|{}", unit.as_str(), rep.name),
                            format!("{}, {}", rep.name, cx.unit_name(unit.as_str())),
                        )
                        .checked(true),
                    );
                }
                for r in inv.letter_recipients() {
                    let choice = match &r.recipient {
                        // Named as what they are to the person: a child's guardians, who gave
                        // the consent, are expected as the child is and start ticked.
                        dsip::Recipient::Relative { relative_id } => {
                            let kind = cx
                                .relatives
                                .iter()
                                .find(|k| k.relative_id == *relative_id)
                                .map_or("relative", |k| k.kind.as_str());
                            let guardian = cx.child && kind == "guardian";
                            let label = match kind {
                                "guardian" => "vårdnadshavare",
                                "trustee" => "god man",
                                "administrator" => "förvaltare",
                                _ => "närstående",
                            };
                            Choice::new(
                                format!("relative|{}", r.name),
                                format!("{} ({label})", r.name),
                            )
                            .checked(guardian)
                        }
                        dsip::Recipient::Unit { unit_id } if cx.left_out.contains(unit_id) => {
                            continue
                        }
                        dsip::Recipient::Unit { unit_id } => Choice::new(
                            format!("staff|{}|{}", unit_id.as_str(), r.name),
                            r.name.clone(),
                        ),
                        dsip::Recipient::Person => continue,
                    };
                    if !by_letter.iter().any(|c: &Choice| c.value == choice.value) {
                        by_letter.push(choice);
                    }
                }
            }
            attendees.push(Choice::new("person", "Den enskilde").checked(true));
            attendees.extend(by_letter);
            // The meeting is held at the time it was called to, which has passed when the form
            // is the next step; before then the form is closed and suggests no time ahead.
            let passed = first.scheduled_at <= cx.now;
            let mut form = FormView::new("mote", cx.action("mote"), "SIP-möte")
                .field(
                    Field::select("invitation_id", "Kallelse", meetings)
                        .value(first.invitation_id.clone())
                        .required(),
                )
                .field(
                    Field::datetime("held_at", "Mötet hölls")
                        .required()
                        .value(local_input(first.scheduled_at.min(cx.now))),
                )
                .field(Field::checkboxes("attendees", "Deltagare", attendees))
                .field(Field::textarea("others", "Övriga deltagare").hint("Ett namn per rad."))
                .field(
                    Field::text("chair", "Mötesledare")
                        .required()
                        .value(cx.caller.name.clone()),
                )
                .field(Field::text("secretary", "Mötessekreterare").required())
                .field(
                    // About three months ahead, on a working day (an outside review got a
                    // Sunday, which went on into Att göra and Min plan).
                    Field::date("follow_up_on", "Datum för uppföljning")
                        .required()
                        .value(
                            domain::calendar::add_working_days(
                                cx.today() + chrono::Duration::days(90),
                                0,
                            )
                            .to_string(),
                        ),
                )
                // Who coordinates from now on is agreed before the meeting ends (000, 001).
                .field(
                    Field::text(
                        "new_coordinator_name",
                        "Samordningsansvarig efter mötet, namn",
                    )
                    .hint(
                        "Fyll i bara om mötet kom överens om en ny samordningsansvarig; \
                         annars fortsätter du.",
                    ),
                )
                .field(
                    Field::text("staff_id", "Samordningsansvarig efter mötet, HSA-id")
                        .hint(known_hsa_ids(cx)),
                )
                .field(
                    Field::select(
                        "unit_id",
                        "Samordningsansvarig efter mötet, enhet",
                        coordinator_units(cx),
                    )
                    .value(cx.unit().to_owned()),
                );
            // The meeting ends with the person being offered SIP-kollen, where the region uses
            // it (003: "Avsluta SIP-mötet med att den enskilde erbjuds att fylla i SIP-kollen").
            if cx.policy.offers_sip_survey {
                form = form.field(Field::checkbox(
                    "sip_survey_offered",
                    "Den enskilde erbjöds SIP-kollen",
                ));
            }
            forms.push(
                form.button("Registrera mötet")
                    .open(phase == SipPhase::Invited && passed),
            );
        }
        let active: Vec<Choice> = cx
            .active_invitations()
            .map(|i| {
                let mut c = cx.invitation_choice(i);
                if i.purpose == dsip::InvitationPurpose::FollowUp {
                    c.label = format!("Uppföljning: {}", c.label);
                }
                c
            })
            .collect();
        if !active.is_empty() {
            // A meeting moved or called off: the invited are told (messages, new letters).
            forms.push(
                FormView::new("flytta", cx.action("flytta"), "Flytta möte")
                    .field(Field::select("invitation_id", "Kallelse", active.clone()).required())
                    .field(Field::datetime("scheduled_at", "Ny tid").required())
                    .field(
                        Field::text("place", "Ny plats").hint("Lämna tomt om platsen är densamma."),
                    )
                    .field(Field::textarea("reason", "Anledning"))
                    .button("Flytta mötet"),
            );
            forms.push(
                FormView::new("stall-in", cx.action("stall-in"), "Ställ in möte")
                    .field(Field::select("invitation_id", "Kallelse", active).required())
                    .field(Field::textarea("reason", "Anledning"))
                    .button("Ställ in mötet"),
            );
        }
        let goal = cx
            .view
            .main_goal
            .as_ref()
            .map(|g| g.content.text.clone())
            .unwrap_or_default();
        if has_basis && meeting_held {
            forms.push(
                FormView::new("huvudmal", cx.action("huvudmal"), "Huvudmål")
                    .intro("Den enskildes eget mål, med egna ord.")
                    .field(Field::textarea("text", "Huvudmål").required().value(goal))
                    .save_and_publish()
                    .open(phase == SipPhase::MeetingHeld && cx.view.main_goal.is_none()),
            );
        }
    }
    // Huvudmål, delmål and insatser are agreed at the SIP-möte; the domain refuses them before
    // (the page says so instead, `goals_wait_for_meeting`).
    if has_basis && meeting_held {
        forms.push(
            FormView::new("delmal", cx.action("delmal"), "Nytt delmål")
                .field(Field::select("heading", "Rubrik", heading_choices()).required())
                .field(Field::textarea("text", "Delmål").required())
                .field(
                    Field::select("responsible", "Ansvarig", cx.responsible_choices()).required(),
                )
                .save_and_publish(),
        );
        let goals = goal_choices(cx);
        if !goals.is_empty() {
            forms.push(
                FormView::new("insats", cx.action("insats"), "Ny insats")
                    .field(Field::select("sub_goal_id", "Delmål", goals).required())
                    .field(Field::textarea("what", "Insats – vad görs?").required())
                    .field(
                        Field::select("responsible", "Ansvarig", cx.responsible_choices())
                            .required(),
                    )
                    .field(Field::text("performer", "Utförs av"))
                    .field(contact_field(cx))
                    .field(
                        Field::date("from", "Från och med")
                            .required()
                            .value(cx.today().to_string()),
                    )
                    .field(Field::date("to", "Till och med"))
                    .save_and_publish(),
            );
        }
        forms.extend(edit_forms(cx));
        let own_drafts = cx.view.main_goal.iter().any(|g| g.has_unpublished_changes)
            || cx.view.sub_goals.iter().any(|g| g.has_unpublished_changes)
            || cx
                .view
                .interventions
                .iter()
                .any(|i| i.has_unpublished_changes);
        if own_drafts {
            forms.push(
                FormView::new("dela-ut", cx.action("dela-ut"), "Dela ut utkast")
                    .intro("Din enhets utkast blir synliga för alla som deltar i planen och för den enskilde.")
                    .button("Dela ut")
                    .open(true),
            );
        }
        // A unit at the meeting with nothing of its own in the plan clears its to-do
        // ("Dokumentera och dela ut era delmål och insatser") by publishing nothing.
        let owes_documentation = cx.view.deadlines.iter().any(|d| {
            d.obligation.kind == ObligationKind::DocumentContribution
                && d.obligation.owner.unit().as_str() == cx.unit()
        });
        let own_items = cx
            .view
            .main_goal
            .iter()
            .any(|g| g.author_unit.as_str() == cx.unit())
            || cx
                .view
                .sub_goals
                .iter()
                .any(|g| g.author_unit.as_str() == cx.unit())
            || cx
                .view
                .interventions
                .iter()
                .any(|i| i.author_unit.as_str() == cx.unit());
        if owes_documentation && !own_items && !own_drafts {
            forms.push(
                FormView::new(
                    "inga-insatser",
                    cx.action("inga-insatser"),
                    "Inga delmål eller insatser från er",
                )
                .intro(
                    "Har er enhet inga delmål eller insatser i planen? Markera det här, så är er \
                     dokumentation klar och uppgiften försvinner från Att göra. Ni kan fortfarande \
                     dokumentera delmål och insatser senare.",
                )
                .button("Vi har inga delmål eller insatser i planen"),
            );
        } else if owes_documentation && !own_drafts {
            // Items published before a later meeting, nothing new agreed there for the unit:
            // the same empty publish says so and clears the to-do.
            forms.push(
                FormView::new(
                    "inga-insatser",
                    cx.action("inga-insatser"),
                    "Inget nytt att dela ut från oss",
                )
                .intro(
                    "Er enhet har redan delat ut delmål eller insatser i planen. Kom mötet inte \
                     fram till något nytt för er? Markera det här, så är er dokumentation efter \
                     mötet klar och uppgiften försvinner från Att göra. Ni kan fortfarande \
                     dokumentera och dela ut mer senare.",
                )
                .button("Inget nytt att dela ut från oss"),
            );
        }
    }
    // A participating unit follows up its own interventions (000: "Varje aktör har ett ansvar
    // för att följa upp sina egna insatser"; 001); the whole plan, the main goal and the next
    // date are the coordinator's, whose form is below.
    if !coordinator && meeting_held {
        if let Some(form) = own_follow_up_form(cx) {
            forms.push(form);
        }
    }
    if coordinator && meeting_held {
        // "Boka uppföljning": the follow-up date agreed at the SIP-möte, or a new one when it
        // moves or after a follow-up that agreed none (002: "Lägg till vid SIP överenskommet
        // preliminärt datum för uppföljning, klicka Spara"). Open while no date is booked, the
        // to-do "Boka nästa uppföljning eller avsluta planen".
        let booked = cx.view.next_follow_up_on;
        forms.push(
            FormView::new(
                "boka-uppfoljning",
                cx.action("boka-uppfoljning"),
                "Boka uppföljning",
            )
            .intro(
                "Det datum för uppföljning som ni har kommit överens om, eller ett nytt när \
                 uppföljningen flyttas. Uppföljningen registreras under ”Uppföljning” när den \
                 har hållits.",
            )
            .field(
                Field::date("follow_up_on", "Datum för uppföljning")
                    .required()
                    .value(booked.map(|d| d.to_string()).unwrap_or_default()),
            )
            .field(Field::textarea("note", "Anteckning"))
            .open(booked.is_none()),
        );
        // The follow-up meeting a kallelse summoned to: recorded here, the kallelse is held and
        // no longer the plan's next meeting. The earliest one is chosen, even ahead.
        let called: Vec<&dsip::Invitation> =
            cx.active_for(dsip::InvitationPurpose::FollowUp).collect();
        let likely = earliest_called(
            called
                .iter()
                .map(|i| (i.invitation_id.as_str(), i.scheduled_at)),
        );
        let held_on = likely
            .map(|(_, at)| domain::time::local_date(at).min(cx.today()))
            .unwrap_or_else(|| cx.today());
        let mut form = FormView::new("uppfoljning", cx.action("uppfoljning"), "Uppföljning");
        if !called.is_empty() {
            let choices = std::iter::once(Choice::new("", "Ingen kallelse (t.ex. per telefon)"))
                .chain(called.iter().map(|i| cx.invitation_choice(i)))
                .collect();
            form = form.field(
                Field::select("invitation_id", "Uppföljningsmöte", choices)
                    .value(likely.map(|(id, _)| id).unwrap_or_default())
                    .hint("Kallelsen till uppföljningen som hölls. Den visas sedan inte längre som nästa möte."),
            );
        }
        form = form.field(
            Field::date("held_on", "Uppföljningen hölls")
                .required()
                .value(held_on.to_string()),
        );
        if cx.view.main_goal.is_some() {
            form = form.field(Field::checkbox(
                "main_goal_reached",
                "Huvudmålet är uppnått",
            ));
        }
        // Each published sub-goal and intervention is judged at the follow-up, as in Lifecare:
        // one group of choices for each, so that a screen reader reads the goal and its outcome
        // together (an accessibility review: two lists of the same goals, to be matched up, with
        // one error at a time). What is left "inte bedömt" is not judged this time.
        let goals = cx.view.sub_goals.iter().filter(|g| g.published);
        for (g, slot) in goals.zip(follow_up_slots(&GOAL_SLOTS)) {
            form = judged(
                form,
                slot,
                &g.id,
                format!("Delmål: {}", label_of(&g.content.text)),
                &GOAL_OUTCOMES,
            );
        }
        let interventions = cx.view.interventions.iter().filter(|i| i.published);
        for (i, slot) in interventions.zip(follow_up_slots(&INTERVENTION_SLOTS)) {
            form = judged(
                form,
                slot,
                &i.id,
                format!("Insats: {}", label_of(&i.content.what)),
                &OWN_OUTCOMES,
            );
        }
        form = form
            .field(
                Field::date("next_follow_up_on", "Nästa uppföljning")
                    .hint("Lämna tomt om planen ska avslutas."),
            )
            .field(Field::textarea("note", "Anteckning"))
            .button("Registrera uppföljning")
            .open(phase == SipPhase::MeetingHeld && cx.view.main_goal.is_some());
        forms.push(form);
    }
    // The coordinator's colleagues may hand the plan over too (the unit holds the coordination).
    let coordinators_unit = cx
        .view
        .coordinator
        .as_ref()
        .is_some_and(|c| c.unit_id.as_str() == cx.unit());
    if coordinator || coordinators_unit {
        let units = coordinator_units(cx);
        forms.push(
            FormView::new(
                "samordnare",
                cx.action("samordnare"),
                "Byt samordningsansvarig",
            )
            .field(Field::text("name", "Ny samordningsansvarig, namn").required())
            .field(Field::text("staff_id", "HSA-id").required())
            .field(
                Field::select("unit_id", "Enhet", units)
                    .value(cx.unit().to_owned())
                    .required(),
            )
            .field(Field::text("reason", "Anledning"))
            .button("Byt samordningsansvarig"),
        );
    }
    if let Some(form) = discharge_form(cx) {
        forms.push(form);
    }
    if let Some(form) = close_form(cx) {
        forms.push(form);
    }
    tell_other_drafts(cx, &mut forms);
    forms
}

/// "Spara & dela ut" shares every draft of the unit's, not only the one in the form, as in
/// Lifecare SP where sharing is one step for the unit's whole documentation. An outside review
/// shared a sub-goal it had kept as a draft by saving another intervention; each form that
/// shares now names the unit's other drafts it will share too.
fn tell_other_drafts(cx: &Context, forms: &mut [FormView]) {
    let own = |author: &domain::ids::UnitId, changed: bool| changed && author.as_str() == cx.unit();
    let mut drafts: Vec<(String, String)> = Vec::new();
    if let Some(g) = cx.view.main_goal.as_ref() {
        if own(&g.author_unit, g.has_unpublished_changes) {
            drafts.push((String::new(), "huvudmålet".to_owned()));
        }
    }
    for g in &cx.view.sub_goals {
        if own(&g.author_unit, g.has_unpublished_changes) {
            drafts.push((
                g.id.clone(),
                format!(
                    "delmålet \u{201d}{}\u{201d}",
                    short(label_of(&g.content.text))
                ),
            ));
        }
    }
    for i in &cx.view.interventions {
        if own(&i.author_unit, i.has_unpublished_changes) {
            drafts.push((
                i.id.clone(),
                format!(
                    "insatsen \u{201d}{}\u{201d}",
                    short(label_of(&i.content.what))
                ),
            ));
        }
    }
    for form in forms.iter_mut() {
        if !form.buttons.iter().any(|b| b.value == "dela-ut") {
            continue;
        }
        // The item the form itself edits is not another draft.
        let editing: Vec<&str> = form
            .fields
            .iter()
            .filter(|f| f.kind == "hidden")
            .map(|f| f.value.as_str())
            .collect();
        let others: Vec<&str> = drafts
            .iter()
            .filter(|(id, _)| {
                if id.is_empty() {
                    form.key != "huvudmal"
                } else {
                    !editing.contains(&id.as_str())
                }
            })
            .map(|(_, label)| label.as_str())
            .collect();
        if others.is_empty() {
            continue;
        }
        let list = match others.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} och {last}", rest.join(", ")),
            None => continue,
        };
        let note =
            format!("\u{201d}Spara & dela ut\u{201d} delar också ut era andra utkast: {list}.");
        form.intro = Some(match form.intro.take() {
            Some(intro) => format!("{intro} {note}"),
            None => note,
        });
    }
}

/// "Ändra delmål" and "Ändra insats": a form for each delmål and insats the caller may change
/// (their unit's own; the coordinator's also those of the person and of units without
/// samplan), published or a draft, filled with what it says now. Saved, the item is revised,
/// a draft until "Spara & dela ut" as a new one.
fn edit_forms(cx: &Context) -> Vec<FormView> {
    let intro = |published: bool| {
        if published {
            "Ändringen syns för alla i planen och för den enskilde när du delar ut den; till dess \
             gäller det som är utdelat."
        } else {
            "Utkast – bara din enhet ser det tills du delar ut det."
        }
    };
    let mut forms = Vec::new();
    for g in &cx.view.sub_goals {
        if !cx.may_document(&g.content.responsible) {
            continue;
        }
        let key = format!("andra-delmal-{}", g.id);
        forms.push(
            FormView::new(
                key.clone(),
                cx.action(&key),
                format!("Ändra delmål: {}", short(&g.content.text)),
            )
            .intro(intro(g.published))
            .field(
                Field::select("heading", "Rubrik", heading_choices())
                    .value(g.content.heading.code())
                    .required(),
            )
            .field(
                Field::textarea("text", "Delmål")
                    .value(g.content.text.clone())
                    .required(),
            )
            .field(
                Field::select("responsible", "Ansvarig", cx.responsible_choices())
                    .value(responsible_value(&g.content.responsible))
                    .required(),
            )
            .save_and_publish(),
        );
    }
    let goals = goal_choices(cx);
    for i in &cx.view.interventions {
        if !cx.may_document(&i.content.responsible) {
            continue;
        }
        let key = format!("andra-insats-{}", i.id);
        let c = &i.content;
        forms.push(
            FormView::new(
                key.clone(),
                cx.action(&key),
                format!("Ändra insats: {}", short(&c.what)),
            )
            .intro(intro(i.published))
            // Kept as it is: the web does not name the person responsible.
            .field(Field::hidden(
                "responsible_person",
                c.responsible_person.clone().unwrap_or_default(),
            ))
            .field(
                Field::select("sub_goal_id", "Delmål", goals.clone())
                    .value(c.sub_goal_id.clone())
                    .required(),
            )
            .field(
                Field::textarea("what", "Insats – vad görs?")
                    .value(c.what.clone())
                    .required(),
            )
            .field(
                Field::select("responsible", "Ansvarig", cx.responsible_choices())
                    .value(responsible_value(&c.responsible))
                    .required(),
            )
            .field(
                Field::text("performer", "Utförs av")
                    .value(c.performer.clone().unwrap_or_default()),
            )
            .field(contact_field(cx).value(c.contact.clone().unwrap_or_default()))
            .field(
                Field::date("from", "Från och med")
                    .required()
                    .value(c.from.to_string()),
            )
            .field(
                Field::date("to", "Till och med")
                    .value(c.to.map(|d| d.to_string()).unwrap_or_default()),
            )
            .save_and_publish(),
        );
    }
    forms
}

/// A step of an item's own form, `andra-delmal-<id>` or `andra-insats-<id>`: the step and the
/// item's id; any other step as it is.
fn edited_item(step: &str) -> (&str, Option<String>) {
    for kind in ["andra-delmal", "andra-insats"] {
        if let Some(id) = step
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|id| !id.is_empty())
        {
            return (kind, Some(id.to_owned()));
        }
    }
    (step, None)
}

/// At most this many of a unit's own interventions are offered in one follow-up form (a form
/// field's name is fixed text, so each has its slot); more are followed up in turns.
const OWN_FOLLOW_UP_SLOTS: [(&str, &str, &str); 12] = [
    ("insats_1", "utfall_1", "kommentar_1"),
    ("insats_2", "utfall_2", "kommentar_2"),
    ("insats_3", "utfall_3", "kommentar_3"),
    ("insats_4", "utfall_4", "kommentar_4"),
    ("insats_5", "utfall_5", "kommentar_5"),
    ("insats_6", "utfall_6", "kommentar_6"),
    ("insats_7", "utfall_7", "kommentar_7"),
    ("insats_8", "utfall_8", "kommentar_8"),
    ("insats_9", "utfall_9", "kommentar_9"),
    ("insats_10", "utfall_10", "kommentar_10"),
    ("insats_11", "utfall_11", "kommentar_11"),
    ("insats_12", "utfall_12", "kommentar_12"),
];

/// The outcomes a unit may give its intervention, as posted, the first meaning "not judged now".
const OWN_OUTCOMES: [(&str, &str); 4] = [
    ("", "Inte bedömd den här gången"),
    ("continues", "Fortsätter"),
    ("changed", "Ändras"),
    ("completed", "Avslutad"),
];

/// "Uppföljning av era insatser": for a participating unit that is not coordinating, its own
/// published interventions (those it is responsible for), each with an outcome and a comment,
/// and a note. Without the whole plan's fields (next follow-up date, the main goal, the
/// kallelse), which the domain takes from the coordinator only. `None` when the unit has none.
fn own_follow_up_form(cx: &Context) -> Option<FormView> {
    let own: Vec<&dsip::ItemView<dsip::Intervention>> = cx
        .view
        .interventions
        .iter()
        .filter(|i| {
            i.published
                && matches!(&i.content.responsible,
                    dsip::Responsible::Unit { unit_id } if unit_id.as_str() == cx.unit())
        })
        .collect();
    if own.is_empty() || !cx.view.participants.iter().any(|u| u.as_str() == cx.unit()) {
        return None;
    }
    let mut form = FormView::new(
        "uppfoljning-insatser",
        cx.action("uppfoljning-insatser"),
        "Uppföljning av era insatser",
    )
    .intro(
        "Följ upp de insatser er enhet ansvarar för. Uppföljningen syns för alla i planen och \
         för den enskilde. Nästa uppföljningsdatum och huvudmålet följer samordningsansvarig upp.",
    )
    .field(
        Field::date("held_on", "Uppföljningen gjordes")
            .required()
            .value(cx.today().to_string()),
    );
    for (i, (id, outcome, comment)) in own.iter().zip(OWN_FOLLOW_UP_SLOTS) {
        let choices = OWN_OUTCOMES
            .iter()
            .map(|(value, label)| Choice::new(*value, *label))
            .collect();
        form = form
            .field(Field::hidden(id, i.id.clone()))
            .field(Field::select(
                outcome,
                format!("{}: utfall", label_of(&i.content.what)),
                choices,
            ))
            .field(Field::text(
                comment,
                format!("{}: kommentar", label_of(&i.content.what)),
            ));
    }
    Some(
        form.field(Field::textarea("note", "Anteckning"))
            .button("Registrera uppföljningen"),
    )
}

/// A unit's own interventions as its follow-up form posts them: each slot's intervention with
/// the outcome chosen and the comment; a slot left "not judged" is skipped, unless it has a
/// comment (then the outcome is asked for). At least one must be judged.
fn own_follow_ups(fields: &Fields) -> Result<Vec<InterventionFollowUp>, super::form::FieldError> {
    let mut judged = Vec::new();
    for (id, outcome, comment) in OWN_FOLLOW_UP_SLOTS {
        let Some(intervention_id) = fields.opt(id) else {
            continue;
        };
        let comment = fields.opt(comment);
        let outcome = match fields.get(outcome).as_str() {
            "continues" => InterventionOutcome::Continues,
            "changed" => InterventionOutcome::Changed,
            "completed" => InterventionOutcome::Completed,
            _ if comment.is_some() => {
                return Err(super::form::FieldError::new(
                    outcome,
                    "Välj utfallet för insatsen du kommenterar.",
                ))
            }
            _ => continue,
        };
        judged.push(InterventionFollowUp {
            intervention_id,
            outcome,
            comment,
        });
    }
    if judged.is_empty() {
        return Err(super::form::FieldError::new(
            OWN_FOLLOW_UP_SLOTS[0].1,
            "Välj utfallet för minst en insats.",
        ));
    }
    Ok(judged)
}

/// Who a new kallelse goes to unless the coordinator unticks them, as the form's recipient
/// values: the units `taking_part` (to a follow-up, called "precis som vid en kallelse till
/// SIP", 002), the person, and for a child each guardian (vårdnadshavare).
fn new_kallelse_recipients(
    child: bool,
    relatives: &[RelativeRow],
    taking_part: &[&str],
) -> Vec<String> {
    taking_part
        .iter()
        .map(|u| (*u).to_owned())
        .chain(std::iter::once("person".to_owned()))
        .chain(
            relatives
                .iter()
                .filter(|r| child && r.kind == "guardian")
                .map(|r| format!("relative:{}", r.relative_id)),
        )
        .collect()
}

/// "Registrera utskrivning": for a plan started at discharge from inpatient care, the ward that
/// started it records when the patient is (planned to be) discharged; the other units are told.
/// The red track's meeting is due before it, green and yellow count four weeks from it (Örebro,
/// 001). Empty until a time is registered: a click through must not register "now".
fn discharge_form(cx: &Context) -> Option<FormView> {
    let need = cx.view.need.as_ref()?;
    // The ward's, or the coordinator's unit's once the consent no longer names the ward.
    let ward = &need.recorded_by.unit_id;
    let registers = if cx.view.participants.contains(ward) {
        ward.as_str() == cx.unit()
    } else {
        cx.coordinators_unit()
    };
    if need.context.kind != CareContextKind::Discharge || !registers {
        return None;
    }
    let red = need.context.track == Some(Track::Red);
    Some(
        FormView::new(
            "utskrivning",
            cx.action("utskrivning"),
            "Registrera utskrivning",
        )
        .intro(
            "När den enskilde skrivs ut eller planeras att skrivas ut från slutenvården. \
                 Registrera igen om tiden ändras; den senaste tiden gäller.",
        )
        .field(
            Field::datetime("discharged_at", "Utskrivning (planerad eller skedd)")
                .required()
                .value(cx.view.discharged_at.map(local_input).unwrap_or_default()),
        )
        .button("Registrera utskrivning")
        .open(red && cx.view.discharged_at.is_none() && cx.view.meetings.is_empty()),
    )
}

/// The hint of an insats's "Kontakt": what it is for, and when it must be filled in (the domain
/// refuses an insats of a unit without it: `field_missing`).
const CONTACT_HINT: &str = "Hur den enskilde når den ansvarige, till exempel ett telefonnummer. \
     Obligatoriskt när en verksamhet är ansvarig (inte för den enskildes egen insats).";

/// The SIP-underlag's fields, as `underlag` reads them: who initiated the plan (`initiated_by`,
/// filled in), the fixed care contact's name and phone. The plan page's form and the person
/// page's "Ta upp planen" alike.
pub(crate) fn basis_fields(form: FormView, initiated_by: &str) -> FormView {
    form.field(Field::text("initiated_by", "Plan initierad av").value(initiated_by))
        .field(Field::text(
            "fixed_care_contacts.name",
            "Fast vårdkontakt, namn",
        ))
        .field(Field::tel(
            "fixed_care_contacts.phone",
            "Fast vårdkontakt, telefon",
        ))
}

/// An intervention's "Kontakt": required whenever a unit is responsible, which is always so
/// for a unit documenting its own part; only the coordinator may make it the person's own
/// (egenvård), so for the coordinator the hint says when (a review found it unmarked).
fn contact_field(cx: &Context) -> Field {
    let field = Field::text("contact", "Kontakt");
    if cx.is_coordinator() {
        field.hint(CONTACT_HINT)
    } else {
        field
            .hint("Hur den enskilde når er, till exempel ett telefonnummer.")
            .required()
    }
}

/// The units the coordinator's role may go to: those using samplan that take part in the plan or
/// that the valid consent covers, as the domain checks (`coordinator_not_covered_by_consent`).
fn coordinator_units(cx: &Context) -> Vec<Choice> {
    let eligible = |id: &str| {
        cx.view.participants.iter().any(|u| u.as_str() == id)
            || cx.view.consent.actors.iter().any(|u| u.as_str() == id)
    };
    cx.units_by_name()
        .into_iter()
        .filter(|u| u.uses_samplan && eligible(&u.unit_id))
        .map(|u| Choice::new(u.unit_id.clone(), u.name.clone()))
        .collect()
}

/// Whether the page says that huvudmål, delmål and insatser wait for the SIP-möte: the plan is
/// open with its SIP-underlag, and no meeting is recorded yet.
pub(crate) fn goals_wait_for_meeting(view: &SipView) -> bool {
    view.closed.is_none()
        && view.basis.is_some()
        && view.meetings.is_empty()
        && view.phase != SipPhase::ConsentWithdrawn
}

/// Who may give consent: the person and each registered relative, a guardian as a guardian and
/// anyone else (god man, förvaltare, närstående) as företrädare. Who may decline or withdraw it
/// (`refusing`) stands as one who may give it, as the domain asks: for a child the guardians,
/// for an adult god man, förvaltare and a företrädare who consented on the plan — not any
/// närstående.
fn consent_givers(cx: &Context, refusing: bool) -> Vec<Choice> {
    // A child neither declines nor withdraws on their own (001: "alltid vårdnadshavarna").
    let mut givers = if refusing && cx.child {
        Vec::new()
    } else if cx.child {
        // A child consents on their own only in the weeks before turning 18 (ADR 0033).
        vec![Choice::new(
            "person",
            "Den enskilde (när barnet snart fyller 18)",
        )]
    } else {
        vec![Choice::new("person", "Den enskilde")]
    };
    for r in cx.relatives {
        let kind = match r.kind.as_str() {
            "guardian" => RelativeKindDto::Guardian,
            "trustee" => RelativeKindDto::Trustee,
            "administrator" => RelativeKindDto::Administrator,
            _ => RelativeKindDto::Relative,
        };
        if refusing {
            let accepted = cx.view.consent.history.iter().any(|c| {
                matches!(&c.given_by, dsip::ConsentGiver::Representative { relative_id }
                    if *relative_id == r.relative_id)
            });
            let may = match kind {
                RelativeKindDto::Guardian => cx.child,
                RelativeKindDto::Trustee | RelativeKindDto::Administrator => !cx.child,
                RelativeKindDto::Relative => !cx.child && accepted,
            };
            if !may {
                continue;
            }
        }
        let value = if kind == RelativeKindDto::Guardian {
            format!("guardian:{}", r.relative_id)
        } else {
            format!("representative:{}", r.relative_id)
        };
        givers.push(Choice::new(
            value,
            format!("{} ({})", r.name, relative_kind_label(kind).to_lowercase()),
        ));
    }
    givers
}

/// Who the consent forms start with: for a child the first guardian whose consent is not on
/// record yet (the one still asked for), else the first guardian; for an adult the person.
fn default_giver(cx: &Context) -> String {
    let guardians = || {
        cx.relatives
            .iter()
            .filter(|r| cx.child && r.kind == "guardian")
    };
    let consented = |id: &str| {
        cx.view.consent.history.iter().any(|c| {
            matches!(&c.given_by, dsip::ConsentGiver::Guardian { relative_id } if relative_id == id)
        })
    };
    guardians()
        .find(|g| !consented(&g.relative_id))
        .or_else(|| guardians().next())
        .map_or_else(
            || "person".to_owned(),
            |g| format!("guardian:{}", g.relative_id),
        )
}

/// The giver as posted: `person`, `guardian:<relative id>` or `representative:<relative id>`.
fn consent_giver(value: &str) -> ConsentGiver {
    match value.split_once(':') {
        Some(("guardian", r)) => ConsentGiver::Guardian {
            relative_id: r.to_owned(),
        },
        Some(("representative", r)) => ConsentGiver::Representative {
            relative_id: r.to_owned(),
        },
        _ => ConsentGiver::Person,
    }
}

/// Every reason to close a plan: what the form posts, the reason, and how staff read it.
const CLOSE_REASONS: [(&str, dsip::CloseReason, &str); 8] = [
    (
        "goals_met",
        dsip::CloseReason::GoalsMet,
        "Målen är uppnådda",
    ),
    (
        "no_longer_needed",
        dsip::CloseReason::NoLongerNeeded,
        "Behovet finns inte längre",
    ),
    (
        "consent_withdrawn",
        dsip::CloseReason::ConsentWithdrawn,
        "Samtycket är återkallat",
    ),
    (
        "consent_declined",
        dsip::CloseReason::ConsentDeclined,
        "Samtycke nekades",
    ),
    (
        "moved_out_of_region",
        dsip::CloseReason::MovedOutOfRegion,
        "Flyttat från länet",
    ),
    ("deceased", dsip::CloseReason::Deceased, "Avliden"),
    (
        "protected_identity",
        dsip::CloseReason::ProtectedIdentity,
        "Skyddade personuppgifter",
    ),
    (
        "replaced_by_new_plan",
        dsip::CloseReason::ReplacedByNewPlan,
        "Ersatt av en ny plan",
    ),
];

/// A closing reason as the SIP page and the close form name it.
pub(crate) fn close_reason_label(reason: dsip::CloseReason) -> &'static str {
    CLOSE_REASONS
        .iter()
        .find(|(_, r, _)| *r == reason)
        .map(|(_, _, label)| *label)
        .unwrap_or("")
}

/// The close form, for whoever may close the plan now: the coordinator, or before anyone
/// coordinates, the unit that noticed the need ("Avsluta ärendet", e.g. after consent was
/// declined). Only the reasons the domain accepts in the plan's state are offered, the likely
/// one chosen.
fn close_form(cx: &Context) -> Option<FormView> {
    use dsip::CloseReason as R;
    let phase = cx.view.phase;
    let (label, reasons, open): (&'static str, Vec<R>, bool) = if cx.view.coordinator.is_some() {
        if !cx.is_coordinator() {
            return None;
        }
        let reasons = if phase == SipPhase::ConsentWithdrawn {
            vec![
                R::ConsentWithdrawn,
                R::MovedOutOfRegion,
                R::Deceased,
                R::ProtectedIdentity,
            ]
        } else {
            let mut reasons = vec![
                R::GoalsMet,
                R::NoLongerNeeded,
                R::ReplacedByNewPlan,
                R::ConsentWithdrawn,
                R::ConsentDeclined,
                R::MovedOutOfRegion,
                R::Deceased,
                R::ProtectedIdentity,
            ];
            // Consent can only have been declined while it was never given.
            if !cx.view.consent.history.is_empty() {
                reasons.retain(|r| *r != R::ConsentDeclined);
            }
            reasons
        };
        // Opened by itself only when the plan must end; a plan followed up goes on unless the
        // coordinator decides otherwise.
        let open = matches!(phase, SipPhase::ConsentWithdrawn);
        ("Avsluta planen", reasons, open)
    } else {
        let noticed = cx
            .view
            .need
            .as_ref()
            .is_some_and(|n| n.recorded_by.unit_id.as_str() == cx.unit());
        if !noticed {
            return None;
        }
        // No meeting can have been held without a coordinator, so "målen är uppnådda" is
        // out, and "behovet finns inte längre" needs no follow-up.
        let mut reasons = Vec::new();
        match phase {
            SipPhase::ConsentDeclined => reasons.push(R::ConsentDeclined),
            SipPhase::ConsentWithdrawn => reasons.push(R::ConsentWithdrawn),
            _ => {}
        }
        reasons.extend([
            R::NoLongerNeeded,
            R::MovedOutOfRegion,
            R::Deceased,
            R::ProtectedIdentity,
        ]);
        let open = matches!(
            phase,
            SipPhase::ConsentDeclined | SipPhase::ConsentWithdrawn
        );
        ("Avsluta ärendet", reasons, open)
    };
    let likely = match phase {
        SipPhase::ConsentDeclined => Some(R::ConsentDeclined),
        SipPhase::ConsentWithdrawn => Some(R::ConsentWithdrawn),
        _ => None,
    };
    // The likely reason first, then the rest in the usual order.
    let choices = CLOSE_REASONS
        .iter()
        .filter(|(_, r, _)| Some(*r) == likely)
        .chain(CLOSE_REASONS.iter().filter(|(_, r, _)| Some(*r) != likely))
        .filter(|(_, r, _)| reasons.contains(r))
        .map(|(value, _, label)| Choice::new(*value, *label))
        .collect();
    let mut reason = Field::radios("reason", "Anledning", choices).required();
    if let Some(likely) = likely {
        if let Some((value, _, _)) = CLOSE_REASONS.iter().find(|(_, r, _)| *r == likely) {
            reason = reason.value(*value);
        }
    }
    let mut form = FormView::new("avslut", cx.action("avslut"), label).field(reason);
    if reasons.contains(&R::ReplacedByNewPlan) {
        form = form.field(Field::text("replaced_by", "Den nya planens id").hint(
            "Vid ”Ersatt av en ny plan”, om den nya planen redan är startad: klistra in adressen \
             till dess sida eller id:t i slutet av adressen. Annars lämna tomt.",
        ));
    }
    Some(
        form.field(Field::textarea("note", "Anteckning"))
            .field(Field::checkbox(
                "bekrafta",
                "Jag vill avsluta. Det går inte att ångra: planen kan inte öppnas igen.",
            ))
            .button(label)
            .open(open),
    )
}

/// The new plan named when a plan is closed as replaced: its id, or the address of its page
/// pasted whole (`…/sip/<id>?efter=…#avslut`). Ignored with any other reason.
fn replaced_by(
    reason: CloseReason,
    fields: &Fields,
) -> Result<Option<String>, super::form::FieldError> {
    let Some(raw) = fields.opt("replaced_by") else {
        return Ok(None);
    };
    if reason != CloseReason::ReplacedByNewPlan {
        return Ok(None);
    }
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    let id = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    match domain::SipId::parse(id) {
        Ok(id) => Ok(Some(id.to_string())),
        Err(_) => Err(super::form::FieldError::new(
            "replaced_by",
            "Ange den nya planens id (26 tecken, till exempel 01JGFJJZ000000006Y80004002) \
             eller adressen till dess sida.",
        )),
    }
}

fn unit_or_person(value: &str) -> Result<Responsible, super::form::FieldError> {
    match value.split_once(':') {
        Some(("unit", id)) if !id.is_empty() => Ok(Responsible::Unit {
            unit_id: id.to_owned(),
        }),
        _ if value == "person" => Ok(Responsible::Person),
        _ => Err(super::form::FieldError::new(
            "responsible",
            "Välj vem som är ansvarig.",
        )),
    }
}

fn close_reason(value: &str) -> Result<CloseReason, super::form::FieldError> {
    let reason = CLOSE_REASONS
        .iter()
        .find(|(v, _, _)| *v == value)
        .map(|(_, r, _)| *r)
        .ok_or_else(|| super::form::FieldError::new("reason", "Välj en anledning."))?;
    Ok(match reason {
        dsip::CloseReason::GoalsMet => CloseReason::GoalsMet,
        dsip::CloseReason::NoLongerNeeded => CloseReason::NoLongerNeeded,
        dsip::CloseReason::ConsentWithdrawn => CloseReason::ConsentWithdrawn,
        dsip::CloseReason::ConsentDeclined => CloseReason::ConsentDeclined,
        dsip::CloseReason::MovedOutOfRegion => CloseReason::MovedOutOfRegion,
        dsip::CloseReason::Deceased => CloseReason::Deceased,
        dsip::CloseReason::ProtectedIdentity => CloseReason::ProtectedIdentity,
        dsip::CloseReason::ReplacedByNewPlan => CloseReason::ReplacedByNewPlan,
    })
}

/// The HSA-ids the plan knows of the units' representatives, as a hint beside the meeting form's
/// HSA-id: the meeting often hands the plan to one of them, and a ward nurse's review had to
/// phone for an id the plan held ("Lena Sundström, Hemtjänst Centrum: SE2120000001-DHT1").
fn known_hsa_ids(cx: &Context) -> String {
    let mut known: Vec<String> = Vec::new();
    for inv in &cx.view.invitations {
        for (unit_id, r) in inv
            .representatives
            .iter()
            .filter(|(u, _)| !cx.left_out.contains(*u))
        {
            if let Some(id) = &r.staff_id {
                let line = format!("{}, {}: {}", r.name, cx.unit_name(unit_id.as_str()), id);
                if !known.contains(&line) {
                    known.push(line);
                }
            }
        }
    }
    if known.is_empty() {
        "Som den samordningsansvariga loggar in med, till exempel SE2321000016-A1B2.".to_owned()
    } else {
        format!("Representanter i planen: {}.", known.join("; "))
    }
}

/// The coordinator agreed at the meeting, when the meeting form names one (name and HSA-id
/// both, or neither).
fn new_coordinator(
    fields: &Fields,
) -> Result<Option<ChangeCoordinatorRequest>, super::form::FieldError> {
    match (fields.opt("new_coordinator_name"), fields.opt("staff_id")) {
        (None, None) => Ok(None),
        (Some(name), Some(_)) => Ok(Some(ChangeCoordinatorRequest {
            staff_id: hsa_id(fields)?,
            name,
            unit_id: fields.get("unit_id"),
            reason: Some("Beslutat på SIP-mötet".to_owned()),
        })),
        (None, Some(_)) => Err(super::form::FieldError::new(
            "new_coordinator_name",
            "Ange namnet på den som är samordningsansvarig efter mötet.",
        )),
        (Some(_), None) => Err(super::form::FieldError::new(
            "staff_id",
            "Ange HSA-id för den som är samordningsansvarig efter mötet.",
        )),
    }
}

/// The HSA-id typed for a coordinator, in its form (`SE`, the organisation's ten digits, `-`, the
/// person's suffix): typed by hand, "abc" made a coordinator nobody could sign in as, and the
/// plan's follow-up and closing nobody's to do. (The API takes the identity provider's ids as
/// they come; this is the page's check on a person typing.)
fn hsa_id(fields: &Fields) -> Result<String, super::form::FieldError> {
    let id = fields.get("staff_id").to_uppercase();
    let well_formed = id.len() <= 31
        && id
            .strip_prefix("SE")
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(org, own)| {
                org.len() == 10
                    && org.bytes().all(|b| b.is_ascii_digit())
                    && !own.is_empty()
                    && own.bytes().all(|b| b.is_ascii_alphanumeric())
            });
    if well_formed {
        Ok(id)
    } else {
        Err(super::form::FieldError::new(
            "staff_id",
            "Ange ett HSA-id, till exempel SE2321000016-A1B2.",
        ))
    }
}

fn purpose(fields: &Fields) -> InvitationPurpose {
    if fields.get("purpose") == "follow_up" {
        InvitationPurpose::FollowUp
    } else {
        InvitationPurpose::Meeting
    }
}

/// Where the meeting is; for a video meeting how to join it, which those called cannot do
/// without (the letter said only "Videomöte").
fn video_place(fields: &Fields) -> Result<Option<String>, super::form::FieldError> {
    let place = fields.opt("place");
    if place.is_none() && meeting_form(fields) == MeetingForm::Video {
        return Err(super::form::FieldError::new(
            "place",
            "Ange länken till videomötet eller hur man ansluter.",
        ));
    }
    Ok(place)
}

fn meeting_form(fields: &Fields) -> MeetingForm {
    match fields.get("form").as_str() {
        "video" => MeetingForm::Video,
        "phone" => MeetingForm::Phone,
        _ => MeetingForm::InPerson,
    }
}

/// The kallelse's recipients as posted: `person`, `relative:<id>` or a unit id.
fn recipients(fields: &Fields) -> Vec<Recipient> {
    fields
        .all("recipients")
        .into_iter()
        .map(|r| match r.split_once(':') {
            Some(("relative", id)) => Recipient::Relative {
                relative_id: id.to_owned(),
            },
            _ if r == "person" => Recipient::Person,
            _ => Recipient::Unit { unit_id: r },
        })
        .collect()
}

/// How many sub-goals, and interventions, the follow-up form judges at most: a field each
/// (names are the form's own, `delmal_1` … and `delmal_utfall_1` …).
const FOLLOW_UP_SLOTS: usize = 100;

/// The follow-up form's field names of each sub-goal: its id and its outcome.
static GOAL_SLOTS: std::sync::LazyLock<Vec<(String, String)>> =
    std::sync::LazyLock::new(|| slot_names("delmal"));
/// … and of each intervention.
static INTERVENTION_SLOTS: std::sync::LazyLock<Vec<(String, String)>> =
    std::sync::LazyLock::new(|| slot_names("insatsen"));

fn slot_names(prefix: &str) -> Vec<(String, String)> {
    (1..=FOLLOW_UP_SLOTS)
        .map(|i| (format!("{prefix}_{i}"), format!("{prefix}_utfall_{i}")))
        .collect()
}

fn follow_up_slots(
    slots: &'static [(String, String)],
) -> impl Iterator<Item = (&'static str, &'static str)> {
    slots
        .iter()
        .map(|(id, outcome)| (id.as_str(), outcome.as_str()))
}

/// One item judged at the follow-up: its id in the slot's hidden field, and its outcome as
/// radio buttons, "not judged" (the first, `""`) chosen until another is.
fn judged(
    form: FormView,
    (id, outcome): (&'static str, &'static str),
    item_id: &str,
    label: String,
    outcomes: &[(&str, &str)],
) -> FormView {
    let choices = outcomes
        .iter()
        .map(|(value, label)| Choice::new(*value, *label))
        .collect();
    form.field(Field::hidden(id, item_id))
        .field(Field::radios(outcome, label, choices).value(""))
}

/// A sub-goal's outcome at a follow-up, as its radio buttons offer it.
const GOAL_OUTCOMES: [(&str, &str); 3] = [
    ("", "Inte bedömt den här gången"),
    ("reached", "Uppnått"),
    ("not_reached", "Inte uppnått"),
];

/// The goals judged at a follow-up: the main goal when ticked reached, and each sub-goal whose
/// outcome was chosen, reached or not.
fn follow_up_goals(fields: &Fields) -> Result<Vec<GoalFollowUp>, super::form::FieldError> {
    let main = fields.opt("main_goal_reached").map(|_| GoalFollowUp {
        sub_goal_id: None,
        reached: true,
        comment: None,
    });
    let mut judged: Vec<GoalFollowUp> = main.into_iter().collect();
    for (id, outcome) in follow_up_slots(&GOAL_SLOTS) {
        let Some(sub_goal_id) = fields.opt(id) else {
            continue;
        };
        let reached = match fields.get(outcome).as_str() {
            "reached" => true,
            "not_reached" => false,
            "" => continue,
            _ => {
                return Err(super::form::FieldError::new(
                    outcome,
                    "Välj uppnått, inte uppnått eller inte bedömt.",
                ))
            }
        };
        judged.push(GoalFollowUp {
            sub_goal_id: Some(sub_goal_id),
            reached,
            comment: None,
        });
    }
    Ok(judged)
}

/// The interventions judged at a follow-up: each whose outcome was chosen, continuing, changed
/// or completed.
fn follow_up_interventions(
    fields: &Fields,
) -> Result<Vec<InterventionFollowUp>, super::form::FieldError> {
    let mut judged: Vec<InterventionFollowUp> = Vec::new();
    for (id, outcome) in follow_up_slots(&INTERVENTION_SLOTS) {
        let Some(intervention_id) = fields.opt(id) else {
            continue;
        };
        let outcome = match fields.get(outcome).as_str() {
            "continues" => InterventionOutcome::Continues,
            "changed" => InterventionOutcome::Changed,
            "completed" => InterventionOutcome::Completed,
            "" => continue,
            _ => {
                return Err(super::form::FieldError::new(
                    outcome,
                    "Välj ett utfall per insats: fortsätter, ändras eller avslutad.",
                ))
            }
        };
        judged.push(InterventionFollowUp {
            intervention_id,
            outcome,
            comment: None,
        });
    }
    Ok(judged)
}

/// Runs the step `step` posted with `fields`: the form's key (to show a refusal in) and the
/// result of the command(s).
pub(crate) async fn run(
    state: &AppState,
    caller: &Caller,
    id: &str,
    step: &str,
    fields: &Fields,
    meta: &WriteMeta,
) -> Result<Result<WriteResponse, Refusal>, AppError> {
    let write = Write {
        caller,
        meta,
        correlation_id: None,
    };
    let publish = fields.get("_do") == "dela-ut";
    let (step, item) = edited_item(step);
    macro_rules! go {
        ($body:expr) => {{
            // A closure, so that `?` on a field that does not parse ends only the body.
            #[allow(clippy::redundant_closure_call)]
            let body = match (|| -> Result<_, Refusal> { Ok($body) })() {
                Ok(body) => body,
                Err(e) => return Ok(Err(e)),
            };
            match crate::commands::sips::run(state, write, id, body).await {
                Ok(done) => done,
                Err(AppError::NotFound) => return Err(AppError::NotFound),
                Err(e) => return Ok(Err(Refusal::App(e))),
            }
        }};
    }
    let done = match step {
        "samtycke" => go!(RecordConsentRequest {
            given_by: consent_giver(&fields.get("given_by")),
            actors: fields.all("actors"),
            topics: fields
                .get("topics")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            valid_until: fields.date("valid_until")?,
            person_accepted_representative: fields.opt("person_accepted_representative").is_some(),
            // The page asks, so the consent always says: none ticked, none invited.
            relatives: Some(fields.all("relatives")),
        }),
        "samtycke-nekat" => go!(DeclineConsentRequest {
            declined_by: consent_giver(&fields.get("declined_by")),
            note: fields.opt("note"),
        }),
        "samtycke-aterkallat" => go!({
            if fields.get("bekrafta") != "ja" {
                return Err(Refusal::Field(super::form::FieldError::new(
                    "bekrafta",
                    "Kryssa i att samtycket är återkallat: det går inte att ångra.",
                )));
            }
            WithdrawConsentRequest {
                withdrawn_by: consent_giver(&fields.get("withdrawn_by")),
                note: fields.opt("note"),
            }
        }),
        "underlag" => go!(CreatePlanBasisRequest {
            initiated_by: fields.opt("initiated_by"),
            fixed_care_contacts: fields
                .opt("fixed_care_contacts.name")
                .map(|name| FixedCareContact {
                    name,
                    unit_id: None,
                    phone: fields.opt("fixed_care_contacts.phone"),
                })
                .into_iter()
                .collect(),
        }),
        "kartlaggning" => go!(DocumentMappingRequest {
            mapping_id: None,
            heading: fields.get("heading"),
            text: fields.get("text"),
        }),
        "kallelse" if fields.get("_do") == "spara" => go!(SaveInvitationDraftRequest {
            invitation_id: fields.opt("invitation_id"),
            purpose: purpose(fields),
            scheduled_at: match fields.opt("scheduled_at") {
                Some(_) => Some(fields.local_time("scheduled_at")?),
                None => None,
            },
            form: meeting_form(fields),
            place: fields.opt("place"),
            reason: fields.opt("reason"),
            recipients: recipients(fields),
        }),
        "kallelse" => go!(SendInvitationRequest {
            invitation_id: fields.opt("invitation_id"),
            purpose: purpose(fields),
            scheduled_at: fields.local_time("scheduled_at")?,
            form: meeting_form(fields),
            place: video_place(fields)?,
            reason: fields.get("reason"),
            recipients: recipients(fields),
        }),
        "svar" => go!(RespondToInvitationRequest {
            invitation_id: fields.get("invitation_id"),
            representative: Representative {
                name: fields.get("representative.name"),
                staff_id: None,
                profession: fields.opt("representative.profession"),
                phone: fields.opt("representative.phone"),
            },
        }),
        "mote" => go!(RecordMeetingRequest {
            invitation_id: fields.get("invitation_id"),
            held_at: fields.local_time("held_at")?,
            attendees: {
                let mut list: Vec<Attendee> = fields
                    .all("attendees")
                    .into_iter()
                    .map(|a| {
                        let parts: Vec<&str> = a.splitn(3, '|').collect();
                        match parts.as_slice() {
                            ["relative", name] => Attendee {
                                name: (*name).to_owned(),
                                role: AttendeeRole::Relative,
                                unit_id: None,
                            },
                            ["staff", unit, name] | [unit, name] => Attendee {
                                name: (*name).to_owned(),
                                role: AttendeeRole::Staff,
                                unit_id: Some((*unit).to_owned()),
                            },
                            _ => Attendee {
                                name: "Den enskilde".to_owned(),
                                role: AttendeeRole::Person,
                                unit_id: None,
                            },
                        }
                    })
                    .collect();
                list.extend(
                    fields
                        .get("others")
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|name| Attendee {
                            name: name.to_owned(),
                            role: AttendeeRole::Other,
                            unit_id: None,
                        }),
                );
                list
            },
            chair: fields.get("chair"),
            secretary: fields.get("secretary"),
            new_coordinator: new_coordinator(fields)?,
            follow_up_on: fields.opt_date("follow_up_on")?,
            // Asked only where the region offers SIP-kollen; elsewhere not recorded at all.
            sip_survey_offered: state
                .policy
                .for_municipality(None)
                .offers_sip_survey
                .then(|| fields.opt("sip_survey_offered").is_some()),
        }),
        "huvudmal" => go!(DocumentMainGoalRequest {
            text: fields.get("text"),
        }),
        "delmal" | "andra-delmal" => go!(DocumentSubGoalRequest {
            sub_goal_id: item.clone(),
            heading: fields.get("heading"),
            text: fields.get("text"),
            responsible: unit_or_person(&fields.get("responsible"))?,
        }),
        "insats" | "andra-insats" => go!(DocumentInterventionRequest {
            intervention_id: item.clone(),
            sub_goal_id: fields.get("sub_goal_id"),
            what: fields.get("what"),
            responsible: unit_or_person(&fields.get("responsible"))?,
            responsible_person: fields.opt("responsible_person"),
            performer: fields.opt("performer"),
            contact: fields.opt("contact"),
            from: fields.date("from")?,
            to: fields.opt_date("to")?,
        }),
        // "Dela ut" publishes the unit's drafts; with none, it says the unit has nothing to add.
        "dela-ut" | "inga-insatser" => go!(PublishContributionRequest {}),
        "flytta" => go!(RescheduleMeetingRequest {
            invitation_id: fields.get("invitation_id"),
            scheduled_at: fields.local_time("scheduled_at")?,
            form: None,
            place: fields.opt("place"),
            reason: fields.opt("reason"),
        }),
        "stall-in" => go!(CancelInvitationRequest {
            invitation_id: fields.get("invitation_id"),
            reason: fields.opt("reason"),
        }),
        "boka-uppfoljning" => go!(ScheduleFollowUpRequest {
            follow_up_on: fields.date("follow_up_on")?,
            note: fields.opt("note"),
        }),
        "uppfoljning-insatser" => go!(RecordFollowUpRequest {
            follow_up_id: None,
            held_on: fields.date("held_on")?,
            invitation_id: None,
            interventions: own_follow_ups(fields)?,
            goals: Vec::new(),
            next_follow_up_on: None,
            note: fields.opt("note"),
        }),
        "uppfoljning" => go!(RecordFollowUpRequest {
            follow_up_id: None,
            held_on: fields.date("held_on")?,
            invitation_id: fields.opt("invitation_id"),
            interventions: follow_up_interventions(fields)?,
            goals: follow_up_goals(fields)?,
            next_follow_up_on: fields.opt_date("next_follow_up_on")?,
            note: fields.opt("note"),
        }),
        "samordnare" => go!(ChangeCoordinatorRequest {
            staff_id: hsa_id(fields)?,
            name: fields.get("name"),
            unit_id: fields.get("unit_id"),
            reason: fields.opt("reason"),
        }),
        "avslut" => go!({
            if fields.get("bekrafta") != "ja" {
                return Err(Refusal::Field(super::form::FieldError::new(
                    "bekrafta",
                    "Kryssa i att du vill avsluta: det går inte att ångra.",
                )));
            }
            let reason = close_reason(&fields.get("reason"))?;
            ClosePlanRequest {
                reason,
                note: fields.opt("note"),
                replaced_by: replaced_by(reason, fields)?,
            }
        }),
        "utskrivning" => go!(RecordDischargeRequest {
            discharged_at: fields.local_time("discharged_at")?,
        }),
        _ => return Err(AppError::NotFound),
    };
    // "Spara & dela ut": the draft is saved, then the unit's drafts are published: a command of
    // its own, with a key of its own drawn from the form's (a second submit replays both), on
    // the version the save left.
    if publish
        && matches!(
            step,
            "huvudmal" | "delmal" | "insats" | "andra-delmal" | "andra-insats"
        )
    {
        let meta = WriteMeta {
            idempotency_key: meta
                .idempotency_key
                .as_ref()
                .map(|k| format!("{k}-dela-ut")),
            if_match: meta.if_match.map(|_| done.version),
            request_hash: meta.request_hash.clone(),
        };
        let write = Write {
            caller,
            meta: &meta,
            correlation_id: None,
        };
        let publish = PublishContributionRequest {};
        return match crate::commands::sips::run(state, write, id, publish).await {
            Ok(done) => Ok(Ok(done)),
            Err(AppError::NotFound) => Err(AppError::NotFound),
            Err(e) => Ok(Err(Refusal::App(e))),
        };
    }
    Ok(Ok(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_follow_up_judges_each_ticked_goal_and_intervention_once() {
        let fields = posted(&[
            ("main_goal_reached", "on"),
            ("delmal_1", "sg-1"),
            ("delmal_utfall_1", "reached"),
            ("delmal_2", "sg-2"),
            ("delmal_utfall_2", "not_reached"),
            ("delmal_3", "sg-3"),
            ("delmal_utfall_3", ""),
            ("insatsen_1", "in-1"),
            ("insatsen_utfall_1", "continues"),
            ("insatsen_2", "in-2"),
            ("insatsen_utfall_2", "completed"),
            ("insatsen_3", "in-3"),
        ]);
        let goals = follow_up_goals(&fields).expect("valid");
        let judged: Vec<(Option<&str>, bool)> = goals
            .iter()
            .map(|g| (g.sub_goal_id.as_deref(), g.reached))
            .collect();
        assert_eq!(
            judged,
            vec![(None, true), (Some("sg-1"), true), (Some("sg-2"), false)]
        );
        let interventions = follow_up_interventions(&fields).expect("valid");
        let judged: Vec<(&str, String)> = interventions
            .iter()
            .map(|i| (i.intervention_id.as_str(), format!("{:?}", i.outcome)))
            .collect();
        assert_eq!(
            judged,
            vec![
                ("in-1", "Continues".to_owned()),
                ("in-2", "Completed".to_owned())
            ]
        );
    }

    #[test]
    fn every_close_reason_offered_is_posted_back_as_itself() {
        for (value, reason, label) in CLOSE_REASONS {
            let posted = close_reason(value).expect("a reason the form offers");
            assert_eq!(dsip::CloseReason::from(posted), reason);
            assert_eq!(close_reason_label(reason), label);
        }
        let refused = close_reason("okand").expect_err("refused");
        assert_eq!(refused.field, "reason");
    }

    #[test]
    fn the_consent_giver_is_read_as_posted() {
        assert!(matches!(consent_giver("person"), ConsentGiver::Person));
        assert!(matches!(
            consent_giver("guardian:vh-mamma"),
            ConsentGiver::Guardian { relative_id } if relative_id == "vh-mamma"
        ));
        assert!(matches!(
            consent_giver("representative:god-man"),
            ConsentGiver::Representative { relative_id } if relative_id == "god-man"
        ));
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a valid time")
    }

    #[test]
    fn the_follow_up_kallelse_chosen_is_the_earliest_active_one_even_ahead() {
        let kallelser = [
            ("ahead", at("2026-12-21T09:00:00Z")),
            ("long-ago", at("2026-11-02T09:00:00Z")),
            ("this-morning", at("2026-12-07T08:00:00Z")),
        ];
        assert_eq!(
            earliest_called(kallelser).map(|(id, _)| id),
            Some("long-ago")
        );
        // The only one, still ahead: chosen all the same.
        assert_eq!(
            earliest_called([kallelser[0]]).map(|(id, _)| id),
            Some("ahead")
        );
        assert_eq!(earliest_called([]), None);
    }

    // A plan as the forms see it: hälsocentralen coordinates (the caller, unless another is
    // named), hemtjänsten uses samplan, Försäkringskassan does not; the SIP-möte is held.
    const HC: &str = "nll-hc-centrum-lulea";
    const HT: &str = "lulea-hemtjanst-centrum";
    const FK: &str = "fk-lulea";
    const PSY: &str = "nll-psykiatri-lulea";

    struct Plan {
        view: SipView,
        caller: Caller,
        units: Vec<UnitRow>,
        relatives: Vec<RelativeRow>,
        invitable: Option<BTreeSet<String>>,
        child: bool,
        left_out: BTreeSet<domain::UnitId>,
        policy: PolicyProfile,
        now: DateTime<Utc>,
    }

    fn unit_row(id: &str, name: &str, uses_samplan: bool) -> UnitRow {
        UnitRow {
            unit_id: id.to_owned(),
            name: name.to_owned(),
            principal_kind: "region".to_owned(),
            principal_name: "Huvudman".to_owned(),
            uses_samplan,
            address: None,
            phone: None,
            registered_at: at("2026-01-01T00:00:00Z"),
            version: 1,
            last_position: 1,
        }
    }

    fn unit(id: &str) -> domain::UnitId {
        domain::UnitId::parse(id).expect("a unit id")
    }

    fn staff(sub: &str, unit_id: &str) -> domain::context::StaffRef {
        domain::context::StaffRef {
            staff_id: domain::ids::StaffId::parse(sub).expect("an HSA-id"),
            name: sub.to_owned(),
            unit_id: unit(unit_id),
        }
    }

    fn invitation(
        id: &str,
        purpose: dsip::InvitationPurpose,
        scheduled_at: DateTime<Utc>,
    ) -> dsip::Invitation {
        dsip::Invitation {
            invitation_id: id.to_owned(),
            purpose,
            scheduled_at,
            form: dsip::MeetingForm::InPerson,
            place: None,
            reason: "Planera stödet".to_owned(),
            recipients: Vec::new(),
            sent_by: staff("SE2321000016-DHC1", HC),
            sent_at: at("2026-12-01T08:00:00Z"),
            representatives: Default::default(),
            rescheduled: 0,
            rescheduled_at: None,
            cancelled: None,
            held: false,
            letters: Vec::new(),
        }
    }

    fn item<T>(id: &str, author: &str, published: bool, content: T) -> dsip::ItemView<T> {
        dsip::ItemView {
            id: id.to_owned(),
            author_unit: unit(author),
            published,
            has_unpublished_changes: !published,
            published_at: published.then(|| at("2026-12-04T10:00:00Z")),
            content,
        }
    }

    fn sub_goal(text: &str, responsible: dsip::Responsible) -> dsip::SubGoal {
        dsip::SubGoal {
            heading: Heading::ALL[0],
            text: text.to_owned(),
            responsible,
            recorded_by: staff("SE2321000016-DHC1", HC),
            recorded_at: at("2026-12-04T10:00:00Z"),
        }
    }

    fn on(id: &str) -> dsip::Responsible {
        dsip::Responsible::Unit { unit_id: unit(id) }
    }

    /// The plan after its SIP-möte, seen at `now` by `sub` of `unit_id` (SE2321000016-DHC1 of
    /// hälsocentralen coordinates).
    fn plan(sub: &str, unit_id: &str, now: DateTime<Utc>) -> Plan {
        let policy = PolicyProfile::by_name("norrbotten").expect("a profile");
        let mut view =
            dsip::view_for_unit(&dsip::SipState::default(), &unit(unit_id), &policy, now);
        view.phase = SipPhase::MeetingHeld;
        view.basis = Some(dsip::PlanBasis {
            initiated_by: None,
            fixed_care_contacts: Vec::new(),
            created_by: staff("SE2321000016-DHC1", HC),
            created_at: at("2026-12-01T08:00:00Z"),
        });
        view.coordinator = Some(staff("SE2321000016-DHC1", HC));
        view.participants = vec![unit(HC), unit(HT), unit(FK)];
        view.meetings.push(dsip::Meeting {
            invitation_id: "sip-mote".to_owned(),
            held_at: at("2026-12-03T09:00:00Z"),
            attendees: Vec::new(),
            chair: "Ordförande".to_owned(),
            secretary: "Sekreterare".to_owned(),
            coordinator: staff("SE2321000016-DHC1", HC),
            follow_up_on: "2027-03-03".parse().expect("a date"),
            sip_survey_offered: None,
        });
        view.next_follow_up_on = Some("2027-03-03".parse().expect("a date"));
        Plan {
            view,
            caller: Caller {
                sub: sub.to_owned(),
                role: domain::context::Role::Staff,
                unit: Some(unit(unit_id)),
                name: sub.to_owned(),
                personal_identity_number: None,
            },
            // In id order, which is not the order of their names.
            units: vec![
                unit_row("abc-okand", "Öppenvården", true),
                unit_row(FK, "Försäkringskassan", false),
                unit_row(HT, "Hemtjänst Centrum", true),
                unit_row(HC, "Hälsocentralen Centrum", true),
                unit_row(PSY, "Psykiatriska mottagningen", true),
            ],
            relatives: Vec::new(),
            invitable: None,
            child: false,
            left_out: BTreeSet::new(),
            policy,
            now,
        }
    }

    fn coordinator_plan(now: DateTime<Utc>) -> Plan {
        plan("SE2321000016-DHC1", HC, now)
    }

    /// The coordinator's plan before its meeting: kallelse `sip-mote` to 12.30 UTC on
    /// 10 December 2026, read at 14.00.
    fn invited_coordinator_plan() -> Plan {
        let mut p = coordinator_plan(at("2026-12-10T14:00:00Z"));
        p.view.meetings.clear();
        p.view.phase = SipPhase::Invited;
        p.view.invitations = vec![invitation(
            "sip-mote",
            dsip::InvitationPurpose::Meeting,
            at("2026-12-10T12:30:00Z"),
        )];
        p
    }

    impl Plan {
        fn forms(&self) -> Vec<FormView> {
            forms(&Context {
                sip_id: "01JGFJJZ000000006Y80004004",
                view: &self.view,
                caller: &self.caller,
                units: &self.units,
                relatives: &self.relatives,
                policy: &self.policy,
                now: self.now,
                child: self.child,
                invitable: self.invitable.as_ref(),
                left_out: &self.left_out,
            })
        }
    }

    fn form<'a>(forms: &'a [FormView], key: &str) -> &'a FormView {
        forms
            .iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no form {key}"))
    }

    fn field<'a>(form: &'a FormView, name: &str) -> &'a Field {
        form.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name} in {}", form.key))
    }

    fn values(field: &Field) -> Vec<&str> {
        field.choices.iter().map(|c| c.value.as_str()).collect()
    }

    /// Three months after 7 December 2026 is Sunday 7 March 2027: the meeting form suggests the
    /// Monday after.
    #[test]
    fn the_meeting_form_suggests_a_follow_up_on_a_working_day() {
        let mut p = invited_coordinator_plan();
        p.now = at("2026-12-07T14:00:00Z");
        p.view.invitations[0].scheduled_at = at("2026-12-07T12:30:00Z");
        let forms = p.forms();
        assert_eq!(
            field(form(&forms, "mote"), "follow_up_on").value,
            "2027-03-08"
        );
    }

    #[test]
    fn the_uppfoljning_form_chooses_the_follow_up_kallelse_still_ahead() {
        let now = at("2026-12-07T10:00:00Z");
        let mut p = coordinator_plan(now);
        p.view.invitations = vec![
            invitation(
                "senare",
                dsip::InvitationPurpose::FollowUp,
                at("2027-03-10T09:00:00Z"),
            ),
            invitation(
                "forst",
                dsip::InvitationPurpose::FollowUp,
                at("2027-03-03T09:00:00Z"),
            ),
        ];
        let forms = p.forms();
        let f = form(&forms, "uppfoljning");
        assert_eq!(field(f, "invitation_id").value, "forst");
        // Held at the latest today: a follow-up ahead cannot be recorded as held later.
        assert_eq!(field(f, "held_on").value, "2026-12-07");
    }

    #[test]
    fn the_follow_up_is_booked_by_the_coordinator_after_the_meeting() {
        let now = at("2026-12-07T10:00:00Z");
        let mut p = coordinator_plan(now);
        let forms = p.forms();
        let booked = form(&forms, "boka-uppfoljning");
        assert_eq!(
            booked.action,
            "/sip/01JGFJJZ000000006Y80004004/boka-uppfoljning"
        );
        assert_eq!(field(booked, "follow_up_on").value, "2027-03-03");
        assert!(!booked.open, "a date is booked");
        // After a follow-up that agreed no next date: open, the to-do it answers.
        p.view.next_follow_up_on = None;
        let forms = p.forms();
        let booked = form(&forms, "boka-uppfoljning");
        assert!(booked.open);
        assert_eq!(field(booked, "follow_up_on").value, "");
        // Not before the meeting, nor for anyone but the coordinator.
        p.view.meetings.clear();
        assert!(p.forms().iter().all(|f| f.key != "boka-uppfoljning"));
        let other = plan("SE2120000001-DHT1", HT, now);
        assert!(other.forms().iter().all(|f| f.key != "boka-uppfoljning"));
    }

    #[test]
    fn the_meeting_form_opens_once_the_kallelse_time_has_passed_and_suggests_that_time() {
        let mut p = invited_coordinator_plan();
        let forms = p.forms();
        let mote = form(&forms, "mote");
        assert!(mote.open, "the meeting's time has passed");
        // 12.30 UTC is 13.30 in Stockholm in winter.
        assert_eq!(field(mote, "held_at").value, "2026-12-10T13:30");
        assert_eq!(field(mote, "invitation_id").value, "sip-mote");
        // Before the meeting: closed, and no time ahead suggested.
        p.now = at("2026-12-06T08:00:00Z");
        let forms = p.forms();
        let mote = form(&forms, "mote");
        assert!(!mote.open, "the meeting is still ahead");
        assert_eq!(field(mote, "held_at").value, "2026-12-06T09:00");
    }

    #[test]
    fn sip_kollen_is_asked_at_the_meeting_where_the_region_offers_it() {
        let mut p = invited_coordinator_plan();
        let forms = p.forms();
        assert!(
            form(&forms, "mote")
                .fields
                .iter()
                .all(|f| f.name != "sip_survey_offered"),
            "Norrbotten does not use SIP-kollen"
        );
        p.policy = PolicyProfile::by_name("stockholm").expect("a profile");
        let forms = p.forms();
        let survey = field(form(&forms, "mote"), "sip_survey_offered");
        assert_eq!(
            (survey.kind, survey.label.as_str()),
            ("checkbox", "Den enskilde erbjöds SIP-kollen")
        );
    }

    #[test]
    fn only_whom_the_caller_may_document_for_is_offered_as_ansvarig() {
        let now = at("2026-12-07T10:00:00Z");
        let coordinator = coordinator_plan(now);
        let forms = coordinator.forms();
        assert_eq!(
            values(field(form(&forms, "delmal"), "responsible")),
            vec![
                format!("unit:{HC}"),
                format!("unit:{FK}"),
                "person".to_owned()
            ]
        );
        let other = plan("SE2120000001-DHT1", HT, now);
        let forms = other.forms();
        assert_eq!(
            values(field(form(&forms, "delmal"), "responsible")),
            vec![format!("unit:{HT}")]
        );
    }

    #[test]
    fn a_follow_up_kallelse_goes_to_the_units_taking_part() {
        let now = at("2026-12-07T10:00:00Z");
        let mut p = coordinator_plan(now);
        p.view.consent.actors = vec![unit(FK), unit(HC), unit(HT)];
        let ticked = |p: &Plan| -> Vec<String> {
            let forms = p.forms();
            let kallelse = form(&forms, "kallelse");
            assert_eq!(field(kallelse, "purpose").value, "follow_up");
            field(kallelse, "recipients")
                .choices
                .iter()
                .filter(|c| c.checked)
                .map(|c| c.value.clone())
                .collect()
        };
        assert_eq!(ticked(&p), vec![FK, HT, "person"]);
        // A unit taking part that the renewed consent leaves out is not called.
        p.view.consent.actors = vec![unit(FK), unit(HC)];
        assert_eq!(ticked(&p), vec![FK, "person"]);
        // Before the SIP-möte only the person is ticked.
        let mut before = coordinator_plan(now);
        before.view.meetings.clear();
        before.view.phase = SipPhase::Preparing;
        let forms = before.forms();
        let ticked: Vec<&str> = field(form(&forms, "kallelse"), "recipients")
            .choices
            .iter()
            .filter(|c| c.checked)
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(ticked, vec!["person"]);
    }

    #[test]
    fn unit_lists_are_sorted_by_name_and_the_kallelse_is_for_the_next_working_day_at_nine() {
        let now = at("2026-12-04T14:28:00Z");
        let mut p = coordinator_plan(now);
        // Psykiatrin is covered by the consent, though it takes no part yet.
        p.view.consent.actors = vec![unit(PSY)];
        let forms = p.forms();
        let kallelse = form(&forms, "kallelse");
        assert_eq!(
            values(field(kallelse, "recipients")),
            vec![FK, HT, PSY, "abc-okand", "person"]
        );
        assert_eq!(
            values(field(form(&forms, "samtycke"), "actors")),
            vec![FK, HT, HC, PSY, "abc-okand"]
        );
        // The role goes only to a unit taking part or covered by the consent, using samplan.
        assert_eq!(
            values(field(form(&forms, "samordnare"), "unit_id")),
            vec![HT, HC, PSY]
        );
        // Friday afternoon: Monday at 09.00.
        assert_eq!(field(kallelse, "scheduled_at").value, "2026-12-07T09:00");
        // Before Christmas: julafton, the holidays and the weekend are skipped.
        assert_eq!(
            local_input(default_kallelse_time(at("2026-12-23T10:00:00Z"))),
            "2026-12-28T09:00"
        );
    }

    #[test]
    fn consent_declined_is_a_reason_to_close_only_while_consent_was_never_given() {
        let now = at("2026-12-07T10:00:00Z");
        let mut p = coordinator_plan(now);
        let reasons = |p: &Plan| -> Vec<String> {
            let forms = p.forms();
            values(field(form(&forms, "avslut"), "reason"))
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        assert!(reasons(&p).contains(&"consent_declined".to_owned()));
        p.view.consent.history.push(dsip::Consent {
            given_by: dsip::ConsentGiver::Person,
            actors: vec![unit(HC), unit(HT)],
            topics: vec!["Hemgång".to_owned()],
            valid_until: "2027-12-01".parse().expect("a date"),
            relatives: None,
            recorded_by: staff("SE2321000016-DHC1", HC),
            recorded_at: at("2026-12-01T08:00:00Z"),
        });
        assert!(!reasons(&p).contains(&"consent_declined".to_owned()));
        assert!(reasons(&p).contains(&"goals_met".to_owned()));
    }

    #[test]
    fn a_label_after_a_sentence_has_no_doubled_full_stop() {
        assert_eq!(
            label_of("Hemtjänst: inköp en gång i veckan och städning varannan vecka. "),
            "Hemtjänst: inköp en gång i veckan och städning varannan vecka"
        );
        assert_eq!(label_of("Inköp"), "Inköp");
        let mut p = plan("SE2120000001-DHT1", HT, at("2026-12-07T10:00:00Z"));
        p.view.interventions.push(item(
            "insats-ht",
            HT,
            true,
            intervention("sg", "Städning varannan vecka.", on(HT)),
        ));
        let forms = p.forms();
        let own = form(&forms, "uppfoljning-insatser");
        assert_eq!(
            field(own, "utfall_1").label,
            "Städning varannan vecka: utfall"
        );
    }

    fn intervention(
        sub_goal: &str,
        what: &str,
        responsible: dsip::Responsible,
    ) -> dsip::Intervention {
        dsip::Intervention {
            sub_goal_id: sub_goal.to_owned(),
            what: what.to_owned(),
            responsible,
            responsible_person: Some("Enhetschefen".to_owned()),
            performer: Some("Hemtjänstpersonalen".to_owned()),
            contact: Some("0920-45 00 00".to_owned()),
            from: "2026-12-07".parse().expect("a date"),
            to: None,
            recorded_by: staff("SE2321000016-DHC1", HC),
            recorded_at: at("2026-12-04T10:00:00Z"),
        }
    }

    #[test]
    fn the_caller_changes_the_delmal_and_insatser_they_may_document_filled_as_they_are() {
        let now = at("2026-12-07T10:00:00Z");
        let mut p = coordinator_plan(now);
        p.view.sub_goals = vec![
            item("sg-hc", HC, true, sub_goal("Sover bättre.", on(HC))),
            item("sg-ht", HT, true, sub_goal("Hemmet är städat.", on(HT))),
            item("sg-fk", HC, true, sub_goal("Har sin ersättning.", on(FK))),
            item(
                "sg-egen",
                HC,
                false,
                sub_goal("Promenerar dagligen.", dsip::Responsible::Person),
            ),
        ];
        p.view.interventions = vec![
            item(
                "in-hc",
                HC,
                true,
                intervention("sg-hc", "Samtal varannan vecka.", on(HC)),
            ),
            item(
                "in-ht",
                HT,
                true,
                intervention("sg-ht", "Städning.", on(HT)),
            ),
        ];
        let forms = p.forms();
        let keys: Vec<&str> = forms
            .iter()
            .map(|f| f.key.as_str())
            .filter(|k| k.starts_with("andra-"))
            .collect();
        assert_eq!(
            keys,
            vec![
                "andra-delmal-sg-hc",
                "andra-delmal-sg-fk",
                "andra-delmal-sg-egen",
                "andra-insats-in-hc"
            ]
        );
        let goal = form(&forms, "andra-delmal-sg-fk");
        assert_eq!(goal.title, "Ändra delmål: Har sin ersättning.");
        assert_eq!(
            goal.action,
            "/sip/01JGFJJZ000000006Y80004004/andra-delmal-sg-fk"
        );
        assert_eq!(field(goal, "text").value, "Har sin ersättning.");
        assert_eq!(field(goal, "responsible").value, format!("unit:{FK}"));
        assert_eq!(field(goal, "heading").value, Heading::ALL[0].code());
        let insats = form(&forms, "andra-insats-in-hc");
        assert_eq!(field(insats, "what").value, "Samtal varannan vecka.");
        assert_eq!(field(insats, "sub_goal_id").value, "sg-hc");
        assert_eq!(field(insats, "contact").value, "0920-45 00 00");
        assert_eq!(field(insats, "from").value, "2026-12-07");
        assert_eq!(field(insats, "responsible_person").value, "Enhetschefen");
        assert_eq!(insats.buttons.len(), 2, "Spara & dela ut, Spara som utkast");
        // Hemtjänsten changes its own only.
        p.caller = plan("SE2120000001-DHT1", HT, now).caller;
        let forms = p.forms();
        let keys: Vec<&str> = forms
            .iter()
            .map(|f| f.key.as_str())
            .filter(|k| k.starts_with("andra-"))
            .collect();
        assert_eq!(keys, vec!["andra-delmal-sg-ht", "andra-insats-in-ht"]);
    }

    #[test]
    fn an_item_form_posts_its_step_and_the_item() {
        assert_eq!(
            edited_item("andra-delmal-01JGFJ.x_y"),
            ("andra-delmal", Some("01JGFJ.x_y".to_owned()))
        );
        assert_eq!(
            edited_item("andra-insats-insats-lulea"),
            ("andra-insats", Some("insats-lulea".to_owned()))
        );
        assert_eq!(edited_item("andra-delmal-"), ("andra-delmal-", None));
        assert_eq!(edited_item("delmal"), ("delmal", None));
    }

    #[test]
    fn the_meeting_deadline_follows_the_policy_and_the_red_track() {
        let norrbotten = PolicyProfile::by_name("norrbotten").expect("a profile");
        let orebro = PolicyProfile::by_name("orebro").expect("a profile");
        let now = at("2026-12-07T10:00:00Z");
        let known = at("2026-12-02T07:00:00Z");
        let outpatient = dsip::NeedContext {
            kind: CareContextKind::Outpatient,
            track: None,
            discharge_ready_at: None,
        };
        // Norrbotten: not before 3 days, at the latest 21 days after the need became known.
        assert_eq!(
            meeting_deadline_text(&norrbotten, known, &outpatient, None, now).as_deref(),
            Some("Mötet bör hållas senast onsdag 23 december.")
        );
        assert_eq!(
            meeting_deadline_text(
                &norrbotten,
                known,
                &outpatient,
                None,
                at("2026-12-02T12:00:00Z")
            )
            .as_deref(),
            Some("Mötet bör hållas tidigast lördag 5 december och senast onsdag 23 december.")
        );
        let red = dsip::NeedContext {
            kind: CareContextKind::Discharge,
            track: Some(Track::Red),
            discharge_ready_at: None,
        };
        // Örebro's red track: before going home, a time to be recorded.
        assert_eq!(
            meeting_deadline_text(&orebro, known, &red, None, now).as_deref(),
            Some(
                "Rött spår: mötet ska hållas före hemgång. Registrera utskrivningen när tiden är \
                 känd."
            )
        );
        let home = Some(at("2026-12-09T11:00:00Z"));
        assert_eq!(
            meeting_deadline_text(&orebro, known, &red, home, now).as_deref(),
            Some("Rött spår: mötet ska hållas före hemgång, onsdag 9 december kl. 12.00.")
        );
        // Norrbotten's own deadline (23 December) and earliest day come after going home on the
        // red track: the discharge is the deadline.
        assert_eq!(
            meeting_deadline_text(&norrbotten, known, &red, home, now).as_deref(),
            Some("Rött spår: mötet ska hållas före hemgång, onsdag 9 december kl. 12.00.")
        );
        // Gone home already: the meeting is held as soon as it can be.
        assert_eq!(
            meeting_deadline_text(&orebro, known, &red, home, at("2026-12-10T10:00:00Z"))
                .as_deref(),
            Some(
                "Rött spår: den enskilde skrevs ut i går kl. 12.00. Håll SIP-mötet så snart det \
                 går."
            )
        );
        // Nor is an earliest day said on the red track when going home comes later, or is not
        // known yet: the meeting is held as soon as it can be (001), before going home.
        let just_known = at("2026-12-02T12:00:00Z");
        assert_eq!(
            meeting_deadline_text(&norrbotten, known, &red, None, just_known).as_deref(),
            Some(
                "Mötet bör hållas senast onsdag 23 december. Rött spår: mötet ska hållas före \
                 hemgång. Registrera utskrivningen när tiden är känd."
            )
        );
        // Örebro's green track gives no figure before the discharge is known.
        let green = dsip::NeedContext {
            track: Some(Track::Green),
            ..red
        };
        assert_eq!(
            meeting_deadline_text(&orebro, known, &green, None, now),
            None
        );
    }

    #[test]
    fn the_new_plan_is_read_from_its_id_or_its_address() {
        let replaced = CloseReason::ReplacedByNewPlan;
        let read = |value: &str, reason| replaced_by(reason, &posted(&[("replaced_by", value)]));
        let id = "01JGFJJZ000000006Y80004002";
        assert_eq!(read(id, replaced).expect("an id").as_deref(), Some(id));
        assert_eq!(
            read(
                &format!("http://127.0.0.1:8080/sip/{id}?efter=12#avslut"),
                replaced
            )
            .expect("an address")
            .as_deref(),
            Some(id)
        );
        assert_eq!(read("", replaced).expect("none"), None);
        // Another reason: the field is ignored, whatever it holds.
        assert_eq!(
            read("nonsens", CloseReason::GoalsMet).expect("ignored"),
            None
        );
        assert_eq!(
            read("nonsens", replaced).expect_err("refused").field,
            "replaced_by"
        );
    }

    #[test]
    fn a_coordinator_typed_by_hand_needs_an_hsa_id_and_a_video_meeting_a_link() {
        for ok in ["SE2321000016-A1B2", "se2321000016-dhc9"] {
            assert!(hsa_id(&posted(&[("staff_id", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "abc",
            "SE232100001-A1",
            "SE2321000016-",
            "SE2321000016A1B2",
            "SE2321000016-A 1",
        ] {
            assert_eq!(
                hsa_id(&posted(&[("staff_id", bad)])).expect_err(bad).field,
                "staff_id"
            );
        }
        let video = video_place(&posted(&[("form", "video")]));
        assert_eq!(video.expect_err("no link").field, "place");
        assert!(video_place(&posted(&[
            ("form", "video"),
            ("place", "https://möte.example/abc")
        ]))
        .is_ok());
        assert_eq!(
            video_place(&posted(&[("form", "in_person")])).ok(),
            Some(None)
        );
    }

    #[test]
    fn the_coordinator_after_the_meeting_needs_name_and_hsa_id_or_neither() {
        assert!(new_coordinator(&posted(&[("unit_id", "u")]))
            .expect("none")
            .is_none());
        let both = new_coordinator(&posted(&[
            ("new_coordinator_name", "Nils Nyström"),
            ("staff_id", "SE2321000016-DHC9"),
            ("unit_id", "nll-hc-centrum-lulea"),
        ]))
        .expect("valid")
        .expect("a new coordinator");
        assert_eq!(
            (
                both.name.as_str(),
                both.staff_id.as_str(),
                both.unit_id.as_str()
            ),
            ("Nils Nyström", "SE2321000016-DHC9", "nll-hc-centrum-lulea")
        );
        let no_id = new_coordinator(&posted(&[("new_coordinator_name", "Nils")]));
        assert_eq!(no_id.expect_err("refused").field, "staff_id");
        let no_name = new_coordinator(&posted(&[("staff_id", "SE2321000016-DHC9")]));
        assert_eq!(no_name.expect_err("refused").field, "new_coordinator_name");
    }

    #[test]
    fn a_unit_follows_up_each_own_intervention_it_judged_with_its_comment() {
        let fields = posted(&[
            ("insats_1", "insats-a"),
            ("utfall_1", "completed"),
            ("kommentar_1", "Klarar det själv nu."),
            ("insats_2", "insats-b"),
            ("utfall_2", ""),
            ("kommentar_2", ""),
            ("insats_3", "insats-c"),
            ("utfall_3", "changed"),
            ("kommentar_3", ""),
        ]);
        let judged: Vec<(String, String, Option<String>)> = own_follow_ups(&fields)
            .expect("valid")
            .into_iter()
            .map(|i| (i.intervention_id, format!("{:?}", i.outcome), i.comment))
            .collect();
        assert_eq!(
            judged,
            vec![
                (
                    "insats-a".to_owned(),
                    "Completed".to_owned(),
                    Some("Klarar det själv nu.".to_owned())
                ),
                ("insats-c".to_owned(), "Changed".to_owned(), None),
            ]
        );
        // Nothing judged, or a comment without an outcome: refused beside the outcome.
        let none = posted(&[("insats_1", "insats-a"), ("utfall_1", "")]);
        assert_eq!(
            own_follow_ups(&none).expect_err("refused").field,
            "utfall_1"
        );
        let comment_only = posted(&[
            ("insats_1", "insats-a"),
            ("utfall_1", "continues"),
            ("insats_2", "insats-b"),
            ("utfall_2", ""),
            ("kommentar_2", "Oklart"),
        ]);
        assert_eq!(
            own_follow_ups(&comment_only).expect_err("refused").field,
            "utfall_2"
        );
    }

    fn relative(id: &str, kind: &str) -> RelativeRow {
        RelativeRow {
            relative_id: id.to_owned(),
            kind: kind.to_owned(),
            name: id.to_owned(),
            phone: None,
            address: None,
            note: None,
            personal_identity_number: None,
            protected_identity: false,
            name_hidden: false,
        }
    }

    /// An intervention's contact is required whenever a unit is responsible: always for a unit
    /// writing its own part; the coordinator may make it the person's own, and is told when.
    #[test]
    fn an_interventions_contact_is_marked_required_where_it_always_is() {
        let mut p = plan("SE2321000016-DHT1", HT, at("2026-12-07T10:00:00Z"));
        p.view.sub_goals = vec![item(
            "sg-1",
            HT,
            true,
            sub_goal("Klara matlagningen", on(HT)),
        )];
        let forms = p.forms();
        assert!(field(form(&forms, "insats"), "contact").required);
        let mut p = coordinator_plan(at("2026-12-07T10:00:00Z"));
        p.view.sub_goals = vec![item(
            "sg-1",
            HC,
            true,
            sub_goal("Klara matlagningen", on(HC)),
        )];
        let forms = p.forms();
        let contact = field(form(&forms, "insats"), "contact");
        assert!(!contact.required);
        assert!(contact
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Obligatoriskt när en verksamhet är ansvarig")));
    }

    #[test]
    fn a_form_that_shares_names_the_units_other_drafts_it_shares_too() {
        let mut p = plan("SE2321000016-DHT1", HT, at("2026-12-07T10:00:00Z"));
        p.view.sub_goals = vec![
            item("sg-1", HT, false, sub_goal("Minskat alkoholbruk.", on(HT))),
            item("sg-2", HT, true, sub_goal("Klara matlagningen", on(HT))),
            item(
                "sg-3",
                HC,
                false,
                sub_goal("Hälsocentralens utkast", on(HC)),
            ),
        ];
        let forms = p.forms();
        let note = "\u{201d}Spara & dela ut\u{201d} delar också ut era andra utkast: delmålet \
                    \u{201d}Minskat alkoholbruk\u{201d}.";
        let intro = |key: &str| form(&forms, key).intro.clone().unwrap_or_default();
        assert!(intro("delmal").ends_with(note), "{}", intro("delmal"));
        assert!(intro("insats").ends_with(note), "{}", intro("insats"));
        // Nothing else of the unit's is a draft: the forms say nothing of it.
        p.view.sub_goals.remove(0);
        let forms = p.forms();
        assert!(!form(&forms, "delmal")
            .intro
            .clone()
            .unwrap_or_default()
            .contains("utkast"));
    }

    #[test]
    fn only_who_may_give_consent_is_offered_to_withdraw_it() {
        let mut p = coordinator_plan(at("2026-12-07T10:00:00Z"));
        p.relatives = vec![
            relative("dotter", "relative"),
            relative("god-man", "trustee"),
            relative("vh", "guardian"),
        ];
        p.view.consent.history.push(dsip::Consent {
            given_by: dsip::ConsentGiver::Person,
            actors: vec![unit(HC)],
            topics: vec!["Hemgång".to_owned()],
            valid_until: "2027-12-01".parse().expect("a date"),
            relatives: None,
            recorded_by: staff("SE2321000016-DHC1", HC),
            recorded_at: at("2026-12-01T08:00:00Z"),
        });
        let offered = |p: &Plan, key: &str, field_name: &str| -> Vec<String> {
            let forms = p.forms();
            values(field(form(&forms, key), field_name))
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        // An adult: the person and a god man; not a guardian, nor a närstående never accepted
        // as företrädare. Giving consent still offers everyone (the domain asks the rest).
        assert_eq!(
            offered(&p, "samtycke-aterkallat", "withdrawn_by"),
            vec!["person", "representative:god-man"]
        );
        assert_eq!(offered(&p, "samtycke", "given_by").len(), 4);
        // The daughter, once she consented as företrädare, may withdraw too.
        let mut by_her = p.view.consent.history[0].clone();
        by_her.given_by = dsip::ConsentGiver::Representative {
            relative_id: "dotter".to_owned(),
        };
        p.view.consent.history.push(by_her);
        assert_eq!(
            offered(&p, "samtycke-aterkallat", "withdrawn_by"),
            vec!["person", "representative:dotter", "representative:god-man"]
        );
        // A child's: the guardians only, the first chosen from the start.
        p.child = true;
        assert_eq!(
            offered(&p, "samtycke-aterkallat", "withdrawn_by"),
            vec!["guardian:vh"]
        );
        let forms = p.forms();
        assert_eq!(
            field(form(&forms, "samtycke"), "given_by").value,
            "guardian:vh"
        );
        assert_eq!(
            field(form(&forms, "samtycke-aterkallat"), "withdrawn_by").value,
            "guardian:vh"
        );
    }

    #[test]
    fn the_kallelse_marks_whom_the_consent_does_not_cover() {
        let mut p = coordinator_plan(at("2026-12-07T10:00:00Z"));
        p.view.consent.actors = vec![unit(HT), unit(FK)];
        p.relatives = vec![
            relative("dotter", "relative"),
            relative("granne", "relative"),
            relative("god-man", "trustee"),
        ];
        p.invitable = Some(BTreeSet::from(["dotter".to_owned()]));
        let notes = |p: &Plan| -> Vec<(String, Option<String>)> {
            let forms = p.forms();
            field(form(&forms, "kallelse"), "recipients")
                .choices
                .iter()
                .map(|c| (c.value.clone(), c.note.clone()))
                .collect()
        };
        let uncovered = Some("inte med i samtycket".to_owned());
        let brev = Some("brev".to_owned());
        assert_eq!(
            notes(&p),
            vec![
                (FK.to_owned(), brev.clone()),
                (HT.to_owned(), None),
                (PSY.to_owned(), uncovered.clone()),
                ("abc-okand".to_owned(), uncovered.clone()),
                ("person".to_owned(), brev.clone()),
                ("relative:dotter".to_owned(), brev.clone()),
                // A närstående the consent leaves out; a god man takes part in their own right.
                ("relative:granne".to_owned(), uncovered.clone()),
                ("relative:god-man".to_owned(), brev.clone()),
            ]
        );
        // A consent that does not say which närstående limits none of them.
        p.invitable = None;
        assert!(notes(&p).contains(&("relative:granne".to_owned(), brev)));
    }

    /// An invited unit that has named its representative may name another (a ward review found
    /// the form gone once answered): the form is there, closed, with the one named.
    #[test]
    fn an_invited_unit_may_name_another_representative() {
        let mut p = invited_coordinator_plan();
        p.caller.sub = "SE2120000001-HT01".to_owned();
        p.caller.unit = Some(unit(HT));
        p.view.invitations[0]
            .recipients
            .push(dsip::InvitationRecipient {
                recipient: dsip::Recipient::Unit { unit_id: unit(HT) },
                delivery: dsip::Delivery::Digital,
                name: "Hemtjänst Centrum".to_owned(),
                address: None,
            });
        let answer = |p: &Plan| {
            let forms = p.forms();
            let f = form(&forms, "svar");
            (
                f.title.clone(),
                field(f, "representative.name").value.clone(),
                f.open,
            )
        };
        assert_eq!(
            answer(&p),
            ("Svara på kallelsen".to_owned(), String::new(), true)
        );
        p.view.invitations[0].representatives.insert(
            unit(HT),
            dsip::Representative {
                name: "Lena Sundström".to_owned(),
                staff_id: None,
                profession: Some("undersköterska".to_owned()),
                phone: None,
            },
        );
        assert_eq!(
            answer(&p),
            (
                "Byt representant".to_owned(),
                "Lena Sundström".to_owned(),
                false
            )
        );
    }

    /// The meeting form shows the HSA-ids the plan holds of the units' representatives beside
    /// the new coordinator's HSA-id (a ward nurse's review phoned for one the plan held).
    #[test]
    fn the_meeting_form_offers_the_representatives_hsa_ids() {
        let mut p = invited_coordinator_plan();
        let hint = |p: &Plan| {
            let forms = p.forms();
            field(form(&forms, "mote"), "staff_id").hint.clone()
        };
        assert!(hint(&p).is_some_and(|h| h.contains("SE2321000016-A1B2")));
        p.view.invitations[0].representatives.insert(
            unit(HT),
            dsip::Representative {
                name: "Lena Sundström".to_owned(),
                staff_id: Some(domain::ids::StaffId::parse("SE2120000001-DHT1").expect("an id")),
                profession: None,
                phone: None,
            },
        );
        assert_eq!(
            hint(&p).as_deref(),
            Some("Representanter i planen: Lena Sundström, Hemtjänst Centrum: SE2120000001-DHT1.")
        );
    }

    /// The SIP-möte form ticks neither the representative nor the HSA-id of a unit the consent
    /// has left out (a review recorded one as present), and names a child's guardian as such,
    /// ticked as the child is.
    #[test]
    fn the_meeting_form_leaves_out_units_the_consent_leaves_out_and_names_guardians() {
        let mut p = invited_coordinator_plan();
        p.child = true;
        p.relatives = vec![
            relative("vh-ett", "guardian"),
            relative("nr-ett", "relative"),
        ];
        let letter = |recipient, name: &str| dsip::InvitationRecipient {
            recipient,
            delivery: dsip::Delivery::Letter,
            name: name.to_owned(),
            address: Some("Storgatan 1, 123 45 Testby".to_owned()),
        };
        let inv = &mut p.view.invitations[0];
        inv.recipients = vec![
            letter(
                dsip::Recipient::Relative {
                    relative_id: "vh-ett".to_owned(),
                },
                "Karin Ström",
            ),
            letter(
                dsip::Recipient::Relative {
                    relative_id: "nr-ett".to_owned(),
                },
                "Nils Ek",
            ),
            letter(
                dsip::Recipient::Unit { unit_id: unit(FK) },
                "Försäkringskassan",
            ),
        ];
        for (u, name, id) in [
            (HT, "Lena Sundström", "SE2120000001-DHT1"),
            (PSY, "Anna Berg", "SE2321000016-DPS1"),
        ] {
            inv.representatives.insert(
                unit(u),
                dsip::Representative {
                    name: name.to_owned(),
                    staff_id: Some(domain::ids::StaffId::parse(id).expect("an id")),
                    profession: None,
                    phone: None,
                },
            );
        }
        p.left_out = [unit(PSY), unit(FK)].into_iter().collect();
        let forms = p.forms();
        let mote = form(&forms, "mote");
        let ticks: Vec<(&str, bool)> = field(mote, "attendees")
            .choices
            .iter()
            .map(|c| (c.label.as_str(), c.checked))
            .collect();
        assert_eq!(
            ticks,
            [
                ("SE2321000016-DHC1 (du), Hälsocentralen Centrum", true),
                ("Lena Sundström, Hemtjänst Centrum", true),
                ("Den enskilde", true),
                ("Karin Ström (vårdnadshavare)", true),
                ("Nils Ek (närstående)", false),
            ]
        );
        let hint = field(mote, "staff_id").hint.clone().unwrap_or_default();
        assert!(hint.contains("SE2120000001-DHT1"), "{hint}");
        assert!(!hint.contains("Anna Berg"), "{hint}");
    }

    /// A child's consent form starts from the guardian it offers first and what that guardian
    /// said last — not the other guardian's units (a review saw a renewal tick a unit the first
    /// guardian had left out) — and offers first a guardian still to consent.
    #[test]
    fn a_childs_consent_form_starts_from_the_offered_guardians_own_consent() {
        let mut p = coordinator_plan(at("2026-12-07T10:00:00Z"));
        p.child = true;
        p.relatives = vec![
            relative("vh-ett", "guardian"),
            relative("vh-tva", "guardian"),
        ];
        let by = |id: &str, actors: &[&str]| dsip::Consent {
            given_by: dsip::ConsentGiver::Guardian {
                relative_id: id.to_owned(),
            },
            actors: actors.iter().map(|a| unit(a)).collect(),
            topics: vec!["Skolan".to_owned()],
            valid_until: "2027-06-30".parse().expect("a date"),
            relatives: None,
            recorded_by: staff("SE2321000016-DHC1", HC),
            recorded_at: at("2026-12-01T08:00:00Z"),
        };
        let ticked = |p: &Plan| -> (String, Vec<String>) {
            let forms = p.forms();
            let f = form(&forms, "samtycke");
            let actors = field(f, "actors")
                .choices
                .iter()
                .filter(|c| c.checked)
                .map(|c| c.value.clone())
                .collect();
            (field(f, "given_by").value.clone(), actors)
        };
        // Only the first guardian has consented: the second is asked for, from scratch.
        p.view.consent.history = vec![by("vh-ett", &[HC, HT])];
        assert_eq!(
            ticked(&p),
            ("guardian:vh-tva".to_owned(), vec![HC.to_owned()])
        );
        // Both have: a renewal starts with the first guardian's own units, not the second's.
        p.view.consent.history.push(by("vh-tva", &[HC, HT, PSY]));
        assert_eq!(
            ticked(&p),
            (
                "guardian:vh-ett".to_owned(),
                vec![HT.to_owned(), HC.to_owned()]
            )
        );
    }

    #[test]
    fn a_new_kallelse_for_a_child_goes_to_the_guardians_too() {
        let relatives = [
            relative("vh-mamma", "guardian"),
            relative("moster", "relative"),
            relative("vh-pappa", "guardian"),
        ];
        assert_eq!(
            new_kallelse_recipients(true, &relatives, &[]),
            vec!["person", "relative:vh-mamma", "relative:vh-pappa"]
        );
        assert_eq!(
            new_kallelse_recipients(false, &relatives, &[]),
            vec!["person"]
        );
        // To a follow-up: the units taking part too.
        assert_eq!(
            new_kallelse_recipients(false, &relatives, &["fk-lulea", "hemtjanst"]),
            vec!["fk-lulea", "hemtjanst", "person"]
        );
    }

    #[test]
    fn an_outcome_the_form_does_not_offer_is_refused_beside_its_field() {
        let odd = posted(&[("delmal_1", "sg-1"), ("delmal_utfall_1", "both")]);
        let refused = follow_up_goals(&odd).expect_err("refused");
        assert_eq!(refused.field, "delmal_utfall_1");
        let odd = posted(&[("insatsen_2", "in-1"), ("insatsen_utfall_2", "maybe")]);
        let refused = follow_up_interventions(&odd).expect_err("refused");
        assert_eq!(refused.field, "insatsen_utfall_2");
    }

    #[test]
    fn the_follow_up_form_asks_one_question_per_goal_and_intervention() {
        let mut p = coordinator_plan(at("2026-12-07T10:00:00Z"));
        p.view.sub_goals = vec![
            item("sg-1", HT, true, sub_goal("Klara morgonrutinerna.", on(HT))),
            item("sg-2", HT, false, sub_goal("Ett utkast", on(HT))),
        ];
        let forms = p.forms();
        let f = form(&forms, "uppfoljning");
        let goal = field(f, "delmal_utfall_1");
        assert_eq!(goal.kind, "radios");
        assert_eq!(goal.label, "Delmål: Klara morgonrutinerna");
        assert_eq!(goal.value, "", "not judged unless chosen");
        assert_eq!(values(goal), vec!["", "reached", "not_reached"]);
        assert_eq!(field(f, "delmal_1").value, "sg-1");
        assert!(
            !f.fields.iter().any(|x| x.name == "delmal_utfall_2"),
            "a draft is not followed up"
        );
    }
}
