//! Daily rollups as last derived, per team and staff member, so repeated reads of the same day
//! (a dashboard polling its team, a wallboard per agent) cost no database read.
//!
//! A cached rollup is right only until a write touches its staff member or team, so the cache
//! is kept by the [`ChangeHub`](super::changes::ChangeHub) of a process that announces its own
//! writes after they commit (SQLite): every announcement forgets what it touched before anyone
//! hears of it. A database other processes write too (PostgreSQL) hears of their writes only
//! later, so there the cache is [`disabled`](RollupCache::disabled) and every read goes to the
//! database.
//!
//! A read that missed gets a [`Ticket`] before it reads the store, and what it derived is kept
//! only if nothing it covers was forgotten since: a read racing a write never caches the state
//! before the write after the write was announced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::civil::Date;

use crate::domain::team::Team;
use crate::proto::v1 as pb;
use crate::storage::RollupKey;

/// Days kept before the cache starts over.
const MAX_DAYS: usize = 20_000;
/// Staff members (and teams) whose last change is remembered before the cache starts over.
const MAX_SCOPES: usize = 100_000;

/// Handed to a read that missed: the moment it began, for [`RollupCache::remember`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// One rollup as derived, with what it was derived under.
struct Cached {
    /// The team's "today" when derived (a day's outcome depends on whether it is over).
    today: Date,
    /// The team (targets, time zone) it was derived with: a changed team is another `Arc`.
    team: Arc<Team>,
    rollup: pb::DailyRollup,
}

/// One staff member of a team (staff id empty: the team itself).
#[derive(Default)]
struct Scope {
    /// The epoch of the last change to this scope.
    changed_at: u64,
    days: HashMap<Date, Cached>,
}

/// The scopes of one team.
#[derive(Default)]
struct TeamScopes {
    /// The epoch the whole team last changed at (a day close).
    changed_at: u64,
    /// Staff id (empty: the team) → scope.
    staff: HashMap<String, Scope>,
}

#[derive(Default)]
struct State {
    /// Counts changes; a ticket is the epoch its read began at.
    epoch: u64,
    /// Reads that began before this epoch are not kept (the cache started over after them).
    floor: u64,
    /// Team id → its scopes.
    teams: HashMap<String, TeamScopes>,
    days: usize,
    scopes: usize,
}

impl State {
    fn scope(&mut self, team_id: &str, staff_id: &str) -> &mut Scope {
        let team = self.teams.entry(team_id.to_owned()).or_default();
        if !team.staff.contains_key(staff_id) {
            self.scopes += 1;
        }
        team.staff.entry(staff_id.to_owned()).or_default()
    }

    /// Forgets a scope's days and marks it changed at the current epoch.
    fn change(&mut self, team_id: &str, staff_id: &str) {
        let epoch = self.epoch;
        let scope = self.scope(team_id, staff_id);
        scope.changed_at = epoch;
        let forgotten = scope.days.len();
        scope.days.clear();
        self.days -= forgotten;
    }

    /// Forgets everything; reads that began before now are not kept.
    fn start_over(&mut self) {
        self.teams.clear();
        self.days = 0;
        self.scopes = 0;
        self.floor = self.epoch;
    }
}

/// The cache of derived daily rollups.
pub struct RollupCache {
    /// `None`: disabled.
    state: Option<Mutex<State>>,
}

impl RollupCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self {
            state: Some(Mutex::default()),
        }
    }

    /// A cache that keeps nothing: every read misses.
    pub fn disabled() -> Self {
        Self { state: None }
    }

    fn with<R>(&self, missing: R, work: impl FnOnce(&mut State) -> R) -> R {
        match &self.state {
            Some(state) => work(&mut state.lock().expect("rollup cache lock")),
            None => missing,
        }
    }

    /// The rollup of `staff_id` (empty: the team) in `team` on `date`, if it was derived with
    /// this team and this `today` and nothing changed since; else the ticket to remember the
    /// rollup the caller derives now.
    pub fn get(
        &self,
        team: &Arc<Team>,
        staff_id: &str,
        date: Date,
        today: Date,
    ) -> Result<pb::DailyRollup, Ticket> {
        self.with(Err(Ticket(0)), |state| {
            let cached = state
                .teams
                .get(&team.team_id)
                .and_then(|scopes| scopes.staff.get(staff_id))
                .and_then(|scope| scope.days.get(&date))
                .filter(|cached| cached.today == today && Arc::ptr_eq(&cached.team, team));
            match cached {
                Some(cached) => Ok(cached.rollup.clone()),
                None => Err(Ticket(state.epoch)),
            }
        })
    }

    /// Keeps a rollup derived by a read holding `ticket`, unless its scope changed after the
    /// read began.
    pub fn remember(
        &self,
        ticket: Ticket,
        team: &Arc<Team>,
        staff_id: &str,
        date: Date,
        today: Date,
        rollup: &pb::DailyRollup,
    ) {
        self.with((), |state| {
            if ticket.0 < state.floor {
                return;
            }
            if let Some(scopes) = state.teams.get(&team.team_id) {
                let scope_changed = scopes
                    .staff
                    .get(staff_id)
                    .is_some_and(|scope| scope.changed_at > ticket.0);
                if scopes.changed_at > ticket.0 || scope_changed {
                    return;
                }
            }
            if state.days >= MAX_DAYS || state.scopes >= MAX_SCOPES {
                state.start_over();
            }
            let cached = Cached {
                today,
                team: team.clone(),
                rollup: rollup.clone(),
            };
            if state
                .scope(&team.team_id, staff_id)
                .days
                .insert(date, cached)
                .is_none()
            {
                state.days += 1;
            }
        });
    }

    /// Forgets the rollups of the staff members touched and of their teams.
    pub fn forget(&self, touched: &[RollupKey]) {
        self.with((), |state| {
            state.epoch += 1;
            for key in touched {
                state.change(&key.team_id, &key.staff_id);
                state.change(&key.team_id, "");
            }
            if state.scopes >= MAX_SCOPES {
                state.start_over();
            }
        });
    }

    /// Forgets the rollups of a team and every staff member in it (a day close changes the
    /// close state of every staff day of that date).
    pub fn forget_team(&self, team_id: &str) {
        self.with((), |state| {
            state.epoch += 1;
            let epoch = state.epoch;
            let team = state.teams.entry(team_id.to_owned()).or_default();
            team.changed_at = epoch;
            let forgotten: usize = team.staff.values().map(|scope| scope.days.len()).sum();
            state.scopes -= team.staff.len();
            team.staff.clear();
            state.days -= forgotten;
        });
    }
}

