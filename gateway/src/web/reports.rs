//! Uppföljning: the follow-up page of the role `reporting`. The people who follow SIP up for a
//! region or a municipality read figures, and hand some of them on in a spreadsheet; they are
//! not programmers, so an API alone left them without a way in (their start page said so).
//!
//! One page, `/uppfoljning`: a form (months from–to, grouped by region, municipality or unit)
//! that is a GET, so a report is an address to bookmark or send; the figures of each group
//! (a region, say) in a table with a row per month, so that a year reads down a column; the
//! same report as the API's CSV file
//! (`/uppfoljning/csv?…`). Both are answered by `crate::routes::reports`' own functions, so the
//! page, the file and `GET /api/v1/reports/kpis` cannot disagree (`docs/kpis.md` defines
//! every figure). What the page gives gets handed on, so unless asked it hides figures over one
//! or two plans, which could point a person out, on the page and in its file alike (ADR 0047).
//! Nothing here names a person, so nothing is logged as a read.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use projections::reporting::GroupBy;

use super::form::{Choice, Field, FieldError, Fields, FormView};
use super::persons::refused;
use super::session::Visitor;
use super::{Layout, WebError, WebQuery};
use crate::routes::reports::{
    self as api, KpiReport, KpiRowView, ShareView, Small, SpreadView, SMALL_BELOW,
};
use crate::state::AppState;

/// `GET /uppfoljning`: the form, and the figures once it has been filled in.
#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    layout: Layout,
    form: FormView,
    report: Option<ReportView>,
}

/// A report as the page shows it.
struct ReportView {
    /// "januari–mars 2026, per region".
    heading: String,
    /// When the deadlines were judged: "måndag 11 maj 2026 kl. 10.00".
    judged: String,
    /// The policy profile whose deadlines were judged.
    policy: String,
    /// `/uppfoljning/csv?…`: the same report as a file.
    csv: String,
    /// Whether figures over one or two plans are hidden (on the page and in its file).
    hidden: bool,
    groups: Vec<GroupView>,
}

/// One group's table: a region, a municipality or a unit.
struct GroupView {
    name: String,
    /// The unit's id beside its name when grouped by unit (two units may share a name).
    id: Option<String>,
    /// The unit's principal (its region or municipality) when grouped by unit.
    principal: Option<String>,
    /// The months with figures, in order.
    rows: Vec<RowView>,
}

/// One month's figures of a group, in words and numbers.
struct RowView {
    /// "mars 2026".
    month: String,
    started: String,
    declined: String,
    to_invitation: String,
    to_meeting: String,
    invitations: String,
    meetings: String,
    documented: String,
    followed_up: String,
    closed: String,
}

/// The query the form sends (its button's `_do` among it, and nothing else is read).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ReportQuery {
    fran: Option<String>,
    till: Option<String>,
    grupp: Option<String>,
    sma: Option<String>,
}

impl ReportQuery {
    fn fields(&self) -> Fields {
        Fields(vec![
            ("fran".into(), self.fran.clone().unwrap_or_default()),
            ("till".into(), self.till.clone().unwrap_or_default()),
            ("grupp".into(), self.grupp.clone().unwrap_or_default()),
            ("sma".into(), self.sma.clone().unwrap_or_default()),
        ])
    }

    fn is_empty(&self) -> bool {
        self.fran.is_none() && self.till.is_none() && self.grupp.is_none() && self.sma.is_none()
    }
}

/// What the form asked for, checked.
#[derive(Debug, Clone, Copy)]
struct Asked {
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
    small: Small,
}

