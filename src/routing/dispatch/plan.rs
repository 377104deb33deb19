//! The plan as it stands (one row per remaining stop) and its changes since they were last
//! published (one message per changed route).

use super::state::{Dispatcher, Phase};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub vehicle: String,
    /// 1 for the next stop.
    pub seq: u32,
    pub order_id: String,
    /// Predicted arrival.
    pub eta: i64,
    pub start: i64,
    pub departure: i64,
    pub load: Vec<i64>,
    pub frozen: bool,
    /// New or moved (another van or place in the sequence) since the route was last published,
    /// or its ETA moved by at least the tolerance.
    pub changed: bool,
    /// Predicted to miss its window (a delay): it will be served late.
    pub late: bool,
}

/// One van's route as published: every remaining stop with its ETA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteChange {
    pub vehicle: String,
    /// Increases with every publication of this van's route.
    pub version: u64,
    /// "at_depot", "on_road" or "done".
    pub status: String,
    /// When it leaves (left) its depot, and when it will be back.
    pub departure: Option<i64>,
    pub end: Option<i64>,
    pub stops: Vec<PlanRow>,
}

impl Dispatcher {
    /// Every remaining stop of every van at the current time, vans in fleet order.
    pub fn plan(&self) -> Vec<PlanRow> {
        (0..self.vans.len()).flat_map(|v| self.route_rows(v)).collect()
    }

    fn route_rows(&self, van: usize) -> Vec<PlanRow> {
        let state = &self.vans[van];
        let schedule = self.schedule(van, &state.route);
        let published = state.published.as_ref();
        let dims = self.fleet.num_dims;
        state
            .route
            .iter()
            .zip(&schedule.stops)
            .enumerate()
            .map(|(i, (&k, t))| {
                let moved = published.is_none_or(|(orders, _)| orders.get(i) != Some(&k));
                let shifted = published.is_some_and(|(_, etas)| etas.get(i).is_some_and(|&e| (e - t.arrival).abs() >= self.settings.eta_tolerance.max(1)));
                PlanRow {
                    vehicle: self.fleet.vans[van].id.clone(),
                    seq: i as u32 + 1,
                    order_id: self.orders[k as usize].spec.id.clone(),
                    eta: t.arrival,
                    start: t.start,
                    departure: t.departure,
                    load: t.load[..dims].to_vec(),
                    frozen: i < state.frozen,
                    changed: moved || shifted,
                    late: t.late,
                }
            })
            .collect()
    }

    /// Routes that changed since they were last published (stops, order, or an ETA by at least
    /// the tolerance; a van that finished its day once more), now marked published.
    pub fn take_changes(&mut self) -> Vec<RouteChange> {
        let mut out = Vec::new();
        for van in 0..self.vans.len() {
            let rows = self.route_rows(van);
            let state = &self.vans[van];
            let changed = match &state.published {
                None => !rows.is_empty(),
                Some((orders, _)) => rows.iter().any(|r| r.changed) || orders.len() != rows.len(),
            };
            if !changed {
                continue;
            }
            let schedule = self.schedule(van, &state.route);
            let (status, departure, end) = match state.phase {
                Phase::AtDepot => ("at_depot", (!rows.is_empty()).then_some(schedule.departure), (!rows.is_empty()).then_some(schedule.end)),
                Phase::Done { at } => ("done", state.departure, Some(at)),
                _ => ("on_road", state.departure, Some(schedule.end)),
            };
            let version = state.version + 1;
            let published = (state.route.clone(), rows.iter().map(|r| r.eta).collect());
            let v = &mut self.vans[van];
            v.version = version;
            v.published = Some(published);
            out.push(RouteChange {
                vehicle: self.fleet.vans[van].id.clone(),
                version,
                status: status.into(),
                departure,
                end,
                stops: rows,
            });
        }
        out
    }
}
