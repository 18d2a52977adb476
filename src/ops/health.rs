//! `grpc.health.v1`: one status for the whole server (`""`) and one per hosted service, all
//! moved together (serving at start, not serving on shutdown or when the store is unusable).

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Sets the health of the server and every named service at once.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    services: Vec<&'static str>,
}

impl Health {
    /// Wraps a reporter for these fully qualified service names.
    pub fn new(reporter: HealthReporter, services: Vec<&'static str>) -> Self {
        Self { reporter, services }
    }

    /// Sets `""` and every service to `status`.
    pub async fn set_all(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        for service in &self.services {
            self.reporter.set_service_status(*service, status).await;
        }
    }
}
