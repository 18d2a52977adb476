//! The `Store` implementation of the SQLite backend: writes go through the group-commit
//! writer, reads through the read-only pool.

use std::collections::BTreeSet;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::SqliteStore;
use super::ingest::write_scorecard;
use crate::convert::timestamp_to_proto;
use crate::proto::v1 as pb;
use crate::rollup::sums::{DaySums, SUM_COUNT};
use crate::storage::{
    DueRescore, ScorecardCursor, ScorecardFilter, ScorecardWrite, StaffDay, Store, StoreError,
    StoredInteraction, WriteResult,
};

fn decode_all<M: Message + Default>(blobs: Vec<Vec<u8>>) -> Result<Vec<M>, StoreError> {
    blobs
        .into_iter()
        .map(|blob| M::decode(blob.as_slice()).map_err(StoreError::from))
        .collect()
}

fn blobs(
    connection: &Connection,
    sql: &str,
    values: Vec<rusqlite::types::Value>,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| row.get::<_, Vec<u8>>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks that no member of `team` belongs to another team.
fn check_members(connection: &Connection, team: &pb::Team) -> Result<(), StoreError> {
    let mut statement =
        connection.prepare_cached("SELECT team_id FROM team_members WHERE staff_id = ?1")?;
    for member in &team.member_staff_ids {
        let owner: Option<String> = statement.query_row([member], |row| row.get(0)).optional()?;
        if let Some(owner) = owner.filter(|owner| *owner != team.team_id) {
            return Err(StoreError::FailedPrecondition(format!(
                "staff member {member} already belongs to team {owner}; remove them there first"
            )));
        }
    }
    Ok(())
}

fn replace_members(connection: &Connection, team: &pb::Team) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM team_members WHERE team_id = ?1")?
        .execute([&team.team_id])?;
    let mut insert = connection
        .prepare_cached("INSERT INTO team_members (staff_id, team_id) VALUES (?1, ?2)")?;
    for member in &team.member_staff_ids {
        insert.execute(params![member, team.team_id])?;
    }
    Ok(())
}

fn day_sums(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<DaySums> {
    let mut values = [0_i64; SUM_COUNT];
    for (index, value) in values.iter_mut().enumerate() {
        *value = row.get(first + index)?;
    }
    Ok(DaySums::from_array(values))
}

fn parse_date(text: &str) -> Result<Date, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Internal(format!("a stored local date is malformed: {text:?}")))
}

/// SQL with numbered parameters, built up clause by clause.
struct Query {
    sql: String,
    values: Vec<rusqlite::types::Value>,
}

