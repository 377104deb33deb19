//! Dense ids for the keys with open state, so per-key state lives in a flat `Vec` indexed by id.
//!
//! Integer keys (the common case: user ids) skip Arrow's row encoding. While they are dense (their
//! range is at most a few times the number of keys, as with auto-increment ids) a key's id is its
//! offset in that range: no hashing and no table, like DuckDB's perfect hash aggregation. Otherwise
//! they go through an open-addressing table of `(key, id)` pairs whose buckets are prefetched a
//! few rows ahead, so the memory latency of 100k+ live keys overlaps instead of stalling every
//! event. Other keys (strings, several columns) are hashed as row-encoded bytes. An id is
//! released when its key has no state left, and reused.

pub mod columns;
pub mod strings;

use crate::stream::keys::KeyBytes;
use strings::{hash_bytes, StrKeys};
use arrow_array::{Array, Int64Array};
use std::cmp::Ordering;

/// A key as the index holds it: an integer (None for a null key), a string or binary column's
/// own bytes (None for null), or several columns' Arrow row encoding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyValue {
    Int(Option<i64>),
    Str(Option<KeyBytes>),
    Bytes(KeyBytes),
}

/// `items` in a stable counting sort by `bucket(item)`, each below `buckets` (each item's bucket is
/// read once).
pub fn counting_sorted<T: Copy>(items: &[T], bucket: impl Fn(&T) -> usize, buckets: usize) -> Vec<T> {
    let of: Vec<usize> = items.iter().map(bucket).collect();
    let mut starts = vec![0usize; buckets + 1];
    for &b in &of {
        starts[b + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let Some(&first) = items.first() else { return Vec::new() };
    let mut sorted = vec![first; items.len()];
    for (&item, &b) in items.iter().zip(&of) {
        sorted[starts[b]] = item;
        starts[b] += 1;
    }
    sorted
}

/// The smallest and largest of `values` (MAX, MIN when there are none).
pub fn min_max(values: impl Iterator<Item = i64>) -> (i64, i64) {
    values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// Issues ids and takes them back; ids stay small and dense.
#[derive(Default)]
struct IdPool {
    next: u32,
    free: Vec<u32>,
    live: LiveBits,
    /// Bumped whenever an id is issued or taken back (what cached ranks are checked against).
    version: u64,
    /// Ids issued since ranks were last taken (see [`RankCache`]), while there are no more of
    /// them than ids in use; None past that (ranks are then rebuilt whole, and users that never
    /// rank, such as sessions, keep no log).
    issued: Option<Vec<u32>>,
}

impl IdPool {
    fn take(&mut self) -> u32 {
        self.version += 1;
        let id = self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.live.cover(self.next);
            self.next - 1
        });
        self.live.insert(id);
        if let Some(issued) = &mut self.issued {
            if issued.len() >= (self.next as usize).max(1024) {
                self.issued = None;
            } else {
                issued.push(id);
            }
        }
        id
    }

    /// The ids issued since the last call (None: too many to tell), and a fresh log.
    fn take_issued(&mut self) -> Option<Vec<u32>> {
        self.issued.replace(Vec::new())
    }

    fn give_back(&mut self, id: u32) {
        self.version += 1;
        self.live.remove(id);
        self.free.push(id);
    }
}

/// Each live id's position in key order, kept while no id is issued or taken back: keys that
/// stay (services, hosts, the users of a day) are ranked once, and then every window's keys sort
/// and merge as small integers, not by their values or bytes. When keys come and go, the order
/// is updated (the leavers dropped, the newcomers sorted and merged in), not rebuilt.
#[derive(Default)]
struct RankCache {
    /// Live ids in key order as of `version`.
    order: Vec<u32>,
    ranks: Vec<u32>,
    version: Option<u64>,
}

impl RankCache {
    /// The ranks of `ids`' live ids in the key order `cmp`; `issued`: the ids issued since the
    /// last call ([`IdPool::take_issued`]), or None to rebuild.
    fn get(&mut self, ids: &IdPool, issued: Option<Vec<u32>>, cmp: impl Fn(u32, u32) -> Ordering) -> &[u32] {
        if self.version == Some(ids.version) {
            return &self.ranks;
        }
        let live = |id: u32| ids.live.get(id);
        match (self.version, issued) {
            (Some(_), Some(mut newcomers)) => {
                // An id issued since may have been released and issued again for another key:
                // its old place goes as a leaver's does.
                let mut reissued = vec![false; ids.next as usize];
                newcomers.iter().for_each(|&id| reissued[id as usize] = true);
                self.order.retain(|&id| live(id) && !reissued[id as usize]);
                newcomers.sort_unstable();
                newcomers.dedup();
                newcomers.retain(|&id| live(id));
                newcomers.sort_unstable_by(|&a, &b| cmp(a, b));
                let mut merged = Vec::with_capacity(self.order.len() + newcomers.len());
                let (mut i, mut j) = (0, 0);
                while i < self.order.len() && j < newcomers.len() {
                    if cmp(newcomers[j], self.order[i]) == Ordering::Less {
                        merged.push(newcomers[j]);
                        j += 1;
                    } else {
                        merged.push(self.order[i]);
                        i += 1;
                    }
                }
                merged.extend_from_slice(&self.order[i..]);
                merged.extend_from_slice(&newcomers[j..]);
                self.order = merged;
            }
            _ => {
                self.order = (0..ids.next).filter(|&id| live(id)).collect();
                self.order.sort_unstable_by(|&a, &b| cmp(a, b));
            }
        }
        self.ranks.resize(ids.next as usize, 0);
        for (rank, &id) in self.order.iter().enumerate() {
            self.ranks[id as usize] = rank as u32;
        }
        self.version = Some(ids.version);
        &self.ranks
    }

    fn is_current(&self, ids: &IdPool) -> bool {
        self.version == Some(ids.version)
    }
}

/// Order-preserving small integers for key ids (see [`KeyIds::ranks`]): `get(a) < get(b)` exactly
/// when key `a` sorts before key `b`, and every value is below `bound`.
#[derive(Clone, Copy)]
pub enum Ranks<'a> {
    /// Dense integer keys: the id is the rank.
    Ids { bound: usize },
    Table { ranks: &'a [u32], bound: usize },
}

impl Ranks<'_> {
    #[inline]
    pub fn get(&self, id: u32) -> u32 {
        match self {
            Ranks::Ids { .. } => id,
            Ranks::Table { ranks, .. } => ranks[id as usize],
        }
    }

    pub fn bound(&self) -> usize {
        match self {
            Ranks::Ids { bound } | Ranks::Table { bound, .. } => *bound,
        }
    }
}

