//! Spike alerts over closed windows: per key, compare each window's value with a baseline built from
//! the key's previous windows (missing windows count as zero).

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
use std::collections::VecDeque;
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

#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeyState {
    last_start: Millis,
    /// Windows of this key so far, counting missing ones as zeros.
    windows_seen: u64,
    /// The last `history` values, oldest first.
    recent: VecDeque<f64>,
    ewma: f64,
    cooldown_left: usize,
}

impl KeyState {
    fn new(start: Millis) -> Self {
        KeyState { last_start: start, windows_seen: 0, recent: VecDeque::new(), ewma: 0.0, cooldown_left: 0 }
    }

    /// Record `count` windows of value zero in closed form (a key may be silent for a long time).
    fn skip_zeros(&mut self, count: u64, config: &SpikeConfig) {
        if count == 0 {
            return;
        }
        let zeros = count.min(config.history as u64) as usize;
        for _ in 0..zeros {
            if self.recent.len() == config.history {
                self.recent.pop_front();
            }
            self.recent.push_back(0.0);
        }
        if let SpikeRule::Ewma { alpha } = config.rule {
            self.ewma *= (1.0 - alpha).powf(count as f64);
        }
        self.cooldown_left = self.cooldown_left.saturating_sub(count.min(usize::MAX as u64) as usize);
        self.windows_seen += count;
    }

    /// Evaluate one window, then add it to the history. Returns the baseline if it alerts.
    fn observe(&mut self, value: f64, config: &SpikeConfig) -> Option<f64> {
        let mut alert = None;
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
        } else if self.windows_seen >= config.history as u64 && value > config.floor {
            let n = self.recent.len() as f64;
            let mean = self.recent.iter().sum::<f64>() / n;
            let (baseline, threshold) = match config.rule {
                SpikeRule::Mean => (mean, config.factor * mean),
                SpikeRule::ZScore { threshold } => {
                    let variance = self.recent.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                    (mean, mean + threshold * variance.sqrt())
                }
                SpikeRule::Ewma { .. } => (self.ewma, config.factor * self.ewma),
            };
            if value > threshold {
                alert = Some(baseline);
                self.cooldown_left = config.cooldown;
            }
        }
        if self.recent.len() == config.history {
            self.recent.pop_front();
        }
        self.recent.push_back(value);
        if let SpikeRule::Ewma { alpha } = config.rule {
            self.ewma = if self.windows_seen == 0 { value } else { alpha * value + (1.0 - alpha) * self.ewma };
        }
        self.windows_seen += 1;
        alert
    }
}

pub struct SpikeDetector {
    config: SpikeConfig,
    keys: KeyEncoder,
    state: HashMap<Box<[u8]>, KeyState>,
}

#[derive(Serialize, Deserialize)]
struct State {
    config: SpikeConfig,
    key_fields: Option<Vec<Field>>,
    state: Vec<(Vec<u8>, KeyState)>,
}

const SNAPSHOT_TAG: &[u8; 4] = b"FSSD";

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
        Ok(SpikeDetector { keys: KeyEncoder::new(config.keys.clone()), config, state: HashMap::new() })
    }

    pub fn config(&self) -> &SpikeConfig {
        &self.config
    }

    /// Keys the detector holds history for.
    pub fn tracked_keys(&self) -> usize {
        self.state.len()
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
            let previous = last.get(key).copied().or_else(|| self.state.get(key).map(|s| s.last_start));
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
            let state = match self.state.get_mut(key) {
                Some(state) => state,
                None => self.state.entry(Box::from(key)).or_insert_with(|| KeyState::new(start)),
            };
            if state.windows_seen > 0 {
                state.skip_zeros(((start - state.last_start) / step - 1) as u64, &self.config);
            }
            state.last_start = start;
            if let Some(baseline) = state.observe(value, &self.config) {
                alerts.push(Alert { row, start, end, value, baseline });
            }
        }
        self.build_alerts(batch, keys.as_ref(), &alerts)
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
        let mut state: Vec<(Vec<u8>, KeyState)> = self.state.iter().map(|(k, s)| (k.to_vec(), s.clone())).collect();
        state.sort_by(|a, b| a.0.cmp(&b.0));
        snapshot::encode(
            SNAPSHOT_TAG,
            &State { config: self.config.clone(), key_fields: self.keys.fields().cloned(), state },
        )
    }

    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let state: State = snapshot::decode(SNAPSHOT_TAG, "SpikeDetector", bytes)?;
        let mut detector = SpikeDetector::new(state.config)?;
        detector.keys = KeyEncoder::from_fields(detector.config.keys.clone(), state.key_fields)?;
        detector.state = state.state.into_iter().map(|(k, s)| (k.into_boxed_slice(), s)).collect();
        Ok(detector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rule: SpikeRule, history: usize, cooldown: usize) -> SpikeConfig {
        SpikeConfig {
            value: "v".into(),
            keys: vec![],
            history,
            factor: 3.0,
            floor: 5.0,
            rule,
            cooldown,
            step: None,
        }
    }

    #[test]
    fn mean_rule_waits_for_history_and_counts_missing_windows_as_zero() {
        let c = config(SpikeRule::Mean, 3, 0);
        let mut s = KeyState::new(0);
        assert_eq!(s.observe(10.0, &c), None); // warm-up
        assert_eq!(s.observe(10.0, &c), None);
        assert_eq!(s.observe(10.0, &c), None);
        assert_eq!(s.observe(31.0, &c), Some(10.0)); // 31 > 3 * 10
        s.skip_zeros(2, &c); // history is now [31, 0, 0]
        assert_eq!(s.observe(31.0, &c), None); // 31 > 3 * 10.33? no
        assert_eq!(s.observe(6.0, &c), None); // 6 > floor but not > 3 * 10.33
        assert_eq!(s.observe(40.0, &c), Some((0.0 + 31.0 + 6.0) / 3.0));
    }

    #[test]
    fn cooldown_suppresses_the_next_windows() {
        let c = config(SpikeRule::Mean, 1, 2);
        let mut s = KeyState::new(0);
        assert_eq!(s.observe(1.0, &c), None);
        assert_eq!(s.observe(10.0, &c), Some(1.0));
        assert_eq!(s.observe(100.0, &c), None); // cooling down
        assert_eq!(s.observe(1000.0, &c), None); // cooling down
        assert_eq!(s.observe(10000.0, &c), Some(1000.0));
    }

    #[test]
    fn ewma_decays_over_missing_windows_in_closed_form() {
        let c = config(SpikeRule::Ewma { alpha: 0.5 }, 1, 0);
        let mut a = KeyState::new(0);
        let mut b = KeyState::new(0);
        a.observe(8.0, &c);
        b.observe(8.0, &c);
        a.skip_zeros(3, &c);
        for _ in 0..3 {
            b.observe(0.0, &c);
        }
        assert!((a.ewma - b.ewma).abs() < 1e-12);
        assert_eq!(a.windows_seen, b.windows_seen);
        assert_eq!(a.recent, b.recent);
    }
}
