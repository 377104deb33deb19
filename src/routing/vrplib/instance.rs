//! A VRPLIB file (PyVRP's dialect) turned into problem data. Everything the file says either
//! becomes part of the model or refuses the file with a `ParseError` naming the key or section
//! and its line: a constraint the solver cannot honour yet is never dropped.

use super::fleet::{group, vehicles};
use super::text::{Row, Text, Values};
use super::{num, perr, Instance, Rounding};
use crate::error::{Error, Result};
use crate::routing::problem::{Client, Depot, Matrix, ProblemData, Profile, INF};

fn unsupported(line: usize, what: &str, constraint: &str) -> Error {
    perr(line, format!("{what}: {constraint} are not supported yet; refusing the file rather than solving it without them"))
}

/// Per node (1..=dim), the values of a node section, each with its line.
fn node_section(
    text: &Text,
    name: &str,
    dim: usize,
    min_cols: usize,
) -> Result<Option<Vec<Values>>> {
    let Some((header, rows)) = text.section(name) else {
        return Ok(None);
    };
    let mut out: Vec<Option<Values>> = vec![None; dim];
    for (line, toks) in rows {
        if toks.len() < 1 + min_cols {
            return Err(perr(
                *line,
                format!("{name}_SECTION: expected a node id and {min_cols} value(s)"),
            ));
        }
        let id = num(&toks[0], *line)?;
        if id.fract() != 0.0 || id < 1.0 || id as usize > dim {
            return Err(perr(
                *line,
                format!("{name}_SECTION: node {id} outside 1..={dim}"),
            ));
        }
        let slot = &mut out[id as usize - 1];
        if slot.is_some() {
            return Err(perr(
                *line,
                format!("{name}_SECTION: node {id} appears twice"),
            ));
        }
        *slot = Some((
            *line,
            toks[1..]
                .iter()
                .map(|t| num(t, *line))
                .collect::<Result<_>>()?,
        ));
    }
    let last = rows.last().map_or(header, |r| r.0);
    out.into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| perr(last, format!("{name}_SECTION: node {} missing", i + 1)))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

fn amounts(name: &str, (line, values): &Values) -> Result<Vec<i64>> {
    values
        .iter()
        .map(|&q| {
            if q.fract() != 0.0 || q < 0.0 {
                Err(perr(
                    *line,
                    format!("{name}_SECTION: expected non-negative whole numbers, found {q}"),
                ))
            } else {
                Ok(q as i64)
            }
        })
        .collect()
}

/// One of two alternative sections (e.g. DEMAND or LINEHAUL), refusing both.
fn either(
    text: &Text,
    a: &str,
    b: &str,
    dim: usize,
) -> Result<Option<(&'static str, Vec<Values>)>> {
    let (sa, sb) = (
        node_section(text, a, dim, 1)?,
        node_section(text, b, dim, 1)?,
    );
    match (sa, sb) {
        (Some(_), Some(_)) => Err(perr(
            text.section(b).map_or(1, |s| s.0),
            format!("{a}_SECTION and {b}_SECTION both give the same amounts: give one"),
        )),
        (Some(x), None) => Ok(Some((if a == "DEMAND" { "DEMAND" } else { "BACKHAUL" }, x))),
        (None, Some(x)) => Ok(Some((
            if b == "LINEHAUL" {
                "LINEHAUL"
            } else {
                "PICKUP"
            },
            x,
        ))),
        (None, None) => Ok(None),
    }
}

fn depot_ids(text: &Text, dim: usize) -> Result<Vec<usize>> {
    let mut ids = Vec::new();
    if let Some((_, rows)) = text.section("DEPOT") {
        'rows: for (line, toks) in rows {
            for t in toks {
                let id = num(t, *line)?;
                if id == -1.0 {
                    break 'rows;
                }
                if id.fract() != 0.0 || id < 1.0 || id as usize > dim {
                    return Err(perr(
                        *line,
                        format!("DEPOT_SECTION: node {id} outside 1..={dim}"),
                    ));
                }
                if ids.contains(&(id as usize)) {
                    return Err(perr(
                        *line,
                        format!("DEPOT_SECTION: node {id} appears twice"),
                    ));
                }
                ids.push(id as usize);
            }
        }
    }
    if ids.is_empty() {
        ids.push(1);
    }
    Ok(ids)
}

