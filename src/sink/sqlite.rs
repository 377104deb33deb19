//! SQLite (embedded, via rusqlite and the system libsqlite3): WAL journal, `BEGIN IMMEDIATE` so the
//! fencing check and the writes hold the write lock from the start, prepared statements reused
//! across rows. Each row's insert reports whether it changed the table, so the read model counts
//! only rows actually inserted.

use super::ident::{quote, quote_list};
use super::values::{sql_type, Col};
use super::{aggregate, checked_rows, fenced, Backend, BatchMark, Claim, Commit, Mode, SinkSpec, WriteOutcome};
use crate::error::{Error, Result};
use crate::offsets::TopicPartition;
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

pub struct SqliteBackend {
    conn: Connection,
    spec: SinkSpec,
    path: String,
    /// The data table exists and has the batch's columns (checked once per schema).
    checked_schema: Option<Schema>,
}

fn db_error(path: &str, what: &str) -> impl Fn(rusqlite::Error) -> Error + 'static {
    let (path, what) = (path.to_owned(), what.to_owned());
    move |e| Error::sink(format!("SQLite {path}: {what}: {e}"))
}

impl SqliteBackend {
    pub fn open(path: &str, spec: SinkSpec) -> Result<Self> {
        let conn = Connection::open(path).map_err(db_error(path, "opening the database"))?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(db_error(path, "setting busy_timeout"))?;
        // WAL: readers never block the writer; FULL sync: a committed batch survives power loss too;
        // a 64 MiB page cache keeps the key index's hot pages in memory across batches.
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;")
            .map_err(db_error(path, "setting the journal mode"))?;
        let off = quote(&spec.offsets_table());
        let dl = quote(&spec.dead_letters_table());
        let marks = quote(&spec.batches_table());
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {off} (topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER, \
                 generation INTEGER NOT NULL, PRIMARY KEY (topic, partition));
             CREATE TABLE IF NOT EXISTS {dl} (topic TEXT NOT NULL, partition INTEGER NOT NULL, \"offset\" INTEGER NOT NULL, \
                 reason TEXT NOT NULL, payload BLOB, PRIMARY KEY (topic, partition, \"offset\")) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS {marks} (query_id TEXT NOT NULL, batch_id INTEGER NOT NULL, PRIMARY KEY (query_id, batch_id));"
        ))
        .map_err(db_error(path, "creating the offsets, dead-letter and batch tables"))?;
        Ok(SqliteBackend { conn, spec, path: path.to_owned(), checked_schema: None })
    }

    fn existing_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
        let names = stmt.query_map([table], |r| r.get::<_, String>(0))?.collect();
        names
    }

    /// Create the data (and read model) table for `schema`, or check an existing one has its columns.
    fn ensure_tables(&mut self, schema: &Schema) -> Result<()> {
        if self.checked_schema.as_ref() == Some(schema) {
            return Ok(());
        }
        self.spec.check_schema(schema)?;
        let err = db_error(&self.path, "creating or checking the data table");
        let existing = Self::existing_columns(&self.conn, &self.spec.table).map_err(&err)?;
        if existing.is_empty() {
            let columns = schema
                .fields()
                .iter()
                .map(|f| Ok(format!("{} {}", quote(f.name()), sql_type(f.data_type(), f.name())?.sqlite())))
                .collect::<Result<Vec<_>>>()?
                .join(", ");
            self.conn
                .execute_batch(&format!(
                    // WITHOUT ROWID: rows live in the primary-key B-tree, one tree to update per insert, not two.
                    "CREATE TABLE IF NOT EXISTS {} ({columns}, PRIMARY KEY ({})) WITHOUT ROWID",
                    quote(&self.spec.table),
                    quote_list(&self.spec.key)
                ))
                .map_err(&err)?;
        } else if let Some(missing) = schema.fields().iter().find(|f| !existing.contains(f.name())) {
            return Err(Error::schema(format!(
                "table {:?} exists without column {:?} (it has {existing:?})",
                self.spec.table,
                missing.name()
            )));
        }
        if let Some(rm) = &self.spec.read_model {
            let mut columns = Vec::new();
            for g in &rm.group_by {
                let f = schema.field_with_name(g)?;
                columns.push(format!("{} {} NOT NULL", quote(g), sql_type(f.data_type(), g)?.sqlite()));
            }
            columns.push("row_count INTEGER NOT NULL".into());
            for s in &rm.sums {
                columns.push(format!("{} INTEGER NOT NULL", quote(s)));
            }
            self.conn
                .execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}))",
                    quote(&rm.table),
                    columns.join(", "),
                    quote_list(&rm.group_by)
                ))
                .map_err(&err)?;
        }
        self.checked_schema = Some(schema.clone());
        Ok(())
    }

    fn insert_sql(&self, schema: &Schema) -> String {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let placeholders = (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let update: Vec<String> = names
            .iter()
            .filter(|n| !self.spec.key.iter().any(|k| k == *n))
            .map(|n| format!("{0} = excluded.{0}", quote(n)))
            .collect();
        let on_conflict = if self.spec.mode == Mode::Insert || update.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", update.join(", "))
        };
        format!(
            "INSERT INTO {} ({}) VALUES ({placeholders}) ON CONFLICT ({}) {on_conflict}",
            quote(&self.spec.table),
            quote_list(&names),
            quote_list(&self.spec.key)
        )
    }
}

