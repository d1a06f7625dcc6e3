//! The Swedish working-day calendar, for deadlines counted in working days ("arbetsdagar").
//!
//! A working day is a Monday–Friday that is neither a public holiday (helgdag, lagen (1989:253)
//! om allmänna helgdagar) nor one of the de facto days off that Swedish workplaces treat as
//! holidays: midsommarafton, julafton and nyårsafton.
//!
//! Public holidays: nyårsdagen (1/1), trettondedag jul (6/1), långfredagen, påskdagen, annandag
//! påsk, första maj, Kristi himmelsfärdsdag (Easter + 39), pingstdagen (Easter + 49), Sveriges
//! nationaldag (6/6), midsommardagen (the Saturday 20–26 June), alla helgons dag (the Saturday
//! 31 October–6 November), juldagen (25/12) and annandag jul (26/12).
//!
//! History, simplified: the law in force for each year decides between annandag pingst
//! (Easter + 50, a holiday up to and including 2004) and Sveriges nationaldag (a holiday from
//! 2005). Midsommar and alla helgons dag follow today's rule (movable Saturdays, in force since
//! 1953) in every year. Ordinary Sundays are holidays by law but are reported as weekend.
//! Computations are exact and tested for 1900–2200; other Gregorian years work the same way.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// What kind of day a date is, for working-day arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// Monday–Friday and not a holiday.
    WorkingDay,
    /// Saturday or Sunday that is not a named holiday.
    Weekend,
    /// A public holiday by law, with its Swedish name (e.g. "Långfredagen"). Named holidays that
    /// fall on a weekend (påskdagen, midsommardagen, …) are reported here rather than as weekend.
    PublicHoliday(&'static str),
    /// A day that is not a holiday by law but is a day off in practice (e.g. "Midsommarafton").
    DeFactoHoliday(&'static str),
}

/// The year annandag pingst was replaced by Sveriges nationaldag as a public holiday.
const NATIONAL_DAY_FROM_YEAR: i32 = 2005;

/// Easter Sunday in the Gregorian calendar (the anonymous Gregorian algorithm, also known as the
/// Meeus/Jones/Butcher algorithm).
/// The years a date given in a command may fall in: those this calendar is tested for. Every
/// deadline, working-day count and read model counts with the dates it is given, so a date
/// outside them (a typo of the year, or a hostile one) is refused where it enters.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// Whether `date` falls in [`YEARS`].
pub fn covers(date: NaiveDate) -> bool {
    YEARS.contains(&chrono::Datelike::year(&date))
}

pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    ymd(year, month as u32, day as u32)
}

/// Builds a date the caller knows exists (fixed holidays, algorithm outputs). Falls back to
/// 1 January of the year, and then to chrono's minimum date, instead of panicking; that can only
/// happen at the edge of chrono's range, far outside the years this calendar serves.
fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day)
        .or_else(|| NaiveDate::from_ymd_opt(year, 1, 1))
        .unwrap_or(NaiveDate::MIN)
}

fn plus_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(Duration::days(days))
        .unwrap_or(date)
}

/// The first `weekday` on or after `year-month-day`.
fn first_weekday_from(year: i32, month: u32, day: u32, weekday: Weekday) -> NaiveDate {
    let start = ymd(year, month, day);
    let ahead = (7 + i64::from(weekday.num_days_from_monday())
        - i64::from(start.weekday().num_days_from_monday()))
        % 7;
    plus_days(start, ahead)
}

/// Midsommarafton: the Friday between 19 and 25 June.
pub fn midsummer_eve(year: i32) -> NaiveDate {
    first_weekday_from(year, 6, 19, Weekday::Fri)
}

/// Alla helgons dag: the Saturday between 31 October and 6 November.
pub fn all_saints_day(year: i32) -> NaiveDate {
    first_weekday_from(year, 10, 31, Weekday::Sat)
}

/// Whether a holiday is one by law or only in practice.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Public,
    DeFacto,
}

fn holidays_with_kind(year: i32) -> Vec<(NaiveDate, &'static str, Kind)> {
    use Kind::{DeFacto, Public};
    let easter = easter_sunday(year);
    let midsummer = midsummer_eve(year);
    let mut days = vec![
        (ymd(year, 1, 1), "Nyårsdagen", Public),
        (ymd(year, 1, 6), "Trettondedag jul", Public),
        (plus_days(easter, -2), "Långfredagen", Public),
        (easter, "Påskdagen", Public),
        (plus_days(easter, 1), "Annandag påsk", Public),
        (ymd(year, 5, 1), "Första maj", Public),
        (plus_days(easter, 39), "Kristi himmelsfärdsdag", Public),
        (plus_days(easter, 49), "Pingstdagen", Public),
        (midsummer, "Midsommarafton", DeFacto),
        (plus_days(midsummer, 1), "Midsommardagen", Public),
        (all_saints_day(year), "Alla helgons dag", Public),
        (ymd(year, 12, 24), "Julafton", DeFacto),
        (ymd(year, 12, 25), "Juldagen", Public),
        (ymd(year, 12, 26), "Annandag jul", Public),
        (ymd(year, 12, 31), "Nyårsafton", DeFacto),
    ];
    if year >= NATIONAL_DAY_FROM_YEAR {
        days.push((ymd(year, 6, 6), "Sveriges nationaldag", Public));
    } else {
        days.push((plus_days(easter, 50), "Annandag pingst", Public));
    }
    // Stable sort: when two holidays share a date (Kristi himmelsfärdsdag on 1 May, as in 2008),
    // both stay listed, in the order above.
    days.sort_by_key(|(date, _, _)| *date);
    days
}

