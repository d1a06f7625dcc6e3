//! Min plan: the person's own published plans, the 1177 mirror, in plain Swedish and large type.
//! The coordinator and how to reach them come first, then the main goal, the sub-goals under
//! their headings with who does what and how to reach them, and the next follow-up. Printable,
//! and readable on a 360 px wide phone.
//!
//! The plan's words (`PlanText`, `plan_for`) and its template (`plan_body.html`) are also the
//! document staff print to hand to the person (`web::print`).
//!
//! Who may read which plan is decided by `crate::routes::me` (the functions behind `GET
//! /api/v1/me/plans`), so the page and the JSON never disagree; it logs every read too.

use super::session::Visitor;
use super::{dates, Layout, WebError};
use crate::access_log::action;
use crate::error::AppError;
use crate::routes::me::{self, MyPlanView, PlanUnitView, Readable, ResponsibleView};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use domain::context::Role;
use domain::sip::patient::PatientPlan;
use projections::directory::UnitRow;
use std::collections::BTreeMap;

/// A phone number as it was written ("08-123 45 67"), and as a `tel:` link dials it.
pub(crate) struct Phone(String);

impl Phone {
    pub(crate) fn new(text: String) -> Self {
        Phone(text)
    }

    /// The number for a `tel:` link: its digits, and a leading `+` (RFC 3966 allows no spaces,
    /// and phones differ in how they read one: some dial only the part before it). `None` when
    /// the text holds no number to dial (fewer than three digits): it is then shown as text.
    pub(crate) fn href(&self) -> Option<String> {
        let text = self.0.trim();
        let plus = if text.starts_with('+') { "+" } else { "" };
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        (digits.len() >= 3).then(|| format!("{plus}{digits}"))
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A way to reach a unit, in words.
pub(crate) struct Contact {
    pub(crate) name: String,
    pub(crate) phone: Option<Phone>,
    pub(crate) address: Option<String>,
}

impl From<&PlanUnitView> for Contact {
    fn from(u: &PlanUnitView) -> Self {
        Contact {
            name: u.name.clone(),
            phone: u.phone.clone().map(Phone::new),
            address: u.address.clone(),
        }
    }
}

pub(crate) struct Coordinator {
    pub(crate) name: String,
    pub(crate) unit: Contact,
}

pub(crate) struct Intervention {
    pub(crate) what: String,
    pub(crate) who: String,
    pub(crate) performer: Option<String>,
    /// The named person responsible (seed 000: "ansvarig med kontaktuppgifter"), when another
    /// than the performer.
    pub(crate) responsible: Option<String>,
    pub(crate) reach: Option<String>,
    pub(crate) period: String,
    pub(crate) outcome: Option<String>,
    /// Said when the responsible unit is no longer in the plan ([`outside_consent`]).
    pub(crate) outside: Option<String>,
}

pub(crate) struct SubGoal {
    pub(crate) text: String,
    pub(crate) who: String,
    pub(crate) reached: Option<bool>,
    pub(crate) outside: Option<String>,
    pub(crate) interventions: Vec<Intervention>,
}

/// What stands beside a goal or an intervention whose unit the consent no longer names: it is
/// in the plan as published, but that unit no longer takes part (ADR 0053).
fn outside_consent(outside: bool, r: &ResponsibleView, own: bool) -> Option<String> {
    let whose = if own { "ditt samtycke" } else { "samtycket" };
    outside.then(|| {
        format!(
            "{} är inte längre med i planen: {whose} omfattar dem inte.",
            r.text
        )
    })
}

pub(crate) struct Heading {
    pub(crate) text: String,
    pub(crate) sub_goals: Vec<SubGoal>,
}

/// One plan, in words: what Min plan shows, and the staff's printout of it (`web::print`), both
/// through `plan_body.html`.
pub(crate) struct PlanText {
    pub(crate) id: String,
    /// The page's title: which plan, without the person's name (a browser's history keeps
    /// titles, and a family may share a device).
    pub(crate) title: String,
    pub(crate) whose: String,
    /// Who the plan is for, "Tolvan Tolvansson, född 1912": on paper, where the page's header
    /// is not printed, the sheet names its person.
    pub(crate) person: String,
    /// The reader's own plan (not their child's): "din" and "du" fit.
    pub(crate) own: bool,
    pub(crate) status: String,
    pub(crate) coordinator: Option<Coordinator>,
    pub(crate) care_contacts: Vec<(String, Option<Phone>)>,
    pub(crate) main_goal: Option<String>,
    /// As judged at the latest follow-up that judged it.
    pub(crate) main_goal_reached: Option<bool>,
    pub(crate) headings: Vec<Heading>,
    pub(crate) other_interventions: Vec<Intervention>,
    pub(crate) next_follow_up: Option<String>,
    pub(crate) next_meeting: Option<String>,
    /// The next meeting is the follow-up itself, so its time is the follow-up's.
    pub(crate) next_meeting_is_follow_up: bool,
    /// Every unit taking part, whether it has published anything or not.
    pub(crate) units: Vec<Contact>,
    pub(crate) published: Option<String>,
    pub(crate) closed: Option<String>,
    /// Consent is withdrawn and the plan is to be closed: no follow-up is to come (a review read
    /// "Inget datum för uppföljning är bestämt ännu" under "planen avslutas").
    pub(crate) ending: bool,
}

/// The Swedish genitive of a name: "Elsa Bergs", but "Jonas", "Max", "Inez" (a name ending in
/// s, x or z takes no extra s).
pub(crate) fn genitive(name: &str) -> String {
    let name = name.trim_end();
    match name.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('s' | 'x' | 'z') => name.to_owned(),
        _ => format!("{name}s"),
    }
}

fn who(r: &ResponsibleView) -> String {
    r.text.clone()
}

/// The units a plan names (taking part, a fixed care contact's), from the directory in one
/// look-up: the API's own (`routes::me::units_of`).
pub(crate) async fn units_of(
    state: &AppState,
    plan: &PatientPlan,
) -> Result<BTreeMap<String, UnitRow>, AppError> {
    me::units_of(state, [plan]).await
}

/// One plan in words, its units named from `units` (see [`units_of`]).
pub(crate) fn plan_for(
    readable: &Readable,
    units: &BTreeMap<String, UnitRow>,
    now: chrono::DateTime<chrono::Utc>,
) -> PlanText {
    plan_text(&me::plan_view(readable, units), now)
}

fn plan_text(view: &MyPlanView, now: chrono::DateTime<chrono::Utc>) -> PlanText {
    let today = domain::time::local_date(now);
    let own = view.relation != "guardian";
    let intervention = |i: &me::InterventionView| {
        // The person's own part (egenvård): "Du själv", with no performer or number to call
        // beside it (the contact recorded on it is the person's own).
        let own_part = i.responsible.kind == "person";
        Intervention {
            what: i.what.clone(),
            who: who(&i.responsible),
            performer: i.performer.clone().filter(|_| !own_part),
            // The contact given may be the responsible person's own: their name goes beside it.
            responsible: i
                .responsible_person
                .clone()
                .filter(|name| !own_part && i.performer.as_ref() != Some(name)),
            reach: i
                .contact
                .clone()
                .or_else(|| i.responsible.unit.as_ref().and_then(|u| u.phone.clone()))
                .filter(|_| !own_part),
            // A plan is kept and printed, and read a year on: its periods name their years
            // (a review read "från torsdag 3 september" a year after it).
            period: match i.to {
                Some(to) => format!(
                    "{} till {}",
                    dates::day_with_year(i.from),
                    dates::day_with_year(to)
                ),
                None => format!("från {}", dates::day_with_year(i.from)),
            },
            outcome: i.outcome_text.clone(),
            outside: outside_consent(i.outside_consent, &i.responsible, own),
        }
    };
    let started = dates::date_with_year(domain::time::local_date(view.started_at));
    PlanText {
        id: view.id.clone(),
        title: if view.relation == "guardian" {
            format!("Ditt barns plan, startad {started}")
        } else {
            format!("Din plan, startad {started}")
        },
        whose: if view.relation == "guardian" {
            format!("{} plan", genitive(&view.person.name))
        } else {
            "Din plan".to_string()
        },
        person: format!("{}, född {}", view.person.name, view.person.birth_year),
        own: view.relation != "guardian",
        status: view.status_text.clone(),
        coordinator: view.coordinator.as_ref().map(|c| Coordinator {
            name: c.name.clone(),
            unit: Contact::from(&c.unit),
        }),
        care_contacts: view
            .fixed_care_contacts
            .iter()
            .map(|c| {
                let name = match &c.unit {
                    Some(u) => format!("{}, {}", c.name, u.name),
                    None => c.name.clone(),
                };
                (name, c.phone.clone().map(Phone::new))
            })
            .collect(),
        main_goal: view.main_goal.clone(),
        main_goal_reached: view.main_goal_reached,
        headings: view
            .headings
            .iter()
            .map(|h| Heading {
                text: h.heading_text.clone(),
                sub_goals: h
                    .sub_goals
                    .iter()
                    .map(|g| SubGoal {
                        text: g.text.clone(),
                        who: who(&g.responsible),
                        reached: g.reached,
                        outside: outside_consent(g.outside_consent, &g.responsible, own),
                        interventions: g.interventions.iter().map(intervention).collect(),
                    })
                    .collect(),
            })
            .collect(),
        other_interventions: view.other_interventions.iter().map(intervention).collect(),
        next_follow_up: view.next_follow_up_on.map(|d| dates::day(d, today)),
        next_meeting: view.next_meeting.as_ref().map(|m| {
            let mut text = format!("{}: {}", m.purpose_text, dates::moment(m.scheduled_at, now));
            if let Some(place) = &m.place {
                text.push_str(&format!(", {place}"));
            }
            text.push_str(&format!(" ({})", m.form_text.to_lowercase()));
            text
        }),
        next_meeting_is_follow_up: view
            .next_meeting
            .as_ref()
            .is_some_and(|m| m.purpose == "follow_up"),
        units: view.units.iter().map(Contact::from).collect(),
        // The last change of what the page shows (`PatientPlan::updated_at`).
        published: Some(dates::date_with_year(domain::time::local_date(
            view.updated_at,
        ))),
        ending: view.status == "consent_withdrawn",
        closed: view.closed.as_ref().map(|c| {
            format!(
                "Planen avslutades {}: {}",
                dates::date_with_year(domain::time::local_date(c.closed_at)),
                c.reason_text
            )
        }),
    }
}

/// A plan in the list.
struct Summary {
    id: String,
    whose: String,
    /// The day the plan began, so that two plans of one person are told apart.
    started: String,
    status: String,
    main_goal: Option<String>,
    coordinator: Option<String>,
}

/// `/min-plan`: the list, or the plan itself when there is one.
#[derive(Template)]
#[template(path = "min_plan.html")]
struct MinPlanPage {
    layout: Layout,
    plans: Vec<Summary>,
    plan: Option<PlanText>,
    /// A link back to the list of plans (a plan opened from it).
    back: bool,
    /// The age from which the reader's own plans are shown to them, while they are younger
    /// (none listed).
    too_young: Option<u32>,
}

fn citizen(visitor: &Visitor) -> Result<&crate::auth::Caller, WebError> {
    let caller = visitor.caller()?;
    if caller.role != Role::Citizen {
        return Err(WebError::Forbidden(if caller.role == Role::Staff {
            "Min plan är till för den som planen gäller. Personal läser planen på SIP-sidan.".into()
        } else {
            "Min plan är till för den som planen gäller.".into()
        }));
    }
    Ok(caller)
}

fn layout(visitor: &Visitor, title: &str) -> Layout {
    let mut layout = visitor.layout(title, None);
    layout.body_class = "citizen";
    layout
}

/// `GET /min-plan`.
pub(crate) async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Response, WebError> {
    let caller = citizen(&visitor)?;
    let (readable, _) = me::readable_plans(&state, caller, None).await?;
    let now = state.clock.now();
    if let [only] = readable.as_slice() {
        let units = units_of(&state, &only.plan).await?;
        let plan = plan_for(only, &units, now);
        return visitor.page(&MinPlanPage {
            layout: layout(&visitor, &plan.title),
            plans: Vec::new(),
            plan: Some(plan),
            back: false,
            too_young: None,
        });
    }
    let units = me::units_of(&state, readable.iter().map(|r| &r.plan)).await?;
    let mut plans = Vec::with_capacity(readable.len());
    for r in &readable {
        let view = me::plan_view(r, &units);
        plans.push(Summary {
            whose: if view.relation == "guardian" {
                format!("{} plan", genitive(&view.person.name))
            } else {
                "Din plan".to_string()
            },
            started: dates::date_with_year(domain::time::local_date(view.started_at)),
            status: view.status_text.clone(),
            main_goal: view.main_goal.clone(),
            coordinator: view.coordinator.as_ref().map(|c| c.name.clone()),
            id: view.id,
        });
    }
    let too_young = if plans.is_empty() {
        me::own_plans_wait_for_age(&state, caller).await?
    } else {
        None
    };
    visitor.page(&MinPlanPage {
        layout: layout(&visitor, "Min plan"),
        plans,
        plan: None,
        back: false,
        too_young,
    })
}

/// `GET /min-plan/{id}`.
pub(crate) async fn plan(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let caller = citizen(&visitor)?;
    let (readable, _) = me::readable_plan(&state, caller, &id, None, action::PATIENT_PLAN).await?;
    let units = units_of(&state, &readable.plan).await?;
    let plan = plan_for(&readable, &units, state.clock.now());
    visitor.page(&MinPlanPage {
        layout: layout(&visitor, &plan.title),
        plans: Vec::new(),
        plan: Some(plan),
        back: true,
        too_young: None,
    })
}

#[cfg(test)]
mod tests {
    use super::{genitive, Phone};

