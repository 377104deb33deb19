//! Thin wrappers over `crate::kafka`: the consumer source, the producer sink, topic creation.

use super::gil::{detach, detach_interruptible};
use crate::error::Error;
use crate::kafka::encode::SinkFormat;
use crate::kafka::{self, KafkaSink, KafkaSource, MetaColumns, PayloadFormat, RebalanceKind, SeekTo, SinkConfig, SourceConfig};
use crate::offsets::{Offsets, TopicPartition};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::{PyRecordBatch, PySchema};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKafkaSource>()?;
    m.add_class::<PyKafkaSink>()?;
    m.add_function(wrap_pyfunction!(kafka_create_topics, m)?)?;
    m.add_function(wrap_pyfunction!(kafka_ensure_topics, m)?)?;
    m.add_function(wrap_pyfunction!(kafka_partition_counts, m)?)?;
    Ok(())
}

#[derive(FromPyObject)]
enum SeekArg {
    Offset(i64),
    Named(String),
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn parts(list: Vec<(String, i32)>) -> Vec<TopicPartition> {
    list.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect()
}

fn part_tuples(list: &[TopicPartition]) -> Vec<(String, i32)> {
    list.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect()
}

/// Create topics `[(name, partitions)]` (existing ones are kept).
#[pyfunction]
fn kafka_create_topics(py: Python<'_>, bootstrap: String, topics: Vec<(String, i32)>, timeout_ms: u64) -> PyResult<()> {
    detach(py, "create_topics", || kafka::admin::create_topics(&bootstrap, &topics, ms(timeout_ms)))
}

/// Create the topics `[(name, partitions)]` that do not exist yet, with the client `settings`
/// (security options included) and the broker's default replication factor.
#[pyfunction]
fn kafka_ensure_topics(py: Python<'_>, settings: Vec<(String, String)>, topics: Vec<(String, i32)>, timeout_ms: u64) -> PyResult<()> {
    detach(py, "ensure_topics", || kafka::admin::ensure_topics(&settings, &topics, ms(timeout_ms)))
}

/// `[(topic, partitions or None when the topic does not exist)]`, from the cluster's metadata.
#[pyfunction]
fn kafka_partition_counts(
    py: Python<'_>,
    settings: Vec<(String, String)>,
    topics: Vec<String>,
    timeout_ms: u64,
) -> PyResult<Vec<(String, Option<i32>)>> {
    detach(py, "partition_counts", || kafka::admin::partition_counts(&settings, &topics, ms(timeout_ms)))
}

/// (records, rejects, next offsets, start offsets) of one poll.
type Polled<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Vec<(String, i32, i64)>, Vec<(String, i32, i64)>);

#[pyclass(module = "fleetstream._core", name = "KafkaSource")]
pub struct PyKafkaSource {
    inner: Arc<KafkaSource>,
    /// An exception raised by the rebalance callback, re-raised after the poll that ran it.
    callback_error: Arc<Mutex<Option<PyErr>>>,
}

impl PyKafkaSource {
    pub fn core(&self) -> &Arc<KafkaSource> {
        &self.inner
    }

