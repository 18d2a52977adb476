//! OEC daily rollups (日清) as read: staff and team rollups derived from the stored day sums,
//! day close with the clearing sheet, the live watch, leaderboards and the invariant check.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

use jiff::SignedDuration;
use jiff::civil::Date;
use tokio::sync::{broadcast, mpsc};

use super::catalog::Catalog;
use super::changes::ChangeHub;
use super::clock::Clock;
use super::error::{ServiceError, ServiceResult};
use super::page_token;
use crate::convert::{InvalidArgument, Violations, parse_date, timestamp_to_proto};
use crate::domain::team::{DEFAULT_TEAM_ID, Team};
use crate::proto::v1 as pb;
use crate::rollup::derive::{self, DayInput, Progress, compare_means};
use crate::rollup::sums::{Contribution, DaySums};
use crate::storage::{CloseOutcome, DayRow, DayScope, RollupKey, Store};

/// Scored days read per step when walking back for a streak.
const HISTORY_CHUNK: usize = 64;
/// Longest date range of a list or leaderboard, in days.
const MAX_RANGE_DAYS: i64 = 366;
/// Messages a watcher may have queued before it stops reading changes (and later resyncs).
const WATCH_QUEUE: usize = 64;
/// How often a day close is retried when rollups change while it is read.
const CLOSE_ATTEMPTS: usize = 8;

/// Rollups, day close, watch, leaderboard and verification.
pub struct RollupService {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
    changes: ChangeHub,
    day_close_grace: SignedDuration,
}

/// Which rollups a watch covers.
#[derive(Debug, Clone)]
struct WatchFilter {
    team: Arc<Team>,
    staff_id: Option<String>,
    date: Date,
}

impl WatchFilter {
    fn matches(&self, key: &RollupKey) -> bool {
        key.team_id == self.team.team_id
            && self
                .staff_id
                .as_ref()
                .is_none_or(|staff_id| *staff_id == key.staff_id)
    }
}

/// The `from_date` through `to_date` range of a request: an empty start is `today`, an empty
/// end the start day; at most `MAX_RANGE_DAYS` days.
fn date_range(from: &str, to: &str, today: Date) -> Result<(Date, Date), InvalidArgument> {
    let mut violations = Violations::default();
    let from_date = if from.is_empty() {
        Some(today)
    } else {
        parse_date(&mut violations, "from_date", from)
    };
    let to_date = if to.is_empty() {
        from_date
    } else {
        parse_date(&mut violations, "to_date", to)
    };
    if let (Some(from_date), Some(to_date)) = (from_date, to_date) {
        if to_date < from_date {
            violations.add("to_date", "must not be before the first date");
        } else if (to_date - from_date).get_days() as i64 >= MAX_RANGE_DAYS {
            violations.add(
                "to_date",
                format!("the range may cover at most {MAX_RANGE_DAYS} days"),
            );
        }
    }
    violations.into_result(())?;
    Ok((
        from_date.expect("a valid start"),
        to_date.expect("a valid end"),
    ))
}

fn dates(from: Date, to: Date) -> impl Iterator<Item = Date> {
    from.series(jiff::Span::new().days(1))
        .take_while(move |date| *date <= to)
}