impl Default for RollupCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(team_id: &str) -> Arc<Team> {
        Arc::new(Team {
            team_id: team_id.to_owned(),
            ..Team::default_team("Asia/Shanghai")
        })
    }

    fn rollup(interactions: i64) -> pb::DailyRollup {
        pb::DailyRollup {
            interactions,
            ..Default::default()
        }
    }

    fn key(team_id: &str, staff_id: &str, date: Date) -> RollupKey {
        RollupKey {
            team_id: team_id.to_owned(),
            staff_id: staff_id.to_owned(),
            local_date: date,
        }
    }

    const DAY: Date = jiff::civil::date(2026, 11, 23);
    const YESTERDAY: Date = jiff::civil::date(2026, 11, 22);

    #[test]
    fn a_kept_rollup_is_served_for_the_same_team_and_today_only() {
        let cache = RollupCache::new();
        let sales = team("sales");
        let ticket = cache.get(&sales, "li", DAY, DAY).unwrap_err();
        cache.remember(ticket, &sales, "li", DAY, DAY, &rollup(3));
        assert_eq!(cache.get(&sales, "li", DAY, DAY), Ok(rollup(3)));
        assert!(cache.get(&sales, "wang", DAY, DAY).is_err());
        assert!(
            cache.get(&sales, "li", DAY, YESTERDAY).is_err(),
            "another today"
        );
        let reloaded = team("sales");
        assert!(
            cache.get(&reloaded, "li", DAY, DAY).is_err(),
            "the team was read again (it may have changed)"
        );
    }

    #[test]
    fn a_change_forgets_the_staff_member_and_the_team_on_every_day() {
        let cache = RollupCache::new();
        let sales = team("sales");
        for (staff_id, date) in [("li", DAY), ("li", YESTERDAY), ("", DAY), ("wang", DAY)] {
            let ticket = cache.get(&sales, staff_id, date, DAY).unwrap_err();
            cache.remember(ticket, &sales, staff_id, date, DAY, &rollup(1));
        }
        // A change of yesterday also changes today (carried items, the streak).
        cache.forget(&[key("sales", "li", YESTERDAY)]);
        assert!(cache.get(&sales, "li", DAY, DAY).is_err());
        assert!(cache.get(&sales, "li", YESTERDAY, DAY).is_err());
        assert!(cache.get(&sales, "", DAY, DAY).is_err());
        assert_eq!(cache.get(&sales, "wang", DAY, DAY), Ok(rollup(1)));
        cache.forget_team("sales");
        assert!(cache.get(&sales, "wang", DAY, DAY).is_err());
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let cache = RollupCache::new();
        let sales = team("sales");
        let before = cache.get(&sales, "li", DAY, DAY).unwrap_err();
        cache.forget(&[key("sales", "li", DAY)]);
        cache.remember(before, &sales, "li", DAY, DAY, &rollup(1));
        assert!(cache.get(&sales, "li", DAY, DAY).is_err());
        // A change elsewhere does not spoil it.
        let after = cache.get(&sales, "li", DAY, DAY).unwrap_err();
        cache.forget(&[key("support", "li", DAY)]);
        cache.remember(after, &sales, "li", DAY, DAY, &rollup(2));
        assert_eq!(cache.get(&sales, "li", DAY, DAY), Ok(rollup(2)));
        // Nor a team close that began before it: a close forgets the whole team.
        let before_close = cache.get(&sales, "zhao", DAY, DAY).unwrap_err();
        cache.forget_team("sales");
        cache.remember(before_close, &sales, "zhao", DAY, DAY, &rollup(1));
        assert!(cache.get(&sales, "zhao", DAY, DAY).is_err());
    }

    #[test]
    fn starting_over_keeps_no_read_that_began_before() {
        let cache = RollupCache::new();
        let sales = team("sales");
        let early = cache.get(&sales, "early", DAY, DAY).unwrap_err();
        let keys: Vec<RollupKey> = (0..MAX_SCOPES)
            .map(|n| key("sales", &format!("s{n}"), DAY))
            .collect();
        cache.forget(&keys);
        cache.remember(early, &sales, "early", DAY, DAY, &rollup(1));
        assert!(cache.get(&sales, "early", DAY, DAY).is_err());
        let now = cache.get(&sales, "late", DAY, DAY).unwrap_err();
        cache.remember(now, &sales, "late", DAY, DAY, &rollup(1));
        assert_eq!(cache.get(&sales, "late", DAY, DAY), Ok(rollup(1)));
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = RollupCache::disabled();
        let sales = team("sales");
        let ticket = cache.get(&sales, "li", DAY, DAY).unwrap_err();
        cache.remember(ticket, &sales, "li", DAY, DAY, &rollup(1));
        assert!(cache.get(&sales, "li", DAY, DAY).is_err());
    }
}
