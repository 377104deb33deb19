//! Aggregates computed per window: count, sum, min, max, mean, quantile.
//! Each has a specification (what the user asked for), a per-batch input (the column, typed once per
//! batch) and an accumulator (state per window, part of snapshots).

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use super::intern::columns::{KeyIds, Rows};
use super::keys::{column_names, Floats, KeyEncoder};
use crate::time::Millis;
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum AggKind {
    /// Rows in the window (`column` absent) or non-null values of `column`.
    Count,
    Sum,
    Min,
    Max,
    Mean,
    /// Exact quantile with linear interpolation between closest ranks (numpy's default).
    Quantile(f64),
    /// Distinct non-null values of a column of any type.
    CountDistinct,
    /// Value of the earliest event (by event time, then arrival), null included.
    First,
    /// Value of the latest event (by event time, then arrival), null included.
    Last,
}

impl AggKind {
    pub fn name(&self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::Mean => "mean",
            AggKind::Quantile(_) => "quantile",
            AggKind::CountDistinct => "count_distinct",
            AggKind::First => "first",
            AggKind::Last => "last",
        }
    }

    /// Kinds that keep values of any type (as Arrow row-format bytes) rather than numbers.
    pub fn keeps_values(&self) -> bool {
        matches!(self, AggKind::CountDistinct | AggKind::First | AggKind::Last)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggSpec {
    /// Output column name.
    pub name: String,
    pub kind: AggKind,
    pub column: Option<String>,
}

impl AggSpec {
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::config("aggregate output names must not be empty"));
        }
        match self.kind {
            AggKind::Count => Ok(()),
            AggKind::Quantile(q) if !(0.0..=1.0).contains(&q) => Err(Error::config(format!(
                "aggregate {:?}: quantile must be between 0 and 1, got {q}",
                self.name
            ))),
            kind if self.column.is_none() => Err(Error::config(format!(
                "aggregate {:?}: {} needs a column",
                self.name,
                kind.name()
            ))),
            _ => Ok(()),
        }
    }
}

/// Whether a numeric aggregate works on integers or floats; fixed by the first batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    Int,
    Float,
}

/// One aggregate's input column for one batch.
pub enum AggInput {
    Rows,
    NonNull(ArrayRef),
    Int(Int64Array),
    Float(Float64Array),
    /// Values as ids in the aggregate's value interner, with the column for its nulls.
    Ids(Vec<u32>, ArrayRef),
}

/// One event's contribution to one aggregate.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// A row to count (row counts, and non-null values for `count(column)`).
    Present,
    Null,
    Int(i64),
    Float(f64),
    /// A value of a value-keeping aggregate as its id in the aggregate's value interner
    /// (`AggSet`); `valid` is false for a null value.
    Id(u32, bool),
}

/// An owned `Value`, for operators that keep events until they close.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OwnedValue {
    Present,
    Null,
    Int(i64),
    Float(f64),
    Id(u32, bool),
}

/// An `OwnedValue` as snapshots hold it: values of value-keeping aggregates as their Arrow row
/// encoding (the format of the first release, so older snapshots restore).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SavedValue {
    Present,
    Null,
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>, bool),
}

impl OwnedValue {
    pub fn from_value(v: Value) -> Self {
        match v {
            Value::Present => OwnedValue::Present,
            Value::Null => OwnedValue::Null,
            Value::Int(i) => OwnedValue::Int(i),
            Value::Float(f) => OwnedValue::Float(f),
            Value::Id(id, valid) => OwnedValue::Id(id, valid),
        }
    }

    pub fn as_value(&self) -> Value {
        match *self {
            OwnedValue::Present => Value::Present,
            OwnedValue::Null => Value::Null,
            OwnedValue::Int(i) => Value::Int(i),
            OwnedValue::Float(f) => Value::Float(f),
            OwnedValue::Id(id, valid) => Value::Id(id, valid),
        }
    }
}

