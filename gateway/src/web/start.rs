//! The staff start page, as staff know it from Lifecare: **Meddelanden** (unread first, with
//! filters), **Att göra** (a red clock on urgent and overdue items, due dates in words) and
//! **Pågående SIP**. It reads with the same queries as `GET /api/v1/inbox/…` and logs every
//! person it shows, as they do. Att göra shows the user's own and the unit's to-dos ("Mina"), or
//! the whole unit's, colleagues' too ("Hela enheten", `?att_gora=enheten`, the API's
//! `scope=unit`): a colleague off sick leaves coordinator to-dos that someone must see.
//!
//! It updates itself: the page's script listens to `GET /start/handelser`, which is the API's
//! `GET /inbox/events` (the same handler) with the session cookie instead of a Bearer header, and
//! on every change fetches the three lists again from `GET /start/listor` (ADR 0019).

use super::session::Visitor;
use super::{dates, Layout, WebError, WebQuery};
use crate::access_log::{self, action};
use crate::consistency;
use crate::error::AppError;
use crate::extract::ApiQuery;
use crate::pipeline::{Write, WriteMeta};
use crate::routes::inbox::EventsParams;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use domain::sip::messages::MessageKind;
use domain::sip::SipPhase;
use domain::PersonId;
use projections::inbox::{
    self, MessageFilter, OngoingCursor, PersonRef, TodoCursor, TodoList, TodoScope, Urgency,
};
use serde::Deserialize;

/// Messages shown at most.
const MESSAGES_SHOWN_MAX: i64 = 100;
/// To-dos and ongoing plans shown at a time; a link shows the next ones.
const LIST_SHOWN_MAX: i64 = 50;

/// The filters of Meddelanden (query string of `/` and `/start/listor`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Filters {
    /// `olasta`, `lasta` or empty (all).
    #[serde(default)]
    visa: String,
    /// A message type (`invitation`, …) or empty.
    #[serde(default)]
    typ: String,
    /// `ÅÅÅÅ-MM-DD` or empty.
    #[serde(default)]
    sedan: String,
    /// A person's id: only the messages about them ("filters by type, person, date", DESIGN.md).
    #[serde(default)]
    person: String,
    /// Read one's own write (after marking a message read).
    min_position: Option<i64>,
    /// Where the shown page of to-dos starts (a `TodoCursor`), or empty: the first page.
    #[serde(default)]
    att_gora_efter: String,
    /// Where the shown page of ongoing plans starts (an `OngoingCursor`), or empty.
    #[serde(default)]
    sip_efter: String,
    /// Whose to-dos: empty for "Mina" (the user's and the unit's), `enheten` for the whole
    /// unit's, colleagues' too.
    #[serde(default)]
    att_gora: String,
}

/// The value of `att_gora` that shows the whole unit's to-dos.
const WHOLE_UNIT: &str = "enheten";

impl Filters {
    /// Whose to-dos Att göra lists.
    fn todo_scope(&self) -> TodoScope {
        if self.att_gora.trim() == WHOLE_UNIT {
            TodoScope::Unit
        } else {
            TodoScope::Mine
        }
    }

    /// The start page's address with these filters, but the to-do and plan pages given.
    fn href(&self, att_gora_efter: Option<&str>, sip_efter: Option<&str>, anchor: &str) -> String {
        let scope = match self.todo_scope() {
            TodoScope::Unit => WHOLE_UNIT,
            TodoScope::Mine => "",
        };
        self.href_with(scope, att_gora_efter, sip_efter, anchor)
    }

    /// [`Filters::href`] with Att göra showing `scope` (`att_gora`'s value).
    fn href_with(
        &self,
        scope: &str,
        att_gora_efter: Option<&str>,
        sip_efter: Option<&str>,
        anchor: &str,
    ) -> String {
        let pairs = [
            ("visa", self.visa.trim()),
            ("typ", self.typ.trim()),
            ("sedan", self.sedan.trim()),
            ("person", self.person.trim()),
            ("att_gora", scope),
            ("att_gora_efter", att_gora_efter.unwrap_or("")),
            ("sip_efter", sip_efter.unwrap_or("")),
        ];
        let query: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", query_escaped(v)))
            .collect();
        if query.is_empty() {
            format!("/#{anchor}")
        } else {
            format!("/?{}#{anchor}", query.join("&"))
        }
    }
}

