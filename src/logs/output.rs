//! Builders for the two output tables: parsed records and rejected lines.
//!
//! Rows are cut into record batches of at most `batch_rows` rows and, so that no string column can
//! overflow Arrow's 32-bit offsets, of at most [`BATCH_BYTES`] bytes of text. Extra columns appear in
//! order of first appearance; batches built before a column first appeared get it as all-null.

use crate::error::Result;
use crate::time::Millis;
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{new_null_array, ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use hashbrown::HashMap;
use std::borrow::Cow;
use std::sync::Arc;

/// Text bytes after which a batch is closed (well below the 2 GiB limit of a utf8 column).
pub const BATCH_BYTES: usize = 512 << 20;

/// The four standard columns, in output order.
pub const STANDARD_COLUMNS: [&str; 4] = ["ts", "level", "service", "message"];

/// One parsed line, borrowing from it where it can.
#[derive(Debug, Default)]
pub struct Record<'a> {
    pub ts: Millis,
    pub level: Option<Cow<'a, str>>,
    pub service: Option<Cow<'a, str>>,
    pub message: Option<Cow<'a, str>>,
    /// Extra fields in line order; for a repeated name the last value wins.
    pub extras: Vec<(Cow<'a, str>, Option<Cow<'a, str>>)>,
}

/// Which extra columns the records table has.
#[derive(Debug, Clone)]
pub enum ExtraColumns {
    /// Exactly these, in this order (others are dropped); absent ones are null.
    Fixed(Vec<String>),
    /// Every field seen, in order of first appearance, up to this many columns.
    Discover { max: usize },
}

/// The output name of an extra field: names that clash with a standard column get a trailing `_`.
pub fn extra_column_name(name: &str) -> Cow<'_, str> {
    if STANDARD_COLUMNS.contains(&name) {
        Cow::Owned(format!("{name}_"))
    } else {
        Cow::Borrowed(name)
    }
}

/// The Arrow type of an extra column (`fields=` option); extra columns are utf8 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Utf8,
    Int64,
    Float64,
    Bool,
}

impl FieldType {
    pub const NAMES: &'static str = "\"string\", \"int64\", \"float64\" or \"bool\"";

    pub fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "string" | "utf8" | "str" => FieldType::Utf8,
            "int64" => FieldType::Int64,
            "float64" => FieldType::Float64,
            "bool" => FieldType::Bool,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FieldType::Utf8 => "string",
            FieldType::Int64 => "int64",
            FieldType::Float64 => "float64",
            FieldType::Bool => "bool",
        }
    }

    fn data_type(self) -> DataType {
        match self {
            FieldType::Utf8 => DataType::Utf8,
            FieldType::Int64 => DataType::Int64,
            FieldType::Float64 => DataType::Float64,
            FieldType::Bool => DataType::Boolean,
        }
    }

    /// Whether `text` (a field's value as text: JSON numbers and booleans as their JSON text)
    /// converts: an integer in int64's range; a finite decimal number; `true` or `false`.
    pub fn accepts(self, text: &str) -> bool {
        match self {
            FieldType::Utf8 => true,
            FieldType::Int64 => parse_int(text).is_some(),
            FieldType::Float64 => parse_float(text).is_some(),
            FieldType::Bool => parse_bool(text).is_some(),
        }
    }
}

fn parse_int(text: &str) -> Option<i64> {
    text.parse().ok()
}

fn parse_float(text: &str) -> Option<f64> {
    // Rust also reads "inf", "NaN" and "infinity": those are not log numbers.
    let starts_like_a_number = text
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
    text.parse::<f64>()
        .ok()
        .filter(|v| starts_like_a_number && v.is_finite())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// One extra column being built.
enum ColumnBuilder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
}

impl ColumnBuilder {
    fn new(kind: FieldType) -> Self {
        match kind {
            FieldType::Utf8 => ColumnBuilder::Utf8(StringBuilder::new()),
            FieldType::Int64 => ColumnBuilder::Int64(Int64Builder::new()),
            FieldType::Float64 => ColumnBuilder::Float64(Float64Builder::new()),
            FieldType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
        }
    }

