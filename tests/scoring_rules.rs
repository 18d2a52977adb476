//! Table-driven scoring rules against a standard with round numbers
//! (tests/data/test-standard.toml): Chinese, English and mixed text.

mod common;

use common::scoring::{chat, hundredths, rules};
use servscore::domain::scorecard::{Evidence, Grade, SatisfactionLevel, ScorecardStatus};
use servscore::proto::v1::{InteractionStatus, Tier};

#[test]
fn a_good_chat_scores_100_on_every_dimension() {
    let scorecard = chat()
        .customer(0, "您好，我的快递还没到")
        .staff(30, "您好，我帮您查一下")
        .customer(60, "好的")
        .staff(90, "已经在派送了，再见")
        .resolved(100)
        .score();
    assert_eq!(rules(&scorecard), Vec::<&str>::new());
    assert_eq!(hundredths(scorecard.politeness.score), 10_000);
    assert_eq!(hundredths(scorecard.speed.score), 10_000);
    assert_eq!(hundredths(scorecard.follow_through.score), 10_000);
    assert_eq!(hundredths(scorecard.composite), 10_000);
    assert_eq!(scorecard.grade, Grade::Excellent);
    assert_eq!(scorecard.status, ScorecardStatus::Final);
}

#[test]
fn greeting_in_the_first_staff_turn() {
    // (first staff turn, greeting found)
    let table = [
        ("您好，请问有什么可以帮您", true),
        ("Hello, how can I help?", true),
        ("Hi张先生，您的订单在路上", true),
        ("ＨＥＬＬＯ，我看一下", true),
        ("hi!", true),
        ("This is about your order", false), // "hi" inside "This"
        ("Thinking about it", false),
        ("sushi is ready", false), // "hi" ending a longer word
        ("我看一下订单", false),
        ("Hel", false), // "Hello" split across turns (the next turn is "lo there")
    ];
    for (text, greeted) in table {
        let scorecard = chat()
            .customer(0, "?")
            .staff(10, text)
            .staff(20, "lo there")
            .score();
        let missing = rules(&scorecard).contains(&"greeting");
        assert_eq!(!missing, greeted, "{text:?}: {:?}", scorecard.findings);
        let expected = if greeted { 10_000 } else { 9_000 };
        assert_eq!(hundredths(scorecard.politeness.score), expected, "{text:?}");
    }
}

#[test]
fn the_close_is_required_in_the_last_staff_turn_once_resolved() {
    let open = chat()
        .customer(0, "?")
        .staff(10, "您好")
        .staff(20, "马上处理");
    assert!(
        !rules(&open.score()).contains(&"close"),
        "not judged while open"
    );
    let resolved = open.clone().resolved(30).score();
    assert_eq!(rules(&resolved), vec!["close"]);
    let closed = open.staff(25, "处理好了，Thank you!").resolved(30).score();
    assert!(!rules(&closed).contains(&"close"));
    // The close in an earlier turn does not count for the last.
    let early = chat()
        .customer(0, "?")
        .staff(10, "hello, goodbye")
        .staff(20, "done")
        .resolved(30)
        .score();
    assert_eq!(rules(&early), vec!["close"]);
}

#[test]
fn forbidden_phrases_deduct_per_hit_and_critical_ones_fail() {
    // (staff text after a greeting, politeness, grade is FAIL)
    let table = [
        ("这个不归我管", 7_500, false),
        ("That's not my job.", 7_500, false),
        ("ＮＯＴ　ＭＹ　ＪＯＢ", 7_500, false),
        ("滚", 7_500, false),
        ("你给我滚开", 10_000 - 2_500, true), // "滚" inside "滚开" counts once, as the critical hit
        ("whatever", 9_500, false),           // a phrase with its own points
        ("Whatever, not my job", 7_000, false),
        ("不归我管，不归我管", 5_000, false), // each hit deducts
        ("that is stupid", 7_500, true),
        ("stupidly priced", 10_000, false), // word boundary
        ("一切正常", 10_000, false),
    ];
    for (text, politeness, fails) in table {
        let scorecard = chat()
            .customer(0, "?")
            .staff(10, "您好")
            .staff(20, text)
            .score();
        assert_eq!(
            hundredths(scorecard.politeness.score),
            politeness,
            "{text:?}: {:?}",
            scorecard.findings
        );
        assert_eq!(scorecard.grade == Grade::Fail, fails, "{text:?}");
        if fails {
            assert_eq!(
                hundredths(scorecard.composite),
                0,
                "a critical finding zeroes the composite"
            );
            assert!(scorecard.findings.iter().any(|finding| finding.critical));
        }
    }
}

