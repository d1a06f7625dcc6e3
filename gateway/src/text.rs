//! What text may contain. Every string that reaches a command, a query or an event passes here at
//! the edge: PostgreSQL's jsonb cannot store `\u0000`, and control characters (escape sequences,
//! backspace, C1 controls) have no place in a plan a person reads. Tab, line feed and carriage
//! return (a browser's text area sends CRLF) are kept.
//!
//! [`check_json`] looks at a JSON body as it was sent, with one pass over its bytes; only a body
//! that holds a refused character is parsed again, to name the field in the answer.

use crate::error::AppError;
use serde_json::Value;

/// The stable code of the refusal.
pub const CODE: &str = "invalid_characters";

/// Whether `c` may stand in text: anything but a control character, except tab, line feed and
/// carriage return, and but the invisible controls of writing direction — embeddings,
/// overrides and isolates (U+202A–U+202E, U+2066–U+2069). One of those in a name turns the
/// text after it around where the name is shown: a personnummer beside it reads backwards.
/// (The direction marks U+200E and U+200F, which turn nothing around, stay allowed.)
pub fn is_allowed(c: char) -> bool {
    (!c.is_control() || matches!(c, '\t' | '\n' | '\r')) && !is_direction_control(c)
}

fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Refuses `value` of the parameter or field `name` if it holds a character that is not allowed.
pub fn check_str(name: &str, value: &str) -> Result<(), AppError> {
    if value.chars().all(is_allowed) {
        Ok(())
    } else {
        Err(refused(name))
    }
}

/// Refuses a JSON body in which any string, key or value, holds a character that is not allowed.
/// The answer names the first such field as a path (`recipients/1/relative_id`). Checked before
/// the body is read as a command, so that such text is refused as such (and never echoed back in
/// a type error); a body that is not JSON at all passes here and is refused by the parser.
pub fn check_json(body: &[u8]) -> Result<(), AppError> {
    if !holds_refused(body) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => Err(refused(
            &refused_path(&value, String::new()).unwrap_or_default(),
        )),
        Err(_) => Ok(()),
    }
}

fn refused(field: &str) -> AppError {
    let field = field.trim_start_matches('/');
    let shown: String = field.chars().filter(|c| is_allowed(*c)).take(200).collect();
    AppError::Unprocessable {
        code: CODE,
        detail: if shown.is_empty() {
            "Texten innehåller tecken som inte får förekomma (styrtecken). Ta bort dem och försök \
             igen."
                .into()
        } else {
            format!(
                "Fältet \u{201d}{shown}\u{201d} innehåller tecken som inte får förekomma \
                 (styrtecken). Ta bort dem och försök igen."
            )
        },
    }
}

/// One pass over JSON text: true if a string holds a refused character, raw (DEL, a C1
/// control in UTF-8) or escaped (`\u0000`–`\u001f` but tab, LF and CR; `\b`, `\f`; `\u007f`–
/// `\u009f`). Raw C0 controls cannot occur: valid JSON has none inside strings, and outside them
/// only whitespace. A backslash only occurs inside strings, so escapes are found without
/// tracking where strings begin and end.
fn holds_refused(body: &[u8]) -> bool {
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            0x7f => return true,
            // U+0080–U+009F in UTF-8.
            0xc2 if body.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b)) => return true,
            // U+202A–U+202E (E2 80 AA–AE) and U+2066–U+2069 (E2 81 A6–A9) in UTF-8.
            0xe2 if matches!(
                (body.get(i + 1), body.get(i + 2)),
                (Some(0x80), Some(0xaa..=0xae)) | (Some(0x81), Some(0xa6..=0xa9))
            ) =>
            {
                return true
            }
            b'\\' => match body.get(i + 1) {
                Some(b'b' | b'f') => return true,
                Some(b'u') => {
                    let hex = body
                        .get(i + 2..i + 6)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    let code = hex.and_then(|h| u32::from_str_radix(h, 16).ok());
                    if code
                        .and_then(char::from_u32)
                        .is_some_and(|c| !is_allowed(c))
                    {
                        return true;
                    }
                    i += 6;
                    continue;
                }
                // `\\`, `\"`, `\/`, `\n`, `\r`, `\t`: skip the escaped character too.
                _ => {
                    i += 2;
                    continue;
                }
            },
            _ => {}
        }
        i += 1;
    }
    false
}

