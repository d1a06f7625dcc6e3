//! Tests for the value modules of the domain: personnummer, Swedish local time, the working-day
//! calendar, policy profiles and sub-goal headings.
//!
//! Expected values come from sources independent of the code under test: check digits are
//! computed by hand in the comments (and by a differently written Luhn check below), Easter by
//! Gauss's formula instead of the Meeus algorithm the crate uses, and calendar facts from the
//! published Swedish calendar.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use domain::calendar::{
    add_working_days, day_kind, easter_sunday, holidays, is_working_day, midsummer_eve,
    working_days_between, DayKind,
};
use domain::heading::Heading;
use domain::personnummer::{
    parse_canonical, DateProblem, FormatProblem, PersonalIdentityNumber, PinError,
};
use domain::policy::{PolicyName, PolicyProfile, PolicySet, Track};
use domain::time::{end_of_local_day, local_date, local_to_utc, stockholm_offset, to_local};
use proptest::prelude::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid test instant")
        .with_timezone(&Utc)
}

fn hms(h: u32, m: u32, s: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, s).expect("valid test time")
}

/// "Today" for the personnummer tests.
fn today() -> NaiveDate {
    d(2026, 11, 22)
}

fn pin(s: &str) -> PersonalIdentityNumber {
    PersonalIdentityNumber::parse(s, today()).unwrap_or_else(|e| panic!("{s}: {}", e.message()))
}

