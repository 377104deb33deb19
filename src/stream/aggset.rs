//! The aggregates of one operator, bound batch by batch: their specs, the numeric type each one
//! settled on, and for those that keep values (count_distinct, first, last) an interner giving
//! each distinct value an id, which accumulators hold instead of the value. Shared by the window
//! aggregator and the sessionizer, including the checks every input row goes through.
//!
//! Value ids are not counted by their holders: once the interners hold twice as many values as
//! at the last count, the operator lists the ids its state still holds ([`AggSet::sweep`]) and
//! the others are released (between pushes, when no batch holds ids).

use super::aggregate::{self, Acc, AggInput, AggSpec, OwnedValue, SavedAcc, SavedAccs, SavedStamped, SavedValue, Stamped, ValueType};
use super::intern::columns::KeyIds;
use super::keys::{column_names, key_data_len, KeyEncoder};
use crate::error::{Error, Result};
use crate::time::{check_event_time, check_integer_times, time_column_millis, IntTimeUnit, Millis};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_row::Rows;
use arrow_schema::Field;
use serde::{Deserialize, Serialize};

pub struct AggSet {
    specs: Vec<AggSpec>,
    value_types: Vec<Option<ValueType>>,
    encoders: Vec<Option<KeyEncoder>>,
    /// Per value-keeping aggregate: its values' interner.
    values: Vec<Option<KeyIds>>,
    /// Values the interners held after the last sweep.
    swept_at: usize,
    /// The unit of an integer time column (an operator setting, saved by the operator).
    pub time_unit: IntTimeUnit,
}

/// Interners sweep once they hold this many values at least.
const MIN_SWEEP: usize = 4096;

/// What a snapshot keeps of an `AggSet` besides the specs (which live in the config).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AggSetState {
    value_types: Vec<Option<ValueType>>,
    value_fields: Vec<Option<Vec<Field>>>,
}

/// One batch, checked and typed: event times, encoded keys, aggregate inputs.
pub struct BoundBatch<'a> {
    pub batch: &'a RecordBatch,
    pub times: Int64Array,
    pub keys: Option<Rows>,
    pub key_columns: Vec<ArrayRef>,
    pub inputs: Vec<AggInput>,
    value_types: Vec<Option<ValueType>>,
}

impl AggSet {
    pub fn new(specs: Vec<AggSpec>) -> Self {
        let encoders = aggregate::value_encoders(&specs);
        AggSet {
            value_types: vec![None; specs.len()],
            values: encoders.iter().map(|e| e.as_ref().map(|_| KeyIds::Unknown)).collect(),
            encoders,
            specs,
            swept_at: 0,
            time_unit: IntTimeUnit::Millis,
        }
    }

    pub fn specs(&self) -> &[AggSpec] {
        &self.specs
    }

    /// The numeric type each aggregate settled on (None until a batch fixed it, and for kinds
    /// without one).
    pub fn value_types(&self) -> &[Option<ValueType>] {
        &self.value_types
    }

    /// The value encoders of the aggregates that keep values.
    pub fn encoders(&self) -> &[Option<KeyEncoder>] {
        &self.encoders
    }

