//! The two stages, by hand-computed cases and against a reference: one window aggregator and one
//! detector over all lines at once (what a single-partition topic would give).

use super::*;
use crate::stream::WindowAggregator;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, BinaryArray, Int64Array, RecordBatch, StringArray};
use proptest::prelude::*;

const MINUTE: i64 = 60_000;
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn spec() -> AlertsSpec {
    AlertsSpec { log_format: LineFormat::Auto, window: MINUTE, watermark: 5_000, history: 2, factor: 3.0, floor: 4.0 }
}

fn line(ms: i64, service: &str, level: &str) -> String {
    let t = chrono::DateTime::from_timestamp_millis(T0 + ms).unwrap();
    format!("{},{:03} - {service} - {level} - x", t.format("%Y-%m-%d %H:%M:%S"), ms.rem_euclid(1000))
}

fn partial(source: i32, seq: u64, service: &str, minute: i64, errors: i64) -> Message {
    Message::Partial { source, seq, service: Some(service.into()), window_start: T0 + minute * MINUTE, window_end: T0 + (minute + 1) * MINUTE, errors }
}

fn marker(source: i32, partitions: i32, watermark: Option<i64>, idle: bool, end: bool) -> Message {
    Message::Watermark { source, partitions, watermark: watermark.map(|w| T0 + w), idle, end }
}

/// Push messages to stage 2 at offsets from `first`.
fn push(merge: &mut MergeAlerts, messages: &[Message], first: i64) -> MergeStep {
    let values: BinaryArray = messages.iter().map(|m| Some(m.encode())).collect();
    let offsets = Int64Array::from_iter_values(first..first + messages.len() as i64);
    merge.push(&values, &offsets, first + messages.len() as i64).unwrap()
}

/// (service, minute, errors) of a windows batch.
fn windows(batch: &RecordBatch) -> Vec<(String, i64, i64)> {
    let services = batch.column_by_name("service").unwrap().as_string::<i32>();
    let starts = batch.column_by_name("window_start").unwrap().as_primitive::<TimestampMillisecondType>();
    let errors = batch.column_by_name("errors").unwrap().as_primitive::<Int64Type>();
    (0..batch.num_rows()).map(|i| (services.value(i).to_owned(), (starts.value(i) - T0) / MINUTE, errors.value(i))).collect()
}

#[test]
fn stage_two_adds_partials_and_closes_at_the_smallest_watermark() {
    let mut merge = MergeAlerts::new(&spec()).unwrap();
    let step = push(&mut merge, &[partial(0, 0, "api", 0, 2), marker(0, 2, Some(70_000), false, false), partial(1, 0, "api", 0, 3)], 0);
    assert!(windows(&step.windows).is_empty(), "partition 1 has not reported");
    assert_eq!(merge.waiting_for(), vec![1]);
    let step = push(&mut merge, &[partial(1, 1, "db", 0, 1), marker(1, 2, Some(30_000), false, false)], 3);
    assert!(windows(&step.windows).is_empty(), "partition 1 is at 0:30");
    assert_eq!(merge.waiting_for(), vec![1]);
    let step = push(&mut merge, &[marker(1, 2, Some(61_000), false, false)], 5);
    assert_eq!(windows(&step.windows), vec![("api".into(), 0, 5), ("db".into(), 0, 1)]);
    assert_eq!(merge.closed_through(), Some(T0 + 61_000));
    assert_eq!((step.counts.partials, step.counts.markers, step.counts.duplicates), (0, 1, 0));
    assert!(!merge.complete());
}

#[test]
fn stage_two_drops_replayed_partials_by_sequence() {
    let mut merge = MergeAlerts::new(&spec()).unwrap();
    let first = [partial(0, 0, "api", 0, 2), partial(0, 1, "api", 1, 4), marker(0, 1, Some(50_000), false, false)];
    push(&mut merge, &first, 0);
    // Stage 1 crashed after sending and replays from its checkpoint (sequence 0), then goes on.
    let replay = [partial(0, 0, "api", 0, 2), partial(0, 1, "api", 1, 4), partial(0, 2, "api", 2, 1), marker(0, 1, Some(200_000), false, false)];
    let step = push(&mut merge, &replay, 3);
    assert_eq!(step.counts.duplicates, 2);
    assert_eq!(windows(&step.windows), vec![("api".into(), 0, 2), ("api".into(), 1, 4), ("api".into(), 2, 1)]);
}

