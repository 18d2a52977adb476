//! OEC daily rollups over gRPC: day attribution by team time zone, day-over-day progress,
//! outcome and ranking, clearing and carry-over as time passes, day close (requested and
//! automatic), the live watch, leaderboards and the invariant check.

mod common;

use std::time::Duration;

use common::{START, TestServer, at};
use jiff::SignedDuration;
use servscore::proto::v1 as pb;
use tokio_stream::StreamExt;
use tonic::Code;

/// A chat for `staff` opened at `opened` (seconds after START): the customer asks, the staff
/// member greets and answers after `reply_after` seconds, the chat is resolved.
fn chat(id: &str, staff: &str, opened: i64, reply_after: i64) -> pb::Interaction {
    use pb::Speaker::{Customer, Staff};
    let turn = |speaker: pb::Speaker, seconds: i64, text: &str| pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(at(opened + seconds)),
        text: text.to_owned(),
    };
    pb::Interaction {
        interaction_id: id.to_owned(),
        revision: 1,
        staff_id: staff.to_owned(),
        customer_id: format!("customer-of-{id}"),
        tier: pb::Tier::Medium as i32,
        channel: pb::Channel::Chat as i32,
        kind: pb::InteractionKind::Inquiry as i32,
        opened_at: Some(at(opened)),
        turns: vec![
            turn(Customer, 0, "Hello, where is my order?"),
            turn(
                Staff,
                reply_after,
                "Hello, thank you for waiting. Your order ships today.",
            ),
            turn(Customer, reply_after + 30, "Great, thanks."),
            turn(
                Staff,
                reply_after + 40,
                "You're welcome, thank you for contacting us. Have a nice day!",
            ),
        ],
        status_changes: vec![pb::StatusChange {
            status: pb::InteractionStatus::Resolved as i32,
            at: Some(at(opened + reply_after + 50)),
        }],
        ..Default::default()
    }
}

async fn create_team(server: &TestServer, id: &str, zone: &str, members: &[&str]) {
    server
        .teams()
        .await
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                team_id: id.to_owned(),
                display_name: format!("Team {id}"),
                time_zone: zone.to_owned(),
                targets: Some(pb::DailyTargets {
                    composite_target: Some(50.0),
                    clear_rate_target: Some(0.0),
                    improvement_target: Some(0.05),
                }),
                member_staff_ids: members.iter().map(|member| member.to_string()).collect(),
                ..Default::default()
            }),
        })
        .await
        .expect("the team is created");
}

async fn ingest(server: &TestServer, interaction: pb::Interaction) -> pb::Scorecard {
    server
        .scoring()
        .await
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(interaction),
        })
        .await
        .expect("the interaction is stored")
        .into_inner()
        .scorecard
        .expect("a scorecard")
}

async fn staff_rollup(server: &TestServer, staff: &str, date: &str) -> pb::DailyRollup {
    common::staff_rollup(&mut server.performance().await, staff, date).await
}

async fn team_rollup(server: &TestServer, team: &str, date: &str) -> pb::DailyRollup {
    common::team_rollup(&mut server.performance().await, team, date).await
}

async fn assert_invariant(server: &TestServer) {
    let verified = common::assert_rollups_exact(&mut server.performance().await).await;
    assert!(verified.rollups_checked > 0);
}

/// A server whose days close automatically only a week after they end, so tests close them
/// when they mean to.
async fn server() -> TestServer {
    TestServer::start_with(|config| {
        config.day_close_grace = SignedDuration::from_hours(24 * 7);
    })
    .await
}

fn composite(scorecard: &pb::Scorecard) -> i64 {
    (scorecard.composite.expect("a composite") * 100.0).round() as i64
}

