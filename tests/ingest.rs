//! Ingest semantics (DESIGN.md §4) over gRPC: the idempotency matrix of ScoreInteraction,
//! concurrent identical sends, bulk ingest, the bad-input matrix, the time-driven re-score,
//! client deadlines and cancellation, `kill -9` of the real binary, and health when the store
//! cannot be written.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    BinaryServer, Performance, START, Scoring, TestServer, assert_rollups_exact, at, connect,
    inquiry_at, score, staff_rollup, violated_fields,
};
use jiff::SignedDuration;
use prost::Message;
use servscore::proto::v1 as pb;
use tonic::Code;

/// [`inquiry_at`] opened `opened` seconds after the test servers' start, answered in 40 s.
fn inquiry(id: &str, staff: &str, opened: i64) -> pb::Interaction {
    inquiry_at(id, staff, START + opened, 40)
}

/// The local date of every interaction opened within the hour before START (UTC default team).
const TODAY: &str = "2026-11-23";

async fn get_scorecard(
    scoring: &mut Scoring,
    id: &str,
    revision: i64,
) -> Result<pb::Scorecard, tonic::Status> {
    scoring
        .get_scorecard(pb::GetScorecardRequest {
            interaction_id: id.to_owned(),
            revision,
        })
        .await
        .map(|response| response.into_inner().scorecard.expect("a scorecard"))
}

async fn assert_not_stored(scoring: &mut Scoring, id: &str) {
    let status = get_scorecard(scoring, id, 0)
        .await
        .expect_err(&format!("{id} must not be stored"));
    assert_eq!(status.code(), Code::NotFound, "{id}: {status:?}");
}

