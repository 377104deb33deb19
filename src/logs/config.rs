//! Parser configuration: the standard fields, which keys hold them, the format and its options.

use super::output;
use crate::error::{Error, Result};

/// The standard fields, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Time = 0,
    Level = 1,
    Service = 2,
    Message = 3,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Time, Role::Level, Role::Service, Role::Message];

    pub fn column(self) -> &'static str {
        output::STANDARD_COLUMNS[self as usize]
    }

    /// The option naming this field's keys (`time_field`, `level_field`, ...).
    pub fn option(self) -> &'static str {
        [
            "time_field",
            "level_field",
            "service_field",
            "message_field",
        ][self as usize]
    }

    pub(super) fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.column() == name)
    }
}

/// Which keys (JSON, logfmt) hold each standard field; for each, the first key present in a line
/// (and not null) wins. Candidate keys never become extra columns.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleKeys {
    pub time: Vec<String>,
    pub level: Vec<String>,
    pub service: Vec<String>,
    pub message: Vec<String>,
}

pub(crate) fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl RoleKeys {
    pub fn json_defaults() -> Self {
        RoleKeys {
            time: strings(&["ts"]),
            level: strings(&["level"]),
            service: strings(&["service"]),
            message: strings(&["message"]),
        }
    }

    pub fn logfmt_defaults() -> Self {
        RoleKeys {
            time: strings(&["ts", "time"]),
            level: strings(&["level"]),
            service: strings(&["service"]),
            message: strings(&["msg", "message"]),
        }
    }

    pub fn get(&self, role: Role) -> &[String] {
        match role {
            Role::Time => &self.time,
            Role::Level => &self.level,
            Role::Service => &self.service,
            Role::Message => &self.message,
        }
    }

    pub(super) fn validate(&self, format: &str) -> Result<()> {
        let mut seen: Vec<(&str, Role)> = Vec::new();
        for role in Role::ALL {
            let keys = self.get(role);
            if keys.is_empty() {
                return Err(Error::config(format!(
                    "{format}: {} needs at least one key name",
                    role.option()
                )));
            }
            for key in keys {
                if key.is_empty() {
                    return Err(Error::config(format!(
                        "{format}: {} contains an empty key name",
                        role.option()
                    )));
                }
                if let Some((_, other)) = seen.iter().find(|(k, _)| k == key) {
                    return Err(Error::config(format!(
                        "{format}: key {key:?} is given for both {} and {}",
                        other.option(),
                        role.option()
                    )));
                }
                seen.push((key, role));
            }
        }
        Ok(())
    }

    /// For each role, the index of the entry that fills it. A repeated key's last value counts
    /// (as in most JSON readers); the first candidate key whose value is not null wins.
    pub(crate) fn select(&self, entries: &[(&str, bool)]) -> [Option<usize>; 4] {
        Role::ALL.map(|role| {
            self.get(role).iter().find_map(|candidate| {
                let last = entries.iter().rposition(|(key, _)| key == candidate)?;
                (!entries[last].1).then_some(last)
            })
        })
    }

    /// Whether `key` is a candidate for any standard field (such keys never become extra columns).
    pub(crate) fn is_candidate(&self, key: &str) -> bool {
        Role::ALL
            .iter()
            .any(|&role| self.get(role).iter().any(|k| k == key))
    }

    pub(super) fn describe(&self, role: Role) -> String {
        let keys = self.get(role);
        if keys.len() == 1 {
            format!("key {:?}", keys[0])
        } else {
            let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
            format!("keys {}", quoted.join(", "))
        }
    }

    /// Why a role has no value: no candidate key at all, or only null ones.
    pub(crate) fn missing<'k>(
        &self,
        role: Role,
        mut present: impl Iterator<Item = &'k str>,
    ) -> String {
        let keys = self.get(role);
        match present.find(|k| keys.iter().any(|c| c == k)) {
            Some(key) => format!("key {key:?} is null"),
            None => format!("no {}", self.describe(role)),
        }
    }
}

