//! Thin wrappers over `crate::pipeline::alerts`: the two stages of the alerts pipeline.

use super::gil::detach;
use crate::pipeline::{AlertsSpec, Intent, LineFormat, MergeAlerts, PartialCounts, PartialsStep};
use crate::error::Error;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::{PyArray, PyRecordBatch};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAlertsPartials>()?;
    m.add_class::<PyAlertsMerge>()?;
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
