//! Log-line parsing: raw lines in, an Arrow table of records and a table of rejects out.
//!
//! Formats: JSON lines ([`json`]), logfmt ([`logfmt`]) and regexes with named groups ([`pattern`]),
//! with presets for Python `logging` ([`python_logging`]), log4j/logback ([`log4j`]) and syslog
//! RFC 5424 ([`syslog`]). Times are read by [`timestamp`].
//!
//! Records: `ts` timestamp[ms, UTC] (required), `level` (upper-cased), `service`, `message`, then
//! extra fields as utf8 columns in order of first appearance. Rejects: `line`, `position`, `reason`.
//! No line is dropped: every line in is either a record or a reject.

pub mod input;
pub mod json;
pub mod log4j;
pub mod logfmt;
pub mod output;
pub mod pattern;
pub mod python_logging;
pub mod reader;
pub mod syslog;
pub mod timestamp;

use crate::error::{Error, Result};
use crate::time::{check_event_time, Millis};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use json::JsonFormat;
use logfmt::LogfmtFormat;
use output::{truncate, ExtraColumns, Record, RecordsBuilder, RejectsBuilder};
use pattern::PatternFormat;
use reader::{Line, LineReader};
use std::borrow::Cow;
use std::path::Path;
use timestamp::TimeFormat;

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

    fn from_name(name: &str) -> Option<Role> {
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

fn strings(names: &[&str]) -> Vec<String> {
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

    fn validate(&self, format: &str) -> Result<()> {
        let mut seen: Vec<(&str, Role)> = Vec::new();
        for role in Role::ALL {
            let keys = self.get(role);
            if keys.is_empty() {
                return Err(Error::config(format!(
                    "{format}: {}_field needs at least one key name",
                    role.column()
                )));
            }
            for key in keys {
                if key.is_empty() {
                    return Err(Error::config(format!(
                        "{format}: {}_field contains an empty key name",
                        role.column()
                    )));
                }
                if let Some((_, other)) = seen.iter().find(|(k, _)| k == key) {
                    return Err(Error::config(format!(
                        "{format}: key {key:?} is given for both {}_field and {}_field",
                        other.column(),
                        role.column()
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

    fn describe(&self, role: Role) -> String {
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
    /// Standard fields (`level`, `service`, `message`) whose absence makes a line a reject.
    pub required: Vec<String>,
    /// Exactly these extra columns, in this order (others dropped); `None` keeps every field seen.
    pub extra_fields: Option<Vec<String>>,
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
            required: Vec::new(),
            extra_fields: None,
            max_extra_fields: 1000,
            max_line_bytes: 64 << 20,
            batch_rows: 65_536,
        }
    }
}

/// A configured parser. Cheap to share between threads; parsing state lives in a [`ParseSession`].
#[derive(Debug, Clone)]
pub struct LogParser {
    config: ParserConfig,
    format: Format,
    time_format: TimeFormat,
    required: [bool; 4],
    columns: ExtraColumns,
}

/// Parsed records and rejects. Both are lists of record batches sharing one schema (a batch holds at
/// most `batch_rows` rows and 512 MiB of text); `records + rejects == lines in`.
#[derive(Debug, Clone)]
pub struct ParsedLogs {
    pub schema: SchemaRef,
    pub records: Vec<RecordBatch>,
    pub rejects_schema: SchemaRef,
    pub rejects: Vec<RecordBatch>,
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
                (
                    Format::Json(JsonFormat::new(keys.clone())),
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
            required,
            columns,
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
        ParseSession {
            parser: self,
            records: RecordsBuilder::new(self.columns.clone(), self.config.batch_rows),
            rejects: RejectsBuilder::new(self.config.batch_rows),
        }
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
        let mut lines = open_lines(path.as_ref(), self.config.max_line_bytes)?;
        while let Some(()) = session.push_next(&mut lines, path.as_ref())? {}
        session.finish()
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
            TimeValue::Text(text) => (self.time_format.parse_text(text), text),
            TimeValue::Number(text) => {
                if !self.time_format.accepts_numbers() {
                    return Err(format!(
                        "time {} is the number {}; expected {}",
                        label(),
                        show(text),
                        self.time_format.expectation()
                    ));
                }
                (self.time_format.parse_number(text), text)
            }
        };
        let Some(ts) = parsed else {
            let detail = self
                .time_format
                .failure_detail(text)
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
        Ok(Record {
            ts,
            level: fields.level.map(uppercase),
            service: fields.service,
            message: fields.message,
            extras: fields.extras,
        })
    }
}

fn open_lines(
    path: &Path,
    max_line_bytes: usize,
) -> Result<LineReader<std::io::BufReader<std::fs::File>>> {
    let file = std::fs::File::open(path).map_err(|source| io_error(path, source))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(io_error(path, std::io::Error::other("is a directory")));
    }
    Ok(LineReader::new(
        std::io::BufReader::with_capacity(1 << 20, file),
        max_line_bytes,
    ))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Opens `path` for [`ParseSession::push_next`].
pub fn open_file(
    path: &Path,
    parser: &LogParser,
) -> Result<LineReader<std::io::BufReader<std::fs::File>>> {
    open_lines(path, parser.config.max_line_bytes)
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

/// Bytes of a too-long line kept in the rejects table.
const TOO_LONG_KEEP: usize = 1024;

/// Incremental parsing: push lines (from any source, in any number of calls), then `finish`.
pub struct ParseSession<'p> {
    parser: &'p LogParser,
    records: RecordsBuilder,
    rejects: RejectsBuilder,
}

impl ParseSession<'_> {
    /// Lines pushed so far.
    pub fn lines(&self) -> usize {
        self.records.rows() + self.rejects.rows()
    }

    pub fn records(&self) -> usize {
        self.records.rows()
    }

    pub fn rejects(&self) -> usize {
        self.rejects.rows()
    }

    /// One line (`None` for a null value in the input). A trailing `\n` or `\r\n` is ignored.
    pub fn push(&mut self, position: i64, line: Option<&[u8]>) -> Result<()> {
        let Some(mut bytes) = line else {
            return self.rejects.push(None, position, "line is null");
        };
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest.strip_suffix(b"\r").unwrap_or(rest);
        }
        let max = self.parser.config.max_line_bytes;
        if bytes.len() > max {
            return self.push_too_long(position, &bytes[..max], bytes.len() as u64);
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                return self.rejects.push(
                    Some(bytes),
                    position,
                    &format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                )
            }
        };
        if text.trim().is_empty() {
            return self.rejects.push(Some(bytes), position, "empty line");
        }
        match self.parser.parse_line(text) {
            Ok(record) => match self.records.check_columns(&record) {
                None => self.records.push(record),
                Some(why) => self.rejects.push(Some(bytes), position, &why),
            },
            Err(why) => self.rejects.push(Some(bytes), position, &why),
        }
    }

    /// A line of `len` bytes, over `max_line_bytes`, of which `head` was kept.
    pub fn push_too_long(&mut self, position: i64, head: &[u8], len: u64) -> Result<()> {
        let mut keep = &head[..head.len().min(TOO_LONG_KEEP)];
        // Do not cut a UTF-8 character in half.
        while !keep.is_empty() && std::str::from_utf8(keep).is_err_and(|e| e.error_len().is_none())
        {
            keep = &keep[..keep.len() - 1];
        }
        let why = format!(
            "line is {len} bytes, over max_line_bytes={} (the line column holds its first {} bytes)",
            self.parser.config.max_line_bytes,
            keep.len()
        );
        self.rejects.push(Some(keep), position, &why)
    }

    /// Read and push the next line of a file; `None` at the end.
    pub fn push_next<R: std::io::BufRead>(
        &mut self,
        lines: &mut LineReader<R>,
        path: &Path,
    ) -> Result<Option<()>> {
        match lines.next_line().map_err(|e| io_error(path, e))? {
            None => Ok(None),
            Some((position, Line::Text(bytes))) => self.push(position, Some(bytes)).map(Some),
            Some((position, Line::TooLong(head, len))) => {
                self.push_too_long(position, head, len).map(Some)
            }
        }
    }

    pub fn finish(self) -> Result<ParsedLogs> {
        let (schema, records) = self.records.finish()?;
        let (rejects_schema, rejects) = self.rejects.finish()?;
        Ok(ParsedLogs {
            schema,
            records,
            rejects_schema,
            rejects,
        })
    }
}

#[cfg(test)]
mod tests;
