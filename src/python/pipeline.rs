//! Thin wrappers over `crate::pipeline::alerts`: the two stages of the alerts pipeline.

use super::arrow::batch_to_pyarrow_table;
use super::gil::detach;
use crate::error::Error;
use crate::pipeline::dispatch::Message;
use crate::pipeline::{AlertsSpec, DispatchOperator, DispatchSpec, Intent, LineFormat, MergeAlerts, PartialCounts, PartialsStep};
use crate::routing::dispatch::Dispatcher;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::Array;
use arrow_schema::DataType;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::{PyArray, PyRecordBatch};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAlertsPartials>()?;
    m.add_class::<PyAlertsMerge>()?;
    m.add_class::<PyDispatchOperator>()?;
    Ok(())
}

fn spec(log_format: &str, window_ms: i64, watermark_ms: i64, history: usize, factor: f64, floor: f64) -> PyResult<AlertsSpec> {
    Ok(AlertsSpec { log_format: LineFormat::from_name(log_format)?, window: window_ms, watermark: watermark_ms, history, factor, floor })
}

fn intent(name: Option<&str>) -> PyResult<Option<Intent>> {
    match name {
        None => Ok(None),
        Some("drain") => Ok(Some(Intent::Drain)),
        Some("finish") => Ok(Some(Intent::Finish)),
        Some(other) => Err(Error::config(format!("intent {other:?}: expected \"drain\" or \"finish\"")).into()),
    }
}

/// (messages, rejects, counts) of a stage-1 step.
type Stage1<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyDict>);

fn stage1_out<'py>(py: Python<'py>, step: PartialsStep) -> PyResult<Stage1<'py>> {
    let counts = PyDict::new(py);
    counts.set_item("lines", step.lines)?;
    counts.set_item("parse_rejects", step.rejects.num_rows())?;
    counts.set_item("errors", step.errors)?;
    counts.set_item("late", step.late)?;
    counts.set_item("partials", step.partials)?;
    counts.set_item("json_lines", step.json_lines)?;
    counts.set_item("python_lines", step.python_lines)?;
    Ok((PyRecordBatch::new(step.messages).into_pyarrow(py)?, PyRecordBatch::new(step.rejects).into_pyarrow(py)?, counts))
}

/// Stage 1 for one input partition: lines -> numbered partial counts and watermark markers.
#[pyclass(module = "fleetstream._core", name = "AlertsPartials")]
pub struct PyAlertsPartials {
    inner: PartialCounts,
}

#[pymethods]
impl PyAlertsPartials {
    #[new]
    #[pyo3(signature = (*, log_format, window_ms, watermark_ms, history, factor, floor, source, input_partitions,
                        repartition_partitions, checkpoint=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        log_format: &str,
        window_ms: i64,
        watermark_ms: i64,
        history: usize,
        factor: f64,
        floor: f64,
        source: i32,
        input_partitions: i32,
        repartition_partitions: i32,
        checkpoint: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let spec = spec(log_format, window_ms, watermark_ms, history, factor, floor)?;
        let inner = detach(py, "AlertsPartials()", || match checkpoint {
            Some(bytes) => PartialCounts::restore(&spec, &bytes, input_partitions, repartition_partitions),
            None => PartialCounts::new(&spec, source, input_partitions, repartition_partitions),
        })?;
        Ok(PyAlertsPartials { inner })
    }

    /// (messages, rejects, counts) for `lines` (string or binary) read at `offsets`, up to `next_offset`.
    fn push<'py>(&mut self, py: Python<'py>, lines: PyArray, offsets: PyArray, next_offset: i64) -> PyResult<Stage1<'py>> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsPartials.push", || inner.push(lines.array().as_ref(), offsets.array().as_ref(), next_offset))?;
        stage1_out(py, step)
    }

    fn drain<'py>(&mut self, py: Python<'py>) -> PyResult<Stage1<'py>> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsPartials.drain", || inner.drain())?;
        stage1_out(py, step)
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Stage1<'py>> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsPartials.finish", || inner.finish())?;
        stage1_out(py, step)
    }

    fn resume<'py>(&mut self, py: Python<'py>) -> PyResult<Stage1<'py>> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsPartials.resume", || inner.resume())?;
        stage1_out(py, step)
    }

    /// State, next offset and the intent ("drain", "finish" or None) to apply on restore, in one blob.
    #[pyo3(signature = (intent=None))]
    fn checkpoint<'py>(&self, py: Python<'py>, intent: Option<&str>) -> PyResult<Bound<'py, PyBytes>> {
        let intent = self::intent(intent)?;
        let inner = &self.inner;
        let bytes = detach(py, "AlertsPartials.checkpoint", || inner.checkpoint(intent))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[getter]
    fn next_offset(&self) -> Option<i64> {
        self.inner.next_offset()
    }

    #[getter]
    fn watermark(&self) -> Option<i64> {
        self.inner.watermark()
    }

    #[getter]
    fn idle(&self) -> bool {
        self.inner.idle()
    }

    #[getter]
    fn finished(&self) -> bool {
        self.inner.finished()
    }

    #[getter]
    fn open_windows(&self) -> usize {
        self.inner.open_windows()
    }
}