/// One bit per id: 100k keys in 12.5 KB, which stays in L1 while events look their keys up.
#[derive(Default)]
struct LiveBits(Vec<u64>);

impl LiveBits {
    /// Make room for ids below `bound` (new ones not live).
    fn cover(&mut self, bound: u32) {
        let words = (bound as usize).div_ceil(64);
        if self.0.len() < words {
            self.0.resize(words, 0);
        }
    }

    #[inline]
    fn get(&self, id: u32) -> bool {
        self.0.get(id as usize / 64).is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    /// Make `id` (covered) live; whether it was not (branch-free).
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        let word = &mut self.0[id as usize / 64];
        let before = *word;
        *word |= 1u64 << (id % 64);
        *word != before
    }

    /// Make `ids` (all covered) live; returns how many were not.
    fn insert_all(&mut self, ids: &[u32]) -> usize {
        ids.iter().map(|&id| usize::from(self.insert(id))).sum()
    }

    #[inline]
    fn remove(&mut self, id: u32) {
        self.0[id as usize / 64] &= !(1u64 << (id % 64));
    }
}

pub enum KeyIndex {
    Ints(IntKeys),
    /// One string or binary column, by the values' own bytes (no row encoding per event).
    Strs(StrKeys),
    /// Row-encoded keys (several columns; or none: one empty key).
    Rows(StrKeys),
}

