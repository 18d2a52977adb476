//! The `Store` implementation of the PostgreSQL backend: writes are transactions retried from
//! the start when they collide with a concurrent one, reads run on pooled connections with
//! cached prepared statements.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Transaction};
use jiff::Timestamp;
use jiff::civil::Date;
use prost::Message;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::error::Failure;
use super::ingest::append_changes;
use super::{CATALOG_CHANNEL, PostgresStore, lock_key};
use crate::convert::timestamp_to_proto;
use crate::proto::v1 as pb;
use crate::rollup::sums::{DaySums, SUM_COUNT};
use crate::storage::redact::{erase_snippets, redact_body};
use crate::storage::sql::{self, Param, Placeholders, Sql};
use crate::storage::{
    BodyState, CloseOutcome, DayRow, DayScope, DayView, DueRescore, Job, Notice, RollupKey,
    ScorecardCursor, ScorecardFilter, ScorecardWrite, Store, StoreError, StoredInteraction,
    WriteResult,
};

/// A transaction body: borrows the transaction, owns everything else.
type TxFuture<'t, R> = Pin<Box<dyn Future<Output = Result<R, Failure>> + Send + 't>>;

use super::writer::ATTEMPTS;

/// A shared statement's parameters in PostgreSQL types.
fn bind(params: &[Param]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    params
        .iter()
        .map(|param| -> Box<dyn ToSql + Sync + Send> {
            match param {
                Param::Text(text) => Box::new(text.clone()),
                Param::Int(value) => Box::new(*value),
                Param::Date(date) => Box::new(*date),
            }
        })
        .collect()
}

async fn query(client: &impl GenericClient, sql: &Sql) -> Result<Vec<Row>, StoreError> {
    let values = bind(&sql.params);
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|value| value.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let statement = client.prepare_cached(&sql.text).await?;
    Ok(client.query(&statement, &params).await?)
}

async fn cached_query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, params).await
}

async fn cached_query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_opt(&statement, params).await
}

async fn cached_execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.execute(&statement, params).await
}

fn decode_all<M: Message + Default>(rows: Vec<Row>) -> Result<Vec<M>, StoreError> {
    rows.iter()
        .map(|row| M::decode(row.get::<_, &[u8]>(0)).map_err(StoreError::from))
        .collect()
}

fn day_sums(row: &Row, first: usize) -> DaySums {
    let mut values = [0_i64; SUM_COUNT];
    for (index, value) in values.iter_mut().enumerate() {
        *value = row.get(first + index);
    }
    DaySums::from_array(values)
}

/// A row of [`sql::day_rows`] (or of the same columns).
fn day_row(row: &Row) -> DayRow {
    DayRow {
        team_id: row.get(0),
        staff_id: row.get(1),
        local_date: row.get(2),
        sums: day_sums(row, 3),
        changes_after_close: row.get(3 + SUM_COUNT),
        close_time: row.get(4 + SUM_COUNT),
    }
}

async fn day_rows(client: &impl GenericClient, sql: Sql) -> Result<Vec<DayRow>, StoreError> {
    Ok(query(client, &sql).await?.iter().map(day_row).collect())
}

async fn scored_days(
    client: &impl GenericClient,
    sql: Sql,
) -> Result<Vec<(Date, DaySums)>, StoreError> {
    Ok(query(client, &sql)
        .await?
        .iter()
        .map(|row| (row.get(0), day_sums(row, 1)))
        .collect())
}