fn fence(tx: &rusqlite::Transaction<'_>, spec: &SinkSpec, commits: &[Commit], path: &str) -> Result<()> {
    let off = quote(&spec.offsets_table());
    let mut update = tx
        .prepare_cached(&format!("UPDATE {off} SET next_offset = ?3 WHERE topic = ?1 AND partition = ?2 AND generation = ?4"))
        .map_err(db_error(path, "preparing the offsets update"))?;
    for c in commits {
        let changed = update
            .execute(params![c.tp.topic, c.tp.partition, c.next_offset, c.generation])
            .map_err(db_error(path, "storing offsets"))?;
        if changed == 0 {
            let stored: Option<i64> = tx
                .query_row(&format!("SELECT generation FROM {off} WHERE topic = ?1 AND partition = ?2"), params![c.tp.topic, c.tp.partition], |r| r.get(0))
                .optional()
                .map_err(db_error(path, "reading the generation"))?;
            return Err(fenced(spec, c, stored));
        }
    }
    Ok(())
}

impl Backend for SqliteBackend {
    fn claim(&mut self, partitions: &[TopicPartition]) -> Result<Vec<Claim>> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error(&path, "starting the claim"))?;
        let mut out = Vec::with_capacity(partitions.len());
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO {0} (topic, partition, next_offset, generation) VALUES (?1, ?2, NULL, 1) \
                     ON CONFLICT (topic, partition) DO UPDATE SET generation = {0}.generation + 1 RETURNING next_offset, generation",
                    quote(&self.spec.offsets_table())
                ))
                .map_err(db_error(&path, "preparing the claim"))?;
            for tp in partitions {
                let (next_offset, generation) = stmt
                    .query_row(params![tp.topic, tp.partition], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db_error(&path, "claiming a partition"))?;
                out.push(Claim { tp: tp.clone(), next_offset, generation });
            }
        }
        tx.commit().map_err(db_error(&path, "committing the claim"))?;
        Ok(out)
    }

    fn stored(&mut self) -> Result<Vec<Claim>> {
        let err = db_error(&self.path, "reading offsets");
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT topic, partition, next_offset, generation FROM {} ORDER BY topic, partition", quote(&self.spec.offsets_table())))
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| Ok(Claim { tp: TopicPartition::new(r.get::<_, String>(0)?, r.get(1)?), next_offset: r.get(2)?, generation: r.get(3)? }))
            .map_err(&err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(&err)?;
        Ok(rows)
    }

    fn is_applied(&mut self, mark: &BatchMark) -> Result<bool> {
        let found: Option<i64> = self
            .conn
            .query_row(
                &format!("SELECT 1 FROM {} WHERE query_id = ?1 AND batch_id = ?2", quote(&self.spec.batches_table())),
                params![mark.query_id, mark.batch_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error(&self.path, "reading batch marks"))?;
        Ok(found.is_some())
    }

    fn write(
        &mut self,
        rows: Option<&RecordBatch>,
        dead_letters: Option<&RecordBatch>,
        commits: &[Commit],
        mark: Option<&BatchMark>,
    ) -> Result<WriteOutcome> {
        // Checked before any table is created.
        let rows = checked_rows(&self.spec, rows, dead_letters)?;
        if let Some((b, _)) = &rows {
            self.ensure_tables(&b.schema())?;
        }
        let insert_sql = rows.as_ref().map(|(b, _)| self.insert_sql(&b.schema()));
        let path = self.path.clone();
        let spec = self.spec.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error(&path, "starting the batch transaction"))?;
        // Fencing first: a zombie learns it lost the partition before writing anything.
        fence(&tx, &spec, commits, &path)?;
        let mut outcome = WriteOutcome { applied: true, ..Default::default() };
        if let Some(mark) = mark {
            let stored = tx
                .execute(
                    &format!("INSERT INTO {} (query_id, batch_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", quote(&spec.batches_table())),
                    params![mark.query_id, mark.batch_id],
                )
                .map_err(db_error(&path, "storing the batch mark"))?;
            if stored == 0 {
                // Already applied: roll back (drop) and report a no-op.
                return Ok(WriteOutcome { applied: false, ..Default::default() });
            }
        }
        if let (Some((batch, (unique, repeated))), Some(sql)) = (rows, insert_sql) {
            outcome.rows = batch.num_rows();
            let cols = unique.columns().iter().map(Col::of).collect::<Result<Vec<_>>>()?;
            let mut inserted = Vec::with_capacity(unique.num_rows());
            {
                let mut stmt = tx.prepare_cached(&sql).map_err(db_error(&path, "preparing the row insert"))?;
                for row in 0..unique.num_rows() {
                    for (i, col) in cols.iter().enumerate() {
                        stmt.raw_bind_parameter(i + 1, col.sqlite(row)).map_err(db_error(&path, "binding a value"))?;
                    }
                    if stmt.raw_execute().map_err(db_error(&path, "inserting a row"))? > 0 {
                        inserted.push(row as u32);
                    }
                }
            }
            outcome.written = inserted.len();
            outcome.duplicates = repeated + unique.num_rows() - inserted.len();
            if let Some(rm) = &spec.read_model {
                let groups = aggregate(&unique, &inserted, rm)?;
                let group_cols = rm
                    .group_by
                    .iter()
                    .map(|g| unique.column_by_name(g).expect("checked"))
                    .collect::<Vec<_>>();
                let group_cols = group_cols.iter().map(|c| Col::of(c)).collect::<Result<Vec<_>>>()?;
                let names: Vec<&str> = rm.group_by.iter().map(String::as_str).chain(["row_count"]).chain(rm.sums.iter().map(String::as_str)).collect();
                let adds: Vec<String> = names[rm.group_by.len()..]
                    .iter()
                    .map(|n| format!("{0} = {1}.{0} + excluded.{0}", quote(n), quote(&rm.table)))
                    .collect();
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                    quote(&rm.table),
                    quote_list(&names),
                    (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", "),
                    quote_list(&rm.group_by),
                    adds.join(", ")
                );
                let mut stmt = tx.prepare_cached(&sql).map_err(db_error(&path, "preparing the read model update"))?;
                for (first, count, sums) in groups {
                    let mut i = 1;
                    for col in &group_cols {
                        stmt.raw_bind_parameter(i, col.sqlite(first as usize)).map_err(db_error(&path, "binding"))?;
                        i += 1;
                    }
                    stmt.raw_bind_parameter(i, count).map_err(db_error(&path, "binding"))?;
                    for s in sums {
                        i += 1;
                        stmt.raw_bind_parameter(i, s).map_err(db_error(&path, "binding"))?;
                    }
                    stmt.raw_execute().map_err(db_error(&path, "updating the read model"))?;
                }
            }
        }
        if let Some(dl) = dead_letters {
            let cols = ["topic", "partition", "offset", "reason", "payload"]
                .iter()
                .map(|n| dl.column_by_name(n).expect("checked"))
                .collect::<Vec<_>>();
            let cols = cols.iter().map(|c| Col::of(c)).collect::<Result<Vec<_>>>()?;
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO {} (topic, partition, \"offset\", reason, payload) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    quote(&spec.dead_letters_table())
                ))
                .map_err(db_error(&path, "preparing the dead-letter insert"))?;
            for row in 0..dl.num_rows() {
                for (i, col) in cols.iter().enumerate() {
                    stmt.raw_bind_parameter(i + 1, col.sqlite(row)).map_err(db_error(&path, "binding"))?;
                }
                outcome.dead_letters += stmt.raw_execute().map_err(db_error(&path, "inserting a dead letter"))?;
            }
        }
        tx.commit().map_err(db_error(&path, "committing the batch"))?;
        Ok(outcome)
    }
}
