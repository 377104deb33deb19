//! Penalised costs: infeasible routes are allowed during the search at a price per unit of excess
//! load, time warp and excess distance; the penalty manager tunes the prices so that about half of
//! the local optima found are feasible.

use super::problem::VehicleType;
use super::segment::{DurSeg, LoadSeg};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Penalties {
    pub load: i64,
    pub time_warp: i64,
    pub distance: i64,
}

impl Penalties {
    /// Route cost: fixed cost, distance and duration costs, and the penalties of its violations.
    #[inline]
    pub fn route_cost(
        &self,
        vt: &VehicleType,
        dist: i64,
        dur: &DurSeg,
        load: &LoadSeg,
        empty: bool,
    ) -> i64 {
        if empty {
            return 0;
        }
        vt.fixed_cost
            + vt.unit_distance_cost * dist
            + vt.unit_duration_cost * dur.duration
            + self.load * load.excess(&vt.capacity)
            + self.time_warp * dur.total_time_warp(vt.max_duration)
            + self.distance * (dist - vt.max_distance).max(0)
    }

    pub fn scaled(&self, factor: i64) -> Penalties {
        Penalties {
            load: self.load * factor,
            time_warp: self.time_warp * factor,
            distance: self.distance * factor,
        }
    }
}

/// Adapts each penalty to the share of recent local optima that satisfied its constraint.
#[derive(Clone, Debug)]
pub struct PenaltyManager {
    values: [f64; 3],
    feasible: [u32; 3],
    seen: u32,
    pub target: f64,
    pub interval: u32,
}

impl PenaltyManager {
    pub fn new(initial: Penalties) -> Self {
        PenaltyManager {
            values: [
                initial.load as f64,
                initial.time_warp as f64,
                initial.distance as f64,
            ],
            feasible: [0; 3],
            seen: 0,
            target: 0.5,
            interval: 25,
        }
    }

    pub fn penalties(&self) -> Penalties {
        let p = |v: f64| (v.round() as i64).clamp(1, 1_000_000_000);
        Penalties {
            load: p(self.values[0]),
            time_warp: p(self.values[1]),
            distance: p(self.values[2]),
        }
    }

    /// Records one local optimum; returns true when the penalties changed.
    pub fn register(&mut self, load_ok: bool, tw_ok: bool, dist_ok: bool) -> bool {
        let before = self.penalties();
        for (k, ok) in [load_ok, tw_ok, dist_ok].into_iter().enumerate() {
            self.feasible[k] += ok as u32;
        }
        self.seen += 1;
        if self.seen < self.interval {
            return false;
        }
        for k in 0..3 {
            let share = self.feasible[k] as f64 / self.seen as f64;
            if share < self.target - 0.05 {
                let factor = if share < 0.1 { 2.0 } else { 1.25 };
                self.values[k] = (self.values[k] * factor).min(1e9);
            } else if share > self.target + 0.05 {
                self.values[k] = (self.values[k] * 0.85).max(1.0);
            }
        }
        self.feasible = [0; 3];
        self.seen = 0;
        self.penalties() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalties_rise_when_infeasible_and_fall_when_feasible() {
        let mut m = PenaltyManager::new(Penalties {
            load: 10,
            time_warp: 10,
            distance: 10,
        });
        for _ in 0..25 {
            m.register(false, true, true);
        }
        let p = m.penalties();
        assert!(p.load > 10 && p.time_warp < 10, "{p:?}");
    }
}
