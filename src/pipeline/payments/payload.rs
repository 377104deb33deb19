//! Where a payment's five fields are in a JSON payload (dotted paths such as `data.object.amount`)
//! and how their values are written (amounts in major or minor units, times as RFC 3339 text or
//! epoch numbers). One pass over the payload finds every field; values stay raw JSON text until
//! they are read, so amounts never go through a float.

use super::super::money::parse_scaled;
use crate::error::{Error, Result};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The fields every payment has, in slot order.
pub const FIELDS: [&str; 5] = ["payment_id", "merchant_id", "amount", "currency", "ts"];
pub const PAYMENT_ID: usize = 0;
pub const MERCHANT_ID: usize = 1;
pub const AMOUNT: usize = 2;
pub const CURRENCY: usize = 3;
pub const TS: usize = 4;

/// Times RFC 3339 can write (years 0001 to 9999), in epoch milliseconds; others are dead letters.
const MIN_TS_MS: i64 = -62_135_596_800_000;
const MAX_TS_MS: i64 = 253_402_300_799_999;

/// How `amount` is written: major units (`"12.34"` or `12.34` EUR) or integer minor units (`1234`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountUnit {
    Major,
    Minor,
}

impl AmountUnit {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "major" => Ok(AmountUnit::Major),
            "minor" => Ok(AmountUnit::Minor),
            other => Err(Error::config(format!("amount_unit {other:?}: expected \"major\" (12.34) or \"minor\" (1234)"))),
        }
    }
}

/// The unit of a numeric `ts` (RFC 3339 text is read as such whatever the unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

impl EpochUnit {
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "s" => EpochUnit::Seconds,
            "ms" => EpochUnit::Millis,
            "us" => EpochUnit::Micros,
            "ns" => EpochUnit::Nanos,
            other => return Err(Error::config(format!("ts_unit {other:?}: expected \"s\", \"ms\", \"us\" or \"ns\""))),
        })
    }

    fn name(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "seconds",
            EpochUnit::Millis => "milliseconds",
            EpochUnit::Micros => "microseconds",
            EpochUnit::Nanos => "nanoseconds",
        }
    }

    /// Decimals of the unit down to nanoseconds.
    fn nano_decimals(self) -> u32 {
        match self {
            EpochUnit::Seconds => 9,
            EpochUnit::Millis => 6,
            EpochUnit::Micros => 3,
            EpochUnit::Nanos => 0,
        }
    }
}

/// Keys wanted at one level of the payload: a field's value, or an object holding more of them.
#[derive(Clone, Debug, Default)]
struct KeyTree {
    keys: Vec<(String, Slot)>,
}

#[derive(Clone, Debug)]
enum Slot {
    Field(usize),
    Object(KeyTree),
}

/// The dotted path of each field in the payload (by default its own name at the top level).
#[derive(Clone, Debug)]
pub struct FieldPaths {
    paths: [String; 5],
    /// How reasons name each field: `amount`, or `amount (data.object.amount)` when mapped.
    labels: [String; 5],
    tree: KeyTree,
}

impl Default for FieldPaths {
    fn default() -> Self {
        FieldPaths::new(&[]).expect("the default paths are valid")
    }
}

impl FieldPaths {
    /// `mapping`: (field, dotted path) for the fields not at their own name.
    pub fn new(mapping: &[(String, String)]) -> Result<Self> {
        let mut paths: [String; 5] = FIELDS.map(str::to_owned);
        let mut mapped = [false; 5];
        for (field, path) in mapping {
            let slot = FIELDS.iter().position(|f| f == field).ok_or_else(|| {
                Error::config(format!("field mapping: unknown field {field:?}; the fields are {}", FIELDS.join(", ")))
            })?;
            if std::mem::replace(&mut mapped[slot], true) {
                return Err(Error::config(format!("field mapping: {field:?} is mapped twice")));
            }
            if path.split('.').any(str::is_empty) {
                return Err(Error::config(format!(
                    "field mapping: {field}={path:?} is not a dotted path (keys separated by single dots, e.g. data.object.amount)"
                )));
            }
            paths[slot] = path.clone();
        }
        let mut tree = KeyTree::default();
        for (slot, path) in paths.iter().enumerate() {
            tree.insert(path, slot, &paths)?;
        }
        let labels = std::array::from_fn(|i| if paths[i] == FIELDS[i] { paths[i].clone() } else { format!("{} ({})", FIELDS[i], paths[i]) });
        Ok(FieldPaths { paths, labels, tree })
    }