#[tokio::test]
async fn a_day_is_the_local_date_of_the_team() {
    let server = server().await;
    create_team(&server, "shanghai", "Asia/Shanghai", &["li"]).await;
    create_team(&server, "new-york", "America/New_York", &["jo"]).await;
    // 2026-11-22T17:30:00Z is 01:30 on the 23rd in Shanghai and 12:30 on the 22nd in New York.
    let opened = 1_795_368_600 - START;
    assert_eq!(
        jiff::Timestamp::from_second(START + opened)
            .unwrap()
            .to_string(),
        "2026-11-22T17:30:00Z"
    );
    let li = ingest(&server, chat("sh-1", "li", opened, 20)).await;
    let jo = ingest(&server, chat("ny-1", "jo", opened, 20)).await;
    assert_eq!(
        (li.team_id.as_str(), li.local_date.as_str()),
        ("shanghai", "2026-11-23")
    );
    assert_eq!(
        (jo.team_id.as_str(), jo.local_date.as_str()),
        ("new-york", "2026-11-22")
    );

    assert_eq!(
        staff_rollup(&server, "li", "2026-11-23").await.interactions,
        1
    );
    assert_eq!(
        staff_rollup(&server, "li", "2026-11-22").await.interactions,
        0
    );
    assert_eq!(
        staff_rollup(&server, "jo", "2026-11-22").await.interactions,
        1
    );
    assert_eq!(
        staff_rollup(&server, "jo", "2026-11-23").await.interactions,
        0
    );
    let empty = staff_rollup(&server, "jo", "2026-11-21").await;
    assert_eq!(empty.interactions, 0);
    assert_eq!(empty.outcome, pb::Outcome::NoActivity as i32);
    assert_eq!(empty.reasons[0].target, pb::OutcomeTarget::Activity as i32);
    assert_eq!(
        team_rollup(&server, "shanghai", "2026-11-23")
            .await
            .interactions,
        1
    );
    assert_eq!(
        team_rollup(&server, "new-york", "2026-11-22")
            .await
            .interactions,
        1
    );
    assert_invariant(&server).await;
}

