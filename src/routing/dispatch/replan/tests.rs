use super::*;
use crate::routing::problem::planar;
use crate::routing::solution::evaluate_with_starts;

#[test]
fn fixed_stops_are_those_reached_or_being_driven_to() {
    // left the depot at 10, stops departed at 20, 30, 40
    let departures = [20, 30, 40];
    assert_eq!(fixed_stops(&departures, 10, 5), 0); // still at the depot
    assert_eq!(fixed_stops(&departures, 10, 10), 1); // just left: driving to the first stop
    assert_eq!(fixed_stops(&departures, 10, 19), 1);
    assert_eq!(fixed_stops(&departures, 10, 20), 2);
    assert_eq!(fixed_stops(&departures, 10, 39), 3);
    assert_eq!(fixed_stops(&departures, 10, 99), 3);
    assert_eq!(fixed_stops(&[], 10, 99), 0);
}

#[test]
fn code_words_are_distinct_and_none_contains_another() {
    let bits: Vec<u32> = (3..13).collect();
    for k in [0, 1, 5, 10, 11, 200, 252] {
        let words = code_words(&bits, k).unwrap();
        assert_eq!(words.len(), k);
        for (i, a) in words.iter().enumerate() {
            assert_eq!(a & !0b1_1111_1111_1000u64, 0, "only the given bits");
            for b in &words[i + 1..] {
                assert!(a & !b != 0 && b & !a != 0, "{a:b} {b:b}");
            }
        }
    }
    assert!(code_words(&bits, 253).is_none()); // C(10, 5) = 252
}

/// Depot at 0; clients on a line at 10, 20, 30 (van A's) and -10, -20 (van B's); a new client at 15.
fn day() -> (ProblemData, Vec<RunningRoute>) {
    let data = planar(
        (0.0, 0.0),
        &[
            (10.0, 0.0, 3),
            (20.0, 0.0, 3),
            (30.0, 0.0, 3),
            (-10.0, 0.0, 3),
            (-20.0, 0.0, 3),
            (15.0, 0.0, 3),
        ],
        3,
        10,
    );
    let running = vec![
        RunningRoute {
            vehicle_type: 0,
            visits: vec![1, 2, 3],
            start_time: 0,
        },
        RunningRoute {
            vehicle_type: 0,
            visits: vec![4, 5],
            start_time: 100,
        },
    ];
    (data, running)
}

#[test]
fn a_van_on_the_road_keeps_its_goods_and_takes_no_new_deliveries() {
    let (data, running) = day();
    // At 12 van A has reached its first stop (arrival 10, departure 10) and drives to the second;
    // van B is still at the depot (it leaves at 100).
    let rp = replan(&data, &running, 12).unwrap();
    assert_eq!(rp.fixed, vec![2, 0]);
    let a = rp.own_type[0].unwrap();
    assert_eq!(rp.own_type[1], None);
    // van A continues from client 2's location (location 2), leaving at its departure there (20)
    let start = rp.data.vehicle_types[a].start_depot;
    assert_eq!(rp.location[start], 2);
    assert_eq!(
        (
            rp.data.depots[start].tw_early,
            rp.data.depots[start].tw_late
        ),
        (20, 20)
    );
    assert_eq!(rp.data.vehicle_types[a].fixed_cost, 0);
    // client 3 (location 3) is on van A: only van A can take it; the new client 5 (location 6)
    // and van B's clients need a vehicle at the depot
    let sub = |full: usize| rp.location.iter().position(|&l| l == full).unwrap();
    let skills_ok = |loc: usize, t: usize| {
        rp.data.client(sub(loc)).skills & !rp.data.vehicle_types[t].skills == 0
    };
    let base = (0..rp.data.vehicle_types.len()).find(|&t| t != a).unwrap();
    assert!(skills_ok(3, a) && !skills_ok(3, base));
    for loc in [4, 5, 6] {
        assert!(!skills_ok(loc, a) && skills_ok(loc, base), "location {loc}");
    }
    assert_eq!(rp.data.vehicle_types[base].count, 2);
    assert_eq!(rp.data.vehicle_types[base].tw_early, 12);
    // the old plan's remaining stops as a start
    assert_eq!(rp.initial.routes.len(), 2);
    assert!(rp.unservable.is_empty());
    // at 35 van A has left its last stop (departure 30): it drives back and takes nothing more
    let later = replan(&data, &running, 35).unwrap();
    assert_eq!((later.fixed[0], later.own_type[0]), (3, None));
    // at 29 it is still driving to its last stop: it may add pickups after it
    let at_last = replan(&data, &running, 29).unwrap();
    assert_eq!(at_last.fixed[0], 3);
    assert!(at_last.own_type[0].is_some());

    // Stitch a rest of the day and evaluate the whole day: van A's fixed stops keep their times.
    let rest = crate::routing::solve(
        &rp.data,
        &crate::routing::SolveParams {
            stop: crate::routing::StopCriteria::iterations(50),
            ..Default::default()
        },
        &mut |_| true,
    );
    let (day_sol, starts, fixed) = stitch(&running, &rp, &rest.solution, &rest.evaluation);
    assert_eq!(fixed[0], 2);
    assert_eq!(&day_sol.routes[0].visits[..3], &[1, 2, 3]);
    assert!(day_sol.routes[0].visits[3..]
        .iter()
        .all(|&l| data.client(l).delivery[0] == 0));
    let e = evaluate_with_starts(&data, &day_sol, &starts).unwrap();
    assert!(e.feasible, "{e:?}");
    let a_stops = &e.routes[0].stops;
    assert_eq!(
        (a_stops[0].arrival, a_stops[1].arrival, a_stops[2].arrival),
        (10, 20, 30)
    );
    for (r, route) in e.routes.iter().enumerate().skip(1) {
        assert!(
            route.start_time >= 12,
            "route {r} leaves at {}",
            route.start_time
        );
    }
}

#[test]
fn an_order_whose_window_has_closed_is_listed_not_scheduled() {
    let (mut data, running) = day();
    data.clients[5].time_windows = vec![(0, 30)];
    let rp = replan(&data, &running, 40).unwrap();
    assert_eq!(rp.unservable.len(), 1);
    let (client, why) = &rp.unservable[0];
    assert_eq!(*client, 5);
    assert!(why.contains("cannot be reached"), "{why}");
    assert!(rp.location.iter().all(|&l| l != 6));
}

#[test]
fn pinned_start_times_are_kept_and_checked_against_the_shift() {
    let mut data = planar((0.0, 0.0), &[(10.0, 0.0, 1)], 1, 10);
    data.vehicle_types[0].tw_early = 50;
    let sol = Solution {
        routes: vec![Route {
            vehicle_type: 0,
            visits: vec![1],
        }],
    };
    let e = evaluate_with_starts(&data, &sol, &[Some(70)]).unwrap();
    assert_eq!(
        (
            e.routes[0].start_time,
            e.routes[0].stops[0].arrival,
            e.routes[0].end_time
        ),
        (70, 80, 90)
    );
    assert!(e.feasible);
    let early = evaluate_with_starts(&data, &sol, &[Some(45)]).unwrap();
    assert!(!early.feasible && early.routes[0].time_warp == 5);
}
