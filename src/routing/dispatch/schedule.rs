//! A van's day as it will be driven: ETAs from what the van last reported, stop by stop.
//!
//! Unlike the solver's evaluator (which "warps" time back at a missed window), this simulation is
//! physical: a van that reaches a stop after its window closed serves it late, and everything after
//! shifts. A van on the road continues from its last report (a van overdue at a stop is assumed to
//! get there no earlier than now); a van at the depot leaves at the earliest time that achieves its
//! route's minimal duration, and never before now, its shift, or its goods' release.

use super::order::Order;
use super::state::{Dispatcher, Phase, VanState};
use crate::routing::problem::MAX_DIMS;
use crate::routing::segment::DurSeg;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopTimes {
    pub arrival: i64,
    pub start: i64,
    pub departure: i64,
    /// Reached after its last window closed.
    pub late: bool,
    /// Reached later than a plan aims for (its window's close less the buffer).
    pub at_risk: bool,
    /// Load on board when leaving.
    pub load: [i64; MAX_DIMS],
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// When the van leaves (or left) its start depot; for a van on the road, when it left its
    /// last reported place.
    pub departure: i64,
    pub stops: Vec<StopTimes>,
    /// Back at its end depot.
    pub end: i64,
    /// Distance still to drive.
    pub distance: i64,
    pub late_stops: usize,
    pub lateness: i64,
    /// Stops reached later than the plan aims for, and by how much in all.
    pub risky_stops: usize,
    pub risk: i64,
    pub excess_load: i64,
    /// Back after its shift ends, by this much.
    pub end_late: i64,
    pub excess_duration: i64,
    pub excess_distance: i64,
    /// Fixed cost (if used), distance and duration costs of what remains.
    pub cost: i64,
}

impl Schedule {
    /// What plans must not make worse, each summed: stops later than aimed for (late, or within
    /// the buffer) and by how much, stops late and by how much, load, shift, duration and distance
    /// excess.
    pub fn violations(&self) -> [i64; 8] {
        [
            self.risky_stops as i64,
            self.risk,
            self.late_stops as i64,
            self.lateness,
            self.excess_load,
            self.end_late,
            self.excess_duration,
            self.excess_distance,
        ]
    }
    pub fn feasible(&self) -> bool {
        self.violations() == [0; 8]
    }
}

impl Dispatcher {
    /// The schedule of van `van` driving `route` (its remaining stops) from what it last reported.
    pub fn schedule(&self, van: usize, route: &[u32]) -> Schedule {
        let state = &self.vans[van];
        if state.done() {
            return Schedule::default();
        }
        let vt = self.fleet.vehicle(van);
        let start_slot = vt.start_depot as u32;
        let departure = match state.phase {
            Phase::AtDepot if route.is_empty() => return Schedule { departure: self.now(), end: self.now(), ..Default::default() },
            Phase::AtDepot => match (state.committed, state.departure) {
                (true, Some(planned)) => planned.max(self.now()),
                _ => self.best_departure(van, route),
            },
            Phase::Driving { since, .. } => since,
            Phase::AtStop { arrived } => arrived,
            Phase::Done { .. } => unreachable!("handled above"),
        };
        self.simulate(van, state, route, departure, start_slot)
    }

