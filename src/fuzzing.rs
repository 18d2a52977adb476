//! Fuzzing entry points: bytes in, checks out. The cargo-fuzz targets in `fuzz/` and the
//! corpus replay in `tests/fuzz_corpus.rs` call these same functions, so an input that once
//! broke something stays a test.
//!
//! Each function accepts any bytes and returns normally whether the input is valid or not; a
//! panic is a finding: either the request path itself panicked (a crashed RPC), or one of the
//! invariants checked here broke (scores outside 0–100, scoring that is not deterministic,
//! evidence that points outside its turn, a scorecard that does not survive the wire).
//!
//! The request path is the server's, without the store: the same decoding, the same
//! validation with the default [`Limits`], the same scoring. What the server looks up in its
//! catalog comes from fixtures here: the built-in `default` standard is the only stored
//! standard, and the teams are the default team (UTC, wall clock) and [`FIXTURE_TEAMS`].

use std::sync::OnceLock;

use jiff::Timestamp;
use prost::Message;

use crate::config::Limits;
use crate::convert::interaction::{RevisionRule, from_proto};
use crate::convert::{InvalidArgument, json};
use crate::domain::interaction::{Channel, Interaction, Tier};
use crate::domain::points::Points;
use crate::domain::scorecard::{Evidence, Grade, Scorecard, ScorecardStatus};
use crate::domain::standard::Standard;
use crate::domain::team::Team;
use crate::proto::v1 as pb;
use crate::scoring::{CompiledStandard, ScoringContext, score};

/// The server clock of the fuzz targets (2026-12-01T00:00:00Z) when a request names no
/// evaluation time. Fixed, so that every run of an input does the same thing.
pub const FIXED_NOW_SECONDS: i64 = 1_796_083_200;

/// Teams the fuzzed catalog knows besides the default team (by `team_id`): one with a
/// business-hours calendar with a lunch break and a holiday, one on wall-clock time in a zone
/// with daylight saving time.
pub const FIXTURE_TEAMS: [&str; 2] = ["shanghai-hours", "berlin"];

/// What became of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not a message of the expected type (or longer than the server accepts).
    Undecodable,
    /// Decoded, and rejected by validation as the server would (INVALID_ARGUMENT).
    Rejected,
    /// Valid: scored (a request), or compiled and scored against (a standard).
    Accepted,
}

/// The fixed clock.
pub fn fixed_now() -> Timestamp {
    Timestamp::from_second(FIXED_NOW_SECONDS).expect("a valid instant")
}

fn default_standard() -> &'static CompiledStandard {
    static COMPILED: OnceLock<CompiledStandard> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let standard =
            crate::convert::standard::from_proto(&crate::builtin::default_standard(), "standard")
                .expect("the built-in standard is valid");
        CompiledStandard::new(standard)
    })
}

/// The fixture teams as the API would create them.
pub fn fixture_team_messages() -> Vec<pb::Team> {
    let period = |weekday: pb::Weekday, start: &str, end: &str| pb::OpeningPeriod {
        weekday: weekday as i32,
        start: start.to_owned(),
        end: end.to_owned(),
    };
    let weekdays = [
        pb::Weekday::Monday,
        pb::Weekday::Tuesday,
        pb::Weekday::Wednesday,
        pb::Weekday::Thursday,
        pb::Weekday::Friday,
    ];
    let mut periods: Vec<pb::OpeningPeriod> = weekdays
        .iter()
        .flat_map(|&weekday| {
            [
                period(weekday, "09:00", "12:00"),
                period(weekday, "13:30", "18:00"),
            ]
        })
        .collect();
    periods.push(period(pb::Weekday::Saturday, "20:00", "24:00"));
    vec![
        pb::Team {
            team_id: FIXTURE_TEAMS[0].to_owned(),
            display_name: "上海 business hours".to_owned(),
            time_zone: "Asia/Shanghai".to_owned(),
            calendar: Some(pb::BusinessCalendar {
                periods,
                holidays: vec!["2026-10-01".to_owned(), "2026-11-23".to_owned()],
            }),
            ..Default::default()
        },
        pb::Team {
            team_id: FIXTURE_TEAMS[1].to_owned(),
            display_name: "Berlin".to_owned(),
            time_zone: "Europe/Berlin".to_owned(),
            ..Default::default()
        },
    ]
}

fn fixture_teams() -> &'static [Team] {
    static TEAMS: OnceLock<Vec<Team>> = OnceLock::new();
    TEAMS.get_or_init(|| {
        fixture_team_messages()
            .iter()
            .map(|message| {
                crate::convert::team::from_proto(message, "team")
                    .expect("the fixture teams are valid")
            })
            .collect()
    })
}

