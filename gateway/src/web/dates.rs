//! Dates and times in Swedish words, as staff read them in Lifecare and people read them on
//! 1177: "onsdag 14 maj", "senast i morgon, torsdag 15 maj", "försenad sedan måndag 12 maj".
//! Everything is shown in Swedish local time (`domain::time`); the functions take `now` so that
//! tests pin the day.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use domain::time::local_date;

/// The weekday's Swedish name, in lower case as Swedish writes it.
pub fn weekday(day: Weekday) -> &'static str {
    domain::time::weekday_name(day)
}

/// The month's Swedish name (1 = januari).
pub fn month(number: u32) -> &'static str {
    domain::time::month_name(number)
}

/// "onsdag 14 maj", with the year when it is not `today`'s year: "onsdag 14 maj 2027".
pub fn day(date: NaiveDate, today: NaiveDate) -> String {
    let mut text = format!(
        "{} {} {}",
        weekday(date.weekday()),
        date.day(),
        month(date.month())
    );
    if date.year() != today.year() {
        text.push_str(&format!(" {}", date.year()));
    }
    text
}

/// [`day`], said to be no working day when it is not: "lördag 12 juni 2027 (inte en
/// arbetsdag)", "fredag 25 december (juldagen, inte en arbetsdag)". For a date agreed ahead, a
/// follow-up: nothing stops one on a Saturday, but a slip of the date picker is seen at once
/// (an outside review booked one unawares).
pub fn agreed_day(date: NaiveDate, today: NaiveDate) -> String {
    use domain::calendar::DayKind;
    let text = day(date, today);
    match domain::calendar::day_kind(date) {
        DayKind::WorkingDay => text,
        DayKind::Weekend => format!("{text} (inte en arbetsdag)"),
        DayKind::PublicHoliday(name) | DayKind::DeFactoHoliday(name) => {
            format!("{text} ({}, inte en arbetsdag)", name.to_lowercase())
        }
    }
}

/// "onsdag 14 maj 2026": the day with its year whatever the year is (a letter that is kept, a
/// period across a new year).
pub fn day_with_year(date: NaiveDate) -> String {
    format!("{} {}", weekday(date.weekday()), date_with_year(date))
}

/// "14 maj 2026": a date without its weekday, with the year (for dates in print).
pub fn date_with_year(date: NaiveDate) -> String {
    domain::time::written_date(date)
}

/// "kl. 09.30" in Swedish local time (Språkrådet: a full stop between hours and minutes).
pub fn clock(at: DateTime<Utc>) -> String {
    domain::time::written_clock(at)
}

/// "i dag", "i morgon", "i går" for the nearest days, otherwise [`day`].
pub fn relative_day(date: NaiveDate, today: NaiveDate) -> String {
    match (date - today).num_days() {
        0 => "i dag".to_string(),
        1 => "i morgon".to_string(),
        -1 => "i går".to_string(),
        _ => day(date, today),
    }
}

/// A moment as staff read it: "i dag kl. 09.30", "onsdag 14 maj kl. 09.30".
pub fn moment(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "{} {}",
        relative_day(local_date(at), local_date(now)),
        clock(at)
    )
}

/// A moment with a note when its day is off work in a way its weekday does not show: "onsdag 24
/// december kl. 10.00 (Julafton – inte en arbetsdag)", "lördag 6 juni kl. 13.00 (Sveriges
/// nationaldag – helgdag)". A meeting booked on such a day is most often a slip; staff see it
/// where the meeting is shown, and nothing is refused (some meetings are held then).
pub fn meeting_moment(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let when = moment(at, now);
    match domain::calendar::day_kind(local_date(at)) {
        domain::calendar::DayKind::PublicHoliday(name) => format!("{when} ({name} – helgdag)"),
        domain::calendar::DayKind::DeFactoHoliday(name) => {
            format!("{when} ({name} – inte en arbetsdag)")
        }
        _ => when,
    }
}

/// A due date in words, as Att göra shows it: "senast onsdag 14 maj", "senast i dag",
/// "senast i morgon, torsdag 15 maj"; once passed, "försenad sedan måndag 12 maj" (or
/// "försenad sedan i dag kl. 09.00" when it passed earlier today). A deadline at an hour of
/// the day rather than its end — a red-track meeting due before the person goes home, a
/// representative due before the meeting starts — says the hour too: "senast torsdag 10
/// december kl. 11.00" (an outside review read only the day, and could book the afternoon).
pub fn due(due_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let today = local_date(now);
    let date = local_date(due_at);
    if due_at < now {
        return if date == today {
            format!("försenad sedan i dag {}", clock(due_at))
        } else {
            format!("försenad sedan {}", relative_day(date, today))
        };
    }
    let by = match (date - today).num_days() {
        0 => "senast i dag".to_string(),
        1 => format!("senast i morgon, {}", day(date, today)),
        _ => format!("senast {}", day(date, today)),
    };
    if at_an_hour(due_at) {
        format!("{by} {}", clock(due_at))
    } else {
        by
    }
}

