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

/// Only the extension module sets the allocator (a Rust program linking the library picks its own).
/// Rust's allocations never cross to Python's allocator: Arrow buffers handed to Python are released
/// through their own callbacks, back into this one.
#[cfg(feature = "python")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use error::{Error, Result};
