//! Byte-string keys (a string or binary column, or Arrow row-encoded keys of several columns)
//! interned straight from Arrow's buffers: one hash of the raw bytes per row, no per-row encoding
//! or allocation. Keys live in one arena, compacted when released keys leave it half empty, so a
//! stream of short-lived keys (cookies, request ids) neither allocates per key nor grows without
//! bound. Each key also keeps a 16-byte big-endian prefix, so that sorting keys by their bytes
//! rarely reads the arena.

use super::{prefetch, IdPool, RankCache, Ranks, PREFETCH_ROWS};
use std::cmp::Ordering;

/// The hash of a key's bytes (fixed seed: which bucket a key lands in must not vary by process,
/// though nothing persists it).
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5eed_f1ee_75e4_0001).hash_one(bytes)
}

/// The first 16 bytes, big-endian and zero-padded: ordering by it, then by the whole bytes,
/// orders as the bytes do.
#[inline]
fn prefix_of(bytes: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    let n = bytes.len().min(16);
    buf[..n].copy_from_slice(&bytes[..n]);
    u128::from_be_bytes(buf)
}

const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    id: u32,
}

/// Where a key's bytes are in the arena.
#[derive(Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
}

#[derive(Default)]
pub struct StrKeys {
    /// Linear probing over (hash, id), power-of-two capacity, at most half full, backward-shift
    /// deletion (no tombstones, however many keys come and go).
    slots: Vec<Slot>,
    shift: u32,
    len: usize,
    arena: Vec<u8>,
    /// Bytes of released keys still in the arena.
    garbage: usize,
    spans: Vec<Span>,
    hashes: Vec<u64>,
    prefixes: Vec<u128>,
    null_id: Option<u32>,
    /// Ids whose key is null (a row with a null key is one key of its own, sorted first).
    nulls: Vec<bool>,
    ids: IdPool,
    ranks: RankCache,
}

impl StrKeys {
    pub fn new() -> Self {
        StrKeys { slots: vec![Slot { hash: 0, id: EMPTY }; 1 << 10], shift: 64 - 10, ..Default::default() }
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.len + usize::from(self.null_id.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Upper bound (exclusive) of the ids issued so far.
    pub fn id_bound(&self) -> usize {
        self.ids.next as usize
    }

    /// The key of `id`: None for the null key.
    #[inline]
    pub fn bytes(&self, id: u32) -> Option<&[u8]> {
        if self.nulls[id as usize] {
            return None;
        }
        let span = self.spans[id as usize];
        Some(&self.arena[span.start as usize..(span.start + span.len) as usize])
    }

    /// Bytes held for the keys: the arena (garbage included) and the per-id tables.
    pub fn memory_bytes(&self) -> usize {
        self.arena.capacity() + self.slots.capacity() * 16 + self.spans.capacity() * 8 + self.hashes.capacity() * 8 + self.prefixes.capacity() * 16
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    /// Prefetch what `sort_key(id)` and `cmp` read first.
    #[inline]
    pub fn prefetch_key(&self, id: u32) {
        super::prefetch_at(&self.prefixes, id as usize);
    }

    /// Prefetch the bucket of a key whose hash is `hash`.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        prefetch(&self.slots[self.home(hash)]);
    }

    /// The id of the null key, issued if new.
    pub fn intern_null(&mut self) -> u32 {
        if let Some(id) = self.null_id {
            return id;
        }
        let id = self.new_id(None, 0);
        self.null_id = Some(id);
        id
    }

    /// The id of `bytes` (whose hash is `hash`), issued if new.
    #[inline]
    pub fn intern(&mut self, bytes: &[u8], hash: u64) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let slot = self.slots[i];
            if slot.id == EMPTY {
                let id = self.new_id(Some(bytes), hash);
                self.slots[i] = Slot { hash, id };
                self.len += 1;
                return id;
            }
            if slot.hash == hash && self.key_bytes(slot.id) == bytes {
                return slot.id;
            }
            i = (i + 1) & mask;
        }
    }

