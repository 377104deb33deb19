//! Thin wrapper over `crate::logs`: the log-line parser.
//!
//! Parsing runs with the GIL released, in slices of `CHECK_EVERY` lines, re-attaching between
//! slices only to check for signals (so Ctrl-C interrupts a long parse promptly).

use super::arrow::to_pyarrow_table;
use super::gil::detach;
use crate::error::Error;
use crate::logs::input::check_line_type;
use crate::logs::{FormatConfig, LogParser, ParseSession, ParsedLogs, ParserConfig, RoleKeys};
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};
use pyo3_arrow::input::AnyArray;
use std::path::PathBuf;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLogParser>()?;
    Ok(())
}

/// Lines parsed between two signal checks (and collected from a Python iterable per GIL release).
const CHECK_EVERY: usize = 1 << 16;
/// Bytes collected from a Python iterable per GIL release.
const CHUNK_BYTES: usize = 64 << 20;

fn check_signals() -> PyResult<()> {
    Python::attach(|py| py.check_signals())
}

#[pyclass(frozen, module = "fleetstream._core", name = "LogParser")]
pub struct PyLogParser {
    inner: LogParser,
}

fn keys(given: Option<Vec<String>>, default: Vec<String>) -> Vec<String> {
    given.unwrap_or(default)
}

/// Lines collected from a Python iterable while holding the GIL, parsed after releasing it.
#[derive(Default)]
struct Chunk {
    data: Vec<u8>,
    /// `(end offset in data, is null)` per line.
    ends: Vec<(usize, bool)>,
}

impl Chunk {
    fn push_to(&self, session: &mut ParseSession<'_>, first_position: i64) -> crate::Result<()> {
        let mut start = 0;
        for (i, &(end, null)) in self.ends.iter().enumerate() {
            let line = (!null).then(|| &self.data[start..end]);
            session.push(first_position + i as i64, line)?;
            start = end;
        }
        Ok(())
    }
}

/// The UTF-8 bytes of a Python str; a str with lone surrogates (from `errors="surrogateescape"`)
/// gives back its original, invalid bytes so that the line is rejected as invalid UTF-8.
fn str_bytes(py: Python<'_>, s: &Bound<'_, PyString>, out: &mut Vec<u8>) -> PyResult<()> {
    match s.to_str() {
        Ok(text) => out.extend_from_slice(text.as_bytes()),
        Err(_) => {
            let encoded = s
                .call_method1(intern!(py, "encode"), ("utf-8", "surrogateescape"))
                .or_else(|_| s.call_method1(intern!(py, "encode"), ("utf-8", "surrogatepass")))?;
            out.extend_from_slice(encoded.cast::<PyBytes>()?.as_bytes());
        }
    }
    Ok(())
}

fn tables<'py>(py: Python<'py>, parsed: ParsedLogs) -> PyResult<Bound<'py, PyTuple>> {
    let records = to_pyarrow_table(py, parsed.records, parsed.schema)?;
    let rejects = to_pyarrow_table(py, parsed.rejects, parsed.rejects_schema)?;
    let missing = parsed.missing_fields.into_pyobject(py)?.into_any();
    PyTuple::new(py, [records, rejects, missing])
}

