//! Durable, idempotent ingest (DESIGN.md §4): concurrent identical sends store one row and
//! answer identically; the real binary killed with SIGKILL mid-stream loses no acknowledged
//! interaction and leaves nothing half-written.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BinaryServer, TestServer, at};
use servscore::proto::v1 as pb;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

fn chat(id: &str, opened: i64) -> pb::Interaction {
    use pb::Speaker::{Customer, Staff};
    let turn = |speaker: pb::Speaker, seconds: i64, text: &str| pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(prost_types::Timestamp {
            seconds: opened + seconds,
            nanos: 0,
        }),
        text: text.to_owned(),
    };
    pb::Interaction {
        interaction_id: id.to_owned(),
        revision: 1,
        staff_id: "kai".to_owned(),
        customer_id: "c-1".to_owned(),
        tier: pb::Tier::Small as i32,
        channel: pb::Channel::Email as i32,
        kind: pb::InteractionKind::Inquiry as i32,
        opened_at: Some(prost_types::Timestamp {
            seconds: opened,
            nanos: 0,
        }),
        turns: vec![
            turn(Customer, 0, "您好，发票什么时候能开好？"),
            turn(Staff, 600, "您好，感谢您的耐心，发票今天下午开好。"),
        ],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_identical_sends_store_one_row_and_answer_alike() {
    let server = TestServer::start().await;
    let opened = at(-3_600).seconds;
    let message = chat("dup-1", opened);
    let mut handles = Vec::new();
    let mut channels = Vec::new();
    for index in 0..50 {
        // Ten connections, five sends each.
        if index % 5 == 0 {
            channels.push(server.channel().await);
        }
        let channel = channels.last().unwrap().clone();
        let message = message.clone();
        handles.push(tokio::spawn(async move {
            pb::scoring_service_client::ScoringServiceClient::new(channel)
                .score_interaction(pb::ScoreInteractionRequest {
                    interaction: Some(message),
                })
                .await
                .expect("every identical send is answered OK")
                .into_inner()
        }));
    }
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    let created = answers
        .iter()
        .filter(|answer| answer.outcome == pb::IngestOutcome::Created as i32)
        .count();
    assert_eq!(created, 1, "exactly one send stored the interaction");
    let first = answers[0].scorecard.clone().unwrap();
    for answer in &answers {
        assert_eq!(
            answer.scorecard.as_ref().unwrap(),
            &first,
            "identical answers"
        );
    }
    let listed = server
        .scoring()
        .await
        .list_scorecards(pb::ListScorecardsRequest {
            staff_id: "kai".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.scorecards.len(), 1);
    let rollup = server
        .performance()
        .await
        .get_staff_rollup(pb::GetStaffRollupRequest {
            staff_id: "kai".to_owned(),
            local_date: first.local_date.clone(),
            team_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .rollup
        .unwrap();
    assert_eq!(rollup.interactions, 1);

    // Same revision, different content: rejected, saying so; the stored one stays.
    let mut changed = message.clone();
    changed.turns[1].text = "您好，发票明天开好。".to_owned();
    let rejected = server
        .scoring()
        .await
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(changed.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(rejected.code(), Code::AlreadyExists);
    assert!(
        rejected.message().contains("different content"),
        "{}",
        rejected.message()
    );
    // A higher revision replaces it; the rollup still counts one interaction.
    changed.revision = 2;
    let replaced = server
        .scoring()
        .await
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(changed),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.outcome, pb::IngestOutcome::Replaced as i32);
    assert_eq!(replaced.scorecard.unwrap().revision, 2);
    let verified = server
        .performance()
        .await
        .verify_rollups(pb::VerifyRollupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verified.mismatches.is_empty(), "{:?}", verified.mismatches);
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let mut server = BinaryServer::start(data.path(), &[]).await;
    let now = jiff::Timestamp::now().as_second();
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let channel = connect(server.grpc_addr).await;
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (channel, acknowledged) = (channel.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let mut scoring = pb::scoring_service_client::ScoringServiceClient::new(channel);
            for index in 0.. {
                let id = format!("crash-{writer}-{index}");
                let sent = scoring
                    .score_interaction(pb::ScoreInteractionRequest {
                        interaction: Some(chat(&id, now - 7_200 - index)),
                    })
                    .await;
                match sent {
                    Ok(_) => {
                        acknowledged.lock().unwrap().insert(id);
                    }
                    // The server died under us: stop writing.
                    Err(_) => return,
                }
            }
        }));
    }
    // Let acknowledgements accumulate, then kill -9 while writes are in flight.
    tokio::time::timeout(Duration::from_secs(60), async {
        while acknowledged.lock().unwrap().len() < 300 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("300 acknowledgements within 60 s");
    server.signal("KILL");
    server.wait().await;
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("writers notice the dead server")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let restarted = BinaryServer::start(data.path(), &[]).await;
    let channel = connect(restarted.grpc_addr).await;
    let mut scoring = pb::scoring_service_client::ScoringServiceClient::new(channel.clone());
    for id in &acknowledged {
        let scorecard = scoring
            .get_scorecard(pb::GetScorecardRequest {
                interaction_id: id.clone(),
                revision: 0,
            })
            .await
            .unwrap_or_else(|status| panic!("acknowledged {id} was lost: {status}"))
            .into_inner()
            .scorecard
            .unwrap();
        assert_eq!(&scorecard.interaction_id, id);
    }
    // Nothing half-written: every stored scorecard's contribution is in the rollups, exactly.
    let verified = pb::performance_service_client::PerformanceServiceClient::new(channel)
        .verify_rollups(pb::VerifyRollupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verified.mismatches.is_empty(), "{:?}", verified.mismatches);
    assert!(verified.scorecards_read >= acknowledged.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_deadline_or_cancel_leaves_all_or_nothing() {
    let server = TestServer::start().await;
    let opened = at(-3_600).seconds;
    let mut scoring = server.scoring().await;
    for index in 0..40_u64 {
        let mut request = tonic::Request::new(pb::ScoreInteractionRequest {
            interaction: Some(chat(&format!("cut-{index}"), opened)),
        });
        // From well under a write's time to about one.
        request.set_timeout(Duration::from_micros(200 * (index % 10 + 1)));
        if index % 2 == 0 {
            let _ = scoring.score_interaction(request).await;
        } else {
            // Dropped by the client mid-call.
            let _ = tokio::time::timeout(
                Duration::from_micros(300 * (index % 7 + 1)),
                scoring.score_interaction(request),
            )
            .await;
        }
    }
    // A write the client gave up on may still commit (whole) once it reached the writer; one
    // more acknowledged write after those has queued behind them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    scoring
        .score_interaction(pb::ScoreInteractionRequest {
            interaction: Some(chat("cut-final", opened)),
        })
        .await
        .unwrap();
    let mut stored = 1;
    for index in 0..40_u64 {
        let found = scoring
            .get_scorecard(pb::GetScorecardRequest {
                interaction_id: format!("cut-{index}"),
                revision: 0,
            })
            .await;
        match found {
            Ok(_) => stored += 1,
            Err(status) => assert_eq!(status.code(), Code::NotFound),
        }
    }
    // Whatever was stored is whole: listed, counted in the rollup, and exact.
    let listed = scoring
        .list_scorecards(pb::ListScorecardsRequest {
            staff_id: "kai".to_owned(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.scorecards.len(), stored);
    let verified = server
        .performance()
        .await
        .verify_rollups(pb::VerifyRollupsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verified.mismatches.is_empty(), "{:?}", verified.mismatches);
}

#[tokio::test]
async fn bad_input_gets_the_right_code_and_stores_nothing() {
    let server = TestServer::start_with(|config| config.limits.max_turn_chars = 100).await;
    let mut scoring = server.scoring().await;
    let good = chat("bad-1", at(-3_600).seconds);
    type Spoil = Box<dyn Fn(&mut pb::Interaction)>;
    let variants: Vec<(&str, Spoil)> = vec![
        ("interaction_id", Box::new(|i| i.interaction_id.clear())),
        ("staff_id", Box::new(|i| i.staff_id.clear())),
        ("tier", Box::new(|i| i.tier = 99)),
        (
            "turns[1].at",
            Box::new(|i| i.turns[1].at = Some(at(-7_200))),
        ),
        ("opened_at", Box::new(|i| i.opened_at = Some(at(86_400)))),
        (
            "turns[0].text",
            Box::new(|i| i.turns[0].text = "长".repeat(101)),
        ),
    ];
    for (field, spoil) in &variants {
        let mut interaction = good.clone();
        spoil(&mut interaction);
        let status = scoring
            .score_interaction(pb::ScoreInteractionRequest {
                interaction: Some(interaction),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let fields = common::violated_fields(&status);
        assert!(
            fields.iter().any(|path| path.ends_with(field)),
            "{field} is named: {fields:?}"
        );
    }
    let unknown = scoring
        .amend_interaction(pb::AmendInteractionRequest {
            interaction_id: "never-stored".to_owned(),
            expected_revision: 1,
            amendments: vec![pb::Amendment {
                kind: Some(pb::amendment::Kind::CallbackDone(pb::TimedEvent {
                    at: Some(at(-60)),
                })),
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let listed = scoring
        .list_scorecards(pb::ListScorecardsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.scorecards.is_empty(), "nothing was stored");
}