#[test]
fn idle_partitions_are_left_out_and_late_contributions_are_counted() {
    let mut merge = MergeAlerts::new(&spec()).unwrap();
    // Partition 2 never had data; once idle it holds nothing back.
    push(&mut merge, &[marker(0, 3, Some(90_000), false, false), marker(1, 3, Some(95_000), false, false), marker(2, 3, None, false, false)], 0);
    assert_eq!(merge.closed_through(), None);
    assert_eq!(merge.waiting_for(), vec![2]);
    push(&mut merge, &[partial(0, 0, "api", 0, 7), marker(2, 3, None, true, false)], 3);
    assert_eq!(merge.closed_through(), Some(T0 + 90_000));
    // Partition 1 drains its open window and goes idle too; partition 0 moves on.
    let step = push(&mut merge, &[partial(1, 0, "api", 1, 2), marker(1, 3, Some(95_000), true, false), partial(0, 1, "api", 1, 1), marker(0, 3, Some(130_000), false, false)], 5);
    assert_eq!(windows(&step.windows), vec![("api".into(), 1, 3)]);
    // All idle: nothing moves (a partition may be quiet only for now).
    push(&mut merge, &[marker(0, 3, Some(130_000), true, false)], 9);
    assert_eq!(merge.closed_through(), Some(T0 + 130_000));
    // Partition 1 comes back with old data: its watermark is behind, closed windows stay closed,
    // and its count for minute 1 is a late contribution, reported, in no window.
    let step = push(&mut merge, &[marker(1, 3, Some(100_000), false, false), partial(1, 1, "api", 1, 5), partial(1, 2, "api", 2, 1)], 10);
    assert_eq!((step.counts.late_contributions, step.counts.late_errors), (1, 5));
    assert_eq!(step.late.num_rows(), 1);
    assert_eq!(step.late.column(0).as_primitive::<Int32Type>().value(0), 1);
    assert!(windows(&step.windows).is_empty());
    assert_eq!(merge.closed_through(), Some(T0 + 130_000));
    // End of input everywhere: the rest closes and the merge is complete.
    let step = push(&mut merge, &[marker(0, 3, None, false, true), marker(1, 3, None, false, true), marker(2, 3, None, false, true)], 13);
    assert_eq!(windows(&step.windows), vec![("api".into(), 2, 1)]);
    assert!(merge.complete());
}

#[test]
fn stage_two_rejects_what_is_not_a_repartition_message() {
    let mut merge = MergeAlerts::new(&spec()).unwrap();
    let values = BinaryArray::from_iter(vec![Some(&b"nonsense"[..]), None, Some(&partial(0, 0, "a", 0, 1).encode()[..])]);
    let step = merge.push(&values, &Int64Array::from(vec![7, 8, 9]), 10).unwrap();
    assert_eq!((step.counts.rejects, step.counts.partials, step.rejects.num_rows()), (2, 1, 2));
    assert_eq!(step.rejects.column(0).as_primitive::<Int64Type>().values().to_vec(), vec![7, 8]);
    assert_eq!(merge.next_offset(), Some(10));
}

fn step_values(step: &PartialsStep) -> Vec<Vec<u8>> {
    step.messages.column(2).as_binary::<i32>().iter().map(|v| v.unwrap().to_vec()).collect()
}

