//! Output tables of the stream operators: window bounds as UTC millisecond timestamps, side outputs
//! (late and rejected rows) as the original rows plus the columns that explain them.

use crate::error::Result;
use crate::time::Millis;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use std::sync::Arc;

pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

pub fn timestamp_column(values: impl IntoIterator<Item = Millis>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(values).with_timezone("UTC"))
}

/// ISO 8601 rendering of a millisecond time, for messages.
pub fn iso(ms: Millis) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{ms} ms"),
    }
}

/// Rows `indices` of `batch` with `extra` columns appended.
pub fn take_rows_with(batch: &RecordBatch, indices: &[u32], extra: Vec<(Field, ArrayRef)>) -> Result<RecordBatch> {
    let taken = arrow_select::take::take_record_batch(batch, &UInt32Array::from(indices.to_vec()))?;
    let mut fields: Vec<Field> = taken.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = taken.columns().to_vec();
    for (field, column) in extra {
        fields.push(field);
        columns.push(column);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// Rejected rows: the original row, its index within the pushed batch, and the reason.
#[derive(Default)]
pub struct RejectCollector {
    indices: Vec<u32>,
    reasons: Vec<String>,
}

impl RejectCollector {
    pub fn add(&mut self, row: usize, reason: String) {
        self.indices.push(row as u32);
        self.reasons.push(reason);
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn contains_last(&self, row: usize) -> bool {
        self.indices.last() == Some(&(row as u32))
    }

    /// The rejected rows of `batch`, with `row_offset` added to the reported positions.
    pub fn finish(self, batch: &RecordBatch, row_offset: i64) -> Result<Option<RecordBatch>> {
        if self.indices.is_empty() {
            return Ok(None);
        }
        let positions = Int64Array::from_iter_values(self.indices.iter().map(|&i| i as i64 + row_offset));
        let reasons = StringArray::from(self.reasons);
        Ok(Some(take_rows_with(
            batch,
            &self.indices,
            vec![
                (Field::new("row", DataType::Int64, false), Arc::new(positions)),
                (Field::new("reason", DataType::Utf8, false), Arc::new(reasons)),
            ],
        )?))
    }
}

/// The late and rejected rows an operator holds until they are taken. When there are none, taking
/// them still gives an empty table with the right columns (once an input schema is known).
pub struct SideOutputs {
    pub late: Vec<RecordBatch>,
    pub rejects: Vec<RecordBatch>,
    /// Columns appended to late rows (e.g. window bounds and the reason).
    late_fields: Vec<Field>,
    input_schema: Option<arrow_schema::SchemaRef>,
}

impl SideOutputs {
    pub fn new(late_fields: Vec<Field>) -> Self {
        SideOutputs { late: Vec::new(), rejects: Vec::new(), late_fields, input_schema: None }
    }

    pub fn saw_input(&mut self, batch: &RecordBatch) {
        if self.input_schema.as_ref() != Some(&batch.schema()) {
            self.input_schema = Some(batch.schema());
        }
    }

    fn empty(&self, extra: &[Field]) -> Vec<RecordBatch> {
        match &self.input_schema {
            Some(schema) => {
                let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                fields.extend(extra.iter().cloned());
                vec![RecordBatch::new_empty(Arc::new(Schema::new(fields)))]
            }
            None => Vec::new(),
        }
    }

    pub fn take_late(&mut self) -> Vec<RecordBatch> {
        let late = std::mem::take(&mut self.late);
        if late.is_empty() {
            self.empty(&self.late_fields)
        } else {
            late
        }
    }

    pub fn take_rejects(&mut self) -> Vec<RecordBatch> {
        let rejects = std::mem::take(&mut self.rejects);
        if rejects.is_empty() {
            self.empty(&[Field::new("row", DataType::Int64, false), Field::new("reason", DataType::Utf8, false)])
        } else {
            rejects
        }
    }
}

/// What a snapshot keeps of `SideOutputs`: pending rows and the input schema, as Arrow IPC.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SideState {
    late: Vec<Vec<u8>>,
    rejects: Vec<Vec<u8>>,
    input_schema: Option<Vec<u8>>,
}

impl SideOutputs {
    pub fn state(&self) -> Result<SideState> {
        use super::snapshot::batches_to_ipc;
        Ok(SideState {
            late: batches_to_ipc(&self.late)?,
            rejects: batches_to_ipc(&self.rejects)?,
            input_schema: match &self.input_schema {
                Some(schema) => batches_to_ipc(&[RecordBatch::new_empty(schema.clone())])?.pop(),
                None => None,
            },
        })
    }

    pub fn restore(&mut self, state: SideState) -> Result<()> {
        use super::snapshot::batches_from_ipc;
        self.late = batches_from_ipc(&state.late)?;
        self.rejects = batches_from_ipc(&state.rejects)?;
        self.input_schema = match state.input_schema {
            Some(ipc) => batches_from_ipc(&[ipc])?.first().map(|b| b.schema()),
            None => None,
        };
        Ok(())
    }
}

/// A result batch of `rows` rows with `schema`'s names and the types the built `columns` have
/// (decoded key columns may be more precise than a schema declared before the first batch).
pub fn output_batch(schema: &Schema, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)?)
}
