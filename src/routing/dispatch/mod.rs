//! Routing on a live day: re-planning with vans already out.
//!
//! `replan` (used by `fs.routing.insert`) turns a running plan into the problem of the rest of the
//! day. The `Dispatcher` keeps a plan live: orders arrive and are placed at once by cheapest
//! feasible insertion (`insertion`), vans report where they are (`events`) and their ETAs follow
//! (`schedule`), `improve` re-optimises what is not frozen with the solver's own search under a
//! stability cost, and the plan and its changes go out as rows (`plan`); `snapshot` saves it all.

mod events;
mod fleet;
mod improve;
pub mod input;
mod insertion;
mod order;
mod plan;
mod replan;
mod schedule;
mod sites;
mod snapshot;
mod state;

pub use events::{EventKind, EventReport, VehicleEvent};
pub use fleet::{Fleet, Settings, Van};
pub use improve::ImproveReport;
pub use order::{Fate, Order, OrderSpec, OrderState};
pub use plan::{PlanRow, RouteChange};
pub use replan::{fixed_stops, replan, stitch, Replan, RunningRoute};
pub use schedule::{Schedule, StopTimes};
pub use sites::{Geometry, Place, Sites};
pub use state::{Dispatcher, Outcome, Phase, Stats, VanState};

#[cfg(test)]
mod tests;
