//! One shard of a sessionizer: the open sessions of the keys it owns, their timers and
//! tombstones. A key always lives in one shard, and an event's fate depends only on its key's
//! state and the watermark before it, so shards work in parallel and the result is the same for
//! any number of them.

use crate::stream::intern::columns::{intern_strings, Rows as RowSet, NULL_KEY_HASH};
use crate::stream::intern::strings::hash_bytes;
use crate::stream::intern::{prefetch, IntKeys, KeyIndex, KeyValue, PREFETCH_ROWS};
use super::{KeptEvent, SessionConfig, NO_WATERMARK};
use crate::stream::aggregate::{Acc, AggInput, OwnedValue};
use crate::stream::aggset::AggSet;
use crate::stream::output::iso;
use crate::time::Millis;
use arrow_array::{ArrayRef, Int64Array};
use arrow_row::Rows;
use hashbrown::{HashMap, HashSet};
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// A session's accumulators: one inline, so that a key with one open session and one aggregate
/// (the usual case) fills exactly one cache line; more aggregates live on the heap.
pub(super) type SessionAccs = SmallVec<[Acc; 1]>;

#[derive(Clone, Debug)]
pub(super) struct Session {
    pub uid: u64,
    pub start: Millis,
    pub end: Millis,
    pub accs: SessionAccs,
}

/// A key's open sessions, sorted by start and more than `gap` apart: nearly always one, inline.
pub(super) type Sessions = SmallVec<[Session; 1]>;

/// A key's sessions on whole cache lines of their own (one for one inline session with one
/// aggregate), so that prefetching them brings in everything an event touches.
#[derive(Default)]
#[repr(align(64))]
pub(super) struct KeySlot(pub Sessions);

impl std::ops::Deref for KeySlot {
    type Target = Sessions;
    fn deref(&self) -> &Sessions {
        &self.0
    }
}

impl std::ops::DerefMut for KeySlot {
    fn deref_mut(&mut self) -> &mut Sessions {
        &mut self.0
    }
}

impl KeySlot {
    /// Remove the `i`th session. A key that once had two sessions at a time holds them on the heap
    /// (a second line per event, which the prefetch does not bring in); with one or none left they
    /// move back inline, or over a long stream every key would end up there.
    pub fn remove_session(&mut self, i: usize) -> Session {
        let session = self.0.remove(i);
        if self.0.spilled() && self.0.len() <= 1 {
            self.0.shrink_to_fit();
        }
        session
    }
}

/// Prefetch every cache line of `states[id]` (if there is such an element).
#[inline]
fn prefetch_slot(states: &[KeySlot], id: u32) {
    if let Some(slot) = states.get(id as usize) {
        let lines = std::mem::size_of::<KeySlot>().div_ceil(64);
        let base = slot as *const KeySlot as *const u8;
        for line in 0..lines {
            // SAFETY: within the element; `prefetch` never dereferences.
            prefetch(unsafe { &*base.add(line * 64) });
        }
    }
}

/// When to look at a session: (close time, session uid, key id).
#[derive(Clone, Copy, Debug)]
struct Timer(Millis, u64, u32);

/// About 16 s: sparse streams (a session per event or two) open thousands of sessions a minute,
/// and a bucket (a map entry and a vector) per second cost more than the sessions themselves.
const TIMER_BUCKET_MS: Millis = 16384;

/// Reorder `timers` so that each bucket's timers are consecutive (by bucket).
fn group_by_bucket(timers: &mut Vec<Timer>) {
    let bucket = |t: &Timer| t.0.div_euclid(TIMER_BUCKET_MS);
    super::bucket_sort_by(timers, bucket, bucket);
}

/// A closed (possibly split) session ready for output.
pub(super) struct Closed {
    pub key: KeyValue,
    pub start: Millis,
    pub end: Millis,
    pub accs: SessionAccs,
}

/// Where a shard's events find their keys.
#[derive(Clone, Copy)]
pub(super) enum KeySource<'a> {
    /// The one integer key column, as Int64.
    Ints(&'a Int64Array),
    /// One string or binary column as it came (any layout), and each row's key hash when the
    /// rows are routed to several shards (else empty).
    Strs { column: &'a ArrayRef, hashes: &'a [u64] },
    /// Row-encoded keys (None: no key columns, one global key).
    Bytes(Option<&'a Rows>),
}

/// What a push gives every shard: the batch's times and aggregate inputs.
pub(super) struct Batch<'a> {
    pub config: &'a SessionConfig,
    pub aggs: &'a AggSet,
    pub times: &'a [Millis],
    pub inputs: &'a [AggInput],
    pub keys: KeySource<'a>,
    /// Arrival sequence number of row 0 (orders first/last between events at equal times).
    pub seq_base: u64,
}

