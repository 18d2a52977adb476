//! Teams: create, update (with a field mask), get, list. The default team always exists.

use std::sync::Arc;

use super::catalog::Catalog;
use super::clock::Clock;
use super::error::{ServiceError, ServiceResult};
use super::page_token;
use crate::convert::{InvalidArgument, Violations};
use crate::domain::team::DEFAULT_TEAM_ID;
use crate::proto::v1 as pb;
use crate::storage::Store;

/// Fields `UpdateTeamRequest.update_mask` may name.
const UPDATABLE: [&str; 6] = [
    "display_name",
    "time_zone",
    "calendar",
    "standard",
    "targets",
    "member_staff_ids",
];

/// The teams service.
pub struct TeamsService {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    default_time_zone: String,
}

impl TeamsService {
    /// The service over a store.
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        default_time_zone: &str,
    ) -> Self {
        Self {
            store,
            catalog,
            clock,
            default_time_zone: default_time_zone.to_owned(),
        }
    }

    /// Stores the default team unless it is stored already.
    pub async fn ensure_default_team(&self) -> ServiceResult<()> {
        if self.store.get_team(DEFAULT_TEAM_ID).await?.is_some() {
            return Ok(());
        }
        let team = pb::Team {
            team_id: DEFAULT_TEAM_ID.to_owned(),
            display_name: "Staff in no team".to_owned(),
            time_zone: self.default_time_zone.clone(),
            ..Default::default()
        };
        match self.store.create_team(team, self.clock.now()).await {
            Ok(_) | Err(crate::storage::StoreError::AlreadyExists(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Validates a team and checks that its standard exists.
    async fn validate(&self, team: &pb::Team) -> ServiceResult<()> {
        crate::convert::team::from_proto(team, "team")?;
        if let Some(reference) = &team.standard
            && self
                .catalog
                .standard(&reference.standard_id, reference.version)
                .await?
                .is_none()
        {
            return Err(InvalidArgument::field(
                "team.standard",
                format!(
                    "no standard {} version {}",
                    reference.standard_id, reference.version
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Creates a team.
    pub async fn create(&self, request: pb::CreateTeamRequest) -> ServiceResult<pb::Team> {
        let team = request
            .team
            .ok_or_else(|| InvalidArgument::field("team", "is required"))?;
        self.validate(&team).await?;
        if team.team_id == DEFAULT_TEAM_ID {
            return Err(ServiceError::AlreadyExists(
                "the default team always exists; change it with UpdateTeam".to_owned(),
            ));
        }
        let stored = self.store.create_team(team, self.clock.now()).await?;
        self.catalog.invalidate_teams();
        tracing::info!(team_id = %stored.team_id, members = stored.member_staff_ids.len(), "team created");
        Ok(stored)
    }

    /// Updates the fields named by the mask (every field when it is empty).
    pub async fn update(&self, request: pb::UpdateTeamRequest) -> ServiceResult<pb::Team> {
        let update = request
            .team
            .ok_or_else(|| InvalidArgument::field("team", "is required"))?;
        let mut violations = Violations::default();
        violations.check_name("team.team_id", &update.team_id);
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        for (index, path) in paths.iter().enumerate() {
            if !UPDATABLE.contains(&path.as_str()) {
                violations.add(
                    format!("update_mask.paths[{index}]"),
                    format!(
                        "unknown or read-only field \"{path}\" (updatable: {})",
                        UPDATABLE.join(", ")
                    ),
                );
            }
        }
        violations.into_result(())?;
        let mut team = self.store.get_team(&update.team_id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("team {} does not exist", update.team_id))
        })?;
        let all = paths.is_empty();
        let set = |field: &str| all || paths.iter().any(|path| path == field);
        if set("display_name") {
            team.display_name = update.display_name;
        }
        if set("time_zone") {
            team.time_zone = update.time_zone;
        }
        if set("calendar") {
            team.calendar = update.calendar;
        }
        if set("standard") {
            team.standard = update.standard;
        }
        if set("targets") {
            team.targets = update.targets;
        }
        if set("member_staff_ids") {
            team.member_staff_ids = update.member_staff_ids;
        }
        self.validate(&team).await?;
        let stored = self.store.update_team(team, self.clock.now()).await?;
        self.catalog.invalidate_teams();
        tracing::info!(team_id = %stored.team_id, "team updated");
        Ok(stored)
    }

    /// A team.
    pub async fn get(&self, request: pb::GetTeamRequest) -> ServiceResult<pb::Team> {
        let mut violations = Violations::default();
        violations.check_name("team_id", &request.team_id);
        violations.into_result(())?;
        self.store.get_team(&request.team_id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("team {} does not exist", request.team_id))
        })
    }

    /// Teams by id.
    pub async fn list(
        &self,
        request: pb::ListTeamsRequest,
    ) -> ServiceResult<pb::ListTeamsResponse> {
        let limit = page_token::page_size(request.page_size, 50, 1_000, "page_size")?;
        let after = page_token::decode("teams", &request.page_token, "page_token")?
            .map(|parts| parts.into_iter().next().unwrap_or_default());
        let mut teams = self.store.list_teams(after.as_deref(), limit + 1).await?;
        let next_page_token = if teams.len() > limit {
            teams.truncate(limit);
            page_token::encode("teams", &[&teams.last().expect("a full page").team_id])
        } else {
            String::new()
        };
        Ok(pb::ListTeamsResponse {
            teams,
            next_page_token,
        })
    }
}
