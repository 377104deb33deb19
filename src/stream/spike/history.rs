//! One key's history (the rule's baseline) and when it can be forgotten without changing an alert.
//!
//! After `history` missing windows the recent values are all zeros, so the mean and z-score baselines
//! are zero, whatever came before. Not so the EWMA: it decays by `1 - alpha` per missing window and
//! is zero only once that underflows (right away for `alpha = 1`; after about 2,000 windows for
//! `alpha = 0.3`). And a cooldown longer than `history` is still running. A key is *dormant* once
//! all of these hold: its state is then the same for every such key, and only its name and last
//! window start are kept (see [`Dormant`]).

use super::{SpikeConfig, SpikeRule};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct KeyState {
    pub last_start: Millis,
    /// Distance between this key's window starts (the configured step, or its last window's length).
    pub step: Millis,
    /// Windows of this key so far, counting missing ones as zeros.
    pub windows_seen: u64,
    /// The last `history` values, oldest first.
    pub recent: VecDeque<f64>,
    pub ewma: f64,
    pub cooldown_left: usize,
}

/// What is kept of a dormant key: enough to rebuild its state exactly when it has a window again.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Dormant {
    pub last_start: Millis,
    /// The latest window start the detector had seen when the key went dormant: a window of the key
    /// starting there or later finds the dormant state. (Earlier only if windows of different keys
    /// came out of time order, which stops dormancy: see `SpikeDetector::push`.)
    pub since: Millis,
}

impl KeyState {
    pub fn new(start: Millis, step: Millis) -> Self {
        KeyState { last_start: start, step, windows_seen: 0, recent: VecDeque::new(), ewma: 0.0, cooldown_left: 0 }
    }

    /// The state every dormant key has (as far as any later alert can tell).
    pub fn dormant(config: &SpikeConfig, dormant: Dormant, step: Millis) -> Self {
        KeyState {
            last_start: dormant.last_start,
            step,
            // Only "at least `history`" and "not zero" are ever asked of it.
            windows_seen: config.history as u64 + 1,
            recent: std::iter::repeat_n(0.0, config.history).collect(),
            ewma: 0.0,
            cooldown_left: 0,
        }
    }

    /// Whether, with windows up to `latest` seen (and none of this key since its last), any window
    /// of this key starting at `latest` or later finds the dormant state: a baseline of zeros, no
    /// cooldown running, the warm-up done.
    pub fn is_dormant_at(&self, latest: Millis, config: &SpikeConfig) -> bool {
        if self.windows_seen == 0 || self.step <= 0 || latest <= self.last_start {
            return false;
        }
        // Windows of value zero such a window would record first.
        let zeros = (latest - self.last_start) / self.step - 1;
        if zeros < config.history.max(self.cooldown_left) as i64 {
            return false;
        }
        match config.rule {
            SpikeRule::Ewma { alpha } => self.ewma * (1.0 - alpha).powf(zeros as f64) == 0.0,
            SpikeRule::Mean | SpikeRule::ZScore { .. } => true,
        }
    }

    /// Heap bytes this state holds besides itself.
    pub fn heap_bytes(&self) -> usize {
        self.recent.capacity() * std::mem::size_of::<f64>()
    }

    /// Record `count` windows of value zero in closed form (a key may be silent for a long time).
    pub fn skip_zeros(&mut self, count: u64, config: &SpikeConfig) {
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
    pub fn observe(&mut self, value: f64, config: &SpikeConfig) -> Option<f64> {
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