/// (windows, alerts, late contributions, rejects, counts) of a stage-2 step.
type Stage2<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyDict>);

/// Stage 2 for one repartition partition: partials -> complete windows -> alerts.
#[pyclass(module = "fleetstream._core", name = "AlertsMerge")]
pub struct PyAlertsMerge {
    inner: MergeAlerts,
}

#[pymethods]
impl PyAlertsMerge {
    #[new]
    #[pyo3(signature = (*, log_format, window_ms, watermark_ms, history, factor, floor, checkpoint=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        log_format: &str,
        window_ms: i64,
        watermark_ms: i64,
        history: usize,
        factor: f64,
        floor: f64,
        checkpoint: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let spec = spec(log_format, window_ms, watermark_ms, history, factor, floor)?;
        let inner = detach(py, "AlertsMerge()", || match checkpoint {
            Some(bytes) => MergeAlerts::restore(&spec, &bytes),
            None => MergeAlerts::new(&spec),
        })?;
        Ok(PyAlertsMerge { inner })
    }

    /// (windows, alerts, late, rejects, counts) for repartition messages read at `offsets`.
    fn push<'py>(&mut self, py: Python<'py>, values: PyArray, offsets: PyArray, next_offset: i64) -> PyResult<Stage2<'py>> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsMerge.push", || inner.push(values.array().as_ref(), offsets.array().as_ref(), next_offset))?;
        let counts = PyDict::new(py);
        let c = &step.counts;
        for (name, value) in [
            ("repartition_messages", c.messages),
            ("partials_merged", c.partials),
            ("duplicates", c.duplicates),
            ("markers", c.markers),
            ("late_contributions", c.late_contributions),
            ("late_contribution_errors", c.late_errors),
            ("repartition_rejects", c.rejects),
        ] {
            counts.set_item(name, value)?;
        }
        Ok((
            PyRecordBatch::new(step.windows).into_pyarrow(py)?,
            PyRecordBatch::new(step.alerts).into_pyarrow(py)?,
            PyRecordBatch::new(step.late).into_pyarrow(py)?,
            PyRecordBatch::new(step.rejects).into_pyarrow(py)?,
            counts,
        ))
    }

    fn checkpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, "AlertsMerge.checkpoint", || inner.checkpoint())?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[getter]
    fn next_offset(&self) -> Option<i64> {
        self.inner.next_offset()
    }

    /// Windows ending at or before this (ms) are closed.
    #[getter]
    fn closed_through(&self) -> Option<i64> {
        self.inner.closed_through()
    }

    #[getter]
    fn open_windows(&self) -> usize {
        self.inner.open_windows()
    }

    /// Every input partition has ended and every window was emitted.
    #[getter]
    fn complete(&self) -> bool {
        self.inner.complete()
    }

    /// Input partitions holding windows back now.
    fn waiting_for(&self) -> Vec<i32> {
        self.inner.waiting_for()
    }

    /// `{input partition: (watermark, idle, ended)}` as reported to this merge.
    fn sources(&self) -> Vec<(i32, Option<i64>, bool, bool)> {
        self.inner.sources().iter().map(|(p, s)| (*p, s.watermark, s.idle, s.ended)).collect()
    }
}

/// The dispatch pipeline's operator (see `crate::pipeline::dispatch`).
#[pyclass(module = "fleetstream._core", name = "DispatchOperator")]
pub struct PyDispatchOperator {
    inner: DispatchOperator,
}

