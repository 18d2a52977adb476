//! Builders for scoring tests: interactions written as "who said what how many seconds after
//! opening", scored through the same validation as the service.
#![allow(dead_code)]

use jiff::Timestamp;
use jiff::tz::TimeZone;
use servscore::config::Limits;
use servscore::convert::interaction::{RevisionRule, from_proto};
use servscore::domain::calendar::WorkingTime;
use servscore::domain::scorecard::Scorecard;
use servscore::proto::v1 as pb;
use servscore::scoring::{CompiledStandard, ScoringContext, score};

/// 2026-11-23T02:00:00Z, a Monday (10:00 in Shanghai).
pub const OPENED: i64 = 1_795_399_200;

pub fn ts(seconds_after_open: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: OPENED + seconds_after_open,
        nanos: 0,
    }
}

pub fn test_standard() -> CompiledStandard {
    let message: pb::Standard = servscore::convert::json::from_toml(
        "servscore.v1.Standard",
        include_str!("../data/test-standard.toml"),
    )
    .unwrap();
    CompiledStandard::new(servscore::convert::standard::from_proto(&message, "standard").unwrap())
}

pub fn default_standard() -> CompiledStandard {
    CompiledStandard::new(
        servscore::convert::standard::from_proto(
            &servscore::builtin::default_standard(),
            "standard",
        )
        .unwrap(),
    )
}

/// An interaction under construction.
#[derive(Clone)]
pub struct Chat(pub pb::Interaction);

pub fn chat() -> Chat {
    Chat(pb::Interaction {
        interaction_id: "chat-1".to_owned(),
        revision: 1,
        staff_id: "alice".to_owned(),
        customer_id: "c-1".to_owned(),
        tier: pb::Tier::Medium as i32,
        channel: pb::Channel::Chat as i32,
        kind: pb::InteractionKind::Inquiry as i32,
        opened_at: Some(ts(0)),
        ..Default::default()
    })
}

impl Chat {
    fn turn(mut self, speaker: pb::Speaker, at: i64, text: &str, staff: &str) -> Self {
        self.0.turns.push(pb::Turn {
            speaker: speaker as i32,
            staff_id: staff.to_owned(),
            at: Some(ts(at)),
            text: text.to_owned(),
        });
        self
    }
    pub fn customer(self, at: i64, text: &str) -> Self {
        self.turn(pb::Speaker::Customer, at, text, "")
    }
    pub fn staff(self, at: i64, text: &str) -> Self {
        self.turn(pb::Speaker::Staff, at, text, "")
    }
    pub fn staff_as(self, who: &str, at: i64, text: &str) -> Self {
        self.turn(pb::Speaker::Staff, at, text, who)
    }
    pub fn system(self, at: i64, text: &str) -> Self {
        self.turn(pb::Speaker::System, at, text, "")
    }
    pub fn status(mut self, at: i64, status: pb::InteractionStatus) -> Self {
        self.0.status_changes.push(pb::StatusChange {
            status: status as i32,
            at: Some(ts(at)),
        });
        self
    }
    pub fn resolved(self, at: i64) -> Self {
        self.status(at, pb::InteractionStatus::Resolved)
    }
    pub fn commitment(mut self, id: &str, due: i64, fulfilled: Option<i64>) -> Self {
        self.0.commitments.push(pb::Commitment {
            commitment_id: id.to_owned(),
            description: String::new(),
            due_at: Some(ts(due)),
            fulfilled_at: fulfilled.map(ts),
        });
        self
    }
    pub fn complaint(mut self) -> Self {
        self.0.kind = pb::InteractionKind::Complaint as i32;
        self
    }
    pub fn tier(mut self, tier: pb::Tier) -> Self {
        self.0.tier = tier as i32;
        self
    }
    pub fn channel(mut self, channel: pb::Channel) -> Self {
        self.0.channel = channel as i32;
        self
    }
    pub fn survey(mut self, expectation: i32, perception: i32) -> Self {
        self.0.survey = Some(pb::Survey {
            expectation,
            perception,
            answered_at: None,
        });
        self
    }
    pub fn staff_initiated(mut self) -> Self {
        self.0.initiator = pb::Initiator::Staff as i32;
        self
    }

    /// Scores with the standard at `evaluation` seconds after opening, wall-clock time, UTC.
    pub fn score_with(&self, standard: &CompiledStandard, evaluation: i64) -> Scorecard {
        self.score_in(
            standard,
            evaluation,
            &WorkingTime::WallClock,
            &TimeZone::UTC,
        )
    }

    pub fn score_in(
        &self,
        standard: &CompiledStandard,
        evaluation: i64,
        working_time: &WorkingTime,
        zone: &TimeZone,
    ) -> Scorecard {
        let now = Timestamp::from_second(OPENED + evaluation).unwrap();
        let interaction = from_proto(
            &self.0,
            "interaction",
            &Limits::default(),
            RevisionRule::Required,
            now,
        )
        .unwrap_or_else(|invalid| panic!("test interaction is valid: {invalid:?}"));
        score(
            &interaction,
            &ScoringContext {
                standard,
                working_time,
                time_zone: zone,
                team_id: "default",
                evaluation_time: now,
            },
        )
    }

    /// Scores with the round-number test standard, one day after opening.
    pub fn score(&self) -> Scorecard {
        self.score_with(&test_standard(), 86_400)
    }
}

/// The hundredths of an optional score (-1 when not applicable).
pub fn hundredths(score: Option<servscore::domain::points::Points>) -> i64 {
    score.map_or(-1, |points| points.hundredths())
}

/// The rule ids of the findings, in order.
pub fn rules(scorecard: &Scorecard) -> Vec<&str> {
    scorecard
        .findings
        .iter()
        .map(|finding| finding.rule_id.as_str())
        .collect()
}
