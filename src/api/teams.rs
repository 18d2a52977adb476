//! `servscore.v1.TeamsService`.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto::v1 as pb;
use crate::proto::v1::teams_service_server::TeamsService;
use crate::service::teams::TeamsService as Teams;

/// Handlers of `servscore.v1.TeamsService`.
pub struct TeamsApi(pub Arc<Teams>);

#[tonic::async_trait]
impl TeamsService for TeamsApi {
    async fn create_team(
        &self,
        request: Request<pb::CreateTeamRequest>,
    ) -> Result<Response<pb::CreateTeamResponse>, Status> {
        let team = self.0.create(request.into_inner()).await?;
        Ok(Response::new(pb::CreateTeamResponse { team: Some(team) }))
    }

    async fn update_team(
        &self,
        request: Request<pb::UpdateTeamRequest>,
    ) -> Result<Response<pb::UpdateTeamResponse>, Status> {
        let team = self.0.update(request.into_inner()).await?;
        Ok(Response::new(pb::UpdateTeamResponse { team: Some(team) }))
    }

    async fn get_team(
        &self,
        request: Request<pb::GetTeamRequest>,
    ) -> Result<Response<pb::GetTeamResponse>, Status> {
        let team = self.0.get(request.into_inner()).await?;
        Ok(Response::new(pb::GetTeamResponse { team: Some(team) }))
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Result<Response<pb::ListTeamsResponse>, Status> {
        Ok(Response::new(self.0.list(request.into_inner()).await?))
    }
}
