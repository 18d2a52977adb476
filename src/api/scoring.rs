//! `servscore.v1.ScoringService`.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status, Streaming};

use super::status::to_status;
use crate::convert::InvalidArgument;
use crate::proto::v1 as pb;
use crate::proto::v1::scoring_service_server::ScoringService;
use crate::service::error::ServiceError;
use crate::service::scoring::ScoringService as Scoring;

/// Most items in one bulk ingest stream.
pub const MAX_BULK_ITEMS: i64 = 50_000;
/// Items of a bulk stream scored and stored concurrently (results stay in order).
const BULK_CONCURRENCY: usize = 32;

/// Handlers of `servscore.v1.ScoringService`.
pub struct ScoringApi(pub Arc<Scoring>);

fn item_error(error: ServiceError) -> pb::ItemError {
    let field_violations = match &error {
        ServiceError::InvalidArgument(invalid) => invalid
            .0
            .iter()
            .map(|violation| pb::FieldViolation {
                field: violation.field.clone(),
                description: violation.description.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let status = to_status(error);
    pb::ItemError {
        code: status.code() as i32,
        message: status.message().to_owned(),
        field_violations,
    }
}

#[tonic::async_trait]
impl ScoringService for ScoringApi {
    async fn score_interaction(
        &self,
        request: Request<pb::ScoreInteractionRequest>,
    ) -> Result<Response<pb::ScoreInteractionResponse>, Status> {
        let interaction = request
            .into_inner()
            .interaction
            .ok_or_else(|| InvalidArgument::field("interaction", "is required"))?;
        let stored = self.0.ingest(interaction, "interaction").await?;
        Ok(Response::new(pb::ScoreInteractionResponse {
            scorecard: Some(stored.scorecard),
            outcome: stored.outcome as i32,
        }))
    }

    async fn preview_score(
        &self,
        request: Request<pb::PreviewScoreRequest>,
    ) -> Result<Response<pb::PreviewScoreResponse>, Status> {
        let scorecard = self.0.preview(request.into_inner()).await?;
        Ok(Response::new(pb::PreviewScoreResponse {
            scorecard: Some(scorecard),
        }))
    }

    async fn ingest_interactions(
        &self,
        request: Request<Streaming<pb::IngestInteractionsRequest>>,
    ) -> Result<Response<pb::IngestInteractionsResponse>, Status> {
        let service = self.0.clone();
        // Items of one interaction apply in stream order (a revision may follow its
        // predecessor in the same stream); items of different interactions run
        // concurrently. Each item waits for the previous item of its id to finish.
        let mut last_of_id: HashMap<String, oneshot::Receiver<()>> = HashMap::new();
        let mut items = request
            .into_inner()
            .enumerate()
            .map(move |(index, item)| {
                let service = service.clone();
                let (done, turn) = match &item {
                    Ok(pb::IngestInteractionsRequest {
                        interaction: Some(interaction),
                    }) => {
                        let (done, next) = oneshot::channel();
                        let previous = last_of_id.insert(interaction.interaction_id.clone(), next);
                        (Some(done), previous)
                    }
                    _ => (None, None),
                };
                async move {
                    if let Some(previous) = turn {
                        // Sent or dropped: either way the previous item has finished.
                        let _ = previous.await;
                    }
                    // Dropping the sender, however this item ends, releases the next one.
                    let _release_next = done;
                    let item = item?;
                    let index = index as i64;
                    if index >= MAX_BULK_ITEMS {
                        return Err(Status::out_of_range(format!(
                            "at most {MAX_BULK_ITEMS} items per stream; items up to {MAX_BULK_ITEMS} were stored, send the rest in another stream"
                        )));
                    }
                    let Some(interaction) = item.interaction else {
                        return Ok(pb::IngestResult {
                            index,
                            error: Some(item_error(InvalidArgument::field("interaction", "is required").into())),
                            ..Default::default()
                        });
                    };
                    let interaction_id = interaction.interaction_id.clone();
                    let revision = interaction.revision;
                    Ok(match service.ingest(interaction, "interaction").await {
                        Ok(stored) => pb::IngestResult {
                            index,
                            interaction_id,
                            revision,
                            outcome: stored.outcome as i32,
                            error: None,
                            summary: Some(pb::ScorecardSummary {
                                composite: stored.scorecard.composite,
                                grade: stored.scorecard.grade,
                                status: stored.scorecard.status,
                            }),
                        },
                        Err(error) => pb::IngestResult {
                            index,
                            interaction_id,
                            revision,
                            outcome: pb::IngestOutcome::Unspecified as i32,
                            error: Some(item_error(error)),
                            summary: None,
                        },
                    })
                }
            })
            .buffered(BULK_CONCURRENCY);
        let mut response = pb::IngestInteractionsResponse::default();
        while let Some(result) = items.next().await {
            let result = result?;
            if result.error.is_some() {
                response.rejected += 1;
            } else {
                response.accepted += 1;
            }
            response.results.push(result);
        }
        Ok(Response::new(response))
    }

    async fn get_scorecard(
        &self,
        request: Request<pb::GetScorecardRequest>,
    ) -> Result<Response<pb::GetScorecardResponse>, Status> {
        let scorecard = self.0.get_scorecard(request.into_inner()).await?;
        Ok(Response::new(pb::GetScorecardResponse {
            scorecard: Some(scorecard),
        }))
    }

    async fn list_scorecards(
        &self,
        request: Request<pb::ListScorecardsRequest>,
    ) -> Result<Response<pb::ListScorecardsResponse>, Status> {
        Ok(Response::new(
            self.0.list_scorecards(request.into_inner()).await?,
        ))
    }

    async fn get_interaction(
        &self,
        request: Request<pb::GetInteractionRequest>,
    ) -> Result<Response<pb::GetInteractionResponse>, Status> {
        let interaction = self.0.get_interaction(request.into_inner()).await?;
        Ok(Response::new(pb::GetInteractionResponse {
            interaction: Some(interaction),
        }))
    }

    async fn amend_interaction(
        &self,
        request: Request<pb::AmendInteractionRequest>,
    ) -> Result<Response<pb::AmendInteractionResponse>, Status> {
        let stored = self.0.amend(request.into_inner()).await?;
        Ok(Response::new(pb::AmendInteractionResponse {
            scorecard: Some(stored.scorecard),
            outcome: stored.outcome as i32,
        }))
    }
}