/// A shard's part of a push: accepted rows in arrival order, with the watermark before each
/// (`NO_WATERMARK` before the first accepted event).
#[derive(Default)]
pub(super) struct Work {
    pub rows: Vec<u32>,
    pub watermarks: Vec<Millis>,
    /// The rows' key hashes when routing computed them (integer keys), else empty.
    pub hashes: Vec<u64>,
}

#[derive(Default)]
pub(super) struct Applied {
    pub late: Vec<(u32, String)>,
    pub merged: u64,
}

pub(super) struct Shard {
    pub index: KeyIndex,
    /// Open sessions by key id.
    pub states: Vec<KeySlot>,
    /// Sessions by the close time (`end + gap + allowed_lateness`) they had when scheduled, in
    /// buckets of `TIMER_BUCKET_MS` (appending and draining a bucket is cheap and cache-friendly).
    /// Entries are rescheduled lazily when their session grew, dropped when it was merged away.
    timers: BTreeMap<Millis, Vec<Timer>>,
    pub next_uid: u64,
    /// Events kept whole by session uid, only with `max_duration` (sessions split when they close).
    pub kept: HashMap<u64, Vec<KeptEvent>>,
    /// Keys with a session that closed when the watermark was exactly `tombstones_at`; their ids
    /// stay issued while they are here.
    pub tombstones: HashSet<u32>,
    pub tombstones_at: Millis,
    ids: Vec<u32>,
}

impl Shard {
    pub fn new(index: KeyIndex) -> Self {
        Shard {
            index,
            states: Vec::new(),
            timers: BTreeMap::new(),
            next_uid: 0,
            kept: HashMap::new(),
            tombstones: HashSet::new(),
            tombstones_at: Millis::MIN,
            ids: Vec::new(),
        }
    }

    fn schedule(&mut self, timer: Timer) {
        self.timers.entry(timer.0.div_euclid(TIMER_BUCKET_MS)).or_default().push(timer);
    }

    /// Schedule all `timers` (emptied): grouped by bucket first, so one map lookup per bucket.
    fn schedule_all(&mut self, timers: &mut Vec<Timer>) {
        group_by_bucket(timers);
        let mut rest = &timers[..];
        while let Some(first) = rest.first() {
            let bucket = first.0.div_euclid(TIMER_BUCKET_MS);
            let run = rest.iter().position(|t| t.0.div_euclid(TIMER_BUCKET_MS) != bucket).unwrap_or(rest.len());
            self.timers.entry(bucket).or_default().extend_from_slice(&rest[..run]);
            rest = &rest[run..];
        }
        timers.clear();
    }

    fn fit_states(&mut self) {
        let bound = self.index.id_bound();
        if self.states.len() < bound {
            self.states.resize_with(bound, KeySlot::default);
        }
    }

    /// Release `ids` whose keys have neither open sessions nor a tombstone.
    fn release_idle(&mut self, ids: impl IntoIterator<Item = u32>) {
        for id in ids {
            if self.index.is_live(id) && self.states[id as usize].is_empty() && !self.tombstones.contains(&id) {
                self.index.release(id);
            }
        }
    }

    /// Add a restored key's sessions (uids renumbered: they are unique per shard).
    pub fn restore_key(&mut self, key: &KeyValue, sessions: Vec<(Session, Vec<KeptEvent>)>, close_delay: Millis) {
        let id = self.index.intern(key);
        self.fit_states();
        for (mut session, kept) in sessions {
            session.uid = self.next_uid;
            self.next_uid += 1;
            if !kept.is_empty() {
                self.kept.insert(session.uid, kept);
            }
            self.schedule(Timer(session.end + close_delay, session.uid, id));
            self.states[id as usize].push(session);
        }
    }

    pub fn restore_tombstone(&mut self, key: &KeyValue, at: Millis) {
        let id = self.index.intern(key);
        self.fit_states();
        self.tombstones.insert(id);
        self.tombstones_at = at;
    }

