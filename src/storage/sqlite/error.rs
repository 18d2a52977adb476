//! SQLite errors to storage errors: busy or locked is UNAVAILABLE (retry later), a full disk
//! is UNAVAILABLE, anything else is INTERNAL (the detail goes to the log, never to callers).

use rusqlite::ErrorCode;

use crate::storage::StoreError;

/// Maps a driver error.
pub fn from_sqlite(error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable("the database is busy".to_owned())
        }
        Some(ErrorCode::DiskFull) => {
            StoreError::Unavailable("the database disk is full".to_owned())
        }
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::SystemIoFailure) => {
            StoreError::Unavailable(format!("the database cannot be written: {error}"))
        }
        Some(ErrorCode::ConstraintViolation) => {
            StoreError::AlreadyExists(format!("constraint violated: {error}"))
        }
        _ => StoreError::Internal(error.to_string()),
    }
}

/// Maps a protobuf decoding error of a stored blob.
pub fn from_decode(error: prost::DecodeError) -> StoreError {
    StoreError::Internal(format!("a stored record does not decode: {error}"))
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        from_sqlite(error)
    }
}

impl From<prost::DecodeError> for StoreError {
    fn from(error: prost::DecodeError) -> Self {
        from_decode(error)
    }
}
