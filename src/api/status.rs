//! Service errors to gRPC statuses, in one place. INVALID_ARGUMENT carries a
//! `google.rpc.BadRequest` with every field violation; INTERNAL and UNAVAILABLE carry a fixed
//! message and a correlation id that is also in the log with the cause (never a driver
//! message, a path or SQL).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::convert::InvalidArgument;
use crate::service::error::ServiceError;

/// The metadata key of the correlation id.
pub const CORRELATION_ID: &str = "x-correlation-id";

/// A BadRequest status for invalid input.
pub fn invalid_argument(invalid: &InvalidArgument) -> Status {
    let mut details = ErrorDetails::new();
    for violation in &invalid.0 {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
    }
    Status::with_error_details(Code::InvalidArgument, invalid.to_string(), details)
}

fn with_correlation(code: Code, public: &str, cause: &str) -> Status {
    let id = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(correlation_id = %id, grpc_code = ?code, cause, "request failed");
    let mut status = Status::new(code, format!("{public} (correlation id {id})"));
    if let Ok(value) = id.parse() {
        status.metadata_mut().insert(CORRELATION_ID, value);
    }
    status
}

/// INTERNAL with the fixed public message; `cause` goes to the log only.
pub fn internal_with_correlation(cause: &str) -> Status {
    with_correlation(Code::Internal, "internal error", cause)
}

/// Maps a service error.
pub fn to_status(error: ServiceError) -> Status {
    match error {
        ServiceError::InvalidArgument(invalid) => invalid_argument(&invalid),
        ServiceError::NotFound(message) => Status::not_found(message),
        ServiceError::AlreadyExists(message) => Status::already_exists(message),
        ServiceError::FailedPrecondition(message) => Status::failed_precondition(message),
        ServiceError::Aborted(message) => Status::aborted(message),
        ServiceError::Unavailable(cause) => with_correlation(
            Code::Unavailable,
            "the service is temporarily unable to store or read data; retry later",
            &cause,
        ),
        ServiceError::Internal(cause) => internal_with_correlation(&cause),
    }
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Self {
        to_status(error)
    }
}

impl From<InvalidArgument> for Status {
    fn from(invalid: InvalidArgument) -> Self {
        invalid_argument(&invalid)
    }
}
