//! Topic administration (Tansu, like many brokers, does not auto-create topics).

use super::{client_config, kafka_error};
use crate::error::{Error, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Create topics (name, partitions) with replication factor 1 on `bootstrap` (tests, notebooks);
/// topics that already exist are left as they are.
pub fn create_topics(bootstrap: &str, topics: &[(String, i32)], timeout: Duration) -> Result<()> {
    let settings = vec![("bootstrap.servers".to_owned(), bootstrap.to_owned())];
    create(&settings, topics, 1, timeout)
}

/// Create the topics (name, partitions) that do not exist yet, with the client `settings` (security
/// options included) and the broker's default replication factor.
pub fn ensure_topics(settings: &[(String, String)], topics: &[(String, i32)], timeout: Duration) -> Result<()> {
    let missing: Vec<(String, i32)> = partition_counts(settings, &topics.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(), timeout)?
        .into_iter()
        .zip(topics)
        .filter(|((_, count), _)| count.is_none())
        .map(|(_, topic)| topic.clone())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // -1: the broker's `default.replication.factor` (Kafka 2.4+, KIP-464).
    create(settings, &missing, -1, timeout)
}

fn create(settings: &[(String, String)], topics: &[(String, i32)], replication: i32, timeout: Duration) -> Result<()> {
    let servers = settings.iter().find(|(n, _)| n == "bootstrap.servers").map_or("?", |(_, v)| v.as_str());
    let admin: AdminClient<DefaultClientContext> =
        client_config(settings).create().map_err(|e| kafka_error("creating an admin client", e))?;
    let new_topics: Vec<NewTopic<'_>> = topics.iter().map(|(name, parts)| NewTopic::new(name, *parts, TopicReplication::Fixed(replication))).collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout)).request_timeout(Some(timeout));
    let results = futures_executor::block_on(admin.create_topics(&new_topics, &options))
        .map_err(|e| kafka_error(&format!("creating topics on {servers}"), e))?;
    for result in results {
        if let Err((name, code)) = result {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                return Err(Error::Kafka {
                    message: format!("creating topic {name:?} on {servers}: {code}"),
                    code: Some(format!("{code:?}")),
                });
            }
        }
    }
    Ok(())
}

/// The partition count of each topic, None for a topic the cluster does not have. All topics are
/// listed: asking for one topic by name lets some brokers auto-create it.
pub fn partition_counts(settings: &[(String, String)], topics: &[String], timeout: Duration) -> Result<Vec<(String, Option<i32>)>> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(settings).create().map_err(|e| kafka_error("creating an admin client", e))?;
    let metadata =
        admin.inner().fetch_metadata(None, timeout).map_err(|e| kafka_error("reading the cluster's topic metadata", e))?;
    Ok(topics
        .iter()
        .map(|name| {
            let count = metadata
                .topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
                .map(|t| t.partitions().len() as i32);
            (name.clone(), count)
        })
        .collect())
}
