//! Data minimisation over gRPC: `privacy.keep_transcripts = false` (no turn text stored,
//! idempotency intact, re-scores carry politeness over), the retention purge run by the
//! scheduler on the injected clock, EraseCustomerData (rollups exact, no trace of the
//! customer's text or id in the database files) and its validation.

mod common;

use common::{
    START, Scoring, TestServer, assert_rollups_exact, at, score, staff_rollup, violated_fields,
};
use jiff::SignedDuration;
use prost::Message;
use servscore::config::DatabaseLocation;
use servscore::proto::v1 as pb;
use tonic::Code;
use tonic::transport::Channel;

type Privacy = pb::privacy_service_client::PrivacyServiceClient<Channel>;

/// Text that no standard phrase contains, to look for in the database files.
const SECRET_ORDER: &str = "ZEBRA-QUARTZ-7731";
const SECRET_PLACE: &str = "紫色长颈鹿仓库";

/// A resolved MEDIUM chat for `staff`, opened `opened` seconds after the test start: the
/// customer quotes `secret`, the staff member greets but brushes them off ("不归我管", a
/// politeness deduction with a text snippet), answers again and closes courteously; a
/// call-back is promised for `due` seconds after the test start.
fn chat(
    id: &str,
    staff: &str,
    customer: &str,
    opened: i64,
    secret: &str,
    due: i64,
) -> pb::Interaction {
    use pb::Speaker::{Customer, Staff};
    let turn = |speaker: pb::Speaker, seconds: i64, text: String| pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(at(opened + seconds)),
        text,
    };
    pb::Interaction {
        interaction_id: id.to_owned(),
        revision: 1,
        staff_id: staff.to_owned(),
        customer_id: customer.to_owned(),
        tier: pb::Tier::Medium as i32,
        channel: pb::Channel::Chat as i32,
        kind: pb::InteractionKind::Inquiry as i32,
        opened_at: Some(at(opened)),
        turns: vec![
            turn(Customer, 0, format!("我的订单号是 {secret}，快递三天没到")),
            turn(Staff, 40, "您好，这个不归我管，我帮您转给物流。".to_owned()),
            turn(Customer, 70, format!("好的，{SECRET_PLACE}在哪里？")),
            turn(Staff, 80, "已经帮您查好了，感谢您的耐心，再见。".to_owned()),
        ],
        status_changes: vec![pb::StatusChange {
            status: pb::InteractionStatus::Resolved as i32,
            at: Some(at(opened + 90)),
        }],
        commitments: vec![pb::Commitment {
            commitment_id: "call-back".to_owned(),
            description: format!("call back about {secret}"),
            due_at: Some(at(due)),
            fulfilled_at: None,
        }],
        ..Default::default()
    }
}

async fn scorecard(scoring: &mut Scoring, id: &str, revision: i64) -> pb::Scorecard {
    scoring
        .get_scorecard(pb::GetScorecardRequest {
            interaction_id: id.to_owned(),
            revision,
        })
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .expect("a scorecard")
}

