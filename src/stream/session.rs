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

use super::aggregate::{Accs, AggSpec, OwnedValue};
use super::aggset::{AggSet, AggSetState, BoundBatch};
use super::keys::{KeyBytes, KeyEncoder, DEFAULT_MAX_KEY_BYTES};
use super::output::{iso, output_batch, take_rows_with, timestamp_column, timestamp_type, RejectCollector, SideOutputs, SideState};
use super::snapshot;
use crate::error::{Error, Result};
use crate::time::Millis;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::sync::Arc;

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
#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeptEvent {
    time: Millis,
    seq: u64,
    values: Vec<OwnedValue>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Session {
    uid: u64,
    start: Millis,
    end: Millis,
    accs: Accs,
    kept: Vec<KeptEvent>,
}

pub struct Sessionizer {
    config: SessionConfig,
    keys: KeyEncoder,
    aggs: AggSet,
    max_time: Option<Millis>,
    finished: bool,
    /// Open sessions per key, sorted by start, more than `gap` apart.
    open: HashMap<KeyBytes, Sessions>,
    /// Sessions by the close time (`end + gap + allowed_lateness`) they had when scheduled, in
    /// buckets of `TIMER_BUCKET_MS` (appending and draining a bucket is cheap and cache-friendly).
    /// Entries are rescheduled lazily when their session grew, dropped when it was merged away.
    timers: BTreeMap<Millis, Vec<Timer>>,
    next_uid: u64,
    /// Keys with a session that closed when the watermark was exactly `tombstones_at`.
    tombstones: hashbrown::HashSet<KeyBytes>,
    tombstones_at: Millis,
    side: SideOutputs,
    stats: SessionStats,
}

#[derive(Serialize, Deserialize)]
struct State {
    config: SessionConfig,
    key_fields: Option<Vec<Field>>,
    aggs: AggSetState,
    max_time: Option<Millis>,
    finished: bool,
    open: Vec<(Vec<u8>, Vec<Session>)>,
    next_uid: u64,
    tombstones: Vec<Vec<u8>>,
    tombstones_at: Millis,
    side: SideState,
    stats: SessionStats,
}

const SNAPSHOT_TAG: &[u8; 4] = b"FSSS";

/// A key's open sessions: nearly always one, kept inline.
type Sessions = SmallVec<[Session; 1]>;

/// When to look at a session: (close time, session uid, key).
#[derive(Clone, Debug)]
struct Timer(Millis, u64, KeyBytes);

const TIMER_BUCKET_MS: Millis = 1024;

fn schedule(timers: &mut BTreeMap<Millis, Vec<Timer>>, timer: Timer) {
    timers.entry(timer.0.div_euclid(TIMER_BUCKET_MS)).or_default().push(timer);
}

/// A closed (possibly split) session ready for output.
struct Closed {
    key: KeyBytes,
    start: Millis,
    end: Millis,
    accs: Accs,
}

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

impl Sessionizer {
    pub fn new(config: SessionConfig) -> Result<Self> {
        config.validate()?;
        Ok(Sessionizer {
            keys: KeyEncoder::new(config.keys.clone()),
            aggs: AggSet::new(config.aggs.clone()),
            config,
            max_time: None,
            finished: false,
            open: HashMap::new(),
            timers: BTreeMap::new(),
            next_uid: 0,
            tombstones: hashbrown::HashSet::new(),
            tombstones_at: Millis::MIN,
            side: SideOutputs::new(vec![Field::new("reason", DataType::Utf8, false)]),
            stats: SessionStats::default(),
        })
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
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
        self.open.len()
    }

    pub fn open_sessions(&self) -> usize {
        self.open.values().map(|s| s.len()).sum()
    }

    pub fn push(&mut self, batches: &[RecordBatch]) -> Result<RecordBatch> {
        self.stats.pushes += 1;
        for (bound, row_offset) in self.aggs.bind_all(batches, &self.config.time, &mut self.keys)? {
            self.apply(bound, row_offset)?;
        }
        self.close_due()
    }

