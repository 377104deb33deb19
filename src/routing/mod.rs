//! Last-mile vehicle routing: problem data, solutions, segment arithmetic, local search and the
//! metaheuristic. No pyo3 here; `src/python/routing.rs` wraps it.

pub mod cost;
pub mod dispatch;
pub mod local_search;
pub mod problem;
pub mod rng;
pub mod ruin;
pub mod search;
pub mod segment;
pub mod solution;
pub mod stop;
pub mod vrplib;

pub use problem::{Client, Depot, Matrix, ProblemData, Profile, VehicleType, INF, MAX_DIMS};
pub use search::{solve, Progress, SearchTuning, SolveParams, SolveResult};
pub use solution::{evaluate, evaluate_with_starts, Evaluation, Route, Solution};
pub use stop::StopCriteria;
