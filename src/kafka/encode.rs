//! Arrow rows to message payloads and keys.

use crate::error::{Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkFormat {
    /// Each row as one JSON object.
    Json,
    /// The `value` column (binary or string) as the payload.
    Raw,
}

/// One payload per row.
pub fn payloads(batch: &RecordBatch, format: SinkFormat) -> Result<Vec<Vec<u8>>> {
    match format {
        SinkFormat::Json => {
            let mut buffer = Vec::with_capacity(batch.num_rows() * 64);
            {
                let mut writer = arrow_json::LineDelimitedWriter::new(&mut buffer);
                writer.write(batch)?;
                writer.finish()?;
            }
            // JSON escapes newlines inside strings, so every '\n' ends a row.
            let rows: Vec<Vec<u8>> = buffer.split(|b| *b == b'\n').filter(|r| !r.is_empty()).map(<[u8]>::to_vec).collect();
            if rows.len() != batch.num_rows() {
                return Err(Error::schema(format!("encoded {} JSON rows for {} input rows", rows.len(), batch.num_rows())));
            }
            Ok(rows)
        }
        SinkFormat::Raw => {
            let column = batch.column_by_name("value").ok_or_else(|| {
                Error::schema("raw format sends the \"value\" column (binary or string), which the input lacks")
            })?;
            bytes_of(column.as_ref(), "value").map(|v| v.into_iter().map(Option::unwrap_or_default).collect())
        }
    }
}

/// The key of every row, from the column `name` (strings and binaries as bytes, others as text).
pub fn keys(batch: &RecordBatch, name: &str) -> Result<Vec<Option<Vec<u8>>>> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| Error::schema(format!("key column {name:?} is not in the input")))?;
    bytes_of(column.as_ref(), name)
}

/// The partition of every row, from the integer column `name` (null: the partitioner decides).
pub fn partitions(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i32>>> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| Error::schema(format!("partition column {name:?} is not in the input")))?;
    if !column.data_type().is_integer() {
        return Err(Error::schema(format!("partition column {name:?} must hold integers, got {}", column.data_type())));
    }
    let values = arrow_cast::cast(column, &DataType::Int64)?;
    values
        .as_primitive::<arrow_array::types::Int64Type>()
        .iter()
        .enumerate()
        .map(|(row, p)| match p {
            None => Ok(None),
            Some(p) => i32::try_from(p)
                .ok()
                .filter(|p| *p >= 0)
                .map(Some)
                .ok_or_else(|| Error::schema(format!("row {row}: partition {p} in column {name:?} is not a partition number"))),
        })
        .collect()
}

fn bytes_of(column: &dyn Array, name: &str) -> Result<Vec<Option<Vec<u8>>>> {
    let out = match column.data_type() {
        DataType::Binary => column.as_binary::<i32>().iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
        DataType::LargeBinary => column.as_binary::<i64>().iter().map(|v| v.map(<[u8]>::to_vec)).collect(),
        _ => {
            let text = arrow_cast::cast(column, &DataType::Utf8)
                .map_err(|e| Error::schema(format!("column {name:?} cannot be sent as bytes: {e}")))?;
            text.as_string::<i32>().iter().map(|v| v.map(|s| s.as_bytes().to_vec())).collect()
        }
    };
    Ok(out)
}