#[test]
fn forbidden_phrase_evidence_points_into_the_original_text() {
    let scorecard = chat()
        .customer(0, "?")
        .staff(10, "Hello")
        .staff(20, "抱歉，ＮＯＴ ＭＹ ＪＯＢ。")
        .score();
    let finding = &scorecard.findings[0];
    assert_eq!(finding.rule_id, "no-rudeness");
    let Evidence::Text {
        turn_index,
        start,
        end,
        snippet,
        phrase,
        ..
    } = &finding.evidence
    else {
        panic!("text evidence expected: {finding:?}");
    };
    assert_eq!((*turn_index, *start, *end), (2, 3, 13));
    assert_eq!(snippet, "ＮＯＴ ＭＹ ＪＯＢ");
    assert_eq!(phrase, "not my job");
}

#[test]
fn a_complaint_needs_an_apology_in_the_next_staff_turn() {
    // (customer turn, next staff turn, deduction expected)
    let table = [
        ("我要投诉你们", "您好，非常抱歉给您添麻烦了", false),
        ("我很不满意", "您好，对不起", false),
        ("I am angry about this", "Hello, I'm sorry", false),
        ("I am angry about this", "Hello, let me check", true),
        ("我要投诉", "您好，请提供订单号", true),
        ("我要投", "您好，请提供订单号", false), // "投诉" split across turns never triggers
    ];
    for (customer, staff, deducted) in table {
        let scorecard = chat()
            .customer(0, customer)
            .customer(1, "诉")
            .staff(10, staff)
            .score();
        assert_eq!(
            rules(&scorecard).contains(&"apologise"),
            deducted,
            "{customer:?} / {staff:?}"
        );
    }
    // Not judged while the conversation goes on and no staff turn followed yet.
    let waiting = chat()
        .customer(0, "hi")
        .staff(10, "您好")
        .customer(20, "我要投诉")
        .score();
    assert!(!rules(&waiting).contains(&"apologise"));
}

#[test]
fn first_reply_time_is_linear_between_target_and_limit() {
    // (seconds to the first reply, speed score)
    let table = [
        (30, 10_000),
        (60, 10_000),
        (120, 7_500),
        (180, 5_000),
        (300, 0),
        (400, 0),
    ];
    for (reply, speed) in table {
        let scorecard = chat().customer(0, "?").staff(reply, "您好").score();
        assert_eq!(
            hundredths(scorecard.speed.score),
            speed,
            "reply after {reply}s"
        );
        assert_eq!(
            scorecard.sla_breaches,
            u32::from(reply > 60),
            "reply after {reply}s"
        );
        assert_eq!(rules(&scorecard).contains(&"speed.first_reply"), reply > 60);
    }
}

#[test]
fn first_reply_runs_from_opened_at_when_the_customer_opened_without_a_turn() {
    let scorecard = chat()
        .staff(120, "您好")
        .customer(130, "?")
        .staff(140, "ok")
        .score();
    assert_eq!(scorecard.speed_metrics.first_reply.unwrap().as_secs(), 120);
    // Staff-initiated: the first reply waits on the first customer turn.
    let outbound = chat()
        .staff_initiated()
        .staff(5, "您好")
        .customer(20, "?")
        .staff(80, "ok")
        .score();
    assert_eq!(outbound.speed_metrics.first_reply.unwrap().as_secs(), 60);
}

