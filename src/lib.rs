//! fleetstream's Rust core. Rooms stay independent: `logs`, `stream`, `kafka`, `enrich`, `sink` and `routing` never import
//! one another (`pipeline` composes them);
//! only `python` (behind the `python` feature) knows about pyo3.

pub mod enrich;
pub mod error;
pub mod kafka;
pub mod logs;
pub mod offsets;
pub mod pipeline;
pub mod routing;
pub mod sink;
pub mod stream;
pub mod time;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
