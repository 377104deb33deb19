//! Solomon's original text format.

use super::{num, perr, Instance, Rounding};
use crate::error::Result;
use crate::routing::problem::{Client, Depot, Matrix, ProblemData, Profile, VehicleType};

/// Solomon's original text: `VEHICLE / NUMBER CAPACITY / n q / CUSTOMER / CUST NO. ...` then rows of
/// id, x, y, demand, ready time, due date, service time; the first row is the depot.
pub fn parse(text: &str, rounding: Rounding) -> Result<Instance> {
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
    let count = f[0] as usize;
    let mut vt = VehicleType::new(count, vec![f[1] as i64]);
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
        vehicles: vec![(0..count).collect()],
    })
}
