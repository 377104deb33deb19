//! Accumulators stored column-wise: one column per aggregate, one slot per open group (a key in a
//! window pane), so that a batch is applied one aggregate at a time in tight loops over
//! `(row, slot)` pairs instead of one enum dispatch per row and aggregate. The numeric aggregates
//! (count, sum, min, max, mean) are plain arrays; the value-keeping ones (quantile,
//! count_distinct, first, last) keep an [`Acc`] per slot. Slots are reused once freed.

use super::aggregate::{self, Acc, AggInput, AggKind, AggSpec, ValueType};
use super::aggset::AggSet;
use crate::error::Result;
use crate::time::Millis;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array};
use std::sync::Arc;

enum Column {
    /// Rows, or non-null values of a column.
    Count(Vec<i64>),
    /// `n`: non-null values added (none: the result is null). An integer sum that leaves the
    /// int64 range is null, never wrapped.
    SumInt { sum: Vec<i64>, n: Vec<i64>, overflow: Vec<bool> },
    SumFloat { sum: Vec<f64>, n: Vec<i64> },
    MinInt { v: Vec<i64>, n: Vec<i64> },
    MaxInt { v: Vec<i64>, n: Vec<i64> },
    MinFloat { v: Vec<f64>, n: Vec<i64> },
    MaxFloat { v: Vec<f64>, n: Vec<i64> },
    Mean { sum: Vec<f64>, n: Vec<i64> },
    Other { kind: AggKind, value_type: Option<ValueType>, accs: Vec<Acc> },
}

impl Column {
    fn new(kind: AggKind, value_type: Option<ValueType>) -> Self {
        let float = value_type == Some(ValueType::Float);
        match kind {
            AggKind::Count => Column::Count(Vec::new()),
            AggKind::Sum if float => Column::SumFloat { sum: Vec::new(), n: Vec::new() },
            AggKind::Sum => Column::SumInt { sum: Vec::new(), n: Vec::new(), overflow: Vec::new() },
            AggKind::Min if float => Column::MinFloat { v: Vec::new(), n: Vec::new() },
            AggKind::Min => Column::MinInt { v: Vec::new(), n: Vec::new() },
            AggKind::Max if float => Column::MaxFloat { v: Vec::new(), n: Vec::new() },
            AggKind::Max => Column::MaxInt { v: Vec::new(), n: Vec::new() },
            AggKind::Mean => Column::Mean { sum: Vec::new(), n: Vec::new() },
            kind => Column::Other { kind, value_type, accs: Vec::new() },
        }
    }

    /// Append one empty slot.
    fn push(&mut self) {
        match self {
            Column::Count(c) => c.push(0),
            Column::SumInt { sum, n, overflow } => {
                sum.push(0);
                n.push(0);
                overflow.push(false);
            }
            Column::SumFloat { sum, n } | Column::Mean { sum, n } => {
                sum.push(0.0);
                n.push(0);
            }
            Column::MinInt { v, n } => {
                v.push(i64::MAX);
                n.push(0);
            }
            Column::MaxInt { v, n } => {
                v.push(i64::MIN);
                n.push(0);
            }
            Column::MinFloat { v, n } | Column::MaxFloat { v, n } => {
                v.push(0.0);
                n.push(0);
            }
            Column::Other { kind, value_type, accs } => accs.push(Acc::new(*kind, *value_type)),
        }
    }

    /// Empty slot `s` again.
    fn reset(&mut self, s: usize) {
        match self {
            Column::Count(c) => c[s] = 0,
            Column::SumInt { sum, n, overflow } => {
                sum[s] = 0;
                n[s] = 0;
                overflow[s] = false;
            }
            Column::SumFloat { sum, n } | Column::Mean { sum, n } => {
                sum[s] = 0.0;
                n[s] = 0;
            }
            Column::MinInt { v, n } => {
                v[s] = i64::MAX;
                n[s] = 0;
            }
            Column::MaxInt { v, n } => {
                v[s] = i64::MIN;
                n[s] = 0;
            }
            Column::MinFloat { v, n } | Column::MaxFloat { v, n } => {
                v[s] = 0.0;
                n[s] = 0;
            }
            Column::Other { kind, value_type, accs } => accs[s] = Acc::new(*kind, *value_type),
        }
    }
}

