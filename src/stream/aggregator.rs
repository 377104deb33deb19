//! The event-time window aggregator: rows in, closed windows out, with a bounded-out-of-orderness
//! watermark, allowed lateness, a late side output and a rejects side output.
//!
//! Rows are processed in arrival order and the watermark moves per row, so whether a row is late
//! never depends on how the stream was cut into batches. Closing is done at the end of each batch;
//! a window that is due but not yet emitted cannot receive rows (they would be late), so the
//! concatenated output is the same for every cut.

use super::aggregate::{Accs, AggSpec};
use super::aggset::{AggSet, AggSetState, BoundBatch};
use super::keys::{KeyEncoder, DEFAULT_MAX_KEY_BYTES};
use super::output::{iso, output_batch, take_rows_with, timestamp_column, timestamp_type, RejectCollector, SideOutputs, SideState};
use super::snapshot;
use super::window::WindowSpec;
use crate::error::{Error, Result};
use crate::time::Millis;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Window {
    start: Millis,
    accs: Accs,
}

pub struct WindowAggregator {
    config: AggregatorConfig,
    keys: KeyEncoder,
    aggs: AggSet,
    max_time: Option<Millis>,
    /// Set by `flush`: end of input, every later row is late.
    finished: bool,
    open: HashMap<Box<[u8]>, Vec<Window>>,
    /// Window end -> keys that have an open window ending then.
    timers: BTreeMap<Millis, Vec<Box<[u8]>>>,
    side: SideOutputs,
    stats: AggregatorStats,
}

#[derive(Serialize, Deserialize)]
struct State {
    config: AggregatorConfig,
    key_fields: Option<Vec<Field>>,
    aggs: AggSetState,
    max_time: Option<Millis>,
    finished: bool,
    open: Vec<(Vec<u8>, Vec<Window>)>,
    side: SideState,
    stats: AggregatorStats,
}

const SNAPSHOT_TAG: &[u8; 4] = b"FSWA";

impl WindowAggregator {
    pub fn new(config: AggregatorConfig) -> Result<Self> {
        config.validate()?;
        Ok(WindowAggregator {
            keys: KeyEncoder::new(config.keys.clone()),
            aggs: AggSet::new(config.aggs.clone()),
            config,
            max_time: None,
            finished: false,
            open: HashMap::new(),
            timers: BTreeMap::new(),
            side: SideOutputs::new(vec![
                Field::new("window_start", timestamp_type(), false),
                Field::new("window_end", timestamp_type(), false),
                Field::new("reason", DataType::Utf8, false),
            ]),
            stats: AggregatorStats::default(),
        })
    }