#[test]
fn stage_one_numbers_partials_and_marks_every_repartition_partition() {
    let mut stage = PartialCounts::new(&spec(), 1, 2, 3).unwrap();
    let lines = StringArray::from(vec![line(1_000, "api", "ERROR"), line(2_000, "db", "ERROR"), line(3_000, "api", "INFO"), "junk".into(), line(66_000, "api", "ERROR")]);
    let step = stage.push(&lines, &Int64Array::from_iter_values(10..15), 15).unwrap();
    assert_eq!((step.lines, step.errors, step.partials, step.rejects.num_rows()), (5, 3, 2, 1));
    let messages: Vec<Message> = step_values(&step).iter().map(|v| Message::decode(v).unwrap()).collect();
    assert_eq!(messages[..2], [partial(1, 0, "api", 0, 1), partial(1, 1, "db", 0, 1)]);
    assert_eq!(messages[2..], vec![marker(1, 2, Some(61_000), false, false); 3]);
    let routes = step.messages.column(1).as_primitive::<Int32Type>();
    assert_eq!(routes.iter().collect::<Vec<_>>(), vec![None, None, Some(0), Some(1), Some(2)]);
    let keys = step.messages.column(0).as_string::<i32>();
    assert_eq!((keys.value(0), keys.value(1), keys.is_null(2)), ("api", "db", true));
    // Nothing new for the marker: nothing sent.
    // (A late WARNING line is not a late error.)
    let step = stage.push(&StringArray::from(vec![line(3_000, "db", "WARNING")]), &Int64Array::from(vec![15]), 16).unwrap();
    assert_eq!((step.messages.num_rows(), step.late), (0, 0));
    // Lines of any level move event time; windows without errors send nothing.
    let step = stage.push(&StringArray::from(vec![line(70_000, "web", "INFO"), line(130_000, "web", "INFO")]), &Int64Array::from(vec![16, 17]), 18).unwrap();
    let messages: Vec<Message> = step_values(&step).iter().map(|v| Message::decode(v).unwrap()).collect();
    assert_eq!(messages[0], partial(1, 2, "api", 1, 1));
    assert_eq!(messages[1..], vec![marker(1, 2, Some(125_000), false, false); 3]);
}

#[test]
fn a_drain_written_ahead_is_replayed_identically_after_a_crash() {
    let mut stage = PartialCounts::new(&spec(), 0, 1, 2).unwrap();
    let lines = StringArray::from(vec![line(1_000, "api", "ERROR"), line(2_000, "db", "ERROR")]);
    stage.push(&lines, &Int64Array::from(vec![0, 1]), 2).unwrap();
    let ahead = stage.checkpoint(Some(Intent::Drain)).unwrap();
    let drained = stage.drain().unwrap();
    assert_eq!((drained.partials, stage.idle(), stage.open_windows()), (2, true, 0));
    // The process dies before the next checkpoint: the restored stage drains again, identically.
    let mut restored = PartialCounts::restore(&spec(), &ahead, 1, 2).unwrap();
    assert!(restored.push(&lines, &Int64Array::from(vec![0, 1]), 2).is_err(), "resume() first");
    let again = restored.resume().unwrap();
    assert_eq!(step_values(&again), step_values(&drained));
    // Late data for a drained window opens it afresh in stage 1 (not late there) with the next number.
    let step = restored.push(&StringArray::from(vec![line(4_000, "api", "ERROR"), line(70_000, "x", "INFO")]), &Int64Array::from(vec![2, 3]), 4).unwrap();
    assert_eq!(step.late, 0);
    assert_eq!(Message::decode(&step_values(&step)[0]).unwrap(), partial(0, 2, "api", 0, 1));
    // A checkpoint for another repartition layout or window is refused with the reason.
    let checkpoint = restored.checkpoint(None).unwrap();
    assert!(matches!(PartialCounts::restore(&spec(), &checkpoint, 1, 3), Err(Error::Config(m)) if m.contains("3 partitions")));
    let wider = AlertsSpec { window: 2 * MINUTE, ..spec() };
    assert!(PartialCounts::restore(&wider, &checkpoint, 1, 2).is_err());
    assert!(PartialCounts::restore(&spec(), b"nonsense", 1, 2).is_err());
    assert!(matches!(PartialCounts::restore(&spec(), b"FSAL\x01\x00...", 1, 2), Err(Error::Snapshot(m)) if m.contains("new --group")));
}