    /// Ids of `keys` (each row's bytes, None for null) into `out`, buckets prefetched ahead.
    pub fn intern_all<'a>(&mut self, keys: impl ExactSizeIterator<Item = Option<&'a [u8]>> + Clone, out: &mut Vec<u32>) {
        let hashes: Vec<u64> = keys.clone().map(|k| k.map_or(0, hash_bytes)).collect();
        out.reserve(hashes.len());
        for (i, key) in keys.enumerate() {
            if let Some(&ahead) = hashes.get(i + PREFETCH_ROWS) {
                self.prefetch(ahead);
            }
            out.push(match key {
                Some(bytes) => self.intern(bytes, hashes[i]),
                None => self.intern_null(),
            });
        }
    }

    #[inline]
    fn key_bytes(&self, id: u32) -> &[u8] {
        let span = self.spans[id as usize];
        &self.arena[span.start as usize..(span.start + span.len) as usize]
    }

    fn new_id(&mut self, bytes: Option<&[u8]>, hash: u64) -> u32 {
        let id = self.ids.take();
        let bytes_or_empty = bytes.unwrap_or_default();
        let span = Span { start: self.arena.len() as u32, len: bytes_or_empty.len() as u32 };
        assert!(self.arena.len() + bytes_or_empty.len() < u32::MAX as usize, "string keys over 4 GiB at once");
        self.arena.extend_from_slice(bytes_or_empty);
        let prefix = prefix_of(bytes_or_empty);
        if id as usize == self.spans.len() {
            self.spans.push(span);
            self.hashes.push(hash);
            self.prefixes.push(prefix);
            self.nulls.push(bytes.is_none());
        } else {
            let i = id as usize;
            self.spans[i] = span;
            self.hashes[i] = hash;
            self.prefixes[i] = prefix;
            self.nulls[i] = bytes.is_none();
        }
        id
    }

    fn grow(&mut self) {
        let bits = 64 - self.shift + 1;
        let old = std::mem::replace(&mut self.slots, vec![Slot { hash: 0, id: EMPTY }; 1 << bits]);
        self.shift = 64 - bits;
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.id != EMPTY) {
            let mut i = self.home(slot.hash);
            while self.slots[i].id != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// Forget `id`'s key; the id may be issued again.
    pub fn release(&mut self, id: u32) {
        if self.null_id == Some(id) {
            self.null_id = None;
            self.ids.give_back(id);
            return;
        }
        let hash = self.hashes[id as usize];
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        while self.slots[i].id != id {
            debug_assert!(self.slots[i].id != EMPTY, "release of a key not in the table");
            i = (i + 1) & mask;
        }
        // Shift back every later entry of the run that may sit at the hole.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot.id == EMPTY {
                break;
            }
            let home = self.home(slot.hash);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(i) & mask) {
                self.slots[i] = slot;
                i = j;
            }
        }
        self.slots[i].id = EMPTY;
        self.len -= 1;
        self.garbage += self.spans[id as usize].len as usize;
        self.ids.give_back(id);
        if self.garbage > 4096 && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
    }

    /// Release all `ids` (each live, none twice), their buckets prefetched ahead.
    pub fn release_many(&mut self, ids: &[u32]) {
        for (i, &id) in ids.iter().enumerate() {
            if let Some(&ahead) = ids.get(i + PREFETCH_ROWS) {
                self.prefetch(self.hashes[ahead as usize]);
            }
            self.release(id);
        }
    }

    /// Copy the live keys into a fresh arena.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for id in 0..self.ids.next {
            if self.ids.live.get(id) && !self.nulls[id as usize] {
                let span = &mut self.spans[id as usize];
                let start = arena.len() as u32;
                arena.extend_from_slice(&self.arena[span.start as usize..(span.start + span.len) as usize]);
                span.start = start;
            }
        }
        self.arena = arena;
        self.garbage = 0;
    }

    /// Whether `id` is issued (not released since).
    pub fn is_live(&self, id: u32) -> bool {
        self.ids.live.get(id)
    }

    /// Key order: the null key first, then by bytes.
    #[inline]
    pub fn cmp(&self, a: u32, b: u32) -> Ordering {
        let (ai, bi) = (a as usize, b as usize);
        match (self.nulls[ai], self.nulls[bi]) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self.prefixes[ai].cmp(&self.prefixes[bi]).then_with(|| self.key_bytes(a).cmp(self.key_bytes(b))),
        }
    }

    /// Order-preserving ranks of the live keys, when they are cheap for sorting `items` ids
    /// (see [`KeyIds::ranks`](super::columns::KeyIds::ranks)): the cached ranks hold (no key
    /// issued or released since), or there are at most twice `items` live keys to rank.
    pub fn ranks(&mut self, items: usize) -> Option<Ranks<'_>> {
        let live = self.len();
        if !self.ranks.is_current(&self.ids) && live > 2 * items {
            return None;
        }
        let mut cache = std::mem::take(&mut self.ranks);
        let issued = self.ids.take_issued();
        cache.get(&self.ids, issued, |a, b| self.cmp(a, b));
        self.ranks = cache;
        Some(Ranks::Table { ranks: &self.ranks.ranks, bound: live })
    }

    /// An integer that never orders two keys against `cmp` (equal ones need `cmp`): 0 for the
    /// null key, the prefix plus one (saturating) for the others.
    #[inline]
    pub fn sort_key(&self, id: u32) -> u128 {
        if self.nulls[id as usize] {
            0
        } else {
            self.prefixes[id as usize].saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Interleaved interning and releasing agrees with a HashMap; ids map back to their keys
        /// (across arena compactions) and the order of ids is the order of their keys.
        #[test]
        fn agrees_with_a_hash_map(ops in prop::collection::vec((any::<bool>(), prop::option::weighted(0.9, prop::collection::vec(any::<u8>(), 0..40))), 1..800)) {
            let mut keys = StrKeys::new();
            let mut model: HashMap<Option<Vec<u8>>, u32> = HashMap::new();
            for (release, key) in ops {
                if release {
                    if let Some(id) = model.remove(&key) {
                        keys.release(id);
                    }
                } else {
                    let id = match &key {
                        Some(bytes) => keys.intern(bytes, hash_bytes(bytes)),
                        None => keys.intern_null(),
                    };
                    prop_assert_eq!(*model.entry(key.clone()).or_insert(id), id);
                }
                prop_assert_eq!(keys.len(), model.len());
                for (key, &id) in &model {
                    prop_assert_eq!(keys.bytes(id), key.as_deref());
                }
            }
            let mut ids: Vec<(Option<Vec<u8>>, u32)> = model.into_iter().collect();
            ids.sort();
            for pair in ids.windows(2) {
                prop_assert_eq!(keys.cmp(pair[0].1, pair[1].1), Ordering::Less);
                prop_assert!(keys.sort_key(pair[0].1) <= keys.sort_key(pair[1].1));
            }
        }
    }

    proptest! {
        /// Ranks taken between interning and releasing (so sometimes reused, sometimes
        /// recomputed) order the live keys as their bytes do, null first. Keys share long
        /// prefixes, so the byte comparison behind the 16-byte sort keys is exercised.
        #[test]
        fn ranks_order_live_keys_as_their_bytes(ops in prop::collection::vec((0u8..3, prop::option::weighted(0.95, 0u16..60)), 1..400)) {
            let mut keys = StrKeys::new();
            let mut model: HashMap<Option<Vec<u8>>, u32> = HashMap::new();
            let bytes_of = |n: u16| format!("a-shared-prefix-of-some-length/{n:03}").into_bytes();
            for (op, key) in ops {
                let key = key.map(bytes_of);
                match op {
                    0 => {
                        if let Some(id) = model.remove(&key) {
                            keys.release(id);
                        }
                    }
                    1 => {
                        let id = match &key {
                            Some(bytes) => keys.intern(bytes, hash_bytes(bytes)),
                            None => keys.intern_null(),
                        };
                        model.insert(key, id);
                    }
                    _ => {
                        let mut want: Vec<(Option<Vec<u8>>, u32)> = model.iter().map(|(k, &id)| (k.clone(), id)).collect();
                        want.sort();
                        if let Some(ranks) = keys.ranks(want.len()) {
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

    #[test]
    fn many_short_lived_keys_keep_the_arena_small() {
        let mut keys = StrKeys::new();
        for round in 0..200u32 {
            let ids: Vec<u32> = (0..1000u32)
                .map(|i| {
                    let key = format!("{round:08}-{i:08}-a-key-of-some-length");
                    keys.intern(key.as_bytes(), hash_bytes(key.as_bytes()))
                })
                .collect();
            ids.into_iter().for_each(|id| keys.release(id));
        }
        assert!(keys.is_empty());
        assert!(keys.arena.len() < 2 * 1000 * 40, "arena holds {} bytes", keys.arena.len());
    }
}
