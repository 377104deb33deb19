//! Stage 2, one per repartition partition: partial counts from every input partition -> complete
//! window counts (deduplicated by sequence, closed by the minimum watermark over the input
//! partitions) -> spike alerts.

use super::wire::Message;
use super::AlertsSpec;
use crate::error::{Error, Result};
use crate::stream::output::{timestamp_column, timestamp_type};
use crate::stream::snapshot;
use crate::stream::SpikeDetector;
use crate::time::Millis;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What stage 2 knows of one input partition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    /// Sequence number of the last partial taken from it.
    pub last_seq: Option<u64>,
    /// Highest watermark it reported (None: no event time yet).
    pub watermark: Option<Millis>,
    pub idle: bool,
    pub ended: bool,
    /// Whether it has sent a marker (an input partition that never did holds every window back).
    pub reported: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeCounts {
    pub messages: u64,
    pub partials: u64,
    pub duplicates: u64,
    pub markers: u64,
    pub late_contributions: u64,
    pub late_errors: u64,
    pub rejects: u64,
}

/// What one step produced.
pub struct MergeStep {
    /// Complete windows: `service`, `window_start`, `window_end`, `errors`.
    pub windows: RecordBatch,
    pub alerts: RecordBatch,
    /// Partials that came after their window was closed: `source`, `service`, `window_start`,
    /// `window_end`, `errors` (counted in no window).
    pub late: RecordBatch,
    /// Messages that are not repartition messages: `offset`, `reason`.
    pub rejects: RecordBatch,
    pub counts: MergeCounts,
}

type WindowKey = (Millis, Option<String>);

pub struct MergeAlerts {
    window: Millis,
    sources: BTreeMap<i32, SourceView>,
    input_partitions: i32,
    /// (window end, service) -> errors so far, for windows not closed yet.
    totals: BTreeMap<WindowKey, i64>,
    /// Windows ending at or before this are closed.
    closed_through: Option<Millis>,
    detector: SpikeDetector,
    next_offset: Option<i64>,
    counts: MergeCounts,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    window: Millis,
    sources: Vec<(i32, SourceView)>,
    input_partitions: i32,
    totals: Vec<(WindowKey, i64)>,
    closed_through: Option<Millis>,
    detector: Vec<u8>,
    next_offset: Option<i64>,
    counts: MergeCounts,
}

const TAG: &[u8; 4] = b"FSAM";

fn windows_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("service", DataType::Utf8, true),
        Field::new("window_start", timestamp_type(), false),
        Field::new("window_end", timestamp_type(), false),
        Field::new("errors", DataType::Int64, false),
    ]))
}

fn late_schema() -> SchemaRef {
    let mut fields = vec![Field::new("source", DataType::Int32, false)];
    fields.extend(windows_schema().fields().iter().map(|f| f.as_ref().clone()));
    Arc::new(Schema::new(fields))
}

fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("offset", DataType::Int64, false), Field::new("reason", DataType::Utf8, false)]))
}

impl MergeAlerts {
    pub fn new(spec: &AlertsSpec) -> Result<Self> {
        Ok(MergeAlerts {
            window: spec.window,
            sources: BTreeMap::new(),
            input_partitions: 0,
            totals: BTreeMap::new(),
            closed_through: None,
            detector: SpikeDetector::new(spec.spike_config())?,
            next_offset: None,
            counts: MergeCounts::default(),
        })
    }

    pub fn next_offset(&self) -> Option<i64> {
        self.next_offset
    }

    /// Windows ending at or before this are closed (`i64::MAX` once every input has ended).
    pub fn closed_through(&self) -> Option<Millis> {
        self.closed_through
    }

    pub fn counts(&self) -> &MergeCounts {
        &self.counts
    }

    pub fn open_windows(&self) -> usize {
        self.totals.len()
    }

    pub fn input_partitions(&self) -> i32 {
        self.input_partitions
    }

    pub fn sources(&self) -> &BTreeMap<i32, SourceView> {
        &self.sources
    }