/// Every stored scorecard (latest revisions), optionally of one staff member.
async fn list_all(scoring: &mut Scoring, staff: &str) -> Vec<pb::Scorecard> {
    let response = scoring
        .list_scorecards(pb::ListScorecardsRequest {
            staff_id: staff.to_owned(),
            page_size: 1_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        response.next_page_token.is_empty(),
        "fewer than 1000 stored"
    );
    response.scorecards
}

fn hundredths(composite: Option<f64>) -> i64 {
    (composite.expect("a composite") * 100.0).round() as i64
}

fn composite_sum(rollup: &pb::DailyRollup) -> i64 {
    rollup
        .quality
        .as_ref()
        .map_or(0, |quality| quality.composite_sum_hundredths)
}

#[tokio::test]
async fn score_interaction_idempotency_matrix() {
    let server = TestServer::start().await;
    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;
    let original = inquiry("idem-1", "alice", -3_600);

    let created = score(&mut scoring, original.clone()).await.unwrap();
    assert_eq!(created.outcome, pb::IngestOutcome::Created as i32);
    let first = created.scorecard.unwrap();
    assert_eq!((first.revision, first.local_date.as_str()), (1, TODAY));
    assert!(first.store_time.is_some());

    // Same id, revision and content: the stored scorecard comes back, byte for byte, although
    // the clock moved (scoring again would give another evaluation time).
    server.clock.advance(SignedDuration::from_mins(10));
    let again = score(&mut scoring, original.clone()).await.unwrap();
    assert_eq!(again.outcome, pb::IngestOutcome::Unchanged as i32);
    assert_eq!(
        again.scorecard.unwrap().encode_to_vec(),
        first.encode_to_vec(),
        "the stored scorecard, not a new one"
    );

    // Same revision, different content: rejected, saying so; nothing changes.
    let mut different = original.clone();
    different.turns[1].text = "订单明天发货。".to_owned();
    let status = score(&mut scoring, different.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status.message().contains("different content") && status.message().contains("revision 1"),
        "the message says the content differs: {}",
        status.message()
    );
    assert_eq!(
        get_scorecard(&mut scoring, "idem-1", 0)
            .await
            .unwrap()
            .encode_to_vec(),
        first.encode_to_vec()
    );
    let rollup = staff_rollup(&mut performance, "alice", TODAY).await;
    assert_eq!(rollup.interactions, 1);
    assert_eq!(composite_sum(&rollup), hundredths(first.composite));

    // A higher revision replaces it: a slow first reply lowers the composite; the rollup
    // swaps the contribution (still one interaction, the new composite).
    let mut second = inquiry_at("idem-1", "alice", START - 3_600, 1_500);
    second.revision = 2;
    let replaced = score(&mut scoring, second.clone()).await.unwrap();
    assert_eq!(replaced.outcome, pb::IngestOutcome::Replaced as i32);
    let latest = replaced.scorecard.unwrap();
    assert_eq!(latest.revision, 2);
    assert_ne!(
        latest.composite, first.composite,
        "the slow reply changes the composite"
    );
    let read = get_scorecard(&mut scoring, "idem-1", 0).await.unwrap();
    assert_eq!(read.encode_to_vec(), latest.encode_to_vec());
    assert_eq!(
        get_scorecard(&mut scoring, "idem-1", 1)
            .await
            .unwrap()
            .encode_to_vec(),
        first.encode_to_vec(),
        "revision 1's scorecard is kept"
    );
    let listed = list_all(&mut scoring, "").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revision, 2);
    let rollup = staff_rollup(&mut performance, "alice", TODAY).await;
    assert_eq!(rollup.interactions, 1, "replaced, not added");
    assert_eq!(composite_sum(&rollup), hundredths(latest.composite));
    assert_rollups_exact(&mut performance).await;

    // A lower revision after a higher one: its stored content is UNCHANGED with its own
    // scorecard; other content under it is ALREADY_EXISTS; the latest stays.
    let old = score(&mut scoring, original.clone()).await.unwrap();
    assert_eq!(old.outcome, pb::IngestOutcome::Unchanged as i32);
    assert_eq!(
        old.scorecard.unwrap().encode_to_vec(),
        first.encode_to_vec()
    );
    let status = score(&mut scoring, different).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status.message().contains("different content"),
        "{}",
        status.message()
    );
    assert_eq!(
        get_scorecard(&mut scoring, "idem-1", 0)
            .await
            .unwrap()
            .encode_to_vec(),
        latest.encode_to_vec(),
        "the latest revision stays"
    );
    assert_eq!(
        staff_rollup(&mut performance, "alice", TODAY).await,
        rollup,
        "the rollup is untouched"
    );
    // Re-sending revision 2 is UNCHANGED too.
    let resent = score(&mut scoring, second.clone()).await.unwrap();
    assert_eq!(resent.outcome, pb::IngestOutcome::Unchanged as i32);

    // A higher revision owned by someone else moves the contribution between staff members.
    let mut third = second.clone();
    third.revision = 3;
    third.staff_id = "bob".to_owned();
    let moved = score(&mut scoring, third).await.unwrap();
    assert_eq!(moved.outcome, pb::IngestOutcome::Replaced as i32);
    assert_eq!(
        staff_rollup(&mut performance, "alice", TODAY)
            .await
            .interactions,
        0
    );
    let bob = staff_rollup(&mut performance, "bob", TODAY).await;
    assert_eq!(bob.interactions, 1);
    assert_eq!(
        composite_sum(&bob),
        hundredths(moved.scorecard.unwrap().composite)
    );

    // A lower revision that was never stored (the first one seen was 3): FAILED_PRECONDITION.
    let mut skipped = inquiry("idem-2", "alice", -1_800);
    skipped.revision = 3;
    let created = score(&mut scoring, skipped.clone()).await.unwrap();
    assert_eq!(created.outcome, pb::IngestOutcome::Created as i32);
    skipped.revision = 2;
    let status = score(&mut scoring, skipped).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("older"), "{}", status.message());
    assert_eq!(
        get_scorecard(&mut scoring, "idem-2", 0)
            .await
            .unwrap()
            .revision,
        3
    );
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!(verified.scorecards_read, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_identical_sends_store_exactly_one() {
    let server = TestServer::start().await;
    let message = inquiry("same-1", "carol", -3_600);
    let mut channels = Vec::new();
    for _ in 0..5 {
        channels.push(server.channel().await);
    }
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let mut handles = Vec::new();
    for index in 0..50 {
        let channel = channels[index % channels.len()].clone();
        let (message, start) = (message.clone(), start.clone());
        handles.push(tokio::spawn(async move {
            let mut scoring = Scoring::new(channel);
            start.wait().await;
            score(&mut scoring, message).await
        }));
    }
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap().expect("every identical send is OK"));
    }
    let outcomes: BTreeMap<i32, usize> = answers.iter().fold(BTreeMap::new(), |mut by, answer| {
        *by.entry(answer.outcome).or_default() += 1;
        by
    });
    assert_eq!(
        outcomes,
        BTreeMap::from([
            (pb::IngestOutcome::Created as i32, 1),
            (pb::IngestOutcome::Unchanged as i32, 49)
        ]),
        "one send created it, the others found it"
    );
    let bytes = answers[0].scorecard.as_ref().unwrap().encode_to_vec();
    for answer in &answers {
        assert_eq!(
            answer.scorecard.as_ref().unwrap().encode_to_vec(),
            bytes,
            "identical scorecards"
        );
    }

    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;
    assert_eq!(
        get_scorecard(&mut scoring, "same-1", 0)
            .await
            .unwrap()
            .encode_to_vec(),
        bytes
    );
    assert_eq!(list_all(&mut scoring, "").await.len(), 1, "exactly one row");
    let rollup = staff_rollup(&mut performance, "carol", TODAY).await;
    assert_eq!(rollup.interactions, 1);
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!(verified.scorecards_read, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_ingest_answers_each_item_in_order_and_a_bad_item_fails_alone() {
    let server = TestServer::start().await;
    // More items than the server works on at once, so the order is really tested.
    let count = 120;
    let mut items = Vec::new();
    // (interaction id as sent, the field a bad item must name)
    let mut expected: Vec<(String, Option<&str>)> = Vec::new();
    for index in 0..count {
        let id = format!("bulk-{index:03}");
        let staff = if index % 2 == 0 { "dan" } else { "erin" };
        let mut interaction = inquiry(&id, staff, -3_600 - index);
        let bad = match index % 10 {
            3 => {
                interaction.tier = 99;
                Some("interaction.tier")
            }
            5 => {
                interaction.staff_id.clear();
                Some("interaction.staff_id")
            }
            7 => {
                interaction.turns[2].at = interaction.turns[0].at;
                Some("interaction.turns[2].at")
            }
            _ => None,
        };
        if index == 19 {
            // No interaction at all.
            items.push(pb::IngestInteractionsRequest { interaction: None });
            expected.push((String::new(), Some("interaction")));
            continue;
        }
        items.push(pb::IngestInteractionsRequest {
            interaction: Some(interaction),
        });
        expected.push((id, bad));
    }
    let response = server
        .scoring()
        .await
        .ingest_interactions(tokio_stream::iter(items))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.results.len(),
        count as usize,
        "one result per item"
    );
    let bad_count = expected.iter().filter(|(_, bad)| bad.is_some()).count() as i64;
    assert_eq!(
        (response.accepted, response.rejected),
        (count - bad_count, bad_count)
    );

    let mut scoring = server.scoring().await;
    let mut good_ids = BTreeSet::new();
    for (position, (result, (id, bad))) in response.results.iter().zip(&expected).enumerate() {
        assert_eq!(result.index, position as i64, "results in order");
        assert_eq!(&result.interaction_id, id, "item {position}");
        match bad {
            Some(field) => {
                let error = result
                    .error
                    .as_ref()
                    .unwrap_or_else(|| panic!("item {position} is rejected"));
                assert_eq!(error.code, Code::InvalidArgument as i32, "item {position}");
                let fields: Vec<&str> = error
                    .field_violations
                    .iter()
                    .map(|violation| violation.field.as_str())
                    .collect();
                assert_eq!(fields, vec![*field], "item {position}");
                assert_eq!(result.outcome, pb::IngestOutcome::Unspecified as i32);
                assert!(result.summary.is_none());
                if !id.is_empty() {
                    assert_not_stored(&mut scoring, id).await;
                }
            }
            None => {
                assert!(
                    result.error.is_none(),
                    "item {position}: {:?}",
                    result.error
                );
                assert_eq!(result.revision, 1);
                assert_eq!(result.outcome, pb::IngestOutcome::Created as i32);
                let summary = result.summary.as_ref().expect("a summary");
                let stored = get_scorecard(&mut scoring, id, 0).await.unwrap();
                assert_eq!(
                    (summary.composite, summary.grade, summary.status),
                    (stored.composite, stored.grade, stored.status),
                    "item {position}: the summary is the stored scorecard's"
                );
                good_ids.insert(id.clone());
            }
        }
    }
    let listed: BTreeSet<String> = list_all(&mut scoring, "")
        .await
        .into_iter()
        .map(|card| card.interaction_id)
        .collect();
    assert_eq!(listed, good_ids, "exactly the good items are stored");

    let mut performance = server.performance().await;
    let dan = staff_rollup(&mut performance, "dan", TODAY).await;
    let erin = staff_rollup(&mut performance, "erin", TODAY).await;
    assert_eq!(dan.interactions + erin.interactions, good_ids.len() as i64);
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!(verified.scorecards_read, good_ids.len() as i64);
}