fn pin_err(s: &str) -> PinError {
    match PersonalIdentityNumber::parse(s, today()) {
        Ok(p) => panic!("{s} was accepted as {p}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// Personnummer
// ---------------------------------------------------------------------------------------------

/// Luhn validity written the textbook way (from the right, double every second digit), unlike
/// the crate's left-to-right check-digit computation.
fn luhn_valid(ten: &[u8]) -> bool {
    let sum: u32 = ten
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &digit)| {
            let v = u32::from(digit);
            if i % 2 == 1 {
                let doubled = v * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                v
            }
        })
        .sum();
    sum % 10 == 0
}

/// The check digit that makes YYMMDDNNN + C valid, found by trying all ten.
fn check_digit_for(nine: &[u8]) -> u8 {
    (0..10u8)
        .find(|c| {
            let mut ten = nine.to_vec();
            ten.push(*c);
            luhn_valid(&ten)
        })
        .expect("one of ten digits always completes a Luhn number")
}

#[test]
fn skatteverket_example_parses_in_every_accepted_form() {
    // 19121212-1212: over 121212121 the weights 2,1,2,… give 2+2+2+2+2+2+2+2+2 = 18,
    // so the check digit is (10 - 8) % 10 = 2.
    for input in [
        "19121212-1212",
        "191212121212",
        "  19121212-1212\t",
        // On 2011-01-01 someone born 1912-12-12 is 98, so the short form uses "-" (or none).
        "121212-1212",
        "1212121212 ",
    ] {
        let p = PersonalIdentityNumber::parse(input, d(2011, 1, 1))
            .unwrap_or_else(|e| panic!("{input}: {}", e.message()));
        assert_eq!(p.as_str(), "191212121212", "{input}");
        assert_eq!(p.birth_date(), d(1912, 12, 12));
        assert_eq!(p.formatted(), "19121212-1212");
        assert_eq!(p.to_string(), "19121212-1212");
        assert!(!p.is_coordination_number());
    }
}

#[test]
fn ten_digit_form_takes_the_century_that_makes_the_person_under_100() {
    // On 2026-11-22, "121212-1212" is a 13-year-old born 2012; with "+" the same digits mean
    // someone born 1912.
    assert_eq!(pin("121212-1212").birth_date(), d(2012, 12, 12));
    assert_eq!(pin("1212121212").birth_date(), d(2012, 12, 12));
    assert_eq!(pin("121212+1212").birth_date(), d(1912, 12, 12));
    // Born today: 261122123 -> 4+6+2+1+4+2+2+2+6 = 29 -> check 1.
    let newborn = pin("261122-1231");
    assert_eq!(newborn.birth_date(), today());
    assert_eq!(newborn.age_on(today()), 0);
    // Birthday tomorrow: not yet born in 2026, so 1926 and 99 years old.
    // 261123123 -> 4+6+2+1+4+3+2+2+6 = 30 -> check 0.
    let old = pin("261123-1230");
    assert_eq!(old.birth_date(), d(1926, 11, 23));
    assert_eq!(old.age_on(today()), 99);
    assert_eq!(old.age_on(d(2026, 11, 23)), 100);
}

#[test]
fn child_becomes_adult_on_the_18th_birthday() {
    // 20080903-2386: 080903238 -> 0+8+0+9+0+3+4+3+(16 -> 1+6 = 7) = 34 -> check 6.
    let p = pin("20080903-2386");
    assert_eq!(p.birth_date(), d(2008, 9, 3));
    assert_eq!(p.age_on(d(2026, 9, 2)), 17);
    assert!(p.is_child_on(d(2026, 9, 2)));
    assert_eq!(p.age_on(d(2026, 9, 3)), 18);
    assert!(!p.is_child_on(d(2026, 9, 3)));
    assert_eq!(p.adult_on(), d(2026, 9, 3));
    assert_eq!(pin("080903-2386"), p);
}

#[test]
fn person_born_1890_needs_plus_in_the_short_form() {
    // 189001019802: 900101980 -> (18 -> 9)+0+0+1+0+1+(18 -> 9)+8+0 = 28 -> check 2.
    let p = pin("189001019802");
    assert_eq!(pin("900101+9802"), p);
    assert_eq!(p.age_on(today()), 136);
    // Without the plus the same digits are someone born in 1990.
    assert_eq!(pin("900101-9802").birth_date(), d(1990, 1, 1));
}

#[test]
fn samordningsnummer_adds_60_to_the_day() {
    // 701063-2391: 701063239 -> (14 -> 5)+0+2+0+(12 -> 3)+3+4+3+(18 -> 9) = 29 -> check 1.
    let p = pin("701063-2391");
    assert!(p.is_coordination_number());
    assert_eq!(p.birth_date(), d(1970, 10, 3));
    assert_eq!(p.as_str(), "197010632391");
    assert_eq!(p.formatted(), "19701063-2391");
    // Day 32–60 is neither a day nor a coordination day.
    assert_eq!(
        pin_err("701043-2391"),
        PinError::InvalidDate(DateProblem::DayOutOfRange(43))
    );
}

#[test]
fn leap_day_exists_in_2000_but_not_in_1900() {
    // 000229123 -> 0+0+0+2+4+9+2+2+6 = 25 -> check 5.
    let p = pin("20000229-1235");
    assert_eq!(p.birth_date(), d(2000, 2, 29));
    assert_eq!(pin("000229-1235"), p);
    let err = pin_err("19000229-1235");
    assert_eq!(
        err,
        PinError::InvalidDate(DateProblem::NoSuchDay {
            year: 1900,
            month: 2,
            day: 29
        })
    );
    assert!(
        err.message().contains("1900 var inget skottår"),
        "{}",
        err.message()
    );
    // "+" puts the short form in 1900 as well.
    assert!(matches!(pin_err("000229+1235"), PinError::InvalidDate(_)));
    // Born on a leap day: one year older on 28 February in common years (lag (1930:173) 1 §:
    // when the day does not exist, the period ends on the last day of the month).
    assert_eq!(p.age_on(d(2018, 2, 27)), 17);
    assert!(p.is_child_on(d(2018, 2, 27)));
    assert_eq!(p.age_on(d(2018, 2, 28)), 18);
    assert!(!p.is_child_on(d(2018, 2, 28)));
    assert_eq!(p.adult_on(), d(2018, 2, 28));
    // In leap years the birthday is 29 February itself.
    assert_eq!(p.age_on(d(2020, 2, 28)), 19);
    assert_eq!(p.age_on(d(2020, 2, 29)), 20);
}

#[test]
fn wrong_check_digit_is_reported_as_a_typo() {
    let err = pin_err("19121212-1213");
    assert_eq!(err, PinError::InvalidCheckDigit);
    assert_eq!(err.code(), "invalid_personal_identity_number");
    assert_eq!(
        err.message(),
        "Kontrollsiffran stämmer inte: personnumret är felskrivet."
    );
}

#[test]
fn impossible_dates_name_the_wrong_part() {
    let month = pin_err("19121312-1212");
    assert_eq!(month, PinError::InvalidDate(DateProblem::Month(13)));
    assert!(month.message().contains("Månaden"), "{}", month.message());
    let zero_day = pin_err("19121200-1212");
    assert_eq!(
        zero_day,
        PinError::InvalidDate(DateProblem::DayOutOfRange(0))
    );
    assert!(
        zero_day.message().contains("Dagen"),
        "{}",
        zero_day.message()
    );
    let april = pin_err("19120431-1212");
    assert!(
        april.message().contains("31 april 1912"),
        "{}",
        april.message()
    );
}

#[test]
fn birth_date_after_today_is_refused() {
    // 300101123 -> 6+0+0+1+0+1+2+2+6 = 18 -> check 2.
    let err = pin_err("20300101-1232");
    assert_eq!(err, PinError::InFuture(d(2030, 1, 1)));
    assert!(err.message().contains("framtiden"), "{}", err.message());
    // The short form never lands in the future: it means 1930.
    assert_eq!(pin("300101-1232").birth_date(), d(1930, 1, 1));
}

#[test]
fn malformed_input_says_what_is_wrong() {
    assert_eq!(pin_err(""), PinError::Empty);
    assert_eq!(pin_err("   "), PinError::Empty);
    assert_eq!(
        pin_err("19121212-12A2"),
        PinError::InvalidFormat(FormatProblem::Character('A'))
    );
    assert_eq!(
        pin_err("abc"),
        PinError::InvalidFormat(FormatProblem::Character('a'))
    );
    assert_eq!(
        pin_err("1912121-1212"),
        PinError::InvalidFormat(FormatProblem::Length(11))
    );
    assert_eq!(
        pin_err("1912-12121212"),
        PinError::InvalidFormat(FormatProblem::Separator)
    );
    assert_eq!(
        pin_err("121212--1212"),
        PinError::InvalidFormat(FormatProblem::Separator)
    );
    assert_eq!(
        pin_err("19121212+1212"),
        PinError::InvalidFormat(FormatProblem::PlusWithFullYear)
    );
    for e in [
        PinError::Empty,
        PinError::InvalidFormat(FormatProblem::Length(3)),
        PinError::InFuture(today()),
    ] {
        assert_eq!(e.code(), "invalid_personal_identity_number");
        assert!(!e.message().is_empty());
    }
    assert!(pin_err("1912121-1212").message().contains("har 11"));
}

#[test]
fn serialises_as_the_canonical_twelve_digits() {
    let p = pin("121212+1212");
    let json = serde_json::to_string(&p).expect("serialise");
    assert_eq!(json, "\"191212121212\"");
    let back: PersonalIdentityNumber = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, p);
    // Only the canonical form is accepted when reading stored data.
    assert!(serde_json::from_str::<PersonalIdentityNumber>("\"19121212-1212\"").is_err());
    assert!(serde_json::from_str::<PersonalIdentityNumber>("\"191212121213\"").is_err());
    assert_eq!(parse_canonical("191212121212"), Ok(p));
    assert_eq!(
        parse_canonical("1212121212"),
        Err(PinError::InvalidFormat(FormatProblem::Length(10)))
    );
}