/// A page's cursor from the address; a stale or mangled one sets `error` and shows the first
/// page.
fn page_cursor<C>(raw: &str, decode: fn(&str) -> Option<C>, error: &mut bool) -> Option<C> {
    match raw.trim() {
        "" => None,
        raw => {
            let decoded = decode(raw);
            *error |= decoded.is_none();
            decoded
        }
    }
}

/// Percent-encodes all but unreserved characters (RFC 3986) of a query value.
fn query_escaped(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A message type in the filter.
pub(crate) struct KindChoice {
    code: &'static str,
    label: &'static str,
    selected: bool,
}

/// The Swedish name of a message type, as the filter offers it.
fn kind_label(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Invitation => "Kallelse till SIP-möte",
        MessageKind::FollowUpInvitation => "Kallelse till uppföljning",
        MessageKind::MeetingRescheduled => "Mötet flyttat",
        MessageKind::InvitationCancelled => "Inställt möte",
        MessageKind::ContributionPublished => "Utdelad dokumentation",
        MessageKind::CoordinatorChanged => "Ny samordningsansvarig",
        MessageKind::ConsentWithdrawn => "Samtycket återkallat",
        MessageKind::PlanClosed => "Planen avslutad",
        MessageKind::GuardiansChanged => "Vårdnadshavare ändrad",
        MessageKind::LeftOutByConsent => "Utanför samtycket",
        MessageKind::IncludedByConsent => "Med i samtycket igen",
        MessageKind::DischargeRecorded => "Utskrivning",
        MessageKind::InvitationAnswered => "Svar på kallelse",
    }
}

pub(crate) struct MessageItem {
    id: String,
    kind_label: &'static str,
    subject: String,
    body: String,
    sip_id: String,
    person: String,
    /// The start page showing only the messages about this message's person.
    person_href: String,
    sender: String,
    sent: String,
    sent_at: String,
    read: bool,
    /// The next message in the list, where the keyboard goes once this one is marked read.
    next: Option<String>,
}

pub(crate) struct TodoItem {
    /// The to-do's id: its link's `id`, so a live update puts the keyboard back on this row.
    id: String,
    title: String,
    sip_id: String,
    /// Where on the plan's page the to-do is done (`#samtycket`), or nothing.
    anchor: &'static str,
    person: String,
    /// The red clock's words, on urgent and overdue to-dos.
    clock: Option<String>,
    due: Option<String>,
    urgent: bool,
    /// The signed-in user's own.
    own: bool,
    /// A colleague's (shown only in the whole unit's list): their name, or "en kollega" for a
    /// row written before names were kept.
    colleague: Option<String>,
}

pub(crate) struct OngoingItem {
    sip_id: String,
    person: String,
    phase: String,
    coordinator: Option<String>,
    coordinator_here: bool,
    next_meeting: Option<String>,
    /// The meeting's time has passed and it is not yet registered.
    meeting_passed: bool,
    /// Why the plan is to be closed ("Ska avslutas: …").
    to_be_closed: Option<String>,
    next_follow_up: Option<String>,
    owes_documentation: bool,
    /// A plan started at discharge: "Utskrivning, rött spår – SIP-mötet före hemgång:
    /// utskrivningsklar …, hem …" (`discharge_text`).
    discharge: Option<String>,
    /// On the red track, the booked meeting lies after the day home.
    meeting_after_home: bool,
}

