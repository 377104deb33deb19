//! Stage 1, one per input partition: lines -> ERROR counts per service and window (with this
//! partition's watermark) -> numbered partial counts and watermark markers for the repartition topic.

use super::lines::{rejects_schema, LineParser};
use super::wire::Message;
use super::AlertsSpec;
use crate::error::{Error, Result};
use crate::stream::snapshot;
use crate::stream::WindowAggregator;
use crate::time::{time_column_millis, Millis};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, BinaryArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A wall-clock decision, written to the checkpoint before its effects are sent (see the module
/// documentation of `pipeline::alerts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Intent {
    /// The partition is caught up and quiet: send its open windows now and mark it idle.
    Drain,
    /// End of input: close every window and say so.
    Finish,
}

/// What one step produced.
pub struct PartialsStep {
    /// Messages for the repartition topic: `key` (service, utf8), `partition` (int32: null for
    /// partials, which go by key; every partition for a marker) and `value` (JSON, binary).
    pub messages: RecordBatch,
    /// Lines that could not be read: `line`, `offset`, `reason`.
    pub rejects: RecordBatch,
    pub lines: usize,
    pub errors: usize,
    /// Lines later than this partition's watermark (counted nowhere else).
    pub late: usize,
    pub partials: usize,
    pub json_lines: usize,
    pub python_lines: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Marker {
    watermark: Option<Millis>,
    idle: bool,
    end: bool,
}

pub struct PartialCounts {
    lines: LineParser,
    agg: WindowAggregator,
    source: i32,
    input_partitions: i32,
    repartition_partitions: i32,
    next_seq: u64,
    next_offset: Option<i64>,
    idle: bool,
    pending: Option<Intent>,
    /// The marker last sent by this instance (a restored one sends its own first).
    last_marker: Option<Marker>,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    source: i32,
    input_partitions: i32,
    repartition_partitions: i32,
    next_seq: u64,
    next_offset: Option<i64>,
    idle: bool,
    intent: Option<Intent>,
    aggregator: Vec<u8>,
}

const TAG: &[u8; 4] = b"FSAP";

fn messages_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("partition", DataType::Int32, true),
        Field::new("value", DataType::Binary, false),
    ]))
}

impl PartialCounts {
    /// Stage 1 for input partition `source` of `input_partitions`, writing to a repartition topic of
    /// `repartition_partitions` partitions.
    pub fn new(spec: &AlertsSpec, source: i32, input_partitions: i32, repartition_partitions: i32) -> Result<Self> {
        if source < 0 || input_partitions <= source || repartition_partitions < 1 {
            return Err(Error::config(format!(
                "input partition {source} of {input_partitions}, {repartition_partitions} repartition partitions: not a valid layout"
            )));
        }
        Ok(PartialCounts {
            lines: LineParser::new(spec.log_format)?,
            agg: WindowAggregator::new(spec.aggregator_config())?,
            source,
            input_partitions,
            repartition_partitions,
            next_seq: 0,
            next_offset: None,
            idle: false,
            pending: None,
            last_marker: None,
        })
    }

    pub fn next_offset(&self) -> Option<i64> {
        self.next_offset
    }

    pub fn watermark(&self) -> Option<Millis> {
        self.agg.watermark()
    }

    pub fn idle(&self) -> bool {
        self.idle
    }

    pub fn finished(&self) -> bool {
        self.agg.watermark() == Some(Millis::MAX)
    }

    pub fn open_windows(&self) -> usize {
        self.agg.open_windows()
    }

    /// Push `lines` (string or binary) read at `offsets`; `next_offset` is where reading goes on.
    pub fn push(&mut self, lines: &dyn Array, offsets: &dyn Array, next_offset: i64) -> Result<PartialsStep> {
        self.check_no_pending()?;
        let offsets = arrow_cast::cast(offsets, &DataType::Int64)?;
        let offsets = offsets.as_primitive::<Int64Type>();
        if offsets.null_count() > 0 {
            return Err(Error::schema("input offsets must not be null"));
        }
        let parsed = self.lines.parse(lines, offsets.values())?;
        let closed = self.agg.push(&parsed.records)?;
        // Late ERROR lines (late lines of other levels change no count).
        let late = self.agg.take_late().iter().map(|b| b.column_by_name("error").map_or(0, |e| e.len() - e.null_count())).sum();
        if !lines.is_empty() {
            self.idle = false;
        }
        self.next_offset = Some(next_offset);
        let mut step = self.emit(&closed)?;
        step.rejects = parsed.rejects;
        step.lines = lines.len();
        step.errors = parsed.error_count;
        step.late = late;
        step.json_lines = parsed.json_lines;
        step.python_lines = parsed.python_lines;
        Ok(step)
    }

    /// Idle (caught up, nothing new for a while): send the open windows now, and a marker that leaves
    /// this partition out of stage 2's minimum until it has data again. Its rows for those windows
    /// that come later are counted and sent again when their windows close.
    pub fn drain(&mut self) -> Result<PartialsStep> {
        self.check_no_pending()?;
        self.apply(Intent::Drain)
    }

    /// End of input: close every window and send an end marker.
    pub fn finish(&mut self) -> Result<PartialsStep> {
        self.check_no_pending()?;
        self.apply(Intent::Finish)
    }

    fn apply(&mut self, intent: Intent) -> Result<PartialsStep> {
        let closed = match intent {
            Intent::Drain => {
                self.idle = true;
                self.agg.emit_open()?
            }
            Intent::Finish => self.agg.flush()?,
        };
        self.emit(&closed)
    }

