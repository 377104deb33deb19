//! Reading VRPLIB instances in PyVRP's dialect (CVRP, VRPTW, heterogeneous and multi-depot fleets,
//! prize-collecting, per-vehicle limits, costs and allowed clients) and Solomon's original text
//! format; writing solutions in PyVRP's `.sol` convention. A key or section this reader does not
//! know, or a constraint the solver cannot honour yet, refuses the file with a `ParseError` naming
//! it and its line.
//!
//! Rounding follows the conventions of the best-known solutions:
//! `round` = Euclidean distance rounded to the nearest integer (X, Augerat);
//! `dimacs` = distances and times times 10, truncated (Solomon in the DIMACS challenge; costs are
//! reported divided by 10); `exact` = times 1000, rounded (costs reported divided by 1000);
//! `none` = truncated to an integer, no scaling.

mod fleet;
mod instance;
mod solomon;
mod solution;
mod text;

pub use solution::write_solution;

use super::problem::ProblemData;
use crate::error::{Error, Result};

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
    /// Per vehicle type: the file's vehicles (0-based, in the file's order) it stands for.
    pub vehicles: Vec<Vec<usize>>,
}

pub(crate) fn perr(line: usize, msg: impl std::fmt::Display) -> Error {
    Error::parse(format!("line {line}: {msg}"))
}

pub(crate) fn num(tok: &str, line: usize) -> Result<f64> {
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
        return solomon::parse(text, rounding);
    }
    instance::build(&text::Text::parse(text)?, rounding)
}

#[cfg(test)]
mod tests;
