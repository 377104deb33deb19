//! The consumer: polls librdkafka into Arrow batches. Offsets are never committed behind the user's
//! back (`enable.auto.commit=false`): the caller commits what it has processed, typically together
//! with its operator state. Rebalances reach a hook (assigned after, revoked before the change) so
//! state can be snapshotted and handed over per partition.

use super::lock;
use super::decode::{BatchBuilder, MetaColumns, PayloadFormat};
use super::{client_config, kafka_error, offsets_of, partitions_of, tpl_of};
use crate::error::{Error, Result};
use crate::offsets::{Offsets, TopicPartition};
use arrow_array::RecordBatch;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, ConsumerGroupMetadata, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceKind {
    Assigned,
    Revoked,
}

/// Where `seek` continues reading a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekTo {
    /// The next offset to read (at least 0).
    Offset(i64),
    /// The partition's first message still held by the broker.
    Beginning,
    /// Only messages produced from now on.
    End,
}

impl SeekTo {
    fn offset(self) -> Result<Offset> {
        match self {
            SeekTo::Offset(o) if o >= 0 => Ok(Offset::Offset(o)),
            SeekTo::Offset(o) => Err(Error::config(format!("cannot seek to offset {o}: offsets start at 0"))),
            SeekTo::Beginning => Ok(Offset::Beginning),
            SeekTo::End => Ok(Offset::End),
        }
    }

    /// The next offset to read, when the start names one (a logical start is only known once read).
    fn next_offset(self) -> Option<i64> {
        match self {
            SeekTo::Offset(o) => Some(o),
            SeekTo::Beginning | SeekTo::End => None,
        }
    }
}

/// Called from inside `poll` on the polling thread: after partitions are assigned, before they are revoked.
pub type RebalanceHook = Arc<dyn Fn(RebalanceKind, &[TopicPartition]) + Send + Sync>;

#[derive(Clone, Debug)]
pub struct SourceConfig {
    pub topics: Vec<String>,
    pub group_id: String,
    /// librdkafka settings; ours are defaults the caller may override (except auto-commit).
    pub settings: Vec<(String, String)>,
    pub format: PayloadFormat,
    pub meta: MetaColumns,
    pub max_message_bytes: usize,
}

#[derive(Clone, Debug, Default)]
pub struct SourceStats {
    pub messages: u64,
    pub bytes: u64,
    pub rows: u64,
    pub rejected: u64,
    pub batches: u64,
    pub rebalances: u64,
    /// Next offset to read per partition and the high watermark seen on fetches (lag = high - next).
    pub lag: Vec<(TopicPartition, i64, i64)>,
}

#[derive(Default)]
struct Shared {
    hook: Mutex<Option<RebalanceHook>>,
    /// Partitions revoked and not yet applied to the batch being built (their buffered rows are dropped).
    revoked: Mutex<BTreeSet<TopicPartition>>,
    /// Next offsets of rows handed out in returned batches (what `position` reports). Here rather than
    /// in `State` so the revoke hook forgets a partition's position before an assign hook seeks it.
    positions: Mutex<Offsets>,
    assignment: Mutex<BTreeSet<TopicPartition>>,
    /// Fatal or persistent client errors seen by librdkafka's error callback.
    errors: Mutex<Vec<(Option<RDKafkaErrorCode>, String)>>,
    rebalances: Mutex<u64>,
    /// While the assigned-hook runs: start offsets asked for with `seek` (applied by re-assigning,
    /// since librdkafka cannot seek a partition whose fetcher has not started yet).
    assigning: Mutex<Option<Vec<(TopicPartition, SeekTo)>>>,
}

pub struct SourceContext {
    shared: Arc<Shared>,
}

