//! Re-planning a running day: which stops are already driven at a given time, the problem of the
//! rest of the day, and the whole day put back together.
//!
//! The rest of the day is a problem of its own. A vehicle on the road becomes a vehicle type of
//! its own that leaves its last fixed stop exactly when its service there ends. It carries exactly
//! the goods of its remaining planned deliveries: those stay on it (no other vehicle can serve
//! them), and it cannot take goods that are still at the depot (a new order's, or those planned on
//! a vehicle not yet out); it may take pickups it has room for. Vehicles not yet out take anything
//! and leave no earlier than `now`. Both restrictions are skills on bits the model does not use: one
//! bit "loaded at the depot" that only vehicles at the depot have, and per vehicle on the road a code
//! word of equal weight (no word contains another), so a client carrying van k's word fits van k
//! only. Clients that no vehicle can serve any more are left out with the reason.

use crate::routing::problem::{Depot, Matrix, ProblemData, Profile, VehicleType, INF};
use crate::routing::solution::{evaluate, evaluate_route_from, Evaluation, Route, Solution};
use crate::error::{Error, Result};

/// A route of the running plan and when it left (or leaves) its start depot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningRoute {
    pub vehicle_type: usize,
    /// Client locations in visiting order.
    pub visits: Vec<usize>,
    pub start_time: i64,
}

/// The rest of the day as a problem of its own, and how it maps back to the whole day.
#[derive(Clone, Debug)]
pub struct Replan {
    pub data: ProblemData,
    /// Location in the whole day of each location of `data` (the start of a vehicle on the road
    /// is its last fixed stop).
    pub location: Vec<usize>,
    /// Per running route: how many of its stops are driven or being driven to at `now`.
    pub fixed: Vec<usize>,
    /// Per running route: its vehicle type in `data` while it is on the road with stops left.
    pub own_type: Vec<Option<usize>>,
    /// Per vehicle type of `data`: the vehicle type of the whole day.
    pub full_type: Vec<usize>,
    /// Clients (of the whole day) that no vehicle can serve any more, with the reason.
    pub unservable: Vec<(usize, String)>,
    /// The running plan's remaining stops, as a first solution of `data`.
    pub initial: Solution,
}

/// How many stops of a route are fixed at `now`: those the vehicle has reached or is driving to
/// (it left the previous stop, or the depot, at or before `now`); 0 while it is at the depot.
pub fn fixed_stops(report_departures: &[i64], start_time: i64, now: i64) -> usize {
    if start_time > now {
        return 0;
    }
    let mut fixed = 0;
    let mut left_previous = start_time;
    for (s, &departure) in report_departures.iter().enumerate() {
        if left_previous > now {
            break;
        }
        fixed = s + 1;
        left_previous = departure;
    }
    fixed
}

/// `k` distinct code words of equal weight over `bits` (so none contains another).
pub(super) fn code_words(bits: &[u32], k: usize) -> Option<Vec<u64>> {
    if k == 0 {
        return Some(vec![]);
    }
    let n = bits.len();
    let weight = if k <= n { 1 } else { n / 2 };
    if weight == 0 {
        return None;
    }
    let mut words = Vec::with_capacity(k);
    let mut pick: Vec<usize> = (0..weight).collect();
    loop {
        words.push(pick.iter().fold(0u64, |w, &i| w | 1 << bits[i]));
        if words.len() == k {
            return Some(words);
        }
        // next combination in lexicographic order
        let mut i = weight;
        loop {
            if i == 0 {
                return None;
            }
            i -= 1;
            if pick[i] != i + n - weight {
                break;
            }
        }
        pick[i] += 1;
        for j in i + 1..weight {
            pick[j] = pick[j - 1] + 1;
        }
    }
}

fn sub_matrix(m: &Matrix, location: &[usize]) -> Matrix {
    let data = location
        .iter()
        .flat_map(|&a| location.iter().map(move |&b| m.get(a, b)))
        .collect();
    Matrix::new(location.len(), data).expect("a square gather of a valid matrix")
}