/// All public and de facto holidays of `year`, sorted by date, with their Swedish names.
/// Two holidays can share a date (Kristi himmelsfärdsdag fell on första maj in 2008); both are
/// listed then.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    holidays_with_kind(year)
        .into_iter()
        .map(|(date, name, _)| (date, name))
        .collect()
}

fn kind_in(date: NaiveDate, year_holidays: &[(NaiveDate, &'static str, Kind)]) -> DayKind {
    // Prefer a public holiday over a de facto one if both fall on the same date.
    let mut found = None;
    for (d, name, kind) in year_holidays {
        if *d == date {
            match kind {
                Kind::Public => return DayKind::PublicHoliday(name),
                Kind::DeFacto => found = found.or(Some(DayKind::DeFactoHoliday(name))),
            }
        }
    }
    if let Some(kind) = found {
        return kind;
    }
    match date.weekday() {
        Weekday::Sat | Weekday::Sun => DayKind::Weekend,
        _ => DayKind::WorkingDay,
    }
}

/// The kind of `date`: a named holiday wins over weekend, so påskdagen is `PublicHoliday`.
pub fn day_kind(date: NaiveDate) -> DayKind {
    kind_in(date, &holidays_with_kind(date.year()))
}

/// Whether `date` is a Swedish working day.
pub fn is_working_day(date: NaiveDate) -> bool {
    day_kind(date) == DayKind::WorkingDay
}

/// Walks day by day and keeps one year's holidays at hand, so long spans stay cheap.
struct Walker {
    year: i32,
    holidays: Vec<(NaiveDate, &'static str, Kind)>,
}

impl Walker {
    fn new(date: NaiveDate) -> Self {
        Walker {
            year: date.year(),
            holidays: holidays_with_kind(date.year()),
        }
    }

    fn is_working_day(&mut self, date: NaiveDate) -> bool {
        if date.year() != self.year {
            self.year = date.year();
            self.holidays = holidays_with_kind(self.year);
        }
        kind_in(date, &self.holidays) == DayKind::WorkingDay
    }
}

/// The `n`-th working day after `from` (`from` itself is never counted).
///
/// - `n >= 1`: counts forward; the result is always a working day and
///   `working_days_between(from, result) == n`. Example: 3 working days after Wednesday
///   2026-12-23 is 2026-12-30 (24 julafton, 25–27 holidays and weekend, 28 = 1, 29 = 2, 30 = 3).
/// - `n == 0`: `from` if it is a working day, otherwise the next working day ("no later than
///   the next working day").
///
/// Saturates at chrono's maximum date instead of overflowing.
pub fn add_working_days(from: NaiveDate, n: u32) -> NaiveDate {
    let mut walker = Walker::new(from);
    if n == 0 && walker.is_working_day(from) {
        return from;
    }
    let target = n.max(1);
    let mut date = from;
    let mut counted = 0;
    while counted < target {
        match date.succ_opt() {
            Some(next) => date = next,
            None => return date,
        }
        if walker.is_working_day(date) {
            counted += 1;
        }
    }
    date
}

/// The number of working days `d` with `from < d <= to`; negative (minus the count of
/// `to < d <= from`) when `to` is before `from`, zero when they are equal.
///
/// For `n >= 1` (and for `n == 0` when `from` is a working day)
/// `working_days_between(from, add_working_days(from, n)) == n`.
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let (start, end, sign) = if to >= from {
        (from, to, 1)
    } else {
        (to, from, -1)
    };
    let mut walker = Walker::new(start);
    let mut count = 0_i64;
    let mut date = start;
    while date < end {
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
        if walker.is_working_day(date) {
            count += 1;
        }
    }
    sign * count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_saints_day_is_a_saturday_in_its_window() {
        for year in 1900..=2200 {
            let d = all_saints_day(year);
            assert_eq!(d.weekday(), Weekday::Sat);
            assert!(d >= ymd(year, 10, 31) && d <= ymd(year, 11, 6), "{d}");
        }
    }
}
