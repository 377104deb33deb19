//! Reading VRPLIB instances (CVRP, VRPTW as converted from Solomon, prize-collecting) and Solomon's
//! original text format; writing solutions in VRPLIB's `.sol` format.
//!
//! Rounding follows the conventions of the best-known solutions:
//! `round` = Euclidean distance rounded to the nearest integer (X, Augerat);
//! `dimacs` = distances and times times 10, truncated (Solomon in the DIMACS challenge; costs are
//! reported divided by 10); `exact` = times 1000, rounded (costs reported divided by 1000);
//! `none` = truncated to an integer, no scaling.

use super::problem::{Client, Depot, Matrix, ProblemData, Profile, VehicleType};
use super::solution::Solution;
use crate::error::{Error, Result};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Round,
    Dimacs,
    Exact,
    None,
}

impl Rounding {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "round" => Ok(Rounding::Round),
            "dimacs" => Ok(Rounding::Dimacs),
            "exact" => Ok(Rounding::Exact),
            "none" => Ok(Rounding::None),
            _ => Err(Error::config(format!(
                "unknown rounding {s:?}: expected \"round\", \"dimacs\", \"exact\" or \"none\""
            ))),
        }
    }
    /// Factor the instance's numbers are multiplied by (costs are divided by it for reporting).
    pub fn scale(self) -> i64 {
        match self {
            Rounding::Dimacs => 10,
            Rounding::Exact => 1000,
            _ => 1,
        }
    }
    pub fn apply(self, x: f64) -> i64 {
        match self {
            Rounding::Round => x.round() as i64,
            Rounding::Dimacs => (10.0 * x + 1e-9).floor() as i64,
            Rounding::Exact => (1000.0 * x).round() as i64,
            Rounding::None => x as i64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub name: String,
    pub data: ProblemData,
    /// Integer costs divided by this give the cost in the file's units.
    pub scale: i64,
    /// VRPLIB node id of each location (depots first, then clients).
    pub node_ids: Vec<usize>,
}

fn perr(line: usize, msg: impl std::fmt::Display) -> Error {
    Error::parse(format!("line {line}: {msg}"))
}

fn num(tok: &str, line: usize) -> Result<f64> {
    tok.parse::<f64>()
        .map_err(|_| perr(line, format!("expected a number, found {tok:?}")))
}

pub fn read(path: &str, rounding: Rounding) -> Result<Instance> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_string(),
        source,
    })?;
    parse(&text, rounding).map_err(|e| match e {
        Error::Parse(m) => Error::Parse(format!("{path}: {m}")),
        other => other,
    })
}