/// Refuses what the model cannot represent yet.
fn refuse_unsupported(text: &Text) -> Result<()> {
    if let Some((t, l)) = text.spec("TYPE") {
        if t.eq_ignore_ascii_case("VRPB") {
            return Err(unsupported(
                l,
                "TYPE : VRPB",
                "backhauls served after all linehauls",
            ));
        }
    }
    for (name, constraint) in [
        (
            "VEHICLES_RELOAD_DEPOT",
            "reloads at depots during a route (multi-trip)",
        ),
        (
            "VEHICLES_MAX_RELOADS",
            "reloads at depots during a route (multi-trip)",
        ),
        (
            "PICKUP_AND_DELIVERY",
            "shipments picked up at one client and delivered to another",
        ),
    ] {
        if let Some((l, _)) = text.section(name) {
            return Err(unsupported(l, &format!("{name}_SECTION"), constraint));
        }
        if let Some((_, l)) = text.spec(name) {
            return Err(unsupported(l, name, constraint));
        }
    }
    if let Some((_, rows)) = text.section("MUTUALLY_EXCLUSIVE_GROUP") {
        // A group of one client constrains nothing (PyVRP drops it too); larger ones are refused.
        if let Some((line, _)) = rows.iter().find(|(_, toks)| toks.len() > 2) {
            return Err(unsupported(
                *line,
                "MUTUALLY_EXCLUSIVE_GROUP_SECTION",
                "groups of clients of which one is served",
            ));
        }
    }
    Ok(())
}

fn release_times_are_zero(text: &Text, dim: usize) -> Result<()> {
    text.refuse_both("RELEASE_TIME")?;
    let constraint = "release times (goods ready at the depot only from a time on)";
    if let Some((v, l)) = text.spec("RELEASE_TIME") {
        if num(v, l)? != 0.0 {
            return Err(unsupported(l, "RELEASE_TIME", constraint));
        }
    }
    if let Some(rows) = node_section(text, "RELEASE_TIME", dim, 1)? {
        if let Some((line, _)) = rows.iter().find(|(_, v)| v[0] != 0.0) {
            return Err(unsupported(*line, "RELEASE_TIME_SECTION", constraint));
        }
    }
    Ok(())
}

