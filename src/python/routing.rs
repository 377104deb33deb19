//! Thin wrappers over `crate::routing`. The solve releases the GIL; the search calls back about every
//! 100 ms to check for signals (Ctrl-C stops the search and returns the best solution so far) and to
//! report progress.

use super::gil::detach;
use crate::error::Error;
use crate::routing::dispatch::{self, Replan, RunningRoute};
use crate::routing::problem::{driving_time, haversine_matrix, time_per_distance, Matrix};
use crate::routing::vrplib::{self, Rounding};
use crate::routing::{
    evaluate, evaluate_with_starts, solve, Client, Depot, Evaluation, ProblemData, Profile, Route, Solution, SolveParams,
    StopCriteria, VehicleType,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRoutingProblem>()?;
    m.add_class::<PyRoutingSolution>()?;
    m.add_class::<PyReplan>()?;
    m.add_function(wrap_pyfunction!(routing_matrices, m)?)?;
    m.add_function(wrap_pyfunction!(read_vrplib, m)?)?;
    Ok(())
}

type DepotSpec = (f64, f64, i64, i64);
/// (x, y, delivery, pickup, service, time windows, prize, required, skills, release)
type ClientSpec = (f64, f64, Vec<i64>, Vec<i64>, i64, Vec<(i64, i64)>, i64, bool, u64, i64);
/// (count, capacity, (start, end), (shift start, shift end), (max duration, max distance),
/// (fixed cost, unit distance cost, unit duration cost), profile, skills)
type VehicleSpec = (usize, Vec<i64>, (usize, usize), (i64, i64), (i64, i64), (i64, i64, i64), usize, u64);

