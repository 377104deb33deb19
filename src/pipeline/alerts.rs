//! The error-log alerts operator for one input partition: raw log lines -> parse (`logs`) -> keep
//! ERROR -> count per service in tumbling windows -> spike alerts (`stream`). Its checkpoint holds the
//! window and detector state with the next input offset it corresponds to, in one framed blob, so
//! state and offset can only be restored together.
//!
//! Kafka input/output is composed around it (Python `fleetstream.pipeline.AlertsPipeline`): keeping
//! state per partition makes the result independent of which group member owns which partition.

use crate::error::{Error, Result};
use crate::logs::{FormatConfig, LogParser, ParserConfig, RoleKeys};
use crate::stream::snapshot;
use crate::stream::{AggKind, AggSpec, AggregatorConfig, SpikeConfig, SpikeDetector, SpikeRule, WindowAggregator, WindowSpec};
use crate::time::Millis;
use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray, RecordBatch};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug)]
pub struct AlertsSpec {
    /// "python" (logging's default layout) or "json".
    pub log_format: String,
    pub window: Millis,
    pub watermark: Millis,
    pub history: usize,
    pub factor: f64,
    pub floor: f64,
}

/// What one step produced.
pub struct AlertsStep {
    /// Windows closed by this step (service, window_start, window_end, errors).
    pub windows: RecordBatch,
    pub alerts: RecordBatch,
    pub lines: usize,
    pub parse_rejects: usize,
    pub errors: usize,
    pub late: usize,
}

pub struct PartitionAlerts {
    parser: LogParser,
    agg: WindowAggregator,
    detector: SpikeDetector,
    /// Next input offset once everything pushed so far is accounted for.
    next_offset: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    next_offset: Option<i64>,
    aggregator: Vec<u8>,
    detector: Vec<u8>,
}

const TAG: &[u8; 4] = b"FSAL";

fn parser(spec: &AlertsSpec) -> Result<LogParser> {
    let format = match spec.log_format.as_str() {
        "python" => FormatConfig::PythonLogging {
            fmt: "%(asctime)s - %(name)s - %(levelname)s - %(message)s".into(),
            datefmt: None,
            style: "%".into(),
        },
        "json" => FormatConfig::Json(RoleKeys::json_defaults()),
        other => return Err(Error::config(format!("log_format {other:?}: expected \"python\" or \"json\""))),
    };
    LogParser::new(ParserConfig::new(format))
}

impl PartitionAlerts {
    pub fn new(spec: &AlertsSpec) -> Result<Self> {
        let mut config = AggregatorConfig::new(
            WindowSpec::Tumbling { size: spec.window, offset: 0 },
            "ts",
            vec!["service".into()],
            vec![AggSpec { name: "errors".into(), kind: AggKind::Count, column: None }],
        );
        config.watermark = spec.watermark;
        let detector = SpikeDetector::new(SpikeConfig {
            value: "errors".into(),
            keys: vec!["service".into()],
            history: spec.history,
            factor: spec.factor,
            floor: spec.floor,
            rule: SpikeRule::Mean,
            cooldown: 0,
            step: None,
        })?;
        Ok(PartitionAlerts { parser: parser(spec)?, agg: WindowAggregator::new(config)?, detector, next_offset: None })
    }

    pub fn next_offset(&self) -> Option<i64> {
        self.next_offset
    }

    pub fn watermark(&self) -> Option<Millis> {
        self.agg.watermark()
    }