impl PyLogParser {
    fn parse_arrow(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<ParsedLogs> {
        let any: AnyArray = lines.extract()?;
        let reader = any.into_reader()?;
        check_line_type(reader.field().data_type())?;
        let mut session = self.inner.session();
        let mut position: i64 = 0;
        // Chunks are pulled with the GIL held (a producer may be Python code), parsed without it.
        for array in reader {
            let array = array.map_err(Error::from)?;
            detach(py, "LogParser.parse", || -> PyResult<()> {
                let mut offset = 0;
                while offset < array.len() {
                    let len = CHECK_EVERY.min(array.len() - offset);
                    session.push_array(array.slice(offset, len).as_ref(), position)?;
                    position += len as i64;
                    offset += len;
                    check_signals()?;
                }
                Ok(())
            })?;
        }
        detach(py, "LogParser.parse", || session.finish())
    }

    fn parse_iterable(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<ParsedLogs> {
        let iter = lines.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "lines must be an Arrow string/binary array or an iterable of str/bytes, not {}",
                type_name(lines)
            ))
        })?;
        let mut session = self.inner.session();
        let mut chunk = Chunk::default();
        let mut position: i64 = 0;
        let flush = |chunk: &mut Chunk,
                     session: &mut ParseSession<'_>,
                     position: &mut i64|
         -> PyResult<()> {
            detach(py, "LogParser.parse", || chunk.push_to(session, *position))?;
            *position += chunk.ends.len() as i64;
            chunk.data.clear();
            chunk.ends.clear();
            Ok(())
        };
        for (index, item) in iter.enumerate() {
            let item = item?;
            if let Ok(s) = item.cast::<PyString>() {
                str_bytes(py, s, &mut chunk.data)?;
                chunk.ends.push((chunk.data.len(), false));
            } else if let Ok(b) = item.cast::<PyBytes>() {
                chunk.data.extend_from_slice(b.as_bytes());
                chunk.ends.push((chunk.data.len(), false));
            } else if let Ok(b) = item.cast::<PyByteArray>() {
                chunk.data.extend_from_slice(&b.to_vec());
                chunk.ends.push((chunk.data.len(), false));
            } else if item.is_none() {
                chunk.ends.push((chunk.data.len(), true));
            } else {
                return Err(PyTypeError::new_err(format!(
                    "lines[{index}] is {}; expected str, bytes or None",
                    type_name(&item)
                )));
            }
            if chunk.ends.len() >= CHECK_EVERY || chunk.data.len() >= CHUNK_BYTES {
                flush(&mut chunk, &mut session, &mut position)?;
                py.check_signals()?;
            }
        }
        flush(&mut chunk, &mut session, &mut position)?;
        detach(py, "LogParser.parse", || session.finish())
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an unknown type".to_string(), |n| n.to_string())
}