impl KeyIndex {
    pub fn ints() -> Self {
        KeyIndex::Ints(IntKeys::default())
    }

    pub fn strs() -> Self {
        KeyIndex::Strs(StrKeys::new())
    }

    pub fn rows() -> Self {
        KeyIndex::Rows(StrKeys::new())
    }

    /// Upper bound (exclusive) of the ids issued so far.
    pub fn id_bound(&self) -> usize {
        match self {
            KeyIndex::Ints(k) => k.ids.next as usize,
            KeyIndex::Strs(k) | KeyIndex::Rows(k) => k.id_bound(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        match self {
            KeyIndex::Ints(k) => k.live_len(),
            KeyIndex::Strs(k) | KeyIndex::Rows(k) => k.len(),
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn key(&self, id: u32) -> KeyValue {
        match self {
            KeyIndex::Ints(k) => KeyValue::Int(k.key(id)),
            KeyIndex::Strs(k) => KeyValue::Str(k.bytes(id).map(KeyBytes::from_slice)),
            KeyIndex::Rows(k) => KeyValue::Bytes(k.bytes(id).map(KeyBytes::from_slice).unwrap_or_default()),
        }
    }

    /// The id of `key`, issued if the key is new.
    pub fn intern(&mut self, key: &KeyValue) -> u32 {
        match (self, key) {
            (KeyIndex::Ints(k), KeyValue::Int(v)) => k.intern_one(*v),
            (KeyIndex::Strs(k), KeyValue::Str(None)) => k.intern_null(),
            (KeyIndex::Strs(k), KeyValue::Str(Some(b))) | (KeyIndex::Rows(k), KeyValue::Bytes(b)) => k.intern(b, hash_bytes(b)),
            _ => unreachable!("a key of the other kind"),
        }
    }

    /// Forget `id`'s key; the id may be issued again.
    pub fn release(&mut self, id: u32) {
        debug_assert!(self.is_live(id), "release of an id not issued");
        match self {
            KeyIndex::Ints(k) => k.release(id),
            KeyIndex::Strs(k) | KeyIndex::Rows(k) => k.release(id),
        }
    }

    /// Release all `ids` (each issued, none twice), prefetching table buckets ahead.
    pub fn release_many(&mut self, ids: &[u32]) {
        match self {
            KeyIndex::Ints(k) => k.release_many(ids),
            KeyIndex::Strs(k) | KeyIndex::Rows(k) => k.release_many(ids),
        }
    }

    /// Prefetch what `key(id)` reads.
    #[inline]
    pub fn prefetch_key(&self, id: u32) {
        match self {
            KeyIndex::Ints(k) => prefetch_at(&k.keys, id as usize), // (empty while dense: nothing to read)
            KeyIndex::Strs(k) | KeyIndex::Rows(k) => k.prefetch_key(id),
        }
    }

    /// Whether interning wants the rows' key hashes (integer keys in the hashed layout).
    pub fn wants_hashes(&self) -> bool {
        matches!(self, KeyIndex::Ints(k) if k.layout == Layout::Hashed)
    }

    /// Whether `id` is issued (not released since).
    pub fn is_live(&self, id: u32) -> bool {
        match self {
            KeyIndex::Ints(k) => k.ids.live.get(id),
            KeyIndex::Strs(k) | KeyIndex::Rows(k) => k.is_live(id),
        }
    }
}

const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    key: i64,
    id: u32,
}

/// Linear probing, power-of-two capacity, at most half full, backward-shift deletion (no
/// tombstones, so probe chains stay short however many keys come and go).
struct IntTable {
    slots: Vec<Slot>,
    shift: u32,
    len: usize,
}

impl Default for IntTable {
    fn default() -> Self {
        IntTable::with_bits(10)
    }
}

/// murmur3's 64-bit finaliser: every key bit reaches the high bits the table indexes with.
#[inline]
fn mix(key: i64) -> u64 {
    let mut h = key as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The low 32 bits of `hash` mapped onto `0..n` by a multiply and shift: every shard scans
/// every row of a push, and a division per row cost more than the rest of the scan. (Which shard
/// owns a key is never stored: snapshots are independent of the shards.)
#[inline]
pub fn reduce(hash: u64, n: usize) -> usize {
    (((hash & 0xffff_ffff) * n as u64) >> 32) as usize
}

#[inline]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults and does not read or write memory.
    unsafe {
        std::arch::x86_64::_mm_prefetch(item as *const T as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Prefetch the element `i` of `items` if there is one.
#[inline]
pub fn prefetch_at<T>(items: &[T], i: usize) {
    if let Some(item) = items.get(i) {
        prefetch(item);
    }
}

/// How many rows ahead buckets are prefetched: enough to cover a DRAM access at a few ns a row.
pub const PREFETCH_ROWS: usize = 16;

impl IntTable {
    fn with_bits(bits: u32) -> Self {
        IntTable { slots: vec![Slot { key: 0, id: EMPTY }; 1 << bits], shift: 64 - bits, len: 0 }
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        prefetch(&self.slots[self.home(hash)]);
    }

    /// The id of `key`, or `new_id()` inserted for it.
    #[inline]
    fn get_or_insert(&mut self, key: i64, hash: u64, new_id: impl FnOnce() -> u32) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY {
                let id = new_id();
                self.slots[i] = Slot { key, id };
                self.len += 1;
                return id;
            }
            if slot.key == key {
                return slot.id;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let bits = 64 - self.shift + 1;
        let old = std::mem::replace(self, IntTable::with_bits(bits));
        for slot in old.slots.into_iter().filter(|s| s.id != EMPTY) {
            let id = slot.id;
            self.get_or_insert(slot.key, mix(slot.key), || id);
        }
    }

    fn remove(&mut self, key: i64) {
        let mask = self.mask();
        let mut i = self.home(mix(key));
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY {
                return;
            }
            if slot.key == key {
                break;
            }
            i = (i + 1) & mask;
        }
        // Shift back every later entry of the run that may sit at the hole (its home is not
        // between the hole and its position), so lookups never stop early at the hole.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot.id == EMPTY {
                break;
            }
            let home = self.home(mix(slot.key));
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(i) & mask) {
                self.slots[i] = slot;
                i = j;
            }
        }
        self.slots[i].id = EMPTY;
        self.len -= 1;
    }
}

/// How [`IntKeys`] maps keys to ids.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Layout {
    /// No key yet.
    #[default]
    Fresh,
    /// Dense keys: the id of `key` is `key - base`, for ids below `ids.next` (the range so far);
    /// `ids.live` marks the keys present, of which there are `len`. `table` and `keys` are unused.
    Dense { base: i64, len: usize },
    /// Any keys: through `table`, `null_id` and `keys`. Once hashed, always hashed.
    Hashed,
}

/// A dense range may cover this many ids however few keys are live (64 bytes of state each).
const DENSE_MIN_RANGE: u64 = 4096;
/// Otherwise at most this many ids per key: per live key, or per row of the largest batch interned.
const DENSE_IDS_PER_KEY: u64 = 4;

/// How many ids a dense range may have when `keys` is the most keys (or batch rows) it had to hold
/// (ids are u32: kept well below that).
fn dense_limit(keys: usize) -> u64 {
    DENSE_MIN_RANGE.max(DENSE_IDS_PER_KEY * keys as u64).min(u32::MAX as u64 / 2)
}

#[derive(Default)]
pub struct IntKeys {
    layout: Layout,
    table: IntTable,
    null_id: Option<u32>,
    keys: Vec<Option<i64>>,
    ids: IdPool,
    /// The most keys live at once, or rows interned in one batch, so far: what a dense range
    /// may be sized by.
    peak: usize,
    ranks: RankCache,
}

impl IntKeys {
    /// Keys live (interned and not released).
    pub fn live_len(&self) -> usize {
        match self.layout {
            Layout::Dense { len, .. } => len,
            _ => self.table.len + usize::from(self.null_id.is_some()),
        }
    }