/// The standard an inline request or a reference names; `Err` where the server would answer
/// INVALID_ARGUMENT.
enum Chosen {
    Default,
    Inline(Box<CompiledStandard>),
}

impl Chosen {
    fn compiled(&self) -> &CompiledStandard {
        match self {
            Self::Default => default_standard(),
            Self::Inline(compiled) => compiled,
        }
    }
}

/// A valid preview request, decoded as `ScoringService::preview` does.
struct Preview {
    now: Timestamp,
    interaction: Interaction,
    team: Team,
    standard: Chosen,
}

fn validate_preview(
    request: &pb::PreviewScoreRequest,
    limits: &Limits,
) -> Result<Preview, InvalidArgument> {
    let now = match &request.evaluation_time {
        Some(time) => crate::convert::from_proto_timestamp(time).ok_or_else(|| {
            InvalidArgument::field("evaluation_time", crate::convert::INVALID_TIMESTAMP)
        })?,
        None => fixed_now(),
    };
    let message = request
        .interaction
        .as_ref()
        .ok_or_else(|| InvalidArgument::field("interaction", "is required"))?;
    let interaction = from_proto(message, "interaction", limits, RevisionRule::Optional, now)?;

    // Scoring and storing validate the same message with the stricter revision rule.
    let stored = from_proto(message, "interaction", limits, RevisionRule::Required, now);
    if let Ok(stored) = &stored {
        assert_eq!(
            stored, &interaction,
            "the storing rule and the preview rule read an interaction differently"
        );
    }
    assert_eq!(
        stored.is_ok(),
        interaction.revision >= 1,
        "the storing rule accepts exactly the previewable interactions of revision 1 or more"
    );

    let team = match request.team_id.as_str() {
        "" => Team::default_team("UTC"),
        team_id => fixture_teams()
            .iter()
            .find(|team| team.team_id == team_id)
            .cloned()
            .ok_or_else(|| InvalidArgument::field("team_id", format!("no team {team_id}")))?,
    };
    let standard = match (&request.standard, &interaction.standard) {
        (Some(inline), _) => Chosen::Inline(Box::new(CompiledStandard::new(
            crate::convert::standard::from_proto(inline, "standard")?,
        ))),
        (None, Some(reference))
            if reference.standard_id != crate::builtin::DEFAULT_STANDARD_ID
                || reference.version > 1 =>
        {
            return Err(InvalidArgument::field(
                "interaction.standard",
                format!(
                    "no standard {} version {}",
                    reference.standard_id, reference.version
                ),
            ));
        }
        (None, _) => Chosen::Default,
    };
    Ok(Preview {
        now,
        interaction,
        team,
        standard,
    })
}

fn score_at(
    interaction: &Interaction,
    standard: &CompiledStandard,
    team: &Team,
    evaluation_time: Timestamp,
) -> Scorecard {
    let working_time = team.working_time();
    score(
        interaction,
        &ScoringContext {
            standard,
            working_time: &working_time,
            time_zone: &team.time_zone,
            team_id: &team.team_id,
            evaluation_time,
        },
    )
}

fn within_0_100(points: Option<Points>) -> bool {
    points.is_none_or(|points| (Points::ZERO..=Points::HUNDRED).contains(&points))
}

/// The invariants every scorecard keeps, whatever the input.
fn check_scorecard(scorecard: &Scorecard, interaction: &Interaction) {
    for (name, dimension) in [
        ("politeness", &scorecard.politeness),
        ("speed", &scorecard.speed),
        ("follow-through", &scorecard.follow_through),
    ] {
        assert!(
            within_0_100(dimension.score),
            "{name} score {:?} is outside 0-100",
            dimension.score
        );
        assert_eq!(
            dimension.score.is_none(),
            !dimension.not_applicable_reason.is_empty(),
            "{name}: a reason is given exactly when the dimension does not apply"
        );
    }
    assert!(
        within_0_100(scorecard.composite),
        "composite {:?} is outside 0-100",
        scorecard.composite
    );
    let critical = scorecard.findings.iter().any(|finding| finding.critical);
    match scorecard.grade {
        Grade::Fail => assert!(critical, "a failed grade without a critical finding"),
        Grade::Ungraded => assert!(
            scorecard.composite.is_none(),
            "ungraded with a composite {:?}",
            scorecard.composite
        ),
        Grade::Below | Grade::Meets | Grade::Excellent => assert!(
            !critical && scorecard.composite.is_some(),
            "graded {:?} with a critical finding or without a composite",
            scorecard.grade
        ),
    }
    if critical && let Some(composite) = scorecard.composite {
        assert_eq!(composite, Points::ZERO, "a critical finding fails to zero");
    }
    assert_eq!(
        scorecard.status == ScorecardStatus::Provisional,
        !scorecard.pending.is_empty(),
        "provisional exactly while items are pending"
    );
    assert_eq!(
        scorecard.next_due,
        scorecard.pending.iter().filter_map(|item| item.due).min(),
        "next_due is the earliest pending due time"
    );
    for finding in &scorecard.findings {
        assert!(
            finding.points >= Points::ZERO,
            "finding {} deducts negative points {:?}",
            finding.rule_id,
            finding.points
        );
        check_evidence(&finding.evidence, interaction, &finding.rule_id);
    }
}

