//! `/reports`: follow-up statistics for the role `reporting` only (everyone else 403).
//!
//! `GET /reports/kpis` counts the reporting read model (`projections::reporting`) per Swedish
//! calendar month and per region, municipality or unit, as JSON or CSV. `docs/kpis.md` defines
//! every figure: what counts, its formula, which month it falls in. Nothing here is personal
//! data (no person, staff member or free text, and no draft), so these reads are not in the
//! access log.

use crate::consistency;
use crate::error::{AppError, Problem};
use crate::extract::{ApiQuery, Reporting};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::sip::CloseReason;
use projections::reporting::{self, GroupBy, Kept, KpiRow, Spread};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// Most months one report covers (`from` to `to`, both included): ten years.
pub const REPORT_MONTHS_MAX: i32 = 120;

/// The routes of this module, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new().route("/reports/kpis", get(kpis))
}

/// The OpenAPI description of this module.
#[derive(OpenApi)]
#[openapi(
    paths(kpis),
    components(schemas(KpiReport, KpiRowView, SpreadView, ShareView, ClosedView)),
    tags((name = "reports", description = "Follow-up statistics without personal data (role reporting)"))
)]
pub struct ApiDoc;

/// The query of `GET /reports/kpis`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KpiParams {
    /// The first month, `YYYY-MM` (a Swedish calendar month), included; a day `YYYY-MM-DD`
    /// stands for its month. Required.
    #[param(
        required = true,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$"
    )]
    pub from: Option<String>,
    /// The last month, `YYYY-MM`, included (or a day in it); `from`–`to` at most 120 months in
    /// all.
    /// Required.
    #[param(
        required = true,
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?$"
    )]
    pub to: Option<String>,
    /// `region`, `municipality` or `unit`: the principal (huvudman) of each unit taking part, of
    /// that kind, or each unit itself. Required.
    #[param(required = true, pattern = "^(region|municipality|unit)$")]
    pub group_by: Option<String>,
    /// `json` (default) or `csv` (UTF-8, `;` between fields, decimal comma, a header row).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// Wait (up to 5 s) until the reporting read model has applied this position.
    pub min_position: Option<i64>,
}

/// Working days over the plans counted: how many, the median and the 90th percentile, each an
/// observed value (`percentile_disc`); none when nothing was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpreadView {
    pub count: i64,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

impl From<Spread> for SpreadView {
    fn from(s: Spread) -> Self {
        SpreadView {
            count: s.count,
            median: s.median,
            p90: s.p90,
        }
    }
}

/// Deadlines judged and kept: `share` is `in_time / counted`, rounded to three decimals; none
/// when nothing was counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShareView {
    pub counted: i64,
    pub in_time: i64,
    pub share: Option<f64>,
}

impl From<Kept> for ShareView {
    fn from(k: Kept) -> Self {
        ShareView {
            counted: k.counted,
            in_time: k.in_time,
            share: (k.counted > 0)
                .then(|| (k.in_time as f64 * 1000.0 / k.counted as f64).round() / 1000.0),
        }
    }
}

/// Plans closed in the month, per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClosedView {
    pub goals_met: i64,
    pub no_longer_needed: i64,
    pub consent_withdrawn: i64,
    pub consent_declined: i64,
    pub protected_identity: i64,
    pub moved_out_of_region: i64,
    pub deceased: i64,
    pub replaced_by_new_plan: i64,
}

impl ClosedView {
    fn from_counts(counts: &[(CloseReason, i64)]) -> Self {
        let mut v = ClosedView::default();
        for (reason, n) in counts {
            let slot = match reason {
                CloseReason::GoalsMet => &mut v.goals_met,
                CloseReason::NoLongerNeeded => &mut v.no_longer_needed,
                CloseReason::ConsentWithdrawn => &mut v.consent_withdrawn,
                CloseReason::ConsentDeclined => &mut v.consent_declined,
                CloseReason::ProtectedIdentity => &mut v.protected_identity,
                CloseReason::MovedOutOfRegion => &mut v.moved_out_of_region,
                CloseReason::Deceased => &mut v.deceased,
                CloseReason::ReplacedByNewPlan => &mut v.replaced_by_new_plan,
            };
            *slot += n;
        }
        v
    }