use crate::error::Error;

/// A log stream: (ms since T0, service index, is error), in arrival order with bounded disorder.
fn stream() -> impl Strategy<Value = Vec<(i64, usize, bool)>> {
    prop::collection::vec((0i64..3_000, 0usize..4, prop::bool::weighted(0.3)), 0..400).prop_map(|v| {
        let mut t = 0;
        v.into_iter()
            .map(|(jitter, s, e)| {
                t += 1_000;
                (t + jitter, s, e)
            })
            .collect()
    })
}

const SERVICES: [&str; 4] = ["api", "db", "web", "auth"];

/// The reference: one aggregator and one detector over the whole stream.
/// (service, minute, errors) of each window, (service, minute) of each alert.
type Answer = (Vec<(String, i64, i64)>, Vec<(String, i64)>);

fn reference(events: &[(i64, usize, bool)]) -> Answer {
    let mut agg = WindowAggregator::new(spec().aggregator_config()).unwrap();
    let mut detector = crate::stream::SpikeDetector::new(spec().spike_config()).unwrap();
    let lines = StringArray::from_iter_values(events.iter().map(|(t, s, e)| line(*t, SERVICES[*s], if *e { "ERROR" } else { "INFO" })));
    let errors = super::lines::LineParser::new(LineFormat::Auto).unwrap().parse(&lines, &(0..events.len() as i64).collect::<Vec<_>>()).unwrap();
    let mut closed = vec![agg.push(&errors.records).unwrap()];
    closed.push(agg.flush().unwrap());
    assert_eq!(agg.take_late().iter().map(RecordBatch::num_rows).sum::<usize>(), 0, "the generated disorder is within the watermark");
    // Windows of INFO lines only are not counts of errors.
    let closed: Vec<RecordBatch> = closed
        .iter()
        .map(|b| {
            let keep: arrow_array::BooleanArray = b.column_by_name("errors").unwrap().as_primitive::<Int64Type>().iter().map(|n| Some(n != Some(0))).collect();
            arrow_select::filter::filter_record_batch(b, &keep).unwrap()
        })
        .collect();
    let alerts = closed.iter().flat_map(|b| alert_keys(&detector.push(b).unwrap())).collect();
    (closed.iter().flat_map(windows).collect(), alerts)
}