impl ClientContext for SourceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if matches!(code, Some(RDKafkaErrorCode::AllBrokersDown)) || matches!(&error, KafkaError::Global(_)) && code == Some(RDKafkaErrorCode::Fatal) {
            lock(&self.shared.errors).push((code, format!("{error}: {reason}")));
        }
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = partitions_of(tpl);
            *lock(&self.shared.rebalances) += 1;
            let hook = lock(&self.shared.hook).clone();
            if let Some(hook) = hook {
                hook(RebalanceKind::Revoked, &parts);
            }
            let mut assignment = lock(&self.shared.assignment);
            let mut revoked = lock(&self.shared.revoked);
            let mut positions = lock(&self.shared.positions);
            for tp in parts {
                assignment.remove(&tp);
                positions.remove(&tp);
                revoked.insert(tp);
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let parts = partitions_of(tpl);
            *lock(&self.shared.rebalances) += 1;
            {
                let mut assignment = lock(&self.shared.assignment);
                for tp in &parts {
                    assignment.insert(tp.clone());
                }
            }
            let hook = lock(&self.shared.hook).clone();
            if let Some(hook) = hook {
                *lock(&self.shared.assigning) = Some(Vec::new());
                hook(RebalanceKind::Assigned, &parts);
                let starts = lock(&self.shared.assigning).take().unwrap_or_default();
                if !starts.is_empty() {
                    let mut tpl = TopicPartitionList::new();
                    for e in tpl_assigned(rebalance).elements() {
                        let start = starts.iter().rev().find(|(tp, _)| tp.topic == e.topic() && tp.partition == e.partition());
                        // `seek` validated the start; Invalid means "from the committed offset".
                        let offset = start.map_or(Offset::Invalid, |(_, to)| to.offset().unwrap_or(Offset::Invalid));
                        if let Err(e) = tpl.add_partition_offset(e.topic(), e.partition(), offset) {
                            lock(&self.shared.errors).push((None, format!("re-assigning with start offsets: {e}")));
                        }
                    }
                    if let Err(e) = consumer.assign(&tpl) {
                        lock(&self.shared.errors).push((e.rdkafka_error_code(), format!("re-assigning with start offsets: {e}")));
                    }
                }
            }
        }
    }
}

fn tpl_assigned<'a>(rebalance: &'a Rebalance<'_>) -> &'a TopicPartitionList {
    match rebalance {
        Rebalance::Assign(tpl) | Rebalance::Revoke(tpl) => tpl,
        Rebalance::Error(_) => unreachable!("only called for assignments"),
    }
}

/// One poll's worth of data.
pub struct PolledBatch {
    pub records: RecordBatch,
    pub rejects: RecordBatch,
    /// Next offset to read, per partition of this consumer's assignment that has been read from.
    pub offsets: Offsets,
    /// Offset of this batch's first message, per partition it holds: where to rewind to if the batch
    /// has to be processed again.
    pub start_offsets: Offsets,
    pub messages: usize,
    pub bytes: usize,
}

struct State {
    builder: BatchBuilder,
    /// Next offsets of rows still in the builder.
    pending: Offsets,
    /// First offsets of rows still in the builder.
    starts: Offsets,
    high_watermarks: HashMap<TopicPartition, i64>,
    stats: SourceStats,
}

pub struct KafkaSource {
    consumer: BaseConsumer<SourceContext>,
    shared: Arc<Shared>,
    state: Mutex<State>,
    topics: Vec<String>,
}

const POLL_SLICE: Duration = Duration::from_millis(100);

