//! Composition only: pipelines built from the independent rooms (`logs`, `stream`, `kafka`), and
//! their checkpoints (operator state together with the input offset it corresponds to).

pub mod alerts;

pub use alerts::{AlertsSpec, AlertsStep, PartitionAlerts};