    /// Check `batch` and type its columns without changing what earlier batches fixed; `commit`
    /// makes the types final once every batch of a push is known to be good.
    /// Keys are row-encoded only when `encode_keys` (an operator with its own key handling skips it).
    pub fn bind<'a>(&mut self, batch: &'a RecordBatch, time: &str, keys: &mut KeyEncoder, encode_keys: bool) -> Result<BoundBatch<'a>> {
        let time_column = batch.column_by_name(time).ok_or_else(|| {
            Error::schema(format!(
                "time column {time:?} is not in the input (columns: {})",
                column_names(batch)
            ))
        })?;
        let mut times = time_column_millis(time_column, time)?;
        if time_column.data_type().is_integer() {
            // Without nulls, one pass over the values that the compiler vectorises (a hot path).
            match times.null_count() {
                0 => check_integer_times(times.values().iter().copied(), time, self.time_unit)?,
                _ => check_integer_times(times.iter().flatten(), time, self.time_unit)?,
            }
            if self.time_unit != IntTimeUnit::Millis {
                let unit = self.time_unit;
                times = times.unary_opt(|v| unit.to_millis(v));
            }
        }
        let (encoded_keys, key_columns) = match keys.columns(batch)? {
            Some(columns) if encode_keys => (Some(keys.convert(&columns)?), columns),
            Some(columns) => (None, columns),
            None => (None, Vec::new()),
        };
        let mut value_types = self.value_types.clone();
        let mut inputs = Vec::with_capacity(self.specs.len());
        for (((spec, value_type), encoder), values) in self.specs.iter().zip(value_types.iter_mut()).zip(&mut self.encoders).zip(&mut self.values) {
            let (input, bound_type) = AggInput::bind(spec, batch, *value_type, encoder.as_mut().zip(values.as_mut()))?;
            if value_type.is_none() {
                *value_type = bound_type;
            }
            inputs.push(input);
        }
        Ok(BoundBatch { batch, times, keys: encoded_keys, key_columns, inputs, value_types })
    }

    /// Bind every batch of a push before any is applied, so a bad batch changes nothing; returns
    /// them (types committed) with the row offset of each within the push.
    pub fn bind_all<'a>(
        &mut self,
        batches: &'a [RecordBatch],
        time: &str,
        keys: &mut KeyEncoder,
        encode_keys: bool,
    ) -> Result<Vec<(BoundBatch<'a>, i64)>> {
        let before = self.value_types.clone();
        let mut bound = Vec::with_capacity(batches.len());
        let mut row_offset = 0i64;
        for batch in batches {
            // Each batch's types are committed before the next is bound, so a later batch of the
            // same push cannot change them; a failure restores what earlier pushes fixed.
            match self.bind(batch, time, keys, encode_keys) {
                Ok(b) => {
                    self.commit(&b);
                    bound.push((b, row_offset));
                    row_offset += batch.num_rows() as i64;
                }
                Err(error) => {
                    self.value_types = before;
                    return Err(error);
                }
            }
        }
        Ok(bound)
    }

    fn commit(&mut self, bound: &BoundBatch<'_>) {
        for (mine, theirs) in self.value_types.iter_mut().zip(&bound.value_types) {
            if mine.is_none() {
                *mine = *theirs;
            }
        }
    }

    /// Fresh accumulators, in any container (windows and sessions inline different numbers).
    pub fn new_accs<A: FromIterator<Acc>>(&self) -> A {
        self.specs.iter().zip(&self.value_types).map(|(a, vt)| Acc::new(a.kind, *vt)).collect()
    }

    pub fn fields(&self) -> Vec<Field> {
        self.specs
            .iter()
            .zip(&self.value_types)
            .zip(&self.encoders)
            .map(|((spec, vt), encoder)| Field::new(&spec.name, aggregate::output_type(spec.kind, *vt, encoder.as_ref()), true))
            .collect()
    }

    /// Output columns for the given closed groups (`accs_of(i)` is group i's accumulators).
    pub fn finish<'a>(&self, groups: usize, accs_of: impl Fn(usize) -> &'a [Acc]) -> Result<Vec<ArrayRef>> {
        (0..self.specs.len())
            .map(|a| {
                let accs: Vec<&Acc> = (0..groups).map(|g| &accs_of(g)[a]).collect();
                aggregate::finish(self.specs[a].kind, self.value_types[a], &accs, self.value_interner(a))
            })
            .collect()
    }

    /// Aggregate `a`'s value encoder and interner (value-keeping kinds only).
    pub fn value_interner(&self, a: usize) -> Option<(&KeyEncoder, &KeyIds)> {
        self.encoders[a].as_ref().zip(self.values[a].as_ref())
    }

    /// Accumulators as snapshots hold them: value ids as their values' row encoding.
    pub fn save_accs(&self, accs: &[Acc]) -> Result<SavedAccs> {
        accs.iter().enumerate().map(|(a, acc)| self.save_acc(a, acc)).collect()
    }

    fn row_bytes(&self, a: usize, ids: &[u32]) -> Result<Vec<Vec<u8>>> {
        let (encoder, interner) = self.value_interner(a).ok_or_else(|| Error::snapshot("a value id of an aggregate that keeps no values"))?;
        interner.row_bytes(encoder, ids)
    }

    fn save_acc(&self, a: usize, acc: &Acc) -> Result<SavedAcc> {
        let stamped = |s: &Option<Box<Stamped>>| -> Result<Option<Box<SavedStamped>>> {
            Ok(match s {
                None => None,
                Some(s) => {
                    let value = self.row_bytes(a, &[s.value])?.pop().unwrap_or_default();
                    Some(Box::new(SavedStamped { time: s.time, seq: s.seq, value }))
                }
            })
        };
        Ok(match acc {
            Acc::Count(n) => SavedAcc::Count(*n),
            Acc::SumInt { sum, n, overflow } => SavedAcc::SumInt { sum: *sum, n: *n, overflow: *overflow },
            Acc::SumFloat { sum, n } => SavedAcc::SumFloat { sum: *sum, n: *n },
            Acc::MinInt(v) => SavedAcc::MinInt(*v),
            Acc::MinFloat(v) => SavedAcc::MinFloat(*v),
            Acc::MaxInt(v) => SavedAcc::MaxInt(*v),
            Acc::MaxFloat(v) => SavedAcc::MaxFloat(*v),
            Acc::Mean { sum, n } => SavedAcc::Mean { sum: *sum, n: *n },
            Acc::Quantile(values) => SavedAcc::Quantile(values.clone()),
            Acc::Distinct(set) => {
                let ids: Vec<u32> = set.ids().collect();
                SavedAcc::Distinct(Box::new(self.row_bytes(a, &ids)?.into_iter().collect()))
            }
            Acc::First(s) => SavedAcc::First(stamped(s)?),
            Acc::Last(s) => SavedAcc::Last(stamped(s)?),
        })
    }

    /// Accumulators from a snapshot, their values interned.
    pub fn restore_accs<A: FromIterator<Acc>>(&mut self, saved: &[SavedAcc]) -> Result<A> {
        if saved.len() != self.specs.len() {
            return Err(Error::snapshot("snapshot accumulators do not match the aggregates"));
        }
        saved.iter().enumerate().map(|(a, acc)| self.restore_acc(a, acc)).collect()
    }

    fn intern_row_bytes(&mut self, a: usize, bytes: &[&[u8]]) -> Result<Vec<u32>> {
        match (self.encoders[a].as_mut(), self.values[a].as_mut()) {
            (Some(encoder), Some(interner)) => interner.intern_row_bytes(encoder, bytes),
            _ => Err(Error::snapshot("snapshot holds values for an aggregate that keeps none")),
        }
    }

    fn restore_acc(&mut self, a: usize, acc: &SavedAcc) -> Result<Acc> {
        let mut stamped = |s: &Option<Box<SavedStamped>>| -> Result<Option<Box<Stamped>>> {
            Ok(match s {
                None => None,
                Some(s) => {
                    let value = self.intern_row_bytes(a, &[&s.value])?[0];
                    Some(Box::new(Stamped { time: s.time, seq: s.seq, value }))
                }
            })
        };
        let acc = match acc {
            SavedAcc::Count(n) => Acc::Count(*n),
            SavedAcc::SumInt { sum, n, overflow } => Acc::SumInt { sum: *sum, n: *n, overflow: *overflow },
            SavedAcc::SumFloat { sum, n } => Acc::SumFloat { sum: *sum, n: *n },
            SavedAcc::MinInt(v) => Acc::MinInt(*v),
            SavedAcc::MinFloat(v) => Acc::MinFloat(*v),
            SavedAcc::MaxInt(v) => Acc::MaxInt(*v),
            SavedAcc::MaxFloat(v) => Acc::MaxFloat(*v),
            SavedAcc::Mean { sum, n } => Acc::Mean { sum: *sum, n: *n },
            SavedAcc::Quantile(values) => Acc::Quantile(values.clone()),
            SavedAcc::Distinct(values) => {
                let bytes: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                let mut set = aggregate::IdSet::default();
                self.intern_row_bytes(a, &bytes)?.into_iter().for_each(|id| set.insert(id));
                Acc::Distinct(Box::new(set))
            }
            SavedAcc::First(s) => Acc::First(stamped(s)?),
            SavedAcc::Last(s) => Acc::Last(stamped(s)?),
        };
        // A snapshot's accumulators must be of the kinds the aggregates make.
        let expected = Acc::new(self.specs[a].kind, self.value_types[a]);
        if std::mem::discriminant(&expected) != std::mem::discriminant(&acc) {
            return Err(Error::snapshot(format!("snapshot holds a {:?} accumulator for aggregate {:?}", acc, self.specs[a].name)));
        }
        Ok(acc)
    }

    /// One event's values as snapshots hold them.
    pub fn save_values(&self, values: &[OwnedValue]) -> Result<Vec<SavedValue>> {
        values
            .iter()
            .enumerate()
            .map(|(a, v)| {
                Ok(match *v {
                    OwnedValue::Present => SavedValue::Present,
                    OwnedValue::Null => SavedValue::Null,
                    OwnedValue::Int(i) => SavedValue::Int(i),
                    OwnedValue::Float(f) => SavedValue::Float(f),
                    OwnedValue::Id(id, valid) => SavedValue::Bytes(self.row_bytes(a, &[id])?.pop().unwrap_or_default(), valid),
                })
            })
            .collect()
    }

    /// One event's values from a snapshot, interned.
    pub fn restore_values(&mut self, saved: &[SavedValue]) -> Result<Vec<OwnedValue>> {
        saved
            .iter()
            .enumerate()
            .map(|(a, v)| {
                Ok(match v {
                    SavedValue::Present => OwnedValue::Present,
                    SavedValue::Null => OwnedValue::Null,
                    SavedValue::Int(i) => OwnedValue::Int(*i),
                    SavedValue::Float(f) => OwnedValue::Float(*f),
                    SavedValue::Bytes(bytes, valid) => OwnedValue::Id(self.intern_row_bytes(a, &[bytes])?[0], *valid),
                })
            })
            .collect()
    }

    /// Whether the value interners have grown enough since the last sweep to sweep again.
    pub fn wants_sweep(&self) -> bool {
        let held: usize = self.values.iter().flatten().map(KeyIds::len).sum();
        held > MIN_SWEEP.max(2 * self.swept_at)
    }

    /// Release every value id that `live` does not report (`live` calls its argument with each
    /// (aggregate, id) the operator's state still holds). Only between pushes.
    pub fn sweep(&mut self, live: impl FnOnce(&mut dyn FnMut(usize, u32))) {
        let mut marked: Vec<Vec<bool>> = self.values.iter().map(|v| vec![false; v.as_ref().map_or(0, KeyIds::id_bound)]).collect();
        live(&mut |a, id| {
            if let Some(slot) = marked.get_mut(a).and_then(|m| m.get_mut(id as usize)) {
                *slot = true;
            }
        });
        let mut held = 0;
        for (interner, marked) in self.values.iter_mut().zip(&marked) {
            if let Some(interner) = interner {
                let dead: Vec<u32> = (0..marked.len() as u32).filter(|&id| !marked[id as usize] && interner.is_live(id)).collect();
                interner.release_many(&dead);
                held += interner.len();
            }
        }
        self.swept_at = held;
    }

    pub fn state(&self) -> AggSetState {
        AggSetState {
            value_types: self.value_types.clone(),
            value_fields: self.encoders.iter().map(|e| e.as_ref().and_then(|e| e.fields().cloned())).collect(),
        }
    }

    pub fn restore(specs: Vec<AggSpec>, state: AggSetState) -> Result<Self> {
        let mut set = AggSet::new(specs);
        if state.value_types.len() != set.specs.len() || state.value_fields.len() != set.specs.len() {
            return Err(Error::snapshot("snapshot's aggregate state does not match its aggregates"));
        }
        set.value_types = state.value_types;
        for (slot, fields) in set.encoders.iter_mut().zip(state.value_fields) {
            if let Some(encoder) = slot.take() {
                *slot = Some(encoder.with_fields(fields)?);
            }
        }
        Ok(set)
    }
}

impl BoundBatch<'_> {
    /// Event time of `row`, or why the row must be rejected.
    #[inline]
    pub fn time(&self, row: usize, time_name: &str) -> Result<Millis, String> {
        if self.times.is_null(row) {
            return Err(format!("time column {time_name:?} is null"));
        }
        let t = self.times.value(row);
        if let Some(why) = check_event_time(t) {
            return Err(format!("time column {time_name:?}: {why}"));
        }
        Ok(t)
    }

    /// Event time and key of `row`, or why the row must be rejected.
    #[inline]
    pub fn time_and_key(&self, row: usize, time_name: &str, max_key_bytes: usize) -> Result<(Millis, &[u8]), String> {
        let t = self.time(row, time_name)?;
        let key: &[u8] = match &self.keys {
            Some(rows) => rows.row(row).data(),
            None => &[],
        };
        // The encoded key is never shorter than its data, so the data is only measured for long keys.
        if key.len() > max_key_bytes {
            let data = key_data_len(&self.key_columns, row, key.len());
            if data > max_key_bytes {
                return Err(format!("key is {data} bytes long, over the limit of {max_key_bytes} bytes"));
            }
        }
        Ok((t, key))
    }
}