    pub fn config(&self) -> &AggregatorConfig {
        &self.config
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

    /// Number of (key, window) pairs currently open.
    pub fn open_windows(&self) -> usize {
        self.open.values().map(Vec::len).sum()
    }

    /// Apply `batches` in order; returns the windows they closed.
    pub fn push(&mut self, batches: &[RecordBatch]) -> Result<RecordBatch> {
        self.stats.pushes += 1;
        for (bound, row_offset) in self.aggs.bind_all(batches, &self.config.time, &mut self.keys, true)? {
            self.apply(bound, row_offset)?;
        }
        self.close_due()
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

    /// The watermark at which the next open window closes (`end + allowed_lateness`).
    pub fn next_close(&self) -> Option<Millis> {
        self.timers.keys().next().map(|end| end.saturating_add(self.config.allowed_lateness))
    }

    pub fn take_late(&mut self) -> Vec<RecordBatch> {
        self.side.take_late()
    }

    pub fn take_rejects(&mut self) -> Vec<RecordBatch> {
        self.side.take_rejects()
    }

    fn apply(&mut self, p: BoundBatch<'_>, row_offset: i64) -> Result<()> {
        let n = p.batch.num_rows();
        self.side.saw_input(p.batch);
        self.stats.rows_in += n as u64;
        let size = self.config.window.size();
        let bound = self.config.watermark;
        let lateness = self.config.allowed_lateness;
        let max_key_bytes = self.config.max_key_bytes;
        let time_name = &self.config.time;

        let mut rejects = RejectCollector::default();
        let (mut late_rows, mut late_starts, mut late_watermarks) = (Vec::new(), Vec::new(), Vec::new());
        let mut max_time = self.max_time;
        let seq_base = self.stats.rows_in - n as u64;
        let mut starts: Vec<Millis> = Vec::with_capacity(8);
        for row in 0..n {
            let (t, key) = match p.time_and_key(row, time_name, max_key_bytes) {
                Ok(ok) => ok,
                Err(reason) => {
                    rejects.add(row, reason);
                    continue;
                }
            };
            let watermark = if self.finished { Some(Millis::MAX) } else { max_time.map(|m| m - bound) };
            starts.clear();
            let mut was_late = false;
            for start in self.config.window.starts(t) {
                match watermark {
                    Some(wm) if (start + size).saturating_add(lateness) <= wm => {
                        late_rows.push(row as u32);
                        late_starts.push(start);
                        late_watermarks.push(wm);
                        was_late = true;
                    }
                    _ => starts.push(start),
                }
            }
            self.stats.rows_late += was_late as u64;
            if !starts.is_empty() {
                let windows = match self.open.get_mut(key) {
                    Some(windows) => windows,
                    None => self.open.entry(Box::from(key)).or_default(),
                };
                for &start in &starts {
                    let window = match windows.iter().position(|w| w.start == start) {
                        Some(i) => &mut windows[i],
                        None => {
                            self.timers.entry(start + size).or_default().push(Box::from(key));
                            windows.push(Window { start, accs: self.aggs.new_accs() });
                            windows.last_mut().expect("just pushed")
                        }
                    };
                    for (acc, input) in window.accs.iter_mut().zip(&p.inputs) {
                        acc.add(input.value(row), t, seq_base + row as u64);
                    }
                }
            }
            max_time = Some(max_time.map_or(t, |m| m.max(t)));
        }
        self.max_time = max_time;
        self.stats.rows_rejected += rejects.len() as u64;
        self.stats.late_assignments += late_rows.len() as u64;
        if let Some(rejected) = rejects.finish(p.batch, row_offset)? {
            self.side.rejects.push(rejected);
        }
        if !late_rows.is_empty() {
            let reasons: StringArray = late_starts
                .iter()
                .zip(&late_watermarks)
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
                &late_rows,
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
        self.close_through(Millis::MAX)
    }

    /// Emit, ordered by window end then key, every window the watermark has passed.
    fn close_due(&mut self) -> Result<RecordBatch> {
        match self.watermark() {
            Some(wm) => self.close_through(wm.saturating_sub(self.config.allowed_lateness)),
            None => self.build_output(&[]),
        }
    }

    /// Emit, ordered by window end then key, every open window ending at or before `limit`.
    fn close_through(&mut self, limit: Millis) -> Result<RecordBatch> {
        let size = self.config.window.size();
        let mut closed: Vec<(Millis, Box<[u8]>, Window)> = Vec::new();
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > limit {
                break;
            }
            let (end, mut keys) = entry.remove_entry();
            keys.sort_unstable();
            for key in keys {
                let windows = self.open.get_mut(&key).expect("a timer always has its window");
                let i = windows.iter().position(|w| w.start == end - size).expect("a timer always has its window");
                let window = windows.swap_remove(i);
                if windows.is_empty() {
                    self.open.remove(&key);
                }
                closed.push((end, key, window));
            }
        }
        self.stats.windows_emitted += closed.len() as u64;
        self.build_output(&closed)
    }

    pub fn output_schema(&self) -> SchemaRef {
        let mut fields = self.keys.output_fields();
        fields.push(Field::new("window_start", timestamp_type(), false));
        fields.push(Field::new("window_end", timestamp_type(), false));
        fields.extend(self.aggs.fields());
        Arc::new(Schema::new(fields))
    }

    fn build_output(&self, closed: &[(Millis, Box<[u8]>, Window)]) -> Result<RecordBatch> {
        let size = self.config.window.size();
        let schema = self.output_schema();
        let mut columns: Vec<ArrayRef> = if self.config.keys.is_empty() {
            Vec::new()
        } else {
            self.keys.decode(closed.iter().map(|(_, key, _)| &key[..]))?
        };
        columns.push(timestamp_column(closed.iter().map(|(end, _, _)| end - size)));
        columns.push(timestamp_column(closed.iter().map(|(end, _, _)| *end)));
        columns.extend(self.aggs.finish(closed.len(), |i| &closed[i].2.accs)?);
        // Key columns decode with nullable fields; align the declared schema with what was built.
        output_batch(&schema, columns, closed.len())
    }

    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let mut open: Vec<(Vec<u8>, Vec<Window>)> = self.open.iter().map(|(k, w)| (k.to_vec(), w.clone())).collect();
        // Sorted, so that equal states give equal bytes.
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, windows) in &mut open {
            windows.sort_by_key(|w| w.start);
        }
        let state = State {
            config: self.config.clone(),
            key_fields: self.keys.fields().cloned(),
            aggs: self.aggs.state(),
            max_time: self.max_time,
            finished: self.finished,
            open,
            side: self.side.state()?,
            stats: self.stats.clone(),
        };
        snapshot::encode(SNAPSHOT_TAG, &state)
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let state: State = snapshot::decode(SNAPSHOT_TAG, "WindowAggregator", bytes)?;
        state.config.validate().map_err(|e| Error::snapshot(format!("snapshot holds an invalid configuration: {e}")))?;
        let size = state.config.window.size();
        let mut aggregator = WindowAggregator::new(state.config)?;
        aggregator.keys = KeyEncoder::from_fields(aggregator.config.keys.clone(), state.key_fields)?;
        aggregator.aggs = AggSet::restore(aggregator.config.aggs.clone(), state.aggs)?;
        aggregator.max_time = state.max_time;
        aggregator.finished = state.finished;
        for (key, windows) in state.open {
            let key: Box<[u8]> = key.into_boxed_slice();
            for w in &windows {
                aggregator.timers.entry(w.start + size).or_default().push(key.clone());
            }
            aggregator.open.insert(key, windows);
        }
        aggregator.side.restore(state.side)?;
        aggregator.stats = state.stats;
        Ok(aggregator)
    }
}

#[cfg(test)]
mod tests;
