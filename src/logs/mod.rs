//! Log-line parsing: raw lines in, an Arrow table of records and a table of rejects out.
//!
//! Formats: JSON lines ([`json`]), logfmt ([`logfmt`]) and regexes with named groups ([`pattern`]),
//! with presets for Python `logging` ([`python_logging`]), log4j/logback ([`log4j`]) and syslog
//! RFC 5424 ([`syslog`]). Times are read by [`timestamp`].
//!
//! Records: `ts` timestamp[ms, UTC] (required), `level` (upper-cased), `service`, `message`, then
//! extra fields as utf8 columns in order of first appearance (typed ones, `fields`, first and with
//! their type). Rejects: `line`, `position`, `reason`. Times without a zone are read in `timezone`
//! (UTC by default). Fields no record had are listed in [`ParsedLogs::missing_fields`].
//! No line is dropped: every line in is either a record or a reject.

mod config;
pub mod input;
pub mod json;
pub mod log4j;
pub mod logfmt;
pub mod output;
pub mod pattern;
pub mod python_logging;
pub mod reader;
mod session;
pub mod syslog;
pub mod timestamp;

use crate::error::{Error, Result};
use crate::time::{check_event_time, Millis};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
pub use config::{FormatConfig, ParserConfig, Role, RoleKeys, MAX_LINE_BYTES_LIMIT};
use hashbrown::HashMap;
use json::JsonFormat;
use logfmt::LogfmtFormat;
pub use output::FieldType;
use output::{truncate, ExtraColumns, Record};
use pattern::PatternFormat;
pub use session::{open_file, ParseSession};
use std::borrow::Cow;
use std::path::Path;
use timestamp::{TimeFormat, Zone};

/// What a format found in one line, before the time is read.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    pub ts: TimeValue<'a>,
    /// The key or group the time came from (for reasons).
    pub ts_key: &'a str,
    /// Milliseconds to add to the time (Python logging `msecs`).
    pub ts_adjust: Millis,
    pub level: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    pub message: Option<Cow<'a, str>>,
    pub extras: Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>,
}

#[derive(Debug)]
pub(crate) enum TimeValue<'a> {
    /// Why there is no time.
    Missing(String),
    Text(Cow<'a, str>),
    /// A JSON number, as its decimal text.
    Number(Cow<'a, str>),
    /// A JSON value of another type: `(type name, JSON text)`.
    Other(&'static str, Cow<'a, str>),
}

impl Default for TimeValue<'_> {
    fn default() -> Self {
        TimeValue::Missing(String::new())
    }
}

#[derive(Debug, Clone)]
enum Format {
    Json(JsonFormat),
    Logfmt(LogfmtFormat),
    Pattern(PatternFormat),
}

/// A configured parser. Cheap to share between threads; parsing state lives in a [`ParseSession`].
#[derive(Debug, Clone)]
pub struct LogParser {
    config: ParserConfig,
    format: Format,
    time_format: TimeFormat,
    /// The zone of zone-less times.
    zone: Zone,
    required: [bool; 4],
    columns: ExtraColumns,
    /// Typed extra columns by column name (`fields`).
    types: HashMap<String, FieldType>,
    /// The same in the order given.
    typed: Vec<(String, FieldType)>,
}

/// Parsed records and rejects. Both are lists of record batches sharing one schema (a batch holds at
/// most `batch_rows` rows and 512 MiB of text); `records + rejects == lines in`.
#[derive(Debug, Clone)]
pub struct ParsedLogs {
    pub schema: SchemaRef,
    pub records: Vec<RecordBatch>,
    pub rejects_schema: SchemaRef,
    pub rejects: Vec<RecordBatch>,
    /// Standard fields (`level`, `service`, `message`) the format looks for, and extra fields named
    /// in `extra_fields` or `fields`, that no record had (absent or null in every record; only said
    /// when there is at least one record): `(column, sentence for the user)`.
    pub missing_fields: Vec<(String, String)>,
}

impl ParsedLogs {
    pub fn num_records(&self) -> usize {
        self.records.iter().map(RecordBatch::num_rows).sum()
    }

