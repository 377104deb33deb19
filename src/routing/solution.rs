//! Solutions and their exact evaluation: cost, feasibility and the stop-by-stop schedule.
//!
//! This evaluator walks each route forward (it is the reference the segment arithmetic of the search
//! is tested against) and handles clients with several time windows exactly: a vehicle arriving
//! between two windows waits for the next one.

use super::problem::{ProblemData, MAX_DIMS};
use super::segment::DurSeg;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub vehicle_type: usize,
    /// Client locations in visiting order (depots excluded).
    pub visits: Vec<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Solution {
    /// Non-empty routes.
    pub routes: Vec<Route>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub location: usize,
    pub arrival: i64,
    /// When service starts (after any waiting, or the window's close if the vehicle is late).
    pub start: i64,
    pub departure: i64,
    /// Load on board when leaving, per dimension.
    pub load: [i64; MAX_DIMS],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteReport {
    pub vehicle_type: usize,
    pub distance: i64,
    pub duration: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub time_warp: i64,
    pub excess_load: i64,
    pub excess_distance: i64,
    pub skills_ok: bool,
    /// Fixed cost plus distance and duration costs (plus the cost of serving clients promised to
    /// another vehicle type, see `Client::promised`).
    pub cost: i64,
    pub stops: Vec<Stop>,
}

impl RouteReport {
    pub fn feasible(&self) -> bool {
        self.time_warp == 0 && self.excess_load == 0 && self.excess_distance == 0 && self.skills_ok
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub routes: Vec<RouteReport>,
    /// Route costs plus the prizes of the clients left out.
    pub cost: i64,
    pub distance: i64,
    pub duration: i64,
    pub uncollected_prizes: i64,
    /// Required clients that no route visits.
    pub missing: Vec<usize>,
    pub feasible: bool,
}

/// Schedule and cost of one route; service starts as late as the route's minimal duration allows.
pub fn evaluate_route(data: &ProblemData, route: &Route) -> RouteReport {
    let vt = &data.vehicle_types[route.vehicle_type];
    let prof = &data.profiles[vt.profile];
    let (sd, ed) = (vt.start_depot, vt.end_depot);
    let (start_dep, end_dep) = (&data.depots[sd], &data.depots[ed]);
    let shift_early = vt.tw_early.max(start_dep.tw_early);
    let shift_late = vt.tw_late.min(end_dep.tw_late);
    // Start time: the earliest start of the minimal-duration schedule (window hulls; exact below).
    let mut seg = DurSeg::visit(sd, 0, shift_early, vt.tw_late.min(start_dep.tw_late));
    for &loc in &route.visits {
        let c = data.client(loc);
        seg = DurSeg::merge(
            &prof.duration,
            &seg,
            &DurSeg::visit(loc, c.service, c.tw_early(), c.tw_late()).with_release(c.release),
        );
    }
    seg = DurSeg::merge(
        &prof.duration,
        &seg,
        &DurSeg::visit(ed, 0, vt.tw_early.max(end_dep.tw_early), shift_late),
    );
    // Leaving before the goods of its clients reach the depot is not possible.
    let earliest = shift_early.max(seg.release);
    let hull_start = seg.start().max(shift_early);
    let at_hull = simulate(data, route, hull_start);
    if at_hull.time_warp == 0 || hull_start == earliest {
        return at_hull;
    }
    // With several windows per client the hull's start may miss a window that an earlier start
    // catches: leaving as early as possible minimises every arrival time.
    let early = simulate(data, route, earliest);
    if (early.time_warp, early.duration) < (at_hull.time_warp, at_hull.duration) {
        early
    } else {
        at_hull
    }
}

/// The route's schedule when it leaves its start depot at `start_time`.
fn simulate(data: &ProblemData, route: &Route, start_time: i64) -> RouteReport {
    let vt = &data.vehicle_types[route.vehicle_type];
    let prof = &data.profiles[vt.profile];
    let (sd, ed) = (vt.start_depot, vt.end_depot);
    let end_dep = &data.depots[ed];
    let shift_late = vt.tw_late.min(end_dep.tw_late);
    let dims = data.num_dims;
    let mut load = [0i64; MAX_DIMS];
    for &loc in &route.visits {
        for (d, l) in load.iter_mut().enumerate().take(dims) {
            *l += data.client(loc).delivery[d];
        }
    }
    let mut excess_load: i64 = (0..dims).map(|d| (load[d] - vt.capacity[d]).max(0)).sum();
    let (mut t, mut warp, mut dist, mut prev) = (start_time, 0i64, 0i64, sd);
    let mut skills_ok = true;
    let mut stops = Vec::with_capacity(route.visits.len());
    for &loc in &route.visits {
        let c = data.client(loc);
        dist += prof.distance.get(prev, loc);
        let arrival = t + prof.duration.get(prev, loc);
        let start = match c.time_windows.iter().find(|w| w.1 >= arrival) {
            Some(w) => w.0.max(arrival),
            None => {
                let close = c.tw_late();
                warp += arrival - close;
                close
            }
        };
        for (d, l) in load.iter_mut().enumerate().take(dims) {
            *l += c.pickup[d] - c.delivery[d];
        }
        excess_load += (0..dims)
            .map(|d| (load[d] - vt.capacity[d]).max(0))
            .sum::<i64>();
        skills_ok &= c.skills & !vt.skills == 0;
        t = start + c.service;
        stops.push(Stop {
            location: loc,
            arrival,
            start,
            departure: t,
            load,
        });
        prev = loc;
    }
    dist += prof.distance.get(prev, ed);
    let mut end_time = t + prof.duration.get(prev, ed);
    let end_open = vt.tw_early.max(end_dep.tw_early);
    if end_time < end_open {
        end_time = end_open;
    }
    if end_time > shift_late {
        warp += end_time - shift_late;
        end_time = shift_late;
    }
    let duration = end_time - start_time;
    warp += (duration - vt.max_duration).max(0);
    let excess_distance = (dist - vt.max_distance).max(0);
    let empty = route.visits.is_empty();
    let moved: i64 = route.visits.iter().map(|&l| data.client(l).move_cost(route.vehicle_type)).sum();
    let cost = if empty {
        0
    } else {
        vt.fixed_cost + vt.unit_distance_cost * dist + vt.unit_duration_cost * duration + moved
    };
    RouteReport {
        vehicle_type: route.vehicle_type,
        distance: if empty { 0 } else { dist },
        duration: if empty { 0 } else { duration },
        start_time,
        end_time,
        time_warp: warp,
        excess_load,
        excess_distance,
        skills_ok,
        cost,
        stops,
    }
}

/// The schedule of a route that leaves its start depot exactly at `start_time` (a vehicle already on
/// the road, or one whose departure was decided earlier): leaving before the shift or the depot
/// opens, or after either closes, counts as time warp.
pub fn evaluate_route_from(data: &ProblemData, route: &Route, start_time: i64) -> RouteReport {
    let vt = &data.vehicle_types[route.vehicle_type];
    let depot = &data.depots[vt.start_depot];
    let mut report = simulate(data, route, start_time);
    let (open, close) = (
        vt.tw_early.max(depot.tw_early),
        vt.tw_late.min(depot.tw_late),
    );
    let release = route.visits.iter().map(|&l| data.client(l).release).max().unwrap_or(0);
    report.time_warp += (open - start_time).max(0) + (start_time - close).max(0) + (release - start_time).max(0);
    report
}

/// Full evaluation. Errors only on a structurally invalid solution (unknown vehicle type or client,
/// a client visited twice, more routes of a type than vehicles); constraint violations are reported
/// in `feasible` instead.
pub fn evaluate(data: &ProblemData, sol: &Solution) -> Result<Evaluation> {
    evaluate_with_starts(data, sol, &[])
}

/// `evaluate`, with the departure of route `r` from its start depot fixed at `starts[r]` where that
/// is `Some` (missing entries: chosen by `evaluate_route`).
pub fn evaluate_with_starts(
    data: &ProblemData,
    sol: &Solution,
    starts: &[Option<i64>],
) -> Result<Evaluation> {
    if !starts.is_empty() && starts.len() != sol.routes.len() {
        return Err(Error::config(format!(
            "{} start times given for {} routes",
            starts.len(),
            sol.routes.len()
        )));
    }
    let mut seen = vec![false; data.num_locations()];
    let mut used = vec![0usize; data.vehicle_types.len()];
    for (r, route) in sol.routes.iter().enumerate() {
        if route.vehicle_type >= data.vehicle_types.len() {
            return Err(Error::config(format!(
                "route {r}: vehicle type {} does not exist",
                route.vehicle_type
            )));
        }
        used[route.vehicle_type] += 1;
        for &loc in &route.visits {
            if loc < data.num_depots() || loc >= data.num_locations() {
                return Err(Error::config(format!(
                    "route {r}: location {loc} is not a client"
                )));
            }
            if seen[loc] {
                return Err(Error::config(format!(
                    "route {r}: client {} is visited twice",
                    loc - data.num_depots()
                )));
            }
            seen[loc] = true;
        }
    }
    let mut feasible = true;
    for (t, &n) in used.iter().enumerate() {
        if n > data.vehicle_types[t].count {
            feasible = false;
        }
    }
    let routes: Vec<RouteReport> = sol
        .routes
        .iter()
        .enumerate()
        .map(|(r, route)| match starts.get(r).copied().flatten() {
            Some(t) => evaluate_route_from(data, route, t),
            None => evaluate_route(data, route),
        })
        .collect();
    let mut missing = Vec::new();
    let mut uncollected = 0;
    for (i, c) in data.clients.iter().enumerate() {
        if !seen[data.num_depots() + i] {
            if c.required {
                missing.push(i);
            } else {
                uncollected += c.prize;
            }
        }
    }
    feasible &= missing.is_empty() && routes.iter().all(|r| r.feasible());
    Ok(Evaluation {
        cost: routes.iter().map(|r| r.cost).sum::<i64>() + uncollected,
        distance: routes.iter().map(|r| r.distance).sum(),
        duration: routes.iter().map(|r| r.duration).sum(),
        uncollected_prizes: uncollected,
        missing,
        feasible,
        routes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::problem::planar;

    #[test]
    fn distance_and_capacity() {
        let data = planar((0.0, 0.0), &[(3.0, 4.0, 6), (6.0, 8.0, 6)], 2, 10);
        let both = Solution {
            routes: vec![Route {
                vehicle_type: 0,
                visits: vec![1, 2],
            }],
        };
        let e = evaluate(&data, &both).unwrap();
        assert_eq!(e.distance, 20);
        assert!(!e.feasible);
        assert_eq!(e.routes[0].excess_load, 2);
        let split = Solution {
            routes: vec![
                Route {
                    vehicle_type: 0,
                    visits: vec![1],
                },
                Route {
                    vehicle_type: 0,
                    visits: vec![2],
                },
            ],
        };
        let e = evaluate(&data, &split).unwrap();
        assert_eq!((e.distance, e.feasible), (30, true));
        let twice = Solution {
            routes: vec![Route {
                vehicle_type: 0,
                visits: vec![1, 1, 2],
            }],
        };
        assert!(evaluate(&data, &twice).is_err());
        let missing = Solution {
            routes: vec![Route {
                vehicle_type: 0,
                visits: vec![1],
            }],
        };
        let e = evaluate(&data, &missing).unwrap();
        assert_eq!((e.missing.clone(), e.feasible), (vec![1], false));
    }

    #[test]
    fn waits_for_the_next_of_several_windows() {
        let mut data = planar((0.0, 0.0), &[(10.0, 0.0, 0)], 1, 10);
        data.clients[0].time_windows = vec![(0, 5), (30, 40)];
        data.clients[0].service = 2;
        let e = evaluate(
            &data,
            &Solution {
                routes: vec![Route {
                    vehicle_type: 0,
                    visits: vec![1],
                }],
            },
        )
        .unwrap();
        let s = &e.routes[0].stops[0];
        assert_eq!((s.start, s.departure), (30, 32));
        assert!(e.feasible);
    }
}
