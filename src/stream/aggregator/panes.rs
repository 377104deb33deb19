//! Open window state as panes: time is cut into panes of `gcd(size, step)` (a tumbling window is
//! one pane), and each event touches only its pane, whatever the number of hopping windows it is
//! in. A window is assembled from its panes when it closes. Each pane lists its `(key, slot)`
//! entries (the slot holds the accumulators, see `accs`); each key remembers its latest pane and
//! slot, so an event in its key's latest pane (the usual case, with time moving forward) finds its
//! slot with one array read and no hashing. An event for an older pane finds it through the
//! pane's own index, built the first time one is needed.
//!
//! Rows that hopping windows must take apart from their panes (a row late for some of its
//! windows and on time for others) go to per-window extras.

use crate::stream::accs::AccStore;
use crate::stream::intern::columns::KeyIds;
use crate::time::Millis;
use hashbrown::HashMap;
use std::collections::{BTreeMap, VecDeque};

/// "No pane": every real pane index is above it.
pub const NO_PANE: i64 = i64::MIN;

pub struct Pane {
    pub index: i64,
    pub ids: Vec<u32>,
    pub slots: Vec<u32>,
    /// Key id -> position in `ids`, once needed.
    lookup: Option<HashMap<u32, u32>>,
    /// Whether the entries are in key order (done when its first window closes; no entry is
    /// added after that: a row for it would be late for that window).
    sorted: bool,
    /// Once sorted: each entry's key sort key (see `KeyIds::sort_key`), so that merging panes
    /// reads them in order instead of looking each key up again.
    pub sort_keys: Vec<u128>,
}

impl Pane {
    fn new(index: i64) -> Self {
        Pane { index, ids: Vec::new(), slots: Vec::new(), lookup: None, sorted: false, sort_keys: Vec::new() }
    }

    /// Put the entries in key order (once).
    pub fn sort(&mut self, keys: &KeyIds) {
        if self.sorted {
            return;
        }
        let mut entries: Vec<(u32, u32)> = self.ids.iter().copied().zip(self.slots.iter().copied()).collect();
        self.sort_keys = keys.sort_with_keys(&mut entries, |e| e.0);
        for (i, (id, slot)) in entries.into_iter().enumerate() {
            self.ids[i] = id;
            self.slots[i] = slot;
        }
        self.lookup = None;
        self.sorted = true;
    }

    #[inline]
    fn push(&mut self, key: u32, slot: u32) {
        debug_assert!(!self.sorted, "an entry added to a pane whose first window closed");
        if let Some(lookup) = &mut self.lookup {
            lookup.insert(key, self.ids.len() as u32);
        }
        self.ids.push(key);
        self.slots.push(slot);
    }

    fn find(&mut self, key: u32) -> Option<u32> {
        let ids = &self.ids;
        let lookup = self.lookup.get_or_insert_with(|| ids.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect());
        lookup.get(&key).map(|&i| self.slots[i as usize])
    }
}

pub struct Panes {
    /// Pane length and the windows' offset (pane starts are `index * width + offset`).
    pub width: Millis,
    pub offset: Millis,
    /// Open panes with at least one entry, by index.
    pub open: VecDeque<Pane>,
    /// Per key id: the largest pane index with an entry of the key, and that entry's slot.
    last: Vec<(i64, u32)>,
    /// Per key id: its entries (in panes and extras); a key without any is released.
    entries: Vec<u32>,
    /// Window start -> (key, slot): rows taken apart from the panes (see the module doc).
    pub extras: BTreeMap<Millis, Vec<(u32, u32)>>,
    extras_lookup: HashMap<(Millis, u32), u32>,
}

impl Panes {
    pub fn new(width: Millis, offset: Millis) -> Self {
        Panes {
            width,
            offset,
            open: VecDeque::new(),
            last: Vec::new(),
            entries: Vec::new(),
            extras: BTreeMap::new(),
            extras_lookup: HashMap::new(),
        }
    }

    #[inline]
    pub fn index_of(&self, t: Millis) -> i64 {
        (t - self.offset).div_euclid(self.width)
    }

    #[inline]
    pub fn start_of(&self, index: i64) -> Millis {
        index * self.width + self.offset
    }