    fn columns(&self) -> [i64; 8] {
        [
            self.goals_met,
            self.no_longer_needed,
            self.consent_withdrawn,
            self.consent_declined,
            self.protected_identity,
            self.moved_out_of_region,
            self.deceased,
            self.replaced_by_new_plan,
        ]
    }
}

/// The figures of one month and one group (`docs/kpis.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KpiRowView {
    /// `YYYY-MM`, the Swedish calendar month the figures fall in.
    pub month: String,
    /// The principal's name (region, municipality) or the unit's id.
    pub group_id: String,
    /// The principal's name or the unit's name.
    pub group_name: String,
    /// Grouped by unit, the unit's principal (huvudman): its region's or municipality's name, or
    /// an external actor's, so a unit report can be split by municipality; `null` otherwise.
    pub group_principal: Option<String>,
    /// Plans whose need became known in the month.
    pub sips_started: i64,
    /// Plans whose consent was first declined in the month.
    pub consent_declined: i64,
    /// From the day the need became known to the first invitation to a SIP meeting, for
    /// invitations sent in the month.
    pub working_days_to_invitation: SpreadView,
    /// From the day the need became known to the first SIP meeting, for meetings held in the
    /// month.
    pub working_days_to_meeting: SpreadView,
    /// First invitations to a SIP meeting due by the profile in the month (the to-do "Skicka
    /// kallelse"), sent by the deadline; not counted while a refusal of consent stood.
    pub invitations_in_time: ShareView,
    /// First meetings due by the profile in the month, held by the deadline.
    pub meetings_in_time: ShareView,
    /// Documentation owed after first meetings, due in the month, published by the deadline
    /// (three calendar days after the meeting); each unit in its own group.
    pub documented_in_time: ShareView,
    /// Follow-ups agreed for a day in the month, held by the coordinator on or before it.
    pub followed_up_in_time: ShareView,
    /// Plans closed in the month, per reason.
    pub closed: ClosedView,
}

impl KpiRowView {
    fn new(row: KpiRow) -> Self {
        KpiRowView {
            month: row.month.format("%Y-%m").to_string(),
            group_id: row.group_id,
            group_name: row.group_name,
            group_principal: row.group_principal,
            sips_started: row.sips_started,
            consent_declined: row.consent_declined,
            working_days_to_invitation: row.working_days_to_invitation.into(),
            working_days_to_meeting: row.working_days_to_meeting.into(),
            invitations_in_time: row.invitations_in_time.into(),
            meetings_in_time: row.meetings_in_time.into(),
            documented_in_time: row.documented_in_time.into(),
            followed_up_in_time: row.followed_up_in_time.into(),
            closed: ClosedView::from_counts(&row.closed),
        }
    }
}

/// `GET /reports/kpis` as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KpiReport {
    /// `YYYY-MM`, as asked.
    pub from: String,
    pub to: String,
    /// `region`, `municipality` or `unit`.
    pub group_by: String,
    /// The policy profile whose deadlines the figures judge: the deployment's, or while the
    /// rows are rebuilt after a change of profile (ADR 0034), the one they were computed with.
    pub policy: String,
    /// The moment deadlines were judged at: one not yet passed and not yet met is not counted.
    pub as_of: DateTime<Utc>,
    /// Every month and group with at least one figure, by month, then group id.
    pub rows: Vec<KpiRowView>,
}

