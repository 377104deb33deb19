//! Messages to Arrow: the payload decoded in Rust (JSON objects into typed columns per a schema, or
//! the raw bytes / text), metadata columns on request, and a reject table for payloads that do not
//! decode (topic, partition, offset, reason) so that rows + rejects always reconcile with messages.

use crate::error::{Error, Result};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, MapBuilder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rdkafka::message::{Headers, Message};
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum PayloadFormat {
    /// A JSON object per message, decoded into these typed columns.
    Json(SchemaRef),
    /// The payload bytes as a `value` binary column.
    Raw,
    /// The payload as a `value` UTF-8 column (invalid UTF-8 is rejected).
    Text,
}

/// Metadata columns added on request (named with a leading underscore).
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaColumns {
    pub topic: bool,
    pub partition: bool,
    pub offset: bool,
    pub timestamp: bool,
    pub key: bool,
    pub headers: bool,
}

enum Column {
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Int64(Int64Builder),
    Int32(Int32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    TimestampMs(TimestampMillisecondBuilder, Option<Arc<str>>),
}

enum Cell<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

fn column_for(field: &Field) -> Result<Column> {
    Ok(match field.data_type() {
        DataType::Utf8 => Column::Utf8(StringBuilder::new()),
        DataType::Int64 => Column::Int64(Int64Builder::new()),
        DataType::Int32 => Column::Int32(Int32Builder::new()),
        DataType::Float64 => Column::Float64(Float64Builder::new()),
        DataType::Boolean => Column::Bool(BooleanBuilder::new()),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => {
            Column::TimestampMs(TimestampMillisecondBuilder::new(), tz.as_ref().map(|t| Arc::from(t.as_ref())))
        }
        other => {
            return Err(Error::schema(format!(
                "JSON column {:?} has type {other}; supported: string, int64, int32, float64, bool, timestamp[ms]",
                field.name()
            )))
        }
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The cell for `value` in a column of `data_type`, or why it does not fit.
fn cell<'a>(name: &str, data_type: &DataType, value: Option<&'a Value>, nullable: bool) -> Result<Cell<'a>, String> {
    let value = match value {
        None | Some(Value::Null) if nullable => return Ok(Cell::Null),
        None => return Err(format!("field {name:?} is missing")),
        Some(Value::Null) => return Err(format!("field {name:?} is null but not nullable")),
        Some(v) => v,
    };
    let wrong = || format!("field {name:?}: expected {data_type}, got {} {}", kind(value), truncate(&value.to_string()));
    match data_type {
        DataType::Utf8 => value.as_str().map(Cell::Str).ok_or_else(wrong),
        DataType::Int64 | DataType::Int32 => match value.as_i64() {
            Some(i) if matches!(data_type, DataType::Int64) || i32::try_from(i).is_ok() => Ok(Cell::Int(i)),
            _ => Err(wrong()),
        },
        DataType::Float64 => value.as_f64().map(Cell::Float).ok_or_else(wrong),
        DataType::Boolean => value.as_bool().map(Cell::Bool).ok_or_else(wrong),
        DataType::Timestamp(..) => match value {
            Value::Number(n) => n.as_i64().map(Cell::Int).ok_or_else(wrong),
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| Cell::Int(t.timestamp_millis()))
                .map_err(|_| wrong()),
            _ => Err(wrong()),
        },
        _ => Err(wrong()),
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= 60 {
        return text.to_owned();
    }
    let mut end = 60;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn append(column: &mut Column, cell: Cell<'_>) {
    match (column, cell) {
        (Column::Utf8(b), Cell::Str(s)) => b.append_value(s),
        (Column::Int64(b), Cell::Int(i)) => b.append_value(i),
        (Column::Int32(b), Cell::Int(i)) => b.append_value(i as i32),
        (Column::Float64(b), Cell::Float(f)) => b.append_value(f),
        (Column::Bool(b), Cell::Bool(v)) => b.append_value(v),
        (Column::TimestampMs(b, _), Cell::Int(i)) => b.append_value(i),
        (Column::Utf8(b), _) => b.append_null(),
        (Column::Binary(b), _) => b.append_null(),
        (Column::Int64(b), _) => b.append_null(),
        (Column::Int32(b), _) => b.append_null(),
        (Column::Float64(b), _) => b.append_null(),
        (Column::Bool(b), _) => b.append_null(),
        (Column::TimestampMs(b, _), _) => b.append_null(),
    }
}

fn finish(column: &mut Column) -> ArrayRef {
    match column {
        Column::Utf8(b) => Arc::new(b.finish()),
        Column::Binary(b) => Arc::new(b.finish()),
        Column::Int64(b) => Arc::new(b.finish()),
        Column::Int32(b) => Arc::new(b.finish()),
        Column::Float64(b) => Arc::new(b.finish()),
        Column::Bool(b) => Arc::new(b.finish()),
        Column::TimestampMs(b, tz) => Arc::new(b.finish().with_timezone_opt(tz.clone())),
    }
}

/// Accumulates messages into one record batch and one reject batch.
pub struct BatchBuilder {
    format: PayloadFormat,
    meta: MetaColumns,
    max_message_bytes: usize,
    schema: SchemaRef,
    payload: Vec<Column>,
    topic: StringBuilder,
    /// Always kept (rows of revoked partitions are dropped before a batch is handed out).
    partition: Vec<i32>,
    offset: Int64Builder,
    timestamp: TimestampMillisecondBuilder,
    key: BinaryBuilder,
    headers: MapBuilder<StringBuilder, BinaryBuilder>,
    rejects: Rejects,
    rows: usize,
    bytes: usize,
}

#[derive(Default)]
struct Rejects {
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    reason: StringBuilder,
    payload: BinaryBuilder,
    rows: usize,
}

pub fn reject_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("payload", DataType::Binary, true),
    ]))
}

