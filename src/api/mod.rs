//! gRPC handlers: decode the request, call the service layer, map its errors (`status`). No
//! business logic and no SQL here.

mod performance;
mod privacy;
mod scoring;
mod standards;
pub mod status;
mod teams;

pub use self::performance::PerformanceApi;
pub use self::privacy::PrivacyApi;
pub use self::scoring::ScoringApi;
pub use self::standards::StandardsApi;
pub use self::teams::TeamsApi;
