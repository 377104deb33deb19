use super::*;
use crate::stream::aggregate::AggKind;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::Array;
use arrow_schema::DataType;

const GAP: i64 = 30;

fn batch(events: &[(i64, &str)]) -> RecordBatch {
    RecordBatch::try_from_iter(vec![
        ("ts", Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.0))) as ArrayRef),
        ("user", Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.1))) as ArrayRef),
        ("page", Arc::new(StringArray::from_iter_values(events.iter().map(|e| format!("p{}", e.0 % 3)))) as ArrayRef),
    ])
    .unwrap()
}

fn sessionizer(watermark: i64, max_duration: Option<i64>) -> Sessionizer {
    let mut config = SessionConfig::new(
        GAP,
        "ts",
        vec!["user".into()],
        vec![
            AggSpec { name: "page_views".into(), kind: AggKind::Count, column: None },
            AggSpec { name: "first_page".into(), kind: AggKind::First, column: Some("page".into()) },
            AggSpec { name: "pages".into(), kind: AggKind::CountDistinct, column: Some("page".into()) },
        ],
    );
    config.watermark = watermark;
    config.max_duration = max_duration;
    Sessionizer::new(config).unwrap()
}

/// (user, start, end, page_views, session_id)
fn sessions(out: &RecordBatch) -> Vec<(String, i64, i64, i64, i64)> {
    let users = out.column(0).as_string::<i32>();
    let ids = out.column(1).as_primitive::<Int64Type>();
    let starts = out.column(2).as_primitive::<TimestampMillisecondType>();
    let ends = out.column(3).as_primitive::<TimestampMillisecondType>();
    let views = out.column(5).as_primitive::<Int64Type>();
    (0..out.num_rows())
        .map(|i| (users.value(i).to_string(), starts.value(i), ends.value(i), views.value(i), ids.value(i)))
        .collect()
}

fn run(s: &mut Sessionizer, batches: &[Vec<(i64, &str)>]) -> Vec<(String, i64, i64, i64, i64)> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(sessions(&s.push(&[batch(b)]).unwrap()));
    }
    out.extend(sessions(&s.flush().unwrap()));
    out
}

#[test]
fn a_gap_of_exactly_gap_keeps_the_session_and_a_larger_one_splits() {
    let mut s = sessionizer(0, None);
    let out = run(&mut s, &[vec![(0, "a"), (30, "a"), (61, "a")]]);
    let spans: Vec<_> = out.iter().map(|r| (r.1, r.2, r.3)).collect();
    assert_eq!(spans, vec![(0, 30, 2), (61, 61, 1)]);
}

#[test]
fn an_event_between_two_sessions_merges_them() {
    let mut s = sessionizer(100, None);
    let out = run(&mut s, &[vec![(0, "a"), (50, "a")], vec![(25, "a")]]);
    let spans: Vec<_> = out.iter().map(|r| (r.1, r.2, r.3)).collect();
    assert_eq!(spans, vec![(0, 50, 3)]);
    assert_eq!(s.stats().sessions_merged, 1);
}

