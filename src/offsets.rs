//! Offsets as plain data, low in the house: a sink or a checkpoint knows offsets without knowing Kafka.
//! An offset here is always the *next* offset to read (Kafka's commit convention).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// Next offset to read per partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offsets(pub BTreeMap<TopicPartition, i64>);

impl Offsets {
    pub fn new() -> Self {
        Offsets(BTreeMap::new())
    }

    /// Record that `offset` was read: the next offset becomes `offset + 1` (never moves backwards).
    /// Returns true when the partition was not here yet.
    pub fn advance(&mut self, topic: &str, partition: i32, offset: i64) -> bool {
        let next = offset + 1;
        match self.0.get_mut(&TopicPartition { topic: topic.to_owned(), partition }) {
            Some(current) => {
                *current = (*current).max(next);
                false
            }
            None => {
                self.0.insert(TopicPartition::new(topic, partition), next);
                true
            }
        }
    }

    pub fn set(&mut self, tp: TopicPartition, next: i64) {
        self.0.insert(tp, next);
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<i64> {
        self.0.get(tp).copied()
    }

    pub fn merge(&mut self, other: &Offsets) {
        for (tp, next) in &other.0 {
            let entry = self.0.entry(tp.clone()).or_insert(*next);
            *entry = (*entry).max(*next);
        }
    }

    pub fn remove(&mut self, tp: &TopicPartition) -> Option<i64> {
        self.0.remove(tp)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TopicPartition, i64)> {
        self.0.iter().map(|(tp, o)| (tp, *o))
    }

    pub fn to_tuples(&self) -> Vec<(String, i32, i64)> {
        self.iter().map(|(tp, o)| (tp.topic.clone(), tp.partition, o)).collect()
    }

    pub fn from_tuples(tuples: impl IntoIterator<Item = (String, i32, i64)>) -> Self {
        Offsets(tuples.into_iter().map(|(t, p, o)| (TopicPartition::new(t, p), o)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_keeps_the_next_offset_and_never_goes_back() {
        let mut offsets = Offsets::new();
        offsets.advance("logs", 0, 5);
        offsets.advance("logs", 0, 3);
        offsets.advance("logs", 1, 0);
        assert_eq!(offsets.to_tuples(), vec![("logs".into(), 0, 6), ("logs".into(), 1, 1)]);
        let mut other = Offsets::new();
        other.advance("logs", 0, 9);
        offsets.merge(&other);
        assert_eq!(offsets.get(&TopicPartition::new("logs", 0)), Some(10));
    }
}