    pub fn num_rejects(&self) -> usize {
        self.rejects.iter().map(RecordBatch::num_rows).sum()
    }

    /// All records as one batch (fails if a text column would exceed 2 GiB).
    pub fn records_batch(&self) -> Result<RecordBatch> {
        Ok(arrow_select::concat::concat_batches(
            &self.schema,
            &self.records,
        )?)
    }

    /// All rejects as one batch.
    pub fn rejects_batch(&self) -> Result<RecordBatch> {
        Ok(arrow_select::concat::concat_batches(
            &self.rejects_schema,
            &self.rejects,
        )?)
    }
}

impl LogParser {
    pub fn new(config: ParserConfig) -> Result<LogParser> {
        let user_time =
            |default: &str| TimeFormat::from_name(config.time_format.as_deref().unwrap_or(default));
        let preset_time = |name: &str| {
            match &config.time_format {
            Some(_) => Err(Error::config(format!(
                "{name} reads its own time layout; time_format applies to json, logfmt and regex only"
            ))),
            None => Ok(()),
        }
        };
        let (format, time_format) = match &config.format {
            FormatConfig::Json(keys) => {
                keys.validate("json")?;
                let extra_names: Vec<(String, &str)> = config
                    .extra_fields
                    .iter()
                    .flatten()
                    .map(|n| (n.clone(), "extra_fields"))
                    .chain(config.fields.iter().map(|(n, _)| (n.clone(), "fields")))
                    .collect();
                (
                    Format::Json(JsonFormat::new(keys.clone(), &extra_names)?),
                    user_time("auto")?,
                )
            }
            FormatConfig::Logfmt(keys) => {
                keys.validate("logfmt")?;
                (
                    Format::Logfmt(LogfmtFormat::new(keys.clone())),
                    user_time("auto")?,
                )
            }
            FormatConfig::Regex(pattern) => {
                let (f, t) = PatternFormat::from_regex(pattern, user_time("auto")?)?;
                (Format::Pattern(f), t)
            }
            FormatConfig::PythonLogging {
                fmt,
                datefmt,
                style,
            } => {
                preset_time("python_logging")?;
                let (f, t) = PatternFormat::from_layout(python_logging::layout(
                    fmt,
                    datefmt.as_deref(),
                    style,
                )?)?;
                (Format::Pattern(f), t)
            }
            FormatConfig::Log4j(pattern) => {
                preset_time("log4j")?;
                let (f, t) = PatternFormat::from_layout(log4j::layout(pattern)?)?;
                (Format::Pattern(f), t)
            }
            FormatConfig::Syslog => {
                preset_time("syslog")?;
                let (f, t) = PatternFormat::from_layout(syslog::layout())?;
                (Format::Pattern(f), t)
            }
        };
        let mut required = [true, false, false, false];
        for name in &config.required {
            match Role::from_name(name) {
                Some(role) => required[role as usize] = true,
                None => {
                    return Err(Error::config(format!(
                        "required: unknown field {name:?}; expected \"level\", \"service\" or \"message\" (ts is always required)"
                    )))
                }
            }
        }
        let columns = match (&config.extra_fields, &format) {
            (Some(names), _) => {
                for (i, name) in names.iter().enumerate() {
                    if Role::from_name(name).is_some() {
                        return Err(Error::config(format!(
                            "extra_fields: {name:?} is a standard column; an extra field with that name is \
                             called {:?}",
                            format!("{name}_")
                        )));
                    }
                    if names[..i].contains(name) {
                        return Err(Error::config(format!(
                            "extra_fields: {name:?} is listed twice"
                        )));
                    }
                }
                ExtraColumns::Fixed(names.clone())
            }
            (None, Format::Pattern(p)) => ExtraColumns::Fixed(
                p.extra_names()
                    .iter()
                    .map(|n| output::extra_column_name(n).into_owned())
                    .collect(),
            ),
            (None, _) => ExtraColumns::Discover {
                max: config.max_extra_fields,
            },
        };
        let zone = match &config.timezone {
            None => Zone::Utc,
            Some(name) => Zone::from_name(name)?,
        };
        let mut typed: Vec<(String, FieldType)> = Vec::new();
        if !config.fields.is_empty() && matches!(format, Format::Pattern(_)) {
            return Err(Error::config(
                "fields applies to the json and logfmt formats only",
            ));
        }
        for (name, type_name) in &config.fields {
            let Some(kind) = FieldType::from_name(type_name) else {
                return Err(Error::config(format!(
                    "fields: unknown type {type_name:?} for field {name:?}; expected {}",
                    FieldType::NAMES
                )));
            };
            if name.is_empty() {
                return Err(Error::config("fields: a field name is empty"));
            }
            if Role::from_name(name).is_some() {
                return Err(Error::config(format!(
                    "fields: {name:?} is a standard column (only extra fields take a type)"
                )));
            }
            if let ExtraColumns::Fixed(names) = &columns {
                if !names.contains(name) {
                    return Err(Error::config(format!(
                        "fields: {name:?} is not in extra_fields (list it there too)"
                    )));
                }
            }
            let column = output::extra_column_name(name).into_owned();
            if typed.iter().any(|(c, _)| *c == column) {
                return Err(Error::config(format!("fields: {name:?} is listed twice")));
            }
            typed.push((column, kind));
        }
        if config.max_line_bytes == 0 || config.max_line_bytes > MAX_LINE_BYTES_LIMIT {
            return Err(Error::config(format!(
                "max_line_bytes={} must be between 1 and {MAX_LINE_BYTES_LIMIT}",
                config.max_line_bytes
            )));
        }
        if config.batch_rows == 0 {
            return Err(Error::config("batch_rows must be at least 1"));
        }
        Ok(LogParser {
            config,
            format,
            time_format,
            zone,
            required,
            columns,
            types: typed.iter().cloned().collect(),
            typed,
        })
    }

