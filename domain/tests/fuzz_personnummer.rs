//! Fuzzing `PersonalIdentityNumber::parse` on the stable toolchain: property tests over arbitrary
//! strings, near-misses of real numbers and arbitrary dates for `today`. Whatever the input, the
//! parser answers without panicking; whatever it accepts is a real number (twelve digits, an
//! existing date not after `today`, a matching Luhn check digit computed here independently) that
//! round-trips through its canonical and formatted forms; and a wrong check digit is never
//! accepted.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 here, so `scripts/test` stays fast);
//! `scripts/fuzz` runs these with many more. The well-formed side (every valid number parses in
//! every form, any one-digit typo is caught) is in `values.rs`.

use chrono::{Datelike, NaiveDate};
use domain::personnummer::{parse_canonical, DateProblem, PersonalIdentityNumber, PinError};
use proptest::prelude::*;

/// The number of cases: `PROPTEST_CASES`, or 256.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // A failure is shrunk to a small input, but never for long.
        max_shrink_time: 30_000,
        ..ProptestConfig::default()
    }
}

/// Any day from 1900 to 9999: the parser takes `today` from the caller. (Before 1900 the
/// century of a ten-digit number could fall before year 0, which no clock of ours will show.)
fn any_day() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("date");
    (0..=(last - first).num_days()).prop_map(move |d| first + chrono::Duration::days(d))
}

/// A day near now, where real numbers live.
fn recent_day() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1990, 1, 1).expect("date");
    (0i64..40 * 366).prop_map(move |d| first + chrono::Duration::days(d))
}

/// Strings that look like numbers often enough to reach every rule: digits, separators,
/// whitespace, and now and then a letter or a character from far away.
fn number_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => "[0-9]",
        2 => "[-+]",
        1 => "[ \t\n]",
        1 => "[a-zA-Z]",
        1 => any::<char>().prop_map(String::from),
        1 => "[٠-٩０-９]", // Arabic-Indic and full-width digits: not ASCII digits.
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|parts| parts.concat())
}

/// The Luhn check digit over the nine digits of `YYMMDDNNN`, written independently of the
/// crate's.
fn luhn(nine: &str) -> u32 {
    let sum: u32 = nine
        .chars()
        .map(|c| c.to_digit(10).expect("digit"))
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 2 } else { d })
        .map(|p| p / 10 + p % 10)
        .sum();
    (10 - sum % 10) % 10
}

/// What must hold of every number the parser accepted from `input` on `today`.
fn assert_real_number(
    input: &str,
    today: NaiveDate,
    p: PersonalIdentityNumber,
) -> Result<(), TestCaseError> {
    let canonical = p.as_str();
    prop_assert_eq!(canonical.len(), 12, "{:?} → {}", input, canonical);
    prop_assert!(
        canonical.bytes().all(|b| b.is_ascii_digit()),
        "{}",
        canonical
    );
    // The check digit is the Luhn digit of YYMMDDNNN.
    let check = canonical[11..].parse::<u32>().expect("digit");
    prop_assert_eq!(
        check,
        luhn(&canonical[2..11]),
        "{:?} → {}",
        input,
        canonical
    );
    // The date exists (a samordningsnummer's day less 60) and is not after today.
    let year: i32 = canonical[..4].parse().expect("digits");
    let month: u32 = canonical[4..6].parse().expect("digits");
    let raw_day: u32 = canonical[6..8].parse().expect("digits");
    let day = if raw_day > 60 { raw_day - 60 } else { raw_day };
    let birth = NaiveDate::from_ymd_opt(year, month, day);
    prop_assert_eq!(birth, Some(p.birth_date()), "{:?} → {}", input, canonical);
    prop_assert!(p.birth_date() <= today, "{:?} born after {}", input, today);
    prop_assert_eq!(p.is_coordination_number(), raw_day > 60);
    // The digits typed are the digits kept: the last ten of the input's digits (or all twelve).
    let typed: String = input.chars().filter(char::is_ascii_digit).collect();
    prop_assert!(canonical.ends_with(&typed), "{:?} → {}", input, canonical);
    // Round trips: canonical and formatted forms parse to the same number.
    prop_assert_eq!(parse_canonical(canonical), Ok(p));
    prop_assert_eq!(PersonalIdentityNumber::parse(canonical, today), Ok(p));
    let formatted = p.formatted();
    prop_assert_eq!(
        formatted.as_str(),
        format!("{}-{}", &canonical[..8], &canonical[8..])
    );
    prop_assert_eq!(PersonalIdentityNumber::parse(&formatted, today), Ok(p));
    prop_assert_eq!(p.to_string(), formatted);
    // Serde keeps the canonical form.
    let json = serde_json::to_string(&p).expect("serialise");
    prop_assert_eq!(&json, &format!("\"{canonical}\""));
    prop_assert_eq!(
        serde_json::from_str::<PersonalIdentityNumber>(&json).ok(),
        Some(p)
    );
    Ok(())
}