pub fn build(text: &Text, rounding: Rounding) -> Result<Instance> {
    let (dim_text, dim_line) = text
        .spec("DIMENSION")
        .ok_or_else(|| perr(1, "missing DIMENSION"))?;
    let dim = num(dim_text, dim_line)?;
    if dim.fract() != 0.0 || dim < 1.0 {
        return Err(perr(dim_line, "DIMENSION must be a positive whole number"));
    }
    let dim = dim as usize;
    refuse_unsupported(text)?;
    release_times_are_zero(text, dim)?;
    let name = text
        .spec("NAME")
        .map(|v| v.0.to_string())
        .unwrap_or_default();
    let depot_ids = depot_ids(text, dim)?;
    let mut order: Vec<usize> = depot_ids.clone();
    order.extend((1..=dim).filter(|i| !depot_ids.contains(i)));

    let coords = node_section(text, "NODE_COORD", dim, 2)?;
    let _ = node_section(text, "DISPLAY_DATA", dim, 2)?; // drawing positions only
    let distance = edge_weights(text, dim, rounding, &order, coords.as_deref())?;
    let demands = either(text, "DEMAND", "LINEHAUL", dim)?;
    let pickups = either(text, "BACKHAUL", "PICKUP", dim)?;
    let windows = node_section(text, "TIME_WINDOW", dim, 2)?;
    text.refuse_both("SERVICE_TIME")?;
    let services = node_section(text, "SERVICE_TIME", dim, 1)?;
    let default_service = match text.spec("SERVICE_TIME") {
        Some((v, l)) => num(v, l)?,
        None => 0.0,
    };
    let prizes = node_section(text, "PRIZE", dim, 1)?;
    let xy = |id: usize| {
        coords
            .as_ref()
            .map_or((0.0, 0.0), |c| (c[id - 1].1[0], c[id - 1].1[1]))
    };
    let window = |id: usize| -> (i64, i64) {
        windows.as_ref().map_or((0, INF), |w| {
            (
                rounding.apply(w[id - 1].1[0]),
                rounding.apply(w[id - 1].1[1]),
            )
        })
    };

    let depots: Vec<Depot> = depot_ids
        .iter()
        .map(|&id| Depot::at(xy(id).0, xy(id).1))
        .collect();
    let mut clients = Vec::with_capacity(dim - depot_ids.len());
    for &id in &order[depot_ids.len()..] {
        let (x, y) = xy(id);
        let mut c = Client::at(x, y);
        if let Some((what, d)) = &demands {
            c.delivery = amounts(what, &d[id - 1])?;
        }
        if let Some((what, p)) = &pickups {
            c.pickup = amounts(what, &p[id - 1])?;
        }
        c.service = rounding.apply(
            services
                .as_ref()
                .map_or(default_service, |s| s[id - 1].1[0]),
        );
        let (early, late) = window(id);
        if early > late {
            return Err(perr(
                windows.as_ref().map_or(1, |w| w[id - 1].0),
                format!("TIME_WINDOW_SECTION: node {id} opens after it closes"),
            ));
        }
        c.time_windows = vec![(early, late)];
        if let Some(p) = &prizes {
            // As in PyVRP: a client with a prize is optional, one without (zero) is required.
            c.prize = rounding.apply(p[id - 1].1[0]);
            c.required = c.prize == 0;
        }
        clients.push(c);
    }

    let count = match text.spec("VEHICLES") {
        Some((v, l)) => {
            let n = num(v, l)?;
            if n.fract() != 0.0 || n < 0.0 {
                return Err(perr(l, "VEHICLES must be a whole number"));
            }
            n as usize
        }
        None => clients.len().max(1),
    };
    let fleet = vehicles(text, rounding, count, &depot_ids, dim)?;
    // Allowed-client lists become skills: one bit per distinct restricted list, which every
    // vehicle has except those of that list, and which every client outside that list needs.
    let mut lists: Vec<&Vec<usize>> = Vec::new();
    let all_clients = dim - depot_ids.len();
    for v in &fleet {
        if let Some(a) = &v.allowed {
            if a.len() < all_clients && !lists.contains(&a) {
                lists.push(a);
            }
        }
    }
    if lists.len() > 64 {
        let line = text.section("VEHICLES_ALLOWED_CLIENTS").map_or(1, |s| s.0);
        return Err(perr(line, format!("VEHICLES_ALLOWED_CLIENTS_SECTION: {} distinct client lists, at most 64 are supported", lists.len())));
    }
    let every = if lists.len() == 64 {
        u64::MAX
    } else {
        (1u64 << lists.len()) - 1
    };
    for (k, &id) in order[depot_ids.len()..].iter().enumerate() {
        for (b, list) in lists.iter().enumerate() {
            if list.binary_search(&id).is_err() {
                clients[k].skills |= 1 << b;
            }
        }
    }
    let depot_window = |d: usize| window(depot_ids[d]);
    let skills = |allowed: &Option<Vec<usize>>| match allowed {
        Some(a) => match lists.iter().position(|l| *l == a) {
            Some(b) => every & !(1u64 << b),
            None => every,
        },
        None => every,
    };
    let (vehicle_types, members) = group(&fleet, depot_window, skills);
    let data = ProblemData::new(
        depots,
        clients,
        vehicle_types,
        vec![Profile {
            duration: distance.clone(),
            distance,
        }],
    )?;
    Ok(Instance {
        name,
        data,
        scale: rounding.scale(),
        node_ids: order,
        vehicles: members,
    })
}