    fn append_nulls(&mut self, n: usize) {
        match self {
            ColumnBuilder::Utf8(b) => b.append_nulls(n),
            ColumnBuilder::Int64(b) => b.append_nulls(n),
            ColumnBuilder::Float64(b) => b.append_nulls(n),
            ColumnBuilder::Bool(b) => b.append_nulls(n),
        }
    }

    /// Appends a value; text that does not convert (never the case after `FieldType::accepts`) is null.
    fn append(&mut self, value: Option<&str>) {
        match self {
            ColumnBuilder::Utf8(b) => b.append_option(value),
            ColumnBuilder::Int64(b) => b.append_option(value.and_then(parse_int)),
            ColumnBuilder::Float64(b) => b.append_option(value.and_then(parse_float)),
            ColumnBuilder::Bool(b) => b.append_option(value.and_then(parse_bool)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("line", DataType::Utf8, true),
        Field::new("position", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
    ]))
}

pub struct RecordsBuilder {
    mode: ExtraColumns,
    /// Types of extra columns by column name (others are utf8).
    types: HashMap<String, FieldType>,
    max_discovered: usize,
    names: Vec<String>,
    index: HashMap<String, usize>,
    batch_rows: usize,
    // current batch
    ts: Vec<Millis>,
    level: StringBuilder,
    service: StringBuilder,
    message: StringBuilder,
    extras: Vec<ColumnBuilder>,
    /// Per extra column: whether some record had a non-null value for it.
    has_values: Vec<bool>,
    bytes: usize,
    // finished batches, each with the extra columns known when it was closed
    done: Vec<RecordBatch>,
    slots: Vec<Option<usize>>,
    rows_total: usize,
}

impl RecordsBuilder {
    pub fn new(mode: ExtraColumns, batch_rows: usize) -> Self {
        Self::with_types(mode, &[], batch_rows)
    }

