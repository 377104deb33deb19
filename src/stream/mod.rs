//! Event-time stream operators: windows, aggregates, the window aggregator, spike alerts.
//! Every stateful operator snapshots to bytes and restores exactly.

pub mod aggregate;
pub mod aggregator;
pub mod keys;
pub mod output;
pub mod snapshot;
pub mod spike;
pub mod window;

pub use aggregate::{AggKind, AggSpec};
pub use aggregator::{AggregatorConfig, AggregatorStats, WindowAggregator};
pub use spike::{SpikeConfig, SpikeDetector, SpikeRule};
pub use window::WindowSpec;