/// Every refusal has the one stable code and a Swedish message a person can act on.
fn assert_refusal(e: &PinError) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.code(), "invalid_personal_identity_number");
    let message = e.message();
    prop_assert!(!message.trim().is_empty(), "{:?}", e);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_string_is_answered_without_panic(input in any::<String>(), today in any_day()) {
        match PersonalIdentityNumber::parse(&input, today) {
            Ok(p) => assert_real_number(&input, today, p)?,
            Err(e) => assert_refusal(&e)?,
        }
        if let Err(e) = parse_canonical(&input) {
            assert_refusal(&e)?;
        }
    }

    #[test]
    fn any_bytes_read_as_text_are_answered_without_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..40),
        today in any_day(),
    ) {
        let input = String::from_utf8_lossy(&bytes);
        match PersonalIdentityNumber::parse(&input, today) {
            Ok(p) => assert_real_number(&input, today, p)?,
            Err(e) => assert_refusal(&e)?,
        }
    }

    #[test]
    fn whatever_parses_is_a_real_number_that_round_trips(
        input in number_like(),
        today in prop_oneof![recent_day(), any_day()],
    ) {
        match PersonalIdentityNumber::parse(&input, today) {
            Ok(p) => assert_real_number(&input, today, p)?,
            Err(e) => assert_refusal(&e)?,
        }
    }

    #[test]
    fn a_wrong_check_digit_is_never_accepted((input, expected, today) in valid_input()) {
        // The constructed number parses (this also checks the independent Luhn above)…
        let p = PersonalIdentityNumber::parse(&input, today)
            .map_err(|e| TestCaseError::fail(format!("{input:?} on {today}: {e}")))?;
        prop_assert_eq!(p.as_str(), expected.as_str(), "{:?}", input);
        assert_real_number(&input, today, p)?;
        // …and with any other last digit it never does.
        let trimmed = input.trim_end();
        let check = trimmed.chars().last().and_then(|c| c.to_digit(10)).expect("digit");
        for wrong in (0..10).filter(|d| *d != check) {
            let typo = format!(
                "{}{}",
                &trimmed[..trimmed.len() - 1],
                char::from_digit(wrong, 10).expect("digit")
            );
            prop_assert_eq!(
                PersonalIdentityNumber::parse(&typo, today),
                Err(PinError::InvalidCheckDigit),
                "{:?} accepted", typo
            );
            let canonical = format!("{}{wrong}", &expected[..11]);
            prop_assert_eq!(parse_canonical(&canonical), Err(PinError::InvalidCheckDigit));
        }
    }

    #[test]
    fn a_birth_date_after_today_is_refused((input, expected, today) in valid_input()) {
        let p = PersonalIdentityNumber::parse(&input, today)
            .map_err(|e| TestCaseError::fail(format!("{input:?} on {today}: {e}")))?;
        let birth = p.birth_date();
        let Some(before) = birth.pred_opt() else {
            return Ok(());
        };
        // The full form names its century: the day before the birth it is refused.
        prop_assert_eq!(
            PersonalIdentityNumber::parse(&expected, before),
            Err(PinError::InFuture(birth))
        );
        // The short form is never read as a date after today: its century moves back instead,
        // where 29 February may not exist.
        let short = format!("{}-{}", &expected[2..8], &expected[8..]);
        match PersonalIdentityNumber::parse(&short, before) {
            Ok(q) => {
                prop_assert!(q.birth_date() <= before);
                prop_assert_eq!(q.birth_date().year(), birth.year() - 100);
            }
            Err(e) => prop_assert!(
                (birth.month(), birth.day()) == (2, 29)
                    && matches!(e, PinError::InvalidDate(DateProblem::NoSuchDay { .. })),
                "{} on {}: {:?}", short, before, e
            ),
        }
    }
}

/// A valid number in one of the forms people type, the canonical form it must parse to, and
/// the `today` to parse it on: a birth date up to 110 years before today, a serial, a
/// personnummer or a samordningsnummer, the check digit computed with [`luhn`].
fn valid_input() -> impl Strategy<Value = (String, String, NaiveDate)> {
    (
        recent_day(),
        0i64..110 * 366,
        0u32..1000,
        any::<bool>(),
        0usize..5,
        "[ ]{0,2}",
    )
        .prop_map(|(today, age_days, serial, coordination, form, pad)| {
            let birth = today - chrono::Duration::days(age_days);
            let day = birth.day() + if coordination { 60 } else { 0 };
            let nine = format!(
                "{:02}{:02}{:02}{serial:03}",
                birth.year() % 100,
                birth.month(),
                day
            );
            let ten = format!("{nine}{}", luhn(&nine));
            let century = birth.year() / 100;
            let canonical = format!("{century}{ten}");
            let hundred = {
                let mut age = today.year() - birth.year();
                if (today.month(), today.day()) < (birth.month(), birth.day()) {
                    age -= 1;
                }
                age >= 100
            };
            let short_sep = if hundred { "+" } else { "-" };
            let input = match form {
                0 => canonical.clone(),
                1 => format!("{}-{}", &canonical[..8], &canonical[8..]),
                2 => format!("{}{short_sep}{}", &ten[..6], &ten[6..]),
                3 if !hundred => ten.clone(),
                _ => format!("{pad}{}{short_sep}{}{pad}", &ten[..6], &ten[6..]),
            };
            (input, canonical, today)
        })
}