/// A valid number: birth date, serial 000–999, personnummer or samordningsnummer.
fn valid_number() -> impl Strategy<Value = String> {
    // 1890-01-01 .. 2026-11-22 (not after `today()`).
    let span = (today() - d(1890, 1, 1)).num_days();
    (0..=span, 0u32..1000, any::<bool>()).prop_map(|(offset, serial, coordination)| {
        let birth = d(1890, 1, 1) + Duration::days(offset);
        let day = birth.day() + if coordination { 60 } else { 0 };
        let nine = format!(
            "{:02}{:02}{:02}{:03}",
            birth.year() % 100,
            birth.month(),
            day,
            serial
        );
        let digits: Vec<u8> = nine.bytes().map(|b| b - b'0').collect();
        format!("{}{}{}", birth.year() / 100, nine, check_digit_for(&digits))
    })
}

proptest! {
    #[test]
    fn valid_numbers_round_trip(twelve in valid_number()) {
        let p = PersonalIdentityNumber::parse(&twelve, today())
            .map_err(|e| TestCaseError::fail(e.message()))?;
        prop_assert_eq!(p.as_str(), twelve.as_str());
        prop_assert_eq!(PersonalIdentityNumber::parse(&p.formatted(), today()), Ok(p));
        prop_assert_eq!(parse_canonical(p.as_str()), Ok(p));
        // The short form with the separator a person would write gives the same number.
        let separator = if p.age_on(today()) >= 100 { '+' } else { '-' };
        let short = format!("{}{}{}", &twelve[2..8], separator, &twelve[8..]);
        prop_assert_eq!(PersonalIdentityNumber::parse(&short, today()), Ok(p));
    }

    #[test]
    fn any_single_digit_typo_is_detected(
        twelve in valid_number(),
        position in 2usize..12,
        bump in 1u8..10,
    ) {
        // The check digit covers the ten-digit form YYMMDDNNNC (positions 2..12); the century
        // digits are outside it, so a typo there can only be caught by the date rules.
        let mut bytes = twelve.into_bytes();
        bytes[position] = b'0' + (bytes[position] - b'0' + bump) % 10;
        let typo = String::from_utf8(bytes).expect("ascii");
        prop_assert!(PersonalIdentityNumber::parse(&typo, today()).is_err(), "{} accepted", typo);
        prop_assert!(PersonalIdentityNumber::parse(&typo[2..], today()).is_err(), "{} accepted", typo);
    }
}

// ---------------------------------------------------------------------------------------------
// Swedish local time
// ---------------------------------------------------------------------------------------------

#[test]
fn winter_and_summer_offsets() {
    assert_eq!(
        to_local(utc("2026-01-15T12:00:00Z")).to_rfc3339(),
        "2026-01-15T13:00:00+01:00"
    );
    assert_eq!(
        to_local(utc("2026-07-01T12:00:00Z")).to_rfc3339(),
        "2026-07-01T14:00:00+02:00"
    );
}

#[test]
fn summer_time_starts_and_ends_at_one_utc_on_the_last_sundays() {
    // Published Swedish switch dates: 2024-03-31/10-27, 2025-03-30/10-26, 2026-03-29/10-25.
    for (spring, autumn) in [
        ("2024-03-31", "2024-10-27"),
        ("2025-03-30", "2025-10-26"),
        ("2026-03-29", "2026-10-25"),
    ] {
        let before = |day: &str| utc(&format!("{day}T00:59:59Z"));
        let at = |day: &str| utc(&format!("{day}T01:00:00Z"));
        assert_eq!(stockholm_offset(before(spring)).local_minus_utc(), 3600);
        assert_eq!(stockholm_offset(at(spring)).local_minus_utc(), 7200);
        assert_eq!(stockholm_offset(before(autumn)).local_minus_utc(), 7200);
        assert_eq!(stockholm_offset(at(autumn)).local_minus_utc(), 3600);
    }
}

