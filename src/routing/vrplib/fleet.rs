//! The fleet of a VRPLIB file in PyVRP's dialect: attributes given per vehicle (a `VEHICLES_*`
//! key for all of them, or a `..._SECTION` with one row per vehicle id 1..=VEHICLES), grouped into
//! vehicle types of identical vehicles in order of first appearance, as PyVRP's `read` groups them.

use super::text::{Text, Values};
use super::{num, perr, Rounding};
use crate::error::Result;
use crate::routing::problem::{VehicleType, INF};

/// One vehicle's attributes, in the file's units after rounding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vehicle {
    pub capacity: Vec<i64>,
    /// Index into the instance's depots.
    pub depot: usize,
    pub max_duration: i64,
    pub max_distance: i64,
    pub fixed_cost: i64,
    pub unit_distance_cost: i64,
    pub unit_duration_cost: i64,
    /// Client node ids (1-based) it may serve; None: all.
    pub allowed: Option<Vec<usize>>,
}

/// Per vehicle, the values of `name` given as a key (one value or a row for all) or a section
/// (one row per vehicle id).
fn per_vehicle(text: &Text, name: &str, vehicles: usize) -> Result<Option<Vec<Values>>> {
    text.refuse_both(name)?;
    if let Some((value, line)) = text.spec(name) {
        let values = value
            .split_whitespace()
            .map(|t| num(t, line))
            .collect::<Result<Vec<_>>>()?;
        if values.is_empty() {
            return Err(perr(line, format!("{name} has no value")));
        }
        return Ok(Some(vec![(line, values); vehicles]));
    }
    let Some((header, rows)) = text.section(name) else {
        return Ok(None);
    };
    let mut out: Vec<Option<Values>> = vec![None; vehicles];
    for (line, toks) in rows {
        let id = num(&toks[0], *line)?;
        if id.fract() != 0.0 || id < 1.0 || id as usize > vehicles {
            return Err(perr(
                *line,
                format!("{name}_SECTION: vehicle {id} outside 1..={vehicles} (VEHICLES)"),
            ));
        }
        let slot = &mut out[id as usize - 1];
        if slot.is_some() {
            return Err(perr(
                *line,
                format!("{name}_SECTION: vehicle {id} appears twice"),
            ));
        }
        let values = toks[1..]
            .iter()
            .map(|t| num(t, *line))
            .collect::<Result<Vec<_>>>()?;
        *slot = Some((*line, values));
    }
    let last = rows.last().map_or(header, |r| r.0);
    out.into_iter()
        .enumerate()
        .map(|(v, x)| {
            x.ok_or_else(|| perr(last, format!("{name}_SECTION: vehicle {} missing", v + 1)))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn one(name: &str, (line, values): &Values) -> Result<f64> {
    match values.as_slice() {
        [v] => Ok(*v),
        _ => Err(perr(
            *line,
            format!(
                "{name}: expected one value per vehicle, found {}",
                values.len()
            ),
        )),
    }
}

fn whole(name: &str, line: usize, v: f64) -> Result<i64> {
    if v.fract() != 0.0 || v < 0.0 {
        return Err(perr(
            line,
            format!("{name}: expected a non-negative whole number, found {v}"),
        ));
    }
    Ok(v as i64)
}

/// Every vehicle of the file, in vehicle id order.
pub fn vehicles(
    text: &Text,
    rounding: Rounding,
    count: usize,
    depot_ids: &[usize],
    dim: usize,
) -> Result<Vec<Vehicle>> {
    let capacity = per_vehicle(text, "CAPACITY", count)?;
    let max_duration = per_vehicle(text, "VEHICLES_MAX_DURATION", count)?;
    let max_distance = per_vehicle(text, "VEHICLES_MAX_DISTANCE", count)?;
    if let (Some((_, l)), Some(_)) = (text.spec("DISTANCE"), &max_distance) {
        return Err(perr(
            l,
            "DISTANCE and VEHICLES_MAX_DISTANCE both limit the route length: give one",
        ));
    }
    let max_distance = match (max_distance, text.spec("DISTANCE")) {
        (None, Some((v, l))) => Some(vec![(l, vec![num(v, l)?]); count]),
        (m, _) => m,
    };
    let fixed_cost = per_vehicle(text, "VEHICLES_FIXED_COST", count)?;
    let unit_distance = per_vehicle(text, "VEHICLES_UNIT_DISTANCE_COST", count)?;
    let unit_duration = per_vehicle(text, "VEHICLES_UNIT_DURATION_COST", count)?;
    let depot = per_vehicle(text, "VEHICLES_DEPOT", count)?;
    let allowed = per_vehicle(text, "VEHICLES_ALLOWED_CLIENTS", count)?;
    let mut out = Vec::with_capacity(count);
    for v in 0..count {
        let capacity = match &capacity {
            Some(c) => c[v]
                .1
                .iter()
                .map(|&x| whole("CAPACITY", c[v].0, x))
                .collect::<Result<Vec<_>>>()?,
            None => vec![],
        };
        let limit = |values: &Option<Vec<Values>>, name: &str| -> Result<i64> {
            match values {
                Some(x) => Ok(rounding.apply(one(name, &x[v])?)),
                None => Ok(INF),
            }
        };
        let cost = |values: &Option<Vec<Values>>, name: &str, default: i64| -> Result<i64> {
            match values {
                Some(x) => whole(name, x[v].0, one(name, &x[v])?),
                None => Ok(default),
            }
        };
        let depot = match &depot {
            Some(d) => {
                let id = one("VEHICLES_DEPOT", &d[v])?;
                depot_ids.iter().position(|&i| i as f64 == id).ok_or_else(|| {
                    perr(d[v].0, format!("VEHICLES_DEPOT_SECTION: node {id} of vehicle {} is not in DEPOT_SECTION", v + 1))
                })?
            }
            None => 0,
        };
        let allowed = match &allowed {
            Some(a) => {
                let (line, ids) = &a[v];
                let mut clients = Vec::with_capacity(ids.len());
                for &id in ids {
                    if id.fract() != 0.0
                        || id < 1.0
                        || id as usize > dim
                        || depot_ids.contains(&(id as usize))
                    {
                        return Err(perr(
                            *line,
                            format!("VEHICLES_ALLOWED_CLIENTS_SECTION: node {id} is not a client"),
                        ));
                    }
                    clients.push(id as usize);
                }
                clients.sort_unstable();
                clients.dedup();
                Some(clients)
            }
            None => None,
        };
        out.push(Vehicle {
            capacity,
            depot,
            max_duration: limit(&max_duration, "VEHICLES_MAX_DURATION")?,
            max_distance: limit(&max_distance, "VEHICLES_MAX_DISTANCE")?,
            // Costs of distance are in rounded units, so a fixed cost is rounded (scaled) the same way.
            fixed_cost: match &fixed_cost {
                Some(x) => rounding.apply(one("VEHICLES_FIXED_COST", &x[v])?),
                None => 0,
            },
            unit_distance_cost: cost(&unit_distance, "VEHICLES_UNIT_DISTANCE_COST", 1)?,
            unit_duration_cost: cost(&unit_duration, "VEHICLES_UNIT_DURATION_COST", 0)?,
            allowed,
        });
    }
    Ok(out)
}

/// Identical vehicles grouped into types (first appearance first): the types, and per type the
/// vehicle indices (0-based) it stands for. `shift(depot)` gives a depot's time window; `skills`
/// gives the skill bits of a vehicle's allowed-client set.
pub fn group(
    vehicles: &[Vehicle],
    shift: impl Fn(usize) -> (i64, i64),
    skills: impl Fn(&Option<Vec<usize>>) -> u64,
) -> (Vec<VehicleType>, Vec<Vec<usize>>) {
    let mut keys: Vec<&Vehicle> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, v) in vehicles.iter().enumerate() {
        match keys.iter().position(|k| *k == v) {
            Some(t) => members[t].push(i),
            None => {
                keys.push(v);
                members.push(vec![i]);
            }
        }
    }
    let types = keys
        .iter()
        .zip(&members)
        .map(|(v, m)| {
            let (tw_early, tw_late) = shift(v.depot);
            VehicleType {
                count: m.len(),
                capacity: v.capacity.clone(),
                start_depot: v.depot,
                end_depot: v.depot,
                tw_early,
                tw_late,
                max_duration: v.max_duration,
                max_distance: v.max_distance,
                fixed_cost: v.fixed_cost,
                unit_distance_cost: v.unit_distance_cost,
                unit_duration_cost: v.unit_duration_cost,
                profile: 0,
                skills: skills(&v.allowed),
            }
        })
        .collect();
    (types, members)
}