/// Evidence points inside the interaction; a text span is the snippet it quotes.
fn check_evidence(evidence: &Evidence, interaction: &Interaction, rule_id: &str) {
    let turns = interaction.turns.len();
    match evidence {
        Evidence::Text {
            turn_index,
            start,
            end,
            snippet,
            ..
        } => {
            assert!(
                *turn_index < turns,
                "{rule_id}: text evidence in turn {turn_index} of {turns}"
            );
            let text = &interaction.turns[*turn_index].text;
            let length = text.chars().count();
            assert!(
                start < end && *end <= length,
                "{rule_id}: span {start}..{end} in a turn of {length} characters"
            );
            let quoted: String = text
                .chars()
                .skip(*start)
                .take(end - start)
                .take(crate::scoring::matcher::SNIPPET_CHARS)
                .collect();
            assert_eq!(
                &quoted, snippet,
                "{rule_id}: the snippet is not the text of its span {start}..{end}"
            );
        }
        Evidence::Turns { turn_indexes, .. } => {
            for index in turn_indexes {
                assert!(
                    *index < turns,
                    "{rule_id}: turn evidence names turn {index} of {turns}"
                );
            }
        }
        Evidence::Metric {
            from_turn, to_turn, ..
        } => {
            for index in from_turn.iter().chain(to_turn) {
                assert!(
                    *index < turns,
                    "{rule_id}: metric evidence names turn {index} of {turns}"
                );
            }
        }
        Evidence::Event { turn_index, .. } => {
            if let Some(index) = turn_index {
                assert!(
                    *index < turns,
                    "{rule_id}: event evidence names turn {index} of {turns}"
                );
            }
        }
        Evidence::Commitment { commitment_id, .. } => {
            assert!(
                interaction
                    .commitments
                    .iter()
                    .any(|commitment| &commitment.id == commitment_id),
                "{rule_id}: evidence names an unknown commitment {commitment_id}"
            );
        }
    }
}

/// Scores, checks, scores again, and sends the scorecard over the wire as the server and the
/// CLI do.
fn score_and_check(
    interaction: &Interaction,
    standard: &CompiledStandard,
    team: &Team,
    evaluation_time: Timestamp,
) -> Scorecard {
    let scorecard = score_at(interaction, standard, team, evaluation_time);
    check_scorecard(&scorecard, interaction);
    assert_eq!(
        scorecard,
        score_at(interaction, standard, team, evaluation_time),
        "scoring the same interaction twice gave different scorecards"
    );
    let wire = crate::convert::scorecard::to_proto(&scorecard);
    let encoded = wire.encode_to_vec();
    let decoded = pb::Scorecard::decode(encoded.as_slice()).expect("an encoded scorecard decodes");
    assert_eq!(decoded, wire, "the scorecard changed on the wire");
    scorecard
}

/// Fuzz target `score_interaction`: `data` as a `servscore.v1.PreviewScoreRequest` (every
/// `ScoreInteractionRequest` is one too: same field 1), validated as the server does, scored,
/// encoded, and printed as proto3 JSON as `servscore score` does. A provisional scorecard is
/// scored again at its next due time, as the re-score pass does.
pub fn score_interaction(data: &[u8]) -> Outcome {
    let limits = Limits::default();
    if data.len() > limits.max_message_bytes {
        return Outcome::Undecodable;
    }
    let Ok(request) = pb::PreviewScoreRequest::decode(data) else {
        return Outcome::Undecodable;
    };
    let preview = match validate_preview(&request, &limits) {
        Ok(preview) => preview,
        Err(invalid) => {
            check_rejection(
                &invalid,
                &["evaluation_time", "interaction", "team_id", "standard"],
            );
            return Outcome::Rejected;
        }
    };
    let standard = preview.standard.compiled();
    let scorecard = score_and_check(&preview.interaction, standard, &preview.team, preview.now);
    json::to_json(
        "servscore.v1.Scorecard",
        &crate::convert::scorecard::to_proto(&scorecard),
    );
    if let Some(due) = scorecard.next_due.filter(|&due| due > preview.now) {
        score_and_check(&preview.interaction, standard, &preview.team, due);
    }
    Outcome::Accepted
}

