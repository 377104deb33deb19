//! The rules on one key's history, and dormant keys against a detector that keeps every key.

use super::history::KeyState;
use super::*;

fn config(rule: SpikeRule, history: usize, cooldown: usize) -> SpikeConfig {
    SpikeConfig {
        value: "v".into(),
        keys: vec![],
        history,
        factor: 3.0,
        floor: 5.0,
        rule,
        cooldown,
        step: None,
    }
}

#[test]
fn mean_rule_waits_for_history_and_counts_missing_windows_as_zero() {
    let c = config(SpikeRule::Mean, 3, 0);
    let mut s = KeyState::new(0, 1);
    assert_eq!(s.observe(10.0, &c), None); // warm-up
    assert_eq!(s.observe(10.0, &c), None);
    assert_eq!(s.observe(10.0, &c), None);
    assert_eq!(s.observe(31.0, &c), Some(10.0)); // 31 > 3 * 10
    s.skip_zeros(2, &c); // history is now [31, 0, 0]
    assert_eq!(s.observe(31.0, &c), None); // 31 > 3 * 10.33? no
    assert_eq!(s.observe(6.0, &c), None); // 6 > floor but not > 3 * 10.33
    assert_eq!(s.observe(40.0, &c), Some((0.0 + 31.0 + 6.0) / 3.0));
}

#[test]
fn cooldown_suppresses_the_next_windows() {
    let c = config(SpikeRule::Mean, 1, 2);
    let mut s = KeyState::new(0, 1);
    assert_eq!(s.observe(1.0, &c), None);
    assert_eq!(s.observe(10.0, &c), Some(1.0));
    assert_eq!(s.observe(100.0, &c), None); // cooling down
    assert_eq!(s.observe(1000.0, &c), None); // cooling down
    assert_eq!(s.observe(10000.0, &c), Some(1000.0));
}

#[test]
fn ewma_decays_over_missing_windows_in_closed_form() {
    let c = config(SpikeRule::Ewma { alpha: 0.5 }, 1, 0);
    let mut a = KeyState::new(0, 1);
    let mut b = KeyState::new(0, 1);
    a.observe(8.0, &c);
    b.observe(8.0, &c);
    a.skip_zeros(3, &c);
    for _ in 0..3 {
        b.observe(0.0, &c);
    }
    assert!((a.ewma - b.ewma).abs() < 1e-12);
    assert_eq!(a.windows_seen, b.windows_seen);
    assert_eq!(a.recent, b.recent);
}

fn windows(rows: &[(&str, i64, f64)]) -> RecordBatch {
    use arrow_array::types::TimestampMillisecondType;
    use arrow_array::PrimitiveArray;
    let ts = |f: &dyn Fn(i64) -> i64| -> ArrayRef {
        Arc::new(PrimitiveArray::<TimestampMillisecondType>::from_iter_values(rows.iter().map(|r| f(r.1))).with_timezone("UTC"))
    };
    RecordBatch::try_from_iter([
        ("k", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef),
        ("window_start", ts(&|w| w * 10)),
        ("window_end", ts(&|w| w * 10 + 10)),
        ("v", Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))) as ArrayRef),
    ])
    .unwrap()
}

fn keyed(rule: SpikeRule, history: usize, cooldown: usize) -> SpikeDetector {
    SpikeDetector::new(SpikeConfig { keys: vec!["k".into()], ..config(rule, history, cooldown) }).unwrap()
}

/// (key, window) of each alert.
fn alerted(out: &RecordBatch) -> Vec<(String, i64)> {
    use arrow_array::types::TimestampMillisecondType;
    let keys = out.column(0).as_string::<i32>();
    let starts = out.column(1).as_primitive::<TimestampMillisecondType>();
    (0..out.num_rows()).map(|i| (keys.value(i).to_owned(), starts.value(i) / 10)).collect()
}