#[pymethods]
impl PyLogParser {
    #[new]
    #[pyo3(signature = (
        format, *, pattern=None, datefmt=None, style=None, time_field=None, level_field=None,
        service_field=None, message_field=None, time_format=None, timezone=None, required=Vec::new(), extra_fields=None,
        fields=Vec::new(), max_extra_fields=1000, max_line_bytes=64 << 20
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        format: &str,
        pattern: Option<String>,
        datefmt: Option<String>,
        style: Option<String>,
        time_field: Option<Vec<String>>,
        level_field: Option<Vec<String>>,
        service_field: Option<Vec<String>>,
        message_field: Option<Vec<String>>,
        time_format: Option<String>,
        timezone: Option<String>,
        required: Vec<String>,
        extra_fields: Option<Vec<String>>,
        fields: Vec<(String, String)>,
        max_extra_fields: usize,
        max_line_bytes: usize,
    ) -> PyResult<Self> {
        let has_keys = time_field.is_some()
            || level_field.is_some()
            || service_field.is_some()
            || message_field.is_some();
        let role_keys = |defaults: RoleKeys| RoleKeys {
            time: keys(time_field.clone(), defaults.time),
            level: keys(level_field.clone(), defaults.level),
            service: keys(service_field.clone(), defaults.service),
            message: keys(message_field.clone(), defaults.message),
        };
        let unused = |option: &str, given: bool| -> PyResult<()> {
            if given {
                Err(Error::config(format!("{option} does not apply to the {format} format")).into())
            } else {
                Ok(())
            }
        };
        let need_pattern = |what: &str| {
            pattern.clone().ok_or_else(|| {
                PyErr::from(Error::config(format!("the {format} format needs {what}")))
            })
        };
        let fmt = match format {
            "json" | "logfmt" => {
                unused("pattern", pattern.is_some())?;
                unused("datefmt", datefmt.is_some())?;
                unused("style", style.is_some())?;
                if format == "json" {
                    FormatConfig::Json(role_keys(RoleKeys::json_defaults()))
                } else {
                    FormatConfig::Logfmt(role_keys(RoleKeys::logfmt_defaults()))
                }
            }
            "regex" | "python_logging" | "log4j" | "syslog" => {
                unused("time_field/level_field/service_field/message_field", has_keys)?;
                if format != "python_logging" {
                    unused("datefmt", datefmt.is_some())?;
                    unused("style", style.is_some())?;
                }
                match format {
                    "regex" => FormatConfig::Regex(need_pattern("a pattern")?),
                    "python_logging" => FormatConfig::PythonLogging {
                        fmt: pattern.clone().unwrap_or_else(|| "%(asctime)s - %(name)s - %(levelname)s - %(message)s".into()),
                        datefmt: datefmt.clone(),
                        style: style.clone().unwrap_or_else(|| "%".into()),
                    },
                    "log4j" => FormatConfig::Log4j(
                        pattern.clone().unwrap_or_else(|| crate::logs::log4j::DEFAULT_PATTERN.to_string()),
                    ),
                    _ => {
                        unused("pattern", pattern.is_some())?;
                        FormatConfig::Syslog
                    }
                }
            }
            other => {
                return Err(Error::config(format!(
                    "unknown log format {other:?}: expected \"json\", \"logfmt\", \"regex\", \"python_logging\", \
                     \"log4j\" or \"syslog\""
                ))
                .into())
            }
        };
        let mut config = ParserConfig::new(fmt);
        config.time_format = time_format;
        config.timezone = timezone;
        config.required = required;
        config.extra_fields = extra_fields;
        config.fields = fields;
        config.max_extra_fields = max_extra_fields;
        config.max_line_bytes = max_line_bytes;
        Ok(PyLogParser {
            inner: LogParser::new(config)?,
        })
    }

    /// The format name: "json", "logfmt", "regex", "python_logging", "log4j" or "syslog".
    #[getter]
    fn format(&self) -> &'static str {
        self.inner.format_name()
    }

    /// The regex used (for presets, the translation of the layout); None for json and logfmt.
    #[getter]
    fn pattern(&self) -> Option<&str> {
        self.inner.pattern()
    }

    /// Parse lines: an Arrow string/binary array or chunked array (anything with
    /// `__arrow_c_array__`/`__arrow_c_stream__`), or an iterable of str/bytes/None.
    /// Returns `(records, rejects, missing_fields)`: pyarrow tables (positions are 0-based indexes)
    /// and `[(field, sentence)]` for standard fields no record had.
    fn parse<'py>(
        &self,
        py: Python<'py>,
        lines: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        if lines.is_instance_of::<PyString>() || lines.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err(format!(
                "parse() takes a sequence of lines, not a single {}: wrap it in a list, split it with \
                 .splitlines(), or use parse_file(path) for a file",
                type_name(lines)
            )));
        }
        if lines.hasattr(intern!(py, "__fspath__"))? {
            return Err(PyTypeError::new_err(
                "parse() got a path; use parse_file(path) to read a file",
            ));
        }
        let arrow = lines.hasattr(intern!(py, "__arrow_c_array__"))?
            || lines.hasattr(intern!(py, "__arrow_c_stream__"))?;
        let parsed = if arrow {
            self.parse_arrow(py, lines)?
        } else {
            self.parse_iterable(py, lines)?
        };
        tables(py, parsed)
    }

    /// Parse a text file line by line (streamed; positions are 1-based line numbers).
    fn parse_file<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyTuple>> {
        let parser = &self.inner;
        let parsed = detach(py, "LogParser.parse_file", || -> PyResult<ParsedLogs> {
            let mut lines = crate::logs::open_file(&path, parser)?;
            let mut session = parser.session();
            let mut count = 0usize;
            while session.push_next(&mut lines, &path)?.is_some() {
                count += 1;
                if count % CHECK_EVERY == 0 {
                    check_signals()?;
                }
            }
            Ok(session.finish()?)
        })?;
        tables(py, parsed)
    }

    fn __repr__(&self) -> String {
        format!(
            "<fleetstream._core.LogParser format={:?}>",
            self.inner.format_name()
        )
    }
}