/// A discharge in a line: the track, readiness and the day home (or gone home).
fn discharge_text(
    d: &crate::routes::inbox::DischargeView,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut text = match &d.track_text {
        Some(track) => format!("Utskrivning från slutenvården, {}", lower_first(track)),
        None => "Utskrivning från slutenvården".to_owned(),
    };
    let mut when = Vec::new();
    if let Some(at) = d.ready_at {
        when.push(format!("utskrivningsklar {}", dates::moment(at, now)));
    }
    match d.discharged_at {
        Some(at) if at > now => when.push(format!("hem {}", dates::moment(at, now))),
        Some(at) => when.push(format!("utskriven {}", dates::moment(at, now))),
        None => when.push("dagen för hemgång är inte registrerad".to_owned()),
    }
    text.push_str(": ");
    text.push_str(&when.join(", "));
    text
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The three lists and where the inbox stood when they were read.
pub(crate) struct Lists {
    messages: Vec<MessageItem>,
    unread_count: i64,
    todos: Vec<TodoItem>,
    todo_count: i64,
    urgent_count: i64,
    /// The next page of to-dos, and the first when a later one shows.
    todos_next: Option<String>,
    todos_first: Option<String>,
    ongoing: Vec<OngoingItem>,
    ongoing_next: Option<String>,
    ongoing_first: Option<String>,
    ongoing_count: i64,
    /// Att göra lists the whole unit's to-dos, colleagues' too.
    todos_whole_unit: bool,
    /// Under "Mina": what lies with colleagues, in words ("2 att göra ligger hos kollegor på
    /// enheten, 1 brådskande"), so an absent coordinator's overdue work is not out of sight
    /// (an outside review saw "Inget att göra just nu" while the unit had two urgent).
    colleagues: Option<String>,
    /// The addresses of Att göra as "Mina" and as "Hela enheten".
    todos_mine_href: String,
    todos_unit_href: String,
    position: i64,
    /// A filter that could not be used, in words.
    filter_error: Option<String>,
    filtered: bool,
    /// The person the messages are narrowed to: id and how the list names them.
    person_filter: Option<(String, String)>,
    kinds: Vec<KindChoice>,
    visa: String,
    sedan: String,
    csrf: String,
    /// The filters and pages shown, as a query string: "Markera som läst" comes back to them.
    filter_query: String,
}

/// The start page.
#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    layout: Layout,
    lists: Lists,
}

/// The lists alone, for the live update.
#[derive(Template)]
#[template(path = "start_lists.html")]
struct ListsFragment {
    lists: Lists,
}

/// A person as a list shows them: name and birth year, never the personnummer.
pub(crate) fn person_text(person: &PersonRef) -> String {
    match (&person.name, person.birth_year) {
        (Some(name), Some(year)) => format!("{name} ({year})"),
        (Some(name), None) => name.clone(),
        _ if person.protected_identity => "Skyddade personuppgifter".to_string(),
        _ => "Okänd person".to_string(),
    }
}

async fn unit_name(state: &AppState, unit: &str) -> Result<Option<String>, AppError> {
    Ok(projections::directory::unit(state.store.pool(), unit)
        .await?
        .map(|u| u.name))
}

