//! Thin wrappers over `crate::sink` (exactly-once database writes), `crate::enrich` (reference
//! tables) and the payments operator. Every database call runs without the GIL.

use super::arrow::{batch_to_pyarrow_table, batches_of};
use super::gil::detach;
use crate::enrich::ReferenceTable;
use crate::error::Error;
use crate::offsets::TopicPartition;
use crate::pipeline::money::{minor_units, parse_scaled};
use crate::pipeline::{AmountUnit, EpochUnit, FieldPaths, PaymentsOperator, PaymentsSpec};
use crate::sink::{self, Backend, BatchMark, Claim, Commit, Mode, ReadModelSpec, SinkSpec, WriteOutcome};
use arrow_array::RecordBatch;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PyArray, PyRecordBatch};
use std::sync::{Arc, Mutex, RwLock};

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyExactlyOnceSink>()?;
    m.add_class::<PyReferenceTable>()?;
    m.add_class::<PyPaymentsOperator>()?;
    Ok(())
}

fn one_batch(data: AnyRecordBatch) -> PyResult<RecordBatch> {
    let batches = batches_of(data)?;
    let schema = batches[0].schema();
    Ok(arrow_select::concat::concat_batches(&schema, &batches).map_err(Error::from)?)
}

type ClaimTuple = (String, i32, Option<i64>, i64);

fn claim_tuples(claims: Vec<Claim>) -> Vec<ClaimTuple> {
    claims.into_iter().map(|c| (c.tp.topic, c.tp.partition, c.next_offset, c.generation)).collect()
}

#[pyclass(module = "fleetstream._core", name = "ExactlyOnceSink")]
pub struct PyExactlyOnceSink {
    backend: Mutex<Box<dyn Backend>>,
    spec: SinkSpec,
}

impl PyExactlyOnceSink {
    fn with_backend<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut dyn Backend) -> crate::Result<T> + Send) -> PyResult<T> {
        let backend = &self.backend;
        detach(py, "ExactlyOnceSink", || {
            let mut guard = backend.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(guard.as_mut())
        })
    }
}

#[pymethods]
impl PyExactlyOnceSink {
    #[new]
    #[pyo3(signature = (dsn, table, key, mode = "upsert", read_model = None))]
    fn new(
        py: Python<'_>,
        dsn: String,
        table: String,
        key: Vec<String>,
        mode: &str,
        read_model: Option<(String, Vec<String>, Vec<String>)>,
    ) -> PyResult<Self> {
        let spec = SinkSpec {
            table,
            key,
            mode: Mode::parse(mode)?,
            read_model: read_model.map(|(table, group_by, sums)| ReadModelSpec { table, group_by, sums }),
        };
        let for_open = spec.clone();
        let backend = detach(py, "ExactlyOnceSink()", || sink::open(&dsn, for_open))?;
        Ok(PyExactlyOnceSink { backend: Mutex::new(backend), spec })
    }

    /// Take partitions over: [(topic, partition, stored next offset or None, new generation)].
    fn claim(&self, py: Python<'_>, partitions: Vec<(String, i32)>) -> PyResult<Vec<ClaimTuple>> {
        let parts: Vec<TopicPartition> = partitions.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect();
        Ok(claim_tuples(self.with_backend(py, |b| b.claim(&parts))?))
    }

    /// Stored [(topic, partition, next offset or None, generation)] of every partition.
    fn stored(&self, py: Python<'_>) -> PyResult<Vec<ClaimTuple>> {
        Ok(claim_tuples(self.with_backend(py, |b| b.stored())?))
    }

    fn is_applied(&self, py: Python<'_>, query_id: String, batch_id: i64) -> PyResult<bool> {
        let mark = BatchMark { query_id, batch_id };
        self.with_backend(py, |b| b.is_applied(&mark))
    }

    /// One transaction: fencing check + offsets, the batch mark, rows, dead letters, read model.
    #[pyo3(signature = (rows, dead_letters, commits, mark = None))]
    fn write<'py>(
        &self,
        py: Python<'py>,
        rows: Option<AnyRecordBatch>,
        dead_letters: Option<AnyRecordBatch>,
        commits: Vec<(String, i32, i64, i64)>,
        mark: Option<(String, i64)>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let rows = rows.map(one_batch).transpose()?;
        let dead_letters = dead_letters.map(one_batch).transpose()?;
        let commits: Vec<Commit> = commits
            .into_iter()
            .map(|(t, p, next_offset, generation)| Commit { tp: TopicPartition::new(t, p), next_offset, generation })
            .collect();
        let mark = mark.map(|(query_id, batch_id)| BatchMark { query_id, batch_id });
        let outcome: WriteOutcome =
            self.with_backend(py, |b| b.write(rows.as_ref(), dead_letters.as_ref(), &commits, mark.as_ref()))?;
        let out = PyDict::new(py);
        out.set_item("applied", outcome.applied)?;
        out.set_item("rows", outcome.rows)?;
        out.set_item("written", outcome.written)?;
        out.set_item("duplicates", outcome.duplicates)?;
        out.set_item("dead_letters", outcome.dead_letters)?;
        Ok(out)
    }

    #[getter]
    fn table(&self) -> String {
        self.spec.table.clone()
    }

    #[getter]
    fn key(&self) -> Vec<String> {
        self.spec.key.clone()
    }

    #[getter]
    fn mode(&self) -> &'static str {
        match self.spec.mode {
            Mode::Insert => "insert",
            Mode::Upsert => "upsert",
        }
    }

    /// (offsets table, dead letters table, batches table, read model table or None).
    #[getter]
    fn tables(&self) -> (String, String, String, Option<String>) {
        (
            self.spec.offsets_table(),
            self.spec.dead_letters_table(),
            self.spec.batches_table(),
            self.spec.read_model.as_ref().map(|r| r.table.clone()),
        )
    }
}

