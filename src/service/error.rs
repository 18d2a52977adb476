//! Errors of the service layer; `api::status` maps them to gRPC codes in one place.

use crate::convert::InvalidArgument;
use crate::storage::StoreError;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; every bad field is named.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    /// Something asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A create collides with what exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The stored state does not allow the request.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change got there first.
    #[error("{0}")]
    Aborted(String),
    /// Temporarily unable to serve; the detail is logged, not returned.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; the detail is logged, not returned.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => Self::NotFound(message),
            StoreError::AlreadyExists(message) => Self::AlreadyExists(message),
            StoreError::FailedPrecondition(message) => Self::FailedPrecondition(message),
            StoreError::Aborted(message) => Self::Aborted(message),
            StoreError::Unavailable(message) => Self::Unavailable(message),
            StoreError::Internal(message) => Self::Internal(message),
        }
    }
}

/// The result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;