impl AggInput {
    /// Bind `spec` to `batch`, checking the column exists with a usable type. `fixed` is the value
    /// type seen in earlier batches (a later batch may not change it). Value-keeping kinds encode
    /// their column with `encoder`.
    pub fn bind(
        spec: &AggSpec,
        batch: &RecordBatch,
        fixed: Option<ValueType>,
        values: Option<(&mut KeyEncoder, &mut KeyIds)>,
    ) -> Result<(AggInput, Option<ValueType>)> {
        let Some(column_name) = &spec.column else {
            return Ok((AggInput::Rows, None));
        };
        let column = batch.column_by_name(column_name).ok_or_else(|| {
            Error::schema(format!(
                "aggregate {:?} reads column {column_name:?}, which is not in the input (columns: {})",
                spec.name,
                column_names(batch)
            ))
        })?;
        if spec.kind == AggKind::Count {
            return Ok((AggInput::NonNull(column.clone()), None));
        }
        if spec.kind.keeps_values() {
            let (encoder, interner) = values.expect("value-keeping aggregates have a value interner");
            let mut ids = Vec::with_capacity(batch.num_rows());
            interner.intern(encoder, batch, Rows::All(batch.num_rows()), &mut ids)?;
            return Ok((AggInput::Ids(ids, column.clone()), None));
        }
        let value_type = match column.data_type() {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
                ValueType::Int
            }
            DataType::UInt64 | DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
                ValueType::Float
            }
            DataType::Null => fixed.unwrap_or(ValueType::Int),
            other => {
                return Err(Error::schema(format!(
                    "aggregate {:?} ({}) needs a numeric column, but {column_name:?} has type {other}",
                    spec.name,
                    spec.kind.name()
                )))
            }
        };
        // Mean and quantiles are always computed in floating point.
        let value_type = match spec.kind {
            AggKind::Mean | AggKind::Quantile(_) => ValueType::Float,
            _ => value_type,
        };
        if let Some(previous) = fixed {
            if previous != value_type && column.data_type() != &DataType::Null {
                return Err(Error::schema(format!(
                    "aggregate {:?}: column {column_name:?} changed from {} to {} between batches",
                    spec.name,
                    type_word(previous),
                    type_word(value_type)
                )));
            }
        }
        let input = match value_type {
            ValueType::Int => AggInput::Int(arrow_cast::cast(column, &DataType::Int64)?.as_primitive::<Int64Type>().clone()),
            ValueType::Float => {
                AggInput::Float(arrow_cast::cast(column, &DataType::Float64)?.as_primitive::<Float64Type>().clone())
            }
        };
        Ok((input, Some(value_type)))
    }

    #[inline]
    pub fn value(&self, row: usize) -> Value {
        match self {
            AggInput::Rows => Value::Present,
            AggInput::NonNull(col) => {
                if col.is_valid(row) {
                    Value::Present
                } else {
                    Value::Null
                }
            }
            AggInput::Int(col) => {
                if col.is_valid(row) {
                    Value::Int(col.value(row))
                } else {
                    Value::Null
                }
            }
            AggInput::Float(col) => {
                if col.is_valid(row) {
                    Value::Float(col.value(row))
                } else {
                    Value::Null
                }
            }
            AggInput::Ids(ids, col) => Value::Id(ids[row], col.is_valid(row)),
        }
    }
}

fn type_word(t: ValueType) -> &'static str {
    match t {
        ValueType::Int => "integers",
        ValueType::Float => "floats",
    }
}

/// A value (its id) with the event time and arrival sequence that order it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stamped {
    pub time: Millis,
    pub seq: u64,
    pub value: u32,
}

/// A `Stamped` as snapshots hold it: the value as its Arrow row encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedStamped {
    pub time: Millis,
    pub seq: u64,
    pub value: Vec<u8>,
}

/// The value ids of a count_distinct: a few inline; beyond, one bit per id while the ids are
/// small (value ids are issued from 0, so a column of 50 pages or 5 statuses stays within a word
/// or two), else a hash set.
#[derive(Clone, Debug, PartialEq)]
pub enum IdSet {
    Few(smallvec::SmallVec<[u32; 8]>),
    /// Never more words than ids held (at most 8 bytes an id, as a hash set takes).
    Bits { words: Vec<u64>, len: u32 },
    Many(hashbrown::HashSet<u32>),
}

impl Default for IdSet {
    fn default() -> Self {
        IdSet::Few(smallvec::SmallVec::new())
    }
}

/// More distinct values than this move from a list to bits or a hash set.
const FEW_IDS: usize = 16;

/// Whether `len` ids, the largest below `bound`, may be held as bits.
fn fits_bits(bound: u32, len: usize) -> bool {
    (bound as usize).div_ceil(64) <= len.max(4)
}

