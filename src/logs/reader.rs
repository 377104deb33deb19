//! Reading a text file line by line with bounded memory: a line longer than the limit is kept only
//! up to the limit (and reported as such), so one giant line cannot exhaust memory.

use memchr::memchr;
use std::io::{self, BufRead};

/// One line of a file (without its `\n` or `\r\n`).
pub enum Line<'a> {
    Text(&'a [u8]),
    /// The first `max_line_bytes` bytes of a longer line, and its full length.
    TooLong(&'a [u8], u64),
}

pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line_no: i64,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, max_line_bytes: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            line_no: 0,
            max: max_line_bytes,
        }
    }

    /// The next line and its 1-based number, or `None` at the end of the input. A final line
    /// without a newline counts; a trailing newline does not start another line.
    pub fn next_line(&mut self) -> io::Result<Option<(i64, Line<'_>)>> {
        self.buf.clear();
        let mut total: u64 = 0;
        let mut saw_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (take, consumed, found) = match memchr(b'\n', available) {
                Some(at) => (at, at + 1, true),
                None => (available.len(), available.len(), false),
            };
            // Keep one byte over the limit so a "\r" just past it can still be recognised.
            let room = (self.max + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&available[..take.min(room)]);
            total += take as u64;
            self.inner.consume(consumed);
            if found {
                break;
            }
        }
        self.line_no += 1;
        let mut len = total;
        if self.buf.len() as u64 == total && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
            len -= 1;
        }
        if self.line_no == 1 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
            len -= 3;
        }
        if len > self.max as u64 {
            self.buf.truncate(self.max);
            return Ok(Some((self.line_no, Line::TooLong(&self.buf, len))));
        }
        Ok(Some((self.line_no, Line::Text(&self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn lines(data: &[u8], max: usize, capacity: usize) -> Vec<(i64, String, Option<u64>)> {
        let mut reader = LineReader::new(BufReader::with_capacity(capacity, data), max);
        let mut out = Vec::new();
        while let Some((n, line)) = reader.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => (n, String::from_utf8_lossy(t).into_owned(), None),
                Line::TooLong(t, len) => (n, String::from_utf8_lossy(t).into_owned(), Some(len)),
            });
        }
        out
    }

    #[test]
    fn splits_lines_like_a_text_file() {
        for capacity in [1, 2, 3, 7, 1024] {
            let got = lines(b"\xEF\xBB\xBFa\r\n\nbb\ncc", 100, capacity);
            assert_eq!(
                got,
                [
                    (1, "a".into(), None),
                    (2, "".into(), None),
                    (3, "bb".into(), None),
                    (4, "cc".into(), None)
                ],
                "capacity {capacity}"
            );
            assert_eq!(lines(b"x\n", 100, capacity).len(), 1);
            assert!(lines(b"", 100, capacity).is_empty());
            assert_eq!(lines(b"\n", 100, capacity), [(1, "".into(), None)]);
        }
    }

    #[test]
    fn long_lines_are_cut() {
        for capacity in [1, 4, 1024] {
            let got = lines(b"0123456789\nabc\r\n0123\r\n", 4, capacity);
            assert_eq!(
                got,
                [
                    (1, "0123".into(), Some(10)),
                    (2, "abc".into(), None),
                    (3, "0123".into(), None)
                ],
                "capacity {capacity}"
            );
        }
    }
}
