//! A batch's key columns to dense key ids, the hot loop's view of keys. The interner is picked by
//! the key columns' types on the first batch: one integer column goes to [`IntKeys`] (dense or
//! hashed), one string or binary column to [`StrKeys`] read straight from any of Arrow's string
//! layouts (plain, large, view, dictionary: polars exports views, pyarrow plain strings), and
//! anything else (several columns, dates, decimals...) to [`StrKeys`] over Arrow's row encoding.
//! Ids come back in key order on demand ([`KeyIds::sort`]) and decode to output columns.

use super::strings::{hash_bytes, StrKeys};
use super::{IntKeys, Ranks};
use crate::error::{Error, Result};
use crate::stream::keys::{key_data_len, KeyEncoder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt8Type};
use arrow_array::{Array, ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use std::cmp::Ordering;
use std::sync::Arc;

pub enum KeyIds {
    /// No key columns yet typed (before the first batch).
    Unknown,
    /// No key columns: every row has key 0.
    Global { live: bool },
    Ints(IntKeys),
    /// One string (or binary, when `binary`) column, by its bytes.
    Strings { keys: StrKeys, binary: bool },
    /// Any other key columns, by their Arrow row encoding (which orders as the values do).
    Rows(StrKeys),
}

/// Integer types whose values fit an i64 exactly.
fn int_key_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32
    )
}

/// The rows of a batch to intern: all of them, or a subset (the accepted ones).
#[derive(Clone, Copy)]
pub enum Rows<'a> {
    All(usize),
    Some(&'a [u32]),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::All(n) => *n,
            Rows::Some(rows) => rows.len(),
        }
    }

    fn iter(&self) -> impl ExactSizeIterator<Item = usize> + Clone + '_ {
        let (n, rows) = match self {
            Rows::All(n) => (*n, None),
            Rows::Some(rows) => (rows.len(), Some(*rows)),
        };
        (0..n).map(move |i| rows.map_or(i, |r| r[i] as usize))
    }
}

impl KeyIds {
    /// The interner for key columns of the types `encoder` fixed (after a first batch).
    pub fn for_encoder(encoder: &KeyEncoder) -> Self {
        if encoder.names().is_empty() {
            return KeyIds::Global { live: false };
        }
        match encoder.fields().map(|f| &f[..]) {
            None => KeyIds::Unknown,
            Some([field]) if int_key_type(field.data_type()) => KeyIds::Ints(IntKeys::default()),
            Some([field]) if field.data_type() == &DataType::Utf8 => KeyIds::Strings { keys: StrKeys::new(), binary: false },
            Some([field]) if field.data_type() == &DataType::Binary => KeyIds::Strings { keys: StrKeys::new(), binary: true },
            Some(_) => KeyIds::Rows(StrKeys::new()),
        }
    }

    /// Upper bound (exclusive) of the ids issued so far.
    pub fn id_bound(&self) -> usize {
        match self {
            KeyIds::Unknown => 0,
            KeyIds::Global { .. } => 1,
            KeyIds::Ints(k) => k.ids.next as usize,
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.id_bound(),
        }
    }

