//! Scoring and standards over gRPC: PreviewScore of a realistic complaint chat with the
//! built-in standard, inline and stored custom standards, bad input as field violations, and
//! the offline `servscore score` CLI.

mod common;

use common::{START, TestServer, at, violated_fields};
use servscore::proto::v1 as pb;
use tonic::Code;

fn turn(speaker: pb::Speaker, seconds: i64, text: &str) -> pb::Turn {
    pb::Turn {
        speaker: speaker as i32,
        staff_id: String::new(),
        at: Some(at(seconds)),
        text: text.to_owned(),
    }
}

/// A VIP complaint chat in Chinese, opened an hour before the test clock's now.
fn complaint_chat() -> pb::Interaction {
    use pb::Speaker::{Customer, Staff};
    pb::Interaction {
        interaction_id: "complaint-1".to_owned(),
        revision: 1,
        staff_id: "alice".to_owned(),
        customer_id: "c-7".to_owned(),
        tier: pb::Tier::Vip as i32,
        channel: pb::Channel::Chat as i32,
        kind: pb::InteractionKind::Complaint as i32,
        opened_at: Some(at(-3_600)),
        turns: vec![
            turn(Customer, -3_600, "你们的快递三天了还没到，我要投诉！"),
            turn(Staff, -3_580, "您好，请提供一下订单号。"),
            turn(Customer, -3_540, "订单号是 88321，太慢了，你们怎么回事"),
            turn(Staff, -3_400, "这个不归我管，是快递公司的问题。"),
            turn(Customer, -3_370, "那你们总得给个说法吧"),
            turn(Staff, -3_340, "我会联系快递公司，今天18点前给您回电。"),
        ],
        commitments: vec![pb::Commitment {
            commitment_id: "callback".to_owned(),
            description: "call back before 18:00".to_owned(),
            due_at: Some(at(6 * 3_600)),
            fulfilled_at: None,
        }],
        ..Default::default()
    }
}

fn text_span(finding: &pb::Finding) -> (i32, i32, i32, String) {
    match &finding.evidence {
        Some(pb::finding::Evidence::Text(text)) => {
            (text.turn_index, text.start, text.end, text.snippet.clone())
        }
        other => panic!("text evidence expected, got {other:?}"),
    }
}

