//! Regular expressions with named groups. Groups named `ts`, `level`, `service` and `message` fill
//! the standard columns; every other named group becomes an extra column (in pattern order). The
//! layout presets (`python_logging`, `log4j`, `syslog`) translate to the same engine.
//!
//! A user pattern is searched for anywhere in the line (like Python's `re.search`); anchor it with
//! `^...$` to match whole lines. Preset patterns are anchored.

use super::timestamp::TimeFormat;
use super::{Fields, Role, TimeValue};
use crate::error::{Error, Result};
use regex::{Regex, RegexBuilder};
use std::borrow::Cow;

/// Where a capture group goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    Role(Role),
    Extra(String),
    /// Milliseconds added to the time (Python's `%(msecs)d` next to an `asctime` without them).
    Msecs,
    /// Syslog PRI: gives the level (severity) and the `facility` extra column.
    SyslogPri,
}

/// A translated layout: the regex source and what each named group means.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub kind: &'static str,
    pub regex: String,
    pub targets: Vec<(String, Target)>,
    /// How reject reasons name each standard field (`group "ts"`, `%(asctime)s`).
    pub labels: [String; 4],
    pub time_format: TimeFormat,
    pub syslog: bool,
}

#[derive(Debug, Clone)]
pub struct PatternFormat {
    kind: &'static str,
    source: String,
    regex: Regex,
    roles: [Option<usize>; 4],
    extras: Vec<(String, usize)>,
    msecs: Option<usize>,
    pri: Option<usize>,
    labels: [String; 4],
    syslog: bool,
}

const REGEX_SIZE_LIMIT: usize = 16 << 20;

impl PatternFormat {
    /// A user regex; `ts` group required.
    pub fn from_regex(
        pattern: &str,
        time_format: TimeFormat,
    ) -> Result<(PatternFormat, TimeFormat)> {
        let regex = compile(pattern, "regex")?;
        let mut targets = Vec::new();
        for name in regex.capture_names().flatten() {
            let target = match name {
                "ts" => Target::Role(Role::Time),
                "level" => Target::Role(Role::Level),
                "service" => Target::Role(Role::Service),
                "message" => Target::Role(Role::Message),
                other => Target::Extra(other.to_string()),
            };
            targets.push((name.to_string(), target));
        }
        if !targets.iter().any(|(_, t)| *t == Target::Role(Role::Time)) {
            let names: Vec<_> = regex.capture_names().flatten().collect();
            return Err(Error::config(format!(
                "regex {:?} has no named group \"ts\" for the time (write (?P<ts>...)); its named groups are {names:?}",
                super::output::truncate(pattern, 200)
            )));
        }
        let labels = Role::ALL.map(|r| format!("group {:?}", r.column()));
        let layout = Layout {
            kind: "regex",
            regex: pattern.to_string(),
            targets,
            labels,
            time_format,
            syslog: false,
        };
        Self::from_layout(layout)
    }

