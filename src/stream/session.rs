//! Sessionization: per key, events whose consecutive gaps (in event time) are at most `gap` form
//! one session. Out-of-order events are placed by event time: they extend sessions, or bridge two
//! sessions and merge them.
//!
//! A session closes once `watermark >= end + gap + allowed_lateness`; after that no event may
//! change it, and the operator forgets it. An event is late exactly when it could touch a closed
//! session: it is not late when it lands inside the span `[start, end + gap]` of a session that is
//! still open (nothing closed lies within `gap` of it), nor when `time + allowed_lateness` is after
//! the watermark (every closed session ends more than `gap` earlier). Otherwise, an event at
//! `time + allowed_lateness == watermark` is late only if it touches a session that closed at this
//! very watermark (kept as a tombstone until the watermark moves), and one further behind is late.
//! These decisions depend only on the events before it, never on batch cuts.
//!
//! Layout for speed (100k+ live keys do not fit in cache): keys with open sessions get dense ids
//! (`stream::intern`; single integer keys skip Arrow's row encoding), per-key state is a `Vec` by id
//! prefetched a few events ahead, and keys are split by hash over shards (`shard`), each owning
//! its keys' sessions, timers and tombstones. The watermark before each event is the running
//! maximum of the accepted times before it (a late event is behind it, so never moves it): each
//! shard computes it while picking its own rows of a batch, which makes shards independent. With
//! `threads > 1` they run in parallel and the output is the same for any number of them. A key
//! with one open session and one aggregate fills one cache line (`shard::KeySlot`).

mod shard;

use super::aggregate::{AggSpec, OwnedValue, SavedAccs, SavedValue};
use super::aggset::{AggSet, AggSetState, BoundBatch};
use super::keys::{KeyBytes, KeyEncoder, DEFAULT_MAX_KEY_BYTES};
use super::output::{output_batch, take_rows_with, timestamp_column, timestamp_type, RejectCollector, SideOutputs, SideState};
use super::snapshot;
use crate::error::{Error, Result};
use crate::time::{IntTimeUnit, Millis, MAX_EVENT_TIME, MIN_EVENT_TIME};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use super::intern::columns::{string_hashes, KeyIds};
use super::intern::{counting_sorted, min_max, IntKeys, KeyIndex, KeyValue};
use serde::{Deserialize, Serialize};
use shard::{shard_of, shard_of_bytes, shard_of_hash, Applied, Batch, Closed, KeySource, Session, Shard, Work};
use std::sync::{Arc, Barrier, RwLock};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// Largest gap between consecutive events of one session (a gap of exactly `gap` keeps it).
    pub gap: Millis,
    pub time: String,
    pub keys: Vec<String>,
    pub aggs: Vec<AggSpec>,
    pub watermark: Millis,
    pub allowed_lateness: Millis,
    /// Sessions longer than this are split: an event more than `max_duration` after the start of
    /// its (split) session starts the next one.
    pub max_duration: Option<Millis>,
    pub max_key_bytes: usize,
}

