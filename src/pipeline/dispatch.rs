//! The dispatch operator: JSON orders (new, cancel, hold) and vehicle events from Kafka partitions,
//! applied to a `routing::dispatch::Dispatcher` in event-time order; route changes and order fates
//! out as JSON messages; unusable input as dead letters with the reason.
//!
//! Order of application. Messages from every input partition are merged by event time (`ts`; ties
//! by topic, orders first, then partition and offset), and a message is applied only once no
//! partition can still deliver an earlier one: each other partition has a later message waiting,
//! has seen a later time, or is caught up. The applied sequence is therefore a function of the logs
//! alone, not of how fetches interleave, so a replay after a crash makes the same decisions. Within a
//! partition, order is kept (a time earlier than its predecessor's counts as its predecessor's).
//!
//! Re-planning runs on the event clock: at every multiple of `improve_every` the stream passes,
//! under an iteration budget (deterministic) and an optional time limit (not deterministic).
//!
//! The checkpoint holds the dispatcher with, per partition, the next offset not yet applied
//! (messages fetched but waiting for the merge are read again after a restore).

use crate::error::{Error, Result};
use crate::routing::dispatch::input::{check_fields, JsonRow, ORDER_FIELDS, EVENT_FIELDS};
use crate::routing::dispatch::Dispatcher;
use crate::routing::stop::StopCriteria;
use arrow_array::builder::{BinaryBuilder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DispatchSpec {
    pub orders_topic: String,
    pub vehicle_topic: String,
    /// Event-time interval between re-plans (model units); 0: never.
    pub improve_every: i64,
    pub improve_iterations: u64,
    pub improve_time_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatchCounts {
    pub messages: u64,
    pub orders: u64,
    pub cancels: u64,
    pub holds: u64,
    pub events: u64,
    pub dead_letters: u64,
    pub ticks: u64,
    pub routes_out: u64,
    pub fates_out: u64,
    /// Messages whose time was earlier than the dispatcher's clock when applied.
    pub late: u64,
}

/// What one push produced: messages for the plans topic (key, value) and dead letters (topic,
/// partition, offset, reason, payload).
pub struct DispatchStep {
    pub messages: RecordBatch,
    pub dead_letters: RecordBatch,
}

type Partition = (String, i32);
/// A fetched message: topic, partition, offset, payload.
pub type Message = (String, i32, i64, Vec<u8>);

#[derive(Clone, Debug)]
struct Pending {
    /// Merge time: its own, or its predecessor's if earlier (None: unreadable, at its predecessor's).
    key: i64,
    offset: i64,
    payload: Vec<u8>,
}

pub struct DispatchOperator {
    spec: DispatchSpec,
    dispatcher: Dispatcher,
    next_tick: Option<i64>,
    /// Per partition: the next offset not yet applied.
    applied: BTreeMap<Partition, i64>,
    pending: BTreeMap<Partition, VecDeque<Pending>>,
    /// Per partition: the latest merge time seen (applied or waiting), and the last applied one.
    seen: BTreeMap<Partition, i64>,
    applied_key: BTreeMap<Partition, i64>,
    counts: DispatchCounts,
    out_keys: Vec<String>,
    out_values: Vec<String>,
    dead: Vec<(Partition, i64, String, Vec<u8>)>,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    spec: DispatchSpec,
    dispatcher: Vec<u8>,
    applied: Vec<(Partition, i64)>,
    seen: Vec<(Partition, i64)>,
    next_tick: Option<i64>,
    counts: DispatchCounts,
}

const TAG: &[u8; 4] = b"FSDO";

/// The event time of a message, read without applying it.
fn event_time(dispatcher: &Dispatcher, payload: &[u8]) -> Option<i64> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let ts = JsonRow(value.as_object()?);
    dispatcher.settings().units.time(crate::routing::dispatch::input::Row::get(&ts, "ts").ok()?, "ts").ok()?
}

impl DispatchOperator {
    pub fn new(spec: DispatchSpec, dispatcher: Dispatcher) -> Result<Self> {
        if spec.improve_every < 0 {
            return Err(Error::config("improve_every must be >= 0"));
        }
        if spec.orders_topic == spec.vehicle_topic {
            return Err(Error::config("orders and vehicle events need topics of their own"));
        }
        Ok(DispatchOperator {
            spec,
            dispatcher,
            next_tick: None,
            applied: BTreeMap::new(),
            pending: BTreeMap::new(),
            seen: BTreeMap::new(),
            applied_key: BTreeMap::new(),
            counts: DispatchCounts::default(),
            out_keys: vec![],
            out_values: vec![],
            dead: vec![],
        })
    }

    pub fn checkpoint(&self) -> Vec<u8> {
        let state = Checkpoint {
            spec: self.spec.clone(),
            dispatcher: self.dispatcher.snapshot(),
            applied: self.applied.iter().map(|(p, o)| (p.clone(), *o)).collect(),
            // waiting messages are read again after a restore: what counts is what was applied
            seen: self.applied_key.iter().map(|(p, t)| (p.clone(), *t)).collect(),
            next_tick: self.next_tick,
            counts: self.counts.clone(),
        };
        let mut out = TAG.to_vec();
        out.extend(postcard::to_stdvec(&state).expect("the state serialises"));
        out
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 4 || &bytes[..4] != TAG {
            return Err(Error::snapshot("not a dispatch pipeline checkpoint"));
        }
        let state: Checkpoint = postcard::from_bytes(&bytes[4..]).map_err(|e| Error::snapshot(format!("corrupt dispatch checkpoint: {e}")))?;
        let mut op = DispatchOperator::new(state.spec, Dispatcher::restore(&state.dispatcher)?)?;
        op.applied = state.applied.into_iter().collect();
        op.applied_key = state.seen.into_iter().collect();
        op.seen = op.applied_key.clone();
        op.next_tick = state.next_tick;
        op.counts = state.counts;
        Ok(op)
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }
    pub fn counts(&self) -> &DispatchCounts {
        &self.counts
    }
    /// Per partition, the next offset to read after a restore.
    pub fn resume_offsets(&self) -> Vec<(String, i32, i64)> {
        self.applied.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect()
    }
    /// Messages fetched but not applied yet (waiting for the merge).
    pub fn waiting(&self) -> usize {
        self.pending.values().map(VecDeque::len).sum()
    }

    /// Takes fetched messages (in partition order) and applies every one the merge allows, given
    /// the `open` partitions (assigned and not caught up: they may still deliver); `flush` applies
    /// every waiting message.
    pub fn push(&mut self, messages: &[Message], open: &[(String, i32)], flush: bool) -> Result<DispatchStep> {
        for (topic, partition, offset, payload) in messages {
            if *topic != self.spec.orders_topic && *topic != self.spec.vehicle_topic {
                return Err(Error::config(format!("message from topic {topic:?}, which is neither the orders nor the vehicle topic")));
            }
            let p = (topic.clone(), *partition);
            let next = self.applied.get(&p).copied().unwrap_or(0);
            let queued_last = self.pending.get(&p).and_then(|q| q.back()).map(|m| m.offset);
            if *offset < next || queued_last.is_some_and(|o| *offset <= o) {
                continue; // already applied or waiting (a re-read after a seek)
            }
            self.applied.entry(p.clone()).or_insert(*offset);
            let before = self.seen.get(&p).copied();
            let key = event_time(&self.dispatcher, payload).unwrap_or(i64::MIN).max(before.unwrap_or(i64::MIN));
            self.seen.insert(p.clone(), key);
            self.pending.entry(p).or_default().push_back(Pending { key, offset: *offset, payload: payload.clone() });
        }
        let open: BTreeSet<Partition> = open.iter().cloned().collect();
        while let Some(p) = self.next_ready(&open, flush) {
            let m = self.pending.get_mut(&p).and_then(VecDeque::pop_front).expect("a waiting message");
            self.apply(&p, &m);
            self.applied.insert(p.clone(), m.offset + 1);
            self.applied_key.insert(p, m.key);
        }
        self.step()
    }

    /// The partition whose waiting head is next in event-time order, if no partition can still
    /// deliver something earlier.
    fn next_ready(&self, open: &BTreeSet<Partition>, flush: bool) -> Option<Partition> {
        let rank = |p: &Partition| (p.0 != self.spec.orders_topic) as u8;
        let (p, head) = self
            .pending
            .iter()
            .filter_map(|(p, q)| q.front().map(|m| (p, m)))
            .min_by_key(|(p, m)| (m.key, rank(p), p.1, m.offset))?;
        if flush {
            return Some(p.clone());
        }
        for q in open {
            if q == p || self.pending.get(q).is_some_and(|w| !w.is_empty()) {
                continue;
            }
            if self.seen.get(q).is_none_or(|&seen| seen <= head.key) {
                return None; // q may still send something at or before this time
            }
        }
        Some(p.clone())
    }

    fn dead_letter(&mut self, p: &Partition, offset: i64, reason: String, payload: &[u8]) {
        self.counts.dead_letters += 1;
        self.dead.push((p.clone(), offset, reason, payload.to_vec()));
    }

    fn apply(&mut self, p: &Partition, m: &Pending) {
        self.counts.messages += 1;
        let value: Value = match serde_json::from_slice(&m.payload) {
            Ok(v) => v,
            Err(e) => return self.dead_letter(p, m.offset, format!("not JSON: {e}"), &m.payload),
        };
        let Some(object) = value.as_object() else {
            return self.dead_letter(p, m.offset, "not a JSON object".into(), &m.payload);
        };
        let units = self.dispatcher.settings().units.clone();
        let ts = match units.time(crate::routing::dispatch::input::Row::get(&JsonRow(object), "ts").unwrap_or(crate::routing::dispatch::input::Value::Null), "ts") {
            Ok(Some(ts)) => ts,
            Ok(None) => return self.dead_letter(p, m.offset, "ts is missing".into(), &m.payload),
            Err(e) => return self.dead_letter(p, m.offset, e, &m.payload),
        };
        self.tick(ts);
        if ts < self.dispatcher.now() {
            self.counts.late += 1;
        }
        let result = if p.0 == self.spec.orders_topic { self.apply_order(object, ts) } else { self.apply_event(object, ts) };
        if let Err(reason) = result {
            self.dead_letter(p, m.offset, reason, &m.payload);
        }
        self.collect();
    }

    fn apply_order(&mut self, object: &Map<String, Value>, ts: i64) -> std::result::Result<(), String> {
        let units = self.dispatcher.settings().units.clone();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("new");
        let id = || object.get("order_id").and_then(Value::as_str).map(str::to_string).ok_or("order_id is missing or not text");
        let refused = |outcome: &crate::routing::dispatch::Outcome| {
            if outcome.status == "rejected" {
                Err(outcome.reason.clone().unwrap_or_default())
            } else {
                Ok(())
            }
        };
        match kind {
            "new" => {
                let mut fields = ORDER_FIELDS.to_vec();
                fields.extend(["kind", "ts"]);
                check_fields(object, &fields)?;
                self.counts.orders += 1;
                let row = units.order(&JsonRow(object));
                let out = self.dispatcher.add_rows(vec![row], ts);
                refused(&out[0])
            }
            "cancel" => {
                check_fields(object, &["kind", "ts", "order_id"])?;
                self.counts.cancels += 1;
                let out = self.dispatcher.cancel(&[id()?], ts);
                refused(&out[0])
            }
            "hold" => {
                check_fields(object, &["kind", "ts", "order_id", "until"])?;
                self.counts.holds += 1;
                let until = units.time(crate::routing::dispatch::input::Row::get(&JsonRow(object), "until")?, "until")?.ok_or("until is missing")?;
                let out = self.dispatcher.hold(&[id()?], until, ts);
                refused(&out[0])
            }
            other => Err(format!("kind {other:?} is not one of new, cancel, hold")),
        }
    }

    fn apply_event(&mut self, object: &Map<String, Value>, ts: i64) -> std::result::Result<(), String> {
        check_fields(object, EVENT_FIELDS)?;
        self.counts.events += 1;
        let event = self.dispatcher.settings().units.event(&JsonRow(object));
        let report = self.dispatcher.event_rows(vec![event], ts);
        match report.rejected.into_iter().next() {
            Some((_, why)) => Err(why),
            None => Ok(()),
        }
    }

    /// Re-plans at the last tick at or before `ts` not yet run.
    fn tick(&mut self, ts: i64) {
        let every = self.spec.improve_every;
        if every <= 0 {
            return;
        }
        let next = *self.next_tick.get_or_insert((ts.div_euclid(every) + 1) * every);
        if ts < next {
            return;
        }
        let last = ts.div_euclid(every) * every;
        let stop = StopCriteria {
            max_iterations: Some(self.spec.improve_iterations),
            max_runtime: self.spec.improve_time_ms.map(Duration::from_millis),
            no_improvement: None,
        };
        self.dispatcher.improve(&stop, last.max(self.dispatcher.now()));
        self.counts.ticks += 1;
        self.next_tick = Some(last + every);
        self.collect();
    }

    /// Route changes and fates since the last call, as output messages.
    fn collect(&mut self) {
        let at = self.dispatcher.now();
        for change in self.dispatcher.take_changes() {
            let stops: Vec<Value> = change
                .stops
                .iter()
                .map(|s| json!({"order_id": s.order_id, "eta": s.eta, "start": s.start, "departure": s.departure, "load": s.load, "frozen": s.frozen, "late": s.late}))
                .collect();
            let message = json!({"type": "route", "vehicle": change.vehicle, "version": change.version, "status": change.status,
                                 "departure": change.departure, "end": change.end, "at": at, "stops": stops});
            self.out_keys.push(change.vehicle);
            self.out_values.push(message.to_string());
            self.counts.routes_out += 1;
        }
        for fate in self.dispatcher.take_fates() {
            let message = json!({"type": "order", "order_id": fate.order_id, "status": fate.status, "vehicle": fate.vehicle, "at": fate.at, "reason": fate.reason});
            self.out_keys.push(fate.order_id);
            self.out_values.push(message.to_string());
            self.counts.fates_out += 1;
        }
    }

    fn step(&mut self) -> Result<DispatchStep> {
        let mut keys = StringBuilder::new();
        let mut values = StringBuilder::new();
        for (k, v) in self.out_keys.drain(..).zip(self.out_values.drain(..)) {
            keys.append_value(k);
            values.append_value(v);
        }
        let messages = RecordBatch::try_from_iter(vec![("key", Arc::new(keys.finish()) as ArrayRef), ("value", Arc::new(values.finish()) as ArrayRef)])?;
        let (mut topic, mut partition, mut offset, mut reason, mut payload) =
            (StringBuilder::new(), Int32Builder::new(), Int64Builder::new(), StringBuilder::new(), BinaryBuilder::new());
        for ((t, p), o, r, bytes) in self.dead.drain(..) {
            topic.append_value(t);
            partition.append_value(p);
            offset.append_value(o);
            reason.append_value(r);
            payload.append_value(bytes);
        }
        let dead_letters = RecordBatch::try_from_iter(vec![
            ("topic", Arc::new(topic.finish()) as ArrayRef),
            ("partition", Arc::new(partition.finish()) as ArrayRef),
            ("offset", Arc::new(offset.finish()) as ArrayRef),
            ("reason", Arc::new(reason.finish()) as ArrayRef),
            ("payload", Arc::new(payload.finish()) as ArrayRef),
        ])?;
        Ok(DispatchStep { messages, dead_letters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::dispatch::input::Units;
    use crate::routing::dispatch::{Fleet, Geometry, Place, Settings, Van};
    use crate::routing::problem::{Depot, VehicleType};
    use arrow_array::cast::AsArray;

    fn operator() -> DispatchOperator {
        let mut vt = VehicleType::new(1, vec![10]);
        vt.tw_late = 10_000;
        let fleet = Fleet::new(
            vec![Depot::at(0.0, 0.0)],
            vec![Place::Point(0.0, 0.0)],
            vec![vt],
            vec![Van { id: "a".into(), vehicle_type: 0 }, Van { id: "b".into(), vehicle_type: 0 }],
            vec![],
        )
        .unwrap();
        let units = Units { clock: false, origin_ms: None, cost_scale: 1.0, skills: vec![] };
        let settings = Settings { freeze: 5, stability: 10, seed: 3, threads: 1, eta_tolerance: 1, replan_iterations: 20, buffer: 0, units };
        let d = Dispatcher::new(fleet, Geometry::Planar { speeds: vec![None] }, settings).unwrap();
        let spec = DispatchSpec { orders_topic: "orders".into(), vehicle_topic: "vans".into(), improve_every: 20, improve_iterations: 30, improve_time_ms: None };
        DispatchOperator::new(spec, d).unwrap()
    }

    /// A day's input: (topic, offset, payload), each topic in its own order.
    fn day() -> Vec<Message> {
        let orders: Vec<String> = (0..12)
            .map(|i| format!(r#"{{"ts": {}, "order_id": "o{i}", "x": {}, "y": {}, "demand": 1}}"#, i * 7, (i * 37) % 50 - 25, (i * 17) % 40 - 20))
            .chain([
                r#"{"ts": 90, "kind": "cancel", "order_id": "o3"}"#.to_string(),
                r#"{"ts": 91, "order_id": "bad", "x": 1}"#.to_string(),
                "not json".to_string(),
                r#"{"ts": 93, "order_id": "o99", "x": 1, "y": 2, "colour": "red"}"#.to_string(),
            ])
            .collect();
        let events = [
            r#"{"ts": 30, "vehicle_id": "a", "kind": "departed"}"#,
            r#"{"ts": 50, "vehicle_id": "a", "kind": "position", "x": 3, "y": 4}"#,
            r#"{"ts": 60, "vehicle_id": "ghost", "kind": "departed"}"#,
            r#"{"ts": 95, "vehicle_id": "b", "kind": "departed"}"#,
        ];
        let mut out: Vec<_> = orders.into_iter().enumerate().map(|(i, p)| ("orders".to_string(), 0, i as i64, p.into_bytes())).collect();
        out.extend(events.iter().enumerate().map(|(i, p)| ("vans".to_string(), 0, i as i64, p.as_bytes().to_vec())));
        out
    }

    fn run(op: &mut DispatchOperator, batches: &[Vec<Message>], open: &[(String, i32)]) -> (Vec<String>, Vec<String>) {
        let (mut messages, mut dead) = (vec![], vec![]);
        for (k, batch) in batches.iter().enumerate() {
            let flush = k + 1 == batches.len();
            let step = op.push(batch, open, flush).unwrap();
            messages.extend(step.messages.column(1).as_string::<i32>().iter().map(|v| v.unwrap().to_string()));
            dead.extend(step.dead_letters.column(3).as_string::<i32>().iter().map(|v| v.unwrap().to_string()));
        }
        (messages, dead)
    }

    fn both_open() -> Vec<(String, i32)> {
        vec![("orders".into(), 0), ("vans".into(), 0)]
    }

    #[test]
    fn the_applied_order_does_not_depend_on_how_fetches_interleave() {
        let all = day();
        let (orders, vans): (Vec<_>, Vec<_>) = all.iter().cloned().partition(|m| m.0 == "orders");
        // one fetch with everything; orders first then vans in small pieces; vans first
        let a = run(&mut operator(), &[all.clone(), vec![]], &both_open());
        let mut pieces: Vec<Vec<_>> = orders.chunks(3).map(<[_]>::to_vec).collect();
        pieces.extend(vans.chunks(1).map(<[_]>::to_vec));
        pieces.push(vec![]);
        let b = run(&mut operator(), &pieces, &both_open());
        let c = run(&mut operator(), &[vans.clone(), orders.clone(), vec![]], &both_open());
        assert_eq!(a, b);
        assert_eq!(a, c);
        let (messages, dead) = a;
        assert!(messages.iter().any(|m| m.contains(r#""type":"route""#)) && messages.iter().any(|m| m.contains(r#""status":"cancelled""#)));
        assert_eq!(dead.len(), 4, "{dead:?}");
        assert!(dead.iter().any(|d| d.contains("unknown vehicle")) && dead.iter().any(|d| d.contains("not JSON")));
        assert!(dead.iter().any(|d| d.contains("unknown field \"colour\"")) && dead.iter().any(|d| d.contains("give both x and y")));
    }

    #[test]
    fn a_restored_checkpoint_reads_the_rest_and_ends_where_an_uninterrupted_run_does() {
        let all = day();
        let (reference, _) = run(&mut operator(), &[all.clone(), vec![]], &both_open());
        let ts = |m: &Message| {
            let v: Value = serde_json::from_slice(&m.3).unwrap_or(Value::Null);
            v.get("ts").and_then(Value::as_i64).unwrap_or(i64::MAX)
        };
        for cut in [20, 45, 70, 92] {
            // fetched so far: each partition up to the cut (partition order kept)
            let fetched: Vec<_> = all.iter().filter(|m| ts(m) < cut).cloned().collect();
            let mut first = operator();
            let step = first.push(&fetched, &both_open(), false).unwrap();
            let mut out: Vec<String> = step.messages.column(1).as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect();
            if cut == 20 {
                // nothing from the vans yet: they may still send something earlier, so all waits
                assert_eq!((first.counts().messages, first.waiting()), (0, 3));
            } else {
                assert!(first.counts().messages > 0 && first.waiting() > 0, "cut {cut}: the merge applies some and waits on others");
            }
            // a crash: restore, and read every partition again from its resume offset
            let mut restored = DispatchOperator::restore(&first.checkpoint()).unwrap();
            let resume: BTreeMap<(String, i32), i64> = restored.resume_offsets().into_iter().map(|(t, p, o)| ((t, p), o)).collect();
            let rest: Vec<_> = all.iter().filter(|m| m.2 >= *resume.get(&(m.0.clone(), m.1)).unwrap_or(&0)).cloned().collect();
            let (tail, _) = run(&mut restored, &[rest, vec![]], &both_open());
            out.extend(tail);
            assert_eq!(out, reference, "cut {cut}");
        }
    }
}