async fn interaction(scoring: &mut Scoring, id: &str) -> pb::Interaction {
    scoring
        .get_interaction(pb::GetInteractionRequest {
            interaction_id: id.to_owned(),
            revision: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .interaction
        .expect("an interaction")
}

async fn amend(
    scoring: &mut Scoring,
    id: &str,
    expected_revision: i64,
    amendment: pb::amendment::Kind,
) -> Result<pb::AmendInteractionResponse, tonic::Status> {
    scoring
        .amend_interaction(pb::AmendInteractionRequest {
            interaction_id: id.to_owned(),
            expected_revision,
            amendments: vec![pb::Amendment {
                kind: Some(amendment),
            }],
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn erase(privacy: &mut Privacy, customer_id: &str) -> Result<i64, tonic::Status> {
    privacy
        .erase_customer_data(pb::EraseCustomerDataRequest {
            customer_id: customer_id.to_owned(),
        })
        .await
        .map(|response| response.into_inner().interactions_erased)
}

async fn privacy_client(server: &TestServer) -> Privacy {
    pb::privacy_service_client::PrivacyServiceClient::new(server.channel().await)
}

/// What the database holds: with SQLite, the bytes of the database file and its write-ahead
/// log as they are on disk now; with PostgreSQL, every text and bytea value of every servscore
/// table (PostgreSQL keeps dead row versions until VACUUM, so the files are not checked).
async fn database_bytes(server: &TestServer) -> Vec<u8> {
    let path = match server.config.database() {
        DatabaseLocation::Sqlite(path) => path,
        DatabaseLocation::Postgres(url) => return common::postgres::stored_values(&url).await,
    };
    let mut bytes = std::fs::read(&path).expect("the database file");
    let mut wal = path.into_os_string();
    wal.push("-wal");
    if let Ok(log) = std::fs::read(&wal) {
        bytes.extend(log);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn politeness_findings(scorecard: &pb::Scorecard) -> Vec<Vec<u8>> {
    scorecard
        .findings
        .iter()
        .filter(|finding| finding.dimension == pb::Dimension::Politeness as i32)
        .map(Message::encode_to_vec)
        .collect()
}

fn snippets(scorecard: &pb::Scorecard) -> Vec<String> {
    scorecard
        .findings
        .iter()
        .filter_map(|finding| match &finding.evidence {
            Some(pb::finding::Evidence::Text(text)) => Some(text.snippet.clone()),
            _ => None,
        })
        .collect()
}

fn score_of(dimension: &Option<pb::DimensionScore>) -> Option<f64> {
    dimension.as_ref().and_then(|dimension| dimension.score)
}

/// The composite the scorecard's own dimensions and weights give (no critical finding).
fn expected_composite(scorecard: &pb::Scorecard) -> f64 {
    let (mut weighted, mut weights) = (0.0, 0.0);
    for dimension in [
        &scorecard.politeness,
        &scorecard.speed,
        &scorecard.follow_through,
    ]
    .into_iter()
    .flatten()
    {
        if let Some(score) = dimension.score {
            weighted += dimension.weight * score;
            weights += dimension.weight;
        }
    }
    weighted / weights
}

fn assert_no_turn_text(stored: &pb::Interaction, sent: &pb::Interaction) {
    assert_eq!(stored.turns.len(), sent.turns.len(), "the turns stay");
    for (stored, sent) in stored.turns.iter().zip(&sent.turns) {
        assert_eq!(stored.text, "", "no turn text is kept");
        assert_eq!(
            (stored.speaker, &stored.staff_id, stored.at),
            (sent.speaker, &sent.staff_id, sent.at),
            "speakers, staff ids and times stay"
        );
    }
    assert_eq!(stored.status_changes, sent.status_changes);
    assert_eq!(stored.opened_at, sent.opened_at);
}

/// The politeness of `later` is the one of `earlier`, carried over: same score, same
/// findings; and the composite follows from the dimensions.
fn assert_politeness_carried(earlier: &pb::Scorecard, later: &pb::Scorecard) {
    assert_eq!(
        later.politeness.as_ref().map(|d| (d.applicable, d.score)),
        earlier.politeness.as_ref().map(|d| (d.applicable, d.score)),
        "politeness is carried over, not recomputed from text that is gone"
    );
    assert_eq!(politeness_findings(later), politeness_findings(earlier));
    let composite = later.composite.expect("a composite");
    assert!(
        (composite - expected_composite(later)).abs() < 0.01,
        "composite {composite} vs dimensions {later:?}"
    );
}

#[tokio::test]
async fn without_transcripts_no_text_is_stored_and_rescores_carry_politeness_over() {
    // Only explicit ticks run the scheduler (its own loop waits 10 minutes of real time).
    let server = TestServer::start_with(|config| {
        config.privacy.keep_transcripts = false;
        config.scheduler_interval = SignedDuration::from_mins(10);
    })
    .await;
    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;
    let sent = chat(
        "min-1",
        "mei",
        "cust-min-1",
        -3_600,
        SECRET_ORDER,
        2 * 3_600,
    );

    let created = score(&mut scoring, sent.clone()).await.unwrap();
    assert_eq!(created.outcome, pb::IngestOutcome::Created as i32);
    let first = created.scorecard.unwrap();
    // Scored on the full text: the brush-off is a finding with a short snippet as evidence.
    let politeness = score_of(&first.politeness).expect("politeness applies");
    assert!(politeness < 100.0, "the brush-off is deducted: {first:?}");
    assert!(
        first
            .findings
            .iter()
            .any(|finding| finding.rule_id == "no-indifference"),
        "{first:?}"
    );
    let kept_snippets = snippets(&first);
    assert!(kept_snippets.contains(&"不归我管".to_owned()));
    assert!(
        kept_snippets
            .iter()
            .all(|snippet| snippet.chars().count() <= 64),
        "evidence snippets stay short: {kept_snippets:?}"
    );
    assert_eq!(first.status, pb::ScorecardStatus::Provisional as i32);

    // What is stored has the structure and no text, in the API and in the files.
    let stored = interaction(&mut scoring, "min-1").await;
    assert_no_turn_text(&stored, &sent);
    assert_eq!(stored.commitments.len(), 1, "commitments stay");
    assert_eq!(
        (
            &stored.commitments[0].commitment_id,
            stored.commitments[0].due_at
        ),
        (
            &sent.commitments[0].commitment_id,
            sent.commitments[0].due_at
        )
    );
    assert_eq!(stored.commitments[0].description, "", "free text goes too");
    assert_eq!(stored.customer_id, "cust-min-1");
    let files = database_bytes(&server).await;
    assert!(
        !contains(&files, SECRET_ORDER),
        "the transcript reached the database"
    );
    assert!(!contains(&files, SECRET_PLACE));
    assert!(!contains(&files, "快递三天没到"));

    // Idempotency still holds: the hash is of the content as sent.
    server.clock.advance(SignedDuration::from_mins(5));
    let again = score(&mut scoring, sent.clone()).await.unwrap();
    assert_eq!(again.outcome, pb::IngestOutcome::Unchanged as i32);
    assert_eq!(
        again.scorecard.unwrap().encode_to_vec(),
        first.encode_to_vec()
    );
    let mut different = sent.clone();
    different.turns[2].text = "另一个问题".to_owned();
    let status = score(&mut scoring, different).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    // The call-back falls due: the scheduler re-scores from the structure. Follow-through
    // drops; politeness is the one scored from the text (re-scoring text-less turns would
    // make it N/A and move the composite).
    server.clock.advance(SignedDuration::from_hours(3));
    server.app.scheduler.tick().await;
    let rescored = scorecard(&mut scoring, "min-1", 0).await;
    assert_eq!(rescored.revision, 1);
    assert_eq!(rescored.status, pb::ScorecardStatus::Final as i32);
    assert!(
        rescored
            .findings
            .iter()
            .any(|finding| finding.rule_id == "follow_through.commitment"),
        "the overdue call-back is a finding: {rescored:?}"
    );
    assert!(score_of(&rescored.follow_through) < score_of(&first.follow_through));
    assert_politeness_carried(&first, &rescored);
    assert_rollups_exact(&mut performance).await;

    // An amendment re-scores the same way, and keeps no text either.
    let amended = amend(
        &mut scoring,
        "min-1",
        1,
        pb::amendment::Kind::CommitmentFulfilled(pb::CommitmentFulfilled {
            commitment_id: "call-back".to_owned(),
            fulfilled_at: Some(at(3 * 3_600)),
        }),
    )
    .await
    .unwrap()
    .scorecard
    .unwrap();
    assert_eq!(amended.revision, 2);
    assert!(score_of(&amended.follow_through) > score_of(&rescored.follow_through));
    assert_politeness_carried(&first, &amended);
    assert_no_turn_text(&interaction(&mut scoring, "min-1").await, &sent);

    // Turns without text can be appended; turns with text cannot, since politeness could not
    // be scored over the whole conversation (the caller sends it as a new revision instead).
    let late_turn = |text: &str| {
        pb::amendment::Kind::TurnsAppended(pb::TurnsAppended {
            turns: vec![pb::Turn {
                speaker: pb::Speaker::Staff as i32,
                staff_id: String::new(),
                at: Some(at(3 * 3_600 + 60)),
                text: text.to_owned(),
            }],
        })
    };
    let refused = amend(&mut scoring, "min-1", 2, late_turn("您好，还在吗？"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    let appended = amend(&mut scoring, "min-1", 2, late_turn(""))
        .await
        .unwrap()
        .scorecard
        .unwrap();
    assert_eq!(appended.revision, 3);
    assert_politeness_carried(&first, &appended);
    assert_rollups_exact(&mut performance).await;

    // A new revision with the whole conversation is scored in full again.
    let mut resent = sent.clone();
    resent.revision = 4;
    resent.turns[1].text = "您好，我马上帮您查询。".to_owned();
    let full = score(&mut scoring, resent)
        .await
        .unwrap()
        .scorecard
        .unwrap();
    assert_eq!(full.revision, 4);
    assert!(
        score_of(&full.politeness) > score_of(&first.politeness),
        "no brush-off this time: {full:?}"
    );
    assert!(
        !contains(&database_bytes(&server).await, SECRET_ORDER),
        "the transcript reached the database"
    );
    assert_rollups_exact(&mut performance).await;
}

#[tokio::test]
async fn the_scheduler_purges_bodies_past_retention_and_keeps_scores() {
    let server = TestServer::start_with(|config| {
        config.privacy.retention = SignedDuration::from_hours(7 * 24);
        config.scheduler_interval = SignedDuration::from_mins(10);
    })
    .await;
    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;
    const DAY: i64 = 24 * 3_600;
    const OTHER_SECRET: &str = "OTTER-MAGNET-4410";

    // An old interaction (its call-back due in ten days) and, two days later, a newer one.
    let old = chat(
        "old-1",
        "noor",
        "cust-old-1",
        -3_600,
        SECRET_ORDER,
        10 * DAY,
    );
    score(&mut scoring, old.clone()).await.unwrap();
    server.clock.advance(SignedDuration::from_hours(2 * 24));
    let newer = chat(
        "new-1",
        "noor",
        "cust-new-1",
        2 * DAY - 3_600,
        OTHER_SECRET,
        3 * DAY,
    );
    score(&mut scoring, newer.clone()).await.unwrap();
    server.app.scheduler.tick().await;
    assert_eq!(
        interaction(&mut scoring, "old-1").await.turns[0].text,
        old.turns[0].text,
        "within retention: kept"
    );

    // Eight days after the first was opened, only it is past the seven days of retention.
    server
        .clock
        .set(jiff::Timestamp::from_second(START + 8 * DAY).unwrap());
    let old_card = scorecard(&mut scoring, "old-1", 0).await;
    let rollup_before = staff_rollup(&mut performance, "noor", "2026-11-23").await;
    server.app.scheduler.tick().await;

    let purged = interaction(&mut scoring, "old-1").await;
    assert_no_turn_text(&purged, &old);
    assert_eq!(purged.customer_id, "", "the customer id goes with the body");
    assert_eq!(purged.commitments.len(), 1, "the structure stays");
    assert_eq!(purged.commitments[0].due_at, old.commitments[0].due_at);
    let kept = interaction(&mut scoring, "new-1").await;
    assert_eq!(kept.turns[0].text, newer.turns[0].text);
    assert_eq!(kept.customer_id, "cust-new-1");

    // Scorecards and rollups are unchanged.
    assert_eq!(
        scorecard(&mut scoring, "old-1", 0).await.encode_to_vec(),
        old_card.encode_to_vec()
    );
    assert_eq!(
        staff_rollup(&mut performance, "noor", "2026-11-23")
            .await
            .quality,
        rollup_before.quality
    );
    assert_rollups_exact(&mut performance).await;
    let files = database_bytes(&server).await;
    assert!(
        !contains(&files, SECRET_ORDER),
        "the purged text is in the files"
    );
    assert!(
        !contains(&files, "cust-old-1"),
        "the purged customer id is in the files"
    );
    assert!(contains(&files, OTHER_SECRET), "the newer text is kept");

    // The old call-back falls due after the purge: re-scored from the structure, politeness
    // carried over.
    server
        .clock
        .set(jiff::Timestamp::from_second(START + 11 * DAY).unwrap());
    server.app.scheduler.tick().await;
    let rescored = scorecard(&mut scoring, "old-1", 0).await;
    assert_eq!(rescored.status, pb::ScorecardStatus::Final as i32);
    assert!(score_of(&rescored.follow_through) < score_of(&old_card.follow_through));
    assert_politeness_carried(&old_card, &rescored);
    assert_rollups_exact(&mut performance).await;
}

#[tokio::test]
async fn erasure_removes_the_customers_text_id_and_snippets_and_keeps_rollups_exact() {
    let server = TestServer::start_with(|config| {
        config.scheduler_interval = SignedDuration::from_mins(10);
    })
    .await;
    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;
    let mut privacy = privacy_client(&server).await;
    const CUSTOMER: &str = "cust-ZX-99172";
    const OTHER: &str = "cust-keep-5521";
    const OTHER_SECRET: &str = "HERON-CITADEL-0093";
    const SECOND_SECRET: &str = "LANTERN-FJORD-2208";

    // Two interactions of the customer (the first in two revisions), one of another.
    let first = chat("erase-1", "ravi", CUSTOMER, -7_200, SECRET_ORDER, 3_600);
    score(&mut scoring, first.clone()).await.unwrap();
    let mut revised = first.clone();
    revised.revision = 2;
    revised.turns[2].text = format!("补充一下，{SECRET_PLACE}在东门");
    score(&mut scoring, revised.clone()).await.unwrap();
    let second = chat("erase-2", "ravi", CUSTOMER, -3_600, SECOND_SECRET, 7_200);
    score(&mut scoring, second.clone()).await.unwrap();
    let other = chat("keep-1", "ravi", OTHER, -1_800, OTHER_SECRET, 7_200);
    score(&mut scoring, other.clone()).await.unwrap();
    let files = database_bytes(&server).await;
    for stored in [SECRET_ORDER, "补充一下", SECOND_SECRET, CUSTOMER] {
        assert!(
            contains(&files, stored),
            "{stored} is stored before erasure"
        );
    }

    let cards_before = [
        scorecard(&mut scoring, "erase-1", 1).await,
        scorecard(&mut scoring, "erase-1", 2).await,
        scorecard(&mut scoring, "erase-2", 0).await,
    ];
    assert!(cards_before.iter().all(|card| !snippets(card).is_empty()));
    let other_before = scorecard(&mut scoring, "keep-1", 0).await;
    let rollup_before = staff_rollup(&mut performance, "ravi", "2026-11-23").await;

    assert_eq!(erase(&mut privacy, CUSTOMER).await.unwrap(), 2);

    // Scores stay, snippets go, in every revision; the other customer is untouched.
    let cards_after = [
        scorecard(&mut scoring, "erase-1", 1).await,
        scorecard(&mut scoring, "erase-1", 2).await,
        scorecard(&mut scoring, "erase-2", 0).await,
    ];
    for (before, after) in cards_before.iter().zip(&cards_after) {
        assert!(
            snippets(after).iter().all(String::is_empty),
            "snippets are erased: {after:?}"
        );
        let mut expected = before.clone();
        for finding in &mut expected.findings {
            if let Some(pb::finding::Evidence::Text(text)) = &mut finding.evidence {
                text.snippet.clear();
            }
        }
        assert_eq!(after, &expected, "only the snippets change");
    }
    assert_eq!(
        scorecard(&mut scoring, "keep-1", 0).await.encode_to_vec(),
        other_before.encode_to_vec()
    );
    for (id, sent) in [("erase-1", &revised), ("erase-2", &second)] {
        let stored = interaction(&mut scoring, id).await;
        assert_no_turn_text(&stored, sent);
        assert_eq!(stored.customer_id, "");
        assert!(
            stored
                .commitments
                .iter()
                .all(|commitment| commitment.description.is_empty())
        );
    }
    assert_eq!(interaction(&mut scoring, "keep-1").await, other);

    // Rollups are unchanged and equal to the recomputation.
    assert_eq!(
        staff_rollup(&mut performance, "ravi", "2026-11-23")
            .await
            .quality,
        rollup_before.quality
    );
    assert_rollups_exact(&mut performance).await;

    // No trace in the database file or its write-ahead log; the other customer's data is
    // there (the scan can see it).
    let files = database_bytes(&server).await;
    // (Every chat mentions SECRET_PLACE, the other customer's too.)
    for erased in [SECRET_ORDER, "补充一下", SECOND_SECRET, CUSTOMER] {
        assert!(!contains(&files, erased), "{erased} is still in the files");
    }
    assert!(contains(&files, OTHER_SECRET));
    assert!(contains(&files, OTHER));

    // Erasing again finds nothing; re-sending the erased content is recognised and brings
    // nothing back.
    assert_eq!(erase(&mut privacy, CUSTOMER).await.unwrap(), 0);
    let again = score(&mut scoring, revised.clone()).await.unwrap();
    assert_eq!(again.outcome, pb::IngestOutcome::Unchanged as i32);
    assert_eq!(interaction(&mut scoring, "erase-1").await.customer_id, "");

    // A due call-back re-scores the erased interaction: politeness carried over, its
    // snippets still erased.
    server.clock.advance(SignedDuration::from_hours(3));
    server.app.scheduler.tick().await;
    let rescored = scorecard(&mut scoring, "erase-2", 0).await;
    assert_eq!(rescored.status, pb::ScorecardStatus::Final as i32);
    assert_politeness_carried(&cards_after[2], &rescored);
    assert!(snippets(&rescored).iter().all(String::is_empty));
    assert_rollups_exact(&mut performance).await;
    let files = database_bytes(&server).await;
    assert!(!contains(&files, CUSTOMER));
    assert!(!contains(&files, SECOND_SECRET));
}

#[tokio::test]
async fn erasure_needs_a_valid_customer_id() {
    let server = TestServer::start().await;
    let mut privacy = privacy_client(&server).await;
    for bad in [String::new(), "c".repeat(129), "a\u{7}b".to_owned()] {
        let status = erase(&mut privacy, &bad).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        assert_eq!(violated_fields(&status), vec!["customer_id"], "{bad:?}");
    }
    assert_eq!(erase(&mut privacy, "nobody").await.unwrap(), 0);
}
