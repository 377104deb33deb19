//! Spike alerts over closed windows: per key, compare each window's value with a baseline built from
//! the key's previous windows (missing windows count as zero).
//!
//! State shrinks: a key whose baseline has become all zeros (see [`history`]) keeps only its name
//! and last window start, and gets the same state back if it has a window again, so no alert changes.

mod history;
#[cfg(test)]
mod tests;

use history::{Dormant, KeyState};

use super::keys::column_names;
use super::keys::KeyEncoder;
use super::output::{iso, output_batch, timestamp_column, timestamp_type};
use super::snapshot;
use crate::error::{Error, Result};
use crate::time::{time_column_millis, Millis};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum SpikeRule {
    /// value > factor * mean(previous `history` windows)
    Mean,
    /// value > mean + threshold * population standard deviation of the previous `history` windows
    ZScore { threshold: f64 },
    /// value > factor * exponentially weighted moving average of all previous windows
    Ewma { alpha: f64 },
}

impl SpikeRule {
    pub fn name(&self) -> &'static str {
        match self {
            SpikeRule::Mean => "mean",
            SpikeRule::ZScore { .. } => "zscore",
            SpikeRule::Ewma { .. } => "ewma",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpikeConfig {
    /// Column holding each window's value.
    pub value: String,
    pub keys: Vec<String>,
    pub history: usize,
    pub factor: f64,
    pub floor: f64,
    pub rule: SpikeRule,
    /// Windows after an alert during which the same key cannot alert again.
    pub cooldown: usize,
    /// Distance between consecutive window starts; None: each window's length (tumbling windows).
    pub step: Option<Millis>,
}

impl SpikeConfig {
    pub fn validate(&self) -> Result<()> {
        if self.history == 0 {
            return Err(Error::config("history must be at least 1 window"));
        }
        if self.history > 100_000 {
            return Err(Error::config(format!("history of {} windows is more than the limit of 100000", self.history)));
        }
        if !self.factor.is_finite() || self.factor < 0.0 {
            return Err(Error::config(format!("factor must be a finite number >= 0, got {}", self.factor)));
        }
        if !self.floor.is_finite() || self.floor < 0.0 {
            return Err(Error::config(format!("floor must be a finite number >= 0, got {}", self.floor)));
        }
        match self.rule {
            SpikeRule::ZScore { threshold } if !threshold.is_finite() || threshold < 0.0 => {
                return Err(Error::config(format!("zscore threshold must be a finite number >= 0, got {threshold}")))
            }
            SpikeRule::Ewma { alpha } if !(alpha > 0.0 && alpha <= 1.0) => {
                return Err(Error::config(format!("ewma alpha must be in (0, 1], got {alpha}")))
            }
            _ => {}
        }
        if let Some(step) = self.step {
            if step <= 0 {
                return Err(Error::config(format!("step must be positive, got {step} ms")));
            }
        }
        for reserved in ["window_start", "window_end", "value", "baseline", "rule"] {
            if self.keys.iter().any(|k| k == reserved) {
                return Err(Error::config(format!("key column {reserved:?} clashes with an output column of the alerts")));
            }
        }
        Ok(())
    }
}

pub struct SpikeDetector {
    config: SpikeConfig,
    keys: KeyEncoder,
    state: HashMap<Box<[u8]>, KeyState>,
    /// Keys whose history is all zeros, by name only.
    dormant: HashMap<Box<[u8]>, Dormant>,
    /// The latest window start seen (of any key).
    latest: Option<Millis>,
    /// Whether window starts have never gone backwards across keys (as WindowAggregator emits them):
    /// only then can a key be known to have missed windows, and go dormant.
    in_time_order: bool,
    /// `latest` at the last look for dormant keys.
    swept_at: Option<Millis>,
}

/// State-size statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpikeStats {
    /// Keys with a history in memory.
    pub keys: usize,
    /// Keys whose history is all zeros, kept by name only.
    pub dormant_keys: usize,
    /// Estimated bytes of the per-key state (tables, keys, histories).
    pub state_bytes: usize,
}

#[derive(Serialize, Deserialize)]
struct State {
    config: SpikeConfig,
    key_fields: Option<Vec<Field>>,
    state: Vec<(Vec<u8>, KeyState)>,
    dormant: Vec<(Vec<u8>, Dormant)>,
    latest: Option<Millis>,
    in_time_order: bool,
    swept_at: Option<Millis>,
}

/// Before dormant keys (no per-key step).
#[derive(Deserialize)]
struct StateV1 {
    config: SpikeConfig,
    key_fields: Option<Vec<Field>>,
    state: Vec<(Vec<u8>, KeyStateV1)>,
}

#[derive(Deserialize)]
struct KeyStateV1 {
    last_start: Millis,
    windows_seen: u64,
    recent: std::collections::VecDeque<f64>,
    ewma: f64,
    cooldown_left: usize,
}

const SNAPSHOT_TAG: &[u8; 4] = b"FSS2";
const SNAPSHOT_TAG_V1: &[u8; 4] = b"FSSD";

struct Alert {
    row: usize,
    start: Millis,
    end: Millis,
    value: f64,
    baseline: f64,
}

impl SpikeDetector {
    pub fn new(config: SpikeConfig) -> Result<Self> {
        config.validate()?;
        Ok(SpikeDetector {
            keys: KeyEncoder::new(config.keys.clone()),
            config,
            state: HashMap::new(),
            dormant: HashMap::new(),
            latest: None,
            in_time_order: true,
            swept_at: None,
        })
    }