impl Query {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            values: Vec::new(),
        }
    }

    /// Binds a value; returns its placeholder.
    fn bind(&mut self, value: impl Into<rusqlite::types::Value>) -> String {
        self.values.push(value.into());
        format!("?{}", self.values.len())
    }

    fn push(&mut self, clause: &str) {
        self.sql.push_str(clause);
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?))
            .await?;
        self.write(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn insert_standard_if_absent(&self, standard: pb::Standard) -> Result<(), StoreError> {
        self.write(move |connection| {
            let create_time = standard
                .create_time
                .as_ref()
                .map_or(0, |time| time.seconds * 1_000_000 + i64::from(time.nanos) / 1_000);
            connection
                .prepare_cached(
                    "INSERT OR IGNORE INTO standards (standard_id, version, create_time, body) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![standard.standard_id, standard.version, create_time, standard.encode_to_vec()])?;
            Ok(())
        })
        .await
    }

    async fn create_standard(
        &self,
        mut standard: pb::Standard,
        now: Timestamp,
    ) -> Result<pb::Standard, StoreError> {
        self.write(move |connection| {
            let version: i64 = connection
                .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM standards WHERE standard_id = ?1")?
                .query_row([&standard.standard_id], |row| row.get(0))?;
            standard.version = version;
            standard.create_time = Some(timestamp_to_proto(now));
            connection
                .prepare_cached("INSERT INTO standards (standard_id, version, create_time, body) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![standard.standard_id, version, now.as_microsecond(), standard.encode_to_vec()])?;
            Ok(standard)
        })
        .await
    }

    async fn get_standard(
        &self,
        standard_id: &str,
        version: i64,
    ) -> Result<Option<pb::Standard>, StoreError> {
        let standard_id = standard_id.to_owned();
        self.read(move |connection| {
            let blob: Option<Vec<u8>> = if version == 0 {
                connection
                    .prepare_cached("SELECT body FROM standards WHERE standard_id = ?1 ORDER BY version DESC LIMIT 1")?
                    .query_row([&standard_id], |row| row.get(0))
                    .optional()?
            } else {
                connection
                    .prepare_cached("SELECT body FROM standards WHERE standard_id = ?1 AND version = ?2")?
                    .query_row(params![standard_id, version], |row| row.get(0))
                    .optional()?
            };
            blob.map(|blob| pb::Standard::decode(blob.as_slice()).map_err(StoreError::from))
                .transpose()
        })
        .await
    }

    async fn list_standards(
        &self,
        standard_id: Option<&str>,
        after: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<pb::Standard>, StoreError> {
        let standard_id = standard_id.map(str::to_owned);
        self.read(move |connection| {
            let (after_id, after_version) = after.unwrap_or_default();
            let rows = match standard_id {
                Some(id) => blobs(
                    connection,
                    "SELECT body FROM standards WHERE standard_id = ?1 AND version > ?2 ORDER BY version LIMIT ?3",
                    vec![id.into(), after_version.into(), (limit as i64).into()],
                )?,
                None => blobs(
                    connection,
                    "SELECT body FROM standards AS s
                     WHERE version = (SELECT MAX(version) FROM standards WHERE standard_id = s.standard_id)
                       AND standard_id > ?1
                     ORDER BY standard_id LIMIT ?2",
                    vec![after_id.into(), (limit as i64).into()],
                )?,
            };
            decode_all(rows)
        })
        .await
    }

    async fn create_team(
        &self,
        mut team: pb::Team,
        now: Timestamp,
    ) -> Result<pb::Team, StoreError> {
        self.write(move |connection| {
            let exists: bool = connection
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM teams WHERE team_id = ?1)")?
                .query_row([&team.team_id], |row| row.get(0))?;
            if exists {
                return Err(StoreError::AlreadyExists(format!(
                    "team {} already exists",
                    team.team_id
                )));
            }
            check_members(connection, &team)?;
            team.create_time = Some(timestamp_to_proto(now));
            team.update_time = team.create_time;
            connection
                .prepare_cached("INSERT INTO teams (team_id, body) VALUES (?1, ?2)")?
                .execute(params![team.team_id, team.encode_to_vec()])?;
            replace_members(connection, &team)?;
            Ok(team)
        })
        .await
    }

    async fn update_team(
        &self,
        mut team: pb::Team,
        now: Timestamp,
    ) -> Result<pb::Team, StoreError> {
        self.write(move |connection| {
            let stored: Option<Vec<u8>> = connection
                .prepare_cached("SELECT body FROM teams WHERE team_id = ?1")?
                .query_row([&team.team_id], |row| row.get(0))
                .optional()?;
            let create_time = match stored {
                Some(stored) => pb::Team::decode(stored.as_slice())?.create_time,
                None => Some(timestamp_to_proto(now)),
            };
            check_members(connection, &team)?;
            team.create_time = create_time;
            team.update_time = Some(timestamp_to_proto(now));
            connection
                .prepare_cached("INSERT OR REPLACE INTO teams (team_id, body) VALUES (?1, ?2)")?
                .execute(params![team.team_id, team.encode_to_vec()])?;
            replace_members(connection, &team)?;
            Ok(team)
        })
        .await
    }

    async fn get_team(&self, team_id: &str) -> Result<Option<pb::Team>, StoreError> {
        let team_id = team_id.to_owned();
        self.read(move |connection| {
            let blob: Option<Vec<u8>> = connection
                .prepare_cached("SELECT body FROM teams WHERE team_id = ?1")?
                .query_row([&team_id], |row| row.get(0))
                .optional()?;
            blob.map(|blob| pb::Team::decode(blob.as_slice()).map_err(StoreError::from))
                .transpose()
        })
        .await
    }

    async fn list_teams(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<pb::Team>, StoreError> {
        let after = after.unwrap_or_default().to_owned();
        self.read(move |connection| {
            decode_all(blobs(
                connection,
                "SELECT body FROM teams WHERE team_id > ?1 ORDER BY team_id LIMIT ?2",
                vec![after.into(), (limit as i64).into()],
            )?)
        })
        .await
    }

    async fn team_of(&self, staff_id: &str) -> Result<Option<String>, StoreError> {
        let staff_id = staff_id.to_owned();
        self.read(move |connection| {
            Ok(connection
                .prepare_cached("SELECT team_id FROM team_members WHERE staff_id = ?1")?
                .query_row([&staff_id], |row| row.get(0))
                .optional()?)
        })
        .await
    }

    async fn write_scorecard(&self, write: ScorecardWrite) -> Result<WriteResult, StoreError> {
        self.write(move |connection| write_scorecard(connection, write))
            .await
    }

    async fn get_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<StoredInteraction>, StoreError> {
        let interaction_id = interaction_id.to_owned();
        self.read(move |connection| {
            type Row = (i64, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>);
            let row: Option<Row> = connection
                .prepare_cached(
                    "SELECT revision, content_hash, amendment_hash, body, scorecard FROM interactions WHERE interaction_id = ?1",
                )?
                .query_row([&interaction_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
                })
                .optional()?;
            let malformed = || StoreError::Internal("a stored hash is malformed".to_owned());
            row.map(|(revision, hash, amendment_hash, body, scorecard)| {
                Ok(StoredInteraction {
                    revision,
                    content_hash: hash.try_into().map_err(|_| malformed())?,
                    amendment_hash: amendment_hash
                        .map(|hash| hash.try_into().map_err(|_| malformed()))
                        .transpose()?,
                    body,
                    scorecard: pb::Scorecard::decode(scorecard.as_slice())?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn get_scorecard(
        &self,
        interaction_id: &str,
        revision: i64,
    ) -> Result<Option<pb::Scorecard>, StoreError> {
        let interaction_id = interaction_id.to_owned();
        self.read(move |connection| {
            let current: Option<(i64, Vec<u8>)> = connection
                .prepare_cached("SELECT revision, scorecard FROM interactions WHERE interaction_id = ?1")?
                .query_row([&interaction_id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let blob = match current {
                Some((stored, blob)) if revision == 0 || revision == stored => Some(blob),
                Some(_) => connection
                    .prepare_cached("SELECT scorecard FROM revisions WHERE interaction_id = ?1 AND revision = ?2")?
                    .query_row(params![interaction_id, revision], |row| row.get(0))
                    .optional()?,
                None => None,
            };
            blob.map(|blob| pb::Scorecard::decode(blob.as_slice()).map_err(StoreError::from))
                .transpose()
        })
        .await
    }

    async fn list_scorecards(
        &self,
        filter: &ScorecardFilter,
        after: Option<&ScorecardCursor>,
        limit: usize,
    ) -> Result<Vec<pb::Scorecard>, StoreError> {
        let filter = filter.clone();
        let after = after.cloned();
        self.read(move |connection| {
            let mut query = Query::new("SELECT scorecard FROM interactions WHERE 1 = 1");
            if let Some(staff_id) = filter.staff_id {
                let staff = query.bind(staff_id);
                query.push(&format!(" AND staff_id = {staff}"));
            }
            if let Some(team_id) = filter.team_id {
                let team = query.bind(team_id);
                query.push(&format!(" AND team_id = {team}"));
            }
            if let Some(from) = filter.from_date {
                let from = query.bind(from.to_string());
                query.push(&format!(" AND local_date >= {from}"));
            }
            if let Some(to) = filter.to_date {
                let to = query.bind(to.to_string());
                query.push(&format!(" AND local_date <= {to}"));
            }
            for (column, value) in [
                ("tier", filter.tier),
                ("channel", filter.channel),
                ("status", filter.status),
            ] {
                if let Some(value) = value {
                    let value = query.bind(i64::from(value));
                    query.push(&format!(" AND {column} = {value}"));
                }
            }
            if !filter.grades.is_empty() {
                let grades: BTreeSet<i32> = filter.grades.iter().copied().collect();
                let placeholders: Vec<String> = grades
                    .into_iter()
                    .map(|grade| query.bind(i64::from(grade)))
                    .collect();
                query.push(&format!(" AND grade IN ({})", placeholders.join(", ")));
            }
            if let Some(after) = after {
                let date = query.bind(after.local_date.to_string());
                let id = query.bind(after.interaction_id);
                query.push(&format!(
                    " AND (local_date < {date} OR (local_date = {date} AND interaction_id > {id}))"
                ));
            }
            let limit = query.bind(limit as i64);
            query.push(&format!(
                " ORDER BY local_date DESC, interaction_id ASC LIMIT {limit}"
            ));
            let Query { sql, values } = query;
            decode_all(blobs(connection, &sql, values)?)
        })
        .await
    }

    async fn due_for_rescore(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<DueRescore>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT interaction_id, revision FROM interactions
                 WHERE next_due IS NOT NULL AND next_due <= ?1 ORDER BY next_due LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now.as_microsecond(), limit as i64], |row| {
                Ok(DueRescore {
                    interaction_id: row.get(0)?,
                    revision: row.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn staff_days(
        &self,
        team_id: &str,
        staff_id: Option<&str>,
        from: Date,
        to: Date,
    ) -> Result<Vec<StaffDay>, StoreError> {
        let team_id = team_id.to_owned();
        let staff_id = staff_id.map(str::to_owned);
        self.read(move |connection| {
            let columns = DaySums::FIELDS.join(", ");
            let sql = format!(
                "SELECT team_id, staff_id, local_date, {columns}, changes_after_close FROM staff_days
                 WHERE team_id = ?1 AND (?2 IS NULL OR staff_id = ?2) AND local_date BETWEEN ?3 AND ?4
                 ORDER BY local_date, staff_id"
            );
            let mut statement = connection.prepare_cached(&sql)?;
            let rows = statement.query_map(
                params![team_id, staff_id, from.to_string(), to.to_string()],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        day_sums(row, 3)?,
                        row.get::<_, i64>(3 + SUM_COUNT)?,
                    ))
                },
            )?;
            rows.map(|row| {
                let (team_id, staff_id, date, sums, changes_after_close) = row?;
                Ok(StaffDay {
                    team_id,
                    staff_id,
                    local_date: parse_date(&date)?,
                    sums,
                    changes_after_close,
                })
            })
            .collect()
        })
        .await
    }

    async fn scan_scorecards(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<pb::Scorecard>, StoreError> {
        let after = after.unwrap_or_default().to_owned();
        self.read(move |connection| {
            decode_all(blobs(
                connection,
                "SELECT scorecard FROM interactions WHERE interaction_id > ?1 ORDER BY interaction_id LIMIT ?2",
                vec![after.into(), (limit as i64).into()],
            )?)
        })
        .await
    }
}
