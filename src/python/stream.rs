//! Thin wrappers over `crate::stream`: the window aggregator and the spike detector.

use super::arrow::{batch_to_pyarrow_table, batches_of, to_pyarrow_table};
use super::gil::detach;
use crate::error::Error;
use crate::stream::{
    AggKind, AggSpec, AggregatorConfig, EventTimeOperator, NullKeys, SessionConfig, Sessionizer, SpikeConfig, SpikeDetector, SpikeRule,
    WindowAggregator, WindowSpec,
};
use crate::time::IntTimeUnit;
use crate::stream::session_merge::{merge_sorted_partials, session_ids as ids_of_sessions};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch};
use std::sync::Arc;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::AnyRecordBatch;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWindowAggregator>()?;
    m.add_class::<PySpikeDetector>()?;
    m.add_class::<PySessionizer>()?;
    m.add_function(wrap_pyfunction!(merge_sorted_partial_sessions, m)?)?;
    m.add_function(wrap_pyfunction!(session_ids, m)?)?;
    Ok(())
}

/// The Sessionizer's `session_id`s of sessions with the key columns of `keys` starting at `starts`
/// (a table with one int64 column); returns a table with one int64 column `session_id`.
#[pyfunction]
#[pyo3(signature = (keys, starts))]
fn session_ids<'py>(py: Python<'py>, keys: AnyRecordBatch, starts: AnyRecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let (keys, starts) = (batches_of(keys)?, batches_of(starts)?);
    let ids = detach(py, "session_ids", || -> crate::error::Result<RecordBatch> {
        let keys = arrow_select::concat::concat_batches(&keys[0].schema(), &keys)?;
        let starts = arrow_select::concat::concat_batches(&starts[0].schema(), &starts)?;
        let column = starts.columns().first().ok_or_else(|| Error::schema("session ids: starts has no column"))?;
        let starts = column.as_primitive_opt::<Int64Type>().ok_or_else(|| Error::schema("session ids: starts must be int64"))?;
        let ids = ids_of_sessions(&keys, starts)?;
        Ok(RecordBatch::try_from_iter([("session_id", Arc::new(ids) as ArrayRef)])?)
    })?;
    batch_to_pyarrow_table(py, ids)
}

/// `crate::stream::session_merge::merge_sorted_partials` over a table with columns `new_key`
/// (bool), `start` and `end` (int64 ms); returns a table with one int64 column `session`.
#[pyfunction]
#[pyo3(signature = (partials, gap))]
fn merge_sorted_partial_sessions<'py>(py: Python<'py>, partials: AnyRecordBatch, gap: i64) -> PyResult<Bound<'py, PyAny>> {
    let batches = batches_of(partials)?;
    let merged = detach(py, "merge_sorted_partial_sessions", || -> crate::error::Result<RecordBatch> {
        let schema = batches[0].schema();
        let batch = arrow_select::concat::concat_batches(&schema, &batches)?;
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| Error::schema(format!("partial sessions: no column {name:?}")))
        };
        let typed = |name: &str, e: &str| Error::schema(format!("partial sessions: column {name:?} must be {e}"));
        let new_key = column("new_key")?.as_boolean_opt().ok_or_else(|| typed("new_key", "bool"))?.clone();
        let start = column("start")?.as_primitive_opt::<Int64Type>().ok_or_else(|| typed("start", "int64"))?.clone();
        let end = column("end")?.as_primitive_opt::<Int64Type>().ok_or_else(|| typed("end", "int64"))?.clone();
        let session = merge_sorted_partials(&new_key, &start, &end, gap)?;
        Ok(RecordBatch::try_from_iter([("session", Arc::new(session) as ArrayRef)])?)
    })?;
    batch_to_pyarrow_table(py, merged)
}

/// Side-output batches as pyarrow tables (their schemas may differ between pushes).
fn tables<'py>(py: Python<'py>, batches: Vec<RecordBatch>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    batches.into_iter().map(|b| batch_to_pyarrow_table(py, b)).collect()
}

fn agg_kind(kind: &str, q: Option<f64>) -> PyResult<AggKind> {
    Ok(match (kind, q) {
        ("count", _) => AggKind::Count,
        ("sum", _) => AggKind::Sum,
        ("min", _) => AggKind::Min,
        ("max", _) => AggKind::Max,
        ("mean", _) => AggKind::Mean,
        ("quantile", Some(q)) => AggKind::Quantile(q),
        ("quantile", None) => return Err(Error::config("quantile needs q").into()),
        ("count_distinct", _) => AggKind::CountDistinct,
        ("first", _) => AggKind::First,
        ("last", _) => AggKind::Last,
        (other, _) => return Err(Error::config(format!("unknown aggregate {other:?}")).into()),
    })
}