/// A client that streams several revisions of one interaction expects them applied as if
/// sent one after the other: "each handled as ScoreInteraction; one result per item, in order".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_items_of_one_interaction_apply_in_stream_order() {
    let server = TestServer::start().await;
    let mut scoring = server.scoring().await;
    for round in 0..20 {
        let x = format!("order-x-{round}");
        let y = format!("order-y-{round}");
        let revision = |id: &str, revision: i64, reply_after: i64| {
            let mut interaction = inquiry_at(id, "fay", START - 3_600, reply_after);
            interaction.revision = revision;
            pb::IngestInteractionsRequest {
                interaction: Some(interaction),
            }
        };
        let items = vec![
            revision(&x, 1, 40),
            revision(&x, 2, 600),
            revision(&x, 3, 1_200),
            revision(&y, 1, 40),
            revision(&y, 1, 40),
            revision(&x, 2, 600),
        ];
        let response = scoring
            .ingest_interactions(tokio_stream::iter(items))
            .await
            .unwrap()
            .into_inner();
        let outcomes: Vec<(i32, Option<i32>)> = response
            .results
            .iter()
            .map(|result| {
                (
                    result.outcome,
                    result.error.as_ref().map(|error| error.code),
                )
            })
            .collect();
        use pb::IngestOutcome::{Created, Replaced, Unchanged};
        assert_eq!(
            outcomes,
            vec![
                (Created as i32, None),
                (Replaced as i32, None),
                (Replaced as i32, None),
                (Created as i32, None),
                (Unchanged as i32, None),
                (Unchanged as i32, None),
            ],
            "round {round}: {:?}",
            response.results
        );
        assert_eq!(
            get_scorecard(&mut scoring, &x, 0).await.unwrap().revision,
            3
        );
    }
    assert_rollups_exact(&mut server.performance().await).await;
}