    pub fn config(&self) -> &SpikeConfig {
        &self.config
    }

    /// Keys the detector holds a history for (dormant keys not counted).
    pub fn tracked_keys(&self) -> usize {
        self.state.len()
    }

    pub fn stats(&self) -> SpikeStats {
        let slot = |value: usize| std::mem::size_of::<Box<[u8]>>() + value + 1; // key, value, control byte
        let keys: usize = self.state.keys().chain(self.dormant.keys()).map(|k| k.len()).sum();
        let histories: usize = self.state.values().map(KeyState::heap_bytes).sum();
        SpikeStats {
            keys: self.state.len(),
            dormant_keys: self.dormant.len(),
            state_bytes: self.state.capacity() * slot(std::mem::size_of::<KeyState>())
                + self.dormant.capacity() * slot(std::mem::size_of::<Dormant>())
                + keys
                + histories,
        }
    }

    pub fn output_schema(&self) -> SchemaRef {
        let mut fields = self.keys.output_fields();
        fields.push(Field::new("window_start", timestamp_type(), false));
        fields.push(Field::new("window_end", timestamp_type(), false));
        fields.push(Field::new("value", DataType::Float64, false));
        fields.push(Field::new("baseline", DataType::Float64, false));
        fields.push(Field::new("rule", DataType::Utf8, false));
        Arc::new(Schema::new(fields))
    }