/// The reporting figures per month and region, municipality or unit (role reporting).
#[utoipa::path(
    get,
    path = "/api/v1/reports/kpis",
    tag = "reports",
    params(KpiParams),
    responses(
        (status = 200, description = "The figures (docs/kpis.md); with format=csv a CSV file \
            (text/csv; charset=utf-8, `;` between fields, decimal comma, a header row with the \
            JSON names flattened). Header X-Samplan-Position (the reporting read model's)",
            content((KpiReport = "application/json"), (String = "text/csv"))),
        (status = 400, description = "`missing_parameter` (from, to or group_by left out), \
            `invalid_parameter` (a month not YYYY-MM, to before from, more than 120 months, \
            another group_by or format), `unknown_parameter`", body = Problem),
        (status = 401, description = "No or bad token", body = Problem),
        (status = 403, description = "Not the reporting role", body = Problem),
        (status = 422, description = "`invalid_characters`", body = Problem),
    ),
    security(("bearer" = []))
)]
pub async fn kpis(
    State(state): State<AppState>,
    _caller: Reporting,
    ApiQuery(params): ApiQuery<KpiParams>,
) -> Result<Response, AppError> {
    let from = month_param("from", params.from.as_deref())?;
    let to = month_param("to", params.to.as_deref())?;
    if to < from {
        return Err(AppError::bad_request(
            "invalid_parameter",
            "to får inte vara en tidigare månad än from.",
        ));
    }
    if months_spanned(from, to) > REPORT_MONTHS_MAX {
        return Err(AppError::bad_request(
            "invalid_parameter",
            format!("En rapport omfattar högst {REPORT_MONTHS_MAX} månader."),
        ));
    }
    let group_by = match params.group_by.as_deref() {
        None => {
            return Err(AppError::bad_request(
                "missing_parameter",
                "group_by saknas: ange region, municipality eller unit.",
            ))
        }
        Some("region") => GroupBy::Region,
        Some("municipality") => GroupBy::Municipality,
        Some("unit") => GroupBy::Unit,
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_parameter",
                "group_by ska vara region, municipality eller unit.",
            ))
        }
    };
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_parameter",
                "format ska vara json eller csv.",
            ))
        }
    };
    let position =
        consistency::projection_position(&state, reporting::PROJECTION, params.min_position)
            .await?;
    let report = kpi_report(&state, from, to, group_by).await?;
    let response = if csv {
        csv_response(&report, Small::Shown)
    } else {
        Json(report).into_response()
    };
    Ok(consistency::with_position(response, position))
}

/// The figures of the months `from`–`to` (first days, checked) per `group_by`, judged now:
/// `GET /reports/kpis` and the follow-up page alike.
pub async fn kpi_report(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
) -> Result<KpiReport, AppError> {
    let now = state.clock.now();
    let rows: Vec<KpiRowView> = reporting::kpis(state.store.pool(), from, to, group_by, now)
        .await
        .map_err(|e| AppError::internal(format!("reporting: {e}")))?
        .into_iter()
        .map(KpiRowView::new)
        .collect();
    // The profile the figures were computed with: the configured one, except while the rows
    // of another are being rebuilt under it.
    let policy = reporting::rows_policy(state.store.pool())
        .await
        .map_err(|e| AppError::internal(format!("reporting: {e}")))?
        .unwrap_or_else(|| state.policy.default.name.as_str().to_owned());
    Ok(KpiReport {
        from: from.format("%Y-%m").to_string(),
        to: to.format("%Y-%m").to_string(),
        group_by: group_by.as_str().to_owned(),
        policy,
        as_of: now,
        rows,
    })
}

