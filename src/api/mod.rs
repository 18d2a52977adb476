//! gRPC handlers: decode the request, call the service layer, map its errors (`status`). No
//! business logic and no SQL here.

mod performance;
mod scoring;
mod standards;
pub mod status;
mod teams;

pub use self::performance::PerformanceApi;
pub use self::scoring::ScoringApi;
pub use self::standards::StandardsApi;
pub use self::teams::TeamsApi;

use crate::proto::v1::privacy_service_server::PrivacyService;

/// Handlers of `servscore.v1.PrivacyService`.
pub struct PrivacyApi;

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {}
