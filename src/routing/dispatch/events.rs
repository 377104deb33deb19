//! What vans report: leaving, arriving, serving (or failing) a stop, and where they are. Reports
//! move a van's anchor (where and when it was last seen), from which its ETAs follow; a report that
//! does not fit what the dispatcher knows is rejected with the reason and changes nothing.

use super::order::OrderState;
use super::sites::Place;
use super::state::{Dispatcher, Phase};
use crate::routing::stop::StopCriteria;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Departed,
    Arrived,
    Served,
    Failed,
    Position,
}

impl EventKind {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "departed" => EventKind::Departed,
            "arrived" => EventKind::Arrived,
            "served" => EventKind::Served,
            "failed" => EventKind::Failed,
            "position" => EventKind::Position,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VehicleEvent {
    pub vehicle: String,
    pub ts: i64,
    pub kind: EventKind,
    /// The order the event is about (None: the depot).
    pub stop: Option<String>,
    pub place: Option<Place>,
    /// Why a stop failed.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EventReport {
    pub applied: usize,
    /// (index of the event, why it was rejected)
    pub rejected: Vec<(usize, String)>,
    /// Orders newly predicted to miss their window.
    pub late: Vec<String>,
    /// Whether a newly late stop made the dispatcher re-plan.
    pub replanned: bool,
}

impl Dispatcher {
    /// Applies vehicle events in order. A stop newly predicted to miss its window triggers a
    /// re-plan of the unfrozen part (`replan_iterations` iterations, deterministic).
    pub fn vehicle_events(&mut self, events: Vec<VehicleEvent>, now: i64) -> EventReport {
        self.event_rows(events.into_iter().map(Ok).collect(), now)
    }

    /// `vehicle_events` for rows as read (`input`): unreadable rows are rejected with their reason.
    pub fn event_rows(&mut self, events: Vec<Result<VehicleEvent, String>>, now: i64) -> EventReport {
        self.advance(now);
        let before = self.late_orders();
        let mut report = EventReport::default();
        for (i, event) in events.iter().enumerate() {
            self.stats.events += 1;
            let event = match event {
                Ok(e) => e,
                Err(why) => {
                    self.stats.rejected_events += 1;
                    report.rejected.push((i, why.clone()));
                    continue;
                }
            };
            self.now = self.now.max(event.ts);
            match self.apply_event(event) {
                Ok(()) => report.applied += 1,
                Err(why) => {
                    self.stats.rejected_events += 1;
                    report.rejected.push((i, why));
                }
            }
            self.refresh();
        }
        self.repair_loads();
        let late: Vec<u32> = self.late_orders().into_iter().filter(|k| !before.contains(k)).collect();
        self.stats.late_flags += late.len() as u64;
        report.late = late.iter().map(|&k| self.orders[k as usize].spec.id.clone()).collect();
        if !late.is_empty() && self.settings.replan_iterations > 0 {
            self.stats.replans += 1;
            self.improve(&StopCriteria::iterations(self.settings.replan_iterations), self.now());
            report.replanned = true;
        }
        report
    }

    /// Planned orders whose van is predicted to reach them after their window closed.
    pub fn late_orders(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for van in 0..self.vans.len() {
            let route = &self.vans[van].route;
            let s = self.schedule(van, route);
            out.extend(route.iter().zip(&s.stops).filter(|(_, t)| t.late).map(|(&k, _)| k));
        }
        out.sort_unstable();
        out
    }