enum Status {
    AtDepot,
    OnTheRoad,
    Finished,
}

/// The problem of the rest of the day at `now`, given the running plan.
pub fn replan(data: &ProblemData, running: &[RunningRoute], now: i64) -> Result<Replan> {
    let nd = data.num_depots();
    let plan = Solution {
        routes: running
            .iter()
            .map(|r| Route {
                vehicle_type: r.vehicle_type,
                visits: r.visits.clone(),
            })
            .collect(),
    };
    evaluate(data, &plan)?; // structural checks: types exist, clients once each
    let mut fixed = Vec::with_capacity(running.len());
    let mut status = Vec::with_capacity(running.len());
    let mut reports = Vec::with_capacity(running.len());
    for (r, route) in running.iter().zip(&plan.routes) {
        let report = evaluate_route_from(data, route, r.start_time);
        let departures: Vec<i64> = report.stops.iter().map(|s| s.departure).collect();
        let f = fixed_stops(&departures, r.start_time, now);
        // A vehicle that has not left its last stop may still add pickups after it; one driving
        // back to its end depot (or back there) is done.
        let done = f == r.visits.len() && departures.last().is_some_and(|&d| d <= now);
        status.push(if f == 0 {
            Status::AtDepot
        } else if done {
            Status::Finished
        } else {
            Status::OnTheRoad
        });
        fixed.push(f);
        reports.push(report);
    }
    let on_road: Vec<usize> = (0..running.len())
        .filter(|&r| matches!(status[r], Status::OnTheRoad))
        .collect();

    // Skill bits the model leaves free: one for "loaded at the depot", the rest for code words.
    let used = data
        .clients
        .iter()
        .map(|c| c.skills)
        .chain(data.vehicle_types.iter().map(|v| v.skills))
        .fold(0u64, |a, b| a | b);
    let free: Vec<u32> = (0..64).filter(|b| used & (1u64 << b) == 0).collect();
    let Some((&depot_bit, code_bits)) = free.split_first() else {
        return Err(Error::config(
            "re-planning needs a skill bit the model does not use (it uses all 64)",
        ));
    };
    let at_depot = 1u64 << depot_bit;
    let codes = code_words(code_bits, on_road.len()).ok_or_else(|| {
        Error::config(format!(
            "{} vehicles are on the road, more than the {} skill bits the model leaves free can tell apart",
            on_road.len(),
            code_bits.len()
        ))
    })?;

    // Depots: the real ones, then where each vehicle on the road is.
    let mut depots = data.depots.clone();
    let mut location: Vec<usize> = (0..nd).collect();
    let mut own_type = vec![None; running.len()];
    let mut vehicle_types = Vec::new();
    let mut full_type = Vec::new();
    let mut carried_by = vec![None; data.num_locations()];
    for (k, &r) in on_road.iter().enumerate() {
        let route = &running[r];
        let vt = &data.vehicle_types[route.vehicle_type];
        let last = route.visits[fixed[r] - 1];
        let stop = &reports[r].stops[fixed[r] - 1];
        let leave = stop.departure;
        let (x, y) = data.xy(last);
        depots.push(Depot {
            x,
            y,
            tw_early: leave,
            tw_late: leave,
        });
        location.push(last);
        let prof = &data.profiles[vt.profile];
        let mut driven = prof.distance.get(vt.start_depot, route.visits[0]);
        for w in route.visits[..fixed[r]].windows(2) {
            driven += prof.distance.get(w[0], w[1]);
        }
        // Pickups made so far stay on board until the depot; the deliveries still on board are the
        // remaining clients', which the load of the sub-route counts from its start.
        let picked: Vec<i64> = (0..data.num_dims)
            .map(|d| {
                route.visits[..fixed[r]]
                    .iter()
                    .map(|&l| data.client(l).pickup[d])
                    .sum()
            })
            .collect();
        let left = |limit: i64, used: i64| {
            if limit >= INF {
                INF
            } else {
                (limit - used).max(0)
            }
        };
        for &l in &route.visits[fixed[r]..] {
            if data.client(l).delivery.iter().any(|&q| q > 0) {
                carried_by[l] = Some(k);
            }
        }
        own_type[r] = Some(vehicle_types.len());
        full_type.push(route.vehicle_type);
        vehicle_types.push(VehicleType {
            count: 1,
            capacity: vt
                .capacity
                .iter()
                .zip(&picked)
                .map(|(c, p)| (c - p).max(0))
                .collect(),
            start_depot: depots.len() - 1,
            tw_early: leave,
            max_duration: left(vt.max_duration, leave - route.start_time),
            max_distance: left(vt.max_distance, driven),
            fixed_cost: 0,
            skills: vt.skills | codes[k],
            ..vt.clone()
        });
    }
    let mut base_type = Vec::with_capacity(data.vehicle_types.len());
    for (t, vt) in data.vehicle_types.iter().enumerate() {
        let out = running
            .iter()
            .zip(&status)
            .filter(|(r, s)| r.vehicle_type == t && !matches!(s, Status::AtDepot))
            .count();
        let count = vt.count.saturating_sub(out);
        base_type.push(vehicle_types.len());
        full_type.push(t);
        vehicle_types.push(VehicleType {
            count: if now > vt.tw_late { 0 } else { count },
            tw_early: vt.tw_early.max(now).min(vt.tw_late),
            skills: vt.skills | at_depot,
            ..vt.clone()
        });
    }

    // Clients: every one not yet driven to; goods at the depot need a vehicle at the depot.
    let mut driven = vec![false; data.num_locations()];
    for (r, route) in running.iter().enumerate() {
        for &l in &route.visits[..fixed[r]] {
            driven[l] = true;
        }
    }
    let open: Vec<usize> = (nd..data.num_locations()).filter(|&l| !driven[l]).collect();
    let client_of = |l: usize| {
        let mut c = data.client(l).clone();
        match carried_by[l] {
            // Its goods are on that van: it is served (late if need be), never dropped.
            Some(k) => {
                c.skills |= codes[k];
                c.required = true;
            }
            None if c.delivery.iter().any(|&q| q > 0) => c.skills |= at_depot,
            None => {}
        }
        c
    };
    let build = |clients: &[usize]| -> Result<(ProblemData, Vec<usize>)> {
        let mut loc = location.clone();
        loc.extend_from_slice(clients);
        let profiles = data
            .profiles
            .iter()
            .map(|p| Profile {
                distance: sub_matrix(&p.distance, &loc),
                duration: sub_matrix(&p.duration, &loc),
            })
            .collect();
        let sub = ProblemData::unchecked_servability(
            depots.clone(),
            clients.iter().map(|&l| client_of(l)).collect(),
            vehicle_types.clone(),
            profiles,
        )?;
        Ok((sub, loc))
    };
    let (first, _) = build(&open)?;
    let mut unservable = Vec::new();
    let mut keep = vec![true; open.len()];
    let route_of_type: Vec<Option<usize>> = (0..vehicle_types.len())
        .map(|t| own_type.iter().position(|&o| o == Some(t)))
        .collect();
    let name = |t: usize| match route_of_type[t] {
        Some(r) => format!("the vehicle of route {r} (on the road)"),
        None => format!(
            "vehicle type {} leaving the depot at {now} or later",
            full_type[t]
        ),
    };
    let no_free_vehicle =
        (0..vehicle_types.len()).all(|t| route_of_type[t].is_some() || vehicle_types[t].count == 0);
    for (i, why) in first.unservable_named(&name) {
        let loc = open[i];
        if carried_by[loc].is_some() {
            continue;
        }
        keep[i] = false;
        // Where the van has the client's own skills, the missing one is ours: goods at the depot.
        let mut why = why;
        let skills = data.client(loc).skills;
        for (t, r) in route_of_type.iter().enumerate() {
            let Some(r) = r else { continue };
            if skills & !data.vehicle_types[full_type[t]].skills != 0 {
                continue;
            }
            why = why.replace(
                &format!("the vehicle of route {r} (on the road) lacks a required skill"),
                &format!("the vehicle of route {r} is on the road and cannot load its goods at the depot"),
            );
        }
        if no_free_vehicle && data.client(loc).delivery.iter().any(|&q| q > 0) {
            why = if route_of_type.iter().any(Option::is_some) {
                format!("its goods are at the depot and every vehicle has left it; {why}")
            } else {
                "its goods are at the depot and every vehicle has left it".to_string()
            };
        }
        unservable.push((loc - nd, why));
    }
    let kept: Vec<usize> = open
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(&l, _)| l)
        .collect();
    let (sub, location) = if unservable.is_empty() {
        (
            first,
            location
                .iter()
                .copied()
                .chain(open.iter().copied())
                .collect(),
        )
    } else {
        build(&kept)?
    };

    // The running plan's remaining stops as a first solution.
    let mut sub_loc = vec![usize::MAX; data.num_locations()];
    for (s, &l) in location.iter().enumerate().skip(sub.num_depots()) {
        sub_loc[l] = s;
    }
    let mut initial = Solution::default();
    for (r, route) in running.iter().enumerate() {
        let vehicle_type = match status[r] {
            Status::Finished => continue,
            Status::OnTheRoad => own_type[r].expect("on the road"),
            Status::AtDepot => base_type[route.vehicle_type],
        };
        let visits: Vec<usize> = route.visits[fixed[r]..]
            .iter()
            .map(|&l| sub_loc[l])
            .filter(|&s| s != usize::MAX)
            .collect();
        if !visits.is_empty() {
            initial.routes.push(Route {
                vehicle_type,
                visits,
            });
        }
    }
    Ok(Replan {
        data: sub,
        location,
        fixed,
        own_type,
        full_type,
        unservable,
        initial,
    })
}