    /// Open keys and their sessions (with kept events), in id order.
    pub fn open(&self) -> impl Iterator<Item = (KeyValue, Vec<(&Session, &[KeptEvent])>)> + '_ {
        self.states.iter().enumerate().filter(|(_, s)| !s.is_empty()).map(|(id, sessions)| {
            let with_kept = sessions.iter().map(|s| (s, self.kept.get(&s.uid).map_or(&[][..], |k| &k[..]))).collect();
            (self.index.key(id as u32), with_kept)
        })
    }

    pub fn open_keys(&self) -> usize {
        self.states.iter().filter(|s| !s.is_empty()).count()
    }

    pub fn open_sessions(&self) -> usize {
        self.states.iter().map(|s| s.len()).sum()
    }

    fn intern(&mut self, keys: KeySource<'_>, work: &Work) -> Vec<u32> {
        let rows = &work.rows;
        let mut ids = std::mem::take(&mut self.ids);
        match (&mut self.index, keys) {
            (KeyIndex::Ints(index), KeySource::Ints(column)) => index.intern_rows(column, rows, &work.hashes, &mut ids),
            (KeyIndex::Strs(index), KeySource::Strs { column, .. }) => {
                ids.clear();
                // The column's type was checked when the key kind was chosen.
                intern_strings(index, column, RowSet::Some(rows), &mut ids).expect("a string key column");
            }
            (KeyIndex::Rows(index), KeySource::Bytes(encoded)) => match encoded {
                Some(encoded) => {
                    ids.clear();
                    index.intern_all(rows.iter().map(|&row| Some(encoded.row(row as usize).data())), &mut ids)
                }
                None => {
                    ids.clear();
                    if !rows.is_empty() {
                        ids.resize(rows.len(), index.intern(&[], hash_bytes(&[])));
                    }
                }
            },
            _ => unreachable!("the key index and the batch's keys are of one kind"),
        }
        self.fit_states();
        ids
    }

    pub fn apply(&mut self, batch: &Batch<'_>, work: &Work) -> Applied {
        let ids = self.intern(batch.keys, work);
        let config = batch.config;
        let gap = config.gap;
        let keep_events = config.max_duration.is_some();
        let mut applied = Applied::default();
        let mut maybe_idle = Vec::new();
        // Timers of new sessions, scheduled together at the end (events come roughly in time
        // order, so consecutive ones share a bucket).
        let mut new_timers = Vec::new();
        for (i, ((&row, &id), &wm)) in work.rows.iter().zip(&ids).zip(&work.watermarks).enumerate() {
            // The key state of an event a few rows ahead is fetched while this one is worked on.
            if let Some(&ahead) = ids.get(i + PREFETCH_ROWS) {
                prefetch_slot(&self.states, ahead);
            }
            let row = row as usize;
            let t = batch.times[row];
            if wm != NO_WATERMARK {
                if self.tombstones_at != wm && !self.tombstones.is_empty() {
                    maybe_idle.extend(self.tombstones.drain());
                }
                // Only an event at or behind the watermark (less the lateness) may be late.
                if t.saturating_add(config.allowed_lateness) <= wm {
                    if let Some(reason) = self.late_reason(id, t, wm, config) {
                        applied.late.push((row as u32, reason));
                        maybe_idle.push(id);
                        continue;
                    }
                }
            }
            let seq = batch.seq_base + row as u64;
            let session = match &mut self.states[id as usize][..] {
                // Most events: within `gap` of the key's one open session.
                [only] if only.start - gap <= t && t <= only.end + gap => {
                    only.start = only.start.min(t);
                    only.end = only.end.max(t);
                    only
                }
                _ => {
                    let first = self.place(id, t, batch, &mut new_timers, &mut applied);
                    &mut self.states[id as usize][first]
                }
            };
            if keep_events {
                let values = batch.inputs.iter().map(|input| OwnedValue::from_value(input.value(row))).collect();
                self.kept.entry(session.uid).or_default().push(KeptEvent { time: t, seq, values });
            } else {
                for (acc, input) in session.accs.iter_mut().zip(batch.inputs) {
                    match (acc, input) {
                        // Row counts, the common aggregate, without going through `Value`.
                        (Acc::Count(n), AggInput::Rows) => *n += 1,
                        (acc, input) => acc.add(input.value(row), t, seq),
                    }
                }
            }
        }
        self.ids = ids;
        self.schedule_all(&mut new_timers);
        self.release_idle(maybe_idle);
        applied
    }

    /// The index of the session of key `id` that takes an event at `t` (not late): an open one it
    /// falls in or next to (stretched to it; two it bridges are merged first), or a new one.
    fn place(&mut self, id: u32, t: Millis, batch: &Batch<'_>, new_timers: &mut Vec<Timer>, applied: &mut Applied) -> usize {
        let gap = batch.config.gap;
        let sessions = &mut self.states[id as usize];
        // Sessions are sorted and more than `gap` apart, so an event touches at most two.
        let first = sessions.partition_point(|s| s.end + gap < t);
        let touches = |s: &Session| s.start - gap <= t;
        if first < sessions.len() && touches(&sessions[first]) {
            if first + 1 < sessions.len() && touches(&sessions[first + 1]) {
                // The event bridges two sessions: fold the later one into the earlier one.
                let later = sessions.remove_session(first + 1);
                let earlier = &mut sessions[first];
                earlier.end = earlier.end.max(later.end);
                for (acc, other) in earlier.accs.iter_mut().zip(later.accs) {
                    acc.merge(other);
                }
                if let Some(kept) = self.kept.remove(&later.uid) {
                    self.kept.entry(earlier.uid).or_default().extend(kept);
                }
                applied.merged += 1;
            }
            let session = &mut sessions[first];
            session.start = session.start.min(t);
            session.end = session.end.max(t);
        } else {
            let uid = self.next_uid;
            self.next_uid += 1;
            sessions.insert(first, Session { uid, start: t, end: t, accs: batch.aggs.new_accs() });
            new_timers.push(Timer(t + gap + batch.config.allowed_lateness, uid, id));
        }
        first
    }

    /// Why the event at `t` of key `id` is late at watermark `wm`, if it is (see the module docs).
    fn late_reason(&self, id: u32, t: Millis, wm: Millis, config: &SessionConfig) -> Option<String> {
        let (gap, lateness) = (config.gap, config.allowed_lateness);
        if wm == Millis::MAX {
            return Some(format!("event at {} arrived after flush() (end of input)", iso(t)));
        }
        let behind = t.saturating_add(lateness) - wm;
        if behind > 0 {
            return None;
        }
        let sessions = &self.states[id as usize];
        let first = sessions.partition_point(|s| s.end + gap < t);
        let touched = &sessions[first..sessions.len().min(first + 2)];
        let touched: Vec<&Session> = touched.iter().filter(|s| s.start - gap <= t).collect();
        let closed = |s: &Session| s.end + gap + lateness <= wm;
        if let Some(open) = touched.first() {
            if open.start <= t && !closed(open) {
                return None; // inside an open session: nothing closed lies within `gap` of it
            }
        }
        if behind == 0 && !self.tombstones.contains(&id) && !touched.iter().any(|s| closed(s)) {
            return None;
        }
        Some(format!(
            "event at {} is not after the watermark {} minus allowed lateness ({lateness} ms) and may belong to a session already emitted",
            iso(t),
            iso(wm)
        ))
    }

    /// Close the sessions due at watermark `wm` into `closed`.
    pub fn close_due(&mut self, wm: Millis, config: &SessionConfig, aggs: &AggSet, closed: &mut Vec<Closed>) {
        let close_delay = config.gap + config.allowed_lateness;
        if self.tombstones_at != wm {
            let cleared: Vec<u32> = self.tombstones.drain().collect();
            self.release_idle(cleared);
            self.tombstones_at = wm;
        }
        let mut not_yet = Vec::new();
        let mut idle = Vec::new();
        // Every due bucket at once, so the prefetching runs ahead across bucket boundaries.
        let mut timers = Vec::new();
        while let Some(mut entry) = self.timers.first_entry() {
            let bucket_start = *entry.key() * TIMER_BUCKET_MS;
            if bucket_start > wm {
                break;
            }
            if bucket_start.saturating_add(TIMER_BUCKET_MS - 1) > wm {
                // The bucket the watermark is in: take its due timers and leave the rest in place
                // (streams pushed every second pass through a bucket many times).
                entry.get_mut().retain(|&timer| {
                    let due = timer.0 <= wm;
                    if due {
                        timers.push(timer);
                    }
                    !due
                });
                if entry.get().is_empty() {
                    entry.remove();
                }
                break;
            }
            if timers.is_empty() {
                timers = entry.remove();
            } else {
                timers.extend(entry.remove());
            }
        }
        closed.reserve(timers.len());
        {
            for (i, &Timer(scheduled, uid, id)) in timers.iter().enumerate() {
                // A timer's own work is short: look further ahead than for events.
                if let Some(ahead) = timers.get(i + 2 * PREFETCH_ROWS) {
                    prefetch_slot(&self.states, ahead.2);
                    self.index.prefetch_key(ahead.2);
                }
                if scheduled > wm {
                    not_yet.push(Timer(scheduled, uid, id));
                    continue;
                }
                let sessions = &mut self.states[id as usize];
                let Some(i) = sessions.iter().position(|s| s.uid == uid) else { continue };
                let due = sessions[i].end + close_delay;
                if due > wm {
                    // The session grew since this timer was set: look again when it is due.
                    not_yet.push(Timer(due, uid, id));
                    continue;
                }
                let session = sessions.remove_session(i);
                let now_idle = sessions.is_empty();
                let key = self.index.key(id);
                if due == wm {
                    self.tombstones.insert(id);
                } else if now_idle {
                    idle.push(id);
                }
                let kept = self.kept.remove(&session.uid).unwrap_or_default();
                split_into(key, session, kept, config, aggs, closed);
            }
        }
        self.schedule_all(&mut not_yet);
        // A key whose last session closed early in this pass may have been tombstoned by an
        // earlier session of it closing exactly at `wm` (timers are not in time order): keep it.
        if !self.tombstones.is_empty() {
            idle.retain(|id| !self.tombstones.contains(id));
        }
        self.index.release_many(&idle);
    }
}

