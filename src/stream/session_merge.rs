//! Second phase of a two-phase sessionization: partial sessions (the clusters of events one worker
//! saw, e.g. one Spark input partition) merged into the sessions of the whole input.
//!
//! Exact because adding events only ever merges clusters, never splits them: two clusters of a key,
//! `a` starting first, belong to one session exactly when `b.start <= a.end + gap` (if `b` starts
//! inside `a`, some event of `a` lies within `gap` of it, as `a`'s own events are at most `gap`
//! apart; otherwise `a.end` and `b.start` are the closest pair). Sweeping a key's clusters by start
//! with a running maximum of ends applies that rule transitively.

use super::keys::KeyEncoder;
use super::session::session_id;
use crate::error::{Error, Result};
use crate::time::Millis;
use arrow_array::{Array, BooleanArray, Int64Array, RecordBatch};

/// For partial sessions sorted by (key, start), where `new_key[i]` says row `i` is the first of
/// its key, the index (0, 1, ...) of the merged session each row belongs to. Rows of one merged
/// session are consecutive, so the indexes never decrease.
pub fn merge_sorted_partials(new_key: &BooleanArray, start: &Int64Array, end: &Int64Array, gap: Millis) -> Result<Int64Array> {
    let rows = start.len();
    if new_key.len() != rows || end.len() != rows {
        return Err(Error::schema(format!(
            "partial sessions: new_key, start and end must have the same length, got {}, {rows} and {}",
            new_key.len(),
            end.len()
        )));
    }
    if gap < 0 {
        return Err(Error::config(format!("partial sessions: gap must not be negative, got {gap}ms")));
    }
    for (name, nulls) in [("new_key", new_key.null_count()), ("start", start.null_count()), ("end", end.null_count())] {
        if nulls > 0 {
            return Err(Error::schema(format!("partial sessions: column {name:?} has {nulls} null(s)")));
        }
    }
    let (start, end) = (start.values(), end.values());
    let mut session = Vec::with_capacity(rows);
    let mut index: i64 = -1;
    let mut reach = Millis::MIN; // latest end of the current merged session
    for row in 0..rows {
        let (s, e) = (start[row], end[row]);
        if e < s {
            return Err(Error::schema(format!("partial sessions: row {row} ends ({e}) before it starts ({s})")));
        }
        let first_of_key = row == 0 || new_key.value(row);
        if !first_of_key && s < start[row - 1] {
            return Err(Error::Order(format!(
                "partial sessions: row {row} starts at {s}, before row {} of the same key ({}): sort by key, then start",
                row - 1,
                start[row - 1]
            )));
        }
        if first_of_key || s > reach.saturating_add(gap) {
            index += 1;
            reach = e;
        } else {
            reach = reach.max(e);
        }
        session.push(index);
    }
    Ok(Int64Array::from(session))
}

