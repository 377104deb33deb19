//! The only place that imports pyo3: the `fleetstream._core` module and thin wrappers over the core.

use pyo3::prelude::*;

mod arrow;
mod dispatch;
mod errors;
mod gil;
mod kafka;
mod logs;
mod pipeline;
mod routing;
mod sink;
mod stream;

/// Milliseconds in a duration string such as "500ms", "5s", "1m", "2h", "1h30m".
#[pyfunction]
fn parse_duration(text: &str) -> PyResult<i64> {
    Ok(crate::time::parse_duration(text)?)
}

/// Panics inside a native call, as a broken invariant would: tests check that the boundary turns it
/// into `fleetstream.InternalError` naming the call, never a `PanicException`.
#[pyfunction]
fn _panic_in_native_call(py: Python<'_>, message: String) -> PyResult<()> {
    gil::detach(py, "_panic_in_native_call", || -> crate::Result<()> { panic!("{message}") })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(parse_duration, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_in_native_call, m)?)?;
    logs::register(m)?;
    stream::register(m)?;
    kafka::register(m)?;
    pipeline::register(m)?;
    routing::register(m)?;
    dispatch::register(m)?;
    sink::register(m)?;
    Ok(())
}
