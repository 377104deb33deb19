//! One error type for the whole core. `src/python/errors.rs` maps each variant to one class of the
//! Python exception tree under `fleetstream.FleetstreamError`.

use arrow_schema::ArrowError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A column is missing or has a type the operator cannot use (names the column and the type).
    #[error("{0}")]
    Schema(String),
    /// An option given to a constructor is invalid (names the option and the value).
    #[error("{0}")]
    Config(String),
    /// Text that had to be parsed as a whole (a duration, a pattern, a snapshot header) was malformed.
    #[error("{0}")]
    Parse(String),
    /// Bytes given to `restore` are not a snapshot of this operator, or come from an incompatible version.
    #[error("{0}")]
    Snapshot(String),
    /// Input that must arrive in order (spike detector windows) arrived out of order.
    #[error("{0}")]
    Order(String),
    /// A routing problem no solution can satisfy as given (names the client or vehicle type at fault).
    #[error("{0}")]
    Infeasible(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Kafka reported an error (unreachable broker, unknown topic, failed commit or seek). `code` is
    /// librdkafka's error name when there is one.
    #[error("{message}")]
    Kafka { message: String, code: Option<String> },
    /// Messages could not be delivered (too large, unknown topic, timed out).
    #[error("{message}")]
    KafkaDelivery { message: String, code: Option<String> },
    /// A newer producer with the same transactional.id fenced this one: it is a zombie and must stop.
    #[error("{0}")]
    KafkaFenced(String),
    /// The database refused or failed a sink operation (names the table and the statement's purpose).
    #[error("{0}")]
    Sink(String),
    /// Another writer took over a partition (its generation in the offsets table moved on): this
    /// writer is a zombie; its transaction was rolled back.
    #[error("{0}")]
    Fenced(String),
    /// A long native loop was asked to stop (Ctrl-C); the Python layer raises the signal's exception.
    #[error("interrupted")]
    Interrupted,
    #[error("Arrow error: {0}")]
    Arrow(#[from] ArrowError),
    /// A broken invariant inside fleetstream (a caught panic): a bug, reported with where it happened.
    #[error("internal error in {context}: {message} (a bug in fleetstream: please report it with this message)")]
    Internal { context: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn schema(msg: impl Into<String>) -> Self {
        Error::Schema(msg.into())
    }
    pub fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
    pub fn parse(msg: impl Into<String>) -> Self {
        Error::Parse(msg.into())
    }
    pub fn kafka(msg: impl Into<String>) -> Self {
        Error::Kafka { message: msg.into(), code: None }
    }

    pub fn infeasible(msg: impl Into<String>) -> Self {
        Error::Infeasible(msg.into())
    }
    pub fn sink(msg: impl Into<String>) -> Self {
        Error::Sink(msg.into())
    }
    pub fn snapshot(msg: impl Into<String>) -> Self {
        Error::Snapshot(msg.into())
    }

    /// Runs `work`, turning a panic inside it into `Error::Internal` naming `context`, so that a
    /// broken invariant reaches the caller as a typed error rather than unwinding through it.
    pub fn guard<T>(context: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| Err(Error::from_panic(context, payload)))
    }

    /// The internal error of a caught panic's payload.
    pub fn from_panic(context: &str, payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Error::Internal { context: context.to_string(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_an_internal_error_naming_the_context() {
        let error = Error::guard::<()>("Sessionizer.push", || panic!("index {} out of range", 7)).unwrap_err();
        assert!(matches!(&error, Error::Internal { context, message } if context == "Sessionizer.push" && message == "index 7 out of range"));
        assert!(error.to_string().starts_with("internal error in Sessionizer.push: index 7 out of range"));
        assert_eq!(Error::guard("ok", || Ok(3)).unwrap(), 3);
        assert!(matches!(Error::guard::<()>("typed", || Err(Error::config("bad"))), Err(Error::Config(m)) if m == "bad"));
    }
}