    /// A preset's translated layout.
    pub(crate) fn from_layout(layout: Layout) -> Result<(PatternFormat, TimeFormat)> {
        let regex = compile(&layout.regex, layout.kind)?;
        let index_of = |group: &str| regex.capture_names().position(|n| n == Some(group));
        let mut roles = [None; 4];
        let mut extras = Vec::new();
        let mut msecs = None;
        let mut pri = None;
        for (group, target) in &layout.targets {
            let Some(at) = index_of(group) else {
                return Err(Error::config(format!(
                    "{} pattern has no group {group:?}",
                    layout.kind
                )));
            };
            match target {
                Target::Role(role) => roles[*role as usize] = Some(at),
                Target::Extra(name) => extras.push((name.clone(), at)),
                Target::Msecs => msecs = Some(at),
                Target::SyslogPri => pri = Some(at),
            }
        }
        if roles[Role::Time as usize].is_none() {
            return Err(Error::config(format!(
                "{} pattern has no time field",
                layout.kind
            )));
        }
        let format = PatternFormat {
            kind: layout.kind,
            source: layout.regex,
            regex,
            roles,
            extras,
            msecs,
            pri,
            labels: layout.labels,
            syslog: layout.syslog,
        };
        Ok((format, layout.time_format))
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the pattern has a group (or, for syslog, the PRI) for `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles[role as usize].is_some() || (role == Role::Level && self.pri.is_some())
    }

    pub fn label(&self, role: Role) -> &str {
        &self.labels[role as usize]
    }

    /// Extra column names, in output order.
    pub fn extra_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.pri.is_some() {
            names.push("facility".to_string());
        }
        names.extend(self.extras.iter().map(|(n, _)| n.clone()));
        names
    }

    pub(crate) fn parse<'a>(&'a self, line: &'a str) -> Result<Fields<'a>, String> {
        let caps = self
            .regex
            .captures(line)
            .ok_or_else(|| format!("line does not match the {} pattern", self.kind))?;
        // In syslog headers a lone "-" is the NILVALUE.
        let get = |at: Option<usize>, nil: bool| -> Option<&'a str> {
            let text = caps.get(at?)?.as_str();
            (!(nil && text == "-")).then_some(text)
        };
        let nil = self.syslog;
        let mut fields = Fields::default();
        let ts_at = self.roles[Role::Time as usize];
        fields.ts = match get(ts_at, nil) {
            Some(text) => TimeValue::Text(Cow::Borrowed(text)),
            None if nil && ts_at.and_then(|at| caps.get(at)).is_some() => {
                TimeValue::Missing("TIMESTAMP is the NILVALUE \"-\"".to_string())
            }
            None => TimeValue::Missing(format!("{} did not match", self.label(Role::Time))),
        };
        fields.level = get(self.roles[Role::Level as usize], nil).map(Cow::Borrowed);
        fields.service = get(self.roles[Role::Service as usize], nil).map(Cow::Borrowed);
        fields.message = get(self.roles[Role::Message as usize], false).map(|m| {
            // RFC 5424 allows a byte-order mark before a UTF-8 MSG.
            Cow::Borrowed(if nil {
                m.strip_prefix('\u{feff}').unwrap_or(m)
            } else {
                m
            })
        });
        if let Some(text) = get(self.msecs, false) {
            let whole = text.split('.').next().unwrap_or("");
            fields.ts_adjust = whole
                .parse::<i64>()
                .map_err(|_| format!("msecs {text:?} is not a number"))?;
        }
        if let Some(text) = get(self.pri, false) {
            let pri: u32 = text
                .parse()
                .map_err(|_| format!("syslog PRI {text:?} is not a number"))?;
            if pri > 191 {
                return Err(format!("syslog PRI <{pri}> is out of range (0..=191)"));
            }
            fields.level = Some(Cow::Borrowed(SEVERITIES[(pri % 8) as usize]));
            fields.extras.push((
                Cow::Borrowed("facility"),
                Some(Cow::Borrowed(FACILITIES[(pri / 8) as usize])),
            ));
        }
        for (name, at) in &self.extras {
            fields.extras.push((
                Cow::Borrowed(name.as_str()),
                get(Some(*at), nil).map(Cow::Borrowed),
            ));
        }
        Ok(fields)
    }
}

/// RFC 5424 severity keywords, by code.
const SEVERITIES: [&str; 8] = [
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
];
/// RFC 5424 facilities, by code.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

fn compile(pattern: &str, kind: &str) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            Error::config(format!(
                "invalid {kind} pattern {:?}: {e}",
                super::output::truncate(pattern, 200)
            ))
        })
}

/// Builds a layout's regex from literal text and fields, naming groups `g0`, `g1`, ... and giving
/// each field's first occurrence the capture (later repeats are matched but not captured).
pub(crate) struct LayoutBuilder {
    pub regex: String,
    pub targets: Vec<(String, Target)>,
    pub labels: [String; 4],
}

impl LayoutBuilder {
    pub fn new() -> Self {
        LayoutBuilder {
            regex: String::from("^"),
            targets: Vec::new(),
            labels: Role::ALL.map(|r| r.column().to_string()),
        }
    }

    pub fn literal(&mut self, text: &str) {
        self.regex.push_str(&regex::escape(text));
    }

    pub fn has(&self, target: &Target) -> bool {
        self.targets.iter().any(|(_, t)| t == target)
    }

    /// A field matching `sub`; `padded` allows spaces around it (fixed-width layouts). Returns whether
    /// it got a capture group.
    pub fn field(&mut self, target: Option<Target>, sub: &str, padded: bool, label: &str) -> bool {
        let target = target.filter(|t| !self.has(t));
        if padded {
            self.regex.push_str(" *");
        }
        let captured = match target {
            Some(target) => {
                if let Target::Role(role) = target {
                    self.labels[role as usize] = label.to_string();
                }
                let group = format!("g{}", self.targets.len());
                self.regex.push_str(&format!("(?P<{group}>{sub})"));
                self.targets.push((group, target));
                true
            }
            None => {
                self.regex.push_str(&format!("(?:{sub})"));
                false
            }
        };
        if padded {
            self.regex.push_str(" *");
        }
        captured
    }

    pub fn finish(mut self, kind: &'static str, time_format: TimeFormat) -> Layout {
        self.regex.push('$');
        Layout {
            kind,
            regex: self.regex,
            targets: self.targets,
            labels: self.labels,
            time_format,
            syslog: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_regex_groups() {
        let (f, _) = PatternFormat::from_regex(
            r"^(?P<ts>\S+) \[(?P<level>\w+)\] (?:(?P<thread>\w+): )?(?P<message>.*)$",
            TimeFormat::Auto,
        )
        .unwrap();
        assert_eq!(f.extra_names(), ["thread"]);
        let fields = f.parse("2024-01-15T10:00:00Z [info] main: hello").unwrap();
        assert!(matches!(fields.ts, TimeValue::Text(ref t) if t == "2024-01-15T10:00:00Z"));
        assert_eq!(fields.level.as_deref(), Some("info"));
        assert_eq!(fields.message.as_deref(), Some("hello"));
        assert_eq!(fields.extras[0].1.as_deref(), Some("main"));
        let fields = f.parse("2024-01-15T10:00:00Z [info] hello there").unwrap();
        assert_eq!(fields.extras[0].1.as_deref(), None);
        assert_eq!(fields.message.as_deref(), Some("hello there"));
        assert_eq!(
            f.parse("nope").unwrap_err(),
            "line does not match the regex pattern"
        );
    }

    #[test]
    fn regex_config_errors() {
        let err = PatternFormat::from_regex(r"(?P<time>\S+)", TimeFormat::Auto).unwrap_err();
        assert!(
            matches!(err, Error::Config(_)) && err.to_string().contains("no named group \"ts\""),
            "{err}"
        );
        assert!(err.to_string().contains("\"time\""), "{err}");
        let err = PatternFormat::from_regex(r"(?P<ts>\S+", TimeFormat::Auto).unwrap_err();
        assert!(
            matches!(err, Error::Config(_)) && err.to_string().contains("invalid regex pattern"),
            "{err}"
        );
    }

    #[test]
    fn builder_captures_first_occurrence_only() {
        let mut b = LayoutBuilder::new();
        assert!(b.field(Some(Target::Role(Role::Time)), r"\d+", false, "%(created)f"));
        b.literal(" ");
        assert!(b.field(Some(Target::Extra("x".into())), r"\w+", true, "x"));
        b.literal(".");
        assert!(!b.field(Some(Target::Extra("x".into())), r"\w+", false, "x"));
        let layout = b.finish("test", TimeFormat::Epoch(0));
        assert_eq!(layout.regex, r"^(?P<g0>\d+)  *(?P<g1>\w+) *\.(?:\w+)$");
        let (f, _) = PatternFormat::from_layout(layout).unwrap();
        assert_eq!(f.label(Role::Time), "%(created)f");
        let fields = f.parse("17 abc  .def").unwrap();
        assert_eq!(fields.extras[0].1.as_deref(), Some("abc"));
    }
}
