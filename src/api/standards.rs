//! `servscore.v1.StandardsService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto::v1 as pb;
use crate::proto::v1::standards_service_server::StandardsService;
use crate::service::standards::StandardsService as Standards;

/// Handlers of `servscore.v1.StandardsService`.
pub struct StandardsApi(pub Arc<Standards>);

#[tonic::async_trait]
impl StandardsService for StandardsApi {
    async fn create_standard(
        &self,
        request: Request<pb::CreateStandardRequest>,
    ) -> Result<Response<pb::CreateStandardResponse>, Status> {
        let standard = self.0.create(request.into_inner()).await?;
        Ok(Response::new(pb::CreateStandardResponse {
            standard: Some(standard),
        }))
    }

    async fn get_standard(
        &self,
        request: Request<pb::GetStandardRequest>,
    ) -> Result<Response<pb::GetStandardResponse>, Status> {
        let standard = self.0.get(request.into_inner()).await?;
        Ok(Response::new(pb::GetStandardResponse {
            standard: Some(standard),
        }))
    }

    async fn list_standards(
        &self,
        request: Request<pb::ListStandardsRequest>,
    ) -> Result<Response<pb::ListStandardsResponse>, Status> {
        Ok(Response::new(self.0.list(request.into_inner()).await?))
    }
}
