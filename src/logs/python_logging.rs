//! Python `logging` format strings (`%(asctime)s - %(name)s - %(levelname)s - %(message)s`, or the
//! `{`/`$` styles) translated to a regex.
//!
//! `asctime` is the time, read with `datefmt` (default `%Y-%m-%d %H:%M:%S,%3f`, Python's default
//! `2024-01-15 10:00:00,123`); without `asctime`, `created` (epoch seconds) is the time. `name` is the
//! service, `levelname` the level, `message` the message; every other attribute (`lineno`,
//! `threadName`, a custom `request_id` ...) is an extra column named after it. When a `datefmt` is
//! given and the format also has `msecs`, those milliseconds are added to the time.

use super::pattern::{Layout, LayoutBuilder, Target};
use super::timestamp::{strftime_regex, StrftimeFormat, TimeFormat};
use super::Role;
use crate::error::{Error, Result};
use regex::Regex;
use std::sync::OnceLock;

/// Python's `logging.Formatter` default time layout (`default_time_format` + `,%03d` msecs).
pub const DEFAULT_DATEFMT: &str = "%Y-%m-%d %H:%M:%S,%3f";

enum Piece {
    Literal(String),
    Field {
        attr: String,
        padded: bool,
        text: String,
    },
}

fn percent_placeholder() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^%\((?P<name>[^)]*)\)(?P<flags>[#0+ -]*)(?P<width>\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")
            .expect("valid")
    })
}

fn brace_placeholder() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\{(?P<name>\w+)(?:![rsa])?(?::(?P<spec>[^{}]*))?\}").expect("valid")
    })
}

fn dollar_placeholder() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\$(?:(?P<name>[A-Za-z_]\w*)|\{(?P<braced>[A-Za-z_]\w*)\})").expect("valid")
    })
}