    /// Keys live (interned and not released).
    pub fn len(&self) -> usize {
        match self {
            KeyIds::Unknown => 0,
            KeyIds::Global { live } => usize::from(*live),
            KeyIds::Ints(k) => k.live_len(),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids of the keys of `rows` of `batch` (whose key columns `encoder` checks and types) into
    /// `out`, in row order. Rows must not have keys longer than the caller accepts (see
    /// [`KeyIds::key_lengths_over`]): every interned key holds memory until released.
    pub fn intern(&mut self, encoder: &mut KeyEncoder, batch: &RecordBatch, rows: Rows<'_>, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let columns = encoder.raw_columns(batch)?;
        if matches!(self, KeyIds::Unknown) {
            *self = KeyIds::for_encoder(encoder);
        }
        match (self, columns) {
            (KeyIds::Global { live }, _) => {
                *live |= rows.len() > 0;
                out.resize(rows.len(), 0);
            }
            (KeyIds::Ints(keys), Some(columns)) => {
                let column = as_int64(&columns[0])?;
                let all: Vec<u32>;
                let rows = match rows {
                    Rows::All(n) => {
                        all = (0..n as u32).collect();
                        &all[..]
                    }
                    Rows::Some(rows) => rows,
                };
                keys.intern_rows(&column, rows, &[], out);
            }
            (KeyIds::Strings { keys, .. }, Some(columns)) => intern_strings(keys, &columns[0], rows, out)?,
            (KeyIds::Rows(keys), Some(_)) => {
                let normalised = encoder.columns(batch)?.unwrap_or_default();
                let encoded = encoder.convert(&normalised)?;
                keys.intern_all(rows.iter().map(|r| Some(encoded.row(r).data())), out);
            }
            _ => return Err(Error::schema("key columns missing from a keyed batch")),
        }
        Ok(())
    }

    /// The rows of `batch` whose key data is longer than `max_bytes`, with their lengths (as
    /// users count a key's size: string bytes, integer widths).
    pub fn key_lengths_over(encoder: &mut KeyEncoder, batch: &RecordBatch, max_bytes: usize) -> Result<Vec<(usize, usize)>> {
        let Some(columns) = encoder.raw_columns(batch)? else { return Ok(Vec::new()) };
        // An upper bound on any row's key length, from the offsets (no per-row encoding).
        let mut widest = 0usize;
        for column in &columns {
            widest += longest_value(column);
        }
        if widest <= max_bytes {
            return Ok(Vec::new());
        }
        // Long keys are possible in this batch: measure each row (rare, off the hot path).
        let normalised = encoder.columns(batch)?.unwrap_or_default();
        let encoded = encoder.convert(&normalised)?;
        Ok((0..batch.num_rows())
            .filter_map(|row| {
                let len = key_data_len(&normalised, row, encoded.row(row).data().len());
                (len > max_bytes).then_some((row, len))
            })
            .collect())
    }

    /// Whether `id` is issued (and not released since).
    pub fn is_live(&self, id: u32) -> bool {
        match self {
            KeyIds::Unknown => false,
            KeyIds::Global { live } => *live && id == 0,
            KeyIds::Ints(keys) => keys.ids.live.get(id),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.is_live(id),
        }
    }

    /// Forget `id`'s key; the id may be issued again.
    pub fn release(&mut self, id: u32) {
        match self {
            KeyIds::Unknown => {}
            KeyIds::Global { live } => *live = false,
            KeyIds::Ints(keys) => keys.release(id),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.release(id),
        }
    }

    /// Release all `ids` (each live, none twice), in bulk where the interner can prefetch.
    pub fn release_many(&mut self, ids: &[u32]) {
        match self {
            KeyIds::Ints(keys) => keys.release_many(ids),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.release_many(ids),
            _ => ids.iter().for_each(|&id| self.release(id)),
        }
    }

    /// Key order of two ids: null first, then by value (strings by their bytes).
    #[inline]
    pub fn cmp(&self, a: u32, b: u32) -> Ordering {
        match self {
            KeyIds::Ints(keys) => keys.key(a).cmp(&keys.key(b)),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.cmp(a, b),
            KeyIds::Unknown | KeyIds::Global { .. } => Ordering::Equal,
        }
    }

    /// An integer consistent with `cmp` (a < b in it means a before b); exact for integers.
    #[inline]
    pub fn sort_key(&self, id: u32) -> u128 {
        match self {
            KeyIds::Ints(keys) => keys.key(id).map_or(0, |v| ((v as u64) ^ (1 << 63)) as u128 + 1),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.sort_key(id),
            KeyIds::Unknown | KeyIds::Global { .. } => 0,
        }
    }

    /// Whether `sort_key` alone orders keys (no ties between distinct keys).
    pub fn sort_key_is_exact(&self) -> bool {
        matches!(self, KeyIds::Ints(_) | KeyIds::Unknown | KeyIds::Global { .. })
    }

    /// Order-preserving ranks of the live keys (`ranks.get(a) < ranks.get(b)` exactly when key
    /// `a` sorts before key `b`, all below `ranks.bound() <= 2 * items`), when they are cheap for
    /// sorting or merging `items` ids: cached from an earlier call (no key came or went since),
    /// or few enough keys to rank now; else None.
    pub fn ranks(&mut self, items: usize) -> Option<Ranks<'_>> {
        match self {
            KeyIds::Unknown | KeyIds::Global { .. } => Some(Ranks::Ids { bound: 1 }),
            KeyIds::Ints(keys) => keys.ranks(items),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.ranks(items),
        }
    }

    /// Sort `items` by the key order of `id_of(item)`: by the keys' ranks when those are cheap
    /// (see [`KeyIds::ranks`]), else by each key's integer sort key, read once per item (not per
    /// comparison), then by the full order within runs of equal sort keys (only string keys that
    /// share their first 16 bytes meet there).
    pub fn sort<T: Copy>(&mut self, items: &mut [T], id_of: impl Fn(&T) -> u32) {
        if items.len() < 2 {
            return;
        }
        if let Some(ranks) = self.ranks(items.len()) {
            // Ranks lie below a bound of at most twice the items: a counting sort (stable).
            let sorted = super::counting_sorted(items, |item| ranks.get(id_of(item)) as usize, ranks.bound());
            items.copy_from_slice(&sorted);
            return;
        }
        let keyed = self.sorted_keys(items, id_of);
        for (slot, (_, item)) in items.iter_mut().zip(keyed) {
            *slot = item;
        }
    }

    /// Like `sort`, returning each item's sort key alongside, in the new order.
    pub fn sort_with_keys<T: Copy>(&self, items: &mut [T], id_of: impl Fn(&T) -> u32) -> Vec<u128> {
        let keyed = self.sorted_keys(items, &id_of);
        let mut sort_keys = Vec::with_capacity(keyed.len());
        for (slot, (key, item)) in items.iter_mut().zip(keyed) {
            *slot = item;
            sort_keys.push(key);
        }
        sort_keys
    }

    fn sorted_keys<T: Copy>(&self, items: &[T], id_of: impl Fn(&T) -> u32) -> Vec<(u128, T)> {
        let mut keyed: Vec<(u128, T)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(ahead) = items.get(i + super::PREFETCH_ROWS) {
                self.prefetch_key(id_of(ahead));
            }
            keyed.push((self.sort_key(id_of(item)), *item));
        }
        keyed.sort_unstable_by_key(|(key, _)| *key);
        if !self.sort_key_is_exact() {
            let mut i = 0;
            while i < keyed.len() {
                let j = i + keyed[i..].iter().take_while(|(key, _)| *key == keyed[i].0).count();
                if j - i > 1 {
                    keyed[i..j].sort_unstable_by(|a, b| self.cmp(id_of(&a.1), id_of(&b.1)));
                }
                i = j;
            }
        }
        keyed
    }

