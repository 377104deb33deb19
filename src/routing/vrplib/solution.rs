//! Solutions in PyVRP's `.sol` convention, so that PyVRP's `read_solution` evaluates them:
//! `Route #k` is the route of the instance's vehicle k (vehicles numbered in the order the vehicle
//! types list them; an unused vehicle before the last used one gets an empty `Route #k:` line),
//! locations are numbered as in the instance (node id minus one: depots and clients alike), then
//! `Cost c`.

use crate::error::{Error, Result};
use crate::routing::solution::Solution;

/// `vehicles[t]`: the vehicles (0-based) vehicle type `t` stands for; `numbers[l]`: the number
/// written for location `l`.
pub fn write_solution(
    sol: &Solution,
    vehicles: &[Vec<usize>],
    numbers: &[usize],
    cost: f64,
) -> Result<String> {
    let mut used = vec![0usize; vehicles.len()];
    let mut by_vehicle: Vec<Option<String>> = Vec::new();
    for (r, route) in sol.routes.iter().enumerate() {
        let t = route.vehicle_type;
        let vehicle = *vehicles
            .get(t)
            .and_then(|ids| ids.get(used[t]))
            .ok_or_else(|| {
                Error::config(format!(
                    "route {r}: vehicle type {t} has no vehicle left for it"
                ))
            })?;
        used[t] += 1;
        if by_vehicle.len() <= vehicle {
            by_vehicle.resize(vehicle + 1, None);
        }
        let visits = route
            .visits
            .iter()
            .map(|&l| {
                numbers
                    .get(l)
                    .map(|n| n.to_string())
                    .ok_or_else(|| Error::config(format!("route {r}: location {l} has no number")))
            })
            .collect::<Result<Vec<_>>>()?;
        by_vehicle[vehicle] = Some(visits.join(" "));
    }
    let mut out = String::new();
    for (k, visits) in by_vehicle.iter().enumerate() {
        match visits {
            Some(v) => out.push_str(&format!("Route #{}: {v}\n", k + 1)),
            None => out.push_str(&format!("Route #{}:\n", k + 1)),
        }
    }
    if cost.fract() == 0.0 {
        out.push_str(&format!("Cost {}\n", cost as i64));
    } else {
        out.push_str(&format!("Cost {cost}\n"));
    }
    Ok(out)
}
