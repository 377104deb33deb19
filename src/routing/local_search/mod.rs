//! Granular local search over penalised costs. Each route caches prefix and suffix segments so that
//! every move is priced in O(1) (O(k) for the reversed or interior part of intra-route moves) by
//! concatenating "pieces" of existing routes. One operator per file; this module holds the shared
//! route state, the pricing and the driver loop (with HGS's "modified since last tested" skipping).

mod or_opt;
mod relocate;
mod swap;
mod swap_star;
mod two_opt;
mod two_opt_star;

use super::cost::Penalties;
use super::problem::{ProblemData, INF};

use super::rng::Rng;
use super::segment::{DurSeg, LoadSeg};
use super::solution::{Route, Solution};

/// A cost so large that the move is never taken (hard constraints: skills, required clients).
pub const FORBIDDEN: i64 = 1 << 56;
const NONE: u32 = u32::MAX;

pub struct LsRoute {
    pub vt: usize,
    /// Locations: the start depot, the clients, the end depot.
    pub visits: Vec<usize>,
    dist_pre: Vec<i64>,
    /// `dist_rev_pre[k]`: distance of positions `0..=k` driven backwards (from k down to 0), so a
    /// reversed interior piece costs O(1) in `lower_bound` even when distances are asymmetric.
    dist_rev_pre: Vec<i64>,
    dur_pre: Vec<DurSeg>,
    /// `dur_suf[i]`: clients `i..last` (the end depot is appended by the vehicle type when pricing).
    dur_suf: Vec<DurSeg>,
    load_pre: Vec<LoadSeg>,
    load_suf: Vec<LoadSeg>,
    skills_pre: Vec<u64>,
    skills_suf: Vec<u64>,
    /// Promises (only kept when the problem has any): `moved_pre[k]` is the cost of the clients at
    /// positions `1..=k` promised to another vehicle type than this route's, `promised_pre[k]` that
    /// of every promised client there, and `foreign` lists (position, promised type, cost) of the
    /// clients promised elsewhere, so a piece priced for another vehicle type costs O(1) plus them.
    moved_pre: Vec<i64>,
    promised_pre: Vec<i64>,
    foreign: Vec<(u32, u32, i64)>,
    pub cost: i64,
    pub modified: u64,
}

impl LsRoute {
    pub fn len(&self) -> usize {
        self.visits.len() - 2
    }
    pub fn is_empty(&self) -> bool {
        self.visits.len() == 2
    }
    pub fn last(&self) -> usize {
        self.visits.len() - 1
    }
}

/// A part of an existing route used to price a proposed route.
#[derive(Clone, Copy, Debug)]
pub enum Piece {
    /// Positions `0..=i` of a route (its start depot and first clients).
    Pre(usize, usize),
    /// Positions `i..last` (clients up to, not including, the end depot); empty when `i == last`.
    Suf(usize, usize),
    /// Positions `i..=j`, clients only.
    Mid(usize, usize, usize),
    /// Positions `i..=j` visited from `j` down to `i`.
    Rev(usize, usize, usize),
    /// One client location.
    One(usize),
}

pub struct LocalSearch<'a> {
    pub data: &'a ProblemData,
    pub neighbours: &'a [Vec<usize>],
    pub routes: Vec<LsRoute>,
    /// Per location: (route, position) or NONE for unassigned clients and depots.
    pos: Vec<(u32, u32)>,
    pub pen: Penalties,
    counter: u64,
    last_tested: Vec<u64>,
    client_segs: Vec<DurSeg>,
    client_loads: Vec<LoadSeg>,
    /// Moves applied in the current `run`, to bound pathological cycling.
    moves: usize,
    /// `counter` when SWAP* last examined the route pairs.
    swap_star_stamp: u64,
}

