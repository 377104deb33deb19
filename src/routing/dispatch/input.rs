//! Reading orders and vehicle events, from Arrow rows or JSON objects alike: each field is read
//! into a `Value`, then one parser turns a row into an `OrderSpec` or `VehicleEvent` in model
//! units, or into the reason the row is unusable.
//!
//! Times may be numbers (model units: seconds of the day for lat/lon and matrix models), text
//! "HH:MM[:SS]" (clock models), Arrow time types, or timestamps (Arrow timestamps or RFC 3339 text,
//! counted from the dispatcher's origin). Durations may be numbers, Arrow durations or text such as
//! "4m". Unknown fields are refused, never ignored.

use super::events::{EventKind, VehicleEvent};
use super::order::OrderSpec;
use super::sites::Place;
use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

pub const ORDER_FIELDS: &[&str] = &[
    "order_id", "lat", "lon", "x", "y", "site", "demand", "pickup", "tw_start", "tw_end", "service", "release", "required",
    "prize", "skills",
];
pub const EVENT_FIELDS: &[&str] = &["vehicle_id", "ts", "kind", "stop", "lat", "lon", "x", "y", "site", "reason"];

/// How input values map to model units.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Units {
    /// Times are seconds of a day: "HH:MM" text is read.
    pub clock: bool,
    /// Epoch milliseconds of model time 0, to read timestamps.
    pub origin_ms: Option<i64>,
    /// Internal cost units per unit of prize.
    pub cost_scale: f64,
    /// Skill names by bit.
    pub skills: Vec<String>,
}

/// One field's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Ints(Vec<i64>),
    Texts(Vec<String>),
    /// Seconds (from an Arrow time or duration type).
    Seconds(i64),
    /// Epoch milliseconds (from an Arrow timestamp).
    EpochMs(i64),
}

/// A row of named fields.
pub trait Row {
    fn get(&self, name: &str) -> std::result::Result<Value, String>;
}

type Parsed<T> = std::result::Result<T, String>;

fn text(v: Value, name: &str) -> Parsed<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::Text(s) => Ok(Some(s)),
        Value::Int(i) => Ok(Some(i.to_string())),
        other => Err(format!("{name} must be text, got {other:?}")),
    }
}

fn number(v: Value, name: &str) -> Parsed<Option<f64>> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(i as f64)),
        Value::Float(f) if f.is_finite() => Ok(Some(f)),
        other => Err(format!("{name} must be a finite number, got {other:?}")),
    }
}

fn whole(v: Value, name: &str) -> Parsed<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Int(i) => Ok(Some(i)),
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 => Ok(Some(f as i64)),
        other => Err(format!("{name} must be a whole number, got {other:?}")),
    }
}

fn quantities(v: Value, name: &str) -> Parsed<Vec<i64>> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Ints(q) => Ok(q),
        other => whole(other, name).map(|q| q.into_iter().collect()),
    }
}

fn clock_text(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let n: Vec<i64> = parts.iter().map(|p| p.parse::<i64>().ok().filter(|&v| v >= 0)).collect::<Option<_>>()?;
    if n[0] > 48 || n[1..].iter().any(|&v| v >= 60) {
        return None;
    }
    Some(n[0] * 3600 + n[1] * 60 + n.get(2).copied().unwrap_or(0))
}

impl Units {
    fn since_origin(&self, ms: i64, name: &str) -> Parsed<i64> {
        match self.origin_ms {
            Some(origin) => Ok((ms - origin).div_euclid(1000)),
            None => Err(format!("{name} is a timestamp, but the dispatcher has no origin (give origin= to read timestamps)")),
        }
    }