#[test]
fn a_key_with_an_all_zero_baseline_keeps_only_its_name_and_alerts_as_before() {
    let mut d = keyed(SpikeRule::Mean, 2, 0);
    // "a" warms up, then is silent while "b" carries time forward.
    d.push(&windows(&[("a", 0, 4.0), ("a", 1, 4.0), ("b", 1, 1.0)])).unwrap();
    d.push(&windows(&[("b", 3, 1.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 0, "a has missed one window: its baseline is [4, 0]");
    d.push(&windows(&[("b", 4, 1.0)])).unwrap();
    assert_eq!((d.stats().keys, d.stats().dormant_keys), (1, 1), "two missed windows: [0, 0]");
    // Back with 6 (> floor 5, > 3 * 0): it alerts, as it would have without being let go; a new key
    // in its first window does not (warm-up).
    let out = d.push(&windows(&[("a", 9, 6.0), ("c", 9, 60.0)])).unwrap();
    assert_eq!(alerted(&out), vec![("a".to_string(), 9)]);
    assert_eq!((d.stats().keys, d.stats().dormant_keys), (2, 1), "a and c live, b let go by now");
    // The state (dormant keys included) survives a snapshot.
    d.push(&windows(&[("c", 20, 1.0)])).unwrap();
    let restored = SpikeDetector::restore(&d.snapshot().unwrap()).unwrap();
    assert_eq!((restored.stats().keys, restored.stats().dormant_keys), (d.stats().keys, d.stats().dormant_keys));
}

#[test]
fn the_ewma_and_a_long_cooldown_keep_a_key_until_they_are_spent() {
    // EWMA with alpha 0.5: after `history` empty windows the baseline is 8 / 2^2, not zero.
    let mut d = keyed(SpikeRule::Ewma { alpha: 0.5 }, 1, 0);
    d.push(&windows(&[("a", 0, 8.0), ("b", 3, 0.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 0);
    // ... until it underflows to zero (a little over 1,000 halvings of 8).
    d.push(&windows(&[("b", 1_080, 0.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 1);
    // With alpha 1 it is zero at once.
    let mut d = keyed(SpikeRule::Ewma { alpha: 1.0 }, 1, 0);
    d.push(&windows(&[("a", 0, 8.0), ("b", 2, 0.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 1);
    // A cooldown of 4 windows after an alert outlasts a history of 1.
    let mut d = keyed(SpikeRule::Mean, 1, 4);
    d.push(&windows(&[("a", 0, 1.0), ("a", 1, 10.0), ("b", 3, 0.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 0);
    d.push(&windows(&[("b", 6, 0.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 1);
}

#[test]
fn windows_out_of_time_order_across_keys_stop_keys_going_dormant_or_are_refused() {
    let mut d = keyed(SpikeRule::Mean, 1, 0);
    d.push(&windows(&[("a", 0, 1.0), ("b", 5, 1.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 1);
    // "a" again at 1: after it was let go at 5, its baseline would not be known exactly.
    let err = d.push(&windows(&[("a", 1, 1.0)])).unwrap_err();
    assert!(matches!(err, Error::Order(ref m) if m.contains("time order")), "{err}");
    // An earlier window of another key is fine (per-key order is all that is asked) but from then
    // on no key goes dormant.
    d.push(&windows(&[("c", 2, 1.0), ("b", 30, 1.0)])).unwrap();
    assert_eq!(d.stats().dormant_keys, 1);
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Alerts with dormant keys are those of a detector that keeps every key (kept so by one window
    /// out of time order, on keys of its own, pushed first).
    #[test]
    fn dormant_keys_change_no_alert(
        rule in prop_oneof![
            Just(SpikeRule::Mean),
            (0.0f64..3.0).prop_map(|threshold| SpikeRule::ZScore { threshold }),
            proptest::sample::select(vec![0.3, 0.9, 1.0]).prop_map(|alpha| SpikeRule::Ewma { alpha }),
        ],
        history in 1usize..5,
        cooldown in 0usize..7,
        rows in proptest::collection::vec((0usize..6, 0i64..4, proptest::sample::select(vec![0.0, 1.0, 3.0, 8.0, 40.0, 300.0])), 0..120),
        cuts in proptest::collection::vec(1usize..12, 1..10),
        snapshot_at in proptest::collection::vec(0usize..40, 0..4),
    ) {
        const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
        // Windows in time order; each step jumps 0-3 windows, now and then a lot more.
        let mut w = 0i64;
        let mut stream: Vec<(&str, i64, f64)> = Vec::new();
        let mut used: std::collections::HashSet<(usize, i64)> = Default::default();
        for (key, jump, value) in rows {
            w += if jump == 3 { 1_200 } else { jump };
            if used.insert((key, w)) {
                stream.push((KEYS[key], w, value));
            }
        }
        stream.sort_by_key(|r| (r.1, r.0));
        let mut evicting = keyed(rule, history, cooldown);
        let mut keeping = keyed(rule, history, cooldown);
        keeping.push(&windows(&[("~1", 10, 0.0), ("~2", 0, 0.0)])).unwrap();
        let (mut got, mut expected) = (Vec::new(), Vec::new());
        let mut at = 0;
        let mut k = 0;
        while at < stream.len() {
            let n = cuts[k % cuts.len()].min(stream.len() - at);
            let batch = windows(&stream[at..at + n]);
            got.extend(alerted(&evicting.push(&batch).unwrap()));
            expected.extend(alerted(&keeping.push(&batch).unwrap()));
            if snapshot_at.contains(&k) {
                evicting = SpikeDetector::restore(&evicting.snapshot().unwrap()).unwrap();
            }
            at += n;
            k += 1;
        }
        prop_assert_eq!(keeping.stats().dormant_keys, 0);
        prop_assert_eq!(got, expected);
    }
}