impl<'a> LocalSearch<'a> {
    pub fn new(data: &'a ProblemData, neighbours: &'a [Vec<usize>], pen: Penalties) -> Self {
        let n = data.num_locations();
        let mut client_segs = Vec::with_capacity(n);
        let mut client_loads = Vec::with_capacity(n);
        for loc in 0..n {
            if data.is_depot(loc) {
                client_segs.push(DurSeg::visit(loc, 0, 0, INF));
                client_loads.push(LoadSeg::default());
            } else {
                let c = data.client(loc);
                client_segs.push(DurSeg::visit(loc, c.service, c.tw_early(), c.tw_late()).with_release(c.release));
                client_loads.push(LoadSeg::visit(&c.delivery, &c.pickup));
            }
        }
        let mut routes = Vec::new();
        for (t, vt) in data.vehicle_types.iter().enumerate() {
            for _ in 0..vt.count {
                let mut r = LsRoute {
                    vt: t,
                    visits: vec![vt.start_depot, vt.end_depot],
                    dist_pre: vec![],
                    dist_rev_pre: vec![],
                    dur_pre: vec![],
                    dur_suf: vec![],
                    load_pre: vec![],
                    load_suf: vec![],
                    skills_pre: vec![],
                    skills_suf: vec![],
                    moved_pre: vec![],
                    promised_pre: vec![],
                    foreign: vec![],
                    cost: 0,
                    modified: 1,
                };
                r.visits.shrink_to_fit();
                routes.push(r);
            }
        }
        let mut ls = LocalSearch {
            data,
            neighbours,
            routes,
            pos: vec![(NONE, NONE); n],
            pen,
            counter: 1,
            last_tested: vec![0; n],
            client_segs,
            client_loads,
            moves: 0,
            swap_star_stamp: 0,
        };
        for r in 0..ls.routes.len() {
            ls.update(r);
        }
        ls
    }

    fn end_seg(&self, vt: &super::problem::VehicleType) -> DurSeg {
        let d = &self.data.depots[vt.end_depot];
        DurSeg::visit(
            vt.end_depot,
            0,
            vt.tw_early.max(d.tw_early),
            vt.tw_late.min(d.tw_late),
        )
    }

    /// Recomputes route `r`'s caches, positions and cost after its visits changed.
    pub fn update(&mut self, r: usize) {
        let data = self.data;
        let dims = data.num_dims;
        let route = &mut self.routes[r];
        let vt = &data.vehicle_types[route.vt];
        let prof = &data.profiles[vt.profile];
        let n = route.visits.len();
        let d = &data.depots[vt.start_depot];
        let start = DurSeg::visit(
            vt.start_depot,
            0,
            vt.tw_early.max(d.tw_early),
            vt.tw_late.min(d.tw_late),
        );
        route.dist_pre.clear();
        route.dist_rev_pre.clear();
        route.dur_pre.clear();
        route.load_pre.clear();
        route.skills_pre.clear();
        route.dist_pre.push(0);
        route.dist_rev_pre.push(0);
        route.dur_pre.push(start);
        route.load_pre.push(LoadSeg::default());
        route.skills_pre.push(0);
        for i in 1..n {
            let (prev, loc) = (route.visits[i - 1], route.visits[i]);
            route
                .dist_pre
                .push(route.dist_pre[i - 1] + prof.distance.get(prev, loc));
            route
                .dist_rev_pre
                .push(route.dist_rev_pre[i - 1] + prof.distance.get(loc, prev));
            let seg = if i == n - 1 {
                let e = &data.depots[vt.end_depot];
                DurSeg::visit(
                    vt.end_depot,
                    0,
                    vt.tw_early.max(e.tw_early),
                    vt.tw_late.min(e.tw_late),
                )
            } else {
                self.client_segs[loc]
            };
            route
                .dur_pre
                .push(DurSeg::merge(&prof.duration, &route.dur_pre[i - 1], &seg));
            route.load_pre.push(LoadSeg::merge(
                &route.load_pre[i - 1],
                &self.client_loads[loc],
                dims,
            ));
            let sk = if i == n - 1 {
                0
            } else {
                data.client(loc).skills
            };
            route.skills_pre.push(route.skills_pre[i - 1] | sk);
        }
        route.dur_suf.resize(n, start);
        route.load_suf.resize(n, LoadSeg::default());
        route.skills_suf.resize(n, 0);
        route.load_suf[n - 1] = LoadSeg::default();
        route.skills_suf[n - 1] = 0;
        if n > 2 {
            route.dur_suf[n - 2] = self.client_segs[route.visits[n - 2]];
            route.load_suf[n - 2] = self.client_loads[route.visits[n - 2]];
            route.skills_suf[n - 2] = data.client(route.visits[n - 2]).skills;
            for i in (1..n - 2).rev() {
                let loc = route.visits[i];
                route.dur_suf[i] = DurSeg::merge(
                    &prof.duration,
                    &self.client_segs[loc],
                    &route.dur_suf[i + 1],
                );
                route.load_suf[i] =
                    LoadSeg::merge(&self.client_loads[loc], &route.load_suf[i + 1], dims);
                route.skills_suf[i] = data.client(loc).skills | route.skills_suf[i + 1];
            }
        }
        for (i, &loc) in route.visits.iter().enumerate().take(n - 1).skip(1) {
            self.pos[loc] = (r as u32, i as u32);
        }
        if data.has_promises {
            route.moved_pre.clear();
            route.promised_pre.clear();
            route.foreign.clear();
            route.moved_pre.push(0);
            route.promised_pre.push(0);
            for i in 1..n {
                let (mut moved, mut promised) = (0, 0);
                if i < n - 1 {
                    let c = data.client(route.visits[i]);
                    if let Some((p, cost)) = c.promised {
                        promised = cost;
                        if p != route.vt {
                            moved = cost;
                            route.foreign.push((i as u32, p as u32, cost));
                        }
                    }
                }
                route.moved_pre.push(route.moved_pre[i - 1] + moved);
                route.promised_pre.push(route.promised_pre[i - 1] + promised);
            }
        }
        let (dist, dur, load, skills) = (
            route.dist_pre[n - 1],
            route.dur_pre[n - 1],
            route.load_pre[n - 1],
            route.skills_pre[n - 1],
        );
        let empty = n == 2;
        let moved = if data.has_promises { route.moved_pre[n - 1] } else { 0 };
        let cost = self.pen.route_cost(vt, dist, &dur, &load, empty) + moved;
        let route = &mut self.routes[r];
        route.cost = if skills & !vt.skills != 0 {
            cost + FORBIDDEN
        } else {
            cost
        };
        self.counter += 1;
        route.modified = self.counter;
    }

