//! What counts as text that says something. A name or a reason made only of white space and
//! invisible characters (zero-width spaces and joiners, word joiners, the byte-order mark, soft
//! hyphens, direction marks) shows as nothing where it is read: it is as missing as an empty one.

/// Whether `s` shows nothing: every character white space or invisible.
pub fn blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || invisible(c))
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
    use super::blank;

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