    pub fn path(&self, field: usize) -> &str {
        &self.paths[field]
    }

    pub fn label(&self, field: usize) -> &str {
        &self.labels[field]
    }

    /// The raw JSON value of each field (None: absent), or the reason the payload is unusable.
    pub fn extract<'a>(&self, payload: &'a [u8]) -> std::result::Result<[Option<&'a RawValue>; 5], String> {
        let mut found = [None; 5];
        let mut de = serde_json::Deserializer::from_slice(payload);
        let kind = Extract { tree: &self.tree, found: &mut found }
            .deserialize(&mut de)
            .and_then(|kind| de.end().map(|()| kind))
            .map_err(|e| format!("malformed JSON: {e}"))?;
        if kind != "object" {
            return Err(format!("payload is a JSON {kind}, not an object"));
        }
        Ok(found)
    }
}

impl KeyTree {
    fn insert(&mut self, path: &str, slot: usize, all: &[String; 5]) -> Result<()> {
        let clash = |other: usize| {
            Error::config(format!(
                "field mapping: {}={:?} and {}={:?} overlap (one field's path may not be, or lie inside, another's)",
                FIELDS[slot], all[slot], FIELDS[other], all[other]
            ))
        };
        let (head, rest) = match path.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (path, None),
        };
        let existing = self.keys.iter_mut().find(|(k, _)| k == head);
        match (existing, rest) {
            (None, None) => self.keys.push((head.to_owned(), Slot::Field(slot))),
            (None, Some(rest)) => {
                let mut child = KeyTree::default();
                child.insert(rest, slot, all)?;
                self.keys.push((head.to_owned(), Slot::Object(child)));
            }
            (Some((_, Slot::Object(child))), Some(rest)) => child.insert(rest, slot, all)?,
            (Some((_, Slot::Field(other))), _) => return Err(clash(*other)),
            (Some((_, Slot::Object(child))), None) => return Err(clash(child.first_field())),
        }
        Ok(())
    }

    fn first_field(&self) -> usize {
        match &self.keys[0].1 {
            Slot::Field(slot) => *slot,
            Slot::Object(child) => child.first_field(),
        }
    }
}

/// Walks one JSON value: inside an object, takes the wanted keys' raw values and descends into the
/// wanted sub-objects; skips everything else. Returns the kind of value it saw.
struct Extract<'t, 'f, 'de> {
    tree: &'t KeyTree,
    found: &'f mut [Option<&'de RawValue>; 5],
}

impl<'de> DeserializeSeed<'de> for Extract<'_, '_, 'de> {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Extract<'_, '_, 'de> {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok("boolean")
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok("number")
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok("number")
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok("number")
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok("string")
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok("null")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok("array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        // A wanted key twice in one object is ambiguous (which amount?): the payload is refused.
        let mut seen = [false; FIELDS.len()]; // a level holds at most one wanted key per field
        while let Some(index) = map.next_key_seed(KeyIndex(self.tree))? {
            let Some(index) = index else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let (key, slot) = &self.tree.keys[index];
            if std::mem::replace(&mut seen[index], true) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            match slot {
                Slot::Field(field) => self.found[*field] = Some(map.next_value::<&'de RawValue>()?),
                Slot::Object(child) => {
                    map.next_value_seed(Extract { tree: child, found: &mut *self.found })?;
                }
            }
        }
        Ok("object")
    }
}

/// A key's position among the wanted keys of its level (None: not wanted), without allocating.
struct KeyIndex<'t>(&'t KeyTree);