#[test]
fn local_date_follows_swedish_midnight() {
    assert_eq!(local_date(utc("2026-12-31T22:59:59Z")), d(2026, 12, 31));
    assert_eq!(local_date(utc("2026-12-31T23:00:00Z")), d(2027, 1, 1));
    assert_eq!(local_date(utc("2026-07-01T21:59:59Z")), d(2026, 7, 1));
    assert_eq!(local_date(utc("2026-07-01T22:00:00Z")), d(2026, 7, 2));
}

#[test]
fn end_of_day_is_235959_swedish_time() {
    assert_eq!(
        end_of_local_day(d(2026, 1, 15)),
        utc("2026-01-15T22:59:59Z")
    );
    assert_eq!(end_of_local_day(d(2026, 7, 1)), utc("2026-07-01T21:59:59Z"));
    // On the switch days the evening is already in the new offset.
    assert_eq!(
        end_of_local_day(d(2026, 3, 29)),
        utc("2026-03-29T21:59:59Z")
    );
    assert_eq!(
        end_of_local_day(d(2026, 10, 25)),
        utc("2026-10-25T22:59:59Z")
    );
}

#[test]
fn irregular_wall_clock_hours_resolve_to_the_earlier_instant() {
    // 02:30 on 2026-10-25 happens twice (00:30 UTC in CEST, 01:30 UTC in CET): the first.
    assert_eq!(
        local_to_utc(d(2026, 10, 25), hms(2, 30, 0)),
        utc("2026-10-25T00:30:00Z")
    );
    // 02:30 on 2026-03-29 never happens: the clocks jump from 02:00 CET to 03:00 CEST.
    assert_eq!(
        local_to_utc(d(2026, 3, 29), hms(2, 30, 0)),
        utc("2026-03-29T01:00:00Z")
    );
    assert_eq!(
        local_to_utc(d(2026, 3, 29), hms(3, 0, 0)),
        utc("2026-03-29T01:00:00Z")
    );
    assert_eq!(
        local_to_utc(d(2026, 3, 29), hms(1, 59, 59)),
        utc("2026-03-29T00:59:59Z")
    );
}