    /// The earliest departure achieving the route's minimal duration (by the segment algebra over
    /// the route's windows), if it makes nothing late that leaving as early as possible does not.
    fn best_departure(&self, van: usize, route: &[u32]) -> i64 {
        let vt = self.fleet.vehicle(van);
        let (open, close) = self.fleet.shift(van);
        let release = route.iter().map(|&k| self.orders[k as usize].spec.depot_release()).max().unwrap_or(0);
        let earliest = self.now().max(open).max(release);
        let profile = vt.profile;
        let mut seg = DurSeg::visit(vt.start_depot, 0, earliest, close.max(earliest));
        let mut prev = vt.start_depot as u32;
        for &k in route {
            let o = &self.orders[k as usize];
            let slot = o.slot();
            let visit = DurSeg::visit(slot as usize, o.spec.service, o.open(), o.planning_close(self.settings.buffer));
            seg = DurSeg::merge_edge(self.sites.dur(profile, prev, slot), &seg, &visit);
            prev = slot;
        }
        let end = DurSeg::visit(vt.end_depot, 0, 0, close);
        seg = DurSeg::merge_edge(self.sites.dur(profile, prev, vt.end_depot as u32), &seg, &end);
        let hull = seg.start().max(earliest);
        if hull == earliest {
            return earliest;
        }
        let state = &self.vans[van];
        let at_hull = self.simulate(van, state, route, hull, vt.start_depot as u32);
        let at_earliest = self.simulate(van, state, route, earliest, vt.start_depot as u32);
        if at_hull.violations() <= at_earliest.violations() {
            hull
        } else {
            earliest
        }
    }

    fn simulate(&self, van: usize, state: &VanState, route: &[u32], departure: i64, start_slot: u32) -> Schedule {
        let vt = self.fleet.vehicle(van);
        let (_, close) = self.fleet.shift(van);
        let dims = self.fleet.num_dims;
        let profile = vt.profile;
        let now = self.now();
        let mut load = [0i64; MAX_DIMS];
        for (d, l) in load.iter_mut().enumerate().take(dims) {
            *l = state.on_board[d] + route.iter().map(|&k| self.orders[k as usize].spec.delivery[d]).sum::<i64>();
        }
        let excess = |load: &[i64; MAX_DIMS]| (0..dims).map(|d| (load[d] - vt.capacity[d]).max(0)).sum::<i64>();
        let mut out = Schedule { departure, excess_load: excess(&load), ..Default::default() };
        let (mut prev, mut t) = match state.phase {
            Phase::Driving { from, since } => (from, since),
            _ => (start_slot, departure),
        };
        for (i, &k) in route.iter().enumerate() {
            let o: &Order = &self.orders[k as usize];
            let slot = o.slot();
            let arrival = match (i, state.phase) {
                (0, Phase::AtStop { arrived }) => arrived,
                (0, Phase::Driving { .. }) => (t + self.sites.dur(profile, prev, slot)).max(now),
                _ => t + self.sites.dur(profile, prev, slot),
            };
            if !(i == 0 && matches!(state.phase, Phase::AtStop { .. })) {
                out.distance += self.sites.dist(prev, slot);
            }
            let (start, late) = o.service_start(arrival);
            if late {
                out.late_stops += 1;
                out.lateness += arrival - o.close();
            }
            let aim = o.planning_close(self.settings.buffer);
            let at_risk = arrival > aim;
            if at_risk {
                out.risky_stops += 1;
                out.risk += arrival - aim;
            }
            let mut departure = start + o.spec.service;
            if i == 0 && matches!(state.phase, Phase::AtStop { .. }) {
                departure = departure.max(now); // still there
            }
            for (d, l) in load.iter_mut().enumerate().take(dims) {
                *l += o.spec.pickup[d] - o.spec.delivery[d];
            }
            out.excess_load += excess(&load);
            out.stops.push(StopTimes { arrival, start, departure, late, at_risk, load });
            prev = slot;
            t = departure;
        }
        let end_slot = vt.end_depot as u32;
        let mut end = t + self.sites.dur(profile, prev, end_slot);
        if route.is_empty() {
            if let Phase::Driving { .. } = state.phase {
                end = end.max(now);
            }
        }
        out.distance += self.sites.dist(prev, end_slot);
        out.end = end;
        out.end_late = (end - close).max(0);
        let left = state.departure.unwrap_or(departure);
        out.excess_duration = (end - left - vt.max_duration).max(0);
        out.excess_distance = (state.driven + out.distance - vt.max_distance).max(0);
        let used = state.on_road() || !route.is_empty();
        out.cost = if used {
            vt.fixed_cost + vt.unit_distance_cost * out.distance + vt.unit_duration_cost * (end - left)
        } else {
            0
        };
        out
    }
}