impl SessionConfig {
    pub fn new(gap: Millis, time: impl Into<String>, keys: Vec<String>, aggs: Vec<AggSpec>) -> Self {
        SessionConfig {
            gap,
            time: time.into(),
            keys,
            aggs,
            watermark: 0,
            allowed_lateness: 0,
            max_duration: None,
            max_key_bytes: DEFAULT_MAX_KEY_BYTES,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.gap <= 0 {
            return Err(Error::config(format!("session gap must be positive, got {} ms", self.gap)));
        }
        if self.gap > 366 * 86_400_000 {
            return Err(Error::config(format!("session gap of {} ms is more than a year", self.gap)));
        }
        if self.watermark < 0 || self.allowed_lateness < 0 {
            return Err(Error::config("watermark and allowed_lateness must not be negative"));
        }
        if let Some(max) = self.max_duration {
            if max <= 0 {
                return Err(Error::config(format!("max_duration must be positive, got {max} ms")));
            }
        }
        let mut names: Vec<&str> = vec!["session_id", "session_start", "session_end", "duration_ms"];
        for key in &self.keys {
            if key == &self.time {
                return Err(Error::config(format!("column {key:?} is both the time column and a key")));
            }
            if names.contains(&key.as_str()) {
                return Err(Error::config(format!("output column {key:?} appears twice")));
            }
            names.push(key);
        }
        for agg in &self.aggs {
            agg.validate()?;
            if names.contains(&agg.name.as_str()) {
                return Err(Error::config(format!("aggregate name {:?} clashes with another output column", agg.name)));
            }
            names.push(&agg.name);
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStats {
    pub pushes: u64,
    pub rows_in: u64,
    pub rows_rejected: u64,
    pub rows_late: u64,
    pub sessions_emitted: u64,
    pub sessions_merged: u64,
}

/// One event kept whole, for sessions that may be split by `max_duration` when they close.
#[derive(Clone, Debug)]
struct KeptEvent {
    time: Millis,
    seq: u64,
    values: Vec<OwnedValue>,
}

/// A `KeptEvent` as snapshots hold it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedKeptEvent {
    time: Millis,
    seq: u64,
    values: Vec<SavedValue>,
}

/// A session as snapshots hold it (the format of the first release, so older snapshots restore).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedSession {
    uid: u64,
    start: Millis,
    end: Millis,
    accs: SavedAccs,
    kept: Vec<SavedKeptEvent>,
}

pub struct Sessionizer {
    config: SessionConfig,
    keys: KeyEncoder,
    aggs: AggSet,
    max_time: Option<Millis>,
    finished: bool,
    /// Keys are split over the shards by hash; empty until the key type is known.
    shards: Vec<Shard>,
    threads: usize,
    side: SideOutputs,
    stats: SessionStats,
    /// Each shard's rows of a push, and each thread's split of them, kept between pushes: fresh
    /// megabyte-sized buffers every push cost page faults and zeroing.
    work: Vec<Work>,
    splits: Vec<RwLock<Split>>,
    null_keys: NullKeys,
}

/// What a row whose key is null (in any key column) is: a reject (an event without a user is not
/// a user's visit), or one more key of its own, as SQL's GROUP BY and Spark's groupBy have it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NullKeys {
    #[default]
    Reject,
    Group,
}

impl NullKeys {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "reject" => Ok(NullKeys::Reject),
            "group" => Ok(NullKeys::Group),
            other => Err(Error::config(format!("null_keys must be \"reject\" or \"group\", got {other:?}"))),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct State {
    config: SessionConfig,
    key_fields: Option<Vec<Field>>,
    aggs: AggSetState,
    max_time: Option<Millis>,
    finished: bool,
    /// Open sessions by row-encoded key, sorted by key.
    open: Vec<(Vec<u8>, Vec<SavedSession>)>,
    next_uid: u64,
    tombstones: Vec<Vec<u8>>,
    tombstones_at: Millis,
    side: SideState,
    stats: SessionStats,
}

const SNAPSHOT_TAG: &[u8; 4] = b"FSSS";

/// The watermark before an event when there is none yet (no accepted event so far). A real one
/// never reaches it: event times are checked to lie far inside the i64 range.
pub(super) const NO_WATERMARK: Millis = Millis::MIN;

/// Each thread of a push gets at least this many rows: starting a thread costs more than fewer save.
const MIN_ROWS_PER_THREAD: usize = 8_192;

/// Stable 64-bit id of a session: FNV-1a over the encoded key and the start time. The same input
/// gives the same ids whatever the batch cuts, process or platform.
pub fn session_id(key: &[u8], start: Millis) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key.iter().chain(start.to_le_bytes().iter()) {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

/// `work` on every job, results in job order, on at most `threads` threads (see
/// [`on_thread_groups`]).
fn on_threads<J: Send, R: Send>(jobs: &mut [J], threads: usize, work: impl Fn(&mut J) -> R + Sync, results: &mut Vec<R>) {
    on_thread_groups(jobs, threads, |_, group| group.iter_mut().map(&work).collect(), results);
}

/// How many contiguous groups [`on_thread_groups`] makes of `jobs` jobs for `threads` threads.
fn thread_groups(jobs: usize, threads: usize) -> usize {
    jobs.div_ceil(jobs.div_ceil(threads.max(1)).max(1))
}

/// `work(g, group)` on each of the [`thread_groups`] contiguous groups of `jobs`, results in job
/// order: the first group on the calling thread, the others on scoped threads started for this
/// call (nothing outlives it, so a process may fork between pushes). All groups run at once, so
/// they may wait for one another.
fn on_thread_groups<J: Send, R: Send>(jobs: &mut [J], threads: usize, work: impl Fn(usize, &mut [J]) -> Vec<R> + Sync, results: &mut Vec<R>) {
    if jobs.is_empty() {
        return;
    }
    let per_group = jobs.len().div_ceil(thread_groups(jobs.len(), threads));
    let mut groups = jobs.chunks_mut(per_group);
    let first = groups.next().expect("at least one job");
    let work = &work;
    std::thread::scope(|scope| {
        let others: Vec<_> = groups.enumerate().map(|(g, group)| scope.spawn(move || work(g + 1, group))).collect();
        results.extend(work(0, first));
        for handle in others {
            match handle.join() {
                Ok(part) => results.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
}


/// The largest time (None: no rows) when every time is non-null and a plausible event time
/// (see `check_event_time`); otherwise the rows must be checked one by one.
fn max_of_valid_times(times: &Int64Array) -> Option<Option<Millis>> {
    let values = times.values();
    let (lo, hi) = min_max(values.iter().copied());
    let valid = times.null_count() == 0 && (values.is_empty() || (lo >= MIN_EVENT_TIME && hi <= MAX_EVENT_TIME));
    valid.then_some((!values.is_empty()).then_some(hi))
}

/// What a shard needs to find its rows of a push and the watermark before each: the state before it.
#[derive(Clone, Copy)]
struct Route {
    max_time: Option<Millis>,
    finished: bool,
    /// The watermark delay.
    delay: Millis,
}

impl Route {
    /// Shard `me`'s accepted rows (all rows when `accepted` is None) into `work`, in arrival
    /// order, with the watermark before each: the running maximum of all accepted times before
    /// it, whichever shard owns them (a late event is behind it, so never moves it).
    fn route(&self, batch: &Batch<'_>, accepted: Option<&[u32]>, n: usize, me: usize, shards: usize, work: &mut Work) {
        work.rows.clear();
        work.watermarks.clear();
        work.hashes.clear();
        // Room for every row: `scan` writes each candidate and keeps it only if it is this shard's.
        work.rows.reserve(n);
        work.watermarks.reserve(n);
        match batch.keys {
            _ if shards == 1 => self.scan(batch.times, accepted, n, work, |_| true),
            KeySource::Ints(column) => self.scan(batch.times, accepted, n, work, |row| {
                IntKeys::shard_of_value(column.is_valid(row).then(|| column.value(row)), shards) == me
            }),
            KeySource::Strs { hashes, .. } => self.scan(batch.times, accepted, n, work, |row| shard_of_hash(hashes[row], shards) == me),
            KeySource::Bytes(Some(rows)) => self.scan(batch.times, accepted, n, work, |row| shard_of_bytes(rows.row(row).data(), shards) == me),
            KeySource::Bytes(None) => self.scan(batch.times, accepted, n, work, |_| me == 0),
        }
    }

    /// The watermark once `max_time` is the largest accepted time (`Millis::MIN`: no event yet).
    #[inline]
    fn watermark_after(&self, max_time: Millis) -> Millis {
        match max_time {
            _ if self.finished => Millis::MAX,
            Millis::MIN => NO_WATERMARK,
            max => max - self.delay,
        }
    }

    /// Shard `me`'s rows from every chunk's [`Split`], in arrival order, with the watermark before
    /// each (as `route` gives them) and their key hashes.
    fn gather(&self, splits: &[&Split], me: usize, work: &mut Work) {
        work.rows.clear();
        work.watermarks.clear();
        work.hashes.clear();
        let mut before = self.max_time.unwrap_or(Millis::MIN);
        for split in splits {
            let range = split.bounds[me]..split.bounds[me + 1];
            work.rows.extend_from_slice(&split.rows[range.clone()]);
            if let Some(hashes) = split.hashes.get(range.clone()) {
                work.hashes.extend_from_slice(hashes);
            }
            work.watermarks.extend(split.max_before[range].iter().map(|&m| self.watermark_after(before.max(m))));
            before = before.max(split.max_time);
        }
    }

    #[inline]
    fn scan(&self, times: &[Millis], accepted: Option<&[u32]>, n: usize, work: &mut Work, mine: impl Fn(usize) -> bool) {
        let mut max_time = self.max_time.unwrap_or(Millis::MIN);
        let mut watermark = self.watermark_after(max_time);
        // Branch-free: a row's shard is random, so `if mine` would mispredict every other row.
        let (rows, watermarks) = (work.rows.spare_capacity_mut(), work.watermarks.spare_capacity_mut());
        assert!(rows.len() >= n && watermarks.len() >= n, "room reserved for every row");
        let mut len = 0;
        let mut visit = |row: usize| {
            rows[len].write(row as u32);
            watermarks[len].write(watermark);
            len += usize::from(mine(row));
            // Also branch-free (about every other event is a new maximum); accepted times are
            // not negative, so this is a real watermark from the first event on.
            max_time = max_time.max(times[row]);
            if !self.finished {
                watermark = max_time - self.delay;
            }
        };
        match accepted {
            None => (0..n).for_each(&mut visit),
            Some(accepted) => accepted.iter().for_each(|&row| visit(row as usize)),
        }
        // SAFETY: the first `len` elements of both were written above, within their capacity.
        unsafe {
            work.rows.set_len(len);
            work.watermarks.set_len(len);
        }
    }
}

/// One contiguous chunk of a push's rows (integer keys without nulls), split by owning shard with
/// a counting sort: each shard's rows in arrival order, with their key hashes and the maximum time
/// of the chunk's rows before each (a shard's watermarks also need the other shards' rows).
#[derive(Default)]
struct Split {
    rows: Vec<u32>,
    /// The rows' key hashes, when kept (else empty).
    hashes: Vec<u64>,
    max_before: Vec<Millis>,
    /// Shard `s`'s entries are `bounds[s]..bounds[s + 1]`.
    bounds: Vec<usize>,
    max_time: Millis,
    /// Scratch: every row's hash and owning shard, in row order.
    row_hashes: Vec<u64>,
    owners: Vec<u32>,
}

impl Split {
    /// Split `rows` (row numbers into `keys` and `times`) among `shards`, keeping the hashes if
    /// asked to. The buffers are reused: at a steady batch size nothing is allocated or zeroed.
    fn fill(&mut self, keys: &[i64], times: &[Millis], rows: impl Iterator<Item = usize> + Clone, shards: usize, keep_hashes: bool) {
        // One vectorisable pass for the hashes and owners; owners are random, so the counting
        // sort below places rows by index rather than branching on the owner.
        self.row_hashes.clear();
        self.row_hashes.extend(rows.clone().map(|row| IntKeys::hash(keys[row])));
        self.owners.clear();
        self.owners.extend(self.row_hashes.iter().map(|&h| IntKeys::shard_of_hash(h, shards) as u32));
        self.bounds.clear();
        self.bounds.resize(shards + 1, 0);
        for &owner in &self.owners {
            self.bounds[owner as usize + 1] += 1;
        }
        for s in 0..shards {
            self.bounds[s + 1] += self.bounds[s];
        }
        let mut next = self.bounds[..shards].to_vec();
        let len = self.row_hashes.len();
        self.rows.resize(len, 0);
        self.max_before.resize(len, 0);
        self.hashes.resize(if keep_hashes { len } else { 0 }, 0);
        let mut max_time = Millis::MIN;
        for (i, (row, &owner)) in rows.zip(&self.owners).enumerate() {
            let at = next[owner as usize];
            next[owner as usize] += 1;
            self.rows[at] = row as u32;
            if keep_hashes {
                self.hashes[at] = self.row_hashes[i];
            }
            self.max_before[at] = max_time;
            max_time = max_time.max(times[row]);
        }
        self.max_time = max_time;
    }
}

/// The positions of `closed` in output order: by end, key, start (unique per session). Integer
/// keys sort compact (end, key, start, position) tuples; others sort positions, bucketed by end.
fn output_order_of(closed: &[Closed]) -> Vec<u32> {
    let int_key = |c: &Closed| match c.key {
        KeyValue::Int(v) => Some(v),
        KeyValue::Str(_) | KeyValue::Bytes(_) => None,
    };
    match closed.iter().enumerate().map(|(i, c)| int_key(c).map(|key| (c.end, key, c.start, i as u32))).collect::<Option<Vec<_>>>() {
        Some(mut order) => {
            sort_by_end(&mut order);
            order.into_iter().map(|(.., i)| i).collect()
        }
        None => {
            let mut order: Vec<u32> = (0..closed.len() as u32).collect();
            bucket_sort_by(&mut order, |&i| closed[i as usize].end, |&i| output_order(&closed[i as usize]));
            order
        }
    }
}

/// The sessions a shard closed (in closing order), their output order (positions in
/// `sessions`) and their output batch in that order, built on the shard's thread.
struct ClosedRun {
    sessions: Vec<Closed>,
    order: Vec<u32>,
    batch: RecordBatch,
}

/// Close the sessions of `shard` due at watermark `wm`, with their output batch.
fn close_run(shard: &mut Shard, wm: Millis, output: Output<'_>) -> Result<ClosedRun> {
    let mut sessions = Vec::new();
    shard.close_due(wm, output.config, output.aggs, &mut sessions);
    let order = output_order_of(&sessions);
    let batch = output.batch(&sessions, &order)?;
    Ok(ClosedRun { sessions, order, batch })
}

/// Sort `(end, key, start, position)` tuples by bucket of end, then the few in each bucket.
fn sort_by_end(order: &mut Vec<(Millis, Option<i64>, Millis, u32)>) {
    bucket_sort_by(order, |o| o.0, |o| *o);
}

/// Sort `items` by `key`, where `coarse(item)` orders them as `key` does but may tie: a stable
/// counting sort into about as many buckets of `coarse` values as there are items (the values
/// of a push's timers and closed sessions lie within about `gap` of each other, at most a few
/// per millisecond), then a sort of each bucket's few items.
pub(super) fn bucket_sort_by<T: Copy, K: Ord>(items: &mut Vec<T>, coarse: impl Fn(&T) -> i64, key: impl Fn(&T) -> K) {
    if items.len() < 2 {
        return;
    }
    let (lo, hi) = min_max(items.iter().map(&coarse));
    let buckets = 4 * items.len() as u64;
    let mut shift = 0;
    while (hi.abs_diff(lo) >> shift) >= buckets {
        shift += 1;
    }
    let bucket = |item: &T| coarse(item) >> shift;
    let first = lo >> shift;
    *items = counting_sorted(items, |item| (bucket(item) - first) as usize, ((hi >> shift) - first) as usize + 1);
    for run in items.chunk_by_mut(|a, b| bucket(a) == bucket(b)) {
        if run.len() > 1 {
            run.sort_unstable_by_key(&key);
        }
    }
}

/// The output order (unique per session).
fn output_order(c: &Closed) -> (Millis, &KeyValue, Millis) {
    (c.end, &c.key, c.start)
}

/// One output batch in output order from the shards' runs: a merge of their orders, then the
/// batches' rows taken in it.
fn merge_runs(mut runs: Vec<ClosedRun>, output: Output<'_>) -> Result<RecordBatch> {
    if runs.iter().filter(|run| !run.order.is_empty()).count() <= 1 {
        // One run has every row, or none has any: its batch is the output as it is.
        return match runs.into_iter().max_by_key(|run| run.order.len()) {
            Some(run) => Ok(run.batch),
            None => output.batch(&[], &[]),
        };
    }
    runs.retain(|run| !run.order.is_empty());
    let order_at = |r: usize, i: usize| output_order(&runs[r].sessions[runs[r].order[i] as usize]);
    let total = runs.iter().map(|run| run.order.len()).sum();
    let mut next = vec![0; runs.len()];
    let mut indices = Vec::with_capacity(total);
    for _ in 0..total {
        let r = (0..runs.len())
            .filter(|&r| next[r] < runs[r].order.len())
            .min_by(|&a, &b| order_at(a, next[a]).cmp(&order_at(b, next[b])))
            .expect("rows left in some run");
        indices.push((r, next[r]));
        next[r] += 1;
    }
    let batches: Vec<&RecordBatch> = runs.iter().map(|run| &run.batch).collect();
    Ok(arrow_select::interleave::interleave_record_batch(&batches, &indices)?)
}

/// How shards index keys: one integer column by value, one string or binary column by its bytes,
/// anything else by the Arrow row encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Ints,
    Strs,
    Rows,
}

/// Key types whose values fit an i64: they skip the row encoding (see `stream::intern`).
fn int_key_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32
    )
}

/// Keys' row encodings, as the encoder gave them or as the index held them.
enum KeyRows {
    Encoded(arrow_row::Rows),
    Bytes(Vec<KeyBytes>),
}

impl KeyRows {
    fn get(&self, i: usize) -> &[u8] {
        match self {
            KeyRows::Encoded(rows) => rows.row(i).data(),
            KeyRows::Bytes(bytes) => &bytes[i],
        }
    }

    fn to_vecs(&self) -> Vec<Vec<u8>> {
        match self {
            KeyRows::Encoded(rows) => rows.iter().map(|row| row.data().to_vec()).collect(),
            KeyRows::Bytes(bytes) => bytes.iter().map(|b| b.to_vec()).collect(),
        }
    }
}

/// What building output batches needs of a sessionizer, borrowed apart from its shards, so that
/// each shard's thread builds the batch of the sessions it closed.
#[derive(Clone, Copy)]
struct Output<'a> {
    config: &'a SessionConfig,
    keys: &'a KeyEncoder,
    aggs: &'a AggSet,
}

impl Output<'_> {
    /// How the shards index keys (known once the key types are).
    fn key_kind(&self) -> Option<KeyKind> {
        if self.config.keys.is_empty() {
            return Some(KeyKind::Rows);
        }
        let fields = self.keys.fields()?;
        let width_ok = |f: &Field| f.data_type().primitive_width().is_some_and(|w| w <= self.config.max_key_bytes);
        Some(match &fields[..] {
            [field] if int_key_type(field.data_type()) && width_ok(field) => KeyKind::Ints,
            [field] if matches!(field.data_type(), DataType::Utf8 | DataType::Binary) => KeyKind::Strs,
            _ => KeyKind::Rows,
        })
    }

    fn schema(&self) -> SchemaRef {
        let mut fields = self.keys.output_fields();
        fields.push(Field::new("session_id", DataType::Int64, false));
        fields.push(Field::new("session_start", timestamp_type(), false));
        fields.push(Field::new("session_end", timestamp_type(), false));
        fields.push(Field::new("duration_ms", DataType::Int64, false));
        fields.extend(self.aggs.fields());
        Arc::new(Schema::new(fields))
    }

    /// Key columns for `keys` (one kind, as the index holds them) and their row encodings.
    fn key_columns_and_bytes<'a>(&self, keys: impl ExactSizeIterator<Item = &'a KeyValue> + Clone) -> Result<(Vec<ArrayRef>, KeyRows)> {
        let column = match self.key_kind() {
            Some(KeyKind::Ints) => {
                let values = Int64Array::from_iter(keys.map(|k| match k {
                    KeyValue::Int(v) => *v,
                    _ => unreachable!("integer keys"),
                }));
                let field_type = self.keys.fields().expect("known key types")[0].data_type().clone();
                arrow_cast::cast(&values, &field_type)?
            }
            Some(KeyKind::Strs) => {
                let values = BinaryArray::from_iter(keys.map(|k| match k {
                    KeyValue::Str(v) => v.as_deref(),
                    _ => unreachable!("string keys"),
                }));
                let field_type = self.keys.fields().expect("known key types")[0].data_type().clone();
                let column: ArrayRef = match field_type {
                    // The bytes came from a string column: valid UTF-8 (checked again all the same).
                    DataType::Utf8 => Arc::new(StringArray::try_from_binary(values).map_err(|e| Error::Internal { context: "Sessionizer output".into(), message: format!("string key bytes: {e}") })?),
                    _ => Arc::new(values),
                };
                column
            }
            _ => {
                let bytes: Vec<KeyBytes> = keys
                    .map(|k| match k {
                        KeyValue::Bytes(b) => b.clone(),
                        _ => unreachable!("byte keys"),
                    })
                    .collect();
                let columns = if self.config.keys.is_empty() { Vec::new() } else { self.keys.decode(bytes.iter().map(|b| &b[..]))? };
                return Ok((columns, KeyRows::Bytes(bytes)));
            }
        };
        let encoded = self.keys.convert(std::slice::from_ref(&column))?;
        Ok((vec![column], KeyRows::Encoded(encoded)))
    }

