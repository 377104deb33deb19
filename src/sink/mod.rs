//! Exactly-once writes into an OLTP database: each micro-batch's rows, dead letters, read-model
//! aggregates and the input offsets that produced them are committed in ONE database transaction.
//!
//! Tables (all created if missing, validated if present), for a data table `T`:
//! - `T`: the rows, primary key = the business key; writes are idempotent (`insert`: a key already
//!   present is left alone; `upsert`: it is overwritten), so a replayed batch changes nothing.
//! - `T_offsets(topic, partition, next_offset, generation)`: where to resume, and the fencing token.
//!   [`Backend::claim`] bumps a partition's generation when a writer takes it over; every write
//!   checks, in its transaction, that the writer's generation is still the stored one, so a zombie
//!   that lost its partition cannot commit after the new owner claimed it ([`Error::Fenced`]).
//! - `T_dead_letters(topic, partition, offset, reason, payload)`: inputs that could not become rows.
//! - `T_batches(query_id, batch_id)`: marks of applied batches (Spark's `foreachBatch`), so a
//!   replayed batch id is a no-op.
//! - an optional read model: per-group counts and sums of the rows actually inserted (never of
//!   duplicates), kept in the same transaction.

pub mod ident;
mod postgres;
mod sqlite;
mod values;

use crate::error::{Error, Result};
use crate::offsets::TopicPartition;
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{DataType, Schema};
use hashbrown::HashMap;

pub use values::normalize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A key already in the table is left as it is (events are immutable facts).
    Insert,
    /// A key already in the table gets the new values.
    Upsert,
}

impl Mode {
    pub fn parse(text: &str) -> Result<Mode> {
        match text {
            "insert" => Ok(Mode::Insert),
            "upsert" => Ok(Mode::Upsert),
            other => Err(Error::config(format!("mode {other:?}: expected \"insert\" or \"upsert\""))),
        }
    }
}

/// Per-group counts and sums of inserted rows: `table(group_by..., row_count, sums...)`.
#[derive(Clone, Debug)]
pub struct ReadModelSpec {
    pub table: String,
    pub group_by: Vec<String>,
    pub sums: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct SinkSpec {
    pub table: String,
    pub key: Vec<String>,
    pub mode: Mode,
    pub read_model: Option<ReadModelSpec>,
}

impl SinkSpec {
    pub fn validate(&self) -> Result<()> {
        ident::validate(&self.table, "table")?;
        if self.key.is_empty() {
            return Err(Error::config("key: give at least one key column"));
        }
        for k in &self.key {
            ident::validate(k, "key column")?;
        }
        if let Some(rm) = &self.read_model {
            if self.mode != Mode::Insert {
                return Err(Error::config(
                    "read_model needs mode=\"insert\": it adds up inserted rows, and an upsert could change a row it already counted",
                ));
            }
            ident::validate(&rm.table, "read model table")?;
            if rm.group_by.is_empty() {
                return Err(Error::config("read_model group_by: give at least one column"));
            }
            for c in rm.group_by.iter().chain(&rm.sums) {
                ident::validate(c, "read model column")?;
            }
        }
        Ok(())
    }

    pub fn offsets_table(&self) -> String {
        format!("{}_offsets", self.table)
    }
    pub fn dead_letters_table(&self) -> String {
        format!("{}_dead_letters", self.table)
    }
    pub fn batches_table(&self) -> String {
        format!("{}_batches", self.table)
    }

