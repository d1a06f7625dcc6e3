//! Swedish personal identity numbers: personnummer and samordningsnummer.
//!
//! Staff type numbers in many shapes ("121212-1212", "191212121212", "19121212-1212"), so
//! [`PersonalIdentityNumber::parse`] accepts them all and keeps one canonical form, twelve
//! digits `YYYYMMDDNNNC`, which is what we store, compare and serialise.
//!
//! Rules (Skatteverket; folkbokföringslagen 18 §):
//! - The ten-digit form `YYMMDD-NNNC` has no century. The separator tells it: `-` (or none) means
//!   the person is under 100 years old today, `+` means 100 or older. We therefore need `today`.
//! - The last digit `C` is a Luhn (mod 10) check digit over the ten-digit form `YYMMDDNNN`.
//! - A samordningsnummer (coordination number, for people not registered in Sweden) adds 60 to
//!   the day of birth: days 61–91.
//! - The birth date must exist (29 February only in leap years) and must not be after `today`.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// What exactly is wrong with the shape of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatProblem {
    /// A character that is neither a digit nor a separator (`-`, `+`).
    Character(char),
    /// Wrong number of digits (10 or 12 expected).
    Length(usize),
    /// A separator that is not directly before the last four digits, or more than one.
    Separator,
    /// `+` (100 years or older) together with a four-digit year.
    PlusWithFullYear,
}

/// What exactly is wrong with the date part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    /// The month is not 01–12.
    Month(u32),
    /// The day is 00, or 32–60, or above 91.
    DayOutOfRange(u32),
    /// The day does not exist in that month and year (e.g. 31 April, 29 February 1900).
    NoSuchDay { year: i32, month: u32, day: u32 },
}

/// Why a personnummer was refused. [`PinError::message`] tells the user which part is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("empty personal identity number")]
    Empty,
    #[error("invalid format: {0:?}")]
    InvalidFormat(FormatProblem),
    #[error("invalid date: {0:?}")]
    InvalidDate(DateProblem),
    #[error("check digit does not match")]
    InvalidCheckDigit,
    #[error("birth date {0} is in the future")]
    InFuture(NaiveDate),
}

impl PinError {
    /// Stable machine-readable code, the same for every variant.
    pub fn code(&self) -> &'static str {
        "invalid_personal_identity_number"
    }

    /// What is wrong, in Swedish, precise enough for the user to correct it.
    pub fn message(&self) -> String {
        match self {
            PinError::Empty => "Personnummer saknas.".to_string(),
            PinError::InvalidFormat(FormatProblem::Character(c)) => format!(
                "Personnumret innehåller tecknet \u{201d}{c}\u{201d}. Det får bara innehålla siffror och \
                 eventuellt bindestreck eller plustecken före de fyra sista siffrorna."
            ),
            PinError::InvalidFormat(FormatProblem::Length(n)) => format!(
                "Personnumret ska ha 10 siffror (ÅÅMMDD-NNNN) eller 12 siffror (ÅÅÅÅMMDD-NNNN), \
                 men har {n}."
            ),
            PinError::InvalidFormat(FormatProblem::Separator) => {
                "Bindestreck eller plustecken får bara stå en gång, direkt före de fyra sista \
                 siffrorna (ÅÅMMDD-NNNN)."
                    .to_string()
            }
            PinError::InvalidFormat(FormatProblem::PlusWithFullYear) => {
                "Plustecken (100 år eller äldre) används bara med tvåsiffrigt år (ÅÅMMDD+NNNN). \
                 Med fyrsiffrigt år skrivs ÅÅÅÅMMDD-NNNN."
                    .to_string()
            }
            PinError::InvalidDate(DateProblem::Month(m)) => {
                format!("Månaden i personnumret är {m:02}, men den måste vara 01–12.")
            }
            PinError::InvalidDate(DateProblem::DayOutOfRange(d)) => format!(
                "Dagen i personnumret är {d:02}, men den måste vara 01–31 \
                 (61–91 för ett samordningsnummer)."
            ),
            PinError::InvalidDate(DateProblem::NoSuchDay { year, month, day }) => {
                if *month == 2 && *day == 29 {
                    format!("{year} var inget skottår, så den 29 februari {year} finns inte.")
                } else {
                    format!(
                        "Datumet {day} {} {year} finns inte.",
                        crate::time::month_name(*month)
                    )
                }
            }
            PinError::InvalidCheckDigit => {
                "Kontrollsiffran stämmer inte: personnumret är felskrivet.".to_string()
            }
            PinError::InFuture(date) => {
                format!("Födelsedatumet {date} ligger i framtiden.")
            }
        }
    }
}

