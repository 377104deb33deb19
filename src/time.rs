//! Event time in milliseconds since the Unix epoch, durations, and the range of times we accept.

use crate::error::{Error, Result};
use arrow_array::{Array, ArrayRef, Int64Array};
use arrow_schema::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z (event time) or a span of milliseconds (duration).
pub type Millis = i64;

/// Earliest accepted event time: the epoch. Earlier times in application logs are corrupt clocks.
pub const MIN_EVENT_TIME: Millis = 0;
/// Latest accepted event time: 9999-12-31T23:59:59.999Z. Anything later is garbage that would push
/// the watermark past every open window.
pub const MAX_EVENT_TIME: Millis = 253_402_300_799_999;

/// Why a time cannot be used as event time, if it cannot.
pub fn check_event_time(ts: Millis) -> Option<String> {
    if ts < MIN_EVENT_TIME {
        Some(format!("time {ts} ms is before 1970-01-01 (negative epoch time)"))
    } else if ts > MAX_EVENT_TIME {
        Some(format!("time {ts} ms is after 9999-12-31, not a plausible event time"))
    } else {
        None
    }
}

/// The unit of an integer time column (Arrow timestamps carry their own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntTimeUnit {
    Seconds,
    #[default]
    Millis,
    Micros,
    Nanos,
}

impl IntTimeUnit {
    pub const ALL: [IntTimeUnit; 4] = [IntTimeUnit::Seconds, IntTimeUnit::Millis, IntTimeUnit::Micros, IntTimeUnit::Nanos];

    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "s" => IntTimeUnit::Seconds,
            "ms" => IntTimeUnit::Millis,
            "us" => IntTimeUnit::Micros,
            "ns" => IntTimeUnit::Nanos,
            other => return Err(Error::config(format!("time_unit must be \"s\", \"ms\", \"us\" or \"ns\", got {other:?}"))),
        })
    }

    /// The Arrow and pandas spelling: "s", "ms", "us", "ns".
    pub fn code(self) -> &'static str {
        match self {
            IntTimeUnit::Seconds => "s",
            IntTimeUnit::Millis => "ms",
            IntTimeUnit::Micros => "us",
            IntTimeUnit::Nanos => "ns",
        }
    }

    fn name(self) -> &'static str {
        match self {
            IntTimeUnit::Seconds => "seconds",
            IntTimeUnit::Millis => "milliseconds",
            IntTimeUnit::Micros => "microseconds",
            IntTimeUnit::Nanos => "nanoseconds",
        }
    }

    /// `v` of this unit in milliseconds (floored), None when out of range.
    #[inline]
    pub fn to_millis(self, v: i64) -> Option<Millis> {
        match self {
            IntTimeUnit::Seconds => v.checked_mul(1_000),
            IntTimeUnit::Millis => Some(v),
            IntTimeUnit::Micros => Some(v.div_euclid(1_000)),
            IntTimeUnit::Nanos => Some(v.div_euclid(1_000_000)),
        }
    }
}

/// Integer times are read in `unit` (milliseconds unless told). A batch whose every integer time
/// is a plausible date (1990 to 2100) only when read in another unit (epoch seconds, as databases
/// and `time.time()` give them, or micro/nanoseconds) is refused, naming that unit: read in the
/// wrong one it would land in January 1970 or after the year 9999 (a reject per row), a wrong
/// answer or a lost batch without a word. Small integers (synthetic times) stay accepted.
pub fn check_integer_times(values: impl Iterator<Item = i64>, name: &str, unit: IntTimeUnit) -> Result<()> {
    const Y1990_MS: i64 = 631_152_000_000;
    const Y2100_MS: i64 = 4_102_444_800_000;
    let (lo, hi) = values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Ok(());
    }
    let plausible = |u: IntTimeUnit| matches!((u.to_millis(lo), u.to_millis(hi)), (Some(a), Some(b)) if a >= Y1990_MS && b < Y2100_MS);
    if plausible(unit) {
        return Ok(());
    }
    let Some(other) = IntTimeUnit::ALL.into_iter().find(|&u| u != unit && plausible(u)) else { return Ok(()) };
    let as_date = |v: i64| {
        other.to_millis(v).and_then(chrono::DateTime::from_timestamp_millis).map_or_else(|| format!("{v}"), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
    };
    let read = match unit.to_millis(lo) {
        Some(ms) if ms < Y1990_MS => "before 1990",
        _ => "after 2100",
    };
    Err(Error::schema(format!(
        "time column {name:?} holds integers from {lo} to {hi}, read as {} since the epoch ({read}), but they look like {} since \
         the epoch ({} to {}): pass time_unit=\"{}\", or give the column a timestamp type with its unit (pyarrow: \
         pc.cast(column, pa.timestamp(\"{2}\")); polars: pl.from_epoch(\"{name}\", time_unit=\"{2}\"))",
        unit.name(),
        other.name(),
        as_date(lo),
        as_date(hi),
        other.code(),
    )))
}