#[test]
fn next_reply_is_the_worst_wait_and_system_turns_are_ignored() {
    let scorecard = chat()
        .customer(0, "?")
        .staff(10, "您好")
        .customer(100, "a")
        .system(110, "auto-reply: we are busy")
        .customer(150, "b")
        .staff(400, "c")
        .customer(500, "d")
        .staff(520, "e")
        .score();
    assert_eq!(scorecard.speed_metrics.next_reply.unwrap().as_secs(), 300);
    // FRT 100, NRT (600-300)/480 = 62.50, longest update gap 390 s (under 600) = 100.
    assert_eq!(hundredths(scorecard.speed.score), 8_750);
}

#[test]
fn resolution_time_pauses_while_pending_on_the_customer() {
    let base = chat().customer(0, "?").staff(10, "您好");
    let paused = base
        .clone()
        .status(1_000, InteractionStatus::PendingCustomer)
        .status(5_000, InteractionStatus::Open)
        .resolved(6_000)
        .score();
    assert_eq!(paused.speed_metrics.resolution.unwrap().as_secs(), 2_000);
    assert_eq!(hundredths(paused.speed.score), 10_000);
    let running = base.resolved(6_000).score();
    assert_eq!(running.speed_metrics.resolution.unwrap().as_secs(), 6_000);
    // (FRT 100 + resolution 33.33) / 2.
    assert_eq!(hundredths(running.speed.score), 6_667);
}

#[test]
fn commitment_credits() {
    let asked = chat().customer(0, "?").staff(10, "您好，我明天回复您");
    // (commitments as (due, fulfilled), follow-through, provisional)
    type Commitments<'a> = &'a [(i64, Option<i64>)];
    let table: [(Commitments, i64, bool); 6] = [
        (&[(3_600, Some(3_000))], 10_000, false),
        (&[(3_600, Some(7_200))], 7_500, false), // 1 h late of a 4 h late limit
        (&[(3_600, Some(3_600 + 14_400))], 0, false), // at the late limit
        (&[(3_600, None)], 0, false),            // overdue at evaluation time
        (&[(200_000, None)], 10_000, true),      // not yet due: pending
        (&[(3_600, Some(3_000)), (3_600, Some(7_200))], 8_750, false),
    ];
    for (commitments, expected, provisional) in table {
        let mut interaction = asked.clone();
        for (index, (due, fulfilled)) in commitments.iter().enumerate() {
            interaction = interaction.commitment(&format!("c{index}"), *due, *fulfilled);
        }
        let scorecard = interaction.score();
        assert_eq!(
            hundredths(scorecard.follow_through.score),
            expected,
            "{commitments:?}"
        );
        assert_eq!(
            scorecard.status == ScorecardStatus::Provisional,
            provisional,
            "{commitments:?}"
        );
    }
    let pending = asked.commitment("later", 200_000, None).score();
    assert_eq!(
        pending.next_due,
        Some(jiff::Timestamp::from_second(common::scoring::OPENED + 200_000).unwrap())
    );
}

#[test]
fn an_unanswered_question_is_pending_until_resolution_or_the_reply_limit() {
    let asked_again = chat()
        .customer(0, "?")
        .staff(10, "您好")
        .customer(100, "还有一个问题");
    let standard = common::scoring::test_standard();
    // Within the next-reply limit (600 s after turn 2): pending.
    let early = asked_again.score_with(&standard, 300);
    assert_eq!(hundredths(early.follow_through.score), 10_000);
    assert_eq!(early.status, ScorecardStatus::Provisional);
    assert_eq!(
        early.next_due,
        Some(jiff::Timestamp::from_second(common::scoring::OPENED + 700).unwrap())
    );
    // Past the limit: a deduction.
    let late = asked_again.score_with(&standard, 700);
    assert_eq!(hundredths(late.follow_through.score), 8_000);
    assert!(rules(&late).contains(&"follow_through.unanswered"));
    // Resolved without an answer: a deduction at once.
    let resolved = asked_again.resolved(200).score_with(&standard, 300);
    assert_eq!(hundredths(resolved.follow_through.score), 8_000);
    // A first question nobody answered uses the first-reply limit (300 s).
    let never = chat().customer(0, "在吗？").score_with(&standard, 100);
    assert_eq!(
        never.next_due,
        Some(jiff::Timestamp::from_second(common::scoring::OPENED + 300).unwrap())
    );
}