    pub fn flush(&mut self) -> Result<RecordBatch> {
        self.finished = true;
        self.close_due()
    }

    /// Moves the watermark to at least `watermark`, as an event at `watermark` + the watermark
    /// delay would, without adding an event: for an outside clock (Spark's watermark, an idle
    /// source). Returns the sessions that closed.
    pub fn advance_watermark(&mut self, watermark: Millis) -> Result<RecordBatch> {
        if !self.finished {
            let time = watermark.saturating_add(self.config.watermark);
            self.max_time = Some(self.max_time.map_or(time, |m| m.max(time)));
        }
        self.close_due()
    }

    /// The watermark at which the next open session closes (`end + gap + allowed_lateness`).
    pub fn next_close(&self) -> Option<Millis> {
        let delay = self.config.gap + self.config.allowed_lateness;
        self.open.values().flatten().map(|s| s.end + delay).min()
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
        let seq_base = self.stats.rows_in;
        self.stats.rows_in += n as u64;
        let gap = self.config.gap;
        let lateness = self.config.allowed_lateness;
        let close_delay = gap + lateness;
        let keep_events = self.config.max_duration.is_some();
        let mut rejects = RejectCollector::default();
        let (mut late_rows, mut late_reasons) = (Vec::new(), Vec::new());
        let mut max_time = self.max_time;
        for row in 0..n {
            let (t, key) = match p.time_and_key(row, &self.config.time, self.config.max_key_bytes) {
                Ok(ok) => ok,
                Err(reason) => {
                    rejects.add(row, reason);
                    continue;
                }
            };
            let watermark = if self.finished { Some(Millis::MAX) } else { max_time.map(|m| m - self.config.watermark) };
            if let Some(wm) = watermark {
                if self.tombstones_at != wm && !self.tombstones.is_empty() {
                    self.tombstones.clear();
                }
                if let Some(reason) = self.late_reason(key, t, wm) {
                    late_rows.push(row as u32);
                    late_reasons.push(reason);
                    continue;
                }
            }
            let seq = seq_base + row as u64;
            let sessions = match self.open.get_mut(key) {
                Some(sessions) => sessions,
                None => self.open.entry(KeyBytes::from_slice(key)).or_default(),
            };
            // Sessions are sorted and more than `gap` apart, so an event touches at most two.
            let first = sessions.partition_point(|s| s.end + gap < t);
            let touches = |s: &Session| s.start - gap <= t;
            let index = if first < sessions.len() && touches(&sessions[first]) {
                let reaches_next = first + 1 < sessions.len() && touches(&sessions[first + 1]);
                if reaches_next {
                    // The event bridges two sessions: fold the later one into the earlier one.
                    let later = sessions.remove(first + 1);
                    let earlier = &mut sessions[first];
                    earlier.end = earlier.end.max(later.end);
                    for (acc, other) in earlier.accs.iter_mut().zip(later.accs) {
                        acc.merge(other);
                    }
                    earlier.kept.extend(later.kept);
                    self.stats.sessions_merged += 1;
                }
                let session = &mut sessions[first];
                session.start = session.start.min(t);
                session.end = session.end.max(t);
                first
            } else {
                let uid = self.next_uid;
                self.next_uid += 1;
                sessions.insert(first, Session { uid, start: t, end: t, accs: self.aggs.new_accs(), kept: Vec::new() });
                schedule(&mut self.timers, Timer(t + close_delay, uid, KeyBytes::from_slice(key)));
                first
            };
            let session = &mut sessions[index];
            if keep_events {
                session.kept.push(KeptEvent {
                    time: t,
                    seq,
                    values: p.inputs.iter().map(|input| OwnedValue::from_value(input.value(row))).collect(),
                });
            } else {
                for (acc, input) in session.accs.iter_mut().zip(&p.inputs) {
                    acc.add(input.value(row), t, seq);
                }
            }
            max_time = Some(max_time.map_or(t, |m| m.max(t)));
        }
        self.max_time = max_time;
        self.stats.rows_rejected += rejects.len() as u64;
        self.stats.rows_late += late_rows.len() as u64;
        if let Some(rejected) = rejects.finish(p.batch, row_offset)? {
            self.side.rejects.push(rejected);
        }
        if !late_rows.is_empty() {
            let reasons: ArrayRef = Arc::new(StringArray::from(late_reasons));
            self.side.late.push(take_rows_with(p.batch, &late_rows, vec![(Field::new("reason", DataType::Utf8, false), reasons)])?);
        }
        Ok(())
    }

