//! Where depots, orders and vans are, and the distances and driving times between them.
//!
//! Every place in use holds a slot: depots first, then orders and van positions as they come. A
//! slot is given back when its order leaves the plan and reused by the next, so the matrices grow
//! with the places open at once, not with the orders of the whole day. For coordinates, a new
//! place costs one row and one column (O(open places)); for given matrices, a place is an index
//! into them and nothing is computed. Distances and times are the ones `Model` builds (haversine
//! metres or rounded Euclidean units; times at each vehicle profile's speed), so a plan is priced
//! here exactly as the solver and the checkers price it.

use crate::error::{Error, Result};
use crate::routing::problem::{driving_time, euclidean_units, haversine_m, time_per_distance, Matrix, Profile};
use serde::{Deserialize, Serialize};

/// A place: coordinates (lat/lon or x/y, by the model's geometry) or an index into given matrices.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Place {
    Point(f64, f64),
    Site(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Geometry {
    /// Rounded Euclidean distances; times at each profile's speed (distance units per time unit).
    Planar { speeds: Vec<Option<f64>> },
    /// Haversine metres; times in seconds at each profile's speed in km/h.
    LatLon { speeds: Vec<Option<f64>> },
    /// Given `size` x `size` matrices (row-major): one distance, one duration per profile.
    Matrix { size: usize, distance: Vec<i64>, durations: Vec<Vec<i64>> },
}

impl Geometry {
    pub fn num_profiles(&self) -> usize {
        match self {
            Geometry::Planar { speeds } | Geometry::LatLon { speeds } => speeds.len(),
            Geometry::Matrix { durations, .. } => durations.len(),
        }
    }
}

/// Slots, their places, and (for coordinates) the matrices between slots, `stride` wide.
#[derive(Clone, Debug)]
pub struct Sites {
    geometry: Geometry,
    places: Vec<Option<Place>>,
    free: Vec<u32>,
    stride: usize,
    dist: Vec<i64>,
    dur: Vec<Vec<i64>>,
    per_unit: Vec<Option<f64>>,
}

/// What a snapshot keeps of `Sites`: the matrices are computed again on restore.
#[derive(Serialize, Deserialize)]
pub struct SitesState {
    pub geometry: Geometry,
    pub places: Vec<Option<Place>>,
    pub free: Vec<u32>,
}

const GROW: usize = 256;

impl Sites {
    pub fn new(geometry: Geometry) -> Result<Self> {
        let per_unit = match &geometry {
            Geometry::Planar { speeds } => speeds.iter().map(|&s| time_per_distance(false, s)).collect(),
            Geometry::LatLon { speeds } => speeds.iter().map(|&s| time_per_distance(true, s)).collect(),
            Geometry::Matrix { size, distance, durations } => {
                if distance.len() != size * size || durations.iter().any(|d| d.len() != size * size) {
                    return Err(Error::config(format!("given matrices must be {size}x{size}")));
                }
                vec![]
            }
        };
        if geometry.num_profiles() == 0 {
            return Err(Error::config("no distance/duration profile given"));
        }
        let profiles = geometry.num_profiles();
        Ok(Sites { geometry, places: vec![], free: vec![], stride: 0, dist: vec![], dur: vec![vec![]; profiles], per_unit })
    }

    pub fn state(&self) -> SitesState {
        SitesState { geometry: self.geometry.clone(), places: self.places.clone(), free: self.free.clone() }
    }

    pub fn from_state(state: SitesState) -> Result<Self> {
        let mut sites = Sites::new(state.geometry)?;
        sites.places = state.places;
        sites.free = state.free;
        sites.grow(sites.places.len());
        for slot in 0..sites.places.len() {
            if sites.places[slot].is_some() {
                sites.fill(slot);
            }
        }
        Ok(sites)
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Whether `place` fits the geometry; the message says why not.
    pub fn check(&self, place: &Place) -> std::result::Result<(), String> {
        match (&self.geometry, place) {
            (Geometry::Matrix { size, .. }, Place::Site(i)) if i < size => Ok(()),
            (Geometry::Matrix { size, .. }, Place::Site(i)) => Err(format!("site {i} is outside the given matrices (size {size})")),
            (Geometry::Matrix { .. }, Place::Point(..)) => Err("the model has given matrices: give a site index, not coordinates".into()),
            (_, Place::Site(_)) => Err("the model has coordinates: give lat/lon or x/y, not a site index".into()),
            (_, Place::Point(a, b)) if !(a.is_finite() && b.is_finite()) => Err(format!("coordinates ({a}, {b}) are not finite")),
            (Geometry::LatLon { .. }, Place::Point(lat, lon)) if !((-90.0..=90.0).contains(lat) && (-180.0..=180.0).contains(lon)) => {
                Err(format!("lat {lat}, lon {lon} is not a point on Earth"))
            }
            _ => Ok(()),
        }
    }

    /// A slot for `place` (checked by `check`).
    pub fn add(&mut self, place: Place) -> Result<u32> {
        self.check(&place).map_err(Error::config)?;
        let slot = match self.free.pop() {
            Some(s) => s as usize,
            None => {
                self.places.push(None);
                self.places.len() - 1
            }
        };
        self.places[slot] = Some(place);
        self.grow(self.places.len());
        self.fill(slot);
        Ok(slot as u32)
    }

    /// Moves slot `slot` to `place` (a van's position).
    pub fn set(&mut self, slot: u32, place: Place) -> Result<()> {
        self.check(&place).map_err(Error::config)?;
        self.places[slot as usize] = Some(place);
        self.fill(slot as usize);
        Ok(())
    }

    pub fn release(&mut self, slot: u32) {
        debug_assert!(self.places[slot as usize].is_some(), "slot {slot} released twice");
        self.places[slot as usize] = None;
        self.free.push(slot);
    }

    pub fn place(&self, slot: u32) -> Place {
        self.places[slot as usize].expect("a slot in use")
    }

    #[inline]
    pub fn dist(&self, a: u32, b: u32) -> i64 {
        match &self.geometry {
            Geometry::Matrix { size, distance, .. } => distance[self.site(a) * size + self.site(b)],
            _ => self.dist[a as usize * self.stride + b as usize],
        }
    }

    #[inline]
    pub fn dur(&self, profile: usize, a: u32, b: u32) -> i64 {
        match &self.geometry {
            Geometry::Matrix { size, durations, .. } => durations[profile][self.site(a) * size + self.site(b)],
            _ => self.dur[profile][a as usize * self.stride + b as usize],
        }
    }

    /// The distance from slot `from` to `place` (checked by `check`), e.g. to a reported position.
    pub fn distance_to(&self, from: u32, place: &Place) -> i64 {
        match (&self.geometry, place) {
            (Geometry::Matrix { size, distance, .. }, Place::Site(i)) => distance[self.site(from) * size + i],
            _ => self.raw_distance(&self.place(from), place),
        }
    }

    fn site(&self, slot: u32) -> usize {
        match self.places[slot as usize] {
            Some(Place::Site(i)) => i,
            other => unreachable!("slot {slot} of a matrix model holds {other:?}"),
        }
    }

    /// The distance and duration matrices over `slots` (in that order), one profile each.
    pub fn profiles(&self, slots: &[u32]) -> Vec<Profile> {
        let n = slots.len();
        (0..self.geometry.num_profiles())
            .map(|p| {
                let mut distance = Vec::with_capacity(n * n);
                let mut duration = Vec::with_capacity(n * n);
                for &a in slots {
                    for &b in slots {
                        distance.push(self.dist(a, b));
                        duration.push(self.dur(p, a, b));
                    }
                }
                Profile {
                    distance: Matrix::new(n, distance).expect("distances are never negative"),
                    duration: Matrix::new(n, duration).expect("times are never negative"),
                }
            })
            .collect()
    }

    fn raw_distance(&self, a: &Place, b: &Place) -> i64 {
        match (&self.geometry, a, b) {
            (Geometry::LatLon { .. }, Place::Point(a0, a1), Place::Point(b0, b1)) => haversine_m((*a0, *a1), (*b0, *b1)),
            (Geometry::Planar { .. }, Place::Point(a0, a1), Place::Point(b0, b1)) => euclidean_units((*a0, *a1), (*b0, *b1)),
            _ => unreachable!("raw distances are for coordinates"),
        }
    }

    /// Makes the matrices at least `needed` slots wide (in steps of `GROW`, keeping their values).
    fn grow(&mut self, needed: usize) {
        if matches!(self.geometry, Geometry::Matrix { .. }) || needed <= self.stride {
            return;
        }
        let stride = needed.div_ceil(GROW) * GROW;
        let relayout = |old: &[i64], old_stride: usize| {
            let mut out = vec![0; stride * stride];
            for i in 0..old_stride {
                out[i * stride..i * stride + old_stride].copy_from_slice(&old[i * old_stride..(i + 1) * old_stride]);
            }
            out
        };
        self.dist = relayout(&self.dist, self.stride);
        for d in &mut self.dur {
            *d = relayout(d, self.stride);
        }
        self.stride = stride;
    }

    /// Computes row and column `slot` against every slot in use.
    fn fill(&mut self, slot: usize) {
        if matches!(self.geometry, Geometry::Matrix { .. }) {
            return;
        }
        let here = self.places[slot].expect("a slot in use");
        let stride = self.stride;
        for other in 0..self.places.len() {
            let Some(there) = self.places[other] else { continue };
            let (to, from) = (self.raw_distance(&here, &there), self.raw_distance(&there, &here));
            self.dist[slot * stride + other] = to;
            self.dist[other * stride + slot] = from;
            for (p, per_unit) in self.per_unit.iter().enumerate() {
                self.dur[p][slot * stride + other] = driving_time(to, *per_unit);
                self.dur[p][other * stride + slot] = driving_time(from, *per_unit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::problem::haversine_matrix;

    #[test]
    fn slots_are_reused_and_matrices_match_the_models() {
        let points = [(52.52, 13.40), (52.50, 13.35), (52.53, 13.45), (52.48, 13.30)];
        let mut sites = Sites::new(Geometry::LatLon { speeds: vec![Some(30.0), None] }).unwrap();
        let slots: Vec<u32> = points.iter().map(|&(a, b)| sites.add(Place::Point(a, b)).unwrap()).collect();
        sites.release(slots[1]);
        let again = sites.add(Place::Point(52.49, 13.33)).unwrap();
        assert_eq!(again, slots[1], "the freed slot is reused");
        // Grow past one step of the matrices: values must survive the re-layout.
        for k in 0..300 {
            sites.add(Place::Point(52.0 + k as f64 / 1000.0, 13.0)).unwrap();
        }
        let all = [(52.52, 13.40), (52.49, 13.33), (52.53, 13.45), (52.48, 13.30)];
        let expected = haversine_matrix(&all);
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(sites.dist(slots[i], slots[j]), expected.get(i, j));
                let secs = (expected.get(i, j) as f64 * (3.6 / 30.0)).round() as i64;
                assert_eq!(sites.dur(0, slots[i], slots[j]), secs);
                assert_eq!(sites.dur(1, slots[i], slots[j]), expected.get(i, j));
            }
        }
        let restored = Sites::from_state(sites.state()).unwrap();
        assert_eq!(restored.dist(slots[2], slots[3]), sites.dist(slots[2], slots[3]));
        assert!(sites.check(&Place::Point(91.0, 0.0)).is_err());
        assert!(sites.check(&Place::Site(0)).is_err());
    }

    #[test]
    fn given_matrices_are_looked_up_by_site() {
        let distance = vec![0, 5, 7, 6, 0, 2, 9, 3, 0];
        let mut sites = Sites::new(Geometry::Matrix { size: 3, distance: distance.clone(), durations: vec![distance] }).unwrap();
        let a = sites.add(Place::Site(2)).unwrap();
        let b = sites.add(Place::Site(0)).unwrap();
        assert_eq!((sites.dist(a, b), sites.dist(b, a), sites.dur(0, a, b)), (9, 7, 9));
        assert!(sites.add(Place::Site(3)).is_err());
        assert!(sites.add(Place::Point(1.0, 2.0)).is_err());
    }
}
