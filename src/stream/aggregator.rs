//! The event-time window aggregator: rows in, closed windows out, with a bounded-out-of-orderness
//! watermark, allowed lateness, a late side output and a rejects side output.
//!
//! Rows are processed in arrival order and the watermark moves per row, so whether a row is late
//! never depends on how the stream was cut into batches. Closing is done at the end of each batch;
//! a window that is due but not yet emitted cannot receive rows (they would be late), so the
//! concatenated output is the same for every cut.

mod panes;

use super::accs::AccStore;
use super::aggregate::{Acc, AggSpec, SavedAccs};
use super::aggset::{AggSet, AggSetState, BoundBatch};
use super::intern::columns::{KeyIds, Rows};
use super::intern::min_max;
use super::keys::{KeyEncoder, DEFAULT_MAX_KEY_BYTES};
use super::output::{iso, output_batch, take_rows_with, timestamp_column, timestamp_type, RejectCollector, SideOutputs, SideState};
use super::snapshot;
use super::window::WindowSpec;
use crate::error::{Error, Result};
use crate::time::{check_event_time, IntTimeUnit, Millis};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use panes::Panes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregatorConfig {
    pub window: WindowSpec,
    /// Event-time column: int64 milliseconds or an Arrow timestamp of any unit.
    pub time: String,
    /// Key columns; empty for one global group.
    pub keys: Vec<String>,
    pub aggs: Vec<AggSpec>,
    /// Bound on out-of-orderness: the watermark trails the largest event time by this much.
    pub watermark: Millis,
    /// How long after the watermark passes a window's end the window still accepts rows.
    pub allowed_lateness: Millis,
    pub max_key_bytes: usize,
}