    /// Push lines (a string or binary column) read up to `next_offset` (exclusive).
    pub fn push(&mut self, lines: &dyn Array, next_offset: i64) -> Result<AlertsStep> {
        let mut session = self.parser.session();
        match lines.data_type() {
            DataType::Utf8 => {
                for (i, line) in lines.as_string::<i32>().iter().enumerate() {
                    session.push(i as i64, line.map(str::as_bytes))?;
                }
            }
            DataType::Binary => {
                for (i, line) in lines.as_binary::<i32>().iter().enumerate() {
                    session.push(i as i64, line)?;
                }
            }
            other => return Err(Error::schema(format!("log lines must be a string or binary column, got {other}"))),
        }
        let parsed = session.finish()?;
        let mut errors = Vec::with_capacity(parsed.records.len());
        for batch in &parsed.records {
            let level = batch
                .column_by_name("level")
                .ok_or_else(|| Error::schema("parsed logs have no level column"))?;
            let level = arrow_cast::cast(level, &DataType::Utf8)?;
            let keep: BooleanArray = level.as_string::<i32>().iter().map(|v| Some(v == Some("ERROR"))).collect();
            errors.push(arrow_select::filter::filter_record_batch(batch, &keep)?);
        }
        let error_rows = errors.iter().map(RecordBatch::num_rows).sum();
        let windows = self.agg.push(&errors)?;
        let late = self.agg.take_late().iter().map(RecordBatch::num_rows).sum();
        let alerts = self.detector.push(&windows)?;
        self.next_offset = Some(next_offset);
        Ok(AlertsStep {
            windows,
            alerts,
            lines: lines.len(),
            parse_rejects: parsed.num_rejects(),
            errors: error_rows,
            late,
        })
    }

    /// Close every open window (end of input).
    pub fn flush(&mut self) -> Result<AlertsStep> {
        let windows = self.agg.flush()?;
        let alerts = self.detector.push(&windows)?;
        Ok(AlertsStep { windows, alerts, lines: 0, parse_rejects: 0, errors: 0, late: 0 })
    }

    /// State and next offset, together.
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        snapshot::encode(
            TAG,
            &Checkpoint { next_offset: self.next_offset, aggregator: self.agg.snapshot()?, detector: self.detector.snapshot()? },
        )
    }

    pub fn restore(spec: &AlertsSpec, bytes: &[u8]) -> Result<Self> {
        let checkpoint: Checkpoint = snapshot::decode(TAG, "alerts pipeline", bytes)?;
        Ok(PartitionAlerts {
            parser: parser(spec)?,
            agg: WindowAggregator::restore(&checkpoint.aggregator)?,
            detector: SpikeDetector::restore(&checkpoint.detector)?,
            next_offset: checkpoint.next_offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;

    fn spec() -> AlertsSpec {
        AlertsSpec { log_format: "python".into(), window: 60_000, watermark: 5_000, history: 3, factor: 3.0, floor: 5.0 }
    }

    fn lines(minute: u32, errors: usize) -> StringArray {
        (0..errors)
            .map(|i| Some(format!("2026-01-01 00:{minute:02}:{:02},000 - api - ERROR - boom", i % 60)))
            .chain(std::iter::once(Some("garbage".to_string())))
            .collect()
    }

    #[test]
    fn checkpoint_restores_state_and_offset_together() {
        let mut whole = PartitionAlerts::new(&spec()).unwrap();
        let mut split = PartitionAlerts::new(&spec()).unwrap();
        let mut whole_alerts = 0;
        let mut split_alerts = 0;
        for minute in 0..8u32 {
            let errors = if minute == 6 { 40 } else { 5 };
            let batch = lines(minute, errors);
            let step = whole.push(&batch, i64::from(minute) + 1).unwrap();
            assert_eq!(step.parse_rejects, 1);
            whole_alerts += step.alerts.num_rows();
            split_alerts += split.push(&batch, i64::from(minute) + 1).unwrap().alerts.num_rows();
            // Crash and recover after every step.
            split = PartitionAlerts::restore(&spec(), &split.checkpoint().unwrap()).unwrap();
            assert_eq!(split.next_offset(), Some(i64::from(minute) + 1));
        }
        whole_alerts += whole.flush().unwrap().alerts.num_rows();
        split_alerts += split.flush().unwrap().alerts.num_rows();
        assert_eq!(whole_alerts, 1);
        assert_eq!(split_alerts, whole_alerts);
        assert!(PartitionAlerts::restore(&spec(), b"nonsense").is_err());
    }
}