impl<'de> DeserializeSeed<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIndex<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, key: &str) -> std::result::Result<Self::Value, E> {
        Ok(self.0.keys.iter().position(|(k, _)| k == key))
    }
}

/// The text of a present, non-null field.
pub fn required<'a>(field: Option<&'a RawValue>, label: &str) -> std::result::Result<&'a str, String> {
    match field.map(|v| v.get()) {
        None | Some("null") => Err(format!("missing field {label}")),
        Some(text) => Ok(text),
    }
}

/// A non-empty string of at most 128 bytes.
pub fn string_field<'a>(field: Option<&'a RawValue>, label: &str) -> std::result::Result<Cow<'a, str>, String> {
    let raw = required(field, label)?;
    if !raw.starts_with('"') {
        return Err(format!("{label} must be a string, got {}", shorten(raw)));
    }
    let value: Cow<'a, str> = serde_json::from_str(raw).map_err(|e| format!("{label}: {e}"))?;
    if value.trim().is_empty() {
        return Err(format!("{label} is empty"));
    }
    if value.len() > 128 {
        return Err(format!("{label} is longer than 128 bytes"));
    }
    Ok(value)
}

/// An ISO 4217 code as given in upper case (`EUR`) or, as some processors send it, in lower case
/// (`eur`): the upper-case code, or None for anything else (`Eur`, `euro`).
pub fn currency_code(text: &str) -> Option<Cow<'_, str>> {
    if text.len() != 3 {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_uppercase()) {
        Some(Cow::Borrowed(text))
    } else if text.bytes().all(|b| b.is_ascii_lowercase()) {
        Some(Cow::Owned(text.to_ascii_uppercase()))
    } else {
        None
    }
}

pub fn shorten(text: &str) -> String {
    if text.len() <= 40 {
        text.to_owned()
    } else {
        let cut = (0..=40).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        format!("{}...", &text[..cut])
    }
}

/// Milliseconds since the epoch of `ts`: RFC 3339 text, or a plain decimal number of `unit`s
/// (sub-millisecond digits are floored away). Must lie within years 0001-9999.
pub fn timestamp_ms(field: Option<&RawValue>, label: &str, unit: EpochUnit) -> std::result::Result<i64, String> {
    let raw = required(field, label)?;
    let ms = if raw.starts_with('"') {
        let text: Cow<'_, str> = serde_json::from_str(raw).map_err(|e| format!("{label}: {e}"))?;
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| t.timestamp_millis())
            .map_err(|e| format!("{label} {:?} is not an RFC 3339 timestamp: {e}", shorten(&text)))?
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let nanos = parse_scaled(raw, unit.nano_decimals())
            .map_err(|e| format!("{label} must be epoch {} as a plain number: {e}", unit.name()))?;
        i64::try_from(nanos.div_euclid(1_000_000)).unwrap_or(i64::MAX)
    } else {
        return Err(format!("{label} must be an RFC 3339 string or a number of epoch {}, got {}", unit.name(), shorten(raw)));
    };
    if !(MIN_TS_MS..=MAX_TS_MS).contains(&ms) {
        return Err(format!("{label} {} is outside years 0001-9999 (as epoch {})", shorten(raw), unit.name()));
    }
    Ok(ms)
}

