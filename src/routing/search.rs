//! The metaheuristic: iterated local search. Each iteration ruins part of the current solution
//! (string removal), recreates it by cheapest insertion with blinks, descends with the granular local
//! search under penalised costs, and accepts the result by simulated annealing. Penalties adapt to
//! the share of feasible local optima; infeasible local optima get a repair pass at 10x penalties.
//!
//! `threads > 1` runs independent searches (seeds derived from the seed) on a rayon pool of its own and keeps the best,
//! so the same seed and thread count with an iteration budget give the same result.

use super::cost::{Penalties, PenaltyManager};
use super::local_search::LocalSearch;
use super::problem::ProblemData;
use super::rng::Rng;
use super::ruin::{ruin, sort_for_recreate, RuinParams};
use super::solution::{evaluate, Evaluation, Solution};
use super::stop::StopCriteria;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SolveParams {
    pub seed: u64,
    pub threads: usize,
    pub stop: StopCriteria,
    /// Size of each client's granular neighbourhood.
    pub num_neighbours: usize,
    /// A starting solution (e.g. the running plan when inserting new orders).
    pub initial: Option<Solution>,
    /// The metaheuristic's settings.
    pub tuning: SearchTuning,
}

/// Settings of the iterated local search. The defaults were chosen by `benches/tune_routing.py` on
/// generated instances, none of them the benchmark's reported ones (benches/README.md): a coordinate
/// search at 1,000 iterations from the earlier settings changed the end temperature (0.005 -> 0.02)
/// and the neighbourhood (40 -> 20 clients); at 5 s per run they were at least as good on all 12
/// instances (mean gap 0.00 % against 0.17 %), at 3,000 iterations 0.02 points worse (within noise).
#[derive(Clone, Debug, PartialEq)]
pub struct SearchTuning {
    /// Annealing temperature at the start and at the end of the budget, in average edges of the
    /// first solution (geometric cooling between them).
    pub temperature_start: f64,
    pub temperature_end: f64,
    /// Average number of clients a ruin removes (at most half of them) and its longest string.
    pub ruin_removed: f64,
    pub ruin_max_string: usize,
    /// Chance that recreate skips an insertion position.
    pub blink: f64,
    /// Share of local optima the penalty manager keeps feasible, and how many it counts before
    /// adjusting the penalties.
    pub target_feasible: f64,
    pub penalty_interval: u32,
}

impl Default for SearchTuning {
    fn default() -> Self {
        SearchTuning {
            temperature_start: 0.5,
            temperature_end: 0.02,
            ruin_removed: 15.0,
            ruin_max_string: 10,
            blink: 0.01,
            target_feasible: 0.5,
            penalty_interval: 25,
        }
    }
}

impl Default for SolveParams {
    fn default() -> Self {
        SolveParams {
            seed: 1,
            threads: 1,
            stop: StopCriteria::iterations(2000),
            num_neighbours: 20,
            initial: None,
            tuning: SearchTuning::default(),
        }
    }
}

