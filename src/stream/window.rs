//! Window assignment: tumbling and hopping windows aligned to the Unix epoch (plus an offset),
//! half-open `[start, end)`.

use crate::error::{Error, Result};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowSpec {
    Tumbling { size: Millis, offset: Millis },
    Hopping { size: Millis, step: Millis, offset: Millis },
}

impl WindowSpec {
    pub fn validate(&self) -> Result<()> {
        let (size, step) = (self.size(), self.step());
        if size <= 0 {
            return Err(Error::config(format!("window size must be positive, got {size} ms")));
        }
        if step <= 0 {
            return Err(Error::config(format!("window step must be positive, got {step} ms")));
        }
        if step > size {
            return Err(Error::config(format!(
                "hopping window step ({step} ms) is larger than its size ({size} ms): events between windows would be lost"
            )));
        }
        if size / step > 10_000 {
            return Err(Error::config(format!(
                "hopping window of size {size} ms and step {step} ms puts every event in {} windows (limit 10000)",
                size / step
            )));
        }
        Ok(())
    }

    pub fn size(&self) -> Millis {
        match *self {
            WindowSpec::Tumbling { size, .. } | WindowSpec::Hopping { size, .. } => size,
        }
    }

    pub fn step(&self) -> Millis {
        match *self {
            WindowSpec::Tumbling { size, .. } => size,
            WindowSpec::Hopping { step, .. } => step,
        }
    }

    pub fn offset(&self) -> Millis {
        match *self {
            WindowSpec::Tumbling { offset, .. } | WindowSpec::Hopping { offset, .. } => offset,
        }
    }

    /// Start of the latest window that contains `t`.
    #[inline]
    pub fn last_start(&self, t: Millis) -> Millis {
        let (step, offset) = (self.step(), self.offset());
        (t - offset).div_euclid(step) * step + offset
    }

    /// Starts of every window containing `t`, latest first.
    #[inline]
    pub fn starts(&self, t: Millis) -> impl Iterator<Item = Millis> {
        let (size, step) = (self.size(), self.step());
        let last = self.last_start(t);
        (0..)
            .map(move |k: i64| last - k * step)
            .take_while(move |&start| start + size > t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_is_epoch_aligned_and_half_open() {
        let w = WindowSpec::Tumbling { size: 60_000, offset: 0 };
        assert_eq!(w.starts(0).collect::<Vec<_>>(), vec![0]);
        assert_eq!(w.starts(59_999).collect::<Vec<_>>(), vec![0]);
        assert_eq!(w.starts(60_000).collect::<Vec<_>>(), vec![60_000]);
    }

    #[test]
    fn offset_shifts_windows() {
        let w = WindowSpec::Tumbling { size: 60_000, offset: 15_000 };
        assert_eq!(w.starts(10_000).collect::<Vec<_>>(), vec![-45_000]);
        assert_eq!(w.starts(15_000).collect::<Vec<_>>(), vec![15_000]);
    }

    #[test]
    fn hopping_windows_contain_the_event() {
        let w = WindowSpec::Hopping { size: 300_000, step: 60_000, offset: 0 };
        let starts: Vec<_> = w.starts(130_000).collect();
        assert_eq!(starts, vec![120_000, 60_000, 0, -60_000, -120_000]);
        for s in starts {
            assert!(s <= 130_000 && 130_000 < s + 300_000);
        }
        // A step that does not divide the size.
        let w = WindowSpec::Hopping { size: 100, step: 30, offset: 0 };
        for t in 0..500 {
            let starts: Vec<_> = w.starts(t).collect();
            let expected: Vec<_> = (-200..=t).rev().filter(|s| s.rem_euclid(30) == 0 && *s <= t && t < s + 100).collect();
            assert_eq!(starts, expected, "t={t}");
        }
    }

    #[test]
    fn invalid_specs_are_config_errors() {
        assert!(WindowSpec::Tumbling { size: 0, offset: 0 }.validate().is_err());
        assert!(WindowSpec::Hopping { size: 10, step: 20, offset: 0 }.validate().is_err());
        assert!(WindowSpec::Hopping { size: 10, step: 0, offset: 0 }.validate().is_err());
    }
}
