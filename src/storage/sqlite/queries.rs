//! The `Store` implementation of the SQLite backend: writes go through the group-commit
//! writer, reads through the read-only pool.

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
use crate::storage::sql::{self, Param, Placeholders, Sql};
use crate::storage::{
    BodyState, CloseOutcome, DayRow, DayScope, DayView, DueRescore, RollupKey, ScorecardCursor,
    ScorecardFilter, ScorecardWrite, Store, StoreError, StoredInteraction, WriteResult,
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

/// A shared statement's parameters as SQLite values (dates as `YYYY-MM-DD` text).
fn values(params: Vec<Param>) -> Vec<rusqlite::types::Value> {
    params
        .into_iter()
        .map(|param| match param {
            Param::Text(text) => text.into(),
            Param::Int(value) => value.into(),
            Param::Date(date) => date.to_string().into(),
        })
        .collect()
}

fn day_rows(connection: &Connection, query: Sql) -> Result<Vec<DayRow>, StoreError> {
    select_day_rows(connection, &query.text, values(query.params))
}

fn scored_days(connection: &Connection, query: Sql) -> Result<Vec<(Date, DaySums)>, StoreError> {
    let mut statement = connection.prepare_cached(&query.text)?;
    let rows = statement.query_map(params_from_iter(values(query.params)), |row| {
        Ok((row.get::<_, String>(0)?, day_sums(row, 1)?))
    })?;
    rows.map(|row| {
        let (date, sums) = row?;
        Ok((parse_date(&date)?, sums))
    })
    .collect()
}

fn carried_into(connection: &Connection, query: Sql) -> Result<Vec<(String, i64)>, StoreError> {
    let mut statement = connection.prepare_cached(&query.text)?;
    let rows = statement.query_map(params_from_iter(values(query.params)), |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn select_day_rows(
    connection: &Connection,
    sql: &str,
    values: Vec<rusqlite::types::Value>,
) -> Result<Vec<DayRow>, StoreError> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            day_sums(row, 3)?,
            row.get::<_, i64>(3 + SUM_COUNT)?,
            row.get::<_, Option<i64>>(4 + SUM_COUNT)?,
        ))
    })?;
    rows.map(|row| {
        let (team_id, staff_id, date, sums, changes_after_close, close_time) = row?;
        Ok(DayRow {
            team_id,
            staff_id,
            local_date: parse_date(&date)?,
            sums,
            changes_after_close,
            close_time: close_time
                .map(|micros| {
                    Timestamp::from_microsecond(micros).map_err(|_| {
                        StoreError::Internal(format!(
                            "a stored close time is out of range: {micros}"
                        ))
                    })
                })
                .transpose()?,
        })
    })
    .collect()
}