    /// The key of `id` (None: the null key).
    pub fn key(&self, id: u32) -> Option<i64> {
        match self.layout {
            Layout::Dense { base, .. } => Some(base + id as i64),
            _ => self.keys[id as usize],
        }
    }

    /// The id of `key` while keys are dense and `key` fits (or may extend) the range; None when
    /// they must be hashed from now on.
    #[inline]
    fn dense_id(&mut self, key: Option<i64>) -> Option<u32> {
        let Layout::Dense { base, len } = &mut self.layout else { return None };
        let offset = key?.checked_sub(*base).filter(|&o| o >= 0)? as u64;
        if offset >= self.ids.next as u64 {
            // Extend the range, if it stays dense enough (ids are u32: keep well below).
            let limit = dense_limit(self.peak.max(*len + 1));
            if offset >= limit {
                return None;
            }
            self.ids.next = offset as u32 + 1;
            self.ids.live.cover(self.ids.next);
        }
        let id = offset as u32;
        if self.ids.live.insert(id) {
            *len += 1;
            self.peak = self.peak.max(*len);
        }
        Some(id)
    }

    /// How many ids a dense range may have now.
    fn current_dense_limit(&self) -> u64 {
        let len = match self.layout {
            Layout::Dense { len, .. } => len,
            _ => 0,
        };
        dense_limit(self.peak.max(len + 1))
    }

