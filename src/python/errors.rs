//! The one mapping from the core's `Error` to the Python exception tree in `fleetstream/exceptions.py`.

use crate::error::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

fn exception_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = py.import("fleetstream.exceptions")?;
    Ok(module.getattr(name)?.cast_into::<PyType>()?)
}

fn class_name(error: &Error) -> &'static str {
    match error {
        Error::Schema(_) => "SchemaError",
        Error::Config(_) => "ConfigError",
        Error::Parse(_) => "ParseError",
        Error::Snapshot(_) => "SnapshotError",
        Error::Order(_) => "OrderError",
        Error::Infeasible(_) => "InfeasibleProblemError",
        Error::Io { .. } => "FleetstreamIOError",
        Error::Kafka { .. } => "KafkaError",
        Error::KafkaDelivery { .. } => "KafkaDeliveryError",
        Error::KafkaFenced(_) => "KafkaFencedError",
        Error::Sink(_) => "SinkError",
        Error::Fenced(_) => "FencedError",
        Error::Interrupted => "FleetstreamError",
        Error::Arrow(_) => "SchemaError",
        Error::Internal { .. } => "InternalError",
    }
}

impl From<Error> for PyErr {
    fn from(error: Error) -> PyErr {
        let message = error.to_string();
        let code = match &error {
            Error::Kafka { code, .. } | Error::KafkaDelivery { code, .. } => code.clone(),
            _ => None,
        };
        Python::attach(|py| match exception_class(py, class_name(&error)) {
            Ok(class) if matches!(error, Error::Kafka { .. } | Error::KafkaDelivery { .. }) => {
                PyErr::from_type(class, (message, code))
            }
            Ok(class) => PyErr::from_type(class, message),
            // Only reachable if the Python package is broken; still never a panic.
            Err(_) => PyRuntimeError::new_err(message),
        })
    }
}