    /// Make room for key ids below `bound`.
    pub fn cover_keys(&mut self, bound: usize) {
        if self.last.len() < bound {
            self.last.resize(bound, (NO_PANE, 0));
            self.entries.resize(bound, 0);
        }
    }

    /// Entries (key, pane) and (key, window) held.
    pub fn len(&self) -> usize {
        self.open.iter().map(|p| p.ids.len()).sum::<usize>() + self.extras_lookup.len()
    }

    /// Whether `key` has no entry left (its id may be released).
    #[inline]
    pub fn unused(&self, key: u32) -> bool {
        self.entries[key as usize] == 0
    }

    /// The slot of `key` in pane `index`, created (empty) if new.
    #[inline]
    pub fn slot(&mut self, key: u32, index: i64, store: &mut AccStore) -> u32 {
        let k = key as usize;
        let (latest, slot) = self.last[k];
        if latest == index {
            return slot;
        }
        if latest < index {
            // Later than any entry of the key: none exists in this pane.
            let slot = store.alloc();
            let at = self.position_or_insert(index);
            self.open[at].push(key, slot);
            self.last[k] = (index, slot);
            self.entries[k] += 1;
            return slot;
        }
        let at = self.position_or_insert(index);
        if let Some(slot) = self.open[at].find(key) {
            return slot;
        }
        let slot = store.alloc();
        self.open[at].push(key, slot);
        self.entries[k] += 1;
        slot
    }

    /// The extra slot of `key` in the window starting at `start`, created (empty) if new.
    pub fn extra_slot(&mut self, key: u32, start: Millis, store: &mut AccStore) -> u32 {
        if let Some(&slot) = self.extras_lookup.get(&(start, key)) {
            return slot;
        }
        let slot = store.alloc();
        self.extras_lookup.insert((start, key), slot);
        self.extras.entry(start).or_default().push((key, slot));
        self.entries[key as usize] += 1;
        slot
    }

    /// Position of pane `index` in `open`, inserted (empty) if missing.
    #[inline]
    fn position_or_insert(&mut self, index: i64) -> usize {
        match self.open.back() {
            Some(back) if back.index == index => return self.open.len() - 1,
            Some(back) if back.index < index => {}
            None => {}
            Some(_) => {
                let at = self.open.partition_point(|p| p.index < index);
                if self.open[at].index != index {
                    self.open.insert(at, Pane::new(index));
                }
                return at;
            }
        }
        self.open.push_back(Pane::new(index));
        self.open.len() - 1
    }

    /// Take the front pane out; its keys' entries are counted off (see `forget`).
    pub fn pop_front(&mut self) -> Option<Pane> {
        let pane = self.open.pop_front()?;
        for &key in &pane.ids {
            self.forget(key, pane.index);
        }
        Some(pane)
    }

    /// Take the extras of the window starting at `start` out.
    pub fn take_extras(&mut self, start: Millis) -> Vec<(u32, u32)> {
        let extras = self.extras.remove(&start).unwrap_or_default();
        for &(key, _) in &extras {
            self.extras_lookup.remove(&(start, key));
            self.forget(key, NO_PANE);
        }
        extras
    }

    /// One entry of `key` (in pane `index`, or an extra when NO_PANE) is gone.
    #[inline]
    fn forget(&mut self, key: u32, index: i64) {
        let k = key as usize;
        self.entries[k] -= 1;
        if self.last[k].0 == index {
            self.last[k] = (NO_PANE, 0);
        }
    }

    /// An entry restored from a snapshot: `key`'s slot in pane `index`.
    pub fn restore_entry(&mut self, key: u32, index: i64, slot: u32) {
        let at = self.position_or_insert(index);
        self.open[at].push(key, slot);
        let k = key as usize;
        if self.last[k].0 < index {
            self.last[k] = (index, slot);
        }
        self.entries[k] += 1;
    }

    /// An extra restored from a snapshot.
    pub fn restore_extra(&mut self, key: u32, start: Millis, slot: u32) {
        self.extras_lookup.insert((start, key), slot);
        self.extras.entry(start).or_default().push((key, slot));
        self.entries[key as usize] += 1;
    }
}
