//! Native work runs without the GIL, and a panic inside it never unwinds into Python: it becomes a
//! typed `InternalError` naming the call (`context`). Long work also stops promptly on Ctrl-C: it is
//! handed a check that briefly re-takes the GIL to run Python's signal handlers; a raised
//! KeyboardInterrupt (or any exception from a handler) ends the work and is re-raised as it was.

use crate::error::Error;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub type Interrupt<'a> = &'a mut dyn FnMut() -> crate::Result<()>;

/// Runs `work` without the GIL; its error, or a panic inside it, comes back as a Python exception.
pub fn detach<T, E, F>(py: Python<'_>, context: &str, work: F) -> PyResult<T>
where
    T: Send,
    E: Into<PyErr> + Send,
    F: FnOnce() -> Result<T, E> + Send,
{
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(result) => result.map_err(Into::into),
        Err(payload) => Err(Error::from_panic(context, payload).into()),
    }
}

/// Like `detach`, for long work that takes the interrupt check.
pub fn detach_interruptible<T, F>(py: Python<'_>, context: &str, work: F) -> PyResult<T>
where
    T: Send,
    F: for<'a> FnOnce(Interrupt<'a>) -> crate::Result<T> + Send,
{
    let mut pending: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut check = || -> crate::Result<()> {
            match Python::attach(|py| py.check_signals()) {
                Ok(()) => Ok(()),
                Err(e) => {
                    pending = Some(e);
                    Err(Error::Interrupted)
                }
            }
        };
        Error::guard(context, || work(&mut check))
    });
    if let Some(err) = pending {
        return Err(err);
    }
    result.map_err(PyErr::from)
}