/// Months from `from` to `to`, both included (first days).
pub fn months_spanned(from: NaiveDate, to: NaiveDate) -> i32 {
    (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 + 1
}

/// A month `YYYY-MM` as its first day; a day `YYYY-MM-DD` (API.md's form of dates) stands for
/// its month.
fn month_param(name: &str, value: Option<&str>) -> Result<NaiveDate, AppError> {
    let Some(value) = value else {
        return Err(AppError::bad_request(
            "missing_parameter",
            format!("{name} saknas: ange en månad som ÅÅÅÅ-MM, t.ex. 2026-03."),
        ));
    };
    parse_month(value).ok_or_else(|| {
        AppError::bad_request(
            "invalid_parameter",
            format!(
                "{name} ska vara en månad som ÅÅÅÅ-MM från år {REPORT_YEAR_MIN}, t.ex. 2026-03 \
                 (eller en dag i den, ÅÅÅÅ-MM-DD)."
            ),
        )
    })
}

/// The earliest year a report covers: a year the way people write one (before it, a page read
/// "januari–december 1").
pub const REPORT_YEAR_MIN: i32 = 1900;

/// A month `YYYY-MM` as its first day; a day `YYYY-MM-DD` stands for its month. Years before
/// [`REPORT_YEAR_MIN`] are not months of a report.
pub fn parse_month(value: &str) -> Option<NaiveDate> {
    parse_any_month(value).filter(|m| m.year() >= REPORT_YEAR_MIN)
}

fn parse_any_month(value: &str) -> Option<NaiveDate> {
    if value.len() == 10 {
        if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            if day.format("%Y-%m-%d").to_string() == value {
                return Some(day.with_day(1).unwrap_or(day));
            }
        }
    }
    let shaped = value.len() == 7
        && value.as_bytes()[4] == b'-'
        && value
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit());
    shaped
        .then(|| {
            let (year, month) = (value[..4].parse().ok()?, value[5..].parse().ok()?);
            NaiveDate::from_ymd_opt(year, month, 1)
        })
        .flatten()
}

/// The CSV header: the JSON names, nested ones joined with `_`; then when the figures were
/// judged and under which profile, so a file kept for later says so itself.
pub const CSV_HEADER: &str = "month;group_id;group_name;group_principal;sips_started;\
consent_declined;\
working_days_to_invitation_count;working_days_to_invitation_median;\
working_days_to_invitation_p90;working_days_to_meeting_count;working_days_to_meeting_median;\
working_days_to_meeting_p90;invitations_in_time_counted;invitations_in_time_in_time;\
invitations_in_time_share;meetings_in_time_counted;meetings_in_time_in_time;\
meetings_in_time_share;documented_in_time_counted;documented_in_time_in_time;\
documented_in_time_share;followed_up_in_time_counted;followed_up_in_time_in_time;\
followed_up_in_time_share;closed_goals_met;closed_no_longer_needed;closed_consent_withdrawn;\
closed_consent_declined;closed_protected_identity;closed_moved_out_of_region;closed_deceased;\
closed_replaced_by_new_plan;as_of;policy";

/// Fewest plans a figure may rest on before a report that hides small figures hides it: one
/// plan closed for protected identity in a unit's month tells colleagues who it was. Swedish
/// official statistics mask counts below 3 to 5 (docs/kpis.md).
pub const SMALL_BELOW: i64 = 3;

/// Whether a report shows figures resting on fewer than [`SMALL_BELOW`] plans. The API shows
/// them (its callers are the organisation's own analysts); the follow-up page hides them unless
/// asked, since what it gives is what gets handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Small {
    Shown,
    Hidden,
    /// In a row whose plans started are hidden, zeros are hidden too: a 0 beside "fewer than 3
    /// started" tells something of each of them (no refusal, nothing judged, nothing closed:
    /// every one withdrew consent before the deadline), as a second outside review showed.
    Covered,
}

impl Small {
    /// Whether `n` plans are too few to show.
    pub fn hides(self, n: i64) -> bool {
        match self {
            Small::Shown => false,
            Small::Hidden => n > 0 && n < SMALL_BELOW,
            Small::Covered => n < SMALL_BELOW,
        }
    }

    /// The rule for a row with `started` plans started: hidden rows whose started count is
    /// hidden hide their zeros too.
    pub fn for_row(self, started: i64) -> Small {
        if self == Small::Hidden && Small::Hidden.hides(started) {
            Small::Covered
        } else {
            self
        }
    }
}

