//! Reference data for enrichment: a table indexed by a key column, optionally versioned by an
//! effective-from column (as-of lookup: the version in force at an event's time). Lookups give row
//! numbers; joins gather the reference columns with Arrow's `take`, so the hot path never copies
//! values one by one. A miss is reported to the caller (a dead letter there), never a silent null.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, TimeUnit};
use hashbrown::HashMap;

const MS_PER_DAY: i64 = 86_400_000;

/// Key bytes of row `row` of a key column (UTF-8 text or an integer), or None when null.
pub fn key_bytes(column: &dyn Array, row: usize) -> Option<KeyBytes<'_>> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Utf8 => KeyBytes::Borrowed(column.as_string::<i32>().value(row).as_bytes()),
        DataType::LargeUtf8 => KeyBytes::Borrowed(column.as_string::<i64>().value(row).as_bytes()),
        DataType::Int64 => KeyBytes::Int(column.as_primitive::<Int64Type>().value(row)),
        DataType::Int32 => KeyBytes::Int(i64::from(column.as_primitive::<Int32Type>().value(row))),
        _ => return None,
    })
}

/// A key value as bytes: text keys by their UTF-8 bytes, integer keys by their value.
pub enum KeyBytes<'a> {
    Borrowed(&'a [u8]),
    Int(i64),
}

impl KeyBytes<'_> {
    fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            KeyBytes::Borrowed(b) => f(b),
            KeyBytes::Int(v) => f(&v.to_le_bytes()),
        }
    }
}

fn check_key_type(data_type: &DataType, what: &str) -> Result<()> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Int64 | DataType::Int32 => Ok(()),
        other => Err(Error::schema(format!("{what} has type {other}; keys must be strings or int32/int64"))),
    }
}

/// Effective-from times as milliseconds since the epoch (dates at midnight UTC).
fn effective_millis(column: &ArrayRef, name: &str) -> Result<Vec<Option<i64>>> {
    Ok(match column.data_type() {
        DataType::Date32 => column.as_primitive::<Date32Type>().iter().map(|d| d.map(|d| i64::from(d) * MS_PER_DAY)).collect(),
        DataType::Date64 => column.as_primitive::<Date64Type>().iter().collect(),
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Timestamp(TimeUnit::Second, _)
        | DataType::Timestamp(TimeUnit::Microsecond, _) | DataType::Timestamp(TimeUnit::Nanosecond, _)
        | DataType::Int64 => crate::time::time_column_millis(column, name)?.iter().collect(),
        other => {
            return Err(Error::schema(format!(
                "effective column {name:?} has type {other}; expected a date, a timestamp or int64 milliseconds"
            )))
        }
    })
}

enum Index {
    /// One row per key.
    Unique(HashMap<Vec<u8>, u32>),
    /// Versions per key, sorted by effective time: (effective ms, row).
    AsOf(HashMap<Vec<u8>, Vec<(i64, u32)>>),
}

/// Reference rows indexed by `key` (and `effective`, when versioned).
pub struct ReferenceTable {
    data: RecordBatch,
    key: String,
    effective: Option<String>,
    index: Index,
}