fn edge_weights(
    text: &Text,
    dim: usize,
    rounding: Rounding,
    order: &[usize],
    coords: Option<&[Values]>,
) -> Result<Matrix> {
    let (kind, line) = match text.spec("EDGE_WEIGHT_TYPE") {
        Some((v, l)) => (v.to_ascii_uppercase(), l),
        None => ("EUC_2D".to_string(), 1),
    };
    if kind == "EXPLICIT" {
        return explicit_matrix(text, dim, rounding, order);
    }
    let shape: fn(f64) -> f64 = match kind.as_str() {
        "EUC_2D" => |d| d,
        "FLOOR_2D" => f64::floor,
        "CEIL_2D" => f64::ceil,
        "EXACT_2D" => |d| (d * 1000.0).round(),
        other => {
            return Err(perr(line, format!("EDGE_WEIGHT_TYPE {other} is not supported (EUC_2D, FLOOR_2D, CEIL_2D, EXACT_2D, EXPLICIT)")))
        }
    };
    let c = coords.ok_or_else(|| {
        perr(
            line,
            format!("EDGE_WEIGHT_TYPE {kind} needs a NODE_COORD_SECTION"),
        )
    })?;
    let xy: Vec<(f64, f64)> = order
        .iter()
        .map(|&id| (c[id - 1].1[0], c[id - 1].1[1]))
        .collect();
    let mut m = Matrix::zeros(xy.len());
    for (i, a) in xy.iter().enumerate() {
        for (j, b) in xy.iter().enumerate() {
            m.set(
                i,
                j,
                rounding.apply(shape(((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())),
            );
        }
    }
    Ok(m)
}

fn explicit_matrix(text: &Text, dim: usize, rounding: Rounding, order: &[usize]) -> Result<Matrix> {
    let (fmt, fmt_line) = match text.spec("EDGE_WEIGHT_FORMAT") {
        Some((v, l)) => (v.to_ascii_uppercase(), l),
        None => ("FULL_MATRIX".to_string(), 1),
    };
    let (_, rows): (usize, &[Row]) = text
        .section("EDGE_WEIGHT")
        .ok_or_else(|| perr(1, "EXPLICIT weights need an EDGE_WEIGHT_SECTION"))?;
    let mut values = Vec::new();
    for (line, toks) in rows {
        for t in toks {
            values.push(num(t, *line)?);
        }
    }
    let last_line = rows.last().map_or(1, |r| r.0);
    let mut full = vec![0f64; dim * dim];
    let mut it = values.into_iter();
    let mut next = || {
        it.next().ok_or_else(|| {
            perr(
                last_line,
                format!("EDGE_WEIGHT_SECTION has too few values for {fmt}"),
            )
        })
    };
    match fmt.as_str() {
        "FULL_MATRIX" => {
            for v in full.iter_mut() {
                *v = next()?;
            }
        }
        "LOWER_ROW" | "LOWER_DIAG_ROW" | "UPPER_ROW" | "UPPER_DIAG_ROW" => {
            let diag = fmt.contains("DIAG");
            let lower = fmt.starts_with("LOWER");
            for i in 0..dim {
                let range: Vec<usize> = if lower {
                    (0..i + diag as usize).collect()
                } else {
                    (i + !diag as usize..dim).collect()
                };
                for j in range {
                    let v = next()?;
                    full[i * dim + j] = v;
                    full[j * dim + i] = v;
                }
            }
        }
        other => {
            return Err(perr(
                fmt_line,
                format!("EDGE_WEIGHT_FORMAT {other} is not supported"),
            ))
        }
    }
    if it.next().is_some() {
        return Err(perr(
            last_line,
            format!("EDGE_WEIGHT_SECTION has more values than {fmt} of {dim} nodes takes"),
        ));
    }
    let n = order.len();
    let mut data = Vec::with_capacity(n * n);
    for &a in order {
        for &b in order {
            data.push(rounding.apply(full[(a - 1) * dim + (b - 1)]));
        }
    }
    Matrix::new(n, data)
}
