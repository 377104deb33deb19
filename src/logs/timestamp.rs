//! Timestamps found in log lines, turned into milliseconds since the epoch (UTC).
//!
//! `auto` accepts, in this order:
//! 1. a number or numeric string (`1705312800`, `"1705312800.5"`, `1705312800123`), read as epoch
//!    time whose unit is decided by magnitude: |v| < 1e11 is seconds, < 1e14 milliseconds, < 1e17
//!    microseconds, anything larger nanoseconds. Each unit therefore covers 1973-03-03 .. 5138-11-16;
//!    a millisecond time before March 1973 would be read as seconds (use `epoch_ms` to force it).
//! 2. RFC 3339 / ISO 8601 date-times: `T` or a space between date and time, `.` or `,` before the
//!    fraction, a zone as `Z`, `+hh:mm`, `+hhmm`, `+hh` or a trailing ` UTC`/` GMT`, or no zone at all
//!    (naive times are in the parser's [`Zone`], UTC by default); a date alone is midnight there.
//! 3. RFC 2822 (`Mon, 15 Jan 2024 10:00:00 +0000`).
//!
//! Explicit formats: `rfc3339`/`iso8601` (point 2 only), `epoch_s`, `epoch_ms`, `epoch_us`, `epoch_ns`
//! (fractions allowed), or a chrono strftime pattern (anything containing `%`). Patterns without a
//! zone are read in the [`Zone`]; patterns without a time of day give midnight. Times are floored to the millisecond.

use crate::error::{Error, Result};
use crate::time::Millis;
use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, LocalResult, NaiveDateTime, NaiveTime, TimeZone};
use std::sync::OnceLock;

/// The zone of times written without one (`timezone=`); times with an offset ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Zone {
    #[default]
    Utc,
    Iana(chrono_tz::Tz),
    /// The process's local zone (`TZ`, else `/etc/localtime`), as Python's `time.localtime` sees it.
    Local,
}

impl Zone {
    /// `"UTC"`, an IANA name such as `"Europe/Berlin"`, or `"local"`.
    pub fn from_name(name: &str) -> Result<Zone> {
        match name {
            "UTC" | "utc" => Ok(Zone::Utc),
            "local" => Ok(Zone::Local),
            _ => name.parse::<chrono_tz::Tz>().map(Zone::Iana).map_err(|_| {
                Error::config(format!(
                    "timezone: unknown time zone {name:?}; expected an IANA name such as \"Europe/Berlin\", \"UTC\" or \"local\""
                ))
            }),
        }
    }

    /// Milliseconds for a wall-clock time in this zone. A time that occurs twice (the repeated hour
    /// when clocks go back) is its first occurrence, the one with the offset before the change; a
    /// time that never occurs (the skipped hour when clocks go forward) is read with the offset in
    /// force before the jump, so 02:30 on a day Berlin jumps from 02:00 to 03:00 is 01:30 UTC. Both
    /// as Python's `datetime` with `fold=0`.
    pub fn to_millis(self, naive: NaiveDateTime) -> Option<Millis> {
        match self {
            Zone::Utc => Some(naive.and_utc().timestamp_millis()),
            Zone::Iana(tz) => wall_to_millis(&tz, naive),
            Zone::Local => wall_to_millis(&chrono::Local, naive),
        }
    }
}

fn wall_to_millis<Z: TimeZone>(zone: &Z, naive: NaiveDateTime) -> Option<Millis> {
    use chrono::Offset;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_millis()),
        LocalResult::None => {
            // In a gap: the offset a day earlier is the one before the jump.
            let before = naive.checked_sub_signed(chrono::TimeDelta::days(1))?;
            let offset = match zone.from_local_datetime(&before) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.offset().fix(),
                LocalResult::None => return None,
            };
            Some(naive.and_utc().timestamp_millis() - i64::from(offset.local_minus_utc()) * 1000)
        }
    }
}

