//! Incremental parsing: lines pushed one by one (from arrays, lists or a file) into the two
//! output builders.

use super::output::{RecordsBuilder, RejectsBuilder};
use super::reader::{Line, LineReader};
use super::{LogParser, ParsedLogs, Role};
use crate::error::{Error, Result};
use std::path::Path;

pub(super) fn open_lines(
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

/// Bytes of a too-long line kept in the rejects table.
const TOO_LONG_KEEP: usize = 1024;

/// Incremental parsing: push lines (from any source, in any number of calls), then `finish`.
pub struct ParseSession<'p> {
    parser: &'p LogParser,
    records: RecordsBuilder,
    rejects: RejectsBuilder,
    /// Which standard fields some record had a value for.
    found: [bool; 4],
}

impl<'p> ParseSession<'p> {
    pub(super) fn new(parser: &'p LogParser) -> Self {
        ParseSession {
            parser,
            records: RecordsBuilder::with_types(
                parser.columns.clone(),
                &parser.typed,
                parser.config.batch_rows,
            ),
            rejects: RejectsBuilder::new(parser.config.batch_rows),
            found: [true, false, false, false],
        }
    }

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
                None => {
                    self.found[Role::Level as usize] |= record.level.is_some();
                    self.found[Role::Service as usize] |= record.service.is_some();
                    self.found[Role::Message as usize] |= record.message.is_some();
                    self.records.push(record)
                }
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
        let missing_fields = self.parser.missing_fields(self.found, &self.records);
        let (schema, records) = self.records.finish()?;
        let (rejects_schema, rejects) = self.rejects.finish()?;
        Ok(ParsedLogs {
            schema,
            records,
            rejects_schema,
            rejects,
            missing_fields,
        })
    }
}
