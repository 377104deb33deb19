//! Composition only: pipelines built from the independent rooms (`logs`, `stream`, `kafka`,
//! `routing`), and
//! their checkpoints (operator state together with the input offset it corresponds to).

pub mod alerts;
pub mod dispatch;
pub mod money;
pub mod payments;

pub use alerts::{AlertsSpec, Intent, LineFormat, MergeAlerts, MergeStep, PartialCounts, PartialsStep};
pub use payments::{AmountUnit, EpochUnit, FieldPaths, PaymentsOperator, PaymentsSpec, PaymentsStep};
pub use dispatch::{DispatchCounts, DispatchOperator, DispatchSpec, DispatchStep};