impl Asked {
    /// What the fields ask for, or what is wrong with each field that is wrong (so that a form
    /// is put right in one go).
    fn read(fields: &Fields) -> Result<Asked, Vec<FieldError>> {
        let month = |name: &'static str| {
            let raw = fields.get(name);
            if raw.is_empty() {
                return Err(FieldError::new(name, "Fyll i det här fältet."));
            }
            // A month field cannot show what it cannot read, so the message repeats it.
            api::parse_month(&raw).ok_or_else(|| {
                let shown: String = raw.chars().take(40).collect();
                FieldError::new(
                    name,
                    format!(
                        "Ange månaden som ÅÅÅÅ-MM, till exempel 2026-03 (nu står det ”{shown}”)."
                    ),
                )
            })
        };
        let mut wrong = Vec::new();
        let from = month("fran").map_err(|e| wrong.push(e)).ok();
        let to = month("till").map_err(|e| wrong.push(e)).ok();
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                wrong.push(FieldError::new(
                    "till",
                    "Till och med ska vara samma månad som från och med eller senare.",
                ));
            } else if api::months_spanned(from, to) > api::REPORT_MONTHS_MAX {
                wrong.push(FieldError::new(
                    "till",
                    format!(
                        "En rapport omfattar högst {} månader.",
                        api::REPORT_MONTHS_MAX
                    ),
                ));
            }
        }
        let group_by = match fields.get("grupp").as_str() {
            "region" => Some(GroupBy::Region),
            "municipality" => Some(GroupBy::Municipality),
            "unit" => Some(GroupBy::Unit),
            _ => {
                wrong.push(FieldError::new("grupp", "Välj region, kommun eller enhet."));
                None
            }
        };
        // Hidden unless asked: an address from before the choice existed hides them too.
        let small = match fields.get("sma").as_str() {
            "" | "dolj" => Some(Small::Hidden),
            "visa" => Some(Small::Shown),
            _ => {
                wrong.push(FieldError::new(
                    "sma",
                    "Välj om små tal ska döljas eller visas.",
                ));
                None
            }
        };
        match (from, to, group_by, small) {
            (Some(from), Some(to), Some(group_by), Some(small)) if wrong.is_empty() => Ok(Asked {
                from,
                to,
                group_by,
                small,
            }),
            _ => Err(wrong),
        }
    }

    /// The form's fields as `YYYY-MM` and the grouping's value.
    fn fields(&self) -> Fields {
        Fields(vec![
            ("fran".into(), self.from.format("%Y-%m").to_string()),
            ("till".into(), self.to.format("%Y-%m").to_string()),
            ("grupp".into(), self.group_by.as_str().into()),
            ("sma".into(), self.small_value().into()),
        ])
    }

    fn small_value(&self) -> &'static str {
        match self.small {
            Small::Hidden | Small::Covered => "dolj",
            Small::Shown => "visa",
        }
    }

    /// `fran=…&till=…&grupp=…&sma=…`, for the file's link.
    fn query(&self) -> String {
        format!(
            "fran={}&till={}&grupp={}&sma={}",
            self.from.format("%Y-%m"),
            self.to.format("%Y-%m"),
            self.group_by.as_str(),
            self.small_value()
        )
    }
}

/// The form, by default the year so far per region.
fn report_form(today: NaiveDate) -> FormView {
    let january = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    FormView::new("rapport", "/uppfoljning", "Nyckeltal för en period")
        .get()
        .intro(
            "Per månad: påbörjade SIP, tider från att behovet blev känt till kallelse och till \
             möte, tidsfrister som hölls och avslutade planer.",
        )
        .field(
            Field::month("fran", "Från och med månad")
                .required()
                .hint("ÅÅÅÅ-MM, till exempel 2026-01.")
                .value(january.format("%Y-%m").to_string()),
        )
        .field(
            Field::month("till", "Till och med månad")
                .required()
                .hint("ÅÅÅÅ-MM. Högst 120 månader i en rapport.")
                .value(today.format("%Y-%m").to_string()),
        )
        .field(
            Field::radios(
                "grupp",
                "Per",
                vec![
                    Choice::new("region", "Region"),
                    Choice::new("municipality", "Kommun"),
                    Choice::new("unit", "Enhet"),
                ],
            )
            .required()
            .value("region"),
        )
        .field(
            Field::radios(
                "sma",
                "Små tal",
                vec![
                    Choice::new(
                        "dolj",
                        format!(
                            "Dölj tal som bygger på färre än {SMALL_BELOW} planer \
                             (för rapporter som lämnas vidare)"
                        ),
                    ),
                    Choice::new(
                        "visa",
                        "Visa alla tal (för eget arbete, inte för att lämna vidare)",
                    ),
                ],
            )
            .required()
            .hint(
                "Dolt blir också 0 på en rad där påbörjade är färre än 3. Att dölja små tal \
                 räcker ändå inte alltid: tal i olika tabeller kan ställas mot varandra (en \
                 region mot dess enheter, samma rapport tagen två dagar), och ett tal som är lika \
                 med hela gruppen (3 påbörjade, 3 nekade) säger något om var och en. Granska \
                 tabellen innan den lämnas ut.",
            )
            .value("dolj"),
        )
        .button("Visa nyckeltalen")
        .open(true)
}

