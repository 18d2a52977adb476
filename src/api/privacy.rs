//! `servscore.v1.PrivacyService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto::v1 as pb;
use crate::proto::v1::privacy_service_server::PrivacyService;
use crate::service::privacy::PrivacyService as Privacy;

/// Handlers of `servscore.v1.PrivacyService`.
pub struct PrivacyApi(pub Arc<Privacy>);

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn erase_customer_data(
        &self,
        request: Request<pb::EraseCustomerDataRequest>,
    ) -> Result<Response<pb::EraseCustomerDataResponse>, Status> {
        Ok(Response::new(
            self.0.erase_customer_data(request.into_inner()).await?,
        ))
    }
}
