//! Arrow columns as SQL values: the type mapping, SQLite bound values and PostgreSQL COPY text.
//! Every value is bound or streamed, never spliced into SQL text.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    BigInt,
    Integer,
    Text,
    Boolean,
    Double,
    Date,
    /// Microseconds since the epoch, UTC.
    Timestamp,
    Bytes,
}

impl SqlType {
    pub fn postgres(self) -> &'static str {
        match self {
            SqlType::BigInt => "BIGINT",
            SqlType::Integer => "INTEGER",
            SqlType::Text => "TEXT",
            SqlType::Boolean => "BOOLEAN",
            SqlType::Double => "DOUBLE PRECISION",
            SqlType::Date => "DATE",
            SqlType::Timestamp => "TIMESTAMPTZ",
            SqlType::Bytes => "BYTEA",
        }
    }

    /// SQLite: dates and timestamps as ISO-8601 text (sorts and compares correctly).
    pub fn sqlite(self) -> &'static str {
        match self {
            SqlType::BigInt | SqlType::Integer | SqlType::Boolean => "INTEGER",
            SqlType::Text | SqlType::Date | SqlType::Timestamp => "TEXT",
            SqlType::Double => "REAL",
            SqlType::Bytes => "BLOB",
        }
    }
}

/// The SQL type an Arrow type is stored as (after [`normalize`]).
pub fn sql_type(data_type: &DataType, column: &str) -> Result<SqlType> {
    Ok(match data_type {
        DataType::Int64 | DataType::UInt32 => SqlType::BigInt,
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt16 | DataType::UInt8 => SqlType::Integer,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::Text,
        DataType::Boolean => SqlType::Boolean,
        DataType::Float64 | DataType::Float32 => SqlType::Double,
        DataType::Date32 | DataType::Date64 => SqlType::Date,
        DataType::Timestamp(_, _) => SqlType::Timestamp,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Bytes,
        other => {
            return Err(Error::schema(format!(
                "column {column:?} has type {other}, which the sink does not store; use integers (money in minor units), \
                 strings, booleans, floats, dates, timestamps or binary"
            )))
        }
    })
}

/// Cast columns to the few physical types the writers read: Int64, Int32, Utf8, Boolean, Float64,
/// Date32, Timestamp(µs, UTC), Binary.
pub fn normalize(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let target = match sql_type(field.data_type(), field.name())? {
            SqlType::BigInt => DataType::Int64,
            SqlType::Integer => DataType::Int32,
            SqlType::Text => DataType::Utf8,
            SqlType::Boolean => DataType::Boolean,
            SqlType::Double => DataType::Float64,
            SqlType::Date => DataType::Date32,
            SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            SqlType::Bytes => DataType::Binary,
        };
        let column = if column.data_type() == &target { column.clone() } else { arrow_cast::cast(column, &target)? };
        fields.push(Field::new(field.name(), target, field.is_nullable()));
        columns.push(column);
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)?)
}

