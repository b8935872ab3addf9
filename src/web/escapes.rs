//! The two ways GraphQL spells a character outside the Basic Multilingual
//! Plane in a string, `\u{1F600}` and the surrogate pair `\uD83D\uDE00`,
//! which async-graphql's parser does not read: a document with either was a
//! parse error ("expected value"). Before parsing, such escapes in a
//! document's strings are written as the characters they stand for. Block
//! strings and comments hold no escapes and are left as they are; an escape
//! that stands for no character is left for the parser to report.

use super::limits::lex;

/// `query` with its wide escapes written out; None when it has none, as
/// nearly every document.
pub fn unescape_wide(query: &str) -> Option<String> {
    if !["\\u{", "\\ud", "\\uD"].iter().any(|e| query.contains(e)) {
        return None;
    }
    let mut out = String::new();
    let mut copied = 0;
    lex(
        query,
        |_| {},
        |span| {
            if let Some(content) = written_out(&query[span.clone()]) {
                out.push_str(&query[copied..span.start]);
                out.push_str(&content);
                copied = span.end;
            }
        },
    );
    (copied > 0).then(|| out + &query[copied..])
}

/// A string's content with its wide escapes written out, if it has any.
fn written_out(content: &str) -> Option<String> {
    let mut out = String::with_capacity(content.len());
    let mut changed = false;
    let mut rest = content;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        match wide(escape) {
            Some((c, len)) => {
                push_in_string(&mut out, c);
                changed = true;
                rest = &escape[len..];
            }
            None => {
                // Any other escape, `\\` included, stays as written.
                let len = escape.chars().nth(1).map_or(1, |c| 1 + c.len_utf8());
                out.push_str(&escape[..len]);
                rest = &escape[len..];
            }
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The character a wide escape at the start of `text` stands for, and the
/// escape's length.
fn wide(text: &str) -> Option<(char, usize)> {
    if let Some(braced) = text.strip_prefix("\\u{") {
        let close = braced.find('}')?;
        let code = hex(&braced[..close])?;
        return Some((char::from_u32(code)?, 3 + close + 1));
    }
    let high = hex(text.strip_prefix("\\u")?.get(..4)?)?;
    let low = hex(text.get(6..)?.strip_prefix("\\u")?.get(..4)?)?;
    if !(0xD800..0xDC00).contains(&high) || !(0xDC00..0xE000).contains(&low) {
        return None;
    }
    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
    Some((char::from_u32(code)?, 12))
}

/// `digits` as a hexadecimal number: 1 to 8 hex digits, no sign.
fn hex(digits: &str) -> Option<u32> {
    let valid = (1..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit());
    valid
        .then(|| u32::from_str_radix(digits, 16).ok())
        .flatten()
}

/// `c` as a string's content: a quote, a backslash or a control character
/// as the four-digit escape the parser reads, anything else as itself.
fn push_in_string(out: &mut String, c: char) {
    if c == '"' || c == '\\' || c.is_control() {
        out.push_str(&format!("\\u{:04X}", u32::from(c)));
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_escapes_in_strings_are_written_out() {
        let unescaped = |q: &str| unescape_wide(q);
        assert_eq!(
            unescaped(r#"{ a(s: "x\u{1F600}y") }"#).as_deref(),
            Some("{ a(s: \"x\u{1F600}y\") }")
        );
        assert_eq!(
            unescaped(r#"{ a(s: "\uD83D\uDE00", t: "\ud83d\ude00!") }"#).as_deref(),
            Some("{ a(s: \"\u{1F600}\", t: \"\u{1F600}!\") }")
        );
        // A quote, a backslash or a NUL stays an escape the parser reads,
        // so the string still ends where it did (and a NUL is still seen).
        assert_eq!(
            unescaped(r#"{ a(s: "\u{22}\u{5c}\u{0}") }"#).as_deref(),
            Some(r#"{ a(s: "\u0022\u005C\u0000") }"#)
        );
        // The BMP in braces too.
        assert_eq!(
            unescaped(r#"{ a(s: "\u{e9}") }"#).as_deref(),
            Some("{ a(s: \"\u{e9}\") }")
        );
    }

    #[test]
    fn what_is_not_a_wide_escape_is_left_as_written() {
        let unescaped = |q: &str| unescape_wide(q);
        // Most documents.
        assert_eq!(unescaped(r#"{ a(s: "plain \u00e9") }"#), None);
        // An escaped backslash before `u{`, block strings and comments.
        assert_eq!(unescaped(r#"{ a(s: "\\u{1F600}") }"#), None);
        assert_eq!(unescaped(r#"{ a(s: """\u{1F600}""") }"#), None);
        assert_eq!(unescaped("# \\u{1F600}\n{ a }"), None);
        // Escapes that stand for no character: the parser reports them.
        assert_eq!(unescaped(r#"{ a(s: "\uD83D") }"#), None);
        assert_eq!(unescaped(r#"{ a(s: "\uDE00\uD83D") }"#), None);
        assert_eq!(
            unescaped(r#"{ a(s: "\u{D800}\u{110000}\u{zz}\u{") }"#),
            None
        );
        // One string written out, the others copied around it.
        assert_eq!(
            unescaped(r#"{ a(s: "ok", t: "\u{1F600}", u: "\\") }"#).as_deref(),
            Some("{ a(s: \"ok\", t: \"\u{1F600}\", u: \"\\\\\") }")
        );
    }
}
