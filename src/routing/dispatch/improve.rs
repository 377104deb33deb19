//! Re-optimising the unfrozen part of the plan with the solver's own search.
//!
//! The unfrozen rest of the day becomes a problem of its own (as `replan` does for `insert`):
//! each van is a vehicle type of its own that starts where its frozen stops end, when it leaves
//! the last of them (a van with nothing frozen starts at its depot, no earlier than now). A van
//! whose load is fixed (on the road, or being loaded) keeps its goods: its remaining deliveries
//! carry a code word only it has, and it takes no goods from the depot (a skill bit only free vans
//! have); it may take pickups it has room for. Every planned stop is promised to its van: serving
//! it with another van costs `stability`, so a new plan moves stops only where that pays.
//!
//! The search starts from the current plan. Its result is accepted only if, simulated as it will
//! be driven, it makes no stop late that was not, no limit worse on any van, keeps every planned
//! order, and costs less (moves included). Orders waiting for a van are then tried again by
//! cheapest insertion.

use super::order::OrderState;
use super::replan::code_words;
use super::schedule::Schedule;
use super::sites::Place;
use super::state::Dispatcher;
use crate::routing::problem::{Client, Depot, ProblemData, VehicleType, INF};
use crate::routing::search::{solve, SolveParams};
use crate::routing::solution::{Route, Solution};
use crate::routing::stop::StopCriteria;
use serde::{Deserialize, Serialize};

/// Iterations of each loaded van's own re-ordering search.
const LOCKED_ITERATIONS: u64 = 30;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImproveReport {
    pub iterations: u64,
    pub accepted: bool,
    /// Cost of the plan before and after re-optimising (internal units; after includes the price
    /// of the promised stops moved; waiting orders placed afterwards are not counted).
    pub cost_before: i64,
    pub cost_after: i64,
    /// Planned stops moved to another van.
    pub moved: usize,
    /// Waiting orders placed.
    pub placed: usize,
    pub runtime_s: f64,
}

/// The unfrozen rest of the day as a problem, and how it maps back.
struct Sub {
    data: ProblemData,
    /// Van of each vehicle type of `data`.
    van_of_type: Vec<usize>,
    /// Order of each client of `data`.
    order_of_client: Vec<u32>,
    initial: Solution,
}

impl Dispatcher {
    /// Re-optimises the unfrozen part of the plan within `stop` (deterministic under an iteration
    /// budget), then tries the waiting orders again.
    pub fn improve(&mut self, stop: &StopCriteria, now: i64) -> ImproveReport {
        self.improve_with(stop, now, &mut || true)
    }

    /// `improve`, asking `keep_going` about every 100 ms whether to go on (Ctrl-C): when it says
    /// no, the best plan found so far is considered as usual.
    pub fn improve_with(&mut self, stop: &StopCriteria, now: i64, keep_going: &mut dyn FnMut() -> bool) -> ImproveReport {
        let started = std::time::Instant::now();
        self.advance(now);
        self.improve_count += 1;
        self.stats.improves += 1;
        let mut report = ImproveReport::default();
        let stop = if stop.is_bounded() { stop.clone() } else { StopCriteria::iterations(200) };
        report.cost_before = self.plan_schedules(&self.routes()).iter().map(|s| s.cost).sum();
        // Vans whose load is fixed can only reorder their own stops: a small search each, so that
        // stops a delay made late on one van do not weigh on everyone's search.
        let locked: Vec<usize> = (0..self.vans.len())
            .filter(|&v| {
                let s = &self.vans[v];
                (s.committed || s.on_road()) && !s.done() && s.route.len() >= s.frozen + 3
            })
            .collect();
        let own = StopCriteria { max_iterations: Some(stop.max_iterations.unwrap_or(200).min(LOCKED_ITERATIONS)), max_runtime: None, no_improvement: None };
        for (part, &v) in locked.iter().enumerate() {
            self.improve_part(&[v], &own, part as u64 + 1, &mut report, keep_going);
        }
        // Everything that can still move between vans: the vans at the depot and their orders.
        let free: Vec<usize> = (0..self.vans.len()).filter(|&v| !self.vans[v].committed && !self.vans[v].on_road() && !self.vans[v].done()).collect();
        self.improve_part(&free, &stop, 0, &mut report, keep_going);
        let planned: i64 = self.plan_schedules(&self.routes()).iter().map(|s| s.cost).sum();
        report.cost_after = planned + self.settings.stability * report.moved as i64;
        report.placed = self.place_waiting();
        report.runtime_s = started.elapsed().as_secs_f64();
        self.refresh();
        report
    }