impl AggregatorConfig {
    pub fn new(window: WindowSpec, time: impl Into<String>, keys: Vec<String>, aggs: Vec<AggSpec>) -> Self {
        AggregatorConfig {
            window,
            time: time.into(),
            keys,
            aggs,
            watermark: 0,
            allowed_lateness: 0,
            max_key_bytes: DEFAULT_MAX_KEY_BYTES,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.window.validate()?;
        if self.watermark < 0 {
            return Err(Error::config(format!("watermark must not be negative, got {} ms", self.watermark)));
        }
        if self.allowed_lateness < 0 {
            return Err(Error::config(format!("allowed_lateness must not be negative, got {} ms", self.allowed_lateness)));
        }
        if self.time.is_empty() {
            return Err(Error::config("time column name must not be empty"));
        }
        let mut names: Vec<&str> = vec!["window_start", "window_end"];
        for key in &self.keys {
            if key == &self.time {
                return Err(Error::config(format!("column {key:?} is both the time column and a key")));
            }
            if names.contains(&key.as_str()) {
                return Err(Error::config(format!("output column {key:?} appears twice (key columns and window columns must have distinct names)")));
            }
            names.push(key);
        }
        for agg in &self.aggs {
            agg.validate()?;
            if names.contains(&agg.name.as_str()) {
                return Err(Error::config(format!(
                    "aggregate name {:?} clashes with another output column (keys, window_start, window_end, aggregates)",
                    agg.name
                )));
            }
            names.push(&agg.name);
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregatorStats {
    pub pushes: u64,
    pub rows_in: u64,
    pub rows_rejected: u64,
    /// Rows that were late for at least one of their windows.
    pub rows_late: u64,
    /// (row, window) pairs dropped as late: one late-output row each.
    pub late_assignments: u64,
    pub windows_emitted: u64,
}

/// A window of the snapshot format before panes (version 1 snapshots still restore).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Window {
    start: Millis,
    accs: SavedAccs,
}

pub struct WindowAggregator {
    config: AggregatorConfig,
    keys: KeyEncoder,
    key_ids: KeyIds,
    aggs: AggSet,
    /// Accumulators by slot, once the aggregates' types are known (first batch).
    store: Option<AccStore>,
    panes: Panes,
    max_time: Option<Millis>,
    /// Set by `flush`: end of input, every later row is late.
    finished: bool,
    /// Every window ending at or before this has been emitted (the limit of the last close).
    closed_until: Millis,
    side: SideOutputs,
    stats: AggregatorStats,
    scratch: Scratch,
    /// Keys found without state, to release in bulk (see `retire_keys`).
    retired: Vec<u32>,
}

/// Keys without state are kept this many at least before they are released.
const MIN_RETIRED: usize = 4096;

/// Buffers reused between batches.
#[derive(Default)]
struct Scratch {
    accepted: Vec<u32>,
    ids: Vec<u32>,
    rows: Vec<u32>,
    slots: Vec<u32>,
    /// Per key id: whether it waits in `retired`.
    retired_mark: Vec<bool>,
    /// Per key rank, while a hopping window is assembled: its output slot (`NO_SLOT`: none yet),
    /// key id, and whether the slot is a fresh one merging several entries.
    window_slots: Vec<(u32, u32, bool)>,
}

const NO_SLOT: u32 = u32::MAX;

#[derive(Serialize, Deserialize)]
struct State {
    config: AggregatorConfig,
    key_fields: Option<Vec<Field>>,
    aggs: AggSetState,
    max_time: Option<Millis>,
    finished: bool,
    /// Open panes by index, each with its keys (Arrow row encoding, sorted) and accumulators.
    panes: Vec<(i64, Vec<Entry>)>,
    /// Window start -> keys and accumulators taken apart from the panes.
    extras: Vec<(Millis, Vec<Entry>)>,
    side: SideState,
    stats: AggregatorStats,
}

/// The state as version 1 snapshots (one entry per key and window) hold it.
#[derive(Serialize, Deserialize)]
struct WindowsState {
    config: AggregatorConfig,
    key_fields: Option<Vec<Field>>,
    aggs: AggSetState,
    max_time: Option<Millis>,
    finished: bool,
    open: Vec<(Vec<u8>, Vec<Window>)>,
    side: SideState,
    stats: AggregatorStats,
}

/// A key (Arrow row encoding) and its accumulators, as snapshots hold them.
type Entry = (Vec<u8>, SavedAccs);

const SNAPSHOT_TAG: &[u8; 4] = b"FSWP";
const WINDOWS_SNAPSHOT_TAG: &[u8; 4] = b"FSWA";

/// Entries in key order: key ids, slots and the keys' sort keys.
struct Run<'a> {
    ids: &'a [u32],
    slots: &'a [u32],
    sort_keys: &'a [u128],
}

/// Calls `out(key, slot)` for every entry of the sorted `runs`, in key order (entries of equal
/// keys one after the other): a k-way merge over a heap of the runs' heads.
fn merge_runs(runs: &[Run<'_>], keys: &KeyIds, mut out: impl FnMut(u32, u32)) {
    let mut heads: Vec<(u128, usize, usize)> =
        runs.iter().enumerate().filter(|(_, run)| !run.ids.is_empty()).map(|(r, run)| (run.sort_keys[0], r, 0)).collect();
    let exact = keys.sort_key_is_exact();
    let before = |a: &(u128, usize, usize), b: &(u128, usize, usize)| {
        let by_key = a.0.cmp(&b.0);
        let by_key = if exact { by_key } else { by_key.then_with(|| keys.cmp(runs[a.1].ids[a.2], runs[b.1].ids[b.2])) };
        by_key.then(a.1.cmp(&b.1)) == std::cmp::Ordering::Less
    };
    // A binary min-heap by hand: the order needs `keys`, which `Ord` cannot reach.
    let sift_down = |heads: &mut Vec<(u128, usize, usize)>, mut i: usize| loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut least = i;
        if l < heads.len() && before(&heads[l], &heads[least]) {
            least = l;
        }
        if r < heads.len() && before(&heads[r], &heads[least]) {
            least = r;
        }
        if least == i {
            return;
        }
        heads.swap(i, least);
        i = least;
    };
    for i in (0..heads.len() / 2).rev() {
        sift_down(&mut heads, i);
    }
    while let Some(&(_, r, at)) = heads.first() {
        let run = &runs[r];
        out(run.ids[at], run.slots[at]);
        if at + 1 < run.ids.len() {
            heads[0] = (run.sort_keys[at + 1], r, at + 1);
        } else {
            let last = heads.len() - 1;
            heads.swap(0, last);
            heads.pop();
        }
        sift_down(&mut heads, 0);
    }
}

/// The start of the first window of `window` containing the pane of `width` starting at `pane_start`.
fn first_window_of_pane(window: &WindowSpec, width: Millis, pane_start: Millis) -> Millis {
    window.last_start(pane_start + width - window.size() + window.step() - 1)
}

fn gcd(a: Millis, b: Millis) -> Millis {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl WindowAggregator {
    pub fn new(config: AggregatorConfig) -> Result<Self> {
        config.validate()?;
        let window = config.window;
        Ok(WindowAggregator {
            keys: KeyEncoder::new(config.keys.clone()),
            key_ids: KeyIds::Unknown,
            aggs: AggSet::new(config.aggs.clone()),
            store: None,
            panes: Panes::new(gcd(window.size(), window.step()), window.offset()),
            config,
            max_time: None,
            finished: false,
            closed_until: Millis::MIN,
            side: SideOutputs::new(vec![
                Field::new("window_start", timestamp_type(), false),
                Field::new("window_end", timestamp_type(), false),
                Field::new("reason", DataType::Utf8, false),
            ]),
            stats: AggregatorStats::default(),
            scratch: Scratch::default(),
            retired: Vec::new(),
        })
    }

    pub fn config(&self) -> &AggregatorConfig {
        &self.config
    }

    pub fn time_unit(&self) -> IntTimeUnit {
        self.aggs.time_unit
    }

    /// The unit of an integer time column (milliseconds unless told; timestamps carry their own).
    pub fn set_time_unit(&mut self, unit: IntTimeUnit) {
        self.aggs.time_unit = unit;
    }

    pub fn stats(&self) -> &AggregatorStats {
        &self.stats
    }

    /// Current watermark: None before the first row, `i64::MAX` after `flush`.
    pub fn watermark(&self) -> Option<Millis> {
        if self.finished {
            Some(Millis::MAX)
        } else {
            self.max_time.map(|t| t - self.config.watermark)
        }
    }

    /// Number of open (key, pane) entries held, plus rows held for single hopping windows; for
    /// tumbling windows, the (key, window) pairs open.
    pub fn open_windows(&self) -> usize {
        self.panes.len()
    }

    /// Apply `batches` in order; returns the windows they closed.
    pub fn push(&mut self, batches: &[RecordBatch]) -> Result<RecordBatch> {
        self.stats.pushes += 1;
        for (bound, row_offset) in self.aggs.bind_all(batches, &self.config.time, &mut self.keys, false)? {
            self.apply(bound, row_offset)?;
        }
        let out = self.close_due();
        if self.aggs.wants_sweep() {
            let store = self.store.as_ref();
            self.aggs.sweep(|live| {
                if let Some(store) = store {
                    store.for_each_value_id(live);
                }
            });
        }
        out
    }

    /// End of input: close and return every open window. Rows pushed afterwards are late.
    pub fn flush(&mut self) -> Result<RecordBatch> {
        self.finished = true;
        self.close_due()
    }

    /// Moves the watermark to at least `watermark`, as an event at `watermark` + the watermark
    /// delay would, without adding an event: for an outside clock (Spark's watermark, an idle
    /// source). Returns the windows that closed.
    pub fn advance_watermark(&mut self, watermark: Millis) -> Result<RecordBatch> {
        if !self.finished {
            let time = watermark.saturating_add(self.config.watermark);
            self.max_time = Some(self.max_time.map_or(time, |m| m.max(time)));
        }
        self.close_due()
    }

    /// The start of the first window containing pane `index` (windows of `config.window`).
    fn first_window_of_pane(&self, index: i64) -> Millis {
        first_window_of_pane(&self.config.window, self.panes.width, self.panes.start_of(index))
    }

    /// The first window not emitted yet that holds any state: its start.
    fn next_window_with_state(&self) -> Option<Millis> {
        let window = &self.config.window;
        let after = if self.closed_until == Millis::MIN {
            Millis::MIN
        } else {
            window.last_start(self.closed_until - window.size() + window.step())
        };
        let from_panes = self.panes.open.front().map(|p| self.first_window_of_pane(p.index).max(after));
        let from_extras = self.panes.extras.keys().next().copied();
        match (from_panes, from_extras) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The watermark at which the next open window closes (`end + allowed_lateness`).
    pub fn next_close(&self) -> Option<Millis> {
        self.next_window_with_state()
            .map(|start| (start + self.config.window.size()).saturating_add(self.config.allowed_lateness))
    }

    pub fn take_late(&mut self) -> Vec<RecordBatch> {
        self.side.take_late()
    }

    pub fn take_rejects(&mut self) -> Vec<RecordBatch> {
        self.side.take_rejects()
    }

    /// The rows of `p` with a usable time and key (rejecting the others with the reason).
    fn accept_rows(&mut self, p: &BoundBatch<'_>, rejects: &mut RejectCollector) -> Result<()> {
        let n = p.batch.num_rows();
        let accepted = &mut self.scratch.accepted;
        accepted.clear();
        let long = KeyIds::key_lengths_over(&mut self.keys, p.batch, self.config.max_key_bytes)?;
        let (lo, hi) = min_max(p.times.values().iter().copied());
        if p.times.null_count() == 0 && long.is_empty() && (n == 0 || check_event_time(lo).is_none() && check_event_time(hi).is_none()) {
            accepted.extend(0..n as u32);
            return Ok(());
        }
        let mut long = long.into_iter().peekable();
        for row in 0..n {
            let too_long = match long.peek() {
                Some(&(r, len)) if r == row => {
                    long.next();
                    Some(len)
                }
                _ => None,
            };
            match (p.time(row, &self.config.time), too_long) {
                (Err(reason), _) => rejects.add(row, reason),
                (Ok(_), Some(len)) => rejects.add(row, format!("key is {len} bytes long, over the limit of {} bytes", self.config.max_key_bytes)),
                (Ok(_), None) => accepted.push(row as u32),
            }
        }
        Ok(())
    }

    fn apply(&mut self, p: BoundBatch<'_>, row_offset: i64) -> Result<()> {
        let n = p.batch.num_rows();
        self.side.saw_input(p.batch);
        self.stats.rows_in += n as u64;
        let seq_base = self.stats.rows_in - n as u64;
        let mut rejects = RejectCollector::default();
        self.accept_rows(&p, &mut rejects)?;
        let rows = if self.scratch.accepted.len() == n { Rows::All(n) } else { Rows::Some(&self.scratch.accepted) };
        self.key_ids.intern(&mut self.keys, p.batch, rows, &mut self.scratch.ids)?;
        self.panes.cover_keys(self.key_ids.id_bound());
        let store = self.store.get_or_insert_with(|| AccStore::new(self.aggs.specs(), self.aggs.value_types()));

        let window = self.config.window;
        let (size, step) = (window.size(), window.step());
        let (bound, lateness) = (self.config.watermark, self.config.allowed_lateness);
        let times = p.times.values();
        let (late_rows, late_starts, late_watermarks) = (&mut Vec::new(), &mut Vec::new(), &mut Vec::<Millis>::new());
        let mut unused_keys = Vec::new();
        let Scratch { accepted, ids, rows, slots, .. } = &mut self.scratch;
        rows.clear();
        slots.clear();
        // The previous row's pane and the end (plus lateness) of its first window: rows of one
        // pane in a row, the usual case, find both without a division.
        let (width, offset) = (self.panes.width, self.panes.offset);
        let mut pane = (0i64, Millis::MAX, Millis::MIN, Millis::MIN); // (index, start, end, first window's close)
        let mut max_time = self.max_time.unwrap_or(Millis::MIN);
        let finished = self.finished;
        for (&row, &key) in accepted.iter().zip(ids.iter()) {
            let t = times[row as usize];
            if t < pane.1 || t >= pane.2 {
                let index = (t - offset).div_euclid(width);
                let start = index * width + offset;
                let first_end = first_window_of_pane(&window, width, start) + size;
                pane = (index, start, start + width, first_end.saturating_add(lateness));
            }
            let watermark = if finished { Millis::MAX } else { max_time.saturating_sub(bound) };
            if pane.3 > watermark {
                // On time for every window it is in: into its pane.
                rows.push(row);
                slots.push(self.panes.slot(key, pane.0, store));
            } else {
                // Late for some window: one late row per closed window; the windows still open
                // (hopping only) take it apart from their panes.
                self.stats.rows_late += 1;
                let mut kept = false;
                let last = window.last_start(t);
                let mut start = if step == size { last } else { window.last_start(t - size + step) };
                while start <= last {
                    if (start + size).saturating_add(lateness) <= watermark {
                        late_rows.push(row);
                        late_starts.push(start);
                        late_watermarks.push(watermark);
                    } else {
                        let slot = self.panes.extra_slot(key, start, store);
                        store.add_rows(&p.inputs, &[row], &[slot], times, seq_base);
                        kept = true;
                    }
                    start += step;
                }
                if !kept {
                    unused_keys.push(key);
                }
            }
            max_time = max_time.max(t);
        }
        let max_time = if accepted.is_empty() { self.max_time } else { Some(max_time) };
        store.add_rows(&p.inputs, rows, slots, times, seq_base);
        self.max_time = max_time;
        self.retire_keys(unused_keys);
        self.stats.rows_rejected += rejects.len() as u64;
        self.stats.late_assignments += late_rows.len() as u64;
        if let Some(rejected) = rejects.finish(p.batch, row_offset)? {
            self.side.rejects.push(rejected);
        }
        if !late_rows.is_empty() {
            let reasons: StringArray = late_starts
                .iter()
                .zip(late_watermarks.iter())
                .map(|(&start, &wm)| {
                    let end = start + size;
                    Some(if wm == Millis::MAX {
                        format!("window [{}, {}) was closed by flush() (end of input)", iso(start), iso(end))
                    } else {
                        format!(
                            "window [{}, {}) was closed: watermark {} >= window end + allowed lateness ({lateness} ms)",
                            iso(start),
                            iso(end),
                            iso(wm)
                        )
                    })
                })
                .collect();
            let late = take_rows_with(
                p.batch,
                late_rows,
                vec![
                    (Field::new("window_start", timestamp_type(), false), timestamp_column(late_starts.iter().copied())),
                    (Field::new("window_end", timestamp_type(), false), timestamp_column(late_starts.iter().map(|s| s + size))),
                    (Field::new("reason", DataType::Utf8, false), Arc::new(reasons)),
                ],
            )?;
            self.side.late.push(late);
        }
        Ok(())
    }

    /// Emits every open window now, ordered by end then key, and forgets it, without moving the
    /// watermark: an early, purging firing (for an input that has gone idle while its last windows
    /// are open). Rows that arrive later for such a window open it afresh, and it is emitted again
    /// when it closes: a consumer merges the parts (adds counts and sums, takes min of mins...).
    pub fn emit_open(&mut self) -> Result<RecordBatch> {
        let closed_until = self.closed_until;
        let out = self.close_through(Millis::MAX);
        // Windows the watermark has not passed may open again.
        self.closed_until = closed_until;
        out
    }

    /// Emit, ordered by window end then key, every window the watermark has passed.
    fn close_due(&mut self) -> Result<RecordBatch> {
        match self.watermark() {
            Some(watermark) => self.close_through(watermark.saturating_sub(self.config.allowed_lateness)),
            None => self.build_output(&[]),
        }
    }

    /// Emit, ordered by window end then key, every open window ending at or before `limit`.
    fn close_through(&mut self, limit: Millis) -> Result<RecordBatch> {
        let size = self.config.window.size();
        // (window end, key id, slot) in output order, and the slots to free once output.
        let mut closed: Vec<(Millis, u32, u32)> = Vec::new();
        let mut spare: Vec<u32> = Vec::new();
        let mut touched_keys: Vec<u32> = Vec::new();
        if self.store.is_some() {
            if size == self.panes.width {
                // Tumbling: a window is one pane.
                while let Some(front) = self.panes.open.front() {
                    let end = self.panes.start_of(front.index) + size;
                    if end > limit {
                        break;
                    }
                    let pane = self.panes.pop_front().expect("a front pane");
                    let from = closed.len();
                    closed.extend(pane.ids.iter().zip(&pane.slots).map(|(&key, &slot)| (end, key, slot)));
                    self.key_ids.sort(&mut closed[from..], |c| c.1);
                    spare.extend_from_slice(&pane.slots);
                    touched_keys.extend_from_slice(&pane.ids);
                }
                debug_assert!(self.panes.extras.is_empty(), "tumbling windows never take rows apart from their panes");
            } else {
                let mut store = self.store.take().expect("state exists");
                self.close_hopping(limit, &mut store, &mut closed, &mut spare, &mut touched_keys);
                self.store = Some(store);
            }
        }
        self.closed_until = self.closed_until.max(limit);
        self.stats.windows_emitted += closed.len() as u64;
        let out = self.build_output(&closed)?;
        if let Some(store) = self.store.as_mut() {
            spare.iter().for_each(|&slot| store.free(slot));
        }
        self.retire_keys(touched_keys);
        Ok(out)
    }

    /// Keys that may have no state left: released once as many such keys wait as there are
    /// live keys (at least `MIN_RETIRED`), if they still have none. A key that comes back before
    /// then (the same services, users or hosts every window) keeps its id, with no re-interning;
    /// memory stays within twice the keys with state.
    fn retire_keys(&mut self, keys: Vec<u32>) {
        let marked = &mut self.scratch.retired_mark;
        if marked.len() < self.key_ids.id_bound() {
            marked.resize(self.key_ids.id_bound(), false);
        }
        for key in keys {
            if self.panes.unused(key) && !marked[key as usize] {
                marked[key as usize] = true;
                self.retired.push(key);
            }
        }
        let with_state = self.key_ids.len().saturating_sub(self.retired.len());
        if self.retired.len() > MIN_RETIRED.max(with_state) {
            let mut retired = std::mem::take(&mut self.retired);
            retired.retain(|&key| {
                marked[key as usize] = false;
                self.panes.unused(key) && self.key_ids.is_live(key)
            });
            self.key_ids.release_many(&retired);
        }
    }

    /// Hopping windows up to `limit`, each a merge of its panes' entries (each pane sorted by key
    /// once, when its first window closes) and its extras. A key found in one entry only is output
    /// from that entry's slot; a key in several gets a fresh slot (`spare`) merging them.
    fn close_hopping(&mut self, limit: Millis, store: &mut AccStore, closed: &mut Vec<(Millis, u32, u32)>, spare: &mut Vec<u32>, touched_keys: &mut Vec<u32>) {
        let window = self.config.window;
        let size = window.size();
        let panes_per_window = size / self.panes.width;
        let mut next = self.next_window_with_state();
        while let Some(start) = next {
            let end = start + size;
            if end > limit {
                break;
            }
            let first_pane = self.panes.index_of(start);
            let in_window = self.panes.open.iter().take_while(|p| p.index < first_pane + panes_per_window).count();
            debug_assert!(self.panes.open.iter().take(in_window).all(|pane| pane.index >= first_pane), "a pane whose windows were all emitted is dropped");
            let extras = self.panes.take_extras(start);
            touched_keys.extend(extras.iter().map(|e| e.0));
            spare.extend(extras.iter().map(|e| e.1));
            let entries = extras.len() + self.panes.open.iter().take(in_window).map(|p| p.ids.len()).sum::<usize>();
            if let Some(ranks) = self.key_ids.ranks(entries) {
                // Few keys, or ranked already: entries land at their key's rank (panes in order,
                // extras last: the merge order of the path below), then ranks are read in order.
                let by_rank = &mut self.scratch.window_slots;
                by_rank.clear();
                by_rank.resize(ranks.bound(), (NO_SLOT, 0, false));
                let panes = self.panes.open.iter().take(in_window).flat_map(|p| p.ids.iter().copied().zip(p.slots.iter().copied()));
                for (key, slot) in panes.chain(extras.iter().copied()) {
                    let entry = &mut by_rank[ranks.get(key) as usize];
                    if entry.0 == NO_SLOT {
                        *entry = (slot, key, false);
                        continue;
                    }
                    if !entry.2 {
                        let fresh = store.alloc();
                        store.merge(fresh, entry.0);
                        spare.push(fresh);
                        *entry = (fresh, key, true);
                    }
                    store.merge(entry.0, slot);
                }
                closed.extend(by_rank.iter().filter(|e| e.0 != NO_SLOT).map(|&(slot, key, _)| (end, key, slot)));
            } else {
                self.merge_window(end, in_window, extras, store, closed, spare);
            }
            // Panes whose last window this was are done (their slots are freed after the output).
            while let Some(front) = self.panes.open.front() {
                if window.last_start(self.panes.start_of(front.index)) > start {
                    break;
                }
                let pane = self.panes.pop_front().expect("a front pane");
                spare.extend_from_slice(&pane.slots);
                touched_keys.extend_from_slice(&pane.ids);
            }
            self.closed_until = self.closed_until.max(end);
            next = self.next_window_with_state();
        }
    }

    /// The window ending at `end` from its first `in_window` panes (sorted by key here, once
    /// each) and its `extras`, by a k-way merge of their sorted entries. A key found in one entry
    /// only is output from that entry's slot; a key in several gets a fresh slot (`spare`)
    /// merging them.
    fn merge_window(&mut self, end: Millis, in_window: usize, mut extras: Vec<(u32, u32)>, store: &mut AccStore, closed: &mut Vec<(Millis, u32, u32)>, spare: &mut Vec<u32>) {
        for pane in self.panes.open.iter_mut().take(in_window) {
            pane.sort(&self.key_ids);
        }
        let extra_keys = self.key_ids.sort_with_keys(&mut extras, |e| e.0);
        let mut runs: Vec<Run<'_>> =
            self.panes.open.iter().take(in_window).map(|p| Run { ids: &p.ids, slots: &p.slots, sort_keys: &p.sort_keys }).collect();
        let (extra_ids, extra_slots): (Vec<u32>, Vec<u32>) = extras.into_iter().unzip();
        runs.push(Run { ids: &extra_ids, slots: &extra_slots, sort_keys: &extra_keys });
        let mut merging = false; // whether the last output row's slot is a fresh one of this window
        merge_runs(&runs, &self.key_ids, |key, slot| match closed.last_mut() {
            Some(last) if last.0 == end && last.1 == key => {
                if !merging {
                    let fresh = store.alloc();
                    store.merge(fresh, last.2);
                    spare.push(fresh);
                    last.2 = fresh;
                    merging = true;
                }
                store.merge(last.2, slot);
            }
            _ => {
                closed.push((end, key, slot));
                merging = false;
            }
        });
    }

    pub fn output_schema(&self) -> SchemaRef {
        let mut fields = self.keys.output_fields();
        fields.push(Field::new("window_start", timestamp_type(), false));
        fields.push(Field::new("window_end", timestamp_type(), false));
        fields.extend(self.aggs.fields());
        Arc::new(Schema::new(fields))
    }

    fn build_output(&self, closed: &[(Millis, u32, u32)]) -> Result<RecordBatch> {
        let size = self.config.window.size();
        let schema = self.output_schema();
        let Some(store) = &self.store else {
            return Ok(RecordBatch::new_empty(schema));
        };
        let ids: Vec<u32> = closed.iter().map(|c| c.1).collect();
        let mut columns: Vec<ArrayRef> = if self.config.keys.is_empty() { Vec::new() } else { self.key_ids.decode(&self.keys, &ids)? };
        columns.push(timestamp_column(closed.iter().map(|(end, _, _)| end - size)));
        columns.push(timestamp_column(closed.iter().map(|(end, _, _)| *end)));
        let slots: Vec<u32> = closed.iter().map(|c| c.2).collect();
        columns.extend(store.finish(&self.aggs, &slots)?);
        // Key columns decode with nullable fields; align the declared schema with what was built.
        output_batch(&schema, columns, closed.len())
    }

    /// Entries (key id, accumulators) with their keys' row encodings, sorted by those.
    fn encoded_entries(&self, entries: impl Iterator<Item = (u32, u32)>) -> Result<Vec<Entry>> {
        let store = self.store.as_ref().expect("entries imply state");
        let entries: Vec<(u32, u32)> = entries.collect();
        let ids: Vec<u32> = entries.iter().map(|e| e.0).collect();
        let keys = self.key_ids.row_bytes(&self.keys, &ids)?;
        let mut out: Vec<Entry> =
            keys.into_iter().zip(&entries).map(|(key, &(_, slot))| Ok((key, self.aggs.save_accs(&store.to_accs(slot))?))).collect::<Result<_>>()?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let mut panes = Vec::with_capacity(self.panes.open.len());
        for pane in &self.panes.open {
            panes.push((pane.index, self.encoded_entries(pane.ids.iter().copied().zip(pane.slots.iter().copied()))?));
        }
        let mut extras = Vec::with_capacity(self.panes.extras.len());
        for (&start, entries) in &self.panes.extras {
            extras.push((start, self.encoded_entries(entries.iter().copied())?));
        }
        let state = State {
            config: self.config.clone(),
            key_fields: self.keys.fields().cloned(),
            aggs: self.aggs.state(),
            max_time: self.max_time,
            finished: self.finished,
            panes,
            extras,
            side: self.side.state()?,
            stats: self.stats.clone(),
        };
        snapshot::encode(SNAPSHOT_TAG, &(state, self.aggs.time_unit))
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        if bytes.starts_with(WINDOWS_SNAPSHOT_TAG) {
            return Self::restore_windows(bytes);
        }
        // The time unit follows the state; snapshots from before it end with the state (milliseconds).
        let (state, time_unit): (State, IntTimeUnit) = match snapshot::decode(SNAPSHOT_TAG, "WindowAggregator", bytes) {
            Ok(both) => both,
            Err(error) => match snapshot::decode::<State>(SNAPSHOT_TAG, "WindowAggregator", bytes) {
                Ok(state) => (state, IntTimeUnit::Millis),
                Err(_) => return Err(error),
            },
        };
        let mut aggregator = Self::restore_common(state.config, state.key_fields, state.aggs, state.max_time, state.finished)?;
        aggregator.aggs.time_unit = time_unit;
        for (index, entries) in state.panes {
            for (key, slot) in aggregator.restore_entries(entries)? {
                aggregator.panes.restore_entry(key, index, slot);
            }
        }
        for (start, entries) in state.extras {
            for (key, slot) in aggregator.restore_entries(entries)? {
                aggregator.panes.restore_extra(key, start, slot);
            }
        }
        aggregator.side.restore(state.side)?;
        aggregator.stats = state.stats;
        Ok(aggregator)
    }

    /// A version 1 snapshot: tumbling windows become panes; hopping windows, which cannot be
    /// split into panes, become extras of their windows.
    fn restore_windows(bytes: &[u8]) -> Result<Self> {
        let state: WindowsState = snapshot::decode(WINDOWS_SNAPSHOT_TAG, "WindowAggregator", bytes)?;
        let mut aggregator = Self::restore_common(state.config, state.key_fields, state.aggs, state.max_time, state.finished)?;
        let tumbling = aggregator.config.window.size() == aggregator.panes.width;
        for (key, windows) in state.open {
            for window in windows {
                let Some((id, slot)) = aggregator.restore_entries(vec![(key.clone(), window.accs)])?.pop() else { continue };
                if tumbling {
                    let index = aggregator.panes.index_of(window.start);
                    aggregator.panes.restore_entry(id, index, slot);
                } else {
                    aggregator.panes.restore_extra(id, window.start, slot);
                }
            }
        }
        aggregator.side.restore(state.side)?;
        aggregator.stats = state.stats;
        Ok(aggregator)
    }

    fn restore_common(config: AggregatorConfig, key_fields: Option<Vec<Field>>, aggs: AggSetState, max_time: Option<Millis>, finished: bool) -> Result<Self> {
        config.validate().map_err(|e| Error::snapshot(format!("snapshot holds an invalid configuration: {e}")))?;
        let mut aggregator = WindowAggregator::new(config)?;
        aggregator.keys = KeyEncoder::from_fields(aggregator.config.keys.clone(), key_fields)?;
        aggregator.aggs = AggSet::restore(aggregator.config.aggs.clone(), aggs)?;
        aggregator.max_time = max_time;
        aggregator.finished = finished;
        if let Some(watermark) = aggregator.watermark() {
            // Snapshots are taken after closing: everything up to the limit was emitted.
            aggregator.closed_until = watermark.saturating_sub(aggregator.config.allowed_lateness);
        }
        Ok(aggregator)
    }

    /// Key ids and fresh slots for snapshot entries.
    fn restore_entries(&mut self, entries: Vec<Entry>) -> Result<Vec<(u32, u32)>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&[u8]> = entries.iter().map(|e| e.0.as_slice()).collect();
        let ids = self.key_ids.intern_row_bytes(&mut self.keys, &keys)?;
        self.panes.cover_keys(self.key_ids.id_bound());
        let mut restored = Vec::with_capacity(entries.len());
        for (id, (_, saved)) in ids.into_iter().zip(&entries) {
            let accs: Vec<Acc> = self.aggs.restore_accs(saved)?;
            let store = self.store.get_or_insert_with(|| AccStore::new(self.aggs.specs(), self.aggs.value_types()));
            let slot = store.alloc_from(&accs).ok_or_else(|| Error::snapshot("snapshot accumulators do not match the aggregates"))?;
            restored.push((id, slot));
        }
        Ok(restored)
    }
}

#[cfg(test)]
mod tests;