    /// Prefetch what `sort_key(id)` reads.
    #[inline]
    fn prefetch_key(&self, id: u32) {
        match self {
            KeyIds::Ints(keys) => keys.prefetch_key(id),
            KeyIds::Strings { keys, .. } | KeyIds::Rows(keys) => keys.prefetch_key(id),
            KeyIds::Unknown | KeyIds::Global { .. } => {}
        }
    }

    /// The key columns of `ids`, in that order, typed as `encoder` fixed them.
    pub fn decode(&self, encoder: &KeyEncoder, ids: &[u32]) -> Result<Vec<ArrayRef>> {
        let fields = encoder.output_fields();
        Ok(match self {
            KeyIds::Unknown | KeyIds::Global { .. } => Vec::new(),
            KeyIds::Ints(keys) => {
                let values = Int64Array::from_iter(ids.iter().map(|&id| keys.key(id)));
                vec![arrow_cast::cast(&values, fields[0].data_type())?]
            }
            KeyIds::Strings { keys, binary } => {
                // Offsets and bytes straight from the arena: the keys came from a valid string
                // column, so they need no UTF-8 check again.
                let total: usize = ids.iter().map(|&id| keys.bytes(id).map_or(0, <[u8]>::len)).sum();
                let mut values = Vec::with_capacity(total);
                let mut offsets = Vec::with_capacity(ids.len() + 1);
                offsets.push(0i32);
                let mut nulls = arrow_buffer::NullBufferBuilder::new(ids.len());
                for &id in ids {
                    match keys.bytes(id) {
                        Some(bytes) => {
                            values.extend_from_slice(bytes);
                            nulls.append_non_null();
                        }
                        None => nulls.append_null(),
                    }
                    offsets.push(i32::try_from(values.len()).map_err(|_| Error::schema("key column output over 2 GiB"))?);
                }
                let offsets = arrow_buffer::OffsetBuffer::new(offsets.into());
                let values = arrow_buffer::Buffer::from_vec(values);
                if *binary {
                    vec![Arc::new(BinaryArray::new(offsets, values, nulls.finish()))]
                } else {
                    // SAFETY: each key's bytes were read from a UTF-8 string column (or decoded from
                    // one in a snapshot), and the offsets are built from their lengths.
                    vec![Arc::new(unsafe { StringArray::new_unchecked(offsets, values, nulls.finish()) })]
                }
            }
            KeyIds::Rows(keys) => encoder.decode(ids.iter().map(|&id| keys.bytes(id).unwrap_or_default()))?,
        })
    }