#[test]
fn sessions_close_at_end_plus_gap_and_leave_no_state() {
    let mut s = sessionizer(0, None);
    assert_eq!(s.push(&[batch(&[(0, "a"), (10, "b")])]).unwrap().num_rows(), 0);
    assert_eq!(s.push(&[batch(&[(29, "c")])]).unwrap().num_rows(), 0, "watermark 29 < 0 + 30");
    let out = sessions(&s.push(&[batch(&[(30, "c")])]).unwrap());
    assert_eq!(out.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(s.open_keys(), 2);
    s.flush().unwrap();
    assert_eq!(s.open_keys(), 0);
}

#[test]
fn a_key_back_to_one_open_session_holds_it_inline_again() {
    // Two open sessions at once move a key's sessions to the heap; after one closes, the other
    // must be back in the key's own cache line (else every later event reads a second line).
    let mut s = sessionizer(100, None);
    assert_eq!(s.push(&[batch(&[(0, "a"), (50, "a")])]).unwrap().num_rows(), 0);
    let spilled = |s: &Sessionizer| s.shards.iter().flat_map(|shard| &shard.states).filter(|slot| slot.0.spilled()).count();
    assert_eq!(spilled(&s), 1, "two sessions: on the heap");
    let out = sessions(&s.push(&[batch(&[(150, "b")])]).unwrap());
    assert_eq!(out.iter().map(|r| (r.0.as_str(), r.1, r.2)).collect::<Vec<_>>(), vec![("a", 0, 0)]);
    assert_eq!(s.open_sessions(), 2);
    assert_eq!(spilled(&s), 0, "one session left: inline");
    let rest = run(&mut s, &[vec![(60, "a")]]);
    assert_eq!(rest.iter().map(|r| (r.0.as_str(), r.1, r.2, r.3)).collect::<Vec<_>>(), vec![("a", 50, 60, 2), ("b", 150, 150, 1)]);
}

#[test]
fn events_behind_the_watermark_are_late_and_change_nothing_emitted() {
    let mut s = sessionizer(0, None);
    let out = run(&mut s, &[vec![(0, "a"), (31, "b")], vec![(20, "a")]]);
    assert_eq!(out.iter().filter(|r| r.0 == "a").map(|r| (r.1, r.2)).collect::<Vec<_>>(), vec![(0, 0)]);
    let late = s.take_late();
    assert_eq!(late[0].num_rows(), 1);
    assert!(late[0].column_by_name("reason").unwrap().as_string::<i32>().value(0).contains("watermark"));
}

#[test]
fn a_key_closed_exactly_at_the_watermark_keeps_its_tombstone_when_its_last_session_closes_too() {
    // Session [1100] is created first and closes exactly at the watermark (tombstone); the
    // out-of-order session [1065] closes earlier in the same pass and leaves the key idle. The key
    // must stay interned for its tombstone (a released id held empty bytes and broke snapshots).
    let mut s = sessionizer(40, None);
    assert!(sessions(&s.push(&[batch(&[(1100, "a"), (1065, "a")])]).unwrap()).is_empty());
    let closed = sessions(&s.push(&[batch(&[(1170, "b")])]).unwrap());
    assert_eq!(closed.iter().map(|r| (r.0.as_str(), r.1, r.2)).collect::<Vec<_>>(), vec![("a", 1065, 1065), ("a", 1100, 1100)]);
    let mut restored = Sessionizer::restore(&s.snapshot().unwrap()).unwrap();
    for s in [&mut s, &mut restored] {
        // 1130 is within `gap` of the emitted session ending at 1100: late, in both.
        assert!(sessions(&s.push(&[batch(&[(1130, "a")])]).unwrap()).is_empty());
        let late: usize = s.take_late().iter().map(|b| b.num_rows()).sum();
        assert_eq!(late, 1);
    }
}

#[test]
fn ids_and_output_do_not_depend_on_batch_cuts_or_snapshots() {
    let events: Vec<(i64, &str)> = (0..200).map(|i| ((i * 37) % 400 + (i / 7) * 5, ["u", "v", "w"][i as usize % 3])).collect();
    let mut whole = sessionizer(1_000, None);
    let mut expected = run(&mut whole, std::slice::from_ref(&events));
    expected.sort();
    for cut in [1, 3, 17, 64] {
        let mut s = sessionizer(1_000, None);
        let mut out = Vec::new();
        for chunk in events.chunks(cut) {
            out.extend(sessions(&s.push(&[batch(chunk)]).unwrap()));
            s = Sessionizer::restore(&s.snapshot().unwrap()).unwrap();
        }
        out.extend(sessions(&s.flush().unwrap()));
        out.sort();
        assert_eq!(out, expected, "cut {cut}");
    }
}

#[test]
fn max_duration_splits_long_sessions() {
    let mut s = sessionizer(0, Some(50));
    let events: Vec<(i64, &str)> = (0..12).map(|i| (i * 10, "a")).collect();
    let out = run(&mut s, &[events]);
    let spans: Vec<_> = out.iter().map(|r| (r.1, r.2, r.3)).collect();
    assert_eq!(spans, vec![(0, 50, 6), (60, 110, 6)]);
}

#[test]
fn first_value_and_distinct_count_follow_event_time() {
    let mut s = sessionizer(100, None);
    s.push(&[batch(&[(5, "a"), (4, "a"), (3, "a")])]).unwrap();
    let out = s.flush().unwrap();
    let first = out.column_by_name("first_page").unwrap().as_string::<i32>();
    assert_eq!(first.value(0), "p0", "page of the event at time 3");
    let distinct = out.column_by_name("pages").unwrap().as_primitive::<Int64Type>();
    assert_eq!(distinct.value(0), 3);
}

#[test]
fn bad_config_is_rejected() {
    let mut c = SessionConfig::new(0, "ts", vec![], vec![]);
    assert!(Sessionizer::new(c.clone()).is_err());
    c.gap = 10;
    c.max_duration = Some(0);
    assert!(Sessionizer::new(c).is_err());
}

mod equivalence {
    //! The integer-key path against the byte-key path (the same keys as strings), and any number
    //! of threads against one, over random streams, batch cuts, disorder, lateness and snapshots.
    use super::*;
    use proptest::prelude::*;

    type Row = (String, i64, i64, i64, i64, String);

    fn events_batch(events: &[(i64, Option<i64>)], string_keys: bool) -> RecordBatch {
        let user: ArrayRef = if string_keys {
            Arc::new(StringArray::from_iter(events.iter().map(|e| e.1.map(|u| u.to_string()))))
        } else {
            Arc::new(Int64Array::from_iter(events.iter().map(|e| e.1)))
        };
        RecordBatch::try_from_iter(vec![
            // A time of i64::MIN stands for a null time.
            ("ts", Arc::new(Int64Array::from_iter(events.iter().map(|e| (e.0 != i64::MIN).then_some(e.0)))) as ArrayRef),
            ("user", user),
            ("page", Arc::new(StringArray::from_iter_values(events.iter().map(|e| format!("p{}", e.0 % 5)))) as ArrayRef),
        ])
        .unwrap()
    }

    /// (user as string, start, end, page_views, pages, first_page); session ids checked separately.
    fn rows_of(out: &RecordBatch) -> Vec<Row> {
        let users = arrow_cast::cast(out.column(0), &DataType::Utf8).unwrap();
        let users = users.as_string::<i32>();
        let starts = out.column(2).as_primitive::<TimestampMillisecondType>();
        let ends = out.column(3).as_primitive::<TimestampMillisecondType>();
        let views = out.column_by_name("page_views").unwrap().as_primitive::<Int64Type>();
        let pages = out.column_by_name("pages").unwrap().as_primitive::<Int64Type>();
        let first = out.column_by_name("first_page").unwrap().as_string::<i32>();
        (0..out.num_rows())
            .map(|i| {
                let user = if users.is_null(i) { "null".to_string() } else { users.value(i).to_string() };
                (user, starts.value(i), ends.value(i), views.value(i), pages.value(i), first.value(i).to_string())
            })
            .collect()
    }

    struct Run {
        /// Snapshot after the first push.
        snapshot: Vec<u8>,
        sessions: Vec<Row>,
        ids: Vec<i64>,
        late: Vec<(i64, String)>,
        stats: SessionStats,
    }

    fn run(events: &[(i64, Option<i64>)], cuts: &[usize], snapshot_at: &[bool], string_keys: bool, threads: usize, lateness: i64) -> Run {
        let mut s = sessionizer(40, None);
        s.config.allowed_lateness = lateness;
        s.set_threads(threads).unwrap();
        s.set_null_keys(NullKeys::Group); // null is one more key here, whatever its layout
        let (mut sessions, mut ids, mut late) = (Vec::new(), Vec::new(), Vec::new());
        let mut collect = |out: RecordBatch, s: &mut Sessionizer| {
            sessions.extend(rows_of(&out));
            ids.extend(out.column(1).as_primitive::<Int64Type>().values().iter().copied());
            for l in s.take_late() {
                let times = l.column(0).as_primitive::<Int64Type>();
                let reasons = l.column_by_name("reason").unwrap().as_string::<i32>();
                late.extend((0..l.num_rows()).map(|i| (times.value(i), reasons.value(i).to_string())));
            }
        };
        let mut start = 0;
        let mut first_snapshot = Vec::new();
        for (i, &cut) in cuts.iter().enumerate() {
            let end = (start + cut).min(events.len());
            let out = s.push(&[events_batch(&events[start..end], string_keys)]).unwrap();
            collect(out, &mut s);
            if i == 0 {
                first_snapshot = s.snapshot().unwrap();
                let again = Sessionizer::restore(&first_snapshot).unwrap().snapshot().unwrap();
                assert_eq!(again, first_snapshot, "restore then snapshot gives the same bytes");
            }
            if snapshot_at.get(i).copied().unwrap_or(false) {
                s = Sessionizer::restore(&s.snapshot().unwrap()).unwrap();
                s.set_threads(if threads == 1 { 2 } else { 1 }).unwrap();
            }
            start = end;
        }
        let out = s.push(&[events_batch(&events[start..], string_keys)]).unwrap();
        collect(out, &mut s);
        let out = s.flush().unwrap();
        collect(out, &mut s);
        Run { snapshot: first_snapshot, sessions, ids, late, stats: s.stats().clone() }
    }

    fn stream() -> impl Strategy<Value = Vec<(i64, Option<i64>)>> {
        // Times roughly increasing (a random walk with steps up to 2 gaps) then shuffled locally.
        // Users are a few small integers, now and then a far one or none (null): integer keys
        // start dense and may move to the hash table at any point.
        let user = prop_oneof![60 => -3i64..6, 1 => Just(1i64 << 40), 1 => Just(-(1i64 << 40))];
        prop::collection::vec((0i64..2 * GAP + 1, prop::option::weighted(0.97, user), 0i64..60), 0..300).prop_map(|steps| {
            let mut t = 1_000;
            let mut events: Vec<(i64, i64, Option<i64>)> = steps
                .into_iter()
                .map(|(step, user, delay)| {
                    t += step / 4;
                    (t + delay, t, user)
                })
                .collect();
            events.sort_by_key(|e| e.0); // arrival order: event time plus a random delay
            events.into_iter().map(|(_, t, u)| (t, u)).collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn integer_keys_and_threads_give_the_same_sessions_as_byte_keys(
            events in stream(),
            cuts in prop::collection::vec(1usize..80, 0..8),
            snapshot_at in prop::collection::vec(any::<bool>(), 8),
            lateness in prop::sample::select(vec![0i64, 10, GAP]),
        ) {
            let bytes = run(&events, &cuts, &[], true, 1, lateness);
            let ints = run(&events, &cuts, &[], false, 1, lateness);
            let ints_threads = run(&events, &cuts, &snapshot_at, false, 2, lateness);
            let bytes_threads = run(&events, &cuts, &snapshot_at, true, 3, lateness);
            // Output is sorted by (end, key, start): numbers and their strings sort differently.
            let sorted = |rows: &[Row]| { let mut rows = rows.to_vec(); rows.sort(); rows };
            prop_assert_eq!(sorted(&ints.sessions), sorted(&bytes.sessions));
            prop_assert_eq!(&ints.late, &bytes.late);
            prop_assert_eq!(&ints_threads.sessions, &ints.sessions);
            prop_assert_eq!(&ints_threads.ids, &ints.ids);
            prop_assert_eq!(&ints_threads.late, &ints.late);
            prop_assert_eq!(&bytes_threads.sessions, &bytes.sessions);
            prop_assert_eq!(&bytes_threads.ids, &bytes.ids);
            prop_assert_eq!(&ints_threads.stats, &ints.stats);
            prop_assert_eq!(ints.stats.rows_in, events.len() as u64);
            prop_assert_eq!(ints.sessions.iter().map(|r| r.3).sum::<i64>() + ints.late.len() as i64, events.len() as i64);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        /// Rows with a null or negative time are rejected and change nothing else: sessions, ids,
        /// late events and the watermark are those of the stream without them, for integer and
        /// byte keys on any number of threads (each shard routes its own rows past the rejects).
        #[test]
        fn rejected_rows_change_nothing_but_the_reject_count(
            events in stream(),
            bad in prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(-5_000i64..0), prop::option::weighted(0.9, -3i64..6)), 1..20),
            cuts in prop::collection::vec(1usize..80, 0..6),
            string_keys in any::<bool>(),
            threads in 1usize..4,
            lateness in prop::sample::select(vec![0i64, 10, GAP]),
        ) {
            let mut with_bad = events.clone();
            for (at, time, user) in &bad {
                with_bad.insert(at.index(with_bad.len() + 1), (time.unwrap_or(i64::MIN), *user));
            }
            let clean = run(&events, &cuts, &[], string_keys, 1, lateness);
            let dirty = run(&with_bad, &cuts, &[], string_keys, threads, lateness);
            let sorted = |rows: &[Row]| { let mut rows = rows.to_vec(); rows.sort(); rows };
            let sorted_ids = |ids: &[i64]| { let mut ids = ids.to_vec(); ids.sort(); ids };
            prop_assert_eq!(sorted(&dirty.sessions), sorted(&clean.sessions));
            prop_assert_eq!(sorted_ids(&dirty.ids), sorted_ids(&clean.ids));
            prop_assert_eq!(&dirty.late, &clean.late);
            prop_assert_eq!(dirty.stats.rows_rejected, bad.len() as u64);
            prop_assert_eq!(dirty.stats.rows_in, clean.stats.rows_in + bad.len() as u64);
            prop_assert_eq!(dirty.stats.rows_late, clean.stats.rows_late);
            prop_assert_eq!(dirty.stats.sessions_emitted, clean.stats.sessions_emitted);
            prop_assert_eq!(dirty.stats.sessions_merged, clean.stats.sessions_merged);
        }
    }

    #[test]
    fn large_pushes_on_several_threads_match_one_thread() {
        // Pushes above the per-thread minimum run shards on scoped threads.
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        let mut clock = vec![0i64; 500];
        let mut events: Vec<(i64, i64, Option<i64>)> = (0..60_000)
            .map(|_| {
                let user = next() % 500;
                clock[user as usize] += [1, 10, GAP, GAP + 1, 3 * GAP][(next() % 5) as usize];
                let t = clock[user as usize];
                (t + next() % 50, t, Some(user))
            })
            .collect();
        events.sort_by_key(|e| e.0);
        let mut events: Vec<(i64, Option<i64>)> = events.into_iter().map(|(_, t, u)| (t, u)).collect();
        // A few rejected rows, so the accepted rows of a push are a subset split across threads.
        for at in (0..events.len()).step_by(997).rev() {
            events.insert(at, (-1, Some(3)));
        }
        let cuts = [25_000, 25_000];
        let one = run(&events, &cuts, &[], false, 1, 0);
        for threads in [2, 4] {
            let many = run(&events, &cuts, &[true], false, threads, 0);
            assert_eq!(many.snapshot, one.snapshot, "the same state gives the same snapshot bytes");
            assert_eq!(many.sessions, one.sessions);
            assert_eq!(many.ids, one.ids);
            assert_eq!(many.late, one.late);
        }
        assert!(!one.late.is_empty() && one.sessions.len() > 1000);
        assert_eq!(one.stats.rows_rejected, 61);
    }

    #[test]
    fn integer_key_session_ids_are_those_of_the_row_encoded_key() {
        let events: Vec<(i64, Option<i64>)> = vec![(0, Some(7)), (5, None), (10, Some(-3))];
        let ints = run(&events, &[], &[], false, 1, 0);
        let mut encoder = KeyEncoder::new(vec!["user".into()]);
        let rows = encoder.encode(&events_batch(&events, false)).unwrap().unwrap();
        let mut expected: Vec<i64> = (0..3).map(|i| session_id(rows.row(i).data(), events[i].0)).collect();
        let mut got = ints.ids.clone();
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
    }
}

#[test]
fn sorting_by_end_matches_a_plain_sort() {
    // Ends close together (ties on end and key), a push's spread (several ms per bucket) and
    // far apart, up to the whole range of i64 (one bucket per item or fewer).
    for spread in [50i64, 180_000, 1 << 40, i64::MAX] {
        let mut order: Vec<(Millis, Option<i64>, Millis, u32)> =
            (0..400u32).map(|i| (((i as i64 * 7919) % 97 - 48) * (spread / 97), [None, Some(3), Some(-1)][i as usize % 3], -(i as i64 % 5), i)).collect();
        let mut expected = order.clone();
        expected.sort();
        super::sort_by_end(&mut order);
        assert_eq!(order, expected);
    }
}
