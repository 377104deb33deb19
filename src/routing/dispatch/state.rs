//! The dispatcher's state: orders, vans and the clock, and the operations that change them one
//! input at a time (new orders, cancellations). Vehicle events, re-planning and the plan output
//! live in files of their own.

use super::fleet::{Fleet, Settings};
use super::order::{Fate, Order, OrderSpec, OrderState};
use super::sites::{Geometry, Place, Sites};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where a van is in its day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// Not left its start depot yet.
    AtDepot,
    /// Left slot `from` at `since`, heading to its first remaining stop (or its end depot).
    Driving { from: u32, since: i64 },
    /// Arrived at its first remaining stop at `arrived`; not served yet.
    AtStop { arrived: i64 },
    /// Back at its end depot.
    Done { at: i64 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VanState {
    /// Orders still to serve, in order; the first `frozen` are fixed.
    pub route: Vec<u32>,
    pub frozen: usize,
    /// Its load is fixed: it left, or leaves within the freeze horizon (it is being loaded).
    pub committed: bool,
    /// When it leaves (once committed) or left its start depot.
    pub departure: Option<i64>,
    pub phase: Phase,
    /// Goods on board that no remaining stop delivers: pickups made, failed or cancelled deliveries.
    pub on_board: Vec<i64>,
    /// Distance driven so far (between the places it reported).
    pub driven: i64,
    /// The slot holding its last reported position.
    pub position: u32,
    /// The route as last published: orders and their ETAs.
    pub published: Option<(Vec<u32>, Vec<i64>)>,
    pub version: u64,
}

impl VanState {
    pub fn on_road(&self) -> bool {
        matches!(self.phase, Phase::Driving { .. } | Phase::AtStop { .. })
    }
    pub fn done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }
}

/// What happened to one input order or cancellation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub order_id: String,
    /// "planned", "unassigned", "rejected" or "cancelled".
    pub status: String,
    pub vehicle: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub orders: u64,
    pub rejected: u64,
    pub unassigned: u64,
    pub served: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub events: u64,
    pub rejected_events: u64,
    pub improves: u64,
    pub improvements: u64,
    pub replans: u64,
    /// Planned stops that re-planning moved to another van.
    pub moved_stops: u64,
    pub late_flags: u64,
}

pub struct Dispatcher {
    pub(super) fleet: Fleet,
    pub(super) settings: Settings,
    pub(super) sites: Sites,
    pub(super) orders: Vec<Order>,
    pub(super) by_id: HashMap<String, u32>,
    pub(super) vans: Vec<VanState>,
    pub(super) now: i64,
    pub(super) improve_count: u64,
    pub(super) fates: Vec<Fate>,
    pub(super) stats: Stats,
}

impl Dispatcher {
    pub fn new(fleet: Fleet, geometry: Geometry, settings: Settings) -> Result<Self> {
        if geometry.num_profiles() <= fleet.vehicle_types.iter().map(|v| v.profile).max().unwrap_or(0) {
            return Err(crate::Error::config("a vehicle type names a profile the geometry does not have"));
        }
        if settings.freeze < 0 || settings.stability < 0 || settings.eta_tolerance < 0 {
            return Err(crate::Error::config("freeze, stability and eta_tolerance must be >= 0"));
        }
        let mut sites = Sites::new(geometry)?;
        for (d, place) in fleet.depot_places.iter().enumerate() {
            let slot = sites.add(*place).map_err(|e| crate::Error::config(format!("depot {d}: {e}")))?;
            debug_assert_eq!(slot as usize, d, "depots hold the first slots");
        }
        let mut vans = Vec::with_capacity(fleet.vans.len());
        for v in 0..fleet.vans.len() {
            let depot = fleet.vehicle(v).start_depot;
            vans.push(VanState {
                route: vec![],
                frozen: 0,
                committed: false,
                departure: None,
                phase: Phase::AtDepot,
                on_board: vec![0; fleet.num_dims],
                driven: 0,
                position: sites.add(fleet.depot_places[depot])?,
                published: None,
                version: 0,
            });
        }
        Ok(Dispatcher {
            fleet,
            settings,
            sites,
            orders: vec![],
            by_id: HashMap::new(),
            vans,
            now: i64::MIN,
            improve_count: 0,
            fates: vec![],
            stats: Stats::default(),
        })
    }