    /// Why the event at `t` of `key` is late at watermark `wm`, if it is (see the module docs).
    fn late_reason(&self, key: &[u8], t: Millis, wm: Millis) -> Option<String> {
        let (gap, lateness) = (self.config.gap, self.config.allowed_lateness);
        if wm == Millis::MAX {
            return Some(format!("event at {} arrived after flush() (end of input)", iso(t)));
        }
        let behind = t.saturating_add(lateness) - wm;
        if behind > 0 {
            return None;
        }
        let sessions = self.open.get(key).map(|s| s.as_slice()).unwrap_or(&[]);
        let first = sessions.partition_point(|s| s.end + gap < t);
        let touched = &sessions[first..sessions.len().min(first + 2)];
        let touched: Vec<&Session> = touched.iter().filter(|s| s.start - gap <= t).collect();
        let closed = |s: &Session| s.end + gap + lateness <= wm;
        if let Some(open) = touched.first() {
            if open.start <= t && !closed(open) {
                return None; // inside an open session: nothing closed lies within `gap` of it
            }
        }
        if behind == 0 && !self.tombstones.contains(key) && !touched.iter().any(|s| closed(s)) {
            return None;
        }
        Some(format!(
            "event at {} is not after the watermark {} minus allowed lateness ({lateness} ms) and may belong to a session already emitted",
            iso(t),
            iso(wm)
        ))
    }

    fn close_due(&mut self) -> Result<RecordBatch> {
        let close_delay = self.config.gap + self.config.allowed_lateness;
        let mut closed: Vec<Closed> = Vec::new();
        if let Some(wm) = self.watermark() {
            let mut not_yet = Vec::new();
            while let Some(entry) = self.timers.first_entry() {
                if *entry.key() * TIMER_BUCKET_MS > wm {
                    break;
                }
                for Timer(scheduled, uid, key) in entry.remove() {
                    if scheduled > wm {
                        not_yet.push(Timer(scheduled, uid, key));
                        continue;
                    }
                    let Some(sessions) = self.open.get_mut(&key) else { continue };
                    let Some(i) = sessions.iter().position(|s| s.uid == uid) else { continue };
                    let due = sessions[i].end + close_delay;
                    if due > wm {
                        // The session grew since this timer was set: look again when it is due.
                        not_yet.push(Timer(due, uid, key));
                        continue;
                    }
                    let session = sessions.remove(i);
                    if sessions.is_empty() {
                        self.open.remove(&key);
                    }
                    if due == wm {
                        if self.tombstones_at != wm {
                            self.tombstones.clear();
                            self.tombstones_at = wm;
                        }
                        self.tombstones.insert(key.clone());
                    }
                    self.split_into(&key, session, &mut closed);
                }
            }
            for timer in not_yet {
                schedule(&mut self.timers, timer);
            }
        }
        closed.sort_by(|a, b| (a.end, &a.key, a.start).cmp(&(b.end, &b.key, b.start)));
        self.stats.sessions_emitted += closed.len() as u64;
        self.build_output(&closed)
    }