impl IdSet {
    #[inline]
    pub fn insert(&mut self, id: u32) {
        match self {
            IdSet::Few(ids) if ids.contains(&id) => {}
            IdSet::Few(ids) if ids.len() < FEW_IDS => ids.push(id),
            IdSet::Few(ids) => {
                let bound = ids.iter().copied().max().unwrap_or(0).max(id) + 1;
                let mut grown = if fits_bits(bound, ids.len() + 1) {
                    IdSet::Bits { words: vec![0; (bound as usize).div_ceil(64)], len: 0 }
                } else {
                    IdSet::Many(hashbrown::HashSet::with_capacity(2 * FEW_IDS))
                };
                ids.iter().for_each(|&old| grown.insert(old));
                grown.insert(id);
                *self = grown;
            }
            IdSet::Bits { words, len } => {
                let word = id as usize / 64;
                if word >= words.len() {
                    if !fits_bits(id + 1, *len as usize + 1) {
                        let mut set: hashbrown::HashSet<u32> = self.ids().collect();
                        set.insert(id);
                        *self = IdSet::Many(set);
                        return;
                    }
                    words.resize(word + 1, 0);
                }
                let bit = 1u64 << (id % 64);
                *len += u32::from(words[word] & bit == 0);
                words[word] |= bit;
            }
            IdSet::Many(set) => {
                set.insert(id);
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IdSet::Few(ids) => ids.len(),
            IdSet::Bits { len, .. } => *len as usize,
            IdSet::Many(set) => set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn ids(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            IdSet::Few(ids) => Box::new(ids.iter().copied()),
            IdSet::Bits { words, .. } => Box::new(words.iter().enumerate().flat_map(|(w, &word)| {
                let mut rest = word;
                std::iter::from_fn(move || {
                    (rest != 0).then(|| {
                        let bit = rest.trailing_zeros();
                        rest &= rest - 1;
                        w as u32 * 64 + bit
                    })
                })
            })),
            IdSet::Many(set) => Box::new(set.iter().copied()),
        }
    }
}

/// The accumulators of one window or session, inline for the usual one or two aggregates.
pub type Accs = smallvec::SmallVec<[Acc; 2]>;

/// State of one aggregate in one window or session (kept small: it is stored per open group).
/// Value-keeping kinds hold value ids of their aggregate's interner (`AggSet`), so adding a value
/// allocates nothing; snapshots hold them as `SavedAcc`.
#[derive(Clone, Debug, PartialEq)]
pub enum Acc {
    Count(i64),
    /// An integer sum that left the int64 range is reported as null, never wrapped.
    SumInt { sum: i64, n: i64, overflow: bool },
    SumFloat { sum: f64, n: i64 },
    MinInt(Option<i64>),
    MinFloat(Option<f64>),
    MaxInt(Option<i64>),
    MaxFloat(Option<f64>),
    Mean { sum: f64, n: i64 },
    /// Boxed, like `Distinct`: it keeps `Acc` at 24 bytes, so that a session with one
    /// aggregate fits one cache line (snapshots hold the same bytes as unboxed).
    Quantile(Box<Vec<f64>>),
    Distinct(Box<IdSet>),
    First(Option<Box<Stamped>>),
    Last(Option<Box<Stamped>>),
}

/// An `Acc` as snapshots hold it (the layout of the first release, so older snapshots restore):
/// values of value-keeping kinds as their Arrow row encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SavedAcc {
    Count(i64),
    SumInt { sum: i64, n: i64, overflow: bool },
    SumFloat { sum: f64, n: i64 },
    MinInt(Option<i64>),
    MinFloat(Option<f64>),
    MaxInt(Option<i64>),
    MaxFloat(Option<f64>),
    Mean { sum: f64, n: i64 },
    Quantile(Box<Vec<f64>>),
    /// Sorted, so that snapshots of equal states are equal bytes.
    Distinct(Box<BTreeSet<Vec<u8>>>),
    First(Option<Box<SavedStamped>>),
    Last(Option<Box<SavedStamped>>),
}

/// The accumulators of a window or session as snapshots hold them.
pub type SavedAccs = Vec<SavedAcc>;

impl Acc {
    pub fn new(kind: AggKind, value_type: Option<ValueType>) -> Acc {
        let float = value_type == Some(ValueType::Float);
        match kind {
            AggKind::Count => Acc::Count(0),
            AggKind::Sum if float => Acc::SumFloat { sum: 0.0, n: 0 },
            AggKind::Sum => Acc::SumInt { sum: 0, n: 0, overflow: false },
            AggKind::Min if float => Acc::MinFloat(None),
            AggKind::Min => Acc::MinInt(None),
            AggKind::Max if float => Acc::MaxFloat(None),
            AggKind::Max => Acc::MaxInt(None),
            AggKind::Mean => Acc::Mean { sum: 0.0, n: 0 },
            AggKind::Quantile(_) => Acc::Quantile(Box::default()),
            AggKind::CountDistinct => Acc::Distinct(Box::default()),
            AggKind::First => Acc::First(None),
            AggKind::Last => Acc::Last(None),
        }
    }