/// A JSON key path, split into keys: `"ctx.service"` is key `service` inside the object under key
/// `ctx`; `\.` is a dot inside a key and `\\` a backslash. `Ok(None)` for a plain key (no dot, no
/// backslash). A top-level key spelled exactly like the whole path is looked up first and wins.
pub(crate) fn key_path(spec: &str) -> std::result::Result<Option<Vec<String>>, String> {
    if !spec.contains(['.', '\\']) {
        return Ok(None);
    }
    let mut keys = vec![String::new()];
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('.' | '\\')) => keys.last_mut().expect("never empty").push(e),
                _ => {
                    return Err(format!(
                        "bad key path {spec:?}: a backslash must be followed by '.' or '\\' (\\. is a dot inside a key)"
                    ))
                }
            },
            '.' => keys.push(String::new()),
            c => keys.last_mut().expect("never empty").push(c),
        }
    }
    if keys.iter().any(String::is_empty) {
        return Err(format!(
            "bad key path {spec:?}: empty key name between dots (write a dot inside a key as \\.)"
        ));
    }
    Ok(Some(keys))
}

/// The line format and its options.
#[derive(Debug, Clone, PartialEq)]
pub enum FormatConfig {
    Json(RoleKeys),
    Logfmt(RoleKeys),
    /// A regex with named groups (`ts` required; `level`, `service`, `message`; others are extras).
    Regex(String),
    /// A Python `logging` format string; `datefmt` as given to `logging.Formatter`; style `%`, `{` or `$`.
    PythonLogging {
        fmt: String,
        datefmt: Option<String>,
        style: String,
    },
    /// A log4j/logback pattern layout.
    Log4j(String),
    /// Syslog RFC 5424.
    Syslog,
}

/// Everything a [`LogParser`] needs; immutable once built.
#[derive(Debug, Clone, PartialEq)]
pub struct ParserConfig {
    pub format: FormatConfig,
    /// `"auto"`, `"rfc3339"`, `"epoch_s"`, `"epoch_ms"`, ... or a strftime pattern (see [`timestamp`]).
    /// Only for JSON, logfmt and regex; the presets know their time layout.
    pub time_format: Option<String>,
    /// The zone of times written without one: `"UTC"` (the default), an IANA name or `"local"`.
    /// Times with an offset, and epoch numbers, ignore it. Every format takes it.
    pub timezone: Option<String>,
    /// Standard fields (`level`, `service`, `message`) whose absence makes a line a reject.
    pub required: Vec<String>,
    /// Exactly these extra columns, in this order (others dropped); `None` keeps every field seen.
    pub extra_fields: Option<Vec<String>>,
    /// Typed extra fields: `(field name or JSON path, type name)`, type `"string"`, `"int64"`,
    /// `"float64"` or `"bool"` (JSON and logfmt only). A value that does not convert makes the line
    /// a reject; other extra fields are utf8.
    pub fields: Vec<(String, String)>,
    /// With `extra_fields: None`, the most extra columns to create; a line that would add more is
    /// rejected (this bounds memory on input with unbounded key sets).
    pub max_extra_fields: usize,
    /// Lines longer than this are rejected (the rejects table keeps their first 1 KiB).
    pub max_line_bytes: usize,
    /// Rows per output record batch.
    pub batch_rows: usize,
}

/// Lines longer than 1 GiB are always rejected (Arrow utf8 columns hold at most 2 GiB per batch).
pub const MAX_LINE_BYTES_LIMIT: usize = 1 << 30;

impl ParserConfig {
    pub fn new(format: FormatConfig) -> Self {
        ParserConfig {
            format,
            time_format: None,
            timezone: None,
            required: Vec::new(),
            extra_fields: None,
            fields: Vec::new(),
            max_extra_fields: 1000,
            max_line_bytes: 64 << 20,
            batch_rows: 65_536,
        }
    }
}