async fn load_lists(
    state: &AppState,
    visitor: &Visitor,
    filters: &Filters,
) -> Result<Lists, WebError> {
    let caller = visitor.staff()?;
    let unit = caller.staff_unit()?.as_str().to_owned();
    let now = state.clock.now();
    let today = domain::time::local_date(now);
    let mut filter_error = None;
    let kind = MessageKind::parse(filters.typ.trim());
    if kind.is_none() && !filters.typ.trim().is_empty() {
        filter_error = Some("Okänd meddelandetyp; alla typer visas.".to_string());
    }
    let since = match filters.sedan.trim() {
        "" => None,
        text => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) => Some(domain::time::start_of_local_day(day)),
            Err(_) => {
                filter_error =
                    Some("Datumet ska skrivas ÅÅÅÅ-MM-DD, till exempel 2026-05-14.".to_string());
                None
            }
        },
    };
    let person_id = match filters.person.trim() {
        "" => None,
        text => match PersonId::parse(text) {
            Ok(id) => Some(id.to_string()),
            Err(_) => {
                filter_error = Some("Okänd person; meddelanden om alla visas.".to_string());
                None
            }
        },
    };
    let unread = match filters.visa.as_str() {
        "olasta" => Some(true),
        "lasta" => Some(false),
        _ => None,
    };
    let filter = MessageFilter {
        unread,
        kind: kind.map(|k| k.as_str().to_owned()),
        person_id: person_id.clone(),
        since,
        before_position: None,
        limit: MESSAGES_SHOWN_MAX,
    };
    let urgent_until = state.policy.for_municipality(None).urgent_until(now);
    let mut cursor_error = false;
    let todos_after = page_cursor(
        &filters.att_gora_efter,
        TodoCursor::decode,
        &mut cursor_error,
    );
    let ongoing_after = page_cursor(&filters.sip_efter, OngoingCursor::decode, &mut cursor_error);
    if cursor_error {
        filter_error = Some(
            "Länken till nästa sida gäller inte längre; listan visas från början.".to_string(),
        );
    }
    let scope = filters.todo_scope();
    // Waits (bounded) for `min_position`; the lists, their counts and the position the live
    // updates resume from are then one moment of the inbox, read in one snapshot.
    consistency::projection_position(state, inbox::PROJECTION, filters.min_position).await?;
    let inbox::StartSnapshot {
        messages:
            inbox::MessagesSnapshot {
                rows: messages,
                unread_count,
                position,
            },
        mut todos,
        todo_count,
        urgent_count,
        unit_todo_count,
        unit_urgent_count,
        mut ongoing,
        ongoing_count,
    } = inbox::start_snapshot(
        state.store.pool(),
        inbox::StartQuery {
            unit_id: &unit,
            user: &caller.sub,
            messages: &filter,
            todos: TodoList {
                scope,
                urgency: Urgency::All,
                now,
            },
            todos_after: todos_after.as_ref(),
            todos_limit: LIST_SHOWN_MAX + 1,
            urgent_until,
            ongoing_after: ongoing_after.as_ref(),
            ongoing_limit: LIST_SHOWN_MAX + 1,
        },
    )
    .await
    .map_err(AppError::from)?;
    let todos_next = (todos.len() as i64 > LIST_SHOWN_MAX).then(|| {
        todos.truncate(LIST_SHOWN_MAX as usize);
        let next = todos.last().map(|t| TodoCursor::after(t).encode());
        filters.href(next.as_deref(), Some(filters.sip_efter.trim()), "att-gora")
    });
    let ongoing_next = (ongoing.len() as i64 > LIST_SHOWN_MAX).then(|| {
        ongoing.truncate(LIST_SHOWN_MAX as usize);
        let next = ongoing.last().map(|o| OngoingCursor::after(o).encode());
        filters.href(
            Some(filters.att_gora_efter.trim()),
            next.as_deref(),
            "pagaende",
        )
    });
    let todos_first = todos_after
        .is_some()
        .then(|| filters.href(None, Some(filters.sip_efter.trim()), "att-gora"));
    let ongoing_first = ongoing_after
        .is_some()
        .then(|| filters.href(Some(filters.att_gora_efter.trim()), None, "pagaende"));

    // Every person shown is in the access log before the page goes out.
    let mut shown: Vec<PersonId> = messages
        .iter()
        .map(|m| &m.person)
        .chain(todos.iter().map(|t| &t.person))
        .chain(ongoing.iter().map(|o| &o.person))
        .filter_map(|p| PersonId::parse(&p.person_id).ok())
        .collect();
    shown.sort();
    shown.dedup();
    access_log::record_many(state, caller, &shown, action::INBOX, None).await?;

    // Unread first, newest first within each.
    let (mut messages, read): (Vec<_>, Vec<_>) =
        messages.into_iter().partition(|m| m.read_at.is_none());
    messages.extend(read);
    let messages: Vec<MessageItem> = messages
        .into_iter()
        .map(|m| MessageItem {
            kind_label: MessageKind::parse(&m.kind).map_or("Meddelande", kind_label),
            person: person_text(&m.person),
            person_href: Filters {
                person: m.person.person_id.clone(),
                ..filters.clone()
            }
            .href(None, None, "meddelanden"),
            sender: match m.sender_unit_name {
                Some(unit) => format!("{}, {unit}", m.sender_name),
                None => m.sender_name,
            },
            sent: dates::moment(m.sent_at, now),
            sent_at: m.sent_at.to_rfc3339(),
            read: m.read_at.is_some(),
            id: m.message_id,
            subject: m.subject,
            body: m.body,
            sip_id: m.sip_id,
            next: None,
        })
        .collect();
    let mut messages = messages;
    for i in 1..messages.len() {
        messages[i - 1].next = Some(messages[i].id.clone());
    }
    // Whom the list is narrowed to: the person as the messages name them.
    let person_filter = person_id.clone().map(|id| {
        let named = messages
            .first()
            .map_or("personen".to_string(), |m| m.person.clone());
        (id, named)
    });
    let todos: Vec<TodoItem> = todos
        .into_iter()
        .map(|t| {
            let urgent = t.due_at.is_some_and(|d| d <= urgent_until);
            let overdue = t.due_at.is_some_and(|d| d < now);
            TodoItem {
                person: person_text(&t.person),
                // Beside the red clock: "Försenad sedan …", or "Brådskande" and ", senast …";
                // alone: "Senast …".
                clock: match (overdue, urgent) {
                    (true, _) => t.due_at.map(|d| capitalised(&dates::due(d, now))),
                    (false, true) => Some("Brådskande".to_string()),
                    (false, false) => None,
                },
                due: t.due_at.filter(|_| !overdue).map(|d| {
                    let text = dates::due(d, now);
                    if urgent {
                        format!(", {text}")
                    } else {
                        capitalised(&text)
                    }
                }),
                urgent,
                own: t.staff_id.as_deref() == Some(caller.sub.as_str()),
                colleague: t
                    .staff_id
                    .as_deref()
                    .filter(|s| *s != caller.sub.as_str())
                    .map(|_| {
                        t.staff_name
                            .clone()
                            .unwrap_or_else(|| "en kollega".to_string())
                    }),
                anchor: match t.kind.as_str() {
                    "get_consent" | "renew_consent" => "#samtycket",
                    _ => "",
                },
                title: t.title,
                sip_id: t.sip_id,
                id: t.todo_id,
            }
        })
        .collect();
    let ongoing = ongoing
        .into_iter()
        .map(|o| {
            let discharge = crate::routes::inbox::DischargeView::of(&o);
            let meeting_after_home = discharge.as_ref().is_some_and(|d| {
                d.track.as_deref() == Some("red")
                    && matches!((o.next_meeting_at, d.discharged_at), (Some(m), Some(h)) if m > h)
            });
            (o, discharge, meeting_after_home)
        })
        .map(|(o, discharge, meeting_after_home)| OngoingItem {
            discharge: discharge.as_ref().map(|d| discharge_text(d, now)),
            meeting_after_home,
            person: person_text(&o.person),
            phase: serde_json::from_value::<SipPhase>(serde_json::Value::String(o.phase.clone()))
                .map(|p| p.label().to_string())
                .unwrap_or(o.phase),
            coordinator_here: o.coordinator_unit_id.as_deref() == Some(unit.as_str()),
            coordinator: o.coordinator_name,
            next_meeting: o.next_meeting_at.map(|at| dates::moment(at, now)),
            meeting_passed: o.next_meeting_at.is_some_and(|at| at < now),
            to_be_closed: o.to_be_closed,
            next_follow_up: o.next_follow_up_on.map(|d| dates::day(d, today)),
            owes_documentation: o.owes_documentation,
            sip_id: o.sip_id,
        })
        .collect();
    let here = filters.href(
        Some(filters.att_gora_efter.trim()),
        Some(filters.sip_efter.trim()),
        "",
    );
    let filter_query = here
        .strip_prefix("/?")
        .map(|q| q.trim_end_matches('#').to_owned())
        .unwrap_or_default();
    let colleagues = (scope != TodoScope::Unit && unit_todo_count > todo_count).then(|| {
        let theirs = unit_todo_count - todo_count;
        let urgent = unit_urgent_count - urgent_count;
        let mut text = format!(
            "{theirs} att göra ligger hos kollegor på enheten{}",
            if urgent > 0 {
                format!(", {urgent} brådskande")
            } else {
                String::new()
            }
        );
        text.push('.');
        text
    });
    Ok(Lists {
        filter_query,
        colleagues,
        todos_whole_unit: scope == TodoScope::Unit,
        todos_mine_href: filters.href_with("", None, Some(filters.sip_efter.trim()), "att-gora"),
        todos_unit_href: filters.href_with(
            WHOLE_UNIT,
            None,
            Some(filters.sip_efter.trim()),
            "att-gora",
        ),
        todo_count,
        urgent_count,
        todos_next,
        todos_first,
        ongoing_next,
        ongoing_first,
        ongoing_count,
        messages,
        unread_count,
        todos,
        ongoing,
        position,
        filter_error,
        filtered: unread.is_some() || kind.is_some() || since.is_some() || person_id.is_some(),
        person_filter,
        kinds: MessageKind::ALL
            .into_iter()
            .map(|k| KindChoice {
                code: k.as_str(),
                label: kind_label(k),
                selected: Some(k) == kind,
            })
            .collect(),
        visa: filters.visa.clone(),
        sedan: filters.sedan.trim().to_string(),
        csrf: visitor.csrf_token(),
    })
}