async fn carried_into(
    client: &impl GenericClient,
    sql: Sql,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(query(client, &sql)
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

fn proto_time(time: Option<&prost_types::Timestamp>) -> Timestamp {
    time.and_then(crate::convert::from_proto_timestamp)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

async fn notify_catalog(transaction: &Transaction<'_>) -> Result<(), Failure> {
    transaction
        .batch_execute(&format!("NOTIFY {CATALOG_CHANNEL}"))
        .await?;
    Ok(())
}

/// Checks that no member of `team` belongs to another team.
async fn check_members(transaction: &Transaction<'_>, team: &pb::Team) -> Result<(), Failure> {
    for member in &team.member_staff_ids {
        let owner: Option<String> = cached_query_opt(
            transaction,
            "SELECT team_id FROM team_members WHERE staff_id = $1",
            &[member],
        )
        .await?
        .map(|row| row.get(0));
        if let Some(owner) = owner.filter(|owner| *owner != team.team_id) {
            return Err(StoreError::FailedPrecondition(format!(
                "staff member {member} already belongs to team {owner}; remove them there first"
            ))
            .into());
        }
    }
    Ok(())
}

async fn replace_members(transaction: &Transaction<'_>, team: &pb::Team) -> Result<(), Failure> {
    cached_execute(
        transaction,
        "DELETE FROM team_members WHERE team_id = $1",
        &[&team.team_id],
    )
    .await?;
    cached_execute(
        transaction,
        "INSERT INTO team_members (staff_id, team_id) SELECT UNNEST($1::text[]), $2",
        &[&team.member_staff_ids, &team.team_id],
    )
    .await?;
    Ok(())
}

async fn stored_close(
    client: &impl GenericClient,
    team_id: &str,
    local_date: Date,
) -> Result<Option<pb::DayClose>, Failure> {
    let row = cached_query_opt(
        client,
        "SELECT snapshot FROM day_closes WHERE team_id = $1 AND local_date = $2",
        &[&team_id, &local_date],
    )
    .await?;
    Ok(row
        .map(|row| pb::DayClose::decode(row.get::<_, &[u8]>(0)))
        .transpose()?)
}

async fn close_day_in(
    transaction: &Transaction<'_>,
    close: &pb::DayClose,
    date: Date,
    read_at: i64,
) -> Result<CloseOutcome, Failure> {
    // The team row first (it may wait for a writer holding it), the feed lock after: every
    // transaction takes row locks before the feed lock, so none waits in a circle.
    cached_execute(
        transaction,
        "INSERT INTO team_days (team_id, local_date) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&close.team_id, &date],
    )
    .await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key::FEED])
        .await?;
    if let Some(stored) = stored_close(transaction, &close.team_id, date).await? {
        return Ok(CloseOutcome::AlreadyClosed(stored));
    }
    let changed: bool = cached_query_opt(
        transaction,
        "SELECT EXISTS (SELECT 1 FROM rollup_changes
         WHERE seq > $1 AND team_id = $2 AND local_date <= $3)",
        &[&read_at, &close.team_id, &date],
    )
    .await?
    .is_some_and(|row| row.get(0));
    if changed {
        return Ok(CloseOutcome::Changed);
    }
    let close_time = proto_time(close.close_time.as_ref());
    cached_execute(
        transaction,
        "INSERT INTO day_closes (team_id, local_date, close_time, trigger, snapshot)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &close.team_id,
            &date,
            &close_time,
            &i64::from(close.trigger),
            &close.encode_to_vec(),
        ],
    )
    .await?;
    // Watchers on every replica hear that the day closed.
    let keys = RollupKey::closed_by(close, date);
    append_changes(transaction, keys.iter(), close_time).await?;
    Ok(CloseOutcome::Closed(close.clone()))
}

/// Redacts the bodies of the rows given as (interaction id, body).
async fn redact_rows(transaction: &Transaction<'_>, rows: &[Row]) -> Result<(), Failure> {
    for row in rows {
        let interaction_id: &str = row.get(0);
        let body: Option<&[u8]> = row.get(1);
        let body = body.map(redact_body).transpose()?;
        cached_execute(
            transaction,
            "UPDATE interactions SET body = $2, customer_id = '', body_state = $3
             WHERE interaction_id = $1",
            &[&interaction_id, &body, &BodyState::Redacted.code()],
        )
        .await?;
    }
    Ok(())
}

async fn erase_customer_in(
    transaction: &Transaction<'_>,
    customer_id: &str,
) -> Result<u64, Failure> {
    let rows = cached_query(
        transaction,
        "SELECT interaction_id, body, scorecard FROM interactions
         WHERE customer_id = $1 AND customer_id <> '' ORDER BY interaction_id FOR UPDATE",
        &[&customer_id],
    )
    .await?;
    redact_rows(transaction, &rows).await?;
    for row in &rows {
        let interaction_id: &str = row.get(0);
        let mut scorecard = pb::Scorecard::decode(row.get::<_, &[u8]>(2))?;
        if erase_snippets(&mut scorecard) {
            cached_execute(
                transaction,
                "UPDATE interactions SET scorecard = $2 WHERE interaction_id = $1",
                &[&interaction_id, &scorecard.encode_to_vec()],
            )
            .await?;
        }
        let archived = cached_query(
            transaction,
            "SELECT revision, scorecard FROM revisions WHERE interaction_id = $1",
            &[&interaction_id],
        )
        .await?;
        for revision in archived {
            let number: i64 = revision.get(0);
            let mut scorecard = pb::Scorecard::decode(revision.get::<_, &[u8]>(1))?;
            if erase_snippets(&mut scorecard) {
                cached_execute(
                    transaction,
                    "UPDATE revisions SET scorecard = $3 WHERE interaction_id = $1 AND revision = $2",
                    &[&interaction_id, &number, &scorecard.encode_to_vec()],
                )
                .await?;
            }
        }
    }
    Ok(rows.len() as u64)
}