impl KafkaSource {
    pub fn new(config: SourceConfig) -> Result<Self> {
        if config.topics.is_empty() {
            return Err(Error::config("KafkaSource needs at least one topic"));
        }
        let mut settings = vec![
            ("group.id".to_owned(), config.group_id.clone()),
            ("auto.offset.reset".to_owned(), "earliest".to_owned()),
            // Bounded prefetch: librdkafka's queue is the only buffer between broker and caller.
            ("queued.max.messages.kbytes".to_owned(), "16384".to_owned()),
        ];
        for (name, value) in &config.settings {
            if name == "enable.auto.commit" && value != "false" {
                return Err(Error::config(
                    "enable.auto.commit cannot be enabled: commit processed offsets with commit(offsets)",
                ));
            }
            settings.retain(|(n, _)| n != name);
            settings.push((name.clone(), value.clone()));
        }
        settings.push(("enable.auto.commit".to_owned(), "false".to_owned()));
        settings.push(("enable.auto.offset.store".to_owned(), "false".to_owned()));
        let shared = Arc::new(Shared::default());
        let consumer: BaseConsumer<SourceContext> = client_config(&settings)
            .create_with_context(SourceContext { shared: shared.clone() })
            .map_err(|e| kafka_error("creating the Kafka consumer", e))?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|e| kafka_error(&format!("subscribing to {topics:?}"), e))?;
        let builder = BatchBuilder::new(config.format, config.meta, config.max_message_bytes)?;
        Ok(KafkaSource {
            consumer,
            shared,
            state: Mutex::new(State {
                builder,
                pending: Offsets::new(),
                starts: Offsets::new(),
                high_watermarks: HashMap::new(),
                stats: SourceStats::default(),
            }),
            topics: config.topics,
        })
    }

    pub fn set_rebalance_hook(&self, hook: Option<RebalanceHook>) {
        *lock(&self.shared.hook) = hook;
    }

    pub fn schema(&self) -> arrow_schema::SchemaRef {
        lock(&self.state).builder.schema()
    }

    /// Poll until `max_rows` messages arrived or `max_wait` passed. `interrupted` is asked between
    /// polls (at least every 100 ms); when it returns an error the poll stops with it.
    pub fn poll_batch(
        &self,
        max_rows: usize,
        max_wait: Duration,
        interrupted: &mut dyn FnMut() -> Result<()>,
    ) -> Result<PolledBatch> {
        let deadline = Instant::now() + max_wait;
        let mut messages = 0usize;
        loop {
            let now = Instant::now();
            if messages >= max_rows || now >= deadline {
                break;
            }
            let slice = (deadline - now).min(POLL_SLICE);
            // The rebalance hook may run inside this poll (and call `position`, `commit`, `seek`):
            // no lock is held across it.
            let polled = self.consumer.poll(slice);
            // Rows buffered before a revocation belong to the partition's next owner (or to this
            // member again, from its committed or sought offset): drop them. Messages returned after
            // the rebalance in the same poll belong to the new assignment.
            self.apply_revocations();
            match polled {
                None => {
                    self.check_client_errors()?;
                    interrupted()?;
                }
                Some(Err(e)) => {
                    let code = e.rdkafka_error_code();
                    match code {
                        Some(RDKafkaErrorCode::PartitionEOF) => {}
                        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
                            return Err(kafka_error(&format!("consuming {:?}", self.topics), e));
                        }
                        _ => return Err(kafka_error(&format!("consuming {:?}", self.topics), e)),
                    }
                }
                Some(Ok(message)) => {
                    let mut state = lock(&self.state);
                    let state = &mut *state;
                    state.builder.push(&message);
                    if state.pending.advance(message.topic(), message.partition(), message.offset()) {
                        state.starts.set(TopicPartition::new(message.topic(), message.partition()), message.offset());
                    }
                    messages += 1;
                    if messages % 4096 == 0 {
                        interrupted()?;
                    }
                }
            }
        }
        let mut state = lock(&self.state);
        let state = &mut *state;
        let bytes = state.builder.bytes();
        let (records, rejects) = state.builder.finish()?;
        let pending = std::mem::take(&mut state.pending);
        let start_offsets = std::mem::take(&mut state.starts);
        let mut positions = lock(&self.shared.positions);
        for (tp, next) in pending.iter() {
            positions.set(tp.clone(), next);
        }
        // High watermarks from fetch responses (ListOffsets is not trusted: some brokers get it wrong).
        for tp in positions.0.keys() {
            if let Some((_, high)) = cached_watermarks(&self.consumer, tp) {
                state.high_watermarks.insert(tp.clone(), high);
            }
        }
        state.stats.messages += messages as u64;
        state.stats.bytes += bytes as u64;
        state.stats.rows += records.num_rows() as u64;
        state.stats.rejected += rejects.num_rows() as u64;
        state.stats.batches += 1;
        Ok(PolledBatch { records, rejects, offsets: positions.clone(), start_offsets, messages, bytes })
    }

    fn apply_revocations(&self) {
        let revoked = std::mem::take(&mut *lock(&self.shared.revoked));
        if revoked.is_empty() {
            return;
        }
        let mut state = lock(&self.state);
        state.builder.drop_partitions(&revoked);
        for tp in &revoked {
            state.pending.remove(tp);
            state.starts.remove(tp);
            state.high_watermarks.remove(tp);
        }
    }

    fn check_client_errors(&self) -> Result<()> {
        let mut errors = lock(&self.shared.errors);
        if let Some((code, message)) = errors.pop() {
            errors.clear();
            return Err(Error::Kafka {
                message: format!("Kafka consumer of {:?}: {message}", self.topics),
                code: code.map(|c| format!("{c:?}")),
            });
        }
        Ok(())
    }

    /// Serve group membership and rebalances without taking messages (while paused, for example).
    pub fn keep_alive(&self, wait: Duration) -> Result<()> {
        // A paused consumer's poll returns no messages but runs rebalance callbacks.
        match self.consumer.poll(wait) {
            None => Ok(()),
            Some(Err(e)) => Err(kafka_error("keeping the consumer alive", e)),
            Some(Ok(_)) => Ok(()),
        }
    }

    /// Commit offsets (next offset to read per partition) synchronously.
    pub fn commit(&self, offsets: &Offsets) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let tpl = tpl_of(offsets)?;
        self.consumer.commit(&tpl, CommitMode::Sync).map_err(|e| kafka_error("committing offsets", e))
    }

    /// Offsets committed for the group, for the given partitions.
    pub fn committed(&self, partitions: &[TopicPartition], timeout: Duration) -> Result<Offsets> {
        let mut tpl = TopicPartitionList::new();
        for tp in partitions {
            tpl.add_partition(&tp.topic, tp.partition);
        }
        let committed =
            self.consumer.committed_offsets(tpl, timeout).map_err(|e| kafka_error("reading committed offsets", e))?;
        Ok(offsets_of(&committed))
    }

    /// Continue reading `tp` at `to`. A logical start (`Beginning`, `End`) leaves the partition
    /// without a position until a message of it is read: the broker alone knows which offset it is.
    pub fn seek(&self, tp: &TopicPartition, to: SeekTo, timeout: Duration) -> Result<()> {
        let offset = to.offset()?;
        let set_position = |positions: &mut Offsets| match to.next_offset() {
            Some(next) => positions.set(tp.clone(), next),
            None => {
                positions.remove(tp);
            }
        };
        let deferred = match lock(&self.shared.assigning).as_mut() {
            Some(starts) => {
                starts.push((tp.clone(), to));
                true
            }
            None => false,
        };
        if deferred {
            set_position(&mut lock(&self.shared.positions));
            return Ok(());
        }
        self.consumer
            .seek(&tp.topic, tp.partition, offset, timeout)
            .map_err(|e| kafka_error(&format!("seeking {tp} to {to:?}"), e))?;
        self.apply_revocations();
        let mut state = lock(&self.state);
        // Rows already buffered for this partition are superseded by the seek.
        state.builder.drop_partitions(&BTreeSet::from([tp.clone()]));
        state.pending.remove(tp);
        state.starts.remove(tp);
        set_position(&mut lock(&self.shared.positions));
        Ok(())
    }

    /// Next offset to read per partition that has been read from (or sought) in this assignment.
    pub fn position(&self) -> Offsets {
        lock(&self.shared.positions).clone()
    }

    /// Low and high watermarks of every assigned partition as the last fetch responses reported them
    /// (no request is sent; ListOffsets is not trusted: some brokers get it wrong). A partition not
    /// fetched from yet is left out.
    pub fn fetch_watermarks(&self) -> Vec<(TopicPartition, i64, i64)> {
        self.assignment()
            .into_iter()
            .filter_map(|tp| cached_watermarks(&self.consumer, &tp).map(|(low, high)| (tp, low, high)))
            .collect()
    }

    pub fn assignment(&self) -> Vec<TopicPartition> {
        lock(&self.shared.assignment).iter().cloned().collect()
    }

    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<()> {
        let tpl = partition_list(partitions);
        self.consumer.pause(&tpl).map_err(|e| kafka_error("pausing partitions", e))
    }

    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<()> {
        let tpl = partition_list(partitions);
        self.consumer.resume(&tpl).map_err(|e| kafka_error("resuming partitions", e))
    }

    pub fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        self.consumer.group_metadata()
    }

    pub fn stats(&self) -> SourceStats {
        let state = lock(&self.state);
        let mut stats = state.stats.clone();
        stats.rebalances = *lock(&self.shared.rebalances);
        let positions = lock(&self.shared.positions);
        stats.lag = positions
            .iter()
            .map(|(tp, next)| (tp.clone(), next, state.high_watermarks.get(tp).copied().unwrap_or(next)))
            .collect();
        stats
    }

    /// Leave the group cleanly (revokes the assignment through the hook first).
    pub fn close(&self) {
        self.consumer.unsubscribe();
        // Serve the revoke so the hook runs and the group sees us leave.
        for _ in 0..10 {
            if lock(&self.shared.assignment).is_empty() {
                break;
            }
            let _ = self.consumer.poll(Duration::from_millis(100));
        }
    }
}

/// librdkafka's cached (low, high) watermarks of a partition, as last reported by a fetch response
/// (no request is sent; rdkafka does not wrap `rd_kafka_get_watermark_offsets`).
fn cached_watermarks(consumer: &BaseConsumer<SourceContext>, tp: &TopicPartition) -> Option<(i64, i64)> {
    let topic = std::ffi::CString::new(tp.topic.as_str()).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid for the consumer's lifetime; the out-pointers are locals.
    let code = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            tp.partition,
            &mut low,
            &mut high,
        )
    };
    (code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some((low, high))
}

fn partition_list(partitions: &[TopicPartition]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for tp in partitions {
        tpl.add_partition(&tp.topic, tp.partition);
    }
    tpl
}
