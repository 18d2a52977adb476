//! The rollup invariant (DESIGN.md §5): after every step of random sequences of ingest,
//! duplicates, higher revisions, follow-ups, commitments falling due and day closes — over
//! several staff, two teams in different time zones (New York with its daylight-saving change
//! on 2026-11-01) and interactions near local midnight — every rollup equals the rollup
//! recomputed from the stored scorecards. Also with many concurrent writers.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use servscore::app::App;
use servscore::config::Config;
use servscore::proto::v1 as pb;
use servscore::service::clock::{Clock, ManualClock};

/// 2026-10-31T12:00:00Z: New York leaves daylight saving the next night.
const START: i64 = 1_793_534_400;
const STAFF: [&str; 4] = ["s0", "s1", "s2", "s3"];

#[derive(Debug, Clone)]
enum Op {
    /// Ingest interaction `id` (revision: the next one) for a staff member, opened `minutes`
    /// before now, with an optional commitment due `due_hours` after opening.
    Ingest {
        id: u8,
        staff: usize,
        minutes: i64,
        reply: i64,
        due_hours: Option<i64>,
    },
    /// Send the last stored revision of `id` again, unchanged.
    Duplicate { id: u8 },
    /// Fulfil the commitment of `id`, `minutes` before now.
    Fulfil { id: u8, minutes: i64 },
    /// Let time pass and run the scheduler (re-scoring and day close).
    Advance { hours: i64 },
    /// Close a team's day, `days_back` days before its today.
    Close { team: usize, days_back: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..8_u8, 0..4_usize, 0..(3 * 24 * 60_i64), 5..4_000_i64, proptest::option::of(1..30_i64))
            .prop_map(|(id, staff, minutes, reply, due_hours)| Op::Ingest { id, staff, minutes, reply, due_hours }),
        1 => (0..8_u8).prop_map(|id| Op::Duplicate { id }),
        2 => (0..8_u8, 0..600_i64).prop_map(|(id, minutes)| Op::Fulfil { id, minutes }),
        2 => (1..20_i64).prop_map(|hours| Op::Advance { hours }),
        1 => (0..2_usize, 0..3_i64).prop_map(|(team, days_back)| Op::Close { team, days_back }),
    ]
}