/// The JSON pointer of the first string (key or value) below `value` that holds a refused
/// character.
fn refused_path(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) => (!s.chars().all(is_allowed)).then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| refused_path(item, format!("{path}/{i}"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.chars().all(is_allowed) {
                refused_path(item, format!("{path}/{key}"))
            } else {
                Some(format!("{path}/{}", key.escape_debug()))
            }
        }),
        _ => None,
    }
}

/// A CSV field of the files samplan gives out (the access-log extract, the reporting figures):
/// RFC 4180 quoting, `;` as separator as Swedish spreadsheets expect; a field that a spreadsheet
/// would read as a formula (OWASP's list: `=`, `+`, `-`, `@`, tab, carriage return
/// first) is prefixed with `'`.
pub fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([';', '"', '\n', '\r', ',']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Vera"), "Vera");
        assert_eq!(csv_field("Andersson; Anna"), "\"Andersson; Anna\"");
        assert_eq!(csv_field("säger \"hej\""), "\"säger \"\"hej\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("\t=1+1"), "'\t=1+1");
        assert_eq!(csv_field("\r=1+1"), "\"'\r=1+1\"");
    }

    fn refused_in(json: &str) -> Option<String> {
        match check_json(json.as_bytes()) {
            Ok(()) => None,
            Err(e) => Some(e.problem().detail),
        }
    }

    #[test]
    fn tab_newline_carriage_return_and_unicode_are_allowed() {
        for ok in [
            r#"{"text": "rad\r\nrad\ttabb"}"#,
            r#"{"text": "åäö ÅÄÖ é ü – ”” 🙂 \u00e5 \ud83d\ude42"}"#,
            // Direction marks turn nothing around; the characters beside the refused ones
            // (U+2029, U+2070, U+20AC €) pass too.
            "{\"name\": \"\u{200f}נעמי \u{2029}\u{2070}€\"}",
            r#"{"name": "\u200e\u2065\u206a\u202f"}"#,
            r#"{"text": "a backslash \\ and a quote \" and a slash \/"}"#,
            r#"{"text": "\\u0000 is text here, not a NUL"}"#,
            r#"{"text": "\\\\u0000"}"#,
            r#"[1, 2.5, true, null, {"a": []}]"#,
        ] {
            assert_eq!(refused_in(ok), None, "{ok}");
        }
    }

    #[test]
    fn controls_are_refused_escaped_or_raw_and_the_field_is_named() {
        for (bad, field) in [
            (r#"{"text": "a\u0000b"}"#, "text"),
            (r#"{"text": "a\u001Bb"}"#, "text"),
            (r#"{"a": {"b": ["ok", "x\u0007"]}}"#, "a/b/1"),
            (r#"{"text": "a\bb"}"#, "text"),
            (r#"{"text": "a\fb"}"#, "text"),
            (r#"{"text": "a\u007fb"}"#, "text"),
            (r#"{"text": "a\u0085b"}"#, "text"),
            ("{\"text\": \"a\u{7f}b\"}", "text"),
            ("{\"text\": \"a\u{9f}b\"}", "text"),
            (r#"{"a\u0000": "x"}"#, "a\\0"),
            // Direction overrides and isolates, raw and escaped.
            ("{\"name\": \"Eva\u{202e}\"}", "name"),
            ("{\"name\": \"\u{2066}Eva\"}", "name"),
            (r#"{"name": "Eva\u202E"}"#, "name"),
            (r#"{"name": "Eva\u2069"}"#, "name"),
        ] {
            let detail = refused_in(bad).unwrap_or_else(|| panic!("{bad} was accepted"));
            assert!(detail.contains(field), "{bad}: {detail}");
        }
    }

    #[test]
    fn single_strings_are_checked_alike() {
        assert!(check_str("q", "Tolvan Tolvansson").is_ok());
        let err = check_str("q", "Tol\u{0}van").expect_err("NUL");
        assert_eq!(err.problem().code, CODE);
        assert_eq!(err.problem().status, 422);
    }
}
