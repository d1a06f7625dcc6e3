//! Swedish local time (Europe/Stockholm) without a time-zone database.
//!
//! Deadlines in a SIP are stated in Swedish calendar days ("by the end of day N"), while the
//! system stores instants in UTC. Sweden follows the EU summer-time rule: CEST (+02:00) from
//! 01:00 UTC on the last Sunday of March until 01:00 UTC on the last Sunday of October, CET
//! (+01:00) otherwise. That rule has applied since 1996; this module applies it to every year,
//! which is fine for deadline arithmetic (plans are never dated before 1996, and birth dates are
//! plain dates that never pass through here).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};

/// Offset east of UTC in seconds for winter time (CET).
const CET_SECONDS: i32 = 3600;
/// Offset east of UTC in seconds for summer time (CEST).
const CEST_SECONDS: i32 = 7200;

fn cet() -> FixedOffset {
    // A constant well inside the ±86 400 s range FixedOffset accepts; cannot fail.
    FixedOffset::east_opt(CET_SECONDS).expect("+01:00 is a valid offset")
}

fn cest() -> FixedOffset {
    FixedOffset::east_opt(CEST_SECONDS).expect("+02:00 is a valid offset")
}

/// The last Sunday of `month` in `year`.
fn last_sunday(year: i32, month: u32) -> Option<NaiveDate> {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let last = first_of_next.pred_opt()?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    last.checked_sub_signed(Duration::days(back))
}

/// The UTC instants `[start, end)` of summer time in `year`.
fn summer_time_utc(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let one = NaiveTime::from_hms_opt(1, 0, 0)?;
    let start = last_sunday(year, 3)?.and_time(one).and_utc();
    let end = last_sunday(year, 10)?.and_time(one).and_utc();
    Some((start, end))
}

/// Sweden's UTC offset at the instant `utc`: +01:00 (CET) or +02:00 (CEST).
pub fn stockholm_offset(utc: DateTime<Utc>) -> FixedOffset {
    match summer_time_utc(utc.year()) {
        Some((start, end)) if utc >= start && utc < end => cest(),
        _ => cet(),
    }
}

/// The instant `utc` as Swedish wall-clock time.
pub fn to_local(utc: DateTime<Utc>) -> DateTime<FixedOffset> {
    utc.with_timezone(&stockholm_offset(utc))
}

/// The Swedish calendar date at the instant `utc` (00:30 UTC on 1 July is already 02:30 the same
/// day in Stockholm; 23:30 UTC on 31 December is 00:30 on 1 January).
pub fn local_date(utc: DateTime<Utc>) -> NaiveDate {
    to_local(utc).date_naive()
}

/// The UTC instant of Swedish wall-clock time `time` on `date`.
///
/// Two wall-clock hours per year are irregular, and we resolve them so that a deadline is never
/// later than what the wall clock says:
/// - **ambiguous** (last Sunday of October, 02:00–02:59 occurs twice): the earlier instant, i.e.
///   the first pass, still in summer time;
/// - **nonexistent** (last Sunday of March, 02:00–02:59 is skipped): the moment the clocks jump,
///   03:00 CEST (01:00 UTC), the first valid instant not before the requested time.
pub fn local_to_utc(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let wall = date.and_time(time);
    // Try summer time first: when both readings are valid, it is the earlier instant.
    for offset in [cest(), cet()] {
        if let Some(candidate) = offset.from_local_datetime(&wall).single() {
            let utc = candidate.with_timezone(&Utc);
            if stockholm_offset(utc) == offset {
                return utc;
            }
        }
    }
    // The wall time falls in the spring-forward gap: return the transition instant.
    match summer_time_utc(date.year()) {
        Some((start, _)) => start,
        // Only reachable at the very edge of chrono's date range; read the time as CET.
        None => (wall - Duration::seconds(i64::from(CET_SECONDS))).and_utc(),
    }
}

/// The last second of Swedish day `date` (23:59:59 local time) as UTC: a deadline "by the end of
/// day N" is met by anything at or before this instant.
pub fn end_of_local_day(date: NaiveDate) -> DateTime<Utc> {
    let last_second = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
    local_to_utc(date, last_second)
}

/// The first instant (00:00:00 Swedish time) of `date`, as UTC.
pub fn start_of_local_day(date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(date, NaiveTime::MIN)
}

// ---------------------------------------------------------------- in Swedish words

const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

/// The weekday's Swedish name, in lower case as Swedish writes it.
pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "måndag",
        Weekday::Tue => "tisdag",
        Weekday::Wed => "onsdag",
        Weekday::Thu => "torsdag",
        Weekday::Fri => "fredag",
        Weekday::Sat => "lördag",
        Weekday::Sun => "söndag",
    }
}

/// The month's Swedish name (1 = januari; empty for a number that is no month).
pub fn month_name(number: u32) -> &'static str {
    number
        .checked_sub(1)
        .and_then(|i| MONTHS.get(i as usize))
        .copied()
        .unwrap_or("")
}

/// "14 maj 2026": a date in words, as texts that are stored (subjects, history, to-do titles)
/// write it; they cannot say "i morgon", being read on other days.
pub fn written_date(date: NaiveDate) -> String {
    format!(
        "{} {} {}",
        date.day(),
        month_name(date.month()),
        date.year()
    )
}

/// "kl. 09.30" in Swedish local time (Språkrådet: a full stop between hours and minutes).
pub fn written_clock(at: DateTime<Utc>) -> String {
    let local = to_local(at);
    format!("kl. {:02}.{:02}", local.hour(), local.minute())
}

/// "torsdag 5 mars 2026 kl. 10.00": a moment in Swedish local time, with its weekday, as a
/// stored text writes it.
pub fn written_moment(at: DateTime<Utc>) -> String {
    let date = local_date(at);
    format!(
        "{} {} {}",
        weekday_name(date.weekday()),
        written_date(date),
        written_clock(at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid test time")
            .with_timezone(&Utc)
    }

    #[test]
    fn offset_switches_at_one_utc() {
        // 2026-03-29 is the last Sunday of March: CET until 00:59:59 UTC, CEST from 01:00 UTC.
        assert_eq!(stockholm_offset(utc("2026-03-29T00:59:59Z")), cet());
        assert_eq!(stockholm_offset(utc("2026-03-29T01:00:00Z")), cest());
        assert_eq!(stockholm_offset(utc("2026-10-25T00:59:59Z")), cest());
        assert_eq!(stockholm_offset(utc("2026-10-25T01:00:00Z")), cet());
    }

    #[test]
    fn last_sundays_of_2026() {
        assert_eq!(last_sunday(2026, 3), NaiveDate::from_ymd_opt(2026, 3, 29));
        assert_eq!(last_sunday(2026, 10), NaiveDate::from_ymd_opt(2026, 10, 25));
        assert_eq!(last_sunday(2026, 12), NaiveDate::from_ymd_opt(2026, 12, 27));
    }
}