fn ts(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

fn interaction(
    id: u8,
    revision: i64,
    staff: &str,
    opened: i64,
    reply: i64,
    due_hours: Option<i64>,
) -> pb::Interaction {
    use pb::Speaker::{Customer, Staff};
    let turn = |speaker: pb::Speaker, at: i64, text: &str| pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(ts(at)),
        text: text.to_owned(),
    };
    pb::Interaction {
        interaction_id: format!("i{id}"),
        revision,
        staff_id: staff.to_owned(),
        customer_id: format!("c{id}"),
        tier: pb::Tier::Large as i32,
        channel: pb::Channel::Chat as i32,
        kind: if id.is_multiple_of(3) {
            pb::InteractionKind::Complaint as i32
        } else {
            pb::InteractionKind::Inquiry as i32
        },
        opened_at: Some(ts(opened)),
        turns: vec![
            turn(Customer, opened, "您好，我的订单怎么还没到？"),
            turn(
                Staff,
                opened + reply,
                "您好，很抱歉让您久等了，我马上为您查询。",
            ),
        ],
        commitments: due_hours
            .map(|hours| pb::Commitment {
                commitment_id: "promise".to_owned(),
                description: "call back".to_owned(),
                due_at: Some(ts(opened + hours * 3_600)),
                fulfilled_at: None,
            })
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

struct World {
    app: Arc<App>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    _database: Option<common::postgres::FreshDatabase>,
}

/// A fresh app on SQLite, or on a fresh PostgreSQL database when the run selected it.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let database = match common::postgres::selected() {
        true => Some(common::postgres::FreshDatabase::create().await),
        false => None,
    };
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: database.as_ref().map(|database| database.url().to_owned()),
        ..Config::default()
    };
    let clock = Arc::new(ManualClock::new(Timestamp::from_second(START).unwrap()));
    let app = App::open(config, clock.clone()).await.unwrap();
    for (team, zone, members) in [
        ("sh", "Asia/Shanghai", vec!["s0", "s1"]),
        ("ny", "America/New_York", vec!["s2"]),
    ] {
        app.teams
            .create(pb::CreateTeamRequest {
                team: Some(pb::Team {
                    team_id: team.to_owned(),
                    display_name: team.to_owned(),
                    time_zone: zone.to_owned(),
                    member_staff_ids: members.iter().map(|m| m.to_string()).collect(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }
    World {
        app,
        clock,
        _dir: dir,
        _database: database,
    }
}

impl World {
    async fn apply(&self, op: &Op) {
        let now = self.clock.now().as_second();
        match op {
            Op::Ingest {
                id,
                staff,
                minutes,
                reply,
                due_hours,
            } => {
                let revision = self.revision(*id).await + 1;
                let opened = now - minutes * 60;
                let message = interaction(
                    *id,
                    revision,
                    STAFF[*staff],
                    opened,
                    (*reply).min(minutes * 60),
                    *due_hours,
                );
                self.app
                    .scoring
                    .ingest(message, "interaction")
                    .await
                    .expect("a valid interaction is stored");
            }
            Op::Duplicate { id } => {
                let Some(stored) = self
                    .app
                    .store
                    .get_interaction(&format!("i{id}"))
                    .await
                    .unwrap()
                else {
                    return;
                };
                let message: pb::Interaction =
                    prost::Message::decode(stored.body.unwrap().as_slice()).unwrap();
                let again = self
                    .app
                    .scoring
                    .ingest(message, "interaction")
                    .await
                    .unwrap();
                assert_eq!(
                    again.scorecard, stored.scorecard,
                    "a duplicate returns what is stored"
                );
            }
            Op::Fulfil { id, minutes } => {
                let Some(stored) = self
                    .app
                    .store
                    .get_interaction(&format!("i{id}"))
                    .await
                    .unwrap()
                else {
                    return;
                };
                let message: pb::Interaction =
                    prost::Message::decode(stored.body.unwrap().as_slice()).unwrap();
                let Some(commitment) = message.commitments.first() else {
                    return;
                };
                if commitment.fulfilled_at.is_some() {
                    return;
                }
                let opened = message.opened_at.unwrap().seconds;
                let at = (now - minutes * 60).max(opened);
                self.app
                    .scoring
                    .amend(pb::AmendInteractionRequest {
                        interaction_id: message.interaction_id.clone(),
                        expected_revision: stored.revision,
                        amendments: vec![pb::Amendment {
                            kind: Some(pb::amendment::Kind::CommitmentFulfilled(
                                pb::CommitmentFulfilled {
                                    commitment_id: "promise".to_owned(),
                                    fulfilled_at: Some(ts(at)),
                                },
                            )),
                        }],
                    })
                    .await
                    .expect("the follow-up is stored");
            }
            Op::Advance { hours } => {
                self.clock.advance(SignedDuration::from_hours(*hours));
                self.app.scheduler.tick().await;
            }
            Op::Close { team, days_back } => {
                let (team, zone) = [("sh", "Asia/Shanghai"), ("ny", "America/New_York")][*team];
                let today = self
                    .clock
                    .now()
                    .to_zoned(jiff::tz::TimeZone::get(zone).unwrap())
                    .date();
                let date = today - jiff::Span::new().days(*days_back);
                self.app
                    .rollups
                    .close(pb::CloseDayRequest {
                        team_id: team.to_owned(),
                        local_date: date.to_string(),
                    })
                    .await
                    .expect("a day that has begun can be closed");
            }
        }
    }

    async fn revision(&self, id: u8) -> i64 {
        self.app
            .store
            .get_interaction(&format!("i{id}"))
            .await
            .unwrap()
            .map_or(0, |stored| stored.revision)
    }

    /// The maintained sums equal their recomputation, and the rollups served agree with an
    /// independent count over the stored scorecards.
    async fn check(&self) {
        let verified = self
            .app
            .rollups
            .verify(pb::VerifyRollupsRequest::default())
            .await
            .unwrap();
        assert!(
            verified.mismatches.is_empty(),
            "maintained rollups differ: {:?}",
            verified.mismatches
        );
        // The oracle: per (team, staff, date) interactions, composite sum, scored, items due
        // and cleared, straight from the scorecards.
        #[derive(Default, Debug, PartialEq)]
        struct Expected {
            interactions: i64,
            scored: i64,
            composite_sum: i64,
            items_due: i64,
            items_cleared: i64,
        }
        let mut expected: BTreeMap<(String, String, String), Expected> = BTreeMap::new();
        let scorecards = self.app.store.scan_scorecards(None, 10_000).await.unwrap();
        for scorecard in &scorecards {
            let key = |date: &str| {
                (
                    scorecard.team_id.clone(),
                    scorecard.staff_id.clone(),
                    date.to_owned(),
                )
            };
            let day = expected.entry(key(&scorecard.local_date)).or_default();
            day.interactions += 1;
            if let Some(composite) = scorecard.composite {
                day.scored += 1;
                day.composite_sum += (composite * 100.0).round() as i64;
            }
            for item in &scorecard.due_items {
                let day = expected.entry(key(&item.local_date)).or_default();
                day.items_due += 1;
                day.items_cleared += i64::from(item.cleared);
            }
        }
        let mut team_interactions: BTreeMap<(String, String), i64> = BTreeMap::new();
        for ((team, staff, date), want) in &expected {
            *team_interactions
                .entry((team.clone(), date.clone()))
                .or_default() += want.interactions;
            let rollup = self
                .app
                .rollups
                .get_staff(pb::GetStaffRollupRequest {
                    staff_id: staff.clone(),
                    local_date: date.clone(),
                    team_id: team.clone(),
                })
                .await
                .unwrap();
            let quality = rollup.quality.unwrap();
            let clearing = rollup.clearing.unwrap();
            let got = Expected {
                interactions: rollup.interactions,
                scored: quality.scored,
                composite_sum: quality.composite_sum_hundredths,
                items_due: clearing.items_due,
                items_cleared: clearing.items_cleared,
            };
            assert_eq!(&got, want, "rollup of {staff} in {team} on {date}");
        }
        for ((team, date), interactions) in team_interactions {
            let rollup = self
                .app
                .rollups
                .get_team(pb::GetTeamRollupRequest {
                    team_id: team.clone(),
                    local_date: date.clone(),
                })
                .await
                .unwrap();
            assert_eq!(rollup.interactions, interactions, "team {team} on {date}");
            let ranked: i64 = rollup.ranking.iter().map(|entry| entry.interactions).sum();
            assert_eq!(ranked, interactions, "the ranking covers the team's day");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_rollup_equals_its_recomputation_after_every_step(ops in proptest::collection::vec(op(), 1..18)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let world = world().await;
            for op in &ops {
                world.apply(op).await;
                world.check().await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_the_invariant() {
    let world = Arc::new(world().await);
    let mut tasks = Vec::new();
    for task in 0..16_u64 {
        let world = world.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(task);
            for step in 0..25 {
                let id = rng.u8(0..12);
                let now = world.clock.now().as_second();
                let result = match rng.u8(0..4) {
                    // A fresh revision or a resend; a lost race is reported, not stored twice.
                    0 | 1 => {
                        let revision = world.revision(id).await + rng.i64(0..=1);
                        let minutes = rng.i64(0..2 * 24 * 60);
                        world
                            .app
                            .scoring
                            .ingest(
                                interaction(
                                    id,
                                    revision.max(1),
                                    STAFF[rng.usize(0..4)],
                                    now - minutes * 60,
                                    rng.i64(5..600).min(minutes * 60),
                                    rng.bool().then(|| rng.i64(1..30)),
                                ),
                                "interaction",
                            )
                            .await
                            .map(|_| ())
                    }
                    2 => {
                        let Some(stored) = world
                            .app
                            .store
                            .get_interaction(&format!("i{id}"))
                            .await
                            .unwrap()
                        else {
                            continue;
                        };
                        world
                            .app
                            .scoring
                            .amend(pb::AmendInteractionRequest {
                                interaction_id: format!("i{id}"),
                                expected_revision: stored.revision,
                                amendments: vec![pb::Amendment {
                                    kind: Some(pb::amendment::Kind::SurveyAnswered(pb::Survey {
                                        expectation: 3,
                                        perception: rng.i32(1..=5),
                                        answered_at: Some(ts(now)),
                                    })),
                                }],
                            })
                            .await
                            .map(|_| ())
                    }
                    _ => {
                        if step % 5 == 0 {
                            world.clock.advance(SignedDuration::from_mins(30));
                        }
                        world.app.scheduler.tick().await;
                        Ok(())
                    }
                };
                if let Err(error) = result {
                    // Losing a race to another writer is an expected, clear answer.
                    let message = error.to_string();
                    assert!(
                        matches!(
                            error,
                            servscore::service::error::ServiceError::AlreadyExists(_)
                                | servscore::service::error::ServiceError::FailedPrecondition(_)
                                | servscore::service::error::ServiceError::Aborted(_)
                        ),
                        "unexpected error: {message}"
                    );
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    world.check().await;
}