/// A closed session as output rows: itself, or its pieces when it is longer than `max_duration`.
fn split_into(key: KeyValue, session: Session, mut events: Vec<KeptEvent>, config: &SessionConfig, aggs: &AggSet, out: &mut Vec<Closed>) {
    let Some(max_duration) = config.max_duration else {
        out.push(Closed { key, start: session.start, end: session.end, accs: session.accs });
        return;
    };
    events.sort_by_key(|e| (e.time, e.seq));
    let mut current: Option<Closed> = None;
    for event in events {
        if current.as_ref().is_some_and(|c| event.time - c.start > max_duration) {
            out.push(current.take().expect("checked"));
        }
        let piece = current.get_or_insert_with(|| Closed { key: key.clone(), start: event.time, end: event.time, accs: aggs.new_accs() });
        piece.end = event.time;
        for (acc, value) in piece.accs.iter_mut().zip(&event.values) {
            acc.add(value.as_value(), event.time, event.seq);
        }
    }
    out.extend(current);
}

/// The shard (of `shards`) that owns `key`; batches route their rows with the same hash.
pub(super) fn shard_of(key: &KeyValue, shards: usize) -> usize {
    match key {
        KeyValue::Int(v) => IntKeys::shard_of_value(*v, shards),
        KeyValue::Str(b) => shard_of_hash(b.as_ref().map_or(NULL_KEY_HASH, |b| hash_bytes(b)), shards),
        KeyValue::Bytes(b) => shard_of_bytes(b, shards),
    }
}