/// Adds `v` to a float min/max slot (`n` non-null values so far).
#[inline]
fn fold_float(slot: &mut f64, n: &mut i64, v: f64, pick: fn(f64, f64) -> f64) {
    *slot = if *n == 0 { v } else { pick(*slot, v) };
    *n += 1;
}

pub struct AccStore {
    columns: Vec<Column>,
    /// Slots allocated (live or free).
    len: usize,
    free: Vec<u32>,
}

impl AccStore {
    /// Columns for `specs`, whose numeric types are now known (`value_types`, as bound).
    pub fn new(specs: &[AggSpec], value_types: &[Option<ValueType>]) -> Self {
        let columns = specs.iter().zip(value_types).map(|(spec, vt)| Column::new(spec.kind, *vt)).collect();
        AccStore { columns, len: 0, free: Vec::new() }
    }

    /// Slots in use.
    pub fn live(&self) -> usize {
        self.len - self.free.len()
    }

    /// An empty slot.
    #[inline]
    pub fn alloc(&mut self) -> u32 {
        if let Some(s) = self.free.pop() {
            // Emptied here rather than when freed: the slot is about to be written anyway.
            for column in &mut self.columns {
                column.reset(s as usize);
            }
            return s;
        }
        for column in &mut self.columns {
            column.push();
        }
        self.len += 1;
        (self.len - 1) as u32
    }

    /// Give `slot` back (it is emptied when handed out again).
    #[inline]
    pub fn free(&mut self, slot: u32) {
        self.free.push(slot);
    }

    /// Add rows `rows` of a batch to slots `slots` (pairwise) for every aggregate. `times` are
    /// the rows' event times and `seq_base + row` their arrival numbers (they order first/last).
    pub fn add_rows(&mut self, inputs: &[AggInput], rows: &[u32], slots: &[u32], times: &[Millis], seq_base: u64) {
        debug_assert_eq!(rows.len(), slots.len());
        for (column, input) in self.columns.iter_mut().zip(inputs) {
            add_column(column, input, rows, slots, times, seq_base);
        }
    }

    /// Fold slot `src` into slot `dst` (both live).
    pub fn merge(&mut self, dst: u32, src: u32) {
        let (d, s) = (dst as usize, src as usize);
        for column in &mut self.columns {
            match column {
                Column::Count(c) => c[d] += c[s],
                Column::SumInt { sum, n, overflow } => {
                    let (total, overflowed) = sum[d].overflowing_add(sum[s]);
                    sum[d] = total;
                    overflow[d] |= overflowed || overflow[s];
                    n[d] += n[s];
                }
                Column::SumFloat { sum, n } | Column::Mean { sum, n } => {
                    sum[d] += sum[s];
                    n[d] += n[s];
                }
                Column::MinInt { v, n } => {
                    v[d] = v[d].min(v[s]);
                    n[d] += n[s];
                }
                Column::MaxInt { v, n } => {
                    v[d] = v[d].max(v[s]);
                    n[d] += n[s];
                }
                Column::MinFloat { v, n } => {
                    if n[s] > 0 {
                        v[d] = if n[d] == 0 { v[s] } else { v[d].min(v[s]) };
                        n[d] += n[s];
                    }
                }
                Column::MaxFloat { v, n } => {
                    if n[s] > 0 {
                        v[d] = if n[d] == 0 { v[s] } else { v[d].max(v[s]) };
                        n[d] += n[s];
                    }
                }
                Column::Other { accs, .. } => {
                    let other = accs[s].clone();
                    accs[d].merge(other);
                }
            }
        }
    }

    /// Calls `f(aggregate, id)` for every value id a live slot holds (for `AggSet::sweep`).
    pub fn for_each_value_id(&self, f: &mut dyn FnMut(usize, u32)) {
        let mut free = vec![false; self.len];
        self.free.iter().for_each(|&s| free[s as usize] = true);
        for (a, column) in self.columns.iter().enumerate() {
            if let Column::Other { accs, .. } = column {
                for (_, acc) in accs.iter().enumerate().filter(|(s, _)| !free[*s]) {
                    acc.value_ids(&mut |id| f(a, id));
                }
            }
        }
    }