    /// A lower bound of `price(vt, pieces)` in O(number of pieces): fixed and distance costs only
    /// (duration costs and penalties are never negative). Operators skip a move when the bounds of
    /// its new routes already reach the old cost, which spares the O(k) duration merges of interior
    /// pieces for the great majority of moves (those that lengthen the routes).
    pub fn lower_bound(&self, vt_idx: usize, pieces: &[Piece]) -> i64 {
        let data = self.data;
        let vt = &data.vehicle_types[vt_idx];
        let d = &data.profiles[vt.profile].distance;
        let Piece::Pre(r0, i0) = pieces[0] else {
            unreachable!("a priced route starts with a prefix")
        };
        let r = &self.routes[r0];
        let mut dist = r.dist_pre[i0];
        let mut count = i0;
        let mut last = r.visits[i0];
        for p in &pieces[1..] {
            match *p {
                Piece::Pre(..) => unreachable!("only the first piece is a prefix"),
                Piece::Suf(r, i) => {
                    let route = &self.routes[r];
                    let l = route.last();
                    if i >= l {
                        continue;
                    }
                    dist += d.get(last, route.visits[i]) + route.dist_pre[l - 1] - route.dist_pre[i];
                    count += l - i;
                    last = route.visits[l - 1];
                }
                Piece::Mid(r, i, j) => {
                    let route = &self.routes[r];
                    dist += d.get(last, route.visits[i]) + route.dist_pre[j] - route.dist_pre[i];
                    count += j + 1 - i;
                    last = route.visits[j];
                }
                Piece::Rev(r, i, j) => {
                    let route = &self.routes[r];
                    dist += d.get(last, route.visits[j]) + route.dist_rev_pre[j]
                        - route.dist_rev_pre[i];
                    count += j + 1 - i;
                    last = route.visits[i];
                }
                Piece::One(loc) => {
                    dist += d.get(last, loc);
                    count += 1;
                    last = loc;
                }
            }
        }
        if count == 0 {
            return 0;
        }
        dist += d.get(last, vt.end_depot);
        vt.fixed_cost + vt.unit_distance_cost * dist
    }

