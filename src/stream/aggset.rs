//! The aggregates of one operator, bound batch by batch: their specs, the numeric type each one
//! settled on, and the value encoders of those that keep values. Shared by the window aggregator
//! and the sessionizer, including the checks every input row goes through.

use super::aggregate::{self, Acc, AggInput, AggSpec, ValueType};
use super::keys::{column_names, key_data_len, KeyEncoder};
use crate::error::{Error, Result};
use crate::time::{check_event_time, time_column_millis, Millis};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_row::Rows;
use arrow_schema::Field;
use serde::{Deserialize, Serialize};

pub struct AggSet {
    specs: Vec<AggSpec>,
    value_types: Vec<Option<ValueType>>,
    encoders: Vec<Option<KeyEncoder>>,
}

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
        AggSet {
            value_types: vec![None; specs.len()],
            encoders: aggregate::value_encoders(&specs),
            specs,
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
        let times = time_column_millis(time_column, time)?;
        let (encoded_keys, key_columns) = match keys.columns(batch)? {
            Some(columns) if encode_keys => (Some(keys.convert(&columns)?), columns),
            Some(columns) => (None, columns),
            None => (None, Vec::new()),
        };
        let mut value_types = self.value_types.clone();
        let mut inputs = Vec::with_capacity(self.specs.len());
        for ((spec, value_type), encoder) in self.specs.iter().zip(value_types.iter_mut()).zip(&mut self.encoders) {
            let (input, bound_type) = AggInput::bind(spec, batch, *value_type, encoder.as_mut())?;
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
                aggregate::finish(self.specs[a].kind, self.value_types[a], &accs, self.encoders[a].as_ref())
            })
            .collect()
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
