//! Properties of the scoring core over random interactions (proptest): scores stay within
//! 0–100, a forbidden phrase never raises politeness, replying sooner never lowers speed,
//! fulfilling a commitment never lowers follow-through, and scoring is deterministic.

mod common;

use common::scoring::{Chat, OPENED, default_standard, test_standard, ts};
use proptest::prelude::*;
use servscore::domain::points::Points;
use servscore::domain::scorecard::Scorecard;
use servscore::proto::v1 as pb;
use servscore::scoring::CompiledStandard;

const TEXTS: &[&str] = &[
    "您好，请问有什么可以帮您",
    "Hello, how can I help?",
    "我要投诉，太差了",
    "I am angry and disappointed",
    "非常抱歉给您带来不便",
    "Sorry about that",
    "请稍等，我查一下订单",
    "ok",
    "谢谢，再见",
    "Thank you, have a nice day",
    "这个不归我管",
    "whatever",
    "",
    "Thinking about this sushi",
];

#[derive(Debug, Clone)]
struct Shape {
    tier: i32,
    channel: i32,
    complaint: bool,
    staff_initiated: bool,
    turns: Vec<(u8, u32, usize, bool)>, // (speaker 0 customer / 1 staff / 2 system, delay s, text, by another staff member)
    pause: Option<(u32, u32)>,
    resolution_delay: Option<u32>,
    commitments: Vec<(u32, Option<u32>)>,
    survey: Option<(i32, i32)>,
    evaluation_delay: u32,
    default_standard: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        (1..=4_i32, 1..=6_i32, any::<bool>(), any::<bool>()),
        prop::collection::vec(
            (
                0..3_u8,
                0..1_500_u32,
                0..TEXTS.len(),
                prop::bool::weighted(0.1),
            ),
            0..14,
        ),
        prop::option::of((0..2_000_u32, 0..20_000_u32)),
        prop::option::of(0..30_000_u32),
        prop::collection::vec((0..100_000_u32, prop::option::of(0..120_000_u32)), 0..4),
        prop::option::of((1..=5_i32, 1..=5_i32)),
        (0..200_000_u32, any::<bool>()),
    )
        .prop_map(
            |(
                (tier, channel, complaint, staff_initiated),
                turns,
                pause,
                resolution_delay,
                commitments,
                survey,
                (evaluation_delay, default_standard),
            )| Shape {
                tier,
                channel,
                complaint,
                staff_initiated,
                turns,
                pause,
                resolution_delay,
                commitments,
                survey,
                evaluation_delay,
                default_standard,
            },
        )
}

impl Shape {
    /// The interaction and the evaluation time (seconds after opening).
    fn build(&self) -> (Chat, i64) {
        let mut chat = common::scoring::chat();
        chat.0.tier = self.tier;
        chat.0.channel = self.channel;
        if self.complaint {
            chat = chat.complaint();
        }
        if self.staff_initiated {
            chat = chat.staff_initiated();
        }
        let mut at = 0_i64;
        for &(speaker, delay, text, other_staff) in &self.turns {
            at += i64::from(delay);
            chat = match speaker {
                0 => chat.customer(at, TEXTS[text]),
                1 if other_staff => chat.staff_as("bob", at, TEXTS[text]),
                1 => chat.staff(at, TEXTS[text]),
                _ => chat.system(at, TEXTS[text]),
            };
        }
        let mut last = at;
        if let Some((start, length)) = self.pause {
            let start = i64::from(start);
            chat = chat
                .status(start, pb::InteractionStatus::PendingCustomer)
                .status(start + i64::from(length), pb::InteractionStatus::Open);
            last = last.max(start + i64::from(length));
        }
        if let Some(delay) = self.resolution_delay {
            // Status changes must be in time order: resolve after the pause, if any.
            let resolved = self
                .pause
                .map_or(0, |(start, length)| i64::from(start + length))
                + i64::from(delay);
            chat = chat.resolved(resolved);
            last = last.max(resolved);
        }
        for (index, (due, fulfilled)) in self.commitments.iter().enumerate() {
            chat = chat.commitment(
                &format!("c{index}"),
                i64::from(*due),
                fulfilled.map(i64::from),
            );
            last = last.max(fulfilled.map_or(0, i64::from));
        }
        if let Some((expectation, perception)) = self.survey {
            chat = chat.survey(expectation, perception);
        }
        (chat, last + i64::from(self.evaluation_delay))
    }

    fn standard(&self) -> CompiledStandard {
        if self.default_standard {
            default_standard()
        } else {
            test_standard()
        }
    }
}

fn score(chat: &Chat, standard: &CompiledStandard, evaluation: i64) -> Scorecard {
    chat.score_with(standard, evaluation)
}