    /// Whether a move that replaces routes `old` by the routes `new` (vehicle type, pieces) cannot
    /// improve: the lower bounds of the new routes already reach the old routes' cost.
    pub fn cannot_improve(&self, new: &[(usize, &[Piece])], old: &[usize]) -> bool {
        let bound: i64 = new.iter().map(|&(vt, p)| self.lower_bound(vt, p)).sum();
        bound >= old.iter().map(|&r| self.routes[r].cost).sum::<i64>()
    }

    /// Penalised cost of the route of vehicle type `vt` made of `pieces` (the first must be `Pre`).
    pub fn price(&self, vt_idx: usize, pieces: &[Piece]) -> i64 {
        let data = self.data;
        let vt = &data.vehicle_types[vt_idx];
        let prof = &data.profiles[vt.profile];
        let dims = data.num_dims;
        let Piece::Pre(r0, i0) = pieces[0] else {
            unreachable!("a priced route starts with a prefix")
        };
        let r = &self.routes[r0];
        let mut dist = r.dist_pre[i0];
        let mut dur = r.dur_pre[i0];
        let mut load = r.load_pre[i0];
        let mut skills = r.skills_pre[i0];
        let mut count = i0;
        let mut last = r.visits[i0];
        let promises = data.has_promises;
        debug_assert!(r.vt == vt_idx, "a priced route starts with its own prefix");
        let mut moved = if promises { r.moved_pre[i0] } else { 0 };
        for p in &pieces[1..] {
            if promises {
                moved += self.moved_cost(vt_idx, p);
            }
            match *p {
                Piece::Pre(..) => unreachable!("only the first piece is a prefix"),
                Piece::Suf(r, i) => {
                    let route = &self.routes[r];
                    let l = route.last();
                    if i >= l {
                        continue;
                    }
                    let first = route.visits[i];
                    dist +=
                        prof.distance.get(last, first) + route.dist_pre[l - 1] - route.dist_pre[i];
                    dur = DurSeg::merge(&prof.duration, &dur, &route.dur_suf[i]);
                    load = LoadSeg::merge(&load, &route.load_suf[i], dims);
                    skills |= route.skills_suf[i];
                    count += l - i;
                    last = route.visits[l - 1];
                }
                Piece::Mid(r, i, j) => {
                    let route = &self.routes[r];
                    for k in i..=j {
                        let loc = route.visits[k];
                        dist += prof.distance.get(last, loc);
                        dur = DurSeg::merge(&prof.duration, &dur, &self.client_segs[loc]);
                        load = LoadSeg::merge(&load, &self.client_loads[loc], dims);
                        skills |= data.client(loc).skills;
                        last = loc;
                    }
                    count += j + 1 - i;
                }
                Piece::Rev(r, i, j) => {
                    let route = &self.routes[r];
                    for k in (i..=j).rev() {
                        let loc = route.visits[k];
                        dist += prof.distance.get(last, loc);
                        dur = DurSeg::merge(&prof.duration, &dur, &self.client_segs[loc]);
                        load = LoadSeg::merge(&load, &self.client_loads[loc], dims);
                        skills |= data.client(loc).skills;
                        last = loc;
                    }
                    count += j + 1 - i;
                }
                Piece::One(loc) => {
                    dist += prof.distance.get(last, loc);
                    dur = DurSeg::merge(&prof.duration, &dur, &self.client_segs[loc]);
                    load = LoadSeg::merge(&load, &self.client_loads[loc], dims);
                    skills |= data.client(loc).skills;
                    count += 1;
                    last = loc;
                }
            }
        }
        if count == 0 {
            return 0;
        }
        dist += prof.distance.get(last, vt.end_depot);
        dur = DurSeg::merge(&prof.duration, &dur, &self.end_seg(vt));
        let cost = self.pen.route_cost(vt, dist, &dur, &load, false) + moved;
        if skills & !vt.skills != 0 {
            cost + FORBIDDEN
        } else {
            cost
        }
    }

