//! Standards and teams as the hot path needs them: compiled standards cached per version
//! (versions are immutable), the latest version per id, teams and memberships cached until a
//! team or standard changes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::error::{ServiceError, ServiceResult};
use crate::builtin::DEFAULT_STANDARD_ID;
use crate::domain::interaction::StandardRef;
use crate::domain::team::{DEFAULT_TEAM_ID, Team};
use crate::scoring::CompiledStandard;
use crate::storage::Store;

#[derive(Default)]
struct State {
    /// Counts invalidations: what was read from the store before one is not cached after it.
    generation: u64,
    standards: HashMap<(String, i64), Arc<CompiledStandard>>,
    latest: HashMap<String, i64>,
    teams: HashMap<String, Arc<Team>>,
    membership: HashMap<String, Option<String>>,
}

/// The cache of standards and teams.
pub struct Catalog {
    store: Arc<dyn Store>,
    default_time_zone: String,
    state: RwLock<State>,
}

impl Catalog {
    /// A catalog over `store`; staff in no team fall into the default team, whose time zone is
    /// `default_time_zone` until the team is updated.
    pub fn new(store: Arc<dyn Store>, default_time_zone: &str) -> Self {
        Self {
            store,
            default_time_zone: default_time_zone.to_owned(),
            state: RwLock::default(),
        }
    }

    fn read<R>(&self, read: impl FnOnce(&State) -> R) -> R {
        read(&self.state.read().expect("catalog lock"))
    }

    fn update(&self, update: impl FnOnce(&mut State)) {
        update(&mut self.state.write().expect("catalog lock"));
    }

    fn generation(&self) -> u64 {
        self.read(|state| state.generation)
    }

    /// Caches what was read from the store at `generation`, unless the catalog was invalidated
    /// since (the read may predate the change that invalidated it).
    fn remember(&self, generation: u64, update: impl FnOnce(&mut State)) {
        self.update(|state| {
            if state.generation == generation {
                update(state);
            }
        });
    }

    /// Forgets the latest versions (a standard was created).
    pub fn invalidate_standards(&self) {
        self.update(|state| {
            state.generation += 1;
            state.latest.clear();
        });
    }

    /// Forgets teams and memberships (a team changed).
    pub fn invalidate_teams(&self) {
        self.update(|state| {
            state.generation += 1;
            state.teams.clear();
            state.membership.clear();
        });
    }

    /// Forgets the latest versions, teams and memberships (another replica changed one, or
    /// may have while its notices were not heard). Compiled versions stay: they never change.
    pub fn invalidate_all(&self) {
        self.invalidate_standards();
        self.invalidate_teams();
    }

    /// A version of a standard (0: the latest), compiled; `None` if it does not exist.
    pub async fn standard(
        &self,
        standard_id: &str,
        version: i64,
    ) -> ServiceResult<Option<Arc<CompiledStandard>>> {
        let version = if version > 0 {
            version
        } else if let Some(latest) = self.read(|state| state.latest.get(standard_id).copied()) {
            latest
        } else {
            let generation = self.generation();
            let Some(stored) = self.store.get_standard(standard_id, 0).await? else {
                return Ok(None);
            };
            let latest = stored.version;
            self.remember(generation, |state| {
                state.latest.insert(standard_id.to_owned(), latest);
            });
            latest
        };
        let key = (standard_id.to_owned(), version);
        if let Some(compiled) = self.read(|state| state.standards.get(&key).cloned()) {
            return Ok(Some(compiled));
        }
        let Some(stored) = self.store.get_standard(standard_id, version).await? else {
            return Ok(None);
        };
        let standard =
            crate::convert::standard::from_proto(&stored, "standard").map_err(|invalid| {
                ServiceError::Internal(format!(
                    "stored standard {standard_id} v{version} is invalid: {invalid}"
                ))
            })?;
        let compiled = Arc::new(CompiledStandard::new(standard));
        self.update(|state| {
            state.standards.insert(key, compiled.clone());
        });
        Ok(Some(compiled))
    }

    /// The standard a team (or the caller) picked, else the latest default.
    pub async fn standard_for(
        &self,
        reference: Option<&StandardRef>,
    ) -> ServiceResult<Arc<CompiledStandard>> {
        let (standard_id, version) = reference.map_or((DEFAULT_STANDARD_ID, 0), |reference| {
            (reference.standard_id.as_str(), reference.version)
        });
        self.standard(standard_id, version).await?.ok_or_else(|| {
            ServiceError::FailedPrecondition(if version == 0 {
                format!("standard {standard_id} does not exist")
            } else {
                format!("standard {standard_id} has no version {version}")
            })
        })
    }

    /// A team; the default team always exists.
    pub async fn team(&self, team_id: &str) -> ServiceResult<Option<Arc<Team>>> {
        if let Some(team) = self.read(|state| state.teams.get(team_id).cloned()) {
            return Ok(Some(team));
        }
        let generation = self.generation();
        let team = match self.store.get_team(team_id).await? {
            Some(stored) => {
                crate::convert::team::from_proto(&stored, "team").map_err(|invalid| {
                    ServiceError::Internal(format!("stored team {team_id} is invalid: {invalid}"))
                })?
            }
            None if team_id == DEFAULT_TEAM_ID => Team::default_team(&self.default_time_zone),
            None => return Ok(None),
        };
        let team = Arc::new(team);
        self.remember(generation, |state| {
            state.teams.insert(team_id.to_owned(), team.clone());
        });
        Ok(Some(team))
    }

    /// The team a staff member belongs to (the default team when none).
    pub async fn team_of_staff(&self, staff_id: &str) -> ServiceResult<Arc<Team>> {
        let cached = self.read(|state| state.membership.get(staff_id).cloned());
        let team_id = match cached {
            Some(team_id) => team_id,
            None => {
                let generation = self.generation();
                let team_id = self.store.team_of(staff_id).await?;
                self.remember(generation, |state| {
                    state
                        .membership
                        .insert(staff_id.to_owned(), team_id.clone());
                });
                team_id
            }
        };
        let team_id = team_id.as_deref().unwrap_or(DEFAULT_TEAM_ID);
        self.team(team_id).await?.ok_or_else(|| {
            ServiceError::Internal(format!(
                "staff member {staff_id} is in unknown team {team_id}"
            ))
        })
    }
}
