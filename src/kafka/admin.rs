//! Topic administration (Tansu, like many brokers, does not auto-create topics).

use super::{client_config, kafka_error};
use crate::error::{Error, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

/// Create topics (name, partitions); topics that already exist are left as they are.
pub fn create_topics(bootstrap: &str, topics: &[(String, i32)], timeout: Duration) -> Result<()> {
    let settings = vec![("bootstrap.servers".to_owned(), bootstrap.to_owned())];
    let admin: AdminClient<DefaultClientContext> =
        client_config(&settings).create().map_err(|e| kafka_error("creating an admin client", e))?;
    let new_topics: Vec<NewTopic<'_>> =
        topics.iter().map(|(name, parts)| NewTopic::new(name, *parts, TopicReplication::Fixed(1))).collect();
    let options = AdminOptions::new().operation_timeout(Some(timeout)).request_timeout(Some(timeout));
    let results = futures_executor::block_on(admin.create_topics(&new_topics, &options))
        .map_err(|e| kafka_error(&format!("creating topics on {bootstrap}"), e))?;
    for result in results {
        if let Err((name, code)) = result {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                return Err(Error::Kafka {
                    message: format!("creating topic {name:?} on {bootstrap}: {code}"),
                    code: Some(format!("{code:?}")),
                });
            }
        }
    }
    Ok(())
}