/// How a time value is read.
#[derive(Debug, Clone)]
pub enum TimeFormat {
    Auto,
    /// RFC 3339 / ISO 8601 text only (with or without zone; naive is UTC).
    Iso8601,
    /// Epoch time in a fixed unit: 0 = seconds, 3 = milliseconds, 6 = microseconds, 9 = nanoseconds
    /// (the number of decimal digits below one second).
    Epoch(u32),
    Strftime(StrftimeFormat),
}

/// A validated chrono strftime pattern.
#[derive(Debug, Clone)]
pub struct StrftimeFormat {
    pattern: String,
    items: Vec<Item<'static>>,
    /// The pattern ends with a zone offset, so a trailing `Z` means `+00:00`.
    zone_offset: bool,
}

impl TimeFormat {
    /// `"auto"`, `"rfc3339"`/`"iso8601"`, `"epoch_s"`, `"epoch_ms"`, `"epoch_us"`, `"epoch_ns"` or a
    /// strftime pattern containing `%`.
    pub fn from_name(name: &str) -> Result<TimeFormat> {
        Ok(match name {
            "auto" => TimeFormat::Auto,
            "rfc3339" | "iso8601" => TimeFormat::Iso8601,
            "epoch_s" | "epoch" => TimeFormat::Epoch(0),
            "epoch_ms" => TimeFormat::Epoch(3),
            "epoch_us" => TimeFormat::Epoch(6),
            "epoch_ns" => TimeFormat::Epoch(9),
            p if p.contains('%') => TimeFormat::Strftime(StrftimeFormat::new(p)?),
            other => {
                return Err(Error::config(format!(
                    "unknown time_format {other:?}: expected \"auto\", \"rfc3339\", \"iso8601\", \"epoch_s\", \
                     \"epoch_ms\", \"epoch_us\", \"epoch_ns\" or a strftime pattern such as \"%Y-%m-%d %H:%M:%S\""
                )))
            }
        })
    }

    /// What this format expects, for reject reasons.
    pub fn expectation(&self) -> String {
        match self {
            TimeFormat::Auto => "an RFC 3339/ISO 8601 time or an epoch number".into(),
            TimeFormat::Iso8601 => "an RFC 3339/ISO 8601 time".into(),
            TimeFormat::Epoch(digits) => format!("epoch {}", unit_name(*digits)),
            TimeFormat::Strftime(f) => format!("a time matching {:?}", f.pattern),
        }
    }

    /// Milliseconds for a textual value (zone-less times in UTC).
    pub fn parse_text(&self, text: &str) -> Option<Millis> {
        self.parse_text_in(text, Zone::Utc)
    }

    /// Milliseconds for a textual value, zone-less times read in `zone`.
    pub fn parse_text_in(&self, text: &str, zone: Zone) -> Option<Millis> {
        let text = text.trim();
        match self {
            TimeFormat::Auto => parse_decimal_epoch(text, None)
                .or_else(|| parse_iso8601_in(text, zone))
                .or_else(|| parse_rfc2822(text)),
            TimeFormat::Iso8601 => parse_iso8601_in(text, zone),
            TimeFormat::Epoch(digits) => parse_decimal_epoch(text, Some(*digits)),
            TimeFormat::Strftime(f) => f.parse(text, zone).ok(),
        }
    }

    /// Milliseconds for a number (its decimal text, as found in JSON).
    pub fn parse_number(&self, text: &str) -> Option<Millis> {
        self.parse_number_in(text, Zone::Utc)
    }

    /// Milliseconds for a number; only a strftime pattern can read it in `zone` (epochs are UTC).
    pub fn parse_number_in(&self, text: &str, zone: Zone) -> Option<Millis> {
        match self {
            TimeFormat::Auto => parse_epoch(text, None),
            TimeFormat::Iso8601 => None,
            TimeFormat::Epoch(digits) => parse_epoch(text, Some(*digits)),
            TimeFormat::Strftime(f) => f.parse(text, zone).ok(),
        }
    }