/// "Sessionizer.push": where an internal error happened, for its message.
fn context<O>(method: &str) -> String {
    let operator = std::any::type_name::<O>().rsplit("::").next().unwrap_or("operator");
    format!("{operator}.{method}")
}

fn push<'py, O: EventTimeOperator>(py: Python<'py>, operator: &mut O, data: AnyRecordBatch, empty: &mut EmptyOutput) -> PyResult<Bound<'py, PyAny>> {
    let batches = batches_of(data)?;
    let closed = detach(py, &context::<O>("push"), || operator.push(&batches))?;
    if closed.num_rows() == 0 {
        return empty.table(py, closed.schema());
    }
    batch_to_pyarrow_table(py, closed)
}

/// The empty table a push returns when nothing closed, made once per output schema: most pushes
/// of a dense stream close nothing, and exporting an empty batch to pyarrow cost about 9 us, more
/// than half of what such a push took (pyarrow tables are immutable, so one can be handed out
/// again and again).
#[derive(Default)]
struct EmptyOutput(Option<(arrow_schema::SchemaRef, Py<PyAny>)>);

impl EmptyOutput {
    fn table<'py>(&mut self, py: Python<'py>, schema: arrow_schema::SchemaRef) -> PyResult<Bound<'py, PyAny>> {
        if let Some((cached, table)) = &self.0 {
            if Arc::ptr_eq(cached, &schema) || **cached == *schema {
                return Ok(table.bind(py).clone());
            }
        }
        let table = batch_to_pyarrow_table(py, RecordBatch::new_empty(schema.clone()))?;
        self.0 = Some((schema, table.clone().unbind()));
        Ok(table)
    }
}

fn flush<'py, O: EventTimeOperator>(py: Python<'py>, operator: &mut O) -> PyResult<Bound<'py, PyAny>> {
    let closed = detach(py, &context::<O>("flush"), || operator.flush())?;
    batch_to_pyarrow_table(py, closed)
}

fn advance_watermark<'py, O: EventTimeOperator>(py: Python<'py>, operator: &mut O, watermark: i64) -> PyResult<Bound<'py, PyAny>> {
    let closed = detach(py, &context::<O>("advance_watermark"), || operator.advance_watermark(watermark))?;
    batch_to_pyarrow_table(py, closed)
}

fn snapshot<'py, O: EventTimeOperator>(py: Python<'py>, operator: &O) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = detach(py, &context::<O>("snapshot"), || operator.snapshot())?;
    Ok(PyBytes::new(py, &bytes))
}

fn restore<O: EventTimeOperator>(py: Python<'_>, state: &[u8]) -> PyResult<O> {
    detach(py, &context::<O>("restore"), || O::restore(state))
}

fn config_json<C: serde::Serialize>(config: &C) -> String {
    serde_json::to_string(config).expect("configs are plain data")
}

#[pyclass(module = "fleetstream._core", name = "WindowAggregator")]
pub struct PyWindowAggregator {
    inner: WindowAggregator,
    empty: EmptyOutput,
}