/// The whole day: each running route that has left keeps its fixed stops and its departure, and
/// continues with its part of `rest`; then the routes of vehicles that leave the depot now or later
/// (leaving when the rest of the day's evaluation has them leave). Returns the routes, each one's
/// departure from its start depot, and each one's number of fixed stops.
pub fn stitch(
    running: &[RunningRoute],
    replan: &Replan,
    rest: &Solution,
    rest_eval: &Evaluation,
) -> (Solution, Vec<Option<i64>>, Vec<usize>) {
    let back =
        |visits: &[usize]| -> Vec<usize> { visits.iter().map(|&s| replan.location[s]).collect() };
    let mut out = Solution::default();
    let mut starts = Vec::new();
    let mut fixed = Vec::new();
    for (r, route) in running.iter().enumerate() {
        if replan.fixed[r] == 0 {
            continue;
        }
        let mut visits = route.visits[..replan.fixed[r]].to_vec();
        if let Some(t) = replan.own_type[r] {
            if let Some(tail) = rest.routes.iter().find(|x| x.vehicle_type == t) {
                visits.extend(back(&tail.visits));
            }
        }
        out.routes.push(Route {
            vehicle_type: route.vehicle_type,
            visits,
        });
        starts.push(Some(route.start_time));
        fixed.push(replan.fixed[r]);
    }
    for (tail, report) in rest.routes.iter().zip(&rest_eval.routes) {
        if replan.own_type.contains(&Some(tail.vehicle_type)) {
            continue;
        }
        out.routes.push(Route {
            vehicle_type: replan.full_type[tail.vehicle_type],
            visits: back(&tail.visits),
        });
        starts.push(Some(report.start_time));
        fixed.push(0);
    }
    (out, starts, fixed)
}

#[cfg(test)]
mod tests;
