//! Long native work runs without the GIL and stops promptly on Ctrl-C: the work is handed a check
//! that briefly re-takes the GIL to run Python's signal handlers; a raised KeyboardInterrupt (or
//! any exception from a handler) ends the work and is re-raised as it was.

use crate::error::Error;
use pyo3::prelude::*;

pub type Interrupt<'a> = &'a mut dyn FnMut() -> crate::Result<()>;

pub fn detach_interruptible<T, F>(py: Python<'_>, work: F) -> PyResult<T>
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
        work(&mut check)
    });
    if let Some(err) = pending {
        return Err(err);
    }
    result.map_err(PyErr::from)
}