#[test]
fn a_complaint_closes_its_loop() {
    let complaint = chat()
        .complaint()
        .customer(0, "我要投诉")
        .staff(10, "您好，非常抱歉")
        .resolved(100);
    let standard = common::scoring::test_standard();
    let open_window = complaint.score_with(&standard, 3_600);
    assert_eq!(
        rules(&open_window),
        vec![
            "close",
            "follow_through.complaint.resolution",
            "follow_through.complaint.confirmation"
        ]
    );
    assert_eq!(hundredths(open_window.follow_through.score), 8_000);
    assert_eq!(
        open_window.status,
        ScorecardStatus::Provisional,
        "the callback window is open"
    );
    let closed_window = complaint.score_with(&standard, 100 + 86_400);
    assert_eq!(hundredths(closed_window.follow_through.score), 7_000);
    assert_eq!(closed_window.status, ScorecardStatus::Final);

    let mut done = complaint.clone();
    done.0.complaint = Some(servscore::proto::v1::ComplaintLoop {
        resolution_recorded_at: Some(common::scoring::ts(90)),
        resolution_summary: "refunded".to_owned(),
        customer_confirmed_at: Some(common::scoring::ts(95)),
        callback_at: Some(common::scoring::ts(3_000)),
    });
    let done = done.score_with(&standard, 90_000);
    assert_eq!(hundredths(done.follow_through.score), 10_000);
    // An unresolved complaint is pending.
    let unresolved = chat()
        .complaint()
        .customer(0, "投诉")
        .staff(10, "您好，抱歉")
        .score();
    assert_eq!(unresolved.status, ScorecardStatus::Provisional);
}

#[test]
fn hand_offs_and_reopenings_are_deducted() {
    let handed = chat()
        .customer(0, "?")
        .staff(10, "您好")
        .staff_as("bob", 20, "我来接手")
        .staff(30, "我回来了")
        .score();
    assert_eq!(
        rules(&handed),
        vec!["follow_through.hand_off", "follow_through.hand_off"]
    );
    assert_eq!(hundredths(handed.follow_through.score), 9_000);
    // A small customer's cell would not require a dedicated owner; the test standard does
    // for every tier, so check the default standard's matrix instead.
    let default = common::scoring::default_standard();
    let small = chat()
        .tier(Tier::Small)
        .customer(0, "?")
        .staff(10, "您好")
        .staff_as("bob", 20, "我来接手")
        .score_with(&default, 100);
    assert!(!rules(&small).contains(&"follow_through.hand_off"));

    let reopened = chat()
        .customer(0, "?")
        .staff(10, "您好，再见")
        .resolved(100)
        .status(200, InteractionStatus::Reopened)
        .resolved(300)
        .score();
    assert_eq!(rules(&reopened), vec!["follow_through.reopen"]);
    assert_eq!(hundredths(reopened.follow_through.score), 8_500);
    // Time resolved before the reopening is not resolution time.
    assert_eq!(reopened.speed_metrics.resolution.unwrap().as_secs(), 200);
}

