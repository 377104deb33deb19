//! fleetstream's Rust core. Rooms stay independent: `logs`, `stream` and `routing` never import one another;
//! only `python` (behind the `python` feature) knows about pyo3.

pub mod error;
pub mod logs;
pub mod routing;
pub mod stream;
pub mod time;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
