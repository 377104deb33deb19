use super::*;
use crate::stream::aggregate::AggKind;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{Array, Float64Array, Int64Array, StringArray};

fn batch(ts: &[Option<i64>], keys: &[Option<&str>], values: &[Option<f64>]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("ts", Arc::new(Int64Array::from(ts.to_vec())) as ArrayRef),
        ("service", Arc::new(StringArray::from(keys.to_vec())) as ArrayRef),
        ("latency", Arc::new(Float64Array::from(values.to_vec())) as ArrayRef),
    ])
    .unwrap()
}

fn tumbling(size: i64, watermark: i64, lateness: i64) -> WindowAggregator {
    let mut config = AggregatorConfig::new(
        WindowSpec::Tumbling { size, offset: 0 },
        "ts",
        vec!["service".into()],
        vec![
            AggSpec { name: "n".into(), kind: AggKind::Count, column: None },
            AggSpec { name: "total".into(), kind: AggKind::Sum, column: Some("latency".into()) },
        ],
    );
    config.watermark = watermark;
    config.allowed_lateness = lateness;
    WindowAggregator::new(config).unwrap()
}

/// (key, window_start, count) rows of an output batch.
fn rows(out: &RecordBatch) -> Vec<(Option<String>, i64, i64)> {
    let keys = out.column(0).as_string::<i32>();
    let starts = out.column(1).as_primitive::<TimestampMillisecondType>();
    let counts = out.column(3).as_primitive::<Int64Type>();
    (0..out.num_rows())
        .map(|i| (keys.is_valid(i).then(|| keys.value(i).to_string()), starts.value(i), counts.value(i)))
        .collect()
}

#[test]
fn windows_close_when_the_watermark_passes_their_end() {
    let mut agg = tumbling(10, 2, 0);
    let out = agg.push(&[batch(&[Some(1), Some(5), Some(11)], &[Some("a"), Some("b"), Some("a")], &[Some(1.0); 3])]).unwrap();
    assert_eq!(out.num_rows(), 0, "watermark 9 has not passed 10");
    let out = agg.push(&[batch(&[Some(12)], &[Some("b")], &[Some(1.0)])]).unwrap();
    assert_eq!(rows(&out), vec![(Some("a".into()), 0, 1), (Some("b".into()), 0, 1)]);
    let out = agg.flush().unwrap();
    assert_eq!(rows(&out), vec![(Some("a".into()), 10, 1), (Some("b".into()), 10, 1)]);
}

#[test]
fn late_rows_go_to_the_side_output_not_a_wrong_window() {
    let mut agg = tumbling(10, 0, 0);
    agg.push(&[batch(&[Some(25), Some(3)], &[Some("a"), Some("a")], &[Some(1.0), Some(2.0)])]).unwrap();
    let late = agg.take_late();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].num_rows(), 1);
    let reason = late[0].column_by_name("reason").unwrap().as_string::<i32>().value(0).to_string();
    assert!(reason.contains("closed"), "{reason}");
    let out = agg.flush().unwrap();
    assert_eq!(rows(&out), vec![(Some("a".into()), 20, 1)]);
    assert_eq!(agg.stats().rows_late, 1);
}