    /// Leave the dense layout: every live key goes into the table with the id it has, and the
    /// ids in between become free.
    fn hash_all(&mut self) {
        if let Layout::Dense { base, .. } = self.layout {
            let live = &self.ids.live;
            self.keys = (0..self.ids.next).map(|id| live.get(id).then(|| base + id as i64)).collect();
            self.ids.free = (0..self.ids.next).rev().filter(|&id| !live.get(id)).collect();
            for (id, key) in self.keys.iter().enumerate() {
                if let Some(key) = *key {
                    self.table.get_or_insert(key, mix(key), || id as u32);
                }
            }
        }
        self.layout = Layout::Hashed;
    }

    /// Start the dense layout at `base` if no key was interned yet.
    fn start_dense(&mut self, base: Option<i64>) {
        if self.layout == Layout::Fresh {
            self.layout = match base {
                Some(base) => Layout::Dense { base, len: 0 },
                None => Layout::Hashed,
            };
        }
    }

    fn new_id(keys: &mut Vec<Option<i64>>, ids: &mut IdPool, key: Option<i64>) -> u32 {
        let id = ids.take();
        if id as usize == keys.len() {
            keys.push(key);
        } else {
            keys[id as usize] = key;
        }
        id
    }

    pub fn intern_one(&mut self, key: Option<i64>) -> u32 {
        self.start_dense(key);
        if let Some(id) = self.dense_id(key) {
            return id;
        }
        if self.layout != Layout::Hashed {
            self.hash_all();
        }
        let (keys, ids) = (&mut self.keys, &mut self.ids);
        match key {
            None => *self.null_id.get_or_insert_with(|| Self::new_id(keys, ids, None)),
            Some(v) => self.table.get_or_insert(v, mix(v), || Self::new_id(keys, ids, Some(v))),
        }
    }

