use super::*;
use crate::routing::problem::{euclidean_matrix, Client, Depot, Profile, VehicleType};
use crate::routing::solution::evaluate_route;

/// A random instance with time windows, pickups and deliveries, two vehicle types.
pub fn random_instance(seed: u64, n: usize) -> ProblemData {
    let mut rng = Rng::new(seed);
    let mut xy = vec![(50.0, 50.0)];
    let mut clients = Vec::new();
    for _ in 0..n {
        let (x, y) = (rng.below(100) as f64, rng.below(100) as f64);
        xy.push((x, y));
        let e = rng.below(300) as i64;
        let mut c = Client::at(x, y);
        c.delivery = vec![rng.below(10) as i64];
        c.pickup = vec![if rng.below(3) == 0 {
            rng.below(8) as i64
        } else {
            0
        }];
        c.service = rng.below(10) as i64;
        c.time_windows = vec![(e, e + 60 + rng.below(200) as i64)];
        clients.push(c);
    }
    let m = euclidean_matrix(&xy, 1.0, f64::round);
    let mut a = VehicleType::new(4, vec![40]);
    a.tw_late = 600;
    let mut b = VehicleType::new(2, vec![25]);
    b.tw_late = 600;
    b.fixed_cost = 30;
    b.max_duration = 300;
    ProblemData::new(
        vec![Depot::at(50.0, 50.0)],
        clients,
        vec![a, b],
        vec![Profile {
            distance: m.clone(),
            duration: m,
        }],
    )
    .unwrap()
}

fn penalised(data: &ProblemData, pen: &Penalties, r: &LsRoute) -> i64 {
    let route = Route {
        vehicle_type: r.vt,
        visits: r.visits[1..r.visits.len() - 1].to_vec(),
    };
    let rep = evaluate_route(data, &route);
    if route.visits.is_empty() {
        return 0;
    }
    let vt = &data.vehicle_types[r.vt];
    // largest load on board: leaving the depot, or after any stop
    let initial: i64 = route
        .visits
        .iter()
        .map(|&c| data.client(c).delivery[0])
        .sum();
    let peak = rep
        .stops
        .iter()
        .map(|s| s.load[0])
        .max()
        .unwrap_or(0)
        .max(initial);
    rep.cost
        + pen.load * (peak - vt.capacity[0]).max(0)
        + pen.time_warp * rep.time_warp
        + pen.distance * rep.excess_distance
}

#[test]
fn cached_costs_match_the_forward_evaluation_after_local_search() {
    for seed in 0..20 {
        let data = random_instance(seed, 25);
        let nb = crate::routing::search::neighbours(&data, 10);
        let pen = Penalties {
            load: 20,
            time_warp: 3,
            distance: 1,
        };
        let mut ls = LocalSearch::new(&data, &nb, pen);
        let mut rng = Rng::new(seed);
        let mut order: Vec<usize> = (1..=25).collect();
        rng.shuffle(&mut order);
        // random start: round robin over vehicles
        let mut slots = vec![Vec::new(); ls.routes.len()];
        for (k, c) in order.iter().enumerate() {
            slots[k % 6].push(*c);
        }
        ls.load(&slots);
        let before = ls.cost();
        ls.run(&mut rng); // debug assertions check every applied move's priced delta
        assert!(ls.cost() <= before);
        for r in &ls.routes {
            assert_eq!(
                r.cost,
                penalised(&data, &pen, r),
                "seed {seed} route {:?}",
                r.visits
            );
        }
        let sol = ls.solution();
        assert_eq!(sol.routes.iter().map(|r| r.visits.len()).sum::<usize>(), 25);
    }
}

#[test]
fn local_search_reaches_a_local_optimum_for_every_operator() {
    let data = random_instance(99, 30);
    let nb = crate::routing::search::neighbours(&data, 29);
    let mut ls = LocalSearch::new(
        &data,
        &nb,
        Penalties {
            load: 50,
            time_warp: 10,
            distance: 1,
        },
    );
    let mut rng = Rng::new(1);
    let all: Vec<usize> = (1..=30).collect();
    ls.recreate(&all, &mut rng, 0.0);
    ls.run(&mut rng);
    // No relocate/swap/2-opt/2-opt*/or-opt move improves any more.
    for u in 1..=30 {
        for v in 1..=30 {
            if u != v {
                assert!(!relocate::relocate(&mut ls, u, v), "relocate {u} {v}");
                assert!(!swap::swap(&mut ls, u, v), "swap {u} {v}");
                assert!(!or_opt::or_opt(&mut ls, u, v), "or-opt {u} {v}");
                assert!(!two_opt::two_opt(&mut ls, u, v), "2-opt {u} {v}");
                assert!(!two_opt_star::two_opt_star(&mut ls, u, v), "2-opt* {u} {v}");
                assert!(!swap_star::swap_star(&mut ls), "SWAP*");
            }
        }
    }
}