fn tokenize(fmt: &str, style: &str) -> Result<Vec<Piece>> {
    let (marker, re) = match style {
        "%" => ('%', percent_placeholder()),
        "{" => ('{', brace_placeholder()),
        "$" => ('$', dollar_placeholder()),
        other => {
            return Err(Error::config(format!(
                "unknown python_logging style {other:?}: expected \"%\", \"{{\" or \"$\""
            )))
        }
    };
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < fmt.len() {
        let rest = &fmt[i..];
        let c = rest.chars().next().expect("non-empty");
        let doubled = rest[c.len_utf8()..].starts_with(c);
        if c == marker || (style == "{" && c == '}') {
            if doubled {
                literal.push(c);
                i += 2;
                continue;
            }
            if c == marker {
                if let Some(caps) = re.captures(rest) {
                    let whole = caps.get(0).expect("match").as_str();
                    let attr = caps
                        .name("name")
                        .or_else(|| caps.name("braced"))
                        .map_or("", |m| m.as_str());
                    if attr.is_empty() {
                        return Err(Error::config(format!(
                            "python_logging format {fmt:?}: empty placeholder at byte {i}"
                        )));
                    }
                    let padded = match style {
                        "%" => caps.name("width").is_some(),
                        "{" => caps.name("spec").is_some_and(|s| {
                            s.as_str()
                                .split('.')
                                .next()
                                .unwrap_or("")
                                .bytes()
                                .any(|b| b.is_ascii_digit())
                        }),
                        _ => false,
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Field {
                        attr: attr.to_string(),
                        padded,
                        text: whole.to_string(),
                    });
                    i += whole.len();
                    continue;
                }
            }
            let expected = match style {
                "%" => "\"%(name)s\" or \"%%\"",
                "{" => "\"{name}\", \"{{\" or \"}}\"",
                _ => "\"$name\", \"${name}\" or \"$$\"",
            };
            return Err(Error::config(format!(
                "invalid python_logging format {fmt:?} at byte {i}: expected {expected}"
            )));
        }
        literal.push(c);
        i += c.len_utf8();
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// The regex matching an attribute's text, and where its value goes.
fn attribute(attr: &str, date_regex: &str) -> (Option<Target>, String) {
    let (target, sub) = match attr {
        "asctime" => (Target::Role(Role::Time), date_regex),
        "name" => (Target::Role(Role::Service), r"\S+?"),
        "levelname" => (Target::Role(Role::Level), r"\S+?"),
        "message" => (Target::Role(Role::Message), r".*"),
        "created" | "relativeCreated" | "msecs" => (Target::Extra(attr.into()), r"\d+(?:\.\d+)?"),
        "levelno" | "lineno" | "process" | "thread" => (Target::Extra(attr.into()), r"\d+"),
        "module" | "funcName" | "filename" => (Target::Extra(attr.into()), r"\S+?"),
        "pathname" | "threadName" | "processName" | "taskName" => {
            (Target::Extra(attr.into()), r".+?")
        }
        // A custom attribute (from `extra=` or a filter); a custom "service" or "level" fills that column.
        "ts" => (Target::Extra("ts".into()), r".*?"),
        "level" => (Target::Role(Role::Level), r"\S+?"),
        "service" => (Target::Role(Role::Service), r"\S+?"),
        _ => (Target::Extra(attr.into()), r".*?"),
    };
    (Some(target), sub.to_string())
}

pub(crate) fn layout(fmt: &str, datefmt: Option<&str>, style: &str) -> Result<Layout> {
    let pieces = tokenize(fmt, style)?;
    let attrs: Vec<&str> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Field { attr, .. } => Some(attr.as_str()),
            Piece::Literal(_) => None,
        })
        .collect();
    let has_asctime = attrs.contains(&"asctime");
    if !has_asctime && !attrs.contains(&"created") {
        return Err(Error::config(format!(
            "python_logging format {fmt:?} has no %(asctime)s or %(created)f: a time is required"
        )));
    }
    let date_pattern = datefmt.unwrap_or(DEFAULT_DATEFMT);
    let time_format = if has_asctime {
        TimeFormat::Strftime(StrftimeFormat::new(date_pattern).map_err(|e| {
            Error::config(format!(
                "python_logging datefmt {date_pattern:?} is not a valid strftime pattern ({e})"
            ))
        })?)
    } else {
        TimeFormat::Epoch(0)
    };
    let date_regex = strftime_regex(date_pattern);
    let add_msecs = has_asctime && datefmt.is_some();
    let mut builder = LayoutBuilder::new();
    for piece in &pieces {
        match piece {
            Piece::Literal(text) => builder.literal(text),
            Piece::Field { attr, padded, text } => {
                let (mut target, sub) = attribute(attr, &date_regex);
                if attr == "created" && !has_asctime {
                    target = Some(Target::Role(Role::Time));
                } else if attr == "msecs" && add_msecs {
                    target = Some(Target::Msecs);
                }
                if let Some(Target::Role(role)) = &target {
                    if builder.has(&Target::Role(*role)) {
                        // A second field for the same column (e.g. both %(name)s and a custom
                        // %(service)s): keep it as an extra column under its own name.
                        target = Some(Target::Extra(attr.clone()));
                    }
                }
                builder.field(target, &sub, *padded, text);
            }
        }
    }
    Ok(builder.finish("python_logging", time_format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::pattern::PatternFormat;
    use crate::logs::TimeValue;

    fn parse_with(
        fmt: &str,
        datefmt: Option<&str>,
        style: &str,
        line: &str,
    ) -> (String, Vec<(String, Option<String>)>) {
        let (f, _) = PatternFormat::from_layout(layout(fmt, datefmt, style).unwrap()).unwrap();
        let fields = f.parse(line).unwrap();
        let TimeValue::Text(ts) = fields.ts else {
            panic!("no ts")
        };
        let mut out = vec![
            ("level".to_string(), fields.level.map(|s| s.into_owned())),
            (
                "service".to_string(),
                fields.service.map(|s| s.into_owned()),
            ),
            (
                "message".to_string(),
                fields.message.map(|s| s.into_owned()),
            ),
        ];
        out.extend(
            fields
                .extras
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.map(|s| s.into_owned()))),
        );
        if fields.ts_adjust != 0 {
            out.push(("adjust".into(), Some(fields.ts_adjust.to_string())));
        }
        (ts.into_owned(), out)
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn default_format() {
        let (ts, fields) = parse_with(
            "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
            None,
            "%",
            "2024-01-15 10:00:00,123 - app.db - WARNING - slow query - 2.5 s",
        );
        assert_eq!(ts, "2024-01-15 10:00:00,123");
        assert_eq!(fields[0].1, some("WARNING"));
        assert_eq!(fields[1].1, some("app.db"));
        assert_eq!(fields[2].1, some("slow query - 2.5 s"));
    }

    #[test]
    fn padding_extras_and_lazy_fields() {
        let (ts, fields) = parse_with(
            "%(asctime)s %(levelname)-8s %(name)s:%(lineno)d [%(threadName)s] %(message)s",
            None,
            "%",
            "2024-01-15 10:00:00,123 INFO     root:42 [Thread-1 (worker)] a: b",
        );
        assert_eq!(ts, "2024-01-15 10:00:00,123");
        assert_eq!(fields[0].1, some("INFO"));
        assert_eq!(fields[1].1, some("root"));
        assert_eq!(fields[2].1, some("a: b"));
        assert_eq!(fields[3], ("lineno".into(), some("42")));
        assert_eq!(fields[4], ("threadName".into(), some("Thread-1 (worker)")));
    }

    #[test]
    fn basic_format_with_created_and_colons() {
        let (ts, fields) = parse_with(
            "%(created)f:%(levelname)s:%(name)s:%(message)s",
            None,
            "%",
            "1705312800.5:INFO:root:hello: world",
        );
        assert_eq!(ts, "1705312800.5");
        assert_eq!(fields[0].1, some("INFO"));
        assert_eq!(fields[1].1, some("root"));
        assert_eq!(fields[2].1, some("hello: world"));
    }

    #[test]
    fn datefmt_with_msecs_and_other_styles() {
        let (ts, fields) = parse_with(
            "%(asctime)s.%(msecs)03d %(levelname)s %(message)s",
            Some("%d/%m/%Y %H:%M:%S"),
            "%",
            "15/01/2024 10:00:00.042 ERROR boom",
        );
        assert_eq!(ts, "15/01/2024 10:00:00");
        assert!(fields.contains(&("adjust".into(), some("42"))));
        let (ts, fields) = parse_with(
            "{asctime} {levelname:<8} {name} {message}",
            None,
            "{",
            "2024-01-15 10:00:00,123 INFO     svc {x}",
        );
        assert_eq!(ts, "2024-01-15 10:00:00,123");
        assert_eq!(fields[2].1, some("{x}"));
        let (_, fields) = parse_with(
            "${asctime} $levelname $$ $message",
            None,
            "$",
            "2024-01-15 10:00:00,123 INFO $ m",
        );
        assert_eq!(fields[2].1, some("m"));
    }

    #[test]
    fn config_errors() {
        for (fmt, style, needle) in [
            ("%(levelname)s:%(message)s", "%", "a time is required"),
            ("%(asctime)s %z", "%", "at byte 12"),
            ("{asctime} {", "{", "at byte 10"),
            ("%(asctime)s", "#", "unknown python_logging style"),
        ] {
            let err = layout(fmt, None, style).unwrap_err();
            assert!(
                matches!(err, Error::Config(_)) && err.to_string().contains(needle),
                "{fmt}: {err}"
            );
        }
        assert!(layout("%(asctime)s", Some("%Y-%Q"), "%").is_err());
    }
}
