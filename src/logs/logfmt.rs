//! logfmt: `key=value` pairs separated by spaces (`ts=2024-01-15T10:00:00Z level=info msg="a b"`).
//!
//! Values are bare (up to the next space) or double-quoted with JSON/Go escapes (`\"`, `\\`, `\n`,
//! `\u00e9`). A bare key without `=` is a flag and gets the value `"true"`; `key=` is the empty string.
//! A quote inside a key or a bare value, an unterminated quote, or text glued to a closing quote
//! makes the line a reject.

use super::{Fields, Role, RoleKeys, TimeValue};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct LogfmtFormat {
    keys: RoleKeys,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c')
}

/// The pairs of a logfmt line, in order.
pub fn pairs(line: &str) -> Result<Vec<(&str, Cow<'_, str>)>, String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Ok(out);
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && !is_space(b[i]) {
            if b[i] == b'"' {
                return Err(format!(
                    "invalid logfmt at byte {}: unexpected '\"' in a key",
                    i + 1
                ));
            }
            i += 1;
        }
        let key = &line[key_start..i];
        if i == b.len() || b[i] != b'=' {
            out.push((key, Cow::Borrowed("true")));
            continue;
        }
        if key.is_empty() {
            return Err(format!(
                "invalid logfmt at byte {}: '=' without a key",
                i + 1
            ));
        }
        i += 1; // '='
        if i < b.len() && b[i] == b'"' {
            let start = i;
            i += 1;
            let mut escaped = false;
            loop {
                if i >= b.len() {
                    return Err(format!(
                        "invalid logfmt at byte {}: unterminated quoted value for key {:?}",
                        start + 1,
                        super::output::truncate(key, 80)
                    ));
                }
                match b[i] {
                    b'\\' => {
                        escaped = true;
                        i += 2;
                    }
                    b'"' => {
                        i += 1;
                        break;
                    }
                    _ => i += 1,
                }
            }
            if i < b.len() && !is_space(b[i]) {
                return Err(format!(
                    "invalid logfmt at byte {}: text right after the closing quote of key {:?}",
                    i + 1,
                    super::output::truncate(key, 80)
                ));
            }
            let quoted = &line[start..i];
            let value = if escaped {
                Cow::Owned(unquote(quoted))
            } else {
                Cow::Borrowed(&quoted[1..quoted.len() - 1])
            };
            out.push((key, value));
        } else {
            let start = i;
            while i < b.len() && !is_space(b[i]) {
                if b[i] == b'"' {
                    return Err(format!(
                        "invalid logfmt at byte {}: unexpected '\"' in the unquoted value of key {:?}",
                        i + 1,
                        super::output::truncate(key, 80)
                    ));
                }
                i += 1;
            }
            out.push((key, Cow::Borrowed(&line[start..i])));
        }
    }
}

/// The text of a quoted value: JSON string rules first (they cover Go's `%q` output for the common
/// escapes), and for anything JSON rejects (`\x41`, a raw tab) each `\c` simply becomes `c`.
fn unquote(quoted: &str) -> String {
    if let Ok(s) = serde_json::from_str::<String>(quoted) {
        return s;
    }
    let inner = &quoted[1..quoted.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl LogfmtFormat {
    pub fn new(keys: RoleKeys) -> Self {
        LogfmtFormat { keys }
    }

    pub fn keys(&self) -> &RoleKeys {
        &self.keys
    }

    pub(crate) fn parse<'a>(&'a self, line: &'a str) -> Result<Fields<'a>, String> {
        let pairs = pairs(line)?;
        let flags: Vec<(&str, bool)> = pairs.iter().map(|(k, _)| (*k, false)).collect();
        let chosen = self.keys.select(&flags);
        let mut fields = Fields::default();
        fields.ts = match chosen[Role::Time as usize] {
            None => {
                TimeValue::Missing(self.keys.missing(Role::Time, pairs.iter().map(|(k, _)| *k)))
            }
            Some(i) => {
                fields.ts_key = pairs[i].0;
                TimeValue::Text(pairs[i].1.clone())
            }
        };
        let mut extras = Vec::with_capacity(pairs.len());
        for (i, (key, value)) in pairs.into_iter().enumerate() {
            if Some(i) == chosen[Role::Level as usize] {
                fields.level = Some(value);
            } else if Some(i) == chosen[Role::Service as usize] {
                fields.service = Some(value);
            } else if Some(i) == chosen[Role::Message as usize] {
                fields.message = Some(value);
            } else if Some(i) != chosen[Role::Time as usize] && !self.keys.is_candidate(key) {
                extras.push((Cow::Borrowed(key), Some(value)));
            }
        }
        fields.extras = extras;
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(pairs: &'a [(&'a str, Cow<'a, str>)]) -> Vec<(&'a str, &'a str)> {
        pairs.iter().map(|(k, v)| (*k, v.as_ref())).collect()
    }

    #[test]
    fn splits_pairs() {
        let p = pairs(r#"ts=2024 level=info msg="hello \"world\"" empty= flag path=/a=b  x="tab\x" u="\u00e9""#).unwrap();
        assert_eq!(
            texts(&p),
            [
                ("ts", "2024"),
                ("level", "info"),
                ("msg", "hello \"world\""),
                ("empty", ""),
                ("flag", "true"),
                ("path", "/a=b"),
                ("x", "tabx"),
                ("u", "é"),
            ]
        );
        assert!(pairs("   ").unwrap().is_empty());
    }

    #[test]
    fn malformed_lines_say_where() {
        for (line, needle) in [
            (r#"a="open"#, "unterminated quoted value for key \"a\""),
            (r#"a="x"y"#, "byte 6: text right after the closing quote"),
            (r#"a=x"y"#, "unexpected '\"' in the unquoted value"),
            (r#"=x"#, "byte 1: '=' without a key"),
            (r#"k"ey=1"#, "in a key"),
            (r#"a="ends with backslash\"#, "unterminated"),
        ] {
            let why = pairs(line).unwrap_err();
            assert!(why.contains(needle), "{line}: {why}");
        }
    }

    #[test]
    fn roles_from_default_keys() {
        let f = LogfmtFormat::new(RoleKeys::logfmt_defaults());
        let fields = f
            .parse(r#"time=2024-01-15T10:00:00Z level=warn msg="disk full" service=db host=a"#)
            .unwrap();
        assert!(matches!(fields.ts, TimeValue::Text(ref t) if t == "2024-01-15T10:00:00Z"));
        assert_eq!(fields.ts_key, "time");
        assert_eq!(fields.message.as_deref(), Some("disk full"));
        assert_eq!(fields.service.as_deref(), Some("db"));
        assert_eq!(fields.extras.len(), 1);
    }
}
