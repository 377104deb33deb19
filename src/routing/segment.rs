//! Route-segment concatenation (Vidal et al. 2013; PyVRP's `DurationSegment`/`LoadSegment`): summaries
//! of a sequence of visits that merge in O(1), so a move is evaluated from cached prefix/suffix segments.

use super::problem::{Matrix, MAX_DIMS};

/// Duration and time-window summary of a visit sequence: its minimal duration (travel, service,
/// waiting), the time warp it cannot avoid, and the window of start times that achieves both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurSeg {
    pub first: u32,
    pub last: u32,
    pub duration: i64,
    pub time_warp: i64,
    pub early: i64,
    pub late: i64,
    /// The latest release time of the segment's clients: a route holding them leaves its start
    /// depot no earlier (their goods reach the depot then). Only a whole route's start is bound by it.
    pub release: i64,
}

impl DurSeg {
    /// One visit at `loc` with service time `service` that may start in [early, late].
    #[inline]
    pub fn visit(loc: usize, service: i64, early: i64, late: i64) -> Self {
        DurSeg {
            first: loc as u32,
            last: loc as u32,
            duration: service,
            time_warp: 0,
            early,
            late,
            release: 0,
        }
    }

    /// This visit, whose goods are ready at the depot at `release`.
    #[inline]
    pub fn with_release(mut self, release: i64) -> Self {
        self.release = release;
        self
    }

    /// `a` followed by `b`, travelling from `a.last` to `b.first` on `dur`.
    #[inline]
    pub fn merge(dur: &Matrix, a: &DurSeg, b: &DurSeg) -> DurSeg {
        Self::merge_edge(dur.get(a.last as usize, b.first as usize), a, b)
    }

    /// `a` followed by `b`, travelling `edge` from one to the other.
    #[inline]
    pub fn merge_edge(edge: i64, a: &DurSeg, b: &DurSeg) -> DurSeg {
        let at_second = a.duration - a.time_warp + edge;
        let wait = (b.early - at_second - a.late).max(0);
        let warp = (a.early + at_second - b.late).max(0);
        DurSeg {
            first: a.first,
            last: b.last,
            duration: a.duration + b.duration + edge + wait,
            time_warp: a.time_warp + b.time_warp + warp,
            early: (b.early - at_second).max(a.early) - wait,
            late: (b.late - at_second).min(a.late) + warp,
            release: a.release.max(b.release),
        }
    }

    /// Time warp of a whole route (the segment starts at its start depot): leaving at the release
    /// time when that is after the latest start, and the excess over a maximum route duration.
    #[inline]
    pub fn total_time_warp(&self, max_duration: i64) -> i64 {
        self.time_warp + (self.release - self.late).max(0) + (self.duration - max_duration).max(0)
    }

    /// The earliest start of a whole route that achieves its minimal duration and time warp.
    #[inline]
    pub fn start(&self) -> i64 {
        self.early.min(self.late).max(self.release)
    }
}

/// Load summary of a visit sequence with deliveries (loaded at the depot) and pickups (brought back):
/// total delivery, total pickup, and the largest load on board anywhere in the sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LoadSeg {
    pub delivery: [i64; MAX_DIMS],
    pub pickup: [i64; MAX_DIMS],
    pub load: [i64; MAX_DIMS],
}

impl LoadSeg {
    pub fn visit(delivery: &[i64], pickup: &[i64]) -> Self {
        let mut s = LoadSeg::default();
        for d in 0..delivery.len() {
            s.delivery[d] = delivery[d];
            s.pickup[d] = pickup[d];
            s.load[d] = delivery[d].max(pickup[d]);
        }
        s
    }

    #[inline]
    pub fn merge(a: &LoadSeg, b: &LoadSeg, dims: usize) -> LoadSeg {
        let mut s = LoadSeg::default();
        for d in 0..dims {
            s.delivery[d] = a.delivery[d] + b.delivery[d];
            s.pickup[d] = a.pickup[d] + b.pickup[d];
            s.load[d] = (a.load[d] + b.delivery[d]).max(b.load[d] + a.pickup[d]);
        }
        s
    }

