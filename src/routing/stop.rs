//! Composable stopping criteria: the search stops as soon as any given criterion is met.

use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StopCriteria {
    pub max_runtime: Option<Duration>,
    pub max_iterations: Option<u64>,
    /// Iterations without a new best solution.
    pub no_improvement: Option<u64>,
}

impl StopCriteria {
    pub fn runtime(d: Duration) -> Self {
        StopCriteria {
            max_runtime: Some(d),
            ..Default::default()
        }
    }
    pub fn iterations(n: u64) -> Self {
        StopCriteria {
            max_iterations: Some(n),
            ..Default::default()
        }
    }
    /// Both criteria: stop when either is met.
    pub fn or(mut self, other: StopCriteria) -> Self {
        fn min<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        self.max_runtime = min(self.max_runtime, other.max_runtime);
        self.max_iterations = min(self.max_iterations, other.max_iterations);
        self.no_improvement = min(self.no_improvement, other.no_improvement);
        self
    }
    pub fn is_bounded(&self) -> bool {
        self.max_runtime.is_some() || self.max_iterations.is_some() || self.no_improvement.is_some()
    }
    pub fn done(&self, elapsed: Duration, iterations: u64, since_improvement: u64) -> bool {
        self.max_runtime.is_some_and(|m| elapsed >= m)
            || self.max_iterations.is_some_and(|m| iterations >= m)
            || self.no_improvement.is_some_and(|m| since_improvement >= m)
    }
    /// How far through the budget the search is, in [0, 1], for annealing schedules.
    pub fn fraction(&self, elapsed: Duration, iterations: u64) -> Option<f64> {
        let t = self
            .max_runtime
            .map(|m| elapsed.as_secs_f64() / m.as_secs_f64().max(1e-9));
        let i = self
            .max_iterations
            .map(|m| iterations as f64 / m.max(1) as f64);
        match (t, i) {
            (Some(a), Some(b)) => Some(a.max(b).min(1.0)),
            (a, b) => a.or(b).map(|f| f.min(1.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_compose() {
        let s = StopCriteria::runtime(Duration::from_secs(10)).or(StopCriteria::iterations(100));
        assert!(!s.done(Duration::from_secs(1), 99, 0));
        assert!(s.done(Duration::from_secs(1), 100, 0));
        assert!(s.done(Duration::from_secs(10), 1, 0));
        let s = s.or(StopCriteria {
            no_improvement: Some(5),
            ..Default::default()
        });
        assert!(s.done(Duration::ZERO, 1, 5));
        assert_eq!(s.fraction(Duration::from_secs(5), 10), Some(0.5));
    }
}
