use super::*;
use crate::routing::local_search::tests::random_instance;
use crate::routing::solution::Route;

/// Optimal cost by enumerating every ordering of the clients and every way to cut it into routes
/// (vehicle type 0 only), or every subset for optional clients.
fn brute_force(data: &ProblemData) -> i64 {
    let n = data.num_clients();
    let nd = data.num_depots();
    let mut best = i64::MAX;
    let mut perm: Vec<usize> = (nd..nd + n).collect();
    fn permutations(k: usize, perm: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if k == perm.len() {
            f(perm);
            return;
        }
        for i in k..perm.len() {
            perm.swap(k, i);
            permutations(k + 1, perm, f);
            perm.swap(k, i);
        }
    }
    permutations(0, &mut perm, &mut |p| {
        // bit b set: a new route starts before p[b+1]; bits of `skip` drop optional clients
        for cuts in 0u32..(1 << (n - 1)) {
            let mut routes = vec![Route {
                vehicle_type: 0,
                visits: vec![p[0]],
            }];
            for b in 0..n - 1 {
                if cuts & (1 << b) != 0 {
                    routes.push(Route {
                        vehicle_type: 0,
                        visits: vec![],
                    });
                }
                routes.last_mut().unwrap().visits.push(p[b + 1]);
            }
            let e = evaluate(data, &Solution { routes }).unwrap();
            if e.feasible {
                best = best.min(e.cost);
            }
        }
    });
    best
}

#[test]
fn finds_the_optimum_of_tiny_instances() {
    for seed in 0..8 {
        let mut data = random_instance(seed, 6);
        data.vehicle_types.truncate(1);
        data.vehicle_types[0].count = 6;
        let optimum = brute_force(&data);
        let params = SolveParams {
            seed,
            stop: StopCriteria::iterations(300),
            ..Default::default()
        };
        let res = solve(&data, &params, &mut |_| true);
        assert!(res.evaluation.feasible, "seed {seed}");
        assert_eq!(
            res.evaluation.cost, optimum,
            "seed {seed}: {:?}",
            res.solution
        );
    }
}

#[test]
fn same_seed_and_threads_give_the_same_result_and_threads_help_or_tie() {
    let data = random_instance(5, 40);
    let params = SolveParams {
        seed: 3,
        threads: 2,
        stop: StopCriteria::iterations(150),
        ..Default::default()
    };
    let a = solve(&data, &params, &mut |_| true);
    let b = solve(&data, &params, &mut |_| true);
    assert_eq!(a.solution, b.solution);
    let one = solve(
        &data,
        &SolveParams {
            threads: 1,
            ..params.clone()
        },
        &mut |_| true,
    );
    // thread 0 of a 2-thread run is the 1-thread run, so the best of two is never worse
    assert!(a.evaluation.cost <= one.evaluation.cost || !one.evaluation.feasible);
}

#[test]
fn callback_can_interrupt_and_empty_problems_solve() {
    let data = random_instance(6, 40);
    let params = SolveParams {
        stop: StopCriteria::runtime(Duration::from_secs(30)),
        ..Default::default()
    };
    // The 30 s budget is only a safety net: the callback stops the search at its third call, so the
    // search must report the interruption and end at the iteration that call saw.
    let mut calls = 0;
    let mut seen_at_stop = None;
    let res = solve(&data, &params, &mut |progress| {
        calls += 1;
        if calls == 3 {
            seen_at_stop = Some(progress.iterations);
        }
        calls < 3
    });
    assert!(res.interrupted);
    assert_eq!(calls, 3, "the callback is not called again after it asked to stop");
    assert_eq!(Some(res.iterations), seen_at_stop);
    assert_eq!(
        res.solution
            .routes
            .iter()
            .map(|r| r.visits.len())
            .sum::<usize>(),
        40
    );

    let empty = ProblemData::new(
        vec![],
        vec![],
        vec![],
        vec![crate::routing::Profile {
            distance: crate::routing::Matrix::zeros(0),
            duration: crate::routing::Matrix::zeros(0),
        }],
    )
    .unwrap();
    let res = solve(&empty, &SolveParams::default(), &mut |_| true);
    assert!(res.solution.routes.is_empty() && res.evaluation.feasible && res.evaluation.cost == 0);
}

#[test]
fn optional_clients_are_dropped_when_not_worth_their_prize() {
    let mut data = random_instance(8, 6);
    data.vehicle_types.truncate(1);
    data.vehicle_types[0].count = 6;
    for (i, c) in data.clients.iter_mut().enumerate() {
        c.required = false;
        c.prize = if i % 2 == 0 { 1000 } else { 1 };
    }
    let res = solve(
        &data,
        &SolveParams {
            stop: StopCriteria::iterations(200),
            ..Default::default()
        },
        &mut |_| true,
    );
    let visited: usize = res.solution.routes.iter().map(|r| r.visits.len()).sum();
    assert!(res.evaluation.feasible);
    assert!(res
        .solution
        .routes
        .iter()
        .flat_map(|r| &r.visits)
        .all(|&l| data.client(l).prize == 1000));
    assert!(visited >= 1);
}