    /// What the clients of `piece` cost on a route of vehicle type `vt` for being promised to
    /// another one: O(1) for a suffix of a route of that type, else the prefix sums of promised
    /// clients less those of the piece promised to `vt` (from the route's short `foreign` list).
    fn moved_cost(&self, vt: usize, piece: &Piece) -> i64 {
        let positions = |r: usize, i: usize, j: usize| {
            let route = &self.routes[r];
            if route.vt == vt {
                return route.moved_pre[j] - route.moved_pre[i - 1];
            }
            let back: i64 = route
                .foreign
                .iter()
                .filter(|&&(k, p, _)| (i..=j).contains(&(k as usize)) && p as usize == vt)
                .map(|&(_, _, cost)| cost)
                .sum();
            route.promised_pre[j] - route.promised_pre[i - 1] - back
        };
        match *piece {
            Piece::Pre(..) => unreachable!("only the first piece is a prefix"),
            Piece::Suf(r, i) => {
                let l = self.routes[r].last();
                if i >= l {
                    0
                } else {
                    positions(r, i, l - 1)
                }
            }
            Piece::Mid(r, i, j) | Piece::Rev(r, i, j) => positions(r, i, j),
            Piece::One(loc) => self.data.client(loc).move_cost(vt),
        }
    }

    /// (route, position) of an assigned client.
    #[inline]
    pub fn position(&self, loc: usize) -> Option<(usize, usize)> {
        let (r, i) = self.pos[loc];
        (r != NONE).then_some((r as usize, i as usize))
    }

    /// Replaces the clients of route `r` and refreshes it. Clients that leave the route must have
    /// been unassigned by the caller first (see `unassign_route`), so moves between routes can set
    /// both routes in any order.
    pub fn set_route(&mut self, r: usize, clients: &[usize]) {
        let route = &mut self.routes[r];
        let (s, e) = (route.visits[0], route.visits[route.last()]);
        route.visits.clear();
        route.visits.push(s);
        route.visits.extend_from_slice(clients);
        route.visits.push(e);
        self.update(r);
    }

    /// Marks route `r`'s clients unassigned (its visits are left as they are until `set_route`).
    pub fn unassign_route(&mut self, r: usize) {
        let v = &self.routes[r].visits;
        for &loc in &v[1..v.len() - 1] {
            self.pos[loc] = (NONE, NONE);
        }
    }

    /// Route `r`'s clients.
    pub fn clients_of(&self, r: usize) -> &[usize] {
        let v = &self.routes[r].visits;
        &v[1..v.len() - 1]
    }

    pub fn insert_at(&mut self, loc: usize, r: usize, after: usize) {
        self.routes[r].visits.insert(after + 1, loc);
        self.update(r);
    }

    pub fn remove(&mut self, loc: usize) {
        if let Some((r, i)) = self.position(loc) {
            self.routes[r].visits.remove(i);
            self.pos[loc] = (NONE, NONE);
            self.update(r);
        }
    }