    /// Closed sessions (in output order) as an output batch.
    fn batch(&self, closed: &[Closed], order: &[u32]) -> Result<RecordBatch> {
        let in_order = || order.iter().map(|&i| &closed[i as usize]);
        let (mut columns, key_rows) = if order.is_empty() {
            let fields = self.keys.output_fields();
            (fields.iter().map(|f| arrow_array::new_empty_array(f.data_type())).collect(), KeyRows::Bytes(Vec::new()))
        } else {
            self.key_columns_and_bytes(in_order().map(|c| &c.key))?
        };
        columns.push(Arc::new(Int64Array::from_iter_values(in_order().enumerate().map(|(i, c)| session_id(key_rows.get(i), c.start)))));
        columns.push(timestamp_column(in_order().map(|c| c.start)));
        columns.push(timestamp_column(in_order().map(|c| c.end)));
        columns.push(Arc::new(Int64Array::from_iter_values(in_order().map(|c| c.end - c.start))));
        columns.extend(self.aggs.finish(order.len(), |i| &closed[order[i] as usize].accs)?);
        let schema = self.schema();
        output_batch(&schema, columns, order.len())
    }
}

impl Sessionizer {
    pub fn new(config: SessionConfig) -> Result<Self> {
        config.validate()?;
        Ok(Sessionizer {
            keys: KeyEncoder::new(config.keys.clone()),
            aggs: AggSet::new(config.aggs.clone()),
            config,
            max_time: None,
            finished: false,
            shards: Vec::new(),
            // One by default: measured on a busy 2-core machine, a second thread cost more (CPU
            // and wall time) than it saved; `threads=` is there for spare cores.
            threads: 1,
            side: SideOutputs::new(vec![Field::new("reason", DataType::Utf8, false)]),
            stats: SessionStats::default(),
            work: Vec::new(),
            splits: Vec::new(),
            null_keys: NullKeys::default(),
        })
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn time_unit(&self) -> IntTimeUnit {
        self.aggs.time_unit
    }

    /// The unit of an integer time column (milliseconds unless told; timestamps carry their own).
    pub fn set_time_unit(&mut self, unit: IntTimeUnit) {
        self.aggs.time_unit = unit;
    }

    pub fn null_keys(&self) -> NullKeys {
        self.null_keys
    }

    /// How rows with a null key are taken from now on (see [`NullKeys`]).
    pub fn set_null_keys(&mut self, null_keys: NullKeys) {
        self.null_keys = null_keys;
    }

    /// Work on `threads` threads (keys split by hash). Results are the same for any number.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        if threads == 0 {
            return Err(Error::config("threads must be at least 1"));
        }
        if threads != self.threads && !self.shards.is_empty() {
            let state = self.state()?;
            self.threads = threads;
            self.restore_open(state.open, state.tombstones, state.tombstones_at)?;
        }
        self.threads = threads;
        Ok(())
    }