/// (service, minute) of an alerts batch.
fn alert_keys(batch: &RecordBatch) -> Vec<(String, i64)> {
    let services = batch.column_by_name("service").unwrap().as_string::<i32>();
    let starts = batch.column_by_name("window_start").unwrap().as_primitive::<TimestampMillisecondType>();
    (0..batch.num_rows()).map(|i| (services.value(i).to_owned(), (starts.value(i) - T0) / MINUTE)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Lines spread over input partitions by any keying, partials routed by service, messages of
    /// different sources interleaved at random, crashes of either stage replayed from checkpoints:
    /// the windows and alerts are the reference's.
    #[test]
    fn two_stages_give_the_single_partition_answer(
        events in stream(),
        inputs in 1i32..4,
        outputs in 1i32..3,
        keying in prop::collection::vec(0i32..4, 400),
        cuts in prop::collection::vec(1usize..40, 1..20),
        schedule in prop::collection::vec(0usize..16, 0..600),
        crashes in prop::collection::vec(0usize..100, 0..6),
    ) {
        let (expected_windows, expected_alerts) = reference(&events);
        // Stage 1: each input partition's lines, cut into batches, with crashes and replays.
        let mut by_partition: Vec<Vec<String>> = vec![Vec::new(); inputs as usize];
        for (i, (t, s, e)) in events.iter().enumerate() {
            by_partition[(keying[i] % inputs) as usize].push(line(*t, SERVICES[*s], if *e { "ERROR" } else { "INFO" }));
        }
        // Per (source, repartition partition): the messages in the order the broker keeps them.
        let mut queues: Vec<Vec<Vec<Message>>> = vec![vec![Vec::new(); outputs as usize]; inputs as usize];
        for (p, lines) in by_partition.iter().enumerate() {
            let mut stage = PartialCounts::new(&spec(), p as i32, inputs, outputs).unwrap();
            let mut checkpoint = stage.checkpoint(None).unwrap();
            let mut at = 0usize;
            let mut k = 0usize;
            let route = |step: &PartialsStep, queues: &mut Vec<Vec<Vec<Message>>>| {
                let partitions = step.messages.column(1).as_primitive::<Int32Type>();
                for (i, value) in step_values(step).iter().enumerate() {
                    let message = Message::decode(value).unwrap();
                    let q = match (&message, partitions.is_valid(i)) {
                        (_, true) => partitions.value(i),
                        (Message::Partial { service, .. }, false) => service.as_ref().map_or(0, |s| s.bytes().map(i32::from).sum::<i32>() % outputs),
                        _ => unreachable!("markers name their partition"),
                    };
                    queues[p][q as usize].push(message);
                }
            };
            while at < lines.len() {
                let n = cuts[k % cuts.len()].min(lines.len() - at);
                let batch = StringArray::from_iter_values(&lines[at..at + n]);
                let step = stage.push(&batch, &Int64Array::from_iter_values(at as i64..(at + n) as i64), (at + n) as i64).unwrap();
                route(&step, &mut queues);
                at += n;
                k += 1;
                if crashes.contains(&k) {
                    // Killed: restore the last checkpoint and read again from its offset.
                    stage = PartialCounts::restore(&spec(), &checkpoint, inputs, outputs).unwrap();
                    route(&stage.resume().unwrap(), &mut queues);
                    at = stage.next_offset().unwrap_or(0) as usize;
                } else if k % 3 == 0 {
                    checkpoint = stage.checkpoint(None).unwrap();
                }
            }
            route(&stage.finish().unwrap(), &mut queues);
        }
        // Stage 2: each repartition partition reads its sources' queues interleaved by `schedule`.
        let mut got_windows = Vec::new();
        let mut got_alerts = std::collections::BTreeSet::new();
        for q in 0..outputs as usize {
            let mut log: Vec<Message> = Vec::new();
            let mut heads = vec![0usize; inputs as usize];
            let mut turn = 0;
            while (0..inputs as usize).any(|p| heads[p] < queues[p][q].len()) {
                let p = schedule.get(turn).copied().unwrap_or(turn) % inputs as usize;
                turn += 1;
                if heads[p] < queues[p][q].len() {
                    log.push(queues[p][q][heads[p]].clone());
                    heads[p] += 1;
                }
            }
            let mut merge = MergeAlerts::new(&spec()).unwrap();
            let mut checkpoint = merge.checkpoint().unwrap();
            let mut at = 0usize;
            let mut k = 0usize;
            let mut emitted: Vec<(String, i64, i64)> = Vec::new();
            while at < log.len() {
                let n = cuts[(k + q) % cuts.len()].min(log.len() - at);
                let step = push(&mut merge, &log[at..at + n], at as i64);
                emitted.extend(windows(&step.windows));
                got_alerts.extend(alert_keys(&step.alerts));
                prop_assert_eq!(step.counts.late_contributions, 0);
                at += n;
                k += 1;
                if crashes.contains(&(k + 50)) {
                    // Outputs after the checkpoint are emitted again: identical rows count once, as
                    // for a reader deduplicating them (a different replay would show as a wrong count).
                    merge = MergeAlerts::restore(&spec(), &checkpoint).unwrap();
                    at = merge.next_offset().unwrap_or(0) as usize;
                } else {
                    checkpoint = merge.checkpoint().unwrap();
                }
            }
            prop_assert!(merge.complete());
            let mut seen = std::collections::BTreeSet::new();
            got_windows.extend(emitted.into_iter().filter(|w| seen.insert(w.clone())));
        }
        got_windows.sort();
        let mut expected = expected_windows;
        expected.sort();
        prop_assert_eq!(got_windows, expected);
        prop_assert_eq!(got_alerts, expected_alerts.into_iter().collect());
    }
}