    /// A time of day in model units.
    pub fn time(&self, v: Value, name: &str) -> Parsed<Option<i64>> {
        Ok(Some(match v {
            Value::Null => return Ok(None),
            Value::Int(i) => i,
            Value::Float(f) if f.is_finite() => f.round() as i64,
            Value::Seconds(s) => s,
            Value::EpochMs(ms) => self.since_origin(ms, name)?,
            Value::Text(s) => {
                if let Some(t) = clock_text(&s).filter(|_| self.clock) {
                    t
                } else if let Ok(t) = s.trim().parse::<f64>() {
                    t.round() as i64
                } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
                    self.since_origin(t.timestamp_millis(), name)?
                } else {
                    return Err(format!("{name} {s:?} is not a time (\"HH:MM\", a number, or an RFC 3339 timestamp)"));
                }
            }
            other => return Err(format!("{name} must be a time, got {other:?}")),
        }))
    }

    /// A duration in model units (seconds for clock models).
    pub fn span(&self, v: Value, name: &str) -> Parsed<Option<i64>> {
        Ok(Some(match v {
            Value::Null => return Ok(None),
            Value::Int(i) => i,
            Value::Float(f) if f.is_finite() => f.round() as i64,
            Value::Seconds(s) => s,
            Value::Text(s) => match s.trim().parse::<f64>() {
                Ok(t) => t.round() as i64,
                Err(_) => (crate::time::parse_duration(&s).map_err(|e| format!("{name}: {e}"))? as f64 / 1000.0).round() as i64,
            },
            other => return Err(format!("{name} must be a duration, got {other:?}")),
        }))
    }

    fn place(&self, row: &dyn Row) -> Parsed<Option<Place>> {
        let pair = |a: &str, b: &str| -> Parsed<Option<Place>> {
            match (number(row.get(a)?, a)?, number(row.get(b)?, b)?) {
                (Some(p), Some(q)) => Ok(Some(Place::Point(p, q))),
                (None, None) => Ok(None),
                _ => Err(format!("give both {a} and {b}")),
            }
        };
        if let Some(p) = pair("lat", "lon")? {
            return Ok(Some(p));
        }
        if let Some(p) = pair("x", "y")? {
            return Ok(Some(p));
        }
        match whole(row.get("site")?, "site")? {
            Some(i) if i >= 0 => Ok(Some(Place::Site(i as usize))),
            Some(i) => Err(format!("site {i} is negative")),
            None => Ok(None),
        }
    }

    fn skills(&self, v: Value) -> Parsed<u64> {
        let names = match v {
            Value::Null => vec![],
            Value::Texts(t) => t,
            Value::Text(t) => t.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            other => return Err(format!("skills must be a list of names, got {other:?}")),
        };
        let mut bits = 0u64;
        for name in names {
            match self.skills.iter().position(|s| *s == name) {
                Some(b) => bits |= 1 << b,
                None => return Err(format!("skill {name:?} is not one any vehicle has (known: {:?})", self.skills)),
            }
        }
        Ok(bits)
    }

    /// An order from a row (its id, if readable, comes with the reason it is not an order).
    pub fn order(&self, row: &dyn Row) -> std::result::Result<OrderSpec, (Option<String>, String)> {
        let id = text(row.get("order_id").map_err(|e| (None, e))?, "order_id").map_err(|e| (None, e))?;
        let Some(id) = id else { return Err((None, "order_id is missing".into())) };
        let fail = |e: String| (Some(id.clone()), e);
        let place = self.place(row).map_err(fail)?.ok_or_else(|| fail("no place: give lat/lon, x/y or site".into()))?;
        let open = self.time(row.get("tw_start").map_err(fail)?, "tw_start").map_err(fail)?;
        let close = self.time(row.get("tw_end").map_err(fail)?, "tw_end").map_err(fail)?;
        let windows = match (open, close) {
            (None, None) => vec![],
            (o, c) => vec![(o.unwrap_or(0), c.unwrap_or(crate::routing::INF))],
        };
        let prize = number(row.get("prize").map_err(fail)?, "prize").map_err(fail)?.unwrap_or(0.0);
        Ok(OrderSpec {
            place,
            delivery: quantities(row.get("demand").map_err(fail)?, "demand").map_err(fail)?,
            pickup: quantities(row.get("pickup").map_err(fail)?, "pickup").map_err(fail)?,
            service: self.span(row.get("service").map_err(fail)?, "service").map_err(fail)?.unwrap_or(0),
            windows,
            release: self.time(row.get("release").map_err(fail)?, "release").map_err(fail)?.unwrap_or(0),
            required: match row.get("required").map_err(fail)? {
                Value::Null => true,
                Value::Bool(b) => b,
                other => return Err(fail(format!("required must be true or false, got {other:?}"))),
            },
            prize: (prize * self.cost_scale).round() as i64,
            skills: self.skills(row.get("skills").map_err(fail)?).map_err(fail)?,
            id,
        })
    }

    /// A vehicle event from a row.
    pub fn event(&self, row: &dyn Row) -> Parsed<VehicleEvent> {
        let vehicle = text(row.get("vehicle_id")?, "vehicle_id")?.ok_or("vehicle_id is missing")?;
        let ts = self.time(row.get("ts")?, "ts")?.ok_or("ts is missing")?;
        let kind = text(row.get("kind")?, "kind")?.ok_or("kind is missing")?;
        let kind = EventKind::parse(&kind).ok_or_else(|| format!("kind {kind:?} is not one of departed, arrived, served, failed, position"))?;
        Ok(VehicleEvent {
            vehicle,
            ts,
            kind,
            stop: text(row.get("stop")?, "stop")?,
            place: self.place(row)?,
            reason: text(row.get("reason")?, "reason")?,
        })
    }
}

