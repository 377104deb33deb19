//! Log lines in, the time, service and "is an error" of every readable line out (every line moves
//! event time, ERROR lines are counted), and every unreadable line as a reject with its offset and
//! reason.
//!
//! `auto` reads each line by its first character: a JSON object (`{`) with the JSON parser, anything
//! else with Python logging's default layout. A topic written by two kinds of producers then parses
//! whole, and a run with the wrong format is impossible to start.

use crate::error::{Error, Result};
use crate::logs::{FormatConfig, LogParser, ParsedLogs, ParserConfig, RoleKeys};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    /// Per line: JSON when it starts with `{`, else Python logging's default layout.
    Auto,
    /// `%(asctime)s - %(name)s - %(levelname)s - %(message)s` (logging's default layout).
    Python,
    /// JSON objects with `ts`, `level`, `service`, `message`.
    Json,
}

pub const LINE_FORMATS: [&str; 3] = ["auto", "python", "json"];

impl LineFormat {
    pub fn from_name(name: &str) -> Result<LineFormat> {
        match name {
            "auto" => Ok(LineFormat::Auto),
            "python" => Ok(LineFormat::Python),
            "json" => Ok(LineFormat::Json),
            other => Err(Error::config(format!("log_format {other:?}: expected one of {}", LINE_FORMATS.join(", ")))),
        }
    }
}

fn parser(format: FormatConfig) -> Result<LogParser> {
    let mut config = ParserConfig::new(format);
    // Only ts, level and service are used: extra fields would cost columns for nothing.
    config.extra_fields = Some(Vec::new());
    LogParser::new(config)
}

/// What one batch of lines gave.
pub struct ErrorLines {
    /// `ts` (timestamp), `service` (utf8) and `error` (true for ERROR lines, null for others) of
    /// every readable line.
    pub records: Vec<RecordBatch>,
    pub error_count: usize,
    /// `line`, `offset`, `reason` of every line that could not be read.
    pub rejects: RecordBatch,
    /// Lines read as JSON, lines read with the Python layout.
    pub json_lines: usize,
    pub python_lines: usize,
}

pub struct LineParser {
    json: Option<LogParser>,
    python: Option<LogParser>,
}

fn records_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into())), false),
        Field::new("service", DataType::Utf8, true),
        Field::new("error", DataType::Boolean, true),
    ]))
}

pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("line", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
}

impl LineParser {
    pub fn new(format: LineFormat) -> Result<Self> {
        let json = || parser(FormatConfig::Json(RoleKeys::json_defaults()));
        let python = || {
            parser(FormatConfig::PythonLogging {
                fmt: "%(asctime)s - %(name)s - %(levelname)s - %(message)s".into(),
                datefmt: None,
                style: "%".into(),
            })
        };
        Ok(match format {
            LineFormat::Auto => LineParser { json: Some(json()?), python: Some(python()?) },
            LineFormat::Python => LineParser { json: None, python: Some(python()?) },
            LineFormat::Json => LineParser { json: Some(json()?), python: None },
        })
    }