/// Whether a deadline falls at an hour of its day rather than at its end (where deadlines
/// counted in days are kept): then it is said with the hour.
pub fn at_an_hour(due_at: DateTime<Utc>) -> bool {
    due_at < domain::time::end_of_local_day(local_date(due_at)) - chrono::Duration::minutes(1)
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_agreed_day_off_is_said_to_be_one() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        let on = |y, m, d| agreed_day(NaiveDate::from_ymd_opt(y, m, d).expect("date"), today);
        assert_eq!(on(2026, 12, 9), "onsdag 9 december");
        assert_eq!(on(2027, 6, 12), "lördag 12 juni 2027 (inte en arbetsdag)");
        assert_eq!(
            on(2026, 12, 25),
            "fredag 25 december (juldagen, inte en arbetsdag)"
        );
        assert_eq!(
            on(2026, 12, 24),
            "torsdag 24 december (julafton, inte en arbetsdag)"
        );
    }

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a valid time")
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("a valid date")
    }

    #[test]
    fn a_day_is_weekday_day_and_month() {
        // 14 May 2025 is a Wednesday.
        assert_eq!(day(date("2025-05-14"), date("2025-05-01")), "onsdag 14 maj");
        assert_eq!(
            day(date("2026-01-01"), date("2025-12-30")),
            "torsdag 1 januari 2026"
        );
        assert_eq!(date_with_year(date("2025-12-24")), "24 december 2025");
    }

    #[test]
    fn a_meeting_on_a_day_off_says_which_day_it_is() {
        let now = at("2026-12-01T08:00:00Z");
        assert_eq!(
            meeting_moment(at("2026-12-24T09:00:00Z"), now),
            "torsdag 24 december kl. 10.00 (Julafton – inte en arbetsdag)"
        );
        assert_eq!(
            meeting_moment(at("2026-06-06T11:00:00Z"), now),
            "lördag 6 juni kl. 13.00 (Sveriges nationaldag – helgdag)"
        );
        // A working day, and an ordinary Saturday, whose weekday says it all.
        assert_eq!(
            meeting_moment(at("2026-12-22T09:00:00Z"), now),
            "tisdag 22 december kl. 10.00"
        );
        assert_eq!(
            meeting_moment(at("2026-12-12T09:00:00Z"), now),
            "lördag 12 december kl. 10.00"
        );
    }

    #[test]
    fn every_month_and_weekday_has_its_swedish_name() {
        let months: Vec<&str> = (1..=12).map(month).collect();
        assert_eq!(months[0], "januari");
        assert_eq!(months[7], "augusti");
        assert_eq!(months[11], "december");
        // 2025-05-12 is a Monday.
        let names: Vec<&str> = (0..7)
            .map(|d| weekday((date("2025-05-12") + chrono::Duration::days(d)).weekday()))
            .collect();
        assert_eq!(
            names,
            ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]
        );
    }

    #[test]
    fn clock_times_are_swedish_local_time() {
        // Summer time (UTC+2) and winter time (UTC+1).
        assert_eq!(clock(at("2025-05-14T07:30:00Z")), "kl. 09.30");
        assert_eq!(clock(at("2025-12-03T08:05:00Z")), "kl. 09.05");
    }

    #[test]
    fn due_dates_read_as_deadlines() {
        // Monday 12 May 2025, 10:00 in Stockholm.
        let now = at("2025-05-12T08:00:00Z");
        assert_eq!(due(at("2025-05-14T21:59:00Z"), now), "senast onsdag 14 maj");
        assert_eq!(due(at("2025-05-12T21:59:00Z"), now), "senast i dag");
        // At an hour of the day, not its end: the hour is said.
        assert_eq!(
            due(at("2025-05-13T15:00:00Z"), now),
            "senast i morgon, tisdag 13 maj kl. 17.00"
        );
        assert_eq!(
            due(at("2026-01-07T12:00:00Z"), now),
            "senast onsdag 7 januari 2026 kl. 13.00"
        );
        assert_eq!(
            due(at("2025-05-12T13:00:00Z"), now),
            "senast i dag kl. 15.00"
        );
        // The end of the day, as deadlines counted in days are kept: no hour.
        assert_eq!(
            due(at("2025-05-13T21:59:59Z"), now),
            "senast i morgon, tisdag 13 maj"
        );
    }

    #[test]
    fn passed_due_dates_say_since_when() {
        let now = at("2025-05-12T08:00:00Z");
        assert_eq!(
            due(at("2025-05-09T15:00:00Z"), now),
            "försenad sedan fredag 9 maj"
        );
        assert_eq!(due(at("2025-05-11T15:00:00Z"), now), "försenad sedan i går");
        assert_eq!(
            due(at("2025-05-12T07:00:00Z"), now),
            "försenad sedan i dag kl. 09.00"
        );
    }

    #[test]
    fn the_local_day_decides_not_the_utc_day() {
        // 23:30 UTC on 13 May is 01:30 on 14 May in Stockholm.
        let now = at("2025-05-12T08:00:00Z");
        assert_eq!(
            due(at("2025-05-13T23:30:00Z"), now),
            "senast onsdag 14 maj kl. 01.30"
        );
        assert_eq!(due(at("2025-05-14T21:59:59Z"), now), "senast onsdag 14 maj");
        assert_eq!(
            moment(at("2025-05-12T23:30:00Z"), now),
            "i morgon kl. 01.30"
        );
    }
}
