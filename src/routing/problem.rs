//! Immutable problem data: depots, clients, vehicle types and integer distance/duration matrices.
//!
//! Locations are numbered depots first, then clients (as in VRPLIB files and PyVRP), so location
//! `num_depots() + c` is client `c`. All quantities are integers: callers round coordinates-derived
//! distances and times before building the problem (see `matrix` and `vrplib`).

use crate::error::{Error, Result};

/// Capacity dimensions supported per problem (loads are kept in fixed-size arrays in the hot loops).
pub const MAX_DIMS: usize = 4;
/// "No limit" for times, durations and distances: large, yet far from overflowing when summed.
pub const INF: i64 = 1 << 50;

/// A square integer matrix stored row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    n: usize,
    data: Vec<i64>,
}

impl Matrix {
    pub fn new(n: usize, data: Vec<i64>) -> Result<Self> {
        if data.len() != n * n {
            return Err(Error::config(format!(
                "matrix has {} entries, expected {n}x{n} = {}",
                data.len(),
                n * n
            )));
        }
        if let Some(pos) = data.iter().position(|&v| v < 0) {
            return Err(Error::config(format!(
                "matrix entry ({}, {}) is negative",
                pos / n,
                pos % n
            )));
        }
        Ok(Matrix { n, data })
    }
    pub fn zeros(n: usize) -> Self {
        Matrix {
            n,
            data: vec![0; n * n],
        }
    }
    pub fn size(&self) -> usize {
        self.n
    }
    #[inline(always)]
    pub fn get(&self, i: usize, j: usize) -> i64 {
        // SAFETY-free fast path: indices come from the solver's own location numbering.
        self.data[i * self.n + j]
    }
    pub fn set(&mut self, i: usize, j: usize, v: i64) {
        self.data[i * self.n + j] = v;
    }
    pub fn data(&self) -> &[i64] {
        &self.data
    }
}

/// Euclidean distances between points, rounded by `round` (e.g. `f64::round`).
pub fn euclidean_matrix(xy: &[(f64, f64)], scale: f64, round: impl Fn(f64) -> f64) -> Matrix {
    let n = xy.len();
    let mut data = Vec::with_capacity(n * n);
    for a in xy {
        for b in xy {
            let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
            data.push(round(d * scale) as i64);
        }
    }
    Matrix { n, data }
}

/// Great-circle (haversine, geo's mean Earth radius) distances in metres between (lat, lon) points,
/// rounded to the metre.
pub fn haversine_matrix(latlon: &[(f64, f64)]) -> Matrix {
    let n = latlon.len();
    let mut data = Vec::with_capacity(n * n);
    for &a in latlon {
        for &b in latlon {
            data.push(haversine_m(a, b));
        }
    }
    Matrix { n, data }
}

/// The great-circle distance in metres between two (lat, lon) points, rounded to the metre.
#[inline]
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> i64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0)).round() as i64
}

/// The Euclidean distance between two points, rounded to a whole unit (as `euclidean_matrix` with
/// `f64::round`).
#[inline]
pub fn euclidean_units(a: (f64, f64), b: (f64, f64)) -> i64 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt().round() as i64
}

/// Time units per distance unit at `speed` (km/h for lat/lon in metres and seconds, distance
/// units per time unit for planar coordinates); None: times equal distances.
pub fn time_per_distance(latlon: bool, speed: Option<f64>) -> Option<f64> {
    speed.map(|v| if latlon { 3.6 / v } else { 1.0 / v })
}