#[pyclass(module = "fleetstream._core", name = "ReferenceTable")]
pub struct PyReferenceTable {
    current: RwLock<Arc<ReferenceTable>>,
}

impl PyReferenceTable {
    pub fn current(&self) -> Arc<ReferenceTable> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[pymethods]
impl PyReferenceTable {
    #[new]
    #[pyo3(signature = (data, key, effective = None))]
    fn new(py: Python<'_>, data: AnyRecordBatch, key: String, effective: Option<String>) -> PyResult<Self> {
        let batches = batches_of(data)?;
        let table = detach(py, "ReferenceTable()", || ReferenceTable::new(&batches, &key, effective.as_deref()))?;
        Ok(PyReferenceTable { current: RwLock::new(Arc::new(table)) })
    }

    /// Swap in new data (same key and effective column); lookups in flight keep the old version.
    fn replace(&self, py: Python<'_>, data: AnyRecordBatch) -> PyResult<()> {
        let batches = batches_of(data)?;
        let old = self.current();
        let table = detach(py, "ReferenceTable.replace", || ReferenceTable::new(&batches, old.key(), old.effective()))?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
        Ok(())
    }

    /// (rows of `data` with a match, reference columns appended; row numbers without one).
    #[pyo3(signature = (data, on, at = None))]
    fn join<'py>(&self, py: Python<'py>, data: AnyRecordBatch, on: String, at: Option<String>) -> PyResult<(Bound<'py, PyAny>, Vec<u32>)> {
        let batch = one_batch(data)?;
        let table = self.current();
        let (joined, misses) = detach(py, "ReferenceTable.join", || table.join(&batch, &on, at.as_deref()))?;
        Ok((batch_to_pyarrow_table(py, joined)?, misses))
    }

    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        batch_to_pyarrow_table(py, self.current().data().clone())
    }

    #[getter]
    fn key(&self) -> String {
        self.current().key().to_owned()
    }

    #[getter]
    fn effective(&self) -> Option<String> {
        self.current().effective().map(str::to_owned)
    }

    fn __len__(&self) -> usize {
        self.current().len()
    }
}

#[pyclass(module = "fleetstream._core", name = "PaymentsOperator")]
pub struct PyPaymentsOperator {
    inner: Mutex<PaymentsOperator>,
}

#[pymethods]
impl PyPaymentsOperator {
    #[new]
    #[pyo3(signature = (*, fields = None, amount_unit = "major", ts_unit = "ms", base_currency = "USD", rate_column = None, max_amount = None))]
    fn new(
        fields: Option<Vec<(String, String)>>,
        amount_unit: &str,
        ts_unit: &str,
        base_currency: &str,
        rate_column: Option<String>,
        max_amount: Option<String>,
    ) -> PyResult<Self> {
        let exponent = minor_units(base_currency);
        let max_amount_minor = match (max_amount, exponent) {
            (Some(text), Some(exponent)) => Some(
                parse_scaled(&text, exponent)
                    .ok()
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or_else(|| Error::config(format!("max_amount {text:?} is not a plain decimal amount of {base_currency} with at most {exponent} decimals")))?,
            ),
            _ => None,
        };
        let spec = PaymentsSpec {
            fields: FieldPaths::new(&fields.unwrap_or_default())?,
            amount_unit: AmountUnit::parse(amount_unit)?,
            ts_unit: EpochUnit::parse(ts_unit)?,
            base_currency: base_currency.to_owned(),
            rate_column,
            max_amount_minor,
        };
        Ok(PyPaymentsOperator { inner: Mutex::new(PaymentsOperator::new(spec)?) })
    }

    /// (rows, dead letters) of JSON `payloads` read at `partitions`/`offsets` of `topic`.
    #[allow(clippy::too_many_arguments)] // the Python signature: one keyword each
    #[pyo3(signature = (topic, payloads, partitions, offsets, merchants, fx = None))]
    fn process<'py>(
        &self,
        py: Python<'py>,
        topic: String,
        payloads: PyArray,
        partitions: PyArray,
        offsets: PyArray,
        merchants: &PyReferenceTable,
        fx: Option<&PyReferenceTable>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (merchants, fx) = (merchants.current(), fx.map(PyReferenceTable::current));
        let inner = &self.inner;
        let step = detach(py, "PaymentsOperator.process", || {
            inner.lock().unwrap_or_else(|p| p.into_inner()).process(
                &topic,
                payloads.array().as_ref(),
                partitions.array().as_ref(),
                offsets.array().as_ref(),
                &merchants,
                fx.as_deref(),
            )
        })?;
        Ok((PyRecordBatch::new(step.rows).into_pyarrow(py)?, PyRecordBatch::new(step.dead_letters).into_pyarrow(py)?))
    }

    /// The output column of amounts in the base currency (`amount_usd_minor` for USD).
    #[getter]
    fn amount_column(&self) -> String {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).amount_column().to_owned()
    }

    /// The FX table's column of rates into the base currency (`rate_to_usd` for USD).
    #[getter]
    fn rate_column(&self) -> String {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).rate_column().to_owned()
    }

    #[getter]
    fn base_currency(&self) -> String {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).spec().base_currency.clone()
    }
}