impl ReferenceTable {
    /// Build the index. Duplicate keys (or duplicate (key, effective) pairs) and null keys are errors
    /// naming the rows, since a join over them would be ambiguous.
    pub fn new(batches: &[RecordBatch], key: &str, effective: Option<&str>) -> Result<Self> {
        let schema = batches
            .first()
            .map(|b| b.schema())
            .ok_or_else(|| Error::schema("reference data has no record batch (not even an empty one)"))?;
        let data = arrow_select::concat::concat_batches(&schema, batches)?;
        let keys = data
            .column_by_name(key)
            .ok_or_else(|| Error::schema(format!("reference data has no key column {key:?}; columns: {:?}", column_names(&data))))?
            .clone();
        check_key_type(keys.data_type(), &format!("reference key column {key:?}"))?;
        if data.num_rows() > u32::MAX as usize {
            return Err(Error::schema("reference data has more than 2^32 rows"));
        }
        let null_key = |row: usize| Error::schema(format!("reference data row {row}: key column {key:?} is null"));
        let index = match effective {
            None => {
                let mut map = HashMap::with_capacity(data.num_rows());
                for row in 0..data.num_rows() {
                    let k = key_bytes(keys.as_ref(), row).ok_or_else(|| null_key(row))?;
                    if let Some(first) = k.with(|b| map.insert(b.to_vec(), row as u32)) {
                        return Err(Error::schema(format!(
                            "reference data rows {first} and {row} have the same {key:?}; keys must be unique (or give an effective column)"
                        )));
                    }
                }
                Index::Unique(map)
            }
            Some(name) => {
                let column = data.column_by_name(name).ok_or_else(|| {
                    Error::schema(format!("reference data has no effective column {name:?}; columns: {:?}", column_names(&data)))
                })?;
                let times = effective_millis(column, name)?;
                let mut map: HashMap<Vec<u8>, Vec<(i64, u32)>> = HashMap::new();
                for (row, at) in times.iter().enumerate() {
                    let k = key_bytes(keys.as_ref(), row).ok_or_else(|| null_key(row))?;
                    let at = at.ok_or_else(|| Error::schema(format!("reference data row {row}: effective column {name:?} is null")))?;
                    k.with(|b| map.entry(b.to_vec()).or_default().push((at, row as u32)));
                }
                for versions in map.values_mut() {
                    versions.sort_unstable();
                    if let Some(w) = versions.windows(2).find(|w| w[0].0 == w[1].0) {
                        return Err(Error::schema(format!(
                            "reference data rows {} and {} have the same {key:?} and {name:?}",
                            w[0].1, w[1].1
                        )));
                    }
                }
                Index::AsOf(map)
            }
        };
        Ok(ReferenceTable { data, key: key.to_owned(), effective: effective.map(str::to_owned), index })
    }

    pub fn data(&self) -> &RecordBatch {
        &self.data
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn effective(&self) -> Option<&str> {
        self.effective.as_deref()
    }

    pub fn len(&self) -> usize {
        self.data.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.data.num_rows() == 0
    }

    /// Row of `key` (for a versioned table: the latest version effective at or before `at_ms`).
    pub fn lookup(&self, key: &[u8], at_ms: Option<i64>) -> Option<u32> {
        match &self.index {
            Index::Unique(map) => map.get(key).copied(),
            Index::AsOf(map) => {
                let versions = map.get(key)?;
                let at = at_ms?;
                let after = versions.partition_point(|(effective, _)| *effective <= at);
                after.checked_sub(1).map(|i| versions[i].1)
            }
        }
    }

    pub fn lookup_key(&self, key: &KeyBytes<'_>, at_ms: Option<i64>) -> Option<u32> {
        key.with(|b| self.lookup(b, at_ms))
    }

    /// Columns of the reference rows `rows`, without the key (and effective) column, in table order.
    pub fn gather(&self, rows: &UInt32Array) -> Result<Vec<(String, ArrayRef)>> {
        let mut out = Vec::new();
        for (field, column) in self.data.schema().fields().iter().zip(self.data.columns()) {
            if field.name() == &self.key || Some(field.name().as_str()) == self.effective.as_deref() {
                continue;
            }
            out.push((field.name().clone(), arrow_select::take::take(column.as_ref(), rows, None)?));
        }
        Ok(out)
    }

    /// Left rows of `batch` whose `on` column (at the `at` time column, for a versioned table) has a
    /// reference row, with the reference columns appended; and the row numbers without one.
    pub fn join(&self, batch: &RecordBatch, on: &str, at: Option<&str>) -> Result<(RecordBatch, Vec<u32>)> {
        let keys = batch
            .column_by_name(on)
            .ok_or_else(|| Error::schema(format!("join input has no column {on:?}; columns: {:?}", column_names(batch))))?;
        check_key_type(keys.data_type(), &format!("join column {on:?}"))?;
        let times = match (&self.index, at) {
            (Index::AsOf(_), None) => {
                return Err(Error::config(format!(
                    "this reference table is versioned by {:?}: give the event-time column to join at",
                    self.effective.as_deref().unwrap_or("")
                )))
            }
            (_, Some(name)) => {
                let column = batch
                    .column_by_name(name)
                    .ok_or_else(|| Error::schema(format!("join input has no time column {name:?}")))?;
                Some(effective_millis(column, name)?)
            }
            (Index::Unique(_), None) => None,
        };
        let mut left = Vec::with_capacity(batch.num_rows());
        let mut right = Vec::with_capacity(batch.num_rows());
        let mut misses = Vec::new();
        for row in 0..batch.num_rows() {
            let at_ms = times.as_ref().and_then(|t| t[row]);
            match key_bytes(keys.as_ref(), row).and_then(|k| self.lookup_key(&k, at_ms)) {
                Some(found) => {
                    left.push(row as u32);
                    right.push(found);
                }
                None => misses.push(row as u32),
            }
        }
        let left = UInt32Array::from(left);
        let right = UInt32Array::from(right);
        let mut fields: Vec<arrow_schema::FieldRef> = batch.schema().fields().iter().cloned().collect();
        let mut columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| arrow_select::take::take(c.as_ref(), &left, None))
            .collect::<std::result::Result<_, _>>()?;
        for (name, column) in self.gather(&right)? {
            if batch.schema().column_with_name(&name).is_some() {
                return Err(Error::schema(format!("reference column {name:?} is also a column of the join input; rename one")));
            }
            let nullable = self.data.schema().field_with_name(&name).map(|f| f.is_nullable()).unwrap_or(true);
            fields.push(arrow_schema::Field::new(name, column.data_type().clone(), nullable).into());
            columns.push(column);
        }
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(fields));
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(left.len()));
        Ok((RecordBatch::try_new_with_options(schema, columns, &options)?, misses))
    }
}