    /// Lines (a string or binary column) with their input offsets.
    pub fn parse(&self, lines: &dyn Array, offsets: &[i64]) -> Result<ErrorLines> {
        if lines.len() != offsets.len() {
            return Err(Error::schema(format!("{} lines but {} offsets", lines.len(), offsets.len())));
        }
        let mut json = self.json.as_ref().map(LogParser::session);
        let mut python = self.python.as_ref().map(LogParser::session);
        let mut push = |offset: i64, line: Option<&[u8]>| -> Result<()> {
            let looks_json = line.is_some_and(|l| l.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'));
            match (&mut json, &mut python) {
                (Some(j), Some(_)) if looks_json => j.push(offset, line),
                (_, Some(p)) => p.push(offset, line),
                (Some(j), None) => j.push(offset, line),
                (None, None) => unreachable!("a LineParser has at least one parser"),
            }
        };
        match lines.data_type() {
            DataType::Utf8 => {
                for (line, &offset) in lines.as_string::<i32>().iter().zip(offsets) {
                    push(offset, line.map(str::as_bytes))?;
                }
            }
            DataType::Binary => {
                for (line, &offset) in lines.as_binary::<i32>().iter().zip(offsets) {
                    push(offset, line)?;
                }
            }
            other => return Err(Error::schema(format!("log lines must be a string or binary column, got {other}"))),
        }
        let json_lines = json.as_ref().map_or(0, |s| s.lines());
        let python_lines = python.as_ref().map_or(0, |s| s.lines());
        let parsed: Vec<ParsedLogs> = json.into_iter().chain(python).map(|s| s.finish()).collect::<Result<_>>()?;
        let mut records = Vec::new();
        let mut rejects = Vec::new();
        for logs in &parsed {
            for batch in &logs.records {
                records.push(record_rows(batch)?);
            }
            for batch in &logs.rejects {
                rejects.push(reject_rows(batch)?);
            }
        }
        let error_count = records.iter().map(|b| b.num_rows() - b.column(2).null_count()).sum();
        let rejects = arrow_select::concat::concat_batches(&rejects_schema(), &rejects)?;
        Ok(ErrorLines { records, error_count, rejects, json_lines, python_lines })
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| Error::schema(format!("parsed logs have no {name} column")))
}

/// `ts`, `service` and `error` (true where the level is ERROR, else null: `count(error)` counts errors).
fn record_rows(records: &RecordBatch) -> Result<RecordBatch> {
    let level = arrow_cast::cast(column(records, "level")?, &DataType::Utf8)?;
    let error: BooleanArray = level.as_string::<i32>().iter().map(|v| (v == Some("ERROR")).then_some(true)).collect();
    let service = arrow_cast::cast(column(records, "service")?, &DataType::Utf8)?;
    Ok(RecordBatch::try_new(records_schema(), vec![column(records, "ts")?.clone(), service, Arc::new(error)])?)
}

fn reject_rows(rejects: &RecordBatch) -> Result<RecordBatch> {
    let line = arrow_cast::cast(column(rejects, "line")?, &DataType::Utf8)?;
    let offset: Int64Array = arrow_cast::cast(column(rejects, "position")?, &DataType::Int64)?.as_primitive().clone();
    let reason: StringArray = arrow_cast::cast(column(rejects, "reason")?, &DataType::Utf8)?.as_string::<i32>().clone();
    Ok(RecordBatch::try_new(rejects_schema(), vec![line, Arc::new(offset), Arc::new(reason)])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::BinaryArray;

    #[test]
    fn auto_reads_each_line_in_its_own_format_and_accounts_for_every_line() {
        let lines: BinaryArray = vec![
            Some(&b"2026-01-01 00:00:01,500 - api - ERROR - boom"[..]),
            Some(br#"{"ts": 1767225602000, "level": "error", "service": "db", "message": "x"}"#),
            Some(br#"  {"ts": 1767225603000, "level": "INFO", "service": "db"}"#),
            Some(b"2026-01-01 00:00:04,000 - api - INFO - fine"),
            Some(br#"{"level": "ERROR"}"#),
            Some(b"garbage"),
            Some(b"\xff\xfe"),
            None,
        ]
        .into_iter()
        .collect();
        let offsets: Vec<i64> = (100..108).collect();
        let out = LineParser::new(LineFormat::Auto).unwrap().parse(&lines, &offsets).unwrap();
        assert_eq!((out.json_lines, out.python_lines), (3, 5));
        assert_eq!(out.error_count, 2);
        let services: Vec<_> = out
            .records
            .iter()
            .flat_map(|b| (0..b.num_rows()).filter(|&i| b.column(2).is_valid(i)).map(|i| b.column(1).as_string::<i32>().value(i).to_owned()).collect::<Vec<_>>())
            .map(Some)
            .collect();
        assert_eq!(services.len(), 2);
        assert_eq!(out.records.iter().map(RecordBatch::num_rows).sum::<usize>(), 4);
        assert!(services.contains(&Some("api".into())) && services.contains(&Some("db".into())));
        let rejected: Vec<i64> = out.rejects.column(1).as_primitive::<arrow_array::types::Int64Type>().values().to_vec();
        let mut sorted = rejected.clone();
        sorted.sort();
        assert_eq!(sorted, vec![104, 105, 106, 107]);
        let reasons = out.rejects.column(2).as_string::<i32>();
        assert!(reasons.iter().all(|r| !r.unwrap().is_empty()));

        // With one fixed format, lines of the other are rejects with a reason naming the problem.
        let python = LineParser::new(LineFormat::Python).unwrap().parse(&lines, &offsets).unwrap();
        assert_eq!((python.json_lines, python.python_lines, python.error_count), (0, 8, 1));
        assert_eq!(python.rejects.num_rows(), 6);
        assert!(LineFormat::from_name("xml").is_err());
    }
}