    /// Ids of `column[rows[i]]` into `out`, prefetching the buckets of the rows ahead. `hashes`
    /// are the rows' [`IntKeys::hash`]es when the caller has them already (else empty).
    pub fn intern_rows(&mut self, column: &Int64Array, rows: &[u32], hashes: &[u64], out: &mut Vec<u32>) {
        out.clear();
        out.reserve(rows.len());
        let values = column.values();
        let nulls = column.nulls().filter(|n| n.null_count() > 0);
        self.peak = self.peak.max(rows.len());
        if self.layout == Layout::Fresh {
            // The first batch starts the range: at 0 when its keys are small enough not to waste
            // many ids below them (then later smaller keys still fit, as with auto-increment
            // ids), else at its smallest key.
            let (smallest, largest) = match nulls {
                Some(nulls) => min_max(rows.iter().filter(|&&r| nulls.is_valid(r as usize)).map(|&r| values[r as usize])),
                None => min_max(rows.iter().map(|&r| values[r as usize])),
            };
            let small = smallest >= 0 && (largest as u64) < self.current_dense_limit();
            self.start_dense((smallest <= largest).then_some(if small { 0 } else { smallest }));
        }
        if let (Layout::Dense { base, len }, None) = (self.layout, nulls) {
            // Usually every key is in the range already: tight passes, no per-row branches. (Two
            // passes over the keys, range then ids, each vectorised: faster than one pass doing both.)
            let (smallest, largest) = min_max(rows.iter().map(|&r| values[r as usize]));
            if smallest >= base && largest.checked_sub(base).is_some_and(|o| o < self.ids.next as i64) {
                out.extend(rows.iter().map(|&r| (values[r as usize] - base) as u32));
                let len = len + self.ids.live.insert_all(out);
                self.layout = Layout::Dense { base, len };
                self.peak = self.peak.max(len);
                return;
            }
        }
        if let Layout::Dense { .. } = self.layout {
            for (i, &row) in rows.iter().enumerate() {
                let row = row as usize;
                let key = (!nulls.is_some_and(|n| n.is_null(row))).then(|| values[row]);
                match self.dense_id(key) {
                    Some(id) => out.push(id),
                    None => {
                        self.hash_all();
                        return self.intern_rows_hashed(column, &rows[i..], hashes.get(i..).unwrap_or(&[]), out);
                    }
                }
            }
            return;
        }
        self.intern_rows_hashed(column, rows, hashes, out);
    }

    /// [`IntKeys::intern_rows`] in the hashed layout (ids appended to `out`).
    fn intern_rows_hashed(&mut self, column: &Int64Array, rows: &[u32], hashes: &[u64], out: &mut Vec<u32>) {
        let values = column.values();
        let computed: Vec<u64>;
        let hashes = if hashes.len() == rows.len() {
            hashes
        } else {
            computed = rows.iter().map(|&r| mix(values[r as usize])).collect();
            &computed
        };
        let nulls = column.nulls().filter(|n| n.null_count() > 0);
        for (i, (&row, &hash)) in rows.iter().zip(hashes).enumerate() {
            if let Some(&ahead) = hashes.get(i + PREFETCH_ROWS) {
                self.table.prefetch(ahead);
            }
            let row = row as usize;
            let id = if nulls.is_some_and(|n| n.is_null(row)) {
                self.intern_one(None)
            } else {
                let (keys, ids, v) = (&mut self.keys, &mut self.ids, values[row]);
                self.table.get_or_insert(v, hash, || Self::new_id(keys, ids, Some(v)))
            };
            out.push(id);
        }
    }

    /// Order-preserving ranks of the live ids, when they are cheap for sorting `items` ids
    /// (see [`KeyIds::ranks`]): dense ids are their own ranks when their range is within twice
    /// `items`; other keys are ranked when the cached ranks hold or there are at most twice
    /// `items` live keys.
    pub fn ranks(&mut self, items: usize) -> Option<Ranks<'_>> {
        match self.layout {
            Layout::Fresh => Some(Ranks::Ids { bound: 0 }),
            Layout::Dense { .. } => (self.ids.next as usize <= 2 * items).then_some(Ranks::Ids { bound: self.ids.next as usize }),
            Layout::Hashed => {
                let live = self.live_len();
                if !self.ranks.is_current(&self.ids) && live > 2 * items {
                    return None;
                }
                let keys = &self.keys;
                let issued = self.ids.take_issued();
                // None (the null key) sorts first, then by value: Option's own order.
                let ranks = self.ranks.get(&self.ids, issued, |a, b| keys[a as usize].cmp(&keys[b as usize]));
                Some(Ranks::Table { ranks, bound: live })
            }
        }
    }

    /// Prefetch what `key(id)` reads (nothing while dense).
    #[inline]
    pub fn prefetch_key(&self, id: u32) {
        prefetch_at(&self.keys, id as usize);
    }

