//! Dense ids for the keys with open state, so per-key state lives in a flat `Vec` indexed by id.
//!
//! Integer keys (the common case: user ids) skip Arrow's row encoding: they go through an
//! open-addressing table of `(key, id)` pairs whose buckets are prefetched a few rows ahead, so
//! the memory latency of 100k+ live keys overlaps instead of stalling every event. Other keys
//! (strings, several columns) are hashed as row-encoded bytes. An id is released when its key
//! has no state left, and reused.

use crate::stream::keys::KeyBytes;
use arrow_array::{Array, Int64Array};
use hashbrown::HashMap;

/// A key as the index holds it: an integer (None for a null key) or row-encoded bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyValue {
    Int(Option<i64>),
    Bytes(KeyBytes),
}

/// Issues ids and takes them back; ids stay small and dense.
#[derive(Default)]
struct IdPool {
    next: u32,
    free: Vec<u32>,
    live: Vec<bool>,
}

impl IdPool {
    fn take(&mut self) -> u32 {
        let id = self.free.pop().unwrap_or_else(|| {
            self.live.push(false);
            self.next += 1;
            self.next - 1
        });
        self.live[id as usize] = true;
        id
    }

    fn give_back(&mut self, id: u32) {
        self.live[id as usize] = false;
        self.free.push(id);
    }
}

pub enum KeyIndex {
    Ints(IntKeys),
    Bytes(ByteKeys),
}

impl KeyIndex {
    pub fn ints() -> Self {
        KeyIndex::Ints(IntKeys::default())
    }

    pub fn bytes() -> Self {
        KeyIndex::Bytes(ByteKeys::default())
    }

    /// Upper bound (exclusive) of the ids issued so far.
    pub fn id_bound(&self) -> usize {
        match self {
            KeyIndex::Ints(k) => k.ids.next as usize,
            KeyIndex::Bytes(k) => k.ids.next as usize,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        match self {
            KeyIndex::Ints(k) => k.table.len + usize::from(k.null_id.is_some()),
            KeyIndex::Bytes(k) => k.map.len(),
        }
    }

    pub fn key(&self, id: u32) -> KeyValue {
        match self {
            KeyIndex::Ints(k) => KeyValue::Int(k.keys[id as usize]),
            KeyIndex::Bytes(k) => KeyValue::Bytes(k.keys[id as usize].clone()),
        }
    }

    /// The id of `key`, issued if the key is new.
    pub fn intern(&mut self, key: &KeyValue) -> u32 {
        match (self, key) {
            (KeyIndex::Ints(k), KeyValue::Int(v)) => k.intern_one(*v),
            (KeyIndex::Bytes(k), KeyValue::Bytes(b)) => k.intern(b),
            _ => unreachable!("a key of the other kind"),
        }
    }

    /// Forget `id`'s key; the id may be issued again.
    pub fn release(&mut self, id: u32) {
        debug_assert!(self.is_live(id), "release of an id not issued");
        match self {
            KeyIndex::Ints(k) => k.release(id),
            KeyIndex::Bytes(k) => k.release(id),
        }
    }

    /// Release all `ids` (each issued, none twice), prefetching table buckets ahead.
    pub fn release_many(&mut self, ids: &[u32]) {
        match self {
            KeyIndex::Ints(k) => {
                let keys: Vec<Option<i64>> = ids.iter().map(|&id| k.keys[id as usize]).collect();
                for (i, (&id, key)) in ids.iter().zip(&keys).enumerate() {
                    if let Some(Some(ahead)) = keys.get(i + PREFETCH_ROWS) {
                        k.table.prefetch(mix(*ahead));
                    }
                    match key {
                        None => k.null_id = None,
                        Some(v) => k.table.remove(*v),
                    }
                    k.ids.give_back(id);
                }
            }
            KeyIndex::Bytes(_) => ids.iter().for_each(|&id| self.release(id)),
        }
    }

    /// Prefetch what `key(id)` reads.
    #[inline]
    pub fn prefetch_key(&self, id: u32) {
        match self {
            KeyIndex::Ints(k) => prefetch_at(&k.keys, id as usize),
            KeyIndex::Bytes(k) => prefetch_at(&k.keys, id as usize),
        }
    }

    /// Whether `id` is issued (not released since).
    pub fn is_live(&self, id: u32) -> bool {
        let pool = match self {
            KeyIndex::Ints(k) => &k.ids,
            KeyIndex::Bytes(k) => &k.ids,
        };
        pool.live.get(id as usize).copied().unwrap_or(false)
    }
}

/// Byte keys in a hash map; the map holds each key once more, the id's slot keeps it for output.
#[derive(Default)]
pub struct ByteKeys {
    map: HashMap<KeyBytes, u32>,
    keys: Vec<KeyBytes>,
    ids: IdPool,
}

impl ByteKeys {
    pub fn intern(&mut self, key: &[u8]) -> u32 {
        if let Some(&id) = self.map.get(key) {
            return id;
        }
        let id = self.ids.take();
        let key = KeyBytes::from_slice(key);
        if id as usize == self.keys.len() {
            self.keys.push(key.clone());
        } else {
            self.keys[id as usize] = key.clone();
        }
        self.map.insert(key, id);
        id
    }

    fn release(&mut self, id: u32) {
        let key = std::mem::take(&mut self.keys[id as usize]);
        self.map.remove(&key);
        self.ids.give_back(id);
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

#[derive(Default)]
pub struct IntKeys {
    table: IntTable,
    null_id: Option<u32>,
    keys: Vec<Option<i64>>,
    ids: IdPool,
}

impl IntKeys {
    fn new_id(keys: &mut Vec<Option<i64>>, ids: &mut IdPool, key: Option<i64>) -> u32 {
        let id = ids.take();
        if id as usize == keys.len() {
            keys.push(key);
        } else {
            keys[id as usize] = key;
        }
        id
    }

    fn intern_one(&mut self, key: Option<i64>) -> u32 {
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

    fn release(&mut self, id: u32) {
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

    #[test]
    fn batch_interning_matches_one_at_a_time_across_growth() {
        let values: Vec<Option<i64>> = (0..5000i64).map(|i| if i % 97 == 0 { None } else { Some((i * 7919) % 3001 - 1500) }).collect();
        let column = Int64Array::from(values.clone());
        let rows: Vec<u32> = (0..values.len() as u32).rev().collect();
        let mut batch = IntKeys::default();
        let mut ids = Vec::new();
        batch.intern_rows(&column, &rows, &[], &mut ids);
        let mut single = IntKeys::default();
        for (&row, &id) in rows.iter().zip(&ids) {
            assert_eq!(single.intern_one(values[row as usize]), id);
            assert_eq!(batch.keys[id as usize], values[row as usize]);
        }
    }
}