    /// Detail for a value that failed to parse (chrono's reason for strftime patterns).
    pub fn failure_detail(&self, text: &str, zone: Zone) -> Option<String> {
        match self {
            TimeFormat::Strftime(f) => f.parse(text.trim(), zone).err(),
            _ => None,
        }
    }

    /// Whether `parse_number` can ever succeed (used to reject numbers early with a clear reason).
    pub fn accepts_numbers(&self) -> bool {
        !matches!(self, TimeFormat::Iso8601)
    }
}

fn unit_name(digits: u32) -> &'static str {
    match digits {
        0 => "seconds",
        3 => "milliseconds",
        6 => "microseconds",
        _ => "nanoseconds",
    }
}

impl StrftimeFormat {
    pub fn new(pattern: &str) -> Result<StrftimeFormat> {
        let items = StrftimeItems::new(pattern).parse_to_owned().map_err(|_| {
            Error::config(format!(
                "invalid strftime time_format {pattern:?}: unknown or malformed % specifier \
                 (see chrono's strftime documentation)"
            ))
        })?;
        let trimmed = pattern.trim_end();
        let zone_offset =
            trimmed.ends_with("%z") || trimmed.ends_with("%:z") || trimmed.ends_with("%#z");
        Ok(StrftimeFormat {
            pattern: pattern.to_string(),
            items,
            zone_offset,
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    fn parse(&self, text: &str, zone: Zone) -> Result<Millis, String> {
        let mut owned;
        let mut text = text;
        if self.zone_offset && (text.ends_with('Z') || text.ends_with('z')) {
            owned = text[..text.len() - 1].to_string();
            owned.push_str("+00:00");
            text = &owned;
        }
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, self.items.iter()).map_err(|e| e.to_string())?;
        to_millis(&parsed, zone)
    }
}

/// Milliseconds from a filled `Parsed`: with its offset if it has one, else in `zone`; midnight if
/// it has a date but no time.
fn to_millis(parsed: &Parsed, zone: Zone) -> Result<Millis, String> {
    if parsed.offset().is_some() {
        return Ok(parsed
            .to_datetime()
            .map_err(|e| e.to_string())?
            .timestamp_millis());
    }
    let naive = match parsed.to_naive_datetime_with_offset(0) {
        // An epoch (`%s`) is an instant: no zone applies.
        Ok(naive) if parsed.timestamp().is_some() => return Ok(naive.and_utc().timestamp_millis()),
        Ok(naive) => naive,
        Err(e) => {
            let date = (parsed.hour_div_12().is_none()
                && parsed.hour_mod_12().is_none()
                && parsed.timestamp().is_none())
            .then(|| parsed.to_naive_date().ok())
            .flatten();
            match date {
                Some(date) => date.and_time(NaiveTime::MIN),
                None => return Err(e.to_string()),
            }
        }
    };
    zone.to_millis(naive)
        .ok_or_else(|| format!("{naive} cannot be placed in the time zone"))
}

fn iso_items() -> &'static [Vec<Item<'static>>] {
    static ITEMS: OnceLock<Vec<Vec<Item<'static>>>> = OnceLock::new();
    ITEMS.get_or_init(|| {
        [
            "%Y-%m-%dT%H:%M:%S%.f%#z",
            "%Y-%m-%d %H:%M:%S%.f%#z",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M%#z",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d",
        ]
        .iter()
        .map(|p| {
            StrftimeItems::new(p)
                .parse_to_owned()
                .expect("built-in pattern")
        })
        .collect()
    })
}

/// RFC 3339 / ISO 8601 text, zone optional (naive is UTC).
pub fn parse_iso8601(text: &str) -> Option<Millis> {
    parse_iso8601_in(text, Zone::Utc)
}

/// RFC 3339 / ISO 8601 text, zone optional (naive is in `zone`; a ` UTC`/` GMT` suffix is UTC).
pub fn parse_iso8601_in(text: &str, zone: Zone) -> Option<Millis> {
    // Cheap shape check: ISO times start with a four-digit year and a dash.
    let b = text.as_bytes();
    if b.len() < 10 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let mut text = text;
    let mut zone = zone;
    for suffix in [" UTC", " GMT", "UTC", "GMT"] {
        if let Some(stripped) = text.strip_suffix(suffix) {
            text = stripped;
            zone = Zone::Utc;
            break;
        }
    }
    let normalized;
    let text = if text.len() > 19 && text.as_bytes()[19] == b',' {
        // ISO 8601 allows a comma before the fraction (Python logging and log4j write one).
        let mut s = text.to_string();
        s.replace_range(19..20, ".");
        normalized = s;
        normalized.as_str()
    } else {
        text
    };
    for items in iso_items() {
        let mut parsed = Parsed::new();
        if chrono::format::parse(&mut parsed, text, items.iter()).is_ok() {
            if let Ok(ms) = to_millis(&parsed, zone) {
                return Some(ms);
            }
        }
    }
    None
}

fn parse_rfc2822(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Epoch time from a number's text, which may use an exponent (`1.7e9`, as JSON allows).
/// `digits` is the unit (decimal digits below a second); `None` decides by magnitude (module docs).
pub fn parse_epoch(text: &str, digits: Option<u32>) -> Option<Millis> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        let v: f64 = text.parse().ok()?;
        if !v.is_finite() || v.abs() > 1e30 {
            return None;
        }
        return parse_decimal_epoch(&format!("{v:.9}"), digits);
    }
    parse_decimal_epoch(text, digits)
}