/// `GET /`: the start page for staff; citizens go to Min plan, auditors to Granskning, those
/// who follow up to Uppföljning, administrators to Enheter.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(filters): WebQuery<Filters>,
) -> Result<Response, WebError> {
    let caller = visitor.caller()?;
    match caller.role {
        domain::context::Role::Staff => {}
        role @ (domain::context::Role::Citizen
        | domain::context::Role::Auditor
        | domain::context::Role::Reporting
        | domain::context::Role::Admin) => {
            return Ok(Redirect::to(super::session::home_of(role)).into_response())
        }
    }
    let lists = load_lists(&state, &visitor, &filters).await?;
    let unit = caller.staff_unit()?.as_str().to_owned();
    let page = StartPage {
        layout: visitor.layout("Start", unit_name(&state, &unit).await?),
        lists,
    };
    visitor.page(&page)
}

/// `GET /start/listor`: the three lists alone, for the page's live update.
pub(crate) async fn lists(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(filters): WebQuery<Filters>,
) -> Result<Response, WebError> {
    let lists = load_lists(&state, &visitor, &filters).await?;
    visitor.page(&ListsFragment { lists })
}

/// `GET /start/handelser` parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    from_position: Option<i64>,
}

/// `GET /start/handelser`: the API's live pushes of the unit's inbox (`GET
/// /api/v1/inbox/events`, the same handler), authenticated by the session cookie. Only a GET, it
/// changes nothing, so it needs no form token; SameSite=Strict keeps other sites' pages from
/// opening it with the cookie.
pub(crate) async fn events(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    WebQuery(query): WebQuery<EventsQuery>,
) -> Result<Response, WebError> {
    let (Some(caller), Some(token)) = (visitor.caller.clone(), visitor.session_token()) else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    visitor.staff()?;
    let params = EventsParams {
        from_position: query.from_position,
    };
    let token = token.to_owned();
    Ok(
        crate::routes::inbox::events(State(state), caller, token, headers, ApiQuery(params))
            .await?,
    )
}

