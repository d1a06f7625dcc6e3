//! A moment in a query, as a person writes it: a time with its zone (RFC 3339) or a day
//! (`YYYY-MM-DD`, API.md's dates), the day read on the Swedish clock. What a day means depends on
//! the bound it gives: a period's start is the day's first instant, its (exclusive) end the next
//! day's first instant — so `from=2026-12-01&to=2026-12-31` takes in all of 31 December — and a
//! moment to show something at is the day's end.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

use domain::time::start_of_local_day;

/// What a day stands for in a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayAs {
    /// Its first instant: a period's inclusive start.
    Start,
    /// The next day's first instant: a period's exclusive end that includes the day.
    NextStart,
    /// Its last instant: a moment that includes everything of the day.
    End,
}

/// `raw` as a moment: an RFC 3339 time, or a day taken as `day`. The error is chrono's words
/// for what was wrong, which `extract` turns into the Swedish detail that names the parameter.
pub fn parse(raw: &str, day: DayAs) -> Result<DateTime<Utc>, &'static str> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| "input contains invalid characters")?;
    let next = || {
        date.checked_add_days(Days::new(1))
            .map(start_of_local_day)
            .ok_or("input is out of range")
    };
    match day {
        DayAs::Start => Ok(start_of_local_day(date)),
        DayAs::NextStart => next(),
        DayAs::End => Ok(next()? - chrono::Duration::microseconds(1)),
    }
}

fn optional<'de, D: Deserializer<'de>>(
    d: D,
    day: DayAs,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|raw| parse(&raw, day).map_err(serde::de::Error::custom))
        .transpose()
}

fn required<'de, D: Deserializer<'de>>(d: D, day: DayAs) -> Result<DateTime<Utc>, D::Error> {
    parse(&String::deserialize(d)?, day).map_err(serde::de::Error::custom)
}

/// For `#[serde(deserialize_with)]`: a period's start, a day from its first instant.
pub fn start<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    required(d, DayAs::Start)
}

/// [`start`], optional.
pub fn start_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    optional(d, DayAs::Start)
}

/// For `#[serde(deserialize_with)]`: a period's exclusive end, a day including all of it.
pub fn end<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    required(d, DayAs::NextStart)
}

/// [`end`], optional.
pub fn end_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    optional(d, DayAs::NextStart)
}

/// For `#[serde(deserialize_with)]`: a moment to show something at, a day at its end.
pub fn at_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    optional(d, DayAs::End)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    #[test]
    fn a_day_is_read_on_the_swedish_clock_as_the_bound_needs() {
        // Winter: UTC+1.
        assert_eq!(
            parse("2026-12-01", DayAs::Start),
            Ok(utc("2026-11-30T23:00:00Z"))
        );
        assert_eq!(
            parse("2026-12-31", DayAs::NextStart),
            Ok(utc("2026-12-31T23:00:00Z"))
        );
        assert_eq!(
            parse("2026-12-06", DayAs::End),
            Ok(utc("2026-12-06T22:59:59.999999Z"))
        );
        // Summer: UTC+2; the day the clocks go forward has 23 hours.
        assert_eq!(
            parse("2026-03-29", DayAs::NextStart),
            Ok(utc("2026-03-29T22:00:00Z"))
        );
        // A time keeps its own zone.
        assert_eq!(
            parse("2026-12-01T09:00:00+01:00", DayAs::NextStart),
            Ok(utc("2026-12-01T08:00:00Z"))
        );
        assert!(parse("2026-13-01", DayAs::Start).is_err());
        assert!(parse("1 december", DayAs::Start).is_err());
    }
}