    /// The Arrow row encoding of each id's key (what snapshots hold), in `ids` order.
    pub fn row_bytes(&self, encoder: &KeyEncoder, ids: &[u32]) -> Result<Vec<Vec<u8>>> {
        match self {
            KeyIds::Unknown | KeyIds::Global { .. } => Ok(vec![Vec::new(); ids.len()]),
            KeyIds::Rows(keys) => Ok(ids.iter().map(|&id| keys.bytes(id).unwrap_or_default().to_vec()).collect()),
            _ => {
                let columns = self.decode(encoder, ids)?;
                let rows = encoder.convert(&columns)?;
                Ok(rows.iter().map(|row| row.data().to_vec()).collect())
            }
        }
    }

    /// Ids of keys given in Arrow's row encoding (from a snapshot), issued as needed.
    pub fn intern_row_bytes(&mut self, encoder: &mut KeyEncoder, keys: &[&[u8]]) -> Result<Vec<u32>> {
        if matches!(self, KeyIds::Unknown) {
            *self = KeyIds::for_encoder(encoder);
        }
        if let KeyIds::Rows(table) = self {
            let mut out = Vec::with_capacity(keys.len());
            table.intern_all(keys.iter().map(|k| Some(*k)), &mut out);
            return Ok(out);
        }
        if let KeyIds::Global { live } = self {
            *live |= !keys.is_empty();
            return Ok(vec![0; keys.len()]);
        }
        let columns = encoder.decode(keys.iter().copied())?;
        let names: Vec<String> = encoder.names().to_vec();
        let batch = RecordBatch::try_new(
            Arc::new(arrow_schema::Schema::new(
                names.iter().zip(&columns).map(|(n, c)| arrow_schema::Field::new(n, c.data_type().clone(), true)).collect::<Vec<_>>(),
            )),
            columns,
        )?;
        let mut out = Vec::new();
        self.intern(encoder, &batch, Rows::All(keys.len()), &mut out)?;
        Ok(out)
    }
}

/// The length of the longest value of `column` (string and binary bytes, fixed widths); a large
/// bound for types it does not measure.
fn longest_value(column: &ArrayRef) -> usize {
    fn longest<O: arrow_array::OffsetSizeTrait>(offsets: &[O]) -> usize {
        offsets.windows(2).map(|w| (w[1] - w[0]).as_usize()).max().unwrap_or(0)
    }
    match column.data_type() {
        DataType::Utf8 => longest(column.as_string::<i32>().value_offsets()),
        DataType::LargeUtf8 => longest(column.as_string::<i64>().value_offsets()),
        DataType::Binary => longest(column.as_binary::<i32>().value_offsets()),
        DataType::LargeBinary => longest(column.as_binary::<i64>().value_offsets()),
        DataType::Utf8View => column.as_string_view().views().iter().map(|&v| v as u32 as usize).max().unwrap_or(0),
        DataType::BinaryView => column.as_binary_view().views().iter().map(|&v| v as u32 as usize).max().unwrap_or(0),
        DataType::Dictionary(_, _) => longest_value(column.as_any_dictionary().values()),
        DataType::Null => 0,
        other => other.primitive_width().unwrap_or(usize::MAX / 4),
    }
}

/// An integer key column as int64 (its values fit exactly).
fn as_int64(column: &ArrayRef) -> Result<Int64Array> {
    Ok(match column.data_type() {
        DataType::Int64 => column.as_primitive::<Int64Type>().clone(),
        DataType::Int32 => column.as_primitive::<Int32Type>().unary(i64::from),
        DataType::Int16 => column.as_primitive::<Int16Type>().unary(i64::from),
        DataType::Int8 => column.as_primitive::<Int8Type>().unary(i64::from),
        DataType::UInt32 => column.as_primitive::<UInt32Type>().unary(i64::from),
        DataType::UInt16 => column.as_primitive::<UInt16Type>().unary(i64::from),
        DataType::UInt8 => column.as_primitive::<UInt8Type>().unary(i64::from),
        _ => arrow_cast::cast(column, &DataType::Int64)?.as_primitive::<Int64Type>().clone(),
    })
}