fn within_0_100(score: Option<Points>) -> bool {
    score.is_none_or(|score| (Points::ZERO..=Points::HUNDRED).contains(&score))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn every_score_is_within_0_and_100_and_scoring_is_deterministic(shape in shape()) {
        let (chat, evaluation) = shape.build();
        let standard = shape.standard();
        let first = score(&chat, &standard, evaluation);
        prop_assert!(within_0_100(first.politeness.score));
        prop_assert!(within_0_100(first.speed.score));
        prop_assert!(within_0_100(first.follow_through.score));
        prop_assert!(within_0_100(first.composite));
        prop_assert!(first.findings.iter().all(|finding| finding.points >= Points::ZERO));
        prop_assert_eq!(first.clone(), score(&chat, &standard, evaluation));
        prop_assert_eq!(first, score(&chat.clone(), &shape.standard(), evaluation));
    }

    #[test]
    fn a_forbidden_phrase_never_raises_politeness(shape in shape(), which in any::<prop::sample::Index>()) {
        let (chat, evaluation) = shape.build();
        let staff: Vec<usize> = chat.0.turns.iter().enumerate()
            .filter(|(_, turn)| turn.speaker == pb::Speaker::Staff as i32)
            .map(|(index, _)| index)
            .collect();
        prop_assume!(!staff.is_empty());
        let standard = shape.standard();
        let before = score(&chat, &standard, evaluation);
        let mut worse = chat.clone();
        let turn = &mut worse.0.turns[staff[which.index(staff.len())]];
        turn.text.push_str(" 这个不归我管");
        let after = score(&worse, &standard, evaluation);
        prop_assert!(after.politeness.score.map(Points::hundredths).unwrap_or(10_000)
            <= before.politeness.score.map(Points::hundredths).unwrap_or(10_000),
            "before {:?} after {:?}", before.politeness, after.politeness);
    }

    #[test]
    fn replying_sooner_never_lowers_speed(shape in shape(), which in any::<prop::sample::Index>(), fraction in 0.0..=1.0_f64) {
        let (chat, evaluation) = shape.build();
        let staff: Vec<usize> = chat.0.turns.iter().enumerate()
            .filter(|(_, turn)| turn.speaker == pb::Speaker::Staff as i32)
            .map(|(index, _)| index)
            .collect();
        prop_assume!(!staff.is_empty());
        let reply = staff[which.index(staff.len())];
        let at = |index: usize| chat.0.turns[index].at.unwrap().seconds;
        // Nothing may move before an event that stays put (turns and status changes keep
        // their order).
        let unmoved_status = chat.0.status_changes.iter()
            .map(|change| change.at.unwrap().seconds)
            .filter(|&seconds| seconds < at(reply))
            .max()
            .unwrap_or(OPENED);
        let floor = if reply == 0 { OPENED } else { at(reply - 1) }.max(unmoved_status);
        let shift = ((at(reply) - floor) as f64 * fraction) as i64;
        prop_assume!(shift > 0);
        // The reply and everything after it happen `shift` seconds sooner.
        let cutoff = at(reply);
        let mut sooner = chat.clone();
        let earlier = |timestamp: &mut Option<prost_types::Timestamp>| {
            if let Some(timestamp) = timestamp.as_mut().filter(|timestamp| timestamp.seconds >= cutoff) {
                timestamp.seconds -= shift;
            }
        };
        for turn in &mut sooner.0.turns[reply..] {
            earlier(&mut turn.at);
        }
        for change in &mut sooner.0.status_changes {
            earlier(&mut change.at);
        }
        let standard = shape.standard();
        let before = score(&chat, &standard, evaluation);
        let after = score(&sooner, &standard, evaluation);
        prop_assert!(after.speed.score.map(Points::hundredths).unwrap_or(10_000)
            >= before.speed.score.map(Points::hundredths).unwrap_or(10_000),
            "before {:?} {:?} after {:?} {:?}", before.speed, before.speed_metrics, after.speed, after.speed_metrics);
    }

    #[test]
    fn fulfilling_a_commitment_never_lowers_follow_through(shape in shape(), which in any::<prop::sample::Index>(), when in 0..200_000_i64) {
        let (chat, evaluation) = shape.build();
        let open: Vec<usize> = chat.0.commitments.iter().enumerate()
            .filter(|(_, commitment)| commitment.fulfilled_at.is_none())
            .map(|(index, _)| index)
            .collect();
        prop_assume!(!open.is_empty());
        let mut kept = chat.clone();
        kept.0.commitments[open[which.index(open.len())]].fulfilled_at = Some(ts(when.min(evaluation)));
        let standard = shape.standard();
        let before = score(&chat, &standard, evaluation);
        let after = score(&kept, &standard, evaluation);
        prop_assert!(after.follow_through.score >= before.follow_through.score,
            "before {:?} after {:?}", before.follow_through, after.follow_through);
    }
}
