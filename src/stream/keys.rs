//! Group keys as bytes. One or more key columns are encoded into Arrow's row format, whose bytes
//! compare like the key values (nulls first), so a key is one hashable, sortable byte string and
//! decodes back into typed columns for output.

use crate::error::{Error, Result};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::{DataType, Field};

/// An encoded key; short keys (ids, short names) live inline, with no allocation or pointer to chase.
pub type KeyBytes = smallvec::SmallVec<[u8; 16]>;

/// Longest encoded key accepted; longer keys are rejected rows, not state that grows without bound.
pub const DEFAULT_MAX_KEY_BYTES: usize = 64 * 1024;

/// What an encoder does with floating-point columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floats {
    /// Group keys: refused (grouping by a float is almost always a mistake, and -0.0/NaN surprise).
    Refused,
    /// Values kept as they are (first/last return the exact value).
    Kept,
    /// Values compared as numbers (count_distinct): -0.0 counts as 0.0 and every NaN as one NaN.
    Canonical,
}

pub struct KeyEncoder {
    names: Vec<String>,
    floats: Floats,
    /// Normalised key fields, fixed by the first batch (None before it).
    fields: Option<Vec<Field>>,
    converter: Option<RowConverter>,
}

/// Types that hold the same values share one key encoding: dictionaries by their values, and
/// large / view strings and binaries as plain ones (polars and pyarrow export different ones).
fn normalise(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Dictionary(_, values) => normalise(values),
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        other => other.clone(),
    }
}

impl KeyEncoder {
    /// An encoder of group keys (floating-point columns refused).
    pub fn new(names: Vec<String>) -> Self {
        KeyEncoder::for_values(names, Floats::Refused)
    }

    /// An encoder of aggregate values, with the given handling of floats.
    pub fn for_values(names: Vec<String>, floats: Floats) -> Self {
        KeyEncoder { names, floats, fields: None, converter: None }
    }

    pub fn from_fields(names: Vec<String>, fields: Option<Vec<Field>>) -> Result<Self> {
        KeyEncoder::new(names).with_fields(fields)
    }

