//! A VRPLIB file split into its specification lines (`KEY : value`) and data sections
//! (`NAME_SECTION` then rows), each with its line number. Every key and section must be one this
//! reader knows: an unknown one refuses the file, so that no constraint is silently dropped.

use super::perr;
use crate::error::Result;
use std::collections::HashMap;

/// Specification keys this reader knows (PyVRP's VRPLIB dialect, plus the classic VRPLIB ones).
const KEYS: &[&str] = &[
    "NAME",
    "COMMENT",
    "TYPE",
    "DIMENSION",
    "VEHICLES",
    "CAPACITY",
    "DISTANCE",
    "SERVICE_TIME",
    "RELEASE_TIME",
    "EDGE_WEIGHT_TYPE",
    "EDGE_WEIGHT_FORMAT",
    "NODE_COORD_TYPE",
    "DISPLAY_DATA_TYPE",
    "VEHICLES_MAX_DURATION",
    "VEHICLES_MAX_DISTANCE",
    "VEHICLES_FIXED_COST",
    "VEHICLES_UNIT_DISTANCE_COST",
    "VEHICLES_UNIT_DURATION_COST",
    "VEHICLES_MAX_RELOADS",
];

/// Data sections this reader knows (names without `_SECTION`).
const SECTIONS: &[&str] = &[
    "NODE_COORD",
    "DISPLAY_DATA",
    "EDGE_WEIGHT",
    "DEPOT",
    "DEMAND",
    "LINEHAUL",
    "BACKHAUL",
    "PICKUP",
    "SERVICE_TIME",
    "TIME_WINDOW",
    "RELEASE_TIME",
    "PRIZE",
    "CAPACITY",
    "VEHICLES_DEPOT",
    "VEHICLES_MAX_DURATION",
    "VEHICLES_MAX_DISTANCE",
    "VEHICLES_FIXED_COST",
    "VEHICLES_UNIT_DISTANCE_COST",
    "VEHICLES_UNIT_DURATION_COST",
    "VEHICLES_ALLOWED_CLIENTS",
    "VEHICLES_RELOAD_DEPOT",
    "VEHICLES_MAX_RELOADS",
    "MUTUALLY_EXCLUSIVE_GROUP",
    "PICKUP_AND_DELIVERY",
];

/// One row of a data section: its line number and its tokens.
pub type Row = (usize, Vec<String>);
/// The numbers given for one node or vehicle, and the line they were on.
pub type Values = (usize, Vec<f64>);

#[derive(Debug, Default)]
pub struct Text {
    /// Key -> (value, line).
    pub specs: HashMap<String, (String, usize)>,
    /// Section name (without `_SECTION`) -> (line of its header, rows).
    pub sections: HashMap<String, (usize, Vec<Row>)>,
}

impl Text {
    pub fn parse(text: &str) -> Result<Text> {
        let mut out = Text::default();
        let mut current: Option<String> = None;
        for (k, raw) in text.lines().enumerate() {
            let line_no = k + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line == "EOF" {
                break;
            }
            let first = line.split_whitespace().next().unwrap_or("");
            let head = first.trim_end_matches(':').to_ascii_uppercase();
            if let Some(name) = head.strip_suffix("_SECTION") {
                if !SECTIONS.contains(&name) {
                    return Err(perr(
                        line_no,
                        format!("unknown section {head}: refusing the file rather than solving a different problem"),
                    ));
                }
                if out.sections.contains_key(name) {
                    return Err(perr(line_no, format!("{head} appears twice")));
                }
                out.sections.insert(name.to_string(), (line_no, Vec::new()));
                current = Some(name.to_string());
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                let key = key.trim().to_ascii_uppercase();
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                {
                    if !KEYS.contains(&key.as_str()) {
                        return Err(perr(
                            line_no,
                            format!("unknown key {key}: refusing the file rather than solving a different problem"),
                        ));
                    }
                    if out.specs.contains_key(&key) {
                        return Err(perr(line_no, format!("{key} appears twice")));
                    }
                    let value = value.trim().trim_matches('"').trim().to_string();
                    out.specs.insert(key, (value, line_no));
                    current = None;
                    continue;
                }
            }
            match &current {
                Some(s) => out
                    .sections
                    .get_mut(s)
                    .expect("the current section was inserted")
                    .1
                    .push((line_no, line.split_whitespace().map(String::from).collect())),
                None => {
                    return Err(perr(
                        line_no,
                        format!("unexpected text {line:?} outside a section"),
                    ))
                }
            }
        }
        Ok(out)
    }

    pub fn spec(&self, key: &str) -> Option<(&str, usize)> {
        self.specs.get(key).map(|(v, l)| (v.as_str(), *l))
    }

    pub fn section(&self, name: &str) -> Option<(usize, &[Row])> {
        self.sections
            .get(name)
            .map(|(l, rows)| (*l, rows.as_slice()))
    }

    /// Both a key and a section of the same name (e.g. `CAPACITY` and `CAPACITY_SECTION`).
    pub fn refuse_both(&self, name: &str) -> Result<()> {
        if let (Some((_, l)), Some(_)) = (self.spec(name), self.section(name)) {
            return Err(perr(
                l,
                format!("{name} is given both as a key and as {name}_SECTION"),
            ));
        }
        Ok(())
    }
}