    /// Every input partition has ended and every window was emitted.
    pub fn complete(&self) -> bool {
        self.input_partitions > 0
            && (0..self.input_partitions).all(|p| self.sources.get(&p).is_some_and(|s| s.ended))
            && self.totals.is_empty()
    }

    /// Input partitions that hold the closing of windows back now: never reported, or active
    /// without an event time, or active with the smallest watermark.
    pub fn waiting_for(&self) -> Vec<i32> {
        let active: Vec<(i32, Option<Millis>)> = (0..self.input_partitions)
            .filter_map(|p| match self.sources.get(&p) {
                Some(s) if s.reported && (s.idle || s.ended) => None,
                Some(s) if s.reported => Some((p, s.watermark)),
                _ => Some((p, None)),
            })
            .collect();
        let lowest = active.iter().map(|(_, w)| *w).min().flatten();
        active.into_iter().filter(|(_, w)| w.is_none() || *w == lowest).map(|(p, _)| p).collect()
    }

    /// The watermark every input partition has passed (idle ones left out); None while one of them
    /// is unknown or has no event time, or when all are idle (nothing moves then).
    fn input_watermark(&self) -> Option<Millis> {
        if self.input_partitions == 0 {
            return None;
        }
        let mut lowest: Option<Millis> = None;
        let mut all_ended = true;
        for p in 0..self.input_partitions {
            let source = self.sources.get(&p).filter(|s| s.reported)?;
            if source.ended {
                continue;
            }
            all_ended = false;
            if source.idle {
                continue;
            }
            let watermark = source.watermark?;
            lowest = Some(lowest.map_or(watermark, |l| l.min(watermark)));
        }
        if all_ended {
            Some(Millis::MAX)
        } else {
            lowest
        }
    }