/// The report as the CSV file `format=csv` answers; with [`Small::Hidden`] a count of 1 or 2
/// reads `<3`, a median, percentile or share over so few plans is left empty (its count reads
/// `<3`), when a closing reason has 1 or 2 plans every reason under 3 reads `<3`, and in a row
/// whose plans started read `<3` every count under 3 does, zeros too ([`Small::for_row`]).
pub fn csv_response(report: &KpiReport, small: Small) -> Response {
    // UTF-8's byte order mark first: a spreadsheet opening the saved file otherwise guesses the
    // Windows code page and garbles å, ä and ö in the groups' names.
    let mut body = String::from("\u{feff}");
    body.push_str(CSV_HEADER);
    body.push_str("\r\n");
    let hidden = || format!("<{SMALL_BELOW}");
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    // Three decimals with a decimal comma, as Swedish spreadsheets read numbers.
    let share = |s: Option<f64>| {
        s.map(|s| format!("{s:.3}").replace('.', ","))
            .unwrap_or_default()
    };
    let as_of = report
        .as_of
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for r in &report.rows {
        let small = small.for_row(r.sips_started);
        let count = |n: i64| {
            if small.hides(n) {
                hidden()
            } else {
                n.to_string()
            }
        };
        let mut fields = vec![
            r.month.clone(),
            crate::text::csv_field(&r.group_id),
            crate::text::csv_field(&r.group_name),
            crate::text::csv_field(r.group_principal.as_deref().unwrap_or("")),
            count(r.sips_started),
            count(r.consent_declined),
        ];
        for s in [&r.working_days_to_invitation, &r.working_days_to_meeting] {
            if small.hides(s.count) {
                fields.extend([hidden(), String::new(), String::new()]);
            } else {
                fields.extend([s.count.to_string(), number(s.median), number(s.p90)]);
            }
        }
        for k in [
            &r.invitations_in_time,
            &r.meetings_in_time,
            &r.documented_in_time,
            &r.followed_up_in_time,
        ] {
            if small.hides(k.counted) {
                fields.extend([hidden(), String::new(), String::new()]);
            } else {
                fields.extend([k.counted.to_string(), k.in_time.to_string(), share(k.share)]);
            }
        }
        // A reason with one or two plans would be named by its column: when there is one, every
        // reason under 3 reads `<3`, zeros too, as the page tells them together as "övriga".
        let reasons = r.closed.columns();
        let folded = reasons.iter().any(|n| small.hides(*n));
        fields.extend(reasons.into_iter().map(|n| {
            if folded && n < SMALL_BELOW {
                hidden()
            } else {
                n.to_string()
            }
        }));
        fields.extend([as_of.clone(), crate::text::csv_field(&report.policy)]);
        body.push_str(&fields.join(";"));
        body.push_str("\r\n");
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    // The day the figures were judged in the name: past months change as late facts arrive.
    let taken = domain::time::local_date(report.as_of);
    let hidden_note = if small == Small::Hidden {
        "-sma-tal-dolda"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"sip-nyckeltal-{}-{}-{}{hidden_note}-{taken}.csv\"",
        report.from, report.to, report.group_by
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_year_dash_month() {
        let first = |y, m| NaiveDate::from_ymd_opt(y, m, 1).expect("date");
        assert_eq!(
            month_param("from", Some("2026-03")).ok(),
            Some(first(2026, 3))
        );
        assert_eq!(
            month_param("from", Some("1999-12")).ok(),
            Some(first(1999, 12))
        );
        // A day stands for its month.
        assert_eq!(
            month_param("from", Some("2026-03-31")).ok(),
            Some(first(2026, 3))
        );
        for bad in [
            "2026-3",
            "2026-13",
            "2026-00",
            "2026-02-30",
            "2026-3-01",
            "26-03",
            "2026/03",
            "+026-03",
            "0000-12",
            "0001-01",
            "1899-12",
        ] {
            assert!(month_param("from", Some(bad)).is_err(), "{bad}");
        }
        assert!(month_param("from", None).is_err());
    }

    #[test]
    fn shares_round_to_three_decimals_and_none_of_nothing() {
        let share = |counted, in_time| ShareView::from(Kept { counted, in_time }).share;
        assert_eq!(share(3, 2), Some(0.667));
        assert_eq!(share(2, 1), Some(0.5));
        assert_eq!(share(0, 0), None);
    }
}