    /// Output columns (one per aggregate) of `slots`, in that order.
    pub fn finish(&self, aggs: &AggSet, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let (specs, value_types) = (aggs.specs(), aggs.value_types());
        let mut out = Vec::with_capacity(self.columns.len());
        for (a, column) in self.columns.iter().enumerate() {
            let at = |s: &u32| *s as usize;
            let array: ArrayRef = match column {
                Column::Count(c) => Arc::new(Int64Array::from_iter_values(slots.iter().map(|s| c[at(s)]))),
                Column::SumInt { sum, n, overflow } => Arc::new(Int64Array::from_iter(
                    slots.iter().map(|s| (n[at(s)] > 0 && !overflow[at(s)]).then(|| sum[at(s)])),
                )),
                Column::SumFloat { sum, n } => Arc::new(Float64Array::from_iter(slots.iter().map(|s| (n[at(s)] > 0).then(|| sum[at(s)])))),
                Column::Mean { sum, n } => {
                    Arc::new(Float64Array::from_iter(slots.iter().map(|s| (n[at(s)] > 0).then(|| sum[at(s)] / n[at(s)] as f64))))
                }
                Column::MinInt { v, n } | Column::MaxInt { v, n } => {
                    Arc::new(Int64Array::from_iter(slots.iter().map(|s| (n[at(s)] > 0).then(|| v[at(s)]))))
                }
                Column::MinFloat { v, n } | Column::MaxFloat { v, n } => {
                    Arc::new(Float64Array::from_iter(slots.iter().map(|s| (n[at(s)] > 0).then(|| v[at(s)]))))
                }
                Column::Other { accs, .. } => {
                    let refs: Vec<&Acc> = slots.iter().map(|s| &accs[at(s)]).collect();
                    aggregate::finish(specs[a].kind, value_types[a], &refs, aggs.value_interner(a))?
                }
            };
            out.push(array);
        }
        Ok(out)
    }

    /// Slot `slot` as one accumulator per aggregate (the form snapshots keep).
    pub fn to_accs(&self, slot: u32) -> aggregate::Accs {
        let s = slot as usize;
        self.columns
            .iter()
            .map(|column| match column {
                Column::Count(c) => Acc::Count(c[s]),
                Column::SumInt { sum, n, overflow } => Acc::SumInt { sum: sum[s], n: n[s], overflow: overflow[s] },
                Column::SumFloat { sum, n } => Acc::SumFloat { sum: sum[s], n: n[s] },
                Column::Mean { sum, n } => Acc::Mean { sum: sum[s], n: n[s] },
                Column::MinInt { v, n } => Acc::MinInt((n[s] > 0).then(|| v[s])),
                Column::MaxInt { v, n } => Acc::MaxInt((n[s] > 0).then(|| v[s])),
                Column::MinFloat { v, n } => Acc::MinFloat((n[s] > 0).then(|| v[s])),
                Column::MaxFloat { v, n } => Acc::MaxFloat((n[s] > 0).then(|| v[s])),
                Column::Other { accs, .. } => accs[s].clone(),
            })
            .collect()
    }

    /// A new slot holding `accs` (as `to_accs` gives them); None if they do not fit the columns.
    pub fn alloc_from(&mut self, accs: &[Acc]) -> Option<u32> {
        if accs.len() != self.columns.len() {
            return None;
        }
        let slot = self.alloc();
        let s = slot as usize;
        for (column, acc) in self.columns.iter_mut().zip(accs) {
            let fits = match (column, acc) {
                (Column::Count(c), Acc::Count(x)) => {
                    c[s] = *x;
                    true
                }
                (Column::SumInt { sum, n, overflow }, Acc::SumInt { sum: a, n: b, overflow: o }) => {
                    (sum[s], n[s], overflow[s]) = (*a, *b, *o);
                    true
                }
                (Column::SumFloat { sum, n }, Acc::SumFloat { sum: a, n: b }) | (Column::Mean { sum, n }, Acc::Mean { sum: a, n: b }) => {
                    (sum[s], n[s]) = (*a, *b);
                    true
                }
                (Column::MinInt { v, n }, Acc::MinInt(x)) | (Column::MaxInt { v, n }, Acc::MaxInt(x)) => {
                    if let Some(x) = x {
                        (v[s], n[s]) = (*x, 1);
                    }
                    true
                }
                (Column::MinFloat { v, n }, Acc::MinFloat(x)) | (Column::MaxFloat { v, n }, Acc::MaxFloat(x)) => {
                    if let Some(x) = x {
                        (v[s], n[s]) = (*x, 1);
                    }
                    true
                }
                (Column::Other { accs, .. }, acc) if std::mem::discriminant(&accs[s]) == std::mem::discriminant(acc) => {
                    accs[s] = acc.clone();
                    true
                }
                _ => false,
            };
            if !fits {
                self.free(slot);
                return None;
            }
        }
        Some(slot)
    }
}