    fn column<'a>(&self, batch: &'a RecordBatch, name: &str, role: &str) -> Result<&'a ArrayRef> {
        batch.column_by_name(name).ok_or_else(|| {
            Error::schema(format!("{role} column {name:?} is not in the input (columns: {})", column_names(batch)))
        })
    }

    /// Evaluate closed windows (rows ordered by window time within each key, as the aggregator emits
    /// them). A window that is not after the key's previous one is an `Error::Order` and nothing of
    /// the batch is applied.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let starts = time_column_millis(self.column(batch, "window_start", "window")?, "window_start")?;
        let ends = time_column_millis(self.column(batch, "window_end", "window")?, "window_end")?;
        let value_column = self.column(batch, &self.config.value, "value")?;
        if !value_column.data_type().is_numeric() && value_column.data_type() != &DataType::Null {
            return Err(Error::schema(format!(
                "value column {:?} must be numeric, got {}",
                self.config.value,
                value_column.data_type()
            )));
        }
        let values = arrow_cast::cast(value_column, &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        let keys = self.keys.encode(batch)?;
        let key_of = |row: usize| -> &[u8] {
            match &keys {
                Some(rows) => rows.row(row).data(),
                None => &[],
            }
        };

        // Check the whole batch first, so an out-of-order row changes nothing.
        let mut last: HashMap<&[u8], Millis> = HashMap::new();
        for row in 0..batch.num_rows() {
            if starts.is_null(row) || ends.is_null(row) {
                return Err(Error::schema(format!("row {row}: window_start and window_end must not be null")));
            }
            let (start, end) = (starts.value(row), ends.value(row));
            if end <= start {
                return Err(Error::schema(format!("row {row}: window_end {} is not after window_start {}", iso(end), iso(start))));
            }
            let key = key_of(row);
            if let (None, Some(dormant)) = (last.get(key), self.dormant.get(key)) {
                if start < dormant.since {
                    return Err(Error::Order(format!(
                        "row {row}: window starting {} of a key whose history was all zeros and was let go when \
                         windows up to {} had been seen; windows of different keys must come in time order (as \
                         WindowAggregator emits them)",
                        iso(start),
                        iso(dormant.since)
                    )));
                }
            }
            let previous = last
                .get(key)
                .copied()
                .or_else(|| self.state.get(key).map(|s| s.last_start))
                .or_else(|| self.dormant.get(key).map(|d| d.last_start));
            if let Some(previous) = previous {
                let step = self.config.step.unwrap_or(end - start);
                if start <= previous || (start - previous) % step != 0 {
                    return Err(Error::Order(format!(
                        "row {row}: window starting {} follows a window of the same key starting {}; windows must arrive in time order, {step} ms apart",
                        iso(start),
                        iso(previous)
                    )));
                }
            }
            last.insert(key, start);
        }

        let mut alerts = Vec::new();
        for row in 0..batch.num_rows() {
            let (start, end) = (starts.value(row), ends.value(row));
            // A null value is a window with nothing to count.
            let value = if values.is_null(row) { 0.0 } else { values.value(row) };
            let key = key_of(row);
            let step = self.config.step.unwrap_or(end - start);
            match self.latest {
                Some(latest) if start < latest => self.in_time_order = false,
                _ => self.latest = Some(start),
            }
            let state = match self.state.get_mut(key) {
                Some(state) => state,
                None => {
                    let state = match self.dormant.remove(key) {
                        Some(dormant) => KeyState::dormant(&self.config, dormant, step),
                        None => KeyState::new(start, step),
                    };
                    self.state.entry(Box::from(key)).or_insert(state)
                }
            };
            if state.windows_seen > 0 {
                state.skip_zeros(((start - state.last_start) / step - 1) as u64, &self.config);
            }
            state.last_start = start;
            state.step = step;
            if let Some(baseline) = state.observe(value, &self.config) {
                alerts.push(Alert { row, start, end, value, baseline });
            }
        }
        let out = self.build_alerts(batch, keys.as_ref(), &alerts);
        self.let_go_of_dormant_keys();
        out
    }

    /// Moves keys whose history has become all zeros to `dormant` (once per new latest window
    /// start, while windows come in time order: a key is known to have missed windows only then).
    fn let_go_of_dormant_keys(&mut self) {
        let Some(latest) = self.latest else { return };
        if !self.in_time_order || self.swept_at == Some(latest) {
            return;
        }
        self.swept_at = Some(latest);
        let config = &self.config;
        for (key, state) in self.state.extract_if(|_, state| state.is_dormant_at(latest, config)) {
            self.dormant.insert(key, Dormant { last_start: state.last_start, since: latest });
        }
        if self.state.capacity() > 64 && self.state.len() < self.state.capacity() / 4 {
            self.state.shrink_to_fit();
        }
    }

    fn build_alerts(&self, _batch: &RecordBatch, keys: Option<&arrow_row::Rows>, alerts: &[Alert]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = match keys {
            Some(rows) => self.keys.decode(alerts.iter().map(|a| rows.row(a.row).data()))?,
            None => Vec::new(),
        };
        columns.push(timestamp_column(alerts.iter().map(|a| a.start)));
        columns.push(timestamp_column(alerts.iter().map(|a| a.end)));
        columns.push(Arc::new(Float64Array::from_iter_values(alerts.iter().map(|a| a.value))));
        columns.push(Arc::new(Float64Array::from_iter_values(alerts.iter().map(|a| a.baseline))));
        columns.push(Arc::new(StringArray::from_iter_values(alerts.iter().map(|_| self.config.rule.name()))));
        let schema = self.output_schema();
        output_batch(&schema, columns, alerts.len())
    }

    pub fn snapshot(&self) -> Result<Vec<u8>> {
        // Sorted, so that equal states give equal bytes.
        let mut state: Vec<(Vec<u8>, KeyState)> = self.state.iter().map(|(k, s)| (k.to_vec(), s.clone())).collect();
        state.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dormant: Vec<(Vec<u8>, Dormant)> = self.dormant.iter().map(|(k, d)| (k.to_vec(), *d)).collect();
        dormant.sort_by(|a, b| a.0.cmp(&b.0));
        snapshot::encode(
            SNAPSHOT_TAG,
            &State {
                config: self.config.clone(),
                key_fields: self.keys.fields().cloned(),
                state,
                dormant,
                latest: self.latest,
                in_time_order: self.in_time_order,
                swept_at: self.swept_at,
            },
        )
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let state: State = if bytes.starts_with(SNAPSHOT_TAG_V1) {
            Self::upgrade(snapshot::decode(SNAPSHOT_TAG_V1, "SpikeDetector", bytes)?)
        } else {
            snapshot::decode(SNAPSHOT_TAG, "SpikeDetector", bytes)?
        };
        let mut detector = SpikeDetector::new(state.config)?;
        detector.keys = KeyEncoder::from_fields(detector.config.keys.clone(), state.key_fields)?;
        detector.state = state.state.into_iter().map(|(k, s)| (k.into_boxed_slice(), s)).collect();
        detector.dormant = state.dormant.into_iter().map(|(k, d)| (k.into_boxed_slice(), d)).collect();
        detector.latest = state.latest;
        detector.in_time_order = state.in_time_order;
        detector.swept_at = state.swept_at;
        Ok(detector)
    }

    /// A snapshot of a build without dormant keys. A key's step is known again at its next window;
    /// the latest start seen is at least the latest of any key.
    fn upgrade(v1: StateV1) -> State {
        let step = v1.config.step.unwrap_or(0);
        let latest = v1.state.iter().map(|(_, s)| s.last_start).max();
        State {
            state: v1
                .state
                .into_iter()
                .map(|(k, s)| {
                    let state = KeyState {
                        last_start: s.last_start,
                        step,
                        windows_seen: s.windows_seen,
                        recent: s.recent,
                        ewma: s.ewma,
                        cooldown_left: s.cooldown_left,
                    };
                    (k, state)
                })
                .collect(),
            config: v1.config,
            key_fields: v1.key_fields,
            dormant: Vec::new(),
            latest,
            in_time_order: true,
            swept_at: None,
        }
    }
}