pub fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch.schema().fields().iter().map(|f| f.name().clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Date32Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn fx() -> ReferenceTable {
        let batch = RecordBatch::try_from_iter([
            ("currency", Arc::new(StringArray::from(vec!["EUR", "EUR", "GBP"])) as ArrayRef),
            ("valid_from", Arc::new(Date32Array::from(vec![20_454, 20_450, 20_450])) as ArrayRef),
            ("rate", Arc::new(StringArray::from(vec!["1.10", "1.05", "1.25"])) as ArrayRef),
        ])
        .unwrap();
        ReferenceTable::new(&[batch], "currency", Some("valid_from")).unwrap()
    }

    #[test]
    fn as_of_lookup_takes_the_version_in_force() {
        let table = fx();
        let day = |d: i64| Some(d * MS_PER_DAY);
        assert_eq!(table.lookup(b"EUR", day(20_449)), None);
        assert_eq!(table.lookup(b"EUR", day(20_450)), Some(1));
        assert_eq!(table.lookup(b"EUR", Some(20_454 * MS_PER_DAY - 1)), Some(1));
        assert_eq!(table.lookup(b"EUR", day(20_454)), Some(0));
        assert_eq!(table.lookup(b"EUR", day(30_000)), Some(0));
        assert_eq!(table.lookup(b"JPY", day(20_454)), None);
    }

    #[test]
    fn join_appends_columns_and_reports_misses() {
        let merchants = RecordBatch::try_from_iter([
            ("merchant_id", Arc::new(Int64Array::from(vec![7, 9])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec!["seven", "nine"])) as ArrayRef),
        ])
        .unwrap();
        let table = ReferenceTable::new(&[merchants], "merchant_id", None).unwrap();
        let events = RecordBatch::try_from_iter([("merchant_id", Arc::new(Int64Array::from(vec![9, 8, 7])) as ArrayRef)]).unwrap();
        let (joined, misses) = table.join(&events, "merchant_id", None).unwrap();
        assert_eq!(misses, vec![1]);
        assert_eq!(joined.column_by_name("name").unwrap().as_string::<i32>().iter().collect::<Vec<_>>(), vec![Some("nine"), Some("seven")]);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let batch = RecordBatch::try_from_iter([("k", Arc::new(StringArray::from(vec!["a", "a"])) as ArrayRef)]).unwrap();
        let err = ReferenceTable::new(&[batch], "k", None).err().unwrap().to_string();
        assert!(err.contains("rows 0 and 1"), "{err}");
    }
}