/// Parse a duration such as `"500ms"`, `"5s"`, `"1m"`, `"2h"`, `"1d"`, `"1h30m"`, `"1.5s"` or a bare
/// integer number of milliseconds (`"250"`).
pub fn parse_duration(text: &str) -> Result<Millis> {
    let s = text.trim();
    let bad = |why: &str| {
        Error::parse(format!(
            "invalid duration {text:?}: {why} (expected e.g. \"500ms\", \"5s\", \"1m\", \"2h\", \"1d\", \"1h30m\")"
        ))
    };
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.starts_with('-') {
        return Err(bad("a duration must not be negative"));
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let bytes = s.as_bytes();
    let mut total: f64 = 0.0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return Err(bad("expected a number"));
        }
        let number: f64 = s[start..i].parse().map_err(|_| bad("malformed number"))?;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let factor = match &s[unit_start..i] {
            "ms" => 1.0,
            "s" | "sec" => 1_000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            "" => return Err(bad("a number without a unit")),
            _ => return Err(bad("unknown unit")),
        };
        total += number * factor;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
    }
    if total.fract() != 0.0 {
        return Err(bad("not a whole number of milliseconds"));
    }
    if total > i64::MAX as f64 / 4.0 {
        return Err(bad("too large"));
    }
    Ok(total as Millis)
}

/// Time column as milliseconds: int64 milliseconds as they are, or any Arrow timestamp unit
/// converted (floored to the millisecond). Nulls stay null.
pub fn time_column_millis(column: &ArrayRef, name: &str) -> Result<Int64Array> {
    time_column_millis_in(column, name, IntTimeUnit::Millis)
}

/// [`time_column_millis`] with integers in `unit`.
pub fn time_column_millis_in(column: &ArrayRef, name: &str, unit: IntTimeUnit) -> Result<Int64Array> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    let floor_div = |v: i64, d: i64| v.div_euclid(d);
    if column.data_type().is_integer() && unit != IntTimeUnit::Millis {
        let ints = time_column_millis_in(column, name, IntTimeUnit::Millis)?;
        return Ok(ints.unary_opt::<_, Int64Type>(|v| unit.to_millis(v)));
    }
    Ok(match column.data_type() {
        DataType::Int64 => column.as_primitive::<Int64Type>().clone(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            column.as_primitive::<TimestampMillisecondType>().reinterpret_cast::<Int64Type>()
        }
        DataType::Timestamp(TimeUnit::Second, _) => column
            .as_primitive::<TimestampSecondType>()
            .unary_opt::<_, Int64Type>(|v| v.checked_mul(1_000)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => column
            .as_primitive::<TimestampMicrosecondType>()
            .unary::<_, Int64Type>(|v| floor_div(v, 1_000)),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => column
            .as_primitive::<TimestampNanosecondType>()
            .unary::<_, Int64Type>(|v| floor_div(v, 1_000_000)),
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt32 | DataType::UInt16 | DataType::UInt8 => {
            let cast = arrow_cast::cast(column, &DataType::Int64)?;
            cast.as_primitive::<Int64Type>().clone()
        }
        DataType::Null => Int64Array::new_null(column.len()),
        other => {
            return Err(Error::schema(format!(
                "time column {name:?} has type {other}; expected int64 milliseconds since the epoch or an Arrow timestamp"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_times_in_another_unit_are_refused_naming_it() {
        use IntTimeUnit::*;
        let refused = |values: Vec<i64>, unit| check_integer_times(values.into_iter(), "ts", unit).unwrap_err().to_string();
        let seconds = refused(vec![1_705_312_800, 1_705_312_860], Millis);
        assert!(seconds.contains("look like seconds") && seconds.contains("2024-01-15 10:00:00 UTC") && seconds.contains("time_unit=\"s\""), "{seconds}");
        assert!(refused(vec![1_705_312_800_000_123], Millis).contains("look like microseconds"));
        assert!(refused(vec![1_705_312_800_000_000_123], Millis).contains("look like nanoseconds"));
        assert!(refused(vec![1_705_312_800_000], Seconds).contains("read as seconds since the epoch (after 2100), but they look like milliseconds"));
        // plausible in the unit given, small synthetic times, a mix spanning units, nothing: accepted
        for (ok, unit) in [(vec![1_705_312_800_000], Millis), (vec![1_705_312_800], Seconds), (vec![1_705_312_800_000_000], Micros),
                           (vec![0, 60_000], Millis), (vec![0, 60], Seconds), (vec![5, 1_705_312_800], Millis), (vec![], Millis)] {
            assert!(check_integer_times(ok.clone().into_iter(), "ts", unit).is_ok(), "{ok:?} {unit:?}");
        }
        assert_eq!((Seconds.to_millis(-1), Micros.to_millis(-1), Nanos.to_millis(1_999_999)), (Some(-1_000), Some(-1), Some(1)));
        assert!(IntTimeUnit::parse("min").is_err() && matches!(IntTimeUnit::parse("us"), Ok(Micros)));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), 500);
        assert_eq!(parse_duration("5s").unwrap(), 5_000);
        assert_eq!(parse_duration("1m").unwrap(), 60_000);
        assert_eq!(parse_duration("2h").unwrap(), 7_200_000);
        assert_eq!(parse_duration("1d").unwrap(), 86_400_000);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("1.5s").unwrap(), 1_500);
        assert_eq!(parse_duration("250").unwrap(), 250);
        assert_eq!(parse_duration(" 0s ").unwrap(), 0);
    }

    #[test]
    fn bad_durations_name_the_input() {
        for bad in ["", "5", "-5s", "5x", "s", "0.5ms", "1.2.3s"] {
            if bad == "5" {
                continue; // a bare integer is milliseconds
            }
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn event_time_range() {
        assert!(check_event_time(0).is_none());
        assert!(check_event_time(-1).is_some());
        assert!(check_event_time(MAX_EVENT_TIME + 1).is_some());
    }
}