    /// Removes several clients, refreshing each touched route once.
    pub fn remove_many(&mut self, locs: &[usize]) {
        let mut touched = Vec::new();
        for &loc in locs {
            if let Some((r, _)) = self.position(loc) {
                self.pos[loc] = (NONE, NONE);
                touched.push(r);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for &r in &touched {
            let route = &mut self.routes[r];
            let last = route.visits.len() - 1;
            let keep: Vec<usize> = route
                .visits
                .iter()
                .enumerate()
                .filter(|&(i, &loc)| i == 0 || i == last || self.pos[loc].0 != NONE)
                .map(|(_, &l)| l)
                .collect();
            route.visits = keep;
            self.update(r);
        }
    }

    /// Loads a solution given per route slot (as `snapshot` returns it). Routes whose clients are
    /// unchanged keep their caches and "modified" stamps, so the next `run` only re-examines the rest.
    #[allow(clippy::needless_range_loop)] // r indexes both the routes and the slots
    pub fn load(&mut self, slots: &[Vec<usize>]) {
        for r in 0..self.routes.len() {
            if self.clients_of(r) != slots[r].as_slice() {
                self.unassign_route(r);
            }
        }
        for r in 0..self.routes.len() {
            if self.clients_of(r) != slots[r].as_slice() {
                self.set_route(r, &slots[r]);
            }
        }
    }

    /// Route slots (clients per vehicle), suitable for `load`.
    pub fn snapshot(&self) -> Vec<Vec<usize>> {
        (0..self.routes.len())
            .map(|r| self.clients_of(r).to_vec())
            .collect()
    }

    pub fn solution(&self) -> Solution {
        Solution {
            routes: self
                .routes
                .iter()
                .filter(|r| !r.is_empty())
                .map(|r| Route {
                    vehicle_type: r.vt,
                    visits: r.visits[1..r.visits.len() - 1].to_vec(),
                })
                .collect(),
        }
    }

    /// Re-prices every used route after the penalties changed (segments do not depend on them).
    /// With `retest`, routes count as modified so the next `run` re-examines every pair.
    pub fn refresh_costs(&mut self, retest: bool) {
        let data = self.data;
        for r in 0..self.routes.len() {
            let route = &self.routes[r];
            if route.is_empty() {
                continue;
            }
            let vt = &data.vehicle_types[route.vt];
            let l = route.last();
            let moved = if data.has_promises { route.moved_pre[l] } else { 0 };
            let cost = self.pen.route_cost(vt, route.dist_pre[l], &route.dur_pre[l], &route.load_pre[l], false) + moved;
            let cost = if route.skills_pre[l] & !vt.skills != 0 { cost + FORBIDDEN } else { cost };
            self.counter += 1;
            let counter = self.counter;
            let route = &mut self.routes[r];
            route.cost = cost;
            if retest {
                route.modified = counter;
            }
        }
    }

    /// Penalised cost: routes plus prizes of unvisited optional clients (plus a large charge per
    /// unvisited required client, which the search never leaves out).
    pub fn cost(&self) -> i64 {
        let routes: i64 = self.routes.iter().map(|r| r.cost).sum();
        let nd = self.data.num_depots();
        let left: i64 = self
            .data
            .clients
            .iter()
            .enumerate()
            .filter(|(i, _)| self.pos[nd + i].0 == NONE)
            .map(|(_, c)| if c.required { FORBIDDEN } else { c.prize })
            .fold(0i64, |a, b| a.saturating_add(b));
        routes.saturating_add(left)
    }

    /// Whether the current routes respect capacity, time and distance limits (by the segments).
    pub fn violations(&self) -> (bool, bool, bool) {
        let (mut load_ok, mut tw_ok, mut dist_ok) = (true, true, true);
        for r in &self.routes {
            if r.is_empty() {
                continue;
            }
            let vt = &self.data.vehicle_types[r.vt];
            let l = r.last();
            load_ok &= r.load_pre[l].excess(&vt.capacity) == 0;
            tw_ok &= r.dur_pre[l].total_time_warp(vt.max_duration) == 0;
            dist_ok &= r.dist_pre[l] <= vt.max_distance;
        }
        (load_ok, tw_ok, dist_ok)
    }

    /// Change in cost from removing `loc` from its route (negative: removal saves).
    pub fn removal_delta(&self, loc: usize) -> i64 {
        let (r, i) = self.position(loc).expect("assigned");
        let route = &self.routes[r];
        self.price(route.vt, &[Piece::Pre(r, i - 1), Piece::Suf(r, i + 1)]) - route.cost
    }

    /// Cheapest insertion of `loc` over all routes (one empty route per vehicle type), skipping each
    /// position with probability `blink`. Returns (route, after position, delta).
    pub fn best_insertion(
        &self,
        loc: usize,
        rng: &mut Rng,
        blink: f64,
    ) -> Option<(usize, usize, i64)> {
        let mut best: Option<(usize, usize, i64)> = None;
        let mut empty_seen = vec![false; self.data.vehicle_types.len()];
        for (r, route) in self.routes.iter().enumerate() {
            if route.is_empty() {
                if empty_seen[route.vt] {
                    continue;
                }
                empty_seen[route.vt] = true;
            }
            for j in 0..route.last() {
                if blink > 0.0 && rng.unit() < blink {
                    continue;
                }
                let delta = self.price(
                    route.vt,
                    &[Piece::Pre(r, j), Piece::One(loc), Piece::Suf(r, j + 1)],
                ) - route.cost;
                if best.is_none_or(|b| delta < b.2) {
                    best = Some((r, j, delta));
                }
            }
        }
        best
    }

    /// Inserts every unassigned client of `locs` at its cheapest place; optional clients only when
    /// their prize pays for the detour.
    pub fn recreate(&mut self, locs: &[usize], rng: &mut Rng, blink: f64) {
        for &loc in locs {
            if self.position(loc).is_some() {
                continue;
            }
            let c = self.data.client(loc);
            if let Some((r, j, delta)) = self.best_insertion(loc, rng, blink) {
                if c.required || delta < c.prize {
                    self.insert_at(loc, r, j);
                }
            }
        }
    }

    fn apply_if_improving(&mut self, changes: &[(usize, Vec<usize>)], delta: i64) -> bool {
        if delta >= 0 {
            return false;
        }
        #[cfg(debug_assertions)]
        let before: i64 = changes.iter().map(|(r, _)| self.routes[*r].cost).sum();
        for (r, _) in changes {
            self.unassign_route(*r);
        }
        for (r, clients) in changes {
            self.set_route(*r, clients);
        }
        #[cfg(debug_assertions)]
        {
            let after: i64 = changes.iter().map(|(r, _)| self.routes[*r].cost).sum();
            debug_assert_eq!(
                after - before,
                delta,
                "priced delta disagrees with the applied move {changes:?}"
            );
        }
        self.moves += 1;
        true
    }

    /// Locations of route `r` at positions `i..=j`.
    pub fn slice(&self, r: usize, i: usize, j: usize) -> Vec<usize> {
        self.routes[r].visits[i..=j].to_vec()
    }

    /// Runs the local search to a local optimum (or a safety bound on applied moves).
    pub fn run(&mut self, rng: &mut Rng) {
        let nd = self.data.num_depots();
        let mut order: Vec<usize> = (nd..self.data.num_locations()).collect();
        rng.shuffle(&mut order);
        self.moves = 0;
        let limit = 50 * order.len().max(10) * 10;
        let mut improved = true;
        let mut pass = 0;
        while improved && self.moves < limit {
            improved = false;
            for &u in &order {
                let last_test = self.last_tested[u];
                self.last_tested[u] = self.counter;
                improved |= self.optional_moves(u, rng, last_test);
                if self.position(u).is_none() {
                    continue;
                }
                for k in 0..self.neighbours[u].len() {
                    let v = self.neighbours[u][k];
                    let (Some((ru, _)), Some((rv, _))) = (self.position(u), self.position(v))
                    else {
                        continue;
                    };
                    if self.routes[ru].modified.max(self.routes[rv].modified) <= last_test {
                        continue;
                    }
                    if relocate::relocate(self, u, v)
                        || swap::swap(self, u, v)
                        || or_opt::or_opt(self, u, v)
                        || two_opt::two_opt(self, u, v)
                        || two_opt_star::two_opt_star(self, u, v)
                    {
                        improved = true;
                    }
                }
                let fresh = self.position(u).is_some_and(|(r, _)| self.routes[r].modified > last_test);
                if fresh && relocate::to_empty_route(self, u) {
                    improved = true;
                }
            }
            if !improved && pass < 50 {
                // SWAP* between overlapping routes once the cheap operators are exhausted.
                improved = swap_star::swap_star(self);
            }
            pass += 1;
        }
    }

    /// Insert an unassigned optional client when its prize pays; drop an assigned one when it does not.
    fn optional_moves(&mut self, u: usize, rng: &mut Rng, _last_test: u64) -> bool {
        let c = self.data.client(u);
        match self.position(u) {
            None => {
                if let Some((r, j, delta)) = self.best_insertion(u, rng, 0.0) {
                    if c.required || delta < c.prize {
                        self.insert_at(u, r, j);
                        self.moves += 1;
                        return true;
                    }
                }
                false
            }
            Some(_) if !c.required => {
                if self.removal_delta(u) + c.prize < 0 {
                    self.remove(u);
                    self.moves += 1;
                    return true;
                }
                false
            }
            _ => false,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