    /// A closed session as output rows: itself, or its pieces when it is longer than `max_duration`.
    fn split_into(&self, key: &[u8], session: Session, out: &mut Vec<Closed>) {
        let Some(max_duration) = self.config.max_duration else {
            out.push(Closed { key: KeyBytes::from_slice(key), start: session.start, end: session.end, accs: session.accs });
            return;
        };
        let mut events = session.kept;
        events.sort_by_key(|e| (e.time, e.seq));
        let mut current: Option<Closed> = None;
        for event in events {
            if current.as_ref().is_some_and(|c| event.time - c.start > max_duration) {
                out.push(current.take().expect("checked"));
            }
            let piece = current.get_or_insert_with(|| Closed {
                key: KeyBytes::from_slice(key),
                start: event.time,
                end: event.time,
                accs: self.aggs.new_accs(),
            });
            piece.end = event.time;
            for (acc, value) in piece.accs.iter_mut().zip(&event.values) {
                acc.add(value.as_value(), event.time, event.seq);
            }
        }
        out.extend(current);
    }

    pub fn output_schema(&self) -> SchemaRef {
        let mut fields = self.keys.output_fields();
        fields.push(Field::new("session_id", DataType::Int64, false));
        fields.push(Field::new("session_start", timestamp_type(), false));
        fields.push(Field::new("session_end", timestamp_type(), false));
        fields.push(Field::new("duration_ms", DataType::Int64, false));
        fields.extend(self.aggs.fields());
        Arc::new(Schema::new(fields))
    }

    fn build_output(&self, closed: &[Closed]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = if self.config.keys.is_empty() {
            Vec::new()
        } else {
            self.keys.decode(closed.iter().map(|c| &c.key[..]))?
        };
        columns.push(Arc::new(Int64Array::from_iter_values(closed.iter().map(|c| session_id(&c.key, c.start)))));
        columns.push(timestamp_column(closed.iter().map(|c| c.start)));
        columns.push(timestamp_column(closed.iter().map(|c| c.end)));
        columns.push(Arc::new(Int64Array::from_iter_values(closed.iter().map(|c| c.end - c.start))));
        columns.extend(self.aggs.finish(closed.len(), |i| &closed[i].accs)?);
        let schema = self.output_schema();
        output_batch(&schema, columns, closed.len())
    }

    pub fn snapshot(&self) -> Result<Vec<u8>> {
        let mut open: Vec<(Vec<u8>, Vec<Session>)> = self.open.iter().map(|(k, s)| (k.to_vec(), s.to_vec())).collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        let state = State {
            config: self.config.clone(),
            key_fields: self.keys.fields().cloned(),
            aggs: self.aggs.state(),
            max_time: self.max_time,
            finished: self.finished,
            open,
            next_uid: self.next_uid,
            tombstones: {
                let mut keys: Vec<Vec<u8>> = self.tombstones.iter().map(|k| k.to_vec()).collect();
                keys.sort();
                keys
            },
            tombstones_at: self.tombstones_at,
            side: self.side.state()?,
            stats: self.stats.clone(),
        };
        snapshot::encode(SNAPSHOT_TAG, &state)
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let state: State = snapshot::decode(SNAPSHOT_TAG, "Sessionizer", bytes)?;
        let mut s = Sessionizer::new(state.config)?;
        s.keys = KeyEncoder::from_fields(s.config.keys.clone(), state.key_fields)?;
        s.aggs = AggSet::restore(s.config.aggs.clone(), state.aggs)?;
        s.max_time = state.max_time;
        s.finished = state.finished;
        s.next_uid = state.next_uid;
        s.tombstones = state.tombstones.into_iter().map(KeyBytes::from_vec).collect();
        s.tombstones_at = state.tombstones_at;
        let close_delay = s.config.gap + s.config.allowed_lateness;
        for (key, sessions) in state.open {
            let key = KeyBytes::from_vec(key);
            for session in &sessions {
                schedule(&mut s.timers, Timer(session.end + close_delay, session.uid, key.clone()));
            }
            s.open.insert(key, Sessions::from_vec(sessions));
        }
        s.side.restore(state.side)?;
        s.stats = state.stats;
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
