//! Hand-computed cases on a line (planar, times equal distances). Python's property tests check the
//! dispatcher against an independent simulation on random days.

use super::*;
use crate::routing::problem::{Depot, VehicleType};
use crate::routing::stop::StopCriteria;

fn settings(freeze: i64, stability: i64) -> Settings {
    Settings {
        freeze,
        stability,
        seed: 1,
        threads: 1,
        eta_tolerance: 1,
        replan_iterations: 50,
        buffer: 0,
        units: input::Units { clock: false, origin_ms: None, cost_scale: 1.0, skills: vec![] },
    }
}

/// A depot at 0 and `vans` vans of capacity 10, shift [0, 1000].
fn line(vans: usize, freeze: i64, stability: i64) -> Dispatcher {
    let mut vt = VehicleType::new(1, vec![10]);
    vt.tw_late = 1000;
    let fleet = Fleet::new(
        vec![Depot::at(0.0, 0.0)],
        vec![Place::Point(0.0, 0.0)],
        vec![vt],
        (0..vans).map(|v| Van { id: format!("van{v}"), vehicle_type: 0 }).collect(),
        vec![],
    )
    .unwrap();
    Dispatcher::new(fleet, Geometry::Planar { speeds: vec![None] }, settings(freeze, stability)).unwrap()
}

fn order(id: &str, x: f64, demand: i64, window: Option<(i64, i64)>) -> OrderSpec {
    OrderSpec { delivery: vec![demand], windows: window.into_iter().collect(), ..OrderSpec::at(id, Place::Point(x, 0.0)) }
}

fn routes(d: &Dispatcher) -> Vec<Vec<String>> {
    d.vans().iter().map(|v| v.route.iter().map(|&k| d.orders()[k as usize].spec.id.clone()).collect()).collect()
}

fn event(vehicle: &str, ts: i64, kind: EventKind, stop: Option<&str>, place: Option<Place>) -> VehicleEvent {
    VehicleEvent { vehicle: vehicle.into(), ts, kind, stop: stop.map(str::to_string), place, reason: None }
}

#[test]
fn orders_go_to_their_cheapest_feasible_place_or_wait_with_the_reason() {
    let mut d = line(2, 0, 0);
    let out = d.add_orders(vec![order("a", 10.0, 3, Some((0, 100))), order("b", 20.0, 3, None)], 0);
    assert_eq!(out.iter().map(|o| o.status.as_str()).collect::<Vec<_>>(), ["planned", "planned"]);
    // b after a on van0 adds 20 (0-10-20-0 is 40); alone on van1 it costs 40.
    assert_eq!(routes(&d), [vec!["a", "b"], vec![]]);
    let plan = d.plan();
    assert_eq!(plan.iter().map(|r| (r.eta, r.departure, r.load[0])).collect::<Vec<_>>(), [(10, 10, 3), (20, 20, 0)]);
    // c at -10 must be served by 5: no van gets there before 10.
    let out = d.add_orders(vec![order("c", -10.0, 1, Some((0, 5)))], 0);
    assert_eq!(out[0].status, "unassigned");
    let why = out[0].reason.as_deref().unwrap();
    assert!(why.contains("cannot reach it before its window closes at 5 (earliest arrival 10)"), "{why}");
    // Too heavy for any van, and a duplicate id: each gets its reason.
    let out = d.add_orders(vec![order("d", 5.0, 11, None), order("a", 1.0, 1, None)], 0);
    assert!(out[0].reason.as_deref().unwrap().contains("exceeds the capacity of 2 vans"), "{out:?}");
    assert_eq!((out[1].status.as_str(), out[1].reason.as_deref()), ("rejected", Some("order \"a\" already exists (planned)")));
    d.check_invariants().unwrap();
}

#[test]
fn vans_leaving_within_the_freeze_horizon_keep_their_load() {
    let mut d = line(2, 15, 0);
    d.add_orders(vec![order("a", 10.0, 3, None)], 0); // van0 leaves at 0: within 15, so it is loading
    assert!(d.vans()[0].committed && d.vans()[0].frozen == 1);
    let out = d.add_orders(vec![order("b", 11.0, 3, Some((100, 200)))], 1);
    assert_eq!(out[0].vehicle.as_deref(), Some("van1"), "van0's load is fixed");
    assert!(!d.vans()[1].committed, "van1 leaves at 89, after the horizon");
    let out = d.add_orders(vec![order("c", 12.0, 3, None)], 80);
    assert_eq!(out[0].vehicle, None, "both vans are loaded by now: {out:?}");
    assert!(out[0].reason.as_deref().unwrap().contains("2 vans have left the depot or are being loaded"), "{out:?}");
    // A pickup needs no goods from the depot: a loaded van may take it after its frozen stops.
    let pickup = OrderSpec { pickup: vec![2], ..OrderSpec::at("p", Place::Point(12.0, 0.0)) };
    let out = d.add_orders(vec![pickup], 80);
    assert_eq!(out[0].status, "planned");
    d.check_invariants().unwrap();
}