    /// Release all `ids` (each issued, none twice), prefetching table buckets ahead.
    pub fn release_many(&mut self, ids: &[u32]) {
        if matches!(self.layout, Layout::Dense { .. }) {
            return ids.iter().for_each(|&id| self.release(id));
        }
        let keys: Vec<Option<i64>> = ids.iter().map(|&id| self.keys[id as usize]).collect();
        for (i, (&id, key)) in ids.iter().zip(&keys).enumerate() {
            if let Some(Some(ahead)) = keys.get(i + PREFETCH_ROWS) {
                self.table.prefetch(mix(*ahead));
            }
            match key {
                None => self.null_id = None,
                Some(v) => self.table.remove(*v),
            }
            self.ids.give_back(id);
        }
    }

    /// Forget `id`'s key; the id may be issued again.
    pub fn release(&mut self, id: u32) {
        if let Layout::Dense { len, .. } = &mut self.layout {
            self.ids.live.remove(id);
            *len -= 1;
            return;
        }
        match self.keys[id as usize] {
            None => self.null_id = None,
            Some(v) => self.table.remove(v),
        }
        self.ids.give_back(id);
    }

    /// The hash a key's bucket and shard are found by.
    #[inline]
    pub fn hash(key: i64) -> u64 {
        mix(key)
    }

    /// Which of `shards` owns the key of `hash`.
    #[inline]
    pub fn shard_of_hash(hash: u64, shards: usize) -> usize {
        reduce(hash, shards)
    }

    /// Which of `shards` owns `key`: by the low bits of its hash (the table indexes with the high
    /// ones, so a shard's keys still spread over its table).
    #[inline]
    pub fn shard_of_value(key: Option<i64>, shards: usize) -> usize {
        match key {
            _ if shards == 1 => 0,
            None => 0,
            Some(v) => Self::shard_of_hash(Self::hash(v), shards),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap as StdMap;

    proptest! {
        /// Interleaved interning and releasing agrees with a std HashMap, and ids are never shared.
        #[test]
        fn int_keys_agree_with_a_hash_map(ops in prop::collection::vec((any::<bool>(), prop::option::weighted(0.95, -40i64..40)), 1..600)) {
            let mut index = KeyIndex::ints();
            let mut model: StdMap<Option<i64>, u32> = StdMap::new();
            for (release, key) in ops {
                if release {
                    if let Some(id) = model.remove(&key) {
                        index.release(id);
                    }
                } else {
                    let id = index.intern(&KeyValue::Int(key));
                    let expected = *model.entry(key).or_insert(id);
                    prop_assert_eq!(id, expected);
                    prop_assert_eq!(index.key(id), KeyValue::Int(key));
                }
                prop_assert_eq!(index.len(), model.len());
                let mut ids: Vec<u32> = model.values().copied().collect();
                ids.sort();
                ids.dedup();
                prop_assert_eq!(ids.len(), model.len());
            }
        }
    }

    proptest! {
        /// Ranks taken between interning and releasing (reused, updated with the keys that came
        /// and went, or rebuilt) order the live keys as their values do, null first, in either
        /// layout: small keys stay dense, a wide range makes the index hashed.
        #[test]
        fn int_ranks_order_live_keys_as_their_values(wide in any::<bool>(), ops in prop::collection::vec((0u8..3, prop::option::weighted(0.95, -40i64..40)), 1..400)) {
            let mut keys = IntKeys::default();
            let mut model: StdMap<Option<i64>, u32> = StdMap::new();
            for (op, key) in ops {
                let key = key.map(|k| if wide { k * 1_000_000_007_000 } else { k + 40 });
                match op {
                    0 => {
                        if let Some(id) = model.remove(&key) {
                            keys.release(id);
                        }
                    }
                    1 => {
                        let id = keys.intern_one(key);
                        model.insert(key, id);
                    }
                    _ => {
                        let mut want: Vec<(Option<i64>, u32)> = model.iter().map(|(&k, &id)| (k, id)).collect();
                        want.sort();
                        let n = want.len().max(keys.ids.next as usize);
                        if let Some(ranks) = keys.ranks(n) {
                            let mut got: Vec<u32> = want.iter().map(|w| w.1).collect();
                            got.sort_by_key(|&id| ranks.get(id));
                            prop_assert!(got.iter().all(|&id| (ranks.get(id) as usize) < ranks.bound()));
                            prop_assert_eq!(got, want.iter().map(|w| w.1).collect::<Vec<_>>());
                        }
                    }
                }
            }
        }
    }

    /// Interning a batch gives each key one id, distinct keys distinct ids, and every id maps
    /// back to its key; `keys` decides the layout (dense, or hashed from the start or midway).
    fn check_batch_interning(keys: &[Option<i64>]) -> IntKeys {
        let column = Int64Array::from(keys.to_vec());
        let rows: Vec<u32> = (0..keys.len() as u32).rev().collect();
        let mut index = IntKeys::default();
        let mut ids = Vec::new();
        index.intern_rows(&column, &rows, &[], &mut ids);
        let mut seen: StdMap<Option<i64>, u32> = StdMap::new();
        for (&row, &id) in rows.iter().zip(&ids) {
            let key = keys[row as usize];
            assert_eq!(*seen.entry(key).or_insert(id), id, "one id per key");
            assert_eq!(index.key(id), key);
        }
        let mut distinct: Vec<u32> = seen.values().copied().collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), seen.len(), "distinct keys, distinct ids");
        // One at a time afterwards finds the same ids.
        for (&key, &id) in &seen {
            assert_eq!(index.intern_one(key), id);
        }
        // A second batch of the same keys, a few released in between, finds their keys again;
        // a dense range (all in range now: the tight passes) gives the same ids and counts
        // each live key once.
        let released: Vec<u32> = seen.values().copied().step_by(7).collect();
        released.iter().for_each(|&id| index.release(id));
        let mut again = Vec::new();
        index.intern_rows(&column, &rows, &[], &mut again);
        for (&row, &id) in rows.iter().zip(&again) {
            assert_eq!(index.key(id), keys[row as usize]);
        }
        if let Layout::Dense { len, .. } = index.layout {
            assert_eq!(again, ids);
            assert_eq!(len, seen.len());
        }
        index
    }