impl RollupService {
    /// A rollup service over the store.
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        changes: ChangeHub,
        day_close_grace: SignedDuration,
    ) -> Self {
        Self {
            store,
            catalog,
            clock,
            changes,
            day_close_grace,
        }
    }

    fn today(&self, team: &Team) -> Date {
        self.clock.now().to_zoned(team.time_zone.clone()).date()
    }

    async fn team(&self, team_id: &str) -> ServiceResult<Arc<Team>> {
        self.catalog
            .team(team_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("team {team_id} does not exist")))
    }

    /// The team named, else the staff member's current team.
    async fn team_or_current(&self, team_id: &str, staff_id: &str) -> ServiceResult<Arc<Team>> {
        if team_id.is_empty() {
            self.catalog.team_of_staff(staff_id).await
        } else {
            self.team(team_id).await
        }
    }

    /// The progress before `date`: the previous scored day and its streak, walking back as
    /// far as the streak reaches. `first` is the first chunk of that history (the latest
    /// `HISTORY_CHUNK` scored days before `date`) when the caller has read it already.
    async fn progress_before(
        &self,
        scope: DayScope<'_>,
        date: Date,
        team: &Team,
        mut first: Option<Vec<(Date, DaySums)>>,
    ) -> ServiceResult<Progress> {
        let improvement = team.targets.improvement;
        let Ok(mut on_or_before) = date.yesterday() else {
            return Ok(Progress::default());
        };
        let mut days = Vec::new();
        loop {
            let chunk = match first.take() {
                Some(chunk) => chunk,
                None => {
                    self.store
                        .scored_days(scope, on_or_before, HISTORY_CHUNK)
                        .await?
                }
            };
            let complete = chunk.len() < HISTORY_CHUNK;
            let oldest = chunk.last().map(|(date, _)| *date);
            days.extend(chunk);
            if let Some(progress) = Progress::from_latest(&days, improvement, complete) {
                return Ok(progress);
            }
            match oldest.and_then(|oldest| oldest.yesterday().ok()) {
                Some(before) => on_or_before = before,
                None => {
                    return Ok(Progress::from_latest(&days, improvement, true).unwrap_or_default());
                }
            }
        }
    }

    /// The rollups of one scope (the team, or one staff member) on each of `days` (ascending,
    /// within `from..=to`), from the rows of that scope in the range.
    #[allow(clippy::too_many_arguments)]
    async fn scope_series(
        &self,
        team: &Team,
        scope: DayScope<'_>,
        staff_id: &str,
        rows: &[&DayRow],
        from: Date,
        days: Option<Vec<Date>>,
        carried_in: i64,
        history: Option<Vec<(Date, DaySums)>>,
    ) -> ServiceResult<Vec<pb::DailyRollup>> {
        let mut progress = self.progress_before(scope, from, team, history).await?;
        let today = self.today(team);
        let by_date: BTreeMap<Date, &DayRow> =
            rows.iter().map(|row| (row.local_date, *row)).collect();
        let days = days.unwrap_or_else(|| by_date.keys().copied().collect());
        let mut carried = carried_in;
        let mut rollups = Vec::with_capacity(days.len());
        // Carry deltas of rows between `from` and each listed day count too.
        let mut pending = by_date.iter().peekable();
        for date in days {
            while let Some((row_date, row)) = pending.peek() {
                if **row_date >= date {
                    break;
                }
                carried += row.sums.carry_delta;
                progress = progress.after(**row_date, &row.sums, team.targets.improvement);
                pending.next();
            }
            let row = by_date.get(&date);
            let sums = row.map(|row| row.sums).unwrap_or_default();
            rollups.push(derive::rollup(&DayInput {
                team_id: &team.team_id,
                staff_id,
                date,
                sums,
                carried_in: carried,
                today,
                progress,
                targets: team.targets,
                close_time: row.and_then(|row| row.close_time).map(timestamp_to_proto),
                changes_after_close: row.map_or(0, |row| row.changes_after_close),
            }));
        }
        Ok(rollups)
    }

    /// Rollups of staff members of `team` from `from` through `to`: one staff member, or every
    /// staff member with sums in the range. `every_day` lists each date (also empty ones);
    /// otherwise only days with activity or carried items.
    async fn staff_rollups(
        &self,
        team: &Team,
        staff_id: Option<&str>,
        from: Date,
        to: Date,
        every_day: bool,
    ) -> ServiceResult<Vec<pb::DailyRollup>> {
        let scope = match staff_id {
            Some(staff_id) => DayScope::Staff {
                team_id: &team.team_id,
                staff_id,
            },
            None => DayScope::EveryStaff(&team.team_id),
        };
        // One staff member: their streak history comes in the same read. Every staff
        // member: each one's history is read on its own below.
        let history = if staff_id.is_some() { HISTORY_CHUNK } else { 0 };
        let view = self.store.day_view(scope, from, to, history).await?;
        let mut history = staff_id.map(|_| view.history);
        let rows = view.rows;
        let carried: BTreeMap<String, i64> = view.carried_in.into_iter().collect();
        let mut staff: BTreeSet<&str> = rows.iter().map(|row| row.staff_id.as_str()).collect();
        staff.extend(
            carried
                .iter()
                .filter(|(_, count)| **count != 0)
                .map(|(staff, _)| staff.as_str()),
        );
        if let Some(staff_id) = staff_id {
            staff.insert(staff_id);
        }
        let mut rollups = Vec::new();
        for staff_id in staff {
            let own: Vec<&DayRow> = rows.iter().filter(|row| row.staff_id == staff_id).collect();
            let carried_in = carried.get(staff_id).copied().unwrap_or_default();
            let days = if every_day {
                dates(from, to).collect()
            } else if carried_in != 0 {
                // Carried items make a day worth listing until they are done.
                let mut carry = carried_in;
                let mut listed = Vec::new();
                let by_date: BTreeMap<Date, &DaySums> =
                    own.iter().map(|row| (row.local_date, &row.sums)).collect();
                for date in dates(from, to) {
                    let sums = by_date.get(&date);
                    carry += sums.map_or(0, |sums| sums.carry_delta);
                    if carry != 0 || sums.is_some_and(|sums| sums.has_activity()) {
                        listed.push(date);
                    }
                }
                listed
            } else {
                own.iter()
                    .filter(|row| row.sums.has_activity() || row.sums.carry_delta != 0)
                    .map(|row| row.local_date)
                    .collect()
            };
            let scope = DayScope::Staff {
                team_id: &team.team_id,
                staff_id,
            };
            rollups.extend(
                self.scope_series(
                    team,
                    scope,
                    staff_id,
                    &own,
                    from,
                    Some(days),
                    carried_in,
                    history.take(),
                )
                .await?,
            );
        }
        rollups.sort_by(|a, b| {
            a.local_date
                .cmp(&b.local_date)
                .then_with(|| a.staff_id.cmp(&b.staff_id))
        });
        Ok(rollups)
    }

    /// Team rollups for each date from `from` through `to`, each with its staff ranking.
    async fn team_rollups(
        &self,
        team: &Team,
        from: Date,
        to: Date,
    ) -> ServiceResult<Vec<pb::DailyRollup>> {
        let scope = DayScope::Team(&team.team_id);
        let view = self.store.day_view(scope, from, to, HISTORY_CHUNK).await?;
        let carried_in: i64 = view.carried_in.iter().map(|(_, count)| count).sum();
        let row_refs: Vec<&DayRow> = view.rows.iter().collect();
        let mut rollups = self
            .scope_series(
                team,
                scope,
                "",
                &row_refs,
                from,
                Some(dates(from, to).collect()),
                carried_in,
                Some(view.history),
            )
            .await?;
        let staff = self.staff_rollups(team, None, from, to, false).await?;
        for rollup in &mut rollups {
            let of_day: Vec<pb::DailyRollup> = staff
                .iter()
                .filter(|staff| staff.local_date == rollup.local_date)
                .cloned()
                .collect();
            rollup.ranking = derive::ranking(&of_day);
        }
        Ok(rollups)
    }

    /// GetStaffRollup.
    pub async fn get_staff(
        &self,
        request: pb::GetStaffRollupRequest,
    ) -> ServiceResult<pb::DailyRollup> {
        let mut violations = Violations::default();
        violations.check_id("staff_id", &request.staff_id, true, 128);
        violations.check_id("team_id", &request.team_id, false, 128);
        violations.into_result(())?;
        let team = self
            .team_or_current(&request.team_id, &request.staff_id)
            .await?;
        let date = self.date_or_today(&team, "local_date", &request.local_date)?;
        self.staff_day(&team, &request.staff_id, date).await
    }

    /// The rollup of one staff member's day, from the cache when nothing changed since it was
    /// derived.
    async fn staff_day(
        &self,
        team: &Arc<Team>,
        staff_id: &str,
        date: Date,
    ) -> ServiceResult<pb::DailyRollup> {
        self.cached(team, staff_id, date, async {
            self.staff_rollups(team, Some(staff_id), date, date, true)
                .await
        })
        .await
    }

    /// The rollup of a team's day with its ranking, from the cache when nothing in the team
    /// changed since it was derived.
    async fn team_day(&self, team: &Arc<Team>, date: Date) -> ServiceResult<pb::DailyRollup> {
        self.cached(team, "", date, self.team_rollups(team, date, date))
            .await
    }

    /// The one-day series `derive` makes, unless the cache holds it.
    async fn cached(
        &self,
        team: &Arc<Team>,
        staff_id: &str,
        date: Date,
        derive: impl Future<Output = ServiceResult<Vec<pb::DailyRollup>>>,
    ) -> ServiceResult<pb::DailyRollup> {
        let cache = self.changes.cache();
        let today = self.today(team);
        let ticket = match cache.get(team, staff_id, date, today) {
            Ok(rollup) => return Ok(rollup),
            Err(ticket) => ticket,
        };
        let rollup = derive
            .await?
            .pop()
            .ok_or_else(|| ServiceError::Internal("a one-day series was empty".to_owned()))?;
        // Derived across midnight: it may hold either day's view of "today".
        if self.today(team) == today {
            cache.remember(ticket, team, staff_id, date, today, &rollup);
        }
        Ok(rollup)
    }

    fn date_or_today(&self, team: &Team, field: &str, value: &str) -> ServiceResult<Date> {
        if value.is_empty() {
            return Ok(self.today(team));
        }
        let mut violations = Violations::default();
        let date = parse_date(&mut violations, field, value);
        violations.into_result(())?;
        Ok(date.expect("a parsed date"))
    }

    /// ListStaffRollups.
    pub async fn list_staff(
        &self,
        request: pb::ListStaffRollupsRequest,
    ) -> ServiceResult<pb::ListStaffRollupsResponse> {
        let mut violations = Violations::default();
        violations.check_id("staff_id", &request.staff_id, false, 128);
        violations.check_id("team_id", &request.team_id, false, 128);
        if request.staff_id.is_empty() && request.team_id.is_empty() {
            violations.add("team_id", "one of staff_id and team_id is required");
        }
        let limit = page_token::page_size(request.page_size, 50, 1_000, "page_size");
        violations.into_result(())?;
        let limit = limit?;
        let team = self
            .team_or_current(&request.team_id, &request.staff_id)
            .await?;
        let (from, to) = date_range(&request.from_date, &request.to_date, self.today(&team))?;
        let fingerprint = format!(
            "staff-rollups\u{0}{}\u{0}{}\u{0}{from}\u{0}{to}",
            team.team_id, request.staff_id
        );
        let after = page_token::decode(&fingerprint, &request.page_token, "page_token")?;
        let staff_id = (!request.staff_id.is_empty()).then_some(request.staff_id.as_str());
        let rollups = self.staff_rollups(&team, staff_id, from, to, false).await?;
        let (rollups, next_page_token) = paginate(rollups, after, limit, &fingerprint);
        Ok(pb::ListStaffRollupsResponse {
            rollups,
            next_page_token,
        })
    }

    /// GetTeamRollup.
    pub async fn get_team(
        &self,
        request: pb::GetTeamRollupRequest,
    ) -> ServiceResult<pb::DailyRollup> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, true, 128);
        violations.into_result(())?;
        let team = self.team(&request.team_id).await?;
        let date = self.date_or_today(&team, "local_date", &request.local_date)?;
        self.team_day(&team, date).await
    }

    /// ListTeamRollups.
    pub async fn list_team(
        &self,
        request: pb::ListTeamRollupsRequest,
    ) -> ServiceResult<pb::ListTeamRollupsResponse> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, true, 128);
        let limit = page_token::page_size(request.page_size, 50, 1_000, "page_size");
        violations.into_result(())?;
        let limit = limit?;
        let team = self.team(&request.team_id).await?;
        let (from, to) = date_range(&request.from_date, &request.to_date, self.today(&team))?;
        let fingerprint = format!("team-rollups\u{0}{}\u{0}{from}\u{0}{to}", team.team_id);
        let after = page_token::decode(&fingerprint, &request.page_token, "page_token")?;
        // Only the page's dates are derived (the streak walk reaches back by itself).
        let start = match after.as_ref().and_then(|parts| parts.first()) {
            Some(date) => date
                .parse::<Date>()
                .ok()
                .and_then(|date| date.tomorrow().ok())
                .ok_or_else(|| {
                    InvalidArgument::field("page_token", "is not a page token of this query")
                })?,
            None => from,
        };
        if start > to {
            return Ok(pb::ListTeamRollupsResponse::default());
        }
        let end = dates(start, to).take(limit).last().unwrap_or(start);
        let rollups = self.team_rollups(&team, start, end).await?;
        let next_page_token = if end < to {
            page_token::encode(&fingerprint, &[&end.to_string()])
        } else {
            String::new()
        };
        Ok(pb::ListTeamRollupsResponse {
            rollups,
            next_page_token,
        })
    }

    /// CloseDay.
    pub async fn close(&self, request: pb::CloseDayRequest) -> ServiceResult<pb::CloseDayResponse> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, true, 128);
        let date = parse_date(&mut violations, "local_date", &request.local_date);
        violations.into_result(())?;
        let date = date.expect("a parsed date");
        let team = self.team(&request.team_id).await?;
        let today = self.today(&team);
        if date > today {
            return Err(ServiceError::FailedPrecondition(format!(
                "{date} has not begun in team {} (today there is {today}); a day can be closed once it has begun",
                team.team_id
            )));
        }
        let (day_close, newly_closed) = self
            .close_day(&team, date, pb::DayCloseTrigger::Request)
            .await?;
        Ok(pb::CloseDayResponse {
            day_close: Some(day_close),
            newly_closed,
        })
    }

    /// Records the clearing sheet of a team's day, consistent with one moment of the store.
    async fn close_day(
        &self,
        team: &Team,
        date: Date,
        trigger: pb::DayCloseTrigger,
    ) -> ServiceResult<(pb::DayClose, bool)> {
        for _ in 0..CLOSE_ATTEMPTS {
            if let Some(stored) = self.store.day_close(&team.team_id, date).await? {
                return Ok((stored, false));
            }
            let read_at = self.store.change_seq().await?;
            let now = timestamp_to_proto(self.clock.now());
            let closed_state = pb::DayCloseState {
                closed: true,
                close_time: Some(now),
                changes_after_close: 0,
            };
            let mut team_rollup = self
                .team_rollups(team, date, date)
                .await?
                .pop()
                .ok_or_else(|| ServiceError::Internal("a one-day series was empty".to_owned()))?;
            team_rollup.close = Some(closed_state);
            let mut staff_rollups = self.staff_rollups(team, None, date, date, false).await?;
            for rollup in &mut staff_rollups {
                rollup.close = Some(closed_state);
            }
            let close = pb::DayClose {
                team_id: team.team_id.clone(),
                local_date: date.to_string(),
                close_time: Some(now),
                trigger: trigger as i32,
                team_rollup: Some(team_rollup),
                staff_rollups,
            };
            let store = self.store.clone();
            let outcome = self
                .changes
                .committed(
                    async move { store.close_day(close, read_at).await },
                    move |hub, outcome| {
                        if let CloseOutcome::Closed(close) = outcome {
                            hub.publish_close(&close.team_id, &RollupKey::closed_by(close, date));
                        }
                    },
                )
                .await?;
            match outcome {
                CloseOutcome::Closed(close) => {
                    tracing::info!(team_id = %team.team_id, %date, ?trigger, "day closed");
                    return Ok((close, true));
                }
                CloseOutcome::AlreadyClosed(close) => return Ok((close, false)),
                CloseOutcome::Changed => continue,
            }
        }
        Err(ServiceError::Aborted(format!(
            "rollups of team {} kept changing while day {date} was being closed; retry",
            team.team_id
        )))
    }

    /// GetDayClose.
    pub async fn get_close(&self, request: pb::GetDayCloseRequest) -> ServiceResult<pb::DayClose> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, true, 128);
        let date = parse_date(&mut violations, "local_date", &request.local_date);
        violations.into_result(())?;
        let date = date.expect("a parsed date");
        self.team(&request.team_id).await?;
        self.store
            .day_close(&request.team_id, date)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "day {date} of team {} is not closed",
                    request.team_id
                ))
            })
    }

    /// Closes every team day that ended more than the grace period ago; returns how many.
    pub async fn close_ended_days(&self) -> ServiceResult<usize> {
        let now = self.clock.now();
        let mut closed = 0;
        for team_id in self.team_ids().await? {
            let Some(team) = self.catalog.team(&team_id).await? else {
                continue;
            };
            let Ok(cutoff) = now.checked_sub(self.day_close_grace) else {
                continue;
            };
            // The latest day whose end is at or before `now - grace`.
            let Ok(last_ended) = cutoff.to_zoned(team.time_zone.clone()).date().yesterday() else {
                continue;
            };
            for date in self
                .store
                .unclosed_days(&team.team_id, last_ended, 100)
                .await?
            {
                let (_, newly) = self
                    .close_day(&team, date, pb::DayCloseTrigger::Automatic)
                    .await?;
                closed += usize::from(newly);
            }
        }
        Ok(closed)
    }

    async fn team_ids(&self) -> ServiceResult<Vec<String>> {
        let mut ids = vec![DEFAULT_TEAM_ID.to_owned()];
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_teams(after.as_deref(), 500).await?;
            let full = page.len() == 500;
            after = page.last().map(|team| team.team_id.clone());
            ids.extend(page.into_iter().map(|team| team.team_id));
            if !full {
                break;
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// GetLeaderboard.
    pub async fn leaderboard(
        &self,
        request: pb::GetLeaderboardRequest,
    ) -> ServiceResult<pb::GetLeaderboardResponse> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, true, 128);
        if request.limit < 0 {
            violations.add("limit", "must not be negative");
        }
        let order = pb::LeaderboardOrder::try_from(request.order);
        if order.is_err() {
            violations.add("order", "is not a LeaderboardOrder value");
        }
        violations.into_result(())?;
        let team = self.team(&request.team_id).await?;
        let (from, to) = date_range(&request.from_date, &request.to_date, self.today(&team))?;
        let rollups = self.staff_rollups(&team, None, from, to, false).await?;
        let mut entries: BTreeMap<String, (pb::LeaderboardEntry, i64, i64)> = BTreeMap::new();
        for rollup in &rollups {
            let (entry, composite_sum, scored) =
                entries.entry(rollup.staff_id.clone()).or_insert_with(|| {
                    (
                        pb::LeaderboardEntry {
                            staff_id: rollup.staff_id.clone(),
                            ..Default::default()
                        },
                        0,
                        0,
                    )
                });
            entry.interactions += rollup.interactions;
            if let Some(quality) = &rollup.quality {
                *composite_sum += quality.composite_sum_hundredths;
                *scored += quality.scored;
            }
            if let Some(clearing) = &rollup.clearing {
                entry.items_due += clearing.items_due;
                entry.items_cleared += clearing.items_cleared;
            }
            if rollup
                .day_over_day
                .as_ref()
                .is_some_and(|progress| progress.improved)
            {
                entry.improved_days += 1;
            }
            match pb::Outcome::try_from(rollup.outcome) {
                Ok(pb::Outcome::Exceeded) => entry.exceeded_days += 1,
                Ok(pb::Outcome::Met) => entry.met_days += 1,
                Ok(pb::Outcome::Missed) => entry.missed_days += 1,
                _ => {}
            }
            entry.fails += rollup.grades.as_ref().map_or(0, |grades| grades.fail);
        }
        let mut ranked: Vec<(pb::LeaderboardEntry, i64, i64)> = entries
            .into_values()
            .filter(|(entry, _, _)| entry.interactions > 0 || entry.items_due > 0)
            .map(|(mut entry, composite_sum, scored)| {
                entry.mean_composite = (scored > 0).then(|| {
                    crate::domain::points::Points::from_hundredths(
                        crate::domain::points::div_round(composite_sum.into(), scored.into())
                            as i64,
                    )
                    .to_f64()
                });
                entry.clear_rate = (entry.items_due > 0)
                    .then(|| entry.items_cleared as f64 / entry.items_due as f64);
                (entry, composite_sum, scored)
            })
            .collect();
        let order = order.unwrap_or(pb::LeaderboardOrder::Unspecified);
        ranked.sort_by(|(a, a_sum, a_n), (b, b_sum, b_n)| {
            let by_mean = || compare_means(*b_sum, *b_n, *a_sum, *a_n);
            let by_clear =
                || compare_means(b.items_cleared, b.items_due, a.items_cleared, a.items_due);
            let by_improved = || b.improved_days.cmp(&a.improved_days);
            let by_interactions = || b.interactions.cmp(&a.interactions);
            let primary = match order {
                pb::LeaderboardOrder::ClearRate => by_clear().then_with(by_mean),
                pb::LeaderboardOrder::ImprovedDays => by_improved().then_with(by_mean),
                pb::LeaderboardOrder::Interactions => by_interactions().then_with(by_mean),
                _ => by_mean().then_with(by_clear),
            };
            primary
                .then_with(by_clear)
                .then_with(by_improved)
                .then_with(by_interactions)
                .then_with(|| a.staff_id.cmp(&b.staff_id))
        });
        let limit = if request.limit == 0 {
            usize::MAX
        } else {
            request.limit as usize
        };
        let entries = ranked
            .into_iter()
            .take(limit)
            .enumerate()
            .map(|(index, (mut entry, _, _))| {
                entry.rank = index as i32 + 1;
                entry
            })
            .collect();
        Ok(pb::GetLeaderboardResponse { entries })
    }

    /// VerifyRollups: recomputes every day's sums from the stored scorecards and compares.
    pub async fn verify(
        &self,
        request: pb::VerifyRollupsRequest,
    ) -> ServiceResult<pb::VerifyRollupsResponse> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, false, 128);
        violations.into_result(())?;
        let only = (!request.team_id.is_empty()).then_some(request.team_id.as_str());
        let (recomputed, scorecards_read) = recompute(self.store.as_ref(), only).await?;
        let mut stored: BTreeMap<(String, String, Date), DaySums> = BTreeMap::new();
        for row in self.store.all_day_rows().await? {
            if only.is_none_or(|team_id| team_id == row.team_id) {
                stored.insert((row.team_id, row.staff_id, row.local_date), row.sums);
            }
        }
        let keys: BTreeSet<&(String, String, Date)> =
            stored.keys().chain(recomputed.keys()).collect();
        let mut mismatches = Vec::new();
        for key in &keys {
            let stored = stored.get(key).copied().unwrap_or_default();
            let recomputed = recomputed.get(key).copied().unwrap_or_default();
            if stored != recomputed {
                let detail = DaySums::FIELDS
                    .iter()
                    .zip(stored.to_array().iter().zip(recomputed.to_array()))
                    .filter(|(_, (stored, recomputed))| **stored != *recomputed)
                    .map(|(field, (stored, recomputed))| {
                        format!("{field}: stored {stored}, recomputed {recomputed}")
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                mismatches.push(pb::RollupMismatch {
                    team_id: key.0.clone(),
                    staff_id: key.1.clone(),
                    local_date: key.2.to_string(),
                    detail,
                });
            }
        }
        if !mismatches.is_empty() {
            tracing::error!(
                count = mismatches.len(),
                "rollups differ from their recomputation"
            );
        }
        Ok(pb::VerifyRollupsResponse {
            rollups_checked: keys.len() as i64,
            scorecards_read,
            mismatches,
        })
    }

    /// WatchRollups: a stream of the current rollups, SYNCED, then every change.
    pub async fn watch(
        self: &Arc<Self>,
        request: pb::WatchRollupsRequest,
    ) -> ServiceResult<mpsc::Receiver<ServiceResult<pb::WatchRollupsResponse>>> {
        let mut violations = Violations::default();
        violations.check_id("team_id", &request.team_id, false, 128);
        violations.check_id("staff_id", &request.staff_id, false, 128);
        if request.team_id.is_empty() && request.staff_id.is_empty() {
            violations.add("team_id", "one of team_id and staff_id is required");
        }
        violations.into_result(())?;
        let team = self
            .team_or_current(&request.team_id, &request.staff_id)
            .await?;
        let date = self.date_or_today(&team, "local_date", &request.local_date)?;
        let filter = WatchFilter {
            team,
            staff_id: (!request.staff_id.is_empty()).then(|| request.staff_id.clone()),
            date,
        };
        // Subscribe before the snapshot, so no change between the two is missed.
        let changes = self.changes.subscribe();
        let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(error) = service.run_watch(filter, changes, &sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        Ok(receiver)
    }

    async fn snapshot(&self, filter: &WatchFilter) -> ServiceResult<Vec<pb::DailyRollup>> {
        let team = &filter.team;
        match &filter.staff_id {
            Some(staff_id) => Ok(vec![self.staff_day(team, staff_id, filter.date).await?]),
            None => {
                let mut rollups = vec![self.team_day(team, filter.date).await?];
                rollups.extend(
                    self.staff_rollups(team, None, filter.date, filter.date, false)
                        .await?,
                );
                Ok(rollups)
            }
        }
    }

    async fn run_watch(
        &self,
        filter: WatchFilter,
        mut changes: broadcast::Receiver<Arc<[RollupKey]>>,
        sender: &mpsc::Sender<ServiceResult<pb::WatchRollupsResponse>>,
    ) -> ServiceResult<()> {
        let send = |kind: pb::WatchEventKind, rollup: Option<pb::DailyRollup>| {
            sender.send(Ok(pb::WatchRollupsResponse {
                kind: kind as i32,
                rollup,
            }))
        };
        let mut resync = false;
        loop {
            if resync && send(pb::WatchEventKind::Resync, None).await.is_err() {
                return Ok(());
            }
            // What this watcher was last sent of each rollup: a CHANGE goes out only when the
            // rollup differs (a change can be announced more than once, or after the snapshot
            // that already holds it, when the feed is followed across replicas).
            let mut sent: HashMap<(String, String), pb::DailyRollup> = HashMap::new();
            for rollup in self.snapshot(&filter).await? {
                sent.insert(
                    (rollup.staff_id.clone(), rollup.local_date.clone()),
                    rollup.clone(),
                );
                if send(pb::WatchEventKind::Snapshot, Some(rollup))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
            if send(pb::WatchEventKind::Synced, None).await.is_err() {
                return Ok(());
            }
            loop {
                let keys = match changes.recv().await {
                    Ok(keys) => keys,
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::debug!(skipped, "a rollup watcher fell behind; resynchronising");
                        resync = true;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                };
                let mut staff_days: BTreeSet<(String, Date)> = BTreeSet::new();
                for key in keys.iter().filter(|key| filter.matches(key)) {
                    staff_days.insert((key.staff_id.clone(), key.local_date));
                }
                let team_days: BTreeSet<Date> = staff_days.iter().map(|(_, date)| *date).collect();
                let mut changed = Vec::new();
                if filter.staff_id.is_none() {
                    for date in &team_days {
                        changed.push(self.team_day(&filter.team, *date).await?);
                    }
                }
                for (staff_id, date) in staff_days {
                    changed.push(self.staff_day(&filter.team, &staff_id, date).await?);
                }
                for rollup in changed {
                    let key = (rollup.staff_id.clone(), rollup.local_date.clone());
                    if sent.get(&key) == Some(&rollup) {
                        continue;
                    }
                    sent.insert(key, rollup.clone());
                    if send(pb::WatchEventKind::Change, Some(rollup))
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// The day sums recomputed from every stored scorecard (of one team, if given): staff rows
/// and team rows (staff id empty), with the number of scorecards read.
pub async fn recompute(
    store: &dyn Store,
    team_id: Option<&str>,
) -> ServiceResult<(BTreeMap<(String, String, Date), DaySums>, i64)> {
    let mut sums: BTreeMap<(String, String, Date), DaySums> = BTreeMap::new();
    let mut after: Option<String> = None;
    let mut read = 0;
    loop {
        let page = store.scan_scorecards(after.as_deref(), 1_000).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.interaction_id.clone());
        for scorecard in &page {
            read += 1;
            if team_id.is_some_and(|team_id| team_id != scorecard.team_id) {
                continue;
            }
            let contribution = Contribution::of(scorecard);
            for (date, day) in contribution.days {
                *sums
                    .entry((
                        contribution.team_id.clone(),
                        contribution.staff_id.clone(),
                        date,
                    ))
                    .or_default() += day;
                *sums
                    .entry((contribution.team_id.clone(), String::new(), date))
                    .or_default() += day;
            }
        }
    }
    Ok((sums, read))
}

fn paginate(
    rollups: Vec<pb::DailyRollup>,
    after: Option<Vec<String>>,
    limit: usize,
    fingerprint: &str,
) -> (Vec<pb::DailyRollup>, String) {
    let position = |rollup: &pb::DailyRollup| (rollup.local_date.clone(), rollup.staff_id.clone());
    let mut page: Vec<pb::DailyRollup> = rollups
        .into_iter()
        .filter(|rollup| match &after {
            Some(parts) if parts.len() == 2 => {
                position(rollup) > (parts[0].clone(), parts[1].clone())
            }
            _ => true,
        })
        .take(limit + 1)
        .collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        let last = page.last().expect("a full page");
        page_token::encode(fingerprint, &[&last.local_date, &last.staff_id])
    } else {
        String::new()
    };
    (page, next)
}