/// The shard of a string key whose hash is `hash`.
#[inline]
pub(super) fn shard_of_hash(hash: u64, shards: usize) -> usize {
    crate::stream::intern::reduce(hash, shards)
}

#[inline]
pub(super) fn shard_of_bytes(key: &[u8], shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    crate::stream::intern::reduce(super::session_id(key, 0) as u64, shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_by_bucket_keeps_every_timer_and_makes_each_bucket_one_run() {
        // Close together (one bucket of timers per counting-sort bucket) and far apart (many).
        for spread in [3 * TIMER_BUCKET_MS, 1 << 40] {
            let timers: Vec<Timer> = (0..500u64).map(|i| Timer(((i * 7919) % 101) as Millis * spread / 100 - spread / 2, i, i as u32)).collect();
            let mut grouped = timers.clone();
            group_by_bucket(&mut grouped);
            let key = |t: &Timer| (t.0, t.1, t.2);
            let (mut before, mut after): (Vec<_>, Vec<_>) = (timers.iter().map(key).collect(), grouped.iter().map(key).collect());
            before.sort();
            after.sort();
            assert_eq!(before, after, "the same timers");
            let buckets: Vec<Millis> = grouped.iter().map(|t| t.0.div_euclid(TIMER_BUCKET_MS)).collect();
            let mut runs = buckets.clone();
            runs.dedup();
            let mut distinct = runs.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(runs.len(), distinct.len(), "each bucket in one run");
        }
    }

    #[test]
    fn a_key_with_one_session_and_one_aggregate_fills_one_cache_line() {
        // The event loop is bound by memory latency: one line per key, not two, per event.
        assert_eq!(std::mem::size_of::<Acc>(), 24);
        assert_eq!(std::mem::size_of::<KeySlot>(), 64);
    }
}