#[test]
fn vehicle_reports_move_etas_flag_late_stops_and_close_orders() {
    let mut d = line(1, 0, 0);
    // a's window forces it first (b first would reach a at 30).
    d.add_orders(vec![order("a", 10.0, 3, Some((0, 12))), order("b", 20.0, 3, Some((0, 30)))], 0);
    assert_eq!(routes(&d), [vec!["a", "b"]]);
    let r = d.vehicle_events(vec![event("van0", 0, EventKind::Departed, None, None)], 0);
    assert_eq!((r.applied, r.late.len()), (1, 0));
    // At 20 the van is overdue at a (due at 10): a is late already. Stuck at 5 at time 20, it
    // reaches a at 25 and b at 35 > 30: b is newly late.
    let r = d.vehicle_events(vec![event("van0", 20, EventKind::Position, None, Some(Place::Point(5.0, 0.0)))], 20);
    assert_eq!(r.late, vec!["b".to_string()]);
    assert!(r.replanned);
    let plan = d.plan();
    assert_eq!(plan.iter().map(|p| (p.order_id.as_str(), p.eta, p.late)).collect::<Vec<_>>(), [("a", 25, true), ("b", 35, true)]);
    // Re-planning cannot help (a's goods are on board): the plan is kept, b stays flagged.
    let r = d.vehicle_events(
        vec![
            event("van0", 26, EventKind::Served, Some("a"), None),
            event("van0", 27, EventKind::Served, Some("a"), None),
            event("ghost", 27, EventKind::Departed, None, None),
        ],
        27,
    );
    assert_eq!(r.applied, 1);
    assert_eq!(r.rejected.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
    assert!(r.rejected[0].1.contains("already served") && r.rejected[1].1.contains("unknown vehicle"));
    assert_eq!(d.orders()[0].state, OrderState::Served { van: 0, at: 26 });
    assert_eq!(d.plan()[0].eta, 26 + 10);
    let fates: Vec<(String, String)> = d.take_fates().into_iter().map(|f| (f.order_id, f.status)).collect();
    assert_eq!(fates, [("a".into(), "planned".into()), ("b".into(), "planned".into()), ("a".into(), "served".into())]);
    d.check_invariants().unwrap();
}

#[test]
fn improve_fixes_a_poor_insertion_order_and_stability_keeps_promises() {
    // Stops on two perpendicular rays arrive alternately; a van holds three (demand 3, capacity
    // 10). Insertion fills van0 with the first three (a mix of both rays); one van per ray is
    // better (2 x 60 against 120 + the diagonal legs).
    let points = [(10.0, 0.0), (0.0, 10.0), (20.0, 0.0), (0.0, 20.0), (30.0, 0.0), (0.0, 30.0)];
    let east = |id: &str| points[id[1..].parse::<usize>().unwrap()].1 == 0.0;
    for (stability, expect_split) in [(0, true), (1_000, false)] {
        let mut d = line(2, 0, stability);
        for (i, &(x, y)) in points.iter().enumerate() {
            let spec = OrderSpec { delivery: vec![3], ..OrderSpec::at(&format!("o{i}"), Place::Point(x, y)) };
            d.add_orders(vec![spec], 0);
        }
        let before = routes(&d);
        assert!(before.iter().any(|r| r.iter().any(|id| east(id)) && r.iter().any(|id| !east(id))), "{before:?}");
        let report = d.improve(&StopCriteria::iterations(300), 0);
        d.check_invariants().unwrap();
        let after = routes(&d);
        let split = after.iter().all(|r| r.iter().all(|id| east(id)) || r.iter().all(|id| !east(id)));
        if expect_split {
            assert!(split && report.accepted, "{before:?} -> {after:?}");
            assert_eq!(report.cost_after, 120);
            assert!(report.cost_before > 120 && report.moved > 0, "{report:?}");
        } else {
            assert_eq!(after, before, "moving promised stops costs more than it saves");
            assert!(!report.accepted);
        }
    }
}

#[test]
fn a_snapshot_restores_exactly() {
    let mut d = line(2, 10, 5);
    d.add_orders(vec![order("a", 10.0, 3, None), order("b", -20.0, 3, Some((30, 60)))], 0);
    d.vehicle_events(vec![event("van0", 0, EventKind::Departed, None, None)], 1);
    let bytes = d.snapshot();
    let mut e = Dispatcher::restore(&bytes).unwrap();
    assert_eq!(e.snapshot(), bytes);
    assert_eq!(e.plan(), d.plan());
    for x in [&mut d, &mut e] {
        x.add_orders(vec![order("c", 15.0, 2, None)], 5);
        x.improve(&StopCriteria::iterations(100), 6);
    }
    assert_eq!(e.plan(), d.plan());
    assert_eq!(e.take_changes(), d.take_changes());
    assert!(Dispatcher::restore(&bytes[..bytes.len() - 3]).is_err());
    assert!(Dispatcher::restore(b"nope").is_err());
}

#[test]
fn changes_are_published_once_per_change() {
    let mut d = line(2, 0, 0);
    d.add_orders(vec![order("a", 10.0, 3, None)], 0);
    let first = d.take_changes();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].vehicle.as_str(), first[0].version, first[0].stops.len()), ("van0", 1, 1));
    assert!(d.take_changes().is_empty());
    assert!(d.plan().iter().all(|r| !r.changed));
    d.add_orders(vec![order("b", 20.0, 3, None)], 0);
    assert!(d.plan()[1].changed && !d.plan()[0].changed);
    let second = d.take_changes();
    assert_eq!((second.len(), second[0].version), (1, 2));
}