#[tokio::test]
async fn preview_explains_a_complaint_chat_with_the_default_standard() {
    let server = TestServer::start().await;
    let mut scoring = server.scoring().await;
    let scorecard = scoring
        .preview_score(pb::PreviewScoreRequest {
            interaction: Some(complaint_chat()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();

    assert_eq!(
        scorecard.standard,
        Some(pb::StandardRef {
            standard_id: "default".into(),
            version: 1
        })
    );
    assert_eq!(scorecard.cell_id, "vip-messaging");
    let rules: Vec<&str> = scorecard
        .findings
        .iter()
        .map(|finding| finding.rule_id.as_str())
        .collect();
    assert_eq!(
        rules,
        vec![
            "acknowledge-complaint",
            "acknowledge-complaint",
            "no-indifference",
            "speed.next_reply"
        ]
    );
    // The two complaints left without an apology, and the brush-off, with their spans.
    assert_eq!(
        text_span(&scorecard.findings[0]),
        (0, 14, 16, "投诉".to_owned())
    );
    assert_eq!(
        text_span(&scorecard.findings[1]),
        (2, 11, 14, "太慢了".to_owned())
    );
    assert_eq!(
        text_span(&scorecard.findings[2]),
        (3, 2, 6, "不归我管".to_owned())
    );
    assert_eq!(scorecard.findings[2].points, 15.0);
    let Some(pb::finding::Evidence::Metric(metric)) = &scorecard.findings[3].evidence else {
        panic!("metric evidence");
    };
    assert_eq!(
        metric.value,
        Some(prost_types::Duration {
            seconds: 140,
            nanos: 0
        })
    );
    assert_eq!((metric.from_turn_index, metric.to_turn_index), (2, 3));
    assert!(scorecard.findings[3].sla_breach);

    // 100 - 15 - 15 - 15; speed (100×2 + 66.67 + 100) / 4; follow-through pending.
    assert_eq!(scorecard.politeness.unwrap().score, Some(55.0));
    assert_eq!(scorecard.speed.unwrap().score, Some(91.67));
    assert_eq!(scorecard.follow_through.unwrap().score, Some(100.0));
    assert_eq!(scorecard.composite, Some(84.0));
    assert_eq!(scorecard.grade, pb::Grade::Meets as i32);
    assert_eq!(scorecard.sla_breaches, 1);
    assert_eq!(scorecard.status, pb::ScorecardStatus::Provisional as i32);
    let pending: Vec<i32> = scorecard
        .pending_items
        .iter()
        .map(|item| item.kind)
        .collect();
    assert_eq!(
        pending,
        vec![
            pb::PendingKind::Commitment as i32,
            pb::PendingKind::ComplaintOpen as i32
        ]
    );
    assert_eq!(scorecard.next_due_time, Some(at(6 * 3_600)));
    assert_eq!(scorecard.evaluation_time, Some(at(0)), "the server clock");
    assert_eq!(scorecard.local_date, "2026-11-23");
}

#[tokio::test]
async fn preview_with_an_inline_standard_and_an_evaluation_time() {
    let server = TestServer::start().await;
    let standard: pb::Standard = servscore::convert::json::from_toml(
        "servscore.v1.Standard",
        include_str!("data/test-standard.toml"),
    )
    .unwrap();
    let scorecard = server
        .scoring()
        .await
        .preview_score(pb::PreviewScoreRequest {
            interaction: Some(complaint_chat()),
            standard: Some(standard),
            evaluation_time: Some(at(7 * 3_600)),
            team_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(scorecard.standard.unwrap().standard_id, "test-standard");
    assert_eq!(scorecard.cell_id, "everything");
    assert_eq!(scorecard.evaluation_time, Some(at(7 * 3_600)));
    // At 19:00 the 18:00 callback is overdue: its credit is 0.
    assert!(
        scorecard
            .findings
            .iter()
            .any(|finding| finding.rule_id == "follow_through.commitment")
    );
}

#[tokio::test]
async fn bad_interactions_are_rejected_with_every_field_named() {
    let server = TestServer::start().await;
    let mut interaction = complaint_chat();
    interaction.staff_id.clear();
    interaction.tier = 0;
    interaction.channel = 99;
    interaction.turns[2].at = Some(at(-4_000)); // before turn 1
    interaction.turns[4].at = Some(at(86_400)); // in the future
    interaction.turns[5].speaker = 42;
    interaction.survey = Some(pb::Survey {
        expectation: 0,
        perception: 6,
        answered_at: None,
    });
    let status = server
        .scoring()
        .await
        .preview_score(pb::PreviewScoreRequest {
            interaction: Some(interaction),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    for expected in [
        "interaction.staff_id",
        "interaction.tier",
        "interaction.channel",
        "interaction.turns[2].at",
        "interaction.turns[4].at",
        "interaction.turns[5].speaker",
        "interaction.survey.expectation",
        "interaction.survey.perception",
    ] {
        assert!(
            fields.iter().any(|field| field == expected),
            "{expected} in {fields:?}"
        );
    }
    assert!(
        status.message().contains("more field violation"),
        "{}",
        status.message()
    );
}

fn test_standard() -> pb::Standard {
    servscore::convert::json::from_toml(
        "servscore.v1.Standard",
        include_str!("data/test-standard.toml"),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_standards_are_rejected_with_every_field_named() {
    let server = TestServer::start().await;
    let mut standard = test_standard();
    standard.standard_id = "Bad Id".to_owned();
    standard.phrase_sets[0].phrases[0].text = "   ".to_owned();
    let rules = standard.cells[0].rules.as_mut().unwrap();
    rules.politeness.as_mut().unwrap().require[0].phrase_set_id = "no-such-set".to_owned();
    rules
        .speed
        .as_mut()
        .unwrap()
        .first_reply
        .as_mut()
        .unwrap()
        .limit = Some(prost_types::Duration {
        seconds: 10,
        nanos: 0,
    });
    rules.weights = Some(pb::DimensionWeights {
        politeness: 0.0,
        speed: 0.0,
        follow_through: 0.0,
    });
    rules.thresholds = Some(pb::GradeThresholds {
        pass: 80.0,
        excellent: 70.0,
    });
    standard.cells[0].tiers = vec![pb::Tier::Vip as i32];
    let status = server
        .standards()
        .await
        .create_standard(pb::CreateStandardRequest {
            standard: Some(standard),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = violated_fields(&status);
    for expected in [
        "standard.standard_id",
        "standard.phrase_sets[0].phrases[0].text",
        "standard.cells[0].rules.politeness.require[0].phrase_set_id",
        "standard.cells[0].rules.speed.first_reply.limit",
        "standard.cells[0].rules.weights",
        "standard.cells[0].rules.thresholds.excellent",
        "standard.cells",
    ] {
        assert!(
            fields.iter().any(|field| field == expected),
            "{expected} in {fields:?}"
        );
    }
}

#[tokio::test]
async fn standards_are_versioned_and_listed() {
    let server = TestServer::start().await;
    let mut standards = server.standards().await;
    let create = || pb::CreateStandardRequest {
        standard: Some(test_standard()),
    };
    let first = standards
        .create_standard(create())
        .await
        .unwrap()
        .into_inner()
        .standard
        .unwrap();
    let second = standards
        .create_standard(create())
        .await
        .unwrap()
        .into_inner()
        .standard
        .unwrap();
    assert_eq!((first.version, second.version), (1, 2));
    assert!(second.create_time.is_some());

    let get = |version| pb::GetStandardRequest {
        standard_id: "test-standard".into(),
        version,
    };
    assert_eq!(
        standards
            .get_standard(get(0))
            .await
            .unwrap()
            .into_inner()
            .standard
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        standards
            .get_standard(get(1))
            .await
            .unwrap()
            .into_inner()
            .standard
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        standards.get_standard(get(3)).await.unwrap_err().code(),
        Code::NotFound
    );

    let latest = standards
        .list_standards(pb::ListStandardsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<(String, i64)> = latest
        .standards
        .iter()
        .map(|s| (s.standard_id.clone(), s.version))
        .collect();
    assert_eq!(
        ids,
        vec![("default".into(), 1), ("test-standard".into(), 2)]
    );

    // Every version of one id, one per page.
    let mut versions = Vec::new();
    let mut token = String::new();
    loop {
        let page = standards
            .list_standards(pb::ListStandardsRequest {
                standard_id: "test-standard".into(),
                page_size: 1,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        versions.extend(page.standards.iter().map(|s| s.version));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(versions, vec![1, 2]);
    let stale = standards
        .list_standards(pb::ListStandardsRequest {
            standard_id: "default".into(),
            page_size: 1,
            page_token: servscore::service::page_token::encode(
                "standards:test-standard",
                &["test-standard", "1"],
            ),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&stale), vec!["page_token"]);
}

#[tokio::test]
async fn the_interaction_or_its_team_picks_the_standard() {
    let server = TestServer::start().await;
    server
        .standards()
        .await
        .create_standard(pb::CreateStandardRequest {
            standard: Some(test_standard()),
        })
        .await
        .unwrap();
    let mut scoring = server.scoring().await;
    let preview = |interaction: pb::Interaction| pb::PreviewScoreRequest {
        interaction: Some(interaction),
        ..Default::default()
    };

    let mut chosen = complaint_chat();
    chosen.standard = Some(pb::StandardRef {
        standard_id: "test-standard".into(),
        version: 1,
    });
    let scorecard = scoring
        .preview_score(preview(chosen.clone()))
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(scorecard.cell_id, "everything");

    chosen.standard = Some(pb::StandardRef {
        standard_id: "no-such-standard".into(),
        version: 0,
    });
    let status = scoring.preview_score(preview(chosen)).await.unwrap_err();
    assert_eq!(violated_fields(&status), vec!["interaction.standard"]);

    server
        .teams()
        .await
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                team_id: "shanghai".into(),
                time_zone: "Asia/Shanghai".into(),
                standard: Some(pb::StandardRef {
                    standard_id: "test-standard".into(),
                    version: 0,
                }),
                member_staff_ids: vec!["alice".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let scorecard = scoring
        .preview_score(preview(complaint_chat()))
        .await
        .unwrap()
        .into_inner()
        .scorecard
        .unwrap();
    assert_eq!(scorecard.team_id, "shanghai");
    assert_eq!(scorecard.cell_id, "everything", "the team's standard");
    assert_eq!(scorecard.local_date, "2026-11-23", "19:00 in Shanghai");
}

#[test]
fn the_cli_scores_a_file_offline() {
    let dir = tempfile::tempdir().unwrap();
    let interaction = dir.path().join("chat.json");
    std::fs::write(
        &interaction,
        servscore::convert::json::to_json("servscore.v1.Interaction", &complaint_chat()),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_servscore"))
        .arg("score")
        .arg("--interaction")
        .arg(&interaction)
        .arg("--at")
        .arg(jiff::Timestamp::from_second(START).unwrap().to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let scorecard: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(scorecard["composite"], 84.0);
    assert_eq!(scorecard["grade"], "GRADE_MEETS");
    assert_eq!(scorecard["findings"][2]["text"]["snippet"], "不归我管");

    let standard = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-standard.toml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_servscore"))
        .args(["score", "--standard", standard, "--interaction"])
        .arg(&interaction)
        .arg("--at")
        .arg(jiff::Timestamp::from_second(START).unwrap().to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let scorecard: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(scorecard["cellId"], "everything");

    std::fs::write(
        &interaction,
        r#"{"interactionId": "x", "tier": "TIER_GOLD"}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_servscore"))
        .args(["score", "--interaction"])
        .arg(&interaction)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("TIER_GOLD"));
}