    fn routes(&self) -> Vec<Vec<u32>> {
        self.vans.iter().map(|v| v.route.clone()).collect()
    }

    /// Re-optimises the unfrozen stops of `vans` among themselves; adopts the result if acceptable.
    fn improve_part(&mut self, vans: &[usize], stop: &StopCriteria, part: u64, report: &mut ImproveReport, keep_going: &mut dyn FnMut() -> bool) {
        let Some(sub) = self.subproblem(vans) else { return };
        let params = SolveParams {
            seed: self.settings.seed.wrapping_add(self.improve_count.wrapping_mul(0x9E37_79B9)).wrapping_add(part.wrapping_mul(7919)),
            threads: if part == 0 { self.settings.threads.max(1) } else { 1 },
            stop: stop.clone(),
            initial: Some(sub.initial.clone()),
            ..SolveParams::default()
        };
        let result = solve(&sub.data, &params, &mut |_| keep_going());
        report.iterations += result.iterations;
        let current = self.routes();
        let mut candidate = current.clone();
        for &van in &sub.van_of_type {
            candidate[van].truncate(self.vans[van].frozen);
        }
        for route in &result.solution.routes {
            let van = sub.van_of_type[route.vehicle_type];
            candidate[van].extend(route.visits.iter().map(|&c| sub.order_of_client[c - sub.data.num_depots()]));
        }
        if candidate == current {
            return;
        }
        let before = self.plan_schedules(&current);
        let cost_before: i64 = before.iter().map(|s| s.cost).sum();
        if let Some((cost, moved)) = self.acceptable(&current, &before, &candidate) {
            if cost < cost_before {
                self.adopt(candidate);
                report.accepted = true;
                report.moved += moved;
                self.stats.improvements += 1;
                self.stats.moved_stops += moved as u64;
            }
        }
    }

    pub(super) fn plan_schedules(&self, routes: &[Vec<u32>]) -> Vec<Schedule> {
        (0..self.vans.len()).map(|v| self.schedule(v, &routes[v])).collect()
    }

    /// The candidate's cost (with the price of moved promises) and its moves, if it is as
    /// drivable as the current plan: no newly late stop, no more lateness, no van worse on a limit,
    /// every planned order still planned.
    fn acceptable(&self, current: &[Vec<u32>], before: &[Schedule], candidate: &[Vec<u32>]) -> Option<(i64, usize)> {
        let planned_on = |routes: &[Vec<u32>]| {
            let mut on = vec![None; self.orders.len()];
            for (v, r) in routes.iter().enumerate() {
                for &k in r {
                    on[k as usize] = Some(v);
                }
            }
            on
        };
        let (was, now) = (planned_on(current), planned_on(candidate));
        if was.iter().zip(&now).any(|(a, b)| a.is_some() != b.is_some()) {
            return None;
        }
        let after = self.plan_schedules(candidate);
        // Per stop: at risk (within its buffer) and late; neither may appear where it was not.
        let flags = |routes: &[Vec<u32>], s: &[Schedule]| {
            let mut flags = vec![(false, false); self.orders.len()];
            for (r, sched) in routes.iter().zip(s) {
                for (&k, t) in r.iter().zip(&sched.stops) {
                    flags[k as usize] = (t.at_risk, t.late);
                }
            }
            flags
        };
        let (was_flagged, is_flagged) = (flags(current, before), flags(candidate, &after));
        if is_flagged.iter().zip(&was_flagged).any(|(a, b)| (a.0 && !b.0) || (a.1 && !b.1)) {
            return None;
        }
        let total = |s: &[Schedule], f: fn(&Schedule) -> i64| s.iter().map(f).sum::<i64>();
        if total(&after, |s| s.risk) > total(before, |s| s.risk) || total(&after, |s| s.lateness) > total(before, |s| s.lateness) {
            return None;
        }
        for (a, b) in after.iter().zip(before) {
            if a.violations()[4..].iter().zip(&b.violations()[4..]).any(|(x, y)| x > y) {
                return None;
            }
        }
        let moved = was.iter().zip(&now).filter(|(a, b)| a.is_some() && a != b).count();
        let cost = after.iter().map(|s| s.cost).sum::<i64>() + self.settings.stability * moved as i64;
        Some((cost, moved))
    }