/// The `session_id`s the Sessionizer gives sessions of these keys (all columns of `keys`, in
/// order) starting at `starts`: merged sessions get the same ids as in one process.
pub fn session_ids(keys: &RecordBatch, starts: &Int64Array) -> Result<Int64Array> {
    // No key columns: one global key (a batch without columns carries no row count to check).
    if keys.num_columns() > 0 && keys.num_rows() != starts.len() {
        return Err(Error::schema(format!(
            "session ids: {} key rows but {} starts",
            keys.num_rows(),
            starts.len()
        )));
    }
    if starts.null_count() > 0 {
        return Err(Error::schema("session ids: a start is null"));
    }
    let names = keys.schema().fields().iter().map(|f| f.name().clone()).collect();
    let encoded = KeyEncoder::new(names).encode(keys)?;
    Ok(starts
        .values()
        .iter()
        .enumerate()
        .map(|(row, &start)| session_id(encoded.as_ref().map_or(&[][..], |rows| rows.row(row).data()), start))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(new_key: &[bool], spans: &[(i64, i64)], gap: i64) -> Vec<i64> {
        let starts = Int64Array::from_iter_values(spans.iter().map(|s| s.0));
        let ends = Int64Array::from_iter_values(spans.iter().map(|s| s.1));
        merge_sorted_partials(&BooleanArray::from(new_key.to_vec()), &starts, &ends, gap).unwrap().values().to_vec()
    }

    #[test]
    fn gap_is_inclusive_and_keys_never_merge() {
        let new_key = [true, false, false, true];
        // 30 apart: merged; 31 apart: split; a new key always starts a new session.
        assert_eq!(merge(&new_key, &[(0, 10), (40, 50), (81, 90), (91, 95)], 30), vec![0, 0, 1, 2]);
    }

    #[test]
    fn a_cluster_inside_another_merges_through_the_running_end() {
        // (0, 100) covers (5, 6); (120, 130) is within the gap of 100, not of 6.
        assert_eq!(merge(&[true, false, false], &[(0, 100), (5, 6), (120, 130)], 30), vec![0, 0, 0]);
    }

    #[test]
    fn equals_brute_force_over_events() {
        // Events of one key split into "partitions" round-robin; clusters per partition, merged,
        // must equal the clusters of all events together.
        let mut seed = 17u64;
        let mut next = move |m: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for _ in 0..200 {
            let gap = 10;
            let mut times: Vec<i64> = (0..30).map(|_| next(200) as i64).collect();
            let parts = 1 + next(4) as usize;
            let mut partials = Vec::new();
            for p in 0..parts {
                let mut mine: Vec<i64> = times.iter().enumerate().filter(|(i, _)| i % parts == p).map(|(_, t)| *t).collect();
                mine.sort();
                for t in mine {
                    match partials.last_mut() {
                        Some((pp, _, e)) if *pp == p && t <= *e + gap => *e = t,
                        _ => partials.push((p, t, t)),
                    }
                }
            }
            partials.sort_by_key(|&(_, s, _)| s);
            let spans: Vec<(i64, i64)> = partials.iter().map(|&(_, s, e)| (s, e)).collect();
            let mut new_key = vec![false; spans.len()];
            new_key[0] = true;
            let merged = merge(&new_key, &spans, gap);
            let sessions = 1 + *merged.last().unwrap();
            times.sort();
            let expected = 1 + times.windows(2).filter(|w| w[1] - w[0] > gap).count() as i64;
            assert_eq!(sessions, expected, "{spans:?}");
        }
    }

    #[test]
    fn session_ids_equal_the_sessionizers() {
        use crate::stream::{AggSpec, SessionConfig, Sessionizer};
        use arrow_array::StringArray;
        use std::sync::Arc;
        let batch = RecordBatch::try_from_iter([
            ("user", Arc::new(StringArray::from(vec!["a", "b", "a"])) as arrow_array::ArrayRef),
            ("ts", Arc::new(Int64Array::from(vec![5, 7, 10_000])) as arrow_array::ArrayRef),
        ])
        .unwrap();
        let aggs = vec![AggSpec { name: "n".into(), kind: crate::stream::AggKind::Count, column: None }];
        let mut sessionizer = Sessionizer::new(SessionConfig::new(10, "ts", vec!["user".into()], aggs)).unwrap();
        let pushed = sessionizer.push(&[batch]).unwrap(); // closes a@5 and b@7 (watermark 10000)
        let flushed = sessionizer.flush().unwrap();
        let out = arrow_select::concat::concat_batches(&flushed.schema(), &[pushed, flushed]).unwrap();
        let starts: Int64Array = arrow_cast::cast(out.column_by_name("session_start").unwrap(), &arrow_schema::DataType::Int64)
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone();
        let keys = RecordBatch::try_from_iter([("user", out.column_by_name("user").unwrap().clone())]).unwrap();
        let ids = session_ids(&keys, &starts).unwrap();
        let expected = out.column_by_name("session_id").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(&ids, expected);
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn unsorted_input_and_nulls_are_errors() {
        let ends = Int64Array::from(vec![10, 10]);
        let err = merge_sorted_partials(&BooleanArray::from(vec![true, false]), &Int64Array::from(vec![5, 0]), &ends, 1);
        assert!(err.unwrap_err().to_string().contains("sort by key, then start"));
        let err = merge_sorted_partials(&BooleanArray::from(vec![true, false]), &Int64Array::from(vec![Some(0), None]), &ends, 1);
        assert!(err.unwrap_err().to_string().contains("null"));
    }
}