/// Distance matrix (metres for lat/lon, rounded Euclidean units for planar) and one duration matrix
/// per speed (seconds at `speed` km/h; for planar points with speed None, duration = distance).
#[pyfunction]
#[pyo3(signature = (points, geometry, speeds))]
fn routing_matrices(points: Vec<(f64, f64)>, geometry: &str, speeds: Vec<Option<f64>>) -> PyResult<(Vec<i64>, Vec<Vec<i64>>)> {
    if let Some((i, p)) = points.iter().enumerate().find(|(_, p)| !(p.0.is_finite() && p.1.is_finite())) {
        return Err(Error::config(format!("location {i} has non-finite coordinates {p:?}")).into());
    }
    let dist = match geometry {
        "latlon" => haversine_matrix(&points),
        "planar" => crate::routing::problem::euclidean_matrix(&points, 1.0, f64::round),
        other => return Err(Error::config(format!("unknown geometry {other:?}")).into()),
    };
    let durations = speeds
        .iter()
        .map(|s| match s {
            None => Ok(dist.data().to_vec()),
            Some(v) if *v > 0.0 && v.is_finite() => {
                let per_unit = time_per_distance(geometry == "latlon", Some(*v));
                Ok(dist.data().iter().map(|&d| driving_time(d, per_unit)).collect())
            }
            Some(v) => Err(Error::config(format!("speed must be positive, got {v}"))),
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((dist.data().to_vec(), durations))
}

#[pyclass(module = "fleetstream._core", name = "RoutingProblem", frozen)]
pub struct PyRoutingProblem {
    data: Arc<ProblemData>,
    /// Whether building refused clients no vehicle can serve (kept for pickling).
    check_servable: bool,
}

#[pyclass(module = "fleetstream._core", name = "RoutingSolution", frozen)]
pub struct PyRoutingSolution {
    data: Arc<ProblemData>,
    solution: Solution,
    evaluation: Evaluation,
    #[pyo3(get)]
    iterations: u64,
    #[pyo3(get)]
    runtime: f64,
    #[pyo3(get)]
    interrupted: bool,
}

fn matrix(n: usize, v: Vec<i64>, what: &str) -> Result<Matrix, Error> {
    Matrix::new(n, v).map_err(|e| Error::config(format!("{what}: {e}")))
}

#[pymethods]
impl PyRoutingProblem {
    /// With `check_servable` (the default), a required client that no vehicle can serve is an
    /// `InfeasibleProblemError`; without it, such clients are allowed (a re-planned day lists them).
    #[new]
    #[pyo3(signature = (depots, clients, vehicle_types, profiles, check_servable=true))]
    fn new(
        depots: Vec<DepotSpec>,
        clients: Vec<ClientSpec>,
        vehicle_types: Vec<VehicleSpec>,
        profiles: Vec<(Vec<i64>, Vec<i64>)>,
        check_servable: bool,
    ) -> PyResult<Self> {
        let n = depots.len() + clients.len();
        let depots = depots.into_iter().map(|(x, y, e, l)| Depot { x, y, tw_early: e, tw_late: l }).collect();
        let clients = clients
            .into_iter()
            .map(|(x, y, delivery, pickup, service, time_windows, prize, required, skills, release)| Client {
                x,
                y,
                delivery,
                pickup,
                service,
                time_windows,
                prize,
                required,
                skills,
                release,
                promised: None,
            })
            .collect();
        let vehicle_types = vehicle_types
            .into_iter()
            .map(|(count, capacity, depots, shift, limits, costs, profile, skills)| VehicleType {
                count,
                capacity,
                start_depot: depots.0,
                end_depot: depots.1,
                tw_early: shift.0,
                tw_late: shift.1,
                max_duration: limits.0,
                max_distance: limits.1,
                fixed_cost: costs.0,
                unit_distance_cost: costs.1,
                unit_duration_cost: costs.2,
                profile,
                skills,
            })
            .collect();
        let profiles = profiles
            .into_iter()
            .enumerate()
            .map(|(p, (d, t))| {
                Ok(Profile {
                    distance: matrix(n, d, &format!("profile {p} distance matrix"))?,
                    duration: matrix(n, t, &format!("profile {p} duration matrix"))?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let data = if check_servable {
            ProblemData::new(depots, clients, vehicle_types, profiles)?
        } else {
            ProblemData::unchecked_servability(depots, clients, vehicle_types, profiles)?
        };
        Ok(PyRoutingProblem { data: Arc::new(data), check_servable })
    }

    /// Pickles as the constructor's arguments (problems travel to Spark executors); loading
    /// validates them again.
    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Vec<DepotSpec>, Vec<ClientSpec>, Vec<VehicleSpec>, Vec<(Vec<i64>, Vec<i64>)>, bool))> {
        let data = &slf.get().data;
        let depots = data.depots.iter().map(|d| (d.x, d.y, d.tw_early, d.tw_late)).collect();
        let clients = data
            .clients
            .iter()
            .map(|c| (c.x, c.y, c.delivery.clone(), c.pickup.clone(), c.service, c.time_windows.clone(), c.prize, c.required, c.skills, c.release))
            .collect();
        let vehicle_types = data
            .vehicle_types
            .iter()
            .map(|v| {
                (
                    v.count,
                    v.capacity.clone(),
                    (v.start_depot, v.end_depot),
                    (v.tw_early, v.tw_late),
                    (v.max_duration, v.max_distance),
                    (v.fixed_cost, v.unit_distance_cost, v.unit_duration_cost),
                    v.profile,
                    v.skills,
                )
            })
            .collect();
        let profiles = data.profiles.iter().map(|p| (p.distance.data().to_vec(), p.duration.data().to_vec())).collect();
        Ok((slf.get_type().into_any(), (depots, clients, vehicle_types, profiles, slf.get().check_servable)))
    }

    #[getter]
    fn num_depots(&self) -> usize {
        self.data.num_depots()
    }
    #[getter]
    fn num_clients(&self) -> usize {
        self.data.num_clients()
    }
    #[getter]
    fn num_vehicles(&self) -> usize {
        self.data.num_vehicles()
    }
    #[getter]
    fn num_dims(&self) -> usize {
        self.data.num_dims
    }

    /// (x, y) of every location, depots first.
    fn coordinates(&self) -> Vec<(f64, f64)> {
        (0..self.data.num_locations()).map(|l| self.data.xy(l)).collect()
    }

    /// (start depot, end depot) of each vehicle type.
    fn vehicle_depots(&self) -> Vec<(usize, usize)> {
        self.data.vehicle_types.iter().map(|v| (v.start_depot, v.end_depot)).collect()
    }

    /// How many vehicles each vehicle type has.
    fn vehicle_counts(&self) -> Vec<usize> {
        self.data.vehicle_types.iter().map(|v| v.count).collect()
    }

    #[pyo3(signature = (*, seed=1, threads=1, max_runtime=None, max_iterations=None, no_improvement=None, initial=None, callback=None, tuning=None))]
    #[allow(clippy::too_many_arguments)]
    fn solve(
        &self,
        py: Python<'_>,
        seed: u64,
        threads: usize,
        max_runtime: Option<f64>,
        max_iterations: Option<u64>,
        no_improvement: Option<u64>,
        initial: Option<Vec<(usize, Vec<usize>)>>,
        callback: Option<Py<PyAny>>,
        tuning: Option<HashMap<String, f64>>,
    ) -> PyResult<PyRoutingSolution> {
        if threads == 0 {
            return Err(Error::config("threads must be at least 1").into());
        }
        if let Some(t) = max_runtime {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::config(format!("time limit must be a non-negative number of seconds, got {t}")).into());
            }
        }
        let stop = StopCriteria { max_runtime: max_runtime.map(Duration::from_secs_f64), max_iterations, no_improvement };
        let initial = match initial {
            Some(routes) => Some(self.solution_from(routes)?),
            None => None,
        };
        let mut params = SolveParams { seed, threads, stop, initial, ..Default::default() };
        if let Some(settings) = tuning {
            apply_tuning(&mut params, &settings)?;
        }
        let data = self.data.clone();
        let mut error: Option<PyErr> = None;
        let result = detach(py, "solve", || -> crate::Result<_> {
            Ok(solve(&data, &params, &mut |progress| {
                Python::attach(|py| {
                    if py.check_signals().is_err() {
                        // Ctrl-C: stop and return the best solution so far.
                        return false;
                    }
                    if let Some(cb) = &callback {
                        let info = PyDict::new(py);
                        let ok = (|| -> PyResult<bool> {
                            info.set_item("iterations", progress.iterations)?;
                            info.set_item("elapsed", progress.elapsed.as_secs_f64())?;
                            info.set_item("best_cost", progress.best_cost)?;
                            info.set_item("fraction", progress.fraction)?;
                            let r = cb.call1(py, (info,))?;
                            Ok(r.is_none(py) || r.is_truthy(py)?)
                        })();
                        match ok {
                            Ok(go_on) => return go_on,
                            Err(e) => {
                                error = Some(e);
                                return false;
                            }
                        }
                    }
                    true
                })
            }))
        })?;
        if let Some(e) = error {
            return Err(e);
        }
        Ok(PyRoutingSolution {
            data: self.data.clone(),
            solution: result.solution,
            evaluation: result.evaluation,
            iterations: result.iterations,
            runtime: result.runtime.as_secs_f64(),
            interrupted: result.interrupted,
        })
    }

    /// Evaluates given routes: (vehicle type, client locations); `starts`, one per route, fixes when
    /// a route leaves its start depot (None: the evaluator chooses).
    #[pyo3(signature = (routes, starts=None))]
    fn evaluate(&self, routes: Vec<(usize, Vec<usize>)>, starts: Option<Vec<Option<i64>>>) -> PyResult<PyRoutingSolution> {
        let starts = starts.unwrap_or_default();
        if !starts.is_empty() && starts.len() != routes.len() {
            return Err(Error::config(format!("{} start times given for {} routes", starts.len(), routes.len())).into());
        }
        let (routes, starts): (Vec<_>, Vec<_>) = routes
            .into_iter()
            .zip(starts.into_iter().map(Some).chain(std::iter::repeat(None)))
            .filter(|(r, _)| !r.1.is_empty())
            .map(|(r, s)| (r, s.flatten()))
            .unzip();
        let solution = self.solution_from(routes)?;
        let evaluation = evaluate_with_starts(&self.data, &solution, &starts)?;
        Ok(PyRoutingSolution { data: self.data.clone(), solution, evaluation, iterations: 0, runtime: 0.0, interrupted: false })
    }

    /// The rest of a running day at `now`: `routes` are (vehicle type, client locations, departure
    /// from the start depot) of the running plan.
    fn replan(&self, routes: Vec<(usize, Vec<usize>, i64)>, now: i64) -> PyResult<PyReplan> {
        let running: Vec<RunningRoute> = routes
            .into_iter()
            .map(|(vehicle_type, visits, start_time)| RunningRoute { vehicle_type, visits, start_time })
            .collect();
        let replan = dispatch::replan(&self.data, &running, now)?;
        let problem = Arc::new(replan.data.clone());
        Ok(PyReplan { running, replan, problem })
    }
}

/// The rest of a running day as a problem of its own (see `crate::routing::dispatch`).
#[pyclass(module = "fleetstream._core", name = "Replan", frozen)]
pub struct PyReplan {
    running: Vec<RunningRoute>,
    replan: Replan,
    problem: Arc<ProblemData>,
}

#[pymethods]
impl PyReplan {
    /// The problem of the rest of the day.
    #[getter]
    fn problem(&self) -> PyRoutingProblem {
        PyRoutingProblem { data: self.problem.clone(), check_servable: false }
    }
    /// The running plan's remaining stops as (vehicle type, locations) of `problem`.
    #[getter]
    fn initial(&self) -> Vec<(usize, Vec<usize>)> {
        self.replan.initial.routes.iter().map(|r| (r.vehicle_type, r.visits.clone())).collect()
    }
    /// Per running route: its stops driven or being driven to.
    #[getter]
    fn fixed(&self) -> Vec<usize> {
        self.replan.fixed.clone()
    }
    /// (client, reason) of clients no vehicle can serve any more; they are not in `problem`.
    #[getter]
    fn unservable(&self) -> Vec<(usize, String)> {
        self.replan.unservable.clone()
    }
    /// The whole day from a solution of `problem`: (routes as (vehicle type, locations), each route's
    /// departure from its start depot, each route's number of fixed stops).
    #[allow(clippy::type_complexity)]
    fn stitch(&self, rest: &PyRoutingSolution) -> (Vec<(usize, Vec<usize>)>, Vec<Option<i64>>, Vec<usize>) {
        let (sol, starts, fixed) = dispatch::stitch(&self.running, &self.replan, &rest.solution, &rest.evaluation);
        (sol.routes.into_iter().map(|r| (r.vehicle_type, r.visits)).collect(), starts, fixed)
    }
}

impl PyRoutingProblem {
    fn solution_from(&self, routes: Vec<(usize, Vec<usize>)>) -> Result<Solution, Error> {
        let sol = Solution {
            routes: routes.into_iter().filter(|r| !r.1.is_empty()).map(|(vehicle_type, visits)| Route { vehicle_type, visits }).collect(),
        };
        evaluate(&self.data, &sol)?; // structural checks with a clear message
        Ok(sol)
    }
}

#[pymethods]
impl PyRoutingSolution {
    /// Objective in integer units: route costs plus prizes of unvisited clients.
    #[getter]
    fn cost(&self) -> i64 {
        self.evaluation.cost
    }
    #[getter]
    fn feasible(&self) -> bool {
        self.evaluation.feasible
    }
    #[getter]
    fn distance(&self) -> i64 {
        self.evaluation.distance
    }
    #[getter]
    fn duration(&self) -> i64 {
        self.evaluation.duration
    }
    #[getter]
    fn uncollected_prizes(&self) -> i64 {
        self.evaluation.uncollected_prizes
    }
    /// Required clients (client indices) left unvisited.
    #[getter]
    fn missing(&self) -> Vec<usize> {
        self.evaluation.missing.clone()
    }
    /// (vehicle type, client locations) per route.
    fn routes(&self) -> Vec<(usize, Vec<usize>)> {
        self.solution.routes.iter().map(|r| (r.vehicle_type, r.visits.clone())).collect()
    }
    /// Per route: a dict with the route's totals and its stops (arrival, start, departure, load).
    fn schedule<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let dims = self.data.num_dims;
        self.evaluation
            .routes
            .iter()
            .map(|r| {
                let d = PyDict::new(py);
                d.set_item("vehicle_type", r.vehicle_type)?;
                d.set_item("distance", r.distance)?;
                d.set_item("duration", r.duration)?;
                d.set_item("start_time", r.start_time)?;
                d.set_item("end_time", r.end_time)?;
                d.set_item("time_warp", r.time_warp)?;
                d.set_item("excess_load", r.excess_load)?;
                d.set_item("excess_distance", r.excess_distance)?;
                d.set_item("skills_ok", r.skills_ok)?;
                d.set_item("cost", r.cost)?;
                d.set_item("locations", r.stops.iter().map(|s| s.location).collect::<Vec<_>>())?;
                d.set_item("arrival", r.stops.iter().map(|s| s.arrival).collect::<Vec<_>>())?;
                d.set_item("start", r.stops.iter().map(|s| s.start).collect::<Vec<_>>())?;
                d.set_item("departure", r.stops.iter().map(|s| s.departure).collect::<Vec<_>>())?;
                d.set_item("load", r.stops.iter().map(|s| s.load[..dims].to_vec()).collect::<Vec<_>>())?;
                Ok(d)
            })
            .collect()
    }
    /// The solution in PyVRP's `.sol` convention: `vehicles[t]` lists the vehicles (0-based) of
    /// vehicle type `t`, `numbers[l]` is the number written for location `l`.
    fn to_vrplib(&self, cost: f64, vehicles: Vec<Vec<usize>>, numbers: Vec<usize>) -> PyResult<String> {
        Ok(vrplib::write_solution(&self.solution, &vehicles, &numbers, cost)?)
    }
}

/// Reads a VRPLIB or Solomon file: (problem, name, scale, node id of each location, vehicles of
/// each vehicle type).
#[pyfunction]
#[pyo3(signature = (path, round="round"))]
#[allow(clippy::type_complexity)]
fn read_vrplib(path: std::path::PathBuf, round: &str) -> PyResult<(PyRoutingProblem, String, i64, Vec<usize>, Vec<Vec<usize>>)> {
    let rounding = Rounding::parse(round)?;
    let inst = vrplib::read(&path.to_string_lossy(), rounding)?;
    Ok((PyRoutingProblem { data: Arc::new(inst.data), check_servable: true }, inst.name, inst.scale, inst.node_ids, inst.vehicles))
}

/// Search settings by name (the tuning script's way in; `fleetstream.routing.solve` uses the defaults).
fn apply_tuning(params: &mut SolveParams, settings: &HashMap<String, f64>) -> PyResult<()> {
    let mut names: Vec<&String> = settings.keys().collect();
    names.sort();
    for name in names {
        let v = settings[name];
        // a value in [lo, hi), and a whole number where `whole`
        let within = |lo: f64, hi: f64, whole: bool| -> PyResult<f64> {
            if v.is_finite() && v >= lo && v < hi && (!whole || v.fract() == 0.0) {
                Ok(v)
            } else {
                let kind = if whole { "a whole number" } else { "a number" };
                Err(Error::config(format!("tuning {name}: expected {kind} in [{lo}, {hi}), got {v}")).into())
            }
        };
        let t = &mut params.tuning;
        match name.as_str() {
            "num_neighbours" => params.num_neighbours = within(1.0, 1e6, true)? as usize,
            "temperature_start" => t.temperature_start = within(1e-9, 1e9, false)?,
            "temperature_end" => t.temperature_end = within(1e-9, 1e9, false)?,
            "ruin_removed" => t.ruin_removed = within(1.0, 1e6, false)?,
            "ruin_max_string" => t.ruin_max_string = within(1.0, 1e6, true)? as usize,
            "blink" => t.blink = within(0.0, 1.0, false)?,
            "target_feasible" => t.target_feasible = within(0.01, 1.0, false)?,
            "penalty_interval" => t.penalty_interval = within(1.0, 1e6, true)? as u32,
            _ => {
                return Err(Error::config(format!(
                    "tuning: unknown setting {name:?} (num_neighbours, temperature_start, temperature_end, \
                     ruin_removed, ruin_max_string, blink, target_feasible, penalty_interval)"
                ))
                .into());
            }
        }
    }
    Ok(())
}