    fn adopt(&mut self, candidate: Vec<Vec<u32>>) {
        for (van, route) in candidate.into_iter().enumerate() {
            for &k in &route {
                if let OrderState::Planned { van: was } = self.orders[k as usize].state {
                    if was as usize != van {
                        self.orders[k as usize].state = OrderState::Planned { van: van as u32 };
                    }
                }
            }
            self.vans[van].route = route;
        }
    }

    /// Tries every waiting order again (in arrival order); returns how many found a van.
    pub(super) fn place_waiting(&mut self) -> usize {
        let waiting: Vec<u32> = (0..self.orders.len() as u32)
            .filter(|&k| matches!(self.orders[k as usize].state, OrderState::Unassigned { .. }))
            .collect();
        let mut placed = 0;
        for k in waiting {
            match self.insert(k) {
                Ok(_) => {
                    placed += 1;
                    self.fate(k, self.now());
                }
                Err(reason) => self.orders[k as usize].state = OrderState::Unassigned { reason },
            }
        }
        placed
    }

    /// The unfrozen stops of `vans` as a problem (None when nothing is left to re-plan).
    fn subproblem(&self, vans: &[usize]) -> Option<Sub> {
        let nd = self.fleet.depots.len();
        let used = self.fleet.vehicle_types.iter().fold(0u64, |a, v| a | v.skills)
            | self.orders.iter().filter(|o| o.state.is_open()).fold(0u64, |a, o| a | o.spec.skills);
        let free: Vec<u32> = (0..64).filter(|b| used & (1u64 << b) == 0).collect();
        let (&depot_bit, code_bits) = free.split_first()?;
        let at_depot = 1u64 << depot_bit;
        let vans: Vec<usize> = vans
            .iter()
            .copied()
            .filter(|&v| {
                let s = &self.vans[v];
                // A van driving home takes nothing more.
                !s.done() && (!s.on_road() || !s.route.is_empty())
            })
            .collect();
        let locked: Vec<usize> = vans.iter().copied().filter(|&v| self.vans[v].committed || self.vans[v].on_road()).collect();
        let codes = code_words(code_bits, locked.len())?;
        let mut depots: Vec<Depot> = self.fleet.depots.clone();
        let mut slots: Vec<u32> = (0..nd as u32).collect();
        let mut vehicle_types = Vec::with_capacity(vans.len());
        let mut clients = Vec::new();
        let mut order_of_client = Vec::new();
        let mut initial = Solution::default();
        for (t, &v) in vans.iter().enumerate() {
            let state = &self.vans[v];
            let vt = self.fleet.vehicle(v);
            let schedule = self.schedule(v, &state.route);
            let code = locked.iter().position(|&l| l == v).map(|i| codes[i]);
            let (_, close) = self.fleet.shift(v);
            let mut sub = VehicleType { count: 1, ..vt.clone() };
            if state.frozen > 0 || code.is_some() {
                // Starts where (and when) its frozen stops end; its load is fixed.
                let (slot, time) = match state.frozen {
                    0 => (vt.start_depot as u32, schedule.departure),
                    f => (self.orders[state.route[f - 1] as usize].slot(), schedule.stops[f - 1].departure),
                };
                let place = self.sites.place(slot);
                let (x, y) = match place {
                    Place::Point(a, b) => (a, b),
                    Place::Site(_) => (0.0, 0.0),
                };
                depots.push(Depot { x, y, tw_early: time, tw_late: time });
                slots.push(slot);
                let prefix = &state.route[..state.frozen];
                let picked: Vec<i64> = (0..self.fleet.num_dims)
                    .map(|d| state.on_board[d] + prefix.iter().map(|&k| self.orders[k as usize].spec.pickup[d]).sum::<i64>())
                    .collect();
                let left = state.departure.unwrap_or(time);
                sub.start_depot = depots.len() - 1;
                sub.tw_early = time;
                sub.tw_late = close.max(time);
                sub.capacity = vt.capacity.iter().zip(&picked).map(|(c, p)| (c - p).max(0)).collect();
                sub.max_duration = if vt.max_duration >= INF { INF } else { (vt.max_duration - (time - left)).max(0) };
                sub.max_distance = if vt.max_distance >= INF { INF } else { (vt.max_distance - state.driven - self.prefix_distance(v)).max(0) };
                sub.fixed_cost = 0;
                sub.skills = vt.skills | code.unwrap_or(0);
            } else {
                sub.tw_early = vt.tw_early.max(self.now());
                sub.tw_late = vt.tw_late.max(sub.tw_early);
                sub.skills = vt.skills | at_depot;
            }
            vehicle_types.push(sub);
            let mut visits = Vec::new();
            for &k in &state.route[state.frozen..] {
                let o = &self.orders[k as usize];
                let (x, y) = match o.spec.place {
                    Place::Point(a, b) => (a, b),
                    Place::Site(_) => (0.0, 0.0),
                };
                let carried = match code {
                    Some(c) if o.spec.has_goods_at_depot() => c,
                    None if o.spec.has_goods_at_depot() => at_depot,
                    _ => 0,
                };
                clients.push(Client {
                    x,
                    y,
                    delivery: o.spec.delivery.clone(),
                    pickup: o.spec.pickup.clone(),
                    service: o.spec.service,
                    time_windows: if o.spec.windows.is_empty() {
                        vec![(0, INF)]
                    } else {
                        let mut w = o.spec.windows.clone();
                        let last = w.len() - 1;
                        w[last].1 = o.planning_close(self.settings.buffer);
                        w
                    },
                    prize: 0,
                    required: true,
                    skills: o.spec.skills | carried,
                    release: o.spec.depot_release(),
                    promised: Some((t, self.settings.stability)),
                });
                order_of_client.push(k);
                visits.push(clients.len() - 1);
            }
            if !visits.is_empty() {
                initial.routes.push(Route { vehicle_type: t, visits });
            }
        }
        if clients.is_empty() {
            return None;
        }
        let first_client = depots.len();
        for r in &mut initial.routes {
            r.visits.iter_mut().for_each(|c| *c += first_client);
        }
        slots.extend(order_of_client.iter().map(|&k| self.orders[k as usize].slot()));
        let profiles = self.sites.profiles(&slots);
        let data = ProblemData::unchecked_servability(depots, clients, vehicle_types, profiles).ok()?;
        Some(Sub { data, van_of_type: vans, order_of_client, initial })
    }

    /// Distance from van `v`'s last report through its frozen stops.
    fn prefix_distance(&self, v: usize) -> i64 {
        let state = &self.vans[v];
        let mut prev = match state.phase {
            super::state::Phase::Driving { from, .. } => from,
            super::state::Phase::AtStop { .. } => state.position,
            _ => self.fleet.vehicle(v).start_depot as u32,
        };
        let mut total = 0;
        for &k in &state.route[..state.frozen] {
            let slot = self.orders[k as usize].slot();
            total += self.sites.dist(prev, slot);
            prev = slot;
        }
        total
    }
}