/// A normalized column, typed once per batch.
pub enum Col<'a> {
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    Text(&'a arrow_array::StringArray),
    Bool(&'a arrow_array::BooleanArray),
    F64(&'a arrow_array::Float64Array),
    Date(&'a arrow_array::Date32Array),
    Ts(&'a arrow_array::TimestampMicrosecondArray),
    Bytes(&'a arrow_array::BinaryArray),
}

impl<'a> Col<'a> {
    pub fn of(column: &'a ArrayRef) -> Result<Col<'a>> {
        Ok(match column.data_type() {
            DataType::Int64 => Col::I64(column.as_primitive::<Int64Type>()),
            DataType::Int32 => Col::I32(column.as_primitive::<Int32Type>()),
            DataType::Utf8 => Col::Text(column.as_string::<i32>()),
            DataType::Boolean => Col::Bool(column.as_boolean()),
            DataType::Float64 => Col::F64(column.as_primitive::<Float64Type>()),
            DataType::Date32 => Col::Date(column.as_primitive::<Date32Type>()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => Col::Ts(column.as_primitive::<TimestampMicrosecondType>()),
            DataType::Binary => Col::Bytes(column.as_binary::<i32>()),
            other => return Err(Error::schema(format!("internal: column of type {other} was not normalized"))),
        })
    }

    fn array(&self) -> &dyn Array {
        match self {
            Col::I64(a) => *a,
            Col::I32(a) => *a,
            Col::Text(a) => *a,
            Col::Bool(a) => *a,
            Col::F64(a) => *a,
            Col::Date(a) => *a,
            Col::Ts(a) => *a,
            Col::Bytes(a) => *a,
        }
    }

    /// The value bound for SQLite (dates and timestamps as ISO-8601 text).
    pub fn sqlite(&self, row: usize) -> ToSqlOutput<'a> {
        if self.array().is_null(row) {
            return ToSqlOutput::Borrowed(ValueRef::Null);
        }
        match self {
            Col::I64(a) => ToSqlOutput::Borrowed(ValueRef::Integer(a.value(row))),
            Col::I32(a) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(a.value(row)))),
            Col::Text(a) => ToSqlOutput::Borrowed(ValueRef::Text(a.value(row).as_bytes())),
            Col::Bool(a) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(a.value(row)))),
            Col::F64(a) => ToSqlOutput::Borrowed(ValueRef::Real(a.value(row))),
            Col::Date(a) => ToSqlOutput::Owned(Value::Text(format_date(a.value(row)))),
            Col::Ts(a) => ToSqlOutput::Owned(Value::Text(format_timestamp(a.value(row), 'T', "Z"))),
            Col::Bytes(a) => ToSqlOutput::Borrowed(ValueRef::Blob(a.value(row))),
        }
    }

    /// The value in PostgreSQL's COPY text format, appended to `out`.
    pub fn copy_text(&self, row: usize, out: &mut Vec<u8>) {
        use std::io::Write;
        if self.array().is_null(row) {
            out.extend_from_slice(b"\\N");
            return;
        }
        match self {
            Col::I64(a) => {
                let _ = write!(out, "{}", a.value(row));
            }
            Col::I32(a) => {
                let _ = write!(out, "{}", a.value(row));
            }
            Col::Text(a) => escape_copy_text(a.value(row).as_bytes(), out),
            Col::Bool(a) => out.push(if a.value(row) { b't' } else { b'f' }),
            Col::F64(a) => {
                let v = a.value(row);
                if v.is_nan() {
                    out.extend_from_slice(b"NaN");
                } else if v.is_infinite() {
                    out.extend_from_slice(if v > 0.0 { b"Infinity" } else { b"-Infinity" });
                } else {
                    let _ = write!(out, "{v:?}");
                }
            }
            Col::Date(a) => out.extend_from_slice(format_date(a.value(row)).as_bytes()),
            Col::Ts(a) => out.extend_from_slice(format_timestamp(a.value(row), ' ', "+00").as_bytes()),
            Col::Bytes(a) => {
                // bytea hex input `\x..`, with COPY's own backslash escaped.
                out.extend_from_slice(b"\\\\x");
                for b in a.value(row) {
                    let _ = write!(out, "{b:02x}");
                }
            }
        }
    }
}

fn escape_copy_text(text: &[u8], out: &mut Vec<u8>) {
    for &b in text {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// (year, month, day) of a day number since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn push_digits(out: &mut String, value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = value;
    let mut i = buf.len();
    while v > 0 || buf.len() - i < width {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("digits"));
}

fn push_date(out: &mut String, days: i64) {
    let (year, month, day) = civil_from_days(days);
    if year < 0 {
        out.push('-');
    }
    push_digits(out, year.unsigned_abs(), 4);
    out.push('-');
    push_digits(out, u64::from(month), 2);
    out.push('-');
    push_digits(out, u64::from(day), 2);
}

/// ISO-8601 date; hand-written because formatting runs once per row and value on the hot path.
fn format_date(days: i32) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, i64::from(days));
    out
}

/// `YYYY-MM-DD{sep}HH:MM:SS.ffffff{zone}` in UTC.
fn format_timestamp(micros: i64, sep: char, zone: &str) -> String {
    const DAY: i64 = 86_400_000_000;
    let (days, rest) = (micros.div_euclid(DAY), micros.rem_euclid(DAY) as u64);
    let mut out = String::with_capacity(32);
    push_date(&mut out, days);
    out.push(sep);
    let seconds = rest / 1_000_000;
    push_digits(&mut out, seconds / 3_600, 2);
    out.push(':');
    push_digits(&mut out, seconds / 60 % 60, 2);
    out.push(':');
    push_digits(&mut out, seconds % 60, 2);
    out.push('.');
    push_digits(&mut out, rest % 1_000_000, 6);
    out.push_str(zone);
    out
}

/// COPY text of `batch` (already normalized): tab-separated, one line per row.
pub fn copy_text(batch: &RecordBatch) -> Result<Vec<u8>> {
    let cols = batch.columns().iter().map(Col::of).collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(batch.num_rows() * 64);
    for row in 0..batch.num_rows() {
        for (i, col) in cols.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            col.copy_text(row, &mut out);
        }
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{BinaryArray, StringArray, TimestampMillisecondArray};

    #[test]
    fn dates_and_timestamps_format_like_chrono() {
        for micros in [0i64, 1_767_225_600_123_456, -1, -86_400_000_000, 951_782_400_000_000, 4_102_444_799_999_999, -62_135_596_800_000_000] {
            let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
            assert_eq!(format_timestamp(micros, 'T', "Z"), t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            let days = micros.div_euclid(86_400_000_000) as i32;
            assert_eq!(format_date(days), t.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn copy_text_escapes_and_formats() {
        let batch = RecordBatch::try_from_iter([
            ("s", Arc::new(StringArray::from(vec![Some("a\tb\\c\nd"), None])) as ArrayRef),
            ("b", Arc::new(BinaryArray::from(vec![Some(&b"\x00\xff"[..]), Some(&b""[..])])) as ArrayRef),
            ("t", Arc::new(TimestampMillisecondArray::from(vec![1_767_225_600_123, 0]).with_timezone("UTC")) as ArrayRef),
        ])
        .unwrap();
        let text = String::from_utf8(copy_text(&normalize(&batch).unwrap()).unwrap()).unwrap();
        assert_eq!(
            text,
            "a\\tb\\\\c\\nd\t\\\\x00ff\t2026-01-01 00:00:00.123000+00\n\\N\t\\\\x\t1970-01-01 00:00:00.000000+00\n"
        );
    }
}
