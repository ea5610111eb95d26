//! The syntax-error messages of Go's `encoding/json` decoder, which is what moby answers malformed
//! request bodies with (400, e.g. `invalid character 'x' looking for beginning of value`).
//!
//! serde_json finds the same errors but words them its own way, so a body it rejects is scanned
//! once more here with the states of Go's scanner (iteratively: a 1 MiB body of `[` must not
//! exhaust the stack).

/// What the scanner expects next; each names the context Go's message ends with.
#[derive(Clone, Copy)]
enum Want {
    /// A value (top level, after `:` or `,` in an array).
    Value,
    /// A value or `]` right after `[`.
    ValueOrClose,
    /// A key string or `}` right after `{`.
    KeyOrClose,
    /// A key string after `,` in an object.
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or `}` after a member.
    ObjectNext,
    /// `,` or `]` after an element.
    ArrayNext,
}

#[derive(Clone, Copy, PartialEq)]
enum Frame {
    Object,
    Array,
}

/// Go's maximum nesting depth (`maxNestingDepth`).
const MAX_DEPTH: usize = 10_000;

/// The message Go's decoder gives for the first JSON value of `body`, or `None` when that value is
/// well-formed (trailing bytes are not looked at, like `json.Decoder.Decode`).
pub fn go_syntax_error(body: &[u8]) -> Option<String> {
    // The token scanners return the end of the token, or the whole function's answer.
    macro_rules! scan {
        ($e:expr) => {
            match $e {
                Ok(end) => end,
                Err(answer) => return answer,
            }
        };
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut want = Want::Value;
    let mut i = 0;
    loop {
        while i < body.len() && matches!(body[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        let Some(&c) = body.get(i) else {
            return Some("unexpected EOF".into());
        };
        match want {
            Want::Value | Want::ValueOrClose => {
                if matches!(want, Want::ValueOrClose) && c == b']' {
                    stack.pop();
                    i += 1;
                } else {
                    match c {
                        b'{' | b'[' => {
                            if stack.len() >= MAX_DEPTH {
                                return Some("exceeded max depth".into());
                            }
                            stack.push(if c == b'{' {
                                Frame::Object
                            } else {
                                Frame::Array
                            });
                            want = if c == b'{' {
                                Want::KeyOrClose
                            } else {
                                Want::ValueOrClose
                            };
                            i += 1;
                            continue;
                        }
                        b'"' => i = scan!(string(body, i)),
                        b'-' | b'0'..=b'9' => i = scan!(number(body, i)),
                        b't' => i = scan!(literal(body, i, "true")),
                        b'f' => i = scan!(literal(body, i, "false")),
                        b'n' => i = scan!(literal(body, i, "null")),
                        _ => return Some(invalid(c, "looking for beginning of value")),
                    }
                }
            }
            Want::KeyOrClose | Want::Key => {
                if matches!(want, Want::KeyOrClose) && c == b'}' {
                    stack.pop();
                    i += 1;
                } else if c == b'"' {
                    i = scan!(string(body, i));
                    want = Want::Colon;
                    continue;
                } else {
                    return Some(invalid(c, "looking for beginning of object key string"));
                }
            }
            Want::Colon => {
                if c != b':' {
                    return Some(invalid(c, "after object key"));
                }
                i += 1;
                want = Want::Value;
                continue;
            }
            Want::ObjectNext => match c {
                b',' => {
                    i += 1;
                    want = Want::Key;
                    continue;
                }
                b'}' => {
                    stack.pop();
                    i += 1;
                }
                _ => return Some(invalid(c, "after object key:value pair")),
            },
            Want::ArrayNext => match c {
                b',' => {
                    i += 1;
                    want = Want::Value;
                    continue;
                }
                b']' => {
                    stack.pop();
                    i += 1;
                }
                _ => return Some(invalid(c, "after array element")),
            },
        }
        // A value (or a container) just ended.
        want = match stack.last() {
            None => return None,
            Some(Frame::Object) => Want::ObjectNext,
            Some(Frame::Array) => Want::ArrayNext,
        };
    }
}

/// Scans a string starting at the opening quote; returns the index after the closing quote.
fn string(b: &[u8], start: usize) -> Result<usize, Option<String>> {
    let mut i = start + 1;
    loop {
        let c = *b.get(i).ok_or(Some("unexpected EOF".to_string()))?;
        match c {
            b'"' => return Ok(i + 1),
            b'\\' => {
                let e = *b.get(i + 1).ok_or(Some("unexpected EOF".to_string()))?;
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        for k in 0..4 {
                            let h = *b.get(i + 2 + k).ok_or(Some("unexpected EOF".to_string()))?;
                            if !h.is_ascii_hexdigit() {
                                return Err(Some(invalid(
                                    h,
                                    "in \\u hexadecimal character escape",
                                )));
                            }
                        }
                        i += 6;
                    }
                    _ => return Err(Some(invalid(e, "in string escape code"))),
                }
            }
            c if c < 0x20 => return Err(Some(invalid(c, "in string literal"))),
            _ => i += 1,
        }
    }
}

/// Scans a number; returns the index of the first byte after it.
fn number(b: &[u8], start: usize) -> Result<usize, Option<String>> {
    let eof = || Some("unexpected EOF".to_string());
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
        match b.get(i) {
            None => return Err(eof()),
            Some(c) if !c.is_ascii_digit() => return Err(Some(invalid(*c, "in numeric literal"))),
            _ => {}
        }
    }
    if b[i] == b'0' {
        i += 1;
    } else {
        while digit(i) {
            i += 1;
        }
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        match b.get(i) {
            None => return Err(eof()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(Some(invalid(*c, "after decimal point in numeric literal")))
            }
            _ => {}
        }
        while digit(i) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match b.get(i) {
            None => return Err(eof()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(Some(invalid(*c, "in exponent of numeric literal")))
            }
            _ => {}
        }
        while digit(i) {
            i += 1;
        }
    }
    Ok(i)
}

