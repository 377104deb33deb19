//! Thin wrapper over `crate::routing::dispatch::Dispatcher`: Arrow tables in and out, the GIL
//! released for every operation, Ctrl-C honoured while re-planning.

use super::arrow::{batch_to_pyarrow_table, batches_of};
use super::gil::{detach, detach_interruptible};
use crate::error::Error;
use crate::routing::dispatch::input::{check_columns, ArrowRow, Units, EVENT_FIELDS, ORDER_FIELDS};
use crate::routing::dispatch::{Dispatcher, Fleet, Geometry, Outcome, Phase, Place, Settings, Van};
use crate::routing::problem::{Depot, VehicleType};
use crate::routing::stop::StopCriteria;
use arrow_array::builder::{BooleanBuilder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::AnyRecordBatch;
use std::sync::Arc;
use std::time::Duration;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDispatcher>()?;
    Ok(())
}

/// (count, capacity, (start, end), (shift start, shift end), (max duration, max distance),
/// (fixed cost, unit distance cost, unit duration cost), profile, skills), as `RoutingProblem` takes.
type VehicleSpec = (usize, Vec<i64>, (usize, usize), (i64, i64), (i64, i64), (i64, i64, i64), usize, u64);

#[pyclass(module = "fleetstream._core", name = "Dispatcher")]
pub struct PyDispatcher {
    inner: Dispatcher,
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> PyResult<RecordBatch> {
    Ok(RecordBatch::try_from_iter(columns).map_err(Error::from)?)
}

fn text_column<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn int_column(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    let mut b = Int64Builder::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn bool_column(values: impl Iterator<Item = bool>) -> ArrayRef {
    let mut b = BooleanBuilder::new();
    for v in values {
        b.append_value(v);
    }
    Arc::new(b.finish())
}

fn outcomes<'py>(py: Python<'py>, out: Vec<Outcome>) -> PyResult<Bound<'py, PyAny>> {
    let b = batch(vec![
        ("order_id", text_column(out.iter().map(|o| Some(o.order_id.as_str())))),
        ("status", text_column(out.iter().map(|o| Some(o.status.as_str())))),
        ("vehicle", text_column(out.iter().map(|o| o.vehicle.as_deref()))),
        ("reason", text_column(out.iter().map(|o| o.reason.as_deref()))),
    ])?;
    batch_to_pyarrow_table(py, b)
}

fn stop_criteria(max_runtime: Option<f64>, max_iterations: Option<u64>) -> PyResult<StopCriteria> {
    if let Some(t) = max_runtime {
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::config(format!("budget must be a non-negative number of seconds, got {t}")).into());
        }
    }
    let stop = StopCriteria { max_runtime: max_runtime.map(Duration::from_secs_f64), max_iterations, no_improvement: None };
    Ok(if stop.is_bounded() { stop } else { StopCriteria::runtime(Duration::from_millis(500)) })
}