proptest! {
    #[test]
    fn wall_clock_round_trips(seconds in 820_454_400i64..4_102_444_800i64) {
        // 1996-01-01 .. 2100-01-01
        let instant = DateTime::from_timestamp(seconds, 0).expect("in range");
        let wall = to_local(instant).naive_local();
        let back = local_to_utc(wall.date(), wall.time());
        if back != instant {
            // Only the second pass through the repeated autumn hour maps to the first pass.
            prop_assert_eq!(back, instant - Duration::hours(1));
            prop_assert_eq!(stockholm_offset(back).local_minus_utc(), 7200);
            prop_assert_eq!(stockholm_offset(instant).local_minus_utc(), 3600);
        }
        prop_assert_eq!(local_date(end_of_local_day(wall.date())), wall.date());
        prop_assert!(end_of_local_day(wall.date()) >= instant);
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------------------------

/// Easter Sunday by Gauss's formula (extended form with the Gregorian corrections), written
/// independently of the crate's Meeus algorithm.
fn gauss_easter(x: i32) -> NaiveDate {
    let k = x / 100;
    let m = 15 + (3 * k + 3) / 4 - (8 * k + 13) / 25;
    let s = 2 - (3 * k + 3) / 4;
    let a = x % 19;
    let dd = (19 * a + m) % 30;
    let r = (dd + a / 11) / 29;
    let og = 21 + dd - r;
    let sz = 7 - (x + x / 4 + s) % 7;
    let oe = 7 - (og - sz).rem_euclid(7);
    let march_day = og + oe; // 32 means 1 April
    d(x, 3, 1) + Duration::days(i64::from(march_day - 1))
}

#[test]
fn easter_in_known_years() {
    for (year, expected) in [
        (1900, d(1900, 4, 15)),
        (1961, d(1961, 4, 2)),
        (2000, d(2000, 4, 23)),
        (2008, d(2008, 3, 23)),
        (2024, d(2024, 3, 31)),
        (2025, d(2025, 4, 20)),
        (2026, d(2026, 4, 5)),
        (2038, d(2038, 4, 25)),
        (2100, d(2100, 3, 28)),
        (2200, d(2200, 4, 6)),
    ] {
        assert_eq!(gauss_easter(year), expected, "Gauss, {year}");
        assert_eq!(easter_sunday(year), expected, "{year}");
    }
}

#[test]
fn easter_agrees_with_gauss_for_1900_to_2200() {
    for year in 1900..=2200 {
        let easter = easter_sunday(year);
        assert_eq!(easter, gauss_easter(year), "{year}");
        assert_eq!(easter.weekday(), Weekday::Sun, "{year}");
        assert!(
            easter >= d(year, 3, 22) && easter <= d(year, 4, 25),
            "{year}"
        );
    }
}

#[test]
fn midsummer_eve_is_the_friday_between_19_and_25_june() {
    assert_eq!(midsummer_eve(2026), d(2026, 6, 19));
    assert_eq!(midsummer_eve(2027), d(2027, 6, 25));
    assert_eq!(midsummer_eve(2025), d(2025, 6, 20));
    for year in 1900..=2200 {
        let eve = midsummer_eve(year);
        assert_eq!(eve.weekday(), Weekday::Fri, "{year}");
        assert!(eve >= d(year, 6, 19) && eve <= d(year, 6, 25), "{year}");
    }
}

#[test]
fn holidays_of_2026() {
    let expected = vec![
        (d(2026, 1, 1), "Nyårsdagen"),
        (d(2026, 1, 6), "Trettondedag jul"),
        (d(2026, 4, 3), "Långfredagen"),
        (d(2026, 4, 5), "Påskdagen"),
        (d(2026, 4, 6), "Annandag påsk"),
        (d(2026, 5, 1), "Första maj"),
        (d(2026, 5, 14), "Kristi himmelsfärdsdag"),
        (d(2026, 5, 24), "Pingstdagen"),
        (d(2026, 6, 6), "Sveriges nationaldag"),
        (d(2026, 6, 19), "Midsommarafton"),
        (d(2026, 6, 20), "Midsommardagen"),
        (d(2026, 10, 31), "Alla helgons dag"),
        (d(2026, 12, 24), "Julafton"),
        (d(2026, 12, 25), "Juldagen"),
        (d(2026, 12, 26), "Annandag jul"),
        (d(2026, 12, 31), "Nyårsafton"),
    ];
    assert_eq!(holidays(2026), expected);
}

#[test]
fn whit_monday_until_2004_national_day_from_2005() {
    // Easter 2004 was 11 April, so annandag pingst was 31 May.
    let h2004 = holidays(2004);
    assert!(h2004.contains(&(d(2004, 5, 31), "Annandag pingst")));
    assert!(!h2004.iter().any(|(_, n)| *n == "Sveriges nationaldag"));
    assert!(
        is_working_day(d(2004, 6, 7)),
        "6 June 2004 was a Monday and a working day"
    );
    // Easter 2005 was 27 March: pingst 15 May, annandag pingst 16 May a working day.
    let h2005 = holidays(2005);
    assert!(h2005.contains(&(d(2005, 6, 6), "Sveriges nationaldag")));
    assert!(!h2005.iter().any(|(_, n)| *n == "Annandag pingst"));
    assert!(is_working_day(d(2005, 5, 16)));
    assert!(!is_working_day(d(2005, 6, 6)));
}

#[test]
fn ascension_on_first_of_may_2008_lists_both() {
    let h = holidays(2008);
    assert!(h.contains(&(d(2008, 5, 1), "Första maj")));
    assert!(h.contains(&(d(2008, 5, 1), "Kristi himmelsfärdsdag")));
    assert!(matches!(day_kind(d(2008, 5, 1)), DayKind::PublicHoliday(_)));
    assert!(h.windows(2).all(|w| w[0].0 <= w[1].0), "sorted");
}

#[test]
fn kinds_of_days() {
    assert_eq!(
        day_kind(d(2026, 4, 3)),
        DayKind::PublicHoliday("Långfredagen")
    );
    assert_eq!(day_kind(d(2026, 4, 5)), DayKind::PublicHoliday("Påskdagen"));
    assert_eq!(
        day_kind(d(2026, 6, 19)),
        DayKind::DeFactoHoliday("Midsommarafton")
    );
    assert_eq!(
        day_kind(d(2026, 12, 24)),
        DayKind::DeFactoHoliday("Julafton")
    );
    assert_eq!(
        day_kind(d(2026, 12, 31)),
        DayKind::DeFactoHoliday("Nyårsafton")
    );
    assert_eq!(day_kind(d(2026, 11, 21)), DayKind::Weekend);
    assert_eq!(day_kind(d(2026, 11, 22)), DayKind::Weekend);
    assert_eq!(day_kind(d(2026, 11, 23)), DayKind::WorkingDay);
    assert_eq!(
        day_kind(d(2026, 4, 2)),
        DayKind::WorkingDay,
        "skärtorsdagen is a working day"
    );
}

#[test]
fn working_days_in_2026() {
    // 365 days, 104 Saturdays and Sundays (the year starts and ends on a Thursday), and ten
    // weekday holidays: 1/1, 6/1, 3/4, 6/4, 1/5, 14/5, 19/6, 24/12, 25/12, 31/12 -> 251.
    assert_eq!(working_days_between(d(2025, 12, 31), d(2026, 12, 31)), 251);
    assert_eq!(working_days_between(d(2026, 12, 31), d(2025, 12, 31)), -251);
}

#[test]
fn deadline_across_easter_2026() {
    // Need known on skärtorsdagen: 3/4 Långfredagen, 4–5 weekend, 6/4 Annandag påsk.
    assert_eq!(add_working_days(d(2026, 4, 2), 1), d(2026, 4, 7));
    assert_eq!(add_working_days(d(2026, 4, 2), 3), d(2026, 4, 9));
    assert_eq!(working_days_between(d(2026, 4, 2), d(2026, 4, 9)), 3);
}

#[test]
fn deadline_across_christmas_and_new_year_2026() {
    // 24 julafton, 25 juldagen, 26 annandag jul (Saturday), 27 Sunday, 28 = 1, 29 = 2, 30 = 3.
    assert_eq!(add_working_days(d(2026, 12, 23), 3), d(2026, 12, 30));
    // 31 nyårsafton, 1/1 nyårsdagen, 2–3 weekend, 4/1 = 4, 5/1 = 5, 6/1 trettondedag, 7/1 = 6.
    assert_eq!(add_working_days(d(2026, 12, 23), 4), d(2027, 1, 4));
    assert_eq!(add_working_days(d(2026, 12, 23), 5), d(2027, 1, 5));
    assert_eq!(add_working_days(d(2026, 12, 23), 6), d(2027, 1, 7));
    assert_eq!(working_days_between(d(2026, 12, 23), d(2027, 1, 7)), 6);
    assert_eq!(working_days_between(d(2027, 1, 7), d(2026, 12, 23)), -6);
    assert_eq!(add_working_days(d(2026, 12, 30), 1), d(2027, 1, 4));
}

#[test]
fn zero_working_days_means_today_or_the_next_working_day() {
    assert_eq!(add_working_days(d(2026, 11, 23), 0), d(2026, 11, 23));
    assert_eq!(add_working_days(d(2026, 11, 21), 0), d(2026, 11, 23));
    assert_eq!(add_working_days(d(2026, 12, 24), 0), d(2026, 12, 28));
    assert_eq!(working_days_between(d(2026, 11, 23), d(2026, 11, 23)), 0);
}

fn any_date_1900_2200() -> impl Strategy<Value = NaiveDate> {
    let span = (d(2200, 12, 31) - d(1900, 1, 1)).num_days();
    (0..=span).prop_map(|offset| d(1900, 1, 1) + Duration::days(offset))
}

proptest! {
    #[test]
    fn adding_and_counting_working_days_agree(from in any_date_1900_2200(), n in 1u32..400) {
        let due = add_working_days(from, n);
        prop_assert!(is_working_day(due), "{} is not a working day", due);
        prop_assert!(due > from);
        prop_assert_eq!(working_days_between(from, due), i64::from(n));
        prop_assert_eq!(working_days_between(due, from), -i64::from(n));
        // No working day is skipped: the day before the deadline has one fewer.
        prop_assert_eq!(working_days_between(from, due - Duration::days(1)), i64::from(n) - 1);
    }

    #[test]
    fn zero_days_lands_on_a_working_day(from in any_date_1900_2200()) {
        let due = add_working_days(from, 0);
        prop_assert!(is_working_day(due));
        prop_assert!(due >= from);
        prop_assert!(working_days_between(from, due) <= 1);
        prop_assert_eq!(due == from, is_working_day(from));
    }

    #[test]
    fn weekdays_without_a_name_are_working_days(day in any_date_1900_2200()) {
        let named = holidays(day.year()).iter().any(|(h, _)| *h == day);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        prop_assert_eq!(is_working_day(day), !named && !weekend);
    }
}

// ---------------------------------------------------------------------------------------------
// Policy profiles
// ---------------------------------------------------------------------------------------------

#[test]
fn policy_names_parse_and_reject() {
    assert_eq!(PolicyName::parse("norrbotten"), Ok(PolicyName::Norrbotten));
    assert_eq!(PolicyName::parse(" Örebro "), Ok(PolicyName::Orebro));
    assert_eq!(PolicyName::parse("orebro"), Ok(PolicyName::Orebro));
    assert_eq!(PolicyName::parse("STOCKHOLM"), Ok(PolicyName::Stockholm));
    for name in PolicyName::ALL {
        assert_eq!(PolicyName::parse(name.as_str()), Ok(name));
        assert_eq!(
            serde_json::to_string(&name).expect("serialise"),
            format!("\"{}\"", name.as_str())
        );
        assert_eq!(PolicyProfile::get(name).name, name);
    }
    let err = PolicyName::parse("skåne").expect_err("unknown");
    assert_eq!(err.code(), "unknown_policy");
    let msg = err.message();
    assert!(msg.contains("skåne"), "{msg}");
    for valid in ["norrbotten", "orebro", "stockholm"] {
        assert!(msg.contains(valid), "{msg}");
    }
    assert!(PolicyProfile::by_name("gotland").is_err());
    assert_eq!(
        PolicyProfile::by_name("norrbotten").map(|p| p.name),
        Ok(PolicyName::Norrbotten)
    );
}

#[test]
fn tracks_serialise_in_snake_case() {
    assert_eq!(serde_json::to_string(&Track::Red).expect("json"), "\"red\"");
    assert_eq!(
        serde_json::from_str::<Track>("\"yellow\"").expect("json"),
        Track::Yellow
    );
}

#[test]
fn norrbotten_invitation_within_three_working_days() {
    let p = PolicyProfile::get(PolicyName::Norrbotten);
    // Need known on skärtorsdagen 2026-04-02 at 10:00 Swedish summer time.
    let known = utc("2026-04-02T08:00:00Z");
    assert_eq!(
        p.invitation_due(known, None, None, None),
        utc("2026-04-09T21:59:59Z")
    );
    // Just after midnight Swedish time on 23 December counts from 23 December, not the 22nd.
    let late = utc("2026-12-22T23:30:00Z");
    assert_eq!(
        p.invitation_due(late, None, None, None),
        utc("2026-12-30T22:59:59Z")
    );
    assert_eq!(
        p.invitation_due(utc("2026-12-22T22:30:00Z"), None, None, None),
        utc("2026-12-29T22:59:59Z")
    );
}

#[test]
fn norrbotten_meeting_3_to_21_days_and_documentation_3_days() {
    let p = PolicyProfile::get(PolicyName::Norrbotten);
    let known = utc("2026-04-02T08:00:00Z");
    assert_eq!(
        p.meeting_due(known, None, None, None),
        Some(utc("2026-04-23T21:59:59Z"))
    );
    assert_eq!(p.meeting_not_before(known), Some(d(2026, 4, 5)));
    // Documentation counts calendar days, so it can end on juldagen.
    assert_eq!(
        p.documentation_due(utc("2026-12-22T13:00:00Z")),
        utc("2026-12-25T22:59:59Z")
    );
    assert_eq!(p.inbox_watch_times, vec![hms(9, 0, 0), hms(14, 0, 0)]);
    assert!(!p.offers_sip_survey);
}

#[test]
fn orebro_invitation_counts_from_the_discharge_ready_notice() {
    let p = PolicyProfile::get(PolicyName::Orebro);
    let known = utc("2026-06-10T08:00:00Z");
    // Discharge-ready on Thursday 18 June 2026 at 15:00; Friday is midsommarafton.
    let ready = utc("2026-06-18T13:00:00Z");
    assert_eq!(
        p.invitation_due(known, None, Some(ready), None),
        utc("2026-06-22T21:59:59Z")
    );
    // Without a notice (red track, outpatient): from when the need became known.
    assert_eq!(
        p.invitation_due(known, None, None, None),
        utc("2026-06-11T21:59:59Z")
    );
    // A notice older than the need does not move the deadline before the need was known.
    assert_eq!(
        p.invitation_due(known, None, Some(utc("2026-06-01T08:00:00Z")), None),
        utc("2026-06-11T21:59:59Z")
    );
    // The red track calls as soon as the need is noticed, notice or not (001): the meeting is
    // before discharge, so the kallelse cannot wait for the notice.
    assert_eq!(
        p.invitation_due(known, Some(Track::Red), Some(ready), None),
        utc("2026-06-11T21:59:59Z")
    );
    assert_eq!(
        p.invitation_due(known, Some(Track::Yellow), Some(ready), None),
        utc("2026-06-22T21:59:59Z")
    );
    // Going home before that deadline: on the red track the kallelse is due by then, under
    // every profile; other tracks keep their own rule.
    let home = utc("2026-06-09T10:00:00Z");
    for profile in [
        PolicyName::Orebro,
        PolicyName::Stockholm,
        PolicyName::Norrbotten,
    ] {
        let p = PolicyProfile::get(profile);
        assert_eq!(
            p.invitation_due(known, Some(Track::Red), None, Some(home)),
            home
        );
    }
    assert_eq!(
        p.invitation_due(known, Some(Track::Yellow), Some(ready), Some(home)),
        utc("2026-06-22T21:59:59Z")
    );
}

#[test]
fn orebro_meeting_depends_on_the_track() {
    let p = PolicyProfile::get(PolicyName::Orebro);
    let known = utc("2026-10-20T08:00:00Z");
    let discharged = utc("2026-11-02T10:00:00Z");
    // Green and yellow: four weeks after discharge, 2026-11-30.
    for track in [Track::Green, Track::Yellow] {
        assert_eq!(
            p.meeting_due(known, Some(track), None, Some(discharged)),
            Some(utc("2026-11-30T22:59:59Z"))
        );
        assert_eq!(p.meeting_due(known, Some(track), None, None), None);
    }
    // Red: before the patient goes home.
    assert_eq!(
        p.meeting_due(known, Some(Track::Red), None, Some(discharged)),
        Some(discharged)
    );
    assert_eq!(p.meeting_due(known, Some(Track::Red), None, None), None);
    // Outside discharge planning: the plan is started within four weeks of the need.
    assert_eq!(
        p.meeting_due(known, None, None, None),
        Some(utc("2026-11-17T22:59:59Z"))
    );
    assert_eq!(p.documentation_due(discharged), utc("2026-11-05T22:59:59Z"));
}

/// 001: "Vid rött spår ska SIP- möte hållas innan hemgång från sjukhuset." Under every profile
/// the red track's meeting is due when the patient goes home, or at the profile's own deadline
/// when that comes first; before the discharge is recorded, the profile's own.
#[test]
fn on_the_red_track_every_profile_has_the_meeting_due_before_going_home() {
    let known = utc("2026-12-01T08:00:00Z");
    let home = utc("2026-12-04T11:00:00Z");
    let late_home = utc("2027-02-01T11:00:00Z");
    for name in [
        PolicyName::Norrbotten,
        PolicyName::Stockholm,
        PolicyName::Orebro,
    ] {
        let p = PolicyProfile::get(name);
        assert_eq!(
            p.meeting_due(known, Some(Track::Red), None, Some(home)),
            Some(home),
            "{name}"
        );
        let own = p.meeting_due(known, None, None, None);
        let expected = match (name, own) {
            // Örebro's red track is the discharge itself.
            (PolicyName::Orebro, _) => Some(late_home),
            (_, Some(own)) => Some(own.min(late_home)),
            (_, None) => Some(late_home),
        };
        assert_eq!(
            p.meeting_due(known, Some(Track::Red), None, Some(late_home)),
            expected,
            "{name}"
        );
    }
    // Norrbotten: 21 days after the need, 22 December, before a February discharge.
    assert_eq!(
        PolicyProfile::get(PolicyName::Norrbotten).meeting_due(
            known,
            Some(Track::Red),
            None,
            Some(late_home)
        ),
        Some(utc("2026-12-22T22:59:59Z"))
    );
}

#[test]
fn stockholm_has_no_meeting_deadline_and_offers_sip_kollen() {
    let p = PolicyProfile::get(PolicyName::Stockholm);
    let known = utc("2026-11-20T09:00:00Z"); // Friday
    assert_eq!(p.meeting_due(known, None, None, None), None);
    assert_eq!(
        p.invitation_due(known, None, None, None),
        utc("2026-11-25T22:59:59Z")
    );
    assert!(p.offers_sip_survey);
    assert!(p.chair_and_secretary_differ);
    assert!(p.follow_up_date_required);
}

#[test]
fn municipality_overrides_the_default_profile() {
    let set = PolicySet::new(PolicyProfile::get(PolicyName::Stockholm))
        .with_override("Luleå", PolicyProfile::get(PolicyName::Norrbotten));
    assert_eq!(
        set.for_municipality(Some("Luleå")).name,
        PolicyName::Norrbotten
    );
    assert_eq!(
        set.for_municipality(Some(" luleå ")).name,
        PolicyName::Norrbotten
    );
    assert_eq!(
        set.for_municipality(Some("Kiruna")).name,
        PolicyName::Stockholm
    );
    assert_eq!(set.for_municipality(None).name, PolicyName::Stockholm);
}

#[test]
fn profile_serialises_its_rules() {
    let json = serde_json::to_value(PolicyProfile::get(PolicyName::Norrbotten)).expect("json");
    assert_eq!(json["name"], "norrbotten");
    assert_eq!(json["invitation"]["working_days"], 3);
    assert_eq!(json["meeting"]["max_days"], 21);
    assert_eq!(json["documentation_days_after_meeting"], 3);
    assert_eq!(json["inbox_watch_times"][1], "14:00:00");
}

// ---------------------------------------------------------------------------------------------
// Headings
// ---------------------------------------------------------------------------------------------

#[test]
fn every_heading_has_a_unique_code_and_label_that_round_trip() {
    let mut codes = std::collections::BTreeSet::new();
    let mut labels = std::collections::BTreeSet::new();
    for h in Heading::ALL {
        assert!(codes.insert(h.code()), "duplicate code {}", h.code());
        assert!(labels.insert(h.label()), "duplicate label {}", h.label());
        assert_eq!(Heading::parse(h.code()), Ok(*h));
        assert_eq!(
            serde_json::to_string(h).expect("json"),
            format!("\"{}\"", h.code())
        );
        assert_eq!(
            serde_json::from_str::<Heading>(&format!("\"{}\"", h.code())).expect("json"),
            *h
        );
    }
    assert_eq!(Heading::parse(" Housing ").map(|h| h.label()), Ok("Boende"));
}

#[test]
fn unknown_heading_lists_the_valid_ones_in_swedish() {
    let err = Heading::parse("hobby").expect_err("unknown");
    assert_eq!(err.code(), "unknown_heading");
    let msg = err.message();
    assert!(msg.contains("hobby"), "{msg}");
    assert!(msg.contains("Okänd delmålsrubrik"), "{msg}");
    for h in Heading::ALL {
        assert!(msg.contains(h.label()), "{msg}");
    }
}