/// A valid Swedish personnummer or samordningsnummer, stored as twelve ASCII digits
/// `YYYYMMDDNNNC` (a samordningsnummer keeps its day + 60).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonalIdentityNumber {
    digits: [u8; 12],
}

/// The Luhn check digit over nine digits (the ten-digit form without its last digit).
fn luhn_check_digit(nine: &[u8]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let weight = if i % 2 == 0 { 2 } else { 1 };
            let p = u32::from(*d) * weight;
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Digit values (0–9) to a number.
fn number(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, d| acc * 10 + u32::from(*d))
}

/// The shape of the input once separators are understood.
struct Shape {
    digits: Vec<u8>,
    plus: bool,
}

fn split(input: &str) -> Result<Shape, PinError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(PinError::Empty);
    }
    let mut digits = Vec::with_capacity(12);
    let mut separator: Option<(char, usize)> = None;
    for c in s.chars() {
        match c {
            '0'..='9' => digits.push(c as u8 - b'0'),
            '-' | '+' => {
                if separator.is_some() {
                    return Err(PinError::InvalidFormat(FormatProblem::Separator));
                }
                separator = Some((c, digits.len()));
            }
            other => return Err(PinError::InvalidFormat(FormatProblem::Character(other))),
        }
    }
    if digits.len() != 10 && digits.len() != 12 {
        return Err(PinError::InvalidFormat(FormatProblem::Length(digits.len())));
    }
    let plus = match separator {
        None => false,
        Some((c, at)) => {
            if at + 4 != digits.len() {
                return Err(PinError::InvalidFormat(FormatProblem::Separator));
            }
            if c == '+' && digits.len() == 12 {
                return Err(PinError::InvalidFormat(FormatProblem::PlusWithFullYear));
            }
            c == '+'
        }
    };
    Ok(Shape { digits, plus })
}

/// Checks month and day ranges of `MMDD` (day may be + 60) and returns (month, real day).
fn month_and_day(mmdd: &[u8]) -> Result<(u32, u32), PinError> {
    let month = number(&mmdd[0..2]);
    let raw_day = number(&mmdd[2..4]);
    if !(1..=12).contains(&month) {
        return Err(PinError::InvalidDate(DateProblem::Month(month)));
    }
    let day = match raw_day {
        1..=31 => raw_day,
        61..=91 => raw_day - 60,
        _ => return Err(PinError::InvalidDate(DateProblem::DayOutOfRange(raw_day))),
    };
    Ok((month, day))
}

fn date(year: i32, month: u32, day: u32) -> Result<NaiveDate, PinError> {
    NaiveDate::from_ymd_opt(year, month, day).ok_or(PinError::InvalidDate(DateProblem::NoSuchDay {
        year,
        month,
        day,
    }))
}

fn check(ten: &[u8]) -> Result<(), PinError> {
    if luhn_check_digit(&ten[0..9]) == ten[9] {
        Ok(())
    } else {
        Err(PinError::InvalidCheckDigit)
    }
}

fn build(year: i32, rest: &[u8]) -> PersonalIdentityNumber {
    // year is 0..=9999 here: four digits in, or a century chosen near `today`.
    let y = year.clamp(0, 9999) as u32;
    let mut digits = [0u8; 12];
    digits[0] = b'0' + (y / 1000) as u8;
    digits[1] = b'0' + (y / 100 % 10) as u8;
    digits[2] = b'0' + (y / 10 % 10) as u8;
    digits[3] = b'0' + (y % 10) as u8;
    for (slot, d) in digits[4..].iter_mut().zip(rest) {
        *slot = b'0' + d;
    }
    PersonalIdentityNumber { digits }
}