// ---- pages --------------------------------------------------------------------------------

/// `GET /uppfoljning?fran=&till=&grupp=`: the form, and with a query the report.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(query): WebQuery<ReportQuery>,
) -> Result<Response, WebError> {
    visitor.reporting()?;
    let today = domain::time::local_date(state.clock.now());
    let mut form = report_form(today);
    let layout = visitor.layout("Uppföljning", None);
    if query.is_empty() {
        return visitor.page(&ReportsPage {
            layout,
            form,
            report: None,
        });
    }
    let fields = query.fields();
    form.fill(&fields);
    let asked = match Asked::read(&fields) {
        Ok(asked) => {
            // As a month field shows them: a day (`2026-01-15`, which the API takes for its
            // month) would leave the month picker empty, and the next submit refused.
            form.fill(&asked.fields());
            asked
        }
        Err(wrong) => {
            for e in wrong {
                form.refuse(&e.into());
            }
            return refused(visitor.page(&ReportsPage {
                layout,
                form,
                report: None,
            })?);
        }
    };
    let report = api::kpi_report(&state, asked.from, asked.to, asked.group_by).await?;
    visitor.page(&ReportsPage {
        layout,
        form,
        report: Some(report_view(&report, &asked)),
    })
}

/// `GET /uppfoljning/csv?fran=&till=&grupp=`: the report as the API's CSV file.
pub(crate) async fn csv(
    State(state): State<AppState>,
    visitor: Visitor,
    WebQuery(query): WebQuery<ReportQuery>,
) -> Result<Response, WebError> {
    visitor.reporting()?;
    let asked = Asked::read(&query.fields()).map_err(|wrong| {
        let said: Vec<String> = wrong.into_iter().map(|e| e.message).collect();
        WebError::App(crate::error::AppError::bad_request(
            "invalid_parameter",
            said.join(" "),
        ))
    })?;
    let report = api::kpi_report(&state, asked.from, asked.to, asked.group_by).await?;
    Ok(visitor.finish(api::csv_response(&report, asked.small)))
}

// ---- the figures in words -----------------------------------------------------------------