#[tokio::test]
async fn bad_input_is_rejected_naming_the_field_and_nothing_is_stored() {
    let server = TestServer::start_with(|config| config.limits.max_turn_chars = 50).await;
    let skew = server.config.limits.future_skew.as_secs();
    assert_eq!(skew, 300, "the default skew allowance");
    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;

    type Spoil = fn(&mut pb::Interaction);
    let cases: Vec<(&str, Spoil)> = vec![
        ("interaction.interaction_id", |i| i.interaction_id.clear()),
        ("interaction.staff_id", |i| i.staff_id.clear()),
        ("interaction.revision", |i| i.revision = 0),
        ("interaction.tier", |i| i.tier = 99),
        ("interaction.channel", |i| i.channel = 42),
        ("interaction.kind", |i| i.kind = 0),
        ("interaction.turns[1].speaker", |i| i.turns[1].speaker = 7),
        ("interaction.opened_at", |i| i.opened_at = None),
        // Turns out of time order.
        ("interaction.turns[2].at", |i| {
            i.turns[2].at = Some(at(-7_200))
        }),
        ("interaction.turns[0].at", |i| {
            i.turns[0].at = Some(at(-7_200))
        }),
        // In the future beyond the skew allowance (now + 5 min + 1 s).
        ("interaction.turns[3].at", |i| i.turns[3].at = Some(at(301))),
        ("interaction.opened_at", |i| {
            i.opened_at = Some(at(301));
            i.turns.clear();
            i.status_changes.clear();
        }),
        ("interaction.status_changes[0].at", |i| {
            i.status_changes[0].at = Some(at(3_600))
        }),
        // Before year 1: outside google.protobuf.Timestamp (a fuzzing finding: it was
        // accepted, and the scorecard could not be written as proto3 JSON).
        ("interaction.opened_at", |i| {
            i.opened_at = Some(prost_types::Timestamp {
                seconds: -62_135_596_801,
                nanos: 0,
            });
            i.turns.clear();
            i.status_changes.clear();
        }),
        ("interaction.turns[0].at", |i| {
            i.turns[0].at = Some(prost_types::Timestamp {
                seconds: 0,
                nanos: 1_000_000_000,
            })
        }),
        // Over max_turn_chars (50 characters).
        ("interaction.turns[1].text", |i| {
            i.turns[1].text = "好".repeat(51);
        }),
        ("interaction.turns[3].text", |i| {
            i.turns[3].text = "x".repeat(51);
        }),
    ];
    for (index, (field, spoil)) in cases.iter().enumerate() {
        let id = format!("bad-{index}");
        let mut interaction = inquiry(&id, "gus", -3_600);
        spoil(&mut interaction);
        let status = score(&mut scoring, interaction).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(
            violated_fields(&status),
            vec![field.to_string()],
            "{field}: {}",
            status.message()
        );
        assert_not_stored(&mut scoring, &id).await;
    }
    let missing = scoring
        .score_interaction(pb::ScoreInteractionRequest { interaction: None })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&missing), vec!["interaction"]);

    // Amending what was never stored: NOT_FOUND, whatever the expected revision.
    let amendment = |at_seconds: i64| pb::Amendment {
        kind: Some(pb::amendment::Kind::CallbackDone(pb::TimedEvent {
            at: Some(at(at_seconds)),
        })),
    };
    for expected_revision in [0, 1] {
        let status = scoring
            .amend_interaction(pb::AmendInteractionRequest {
                interaction_id: "never-stored".to_owned(),
                expected_revision,
                amendments: vec![amendment(-60)],
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }

    // Nothing at all was stored.
    assert!(list_all(&mut scoring, "").await.is_empty());
    assert_eq!(
        staff_rollup(&mut performance, "gus", TODAY)
            .await
            .interactions,
        0
    );
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!((verified.scorecards_read, verified.rollups_checked), (0, 0));

    // The limits are exact: 50 characters (150 bytes) and a turn at the skew allowance are
    // accepted.
    let mut edge = inquiry("edge-1", "gus", -3_600);
    edge.turns[1].text = "好".repeat(50);
    edge.turns[3].at = Some(at(skew));
    edge.status_changes[0].at = Some(at(skew));
    let stored = score(&mut scoring, edge).await.unwrap();
    assert_eq!(stored.outcome, pb::IngestOutcome::Created as i32);

    // Amendments: applied as revision 2; a retry is UNCHANGED; a different amendment to the
    // stale revision 1 is FAILED_PRECONDITION; a bad amendment names its field.
    let amend =
        |expected_revision: i64, amendments: Vec<pb::Amendment>| pb::AmendInteractionRequest {
            interaction_id: "edge-1".to_owned(),
            expected_revision,
            amendments,
        };
    let amended = scoring
        .amend_interaction(amend(1, vec![amendment(-60)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amended.outcome, pb::IngestOutcome::Replaced as i32);
    let second = amended.scorecard.unwrap();
    assert_eq!(second.revision, 2);
    let retried = scoring
        .amend_interaction(amend(1, vec![amendment(-60)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.outcome, pb::IngestOutcome::Unchanged as i32);
    assert_eq!(
        retried.scorecard.unwrap().encode_to_vec(),
        second.encode_to_vec()
    );
    for stale in [1, 7] {
        let status = scoring
            .amend_interaction(amend(stale, vec![amendment(-30)]))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(
            status.message().contains("revision 2"),
            "{}",
            status.message()
        );
    }
    let status = scoring
        .amend_interaction(amend(
            2,
            vec![pb::Amendment {
                kind: Some(pb::amendment::Kind::CommitmentFulfilled(
                    pb::CommitmentFulfilled {
                        commitment_id: "no-such-commitment".to_owned(),
                        fulfilled_at: Some(at(-10)),
                    },
                )),
            }],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        vec!["amendments[0].commitment_fulfilled.commitment_id"]
    );
    assert_eq!(
        get_scorecard(&mut scoring, "edge-1", 0)
            .await
            .unwrap()
            .encode_to_vec(),
        second.encode_to_vec(),
        "still revision 2"
    );
    assert_eq!(list_all(&mut scoring, "").await.len(), 1);
    assert_rollups_exact(&mut performance).await;
}

#[tokio::test]
async fn a_due_commitment_is_rescored_by_the_scheduler_without_any_call() {
    // Only explicit ticks run the scheduler (its own loop waits 10 minutes of real time).
    let server = TestServer::start_with(|config| {
        config.scheduler_interval = SignedDuration::from_mins(10);
    })
    .await;
    let mut scoring = server.scoring().await;
    let mut performance = server.performance().await;
    let mut interaction = inquiry("promise-1", "hana", -3_600);
    interaction.commitments.push(pb::Commitment {
        commitment_id: "send-invoice".to_owned(),
        description: "send the invoice".to_owned(),
        due_at: Some(at(2 * 3_600)),
        fulfilled_at: None,
    });
    let created = score(&mut scoring, interaction).await.unwrap();
    let provisional = created.scorecard.unwrap();
    assert_eq!(provisional.status, pb::ScorecardStatus::Provisional as i32);
    let pending: Vec<(i32, &str)> = provisional
        .pending_items
        .iter()
        .map(|item| (item.kind, item.reference.as_str()))
        .collect();
    assert_eq!(
        pending,
        vec![(pb::PendingKind::Commitment as i32, "send-invoice")]
    );
    assert_eq!(provisional.next_due_time, Some(at(2 * 3_600)));
    assert!(
        !provisional
            .findings
            .iter()
            .any(|finding| finding.rule_id == "follow_through.commitment"),
        "not due yet: no deduction"
    );
    let rollup = staff_rollup(&mut performance, "hana", TODAY).await;
    assert_eq!(rollup.provisional, 1);

    // Three hours later the commitment is an hour overdue. Reading does not re-score; the
    // scheduler's tick does.
    server.clock.advance(SignedDuration::from_hours(3));
    let read = get_scorecard(&mut scoring, "promise-1", 0).await.unwrap();
    assert_eq!(read.encode_to_vec(), provisional.encode_to_vec());
    server.app.scheduler.tick().await;

    let rescored = get_scorecard(&mut scoring, "promise-1", 0).await.unwrap();
    assert_eq!(rescored.status, pb::ScorecardStatus::Final as i32);
    assert_eq!(rescored.revision, 1, "a re-score is not a new revision");
    assert!(rescored.pending_items.is_empty());
    assert_eq!(rescored.next_due_time, None);
    assert_eq!(rescored.evaluation_time, Some(at(3 * 3_600)));
    let overdue = rescored
        .findings
        .iter()
        .find(|finding| finding.rule_id == "follow_through.commitment")
        .expect("the overdue commitment is a finding");
    let Some(pb::finding::Evidence::Commitment(evidence)) = &overdue.evidence else {
        panic!("commitment evidence: {overdue:?}");
    };
    assert_eq!(evidence.commitment_id, "send-invoice");
    assert_eq!(evidence.fulfilled_at, None);
    assert_eq!(
        evidence.lateness,
        Some(prost_types::Duration {
            seconds: 3_600,
            nanos: 0
        })
    );
    assert!(evidence.credit < 100.0);
    assert!(overdue.points > 0.0);
    let before = provisional.follow_through.unwrap().score.unwrap();
    let after = rescored.follow_through.clone().unwrap().score.unwrap();
    assert!(after < before, "follow-through {before} -> {after}");
    let due = rescored
        .due_items
        .iter()
        .find(|item| item.reference == "send-invoice")
        .expect("the commitment is on the clearing sheet");
    assert!(!due.cleared);

    // The rollup follows: nothing provisional, the overdue item due and not cleared.
    let rollup = staff_rollup(&mut performance, "hana", TODAY).await;
    assert_eq!(rollup.provisional, 0);
    assert_eq!(composite_sum(&rollup), hundredths(rescored.composite));
    let clearing = rollup.clearing.unwrap();
    assert!(clearing.items_due >= 1);
    assert!(clearing.items_cleared < clearing.items_due);
    assert_rollups_exact(&mut performance).await;

    // Another tick has nothing to do.
    server.clock.advance(SignedDuration::from_hours(1));
    server.app.scheduler.tick().await;
    assert_eq!(
        get_scorecard(&mut scoring, "promise-1", 0)
            .await
            .unwrap()
            .encode_to_vec(),
        rescored.encode_to_vec()
    );
}

/// Waits (real time, at most 10 s) until the number of stored scorecards stops changing: a
/// write the client gave up on may still be on its way to the writer.
async fn settled_count(scoring: &mut Scoring) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = list_all(scoring, "").await.len();
    let mut stable = 0;
    while stable < 5 {
        assert!(Instant::now() < deadline, "the store keeps changing");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = list_all(scoring, "").await.len();
        if now == last {
            stable += 1;
        } else {
            (last, stable) = (now, 0);
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_and_cancellations_leave_each_write_whole_or_absent() {
    let server = TestServer::start().await;
    let mut scoring = server.scoring().await;
    let rounds = 48_u64;
    let mut acknowledged = BTreeSet::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for index in 0..rounds {
        let id = format!("cut-{index:02}");
        // One staff member per interaction, so each rollup tells about one write.
        let staff = format!("cut-staff-{index:02}");
        let mut request = tonic::Request::new(pb::ScoreInteractionRequest {
            interaction: Some(inquiry(&id, &staff, -3_600)),
        });
        let answer = match index % 4 {
            // A deadline already over, or about as long as a write.
            0 => {
                request.set_timeout(Duration::from_micros(1));
                Some(scoring.score_interaction(request).await)
            }
            1 => {
                request.set_timeout(Duration::from_micros(250 * (index % 16 + 1)));
                Some(scoring.score_interaction(request).await)
            }
            // The client drops the call mid-flight.
            2 => tokio::time::timeout(
                Duration::from_micros(200 * (index % 16 + 1)),
                scoring.score_interaction(request),
            )
            .await
            .ok(),
            // The task making the call is aborted after a few polls.
            _ => {
                let mut client = scoring.clone();
                let call = tokio::spawn(async move { client.score_interaction(request).await });
                for _ in 0..index % 8 {
                    tokio::task::yield_now().await;
                }
                call.abort();
                call.await.ok()
            }
        };
        let label = match &answer {
            None => "dropped".to_owned(),
            Some(Ok(_)) => "ok".to_owned(),
            Some(Err(status)) => format!("{:?}", status.code()),
        };
        *outcomes.entry(label).or_default() += 1;
        match answer {
            Some(Ok(_)) => {
                acknowledged.insert(id);
            }
            Some(Err(status)) => assert!(
                matches!(
                    status.code(),
                    Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable
                ),
                "{id}: {status:?}"
            ),
            None => {}
        }
    }
    eprintln!("client-side outcomes: {outcomes:?}");

    // The service still works, and the store settles.
    score(
        &mut scoring,
        inquiry("cut-final", "cut-staff-final", -3_600),
    )
    .await
    .unwrap();
    let stored_count = settled_count(&mut scoring).await;

    let mut performance = server.performance().await;
    let mut stored = 0;
    for index in 0..rounds {
        let id = format!("cut-{index:02}");
        let staff = format!("cut-staff-{index:02}");
        let rollup = staff_rollup(&mut performance, &staff, TODAY).await;
        match get_scorecard(&mut scoring, &id, 0).await {
            Ok(card) => {
                stored += 1;
                assert_eq!(rollup.interactions, 1, "{id} is counted once");
                assert_eq!(composite_sum(&rollup), hundredths(card.composite), "{id}");
                assert_eq!(
                    list_all(&mut scoring, &staff).await.len(),
                    1,
                    "{id} is listed"
                );
            }
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound, "{id}: {status:?}");
                assert!(!acknowledged.contains(&id), "acknowledged {id} was lost");
                assert_eq!(
                    rollup.interactions, 0,
                    "{id}: no contribution without a row"
                );
                assert_eq!(composite_sum(&rollup), 0, "{id}");
            }
        }
    }
    eprintln!("stored {stored} of {rounds} cut writes");
    assert_eq!(stored_count, stored + 1);
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!(verified.scorecards_read, stored as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_no_acknowledged_write_and_half_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let database = match common::postgres::selected() {
        true => Some(common::postgres::FreshDatabase::create().await),
        false => None,
    };
    let arguments: Vec<&str> = match &database {
        Some(database) => vec!["--database-url", database.url()],
        None => Vec::new(),
    };
    let mut server = BinaryServer::start(data.path(), &arguments).await;
    // The binary runs on the system clock.
    let now = jiff::Timestamp::now().as_second();
    let (writers, per_writer, kill_after) = (10, 30, 120);
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let acks = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for writer in 0..writers {
        // Several connections.
        let channel = connect(server.grpc_addr).await;
        let (acknowledged, acks, enough) = (acknowledged.clone(), acks.clone(), enough.clone());
        tasks.push(tokio::spawn(async move {
            let mut scoring = Scoring::new(channel);
            for index in 0..per_writer {
                let id = format!("crash-{writer}-{index:02}");
                let staff = format!("crash-staff-{}", index % 3);
                let interaction = inquiry_at(&id, &staff, now - 7_200 - index * 60, 40);
                match score(&mut scoring, interaction).await {
                    Ok(_) => {
                        acknowledged.lock().unwrap().insert(id);
                        if acks.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                            enough.notify_one();
                        }
                    }
                    // The server died under us.
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(120), enough.notified())
        .await
        .expect("enough acknowledgements within 120 s");
    server.child.start_kill().expect("SIGKILL");
    let status = server.wait().await;
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("writers notice the dead server")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= kill_after);
    assert!(
        acknowledged.len() < writers * per_writer as usize,
        "the kill came while writes were still being sent"
    );

    let restarted = BinaryServer::start(data.path(), &arguments).await;
    let channel = connect(restarted.grpc_addr).await;
    let mut scoring = Scoring::new(channel.clone());
    let mut performance = Performance::new(channel);
    for id in &acknowledged {
        let card = get_scorecard(&mut scoring, id, 0)
            .await
            .unwrap_or_else(|status| panic!("acknowledged {id} was lost: {status:?}"));
        assert_eq!(&card.interaction_id, id);
        assert_eq!(card.revision, 1);
    }
    // Whatever is stored (acknowledged or not) is whole: counted exactly once in its rollup.
    let stored = list_all(&mut scoring, "").await;
    assert!(stored.len() >= acknowledged.len());
    let mut per_day: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for card in &stored {
        let entry = per_day
            .entry((card.staff_id.clone(), card.local_date.clone()))
            .or_default();
        entry.0 += 1;
        entry.1 += hundredths(card.composite);
    }
    for ((staff, date), (interactions, sum)) in &per_day {
        let rollup = staff_rollup(&mut performance, staff, date).await;
        assert_eq!(rollup.interactions, *interactions, "{staff} on {date}");
        assert_eq!(composite_sum(&rollup), *sum, "{staff} on {date}");
    }
    let verified = assert_rollups_exact(&mut performance).await;
    assert_eq!(verified.scorecards_read, stored.len() as i64);
    eprintln!(
        "acknowledged {}, stored {} of {}",
        acknowledged.len(),
        stored.len(),
        writers * per_writer as usize
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_while_the_store_cannot_be_written() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let mut check = async || {
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
    };
    assert_eq!(check().await, ServingStatus::Serving as i32);

    // SQLite: another connection holds the database's write lock, so the service's writer
    // cannot begin a transaction (it gives up after its 5 s busy timeout). PostgreSQL: the
    // database stops taking connections and the service's are closed (the server going away).
    let outage = Outage::begin(&server.config.database()).await;

    let mut scoring = server.scoring().await;
    let blocked =
        tokio::spawn(async move { score(&mut scoring, inquiry("locked-1", "ivy", -3_600)).await });
    let started = Instant::now();
    while check().await != ServingStatus::NotServing as i32 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "NOT_SERVING within 20 s of the store becoming unusable"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("NOT_SERVING after {:?}", started.elapsed());
    let status = blocked.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    // The outage ends: serving again, and writes work.
    outage.end().await;
    let released = Instant::now();
    while check().await != ServingStatus::Serving as i32 {
        assert!(
            released.elapsed() < Duration::from_secs(20),
            "SERVING again within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut scoring = server.scoring().await;
    assert_not_stored(&mut scoring, "locked-1").await;
    score(&mut scoring, inquiry("locked-1", "ivy", -3_600))
        .await
        .unwrap();
    assert_rollups_exact(&mut server.performance().await).await;
}

/// The store made unusable behind the service's back, and usable again.
enum Outage {
    /// A connection holding SQLite's write lock.
    SqliteLock(rusqlite::Connection),
    /// The PostgreSQL database refusing connections, and a task that keeps terminating the
    /// service's connections to it (one may have been half-way through connecting when the
    /// database was closed).
    PostgresClosed(String, tokio::task::JoinHandle<()>),
}

impl Outage {
    async fn begin(database: &servscore::config::DatabaseLocation) -> Self {
        match database {
            servscore::config::DatabaseLocation::Sqlite(path) => {
                let locker = rusqlite::Connection::open(path).unwrap();
                locker.busy_timeout(Duration::from_secs(10)).unwrap();
                locker.execute_batch("BEGIN IMMEDIATE").unwrap();
                Self::SqliteLock(locker)
            }
            servscore::config::DatabaseLocation::Postgres(url) => {
                let name = url.rsplit_once('/').unwrap().1.to_owned();
                let admin = common::postgres::admin_url();
                common::postgres::execute(
                    &admin,
                    &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
                )
                .await
                .unwrap();
                let terminate = format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                );
                let terminator = tokio::spawn(async move {
                    loop {
                        common::postgres::execute(&admin, &terminate).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                });
                Self::PostgresClosed(name, terminator)
            }
        }
    }

    async fn end(self) {
        match self {
            Self::SqliteLock(locker) => {
                locker.execute_batch("ROLLBACK").unwrap();
            }
            Self::PostgresClosed(name, terminator) => {
                terminator.abort();
                let _ = terminator.await;
                common::postgres::execute(
                    &common::postgres::admin_url(),
                    &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
                )
                .await
                .unwrap()
            }
        }
    }
}