    pub fn now(&self) -> i64 {
        self.now.max(0)
    }
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }
    pub fn vans(&self) -> &[VanState] {
        &self.vans
    }
    pub fn order_index(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }
    pub fn sites(&self) -> &Sites {
        &self.sites
    }

    /// Moves the clock to `now` (it never goes back) and refreshes what is frozen.
    pub fn advance(&mut self, now: i64) {
        self.now = self.now.max(now);
        self.refresh();
    }

    pub(super) fn van_id(&self, van: u32) -> String {
        self.fleet.vans[van as usize].id.clone()
    }

    pub(super) fn fate(&mut self, order: u32, at: i64) {
        let o = &self.orders[order as usize];
        let (vehicle, reason) = match &o.state {
            OrderState::Planned { van } | OrderState::Served { van, .. } => (Some(*van), None),
            OrderState::Failed { van, reason, .. } => (Some(*van), Some(reason.clone())),
            OrderState::Unassigned { reason } => (None, Some(reason.clone())),
            OrderState::Cancelled { .. } => (None, None),
        };
        let fate = Fate {
            order_id: o.spec.id.clone(),
            status: o.state.name().to_string(),
            vehicle: vehicle.map(|v| self.van_id(v)),
            at,
            reason,
        };
        self.fates.push(fate);
    }

    /// Order fates (planned, unassigned, served, failed, cancelled, rejected) since the last call.
    pub fn take_fates(&mut self) -> Vec<Fate> {
        std::mem::take(&mut self.fates)
    }

    /// Places new orders, each by the cheapest feasible insertion into the current plan (or
    /// unassigned with the reason no van can take it). Malformed orders are rejected, one outcome
    /// each, never an error.
    pub fn add_orders(&mut self, specs: Vec<OrderSpec>, now: i64) -> Vec<Outcome> {
        self.add_rows(specs.into_iter().map(Ok).collect(), now)
    }

    /// `add_orders` for rows as read (`input`): unreadable rows are rejected with their reason.
    pub fn add_rows(&mut self, rows: Vec<std::result::Result<OrderSpec, (Option<String>, String)>>, now: i64) -> Vec<Outcome> {
        self.advance(now);
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(match row {
                Ok(spec) => self.add_order(spec),
                Err((id, why)) => self.reject(id.unwrap_or_default(), why),
            });
        }
        out
    }

    fn reject(&mut self, id: String, reason: String) -> Outcome {
        self.stats.rejected += 1;
        self.fates.push(Fate { order_id: id.clone(), status: "rejected".into(), vehicle: None, at: self.now(), reason: Some(reason.clone()) });
        Outcome { order_id: id, status: "rejected".into(), vehicle: None, reason: Some(reason) }
    }

    fn add_order(&mut self, spec: OrderSpec) -> Outcome {
        if let Some(why) = spec.problem(self.fleet.num_dims) {
            return self.reject(spec.id, why);
        }
        if let Some(&k) = self.by_id.get(&spec.id) {
            let why = format!("order {:?} already exists ({})", spec.id, self.orders[k as usize].state.name());
            return self.reject(spec.id, why);
        }
        if let Err(why) = self.sites.check(&spec.place) {
            return self.reject(spec.id, why);
        }
        let mut spec = spec;
        spec.delivery.resize(self.fleet.num_dims, 0);
        spec.pickup.resize(self.fleet.num_dims, 0);
        let slot = self.sites.add(spec.place).expect("the place was checked");
        let index = self.orders.len() as u32;
        let id = spec.id.clone();
        self.by_id.insert(id.clone(), index);
        self.orders.push(Order { spec, slot: Some(slot), received: self.now(), state: OrderState::Unassigned { reason: String::new() } });
        self.stats.orders += 1;
        match self.insert(index) {
            Ok(van) => {
                self.fate(index, self.now());
                Outcome { order_id: id, status: "planned".into(), vehicle: Some(self.van_id(van)), reason: None }
            }
            Err(reason) => {
                self.orders[index as usize].state = OrderState::Unassigned { reason: reason.clone() };
                self.stats.unassigned += 1;
                self.fate(index, self.now());
                Outcome { order_id: id, status: "unassigned".into(), vehicle: None, reason: Some(reason) }
            }
        }
    }

    /// Withdraws orders. A planned stop leaves its van's route (frozen or not: the driver is told);
    /// goods already on a van stay on board. Served, failed or unknown orders are rejected.
    pub fn cancel(&mut self, ids: &[String], now: i64) -> Vec<Outcome> {
        self.advance(now);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(&k) = self.by_id.get(id) else {
                out.push(Outcome { order_id: id.clone(), status: "rejected".into(), vehicle: None, reason: Some(format!("no order {id:?} to cancel")) });
                self.stats.rejected += 1;
                continue;
            };
            let state = self.orders[k as usize].state.clone();
            match state {
                OrderState::Planned { van } => {
                    let at_stop = {
                        let v = &self.vans[van as usize];
                        v.route.first() == Some(&k) && matches!(v.phase, Phase::AtStop { .. })
                    };
                    self.take_off_route(van, k);
                    if self.vans[van as usize].committed {
                        let delivery = self.orders[k as usize].spec.delivery.clone();
                        for (b, q) in self.vans[van as usize].on_board.iter_mut().zip(delivery) {
                            *b += q;
                        }
                    }
                    if at_stop {
                        // It was at the stop: it leaves from there now.
                        let slot = self.orders[k as usize].slot();
                        self.move_position(van, slot);
                        self.vans[van as usize].phase = Phase::Driving { from: self.vans[van as usize].position, since: self.now() };
                    }
                }
                OrderState::Unassigned { .. } => {}
                other => {
                    out.push(Outcome {
                        order_id: id.clone(),
                        status: "rejected".into(),
                        vehicle: None,
                        reason: Some(format!("order {id:?} cannot be cancelled: it is {}", other.name())),
                    });
                    self.stats.rejected += 1;
                    continue;
                }
            }
            self.close_order(k, OrderState::Cancelled { at: self.now() });
            self.stats.cancelled += 1;
            out.push(Outcome { order_id: id.clone(), status: "cancelled".into(), vehicle: None, reason: None });
        }
        self.repair_loads();
        self.refresh();
        out
    }

    /// Goods that stay on a van (a cancelled or failed delivery) may leave no room for the pickups
    /// planned after: such pickups leave the van until it fits (unfrozen ones first, the last
    /// first; a frozen one only when nothing else helps: the van could not take it anyway), and
    /// are placed again (or wait, with the reason).
    pub(super) fn repair_loads(&mut self) {
        let mut displaced = Vec::new();
        for van in 0..self.vans.len() {
            loop {
                let route = self.vans[van].route.clone();
                if self.schedule(van, &route).excess_load == 0 {
                    break;
                }
                let frozen = self.vans[van].frozen;
                let pickup = |i: &usize| self.orders[route[*i] as usize].spec.pickup.iter().any(|&q| q > 0);
                let Some(i) = (frozen..route.len()).rev().find(pickup).or_else(|| (0..frozen).rev().find(pickup)) else {
                    break; // nothing movable: the van is over capacity as it stands
                };
                self.take_off_route(van as u32, route[i]);
                if i == 0 && matches!(self.vans[van].phase, Phase::AtStop { .. }) {
                    // It is there and cannot take it: it leaves from there now.
                    let slot = self.orders[route[i] as usize].slot();
                    self.move_position(van as u32, slot);
                    self.vans[van].phase = Phase::Driving { from: self.vans[van].position, since: self.now() };
                }
                displaced.push(route[i]);
            }
        }
        for k in displaced {
            self.orders[k as usize].state = OrderState::Unassigned { reason: String::new() };
            if let Err(reason) = self.insert(k) {
                self.orders[k as usize].state = OrderState::Unassigned { reason };
                self.fate(k, self.now());
            }
        }
        self.refresh(); // a van's next stop may be a new one
    }

    /// Holds orders until `until`: their goods reach the depot then (the release time), so the van
    /// carrying them leaves no earlier. A held order on a van still free to change is placed again;
    /// one on a loaded van, or closed, is refused.
    pub fn hold(&mut self, ids: &[String], until: i64, now: i64) -> Vec<Outcome> {
        self.advance(now);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let refuse = |why: String| Outcome { order_id: id.clone(), status: "rejected".into(), vehicle: None, reason: Some(why) };
            let Some(&k) = self.by_id.get(id) else {
                out.push(refuse(format!("no order {id:?} to hold")));
                continue;
            };
            match self.orders[k as usize].state.clone() {
                OrderState::Planned { van } => {
                    if self.vans[van as usize].committed {
                        out.push(refuse(format!("order {id:?} is on a van that is loaded or left")));
                        continue;
                    }
                    self.orders[k as usize].spec.release = until;
                    self.take_off_route(van, k);
                    self.orders[k as usize].state = OrderState::Unassigned { reason: String::new() };
                }
                OrderState::Unassigned { .. } => self.orders[k as usize].spec.release = until,
                other => {
                    out.push(refuse(format!("order {id:?} cannot be held: it is {}", other.name())));
                    continue;
                }
            }
            out.push(match self.insert(k) {
                Ok(van) => Outcome { order_id: id.clone(), status: "planned".into(), vehicle: Some(self.van_id(van)), reason: None },
                Err(reason) => {
                    self.orders[k as usize].state = OrderState::Unassigned { reason: reason.clone() };
                    self.fate(k, self.now());
                    Outcome { order_id: id.clone(), status: "unassigned".into(), vehicle: None, reason: Some(reason) }
                }
            });
        }
        self.refresh();
        out
    }

    /// Removes order `k` from van `van`'s route (keeping the frozen count on what stays).
    pub(super) fn take_off_route(&mut self, van: u32, k: u32) {
        let v = &mut self.vans[van as usize];
        if let Some(i) = v.route.iter().position(|&o| o == k) {
            v.route.remove(i);
            if i < v.frozen {
                v.frozen -= 1;
            }
        }
    }

    /// Gives the order its final state and its slot back.
    pub(super) fn close_order(&mut self, k: u32, state: OrderState) {
        let o = &mut self.orders[k as usize];
        o.state = state;
        if let Some(slot) = o.slot.take() {
            self.sites.release(slot);
        }
        self.fate(k, self.now());
    }

    /// Puts van `van`'s position at slot `slot`'s place (adding the leg from where it was).
    pub(super) fn move_position(&mut self, van: u32, slot: u32) {
        let place: Place = self.sites.place(slot);
        let v = &self.vans[van as usize];
        let from = match v.phase {
            Phase::Driving { from, .. } => from,
            _ => v.position,
        };
        let leg = self.sites.dist(from, slot);
        let position = v.position;
        self.sites.set(position, place).expect("a place already in use");
        self.vans[van as usize].driven += leg;
    }

    /// Updates what is frozen at the current time: the stop a van on the road heads to or is at,
    /// every stop reached within the horizon (before now + freeze), and the load of a van leaving
    /// within it. Frozen stays frozen: a delay never unfreezes a stop.
    pub(super) fn refresh(&mut self) {
        let horizon = self.now().saturating_add(self.settings.freeze);
        for van in 0..self.vans.len() {
            if self.vans[van].done() {
                continue;
            }
            let route = self.vans[van].route.clone();
            let schedule = self.schedule(van, &route);
            let v = &mut self.vans[van];
            if !v.committed && !route.is_empty() && schedule.departure < horizon {
                v.committed = true;
                v.departure = Some(schedule.departure);
            }
            if v.committed || v.on_road() {
                let mut frozen = if v.on_road() && !route.is_empty() { 1 } else { 0 };
                while frozen < route.len() && schedule.stops[frozen].arrival < horizon {
                    frozen += 1;
                }
                v.frozen = v.frozen.max(frozen).min(route.len());
            }
        }
    }

    /// Every order is in exactly one place: in one route (planned), or in its state. Returns what
    /// is wrong (tests and debug builds check it after every operation).
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        let mut on_route = vec![None; self.orders.len()];
        for (v, van) in self.vans.iter().enumerate() {
            if van.frozen > van.route.len() {
                return Err(format!("van {v}: {} frozen of {} stops", van.frozen, van.route.len()));
            }
            for &k in &van.route {
                if let Some(other) = on_route[k as usize].replace(v) {
                    return Err(format!("order {k} is on vans {other} and {v}"));
                }
            }
        }
        for (k, o) in self.orders.iter().enumerate() {
            match (&o.state, on_route[k]) {
                (OrderState::Planned { van }, Some(v)) if *van as usize == v => {}
                (OrderState::Planned { van }, other) => return Err(format!("order {k} planned on van {van} but found on {other:?}")),
                (_, Some(v)) => return Err(format!("order {k} is {} but on van {v}'s route", o.state.name())),
                _ => {}
            }
            if o.state.is_open() != o.slot.is_some() {
                return Err(format!("order {k} is {} with slot {:?}", o.state.name(), o.slot));
            }
        }
        Ok(())
    }
}

impl OrderSpec {
    /// An order at `place` with no demand, window or service (tests and examples fill in the rest).
    pub fn at(id: &str, place: Place) -> Self {
        OrderSpec {
            id: id.into(),
            place,
            delivery: vec![],
            pickup: vec![],
            service: 0,
            windows: vec![],
            release: 0,
            required: true,
            prize: 0,
            skills: 0,
        }
    }
}