    /// `typed`: typed extra columns `(column name, type)`; when columns are discovered, these are
    /// the first columns, present (all null) even if no record has them.
    pub fn with_types(
        mode: ExtraColumns,
        typed: &[(String, FieldType)],
        batch_rows: usize,
    ) -> Self {
        let types: HashMap<String, FieldType> = typed.iter().cloned().collect();
        let (names, max_discovered) = match &mode {
            ExtraColumns::Fixed(names) => (names.clone(), names.len()),
            ExtraColumns::Discover { max } => {
                (typed.iter().map(|(name, _)| name.clone()).collect(), *max)
            }
        };
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let kind = |name: &str| types.get(name).copied().unwrap_or(FieldType::Utf8);
        let extras = names.iter().map(|n| ColumnBuilder::new(kind(n))).collect();
        let has_values = vec![false; names.len()];
        RecordsBuilder {
            mode,
            types,
            max_discovered,
            names,
            index,
            batch_rows: batch_rows.max(1),
            ts: Vec::new(),
            level: StringBuilder::new(),
            service: StringBuilder::new(),
            message: StringBuilder::new(),
            extras,
            has_values,
            bytes: 0,
            done: Vec::new(),
            slots: Vec::new(),
            rows_total: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows_total
    }

    /// Whether some record had a non-null value for the extra column `column`.
    pub fn has_values(&self, column: &str) -> bool {
        self.index
            .get(column)
            .is_some_and(|&at| self.has_values[at])
    }

    /// Why `record` cannot be added without exceeding the column limit, if it cannot.
    pub fn check_columns(&self, record: &Record<'_>) -> Option<String> {
        if !matches!(self.mode, ExtraColumns::Discover { .. }) {
            return None;
        }
        let mut new: Vec<Cow<'_, str>> = Vec::new();
        for (name, _) in &record.extras {
            let column = extra_column_name(name);
            if !self.index.contains_key(column.as_ref()) && !new.contains(&column) {
                if self.names.len() + new.len() >= self.max_discovered {
                    return Some(format!(
                        "field {:?} would be extra column number {}, over max_extra_fields={} \
                         (raise max_extra_fields or list the wanted columns in extra_fields)",
                        truncate(name, 80),
                        self.names.len() + new.len() + 1,
                        self.max_discovered
                    ));
                }
                new.push(column);
            }
        }
        None
    }

    /// Append a record that passed all checks (including [`check_columns`](Self::check_columns)).
    pub fn push(&mut self, record: Record<'_>) -> Result<()> {
        let rows = self.ts.len();
        self.slots.clear();
        self.slots.resize(self.names.len(), None);
        for (i, (name, _)) in record.extras.iter().enumerate() {
            let column = extra_column_name(name);
            let at = match self.index.get(column.as_ref()) {
                Some(&at) => at,
                None => match self.mode {
                    ExtraColumns::Fixed(_) => continue,
                    ExtraColumns::Discover { .. } => {
                        let at = self.names.len();
                        let kind = self.kind(&column);
                        self.names.push(column.clone().into_owned());
                        self.index.insert(column.into_owned(), at);
                        let mut builder = ColumnBuilder::new(kind);
                        builder.append_nulls(rows);
                        self.extras.push(builder);
                        self.has_values.push(false);
                        self.slots.push(None);
                        at
                    }
                },
            };
            self.slots[at] = Some(i);
        }
        self.ts.push(record.ts);
        let mut bytes = 0;
        for (builder, value) in [
            (&mut self.level, &record.level),
            (&mut self.service, &record.service),
            (&mut self.message, &record.message),
        ] {
            bytes += value.as_ref().map_or(0, |v| v.len());
            builder.append_option(value.as_deref());
        }
        for ((builder, slot), has) in self
            .extras
            .iter_mut()
            .zip(&self.slots)
            .zip(&mut self.has_values)
        {
            let value = slot.and_then(|i| record.extras[i].1.as_deref());
            *has |= value.is_some();
            bytes += value.map_or(0, str::len);
            builder.append(value);
        }
        self.bytes += bytes;
        self.rows_total += 1;
        if self.ts.len() >= self.batch_rows || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn kind(&self, column: &str) -> FieldType {
        self.types.get(column).copied().unwrap_or(FieldType::Utf8)
    }

    fn schema_with(&self, extras: usize) -> SchemaRef {
        let mut fields = vec![
            Field::new("ts", ts_type(), false),
            utf8("level"),
            utf8("service"),
            utf8("message"),
        ];
        fields.extend(
            self.names[..extras]
                .iter()
                .map(|n| Field::new(n, self.kind(n).data_type(), true)),
        );
        Arc::new(Schema::new(fields))
    }

    fn flush(&mut self) -> Result<()> {
        if self.ts.is_empty() {
            return Ok(());
        }
        let ts = TimestampMillisecondArray::from(std::mem::take(&mut self.ts)).with_timezone("UTC");
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(ts),
            Arc::new(self.level.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.message.finish()),
        ];
        columns.extend(self.extras.iter_mut().map(ColumnBuilder::finish));
        let batch = RecordBatch::try_new(self.schema_with(self.extras.len()), columns)?;
        self.done.push(batch);
        self.bytes = 0;
        Ok(())
    }

    /// The schema and all batches, each padded to the final set of columns.
    pub fn finish(mut self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.flush()?;
        let schema = self.schema_with(self.names.len());
        let batches = std::mem::take(&mut self.done)
            .into_iter()
            .map(|batch| {
                if batch.num_columns() == schema.fields().len() {
                    return Ok(batch);
                }
                let rows = batch.num_rows();
                let mut columns = batch.columns().to_vec();
                while columns.len() < schema.fields().len() {
                    let field = schema.field(columns.len());
                    columns.push(new_null_array(field.data_type(), rows));
                }
                Ok(RecordBatch::try_new(schema.clone(), columns)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((schema, batches))
    }
}

pub struct RejectsBuilder {
    batch_rows: usize,
    line: StringBuilder,
    position: Vec<i64>,
    reason: StringBuilder,
    bytes: usize,
    done: Vec<RecordBatch>,
    rows_total: usize,
}

impl RejectsBuilder {
    pub fn new(batch_rows: usize) -> Self {
        RejectsBuilder {
            batch_rows: batch_rows.max(1),
            line: StringBuilder::new(),
            position: Vec::new(),
            reason: StringBuilder::new(),
            bytes: 0,
            done: Vec::new(),
            rows_total: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows_total
    }

    /// A rejected line: `line` is `None` for a null input value; invalid UTF-8 is replaced lossily.
    pub fn push(&mut self, line: Option<&[u8]>, position: i64, reason: &str) -> Result<()> {
        match line {
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                self.bytes += text.len();
                self.line.append_value(text);
            }
            None => self.line.append_null(),
        }
        self.position.push(position);
        self.reason.append_value(reason);
        self.bytes += reason.len();
        self.rows_total += 1;
        if self.position.len() >= self.batch_rows || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.position.is_empty() {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.line.finish()),
            Arc::new(Int64Array::from(std::mem::take(&mut self.position))),
            Arc::new(self.reason.finish()),
        ];
        self.done
            .push(RecordBatch::try_new(rejects_schema(), columns)?);
        self.bytes = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.flush()?;
        Ok((rejects_schema(), self.done))
    }
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::Array;

    fn record(ts: Millis, extras: &[(&'static str, Option<&'static str>)]) -> Record<'static> {
        Record {
            ts,
            level: Some("INFO".into()),
            extras: extras
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), v.map(Cow::Borrowed)))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn discovered_columns_are_backfilled_across_batches() {
        let mut b = RecordsBuilder::new(ExtraColumns::Discover { max: 10 }, 2);
        b.push(record(1, &[("a", Some("1"))])).unwrap();
        b.push(record(
            2,
            &[("b", Some("2")), ("a", Some("x")), ("a", Some("y"))],
        ))
        .unwrap();
        b.push(record(3, &[("c", None), ("level", Some("dup"))]))
            .unwrap();
        let (schema, batches) = b.finish().unwrap();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["ts", "level", "service", "message", "a", "b", "c", "level_"]
        );
        assert_eq!(batches.len(), 2);
        let first = &batches[0];
        assert_eq!(first.column(4).as_string::<i32>().value(1), "y"); // last wins
        assert!(first.column(6).is_null(0) && first.column(7).is_null(1));
        assert_eq!(batches[1].column(7).as_string::<i32>().value(0), "dup");
        assert!(batches[1].column(6).is_null(0));
    }

    #[test]
    fn column_limit_is_checked_before_push() {
        let mut b = RecordsBuilder::new(ExtraColumns::Discover { max: 2 }, 100);
        let ok = record(1, &[("a", None), ("b", None), ("a", None)]);
        assert!(b.check_columns(&ok).is_none());
        b.push(ok).unwrap();
        let too_many = record(2, &[("a", None), ("z", Some("1"))]);
        let why = b.check_columns(&too_many).unwrap();
        assert!(
            why.contains("\"z\"") && why.contains("max_extra_fields=2"),
            "{why}"
        );
    }

    #[test]
    fn fixed_columns_drop_others() {
        let mut b = RecordsBuilder::new(ExtraColumns::Fixed(vec!["b".into(), "a".into()]), 100);
        b.push(record(1, &[("a", Some("1")), ("zzz", Some("2"))]))
            .unwrap();
        let (schema, batches) = b.finish().unwrap();
        assert_eq!(schema.fields().len(), 6);
        assert!(batches[0].column(4).is_null(0));
        assert_eq!(batches[0].column(5).as_string::<i32>().value(0), "1");
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("héllo", 2), "hé…");
    }
}
