//! PostgreSQL errors to storage errors: a lost or refused connection, a cancelled statement, a
//! full disk or a read-only server is UNAVAILABLE (retry later); a unique key taken or a
//! conflict with a concurrent transaction is retried inside the store first (see
//! [`retryable`]); anything else is INTERNAL (the detail goes to the log, never to callers).

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::storage::StoreError;

/// Maps a driver error.
pub fn from_postgres(error: tokio_postgres::Error) -> StoreError {
    let Some(database) = error.as_db_error() else {
        let io = std::error::Error::source(&error)
            .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some());
        return if error.is_closed() || io {
            StoreError::Unavailable(format!("the database connection failed: {error}"))
        } else {
            StoreError::Internal(error.to_string())
        };
    };
    let code = database.code();
    if *code == SqlState::UNIQUE_VIOLATION {
        StoreError::AlreadyExists(format!("constraint violated: {}", database.message()))
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        StoreError::Aborted("a concurrent write conflicted with this one; retry".to_owned())
    } else if unavailable(code) {
        StoreError::Unavailable(format!("the database refused: {}", database.message()))
    } else {
        StoreError::Internal(format!("{}: {}", code.code(), database.message()))
    }
}

/// Whether an error code means the database cannot serve now rather than a fault of ours:
/// connection exceptions (08), insufficient resources (53), operator intervention such as
/// a cancelled statement or a shutdown (57), system errors (58), a lock not available in
/// time, a read-only transaction, a database that takes no connections.
fn unavailable(code: &SqlState) -> bool {
    let class = &code.code()[..2];
    matches!(class, "08" | "53" | "57" | "58")
        || [
            SqlState::LOCK_NOT_AVAILABLE,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        ]
        .contains(code)
}

/// Whether a transaction that failed with `error` may succeed when run again from the start:
/// a concurrent transaction inserted the same key first, or the two deadlocked or conflicted.
pub fn retryable(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
    })
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        from_postgres(error)
    }
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            // A connection could not be made or checked: the database is not reachable.
            PoolError::Backend(error) => {
                StoreError::Unavailable(format!("no database connection: {error}"))
            }
            other => StoreError::Unavailable(format!("no database connection: {other}")),
        }
    }
}

/// Why a transaction body failed: the database (perhaps retryable) or the store's own refusal.
#[derive(Debug)]
pub enum Failure {
    /// A driver error.
    Database(tokio_postgres::Error),
    /// A refusal or a decoding error.
    Store(StoreError),
}

impl Failure {
    /// Whether running the transaction again may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Database(error) if retryable(error))
    }

    /// Whether the transaction lost a deadlock or a serialization conflict: the locks it
    /// holds are what the other one waits for, so it must give them all up (roll back
    /// entirely) before running again.
    pub fn conflicted(&self) -> bool {
        matches!(self, Self::Database(error) if error.code().is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        }))
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Database(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<prost::DecodeError> for Failure {
    fn from(error: prost::DecodeError) -> Self {
        Self::Store(error.into())
    }
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Database(error) => from_postgres(error),
            Failure::Store(error) => error,
        }
    }
}