/// Ids of a string or binary column's rows, read in whichever layout it comes.
pub(crate) fn intern_strings(keys: &mut StrKeys, column: &ArrayRef, rows: Rows<'_>, out: &mut Vec<u32>) -> Result<()> {
    macro_rules! by_value {
        ($array:expr, $bytes:expr) => {{
            let array = $array;
            let nulls = array.nulls().filter(|n| n.null_count() > 0);
            keys.intern_all(rows.iter().map(|r| (!nulls.is_some_and(|n| n.is_null(r))).then(|| $bytes(array.value(r)))), out);
        }};
    }
    match column.data_type() {
        DataType::Utf8 => by_value!(column.as_string::<i32>(), str::as_bytes),
        DataType::LargeUtf8 => by_value!(column.as_string::<i64>(), str::as_bytes),
        DataType::Utf8View => by_value!(column.as_string_view(), str::as_bytes),
        DataType::Binary => by_value!(column.as_binary::<i32>(), std::convert::identity),
        DataType::LargeBinary => by_value!(column.as_binary::<i64>(), std::convert::identity),
        DataType::BinaryView => by_value!(column.as_binary_view(), std::convert::identity),
        DataType::Null => out.extend(std::iter::repeat_n(keys.intern_null(), rows.len())),
        DataType::Dictionary(_, _) if rows.len() == 0 => {}
        // No values: every row is null (and arrow cannot normalise the codes).
        DataType::Dictionary(_, _) if column.as_any_dictionary().values().is_empty() => {
            out.extend(std::iter::repeat_n(keys.intern_null(), rows.len()))
        }
        DataType::Dictionary(_, _) => {
            // Each dictionary value used by the rows is interned once (unused ones never: an
            // interned key holds memory until its windows close).
            let dictionary = column.as_any_dictionary();
            let codes: Vec<Option<usize>> = {
                let normalised = dictionary.normalized_keys();
                let nulls = column.logical_nulls();
                rows.iter().map(|r| (!nulls.as_ref().is_some_and(|n| n.is_null(r))).then(|| normalised[r])).collect()
            };
            let mut values_out = Vec::new();
            let mut dictionary_ids: Vec<u32> = vec![u32::MAX; dictionary.values().len()];
            let values = dictionary.values();
            for code in &codes {
                let id = match code {
                    None => keys.intern_null(),
                    Some(code) if dictionary_ids[*code] != u32::MAX => dictionary_ids[*code],
                    Some(code) => {
                        values_out.clear();
                        let single: ArrayRef = values.slice(*code, 1);
                        intern_strings(keys, &single, Rows::All(1), &mut values_out)?;
                        dictionary_ids[*code] = values_out[0];
                        values_out[0]
                    }
                };
                out.push(id);
            }
        }
        other => return Err(Error::schema(format!("string keys of type {other} are not supported"))),
    }
    Ok(())
}

/// The hash of a null string key (any fixed value: routing only needs it to be the same everywhere).
pub const NULL_KEY_HASH: u64 = 0;

/// Each row's key hash ([`hash_bytes`] of its bytes, [`NULL_KEY_HASH`] for null) of a string or
/// binary column in any of the layouts [`intern_strings`] reads: how rows find their shard.
pub(crate) fn string_hashes(column: &ArrayRef) -> Result<Vec<u64>> {
    macro_rules! by_value {
        ($array:expr, $bytes:expr) => {{
            let array = $array;
            let nulls = array.nulls().filter(|n| n.null_count() > 0);
            (0..array.len()).map(|r| if nulls.is_some_and(|n| n.is_null(r)) { NULL_KEY_HASH } else { hash_bytes($bytes(array.value(r))) }).collect()
        }};
    }
    Ok(match column.data_type() {
        DataType::Utf8 => by_value!(column.as_string::<i32>(), str::as_bytes),
        DataType::LargeUtf8 => by_value!(column.as_string::<i64>(), str::as_bytes),
        DataType::Utf8View => by_value!(column.as_string_view(), str::as_bytes),
        DataType::Binary => by_value!(column.as_binary::<i32>(), std::convert::identity),
        DataType::LargeBinary => by_value!(column.as_binary::<i64>(), std::convert::identity),
        DataType::BinaryView => by_value!(column.as_binary_view(), std::convert::identity),
        DataType::Null => vec![NULL_KEY_HASH; column.len()],
        DataType::Dictionary(_, _) if column.as_any_dictionary().values().is_empty() => vec![NULL_KEY_HASH; column.len()],
        DataType::Dictionary(_, _) => {
            // Each dictionary value hashed once.
            let dictionary = column.as_any_dictionary();
            let values = string_hashes(dictionary.values())?;
            let codes = dictionary.normalized_keys();
            let nulls = column.logical_nulls();
            (0..column.len()).map(|r| if nulls.as_ref().is_some_and(|n| n.is_null(r)) { NULL_KEY_HASH } else { values[codes[r]] }).collect()
        }
        other => return Err(Error::schema(format!("string keys of type {other} are not supported"))),
    })
}