#[pymethods]
impl PyDispatcher {
    /// `depots`: (x, y, opening, closing) with their places (`depot_sites` for given matrices);
    /// `geometry`: "planar", "latlon" or "matrix" (`matrices`: size, distance, one duration per
    /// profile); `speeds`: per profile for coordinates.
    #[new]
    #[pyo3(signature = (depots, vehicle_types, vans, geometry, speeds, matrices, depot_sites, skills, *, freeze, stability,
                        seed, threads, eta_tolerance, replan_iterations, buffer, clock, origin_ms, cost_scale))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        depots: Vec<(f64, f64, i64, i64)>,
        vehicle_types: Vec<VehicleSpec>,
        vans: Vec<(String, usize)>,
        geometry: &str,
        speeds: Vec<Option<f64>>,
        matrices: Option<(usize, Vec<i64>, Vec<Vec<i64>>)>,
        depot_sites: Option<Vec<usize>>,
        skills: Vec<String>,
        freeze: i64,
        stability: i64,
        seed: u64,
        threads: usize,
        eta_tolerance: i64,
        replan_iterations: u64,
        buffer: i64,
        clock: bool,
        origin_ms: Option<i64>,
        cost_scale: f64,
    ) -> PyResult<Self> {
        let places: Vec<Place> = match &depot_sites {
            Some(sites) => sites.iter().map(|&s| Place::Site(s)).collect(),
            None => depots.iter().map(|d| Place::Point(d.0, d.1)).collect(),
        };
        let depots = depots.into_iter().map(|(x, y, e, l)| Depot { x, y, tw_early: e, tw_late: l }).collect();
        let vehicle_types = vehicle_types
            .into_iter()
            .map(|(count, capacity, (start_depot, end_depot), (tw_early, tw_late), (max_duration, max_distance), costs, profile, skills)| VehicleType {
                count,
                capacity,
                start_depot,
                end_depot,
                tw_early,
                tw_late,
                max_duration,
                max_distance,
                fixed_cost: costs.0,
                unit_distance_cost: costs.1,
                unit_duration_cost: costs.2,
                profile,
                skills,
            })
            .collect();
        let vans = vans.into_iter().map(|(id, vehicle_type)| Van { id, vehicle_type }).collect();
        let geometry = match (geometry, matrices) {
            ("planar", None) => Geometry::Planar { speeds },
            ("latlon", None) => Geometry::LatLon { speeds },
            ("matrix", Some((size, distance, durations))) => Geometry::Matrix { size, distance, durations },
            (other, _) => return Err(Error::config(format!("geometry {other:?} with these matrices is not one the dispatcher knows")).into()),
        };
        let units = Units { clock, origin_ms, cost_scale, skills: skills.clone() };
        if buffer < 0 {
            return Err(Error::config("buffer must be >= 0").into());
        }
        let settings = Settings { freeze, stability, seed, threads, eta_tolerance, replan_iterations, buffer, units };
        let fleet = Fleet::new(depots, places, vehicle_types, vans, skills)?;
        Ok(PyDispatcher { inner: Dispatcher::new(fleet, geometry, settings)? })
    }

    #[staticmethod]
    fn restore(py: Python<'_>, data: Vec<u8>) -> PyResult<Self> {
        let inner = detach(py, "Dispatcher.restore", || Dispatcher::restore(&data))?;
        Ok(PyDispatcher { inner })
    }

    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, "Dispatcher.snapshot", || Ok::<_, Error>(inner.snapshot()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[getter]
    fn now(&self) -> i64 {
        self.inner.now()
    }
    #[getter]
    fn clock(&self) -> bool {
        self.inner.settings().units.clock
    }
    #[getter]
    fn origin_ms(&self) -> Option<i64> {
        self.inner.settings().units.origin_ms
    }
    #[getter]
    fn num_dims(&self) -> usize {
        self.inner.fleet().num_dims
    }
    #[getter]
    fn geometry(&self) -> &'static str {
        match self.inner.sites().geometry() {
            Geometry::Planar { .. } => "planar",
            Geometry::LatLon { .. } => "latlon",
            Geometry::Matrix { .. } => "matrix",
        }
    }

    /// Outcomes (order_id, status, vehicle, reason), one per row.
    fn add_orders<'py>(&mut self, py: Python<'py>, data: AnyRecordBatch, now: i64) -> PyResult<Bound<'py, PyAny>> {
        let batches = batches_of(data)?;
        let inner = &mut self.inner;
        let out = detach(py, "Dispatcher.add_orders", || -> crate::Result<Vec<Outcome>> {
            let mut out = Vec::new();
            let units = inner.settings().units.clone();
            for b in &batches {
                check_columns(b, ORDER_FIELDS, &["order_id"], "orders")?;
                let rows = (0..b.num_rows()).map(|row| units.order(&ArrowRow { batch: b, row })).collect();
                out.extend(inner.add_rows(rows, now));
            }
            if batches.iter().all(|b| b.num_rows() == 0) {
                inner.advance(now);
            }
            Ok(out)
        })?;
        outcomes(py, out)
    }

    fn cancel<'py>(&mut self, py: Python<'py>, order_ids: Vec<String>, now: i64) -> PyResult<Bound<'py, PyAny>> {
        let inner = &mut self.inner;
        let out = detach(py, "Dispatcher.cancel", || Ok::<_, Error>(inner.cancel(&order_ids, now)))?;
        outcomes(py, out)
    }

    fn hold<'py>(&mut self, py: Python<'py>, order_ids: Vec<String>, until: i64, now: i64) -> PyResult<Bound<'py, PyAny>> {
        let inner = &mut self.inner;
        let out = detach(py, "Dispatcher.hold", || Ok::<_, Error>(inner.hold(&order_ids, until, now)))?;
        outcomes(py, out)
    }

    /// (applied, [(row, reason)], newly late order ids, replanned)
    #[allow(clippy::type_complexity)]
    fn vehicle_events(&mut self, py: Python<'_>, data: AnyRecordBatch, now: i64) -> PyResult<(usize, Vec<(usize, String)>, Vec<String>, bool)> {
        let batches = batches_of(data)?;
        let inner = &mut self.inner;
        let report = detach(py, "Dispatcher.vehicle_events", || -> crate::Result<_> {
            let units = inner.settings().units.clone();
            let mut rows = Vec::new();
            for b in &batches {
                check_columns(b, EVENT_FIELDS, &["vehicle_id", "ts", "kind"], "vehicle events")?;
                rows.extend((0..b.num_rows()).map(|row| units.event(&ArrowRow { batch: b, row })));
            }
            Ok(inner.event_rows(rows, now))
        })?;
        Ok((report.applied, report.rejected, report.late, report.replanned))
    }

    #[pyo3(signature = (now, max_runtime=None, max_iterations=None))]
    fn improve<'py>(&mut self, py: Python<'py>, now: i64, max_runtime: Option<f64>, max_iterations: Option<u64>) -> PyResult<Bound<'py, PyDict>> {
        let stop = stop_criteria(max_runtime, max_iterations)?;
        let inner = &mut self.inner;
        let report = detach_interruptible(py, "Dispatcher.improve", |interrupt| {
            let mut stopped = false;
            let report = inner.improve_with(&stop, now, &mut || {
                stopped |= interrupt().is_err();
                !stopped
            });
            if stopped {
                return Err(Error::Interrupted);
            }
            Ok(report)
        })?;
        let d = PyDict::new(py);
        d.set_item("iterations", report.iterations)?;
        d.set_item("accepted", report.accepted)?;
        d.set_item("cost_before", report.cost_before)?;
        d.set_item("cost_after", report.cost_after)?;
        d.set_item("moved", report.moved)?;
        d.set_item("placed", report.placed)?;
        d.set_item("runtime", report.runtime_s)?;
        Ok(d)
    }

    /// vehicle, seq, order_id, eta, start, departure, load (one list per stop), frozen, changed, late.
    fn plan<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rows = self.inner.plan();
        let mut load = ListBuilder::new(Int64Builder::new());
        for r in &rows {
            load.values().append_slice(&r.load);
            load.append(true);
        }
        let b = batch(vec![
            ("vehicle", text_column(rows.iter().map(|r| Some(r.vehicle.as_str())))),
            ("seq", int_column(rows.iter().map(|r| Some(r.seq as i64)))),
            ("order_id", text_column(rows.iter().map(|r| Some(r.order_id.as_str())))),
            ("eta", int_column(rows.iter().map(|r| Some(r.eta)))),
            ("start", int_column(rows.iter().map(|r| Some(r.start)))),
            ("departure", int_column(rows.iter().map(|r| Some(r.departure)))),
            ("load", Arc::new(load.finish())),
            ("frozen", bool_column(rows.iter().map(|r| r.frozen))),
            ("changed", bool_column(rows.iter().map(|r| r.changed))),
            ("late", bool_column(rows.iter().map(|r| r.late))),
        ])?;
        batch_to_pyarrow_table(py, b)
    }

    /// Route changes since the last call, now published: one dict per changed route.
    fn take_changes<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let changes = self.inner.take_changes();
        changes
            .into_iter()
            .map(|c| {
                let d = PyDict::new(py);
                d.set_item("vehicle", c.vehicle)?;
                d.set_item("version", c.version)?;
                d.set_item("status", c.status)?;
                d.set_item("departure", c.departure)?;
                d.set_item("end", c.end)?;
                let stops = c
                    .stops
                    .into_iter()
                    .map(|s| {
                        let r = PyDict::new(py);
                        r.set_item("order_id", s.order_id)?;
                        r.set_item("eta", s.eta)?;
                        r.set_item("start", s.start)?;
                        r.set_item("departure", s.departure)?;
                        r.set_item("load", s.load)?;
                        r.set_item("frozen", s.frozen)?;
                        r.set_item("late", s.late)?;
                        Ok(r)
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                d.set_item("stops", stops)?;
                Ok(d)
            })
            .collect()
    }

    /// Order fates since the last call: order_id, status, vehicle, at, reason.
    fn take_fates<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fates = self.inner.take_fates();
        let b = batch(vec![
            ("order_id", text_column(fates.iter().map(|f| Some(f.order_id.as_str())))),
            ("status", text_column(fates.iter().map(|f| Some(f.status.as_str())))),
            ("vehicle", text_column(fates.iter().map(|f| f.vehicle.as_deref()))),
            ("at", int_column(fates.iter().map(|f| Some(f.at)))),
            ("reason", text_column(fates.iter().map(|f| f.reason.as_deref()))),
        ])?;
        batch_to_pyarrow_table(py, b)
    }

    /// Every order so far: order_id, status, vehicle, received, at (when closed), reason, and its
    /// place (a, b: lat/lon or x/y; site for given matrices).
    fn orders<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        use crate::routing::dispatch::OrderState as S;
        let orders = self.inner.orders();
        let fleet = self.inner.fleet();
        let van = |s: &S| -> Option<&str> {
            match s {
                S::Planned { van } | S::Served { van, .. } | S::Failed { van, .. } => Some(fleet.vans[*van as usize].id.as_str()),
                _ => None,
            }
        };
        let at = |s: &S| match s {
            S::Served { at, .. } | S::Failed { at, .. } | S::Cancelled { at } => Some(*at),
            _ => None,
        };
        fn reason(s: &S) -> Option<&str> {
            match s {
                S::Unassigned { reason } | S::Failed { reason, .. } => Some(reason.as_str()),
                _ => None,
            }
        }
        let coord = |k: usize| -> Vec<Option<f64>> {
            orders
                .iter()
                .map(|o| match o.spec.place {
                    Place::Point(a, b) => Some([a, b][k]),
                    Place::Site(_) => None,
                })
                .collect()
        };
        let b = batch(vec![
            ("order_id", text_column(orders.iter().map(|o| Some(o.spec.id.as_str())))),
            ("status", text_column(orders.iter().map(|o| Some(o.state.name())))),
            ("vehicle", text_column(orders.iter().map(|o| van(&o.state)))),
            ("received", int_column(orders.iter().map(|o| Some(o.received)))),
            ("at", int_column(orders.iter().map(|o| at(&o.state)))),
            ("reason", text_column(orders.iter().map(|o| reason(&o.state)))),
            ("a", Arc::new(Float64Array::from(coord(0))) as ArrayRef),
            ("b", Arc::new(Float64Array::from(coord(1))) as ArrayRef),
            ("site", int_column(orders.iter().map(|o| match o.spec.place {
                Place::Site(s) => Some(s as i64),
                Place::Point(..) => None,
            }))),
        ])?;
        batch_to_pyarrow_table(py, b)
    }

    /// One row per van: vehicle, status, departure, stops left, frozen, committed, its last
    /// reported place (a, b), and the distance driven.
    fn vehicles<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = &self.inner;
        let vans = d.vans();
        let status = |v: &crate::routing::dispatch::VanState| match v.phase {
            Phase::AtDepot if v.committed => "loading",
            Phase::AtDepot => "at_depot",
            Phase::Driving { .. } => "driving",
            Phase::AtStop { .. } => "at_stop",
            Phase::Done { .. } => "done",
        };
        let coord = |k: usize| {
            vans.iter()
                .map(|v| match d.sites().place(v.position) {
                    Place::Point(a, b) => Some([a, b][k]),
                    Place::Site(_) => None,
                })
                .collect::<Vec<_>>()
        };
        let b = batch(vec![
            ("vehicle", text_column(d.fleet().vans.iter().map(|v| Some(v.id.as_str())))),
            ("status", text_column(vans.iter().map(|v| Some(status(v))))),
            ("departure", int_column(vans.iter().map(|v| v.departure))),
            ("stops", int_column(vans.iter().map(|v| Some(v.route.len() as i64)))),
            ("frozen", int_column(vans.iter().map(|v| Some(v.frozen as i64)))),
            ("committed", bool_column(vans.iter().map(|v| v.committed))),
            ("a", Arc::new(Float64Array::from(coord(0))) as ArrayRef),
            ("b", Arc::new(Float64Array::from(coord(1))) as ArrayRef),
            ("driven", int_column(vans.iter().map(|v| Some(v.driven)))),
        ])?;
        batch_to_pyarrow_table(py, b)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        for (k, v) in [
            ("orders", s.orders),
            ("rejected", s.rejected),
            ("unassigned", s.unassigned),
            ("served", s.served),
            ("failed", s.failed),
            ("cancelled", s.cancelled),
            ("events", s.events),
            ("rejected_events", s.rejected_events),
            ("improves", s.improves),
            ("improvements", s.improvements),
            ("replans", s.replans),
            ("moved_stops", s.moved_stops),
            ("late_flags", s.late_flags),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// Raises InternalError if an order is in two places or none (tests call it).
    fn check_invariants(&self) -> PyResult<()> {
        self.inner.check_invariants().map_err(|e| Error::Internal { context: "Dispatcher".into(), message: e }.into())
    }
}