fn literal(b: &[u8], start: usize, word: &str) -> Result<usize, Option<String>> {
    for (k, want) in word.bytes().enumerate().skip(1) {
        let c = *b.get(start + k).ok_or(Some("unexpected EOF".to_string()))?;
        if c != want {
            return Err(Some(invalid(
                c,
                &format!("in literal {word} (expecting {})", quote_char(want)),
            )));
        }
    }
    Ok(start + word.len())
}

fn invalid(c: u8, context: &str) -> String {
    format!("invalid character {} {context}", quote_char(c))
}

/// Go's `quoteChar`: the byte as a rune (Latin-1), quoted like `strconv.Quote` but in single quotes.
fn quote_char(c: u8) -> String {
    let inner = match c {
        b'\'' => "\\'".to_string(),
        b'"' => "\"".to_string(),
        b'\\' => "\\\\".to_string(),
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x0c => "\\f".into(),
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0x0b => "\\v".into(),
        c if c < 0x20 || c == 0x7f => format!("\\x{c:02x}"),
        c if (0x80..0xa0).contains(&c) || c == 0xad => format!("\\u{:04x}", c),
        c => char::from(c).to_string(),
    };
    format!("'{inner}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        go_syntax_error(s.as_bytes()).unwrap_or_else(|| panic!("{s:?} is valid"))
    }

    #[test]
    fn messages_match_go() {
        assert_eq!(err(r#"{"Name":"#), "unexpected EOF");
        assert_eq!(err("{"), "unexpected EOF");
        assert_eq!(err("  "), "unexpected EOF");
        assert_eq!(
            err("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            err(r#"{"Name":x}"#),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            err("{invalid json"),
            "invalid character 'i' looking for beginning of object key string"
        );
        assert_eq!(
            err(r#"{"a":1,}"#),
            "invalid character '}' looking for beginning of object key string"
        );
        assert_eq!(err(r#"{"a" 1}"#), "invalid character '1' after object key");
        assert_eq!(
            err(r#"{"a":1 "b":2}"#),
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(
            err("[1,]"),
            "invalid character ']' looking for beginning of value"
        );
        assert_eq!(
            err("{\"a\":\"x\ny\"}"),
            "invalid character '\\n' in string literal"
        );
        assert_eq!(
            err(r#"{"a":"\q"}"#),
            "invalid character 'q' in string escape code"
        );
        assert_eq!(
            err(r#"{"a":"\u12g4"}"#),
            "invalid character 'g' in \\u hexadecimal character escape"
        );
        assert_eq!(
            err(r#"{"a":tru}"#),
            "invalid character '}' in literal true (expecting 'e')"
        );
        assert_eq!(err(r#"{"a":nul"#), "unexpected EOF");
        assert_eq!(
            err(r#"{"a":-x}"#),
            "invalid character 'x' in numeric literal"
        );
        assert_eq!(
            err(r#"{"a":1.}"#),
            "invalid character '}' after decimal point in numeric literal"
        );
        assert_eq!(
            err(r#"{"a":1e}"#),
            "invalid character '}' in exponent of numeric literal"
        );
        assert_eq!(
            err(r#"{"a":01}"#),
            "invalid character '1' after object key:value pair"
        );
        assert_eq!(
            err("'a'"),
            "invalid character '\\'' looking for beginning of value"
        );
        assert_eq!(
            err("\u{1}"),
            "invalid character '\\x01' looking for beginning of value"
        );
    }

    #[test]
    fn valid_values_and_depth() {
        for ok in [
            "{}",
            "[]",
            r#"{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"],"b":{}}"#,
            r#"{"Name":"n"} trailing"#,
            "\"s\"",
            "0 ",
        ] {
            assert_eq!(go_syntax_error(ok.as_bytes()), None, "{ok}");
        }
        let deep = "[".repeat(20_000);
        assert_eq!(
            go_syntax_error(deep.as_bytes()).as_deref(),
            Some("exceeded max depth")
        );
        let nested = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert_eq!(go_syntax_error(nested.as_bytes()), None);
    }
}
