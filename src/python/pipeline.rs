//! Thin wrapper over `crate::pipeline`: the per-partition alerts operator.

use super::gil::detach;
use crate::pipeline::{AlertsSpec, AlertsStep, PartitionAlerts};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::{PyArray, PyRecordBatch};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAlertsOperator>()?;
    Ok(())
}

#[pyclass(module = "fleetstream._core", name = "AlertsOperator")]
pub struct PyAlertsOperator {
    inner: PartitionAlerts,
}

fn step_out<'py>(py: Python<'py>, step: AlertsStep) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let counts = PyDict::new(py);
    counts.set_item("lines", step.lines)?;
    counts.set_item("parse_rejects", step.parse_rejects)?;
    counts.set_item("errors", step.errors)?;
    counts.set_item("late", step.late)?;
    Ok((
        PyRecordBatch::new(step.windows).into_pyarrow(py)?,
        PyRecordBatch::new(step.alerts).into_pyarrow(py)?,
        counts,
    ))
}

fn spec(log_format: String, window_ms: i64, watermark_ms: i64, history: usize, factor: f64, floor: f64) -> AlertsSpec {
    AlertsSpec { log_format, window: window_ms, watermark: watermark_ms, history, factor, floor }
}

#[pymethods]
impl PyAlertsOperator {
    #[new]
    #[pyo3(signature = (*, log_format, window_ms, watermark_ms, history, factor, floor, checkpoint=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        log_format: String,
        window_ms: i64,
        watermark_ms: i64,
        history: usize,
        factor: f64,
        floor: f64,
        checkpoint: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let spec = spec(log_format, window_ms, watermark_ms, history, factor, floor);
        let inner = detach(py, "AlertsOperator()", || match checkpoint {
            Some(bytes) => PartitionAlerts::restore(&spec, &bytes),
            None => PartitionAlerts::new(&spec),
        })?;
        Ok(PyAlertsOperator { inner })
    }

    /// (windows, alerts, counts) for `lines` (string or binary Arrow array) read up to `next_offset`.
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        lines: PyArray,
        next_offset: i64,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsOperator.push", || inner.push(lines.array().as_ref(), next_offset))?;
        step_out(py, step)
    }

    fn flush<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        let inner = &mut self.inner;
        let step = detach(py, "AlertsOperator.flush", || inner.flush())?;
        step_out(py, step)
    }

    /// Window and detector state with the next input offset, in one blob.
    fn checkpoint<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let bytes = detach(py, "AlertsOperator.checkpoint", || inner.checkpoint())?;
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
}
