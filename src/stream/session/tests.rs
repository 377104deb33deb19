use super::*;
use crate::stream::aggregate::AggKind;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMillisecondType};

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
fn events_behind_the_watermark_are_late_and_change_nothing_emitted() {
    let mut s = sessionizer(0, None);
    let out = run(&mut s, &[vec![(0, "a"), (31, "b")], vec![(20, "a")]]);
    assert_eq!(out.iter().filter(|r| r.0 == "a").map(|r| (r.1, r.2)).collect::<Vec<_>>(), vec![(0, 0)]);
    let late = s.take_late();
    assert_eq!(late[0].num_rows(), 1);
    assert!(late[0].column_by_name("reason").unwrap().as_string::<i32>().value(0).contains("watermark"));
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