impl PostgresStore {
    /// Runs `work` in a transaction and commits it; runs it again from the start (up to
    /// [`ATTEMPTS`] times) when it collided with a concurrent transaction.
    async fn transact<R: Send>(
        &self,
        work: impl for<'t> Fn(&'t Transaction<'t>) -> TxFuture<'t, R> + Send + Sync,
    ) -> Result<R, StoreError> {
        let mut client = self.client().await?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let transaction = client.transaction().await?;
            let result = match work(&transaction).await {
                Ok(value) => transaction
                    .commit()
                    .await
                    .map(|()| value)
                    .map_err(Failure::from),
                Err(failure) => Err(failure),
            };
            metrics::histogram!(crate::ops::metrics::STORAGE_COMMIT_SECONDS, "backend" => "postgres")
                .record(started.elapsed().as_secs_f64());
            match result {
                Err(failure) if failure.retryable() && attempt < ATTEMPTS => {
                    tracing::debug!(attempt, ?failure, "transaction collided; running it again");
                    tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(
                        0..(2 << attempt),
                    )))
                    .await;
                }
                other => return other.map_err(StoreError::from),
            }
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        // A standby (say, after a failover went the wrong way) answers but cannot be written.
        let writable: bool = self
            .client()
            .await?
            .query_one("SELECT NOT pg_is_in_recovery()", &[])
            .await?
            .get(0);
        if writable {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "the database is a read-only standby".to_owned(),
            ))
        }
    }

    async fn insert_standard_if_absent(&self, standard: pb::Standard) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO standards (standard_id, version, create_time, body)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    &standard.standard_id,
                    &standard.version,
                    &proto_time(standard.create_time.as_ref()),
                    &standard.encode_to_vec(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn create_standard(
        &self,
        standard: pb::Standard,
        now: Timestamp,
    ) -> Result<pb::Standard, StoreError> {
        self.transact(|transaction| {
            let mut standard = standard.clone();
            Box::pin(async move {
                let version: i64 = cached_query_opt(
                    transaction,
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM standards WHERE standard_id = $1",
                    &[&standard.standard_id],
                )
                .await?
                .map_or(1, |row| row.get(0));
                standard.version = version;
                standard.create_time = Some(timestamp_to_proto(now));
                // A concurrent create of the same version collides on the key and runs again.
                cached_execute(
                    transaction,
                    "INSERT INTO standards (standard_id, version, create_time, body) VALUES ($1, $2, $3, $4)",
                    &[&standard.standard_id, &version, &now, &standard.encode_to_vec()],
                )
                .await?;
                notify_catalog(transaction).await?;
                Ok(standard)
            })
        })
        .await
    }

    async fn get_standard(
        &self,
        standard_id: &str,
        version: i64,
    ) -> Result<Option<pb::Standard>, StoreError> {
        let client = self.client().await?;
        let row = if version == 0 {
            cached_query_opt(
                &client,
                "SELECT body FROM standards WHERE standard_id = $1 ORDER BY version DESC LIMIT 1",
                &[&standard_id],
            )
            .await?
        } else {
            cached_query_opt(
                &client,
                "SELECT body FROM standards WHERE standard_id = $1 AND version = $2",
                &[&standard_id, &version],
            )
            .await?
        };
        Ok(row
            .map(|row| pb::Standard::decode(row.get::<_, &[u8]>(0)))
            .transpose()?)
    }

    async fn list_standards(
        &self,
        standard_id: Option<&str>,
        after: Option<(String, i64)>,
        limit: usize,
    ) -> Result<Vec<pb::Standard>, StoreError> {
        let client = self.client().await?;
        let (after_id, after_version) = after.unwrap_or_default();
        let limit = limit as i64;
        let rows = match standard_id {
            Some(id) => {
                cached_query(
                    &client,
                    "SELECT body FROM standards WHERE standard_id = $1 AND version > $2
                     ORDER BY version LIMIT $3",
                    &[&id, &after_version, &limit],
                )
                .await?
            }
            None => {
                cached_query(
                    &client,
                    "SELECT DISTINCT ON (standard_id) body FROM standards
                     WHERE standard_id > $1 ORDER BY standard_id, version DESC LIMIT $2",
                    &[&after_id, &limit],
                )
                .await?
            }
        };
        decode_all(rows)
    }

    async fn create_team(&self, team: pb::Team, now: Timestamp) -> Result<pb::Team, StoreError> {
        self.transact(|transaction| {
            let mut team = team.clone();
            Box::pin(async move {
                let exists = cached_query_opt(
                    transaction,
                    "SELECT 1 FROM teams WHERE team_id = $1",
                    &[&team.team_id],
                )
                .await?
                .is_some();
                if exists {
                    return Err(StoreError::AlreadyExists(format!(
                        "team {} already exists",
                        team.team_id
                    ))
                    .into());
                }
                check_members(transaction, &team).await?;
                team.create_time = Some(timestamp_to_proto(now));
                team.update_time = team.create_time;
                cached_execute(
                    transaction,
                    "INSERT INTO teams (team_id, body) VALUES ($1, $2)",
                    &[&team.team_id, &team.encode_to_vec()],
                )
                .await?;
                replace_members(transaction, &team).await?;
                notify_catalog(transaction).await?;
                Ok(team)
            })
        })
        .await
    }

    async fn update_team(&self, team: pb::Team, now: Timestamp) -> Result<pb::Team, StoreError> {
        self.transact(|transaction| {
            let mut team = team.clone();
            Box::pin(async move {
                let stored = cached_query_opt(
                    transaction,
                    "SELECT body FROM teams WHERE team_id = $1 FOR UPDATE",
                    &[&team.team_id],
                )
                .await?;
                let create_time = match stored {
                    Some(row) => pb::Team::decode(row.get::<_, &[u8]>(0))?.create_time,
                    None => Some(timestamp_to_proto(now)),
                };
                check_members(transaction, &team).await?;
                team.create_time = create_time;
                team.update_time = Some(timestamp_to_proto(now));
                cached_execute(
                    transaction,
                    "INSERT INTO teams (team_id, body) VALUES ($1, $2)
                     ON CONFLICT (team_id) DO UPDATE SET body = excluded.body",
                    &[&team.team_id, &team.encode_to_vec()],
                )
                .await?;
                replace_members(transaction, &team).await?;
                notify_catalog(transaction).await?;
                Ok(team)
            })
        })
        .await
    }

    async fn get_team(&self, team_id: &str) -> Result<Option<pb::Team>, StoreError> {
        let client = self.client().await?;
        let row = cached_query_opt(
            &client,
            "SELECT body FROM teams WHERE team_id = $1",
            &[&team_id],
        )
        .await?;
        Ok(row
            .map(|row| pb::Team::decode(row.get::<_, &[u8]>(0)))
            .transpose()?)
    }

    async fn list_teams(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<pb::Team>, StoreError> {
        let client = self.client().await?;
        let rows = cached_query(
            &client,
            "SELECT body FROM teams WHERE team_id > $1 ORDER BY team_id LIMIT $2",
            &[&after.unwrap_or_default(), &(limit as i64)],
        )
        .await?;
        decode_all(rows)
    }

    async fn team_of(&self, staff_id: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        Ok(cached_query_opt(
            &client,
            "SELECT team_id FROM team_members WHERE staff_id = $1",
            &[&staff_id],
        )
        .await?
        .map(|row| row.get(0)))
    }

    async fn write_scorecard(&self, write: ScorecardWrite) -> Result<WriteResult, StoreError> {
        self.writer.write(write).await
    }

    async fn get_interaction(
        &self,
        interaction_id: &str,
    ) -> Result<Option<StoredInteraction>, StoreError> {
        let client = self.client().await?;
        let row = cached_query_opt(
            &client,
            "SELECT revision, content_hash, amendment_hash, body, scorecard, body_state
             FROM interactions WHERE interaction_id = $1",
            &[&interaction_id],
        )
        .await?;
        let malformed = || StoreError::Internal("a stored hash is malformed".to_owned());
        row.map(|row| {
            Ok(StoredInteraction {
                revision: row.get(0),
                content_hash: row.get::<_, &[u8]>(1).try_into().map_err(|_| malformed())?,
                amendment_hash: row
                    .get::<_, Option<&[u8]>>(2)
                    .map(|hash| hash.try_into().map_err(|_| malformed()))
                    .transpose()?,
                body: row.get(3),
                body_state: BodyState::from_code(row.get(5)),
                scorecard: pb::Scorecard::decode(row.get::<_, &[u8]>(4))?,
            })
        })
        .transpose()
    }

    async fn get_scorecard(
        &self,
        interaction_id: &str,
        revision: i64,
    ) -> Result<Option<pb::Scorecard>, StoreError> {
        let client = self.client().await?;
        let row = cached_query_opt(
            &client,
            "SELECT scorecard FROM interactions
             WHERE interaction_id = $1 AND ($2::bigint = 0 OR revision = $2)
             UNION ALL
             SELECT scorecard FROM revisions WHERE interaction_id = $1 AND revision = $2
             LIMIT 1",
            &[&interaction_id, &revision],
        )
        .await?;
        Ok(row
            .map(|row| pb::Scorecard::decode(row.get::<_, &[u8]>(0)))
            .transpose()?)
    }

    async fn list_scorecards(
        &self,
        filter: &ScorecardFilter,
        after: Option<&ScorecardCursor>,
        limit: usize,
    ) -> Result<Vec<pb::Scorecard>, StoreError> {
        let sql = sql::list_scorecards(Placeholders::Dollar, filter, after, limit);
        decode_all(query(&self.client().await?, &sql).await?)
    }

    async fn due_for_rescore(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<DueRescore>, StoreError> {
        let client = self.client().await?;
        let rows = cached_query(
            &client,
            "SELECT interaction_id, revision FROM interactions
             WHERE next_due IS NOT NULL AND next_due <= $1 ORDER BY next_due LIMIT $2",
            &[&now, &(limit as i64)],
        )
        .await?;
        Ok(rows
            .iter()
            .map(|row| DueRescore {
                interaction_id: row.get(0),
                revision: row.get(1),
            })
            .collect())
    }

    async fn scored_days(
        &self,
        scope: DayScope<'_>,
        on_or_before: Date,
        limit: usize,
    ) -> Result<Vec<(Date, DaySums)>, StoreError> {
        let sql = sql::scored_days(Placeholders::Dollar, scope, on_or_before, limit);
        scored_days(&self.client().await?, sql).await
    }

    async fn day_view(
        &self,
        scope: DayScope<'_>,
        from: Date,
        to: Date,
        history: usize,
    ) -> Result<DayView, StoreError> {
        let view = sql::day_view(Placeholders::Dollar, scope, from, to, history);
        let mut client = self.client().await?;
        // One snapshot for the three parts.
        let transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let view = DayView {
            rows: day_rows(&transaction, view.rows).await?,
            carried_in: carried_into(&transaction, view.carried_in).await?,
            history: match view.history {
                Some(sql) => scored_days(&transaction, sql).await?,
                None => Vec::new(),
            },
        };
        transaction.commit().await?;
        Ok(view)
    }

    async fn all_day_rows(&self) -> Result<Vec<DayRow>, StoreError> {
        let client = self.client().await?;
        let columns = DaySums::FIELDS.join(", ");
        let mut rows: Vec<DayRow> = cached_query(
            &client,
            &format!(
                "SELECT team_id, staff_id, local_date, {columns}, changes_after_close, NULL::timestamptz
                 FROM staff_days ORDER BY team_id, staff_id, local_date"
            ),
            &[],
        )
        .await?
        .iter()
        .map(day_row)
        .collect();
        rows.extend(
            cached_query(
                &client,
                &format!(
                    "SELECT team_id, ''::text, local_date, {columns}, changes_after_close, NULL::timestamptz
                     FROM team_days ORDER BY team_id, local_date"
                ),
                &[],
            )
            .await?
            .iter()
            .map(day_row),
        );
        Ok(rows)
    }

    async fn change_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .client()
            .await?
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM rollup_changes", &[])
            .await?
            .get(0))
    }

    async fn changes_since(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, RollupKey)>, StoreError> {
        let client = self.client().await?;
        let rows = cached_query(
            &client,
            "SELECT seq, team_id, staff_id, local_date FROM rollup_changes
             WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &(limit as i64)],
        )
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    RollupKey {
                        team_id: row.get(1),
                        staff_id: row.get(2),
                        local_date: row.get(3),
                    },
                )
            })
            .collect())
    }

    async fn day_close(
        &self,
        team_id: &str,
        local_date: Date,
    ) -> Result<Option<pb::DayClose>, StoreError> {
        Ok(stored_close(&self.client().await?, team_id, local_date).await?)
    }

    async fn close_day(
        &self,
        close: pb::DayClose,
        read_at: i64,
    ) -> Result<CloseOutcome, StoreError> {
        let date: Date = close.local_date.parse().map_err(|_| {
            StoreError::Internal(format!(
                "a day close has a malformed date: {:?}",
                close.local_date
            ))
        })?;
        self.transact(|transaction| {
            let close = close.clone();
            Box::pin(async move { close_day_in(transaction, &close, date, read_at).await })
        })
        .await
    }

    async fn unclosed_days(
        &self,
        team_id: &str,
        up_to: Date,
        limit: usize,
    ) -> Result<Vec<Date>, StoreError> {
        let client = self.client().await?;
        let rows = cached_query(
            &client,
            "SELECT d.local_date FROM team_days d
             WHERE d.team_id = $1 AND d.local_date <= $2
             AND NOT EXISTS (SELECT 1 FROM day_closes c
                             WHERE c.team_id = d.team_id AND c.local_date = d.local_date)
             ORDER BY d.local_date LIMIT $3",
            &[&team_id, &up_to, &(limit as i64)],
        )
        .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    async fn purge_bodies(
        &self,
        opened_before: Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.transact(|transaction| {
            Box::pin(async move {
                let rows = cached_query(
                    transaction,
                    "SELECT interaction_id, body FROM interactions
                     WHERE body_state < $1 AND opened_at < $2
                     ORDER BY opened_at LIMIT $3 FOR UPDATE SKIP LOCKED",
                    &[&BodyState::Redacted.code(), &opened_before, &(limit as i64)],
                )
                .await?;
                redact_rows(transaction, &rows).await?;
                Ok(rows.len())
            })
        })
        .await
    }

    async fn erase_customer(&self, customer_id: &str) -> Result<u64, StoreError> {
        let customer_id = customer_id.to_owned();
        self.transact(|transaction| {
            let customer_id = customer_id.clone();
            Box::pin(async move { erase_customer_in(transaction, &customer_id).await })
        })
        .await
    }

    async fn scan_scorecards(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<pb::Scorecard>, StoreError> {
        let client = self.client().await?;
        let rows = cached_query(
            &client,
            "SELECT scorecard FROM interactions WHERE interaction_id > $1
             ORDER BY interaction_id LIMIT $2",
            &[&after.unwrap_or_default(), &(limit as i64)],
        )
        .await?;
        decode_all(rows)
    }

    fn notices(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        Some(self.notices.subscribe())
    }

    async fn exclusively(&self, name: &'static str, job: Job<'_>) -> Result<bool, StoreError> {
        let key = lock_key::job(name);
        let mut claim = Claim(Some(self.client().await?));
        let client = claim.0.as_ref().expect("a claimed connection");
        let claimed: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .get(0);
        if !claimed {
            claim.release();
            return Ok(false);
        }
        job.await;
        let client = claim.0.as_ref().expect("a claimed connection");
        if client
            .query_one("SELECT pg_advisory_unlock($1)", &[&key])
            .await
            .is_ok()
        {
            claim.release();
        }
        Ok(true)
    }
}

/// A pooled connection holding a session advisory lock. Unless released after an unlock, it
/// is detached from the pool and closed when dropped (a cancelled job, a failed unlock), which
/// ends its session and so the lock.
struct Claim(Option<deadpool_postgres::Object>);

impl Claim {
    /// Returns the connection to the pool (it holds no lock).
    fn release(&mut self) {
        self.0.take();
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            drop(deadpool_postgres::Object::take(object));
        }
    }
}