    fn raise_callback_error(&self) -> PyResult<()> {
        match self.callback_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

#[pymethods]
impl PyKafkaSource {
    #[new]
    #[pyo3(signature = (topics, group_id, *, config, format, schema, columns, max_message_bytes))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        topics: Vec<String>,
        group_id: String,
        config: Vec<(String, String)>,
        format: &str,
        schema: Option<PySchema>,
        columns: Vec<String>,
        max_message_bytes: usize,
    ) -> PyResult<Self> {
        let format = match (format, schema) {
            ("json", Some(schema)) => PayloadFormat::Json(schema.into_inner()),
            ("json", None) => return Err(Error::config("format=\"json\" needs a schema").into()),
            ("raw", _) => PayloadFormat::Raw,
            ("text", _) => PayloadFormat::Text,
            (other, _) => {
                return Err(Error::config(format!("unknown format {other:?}; expected \"json\", \"raw\" or \"text\"")).into())
            }
        };
        let mut meta = MetaColumns::default();
        for column in &columns {
            match column.as_str() {
                "topic" => meta.topic = true,
                "partition" => meta.partition = true,
                "offset" => meta.offset = true,
                "timestamp" => meta.timestamp = true,
                "key" => meta.key = true,
                "headers" => meta.headers = true,
                other => {
                    return Err(Error::config(format!(
                        "unknown metadata column {other:?}; expected topic, partition, offset, timestamp, key, headers"
                    ))
                    .into())
                }
            }
        }
        let config = SourceConfig { topics, group_id, settings: config, format, meta, max_message_bytes };
        let inner = detach(py, "KafkaSource()", || KafkaSource::new(config))?;
        Ok(PyKafkaSource { inner: Arc::new(inner), callback_error: Arc::new(Mutex::new(None)) })
    }

    /// Set (or clear with None) `callback(kind, partitions)`, kind "assigned" or "revoked", called
    /// from inside `poll` after an assignment and before a revocation.
    fn set_rebalance_callback(&self, callback: Option<Py<PyAny>>) {
        let Some(callback) = callback else {
            self.inner.set_rebalance_hook(None);
            return;
        };
        let errors = self.callback_error.clone();
        self.inner.set_rebalance_hook(Some(Arc::new(move |kind, partitions: &[TopicPartition]| {
            let kind = match kind {
                RebalanceKind::Assigned => "assigned",
                RebalanceKind::Revoked => "revoked",
            };
            Python::attach(|py| {
                if let Err(err) = callback.call1(py, (kind, part_tuples(partitions))) {
                    let mut slot = errors.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if slot.is_none() {
                        *slot = Some(err);
                    }
                }
            });
        })));
    }

    /// (records, rejects, offsets, start offsets): up to `max_rows` messages polled for at most `max_wait_ms`.
    fn poll<'py>(&self, py: Python<'py>, max_rows: usize, max_wait_ms: u64) -> PyResult<Polled<'py>> {
        let inner = self.inner.clone();
        let polled = detach_interruptible(py, "KafkaSource.poll", move |check| inner.poll_batch(max_rows, ms(max_wait_ms), check));
        self.raise_callback_error()?;
        let polled = polled?;
        Ok((
            PyRecordBatch::new(polled.records).into_pyarrow(py)?,
            PyRecordBatch::new(polled.rejects).into_pyarrow(py)?,
            polled.offsets.to_tuples(),
            polled.start_offsets.to_tuples(),
        ))
    }

    fn keep_alive(&self, py: Python<'_>, wait_ms: u64) -> PyResult<()> {
        let inner = self.inner.clone();
        let result = detach(py, "KafkaSource.keep_alive", move || inner.keep_alive(ms(wait_ms)));
        self.raise_callback_error()?;
        result
    }

    fn commit(&self, py: Python<'_>, offsets: Vec<(String, i32, i64)>) -> PyResult<()> {
        let inner = self.inner.clone();
        let offsets = Offsets::from_tuples(offsets);
        detach(py, "KafkaSource.commit", move || inner.commit(&offsets))
    }

    fn committed(&self, py: Python<'_>, partitions: Vec<(String, i32)>, timeout_ms: u64) -> PyResult<Vec<(String, i32, i64)>> {
        let inner = self.inner.clone();
        let partitions = parts(partitions);
        Ok(detach(py, "KafkaSource.committed", move || inner.committed(&partitions, ms(timeout_ms)))?.to_tuples())
    }

    /// `offset`: the next offset to read, or "beginning" / "end".
    fn seek(&self, py: Python<'_>, topic: String, partition: i32, offset: SeekArg, timeout_ms: u64) -> PyResult<()> {
        let to = match offset {
            SeekArg::Offset(o) => SeekTo::Offset(o),
            SeekArg::Named(name) => match name.as_str() {
                "beginning" => SeekTo::Beginning,
                "end" => SeekTo::End,
                _ => return Err(Error::config(format!("seek offset must be an int, \"beginning\" or \"end\", got {name:?}")).into()),
            },
        };
        let inner = self.inner.clone();
        detach(py, "KafkaSource.seek", move || inner.seek(&TopicPartition::new(topic, partition), to, ms(timeout_ms)))
    }

    fn position(&self) -> Vec<(String, i32, i64)> {
        self.inner.position().to_tuples()
    }

    /// `[(topic, partition, low, high)]` of the assignment, as the last fetch responses reported them.
    fn fetch_watermarks(&self) -> Vec<(String, i32, i64, i64)> {
        self.inner.fetch_watermarks().into_iter().map(|(tp, low, high)| (tp.topic, tp.partition, low, high)).collect()
    }

    fn assignment(&self) -> Vec<(String, i32)> {
        part_tuples(&self.inner.assignment())
    }

    fn pause(&self, partitions: Vec<(String, i32)>) -> PyResult<()> {
        Ok(self.inner.pause(&parts(partitions))?)
    }

    fn resume(&self, partitions: Vec<(String, i32)>) -> PyResult<()> {
        Ok(self.inner.resume(&parts(partitions))?)
    }

    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PySchema::new(self.inner.schema()).into_pyarrow(py)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("messages", s.messages)?;
        d.set_item("bytes", s.bytes)?;
        d.set_item("rows", s.rows)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("batches", s.batches)?;
        d.set_item("rebalances", s.rebalances)?;
        let lag = PyList::empty(py);
        for (tp, next, high) in s.lag {
            lag.append((tp.topic, tp.partition, next, high))?;
        }
        d.set_item("partitions", lag)?;
        Ok(d)
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        detach(py, "KafkaSource.close", move || {
            inner.close();
            Ok::<(), Error>(())
        })?;
        self.raise_callback_error()
    }
}

