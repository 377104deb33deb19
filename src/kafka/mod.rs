//! Kafka through librdkafka (the `rdkafka` crate, bundled and statically linked): a consumer that
//! polls into Arrow record batches, a producer that sends Arrow batches as messages (idempotent,
//! bounded in flight, optionally transactional), and a small admin helper. This room knows nothing
//! of `stream` or `logs`; `pipeline` composes them.

pub mod admin;
pub mod decode;
pub mod encode;
pub mod sink;
pub mod source;

pub use decode::{MetaColumns, PayloadFormat};
pub use sink::{KafkaSink, SinkConfig, SinkStats};
pub use source::{KafkaSource, PolledBatch, RebalanceHook, RebalanceKind, SeekTo, SourceConfig, SourceStats};

use crate::error::Error;
use crate::offsets::{Offsets, TopicPartition};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// librdkafka settings as given (names are librdkafka's, e.g. "bootstrap.servers").
pub fn client_config(settings: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (name, value) in settings {
        config.set(name, value);
    }
    config
}

pub fn error_code(error: &KafkaError) -> Option<RDKafkaErrorCode> {
    match error {
        KafkaError::Transaction(e) => Some(e.code()),
        other => other.rdkafka_error_code(),
    }
}

fn is_fencing(error: &KafkaError) -> bool {
    let fatal = matches!(error, KafkaError::Transaction(e) if e.is_fatal());
    fatal
        || matches!(
            error_code(error),
            Some(
                RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::TransactionCoordinatorFenced
            )
        )
}

/// The core error for a librdkafka error, saying what was being done.
pub fn kafka_error(doing: &str, error: KafkaError) -> Error {
    if is_fencing(&error) {
        return Error::KafkaFenced(format!(
            "{doing}: this producer was fenced by a newer instance with the same transactional.id ({error})"
        ));
    }
    Error::Kafka { message: format!("{doing}: {error}"), code: error_code(&error).map(|c| format!("{c:?}")) }
}

pub fn tpl_of(offsets: &Offsets) -> crate::Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::new();
    for (tp, next) in offsets.iter() {
        tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(next))
            .map_err(|e| kafka_error(&format!("offset {next} for {tp}"), e))?;
    }
    Ok(tpl)
}

pub fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition::new(e.topic(), e.partition())).collect()
}

pub fn offsets_of(tpl: &TopicPartitionList) -> Offsets {
    let mut offsets = Offsets::new();
    for e in tpl.elements() {
        if let Offset::Offset(next) = e.offset() {
            offsets.set(TopicPartition::new(e.topic(), e.partition()), next);
        }
    }
    offsets
}

/// Locks `mutex`, taking its data even when a panic elsewhere poisoned it: the values it guards
/// here (counters, offset maps, error lists, hooks) are updated by single assignments and stay
/// valid, and a poisoned lock must not turn every later call into another panic.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod lock_tests {
    use super::lock;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let shared = Arc::new(Mutex::new(vec![1]));
        let other = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let mut guard = other.lock().unwrap();
            guard.push(2);
            panic!("a panic while holding the lock");
        })
        .join();
        assert!(shared.is_poisoned());
        lock(&shared).push(3);
        assert_eq!(*lock(&shared), vec![1, 2, 3]);
    }
}