/// `POST /meddelanden/{id}/las`: marks a message read for the signed-in user, through the same
/// command as `POST /api/v1/inbox/messages/{id}/read`.
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<MarkRead>,
) -> Result<Response, WebError> {
    visitor.check_form(form.csrf.as_deref())?;
    let caller = visitor.staff()?;
    let meta = WriteMeta {
        idempotency_key: None,
        if_match: None,
        request_hash: crate::extract::request_hash("POST", &format!("/meddelanden/{id}/las"), b""),
    };
    let write = Write {
        caller,
        meta: &meta,
        correlation_id: None,
    };
    let written = crate::commands::inbox::mark_read(&state, write, &id).await?;
    // Back to the list, the keyboard on the next message (or on the list, after the last), so
    // that going through the messages one by one does not start over at the top of the page.
    let place = match form.next.as_deref().filter(|next| {
        !next.is_empty() && next.len() <= 64 && next.bytes().all(|b| b.is_ascii_alphanumeric())
    }) {
        Some(next) => format!("meddelande-{next}"),
        None => "rubrik-meddelanden".to_string(),
    };
    // Back to the same filters and pages ("Olästa" stays "Olästa"), read as the page reads them,
    // so nothing but those filters goes into the address.
    let filters: Filters =
        crate::extract::parse_query(form.filter.as_deref().unwrap_or("")).unwrap_or_default();
    let back = filters.href(
        Some(filters.att_gora_efter.trim()),
        Some(filters.sip_efter.trim()),
        &place,
    );
    let position = format!("min_position={}", written.position);
    let to = match back.strip_prefix("/?") {
        Some(rest) => format!("/?{position}&{rest}"),
        None => format!("/?{position}{}", back.trim_start_matches('/')),
    };
    Ok(Redirect::to(&to).into_response())
}

/// What "Markera som läst" posts: the form token and the next message in the list.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct MarkRead {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// The message after this one, as the list showed them.
    #[serde(rename = "nasta")]
    next: Option<String>,
    /// The list's filters and pages, as the page's query string had them.
    filter: Option<String>,
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