/// A policy profile's name as a name: "norrbotten" → "Norrbotten".
fn profile_name(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn month_name(month: &str) -> String {
    match api::parse_month(month) {
        Some(d) => format!("{} {}", super::dates::month(d.month()), d.year()),
        None => month.to_owned(),
    }
}

fn report_view(report: &KpiReport, asked: &Asked) -> ReportView {
    let (from, to) = (month_name(&report.from), month_name(&report.to));
    let span = if report.from == report.to {
        from
    } else if asked.from.year() == asked.to.year() {
        format!(
            "{}–{}",
            super::dates::month(asked.from.month()),
            month_name(&report.to)
        )
    } else {
        format!("{from} – {to}")
    };
    let per = match asked.group_by {
        GroupBy::Region => "per region",
        GroupBy::Municipality => "per kommun",
        GroupBy::Unit => "per enhet",
    };
    // The rows come by month, then group id; the page shows each group's months together, the
    // groups by name (then id, for units of one name).
    let mut ids: Vec<(&str, &str)> = report
        .rows
        .iter()
        .map(|r| (r.group_name.as_str(), r.group_id.as_str()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let groups = ids
        .into_iter()
        .map(|(name, id)| GroupView {
            name: name.to_owned(),
            id: (asked.group_by == GroupBy::Unit && id != name).then(|| id.to_owned()),
            principal: report
                .rows
                .iter()
                .find(|r| r.group_id == id)
                .and_then(|r| r.group_principal.clone()),
            rows: months_of(asked)
                .map(|month| {
                    let key = month.format("%Y-%m").to_string();
                    report
                        .rows
                        .iter()
                        .find(|r| r.group_id == id && r.month == key)
                        .map_or_else(|| empty_row(month), |row| row_view(row, asked.small))
                })
                .collect(),
        })
        .collect();
    ReportView {
        heading: format!("{span}, {per}"),
        judged: domain::time::written_moment(report.as_of),
        policy: profile_name(&report.policy),
        csv: format!("/uppfoljning/csv?{}", asked.query()),
        hidden: asked.small == Small::Hidden,
        groups,
    }
}

/// The first days of the months `asked` covers, in order.
fn months_of(asked: &Asked) -> impl Iterator<Item = NaiveDate> {
    let to = asked.to;
    std::iter::successors(Some(asked.from), |m| {
        m.checked_add_months(chrono::Months::new(1))
    })
    .take_while(move |m| *m <= to)
}

/// A month in which the group had nothing to count: shown, so that a year reads as twelve rows.
fn empty_row(month: NaiveDate) -> RowView {
    let none = || "–".to_owned();
    RowView {
        month: format!("{} {}", super::dates::month(month.month()), month.year()),
        started: "0".into(),
        declined: "0".into(),
        to_invitation: none(),
        to_meeting: none(),
        invitations: none(),
        meetings: none(),
        documented: none(),
        followed_up: none(),
        closed: "0".into(),
    }
}

fn row_view(row: &KpiRowView, small: Small) -> RowView {
    let small = small.for_row(row.sips_started);
    RowView {
        month: month_name(&row.month),
        started: count(row.sips_started, small),
        declined: count(row.consent_declined, small),
        to_invitation: spread(&row.working_days_to_invitation, small),
        to_meeting: spread(&row.working_days_to_meeting, small),
        invitations: share(&row.invitations_in_time, small),
        meetings: share(&row.meetings_in_time, small),
        documented: share(&row.documented_in_time, small),
        followed_up: share(&row.followed_up_in_time, small),
        closed: closed(row, small),
    }
}

/// "färre än 3" in place of a count the report hides. (Figures keep their parts together with
/// no-break spaces, so that a narrow column breaks only between them.)
fn few() -> String {
    format!("färre än\u{a0}{SMALL_BELOW}")
}

/// A count, or [`few`] when it is hidden.
fn count(n: i64, small: Small) -> String {
    if small.hides(n) {
        few()
    } else {
        n.to_string()
    }
}

/// "4 (9), 12 SIP": the median, the 90th percentile in brackets, how many were counted.
fn spread(s: &SpreadView, small: Small) -> String {
    if small.hides(s.count) {
        return format!("{} SIP", few());
    }
    match (s.median, s.p90) {
        (Some(median), Some(p90)) => format!("{median}\u{a0}({p90}), {}\u{a0}SIP", s.count),
        _ => "–".into(),
    }
}

/// "83 %, 10 av 12"; a dash when nothing was judged.
fn share(k: &ShareView, small: Small) -> String {
    if small.hides(k.counted) {
        return format!("{} bedömda", few());
    }
    match k.share {
        Some(share) => format!(
            "{}\u{a0}%, {}\u{a0}av\u{a0}{}",
            (share * 100.0).round() as i64,
            k.in_time,
            k.counted
        ),
        None => "–".into(),
    }
}

/// "3 (målen uppnådda 2, behovet upphört 1)", "1 (målen uppnådda)"; 0 when none. When small
/// figures are hidden, reasons with one or two plans are told together as "övriga": with their
/// sum when it is 3 or more, else as "färre än 3" and the total as "minst …", since the exact
/// total less the reasons shown would give their sum back, and another table the reason.
fn closed(row: &KpiRowView, small: Small) -> String {
    let c = &row.closed;
    let reasons = [
        ("målen uppnådda", c.goals_met),
        ("behovet upphört", c.no_longer_needed),
        ("samtycket återkallat", c.consent_withdrawn),
        ("samtycke nekat", c.consent_declined),
        ("skyddad identitet", c.protected_identity),
        ("flyttat från regionen", c.moved_out_of_region),
        ("avliden", c.deceased),
        ("ersatt av ny plan", c.replaced_by_new_plan),
    ];
    let total: i64 = reasons.iter().map(|(_, n)| n).sum();
    if small.hides(total) {
        return few();
    }
    if total == 0 {
        return "0".into();
    }
    let given: Vec<&(&str, i64)> = reasons.iter().filter(|(_, n)| *n > 0).collect();
    if let [(what, _)] = given.as_slice() {
        return format!("{total} ({what})");
    }
    let mut parts: Vec<String> = given
        .iter()
        .filter(|(_, n)| !small.hides(*n))
        .map(|(what, n)| format!("{what}\u{a0}{n}"))
        .collect();
    let others: i64 = given
        .iter()
        .filter(|(_, n)| small.hides(*n))
        .map(|(_, n)| n)
        .sum();
    if others == 0 {
        return format!("{total} ({})", parts.join(", "));
    }
    if !small.hides(others) {
        parts.push(format!("övriga\u{a0}{others}"));
        return format!("{total} ({})", parts.join(", "));
    }
    parts.push(format!("övriga {}", few()));
    format!("minst\u{a0}{} ({})", total - others + 1, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(fran: &str, till: &str, grupp: &str) -> Fields {
        Fields(vec![
            ("fran".into(), fran.into()),
            ("till".into(), till.into()),
            ("grupp".into(), grupp.into()),
        ])
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let refused = |f: Fields| {
            Asked::read(&f)
                .err()
                .map(|wrong| wrong.iter().map(|e| e.field).collect::<Vec<_>>())
        };
        assert!(Asked::read(&fields("2026-01", "2026-03", "region")).is_ok());
        assert!(Asked::read(&fields("2026-01-15", "2026-03-31", "unit")).is_ok());
        assert_eq!(refused(fields("", "2026-03", "region")), Some(vec!["fran"]));
        assert_eq!(
            refused(fields("2026-13", "2026-03", "region")),
            Some(vec!["fran"])
        );
        assert_eq!(
            refused(fields("2026-04", "2026-03", "region")),
            Some(vec!["till"])
        );
        assert_eq!(
            refused(fields("2000-01", "2010-01", "region")),
            Some(vec!["till"])
        );
        assert_eq!(
            refused(fields("2026-01", "2026-03", "land")),
            Some(vec!["grupp"])
        );
        let mut f = fields("2026-01", "2026-03", "unit");
        f.0.push(("sma".into(), "kanske".into()));
        assert_eq!(refused(f), Some(vec!["sma"]));
        assert_eq!(
            refused(fields("0001-01", "0001-12", "region")),
            Some(vec!["fran", "till"])
        );
        // Every wrong field at once.
        assert_eq!(
            refused(fields("2026-1", "2026-13", "county")),
            Some(vec!["fran", "till", "grupp"])
        );
    }

    #[test]
    fn figures_read_as_words() {
        let words = |text: String| text.replace('\u{a0}', " ");
        let s = SpreadView {
            count: 12,
            median: Some(4),
            p90: Some(9),
        };
        assert_eq!(words(spread(&s, Small::Hidden)), "4 (9), 12 SIP");
        let none = SpreadView {
            count: 0,
            median: None,
            p90: None,
        };
        assert_eq!(spread(&none, Small::Hidden), "–");
        let k = ShareView {
            counted: 12,
            in_time: 10,
            share: Some(0.833),
        };
        assert_eq!(words(share(&k, Small::Hidden)), "83 %, 10 av 12");
        assert_eq!(month_name("2026-03"), "mars 2026");
        assert_eq!(profile_name("örebro"), "Örebro");
    }

    #[test]
    fn figures_over_one_or_two_plans_are_hidden_unless_asked() {
        let words = |text: String| text.replace('\u{a0}', " ");
        let one = SpreadView {
            count: 1,
            median: Some(236),
            p90: Some(236),
        };
        assert_eq!(words(spread(&one, Small::Hidden)), "färre än 3 SIP");
        assert_eq!(words(spread(&one, Small::Shown)), "236 (236), 1 SIP");
        let two = ShareView {
            counted: 2,
            in_time: 1,
            share: Some(0.5),
        };
        assert_eq!(words(share(&two, Small::Hidden)), "färre än 3 bedömda");
        assert_eq!(words(count(2, Small::Hidden)), "färre än 3");
        assert_eq!(count(0, Small::Hidden), "0");
        assert_eq!(count(3, Small::Hidden), "3");

        // One plan closed for protected identity among others: not named, not countable.
        let mut row = KpiRowView {
            month: "2026-12".into(),
            group_id: "u".into(),
            group_name: "Vårdcentralen".into(),
            group_principal: None,
            sips_started: 4,
            consent_declined: 1,
            working_days_to_invitation: none_spread(),
            working_days_to_meeting: none_spread(),
            invitations_in_time: none_share(),
            meetings_in_time: none_share(),
            documented_in_time: none_share(),
            followed_up_in_time: none_share(),
            closed: Default::default(),
        };
        row.closed.goals_met = 4;
        row.closed.protected_identity = 1;
        assert_eq!(
            words(closed(&row, Small::Hidden)),
            "minst 5 (målen uppnådda 4, övriga färre än 3)"
        );
        assert_eq!(
            words(closed(&row, Small::Shown)),
            "5 (målen uppnådda 4, skyddad identitet 1)"
        );
        // Small reasons whose sum is 3 or more: their sum, not which they were.
        row.closed.deceased = 2;
        assert_eq!(
            words(closed(&row, Small::Hidden)),
            "7 (målen uppnådda 4, övriga 3)"
        );
        row.closed.deceased = 0;
        row.closed.goals_met = 0;
        assert_eq!(words(closed(&row, Small::Hidden)), "färre än 3");
        assert_eq!(words(closed(&row, Small::Shown)), "1 (skyddad identitet)");
        row.closed.protected_identity = 3;
        assert_eq!(words(closed(&row, Small::Hidden)), "3 (skyddad identitet)");
        assert_eq!(words(row_view(&row, Small::Hidden).declined), "färre än 3");

        // A row of one or two plans started hides its zeros too: "none declined, nothing
        // judged, nothing closed" would tell of each of them (every one withdrew consent).
        row.sips_started = 1;
        row.consent_declined = 0;
        row.closed = Default::default();
        let covered = row_view(&row, Small::Hidden);
        assert_eq!(words(covered.started), "färre än 3");
        assert_eq!(words(covered.declined), "färre än 3");
        assert_eq!(words(covered.invitations), "färre än 3 bedömda");
        assert_eq!(words(covered.to_meeting), "färre än 3 SIP");
        assert_eq!(words(covered.closed), "färre än 3");
        // With three started, a zero is a zero.
        row.sips_started = 3;
        let plain = row_view(&row, Small::Hidden);
        assert_eq!(plain.declined, "0");
        assert_eq!(plain.invitations, "–");
        assert_eq!(plain.closed, "0");
    }

    fn none_spread() -> SpreadView {
        SpreadView {
            count: 0,
            median: None,
            p90: None,
        }
    }

    fn none_share() -> ShareView {
        ShareView {
            counted: 0,
            in_time: 0,
            share: None,
        }
    }
}