/// Rows of (topic, partition, offset, value) columns as messages.
fn messages(topics: &PyArray, partitions: &PyArray, offsets: &PyArray, values: &PyArray) -> Result<Vec<Message>, Error> {
    let (t, p, o, v) = (topics.array(), partitions.array(), offsets.array(), values.array());
    let bad = |what: &str| Error::schema(format!("dispatch input: {what}"));
    if ![p.len(), o.len(), v.len()].iter().all(|&n| n == t.len()) {
        return Err(bad("columns of different lengths"));
    }
    let topic = |i: usize| match t.data_type() {
        DataType::Utf8 => Ok(t.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Ok(t.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Ok(t.as_string_view().value(i).to_string()),
        DataType::Dictionary(..) => {
            let d = t.as_any_dictionary();
            Ok(d.values().as_string::<i32>().value(d.normalized_keys()[i]).to_string())
        }
        other => Err(bad(&format!("topic column of type {other}"))),
    };
    let payload = |i: usize| -> Result<Vec<u8>, Error> {
        if v.is_null(i) {
            return Ok(vec![]);
        }
        match v.data_type() {
            DataType::Binary => Ok(v.as_binary::<i32>().value(i).to_vec()),
            DataType::LargeBinary => Ok(v.as_binary::<i64>().value(i).to_vec()),
            DataType::Utf8 => Ok(v.as_string::<i32>().value(i).as_bytes().to_vec()),
            other => Err(bad(&format!("value column of type {other}"))),
        }
    };
    let partition = p.as_primitive_opt::<Int32Type>().ok_or_else(|| bad("partition must be int32"))?;
    let offset = o.as_primitive_opt::<Int64Type>().ok_or_else(|| bad("offset must be int64"))?;
    (0..t.len()).map(|i| Ok((topic(i)?, partition.value(i), offset.value(i), payload(i)?))).collect()
}

#[pymethods]
impl PyDispatchOperator {
    /// A fresh operator over a dispatcher (its snapshot), or one restored from `checkpoint`.
    #[new]
    #[pyo3(signature = (*, orders_topic, vehicle_topic, improve_every, improve_iterations, improve_time_ms=None, dispatcher=None, checkpoint=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        orders_topic: String,
        vehicle_topic: String,
        improve_every: i64,
        improve_iterations: u64,
        improve_time_ms: Option<u64>,
        dispatcher: Option<Vec<u8>>,
        checkpoint: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let spec = DispatchSpec { orders_topic, vehicle_topic, improve_every, improve_iterations, improve_time_ms };
        let inner = detach(py, "DispatchOperator()", || match (checkpoint, dispatcher) {
            (Some(bytes), _) => DispatchOperator::restore(&bytes),
            (None, Some(bytes)) => DispatchOperator::new(spec, Dispatcher::restore(&bytes)?),
            (None, None) => Err(Error::config("DispatchOperator needs a dispatcher snapshot or a checkpoint")),
        })?;
        Ok(PyDispatchOperator { inner })
    }

    /// (messages for the plans topic: key, value; dead letters: topic, partition, offset, reason,
    /// payload). `open`: assigned partitions that may still deliver; `flush` applies all that waits.
    #[allow(clippy::too_many_arguments)]
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        topics: PyArray,
        partitions: PyArray,
        offsets: PyArray,
        values: PyArray,
        open: Vec<(String, i32)>,
        flush: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let inner = &mut self.inner;
        let step = detach(py, "DispatchOperator.push", || {
            let batch = messages(&topics, &partitions, &offsets, &values)?;
            inner.push(&batch, &open, flush)
        })?;
        Ok((batch_to_pyarrow_table(py, step.messages)?, batch_to_pyarrow_table(py, step.dead_letters)?))
    }

    fn checkpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, "DispatchOperator.checkpoint", || Ok::<_, Error>(inner.checkpoint()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The dispatcher as it stands (a snapshot `fleetstream.routing.Dispatcher.restore` reads).
    fn dispatcher<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, "DispatchOperator.dispatcher", || Ok::<_, Error>(inner.dispatcher().snapshot()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// (topic, partition, next offset to read) of every partition seen.
    fn resume_offsets(&self) -> Vec<(String, i32, i64)> {
        self.inner.resume_offsets()
    }

    #[getter]
    fn waiting(&self) -> usize {
        self.inner.waiting()
    }

    #[getter]
    fn now(&self) -> i64 {
        self.inner.dispatcher().now()
    }

    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.counts();
        let d = PyDict::new(py);
        for (k, v) in [
            ("messages", c.messages),
            ("orders", c.orders),
            ("cancels", c.cancels),
            ("holds", c.holds),
            ("events", c.events),
            ("dead_letters", c.dead_letters),
            ("ticks", c.ticks),
            ("routes_out", c.routes_out),
            ("fates_out", c.fates_out),
            ("late", c.late),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }
}