    /// Add one event's value; `time` and `seq` (arrival order) order first/last.
    #[inline]
    pub fn add(&mut self, value: Value, time: Millis, seq: u64) {
        match (self, value) {
            (_, Value::Null) => {}
            (Acc::Count(n), _) => *n += 1,
            (Acc::SumInt { sum, n, overflow }, Value::Int(v)) => {
                let (total, overflowed) = sum.overflowing_add(v);
                *sum = total;
                *overflow |= overflowed;
                *n += 1;
            }
            (Acc::SumFloat { sum, n }, Value::Float(v)) | (Acc::Mean { sum, n }, Value::Float(v)) => {
                *sum += v;
                *n += 1;
            }
            (Acc::MinInt(m), Value::Int(v)) => *m = Some(m.map_or(v, |m| m.min(v))),
            (Acc::MaxInt(m), Value::Int(v)) => *m = Some(m.map_or(v, |m| m.max(v))),
            (Acc::MinFloat(m), Value::Float(v)) => *m = Some(m.map_or(v, |m| m.min(v))),
            (Acc::MaxFloat(m), Value::Float(v)) => *m = Some(m.map_or(v, |m| m.max(v))),
            (Acc::Quantile(values), Value::Float(v)) => values.push(v),
            (Acc::Distinct(set), Value::Id(id, true)) => set.insert(id),
            (Acc::First(current), Value::Id(id, _)) => match current {
                Some(c) if (time, seq) < (c.time, c.seq) => **c = Stamped { time, seq, value: id },
                Some(_) => {}
                None => *current = Some(Box::new(Stamped { time, seq, value: id })),
            },
            (Acc::Last(current), Value::Id(id, _)) => match current {
                Some(c) if (time, seq) > (c.time, c.seq) => **c = Stamped { time, seq, value: id },
                Some(_) => {}
                None => *current = Some(Box::new(Stamped { time, seq, value: id })),
            },
            // Values that change nothing (a known distinct value, a later first), and values of the
            // other numeric type, which cannot reach here because `AggInput::bind` rejects a type
            // change (an all-null first batch fixes no type).
            _ => {}
        }
    }

    /// Calls `f` with every value id this accumulator holds.
    pub fn value_ids(&self, f: &mut dyn FnMut(u32)) {
        match self {
            Acc::Distinct(set) => set.ids().for_each(f),
            Acc::First(Some(s)) | Acc::Last(Some(s)) => f(s.value),
            _ => {}
        }
    }