/// One aggregate's share of `add_rows`.
fn add_column(column: &mut Column, input: &AggInput, rows: &[u32], slots: &[u32], times: &[Millis], seq_base: u64) {
    let pairs = rows.iter().zip(slots).map(|(&r, &s)| (r as usize, s as usize));
    match (column, input) {
        (Column::Count(c), AggInput::Rows) => slots.iter().for_each(|&s| c[s as usize] += 1),
        (Column::Count(c), AggInput::NonNull(col)) => match col.nulls().filter(|n| n.null_count() > 0) {
            None => slots.iter().for_each(|&s| c[s as usize] += 1),
            Some(nulls) => pairs.for_each(|(r, s)| c[s] += i64::from(nulls.is_valid(r))),
        },
        (Column::SumInt { sum, n, overflow }, AggInput::Int(col)) => {
            let values = col.values();
            let nulls = col.nulls().filter(|n| n.null_count() > 0);
            for (r, s) in pairs {
                if nulls.is_none_or(|nulls| nulls.is_valid(r)) {
                    let (total, overflowed) = sum[s].overflowing_add(values[r]);
                    sum[s] = total;
                    overflow[s] |= overflowed;
                    n[s] += 1;
                }
            }
        }
        (Column::SumFloat { sum, n } | Column::Mean { sum, n }, AggInput::Float(col)) => {
            let values = col.values();
            let nulls = col.nulls().filter(|n| n.null_count() > 0);
            for (r, s) in pairs {
                if nulls.is_none_or(|nulls| nulls.is_valid(r)) {
                    sum[s] += values[r];
                    n[s] += 1;
                }
            }
        }
        (Column::MinInt { v, n }, AggInput::Int(col)) => {
            let values = col.values();
            let nulls = col.nulls().filter(|n| n.null_count() > 0);
            for (r, s) in pairs {
                if nulls.is_none_or(|nulls| nulls.is_valid(r)) {
                    v[s] = v[s].min(values[r]);
                    n[s] += 1;
                }
            }
        }
        (Column::MaxInt { v, n }, AggInput::Int(col)) => {
            let values = col.values();
            let nulls = col.nulls().filter(|n| n.null_count() > 0);
            for (r, s) in pairs {
                if nulls.is_none_or(|nulls| nulls.is_valid(r)) {
                    v[s] = v[s].max(values[r]);
                    n[s] += 1;
                }
            }
        }
        (Column::MinFloat { v, n }, AggInput::Float(col)) => {
            let values = col.values();
            let nulls = col.nulls().filter(|n| n.null_count() > 0);
            for (r, s) in pairs {
                if nulls.is_none_or(|nulls| nulls.is_valid(r)) {
                    fold_float(&mut v[s], &mut n[s], values[r], f64::min);
                }
            }
        }
        (Column::MaxFloat { v, n }, AggInput::Float(col)) => {
            let values = col.values();
            let nulls = col.nulls().filter(|n| n.null_count() > 0);
            for (r, s) in pairs {
                if nulls.is_none_or(|nulls| nulls.is_valid(r)) {
                    fold_float(&mut v[s], &mut n[s], values[r], f64::max);
                }
            }
        }
        (Column::Other { accs, .. }, input) => {
            for (r, s) in pairs {
                accs[s].add(input.value(r), times[r], seq_base + r as u64);
            }
        }
        // Binding fixes one numeric type per aggregate (an all-null column is cast to it), so
        // no other pairing reaches here.
        (_, _) => debug_assert!(false, "an aggregate input of the wrong type"),
    }
}