/// Parses VRPLIB or Solomon text (detected by Solomon's `CUST NO.` header).
pub fn parse(text: &str, rounding: Rounding) -> Result<Instance> {
    if text
        .lines()
        .any(|l| l.trim_start().to_ascii_uppercase().starts_with("CUST NO"))
    {
        return parse_solomon(text, rounding);
    }
    let mut header: HashMap<String, (String, usize)> = HashMap::new();
    let mut sections: HashMap<String, Vec<(usize, Vec<String>)>> = HashMap::new();
    let mut current: Option<String> = None;
    for (k, raw) in text.lines().enumerate() {
        let line_no = k + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line == "EOF" {
            break;
        }
        let upper = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if upper.ends_with("_SECTION") {
            let name = upper.trim_end_matches(':').to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            let key = key.trim().to_ascii_uppercase();
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                header.insert(
                    key,
                    (value.trim().trim_matches('"').trim().to_string(), line_no),
                );
                current = None;
                continue;
            }
        }
        match &current {
            Some(s) => sections
                .get_mut(s)
                .expect("section")
                .push((line_no, line.split_whitespace().map(String::from).collect())),
            None => {
                return Err(perr(
                    line_no,
                    format!("unexpected text {line:?} outside a section"),
                ))
            }
        }
    }
    let get_num = |key: &str| -> Result<Option<f64>> {
        header
            .get(key)
            .map(|(v, l)| num(v.split_whitespace().next().unwrap_or(""), *l))
            .transpose()
    };
    let dim = get_num("DIMENSION")?.ok_or_else(|| perr(1, "missing DIMENSION"))? as usize;
    if dim == 0 {
        return Err(perr(header["DIMENSION"].1, "DIMENSION must be positive"));
    }
    let name = header.get("NAME").map(|v| v.0.clone()).unwrap_or_default();
    // Per-node columns keyed by 1-based node id.
    let read_section = |name: &str, min_cols: usize| -> Result<Option<Vec<Vec<f64>>>> {
        let Some(rows) = sections.get(name) else {
            return Ok(None);
        };
        let mut out: Vec<Option<Vec<f64>>> = vec![None; dim];
        for (line, toks) in rows {
            if toks.len() < 1 + min_cols {
                return Err(perr(
                    *line,
                    format!("{name}: expected a node id and {min_cols} value(s)"),
                ));
            }
            let id = num(&toks[0], *line)? as usize;
            if id == 0 || id > dim {
                return Err(perr(*line, format!("{name}: node {id} outside 1..={dim}")));
            }
            out[id - 1] = Some(
                toks[1..]
                    .iter()
                    .map(|t| num(t, *line))
                    .collect::<Result<_>>()?,
            );
        }
        out.into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| {
                    perr(
                        rows.last().map_or(1, |r| r.0),
                        format!("{name}: node {} missing", i + 1),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    };
    let coords = read_section("NODE_COORD_SECTION", 2)?;
    let demands = read_section("DEMAND_SECTION", 1)?;
    let pickups = read_section("PICKUP_SECTION", 1)?;
    let windows = read_section("TIME_WINDOW_SECTION", 2)?;
    let services = read_section("SERVICE_TIME_SECTION", 1)?;
    let prizes = read_section("PRIZE_SECTION", 1)?;
    let mut depot_ids = Vec::new();
    if let Some(rows) = sections.get("DEPOT_SECTION") {
        for (line, toks) in rows {
            for t in toks {
                let id = num(t, *line)? as i64;
                if id == -1 {
                    break;
                }
                if id < 1 || id as usize > dim {
                    return Err(perr(
                        *line,
                        format!("DEPOT_SECTION: node {id} outside 1..={dim}"),
                    ));
                }
                depot_ids.push(id as usize);
            }
        }
    }
    if depot_ids.is_empty() {
        depot_ids.push(1);
    }
    let mut order: Vec<usize> = depot_ids.clone();
    order.extend((1..=dim).filter(|i| !depot_ids.contains(i)));

    let ewt = header
        .get("EDGE_WEIGHT_TYPE")
        .map(|v| v.0.to_ascii_uppercase())
        .unwrap_or_else(|| "EUC_2D".into());
    let distance = match ewt.as_str() {
        "EUC_2D" => {
            let c = coords.as_ref().ok_or_else(|| {
                perr(
                    header.get("EDGE_WEIGHT_TYPE").map_or(1, |v| v.1),
                    "EUC_2D needs a NODE_COORD_SECTION",
                )
            })?;
            let xy: Vec<(f64, f64)> = order
                .iter()
                .map(|&id| (c[id - 1][0], c[id - 1][1]))
                .collect();
            let mut m = Matrix::zeros(xy.len());
            for (i, a) in xy.iter().enumerate() {
                for (j, b) in xy.iter().enumerate() {
                    m.set(
                        i,
                        j,
                        rounding.apply(((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()),
                    );
                }
            }
            m
        }
        "EXPLICIT" => explicit_matrix(&header, &sections, dim, rounding, &order)?,
        other => {
            return Err(perr(
                header["EDGE_WEIGHT_TYPE"].1,
                format!("EDGE_WEIGHT_TYPE {other} is not supported (EUC_2D, EXPLICIT)"),
            ))
        }
    };
    let scale = rounding.scale();
    let t = |x: f64| {
        if rounding == Rounding::None {
            x as i64
        } else {
            (x * scale as f64).round() as i64
        }
    };
    let xy = |id: usize| {
        coords
            .as_ref()
            .map_or((0.0, 0.0), |c| (c[id - 1][0], c[id - 1][1]))
    };
    let default_service = get_num("SERVICE_TIME")?.unwrap_or(0.0);
    let mut depots = Vec::new();
    for &id in &depot_ids {
        let (x, y) = xy(id);
        let mut d = Depot::at(x, y);
        if let Some(w) = &windows {
            d.tw_early = t(w[id - 1][0]);
            d.tw_late = t(w[id - 1][1]);
        }
        depots.push(d);
    }
    let mut clients = Vec::new();
    for &id in &order[depot_ids.len()..] {
        let (x, y) = xy(id);
        let mut c = Client::at(x, y);
        c.delivery = demands
            .as_ref()
            .map_or(vec![], |d| d[id - 1].iter().map(|&q| q as i64).collect());
        c.pickup = pickups
            .as_ref()
            .map_or(vec![], |d| d[id - 1].iter().map(|&q| q as i64).collect());
        c.service = t(services.as_ref().map_or(default_service, |s| s[id - 1][0]));
        if let Some(w) = &windows {
            c.time_windows = vec![(t(w[id - 1][0]), t(w[id - 1][1]))];
        }
        if let Some(p) = &prizes {
            c.prize = t(p[id - 1][0]);
            c.required = false;
        }
        clients.push(c);
    }
    let capacity: Vec<i64> = match header.get("CAPACITY") {
        Some((v, l)) => v
            .split_whitespace()
            .map(|x| num(x, *l).map(|f| f as i64))
            .collect::<Result<_>>()?,
        None => vec![],
    };
    let vehicles = get_num("VEHICLES")?
        .map(|v| v as usize)
        .unwrap_or(clients.len().max(1));
    let mut vt = VehicleType::new(vehicles, capacity);
    vt.tw_early = depots[0].tw_early;
    vt.tw_late = depots[0].tw_late;
    if let Some(d) = get_num("DISTANCE")? {
        vt.max_distance = rounding.apply(d);
    }
    let mut vehicle_types = vec![vt];
    for k in 1..depots.len() {
        let mut v = vehicle_types[0].clone();
        v.start_depot = k;
        v.end_depot = k;
        vehicle_types.push(v);
    }
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
        scale,
        node_ids: order,
    })
}

fn explicit_matrix(
    header: &HashMap<String, (String, usize)>,
    sections: &HashMap<String, Vec<(usize, Vec<String>)>>,
    dim: usize,
    rounding: Rounding,
    order: &[usize],
) -> Result<Matrix> {
    let fmt = header
        .get("EDGE_WEIGHT_FORMAT")
        .map(|v| v.0.to_ascii_uppercase())
        .unwrap_or_else(|| "FULL_MATRIX".into());
    let rows = sections
        .get("EDGE_WEIGHT_SECTION")
        .ok_or_else(|| perr(1, "EXPLICIT weights need an EDGE_WEIGHT_SECTION"))?;
    let mut values = Vec::new();
    for (line, toks) in rows {
        for t in toks {
            values.push((num(t, *line)?, *line));
        }
    }
    let mut full = vec![0f64; dim * dim];
    let mut it = values.iter();
    let last_line = rows.last().map_or(1, |r| r.0);
    let mut next = || {
        it.next().map(|v| v.0).ok_or_else(|| {
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
                header["EDGE_WEIGHT_FORMAT"].1,
                format!("EDGE_WEIGHT_FORMAT {other} is not supported"),
            ))
        }
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

/// Solomon's original text: `VEHICLE / NUMBER CAPACITY / n q / CUSTOMER / CUST NO. ...` then rows of
/// id, x, y, demand, ready time, due date, service time; the first row is the depot.
fn parse_solomon(text: &str, rounding: Rounding) -> Result<Instance> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(k, l)| (k + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let name = lines.first().map(|l| l.1.to_string()).unwrap_or_default();
    let nc_pos = lines
        .iter()
        .position(|(_, l)| l.to_ascii_uppercase().starts_with("NUMBER"))
        .ok_or_else(|| perr(1, "missing 'NUMBER CAPACITY' line"))?;
    let (fl, fleet) = lines
        .get(nc_pos + 1)
        .ok_or_else(|| perr(lines[nc_pos].0, "missing fleet line"))?;
    let f: Vec<f64> = fleet
        .split_whitespace()
        .map(|t| num(t, *fl))
        .collect::<Result<_>>()?;
    if f.len() != 2 {
        return Err(perr(*fl, "expected vehicle count and capacity"));
    }
    let head = lines
        .iter()
        .position(|(_, l)| l.to_ascii_uppercase().starts_with("CUST NO"))
        .expect("detected");
    let mut rows = Vec::new();
    for (line, l) in &lines[head + 1..] {
        let v: Vec<f64> = l
            .split_whitespace()
            .map(|t| num(t, *line))
            .collect::<Result<_>>()?;
        if v.len() != 7 {
            return Err(perr(
                *line,
                format!(
                    "expected 7 columns (id x y demand ready due service), found {}",
                    v.len()
                ),
            ));
        }
        rows.push(v);
    }
    if rows.is_empty() {
        return Err(perr(lines[head].0, "no depot row"));
    }
    let scale = rounding.scale();
    let t = |x: f64| {
        if rounding == Rounding::None {
            x as i64
        } else {
            (x * scale as f64).round() as i64
        }
    };
    let d = &rows[0];
    let depot = Depot {
        x: d[1],
        y: d[2],
        tw_early: t(d[4]),
        tw_late: t(d[5]),
    };
    let clients: Vec<Client> = rows[1..]
        .iter()
        .map(|r| Client {
            delivery: vec![r[3] as i64],
            service: t(r[6]),
            time_windows: vec![(t(r[4]), t(r[5]))],
            ..Client::at(r[1], r[2])
        })
        .collect();
    let xy: Vec<(f64, f64)> = rows.iter().map(|r| (r[1], r[2])).collect();
    let mut m = Matrix::zeros(xy.len());
    for (i, a) in xy.iter().enumerate() {
        for (j, b) in xy.iter().enumerate() {
            m.set(
                i,
                j,
                rounding.apply(((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()),
            );
        }
    }
    let mut vt = VehicleType::new(f[0] as usize, vec![f[1] as i64]);
    vt.tw_early = depot.tw_early;
    vt.tw_late = depot.tw_late;
    let n = rows.len();
    let data = ProblemData::new(
        vec![depot],
        clients,
        vec![vt],
        vec![Profile {
            duration: m.clone(),
            distance: m,
        }],
    )?;
    Ok(Instance {
        name,
        data,
        scale,
        node_ids: (1..=n).collect(),
    })
}

/// A solution in VRPLIB's `.sol` format: `Route #k: ...` with location indices (depots first, so with
/// one depot a client's number is its node id minus one), then `Cost c`.
pub fn write_solution(sol: &Solution, cost: f64) -> String {
    let mut out = String::new();
    for (k, r) in sol.routes.iter().enumerate() {
        let ids: Vec<String> = r.visits.iter().map(|v| v.to_string()).collect();
        out.push_str(&format!("Route #{}: {}\n", k + 1, ids.join(" ")));
    }
    if cost.fract() == 0.0 {
        out.push_str(&format!("Cost {}\n", cost as i64));
    } else {
        out.push_str(&format!("Cost {cost}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CVRP: &str = "NAME : tiny\nTYPE : CVRP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 0 1.5\n4 -3 -4\nDEMAND_SECTION\n1 0\n2 5\n3 5\n4 5\nDEPOT_SECTION\n1\n-1\nEOF\n";

    #[test]
    fn reads_cvrp_with_each_rounding() {
        let i = parse(CVRP, Rounding::Round).unwrap();
        assert_eq!(i.name, "tiny");
        assert_eq!(i.data.num_clients(), 3);
        assert_eq!(i.data.profiles[0].distance.get(0, 2), 2); // 1.5 rounds to 2
        assert_eq!(i.data.vehicle_types[0].count, 3); // no VEHICLES: one per client
        let d = parse(CVRP, Rounding::Dimacs).unwrap();
        assert_eq!((d.data.profiles[0].distance.get(0, 1), d.scale), (50, 10));
        let e = parse(CVRP, Rounding::Exact).unwrap();
        assert_eq!(e.data.profiles[0].distance.get(0, 2), 1500);
        let n = parse(CVRP, Rounding::None).unwrap();
        assert_eq!(n.data.profiles[0].distance.get(0, 2), 1);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let bad = CVRP.replace("3 0 1.5", "3 0 x");
        let err = parse(&bad, Rounding::Round).unwrap_err().to_string();
        assert!(err.contains("line 9"), "{err}");
        let bad = CVRP.replace("DEMAND_SECTION\n1 0\n", "DEMAND_SECTION\n1\n");
        let err = parse(&bad, Rounding::Round).unwrap_err().to_string();
        assert!(
            err.contains("line 12") && err.contains("DEMAND_SECTION"),
            "{err}"
        );
        let err = parse("NAME : x\nhello\n", Rounding::Round)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn reads_solomon_text_and_explicit_matrices() {
        let sol = "R0\n\nVEHICLE\nNUMBER     CAPACITY\n  2         50\n\nCUSTOMER\nCUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n    0      0         0          0          0       100          0\n    1      3         4         10          5        50         10\n";
        let i = parse(sol, Rounding::Dimacs).unwrap();
        assert_eq!(i.data.clients[0].time_windows, vec![(50, 500)]);
        assert_eq!(i.data.clients[0].service, 100);
        assert_eq!(i.data.vehicle_types[0].count, 2);
        let ex = "NAME : e\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : LOWER_ROW\nCAPACITY : 5\nEDGE_WEIGHT_SECTION\n4\n5 6\nDEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\n";
        let i = parse(ex, Rounding::Round).unwrap();
        let m = &i.data.profiles[0].distance;
        assert_eq!(
            (m.get(0, 1), m.get(1, 0), m.get(0, 2), m.get(1, 2)),
            (4, 4, 5, 6)
        );
    }

    #[test]
    fn writes_solutions() {
        use crate::routing::solution::Route;
        let s = Solution {
            routes: vec![
                Route {
                    vehicle_type: 0,
                    visits: vec![1, 2],
                },
                Route {
                    vehicle_type: 0,
                    visits: vec![3],
                },
            ],
        };
        assert_eq!(
            write_solution(&s, 42.0),
            "Route #1: 1 2\nRoute #2: 3\nCost 42\n"
        );
    }
}