    pub fn config(&self) -> &ParserConfig {
        &self.config
    }

    /// `"json"`, `"logfmt"`, `"regex"`, `"python_logging"`, `"log4j"` or `"syslog"`.
    pub fn format_name(&self) -> &'static str {
        match &self.format {
            Format::Json(_) => "json",
            Format::Logfmt(_) => "logfmt",
            Format::Pattern(p) => p.kind(),
        }
    }

    /// The regex used for pattern formats (for presets, the translation of the layout).
    pub fn pattern(&self) -> Option<&str> {
        match &self.format {
            Format::Pattern(p) => Some(p.source()),
            _ => None,
        }
    }

    pub fn session(&self) -> ParseSession<'_> {
        ParseSession::new(self)
    }

    /// Parse `(position, line)` pairs; a trailing `\n` or `\r\n` on a line is ignored.
    pub fn parse<'a>(
        &self,
        lines: impl IntoIterator<Item = (i64, &'a [u8])>,
    ) -> Result<ParsedLogs> {
        let mut session = self.session();
        for (position, line) in lines {
            session.push(position, Some(line))?;
        }
        session.finish()
    }

    /// Parse a text file line by line (positions are 1-based line numbers).
    pub fn parse_file(&self, path: impl AsRef<Path>) -> Result<ParsedLogs> {
        let mut session = self.session();
        let mut lines = session::open_lines(path.as_ref(), self.config.max_line_bytes)?;
        while let Some(()) = session.push_next(&mut lines, path.as_ref())? {}
        session.finish()
    }

    /// Whether the format looks for `role` at all (JSON and logfmt always do; a pattern needs a group).
    fn looks_for(&self, role: Role) -> bool {
        match &self.format {
            Format::Json(_) | Format::Logfmt(_) => true,
            Format::Pattern(p) => p.has_role(role),
        }
    }

    /// The fields never found in `records` records (see [`ParsedLogs::missing_fields`]).
    fn missing_fields(
        &self,
        found: [bool; 4],
        records: &output::RecordsBuilder,
    ) -> Vec<(String, String)> {
        let count = records.rows();
        if count == 0 {
            return Vec::new();
        }
        let what = if count == 1 {
            "the record".to_string()
        } else {
            format!("all {count} records")
        };
        let mut missing: Vec<(String, String)> = [Role::Level, Role::Service, Role::Message]
            .into_iter()
            .filter(|&role| !found[role as usize] && self.looks_for(role))
            .map(|role| {
                let column = role.column();
                let label = self.label(role, "");
                (
                    column.to_string(),
                    format!("{column:?} ({label}) was absent or null in {what}"),
                )
            })
            .collect();
        let named = self.config.extra_fields.iter().flatten();
        let typed = self.config.fields.iter().map(|(name, _)| name);
        for name in named.chain(typed) {
            let column = output::extra_column_name(name).into_owned();
            if !records.has_values(&column) && !missing.iter().any(|(c, _)| *c == column) {
                let sentence = format!("extra field {name:?} was absent or null in {what}");
                missing.push((column, sentence));
            }
        }
        missing
    }

    fn label(&self, role: Role, key: &str) -> String {
        match &self.format {
            Format::Json(_) | Format::Logfmt(_) if role == Role::Time && !key.is_empty() => {
                format!("key {key:?}")
            }
            Format::Json(f) => f.keys().describe(role),
            Format::Logfmt(f) => f.keys().describe(role),
            Format::Pattern(p) => p.label(role).to_string(),
        }
    }

    fn parse_line<'a>(&'a self, line: &'a str) -> Result<Record<'a>, String> {
        let fields = match &self.format {
            Format::Json(f) => f.parse(line)?,
            Format::Logfmt(f) => f.parse(line)?,
            Format::Pattern(f) => f.parse(line)?,
        };
        let label = || self.label(Role::Time, fields.ts_key);
        let (parsed, text) = match &fields.ts {
            TimeValue::Missing(why) => return Err(format!("missing time: {why}")),
            TimeValue::Other(kind, text) => {
                return Err(format!(
                    "time {} is a JSON {kind} ({}); expected a string or a number",
                    label(),
                    show(text)
                ))
            }
            TimeValue::Text(text) => (self.time_format.parse_text_in(text, self.zone), text),
            TimeValue::Number(text) => {
                if !self.time_format.accepts_numbers() {
                    return Err(format!(
                        "time {} is the number {}; expected {}",
                        label(),
                        show(text),
                        self.time_format.expectation()
                    ));
                }
                (self.time_format.parse_number_in(text, self.zone), text)
            }
        };
        let Some(ts) = parsed else {
            let detail = self
                .time_format
                .failure_detail(text, self.zone)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(format!(
                "cannot parse time {} value {}: expected {}{detail}",
                label(),
                show(text),
                self.time_format.expectation()
            ));
        };
        let ts = ts.saturating_add(fields.ts_adjust);
        if let Some(why) = check_event_time(ts) {
            return Err(format!(
                "time {} value {} is out of range: {why}",
                label(),
                show(text)
            ));
        }
        for (role, value) in [
            (Role::Level, &fields.level),
            (Role::Service, &fields.service),
            (Role::Message, &fields.message),
        ] {
            if self.required[role as usize] && value.is_none() {
                return Err(format!(
                    "missing required field {:?} ({})",
                    role.column(),
                    self.label(role, "")
                ));
            }
        }
        if !self.types.is_empty() {
            for (name, value) in &fields.extras {
                let Some(value) = value else { continue };
                let column = output::extra_column_name(name);
                if let Some(&kind) = self.types.get(column.as_ref()) {
                    if !kind.accepts(value) {
                        return Err(format!(
                            "field {:?} value {} is not {} {}",
                            truncate(name, 80),
                            show(value),
                            if kind == FieldType::Int64 { "an" } else { "a" },
                            kind.name()
                        ));
                    }
                }
            }
        }
        Ok(Record {
            ts,
            level: fields.level.map(uppercase),
            service: fields.service,
            message: fields.message,
            extras: fields.extras,
        })
    }
}

fn uppercase(level: Cow<'_, str>) -> Cow<'_, str> {
    if level
        .bytes()
        .any(|b| b.is_ascii_lowercase() || !b.is_ascii())
    {
        let upper = level.to_uppercase();
        if upper != level {
            return Cow::Owned(upper);
        }
    }
    level
}

/// A value for a reason: quoted, at most 80 characters.
fn show(text: &str) -> String {
    format!("{:?}", truncate(text, 80))
}

#[cfg(test)]
mod tests;