#[pymethods]
impl PyWindowAggregator {
    #[new]
    #[pyo3(signature = (*, size, step, offset, time, keys, aggs, watermark, allowed_lateness, max_key_bytes, time_unit=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        size: i64,
        step: Option<i64>,
        offset: i64,
        time: String,
        keys: Vec<String>,
        aggs: Vec<(String, String, Option<String>, Option<f64>)>,
        watermark: i64,
        allowed_lateness: i64,
        max_key_bytes: usize,
        time_unit: Option<&str>,
    ) -> PyResult<Self> {
        let window = match step {
            None => WindowSpec::Tumbling { size, offset },
            Some(step) => WindowSpec::Hopping { size, step, offset },
        };
        let mut config = AggregatorConfig::new(window, time, keys, agg_specs(aggs)?);
        config.watermark = watermark;
        config.allowed_lateness = allowed_lateness;
        config.max_key_bytes = max_key_bytes;
        let mut inner = WindowAggregator::new(config)?;
        inner.set_time_unit(IntTimeUnit::parse(time_unit.unwrap_or("ms"))?);
        Ok(PyWindowAggregator { inner, empty: EmptyOutput::default() })
    }

    #[getter]
    fn time_unit(&self) -> &'static str {
        self.inner.time_unit().code()
    }

    fn push<'py>(&mut self, py: Python<'py>, data: AnyRecordBatch) -> PyResult<Bound<'py, PyAny>> {
        push(py, &mut self.inner, data, &mut self.empty)
    }

    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        flush(py, &mut self.inner)
    }

    fn advance_watermark<'py>(&mut self, py: Python<'py>, watermark: i64) -> PyResult<Bound<'py, PyAny>> {
        advance_watermark(py, &mut self.inner, watermark)
    }

    fn next_close(&self) -> Option<i64> {
        self.inner.next_close()
    }

    fn take_late<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        tables(py, self.inner.take_late())
    }

    fn take_rejects<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        tables(py, self.inner.take_rejects())
    }

    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        snapshot(py, &self.inner)
    }

    #[staticmethod]
    fn restore(py: Python<'_>, state: &[u8]) -> PyResult<Self> {
        Ok(Self { inner: restore(py, state)?, empty: EmptyOutput::default() })
    }

    /// The configuration as JSON (the Python layer rebuilds its spec objects from it).
    fn config_json(&self) -> String {
        config_json(self.inner.config())
    }

    fn output_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow_table(py, vec![], self.inner.output_schema())
    }

    #[getter]
    fn watermark(&self) -> Option<i64> {
        self.inner.watermark()
    }

    #[getter]
    fn open_windows(&self) -> usize {
        self.inner.open_windows()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("pushes", s.pushes)?;
        d.set_item("rows_in", s.rows_in)?;
        d.set_item("rows_rejected", s.rows_rejected)?;
        d.set_item("rows_late", s.rows_late)?;
        d.set_item("late_assignments", s.late_assignments)?;
        d.set_item("windows_emitted", s.windows_emitted)?;
        d.set_item("open_windows", self.inner.open_windows())?;
        Ok(d)
    }
}

#[pyclass(module = "fleetstream._core", name = "SpikeDetector")]
pub struct PySpikeDetector {
    inner: SpikeDetector,
}

#[pymethods]
impl PySpikeDetector {
    #[new]
    #[pyo3(signature = (*, value, keys, history, factor, floor, rule, threshold, alpha, cooldown, step))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        value: String,
        keys: Vec<String>,
        history: usize,
        factor: f64,
        floor: f64,
        rule: &str,
        threshold: f64,
        alpha: f64,
        cooldown: usize,
        step: Option<i64>,
    ) -> PyResult<Self> {
        let rule = match rule {
            "mean" => SpikeRule::Mean,
            "zscore" => SpikeRule::ZScore { threshold },
            "ewma" => SpikeRule::Ewma { alpha },
            other => {
                return Err(Error::config(format!("unknown spike rule {other:?}; expected \"mean\", \"zscore\" or \"ewma\"")).into())
            }
        };
        let config = SpikeConfig { value, keys, history, factor, floor, rule, cooldown, step };
        Ok(PySpikeDetector { inner: SpikeDetector::new(config)? })
    }

    fn push<'py>(&mut self, py: Python<'py>, data: AnyRecordBatch) -> PyResult<Bound<'py, PyAny>> {
        let batches = batches_of(data)?;
        let inner = &mut self.inner;
        let alerts = detach(py, "SpikeDetector.push", || -> crate::Result<RecordBatch> {
            // One batch of the whole input (a table of several chunks too): errors name the row of
            // the input, and the whole input is checked before any of it changes the state.
            let whole = match &batches[..] {
                [one] => one.clone(),
                _ => arrow_select::concat::concat_batches(&batches[0].schema(), &batches)?,
            };
            inner.push(&whole)
        })?;
        let schema = alerts.schema();
        to_pyarrow_table(py, vec![alerts], schema)
    }

    /// End of input. Alerts are decided as each window arrives, so there is nothing left to emit:
    /// an empty alerts table, for symmetry with the other operators.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow_table(py, vec![], self.inner.output_schema())
    }

    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.inner.snapshot()?))
    }

    #[staticmethod]
    fn restore(state: &[u8]) -> PyResult<Self> {
        Ok(PySpikeDetector { inner: SpikeDetector::restore(state)? })
    }

    fn config_json(&self) -> String {
        config_json(self.inner.config())
    }

    fn output_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow_table(py, vec![], self.inner.output_schema())
    }

    #[getter]
    fn tracked_keys(&self) -> usize {
        self.inner.tracked_keys()
    }

    /// keys (with a history), dormant_keys (history all zeros, kept by name), state_bytes (estimate).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("keys", s.keys)?;
        d.set_item("dormant_keys", s.dormant_keys)?;
        d.set_item("state_bytes", s.state_bytes)?;
        Ok(d)
    }
}