    /// The same encoder with the fields a snapshot recorded (None: not fixed yet).
    pub fn with_fields(mut self, fields: Option<Vec<Field>>) -> Result<Self> {
        if let Some(fields) = fields {
            self.fix_fields(fields)?;
        }
        Ok(self)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn fields(&self) -> Option<&Vec<Field>> {
        self.fields.as_ref()
    }

    fn fix_fields(&mut self, fields: Vec<Field>) -> Result<()> {
        let sort_fields = fields.iter().map(|f| SortField::new(f.data_type().clone())).collect();
        self.converter = Some(RowConverter::new(sort_fields)?);
        self.fields = Some(fields);
        Ok(())
    }

    /// Output fields of the key columns (Utf8 placeholders before any batch was seen).
    pub fn output_fields(&self) -> Vec<Field> {
        match &self.fields {
            Some(fields) => fields.clone(),
            None => self.names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect(),
        }
    }

    /// The key columns of `batch`, normalised and checked against earlier batches.
    fn key_columns(&mut self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        self.checked_columns(batch, true)
    }

    /// The key columns of `batch` as they are (a string column may be a view, large or
    /// dictionary-encoded one), checked against earlier batches like `columns` does, which fixes
    /// their normalised types (`fields`) on the first batch. For readers of Arrow's string
    /// layouts that want no copy; None when there are no key columns.
    pub fn raw_columns(&mut self, batch: &RecordBatch) -> Result<Option<Vec<ArrayRef>>> {
        if self.names.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.checked_columns(batch, false)?))
    }

    fn checked_columns(&mut self, batch: &RecordBatch, normalised: bool) -> Result<Vec<ArrayRef>> {
        let mut columns = Vec::with_capacity(self.names.len());
        let mut fields = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let column = batch.column_by_name(name).ok_or_else(|| {
                Error::schema(format!(
                    "key column {name:?} is not in the input (columns: {})",
                    column_names(batch)
                ))
            })?;
            let mut target = normalise(column.data_type());
            if let Some(fixed) = &self.fields {
                let expected = fixed[columns.len()].data_type();
                // An all-null column carries no type of its own; it takes the fixed one.
                if target == DataType::Null {
                    target = expected.clone();
                }
                if &target != expected {
                    return Err(Error::schema(format!(
                        "key column {name:?} changed type from {expected} to {} between batches",
                        column.data_type()
                    )));
                }
            }
            // Before any typed batch, an all-null key column is taken as strings.
            if target == DataType::Null {
                target = DataType::Utf8;
            }
            let is_float = matches!(target, DataType::Float16 | DataType::Float32 | DataType::Float64);
            if is_float && self.floats == Floats::Refused {
                return Err(Error::schema(format!(
                    "key column {name:?} has floating-point type {target}; group by an integer or string key"
                )));
            }
            let mut column = if !normalised || column.data_type() == &target { column.clone() } else { arrow_cast::cast(column, &target)? };
            if is_float && self.floats == Floats::Canonical {
                column = canonical_floats(&column)?;
            }
            fields.push(Field::new(name, target, true));
            columns.push(column);
        }
        if self.fields.is_none() {
            self.fix_fields(fields)?;
        }
        Ok(columns)
    }

    /// Encoded keys of every row of `batch`, or None when there are no key columns (one global key).
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<Option<Rows>> {
        Ok(self.encode_with_columns(batch)?.map(|(rows, _)| rows))
    }

    /// Like `encode`, also returning the (normalised) key columns.
    pub fn encode_with_columns(&mut self, batch: &RecordBatch) -> Result<Option<(Rows, Vec<ArrayRef>)>> {
        match self.columns(batch)? {
            Some(columns) => Ok(Some((self.convert(&columns)?, columns))),
            None => Ok(None),
        }
    }

    /// The normalised key columns of `batch` (fixing the key types on the first batch), or None
    /// when there are no key columns.
    pub fn columns(&mut self, batch: &RecordBatch) -> Result<Option<Vec<ArrayRef>>> {
        if self.names.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.key_columns(batch)?))
    }

    /// Encoded keys of normalised key columns (as `columns` returns them).
    pub fn convert(&self, columns: &[ArrayRef]) -> Result<Rows> {
        match &self.converter {
            Some(converter) => Ok(converter.convert_columns(columns)?),
            None => Err(Error::schema("keys are encoded before their types are known")),
        }
    }

    /// Decode keys (in the given order) back into key columns.
    pub fn decode<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let keys: Vec<&[u8]> = keys.collect();
        match &self.converter {
            Some(converter) => {
                let parser = converter.parser();
                let rows: Vec<_> = keys.iter().map(|k| parser.parse(k)).collect();
                Ok(converter.convert_rows(rows)?)
            }
            None => Ok(self
                .output_fields()
                .iter()
                .map(|f| arrow_array::new_null_array(f.data_type(), keys.len()))
                .collect()),
        }
    }
}

/// Floats as numbers compare: -0.0 as 0.0 and every NaN as the one canonical NaN (the row format
/// orders floats by their bits, which tells those apart).
fn canonical_floats(column: &ArrayRef) -> Result<ArrayRef> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Float64Type};
    use std::sync::Arc;
    Ok(match column.data_type() {
        DataType::Float64 => Arc::new(column.as_primitive::<Float64Type>().unary::<_, Float64Type>(|v| {
            if v.is_nan() { f64::NAN } else { v + 0.0 }
        })),
        DataType::Float32 => Arc::new(column.as_primitive::<Float32Type>().unary::<_, Float32Type>(|v| {
            if v.is_nan() { f32::NAN } else { v + 0.0 }
        })),
        DataType::Float16 => {
            let wide = arrow_cast::cast(column, &DataType::Float32)?;
            arrow_cast::cast(&canonical_floats(&wide)?, &DataType::Float16)?
        }
        other => return Err(Error::schema(format!("not a floating-point column: {other}"))),
    })
}

/// The input's column names, quoted, for error messages.
pub fn column_names(batch: &RecordBatch) -> String {
    batch.schema().fields().iter().map(|f| format!("{:?}", f.name())).collect::<Vec<_>>().join(", ")
}

/// Bytes of key data in `row` (string and binary lengths, fixed widths), as users count a key's
/// size; the encoded form is a little longer. Nested types count their encoded length `encoded`.
pub fn key_data_len(columns: &[ArrayRef], row: usize, encoded: usize) -> usize {
    use arrow_array::cast::AsArray;
    let mut total = 0;
    for column in columns {
        if column.is_null(row) {
            continue;
        }
        total += match column.data_type() {
            DataType::Utf8 => column.as_string::<i32>().value(row).len(),
            DataType::Binary => column.as_binary::<i32>().value(row).len(),
            other => match other.primitive_width() {
                Some(width) => width,
                None => return encoded,
            },
        };
    }
    total
}