    /// Sum over dimensions of the load above capacity.
    #[inline]
    pub fn excess(&self, capacity: &[i64]) -> i64 {
        capacity
            .iter()
            .zip(&self.load)
            .map(|(c, l)| (l - c).max(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::problem::Matrix;

    /// The plain forward simulation the segments must agree with.
    fn simulate(dur: &Matrix, visits: &[(usize, i64, i64, i64)], start: i64) -> (i64, i64) {
        let (mut t, mut warp) = (start, 0);
        let mut prev: Option<usize> = None;
        for &(loc, service, e, l) in visits {
            if let Some(p) = prev {
                t += dur.get(p, loc);
            }
            if t < e {
                t = e;
            }
            if t > l {
                warp += t - l;
                t = l;
            }
            t += service;
            prev = Some(loc);
        }
        (t - start, warp)
    }

    #[test]
    fn merge_matches_forward_simulation() {
        let mut rng = crate::routing::rng::Rng::new(3);
        for _ in 0..2000 {
            let n = 6;
            let data: Vec<i64> = (0..n * n).map(|_| rng.below(20) as i64).collect();
            let dur = Matrix::new(n, data).unwrap();
            let k = 1 + rng.below(5);
            let visits: Vec<_> = (0..k)
                .map(|_| {
                    let e = rng.below(60) as i64;
                    (
                        rng.below(n),
                        rng.below(5) as i64,
                        e,
                        e + rng.below(30) as i64,
                    )
                })
                .collect();
            let mut seg = DurSeg::visit(visits[0].0, visits[0].1, visits[0].2, visits[0].3);
            for v in &visits[1..] {
                seg = DurSeg::merge(&dur, &seg, &DurSeg::visit(v.0, v.1, v.2, v.3));
            }
            // Starting at `early` gives minimal time warp and minimal duration.
            let (d, w) = simulate(&dur, &visits, seg.early.min(seg.late));
            assert_eq!(w, seg.time_warp, "{visits:?} {seg:?}");
            if seg.time_warp == 0 {
                assert_eq!(d, seg.duration, "{visits:?} {seg:?}");
            }
            // No start time does better on time warp.
            for start in 0..100 {
                assert!(simulate(&dur, &visits, start).1 >= seg.time_warp);
            }
        }
    }

    #[test]
    fn release_times_delay_the_start_of_a_route() {
        // Oracle: the least time warp over every start at or after the release, by simulation.
        let mut rng = crate::routing::rng::Rng::new(5);
        for _ in 0..2000 {
            let n = 5;
            let data: Vec<i64> = (0..n * n).map(|_| rng.below(20) as i64).collect();
            let dur = Matrix::new(n, data).unwrap();
            let depot_late = 20 + rng.below(60) as i64;
            let mut visits = vec![(0, 0, 0, depot_late)];
            let mut seg = DurSeg::visit(0, 0, 0, depot_late);
            let mut release = 0;
            for _ in 0..1 + rng.below(4) {
                let e = rng.below(80) as i64;
                let v = (1 + rng.below(n - 1), rng.below(5) as i64, e, e + rng.below(40) as i64);
                let r = if rng.below(2) == 0 { 0 } else { rng.below(90) as i64 };
                release = release.max(r);
                visits.push(v);
                seg = DurSeg::merge(&dur, &seg, &DurSeg::visit(v.0, v.1, v.2, v.3).with_release(r));
            }
            assert_eq!(seg.release, release);
            let best = (release..release + 200).map(|s| simulate(&dur, &visits, s).1).min().unwrap();
            assert_eq!(seg.total_time_warp(i64::MAX / 4), best, "{visits:?} release {release} {seg:?}");
            assert_eq!(simulate(&dur, &visits, seg.start()).1, best, "{visits:?} {seg:?}");
        }
    }

    #[test]
    fn load_tracks_pickups_and_deliveries() {
        let a = LoadSeg::visit(&[5], &[0]);
        let b = LoadSeg::visit(&[0], &[7]);
        let ab = LoadSeg::merge(&a, &b, 1);
        assert_eq!(ab.load[0], 7); // 5 on board leaving the depot, 7 after the pickup
        let ba = LoadSeg::merge(&b, &a, 1);
        assert_eq!(ba.load[0], 12); // 5 loaded plus 7 picked up before the drop
        assert_eq!(ba.excess(&[10]), 2);
    }
}