fn agg_specs(aggs: Vec<(String, String, Option<String>, Option<f64>)>) -> PyResult<Vec<AggSpec>> {
    aggs.into_iter()
        .map(|(name, kind, column, q)| Ok(AggSpec { name, kind: agg_kind(&kind, q)?, column }))
        .collect()
}

#[pyclass(module = "fleetstream._core", name = "Sessionizer")]
pub struct PySessionizer {
    inner: Sessionizer,
    empty: EmptyOutput,
}

#[pymethods]
impl PySessionizer {
    #[new]
    #[pyo3(signature = (*, gap, time, keys, aggs, watermark, allowed_lateness, max_duration, max_key_bytes, threads=None, null_keys="reject", time_unit=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        gap: i64,
        time: String,
        keys: Vec<String>,
        aggs: Vec<(String, String, Option<String>, Option<f64>)>,
        watermark: i64,
        allowed_lateness: i64,
        max_duration: Option<i64>,
        max_key_bytes: usize,
        threads: Option<usize>,
        null_keys: &str,
        time_unit: Option<&str>,
    ) -> PyResult<Self> {
        let mut config = SessionConfig::new(gap, time, keys, agg_specs(aggs)?);
        config.watermark = watermark;
        config.allowed_lateness = allowed_lateness;
        config.max_duration = max_duration;
        config.max_key_bytes = max_key_bytes;
        let mut inner = Sessionizer::new(config)?;
        if let Some(threads) = threads {
            inner.set_threads(threads)?;
        }
        inner.set_null_keys(NullKeys::parse(null_keys)?);
        inner.set_time_unit(IntTimeUnit::parse(time_unit.unwrap_or("ms"))?);
        Ok(PySessionizer { inner, empty: EmptyOutput::default() })
    }

    #[getter]
    fn time_unit(&self) -> &'static str {
        self.inner.time_unit().code()
    }

    #[getter]
    fn null_keys(&self) -> &'static str {
        match self.inner.null_keys() {
            NullKeys::Reject => "reject",
            NullKeys::Group => "group",
        }
    }

    #[getter]
    fn threads(&self) -> usize {
        self.inner.threads()
    }

    #[setter]
    fn set_threads(&mut self, py: Python<'_>, threads: usize) -> PyResult<()> {
        detach(py, "Sessionizer.threads", || self.inner.set_threads(threads))
    }

    fn push<'py>(&mut self, py: Python<'py>, data: AnyRecordBatch) -> PyResult<Bound<'py, PyAny>> {
        push(py, &mut self.inner, data, &mut self.empty)
    }

    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        flush(py, &mut self.inner)
    }

    fn advance_watermark<'py>(&mut self, py: Python<'py>, watermark: i64) -> PyResult<Bound<'py, PyAny>> {
        advance_watermark(py, &mut self.inner, watermark)
    }

    fn next_close(&self) -> Option<i64> {
        self.inner.next_close()
    }

    fn take_late<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        tables(py, self.inner.take_late())
    }

    fn take_rejects<'py>(&mut self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        tables(py, self.inner.take_rejects())
    }

    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        snapshot(py, &self.inner)
    }

    #[staticmethod]
    fn restore(py: Python<'_>, state: &[u8]) -> PyResult<Self> {
        Ok(Self { inner: restore(py, state)?, empty: EmptyOutput::default() })
    }

    fn config_json(&self) -> String {
        config_json(self.inner.config())
    }

    fn output_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pyarrow_table(py, vec![], self.inner.output_schema())
    }

    #[getter]
    fn watermark(&self) -> Option<i64> {
        self.inner.watermark()
    }

    #[getter]
    fn open_sessions(&self) -> usize {
        self.inner.open_sessions()
    }

    #[getter]
    fn open_keys(&self) -> usize {
        self.inner.open_keys()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("pushes", s.pushes)?;
        d.set_item("rows_in", s.rows_in)?;
        d.set_item("rows_rejected", s.rows_rejected)?;
        d.set_item("rows_late", s.rows_late)?;
        d.set_item("sessions_emitted", s.sessions_emitted)?;
        d.set_item("sessions_merged", s.sessions_merged)?;
        d.set_item("open_sessions", self.inner.open_sessions())?;
        Ok(d)
    }
}