    /// Fold `other` (state of the same aggregate over other events) into `self`.
    pub fn merge(&mut self, other: Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a += b,
            (Acc::SumInt { sum, n, overflow }, Acc::SumInt { sum: s2, n: n2, overflow: o2 }) => {
                let (total, overflowed) = sum.overflowing_add(s2);
                *sum = total;
                *overflow |= overflowed || o2;
                *n += n2;
            }
            (Acc::SumFloat { sum, n }, Acc::SumFloat { sum: s2, n: n2 }) | (Acc::Mean { sum, n }, Acc::Mean { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (Acc::MinInt(a), Acc::MinInt(b)) => *a = min_opt(*a, b, |x, y| x.min(y)),
            (Acc::MaxInt(a), Acc::MaxInt(b)) => *a = min_opt(*a, b, |x, y| x.max(y)),
            (Acc::MinFloat(a), Acc::MinFloat(b)) => *a = min_opt(*a, b, f64::min),
            (Acc::MaxFloat(a), Acc::MaxFloat(b)) => *a = min_opt(*a, b, f64::max),
            (Acc::Quantile(a), Acc::Quantile(b)) => a.extend(*b),
            (Acc::Distinct(a), Acc::Distinct(b)) => b.ids().for_each(|id| a.insert(id)),
            (Acc::First(a), Acc::First(b)) => {
                if let Some(b) = b {
                    if a.as_ref().is_none_or(|a| (b.time, b.seq) < (a.time, a.seq)) {
                        *a = Some(b);
                    }
                }
            }
            (Acc::Last(a), Acc::Last(b)) => {
                if let Some(b) = b {
                    if a.as_ref().is_none_or(|a| (b.time, b.seq) > (a.time, a.seq)) {
                        *a = Some(b);
                    }
                }
            }
            (a, b) => debug_assert!(false, "merging different aggregates {a:?} and {b:?}"),
        }
    }
}

fn min_opt<T: Copy>(a: Option<T>, b: Option<T>, pick: impl Fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// Builds the output column of one aggregate from the accumulators of closed windows or sessions.
/// Value-keeping kinds decode their value ids with their interner and encoder.
pub fn finish(kind: AggKind, value_type: Option<ValueType>, accs: &[&Acc], values: Option<(&KeyEncoder, &KeyIds)>) -> Result<ArrayRef> {
    Ok(match kind {
        AggKind::Count => Arc::new(Int64Array::from_iter_values(accs.iter().map(|a| match a {
            Acc::Count(n) => *n,
            _ => 0,
        }))),
        AggKind::CountDistinct => Arc::new(Int64Array::from_iter_values(accs.iter().map(|a| match a {
            Acc::Distinct(set) => set.len() as i64,
            _ => 0,
        }))),
        AggKind::First | AggKind::Last => {
            let (encoder, interner) = values.expect("value-keeping aggregates have a value interner");
            if accs.is_empty() {
                // (The interner may not know its type yet: nothing was seen since a restore.)
                return Ok(arrow_array::new_empty_array(&output_type(kind, value_type, Some(encoder))));
            }
            let ids: Vec<u32> = accs
                .iter()
                .map(|a| match a {
                    Acc::First(Some(s)) | Acc::Last(Some(s)) => s.value,
                    _ => unreachable!("a closed window or session has at least one event"),
                })
                .collect();
            interner.decode(encoder, &ids)?.remove(0)
        }
        AggKind::Sum | AggKind::Min | AggKind::Max if value_type != Some(ValueType::Float) => {
            Arc::new(Int64Array::from_iter(accs.iter().map(|a| match a {
                // A sum beyond the int64 range is reported as null rather than wrapped.
                Acc::SumInt { sum, n, overflow: false } if *n > 0 => Some(*sum),
                Acc::MinInt(m) | Acc::MaxInt(m) => *m,
                _ => None,
            })))
        }
        AggKind::Quantile(q) => Arc::new(Float64Array::from_iter(accs.iter().map(|a| match a {
            Acc::Quantile(values) => quantile(values, q),
            _ => None,
        }))),
        _ => Arc::new(Float64Array::from_iter(accs.iter().map(|a| match a {
            Acc::SumFloat { sum, n } if *n > 0 => Some(*sum),
            Acc::Mean { sum, n } if *n > 0 => Some(*sum / *n as f64),
            Acc::MinFloat(m) | Acc::MaxFloat(m) => *m,
            _ => None,
        }))),
    })
}

pub fn output_type(kind: AggKind, value_type: Option<ValueType>, encoder: Option<&KeyEncoder>) -> DataType {
    match kind {
        AggKind::Count | AggKind::CountDistinct => DataType::Int64,
        AggKind::First | AggKind::Last => match encoder {
            Some(e) => e.output_fields()[0].data_type().clone(),
            None => DataType::Null,
        },
        AggKind::Sum | AggKind::Min | AggKind::Max if value_type != Some(ValueType::Float) => DataType::Int64,
        _ => DataType::Float64,
    }
}

/// One value encoder per aggregate that keeps values (None for the others).
pub fn value_encoders(aggs: &[AggSpec]) -> Vec<Option<KeyEncoder>> {
    aggs.iter()
        .map(|a| {
            let floats = if a.kind == AggKind::CountDistinct { Floats::Canonical } else { Floats::Kept };
            a.kind.keeps_values().then(|| KeyEncoder::for_values(vec![a.column.clone().unwrap_or_default()], floats))
        })
        .collect()
}

/// Linear interpolation between closest ranks (numpy's "linear" method).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * fraction)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// However it holds them (a list, bits, a hash set, and the moves between them), a
        /// count_distinct's id set holds what a hash set would.
        #[test]
        fn id_sets_hold_what_a_hash_set_holds(ids in prop::collection::vec(prop_oneof![0u32..40, 0u32..300, 0u32..5000, any::<u32>()], 0..200)) {
            let mut set = IdSet::default();
            let mut model = std::collections::HashSet::new();
            for id in ids {
                set.insert(id);
                model.insert(id);
                prop_assert_eq!(set.len(), model.len());
            }
            let mut held: Vec<u32> = set.ids().collect();
            held.sort_unstable();
            let mut want: Vec<u32> = model.into_iter().collect();
            want.sort_unstable();
            prop_assert_eq!(held, want);
        }
    }

    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert!((quantile(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn quantile_outside_unit_interval_is_rejected() {
        let spec = AggSpec { name: "p".into(), kind: AggKind::Quantile(1.5), column: Some("x".into()) };
        assert!(spec.validate().is_err());
        let spec = AggSpec { name: "s".into(), kind: AggKind::Sum, column: None };
        assert!(spec.validate().is_err());
    }
}