/// Reported to the progress callback about every 100 ms.
#[derive(Clone, Debug)]
pub struct Progress {
    pub iterations: u64,
    pub elapsed: Duration,
    /// Cost of the best feasible solution so far, if any.
    pub best_cost: Option<i64>,
    /// How far through the budget, when it has a time or iteration limit.
    pub fraction: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct SolveResult {
    pub solution: Solution,
    pub evaluation: Evaluation,
    pub iterations: u64,
    pub runtime: Duration,
    /// The callback (e.g. Ctrl-C) stopped the search before its criteria were met.
    pub interrupted: bool,
}

/// Each client's nearest clients by a time-window-aware proximity (Vidal et al. 2013's granular
/// neighbourhood): distance plus weighted unavoidable waiting and time warp.
#[allow(clippy::needless_range_loop)] // i is a location: it indexes the matrices and the output
pub fn neighbours(data: &ProblemData, k: usize) -> Vec<Vec<usize>> {
    let nd = data.num_depots();
    let n = data.num_locations();
    let prof = &data.profiles[0];
    let mut out = vec![Vec::new(); n];
    for i in nd..n {
        let ci = data.client(i);
        let mut cand: Vec<(i64, usize)> = (nd..n)
            .filter(|&j| j != i)
            .map(|j| {
                let cj = data.client(j);
                let wait =
                    (cj.tw_early() - ci.tw_late() - ci.service - prof.duration.get(i, j)).max(0);
                let warp =
                    (ci.tw_early() + ci.service + prof.duration.get(i, j) - cj.tw_late()).max(0);
                let sym_wait =
                    (ci.tw_early() - cj.tw_late() - cj.service - prof.duration.get(j, i)).max(0);
                let sym_warp =
                    (cj.tw_early() + cj.service + prof.duration.get(j, i) - ci.tw_late()).max(0);
                let a = prof.distance.get(i, j) as f64 + 0.2 * wait as f64 + warp as f64;
                let b = prof.distance.get(j, i) as f64 + 0.2 * sym_wait as f64 + sym_warp as f64;
                (a.min(b).min(1e15) as i64, j)
            })
            .collect();
        cand.sort_unstable();
        cand.truncate(k);
        out[i] = cand.into_iter().map(|(_, j)| j).collect();
    }
    out
}

fn initial_penalties(data: &ProblemData) -> Penalties {
    let prof = &data.profiles[0];
    let n = data.num_locations();
    let (mut dsum, mut tsum) = (0f64, 0f64);
    for i in 0..n {
        for j in 0..n {
            dsum += prof.distance.get(i, j) as f64;
            tsum += prof.duration.get(i, j) as f64;
        }
    }
    let pairs = (n * n).max(1) as f64;
    let unit = data
        .vehicle_types
        .iter()
        .map(|v| v.unit_distance_cost)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let avg_edge = unit * dsum / pairs;
    let demand: f64 = data
        .clients
        .iter()
        .map(|c| c.delivery.iter().chain(&c.pickup).sum::<i64>() as f64)
        .sum::<f64>()
        / data.num_clients().max(1) as f64;
    let avg_dur = tsum / pairs;
    let p = |v: f64| (v.round() as i64).clamp(1, 1_000_000_000);
    Penalties {
        load: p(avg_edge / demand.max(1.0)),
        time_warp: p(avg_edge / avg_dur.max(1.0)),
        distance: p(unit),
    }
}

struct Shared {
    stop: AtomicBool,
    interrupted: AtomicBool,
}

struct Outcome {
    solution: Solution,
    evaluation: Evaluation,
    iterations: u64,
}

/// Solves `data`. `callback` is called on the calling thread about every 100 ms; returning `false`
/// stops the search, which then returns the best solution found so far.
pub fn solve(
    data: &ProblemData,
    params: &SolveParams,
    callback: &mut dyn FnMut(&Progress) -> bool,
) -> SolveResult {
    let started = Instant::now();
    let nb = neighbours(data, params.num_neighbours);
    let adjacency = neighbours(data, data.num_clients());
    let shared = Shared {
        stop: AtomicBool::new(false),
        interrupted: AtomicBool::new(false),
    };
    let threads = params.threads.max(1);
    let others: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    // A rayon pool made for this solve, with the calling thread as worker 0; not rayon's global pool:
    // a process forked after a solve (Spark's Python workers, multiprocessing) would inherit a global
    // pool whose threads do not exist in the child, and wait on them forever. Starting a few threads
    // is negligible next to a search. Without threads to spare (or if the OS refuses them), worker 0
    // searches alone.
    let pool = (threads > 1)
        .then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads - 1)
                .thread_name(|i| format!("fleetstream-solver-{}", i + 1))
                .build()
                .ok()
        })
        .flatten();
    let first = match &pool {
        Some(pool) => pool.in_place_scope(|scope| {
            for t in 1..threads {
                let (nb, adjacency, shared, others) = (&nb, &adjacency, &shared, &others);
                scope.spawn(move |_| {
                    let out = worker(data, params, nb, adjacency, t, shared, None, started);
                    others
                        .lock()
                        .expect("no worker panics while holding the lock")
                        .push((t, out));
                });
            }
            worker(data, params, &nb, &adjacency, 0, &shared, Some(callback), started)
        }),
        None => worker(data, params, &nb, &adjacency, 0, &shared, Some(callback), started),
    };
    shared.stop.store(true, Ordering::Relaxed);
    let mut all = vec![(0, first)];
    all.extend(others.into_inner().expect("workers finished"));
    all.sort_by_key(|(t, _)| *t);
    let iterations = all.iter().map(|(_, o)| o.iterations).sum();
    let best = all
        .into_iter()
        .map(|(_, o)| o)
        .min_by_key(|o| {
            (
                !o.evaluation.feasible,
                o.evaluation.missing.len(),
                o.evaluation.cost,
            )
        })
        .expect("at least one worker");
    SolveResult {
        solution: best.solution,
        evaluation: best.evaluation,
        iterations,
        runtime: started.elapsed(),
        interrupted: shared.interrupted.load(Ordering::Relaxed),
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    data: &ProblemData,
    params: &SolveParams,
    nb: &[Vec<usize>],
    adjacency: &[Vec<usize>],
    thread: usize,
    shared: &Shared,
    mut callback: Option<&mut dyn FnMut(&Progress) -> bool>,
    started: Instant,
) -> Outcome {
    let mut rng = Rng::new(
        params
            .seed
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(thread as u64 * 7919 + 1),
    );
    let tuning = &params.tuning;
    let mut manager = PenaltyManager::new(initial_penalties(data));
    manager.target = tuning.target_feasible;
    manager.interval = tuning.penalty_interval.max(1);
    let mut ls = LocalSearch::new(data, nb, manager.penalties());
    let nd = data.num_depots();
    let clients: Vec<usize> = (nd..data.num_locations()).collect();

    // Start: the given solution (its routes placed on matching vehicle slots), then cheapest insertion.
    if let Some(init) = &params.initial {
        let mut slots = vec![Vec::new(); ls.routes.len()];
        let mut free: Vec<bool> = vec![true; ls.routes.len()];
        for route in &init.routes {
            if let Some(r) =
                (0..ls.routes.len()).find(|&r| free[r] && ls.routes[r].vt == route.vehicle_type)
            {
                free[r] = false;
                slots[r] = route.visits.clone();
            }
        }
        ls.load(&slots);
    }
    let mut order = clients.clone();
    rng.shuffle(&mut order);
    ls.recreate(&order, &mut rng, 0.0);
    ls.run(&mut rng);

    let exact =
        |sol: &Solution| evaluate(data, sol).expect("the search keeps solutions well-formed");
    let mut current = ls.snapshot();
    let mut current_cost = ls.cost();
    let mut best_sol = ls.solution();
    let mut best_eval = exact(&best_sol);
    let mut best_penalised = current_cost;

    let n = data.num_clients().max(1);
    let avg_edge = (best_eval.cost as f64 / (n + best_sol.routes.len()) as f64).max(1.0);
    let (t0, t1) = (
        tuning.temperature_start * avg_edge,
        tuning.temperature_end * avg_edge,
    );
    let ruin_params = RuinParams {
        avg_removed: tuning.ruin_removed.min(n as f64 / 2.0).max(1.0),
        max_string: tuning.ruin_max_string.max(1),
    };

    let mut iterations = 0u64;
    let mut last_improvement = 0u64;
    let mut last_report = Instant::now();
    let report_every = Duration::from_millis(100);
    while data.num_clients() > 0 {
        let elapsed = started.elapsed();
        if params
            .stop
            .done(elapsed, iterations, iterations - last_improvement)
            || shared.stop.load(Ordering::Relaxed)
        {
            break;
        }
        if !params.stop.is_bounded() && iterations >= 1000 {
            break; // never loop forever without a budget
        }
        if let Some(cb) = callback.as_mut() {
            if last_report.elapsed() >= report_every {
                last_report = Instant::now();
                let progress = Progress {
                    iterations,
                    elapsed,
                    best_cost: best_eval.feasible.then_some(best_eval.cost),
                    fraction: params.stop.fraction(elapsed, iterations),
                };
                if !cb(&progress) {
                    shared.interrupted.store(true, Ordering::Relaxed);
                    shared.stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        iterations += 1;

        ls.load(&current);
        let mut removed = ruin(&mut ls, adjacency, &mut rng, &ruin_params);
        sort_for_recreate(&ls, &mut removed, &mut rng);
        ls.recreate(&removed, &mut rng, tuning.blink);
        ls.run(&mut rng);
        let (load_ok, tw_ok, dist_ok) = ls.violations();
        let feasible = load_ok && tw_ok && dist_ok;
        if !feasible && (rng.below(2) == 0 || !best_eval.feasible) {
            // Repair: the same descent at 10x, then 100x, the penalties.
            let p = ls.pen;
            for factor in [10, 100] {
                ls.pen = p.scaled(factor);
                ls.refresh_costs(true);
                ls.run(&mut rng);
                let (a, b, c) = ls.violations();
                if a && b && c {
                    break;
                }
            }
            ls.pen = p;
            ls.refresh_costs(false);
        }
        let cand_cost = ls.cost();
        let (l2, t2, d2) = ls.violations();
        if l2 && t2 && d2 {
            let sol = ls.solution();
            let eval = exact(&sol);
            if eval.feasible && (!best_eval.feasible || eval.cost < best_eval.cost) {
                best_sol = sol;
                best_eval = eval;
                last_improvement = iterations;
            }
        } else if !best_eval.feasible && cand_cost < best_penalised {
            best_penalised = cand_cost;
            best_sol = ls.solution();
            best_eval = exact(&best_sol);
        }

        let fraction = params
            .stop
            .fraction(started.elapsed(), iterations)
            .unwrap_or((iterations % 5000) as f64 / 5000.0);
        let temperature = t0 * (t1 / t0).powf(fraction);
        let threshold = current_cost as f64 - temperature * rng.unit().max(1e-12).ln();
        if (cand_cost as f64) < threshold {
            current = ls.snapshot();
            current_cost = cand_cost;
        }
        if manager.register(load_ok, tw_ok, dist_ok) {
            ls.pen = manager.penalties();
            ls.load(&current);
            ls.refresh_costs(true);
            current_cost = ls.cost();
        }
    }
    Outcome {
        solution: best_sol,
        evaluation: best_eval,
        iterations,
    }
}

#[cfg(test)]
mod tests;