/// A rejection names at least one field, each under one of `roots`, with a description.
fn check_rejection(invalid: &InvalidArgument, roots: &[&str]) {
    assert!(!invalid.0.is_empty(), "a rejection without a violation");
    for violation in &invalid.0 {
        assert!(
            roots.iter().any(|root| violation.field.starts_with(root)),
            "violation of an unexpected field {:?}",
            violation.field
        );
        assert!(
            !violation.description.is_empty(),
            "violation of {} without a description",
            violation.field
        );
    }
}

/// An interaction whose turns quote the first phrases of every phrase set of `standard`, so
/// that fuzzed phrases meet text that contains them.
fn quoting_interaction(standard: &Standard, tier: Tier, channel: Channel) -> Interaction {
    let opened = Timestamp::from_second(FIXED_NOW_SECONDS - 86_400).expect("a valid instant");
    let mut turns = vec![
        pb::Turn {
            speaker: pb::Speaker::Customer as i32,
            text: "我要投诉！This is unacceptable.".to_owned(),
            ..Default::default()
        },
        pb::Turn {
            speaker: pb::Speaker::Staff as i32,
            text: "您好，非常抱歉。Hello, I'm sorry.".to_owned(),
            ..Default::default()
        },
    ];
    for (index, phrase) in standard
        .phrase_sets
        .iter()
        .flat_map(|set| set.phrases.iter().take(3))
        .take(40)
        .enumerate()
    {
        let speaker = if index % 2 == 0 {
            pb::Speaker::Customer
        } else {
            pb::Speaker::Staff
        };
        turns.push(pb::Turn {
            speaker: speaker as i32,
            text: format!("«{}», {}!", phrase.text, phrase.text.to_uppercase()),
            ..Default::default()
        });
    }
    for (index, turn) in turns.iter_mut().enumerate() {
        turn.at = Some(crate::convert::timestamp_to_proto(
            Timestamp::from_second(opened.as_second() + 45 * index as i64)
                .expect("a valid instant"),
        ));
    }
    let message = pb::Interaction {
        interaction_id: "fuzz-quoting".to_owned(),
        revision: 1,
        staff_id: "alice".to_owned(),
        tier: crate::convert::scorecard::tier_to_proto(tier) as i32,
        channel: crate::convert::scorecard::channel_to_proto(channel) as i32,
        kind: pb::InteractionKind::Complaint as i32,
        opened_at: Some(crate::convert::timestamp_to_proto(opened)),
        turns,
        status_changes: vec![pb::StatusChange {
            status: pb::InteractionStatus::Resolved as i32,
            at: Some(crate::convert::timestamp_to_proto(
                Timestamp::from_second(opened.as_second() + 3_600).expect("a valid instant"),
            )),
        }],
        commitments: vec![pb::Commitment {
            commitment_id: "callback".to_owned(),
            due_at: Some(crate::convert::timestamp_to_proto(
                Timestamp::from_second(opened.as_second() + 7_200).expect("a valid instant"),
            )),
            ..Default::default()
        }],
        survey: Some(pb::Survey {
            expectation: 4,
            perception: 3,
            answered_at: None,
        }),
        ..Default::default()
    };
    from_proto(
        &message,
        "interaction",
        &Limits::stored(),
        RevisionRule::Required,
        fixed_now(),
    )
    .unwrap_or_else(|invalid| panic!("the quoting interaction is invalid: {invalid}"))
}

/// Fuzz target `validate_standard`: `data` as a `servscore.v1.Standard`, validated as
/// CreateStandard and an inline preview standard are; a valid standard is compiled and every
/// tier × channel cell scores an interaction that quotes the standard's own phrases.
pub fn validate_standard(data: &[u8]) -> Outcome {
    if data.len() > Limits::default().max_message_bytes {
        return Outcome::Undecodable;
    }
    let Ok(message) = pb::Standard::decode(data) else {
        return Outcome::Undecodable;
    };
    let standard = match crate::convert::standard::from_proto(&message, "standard") {
        Ok(standard) => standard,
        Err(invalid) => {
            check_rejection(&invalid, &["standard"]);
            return Outcome::Rejected;
        }
    };
    assert_eq!(
        crate::convert::standard::from_proto(&message, "standard").ok(),
        Some(standard.clone()),
        "validating the same standard twice gave different results"
    );
    let compiled = CompiledStandard::new(standard);
    let team = Team::default_team("UTC");
    for tier in Tier::ALL {
        for channel in Channel::ALL {
            let cell = compiled.standard.cell(tier, channel);
            assert!(!cell.id.is_empty(), "a cell without an id");
            let interaction = quoting_interaction(&compiled.standard, tier, channel);
            score_and_check(&interaction, &compiled, &team, fixed_now());
        }
    }
    Outcome::Accepted
}
