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
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
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

/// A JSON value as the row decoder sees it: strings borrowed from the payload when they need no
/// unescaping, nested arrays and objects skipped (only their kind is kept, for messages).
#[derive(Debug)]
enum Val<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
    Nested(&'static str),
}

impl Val<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::I64(_) | Val::U64(_) | Val::F64(_) => "number",
            Val::Str(_) => "string",
            Val::Nested(kind) => kind,
        }
    }

    fn show(&self) -> String {
        match self {
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::I64(i) => i.to_string(),
            Val::U64(u) => u.to_string(),
            Val::F64(f) => f.to_string(),
            Val::Str(s) => truncate(&format!("{s:?}")),
            Val::Nested(_) => String::new(),
        }
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Val<'de>, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val<'de>, E> {
        Ok(Val::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Val<'de>, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Val<'de>, E> {
        Ok(Val::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Val<'de>, E> {
        Ok(Val::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Val<'de>, E> {
        Ok(Val::F64(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Val<'de>, E> {
        Ok(Val::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Val::Nested("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Val::Nested("object"))
    }
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor).map(Key)
    }
}

const NOT_AN_OBJECT: &str = "expected an object";

/// Fills `slots` (one per schema field) from the top-level JSON object; other fields are skipped
/// without being decoded into values.
struct RowSeed<'s, 'de> {
    names: &'s [String],
    slots: &'s mut Vec<Option<Val<'de>>>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.names.iter().position(|n| n.as_str() == key.as_ref()) {
                Some(index) => self.slots[index] = Some(map.next_value::<Val<'de>>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<(), A::Error> {
        Err(serde::de::Error::custom(format!("payload is a JSON array, {NOT_AN_OBJECT}")))
    }
    fn visit_str<E: serde::de::Error>(self, _v: &str) -> Result<(), E> {
        Err(E::custom(format!("payload is a JSON string, {NOT_AN_OBJECT}")))
    }
    fn visit_i64<E: serde::de::Error>(self, _v: i64) -> Result<(), E> {
        Err(E::custom(format!("payload is a JSON number, {NOT_AN_OBJECT}")))
    }
    fn visit_u64<E: serde::de::Error>(self, _v: u64) -> Result<(), E> {
        Err(E::custom(format!("payload is a JSON number, {NOT_AN_OBJECT}")))
    }
    fn visit_f64<E: serde::de::Error>(self, _v: f64) -> Result<(), E> {
        Err(E::custom(format!("payload is a JSON number, {NOT_AN_OBJECT}")))
    }
    fn visit_bool<E: serde::de::Error>(self, _v: bool) -> Result<(), E> {
        Err(E::custom(format!("payload is a JSON bool, {NOT_AN_OBJECT}")))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Err(E::custom(format!("payload is JSON null, {NOT_AN_OBJECT}")))
    }
}

/// The cell for `value` in a column of `data_type`, or why it does not fit.
fn cell<'a>(name: &str, data_type: &DataType, value: Option<&'a Val<'_>>, nullable: bool) -> Result<Cell<'a>, String> {
    let value = match value {
        None | Some(Val::Null) if nullable => return Ok(Cell::Null),
        None => return Err(format!("field {name:?} is missing")),
        Some(Val::Null) => return Err(format!("field {name:?} is null but not nullable")),
        Some(v) => v,
    };
    let wrong = || format!("field {name:?}: expected {data_type}, got {} {}", value.kind(), value.show());
    let int = match value {
        Val::I64(i) => Some(*i),
        Val::U64(u) => i64::try_from(*u).ok(),
        _ => None,
    };
    match data_type {
        DataType::Utf8 => match value {
            Val::Str(s) => Ok(Cell::Str(s.as_ref())),
            _ => Err(wrong()),
        },
        DataType::Int64 => int.map(Cell::Int).ok_or_else(wrong),
        DataType::Int32 => int.filter(|i| i32::try_from(*i).is_ok()).map(Cell::Int).ok_or_else(wrong),
        DataType::Float64 => match value {
            Val::F64(f) => Ok(Cell::Float(*f)),
            Val::I64(i) => Ok(Cell::Float(*i as f64)),
            Val::U64(u) => Ok(Cell::Float(*u as f64)),
            _ => Err(wrong()),
        },
        DataType::Boolean => match value {
            Val::Bool(b) => Ok(Cell::Bool(*b)),
            _ => Err(wrong()),
        },
        DataType::Timestamp(..) => match value {
            Val::Str(s) => {
                chrono::DateTime::parse_from_rfc3339(s).map(|t| Cell::Int(t.timestamp_millis())).map_err(|_| wrong())
            }
            _ => int.map(Cell::Int).ok_or_else(wrong),
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
    /// Field names of the JSON schema (empty for raw and text).
    names: Vec<String>,
    payload: Vec<Column>,
    topic: StringBuilder,
    /// Always kept (rows of revoked partitions are dropped before a batch is handed out).
    partition: Vec<i32>,
    /// Index into `topic_names` of every row.
    row_topic: Vec<u16>,
    row_dropped: Vec<bool>,
    topic_names: Vec<String>,
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
    /// (topic id, partition) and dropped flag of every reject.
    tp: Vec<(u16, i32)>,
    dropped: Vec<bool>,
}

fn keep_rows(batch: RecordBatch, dropped: &[bool]) -> Result<RecordBatch> {
    if !dropped.contains(&true) {
        return Ok(batch);
    }
    let keep: arrow_array::BooleanArray = dropped.iter().map(|d| Some(!d)).collect();
    Ok(arrow_select::filter::filter_record_batch(&batch, &keep)?)
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
        let names = match &format {
            PayloadFormat::Json(schema) => schema.fields().iter().map(|f| f.name().clone()).collect(),
            _ => Vec::new(),
        };
        Ok(BatchBuilder {
            names,
            format,
            meta,
            max_message_bytes,
            schema: Arc::new(Schema::new(fields)),
            payload,
            topic: StringBuilder::new(),
            partition: Vec::new(),
            row_topic: Vec::new(),
            row_dropped: Vec::new(),
            topic_names: Vec::new(),
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
        let topic = self.topic_id(message.topic());
        let r = &mut self.rejects;
        r.tp.push((topic, message.partition()));
        r.dropped.push(false);
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
                let schema = schema.clone();
                let mut slots: Vec<Option<Val<'_>>> = (0..self.names.len()).map(|_| None).collect();
                let mut deserializer = serde_json::Deserializer::from_slice(bytes);
                let decoded = RowSeed { names: &self.names, slots: &mut slots }
                    .deserialize(&mut deserializer)
                    .and_then(|()| deserializer.end());
                if let Err(e) = decoded {
                    let text = e.to_string();
                    let reason = if text.contains(NOT_AN_OBJECT) { text } else { format!("payload is not JSON: {text}") };
                    return self.reject(message, reason);
                }
                let mut cells = Vec::with_capacity(schema.fields().len());
                for (field, slot) in schema.fields().iter().zip(&slots) {
                    match cell(field.name(), field.data_type(), slot.as_ref(), field.is_nullable()) {
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
        let topic = self.topic_id(message.topic());
        self.row_topic.push(topic);
        self.row_dropped.push(false);
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

    fn topic_id(&mut self, topic: &str) -> u16 {
        match self.topic_names.iter().position(|t| t == topic) {
            Some(index) => index as u16,
            None => {
                self.topic_names.push(topic.to_owned());
                (self.topic_names.len() - 1) as u16
            }
        }
    }

    /// Drop the rows and rejects buffered so far of these partitions (they were revoked, or sought).
    pub fn drop_partitions(&mut self, partitions: &std::collections::BTreeSet<crate::offsets::TopicPartition>) {
        let hit = |names: &[String], topic: u16, partition: i32| {
            partitions.iter().any(|tp| tp.partition == partition && tp.topic == names[topic as usize])
        };
        for (i, (topic, partition)) in self.row_topic.iter().zip(&self.partition).enumerate() {
            if hit(&self.topic_names, *topic, *partition) {
                self.row_dropped[i] = true;
            }
        }
        for (i, (topic, partition)) in self.rejects.tp.iter().enumerate() {
            if hit(&self.topic_names, *topic, *partition) {
                self.rejects.dropped[i] = true;
            }
        }
    }

    /// The batch and rejects so far, without dropped rows; the builder starts over.
    pub fn finish(&mut self) -> Result<(RecordBatch, RecordBatch)> {
        let mut columns: Vec<ArrayRef> = self.payload.iter_mut().map(finish).collect();
        let partitions = std::mem::take(&mut self.partition);
        self.row_topic.clear();
        let row_dropped = std::mem::take(&mut self.row_dropped);
        let reject_dropped = std::mem::take(&mut self.rejects.dropped);
        self.rejects.tp.clear();
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
        Ok((keep_rows(records, &row_dropped)?, keep_rows(rejects, &reject_dropped)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use rdkafka::message::OwnedMessage;
    use rdkafka::Timestamp;

    fn message(offset: i64, payload: &[u8]) -> OwnedMessage {
        OwnedMessage::new(Some(payload.to_vec()), None, "logs".into(), Timestamp::CreateTime(5), 0, offset, None)
    }

    #[test]
    fn json_rows_and_rejects_reconcile() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let meta = MetaColumns { offset: true, ..Default::default() };
        let mut builder = BatchBuilder::new(PayloadFormat::Json(schema), meta, 1024).unwrap();
        let payloads: [&[u8]; 6] = [
            br#"{"n": 1, "s": "a\"b", "skip": {"deep": [1, 2]}}"#,
            br#"{"n": "x"}"#,
            b"[1]",
            b"{oops",
            br#"{"s": "only"}"#,
            br#"{"n": 1} trailing"#,
        ];
        for (offset, payload) in payloads.iter().enumerate() {
            builder.push(&message(offset as i64, payload));
        }
        let (records, rejects) = builder.finish().unwrap();
        assert_eq!(records.num_rows() + rejects.num_rows(), payloads.len());
        assert_eq!(records.column(0).as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), vec![Some(1), None]);
        assert_eq!(records.column(1).as_string::<i32>().value(0), "a\"b");
        let reasons: Vec<&str> = rejects.column(3).as_string::<i32>().iter().map(Option::unwrap).collect();
        assert!(reasons[0].starts_with("field \"n\": expected Int64, got string"), "{}", reasons[0]);
        assert!(reasons[1].contains("expected an object"), "{}", reasons[1]);
        assert!(reasons[2].starts_with("payload is not JSON"), "{}", reasons[2]);
        assert!(reasons[3].starts_with("payload is not JSON"), "{}", reasons[3]);
        assert_eq!(rejects.column(2).as_primitive::<Int64Type>().values().to_vec(), vec![1, 2, 3, 5]);
    }
}