/// Row `row` of a record batch.
pub struct ArrowRow<'a> {
    pub batch: &'a RecordBatch,
    pub row: usize,
}

/// Refuses a batch with a column not in `fields`, or without `required` ones.
pub fn check_columns(batch: &RecordBatch, fields: &[&str], required: &[&str], what: &str) -> Result<()> {
    let schema = batch.schema();
    for f in schema.fields() {
        if !fields.contains(&f.name().as_str()) {
            return Err(Error::schema(format!("{what}: unknown column {:?}; the columns are {fields:?} (select them first)", f.name())));
        }
    }
    for r in required {
        if schema.index_of(r).is_err() {
            return Err(Error::schema(format!("{what}: column {r:?} is missing")));
        }
    }
    Ok(())
}

impl Row for ArrowRow<'_> {
    fn get(&self, name: &str) -> std::result::Result<Value, String> {
        match self.batch.column_by_name(name) {
            None => Ok(Value::Null),
            Some(col) => arrow_value(col, self.row).map_err(|e| format!("{name}: {e}")),
        }
    }
}

fn arrow_value(col: &ArrayRef, i: usize) -> std::result::Result<Value, String> {
    // A column of type Null (all values missing, e.g. pyarrow's guess for [None, None]) has no
    // validity buffer: `is_null` would say false.
    if col.data_type() == &DataType::Null || col.is_null(i) {
        return Ok(Value::Null);
    }
    let unit_s = |v: i64, u: &TimeUnit| match u {
        TimeUnit::Second => v,
        TimeUnit::Millisecond => v.div_euclid(1_000),
        TimeUnit::Microsecond => v.div_euclid(1_000_000),
        TimeUnit::Nanosecond => v.div_euclid(1_000_000_000),
    };
    let unit_ms = |v: i64, u: &TimeUnit| match u {
        TimeUnit::Second => v * 1000,
        TimeUnit::Millisecond => v,
        TimeUnit::Microsecond => v.div_euclid(1_000),
        TimeUnit::Nanosecond => v.div_euclid(1_000_000),
    };
    Ok(match col.data_type() {
        DataType::Int8 => Value::Int(col.as_primitive::<Int8Type>().value(i) as i64),
        DataType::Int16 => Value::Int(col.as_primitive::<Int16Type>().value(i) as i64),
        DataType::Int32 => Value::Int(col.as_primitive::<Int32Type>().value(i) as i64),
        DataType::Int64 => Value::Int(col.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Value::Int(col.as_primitive::<UInt8Type>().value(i) as i64),
        DataType::UInt16 => Value::Int(col.as_primitive::<UInt16Type>().value(i) as i64),
        DataType::UInt32 => Value::Int(col.as_primitive::<UInt32Type>().value(i) as i64),
        DataType::UInt64 => Value::Int(i64::try_from(col.as_primitive::<UInt64Type>().value(i)).map_err(|_| "value too large")?),
        DataType::Float32 => Value::Float(col.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Value::Float(col.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Value::Bool(col.as_boolean().value(i)),
        DataType::Utf8 => Value::Text(col.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::Text(col.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::Text(col.as_string_view().value(i).to_string()),
        DataType::Dictionary(..) => {
            let dict = col.as_any_dictionary();
            let key = dict.normalized_keys()[i];
            return arrow_value(dict.values(), key);
        }
        DataType::Time32(u) => {
            let v = match u {
                TimeUnit::Second => col.as_primitive::<Time32SecondType>().value(i) as i64,
                _ => col.as_primitive::<Time32MillisecondType>().value(i) as i64,
            };
            Value::Seconds(unit_s(v, u))
        }
        DataType::Time64(u) => {
            let v = match u {
                TimeUnit::Microsecond => col.as_primitive::<Time64MicrosecondType>().value(i),
                _ => col.as_primitive::<Time64NanosecondType>().value(i),
            };
            Value::Seconds(unit_s(v, u))
        }
        DataType::Duration(u) => {
            let v = match u {
                TimeUnit::Second => col.as_primitive::<DurationSecondType>().value(i),
                TimeUnit::Millisecond => col.as_primitive::<DurationMillisecondType>().value(i),
                TimeUnit::Microsecond => col.as_primitive::<DurationMicrosecondType>().value(i),
                TimeUnit::Nanosecond => col.as_primitive::<DurationNanosecondType>().value(i),
            };
            Value::Seconds(unit_s(v, u))
        }
        DataType::Timestamp(u, _) => {
            let v = match u {
                TimeUnit::Second => col.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => col.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => col.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => col.as_primitive::<TimestampNanosecondType>().value(i),
            };
            Value::EpochMs(unit_ms(v, u))
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let values = match col.data_type() {
                DataType::List(_) => col.as_list::<i32>().value(i),
                DataType::LargeList(_) => col.as_list::<i64>().value(i),
                _ => col.as_fixed_size_list().value(i),
            };
            let mut ints = Vec::with_capacity(values.len());
            let mut texts = Vec::new();
            for k in 0..values.len() {
                match arrow_value(&values, k)? {
                    Value::Int(v) => ints.push(v),
                    Value::Text(t) => texts.push(t),
                    Value::Null => return Err("a list holds a null".into()),
                    other => return Err(format!("a list holds {other:?}")),
                }
            }
            if texts.is_empty() {
                Value::Ints(ints)
            } else if ints.is_empty() {
                Value::Texts(texts)
            } else {
                return Err("a list mixes numbers and text".into());
            }
        }
        other => return Err(format!("unsupported Arrow type {other}")),
    })
}

/// A JSON object as a row.
pub struct JsonRow<'a>(pub &'a serde_json::Map<String, serde_json::Value>);

impl Row for JsonRow<'_> {
    fn get(&self, name: &str) -> std::result::Result<Value, String> {
        use serde_json::Value as J;
        Ok(match self.0.get(name) {
            None | Some(J::Null) => Value::Null,
            Some(J::Bool(b)) => Value::Bool(*b),
            Some(J::Number(n)) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Some(J::String(s)) => Value::Text(s.clone()),
            Some(J::Array(items)) => {
                if items.iter().all(|v| v.is_i64()) {
                    Value::Ints(items.iter().filter_map(|v| v.as_i64()).collect())
                } else if items.iter().all(|v| v.is_string()) {
                    Value::Texts(items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                } else {
                    return Err(format!("{name} must be a list of whole numbers or of names"));
                }
            }
            Some(J::Object(_)) => return Err(format!("{name} must not be an object")),
        })
    }
}

/// Refuses a JSON object with a field not in `fields`.
pub fn check_fields(object: &serde_json::Map<String, serde_json::Value>, fields: &[&str]) -> std::result::Result<(), String> {
    match object.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field {k:?} (the fields are {fields:?})")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, Time32SecondArray};
    use std::sync::Arc;

    fn units() -> Units {
        Units { clock: true, origin_ms: Some(1_767_225_600_000), cost_scale: 1000.0, skills: vec!["fridge".into()] }
    }

    #[test]
    fn times_read_from_every_form() {
        let u = units();
        assert_eq!(u.time(Value::Text("09:30".into()), "t"), Ok(Some(34_200)));
        assert_eq!(u.time(Value::Text("2026-01-01T09:30:00Z".into()), "t"), Ok(Some(34_200)));
        assert_eq!(u.time(Value::EpochMs(1_767_225_600_000 + 60_000), "t"), Ok(Some(60)));
        assert_eq!(u.time(Value::Float(12.6), "t"), Ok(Some(13)));
        assert_eq!(u.span(Value::Text("4m".into()), "s"), Ok(Some(240)));
        assert!(u.time(Value::Text("soon".into()), "t").unwrap_err().contains("is not a time"));
        let no_origin = Units { origin_ms: None, ..u };
        assert!(no_origin.time(Value::EpochMs(0), "ts").unwrap_err().contains("no origin"));
    }

    #[test]
    fn arrow_rows_become_orders_or_reasons() {
        let batch = RecordBatch::try_from_iter(vec![
            ("order_id", Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])) as ArrayRef),
            ("x", Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3)])) as ArrayRef),
            ("y", Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef),
            ("tw_end", Arc::new(Time32SecondArray::from(vec![3600, 7200, 0])) as ArrayRef),
        ])
        .unwrap();
        check_columns(&batch, ORDER_FIELDS, &["order_id"], "orders").unwrap();
        let u = units();
        let a = u.order(&ArrowRow { batch: &batch, row: 0 }).unwrap();
        assert_eq!((a.place, a.windows.clone()), (Place::Point(1.0, 1.0), vec![(0, 3600)]));
        assert_eq!(u.order(&ArrowRow { batch: &batch, row: 1 }).unwrap_err(), (Some("b".into()), "give both x and y".into()));
        assert_eq!(u.order(&ArrowRow { batch: &batch, row: 2 }).unwrap_err().1, "order_id is missing");
        let nulls = RecordBatch::try_from_iter(vec![
            ("order_id", Arc::new(StringArray::from(vec!["n"])) as ArrayRef),
            ("site", Arc::new(Int64Array::from(vec![4])) as ArrayRef),
            ("tw_start", Arc::new(arrow_array::NullArray::new(1)) as ArrayRef),
        ])
        .unwrap();
        assert_eq!(u.order(&ArrowRow { batch: &nulls, row: 0 }).unwrap().windows, vec![]);
        let bad = RecordBatch::try_from_iter(vec![("order_id", Arc::new(StringArray::from(vec!["a"])) as ArrayRef), ("colour", Arc::new(StringArray::from(vec!["red"])) as ArrayRef)]).unwrap();
        assert!(check_columns(&bad, ORDER_FIELDS, &["order_id"], "orders").unwrap_err().to_string().contains("unknown column \"colour\""));
    }

    #[test]
    fn json_objects_become_events() {
        let v: serde_json::Value = serde_json::from_str(r#"{"vehicle_id": "van1", "ts": "10:00", "kind": "served", "stop": "o1", "lat": 52.5, "lon": 13.4}"#).unwrap();
        let e = units().event(&JsonRow(v.as_object().unwrap())).unwrap();
        assert_eq!((e.ts, e.kind, e.stop.as_deref(), e.place), (36_000, EventKind::Served, Some("o1"), Some(Place::Point(52.5, 13.4))));
        let v: serde_json::Value = serde_json::from_str(r#"{"vehicle_id": "van1", "ts": 5, "kind": "teleported"}"#).unwrap();
        assert!(units().event(&JsonRow(v.as_object().unwrap())).unwrap_err().contains("teleported"));
        assert!(check_fields(v.as_object().unwrap(), &["vehicle_id", "ts"]).unwrap_err().contains("\"kind\""));
    }
}