    #[test]
    fn batch_interning_across_layouts_and_growth() {
        // Dense: a range of 3,001 keys, in batch order far from sorted.
        let dense: Vec<Option<i64>> = (0..5000i64).map(|i| Some((i * 7919) % 3001 - 1500)).collect();
        assert!(matches!(check_batch_interning(&dense).layout, Layout::Dense { .. }));
        // Nulls and a key far out of range move to the hashed layout midway, ids kept.
        let mixed: Vec<Option<i64>> = (0..5000i64).map(|i| if i % 97 == 0 { None } else { Some((i * 7919) % 3001 - 1500) }).collect();
        assert_eq!(check_batch_interning(&mixed).layout, Layout::Hashed);
        let mut sparse = dense.clone();
        sparse.insert(0, Some(1 << 40));
        assert_eq!(check_batch_interning(&sparse).layout, Layout::Hashed);
    }

    #[test]
    fn a_dense_range_is_bounded_by_the_keys_it_holds() {
        let mut index = IntKeys::default();
        assert_eq!(index.intern_one(Some(0)), 0);
        // Within the fixed allowance: still dense, ids are offsets.
        assert_eq!(index.intern_one(Some(DENSE_MIN_RANGE as i64 - 1)), DENSE_MIN_RANGE as u32 - 1);
        assert!(matches!(index.layout, Layout::Dense { .. }));
        // Beyond it with two keys: hashed, the ids kept, the ids between free again.
        let far = index.intern_one(Some(10 * DENSE_MIN_RANGE as i64));
        assert_eq!(index.layout, Layout::Hashed);
        assert_eq!((index.key(0), index.key(DENSE_MIN_RANGE as u32 - 1), index.key(far)), (Some(0), Some(DENSE_MIN_RANGE as i64 - 1), Some(10 * DENSE_MIN_RANGE as i64)));
        assert!(far < DENSE_MIN_RANGE as u32, "a freed id in the old range is reused");
    }
}
