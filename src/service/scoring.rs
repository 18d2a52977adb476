//! Scoring as the API offers it: preview (no storage), score-and-store with idempotency,
//! amendments as new revisions, reads and listings, and the time-driven re-score of
//! provisional scorecards whose pending items fell due.
//!
//! Data minimisation: with `privacy.keep_transcripts = false` the turn text is dropped from
//! what is stored, after scoring (the content hash is of the interaction as sent, so a re-send
//! is still recognised). A stored body without its text (dropped, purged or erased) can still
//! be re-scored — by an amendment or when a pending item falls due — and then politeness, which
//! only the text can decide, is carried over from the previous scorecard while speed and
//! follow-through are recomputed from the structure (see [`score_carrying_politeness`]).

use std::sync::Arc;

use jiff::Timestamp;
use prost::Message;

use super::amend;
use super::catalog::Catalog;
use super::changes::ChangeHub;
use super::clock::Clock;
use super::error::{ServiceError, ServiceResult};
use super::page_token;
use crate::config::Limits;
use crate::convert::interaction::{RevisionRule, from_proto};
use crate::convert::{InvalidArgument, Violations, parse_date, scorecard as scorecard_wire};
use crate::domain::interaction::Interaction;
use crate::domain::team::{DEFAULT_TEAM_ID, Team};
use crate::proto::v1 as pb;
use crate::scoring::politeness;
use crate::scoring::{
    CompiledStandard, PolitenessResult, ScoringContext, score, score_carrying_politeness,
};
use crate::storage::redact::{drop_transcript, redact_interaction};
use crate::storage::{
    BodyState, ScorecardCursor, ScorecardFilter, ScorecardWrite, Store, StoredInteraction,
    WriteMode, WriteOutcome, WriteResult,
};

/// Scorecards per re-score pass.
const RESCORE_BATCH: usize = 256;

/// The scoring service.
pub struct ScoringService {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    changes: ChangeHub,
    keep_transcripts: bool,
}

/// Where the interaction of a write comes from.
struct Source {
    /// The state of the stored body it was made from; `None` when the caller sent it.
    based_on: Option<BodyState>,
    /// Politeness to carry over, when that stored body has no transcript.
    carried_politeness: Option<PolitenessResult>,
}

impl Source {
    /// Sent by the caller, scored in full.
    const CALLER: Self = Self {
        based_on: None,
        carried_politeness: None,
    };

    /// Made from a stored interaction: when its transcript is gone, politeness is carried
    /// over from its scorecard.
    fn stored(stored: &StoredInteraction) -> ServiceResult<Self> {
        Ok(Self {
            based_on: Some(stored.body_state),
            carried_politeness: if stored.body_state.transcript_gone() {
                Some(carried_politeness(&stored.scorecard)?)
            } else {
                None
            },
        })
    }
}

/// The politeness dimension of a stored scorecard, to carry over into a re-score of the
/// interaction once its text is gone: the score (or why it did not apply) and the politeness
/// findings as stored (snippets that were erased stay erased).
fn carried_politeness(scorecard: &pb::Scorecard) -> ServiceResult<PolitenessResult> {
    let corrupt = |error: scorecard_wire::StoredScorecardError| {
        ServiceError::Internal(format!(
            "the scorecard of interaction {} cannot be carried over: {error}",
            scorecard.interaction_id
        ))
    };
    let dimension = scorecard.politeness.clone().unwrap_or_default();
    let score = scorecard_wire::dimension_points_from_proto(&dimension).map_err(corrupt)?;
    let findings = scorecard
        .findings
        .iter()
        .filter(|finding| finding.dimension == pb::Dimension::Politeness as i32)
        .map(scorecard_wire::finding_from_proto)
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt)?;
    Ok(PolitenessResult {
        score,
        not_applicable_reason: if score.is_some() {
            ""
        } else {
            politeness::known_reason(&dimension.not_applicable_reason)
        },
        findings,
    })
}

/// Whether an amendment brings turn text (which politeness would have to be scored on).
fn appends_text(amendments: &[pb::Amendment]) -> bool {
    amendments.iter().any(|amendment| {
        matches!(
            &amendment.kind,
            Some(pb::amendment::Kind::TurnsAppended(appended))
                if appended.turns.iter().any(|turn| !turn.text.trim().is_empty())
        )
    })
}

/// A scorecard with what storing it did.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The stored scorecard.
    pub scorecard: pb::Scorecard,
    /// Created, replaced or unchanged.
    pub outcome: pb::IngestOutcome,
}

