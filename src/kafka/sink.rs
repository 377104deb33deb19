//! The producer: Arrow batches to messages. Idempotent by default, a bounded number of messages in
//! flight (the caller blocks, Ctrl-C-able, instead of buffering without limit), delivery failures
//! collected from librdkafka's reports and surfaced as typed errors. Optionally transactional
//! (`transactional.id`), for exactly-once read-process-write loops with zombie fencing.

use super::lock;
use super::encode::{self, SinkFormat};
use super::{client_config, kafka_error, tpl_of};
use crate::error::{Error, Result};
use crate::offsets::Offsets;
use arrow_array::RecordBatch;
use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub topic: String,
    pub settings: Vec<(String, String)>,
    pub format: SinkFormat,
    pub key: Option<String>,
    /// Column naming each row's partition (an integer; null: the partitioner chooses).
    pub partition: Option<String>,
    /// librdkafka's `partitioner` (one of [`PARTITIONERS`]); None keeps librdkafka's default,
    /// `consistent_random`.
    pub partitioner: Option<String>,
    /// Most messages sent but not yet acknowledged; `send` waits beyond this.
    pub max_in_flight: usize,
    /// How long `new` may take to check the topic and (if transactional) init transactions.
    pub timeout: Duration,
}

/// librdkafka's partitioners. Keyed rows: `random` ignores the key; `consistent*` hash it with CRC32,
/// `murmur2*` with the Java client's murmur2, `fnv1a*` with FNV-1a. Unkeyed rows: the `*_random`
/// variants and `random` use the sticky partitioner (one random partition per
/// `sticky.partitioning.linger.ms`, or per message when that is 0); `consistent`, `murmur2` and
/// `fnv1a` send every unkeyed row to one partition.
pub const PARTITIONERS: [&str; 7] =
    ["consistent_random", "consistent", "murmur2_random", "murmur2", "fnv1a_random", "fnv1a", "random"];

/// The librdkafka settings for `partitioner`, checked against [`PARTITIONERS`] and against a
/// `partitioner` already in `settings`.
fn partitioner_setting(partitioner: Option<&str>, settings: &[(String, String)]) -> Result<Option<(String, String)>> {
    let configured = settings.iter().rev().find(|(n, _)| n == "partitioner").map(|(_, v)| v.as_str());
    let Some(name) = partitioner.or(configured) else { return Ok(None) };
    if !PARTITIONERS.contains(&name) {
        return Err(Error::config(format!("unknown partitioner {name:?}; expected one of {}", PARTITIONERS.join(", "))));
    }
    if let (Some(given), Some(configured)) = (partitioner, configured) {
        if given != configured {
            return Err(Error::config(format!(
                "partitioner={given:?} contradicts config[\"partitioner\"]={configured:?}; give one of them"
            )));
        }
    }
    Ok(Some(("partitioner".to_owned(), name.to_owned())))
}

#[derive(Clone, Debug, Default)]
pub struct SinkStats {
    pub sent: u64,
    pub bytes: u64,
    pub delivered: u64,
    pub failed: u64,
    pub in_flight: i64,
    /// Highest delivered offset + 1 per partition of the topic.
    pub ends: BTreeMap<i32, i64>,
}

#[derive(Default)]
struct Shared {
    failures: Mutex<Vec<(Option<RDKafkaErrorCode>, String)>>,
    delivered: AtomicU64,
    failed: AtomicU64,
    ends: Mutex<BTreeMap<i32, i64>>,
}

pub struct SinkContext {
    shared: Arc<Shared>,
}

impl ClientContext for SinkContext {}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(message) => {
                self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                let mut ends = lock(&self.shared.ends);
                let end = ends.entry(message.partition()).or_insert(0);
                *end = (*end).max(message.offset() + 1);
            }
            Err((error, message)) => {
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
                let mut failures = lock(&self.shared.failures);
                if failures.len() < 100 {
                    failures.push((
                        error.rdkafka_error_code(),
                        format!("{error} ({} payload bytes, partition {})", message.payload_len(), message.partition()),
                    ));
                }
            }
        }
    }
}

pub struct KafkaSink {
    producer: BaseProducer<SinkContext>,
    shared: Arc<Shared>,
    config: SinkConfig,
    transactional: bool,
    sent: AtomicU64,
    bytes: AtomicU64,
}

fn is_fenced_code(code: Option<RDKafkaErrorCode>) -> bool {
    matches!(
        code,
        Some(RDKafkaErrorCode::Fenced | RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch)
    )
}

impl KafkaSink {
    pub fn new(config: SinkConfig) -> Result<Self> {
        let mut settings = vec![
            ("enable.idempotence".to_owned(), "true".to_owned()),
            ("linger.ms".to_owned(), "5".to_owned()),
            ("message.timeout.ms".to_owned(), "30000".to_owned()),
        ];
        for (name, value) in &config.settings {
            settings.retain(|(n, _)| n != name);
            settings.push((name.clone(), value.clone()));
        }
        if let Some(setting) = partitioner_setting(config.partitioner.as_deref(), &settings)? {
            settings.retain(|(n, _)| n != "partitioner");
            settings.push(setting);
        }
        let transactional = settings.iter().any(|(n, _)| n == "transactional.id");
        let shared = Arc::new(Shared::default());
        let producer: BaseProducer<SinkContext> = client_config(&settings)
            .create_with_context(SinkContext { shared: shared.clone() })
            .map_err(|e| kafka_error("creating the Kafka producer", e))?;
        // Fail now, with a clear message, when the broker is unreachable or the topic does not exist.
        // All topics are listed: asking for one topic by name lets some brokers auto-create it.
        let metadata = producer
            .client()
            .fetch_metadata(None, config.timeout)
            .map_err(|e| kafka_error(&format!("reading metadata of topic {:?}", config.topic), e))?;
        let known = metadata.topics().iter().any(|t| t.name() == config.topic && t.error().is_none() && !t.partitions().is_empty());
        if !known {
            return Err(Error::Kafka {
                message: format!("topic {:?} does not exist (create it first; brokers may not auto-create topics)", config.topic),
                code: Some("UnknownTopicOrPartition".into()),
            });
        }
        if transactional {
            producer.init_transactions(config.timeout).map_err(|e| kafka_error("initialising transactions", e))?;
        }
        Ok(KafkaSink { producer, shared, config, transactional, sent: AtomicU64::new(0), bytes: AtomicU64::new(0) })
    }