/// Epoch time from decimal text: `[+-]digits[.digits]` (no exponent).
pub fn parse_decimal_epoch(text: &str, digits: Option<u32>) -> Option<Millis> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty()
        || !int_part.bytes().all(|c| c.is_ascii_digit())
        || !frac_part.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() > 30 {
        return None;
    }
    let int_value: u128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().ok()?
    };
    let unit = digits.unwrap_or(if int_value < 100_000_000_000 {
        0
    } else if int_value < 100_000_000_000_000 {
        3
    } else if int_value < 100_000_000_000_000_000 {
        6
    } else {
        9
    });
    // value * 10^(3 - unit) milliseconds, floored.
    let frac = &frac_part[..frac_part.len().min(12)];
    let scale = 10u128.pow(frac.len() as u32);
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let total = int_value.checked_mul(scale)?.checked_add(frac_value)?; // value * scale
    let exp = 3i32 - unit as i32;
    let (numerator, denominator) = if exp >= 0 {
        (total.checked_mul(10u128.pow(exp as u32))?, scale)
    } else {
        (total, scale.checked_mul(10u128.pow((-exp) as u32))?)
    };
    let quotient = numerator / denominator;
    let exact = numerator % denominator == 0 && frac_part.bytes().skip(12).all(|c| c == b'0');
    let ms = i64::try_from(quotient).ok()?;
    Some(if negative {
        if exact {
            -ms
        } else {
            -ms - 1
        }
    } else {
        ms
    })
}