fn headers_type() -> DataType {
    MapBuilder::new(None, StringBuilder::new(), BinaryBuilder::new()).finish().data_type().clone()
}

impl BatchBuilder {
    pub fn new(format: PayloadFormat, meta: MetaColumns, max_message_bytes: usize) -> Result<Self> {
        let mut fields: Vec<Field> = Vec::new();
        let payload = match &format {
            PayloadFormat::Json(schema) => {
                fields.extend(schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)));
                schema.fields().iter().map(|f| column_for(f)).collect::<Result<Vec<_>>>()?
            }
            PayloadFormat::Raw => {
                fields.push(Field::new("value", DataType::Binary, true));
                vec![Column::Binary(BinaryBuilder::new())]
            }
            PayloadFormat::Text => {
                fields.push(Field::new("value", DataType::Utf8, true));
                vec![Column::Utf8(StringBuilder::new())]
            }
        };
        if meta.topic {
            fields.push(Field::new("_topic", DataType::Utf8, false));
        }
        if meta.partition {
            fields.push(Field::new("_partition", DataType::Int32, false));
        }
        if meta.offset {
            fields.push(Field::new("_offset", DataType::Int64, false));
        }
        if meta.timestamp {
            fields.push(Field::new("_timestamp", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), true));
        }
        if meta.key {
            fields.push(Field::new("_key", DataType::Binary, true));
        }
        if meta.headers {
            fields.push(Field::new("_headers", headers_type(), true));
        }
        Ok(BatchBuilder {
            format,
            meta,
            max_message_bytes,
            schema: Arc::new(Schema::new(fields)),
            payload,
            topic: StringBuilder::new(),
            partition: Vec::new(),
            offset: Int64Builder::new(),
            timestamp: TimestampMillisecondBuilder::new(),
            key: BinaryBuilder::new(),
            headers: MapBuilder::new(None, StringBuilder::new(), BinaryBuilder::new()),
            rejects: Rejects::default(),
            rows: 0,
            bytes: 0,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn rejected(&self) -> usize {
        self.rejects.rows
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn reject(&mut self, message: &impl Message, reason: String) {
        let r = &mut self.rejects;
        r.topic.append_value(message.topic());
        r.partition.append_value(message.partition());
        r.offset.append_value(message.offset());
        r.reason.append_value(reason);
        match message.payload() {
            Some(p) if p.len() <= 1024 => r.payload.append_value(p),
            Some(p) => r.payload.append_value(&p[..1024]),
            None => r.payload.append_null(),
        }
        r.rows += 1;
    }

    /// Add one message: a row, or a reject naming why the payload did not decode.
    pub fn push(&mut self, message: &impl Message) {
        let payload = message.payload();
        let size = payload.map_or(0, <[u8]>::len);
        self.bytes += size + message.key().map_or(0, <[u8]>::len);
        if size > self.max_message_bytes {
            let reason = format!("payload of {size} bytes exceeds max_message_bytes={}", self.max_message_bytes);
            return self.reject(message, reason);
        }
        match &self.format {
            PayloadFormat::Raw => match (payload, &mut self.payload[0]) {
                (Some(p), Column::Binary(b)) => b.append_value(p),
                (None, Column::Binary(b)) => b.append_null(),
                _ => unreachable!("raw format has one binary column"),
            },
            PayloadFormat::Text => match payload.map(std::str::from_utf8) {
                Some(Ok(text)) => append(&mut self.payload[0], Cell::Str(text)),
                None => append(&mut self.payload[0], Cell::Null),
                Some(Err(e)) => return self.reject(message, format!("payload is not valid UTF-8: {e}")),
            },
            PayloadFormat::Json(schema) => {
                let Some(bytes) = payload else {
                    return self.reject(message, "empty payload (tombstone), expected a JSON object".into());
                };
                let value: Value = match serde_json::from_slice(bytes) {
                    Ok(v) => v,
                    Err(e) => return self.reject(message, format!("payload is not JSON: {e}")),
                };
                let Value::Object(object) = &value else {
                    return self.reject(message, format!("payload is a JSON {}, expected an object", kind(&value)));
                };
                let schema = schema.clone();
                let mut cells = Vec::with_capacity(schema.fields().len());
                for field in schema.fields() {
                    match cell(field.name(), field.data_type(), object.get(field.name()), field.is_nullable()) {
                        Ok(c) => cells.push(c),
                        Err(reason) => return self.reject(message, reason),
                    }
                }
                for (column, c) in self.payload.iter_mut().zip(cells) {
                    append(column, c);
                }
            }
        }
        if self.meta.topic {
            self.topic.append_value(message.topic());
        }
        self.partition.push(message.partition());
        if self.meta.offset {
            self.offset.append_value(message.offset());
        }
        if self.meta.timestamp {
            self.timestamp.append_option(message.timestamp().to_millis());
        }
        if self.meta.key {
            self.key.append_option(message.key());
        }
        if self.meta.headers {
            if let Some(headers) = message.headers() {
                for header in headers.iter() {
                    self.headers.keys().append_value(header.key);
                    self.headers.values().append_option(header.value);
                }
            }
            self.headers.append(true).expect("keys and values have equal length");
        }
        self.rows += 1;
    }

    /// The batch and rejects so far, and the partition of every row; the builder starts over.
    pub fn finish(&mut self) -> Result<(RecordBatch, RecordBatch, Vec<i32>)> {
        let mut columns: Vec<ArrayRef> = self.payload.iter_mut().map(finish).collect();
        let partitions = std::mem::take(&mut self.partition);
        if self.meta.topic {
            columns.push(Arc::new(self.topic.finish()));
        }
        if self.meta.partition {
            columns.push(Arc::new(arrow_array::Int32Array::from(partitions.clone())));
        }
        if self.meta.offset {
            columns.push(Arc::new(self.offset.finish()));
        }
        if self.meta.timestamp {
            columns.push(Arc::new(self.timestamp.finish().with_timezone("UTC")));
        }
        if self.meta.key {
            columns.push(Arc::new(self.key.finish()));
        }
        if self.meta.headers {
            columns.push(Arc::new(self.headers.finish()));
        }
        let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(self.rows));
        let records = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?;
        let r = &mut self.rejects;
        let rejects = RecordBatch::try_new(
            reject_schema(),
            vec![
                Arc::new(r.topic.finish()),
                Arc::new(r.partition.finish()),
                Arc::new(r.offset.finish()),
                Arc::new(r.reason.finish()),
                Arc::new(r.payload.finish()),
            ],
        )?;
        r.rows = 0;
        self.rows = 0;
        self.bytes = 0;
        Ok((records, rejects, partitions))
    }
}