#[pyclass(module = "fleetstream._core", name = "KafkaSink")]
pub struct PyKafkaSink {
    inner: Arc<KafkaSink>,
}

#[pymethods]
impl PyKafkaSink {
    #[new]
    #[pyo3(signature = (topic, *, config, format, key, max_in_flight, timeout_ms, partition=None, partitioner=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        topic: String,
        config: Vec<(String, String)>,
        format: &str,
        key: Option<String>,
        max_in_flight: usize,
        timeout_ms: u64,
        partition: Option<String>,
        partitioner: Option<String>,
    ) -> PyResult<Self> {
        let format = match format {
            "json" => SinkFormat::Json,
            "raw" => SinkFormat::Raw,
            other => return Err(Error::config(format!("unknown format {other:?}; expected \"json\" or \"raw\"")).into()),
        };
        let config =
            SinkConfig { topic, settings: config, format, key, partition, partitioner, max_in_flight, timeout: ms(timeout_ms) };
        let inner = detach(py, "KafkaSink()", || KafkaSink::new(config))?;
        Ok(PyKafkaSink { inner: Arc::new(inner) })
    }

    /// Send every row of an Arrow table / batch / stream; returns the number of messages sent.
    fn send(&self, py: Python<'_>, data: AnyRecordBatch) -> PyResult<usize> {
        let batches = super::arrow::batches_of(data)?;
        let inner = self.inner.clone();
        detach_interruptible(py, "KafkaSink.send", move |check| {
            let mut sent = 0;
            for batch in &batches {
                sent += inner.send(batch, check)?;
            }
            Ok(sent)
        })
    }

    fn flush(&self, py: Python<'_>, timeout_ms: u64) -> PyResult<()> {
        let inner = self.inner.clone();
        detach_interruptible(py, "KafkaSink.flush", move |check| inner.flush(ms(timeout_ms), check))
    }

    fn begin_transaction(&self) -> PyResult<()> {
        Ok(self.inner.begin_transaction()?)
    }

    /// Offsets consumed by `source` (its group), committed with this transaction.
    fn send_offsets_to_transaction(
        &self,
        py: Python<'_>,
        offsets: Vec<(String, i32, i64)>,
        source: &PyKafkaSource,
        timeout_ms: u64,
    ) -> PyResult<()> {
        let group = source
            .core()
            .group_metadata()
            .ok_or_else(|| Error::kafka("the source has no consumer group metadata (is group.id set?)"))?;
        let inner = self.inner.clone();
        let offsets = Offsets::from_tuples(offsets);
        detach(py, "KafkaSink.send_offsets_to_transaction", move || inner.send_offsets_to_transaction(&offsets, &group, ms(timeout_ms)))
    }

    fn commit_transaction(&self, py: Python<'_>, timeout_ms: u64) -> PyResult<()> {
        let inner = self.inner.clone();
        detach(py, "KafkaSink.commit_transaction", move || inner.commit_transaction(ms(timeout_ms)))
    }

    fn abort_transaction(&self, py: Python<'_>, timeout_ms: u64) -> PyResult<()> {
        let inner = self.inner.clone();
        detach(py, "KafkaSink.abort_transaction", move || inner.abort_transaction(ms(timeout_ms)))
    }

    #[getter]
    fn topic(&self) -> String {
        self.inner.topic().to_owned()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("sent", s.sent)?;
        d.set_item("bytes", s.bytes)?;
        d.set_item("delivered", s.delivered)?;
        d.set_item("failed", s.failed)?;
        d.set_item("in_flight", s.in_flight)?;
        d.set_item("ends", s.ends.into_iter().collect::<Vec<_>>())?;
        Ok(d)
    }
}