/// A regular expression matching what `pattern` (chrono strftime) produces; used by the layout
/// translators so that a time with spaces inside is captured whole.
pub fn strftime_regex(pattern: &str) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
            continue;
        }
        // Optional padding modifier, fraction/colon modifiers.
        let mut modifier = String::new();
        while let Some(&m) = chars.peek() {
            if matches!(m, '-' | '_' | '0' | '^' | '#' | '.' | ':' | '3' | '6' | '9') {
                modifier.push(m);
                chars.next();
            } else {
                break;
            }
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let part = match (modifier.as_str(), spec) {
            (_, 'Y') => r"[+-]?\d{4,5}",
            (_, 'C') | (_, 'y') => r"\d{2}",
            (_, 'G') => r"\d{4}",
            (_, 'g') => r"\d{2}",
            (_, 'm')
            | (_, 'd')
            | (_, 'H')
            | (_, 'I')
            | (_, 'M')
            | (_, 'S')
            | (_, 'U')
            | (_, 'W')
            | (_, 'V') => r"\d{1,2}",
            (_, 'e') | (_, 'k') | (_, 'l') => r" ?\d{1,2}",
            (_, 'j') => r"\d{1,3}",
            (_, 'u') | (_, 'w') => r"\d",
            (".", 'f') => r"(?:\.\d+)?",
            (".3", 'f') => r"\.\d{3}",
            (".6", 'f') => r"\.\d{6}",
            (".9", 'f') => r"\.\d{9}",
            ("3", 'f') => r"\d{3}",
            ("6", 'f') => r"\d{6}",
            ("9", 'f') => r"\d{9}",
            (_, 'f') => r"\d{1,9}",
            (_, 'b') | (_, 'h') | (_, 'a') => r"[A-Za-z]{3}",
            (_, 'B') | (_, 'A') => r"[A-Za-z]+",
            (_, 'p') | (_, 'P') => r"[AaPp][Mm]",
            ("#", 'z') => r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)",
            (_, 'z') => r"(?:[Zz]|[+-]\d{2}:?\d{2})",
            (_, 'Z') => r"[A-Za-z][A-Za-z0-9_/+-]*",
            (_, 's') => r"-?\d+",
            (_, 'T') => r"\d{1,2}:\d{1,2}:\d{1,2}",
            (_, 'R') => r"\d{1,2}:\d{1,2}",
            (_, 'D') | (_, 'x') => r"\d{1,2}/\d{1,2}/\d{2}",
            (_, 'F') => r"[+-]?\d{4,5}-\d{1,2}-\d{1,2}",
            (_, 'n') | (_, 't') => r"\s",
            (_, '%') => "%",
            _ => ".+?",
        };
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_705_312_800_000; // 2024-01-15T10:00:00Z

    #[test]
    fn auto_reads_iso_variants() {
        let auto = TimeFormat::Auto;
        for text in [
            "2024-01-15T10:00:00Z",
            "2024-01-15T10:00:00+00:00",
            "2024-01-15T12:00:00+02:00",
            "2024-01-15T12:00:00+0200",
            "2024-01-15T12:00:00+02",
            "2024-01-15 10:00:00",
            "2024-01-15T10:00:00",
            "2024-01-15 10:00:00 UTC",
            "2024-01-15 10:00:00 +0000",
            "2024-01-15t10:00:00z",
            "Mon, 15 Jan 2024 10:00:00 +0000",
            "2024-01-15T10:00",
        ] {
            assert_eq!(auto.parse_text(text), Some(T0), "{text}");
        }
        assert_eq!(auto.parse_text("2024-01-15T10:00:00.123Z"), Some(T0 + 123));
        assert_eq!(auto.parse_text("2024-01-15 10:00:00,123"), Some(T0 + 123));
        assert_eq!(
            auto.parse_text("2024-01-15T10:00:00.123456789"),
            Some(T0 + 123)
        );
        assert_eq!(auto.parse_text("2024-01-15"), Some(T0 - 10 * 3_600_000));
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-15T25:00:00",
            "12:00:00",
            "2024-01-15T10:00:00Zjunk",
        ] {
            assert_eq!(auto.parse_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn auto_reads_epoch_by_magnitude() {
        let auto = TimeFormat::Auto;
        assert_eq!(auto.parse_text("1705312800"), Some(T0));
        assert_eq!(auto.parse_text("1705312800.5"), Some(T0 + 500));
        assert_eq!(auto.parse_text("1705312800123"), Some(T0 + 123));
        assert_eq!(auto.parse_text("1705312800123456"), Some(T0 + 123));
        assert_eq!(auto.parse_text("1705312800123456789"), Some(T0 + 123));
        assert_eq!(auto.parse_number("1705312800"), Some(T0));
        assert_eq!(auto.parse_number("1.7053128e9"), Some(T0));
        assert_eq!(auto.parse_number("0"), Some(0));
        assert_eq!(auto.parse_number("-1.5"), Some(-1500));
        assert_eq!(auto.parse_number("-0.0001"), Some(-1));
        assert_eq!(auto.parse_text("12a"), None);
        assert_eq!(auto.parse_text("."), None);
        assert_eq!(auto.parse_text("1e999"), None);
        assert_eq!(auto.parse_text("1e9"), None); // exponents only in JSON numbers
        assert_eq!(auto.parse_number("-0.0000000000001"), Some(-1));
        assert_eq!(auto.parse_text(" +5. "), Some(5000));
    }

    #[test]
    fn explicit_epoch_units() {
        assert_eq!(
            TimeFormat::from_name("epoch_s")
                .unwrap()
                .parse_text("1705312800.123"),
            Some(T0 + 123)
        );
        assert_eq!(
            TimeFormat::from_name("epoch_ms")
                .unwrap()
                .parse_text("1000"),
            Some(1000)
        );
        assert_eq!(
            TimeFormat::from_name("epoch_ms")
                .unwrap()
                .parse_number("1.9"),
            Some(1)
        );
        assert_eq!(
            TimeFormat::from_name("epoch_us")
                .unwrap()
                .parse_text("1705312800123456"),
            Some(T0 + 123)
        );
        assert_eq!(
            TimeFormat::from_name("epoch_ns")
                .unwrap()
                .parse_text("1705312800123456789"),
            Some(T0 + 123)
        );
        assert_eq!(
            TimeFormat::from_name("epoch_s")
                .unwrap()
                .parse_text("2024-01-15"),
            None
        );
        assert_eq!(
            TimeFormat::from_name("rfc3339")
                .unwrap()
                .parse_number("1705312800"),
            None
        );
    }

    #[test]
    fn strftime_patterns() {
        let f = TimeFormat::from_name("%Y-%m-%d %H:%M:%S,%3f").unwrap();
        assert_eq!(f.parse_text("2024-01-15 10:00:00,123"), Some(T0 + 123));
        assert_eq!(f.parse_text("2024-01-15 10:00:00"), None);
        assert!(f.failure_detail("2024-01-15 10:00:00", Zone::Utc).is_some());
        let f = TimeFormat::from_name("%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(f.parse_text("15/Jan/2024:12:00:00 +0200"), Some(T0));
        let f = TimeFormat::from_name("%Y-%m-%dT%H:%M:%S%.f%:z").unwrap();
        assert_eq!(f.parse_text("2024-01-15T10:00:00.5Z"), Some(T0 + 500));
        let f = TimeFormat::from_name("%d.%m.%Y").unwrap();
        assert_eq!(f.parse_text("15.01.2024"), Some(T0 - 10 * 3_600_000));
        let f = TimeFormat::from_name("%s").unwrap();
        assert_eq!(f.parse_number("1705312800"), Some(T0));
        let f = TimeFormat::from_name("%H:%M:%S").unwrap();
        assert_eq!(f.parse_text("10:00:00"), None);
    }

    #[test]
    fn bad_formats_are_config_errors() {
        for bad in ["fancy", "%Y-%Q", "epoch_minutes"] {
            let err = TimeFormat::from_name(bad).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn strftime_regex_matches_its_output() {
        let cases = [
            ("%Y-%m-%d %H:%M:%S,%3f", "2024-01-15 10:00:00,123"),
            ("%d/%b/%Y:%H:%M:%S %z", "15/Jan/2024:10:00:00 +0000"),
            (
                "%Y-%m-%dT%H:%M:%S%.f%:z",
                "2024-01-15T10:00:00.123456+02:00",
            ),
            ("%a %b %e %T %Y", "Mon Jan  5 10:00:00 2024"),
            ("100%% %F", "100% 2024-01-15"),
        ];
        for (pattern, text) in cases {
            let re = regex::Regex::new(&format!("^{}$", strftime_regex(pattern))).unwrap();
            assert!(re.is_match(text), "{pattern} -> {re} on {text}");
        }
    }
}
