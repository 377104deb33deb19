//! Event-time stream operators: windows, aggregates, the window aggregator, spike alerts.
//! Every stateful operator snapshots to bytes and restores exactly.

pub mod accs;
pub mod aggregate;
pub mod aggregator;
pub mod aggset;
pub mod intern;
pub mod keys;
pub mod output;
pub mod session;
pub mod session_merge;
pub mod snapshot;
pub mod spike;
pub mod window;

pub use aggregate::{AggKind, AggSpec};
pub use aggregator::{AggregatorConfig, AggregatorStats, WindowAggregator};
pub use session::{NullKeys, SessionConfig, SessionStats, Sessionizer};
pub use spike::{SpikeConfig, SpikeDetector, SpikeRule};
pub use window::WindowSpec;

use crate::error::Result;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

/// What every event-time operator offers: rows in arrival order in, closed results out, side
/// outputs for late and rejected rows, and its whole state as bytes.
pub trait EventTimeOperator: Sized + Send + Sync {
    fn push(&mut self, batches: &[RecordBatch]) -> Result<RecordBatch>;
    fn flush(&mut self) -> Result<RecordBatch>;
    fn take_late(&mut self) -> Vec<RecordBatch>;
    fn take_rejects(&mut self) -> Vec<RecordBatch>;
    fn watermark(&self) -> Option<crate::time::Millis>;
    /// Move the watermark to at least `watermark` without an event (an outside clock); returns
    /// what closed.
    fn advance_watermark(&mut self, watermark: crate::time::Millis) -> Result<RecordBatch>;
    /// The watermark at which the next open result closes.
    fn next_close(&self) -> Option<crate::time::Millis>;
    fn output_schema(&self) -> SchemaRef;
    fn snapshot(&self) -> Result<Vec<u8>>;
    fn restore(bytes: &[u8]) -> Result<Self>;
}

macro_rules! impl_event_time_operator {
    ($type:ty) => {
        impl EventTimeOperator for $type {
            fn push(&mut self, batches: &[RecordBatch]) -> Result<RecordBatch> {
                <$type>::push(self, batches)
            }
            fn flush(&mut self) -> Result<RecordBatch> {
                <$type>::flush(self)
            }
            fn take_late(&mut self) -> Vec<RecordBatch> {
                <$type>::take_late(self)
            }
            fn take_rejects(&mut self) -> Vec<RecordBatch> {
                <$type>::take_rejects(self)
            }
            fn watermark(&self) -> Option<crate::time::Millis> {
                <$type>::watermark(self)
            }
            fn advance_watermark(&mut self, watermark: crate::time::Millis) -> Result<RecordBatch> {
                <$type>::advance_watermark(self, watermark)
            }
            fn next_close(&self) -> Option<crate::time::Millis> {
                <$type>::next_close(self)
            }
            fn output_schema(&self) -> SchemaRef {
                <$type>::output_schema(self)
            }
            fn snapshot(&self) -> Result<Vec<u8>> {
                <$type>::snapshot(self)
            }
            fn restore(bytes: &[u8]) -> Result<Self> {
                <$type>::restore(bytes)
            }
        }
    };
}

impl_event_time_operator!(WindowAggregator);
impl_event_time_operator!(Sessionizer);