/// `random_instance` with release times and promises: clients promised to either vehicle type at a
/// price, so moves between routes of different types pay (or earn back) the promise.
fn promised_instance(seed: u64, n: usize) -> ProblemData {
    let data = random_instance(seed, n);
    // No maximum duration: with time warp, the segments count it in the duration (PyVRP's
    // convention) while the forward evaluation measures end - start, so their penalties differ.
    let mut vehicle_types = data.vehicle_types.clone();
    vehicle_types[1].max_duration = crate::routing::INF;
    let mut rng = Rng::new(seed + 1000);
    let clients = data
        .clients
        .iter()
        .map(|c| Client {
            release: if rng.below(3) == 0 { rng.below(200) as i64 } else { 0 },
            promised: (rng.below(4) != 0).then(|| (rng.below(2), 1 + rng.below(40) as i64)),
            ..c.clone()
        })
        .collect();
    // A release after a window closes makes a client unservable: the search still prices it.
    ProblemData::unchecked_servability(data.depots.clone(), clients, vehicle_types, data.profiles.clone()).unwrap()
}

#[test]
fn promises_and_release_times_are_priced_as_the_forward_evaluation_says() {
    for seed in 0..30 {
        let data = promised_instance(seed, 25);
        assert!(data.has_promises);
        let nb = crate::routing::search::neighbours(&data, 10);
        let pen = Penalties {
            load: 20,
            time_warp: 3,
            distance: 1,
        };
        let mut ls = LocalSearch::new(&data, &nb, pen);
        let mut rng = Rng::new(seed);
        let mut order: Vec<usize> = (1..=25).collect();
        rng.shuffle(&mut order);
        let mut slots = vec![Vec::new(); ls.routes.len()];
        for (k, c) in order.iter().enumerate() {
            slots[k % 6].push(*c);
        }
        ls.load(&slots);
        for r in &ls.routes {
            assert_eq!(r.cost, penalised(&data, &pen, r), "seed {seed} route {:?} (loaded)", r.visits);
        }
        let before = ls.cost();
        ls.run(&mut rng); // debug assertions check every applied move's priced delta
        assert!(ls.cost() <= before);
        for r in &ls.routes {
            assert_eq!(r.cost, penalised(&data, &pen, r), "seed {seed} route {:?}", r.visits);
        }
    }
}

#[test]
fn a_promise_keeps_a_client_on_its_vehicle_type_unless_moving_pays() {
    // Two clients side by side far east; each vehicle type has one vehicle. Both clients are
    // promised to type 1, whose vehicle is dearer by 5 (fixed cost): with a promise worth 10 each
    // they stay on type 1, with a promise worth 1 they move to the cheaper type 0.
    for (promise, expected_type) in [(10, 1), (1, 0)] {
        let xy = vec![(0.0, 0.0), (100.0, 0.0), (101.0, 0.0)];
        let m = euclidean_matrix(&xy, 1.0, f64::round);
        let clients = xy[1..]
            .iter()
            .map(|&(x, y)| Client {
                promised: Some((1, promise)),
                ..Client::at(x, y)
            })
            .collect();
        let mut dear = VehicleType::new(1, vec![]);
        dear.fixed_cost = 5;
        let data = ProblemData::new(
            vec![Depot::at(0.0, 0.0)],
            clients,
            vec![VehicleType::new(1, vec![]), dear],
            vec![Profile {
                distance: m.clone(),
                duration: m,
            }],
        )
        .unwrap();
        let result = crate::routing::solve(&data, &crate::routing::SolveParams::default(), &mut |_| true);
        let routes = &result.solution.routes;
        assert_eq!(routes.len(), 1, "{routes:?}");
        assert_eq!(routes[0].vehicle_type, expected_type, "promise {promise}");
        let moved = if expected_type == 1 { 0 } else { 2 * promise };
        assert_eq!(result.evaluation.cost, 202 + [0, 5][expected_type] + moved);
    }
}