/// The decimal text of `amount` (a JSON string or number), not yet scaled.
pub fn amount_text<'a>(field: Option<&'a RawValue>, label: &str) -> std::result::Result<Cow<'a, str>, String> {
    let raw = required(field, label)?;
    if raw.starts_with('"') {
        serde_json::from_str(raw).map_err(|e| format!("{label}: {e}"))
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Ok(Cow::Borrowed(raw))
    } else {
        Err(format!("{label} must be a decimal string or number, got {}", shorten(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(mapping: &[(&str, &str)]) -> Result<FieldPaths> {
        FieldPaths::new(&mapping.iter().map(|(f, p)| (f.to_string(), p.to_string())).collect::<Vec<_>>())
    }

    fn texts(found: [Option<&RawValue>; 5]) -> Vec<Option<&str>> {
        found.iter().map(|v| v.map(RawValue::get)).collect()
    }

    #[test]
    fn nested_paths_are_found_in_one_pass_and_other_keys_skipped() {
        let p = paths(&[("amount", "data.object.amount"), ("currency", "data.object.currency"), ("ts", "created"),
            ("payment_id", "data.object.id")]).unwrap();
        let payload = br#"{"id":"evt_1","created":1767261600,"data":{"object":{"id":"pi_1","amount":1234,
            "currency":"eur","extra":[1,{"amount":5}]}},"merchant_id":"m1","amount":"ignored"}"#;
        assert_eq!(texts(p.extract(payload).unwrap()), vec![Some(r#""pi_1""#), Some(r#""m1""#), Some("1234"), Some(r#""eur""#), Some("1767261600")]);
        // A path through something that is not an object: the field is missing.
        assert_eq!(texts(p.extract(br#"{"data":{"object":"gone"}}"#).unwrap())[AMOUNT], None);
        assert_eq!(p.label(AMOUNT), "amount (data.object.amount)");
        assert_eq!(p.label(MERCHANT_ID), "merchant_id");
    }

    #[test]
    fn escaped_keys_match_and_duplicates_or_non_objects_are_refused() {
        let p = FieldPaths::default();
        assert_eq!(texts(p.extract(br#"{"amo\u0075nt":"1.00"}"#).unwrap())[AMOUNT], Some(r#""1.00""#));
        assert!(p.extract(br#"{"amount":"1.00","amount":"2.00"}"#).unwrap_err().contains("duplicate key \"amount\""));
        assert_eq!(p.extract(b"[1,2]").unwrap_err(), "payload is a JSON array, not an object");
        assert!(p.extract(br#"{"amount":1} x"#).unwrap_err().starts_with("malformed JSON"));
    }

    #[test]
    fn mappings_that_cannot_work_are_config_errors() {
        for (mapping, want) in [
            (vec![("amout", "a")], "unknown field \"amout\""),
            (vec![("amount", "a"), ("amount", "b")], "mapped twice"),
            (vec![("amount", "data..amount")], "not a dotted path"),
            (vec![("amount", "data"), ("currency", "data.currency")], "overlap"),
            (vec![("amount", "merchant_id")], "overlap"),
        ] {
            let error = paths(&mapping).unwrap_err().to_string();
            assert!(error.contains(want), "{error:?} should contain {want:?}");
        }
    }

    #[test]
    fn timestamps_in_every_unit_and_rfc_3339() {
        let raw = |t: &str| RawValue::from_string(t.to_owned()).unwrap();
        let ms = |t: &str, unit| timestamp_ms(Some(&*raw(t)), "ts", unit);
        assert_eq!(ms("1767261600", EpochUnit::Seconds), Ok(1_767_261_600_000));
        assert_eq!(ms("1767261600.1239", EpochUnit::Seconds), Ok(1_767_261_600_123));
        assert_eq!(ms("1767261600123", EpochUnit::Millis), Ok(1_767_261_600_123));
        assert_eq!(ms("1767261600123999", EpochUnit::Micros), Ok(1_767_261_600_123));
        assert_eq!(ms("-1", EpochUnit::Micros), Ok(-1));
        assert_eq!(ms(r#""2026-01-01T10:00:00.5+01:00""#, EpochUnit::Seconds), Ok(1_767_258_000_500));
        assert!(ms("1e9", EpochUnit::Seconds).unwrap_err().contains("plain number"));
        assert!(ms("99999999999999", EpochUnit::Seconds).unwrap_err().contains("outside years 0001-9999"));
        assert!(ms("true", EpochUnit::Millis).unwrap_err().contains("epoch milliseconds, got true"));
    }

    #[test]
    fn currency_codes_in_upper_or_lower_case() {
        assert_eq!(currency_code("EUR").as_deref(), Some("EUR"));
        assert_eq!(currency_code("eur").as_deref(), Some("EUR"));
        for bad in ["Eur", "EURO", "eu", "€"] {
            assert_eq!(currency_code(bad), None, "{bad}");
        }
    }
}