#[tokio::test]
async fn day_over_day_streak_outcome_and_ranking() {
    let server = server().await;
    create_team(&server, "desk", "UTC", &["ann", "bob"]).await;
    let day = 86_400;
    // START is 2026-11-23T12:00Z. Ann: slow on the 21st, faster on the 22nd, fastest on
    // the 23rd; Bob only on the 23rd.
    let slow = ingest(&server, chat("a1", "ann", -2 * day - 3 * 3_600, 1_500)).await;
    let faster = ingest(&server, chat("a2", "ann", -day - 3 * 3_600, 300)).await;
    let fastest_1 = ingest(&server, chat("a3", "ann", -3 * 3_600, 5)).await;
    let fastest_2 = ingest(&server, chat("a4", "ann", -2 * 3_600, 5)).await;
    let bob = ingest(&server, chat("b1", "bob", -3 * 3_600, 600)).await;
    let (c1, c2) = (composite(&slow), composite(&faster));
    let c3 = composite(&fastest_1) + composite(&fastest_2);
    assert!(c1 < c2, "the faster reply scores higher: {c1} vs {c2}");

    let first = staff_rollup(&server, "ann", "2026-11-21").await;
    let progress = first.day_over_day.clone().unwrap();
    assert_eq!(progress.previous_date, "");
    assert!(!progress.improved);
    assert_eq!(progress.streak, 0);

    let second = staff_rollup(&server, "ann", "2026-11-22").await;
    let progress = second.day_over_day.clone().unwrap();
    assert_eq!(progress.previous_date, "2026-11-21");
    assert_eq!(progress.previous_mean_composite, Some(c1 as f64 / 100.0));
    assert_eq!(progress.delta, Some((c2 - c1) as f64 / 100.0));
    // Improved when c2 >= c1 + 5 % of (100 - c1), exactly.
    let improved_2 = c2 * 100 >= c1 * 95 + 5 * 10_000;
    assert_eq!(progress.improved, improved_2);
    assert_eq!(progress.streak, i64::from(improved_2));

    let third = staff_rollup(&server, "ann", "2026-11-23").await;
    assert_eq!(third.interactions, 2);
    let quality = third.quality.unwrap();
    assert_eq!(quality.composite_sum_hundredths, c3);
    assert_eq!(quality.scored, 2);
    let progress = third.day_over_day.clone().unwrap();
    let improved_3 = c3 * 100 >= 2 * (c2 * 95 + 5 * 10_000);
    assert_eq!(progress.improved, improved_3);
    let streak = if improved_3 {
        1 + i64::from(improved_2)
    } else {
        0
    };
    assert_eq!(progress.streak, streak);
    // Above the composite target of 50 and no clear-rate miss: EXCEEDED when improved.
    let expected = if improved_3 {
        pb::Outcome::Exceeded
    } else {
        pb::Outcome::Met
    };
    assert_eq!(third.outcome, expected as i32, "{:?}", third.reasons);
    let targets: Vec<i32> = third.reasons.iter().map(|reason| reason.target).collect();
    assert!(targets.contains(&(pb::OutcomeTarget::Composite as i32)));
    assert!(targets.contains(&(pb::OutcomeTarget::Improvement as i32)));

    // The team's day: both staff members, ranked by mean composite.
    let team = team_rollup(&server, "desk", "2026-11-23").await;
    assert_eq!(team.interactions, 3);
    assert_eq!(
        team.quality.as_ref().unwrap().composite_sum_hundredths,
        c3 + composite(&bob)
    );
    let ranking: Vec<(&str, i32)> = team
        .ranking
        .iter()
        .map(|entry| (entry.staff_id.as_str(), entry.rank))
        .collect();
    if c3 > composite(&bob) * 2 {
        assert_eq!(ranking, vec![("ann", 1), ("bob", 2)]);
    } else {
        assert_eq!(ranking.len(), 2);
    }

    // A leaderboard over the three days.
    let board = server
        .performance()
        .await
        .get_leaderboard(pb::GetLeaderboardRequest {
            team_id: "desk".to_owned(),
            from_date: "2026-11-21".to_owned(),
            to_date: "2026-11-23".to_owned(),
            order: pb::LeaderboardOrder::Interactions as i32,
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let ann = &board.entries[0];
    assert_eq!(
        (ann.rank, ann.staff_id.as_str(), ann.interactions),
        (1, "ann", 4)
    );
    assert_eq!(
        ann.improved_days,
        i64::from(improved_2) + i64::from(improved_3)
    );
    assert_eq!(board.entries[1].staff_id, "bob");

    // Amending Monday changes Tuesday's delta: the slow chat is replaced by a fast one.
    let mut replacement = chat("a1", "ann", -2 * day - 3 * 3_600, 5);
    replacement.revision = 2;
    let replaced = ingest(&server, replacement).await;
    let second = staff_rollup(&server, "ann", "2026-11-22").await;
    assert_eq!(
        second.day_over_day.unwrap().previous_mean_composite,
        Some(composite(&replaced) as f64 / 100.0)
    );
    assert_invariant(&server).await;

    // Lists: every staff day with activity, paginated.
    let mut performance = server.performance().await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = performance
            .list_staff_rollups(pb::ListStaffRollupsRequest {
                team_id: "desk".to_owned(),
                from_date: "2026-11-20".to_owned(),
                to_date: "2026-11-23".to_owned(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(
            page.rollups
                .iter()
                .map(|rollup| format!("{} {}", rollup.local_date, rollup.staff_id)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [
            "2026-11-21 ann",
            "2026-11-22 ann",
            "2026-11-23 ann",
            "2026-11-23 bob"
        ]
    );
    let teams = performance
        .list_team_rollups(pb::ListTeamRollupsRequest {
            team_id: "desk".to_owned(),
            from_date: "2026-11-20".to_owned(),
            to_date: "2026-11-23".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let per_day: Vec<i64> = teams
        .rollups
        .iter()
        .map(|rollup| rollup.interactions)
        .collect();
    assert_eq!(per_day, [0, 1, 1, 3]);
}

#[tokio::test]
async fn clearing_and_carry_over_follow_the_clock() {
    let server = server().await;
    create_team(&server, "care", "UTC", &["cy"]).await;
    // Opened 10:00 on the 23rd with two promises: one kept on time, one due 14:00 that day.
    let mut promised = chat("p1", "cy", -2 * 3_600, 10);
    promised.commitments = vec![
        pb::Commitment {
            commitment_id: "kept".to_owned(),
            description: "send the invoice".to_owned(),
            due_at: Some(at(3_600)),
            fulfilled_at: Some(at(-3_600)),
        },
        pb::Commitment {
            commitment_id: "late".to_owned(),
            description: "call back".to_owned(),
            due_at: Some(at(2 * 3_600)),
            fulfilled_at: None,
        },
    ];
    let scorecard = ingest(&server, promised).await;
    assert_eq!(scorecard.status, pb::ScorecardStatus::Provisional as i32);
    let today = staff_rollup(&server, "cy", "2026-11-23").await;
    let clearing = today.clearing.unwrap();
    let due_today = clearing.items_due;
    assert!(due_today >= 2, "both promises fall due today: {clearing:?}");
    assert_eq!(today.provisional, 1);

    // The next morning the open promise is overdue: re-scored by the service itself, and
    // carried over into the 24th.
    server.clock.advance(SignedDuration::from_hours(14));
    server.app.scheduler.tick().await;
    let stored = server
        .scoring()
        .await
        .get_scorecard(pb::GetScorecardRequest {
            interaction_id: "p1".to_owned(),
            revision: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(stored.status, pb::ScorecardStatus::Final as i32);
    let yesterday = staff_rollup(&server, "cy", "2026-11-23").await;
    let clearing = yesterday.clearing.unwrap();
    assert_eq!(clearing.items_due, due_today);
    assert_eq!(clearing.items_cleared, due_today - 1);
    assert_eq!(yesterday.provisional, 0);
    assert_eq!(
        staff_rollup(&server, "cy", "2026-11-24")
            .await
            .clearing
            .unwrap()
            .carried_over,
        1
    );
    // Days not yet begun carry nothing.
    assert_eq!(
        staff_rollup(&server, "cy", "2026-11-25")
            .await
            .clearing
            .unwrap()
            .carried_over,
        0
    );

    // Kept on the 25th: carried on the 24th and the 25th, not after.
    server.clock.advance(SignedDuration::from_hours(48));
    server
        .scoring()
        .await
        .amend_interaction(pb::AmendInteractionRequest {
            interaction_id: "p1".to_owned(),
            expected_revision: 1,
            amendments: vec![pb::Amendment {
                kind: Some(pb::amendment::Kind::CommitmentFulfilled(
                    pb::CommitmentFulfilled {
                        commitment_id: "late".to_owned(),
                        fulfilled_at: Some(at(2 * 86_400 - 3_600)),
                    },
                )),
            }],
        })
        .await
        .expect("the amendment is stored");
    let carried = |rollup: pb::DailyRollup| rollup.clearing.unwrap().carried_over;
    assert_eq!(carried(staff_rollup(&server, "cy", "2026-11-24").await), 1);
    assert_eq!(carried(staff_rollup(&server, "cy", "2026-11-25").await), 1);
    assert_eq!(carried(staff_rollup(&server, "cy", "2026-11-26").await), 0);
    // Still not cleared: it was kept after its deadline.
    let late = staff_rollup(&server, "cy", "2026-11-23")
        .await
        .clearing
        .unwrap();
    assert_eq!(late.items_cleared, due_today - 1);
    assert_invariant(&server).await;
}

#[tokio::test]
async fn day_close_is_immutable_idempotent_and_automatic() {
    let server = server().await;
    create_team(&server, "ops", "UTC", &["dee"]).await;
    ingest(&server, chat("d1", "dee", -86_400, 20)).await;
    ingest(&server, chat("d2", "dee", -2 * 86_400, 20)).await;
    let mut performance = server.performance().await;
    let close = |date: &str| pb::CloseDayRequest {
        team_id: "ops".to_owned(),
        local_date: date.to_owned(),
    };

    let first = performance
        .close_day(close("2026-11-22"))
        .await
        .unwrap()
        .into_inner();
    assert!(first.newly_closed);
    let sheet = first.day_close.unwrap();
    assert_eq!(sheet.trigger, pb::DayCloseTrigger::Request as i32);
    assert_eq!(sheet.team_rollup.as_ref().unwrap().interactions, 1);
    assert_eq!(sheet.staff_rollups.len(), 1);
    let again = performance
        .close_day(close("2026-11-22"))
        .await
        .unwrap()
        .into_inner();
    assert!(!again.newly_closed);
    assert_eq!(again.day_close.unwrap(), sheet);

    // A late change updates the live rollup, which counts it; the sheet stays as it was.
    ingest(&server, chat("d3", "dee", -86_400 + 600, 20)).await;
    let live = team_rollup(&server, "ops", "2026-11-22").await;
    assert_eq!(live.interactions, 2);
    let state = live.close.unwrap();
    assert!(state.closed);
    assert_eq!(state.changes_after_close, 1);
    let staff_state = staff_rollup(&server, "dee", "2026-11-22")
        .await
        .close
        .unwrap();
    assert_eq!(
        (staff_state.closed, staff_state.changes_after_close),
        (true, 1)
    );
    let stored = performance
        .get_day_close(pb::GetDayCloseRequest {
            team_id: "ops".to_owned(),
            local_date: "2026-11-22".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .day_close
        .unwrap();
    assert_eq!(stored, sheet);

    // Days not yet begun cannot be closed; unknown teams and unclosed days are NOT_FOUND.
    let future = performance
        .close_day(close("2026-11-24"))
        .await
        .unwrap_err();
    assert_eq!(future.code(), Code::FailedPrecondition);
    let unclosed = performance
        .get_day_close(pb::GetDayCloseRequest {
            team_id: "ops".to_owned(),
            local_date: "2026-11-21".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unclosed.code(), Code::NotFound);
    let bad = performance
        .close_day(pb::CloseDayRequest {
            team_id: "ops".to_owned(),
            local_date: "22/11/2026".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(common::violated_fields(&bad), ["local_date"]);

    // A week and a bit later the service closes the 21st by itself.
    server.clock.advance(SignedDuration::from_hours(24 * 7 + 1));
    server.app.scheduler.tick().await;
    let automatic = performance
        .get_day_close(pb::GetDayCloseRequest {
            team_id: "ops".to_owned(),
            local_date: "2026-11-21".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .day_close
        .unwrap();
    assert_eq!(automatic.trigger, pb::DayCloseTrigger::Automatic as i32);
    assert_eq!(automatic.team_rollup.unwrap().interactions, 1);
    assert_invariant(&server).await;
}

#[tokio::test]
async fn a_watcher_sees_changes_from_another_client_and_a_stalled_one_blocks_nobody() {
    let server = server().await;
    create_team(&server, "live", "UTC", &["eve"]).await;
    ingest(&server, chat("e1", "eve", -3_600, 20)).await;

    let mut watch = server
        .performance()
        .await
        .watch_rollups(pb::WatchRollupsRequest {
            team_id: "live".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // A stalled subscriber that never reads.
    let _stalled = server
        .performance()
        .await
        .watch_rollups(pb::WatchRollupsRequest {
            staff_id: "eve".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .expect("a watch message within 10 s")
            .expect("the stream is open")
            .expect("a message, not an error")
    };
    let team = next().await;
    assert_eq!(team.kind, pb::WatchEventKind::Snapshot as i32);
    assert_eq!(team.rollup.as_ref().unwrap().staff_id, "");
    assert_eq!(team.rollup.unwrap().interactions, 1);
    let eve = next().await;
    assert_eq!(eve.kind, pb::WatchEventKind::Snapshot as i32);
    assert_eq!(eve.rollup.unwrap().staff_id, "eve");
    assert_eq!(next().await.kind, pb::WatchEventKind::Synced as i32);

    // Another client ingests: the watcher gets the team's and Eve's new rollups (as changes,
    // in whichever order and however often they were derived, never an older figure).
    ingest(&server, chat("e2", "eve", -1_800, 20)).await;
    let mut seen: Vec<(String, i64)> = Vec::new();
    while !(seen.contains(&(String::new(), 2)) && seen.contains(&("eve".to_owned(), 2))) {
        let change = next().await;
        let rollup = change.rollup.expect("a change carries its rollup");
        seen.push((rollup.staff_id.clone(), rollup.interactions));
        assert_eq!(change.kind, pb::WatchEventKind::Change as i32, "{seen:?}");
        assert!(["", "eve"].contains(&rollup.staff_id.as_str()), "{seen:?}");
        assert_eq!(rollup.interactions, 2, "{seen:?}");
        assert!(seen.len() <= 4, "{seen:?}");
    }

    // Thousands of writes while the stalled watcher reads nothing: ingest keeps going.
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for task in 0..8 {
        let channel = server.channel().await;
        handles.push(tokio::spawn(async move {
            let mut scoring = pb::scoring_service_client::ScoringServiceClient::new(channel);
            for index in 0..150 {
                scoring
                    .score_interaction(pb::ScoreInteractionRequest {
                        interaction: Some(chat(&format!("bulk-{task}-{index}"), "eve", -600, 20)),
                    })
                    .await
                    .expect("ingest is not blocked by a stalled watcher");
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(120));
    // The reading watcher catches up (with changes or a resync) and ends on the latest figure.
    let mut latest = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while latest != 1_202 {
        let message = tokio::time::timeout_at(deadline, watch.next())
            .await
            .expect("the watcher catches up")
            .unwrap()
            .unwrap();
        if let Some(rollup) = message.rollup.filter(|rollup| rollup.staff_id.is_empty()) {
            latest = rollup.interactions;
        }
    }
    assert_invariant(&server).await;
}

#[tokio::test]
async fn rollup_requests_are_validated() {
    let server = server().await;
    let mut performance = server.performance().await;
    let missing = performance
        .get_staff_rollup(pb::GetStaffRollupRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(common::violated_fields(&missing), ["staff_id"]);
    let unknown = performance
        .get_team_rollup(pb::GetTeamRollupRequest {
            team_id: "nobody".to_owned(),
            local_date: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let too_long = performance
        .list_team_rollups(pb::ListTeamRollupsRequest {
            team_id: "default".to_owned(),
            from_date: "2025-01-01".to_owned(),
            to_date: "2026-11-23".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(common::violated_fields(&too_long), ["to_date"]);
    let neither = performance
        .watch_rollups(pb::WatchRollupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(common::violated_fields(&neither), ["team_id"]);
    // Staff in no team are in the default team.
    ingest(&server, chat("x1", "loner", -600, 20)).await;
    let rollup = staff_rollup(&server, "loner", "2026-11-23").await;
    assert_eq!(
        (rollup.team_id.as_str(), rollup.interactions),
        ("default", 1)
    );
}

/// Rollup reads are served from a cache between writes: under concurrent writes and reads,
/// every acknowledged write is in the next read, and once the writes end the cached answers
/// equal the uncached list reads (which derive from the store every time).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cached_rollups_never_outlive_a_write() {
    const WRITERS: usize = 4;
    const WRITES: usize = 12;
    const DAY: &str = "2026-11-23";
    let server = server().await;
    create_team(&server, "cache", "Asia/Shanghai", &["li", "wang"]).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for reader in 0..2 {
        let mut performance = server.performance().await;
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if reader == 0 {
                    common::staff_rollup(&mut performance, "li", DAY).await;
                } else {
                    common::team_rollup(&mut performance, "cache", DAY).await;
                }
                reads += 1;
            }
            reads
        }));
    }
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let mut scoring = server.scoring().await;
        let mut performance = server.performance().await;
        writers.push(tokio::spawn(async move {
            for write in 0..WRITES {
                let id = format!("cache-{writer}-{write}");
                let staff = if write % 2 == 0 { "li" } else { "wang" };
                let opened = -((writer * WRITES + write) as i64) * 60;
                common::score(&mut scoring, chat(&id, staff, opened, 5 + write as i64))
                    .await
                    .expect("stored");
                // This writer's own writes are all in what it reads next.
                let seen = common::staff_rollup(&mut performance, staff, DAY).await;
                let own = (write / 2 + 1) as i64;
                assert!(
                    seen.interactions >= own,
                    "{staff} shows {} interactions after this writer stored {own}",
                    seen.interactions
                );
                let team = common::team_rollup(&mut performance, "cache", DAY).await;
                assert!(team.interactions > write as i64);
            }
        }));
    }
    for writer in writers {
        writer.await.expect("the writer finished");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.expect("the reader finished") > 0);
    }

    let mut performance = server.performance().await;
    let listed = performance
        .list_staff_rollups(pb::ListStaffRollupsRequest {
            team_id: "cache".to_owned(),
            from_date: DAY.to_owned(),
            to_date: DAY.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rollups;
    assert_eq!(listed.len(), 2);
    for uncached in &listed {
        let cached = common::staff_rollup(&mut performance, &uncached.staff_id, DAY).await;
        assert_eq!(&cached, uncached);
        assert_eq!(cached.interactions, (WRITERS * WRITES / 2) as i64);
    }
    let team_listed = performance
        .list_team_rollups(pb::ListTeamRollupsRequest {
            team_id: "cache".to_owned(),
            from_date: DAY.to_owned(),
            to_date: DAY.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rollups;
    assert_eq!(
        common::team_rollup(&mut performance, "cache", DAY).await,
        team_listed[0]
    );
    assert_eq!(team_listed[0].interactions, (WRITERS * WRITES) as i64);

    // Closing the day shows in every cached staff day of the team.
    performance
        .close_day(pb::CloseDayRequest {
            team_id: "cache".to_owned(),
            local_date: DAY.to_owned(),
        })
        .await
        .unwrap();
    for staff in ["li", "wang"] {
        let closed = common::staff_rollup(&mut performance, staff, DAY).await;
        assert!(closed.close.is_some_and(|close| close.closed), "{staff}");
    }
    let team = common::team_rollup(&mut performance, "cache", DAY).await;
    assert!(team.close.is_some_and(|close| close.closed));
    assert_invariant(&server).await;
}