    /// Apply repartition messages (binary or string JSON) read at `offsets`, in order; `next_offset`
    /// is where reading goes on. Returns the windows this closed, their alerts, and what was late.
    pub fn push(&mut self, values: &dyn Array, offsets: &dyn Array, next_offset: i64) -> Result<MergeStep> {
        let offsets = arrow_cast::cast(offsets, &DataType::Int64)?;
        let offsets = offsets.as_primitive::<Int64Type>();
        let values = arrow_cast::cast(values, &DataType::Binary)?;
        let values = values.as_binary::<i32>();
        if values.len() != offsets.len() || offsets.null_count() > 0 {
            return Err(Error::schema(format!("{} messages but {} offsets (none may be null)", values.len(), offsets.len())));
        }
        let before = self.counts.clone();
        let mut late: Vec<(i32, Option<String>, Millis, Millis, i64)> = Vec::new();
        let mut rejects: Vec<(i64, String)> = Vec::new();
        for (value, offset) in values.iter().zip(offsets.values()) {
            self.counts.messages += 1;
            let message = match value.map(Message::decode) {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    rejects.push((*offset, e.to_string()));
                    continue;
                }
                None => {
                    rejects.push((*offset, "message has no value".into()));
                    continue;
                }
            };
            match message {
                Message::Partial { source, seq, service, window_start, window_end, errors } => {
                    let view = self.sources.entry(source).or_default();
                    if view.last_seq.is_some_and(|last| seq <= last) {
                        self.counts.duplicates += 1;
                        continue;
                    }
                    view.last_seq = Some(seq);
                    self.counts.partials += 1;
                    if window_end - window_start != self.window {
                        rejects.push((*offset, format!(
                            "partial of a {} ms window, this pipeline counts {} ms windows (another run writes to this topic?)",
                            window_end - window_start, self.window
                        )));
                    } else if self.closed_through.is_some_and(|c| window_end <= c) {
                        self.counts.late_contributions += 1;
                        self.counts.late_errors += errors as u64;
                        late.push((source, service, window_start, window_end, errors));
                    } else {
                        *self.totals.entry((window_end, service)).or_insert(0) += errors;
                    }
                }
                Message::Watermark { source, partitions, watermark, idle, end } => {
                    self.counts.markers += 1;
                    self.input_partitions = self.input_partitions.max(partitions);
                    let view = self.sources.entry(source).or_default();
                    view.reported = true;
                    view.watermark = view.watermark.max(watermark);
                    view.idle = idle;
                    view.ended |= end;
                    if let Some(watermark) = self.input_watermark() {
                        // Never backwards: a partition back from idle cannot reopen closed windows.
                        self.closed_through = Some(self.closed_through.map_or(watermark, |c| c.max(watermark)));
                    }
                }
            }
        }
        self.counts.rejects += rejects.len() as u64;
        self.next_offset = Some(next_offset);
        let windows = self.close()?;
        let alerts = self.detector.push(&windows)?;
        Ok(MergeStep {
            windows,
            alerts,
            late: late_batch(&late)?,
            rejects: RecordBatch::try_new(
                rejects_schema(),
                vec![
                    Arc::new(Int64Array::from_iter_values(rejects.iter().map(|r| r.0))),
                    Arc::new(StringArray::from_iter_values(rejects.iter().map(|r| r.1.as_str()))),
                ],
            )?,
            counts: delta(&before, &self.counts),
        })
    }

    /// Every window ending at or before `closed_through`, ordered by end, then service.
    fn close(&mut self) -> Result<RecordBatch> {
        let Some(through) = self.closed_through else { return Ok(RecordBatch::new_empty(windows_schema())) };
        let open = match through.checked_add(1) {
            Some(first_open) => self.totals.split_off(&(first_open, None)),
            None => BTreeMap::new(),
        };
        let closed = std::mem::replace(&mut self.totals, open);
        let window = self.window;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter(closed.keys().map(|(_, s)| s.as_deref()))),
            timestamp_column(closed.keys().map(|(end, _)| end - window)),
            timestamp_column(closed.keys().map(|(end, _)| *end)),
            Arc::new(Int64Array::from_iter_values(closed.values().copied())),
        ];
        Ok(RecordBatch::try_new(windows_schema(), columns)?)
    }

    /// State and next offset, together.
    pub fn checkpoint(&self) -> Result<Vec<u8>> {
        snapshot::encode(
            TAG,
            &Checkpoint {
                window: self.window,
                sources: self.sources.iter().map(|(p, v)| (*p, v.clone())).collect(),
                input_partitions: self.input_partitions,
                totals: self.totals.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                closed_through: self.closed_through,
                detector: self.detector.snapshot()?,
                next_offset: self.next_offset,
                counts: self.counts.clone(),
            },
        )
    }

    pub fn restore(spec: &AlertsSpec, bytes: &[u8]) -> Result<Self> {
        let c: Checkpoint = snapshot::decode(TAG, "alerts stage 2", bytes)?;
        let detector = SpikeDetector::restore(&c.detector)?;
        if c.window != spec.window || detector.config() != &spec.spike_config() {
            return Err(Error::config(
                "a stage-2 checkpoint was written with another window or spike rule; start a new group to change them",
            ));
        }
        Ok(MergeAlerts {
            window: c.window,
            sources: c.sources.into_iter().collect(),
            input_partitions: c.input_partitions,
            totals: c.totals.into_iter().collect(),
            closed_through: c.closed_through,
            detector,
            next_offset: c.next_offset,
            counts: c.counts,
        })
    }
}

fn late_batch(rows: &[(i32, Option<String>, Millis, Millis, i64)]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1.as_deref()))),
        timestamp_column(rows.iter().map(|r| r.2)),
        timestamp_column(rows.iter().map(|r| r.3)),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.4))),
    ];
    Ok(RecordBatch::try_new(late_schema(), columns)?)
}

fn delta(before: &MergeCounts, after: &MergeCounts) -> MergeCounts {
    MergeCounts {
        messages: after.messages - before.messages,
        partials: after.partials - before.partials,
        duplicates: after.duplicates - before.duplicates,
        markers: after.markers - before.markers,
        late_contributions: after.late_contributions - before.late_contributions,
        late_errors: after.late_errors - before.late_errors,
        rejects: after.rejects - before.rejects,
    }
}