    fn apply_event(&mut self, e: &VehicleEvent) -> Result<(), String> {
        let van = self.fleet.vans.iter().position(|v| v.id == e.vehicle).ok_or_else(|| format!("unknown vehicle {:?}", e.vehicle))? as u32;
        let v = &self.vans[van as usize];
        if let Phase::Done { at } = v.phase {
            return Err(format!("vehicle {:?} finished its day at {}", e.vehicle, self.settings.time(at)));
        }
        let stop = match &e.stop {
            None => None,
            Some(id) => Some(self.by_id.get(id).copied().ok_or_else(|| format!("unknown stop (order) {id:?}"))?),
        };
        let on_route = |k: u32| self.vans[van as usize].route.contains(&k);
        match (e.kind, stop) {
            (EventKind::Departed, None) => {
                if !matches!(self.vans[van as usize].phase, Phase::AtDepot) {
                    return Err(format!("vehicle {:?} has already left its depot", e.vehicle));
                }
                self.leave_depot(van, e.ts);
                let depot = self.fleet.vehicle(van as usize).start_depot as u32;
                self.vans[van as usize].phase = Phase::Driving { from: depot, since: e.ts };
            }
            (EventKind::Departed, Some(k)) => {
                let o = &self.orders[k as usize];
                let served_here = matches!(o.state, OrderState::Served { van: w, .. } | OrderState::Failed { van: w, .. } if w == van);
                match self.vans[van as usize].phase {
                    Phase::Driving { from, .. } if served_here => self.vans[van as usize].phase = Phase::Driving { from, since: e.ts },
                    Phase::AtStop { .. } if self.vans[van as usize].route.first() == Some(&k) => {
                        return Err(format!("report stop {:?} served or failed before leaving it", o.spec.id))
                    }
                    _ => return Err(format!("vehicle {:?} is not at stop {:?}", e.vehicle, o.spec.id)),
                }
            }
            (EventKind::Arrived, None) => {
                if matches!(self.vans[van as usize].phase, Phase::AtDepot) {
                    return Err(format!("vehicle {:?} has not left its depot", e.vehicle));
                }
                if let Phase::AtStop { .. } = self.vans[van as usize].phase {
                    return Err(format!("vehicle {:?} is at a stop: report it served or failed first", e.vehicle));
                }
                let end = self.fleet.vehicle(van as usize).end_depot as u32;
                self.move_position(van, end);
                let left = std::mem::take(&mut self.vans[van as usize].route);
                self.vans[van as usize].frozen = 0;
                let why = format!("vehicle {:?} returned to its depot without serving it", e.vehicle);
                for k in left {
                    self.orders[k as usize].state = OrderState::Unassigned { reason: why.clone() };
                    self.fate(k, e.ts);
                }
                let v = &mut self.vans[van as usize];
                v.phase = Phase::Done { at: e.ts };
                v.on_board.iter_mut().for_each(|q| *q = 0);
            }
            (EventKind::Arrived, Some(k)) => {
                if !on_route(k) {
                    return Err(format!("stop {:?} is not on vehicle {:?}'s route", self.orders[k as usize].spec.id, e.vehicle));
                }
                if let Phase::AtStop { .. } = self.vans[van as usize].phase {
                    if self.vans[van as usize].route.first() != Some(&k) {
                        return Err(format!("vehicle {:?} is at another stop: report it served or failed first", e.vehicle));
                    }
                    return Ok(()); // reported twice
                }
                self.arrive(van, k, e.ts);
            }
            (EventKind::Served | EventKind::Failed, None) => return Err("served/failed needs the stop (order id)".into()),
            (EventKind::Served | EventKind::Failed, Some(k)) => {
                let o = &self.orders[k as usize];
                if !on_route(k) {
                    return Err(match &o.state {
                        OrderState::Served { .. } | OrderState::Failed { .. } | OrderState::Cancelled { .. } => {
                            format!("stop {:?} is already {}", o.spec.id, o.state.name())
                        }
                        _ => format!("stop {:?} is not on vehicle {:?}'s route", o.spec.id, e.vehicle),
                    });
                }
                let at_it = matches!(self.vans[van as usize].phase, Phase::AtStop { .. }) && self.vans[van as usize].route.first() == Some(&k);
                if !at_it {
                    if let Phase::AtStop { .. } = self.vans[van as usize].phase {
                        return Err(format!("vehicle {:?} is at another stop: report it served or failed first", e.vehicle));
                    }
                    self.arrive(van, k, e.ts); // it got there without saying so
                }
                self.take_off_route(van, k);
                let spec = self.orders[k as usize].spec.clone();
                let v = &mut self.vans[van as usize];
                v.phase = Phase::Driving { from: v.position, since: e.ts };
                let carried = if e.kind == EventKind::Served { &spec.pickup } else { &spec.delivery };
                for (b, q) in v.on_board.iter_mut().zip(carried) {
                    *b += q;
                }
                let state = if e.kind == EventKind::Served {
                    self.stats.served += 1;
                    OrderState::Served { van, at: e.ts }
                } else {
                    self.stats.failed += 1;
                    OrderState::Failed { van, at: e.ts, reason: e.reason.clone().unwrap_or_else(|| "the vehicle reported it failed".into()) }
                };
                self.close_order(k, state);
            }
            (EventKind::Position, _) => {
                let place = e.place.ok_or("a position event needs lat/lon (or x/y, or a site index)")?;
                self.sites.check(&place)?;
                match self.vans[van as usize].phase {
                    Phase::AtStop { .. } => {} // still at the stop
                    phase => {
                        if let Phase::AtDepot = phase {
                            self.leave_depot(van, e.ts);
                        }
                        let from = match phase {
                            Phase::Driving { from, .. } => from,
                            _ => self.fleet.vehicle(van as usize).start_depot as u32,
                        };
                        let leg = self.sites.distance_to(from, &place);
                        let v = &mut self.vans[van as usize];
                        v.driven += leg;
                        let slot = v.position;
                        self.sites.set(slot, place).expect("checked above");
                        self.vans[van as usize].phase = Phase::Driving { from: slot, since: e.ts };
                    }
                }
            }
        }
        Ok(())
    }

    /// The van left its depot at `ts`: its load is fixed from now on.
    fn leave_depot(&mut self, van: u32, ts: i64) {
        let v = &mut self.vans[van as usize];
        v.committed = true;
        v.departure = Some(ts);
        if !v.route.is_empty() {
            v.frozen = v.frozen.max(1);
        }
    }

    /// Van `van` reached stop `k` at `ts` (drivers may take stops out of order: it moves first).
    fn arrive(&mut self, van: u32, k: u32, ts: i64) {
        if let Phase::AtDepot = self.vans[van as usize].phase {
            let depot = self.fleet.vehicle(van as usize).start_depot as u32;
            let drive = self.sites.dur(self.fleet.vehicle(van as usize).profile, depot, self.orders[k as usize].slot());
            self.leave_depot(van, ts - drive);
            self.vans[van as usize].phase = Phase::Driving { from: depot, since: ts - drive };
        }
        let v = &mut self.vans[van as usize];
        let i = v.route.iter().position(|&o| o == k).expect("on the route");
        if i > 0 {
            v.route.remove(i);
            v.route.insert(0, k);
            if i >= v.frozen {
                v.frozen += 1; // it joins the frozen stops, ahead of them
            }
        }
        v.frozen = v.frozen.max(1);
        let slot = self.orders[k as usize].slot();
        self.move_position(van, slot);
        self.vans[van as usize].phase = Phase::AtStop { arrived: ts };
    }
}