    /// Check `schema` has the key, read-model columns of usable types.
    fn check_schema(&self, schema: &Schema) -> Result<()> {
        let has = |name: &str, what: &str| {
            schema.field_with_name(name).map_err(|_| {
                Error::schema(format!("rows for table {:?} have no {what} column {name:?}", self.table))
            })
        };
        for k in &self.key {
            has(k, "key")?;
        }
        for field in schema.fields() {
            ident::validate(field.name(), "column")?;
            values::sql_type(field.data_type(), field.name())?;
        }
        if let Some(rm) = &self.read_model {
            for g in &rm.group_by {
                has(g, "read model group_by")?;
            }
            for s in &rm.sums {
                let field = has(s, "read model sum")?;
                if !matches!(field.data_type(), DataType::Int64 | DataType::Int32) {
                    return Err(Error::schema(format!(
                        "read model sum column {s:?} has type {}; sums are exact integers (int32/int64, e.g. minor units)",
                        field.data_type()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A partition's stored resume point and fencing generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub tp: TopicPartition,
    /// Next offset to read, or None if nothing was committed yet.
    pub next_offset: Option<i64>,
    pub generation: i64,
}

/// Offsets to store with a batch, under the writer's generation.
#[derive(Clone, Debug)]
pub struct Commit {
    pub tp: TopicPartition,
    pub next_offset: i64,
    pub generation: i64,
}

/// Marks a batch as applied (Spark's `foreachBatch` batch id) in the same transaction.
#[derive(Clone, Debug)]
pub struct BatchMark {
    pub query_id: String,
    pub batch_id: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// False when the batch mark was already stored: nothing was written.
    pub applied: bool,
    /// Rows given.
    pub rows: usize,
    /// Rows inserted (insert mode) or inserted-or-updated (upsert mode).
    pub written: usize,
    /// Rows whose key was already in the table or earlier in the batch (insert mode), or repeated
    /// in the batch (upsert mode: the last one wins). `rows == written + duplicates`.
    pub duplicates: usize,
    /// Dead letters stored (a dead letter already stored for the same topic/partition/offset is not stored twice).
    pub dead_letters: usize,
}

/// What a database must do for the exactly-once protocol.
pub trait Backend: Send {
    /// Take over partitions: bump each generation (creating rows as needed); returns the new
    /// generation and the stored next offset of each.
    fn claim(&mut self, partitions: &[TopicPartition]) -> Result<Vec<Claim>>;
    /// Stored offsets and generations of every partition.
    fn stored(&mut self) -> Result<Vec<Claim>>;
    /// One transaction: check the generations in `commits` and store their offsets; `mark` (if any,
    /// else nothing when it is already stored); rows (deduplicated by key); dead letters; read model.
    fn write(
        &mut self,
        rows: Option<&RecordBatch>,
        dead_letters: Option<&RecordBatch>,
        commits: &[Commit],
        mark: Option<&BatchMark>,
    ) -> Result<WriteOutcome>;
    /// Whether `(query_id, batch_id)` is stored.
    fn is_applied(&mut self, mark: &BatchMark) -> Result<bool>;
}

/// Open a backend for `dsn`: `sqlite:///relative/path`, `sqlite:////absolute/path`, `sqlite://:memory:`
/// or `postgresql://...` / `postgres://...` (libpq URL or key=value string; a Unix socket directory
/// goes in `host`).
pub fn open(dsn: &str, spec: SinkSpec) -> Result<Box<dyn Backend>> {
    spec.validate()?;
    if let Some(path) = dsn.strip_prefix("sqlite://") {
        let path = path.strip_prefix('/').unwrap_or(path);
        if path.is_empty() {
            return Err(Error::config(format!("dsn {dsn:?}: no database path after sqlite:///")));
        }
        Ok(Box::new(sqlite::SqliteBackend::open(path, spec)?))
    } else if dsn.starts_with("postgresql://") || dsn.starts_with("postgres://") || dsn.contains("host=") {
        Ok(Box::new(postgres::PostgresBackend::open(dsn, spec)?))
    } else {
        Err(Error::config(format!(
            "dsn {:?}: expected sqlite:///path or postgresql://...",
            dsn.split('@').next_back().unwrap_or("")
        )))
    }
}

/// A batch checked before anything is written: the dead letters' schema, then the rows normalised,
/// checked against the spec (keys present, no null keys, types storable) and deduplicated on the key.
/// An empty batch carries no rows (its schema may not even be storable): only offsets and marks.
/// Returns the normalised rows with `dedup_batch`'s result.
pub fn checked_rows(
    spec: &SinkSpec,
    rows: Option<&RecordBatch>,
    dead_letters: Option<&RecordBatch>,
) -> Result<Option<(RecordBatch, (RecordBatch, usize))>> {
    if let Some(dl) = dead_letters {
        check_dead_letters(dl)?;
    }
    rows.filter(|b| b.num_rows() > 0)
        .map(|b| {
            let b = normalize(b)?;
            spec.check_schema(&b.schema())?;
            let deduped = dedup_batch(&b, &spec.key, spec.mode)?;
            Ok((b, deduped))
        })
        .transpose()
}

/// The dead-letter schema: topic, partition, offset, reason, payload.
pub fn check_dead_letters(batch: &RecordBatch) -> Result<()> {
    let expect = [
        ("topic", DataType::Utf8),
        ("partition", DataType::Int32),
        ("offset", DataType::Int64),
        ("reason", DataType::Utf8),
        ("payload", DataType::Binary),
    ];
    for (name, data_type) in expect {
        match batch.schema().field_with_name(name) {
            Ok(f) if f.data_type() == &data_type => {}
            Ok(f) => {
                return Err(Error::schema(format!(
                    "dead letters column {name:?} has type {}; expected {data_type}",
                    f.data_type()
                )))
            }
            Err(_) => return Err(Error::schema(format!("dead letters have no column {name:?}"))),
        }
    }
    Ok(())
}

/// Rows to write after removing repeated keys within the batch (`Insert` keeps the first
/// occurrence, like the table does; `Upsert` the last), and how many were removed.
pub fn dedup_batch(batch: &RecordBatch, key: &[String], mode: Mode) -> Result<(RecordBatch, usize)> {
    let columns = key
        .iter()
        .map(|k| batch.column_by_name(k).cloned().ok_or_else(|| Error::schema(format!("rows have no key column {k:?}"))))
        .collect::<Result<Vec<_>>>()?;
    for (k, c) in key.iter().zip(&columns) {
        if c.null_count() > 0 {
            return Err(Error::schema(format!("key column {k:?} has nulls; every row needs a key")));
        }
    }
    let converter = RowConverter::new(columns.iter().map(|c| SortField::new(c.data_type().clone())).collect())?;
    let rows = converter.convert_columns(&columns)?;
    let mut chosen: HashMap<&[u8], u32> = HashMap::with_capacity(batch.num_rows());
    let mut order = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        match chosen.entry(rows.row(i).data()) {
            hashbrown::hash_map::Entry::Vacant(slot) => {
                slot.insert(order.len() as u32);
                order.push(i as u32);
            }
            hashbrown::hash_map::Entry::Occupied(slot) => {
                if mode == Mode::Upsert {
                    order[*slot.get() as usize] = i as u32;
                }
            }
        }
    }
    let removed = batch.num_rows() - order.len();
    if removed == 0 {
        return Ok((batch.clone(), 0));
    }
    let take = UInt32Array::from(order);
    Ok((arrow_select::take::take_record_batch(batch, &take)?, removed))
}

/// Group `rows` (those listed in `inserted`) by the read model's columns: (first row, count, sums).
pub(crate) fn aggregate(batch: &RecordBatch, inserted: &[u32], spec: &ReadModelSpec) -> Result<Vec<(u32, i64, Vec<i64>)>> {
    if inserted.is_empty() {
        return Ok(Vec::new());
    }
    let groups = spec
        .group_by
        .iter()
        .map(|g| Ok(batch.column_by_name(g).ok_or_else(|| Error::schema(format!("rows have no column {g:?}")))?.clone()))
        .collect::<Result<Vec<_>>>()?;
    let sums = spec
        .sums
        .iter()
        .map(|s| {
            let c = batch.column_by_name(s).ok_or_else(|| Error::schema(format!("rows have no column {s:?}")))?;
            Ok(arrow_cast::cast(c, &DataType::Int64)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let converter = RowConverter::new(groups.iter().map(|c| SortField::new(c.data_type().clone())).collect())?;
    let rows = converter.convert_columns(&groups)?;
    let mut at: HashMap<&[u8], usize> = HashMap::new();
    let mut out: Vec<(u32, i64, Vec<i64>)> = Vec::new();
    for &i in inserted {
        let slot = *at.entry(rows.row(i as usize).data()).or_insert_with(|| {
            out.push((i, 0, vec![0; sums.len()]));
            out.len() - 1
        });
        let entry = &mut out[slot];
        entry.1 += 1;
        for (total, column) in entry.2.iter_mut().zip(&sums) {
            let column = column.as_primitive::<arrow_array::types::Int64Type>();
            if column.is_valid(i as usize) {
                *total = total
                    .checked_add(column.value(i as usize))
                    .ok_or_else(|| Error::schema("read model sum overflows int64"))?;
            }
        }
    }
    Ok(out)
}

fn fenced(spec: &SinkSpec, commit: &Commit, stored: Option<i64>) -> Error {
    Error::Fenced(format!(
        "{}: this writer's generation {} for {} is no longer current (stored: {}); another writer took the partition over, batch rolled back",
        spec.table,
        commit.generation,
        commit.tp,
        stored.map_or("none".to_string(), |g| g.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(ids: &[&str], amounts: &[i64]) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(StringArray::from(ids.to_vec())) as ArrayRef),
            ("amount", Arc::new(Int64Array::from(amounts.to_vec())) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn dedup_keeps_first_for_insert_and_last_for_upsert() {
        let b = batch(&["a", "b", "a"], &[1, 2, 3]);
        let (first, removed) = dedup_batch(&b, &["id".into()], Mode::Insert).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(first.column(1).as_primitive::<arrow_array::types::Int64Type>().values().to_vec(), vec![1, 2]);
        let (last, _) = dedup_batch(&b, &["id".into()], Mode::Upsert).unwrap();
        assert_eq!(last.column(1).as_primitive::<arrow_array::types::Int64Type>().values().to_vec(), vec![3, 2]);
    }

    #[test]
    fn aggregate_counts_and_sums_only_inserted_rows() {
        let b = batch(&["x", "y", "x", "x"], &[1, 2, 3, 4]);
        let spec = ReadModelSpec { table: "rm".into(), group_by: vec!["id".into()], sums: vec!["amount".into()] };
        let groups = aggregate(&b, &[0, 1, 3], &spec).unwrap();
        assert_eq!(groups, vec![(0, 2, vec![5]), (1, 1, vec![2])]);
    }
}