impl PersonalIdentityNumber {
    /// Parses any accepted form (see the module docs). `today` decides the century of the
    /// ten-digit form and rejects birth dates in the future.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, PinError> {
        let Shape { digits, plus } = split(input)?;
        let pin = if digits.len() == 12 {
            let (month, day) = month_and_day(&digits[4..8])?;
            let year = number(&digits[0..4]) as i32;
            let birth = date(year, month, day)?;
            check(&digits[2..12])?;
            if birth > today {
                return Err(PinError::InFuture(birth));
            }
            build(year, &digits[4..12])
        } else {
            let (month, day) = month_and_day(&digits[2..6])?;
            let yy = number(&digits[0..2]) as i32;
            // The latest year ending in `yy` that is not after today's year…
            let mut year = today.year() - (today.year() - yy).rem_euclid(100);
            // …moved back a century if the birthday would still lie ahead this year,
            if year == today.year() && (month, day) > (today.month(), today.day()) {
                year -= 100;
            }
            // …and another century for `+` (100 years or older).
            if plus {
                year -= 100;
            }
            date(year, month, day)?;
            check(&digits)?;
            build(year, &digits[2..10])
        };
        Ok(pin)
    }

    /// The date of birth (for a samordningsnummer the day without the + 60).
    pub fn birth_date(&self) -> NaiveDate {
        let digit = |i: usize| u32::from(self.digits[i] - b'0');
        let two = |i: usize| digit(i) * 10 + digit(i + 1);
        let year = (two(0) * 100 + two(2)) as i32;
        let month = two(4);
        let raw_day = two(6);
        let day = if raw_day > 60 { raw_day - 60 } else { raw_day };
        // Construction guarantees a valid date.
        NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
    }

    /// Whether this is a samordningsnummer (day of birth + 60).
    pub fn is_coordination_number(&self) -> bool {
        self.digits[6] >= b'6'
    }

    /// Age in full years on `date` (0 if `date` is before the birth date).
    ///
    /// Someone born on 29 February turns a year older on 28 February in common years: a period
    /// counted in years ends on the day with the same number, or on the last day of the month
    /// when that day does not exist (lag (1930:173) om beräkning av lagstadgad tid, 1 §).
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        let birth = self.birth_date();
        if date < birth {
            return 0;
        }
        let mut years = date.year() - birth.year();
        let birthday_this_year = if (birth.month(), birth.day()) == (2, 29) && !date.leap_year() {
            (2, 28)
        } else {
            (birth.month(), birth.day())
        };
        if (date.month(), date.day()) < birthday_this_year {
            years -= 1;
        }
        years.max(0) as u32
    }

    /// Whether the person is a child (under 18) on `date`: then the guardians consent.
    pub fn is_child_on(&self, date: NaiveDate) -> bool {
        self.age_on(date) < 18
    }

    /// The 18th birthday: the first day [`is_child_on`](Self::is_child_on) is false (28
    /// February for someone born on 29 February, as in [`age_on`](Self::age_on)).
    pub fn adult_on(&self) -> NaiveDate {
        self.birth_date()
            .checked_add_months(chrono::Months::new(18 * 12))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The canonical twelve digits `YYYYMMDDNNNC`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored, so this is always valid UTF-8.
        std::str::from_utf8(&self.digits).unwrap_or("")
    }

    /// The readable form `YYYYMMDD-NNNC`.
    pub fn formatted(&self) -> String {
        let s = self.as_str();
        format!("{}-{}", &s[..8], &s[8..])
    }
}

impl fmt::Display for PersonalIdentityNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

/// Parses the canonical twelve-digit form `YYYYMMDDNNNC` only (no separator, no `today`): for
/// values we stored ourselves. The date must exist and the check digit match; whether the date
/// lies in the future is not checked (that needs a clock).
pub fn parse_canonical(s: &str) -> Result<PersonalIdentityNumber, PinError> {
    if s.is_empty() {
        return Err(PinError::Empty);
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(PinError::InvalidFormat(FormatProblem::Character(c)));
    }
    if s.len() != 12 {
        return Err(PinError::InvalidFormat(FormatProblem::Length(s.len())));
    }
    let digits: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
    let (month, day) = month_and_day(&digits[4..8])?;
    let year = number(&digits[0..4]) as i32;
    date(year, month, day)?;
    check(&digits[2..12])?;
    Ok(build(year, &digits[4..12]))
}

impl TryFrom<String> for PersonalIdentityNumber {
    type Error = PinError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        parse_canonical(&s)
    }
}

impl From<PersonalIdentityNumber> for String {
    fn from(p: PersonalIdentityNumber) -> String {
        p.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_of_known_number() {
        // 121212121 -> weights 2,1,2,… give nine 2s = 18 -> check digit 2.
        assert_eq!(luhn_check_digit(&[1, 2, 1, 2, 1, 2, 1, 2, 1]), 2);
    }
}