    /// After a restore: the intent written with the checkpoint, applied again (its output is the
    /// same as the first time), and this partition's marker. Send it before pushing more input.
    pub fn resume(&mut self) -> Result<PartialsStep> {
        match self.pending.take() {
            Some(intent) => self.apply(intent),
            None => self.emit(&RecordBatch::new_empty(self.agg.output_schema())),
        }
    }

    fn check_no_pending(&self) -> Result<()> {
        match self.pending {
            Some(intent) => Err(Error::config(format!("restored with a pending {intent:?}: call resume() first"))),
            None => Ok(()),
        }
    }

    /// Numbered partials for `closed` windows, then a marker if this partition's state changed.
    fn emit(&mut self, closed: &RecordBatch) -> Result<PartialsStep> {
        let mut keys: Vec<Option<String>> = Vec::new();
        let mut partitions: Vec<Option<i32>> = Vec::new();
        let mut values: Vec<Vec<u8>> = Vec::new();
        let mut partials = 0;
        if closed.num_rows() > 0 {
            let column = |name: &str| closed.column_by_name(name).ok_or_else(|| Error::schema(format!("closed windows lack {name}")));
            let services = arrow_cast::cast(column("service")?, &DataType::Utf8)?;
            let services = services.as_string::<i32>();
            let starts = time_column_millis(column("window_start")?, "window_start")?;
            let ends = time_column_millis(column("window_end")?, "window_end")?;
            let errors = arrow_cast::cast(column("errors")?, &DataType::Int64)?;
            let errors = errors.as_primitive::<Int64Type>();
            for row in 0..closed.num_rows() {
                if errors.value(row) == 0 {
                    continue; // a window of other levels only
                }
                let service = services.is_valid(row).then(|| services.value(row).to_owned());
                let message = Message::Partial {
                    source: self.source,
                    seq: self.next_seq,
                    service: service.clone(),
                    window_start: starts.value(row),
                    window_end: ends.value(row),
                    errors: errors.value(row),
                };
                self.next_seq += 1;
                partials += 1;
                keys.push(service);
                partitions.push(None);
                values.push(message.encode());
            }
        }
        let marker = Marker { watermark: self.agg.watermark(), idle: self.idle, end: self.finished() };
        if self.last_marker != Some(marker) {
            let message = Message::Watermark {
                source: self.source,
                partitions: self.input_partitions,
                watermark: marker.watermark,
                idle: marker.idle,
                end: marker.end,
            }
            .encode();
            for q in 0..self.repartition_partitions {
                keys.push(None);
                partitions.push(Some(q));
                values.push(message.clone());
            }
            self.last_marker = Some(marker);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(keys)),
            Arc::new(Int32Array::from(partitions)),
            Arc::new(BinaryArray::from_iter_values(values.iter())),
        ];
        Ok(PartialsStep {
            messages: RecordBatch::try_new(messages_schema(), columns)?,
            rejects: RecordBatch::new_empty(rejects_schema()),
            lines: 0,
            errors: 0,
            late: 0,
            partials,
            json_lines: 0,
            python_lines: 0,
        })
    }

    /// State, next offset and `intent` (to be applied on restore), together. Write it after every
    /// message sent so far was acknowledged.
    pub fn checkpoint(&self, intent: Option<Intent>) -> Result<Vec<u8>> {
        snapshot::encode(
            TAG,
            &Checkpoint {
                source: self.source,
                input_partitions: self.input_partitions,
                repartition_partitions: self.repartition_partitions,
                next_seq: self.next_seq,
                next_offset: self.next_offset,
                idle: self.idle,
                intent: intent.or(self.pending),
                aggregator: self.agg.snapshot()?,
            },
        )
    }

    /// Continue from a checkpoint; `input_partitions` may have grown, the repartition topic's
    /// partitions must not have changed (a service would then be counted in two places).
    pub fn restore(spec: &AlertsSpec, bytes: &[u8], input_partitions: i32, repartition_partitions: i32) -> Result<Self> {
        if bytes.starts_with(b"FSAL") {
            return Err(Error::snapshot(
                "this checkpoint was written by the one-stage alerts pipeline of an earlier fleetstream (per-partition \
                 counts); its state cannot be split into the two stages: start with a new --group or --state-dir",
            ));
        }
        let c: Checkpoint = snapshot::decode(TAG, "alerts stage 1", bytes)?;
        if c.repartition_partitions != repartition_partitions {
            return Err(Error::config(format!(
                "the repartition topic has {repartition_partitions} partitions but the checkpoint of input partition {} was \
                 written for {}: windows in flight would be split between partitions; give the topic {} partitions again \
                 or start a new group",
                c.source, c.repartition_partitions, c.repartition_partitions
            )));
        }
        let agg = WindowAggregator::restore(&c.aggregator)?;
        if agg.config() != &spec.aggregator_config() {
            return Err(Error::config(format!(
                "the checkpoint of input partition {} was written with another window or watermark; start a new group to change them",
                c.source
            )));
        }
        Ok(PartialCounts {
            lines: LineParser::new(spec.log_format)?,
            agg,
            source: c.source,
            input_partitions: c.input_partitions.max(input_partitions),
            repartition_partitions,
            next_seq: c.next_seq,
            next_offset: c.next_offset,
            idle: c.idle,
            pending: c.intent,
            last_marker: None,
        })
    }
}