    #[test]
    fn a_tel_link_dials_the_digits_of_the_number_as_written() {
        let href = |text: &str| Phone::new(text.to_owned()).href();
        assert_eq!(href("08-123 45 67").as_deref(), Some("081234567"));
        assert_eq!(href("+46 8 123 45 67").as_deref(), Some("+4681234567"));
        assert_eq!(href(" 010-987 65 43 ").as_deref(), Some("0109876543"));
        // No number in it: no link, the text as it was written.
        assert_eq!(href("javascript:alert(1)"), None);
        assert_eq!(href("se kontaktcenter"), None);
        assert_eq!(
            Phone::new("08-123 45 67".into()).to_string(),
            "08-123 45 67"
        );
    }

    #[test]
    fn a_name_ending_in_s_x_or_z_takes_no_extra_s() {
        assert_eq!(genitive("Elsa Berg"), "Elsa Bergs");
        assert_eq!(genitive("Jonas"), "Jonas");
        assert_eq!(genitive("Anders Lindqvist"), "Anders Lindqvists");
        assert_eq!(genitive("Jonas Claes"), "Jonas Claes");
        assert_eq!(genitive("Max"), "Max");
        assert_eq!(genitive("Inez"), "Inez");
        assert_eq!(genitive("ELSA BERG"), "ELSA BERGs");
        assert_eq!(genitive("LUKAS"), "LUKAS");
    }
}