#[test]
fn allowed_lateness_keeps_windows_open() {
    let mut agg = tumbling(10, 0, 5);
    let out = agg.push(&[batch(&[Some(1), Some(14), Some(2)], &[Some("a"); 3], &[Some(1.0); 3])]).unwrap();
    assert_eq!(out.num_rows(), 0);
    let out = agg.push(&[batch(&[Some(15)], &[Some("a")], &[Some(1.0)])]).unwrap();
    assert_eq!(rows(&out), vec![(Some("a".into()), 0, 2)], "closes exactly at end + lateness");
    let late = agg.take_late();
    assert_eq!(late.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    assert_eq!(late[0].schema().field(late[0].num_columns() - 1).name(), "reason", "empty, with the late columns");
}

#[test]
fn bad_times_are_rejected_with_reasons_and_counts_reconcile() {
    let mut agg = tumbling(10, 0, 0);
    agg.push(&[batch(&[None, Some(-5), Some(i64::MAX), Some(4)], &[Some("a"); 4], &[Some(1.0); 4])]).unwrap();
    let rejects = agg.take_rejects();
    assert_eq!(rejects[0].num_rows(), 3);
    let reasons = rejects[0].column_by_name("reason").unwrap().as_string::<i32>();
    assert!(reasons.value(0).contains("null"));
    assert!(reasons.value(1).contains("before 1970"));
    assert!(reasons.value(2).contains("9999"));
    let out = agg.flush().unwrap();
    assert_eq!(rows(&out), vec![(Some("a".into()), 0, 1)]);
    assert_eq!(agg.stats().rows_in, 4);
    assert_eq!(agg.stats().rows_rejected, 3);
}

#[test]
fn null_keys_are_a_group_of_their_own_sorted_first() {
    let mut agg = tumbling(10, 0, 0);
    agg.push(&[batch(&[Some(1), Some(2), Some(3)], &[Some("b"), None, Some("a")], &[Some(1.0); 3])]).unwrap();
    let out = agg.flush().unwrap();
    assert_eq!(rows(&out), vec![(None, 0, 1), (Some("a".into()), 0, 1), (Some("b".into()), 0, 1)]);
}

#[test]
fn missing_columns_and_type_changes_are_schema_errors_that_change_nothing() {
    let mut agg = tumbling(10, 0, 0);
    let no_ts = RecordBatch::try_from_iter(vec![("service", Arc::new(StringArray::from(vec!["a"])) as ArrayRef)]).unwrap();
    let err = agg.push(&[no_ts]).unwrap_err().to_string();
    assert!(err.contains("\"ts\"") && err.contains("not in the input"), "{err}");
    agg.push(&[batch(&[Some(1)], &[Some("a")], &[Some(1.0)])]).unwrap();
    let int_keys = RecordBatch::try_from_iter(vec![
        ("ts", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
        ("service", Arc::new(Int64Array::from(vec![7])) as ArrayRef),
        ("latency", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
    ])
    .unwrap();
    let err = agg.push(&[int_keys]).unwrap_err().to_string();
    assert!(err.contains("changed type"), "{err}");
    assert_eq!(agg.stats().rows_in, 1);
}

#[test]
fn snapshot_restore_resumes_exactly() {
    let input: Vec<RecordBatch> = (0..6)
        .map(|i| {
            let ts: Vec<Option<i64>> = (0..50).map(|j| Some(i * 40 + (j * 7) % 45)).collect();
            let keys: Vec<Option<&str>> = (0..50).map(|j| Some(["x", "y", "z"][j % 3])).collect();
            let values: Vec<Option<f64>> = (0..50).map(|j| Some(j as f64)).collect();
            batch(&ts, &keys, &values)
        })
        .collect();
    let mut straight = tumbling(10, 5, 3);
    let mut expected = Vec::new();
    for b in &input {
        expected.extend(rows(&straight.push(std::slice::from_ref(b)).unwrap()));
    }
    expected.extend(rows(&straight.flush().unwrap()));

    let mut agg = tumbling(10, 5, 3);
    let mut actual = Vec::new();
    for b in &input {
        actual.extend(rows(&agg.push(std::slice::from_ref(b)).unwrap()));
        let bytes = agg.snapshot().unwrap();
        agg = WindowAggregator::restore(&bytes).unwrap();
        assert_eq!(agg.snapshot().unwrap(), bytes, "snapshots are deterministic");
    }
    actual.extend(rows(&agg.flush().unwrap()));
    assert_eq!(actual, expected);
    assert_eq!(agg.take_late().iter().map(|b| b.num_rows()).sum::<usize>(), straight.take_late().iter().map(|b| b.num_rows()).sum::<usize>());
}

#[test]
fn garbage_is_not_a_snapshot() {
    assert!(matches!(WindowAggregator::restore(b"hello world"), Err(Error::Snapshot(_))));
    let mut bytes = tumbling(10, 0, 0).snapshot().unwrap();
    bytes.truncate(bytes.len() / 2);
    assert!(matches!(WindowAggregator::restore(&bytes), Err(Error::Snapshot(_))));
}

#[test]
fn hopping_windows_count_each_event_in_every_window() {
    let config = AggregatorConfig::new(
        WindowSpec::Hopping { size: 30, step: 10, offset: 0 },
        "ts",
        vec![],
        vec![AggSpec { name: "n".into(), kind: AggKind::Count, column: None }],
    );
    let mut agg = WindowAggregator::new(config).unwrap();
    let first = agg.push(&[batch(&[Some(5), Some(15), Some(25)], &[Some("a"); 3], &[Some(1.0); 3])]).unwrap();
    assert_eq!(first.num_rows(), 2, "windows ending at 10 and 20 close at watermark 25");
    let rest = agg.flush().unwrap();
    let out = arrow_select::concat::concat_batches(&first.schema(), [&first, &rest]).unwrap();
    let starts = out.column(0).as_primitive::<TimestampMillisecondType>();
    let counts = out.column(2).as_primitive::<Int64Type>();
    let got: Vec<(i64, i64)> = (0..out.num_rows()).map(|i| (starts.value(i), counts.value(i))).collect();
    assert_eq!(got, vec![(-20, 1), (-10, 2), (0, 3), (10, 2), (20, 1)]);
}

#[test]
fn a_type_change_within_one_push_is_an_error_not_silently_ignored_values() {
    let config = AggregatorConfig::new(
        WindowSpec::Tumbling { size: 10, offset: 0 },
        "ts",
        vec![],
        vec![AggSpec { name: "s".into(), kind: AggKind::Sum, column: Some("v".into()) }],
    );
    let mut agg = WindowAggregator::new(config).unwrap();
    let ints = RecordBatch::try_from_iter(vec![
        ("ts", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
        ("v", Arc::new(Int64Array::from(vec![5])) as ArrayRef),
    ])
    .unwrap();
    let floats = RecordBatch::try_from_iter(vec![
        ("ts", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
        ("v", Arc::new(Float64Array::from(vec![0.5])) as ArrayRef),
    ])
    .unwrap();
    let err = agg.push(&[ints.clone(), floats]).unwrap_err().to_string();
    assert!(err.contains("changed from integers to floats"), "{err}");
    assert_eq!(agg.stats().rows_in, 0, "nothing of the failed push was applied");
    agg.push(&[ints]).unwrap();
    let out = agg.flush().unwrap();
    assert_eq!(out.column(2).as_primitive::<Int64Type>().value(0), 5);
}

/// A version 1 snapshot (one entry per key and window, before panes) of `config` after
/// `events` (time, key, value), built the way that version built it.
fn windows_snapshot(config: AggregatorConfig, events: &[(i64, &str, f64)]) -> Vec<u8> {
    use crate::stream::aggregate::SavedAcc as Acc;
    let mut keys = KeyEncoder::new(config.keys.clone());
    let service: ArrayRef = Arc::new(StringArray::from(events.iter().map(|e| e.1).collect::<Vec<_>>()));
    let encoded = keys.encode(&RecordBatch::try_from_iter(vec![("service", service)]).unwrap()).unwrap().unwrap();
    let mut open: std::collections::BTreeMap<Vec<u8>, Vec<Window>> = Default::default();
    for (i, &(t, _, v)) in events.iter().enumerate() {
        let windows = open.entry(encoded.row(i).data().to_vec()).or_default();
        for start in config.window.starts(t) {
            let at = windows.iter().position(|w| w.start == start).unwrap_or_else(|| {
                windows.push(Window { start, accs: [Acc::Count(0), Acc::SumFloat { sum: 0.0, n: 0 }].into_iter().collect() });
                windows.len() - 1
            });
            let accs = &mut windows[at].accs;
            accs[0] = Acc::Count(match accs[0] { Acc::Count(n) => n + 1, _ => unreachable!() });
            accs[1] = match accs[1] { Acc::SumFloat { sum, n } => Acc::SumFloat { sum: sum + v, n: n + 1 }, _ => unreachable!() };
        }
    }
    // What that version held after closing: the windows the watermark had not passed.
    let watermark = events.iter().map(|e| e.0).max().unwrap() - config.watermark;
    open.values_mut().for_each(|windows| windows.retain(|w| w.start + config.window.size() > watermark));
    open.retain(|_, windows| !windows.is_empty());
    let mut aggs = AggSet::new(config.aggs.clone());
    let first = batch(&[Some(events[0].0)], &[Some(events[0].1)], &[Some(events[0].2)]);
    aggs.bind_all(&[first], "ts", &mut keys, true).unwrap();
    let state = WindowsState {
        key_fields: keys.fields().cloned(),
        aggs: aggs.state(),
        max_time: events.iter().map(|e| e.0).max(),
        finished: false,
        open: open.into_iter().collect(),
        side: SideOutputs::new(vec![]).state().unwrap(),
        stats: AggregatorStats::default(),
        config,
    };
    snapshot::encode(WINDOWS_SNAPSHOT_TAG, &state).unwrap()
}

#[test]
fn snapshots_of_the_version_before_panes_restore_and_resume() {
    let events = [(1, "a", 1.0), (5, "b", 2.0), (12, "a", 4.0), (14, "b", 8.0)];
    let more = batch(&[Some(16), Some(27)], &[Some("a"), Some("b")], &[Some(16.0), Some(32.0)]);
    for window in [WindowSpec::Tumbling { size: 10, offset: 0 }, WindowSpec::Hopping { size: 10, step: 5, offset: 0 }] {
        let mut config = tumbling(10, 3, 0).config().clone();
        config.window = window;
        let mut straight = WindowAggregator::new(config.clone()).unwrap();
        let all: Vec<RecordBatch> = events.iter().map(|e| batch(&[Some(e.0)], &[Some(e.1)], &[Some(e.2)])).collect();
        straight.push(&all).unwrap();
        let mut restored = WindowAggregator::restore(&windows_snapshot(config, &events)).unwrap();
        // Both close the same windows from here on, with the same counts and sums.
        let expected = [straight.push(std::slice::from_ref(&more)).unwrap(), straight.flush().unwrap()];
        let actual = [restored.push(std::slice::from_ref(&more)).unwrap(), restored.flush().unwrap()];
        for (e, a) in expected.iter().zip(&actual) {
            assert_eq!(rows(e), rows(a), "{window:?}");
            assert_eq!(e.column(4), a.column(4), "{window:?}: sums");
        }
        assert!(expected.iter().map(|e| e.num_rows()).sum::<usize>() >= 3, "the test closes windows after the restore");
    }
}

#[test]
fn emit_open_fires_every_open_window_without_moving_the_watermark() {
    let mut agg = tumbling(10, 5, 0);
    agg.push(&[batch(&[Some(3), Some(12), Some(14)], &[Some("b"), Some("a"), Some("b")], &[Some(1.0); 3])]).unwrap();
    assert_eq!(agg.watermark(), Some(9));
    // Ordered by end, then key; the watermark stays where it was.
    assert_eq!(rows(&agg.emit_open().unwrap()), vec![(Some("b".into()), 0, 1), (Some("a".into()), 10, 1), (Some("b".into()), 10, 1)]);
    assert_eq!((agg.open_windows(), agg.watermark()), (0, Some(9)));
    // A row for a fired window that the watermark has not passed opens it afresh: not late.
    let out = agg.push(&[batch(&[Some(13), Some(21)], &[Some("a"), Some("a")], &[Some(1.0); 2])]).unwrap();
    assert_eq!(agg.take_late().iter().map(RecordBatch::num_rows).sum::<usize>(), 0);
    assert_eq!(rows(&out), vec![]);
    let out = agg.push(&[batch(&[Some(30)], &[Some("c")], &[Some(1.0)])]).unwrap();
    assert_eq!(rows(&out), vec![(Some("a".into()), 10, 1)]);
    // A row for a window the watermark has passed stays late.
    agg.push(&[batch(&[Some(2)], &[Some("b")], &[Some(1.0)])]).unwrap();
    assert_eq!(agg.take_late().iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
}

/// Hopping windows are assembled from their panes by key rank (few live keys, or keys ranked
/// already) or by a merge of sorted panes (many live keys, few in the window). Both give what a
/// naive count of every event in every window gives, whichever a window takes: here keys that
/// stay (ranked once) interleave with a stream of keys seen once (live keys far outnumber each
/// window's entries, and ranks go stale with every new key).
#[test]
fn hopping_windows_agree_with_a_naive_count_by_rank_and_by_merge() {
    let (size, step) = (30, 10);
    let config = AggregatorConfig::new(
        WindowSpec::Hopping { size, step, offset: 0 },
        "ts",
        vec!["service".into()],
        vec![
            AggSpec { name: "n".into(), kind: AggKind::Count, column: None },
            AggSpec { name: "total".into(), kind: AggKind::Sum, column: Some("latency".into()) },
        ],
    );
    let mut agg = WindowAggregator::new(config).unwrap();
    let mut events: Vec<(i64, String)> = Vec::new();
    for t in 0..600i64 {
        let key = if t % 3 == 0 { format!("once-{t:04}") } else { format!("stay-{}", t % 7) };
        events.push((t, key));
    }
    let mut out = Vec::new();
    for chunk in events.chunks(37) {
        let ts: Vec<Option<i64>> = chunk.iter().map(|e| Some(e.0)).collect();
        let keys: Vec<Option<&str>> = chunk.iter().map(|e| Some(e.1.as_str())).collect();
        out.push(agg.push(&[batch(&ts, &keys, &vec![Some(1.0); chunk.len()])]).unwrap());
    }
    out.push(agg.flush().unwrap());
    let got: Vec<(Option<String>, i64, i64)> = out.iter().flat_map(rows).collect();
    // Naive: each event in each window containing it, ordered by window end, then key.
    let mut want: std::collections::BTreeMap<(i64, String), i64> = std::collections::BTreeMap::new();
    for (t, key) in &events {
        let mut start = t.div_euclid(step) * step;
        while start > t - size {
            *want.entry((start + size, key.clone())).or_default() += 1;
            start -= step;
        }
    }
    let want: Vec<(Option<String>, i64, i64)> = want.into_iter().map(|((end, key), n)| (Some(key), end - size, n)).collect();
    assert_eq!(got, want);
}
