//! Placing one new order: the cheapest feasible insertion into the current plan.
//!
//! Every position after a van's frozen stops is a candidate. Candidates are tried in order of
//! their distance detour (a lower bound of their cost when travel times obey the triangle
//! inequality), each checked by simulating the van's whole remaining day: the order must be served
//! in its window, and nothing else may get worse (no stop later than its window that was not late,
//! no more load, shift, duration or distance excess). The first feasible candidate whose cost no
//! later bound can beat wins. When none is feasible, the reason says why, per kind of obstacle.

use super::state::Dispatcher;
use std::collections::HashMap;

#[derive(Default)]
struct Obstacles {
    done: usize,
    skills: usize,
    capacity: usize,
    loaded: usize,
    window: usize,
    earliest_arrival: Option<i64>,
    others: usize,
}

impl Dispatcher {
    /// Inserts order `k` at its cheapest feasible place; returns the van, or why no van can take it.
    pub(super) fn insert(&mut self, k: u32) -> Result<u32, String> {
        let (van, position) = self.best_insertion(k)?;
        self.vans[van].route.insert(position, k);
        self.orders[k as usize].state = super::order::OrderState::Planned { van: van as u32 };
        self.refresh();
        Ok(van as u32)
    }

    /// (van, position) of the cheapest feasible insertion of order `k`, or the reason there is none.
    pub(super) fn best_insertion(&self, k: u32) -> Result<(usize, usize), String> {
        let o = &self.orders[k as usize];
        let slot = o.slot();
        let dims = self.fleet.num_dims;
        let mut why = Obstacles::default();
        let mut candidates: Vec<(i64, usize, usize)> = Vec::new();
        for (van, state) in self.vans.iter().enumerate() {
            let vt = self.fleet.vehicle(van);
            if state.done() {
                why.done += 1;
                continue;
            }
            if o.spec.skills & !vt.skills != 0 {
                why.skills += 1;
                continue;
            }
            if (0..dims).any(|d| o.spec.delivery[d].max(o.spec.pickup[d]) > vt.capacity[d]) {
                why.capacity += 1;
                continue;
            }
            if o.spec.has_goods_at_depot() && (state.committed || state.on_road()) {
                why.loaded += 1;
                continue;
            }
            let route = &state.route;
            let anchor = match state.phase {
                super::state::Phase::Driving { from, .. } => from,
                _ => vt.start_depot as u32,
            };
            let end = vt.end_depot as u32;
            let fixed = if route.is_empty() && !state.on_road() { vt.fixed_cost } else { 0 };
            for p in state.frozen..=route.len() {
                let prev = if p == 0 { anchor } else { self.orders[route[p - 1] as usize].slot() };
                let next = if p < route.len() { self.orders[route[p] as usize].slot() } else { end };
                let detour = self.sites.dist(prev, slot) + self.sites.dist(slot, next) - self.sites.dist(prev, next);
                // Ties go to later positions: fewer promised ETAs move.
                candidates.push((fixed + vt.unit_distance_cost * detour, van, usize::MAX - p));
            }
        }
        candidates.sort_unstable();
        let mut current: HashMap<usize, super::schedule::Schedule> = HashMap::new();
        let mut best: Option<(i64, usize, usize)> = None;
        // Per van: some place tried, some place reached in time (the reasons count vans, not places).
        let (mut tried, mut in_time) = (vec![false; self.vans.len()], vec![false; self.vans.len()]);
        for (bound, van, later) in candidates {
            let p = usize::MAX - later;
            if best.is_some_and(|b| bound >= b.0) {
                break;
            }
            tried[van] = true;
            let base = current.entry(van).or_insert_with(|| self.schedule(van, &self.vans[van].route));
            let mut route = self.vans[van].route.clone();
            route.insert(p, k);
            let s = self.schedule(van, &route);
            if s.stops[p].at_risk {
                why.earliest_arrival = Some(why.earliest_arrival.map_or(s.stops[p].arrival, |a: i64| a.min(s.stops[p].arrival)));
                continue;
            }
            in_time[van] = true;
            if s.violations() != base.violations() {
                continue;
            }
            let delta = s.cost - base.cost;
            if best.is_none_or(|b| (delta, van, later) < b) {
                best = Some((delta, van, later));
            }
        }
        why.window = (0..self.vans.len()).filter(|&v| tried[v] && !in_time[v]).count();
        why.others = (0..self.vans.len()).filter(|&v| in_time[v]).count();
        match best {
            Some((delta, _, _)) if !o.spec.required && delta > o.spec.prize => Err(format!(
                "an optional order not worth serving: its cheapest place costs {delta}, more than its prize {}",
                o.spec.prize
            )),
            Some((_, van, later)) => Ok((van, usize::MAX - later)),
            None => Err(self.explain(k, &why)),
        }
    }

    fn explain(&self, k: u32, why: &Obstacles) -> String {
        let o = &self.orders[k as usize];
        let vans = |n: usize| if n == 1 { "1 van".to_string() } else { format!("{n} vans") };
        let have = |n: usize| if n == 1 { "has" } else { "have" };
        let lack = |n: usize| if n == 1 { "lacks" } else { "lack" };
        let mut parts = Vec::new();
        if why.window > 0 {
            let arrival = why.earliest_arrival.map(|a| format!(" (earliest arrival {})", self.settings.time(a))).unwrap_or_default();
            let margin = if self.settings.buffer > 0 {
                format!(" (by {} with the buffer of {})", self.settings.time(o.planning_close(self.settings.buffer)), self.settings.span(self.settings.buffer))
            } else {
                String::new()
            };
            parts.push(format!(
                "{} cannot reach it before its window closes at {}{margin}{arrival}",
                vans(why.window),
                self.settings.time(o.close())
            ));
        }
        if why.others > 0 {
            parts.push(format!(
                "with {} it would make other stops late or break a limit (capacity, shift end, duration, distance)",
                vans(why.others)
            ));
        }
        if why.loaded > 0 {
            let is = if why.loaded == 1 { "is" } else { "are" };
            parts.push(format!("{} {} left the depot or {is} being loaded (its goods are at the depot)", vans(why.loaded), have(why.loaded)));
        }
        if why.capacity > 0 {
            parts.push(format!("its demand exceeds the capacity of {}", vans(why.capacity)));
        }
        if why.skills > 0 {
            parts.push(format!("{} {} a skill it needs", vans(why.skills), lack(why.skills)));
        }
        if why.done > 0 {
            parts.push(format!("{} {} finished {} day", vans(why.done), have(why.done), if why.done == 1 { "its" } else { "their" }));
        }
        format!("no van can take it: {}", parts.join("; "))
    }
}