/// The driving time of `distance` at `per_unit` (see `time_per_distance`), rounded.
#[inline]
pub fn driving_time(distance: i64, per_unit: Option<f64>) -> i64 {
    match per_unit {
        None => distance,
        Some(k) => (distance as f64 * k).round() as i64,
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Depot {
    pub x: f64,
    pub y: f64,
    /// Opening hours: vehicles leave and return within them.
    pub tw_early: i64,
    pub tw_late: i64,
}

impl Depot {
    pub fn at(x: f64, y: f64) -> Self {
        Depot {
            x,
            y,
            tw_early: 0,
            tw_late: INF,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    pub x: f64,
    pub y: f64,
    /// Goods loaded at the depot and dropped here, one entry per capacity dimension.
    pub delivery: Vec<i64>,
    /// Goods picked up here and brought back to the depot.
    pub pickup: Vec<i64>,
    pub service: i64,
    /// When service may start: sorted, disjoint, at least one.
    pub time_windows: Vec<(i64, i64)>,
    /// Earned when visited; an optional client is dropped when serving it costs more than this.
    pub prize: i64,
    pub required: bool,
    /// Bit set of skills a vehicle needs to serve this client.
    pub skills: u64,
    /// Its goods reach the depot at this time: the route serving it leaves no earlier (0: none).
    pub release: i64,
    /// Live dispatch: the vehicle type this client was promised to, and what serving it with
    /// another vehicle type costs (re-planning pays to move a promised stop, so plans stay stable).
    pub promised: Option<(usize, i64)>,
}

impl Client {
    pub fn at(x: f64, y: f64) -> Self {
        Client {
            x,
            y,
            delivery: vec![],
            pickup: vec![],
            service: 0,
            time_windows: vec![(0, INF)],
            prize: 0,
            required: true,
            skills: 0,
            release: 0,
            promised: None,
        }
    }

    /// What serving this client with vehicle type `vt` costs on top of the route (see `promised`).
    #[inline(always)]
    pub fn move_cost(&self, vt: usize) -> i64 {
        match self.promised {
            Some((p, cost)) if p != vt => cost,
            _ => 0,
        }
    }

    pub fn tw_early(&self) -> i64 {
        self.time_windows[0].0
    }
    pub fn tw_late(&self) -> i64 {
        self.time_windows[self.time_windows.len() - 1].1
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VehicleType {
    pub count: usize,
    pub capacity: Vec<i64>,
    pub start_depot: usize,
    pub end_depot: usize,
    /// Shift: the vehicle leaves its start depot at or after `tw_early`, is back by `tw_late`.
    pub tw_early: i64,
    pub tw_late: i64,
    pub max_duration: i64,
    pub max_distance: i64,
    /// Paid once per used vehicle.
    pub fixed_cost: i64,
    /// Cost per unit of distance.
    pub unit_distance_cost: i64,
    /// Cost per unit of route duration (including waiting).
    pub unit_duration_cost: i64,
    /// Which distance/duration matrix pair this vehicle type uses (e.g. a slower van).
    pub profile: usize,
    pub skills: u64,
}

impl VehicleType {
    pub fn new(count: usize, capacity: Vec<i64>) -> Self {
        VehicleType {
            count,
            capacity,
            start_depot: 0,
            end_depot: 0,
            tw_early: 0,
            tw_late: INF,
            max_duration: INF,
            max_distance: INF,
            fixed_cost: 0,
            unit_distance_cost: 1,
            unit_duration_cost: 0,
            profile: 0,
            skills: 0,
        }
    }
}

/// One distance and one duration matrix, over all locations.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub distance: Matrix,
    pub duration: Matrix,
}

#[derive(Clone, Debug)]
pub struct ProblemData {
    pub depots: Vec<Depot>,
    pub clients: Vec<Client>,
    pub vehicle_types: Vec<VehicleType>,
    pub profiles: Vec<Profile>,
    pub num_dims: usize,
    /// Whether any client is promised to a vehicle type (the search then prices moving it).
    pub has_promises: bool,
}

impl ProblemData {
    /// Checks the data and returns a typed error naming the culprit: `Config` for malformed input,
    /// `Infeasible` for a client no vehicle can ever serve.
    pub fn new(
        depots: Vec<Depot>,
        clients: Vec<Client>,
        vehicle_types: Vec<VehicleType>,
        profiles: Vec<Profile>,
    ) -> Result<Self> {
        let data = Self::unchecked_servability(depots, clients, vehicle_types, profiles)?;
        if !data.clients.is_empty() && data.vehicle_types.iter().all(|v| v.count == 0) {
            return Err(Error::config("the problem has clients but no vehicle"));
        }
        data.check_servable()?;
        Ok(data)
    }

    /// Checks the data like `new` except that clients no vehicle can serve are allowed (see
    /// `unservable`): re-planning a running day lists them instead of refusing the day.
    pub fn unchecked_servability(
        depots: Vec<Depot>,
        clients: Vec<Client>,
        vehicle_types: Vec<VehicleType>,
        profiles: Vec<Profile>,
    ) -> Result<Self> {
        let num_dims = vehicle_types
            .iter()
            .map(|v| v.capacity.len())
            .chain(clients.iter().map(|c| c.delivery.len().max(c.pickup.len())))
            .max()
            .unwrap_or(0);
        let mut data = ProblemData {
            depots,
            clients,
            vehicle_types,
            profiles,
            num_dims,
            has_promises: false,
        };
        data.has_promises = data.clients.iter().any(|c| c.promised.is_some());
        data.normalise_dims();
        data.validate()?;
        Ok(data)
    }

    fn normalise_dims(&mut self) {
        let d = self.num_dims;
        for c in &mut self.clients {
            c.delivery.resize(d, 0);
            c.pickup.resize(d, 0);
        }
        for v in &mut self.vehicle_types {
            // A vehicle type that states no capacity has none to exceed.
            if v.capacity.is_empty() {
                v.capacity = vec![INF; d];
            }
            v.capacity.resize(d, 0);
        }
    }

    fn validate(&self) -> Result<()> {
        let cfg = |m: String| Err(Error::Config(m));
        if self.num_dims > MAX_DIMS {
            return cfg(format!(
                "{} capacity dimensions given, at most {MAX_DIMS} are supported",
                self.num_dims
            ));
        }
        if !self.clients.is_empty() && self.depots.is_empty() {
            return cfg("the problem has clients but no depot".into());
        }
        let n = self.num_locations();
        if self.profiles.is_empty() {
            return cfg("no distance/duration matrices given".into());
        }
        for (p, prof) in self.profiles.iter().enumerate() {
            if prof.distance.size() != n || prof.duration.size() != n {
                return cfg(format!(
                    "profile {p}: matrices are {}x{} and {}x{}, expected {n}x{n} (depots + clients)",
                    prof.distance.size(),
                    prof.distance.size(),
                    prof.duration.size(),
                    prof.duration.size()
                ));
            }
        }
        for (i, d) in self.depots.iter().enumerate() {
            if !(d.x.is_finite() && d.y.is_finite()) {
                return cfg(format!(
                    "depot {i} has non-finite coordinates ({}, {})",
                    d.x, d.y
                ));
            }
            if d.tw_early > d.tw_late {
                return cfg(format!(
                    "depot {i}: opening {} is after closing {}",
                    d.tw_early, d.tw_late
                ));
            }
        }
        for (t, v) in self.vehicle_types.iter().enumerate() {
            if v.start_depot >= self.depots.len() || v.end_depot >= self.depots.len() {
                return cfg(format!(
                    "vehicle type {t}: depot {} or {} does not exist",
                    v.start_depot, v.end_depot
                ));
            }
            if v.profile >= self.profiles.len() {
                return cfg(format!(
                    "vehicle type {t}: profile {} does not exist",
                    v.profile
                ));
            }
            if v.tw_early > v.tw_late {
                return cfg(format!(
                    "vehicle type {t}: shift starts at {} after it ends at {}",
                    v.tw_early, v.tw_late
                ));
            }
            if v.capacity.iter().any(|&c| c < 0)
                || v.max_duration < 0
                || v.max_distance < 0
                || v.fixed_cost < 0
            {
                return cfg(format!("vehicle type {t}: capacity, max_duration, max_distance and fixed_cost must be >= 0"));
            }
            if v.unit_distance_cost < 0 || v.unit_duration_cost < 0 {
                return cfg(format!("vehicle type {t}: unit costs must be >= 0"));
            }
        }
        for (i, c) in self.clients.iter().enumerate() {
            if !(c.x.is_finite() && c.y.is_finite()) {
                return cfg(format!(
                    "client {i} has non-finite coordinates ({}, {})",
                    c.x, c.y
                ));
            }
            if c.delivery.iter().chain(&c.pickup).any(|&q| q < 0) || c.service < 0 || c.prize < 0 {
                return cfg(format!(
                    "client {i}: demands, service time and prize must be >= 0"
                ));
            }
            if c.release < 0 {
                return cfg(format!("client {i}: release time {} is negative", c.release));
            }
            if let Some((vt, cost)) = c.promised {
                if vt >= self.vehicle_types.len() || cost < 0 {
                    return cfg(format!(
                        "client {i}: promised to vehicle type {vt} at a cost of {cost}; expected an existing type and a cost >= 0"
                    ));
                }
            }
            if c.time_windows.is_empty() {
                return cfg(format!("client {i} has no time window"));
            }
            for (k, w) in c.time_windows.iter().enumerate() {
                if w.0 > w.1 {
                    return cfg(format!(
                        "client {i}: time window {k} opens at {} after it closes at {}",
                        w.0, w.1
                    ));
                }
                if k > 0 && w.0 <= c.time_windows[k - 1].1 {
                    return cfg(format!(
                        "client {i}: time windows must be sorted and disjoint"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every required client must be servable by some vehicle type on its own.
    fn check_servable(&self) -> Result<()> {
        match self.unservable().into_iter().find(|(i, _)| self.clients[*i].required) {
            Some((i, why)) => Err(Error::infeasible(format!(
                "client {i} cannot be served by any vehicle: {why}"
            ))),
            None => Ok(()),
        }
    }

    /// Clients (index, reason) that no vehicle type can serve even on a route of their own:
    /// capacity, skills, or no time window reachable from the depot within the shift.
    pub fn unservable(&self) -> Vec<(usize, String)> {
        self.unservable_named(&|t| format!("vehicle type {t}"))
    }

    /// `unservable`, naming vehicle type `t` as `name(t)` in the reasons.
    pub fn unservable_named(&self, name: &dyn Fn(usize) -> String) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            let loc = self.depots.len() + i;
            let mut why = Vec::new();
            let mut ok = false;
            for (t, v) in self
                .vehicle_types
                .iter()
                .enumerate()
                .filter(|(_, v)| v.count > 0)
            {
                if let Some(d) =
                    (0..self.num_dims).find(|&d| c.delivery[d].max(c.pickup[d]) > v.capacity[d])
                {
                    why.push(format!(
                        "demand {} in dimension {d} exceeds the capacity {} of {}",
                        c.delivery[d].max(c.pickup[d]),
                        v.capacity[d],
                        name(t)
                    ));
                    continue;
                }
                if c.skills & !v.skills != 0 {
                    why.push(format!("{} lacks a required skill", name(t)));
                    continue;
                }
                let prof = &self.profiles[v.profile];
                let (s, e) = (&self.depots[v.start_depot], &self.depots[v.end_depot]);
                let start = v.tw_early.max(s.tw_early).max(c.release);
                let arrive = start + prof.duration.get(v.start_depot, loc);
                let begin = c
                    .time_windows
                    .iter()
                    .find(|w| w.1 >= arrive)
                    .map(|w| w.0.max(arrive));
                let Some(begin) = begin else {
                    why.push(format!(
                        "time window closing at {} cannot be reached by {} (earliest arrival {arrive})",
                        c.tw_late(),
                        name(t)
                    ));
                    continue;
                };
                let back = begin + c.service + prof.duration.get(loc, v.end_depot);
                if back > v.tw_late.min(e.tw_late) {
                    why.push(format!(
                        "{} cannot serve it and return before its shift ends at {} (earliest return {back})",
                        name(t),
                        v.tw_late.min(e.tw_late)
                    ));
                    continue;
                }
                ok = true;
                break;
            }
            if !ok {
                let why = if why.is_empty() {
                    "no vehicle is available".to_string()
                } else {
                    why.join("; ")
                };
                out.push((i, why));
            }
        }
        out
    }

    pub fn num_depots(&self) -> usize {
        self.depots.len()
    }
    pub fn num_clients(&self) -> usize {
        self.clients.len()
    }
    pub fn num_locations(&self) -> usize {
        self.depots.len() + self.clients.len()
    }
    pub fn num_vehicles(&self) -> usize {
        self.vehicle_types.iter().map(|v| v.count).sum()
    }
    /// The client at location `loc` (which must not be a depot).
    #[inline(always)]
    pub fn client(&self, loc: usize) -> &Client {
        &self.clients[loc - self.depots.len()]
    }
    pub fn is_depot(&self, loc: usize) -> bool {
        loc < self.depots.len()
    }
    pub fn xy(&self, loc: usize) -> (f64, f64) {
        if loc < self.depots.len() {
            (self.depots[loc].x, self.depots[loc].y)
        } else {
            let c = self.client(loc);
            (c.x, c.y)
        }
    }
}

#[cfg(test)]
pub use tests::planar;

#[cfg(test)]
mod tests {
    use super::*;

    pub fn planar(
        depot: (f64, f64),
        clients: &[(f64, f64, i64)],
        vehicles: usize,
        capacity: i64,
    ) -> ProblemData {
        let mut xy = vec![depot];
        xy.extend(clients.iter().map(|c| (c.0, c.1)));
        let m = euclidean_matrix(&xy, 1.0, f64::round);
        let clients = clients
            .iter()
            .map(|c| Client {
                delivery: vec![c.2],
                ..Client::at(c.0, c.1)
            })
            .collect();
        ProblemData::new(
            vec![Depot::at(depot.0, depot.1)],
            clients,
            vec![VehicleType::new(vehicles, vec![capacity])],
            vec![Profile {
                distance: m.clone(),
                duration: m,
            }],
        )
        .unwrap()
    }

    #[test]
    fn demand_exceeding_every_capacity_names_the_client() {
        let mut xy = vec![(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)];
        xy.truncate(3);
        let m = euclidean_matrix(&xy, 1.0, f64::round);
        let clients = vec![
            Client {
                delivery: vec![5],
                ..Client::at(1.0, 0.0)
            },
            Client {
                delivery: vec![50],
                ..Client::at(2.0, 0.0)
            },
        ];
        let err = ProblemData::new(
            vec![Depot::at(0.0, 0.0)],
            clients,
            vec![VehicleType::new(2, vec![10])],
            vec![Profile {
                distance: m.clone(),
                duration: m,
            }],
        )
        .unwrap_err();
        assert!(matches!(err, Error::Infeasible(_)));
        assert!(err.to_string().contains("client 1"), "{err}");
        assert!(err.to_string().contains("capacity 10"), "{err}");
    }

    #[test]
    fn unreachable_time_window_and_nan_are_reported() {
        let xy = vec![(0.0, 0.0), (100.0, 0.0)];
        let m = euclidean_matrix(&xy, 1.0, f64::round);
        let profile = Profile {
            distance: m.clone(),
            duration: m,
        };
        let c = Client {
            time_windows: vec![(0, 50)],
            ..Client::at(100.0, 0.0)
        };
        let err = ProblemData::new(
            vec![Depot::at(0.0, 0.0)],
            vec![c],
            vec![VehicleType::new(1, vec![])],
            vec![profile.clone()],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("client 0") && err.to_string().contains("cannot be reached"),
            "{err}"
        );
        let c = Client::at(f64::NAN, 0.0);
        let err = ProblemData::new(
            vec![Depot::at(0.0, 0.0)],
            vec![c],
            vec![VehicleType::new(1, vec![])],
            vec![profile],
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Config(_)) && err.to_string().contains("client 0"),
            "{err}"
        );
    }

    #[test]
    fn haversine_berlin_to_potsdam_is_about_27_km() {
        let m = haversine_matrix(&[(52.5200, 13.4050), (52.3906, 13.0645)]);
        assert!((26_000..28_500).contains(&m.get(0, 1)), "{}", m.get(0, 1));
        assert_eq!(m.get(0, 1), m.get(1, 0));
    }

    #[test]
    fn haversine_matches_the_textbook_formula() {
        // Independent oracle: the haversine formula with the mean Earth radius (IUGG, 6,371,008.8 m).
        fn textbook(a: (f64, f64), b: (f64, f64)) -> f64 {
            let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
            let (dphi, dl) = (p2 - p1, (b.1 - a.1).to_radians());
            let h = (dphi / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
            2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
        }
        let points = [(52.52, 13.405), (48.8566, 2.3522), (-33.8688, 151.2093), (0.0, 179.9), (0.0, -179.9), (89.9, 0.0)];
        let m = haversine_matrix(&points);
        for (i, &a) in points.iter().enumerate() {
            for (j, &b) in points.iter().enumerate() {
                let expected = textbook(a, b);
                assert!((m.get(i, j) as f64 - expected).abs() <= 1.0, "{a:?} -> {b:?}: {} vs {expected}", m.get(i, j));
            }
        }
    }

    #[test]
    fn helper_builds() {
        let p = planar((0.0, 0.0), &[(3.0, 4.0, 1)], 1, 10);
        assert_eq!(p.profiles[0].distance.get(0, 1), 5);
        assert_eq!(p.num_dims, 1);
    }
}