fn stored_close(
    connection: &Connection,
    team_id: &str,
    local_date: Date,
) -> Result<Option<pb::DayClose>, StoreError> {
    let blob: Option<Vec<u8>> = connection
        .prepare_cached("SELECT snapshot FROM day_closes WHERE team_id = ?1 AND local_date = ?2")?
        .query_row(params![team_id, local_date.to_string()], |row| row.get(0))
        .optional()?;
    blob.map(|blob| pb::DayClose::decode(blob.as_slice()).map_err(StoreError::from))
        .transpose()
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
            type Row = (i64, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>, Vec<u8>, i64);
            let row: Option<Row> = connection
                .prepare_cached(
                    "SELECT revision, content_hash, amendment_hash, body, scorecard, body_state FROM interactions WHERE interaction_id = ?1",
                )?
                .query_row([&interaction_id], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                })
                .optional()?;
            let malformed = || StoreError::Internal("a stored hash is malformed".to_owned());
            row.map(|(revision, hash, amendment_hash, body, scorecard, body_state)| {
                Ok(StoredInteraction {
                    revision,
                    content_hash: hash.try_into().map_err(|_| malformed())?,
                    amendment_hash: amendment_hash
                        .map(|hash| hash.try_into().map_err(|_| malformed()))
                        .transpose()?,
                    body,
                    body_state: BodyState::from_code(body_state),
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
            let query =
                sql::list_scorecards(Placeholders::Question, &filter, after.as_ref(), limit);
            decode_all(blobs(connection, &query.text, values(query.params))?)
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

    async fn scored_days(
        &self,
        scope: DayScope<'_>,
        on_or_before: Date,
        limit: usize,
    ) -> Result<Vec<(Date, DaySums)>, StoreError> {
        let query = sql::scored_days(Placeholders::Question, scope, on_or_before, limit);
        self.read(move |connection| scored_days(connection, query))
            .await
    }

    async fn day_view(
        &self,
        scope: DayScope<'_>,
        from: Date,
        to: Date,
        history: usize,
    ) -> Result<DayView, StoreError> {
        let view = sql::day_view(Placeholders::Question, scope, from, to, history);
        self.read(move |connection| {
            // One read transaction: the three parts come from one snapshot.
            let transaction = connection.unchecked_transaction()?;
            let view = DayView {
                rows: day_rows(&transaction, view.rows)?,
                carried_in: carried_into(&transaction, view.carried_in)?,
                history: match view.history {
                    Some(query) => scored_days(&transaction, query)?,
                    None => Vec::new(),
                },
            };
            transaction.commit()?;
            Ok(view)
        })
        .await
    }

    async fn all_day_rows(&self) -> Result<Vec<DayRow>, StoreError> {
        self.read(|connection| {
            let columns = DaySums::FIELDS.join(", ");
            let mut rows = select_day_rows(
                connection,
                &format!(
                    "SELECT team_id, staff_id, local_date, {columns}, changes_after_close, NULL
                     FROM staff_days ORDER BY team_id, staff_id, local_date"
                ),
                Vec::new(),
            )?;
            rows.extend(select_day_rows(
                connection,
                &format!(
                    "SELECT team_id, '', local_date, {columns}, changes_after_close, NULL
                     FROM team_days ORDER BY team_id, local_date"
                ),
                Vec::new(),
            )?);
            Ok(rows)
        })
        .await
    }

    async fn change_seq(&self) -> Result<i64, StoreError> {
        self.read(|connection| {
            Ok(connection.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM rollup_changes",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }

    async fn changes_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, RollupKey)>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT seq, team_id, staff_id, local_date FROM rollup_changes
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = statement.query_map(params![after, limit as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            rows.map(|row| {
                let (seq, team_id, staff_id, date) = row?;
                Ok((
                    seq,
                    RollupKey {
                        team_id,
                        staff_id,
                        local_date: parse_date(&date)?,
                    },
                ))
            })
            .collect()
        })
        .await
    }

    async fn day_close(
        &self,
        team_id: &str,
        local_date: Date,
    ) -> Result<Option<pb::DayClose>, StoreError> {
        let team_id = team_id.to_owned();
        self.read(move |connection| stored_close(connection, &team_id, local_date))
            .await
    }

    async fn close_day(
        &self,
        close: pb::DayClose,
        read_at: i64,
    ) -> Result<CloseOutcome, StoreError> {
        let date = parse_date(&close.local_date)?;
        let close_time = close.close_time.as_ref().map_or(0, |time| {
            time.seconds * 1_000_000 + i64::from(time.nanos) / 1_000
        });
        self.write(move |connection| {
            if let Some(stored) = stored_close(connection, &close.team_id, date)? {
                return Ok(CloseOutcome::AlreadyClosed(stored));
            }
            let changed: bool = connection
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM rollup_changes
                     WHERE seq > ?1 AND team_id = ?2 AND local_date <= ?3)",
                )?
                .query_row(params![read_at, close.team_id, close.local_date], |row| {
                    row.get(0)
                })?;
            if changed {
                return Ok(CloseOutcome::Changed);
            }
            connection
                .prepare_cached(
                    "INSERT INTO day_closes (team_id, local_date, close_time, trigger, snapshot)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    close.team_id,
                    close.local_date,
                    close_time,
                    close.trigger,
                    close.encode_to_vec()
                ])?;
            // A closed day always has a team row, so its rollups say it is closed.
            connection
                .prepare_cached(
                    "INSERT OR IGNORE INTO team_days (team_id, local_date) VALUES (?1, ?2)",
                )?
                .execute(params![close.team_id, close.local_date])?;
            Ok(CloseOutcome::Closed(close))
        })
        .await
    }

    async fn unclosed_days(
        &self,
        team_id: &str,
        up_to: Date,
        limit: usize,
    ) -> Result<Vec<Date>, StoreError> {
        let team_id = team_id.to_owned();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT d.local_date FROM team_days d
                 WHERE d.team_id = ?1 AND d.local_date <= ?2
                 AND NOT EXISTS (SELECT 1 FROM day_closes c
                                 WHERE c.team_id = d.team_id AND c.local_date = d.local_date)
                 ORDER BY d.local_date LIMIT ?3",
            )?;
            let rows = statement
                .query_map(params![team_id, up_to.to_string(), limit as i64], |row| {
                    row.get::<_, String>(0)
                })?;
            rows.map(|row| parse_date(&row?)).collect()
        })
        .await
    }

    async fn purge_bodies(
        &self,
        opened_before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let purged = self
            .write(move |connection| super::privacy::purge_bodies(connection, opened_before, limit))
            .await?;
        if purged > 0 {
            self.scrub_wal().await;
        }
        Ok(purged)
    }

    async fn erase_customer(&self, customer_id: &str) -> Result<u64, StoreError> {
        let customer_id = customer_id.to_owned();
        let erased = self
            .write(move |connection| super::privacy::erase_customer(connection, &customer_id))
            .await?;
        if erased > 0 {
            self.scrub_wal().await;
        }
        Ok(erased)
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