    pub fn topic(&self) -> &str {
        &self.config.topic
    }

    /// Failures reported since the last call, as one typed error.
    fn take_failures(&self) -> Result<()> {
        let failures = std::mem::take(&mut *lock(&self.shared.failures));
        let Some((code, first)) = failures.first().cloned() else { return Ok(()) };
        if is_fenced_code(code) {
            return Err(Error::KafkaFenced(format!("delivery to {:?} failed: producer fenced: {first}", self.config.topic)));
        }
        Err(Error::KafkaDelivery {
            message: format!(
                "{} message(s) to topic {:?} were not delivered; first: {first}",
                failures.len(),
                self.config.topic
            ),
            code: code.map(|c| format!("{c:?}")),
        })
    }

    /// Send every row of `batch` (waiting while `max_in_flight` messages are unacknowledged).
    /// Raises delivery failures reported so far. `interrupted` is asked while waiting.
    pub fn send(&self, batch: &RecordBatch, interrupted: &mut dyn FnMut() -> Result<()>) -> Result<usize> {
        let payloads = encode::payloads(batch, self.config.format)?;
        let keys = match &self.config.key {
            Some(name) => Some(encode::keys(batch, name)?),
            None => None,
        };
        let partitions = match &self.config.partition {
            Some(name) => Some(encode::partitions(batch, name)?),
            None => None,
        };
        let max_in_flight = self.config.max_in_flight.max(1) as i32;
        let mut bytes = 0u64;
        for (row, payload) in payloads.iter().enumerate() {
            let key = keys.as_ref().and_then(|k| k[row].as_deref());
            loop {
                if self.producer.in_flight_count() >= max_in_flight {
                    self.producer.poll(Duration::from_millis(5));
                    interrupted()?;
                    self.take_failures()?;
                    continue;
                }
                let mut record = BaseRecord::<[u8], [u8]>::to(&self.config.topic).payload(payload.as_slice());
                if let Some(key) = key {
                    record = record.key(key);
                }
                if let Some(partition) = partitions.as_ref().and_then(|p| p[row]) {
                    record = record.partition(partition);
                }
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        self.producer.poll(Duration::from_millis(5));
                        interrupted()?;
                    }
                    Err((error, _)) => {
                        let code = super::error_code(&error);
                        if is_fenced_code(code) {
                            return Err(kafka_error("sending", error));
                        }
                        return Err(Error::KafkaDelivery {
                            message: format!(
                                "row {row} ({} bytes) could not be sent to topic {:?}: {error}",
                                payload.len(),
                                self.config.topic
                            ),
                            code: code.map(|c| format!("{c:?}")),
                        });
                    }
                }
            }
            bytes += payload.len() as u64;
        }
        self.producer.poll(Duration::ZERO);
        self.sent.fetch_add(payloads.len() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.take_failures()?;
        Ok(payloads.len())
    }

    /// Wait until every message sent is acknowledged (or `timeout`), then raise any failures.
    pub fn flush(&self, timeout: Duration, interrupted: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 {
            if Instant::now() >= deadline {
                return Err(Error::KafkaDelivery {
                    message: format!(
                        "{} message(s) to topic {:?} still unacknowledged after {:?}",
                        self.producer.in_flight_count(),
                        self.config.topic,
                        timeout
                    ),
                    code: Some("MessageTimedOut".into()),
                });
            }
            let _ = self.producer.flush(Duration::from_millis(100));
            interrupted()?;
        }
        self.take_failures()
    }

    fn require_transactional(&self, what: &str) -> Result<()> {
        if self.transactional {
            Ok(())
        } else {
            Err(Error::config(format!("{what} needs a transactional sink: set config[\"transactional.id\"]")))
        }
    }

    pub fn begin_transaction(&self) -> Result<()> {
        self.require_transactional("begin_transaction")?;
        self.producer.begin_transaction().map_err(|e| kafka_error("beginning a transaction", e))
    }

    pub fn send_offsets_to_transaction(
        &self,
        offsets: &Offsets,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<()> {
        self.require_transactional("send_offsets_to_transaction")?;
        let tpl = tpl_of(offsets)?;
        self.producer
            .send_offsets_to_transaction(&tpl, group, timeout)
            .map_err(|e| kafka_error("sending offsets to the transaction", e))
    }

    pub fn commit_transaction(&self, timeout: Duration) -> Result<()> {
        self.require_transactional("commit_transaction")?;
        self.take_failures()?;
        self.producer.commit_transaction(timeout).map_err(|e| kafka_error("committing the transaction", e))?;
        self.take_failures()
    }

    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        self.require_transactional("abort_transaction")?;
        let result = self.producer.abort_transaction(timeout).map_err(|e| kafka_error("aborting the transaction", e));
        // Failures of aborted messages are expected; drop them.
        lock(&self.shared.failures).clear();
        result
    }

    pub fn stats(&self) -> SinkStats {
        SinkStats {
            sent: self.sent.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            delivered: self.shared.delivered.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            in_flight: self.producer.in_flight_count() as i64,
            ends: lock(&self.shared.ends).clone(),
        }
    }
}
