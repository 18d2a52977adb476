//! `servscore.v1.PerformanceService`.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::status::to_status;
use crate::proto::v1 as pb;
use crate::proto::v1::performance_service_server::PerformanceService;
use crate::service::rollups::RollupService;

/// Handlers of `servscore.v1.PerformanceService`.
pub struct PerformanceApi(pub Arc<RollupService>);

#[tonic::async_trait]
impl PerformanceService for PerformanceApi {
    async fn get_staff_rollup(
        &self,
        request: Request<pb::GetStaffRollupRequest>,
    ) -> Result<Response<pb::GetStaffRollupResponse>, Status> {
        let rollup = self.0.get_staff(request.into_inner()).await?;
        Ok(Response::new(pb::GetStaffRollupResponse {
            rollup: Some(rollup),
        }))
    }

    async fn list_staff_rollups(
        &self,
        request: Request<pb::ListStaffRollupsRequest>,
    ) -> Result<Response<pb::ListStaffRollupsResponse>, Status> {
        Ok(Response::new(
            self.0.list_staff(request.into_inner()).await?,
        ))
    }

    async fn get_team_rollup(
        &self,
        request: Request<pb::GetTeamRollupRequest>,
    ) -> Result<Response<pb::GetTeamRollupResponse>, Status> {
        let rollup = self.0.get_team(request.into_inner()).await?;
        Ok(Response::new(pb::GetTeamRollupResponse {
            rollup: Some(rollup),
        }))
    }

    async fn list_team_rollups(
        &self,
        request: Request<pb::ListTeamRollupsRequest>,
    ) -> Result<Response<pb::ListTeamRollupsResponse>, Status> {
        Ok(Response::new(self.0.list_team(request.into_inner()).await?))
    }

    async fn close_day(
        &self,
        request: Request<pb::CloseDayRequest>,
    ) -> Result<Response<pb::CloseDayResponse>, Status> {
        Ok(Response::new(self.0.close(request.into_inner()).await?))
    }

    async fn get_day_close(
        &self,
        request: Request<pb::GetDayCloseRequest>,
    ) -> Result<Response<pb::GetDayCloseResponse>, Status> {
        let day_close = self.0.get_close(request.into_inner()).await?;
        Ok(Response::new(pb::GetDayCloseResponse {
            day_close: Some(day_close),
        }))
    }

    async fn watch_rollups(
        &self,
        request: Request<pb::WatchRollupsRequest>,
    ) -> Result<Response<BoxStream<pb::WatchRollupsResponse>>, Status> {
        let receiver = self.0.watch(request.into_inner()).await?;
        let stream = ReceiverStream::new(receiver).map(|item| item.map_err(to_status));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_leaderboard(
        &self,
        request: Request<pb::GetLeaderboardRequest>,
    ) -> Result<Response<pb::GetLeaderboardResponse>, Status> {
        Ok(Response::new(
            self.0.leaderboard(request.into_inner()).await?,
        ))
    }

    async fn verify_rollups(
        &self,
        request: Request<pb::VerifyRollupsRequest>,
    ) -> Result<Response<pb::VerifyRollupsResponse>, Status> {
        Ok(Response::new(self.0.verify(request.into_inner()).await?))
    }
}