#[test]
fn a_dimension_without_anything_to_judge_is_left_out_of_the_composite() {
    // A call logged without a transcript: politeness does not apply.
    let call = chat().customer(0, "").staff(180, "").score();
    assert_eq!(call.politeness.score, None);
    assert_eq!(
        call.politeness.not_applicable_reason,
        "no staff turn has text"
    );
    // Speed 50 (weight 1) and follow-through 100 (weight 2): (50 + 200) / 3.
    assert_eq!(hundredths(call.composite), 8_333);
    assert_eq!(call.grade, Grade::Meets);
    // An outbound message nobody answered: no customer turn, no commitment, not a complaint.
    let outbound = chat()
        .staff_initiated()
        .staff(0, "您好，您的包裹已发出")
        .score();
    assert_eq!(outbound.follow_through.score, None);
    assert_eq!(outbound.speed.score, None);
    assert_eq!(hundredths(outbound.composite), 10_000, "politeness alone");
}

#[test]
fn servqual_satisfaction_sits_beside_the_composite() {
    let base = chat().customer(0, "?").staff(10, "您好").resolved(20);
    let satisfied = base.clone().survey(3, 4).score();
    let satisfaction = satisfied.satisfaction.unwrap();
    assert_eq!(
        (satisfaction.survey.gap(), satisfaction.level),
        (1, SatisfactionLevel::Satisfied)
    );
    assert!(!satisfaction.expectation_not_exceeded);
    let basic = base.clone().survey(4, 4).score();
    assert_eq!(basic.satisfaction.unwrap().level, SatisfactionLevel::Basic);
    assert!(
        basic.satisfaction.unwrap().expectation_not_exceeded,
        "the test cell requires 超常服务"
    );
    assert!(rules(&basic).contains(&"satisfaction.expectation_not_exceeded"));
    assert_eq!(basic.composite, satisfied.composite, "no points");
    let unsatisfied = base.survey(5, 2).score();
    assert_eq!(
        unsatisfied.satisfaction.unwrap().level,
        SatisfactionLevel::Unsatisfied
    );
}

#[test]
fn due_items_put_commitments_and_the_resolution_deadline_on_the_clearing_sheet() {
    let scorecard = chat()
        .customer(0, "?")
        .staff(10, "您好")
        .commitment("callback", 7_200, Some(7_000))
        .resolved(5_000)
        .score();
    let items: Vec<_> = scorecard
        .due_items
        .iter()
        .map(|item| {
            (
                item.reference.as_str(),
                item.local_date.to_string(),
                item.cleared,
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![
            ("callback", "2026-11-23".to_owned(), true),
            ("", "2026-11-23".to_owned(), false)
        ]
    );
    assert_eq!(
        scorecard.due_items[1].deadline,
        jiff::Timestamp::from_second(common::scoring::OPENED + 3_600).unwrap(),
        "the resolution target is 1 h"
    );
}

#[test]
fn business_hours_stop_the_clock_overnight() {
    use servscore::domain::calendar::{BusinessCalendar, OpeningPeriod, WorkingTime};
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let day = vec![OpeningPeriod {
        start_minute: 9 * 60,
        end_minute: 18 * 60,
    }];
    let calendar = BusinessCalendar::new(
        zone.clone(),
        std::array::from_fn(|weekday| if weekday < 5 { day.clone() } else { vec![] }),
        Default::default(),
    );
    let working_time = WorkingTime::Business(std::sync::Arc::new(calendar));
    // Opened Monday 10:00 Shanghai; asked at 17:55, answered Tuesday 09:05: 10 business minutes.
    let asked = 7 * 3_600 + 55 * 60;
    let answered = 23 * 3_600 + 5 * 60;
    let scorecard = chat()
        .staff(0, "您好")
        .customer(asked, "?")
        .staff(answered, "ok")
        .score_in(
            &common::scoring::test_standard(),
            90_000,
            &working_time,
            &zone,
        );
    assert_eq!(scorecard.speed_metrics.next_reply.unwrap().as_secs(), 600);
    assert_eq!(scorecard.local_date.to_string(), "2026-11-23");
}
