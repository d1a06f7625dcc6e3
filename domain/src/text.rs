//! What counts as text that says something. A name or a reason made only of white space and
//! invisible characters (zero-width spaces and joiners, word joiners, the byte-order mark, soft
//! hyphens, direction marks) shows as nothing where it is read: it is as missing as an empty one.

/// Whether `s` shows nothing: every character white space or invisible.
pub fn blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || invisible(c))
}

/// A name as it is stored, shown and searched: one line (a line break, tab or other white space
/// becomes a space), without the characters that take no room (zero-width spaces, the byte-order
/// mark, soft hyphens, fillers, tag characters), so that two names that look alike are alike.
/// Joiners and direction marks stay beside a letter of a script that needs them (Persian names
/// are written with the zero-width non-joiner); beside Latin letters they go too.
pub fn name(s: &str) -> String {
    let kept: Vec<char> = s
        .chars()
        .filter(|c| (!invisible(*c) || script_mark(*c)) && !tag(*c))
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let needs_marks = |c: Option<&char>| c.is_some_and(|c| c.is_alphabetic() && *c > '\u{24f}');
    let mut out = String::with_capacity(s.len());
    for (i, c) in kept.iter().enumerate() {
        if script_mark(*c)
            && !needs_marks(i.checked_sub(1).and_then(|p| kept.get(p)))
            && !needs_marks(kept.get(i + 1))
        {
            continue;
        }
        out.push(*c);
    }
    out.trim().to_string()
}

/// Zero-width joiners and direction marks: invisible, but part of how some scripts are written.
fn script_mark(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{061c}')
}

/// Tag characters (U+E0000–U+E007F): invisible outside emoji flags.
fn tag(c: char) -> bool {
    ('\u{e0000}'..='\u{e007f}').contains(&c)
}

/// Characters that take no room and have no glyph of their own.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
    )
}

#[cfg(test)]
mod tests {
    use super::{blank, name};

    #[test]
    fn a_name_is_one_line_without_characters_that_take_no_room() {
        for (given, stored) in [
            ("Erik Lindqvist", "Erik Lindqvist"),
            ("Erik\u{200b}Lindqvist", "ErikLindqvist"),
            ("Erik\u{feff} Lindqvist\u{00ad}", "Erik Lindqvist"),
            ("Erik\u{200e} Lindqvist", "Erik Lindqvist"),
            ("Eri\u{200d}k Lindqvist", "Erik Lindqvist"),
            ("Erik\u{3164}Lindqvist\u{e0041}", "ErikLindqvist"),
            (
                "Anna Svensson\nc/o Bolaget AB\r\nBox 1",
                "Anna Svensson c/o Bolaget AB  Box 1",
            ),
            ("Åsa\u{00a0}Öberg\t", "Åsa Öberg"),
            // Persian: the non-joiner between Arabic-script letters is part of the name.
            (
                "\u{645}\u{6cc}\u{200c}\u{646}\u{627} Ahmadi",
                "\u{645}\u{6cc}\u{200c}\u{646}\u{627} Ahmadi",
            ),
            ("  Jonas  ", "Jonas"),
        ] {
            assert_eq!(name(given), stored, "{given:?}");
        }
    }

    #[test]
    fn only_invisible_characters_say_nothing() {
        for nothing in [
            "",
            "  ",
            "\u{200b}",
            "\u{feff}\u{200d} ",
            "\u{202e}",
            "\u{00ad}\t",
        ] {
            assert!(blank(nothing), "{nothing:?}");
        }
        for something in ["Eva", "\u{200b}Eva", "ö", "🙂", "-", "\u{200d}👍"] {
            assert!(!blank(something), "{something:?}");
        }
    }
}
