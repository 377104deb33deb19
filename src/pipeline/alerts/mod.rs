//! The error-log alerts pipeline, in two stages joined by an internal repartition topic, so that the
//! result does not depend on how the input topic is keyed (Kafka Streams' repartitioning).
//!
//! **Stage 1** ([`PartialCounts`], one per input partition `p`): parse raw lines (`logs`), count ERROR
//! lines per service in tumbling windows with `p`'s own watermark (every readable line moves it), and
//! emit every closed partial count `(service, window, errors)` with errors, keyed by service, tagged with `p` and a sequence number
//! kept in `p`'s state. The window operator emits in an order that does not depend on how the input
//! was cut into batches, so after a crash the replayed partials carry the same numbers. After the
//! partials it sends every repartition partition a watermark marker: how far `p` has got, whether it
//! is idle, whether its input has ended.
//!
//! **Stage 2** ([`MergeAlerts`], one per repartition partition `q`): drops partials it has seen
//! (sequence at or below the last one of their source), adds the others into per-(service, window)
//! totals, and closes a window once the smallest watermark over every input partition that is not
//! idle has passed its end; then the spike detector runs on complete counts. A partial for a window
//! already closed is a late contribution: counted and reported, never silently dropped.
//!
//! Wall-clock decisions (an input partition going idle, the end of input) change what stage 1 emits;
//! they are written to the checkpoint as an [`Intent`] before their effects are sent, and replayed
//! from it after a crash, so the sequence numbers stay deterministic.

mod lines;
mod merge;
mod partials;
mod wire;

pub use lines::{LineFormat, LINE_FORMATS};
pub use merge::{MergeAlerts, MergeStep, SourceView};
pub use partials::{Intent, PartialCounts, PartialsStep};
pub use wire::Message;

use crate::stream::{AggKind, AggSpec, AggregatorConfig, SpikeConfig, SpikeRule, WindowSpec};
use crate::time::Millis;

#[derive(Clone, Debug)]
pub struct AlertsSpec {
    pub log_format: LineFormat,
    pub window: Millis,
    pub watermark: Millis,
    pub history: usize,
    pub factor: f64,
    pub floor: f64,
}

impl AlertsSpec {
    fn aggregator_config(&self) -> AggregatorConfig {
        let mut config = AggregatorConfig::new(
            WindowSpec::Tumbling { size: self.window, offset: 0 },
            "ts",
            vec!["service".into()],
            // Every readable line moves event time; `error` is null except on ERROR lines.
            vec![AggSpec { name: "errors".into(), kind: AggKind::Count, column: Some("error".into()) }],
        );
        config.watermark = self.watermark;
        config
    }

    fn spike_config(&self) -> SpikeConfig {
        SpikeConfig {
            value: "errors".into(),
            keys: vec!["service".into()],
            history: self.history,
            factor: self.factor,
            floor: self.floor,
            rule: SpikeRule::Mean,
            cooldown: 0,
            step: None,
        }
    }
}

#[cfg(test)]
mod tests;
