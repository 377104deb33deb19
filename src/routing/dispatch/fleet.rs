//! The fixed part of a dispatcher: depots, vans (one per vehicle of each vehicle type, each with an
//! id) and the settings that shape re-planning.

use super::sites::Place;
use crate::error::{Error, Result};
use crate::routing::problem::{Depot, VehicleType, MAX_DIMS};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Van {
    pub id: String,
    pub vehicle_type: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    pub depots: Vec<Depot>,
    pub depot_places: Vec<Place>,
    pub vehicle_types: Vec<VehicleType>,
    pub vans: Vec<Van>,
    pub num_dims: usize,
    /// Skill names by bit (the model's numbering), to read skills given by name.
    pub skills: Vec<String>,
}

impl Fleet {
    pub fn new(
        depots: Vec<Depot>,
        depot_places: Vec<Place>,
        mut vehicle_types: Vec<VehicleType>,
        vans: Vec<Van>,
        skills: Vec<String>,
    ) -> Result<Self> {
        if depots.is_empty() || depots.len() != depot_places.len() {
            return Err(Error::config("a dispatcher needs at least one depot (with its place)"));
        }
        let num_dims = vehicle_types.iter().map(|v| v.capacity.len()).max().unwrap_or(0).max(1);
        if num_dims > MAX_DIMS {
            return Err(Error::config(format!("{num_dims} capacity dimensions given, at most {MAX_DIMS} are supported")));
        }
        for (t, v) in vehicle_types.iter_mut().enumerate() {
            if v.start_depot >= depots.len() || v.end_depot >= depots.len() {
                return Err(Error::config(format!("vehicle type {t}: depot {} or {} does not exist", v.start_depot, v.end_depot)));
            }
            if v.capacity.is_empty() {
                v.capacity = vec![crate::routing::INF; num_dims];
            }
            v.capacity.resize(num_dims, 0);
            v.count = 1; // every van is a vehicle of its own
        }
        let mut seen = std::collections::HashSet::new();
        for van in &vans {
            if van.vehicle_type >= vehicle_types.len() {
                return Err(Error::config(format!("van {:?}: vehicle type {} does not exist", van.id, van.vehicle_type)));
            }
            if van.id.is_empty() || !seen.insert(van.id.as_str()) {
                return Err(Error::config(format!("van ids must be unique and non-empty, got {:?} twice or empty", van.id)));
            }
        }
        if vans.is_empty() {
            return Err(Error::config("a dispatcher needs at least one van"));
        }
        Ok(Fleet { depots, depot_places, vehicle_types, vans, num_dims, skills })
    }

    pub fn vehicle(&self, van: usize) -> &VehicleType {
        &self.vehicle_types[self.vans[van].vehicle_type]
    }

    /// When van `van` may leave its start depot at the earliest and must be back at the latest.
    pub fn shift(&self, van: usize) -> (i64, i64) {
        let vt = self.vehicle(van);
        let (s, e) = (&self.depots[vt.start_depot], &self.depots[vt.end_depot]);
        (vt.tw_early.max(s.tw_early), vt.tw_late.min(e.tw_late))
    }
}

/// How the dispatcher re-plans. Times in model units, costs in internal cost units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Stops a van reaches within this horizon are fixed, and a van leaving the depot within it
    /// is loading: its load is fixed too.
    pub freeze: i64,
    /// Cost of moving a promised (planned) stop to another van, per stop.
    pub stability: i64,
    pub seed: u64,
    pub threads: usize,
    /// A route is published again when a stop's ETA moves by at least this much.
    pub eta_tolerance: i64,
    /// Iterations of the re-planning a predicted late stop triggers.
    pub replan_iterations: u64,
    /// Plans aim to reach a stop this long before its window closes (a margin for delays); a stop
    /// is flagged late only when it will miss the window itself.
    pub buffer: i64,
    /// How input values map to model units (and whether messages show times as HH:MM).
    pub units: super::input::Units,
}

impl Settings {
    /// A duration for messages: "5m", "90s", "1h30m" on a clock, else the number.
    pub fn span(&self, d: i64) -> String {
        if !self.units.clock || d <= 0 {
            return d.to_string();
        }
        let (h, m, s) = (d / 3600, d % 3600 / 60, d % 60);
        [(h, "h"), (m, "m"), (s, "s")].iter().filter(|(n, _)| *n > 0).map(|(n, u)| format!("{n}{u}")).collect()
    }

    /// A time for messages.
    pub fn time(&self, t: i64) -> String {
        if self.units.clock && (0..10 * 86_400).contains(&t) {
            format!("{:02}:{:02}:{:02}", t / 3600, t % 3600 / 60, t % 60)
        } else {
            t.to_string()
        }
    }
}