fn wire_outcome(outcome: WriteOutcome) -> pb::IngestOutcome {
    match outcome {
        WriteOutcome::Created => pb::IngestOutcome::Created,
        WriteOutcome::Replaced | WriteOutcome::Skipped => pb::IngestOutcome::Replaced,
        WriteOutcome::Unchanged => pb::IngestOutcome::Unchanged,
    }
}

fn timestamp(value: &prost_types::Timestamp, field: &str) -> Result<Timestamp, InvalidArgument> {
    crate::convert::from_proto_timestamp(value)
        .ok_or_else(|| InvalidArgument::field(field, crate::convert::INVALID_TIMESTAMP))
}

impl ScoringService {
    /// The service over a store; `keep_transcripts` false drops the turn text of what is
    /// stored after scoring (`privacy.keep_transcripts`).
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        changes: ChangeHub,
        keep_transcripts: bool,
    ) -> Self {
        Self {
            store,
            catalog,
            clock,
            limits,
            changes,
            keep_transcripts,
        }
    }

    /// The body to store for `message` (already scored) and what it holds: without its turn
    /// text unless transcripts are kept, and never holding more than the stored body it was
    /// made from (`based_on`).
    fn body_to_keep(
        &self,
        mut message: pb::Interaction,
        encoded: Vec<u8>,
        based_on: Option<BodyState>,
    ) -> (Vec<u8>, BodyState) {
        let wanted = if self.keep_transcripts {
            BodyState::Complete
        } else {
            BodyState::TranscriptDropped
        };
        let state = based_on.map_or(wanted, |based_on| based_on.max(wanted));
        match state {
            BodyState::Complete => return (encoded, state),
            BodyState::TranscriptDropped => drop_transcript(&mut message),
            BodyState::Redacted => redact_interaction(&mut message),
        }
        (message.encode_to_vec(), state)
    }

    /// The standard for an interaction: its own choice, else its team's, else the default. A
    /// choice the caller made that does not exist is the caller's mistake.
    async fn standard_for(
        &self,
        interaction: &Interaction,
        team: &Team,
        field: &str,
    ) -> ServiceResult<Arc<CompiledStandard>> {
        if let Some(reference) = &interaction.standard {
            return self
                .catalog
                .standard(&reference.standard_id, reference.version)
                .await?
                .ok_or_else(|| {
                    InvalidArgument::field(
                        format!("{field}.standard"),
                        format!(
                            "no standard {} version {}",
                            reference.standard_id, reference.version
                        ),
                    )
                    .into()
                });
        }
        self.catalog.standard_for(team.standard.as_ref()).await
    }

    fn score(
        interaction: &Interaction,
        standard: &CompiledStandard,
        team: &Team,
        now: Timestamp,
        carried_politeness: Option<PolitenessResult>,
    ) -> pb::Scorecard {
        let working_time = team.working_time();
        let context = ScoringContext {
            standard,
            working_time: &working_time,
            time_zone: &team.time_zone,
            team_id: &team.team_id,
            evaluation_time: now,
        };
        let scorecard = match carried_politeness {
            None => score(interaction, &context),
            Some(carried) => score_carrying_politeness(interaction, &context, carried),
        };
        scorecard_wire::to_proto(&scorecard)
    }

    /// Scores without storing anything.
    pub async fn preview(&self, request: pb::PreviewScoreRequest) -> ServiceResult<pb::Scorecard> {
        let now = match &request.evaluation_time {
            Some(time) => timestamp(time, "evaluation_time")?,
            None => self.clock.now(),
        };
        let message = request
            .interaction
            .ok_or_else(|| InvalidArgument::field("interaction", "is required"))?;
        let interaction = from_proto(
            &message,
            "interaction",
            &self.limits,
            RevisionRule::Optional,
            now,
        )?;
        let team = if request.team_id.is_empty() {
            self.catalog.team_of_staff(&interaction.staff_id).await?
        } else {
            self.catalog.team(&request.team_id).await?.ok_or_else(|| {
                InvalidArgument::field("team_id", format!("no team {}", request.team_id))
            })?
        };
        let standard = match &request.standard {
            Some(inline) => Arc::new(CompiledStandard::new(crate::convert::standard::from_proto(
                inline, "standard",
            )?)),
            None => {
                self.standard_for(&interaction, &team, "interaction")
                    .await?
            }
        };
        Ok(Self::score(&interaction, &standard, &team, now, None))
    }

    /// Scores and stores one interaction revision (ScoreInteraction, bulk ingest).
    pub async fn ingest(&self, message: pb::Interaction, field: &str) -> ServiceResult<Stored> {
        self.score_and_store(message, field, WriteMode::Ingest, None, Source::CALLER)
            .await
    }

    async fn score_and_store(
        &self,
        message: pb::Interaction,
        field: &str,
        mode: WriteMode,
        amendment_hash: Option<[u8; 32]>,
        source: Source,
    ) -> ServiceResult<Stored> {
        let now = self.clock.now();
        let interaction = from_proto(&message, field, &self.limits, RevisionRule::Required, now)?;
        let team = self.catalog.team_of_staff(&interaction.staff_id).await?;
        let standard = self.standard_for(&interaction, &team, field).await?;
        let scorecard = Self::score(
            &interaction,
            &standard,
            &team,
            now,
            source.carried_politeness,
        );
        // The hash is of the content as it came, before any text is dropped, so that the same
        // content sent again is recognised whatever is kept of it.
        let encoded = message.encode_to_vec();
        let content_hash = *blake3::hash(&encoded).as_bytes();
        let (body, body_state) = self.body_to_keep(message, encoded, source.based_on);
        let next_due = next_due(&scorecard);
        let write = ScorecardWrite {
            interaction_id: interaction.interaction_id,
            revision: interaction.revision,
            content_hash,
            amendment_hash,
            customer_id: interaction.customer_id,
            body,
            body_state,
            based_on: source.based_on,
            opened_at: interaction.opened_at,
            scorecard,
            next_due,
            mode,
            now,
        };
        let result = self.write(write).await?;
        Ok(Stored {
            scorecard: result.scorecard,
            outcome: wire_outcome(result.outcome),
        })
    }

    /// Stores a scorecard write and announces the days it touched once it has committed
    /// (even if the caller stops waiting).
    async fn write(&self, write: ScorecardWrite) -> ServiceResult<WriteResult> {
        let store = self.store.clone();
        self.changes
            .committed(
                async move { store.write_scorecard(write).await },
                |hub, result| hub.publish(&result.touched),
            )
            .await
    }

    /// Applies follow-ups as a new revision and re-scores it.
    pub async fn amend(&self, request: pb::AmendInteractionRequest) -> ServiceResult<Stored> {
        let mut violations = Violations::default();
        violations.check_id(
            "interaction_id",
            &request.interaction_id,
            true,
            crate::convert::interaction::MAX_ID_CHARS,
        );
        if request.expected_revision < 0 {
            violations.add("expected_revision", "must not be negative");
        }
        violations.into_result(())?;
        let request_hash = *blake3::hash(&request.encode_to_vec()).as_bytes();
        for attempt in 0..3 {
            let stored = self
                .store
                .get_interaction(&request.interaction_id)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!(
                        "interaction {} is not stored",
                        request.interaction_id
                    ))
                })?;
            let expected = request.expected_revision;
            if expected != 0 && stored.revision != expected {
                if stored.revision == expected + 1 && stored.amendment_hash == Some(request_hash) {
                    return Ok(Stored {
                        scorecard: stored.scorecard,
                        outcome: pb::IngestOutcome::Unchanged,
                    });
                }
                return Err(ServiceError::FailedPrecondition(format!(
                    "interaction {} is at revision {}, not {expected}: amend the latest revision",
                    request.interaction_id, stored.revision
                )));
            }
            if stored.body_state.transcript_gone() && appends_text(&request.amendments) {
                // Politeness is carried over once the text is gone; text appended now would
                // never be scored. The caller has the whole conversation: a new revision
                // with all of it is scored in full.
                return Err(ServiceError::FailedPrecondition(format!(
                    "the transcript of interaction {} is no longer kept, so turns with text cannot be appended to it; send the whole conversation as revision {} with ScoreInteraction",
                    request.interaction_id,
                    stored.revision + 1
                )));
            }
            let source = Source::stored(&stored)?;
            let body = stored.body.ok_or_else(|| {
                ServiceError::FailedPrecondition(format!(
                    "the body of interaction {} is no longer kept, so it cannot be amended",
                    request.interaction_id
                ))
            })?;
            let mut message = pb::Interaction::decode(body.as_slice()).map_err(|error| {
                ServiceError::Internal(format!("a stored interaction does not decode: {error}"))
            })?;
            amend::apply(&mut message, &request.amendments)?;
            message.revision = stored.revision + 1;
            let result = self
                .score_and_store(
                    message,
                    "amended_interaction",
                    WriteMode::Amend {
                        expected_revision: stored.revision,
                    },
                    Some(request_hash),
                    source,
                )
                .await;
            match result {
                Err(ServiceError::FailedPrecondition(_)) if expected == 0 && attempt < 2 => {
                    continue;
                }
                // The body was erased or purged meanwhile: amend what is stored now.
                Err(ServiceError::Aborted(_)) if attempt < 2 => continue,
                other => return other,
            }
        }
        Err(ServiceError::Aborted(format!(
            "interaction {} kept changing; retry the amendment",
            request.interaction_id
        )))
    }

    /// Re-scores every stored scorecard whose pending items fell due; returns how many.
    pub async fn rescore_due(&self) -> ServiceResult<usize> {
        let mut rescored = 0;
        loop {
            let now = self.clock.now();
            let due = self.store.due_for_rescore(now, RESCORE_BATCH).await?;
            let batch = due.len();
            for item in due {
                if self
                    .rescore(&item.interaction_id, item.revision, now)
                    .await?
                {
                    rescored += 1;
                }
            }
            if batch < RESCORE_BATCH {
                return Ok(rescored);
            }
        }
    }

    async fn rescore(
        &self,
        interaction_id: &str,
        revision: i64,
        now: Timestamp,
    ) -> ServiceResult<bool> {
        let Some(stored) = self.store.get_interaction(interaction_id).await? else {
            return Ok(false);
        };
        if stored.revision != revision {
            return Ok(false);
        }
        let source = Source::stored(&stored)?;
        let Some(body) = stored.body else {
            tracing::warn!(
                interaction_id,
                "cannot re-score: the interaction body is no longer kept"
            );
            return Ok(false);
        };
        let message = pb::Interaction::decode(body.as_slice()).map_err(|error| {
            ServiceError::Internal(format!("a stored interaction does not decode: {error}"))
        })?;
        let interaction = from_proto(
            &message,
            "interaction",
            &Limits::stored(),
            RevisionRule::Required,
            Timestamp::MAX,
        )
        .map_err(|invalid| {
            ServiceError::Internal(format!(
                "stored interaction {interaction_id} no longer validates: {invalid}"
            ))
        })?;
        let team_id = if stored.scorecard.team_id.is_empty() {
            DEFAULT_TEAM_ID
        } else {
            &stored.scorecard.team_id
        };
        let team = match self.catalog.team(team_id).await? {
            Some(team) => team,
            None => self
                .catalog
                .team(DEFAULT_TEAM_ID)
                .await?
                .expect("the default team exists"),
        };
        let reference = stored.scorecard.standard.clone().unwrap_or_default();
        let standard = self
            .catalog
            .standard(&reference.standard_id, reference.version)
            .await?
            .ok_or_else(|| {
                ServiceError::Internal(format!(
                    "standard {} v{} is gone",
                    reference.standard_id, reference.version
                ))
            })?;
        let scorecard = Self::score(
            &interaction,
            &standard,
            &team,
            now,
            source.carried_politeness,
        );
        let next_due = next_due(&scorecard);
        let customer_id = message.customer_id.clone();
        let (body, body_state) = self.body_to_keep(message, body, source.based_on);
        let write = ScorecardWrite {
            interaction_id: interaction_id.to_owned(),
            revision,
            content_hash: stored.content_hash,
            amendment_hash: stored.amendment_hash,
            customer_id,
            body,
            body_state,
            based_on: source.based_on,
            opened_at: interaction.opened_at,
            scorecard,
            next_due,
            mode: WriteMode::Rescore,
            now,
        };
        let result = self.write(write).await?;
        Ok(result.outcome != WriteOutcome::Skipped)
    }

    /// A stored scorecard (revision 0: the latest).
    pub async fn get_scorecard(
        &self,
        request: pb::GetScorecardRequest,
    ) -> ServiceResult<pb::Scorecard> {
        let mut violations = Violations::default();
        violations.check_id(
            "interaction_id",
            &request.interaction_id,
            true,
            crate::convert::interaction::MAX_ID_CHARS,
        );
        if request.revision < 0 {
            violations.add("revision", "must not be negative");
        }
        violations.into_result(())?;
        self.store
            .get_scorecard(&request.interaction_id, request.revision)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(if request.revision == 0 {
                    format!("interaction {} is not stored", request.interaction_id)
                } else {
                    format!(
                        "no scorecard for revision {} of interaction {}",
                        request.revision, request.interaction_id
                    )
                })
            })
    }

    /// The stored interaction (latest revision only: earlier bodies are not kept).
    pub async fn get_interaction(
        &self,
        request: pb::GetInteractionRequest,
    ) -> ServiceResult<pb::Interaction> {
        let mut violations = Violations::default();
        violations.check_id(
            "interaction_id",
            &request.interaction_id,
            true,
            crate::convert::interaction::MAX_ID_CHARS,
        );
        violations.into_result(())?;
        let stored = self
            .store
            .get_interaction(&request.interaction_id)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "interaction {} is not stored",
                    request.interaction_id
                ))
            })?;
        if request.revision != 0 && request.revision != stored.revision {
            return Err(ServiceError::NotFound(format!(
                "only the latest revision ({}) of interaction {} is kept",
                stored.revision, request.interaction_id
            )));
        }
        let body = stored.body.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "the body of interaction {} is no longer kept",
                request.interaction_id
            ))
        })?;
        pb::Interaction::decode(body.as_slice()).map_err(|error| {
            ServiceError::Internal(format!("a stored interaction does not decode: {error}"))
        })
    }

    /// A page of stored scorecards.
    pub async fn list_scorecards(
        &self,
        request: pb::ListScorecardsRequest,
    ) -> ServiceResult<pb::ListScorecardsResponse> {
        let mut violations = Violations::default();
        let date = |violations: &mut Violations, field: &str, value: &str| {
            (!value.is_empty())
                .then(|| parse_date(violations, field, value))
                .flatten()
        };
        let from_date = date(&mut violations, "from_date", &request.from_date);
        let to_date = date(&mut violations, "to_date", &request.to_date);
        let enum_filter =
            |violations: &mut Violations, field: &str, value: i32, valid: bool| -> Option<i32> {
                if value == 0 {
                    return None;
                }
                if !valid {
                    violations.add(field, format!("unknown value {value}"));
                }
                Some(value)
            };
        let tier = enum_filter(
            &mut violations,
            "tier",
            request.tier,
            pb::Tier::try_from(request.tier).is_ok(),
        );
        let channel = enum_filter(
            &mut violations,
            "channel",
            request.channel,
            pb::Channel::try_from(request.channel).is_ok(),
        );
        let status = enum_filter(
            &mut violations,
            "status",
            request.status,
            pb::ScorecardStatus::try_from(request.status).is_ok(),
        );
        for (index, grade) in request.grades.iter().enumerate() {
            if matches!(
                pb::Grade::try_from(*grade),
                Err(_) | Ok(pb::Grade::Unspecified)
            ) {
                violations.add(format!("grades[{index}]"), format!("unknown value {grade}"));
            }
        }
        let limit = page_token::page_size(request.page_size, 50, 1_000, "page_size")?;
        violations.into_result(())?;
        let filter = ScorecardFilter {
            staff_id: (!request.staff_id.is_empty()).then(|| request.staff_id.clone()),
            team_id: (!request.team_id.is_empty()).then(|| request.team_id.clone()),
            from_date,
            to_date,
            grades: request.grades.clone(),
            tier,
            channel,
            status,
        };
        let fingerprint = format!("{filter:?}");
        let after = match page_token::decode(&fingerprint, &request.page_token, "page_token")? {
            None => None,
            Some(parts) => match parts.as_slice() {
                [date, id] => Some(ScorecardCursor {
                    local_date: date
                        .parse()
                        .map_err(|_| InvalidArgument::field("page_token", "is malformed"))?,
                    interaction_id: id.clone(),
                }),
                _ => return Err(InvalidArgument::field("page_token", "is malformed").into()),
            },
        };
        let mut scorecards = self
            .store
            .list_scorecards(&filter, after.as_ref(), limit + 1)
            .await?;
        let next_page_token = if scorecards.len() > limit {
            scorecards.truncate(limit);
            let last = scorecards.last().expect("a full page");
            page_token::encode(&fingerprint, &[&last.local_date, &last.interaction_id])
        } else {
            String::new()
        };
        Ok(pb::ListScorecardsResponse {
            scorecards,
            next_page_token,
        })
    }
}

/// When a scorecard's pending items next fall due (it is then re-scored), as stored.
fn next_due(scorecard: &pb::Scorecard) -> Option<Timestamp> {
    scorecard
        .next_due_time
        .as_ref()
        .and_then(|due| Timestamp::new(due.seconds, due.nanos).ok())
}