    pub fn watermark(&self) -> Option<Millis> {
        if self.finished {
            Some(Millis::MAX)
        } else {
            self.max_time.map(|t| t - self.config.watermark)
        }
    }

    /// Keys with at least one open session.
    pub fn open_keys(&self) -> usize {
        self.shards.iter().map(Shard::open_keys).sum()
    }

    pub fn open_sessions(&self) -> usize {
        self.shards.iter().map(Shard::open_sessions).sum()
    }

    /// How the shards index keys (known once the key types are).
    fn key_kind(&self) -> Option<KeyKind> {
        self.output().key_kind()
    }

    /// Create the shards once the key type is known.
    fn ensure_shards(&mut self) {
        if self.shards.is_empty() {
            if let Some(kind) = self.key_kind() {
                let index = || match kind {
                    KeyKind::Ints => KeyIndex::ints(),
                    KeyKind::Strs => KeyIndex::strs(),
                    KeyKind::Rows => KeyIndex::rows(),
                };
                self.shards = (0..self.threads).map(|_| Shard::new(index())).collect();
            }
        }
    }

    pub fn push(&mut self, batches: &[RecordBatch]) -> Result<RecordBatch> {
        self.stats.pushes += 1;
        let bound = self.aggs.bind_all(batches, &self.config.time, &mut self.keys, false)?;
        let last = bound.len().checked_sub(1);
        let mut closed = None;
        for (i, (mut bound, row_offset)) in bound.into_iter().enumerate() {
            self.ensure_shards();
            if self.key_kind() == Some(KeyKind::Rows) && !bound.key_columns.is_empty() {
                bound.keys = Some(self.keys.convert(&bound.key_columns)?);
            }
            // The last batch's shards close their due sessions on the threads that applied it.
            closed = self.apply(bound, row_offset, Some(i) == last)?;
        }
        let out = match closed {
            Some(closed) => self.emit(closed),
            None => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                self.close_due((rows / MIN_ROWS_PER_THREAD).max(1))
            }
        };
        if self.aggs.wants_sweep() {
            let shards = &self.shards;
            self.aggs.sweep(|live| {
                for shard in shards {
                    for (_, sessions) in shard.open() {
                        for (session, kept) in sessions {
                            for (a, acc) in session.accs.iter().enumerate() {
                                acc.value_ids(&mut |id| live(a, id));
                            }
                            for event in kept {
                                for (a, value) in event.values.iter().enumerate() {
                                    if let OwnedValue::Id(id, _) = value {
                                        live(a, *id);
                                    }
                                }
                            }
                        }
                    }
                }
            });
        }
        out
    }

    pub fn flush(&mut self) -> Result<RecordBatch> {
        self.finished = true;
        let open = self.open_sessions();
        self.close_due((open / MIN_ROWS_PER_THREAD).max(1))
    }

    /// Moves the watermark to at least `watermark`, as an event at `watermark` + the watermark
    /// delay would, without adding an event: for an outside clock (Spark's watermark, an idle
    /// source). Returns the sessions that closed.
    pub fn advance_watermark(&mut self, watermark: Millis) -> Result<RecordBatch> {
        if !self.finished {
            let time = watermark.saturating_add(self.config.watermark);
            self.max_time = Some(self.max_time.map_or(time, |m| m.max(time)));
        }
        self.close_due((self.open_sessions() / MIN_ROWS_PER_THREAD).max(1))
    }

    /// The watermark at which the next open session closes (`end + gap + allowed_lateness`).
    pub fn next_close(&self) -> Option<Millis> {
        let delay = self.config.gap + self.config.allowed_lateness;
        self.shards
            .iter()
            .flat_map(Shard::open)
            .flat_map(|(_, sessions)| sessions.into_iter().map(|(s, _)| s.end))
            .min()
            .map(|end| end + delay)
    }

    pub fn take_late(&mut self) -> Vec<RecordBatch> {
        self.side.take_late()
    }

    pub fn take_rejects(&mut self) -> Vec<RecordBatch> {
        self.side.take_rejects()
    }

    /// Apply one batch; with `close`, also close what the watermark after it allows (each shard's
    /// closed sessions, with their output batch).
    fn apply(&mut self, p: BoundBatch<'_>, row_offset: i64, close: bool) -> Result<Option<Vec<ClosedRun>>> {
        let n = p.batch.num_rows();
        self.side.saw_input(p.batch);
        let seq_base = self.stats.rows_in;
        self.stats.rows_in += n as u64;
        let kind = self.key_kind();
        let int_column = match (&p.key_columns[..], kind) {
            ([column], Some(KeyKind::Ints)) => Some(arrow_cast::cast(column, &DataType::Int64)?.as_primitive::<Int64Type>().clone()),
            _ => None,
        };
        let shards = self.shards.len().max(1);
        // One string column: its values as they came (no row encoding), the keys over the length
        // limit, and the rows' hashes when they go to several shards.
        let (str_column, long_keys, str_hashes) = match kind {
            Some(KeyKind::Strs) => {
                let column = self.keys.raw_columns(p.batch)?.and_then(|c| c.into_iter().next()).ok_or_else(|| Error::schema("key column missing"))?;
                let long = KeyIds::key_lengths_over(&mut self.keys, p.batch, self.config.max_key_bytes)?;
                let hashes = if shards > 1 { string_hashes(&column)? } else { Vec::new() };
                (Some(column), long, hashes)
            }
            _ => (None, Vec::new(), Vec::new()),
        };
        let mut rejects = RejectCollector::default();
        let null_keys: Vec<arrow_buffer::NullBuffer> = match self.null_keys {
            NullKeys::Reject => p.key_columns.iter().filter_map(|c| c.logical_nulls()).filter(|n| n.null_count() > 0).collect(),
            NullKeys::Group => Vec::new(),
        };
        // The rows that pass the checks, in arrival order; None when all do (the usual case,
        // found for integer and string keys by one pass over the times that the compiler
        // vectorises, which also gives their maximum).
        let times = p.times.values();
        let simple_keys = null_keys.is_empty() && (int_column.is_some() || (str_column.is_some() && long_keys.is_empty()));
        let (accepted, batch_max): (Option<Vec<u32>>, Option<Millis>) = match max_of_valid_times(&p.times).filter(|_| simple_keys) {
            Some(max) => (None, max),
            None => {
                let mut rows = Vec::with_capacity(n);
                let mut long = long_keys.iter().peekable();
                for row in 0..n {
                    if null_keys.iter().any(|nulls| nulls.is_null(row)) {
                        rejects.add(row, "key is null (null_keys=\"reject\"; null_keys=\"group\" makes null one more key)".to_string());
                        continue;
                    }
                    let checked = if int_column.is_some() {
                        p.time(row, &self.config.time)
                    } else if str_column.is_some() {
                        p.time(row, &self.config.time).and_then(|t| match long.next_if(|(r, _)| *r == row) {
                            Some((_, len)) => Err(format!("key is {len} bytes long, over the limit of {} bytes", self.config.max_key_bytes)),
                            None => Ok(t),
                        })
                    } else {
                        p.time_and_key(row, &self.config.time, self.config.max_key_bytes).map(|(t, _)| t)
                    };
                    match checked {
                        Ok(_) => rows.push(row as u32),
                        Err(reason) => rejects.add(row, reason),
                    }
                }
                let max = rows.iter().map(|&r| times[r as usize]).max();
                (Some(rows), max)
            }
        };
        let before = Route { max_time: self.max_time, finished: self.finished, delay: self.config.watermark };
        if let Some(t) = batch_max {
            self.max_time = Some(self.max_time.map_or(t, |m| m.max(t)));
        }
        let batch = Batch {
            config: &self.config,
            aggs: &self.aggs,
            times,
            inputs: &p.inputs,
            keys: match (&int_column, &str_column) {
                (Some(column), _) => KeySource::Ints(column),
                (None, Some(column)) => KeySource::Strs { column, hashes: &str_hashes },
                (None, None) => KeySource::Bytes(p.keys.as_ref()),
            },
            seq_base,
        };
        let close_at = if close { self.watermark() } else { None };
        // Borrowed field by field: the shards are borrowed mutably alongside.
        let output = Output { config: &self.config, keys: &self.keys, aggs: &self.aggs };
        // A shard's part of the push once it has its rows: apply them, then close what is due.
        let apply_and_close = |shard: &mut Shard, work: &Work| {
            let applied = shard.apply(&batch, work);
            let closed = close_at.map(|wm| close_run(shard, wm, output));
            (applied, closed)
        };
        let mut work = std::mem::take(&mut self.work);
        work.resize_with(shards, Work::default);
        let threads = (n / MIN_ROWS_PER_THREAD).clamp(1, shards);
        let mut results: Vec<(Applied, Option<Result<ClosedRun>>)> = Vec::with_capacity(shards);
        let mut jobs: Vec<(usize, &mut Shard, &mut Work)> =
            self.shards.iter_mut().zip(work.iter_mut()).enumerate().map(|(i, (shard, work))| (i, shard, work)).collect();
        let accepted = accepted.as_deref();
        match batch.keys {
            // Integer keys without nulls (the usual case): every thread splits its chunk of the
            // rows by shard; once all have, each shard gathers its rows from every chunk.
            KeySource::Ints(column) if shards > 1 && column.null_count() == 0 => {
                let keys = column.values();
                let rows = accepted.map_or(n, <[u32]>::len);
                let groups = thread_groups(shards, threads);
                let per_chunk = rows.div_ceil(groups).max(1);
                // Hashes are kept for interning only where a shard's keys are not dense.
                let keep_hashes = jobs.iter().any(|(_, shard, _)| shard.index.wants_hashes());
                self.splits.resize_with(groups, RwLock::default);
                let splits = &self.splits[..groups];
                let all_split = Barrier::new(groups);
                on_thread_groups(
                    &mut jobs,
                    threads,
                    |g, group| {
                        let range = (g * per_chunk).min(rows)..((g + 1) * per_chunk).min(rows);
                        // Every thread reaches the barrier, even when its split panics (the panic
                        // is raised after it), so that no thread waits forever.
                        let split = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            // A panic in an earlier push poisoned nothing this push relies on.
                            let mut split = splits[g].write().unwrap_or_else(|poisoned| {
                                splits[g].clear_poison();
                                poisoned.into_inner()
                            });
                            match accepted {
                                None => split.fill(keys, times, range.clone(), shards, keep_hashes),
                                Some(accepted) => split.fill(keys, times, accepted[range.clone()].iter().map(|&r| r as usize), shards, keep_hashes),
                            }
                        }));
                        all_split.wait();
                        if let Err(panic) = split {
                            std::panic::resume_unwind(panic);
                        }
                        // A split that panicked this push poisoned its lock: no shard works on it.
                        let splits: Vec<_> = splits.iter().map(|s| s.read().expect("a thread's split of the rows failed")).collect();
                        let splits: Vec<&Split> = splits.iter().map(|s| &**s).collect();
                        group
                            .iter_mut()
                            .map(|(me, shard, work)| {
                                before.gather(&splits, *me, work);
                                apply_and_close(shard, work)
                            })
                            .collect()
                    },
                    &mut results,
                );
            }
            // Otherwise each shard picks its own rows (on its own thread): no serial routing step.
            _ => on_threads(
                &mut jobs,
                threads,
                |(me, shard, work)| {
                    before.route(&batch, accepted, n, *me, shards, work);
                    apply_and_close(shard, work)
                },
                &mut results,
            ),
        }
        drop(jobs);
        self.work = work;
        let mut late: Vec<(u32, String)> = Vec::new();
        let mut parts = Vec::new();
        for (a, closed) in results {
            self.stats.sessions_merged += a.merged;
            late.extend(a.late);
            parts.extend(closed);
        }
        late.sort_unstable_by_key(|(row, _)| *row);
        self.stats.rows_rejected += rejects.len() as u64;
        self.stats.rows_late += late.len() as u64;
        if let Some(rejected) = rejects.finish(p.batch, row_offset)? {
            self.side.rejects.push(rejected);
        }
        if !late.is_empty() {
            let (rows, reasons): (Vec<u32>, Vec<String>) = late.into_iter().unzip();
            let reasons: ArrayRef = Arc::new(StringArray::from(reasons));
            self.side.late.push(take_rows_with(p.batch, &rows, vec![(Field::new("reason", DataType::Utf8, false), reasons)])?);
        }
        close.then(|| parts.into_iter().collect()).transpose()
    }

    /// Close what the watermark allows, on at most `threads` threads.
    fn close_due(&mut self, threads: usize) -> Result<RecordBatch> {
        let mut runs = Vec::new();
        if let Some(wm) = self.watermark() {
            let output = Output { config: &self.config, keys: &self.keys, aggs: &self.aggs };
            let threads = threads.min(self.shards.len());
            let mut results: Vec<Result<ClosedRun>> = Vec::with_capacity(threads);
            let mut jobs: Vec<&mut Shard> = self.shards.iter_mut().collect();
            on_threads(&mut jobs, threads, |shard| close_run(shard, wm, output), &mut results);
            runs = results.into_iter().collect::<Result<_>>()?;
        }
        self.emit(runs)
    }

    /// The shards' closed sessions as one output batch, in output order.
    fn emit(&mut self, runs: Vec<ClosedRun>) -> Result<RecordBatch> {
        let batch = merge_runs(runs, self.output())?;
        self.stats.sessions_emitted += batch.num_rows() as u64;
        Ok(batch)
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output().schema()
    }

    fn output(&self) -> Output<'_> {
        Output { config: &self.config, keys: &self.keys, aggs: &self.aggs }
    }

    /// Key columns for `keys` (one kind, as the index holds them) and their row encodings.
    fn key_columns_and_bytes<'a>(&self, keys: impl ExactSizeIterator<Item = &'a KeyValue> + Clone) -> Result<(Vec<ArrayRef>, KeyRows)> {
        self.output().key_columns_and_bytes(keys)
    }

    /// Keys from their row encodings, as the index holds them.
    fn key_values(&self, encoded: &[Vec<u8>]) -> Result<Vec<KeyValue>> {
        let kind = self.key_kind();
        if kind == Some(KeyKind::Rows) || kind.is_none() {
            return Ok(encoded.iter().map(|b| KeyValue::Bytes(KeyBytes::from_slice(b))).collect());
        }
        let columns = self.keys.decode(encoded.iter().map(|b| &b[..]))?;
        if kind == Some(KeyKind::Strs) {
            let binary = arrow_cast::cast(&columns[0], &DataType::Binary)?;
            return Ok(binary.as_binary::<i32>().iter().map(|v| KeyValue::Str(v.map(KeyBytes::from_slice))).collect());
        }
        let column = arrow_cast::cast(&columns[0], &DataType::Int64)?;
        let ints = column.as_primitive::<Int64Type>();
        Ok(ints.iter().map(KeyValue::Int).collect())
    }

    /// Open sessions and tombstones as a snapshot holds them (independent of the shards).
    fn state(&self) -> Result<State> {
        let mut keys: Vec<KeyValue> = Vec::new();
        let mut sessions: Vec<Vec<SavedSession>> = Vec::new();
        for shard in &self.shards {
            for (key, open) in shard.open() {
                keys.push(key);
                sessions.push(
                    open.into_iter()
                        .map(|(s, kept)| {
                            let kept = kept
                                .iter()
                                .map(|e| Ok(SavedKeptEvent { time: e.time, seq: e.seq, values: self.aggs.save_values(&e.values)? }))
                                .collect::<Result<_>>()?;
                            Ok(SavedSession { uid: s.uid, start: s.start, end: s.end, accs: self.aggs.save_accs(&s.accs)?, kept })
                        })
                        .collect::<Result<_>>()?,
                );
            }
        }
        let key_bytes = if keys.is_empty() { Vec::new() } else { self.key_columns_and_bytes(keys.iter())?.1.to_vecs() };
        let mut open: Vec<(Vec<u8>, Vec<SavedSession>)> = key_bytes.into_iter().zip(sessions).collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        // Uids are numbered afresh in key order (restore renumbers them per shard anyway), so the
        // same state gives the same bytes whatever the shards or an earlier restore did.
        let mut next_uid = 0;
        for session in open.iter_mut().flat_map(|(_, sessions)| sessions.iter_mut()) {
            session.uid = next_uid;
            next_uid += 1;
        }
        let tombstone_keys: Vec<KeyValue> = self.shards.iter().flat_map(|s| s.tombstones.iter().map(|&id| s.index.key(id))).collect();
        let mut tombstones: Vec<Vec<u8>> = if tombstone_keys.is_empty() {
            Vec::new()
        } else {
            self.key_columns_and_bytes(tombstone_keys.iter())?.1.to_vecs()
        };
        tombstones.sort();
        // Only meaningful with tombstones (shards move it at every close, tombstone or not).
        let tombstones_at = match tombstones.is_empty() {
            true => Millis::MIN,
            false => self.shards.iter().filter(|s| !s.tombstones.is_empty()).map(|s| s.tombstones_at).max().unwrap_or(Millis::MIN),
        };
        Ok(State {
            config: self.config.clone(),
            key_fields: self.keys.fields().cloned(),
            aggs: self.aggs.state(),
            max_time: self.max_time,
            finished: self.finished,
            open,
            next_uid,
            tombstones,
            tombstones_at,
            side: self.side.state()?,
            stats: self.stats.clone(),
        })
    }

    /// Rebuild the shards from a snapshot's open sessions and tombstones.
    fn restore_open(&mut self, open: Vec<(Vec<u8>, Vec<SavedSession>)>, tombstones: Vec<Vec<u8>>, tombstones_at: Millis) -> Result<()> {
        self.shards.clear();
        self.ensure_shards();
        if self.shards.is_empty() {
            if !open.is_empty() || !tombstones.is_empty() {
                return Err(Error::snapshot("Sessionizer snapshot holds sessions but no key types"));
            }
            return Ok(());
        }
        let close_delay = self.config.gap + self.config.allowed_lateness;
        let n = self.shards.len();
        let (encoded, sessions): (Vec<Vec<u8>>, Vec<Vec<SavedSession>>) = open.into_iter().unzip();
        for (key, saved) in self.key_values(&encoded)?.into_iter().zip(sessions) {
            let mut restored = Vec::with_capacity(saved.len());
            for s in saved {
                let accs = self.aggs.restore_accs(&s.accs)?;
                let kept = s
                    .kept
                    .iter()
                    .map(|e| Ok(KeptEvent { time: e.time, seq: e.seq, values: self.aggs.restore_values(&e.values)? }))
                    .collect::<Result<_>>()?;
                restored.push((Session { uid: s.uid, start: s.start, end: s.end, accs }, kept));
            }
            self.shards[shard_of(&key, n)].restore_key(&key, restored, close_delay);
        }
        for shard in &mut self.shards {
            shard.tombstones_at = tombstones_at;
        }
        for key in self.key_values(&tombstones)? {
            self.shards[shard_of(&key, n)].restore_tombstone(&key, tombstones_at);
        }
        Ok(())
    }

    pub fn snapshot(&self) -> Result<Vec<u8>> {
        snapshot::encode(SNAPSHOT_TAG, &(self.state()?, self.null_keys, self.aggs.time_unit))
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        // The settings follow the state. Snapshots from before them end with the state: their
        // null keys were grouped, their integer times milliseconds.
        let (state, null_keys, time_unit): (State, NullKeys, IntTimeUnit) = match snapshot::decode(SNAPSHOT_TAG, "Sessionizer", bytes) {
            Ok(all) => all,
            Err(error) => match snapshot::decode::<State>(SNAPSHOT_TAG, "Sessionizer", bytes) {
                Ok(state) => (state, NullKeys::Group, IntTimeUnit::Millis),
                Err(_) => return Err(error),
            },
        };
        let mut s = Sessionizer::new(state.config)?;
        s.null_keys = null_keys;
        s.keys = KeyEncoder::from_fields(s.config.keys.clone(), state.key_fields)?;
        s.aggs = AggSet::restore(s.config.aggs.clone(), state.aggs)?;
        s.aggs.time_unit = time_unit;
        s.max_time = state.max_time;
        s.finished = state.finished;
        s.restore_open(state.open, state.tombstones, state.tombstones_at)?;
        s.side.restore(state.side)?;
        s.stats = state.stats;
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
