//! The rollup fields derived from additive day sums when read: means, clear rate, carry-over,
//! day-over-day progress (日清日高), streak and outcome (日清). Every comparison is made on
//! exact integers (hundredths and basis points), so a rollup never flips on a rounding error.

use jiff::civil::Date;

use crate::domain::points::{Points, div_round};
use crate::domain::team::{BasisPoints, DailyTargets};
use crate::proto::v1 as pb;

use super::sums::DaySums;

/// What a day's progress is measured against: the latest earlier day with scored
/// interactions, and the improvement streak that ended on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The previous scored day and its sums.
    pub previous: Option<(Date, DaySums)>,
    /// The streak of the previous scored day.
    pub streak: i64,
}

impl Progress {
    /// The progress after `date` with `sums`, for the days that follow it.
    pub fn after(self, date: Date, sums: &DaySums, improvement: BasisPoints) -> Self {
        if sums.scored == 0 {
            return self;
        }
        let improved = self
            .previous
            .is_some_and(|(_, previous)| improved(sums, &previous, improvement));
        Self {
            previous: Some((date, *sums)),
            streak: if improved { self.streak + 1 } else { 0 },
        }
    }

    /// The progress for the day after the newest of `scored_days` (newest first, every one
    /// scored): that newest day is the previous one, and its streak is the run of improved
    /// pairs from it backwards. `None` when every pair in the list improved and the list is
    /// not the `complete` history (more of it is needed).
    pub fn from_latest(
        scored_days: &[(Date, DaySums)],
        improvement: BasisPoints,
        complete: bool,
    ) -> Option<Self> {
        let Some(&previous) = scored_days.first() else {
            return Some(Self::default());
        };
        let mut streak = 0;
        for pair in scored_days.windows(2) {
            if improved(&pair[0].1, &pair[1].1, improvement) {
                streak += 1;
            } else {
                return Some(Self {
                    previous: Some(previous),
                    streak,
                });
            }
        }
        // Every pair improved: the oldest day's own streak is unknown unless the list is the
        // whole history (then it had no previous day and its streak is 0).
        complete.then_some(Self {
            previous: Some(previous),
            streak,
        })
    }
}

/// Whether a day improved on the previous one: c ≥ p + g × (100 − p), compared exactly as
/// Cs·Pn·10⁴ ≥ Ps·Cn·(10⁴ − G) + G·10⁴·Cn·Pn (sums in hundredths, G in basis points).
pub fn improved(current: &DaySums, previous: &DaySums, improvement: BasisPoints) -> bool {
    if current.scored == 0 || previous.scored == 0 {
        return false;
    }
    let g = i128::from(improvement);
    let (cs, cn) = (
        i128::from(current.composite_sum),
        i128::from(current.scored),
    );
    let (ps, pn) = (
        i128::from(previous.composite_sum),
        i128::from(previous.scored),
    );
    cs * pn * 10_000 >= ps * cn * (10_000 - g) + g * 10_000 * cn * pn
}

/// `sum / count` in hundredths, rounded, as a decimal; `None` for no count.
fn mean(sum: i64, count: i64) -> Option<f64> {
    (count > 0)
        .then(|| Points::from_hundredths(div_round(sum.into(), count.into()) as i64).to_f64())
}

fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// Everything a day's rollup is derived from.
#[derive(Debug, Clone)]
pub struct DayInput<'a> {
    /// Team.
    pub team_id: &'a str,
    /// Staff member; empty for the team.
    pub staff_id: &'a str,
    /// The date.
    pub date: Date,
    /// The day's sums.
    pub sums: DaySums,
    /// Items carried into the day: the carry deltas of every earlier day.
    pub carried_in: i64,
    /// The team's local today: later days carry nothing yet.
    pub today: Date,
    /// Progress before the day.
    pub progress: Progress,
    /// The team's targets.
    pub targets: DailyTargets,
    /// When the team's day closed, if it did.
    pub close_time: Option<prost_types::Timestamp>,
    /// Changes to the day after it closed.
    pub changes_after_close: i64,
}

/// The rollup of one day (without the team ranking, which needs the staff rollups).
pub fn rollup(input: &DayInput<'_>) -> pb::DailyRollup {
    let sums = &input.sums;
    let carried_over = if input.date <= input.today {
        input.carried_in + sums.carry_delta
    } else {
        0
    };
    let (day_over_day, improved) = day_over_day(input);
    let (outcome, reasons) = outcome(input, improved);
    pb::DailyRollup {
        team_id: input.team_id.to_owned(),
        staff_id: input.staff_id.to_owned(),
        local_date: input.date.to_string(),
        interactions: sums.interactions,
        quality: Some(pb::QualitySummary {
            scored: sums.scored,
            mean_composite: mean(sums.composite_sum, sums.scored),
            mean_politeness: mean(sums.politeness_sum, sums.politeness_count),
            mean_speed: mean(sums.speed_sum, sums.speed_count),
            mean_follow_through: mean(sums.follow_through_sum, sums.follow_through_count),
            composite_sum_hundredths: sums.composite_sum,
            politeness_sum_hundredths: sums.politeness_sum,
            politeness_count: sums.politeness_count,
            speed_sum_hundredths: sums.speed_sum,
            speed_count: sums.speed_count,
            follow_through_sum_hundredths: sums.follow_through_sum,
            follow_through_count: sums.follow_through_count,
        }),
        grades: Some(pb::GradeCounts {
            excellent: sums.excellent,
            meets: sums.meets,
            below: sums.below,
            fail: sums.fail,
            ungraded: sums.ungraded,
        }),
        sla_breaches: sums.sla_breaches,
        complaints: sums.complaints,
        clearing: Some(pb::Clearing {
            items_due: sums.items_due,
            items_cleared: sums.items_cleared,
            clear_rate: ratio(sums.items_cleared, sums.items_due),
            carried_over,
        }),
        satisfaction: Some(pb::SatisfactionSummary {
            surveys: sums.surveys,
            mean_gap: ratio(sums.gap_sum, sums.surveys).map(round4),
            gap_sum: sums.gap_sum,
            satisfied: sums.satisfied,
            basic: sums.basic,
            unsatisfied: sums.unsatisfied,
            expectations_not_exceeded: sums.expectations_not_exceeded,
        }),
        day_over_day: Some(day_over_day),
        outcome: outcome as i32,
        reasons,
        close: Some(pb::DayCloseState {
            closed: input.close_time.is_some(),
            close_time: input.close_time,
            changes_after_close: input.changes_after_close,
        }),
        ranking: Vec::new(),
        provisional: sums.provisional,
    }
}

fn day_over_day(input: &DayInput<'_>) -> (pb::DayOverDay, bool) {
    let sums = &input.sums;
    let Some((previous_date, previous)) = input.progress.previous else {
        return (pb::DayOverDay::default(), false);
    };
    let g = i128::from(input.targets.improvement);
    let (ps, pn) = (
        i128::from(previous.composite_sum),
        i128::from(previous.scored),
    );
    // p + g × (100 − p) in hundredths, over Pn·10⁴.
    let threshold = (ps * (10_000 - g) + g * 10_000 * pn) as f64 / (pn * 10_000) as f64 / 100.0;
    let mut result = pb::DayOverDay {
        previous_date: previous_date.to_string(),
        previous_mean_composite: mean(previous.composite_sum, previous.scored),
        delta: None,
        improvement_threshold: Some(round4(threshold)),
        improved: false,
        streak: 0,
    };
    if sums.scored > 0 {
        let (cs, cn) = (i128::from(sums.composite_sum), i128::from(sums.scored));
        let delta = div_round(cs * pn - ps * cn, cn * pn) as i64;
        result.delta = Some(Points::from_hundredths(delta).to_f64());
        result.improved = improved(sums, &previous, input.targets.improvement);
        if result.improved {
            result.streak = input.progress.streak + 1;
        }
    }
    let improved = result.improved;
    (result, improved)
}

fn outcome(input: &DayInput<'_>, improved: bool) -> (pb::Outcome, Vec<pb::OutcomeReason>) {
    let sums = &input.sums;
    if !sums.has_activity() {
        return (
            pb::Outcome::NoActivity,
            vec![pb::OutcomeReason {
                target: pb::OutcomeTarget::Activity as i32,
                met: false,
                actual: 0.0,
                required: 1.0,
                message: "no interaction and no item due on this day".to_owned(),
            }],
        );
    }
    let targets = &input.targets;
    let mut reasons = Vec::new();
    let mut missed = false;
    if sums.scored > 0 {
        let target = targets.composite.hundredths();
        let met = sums.composite_sum >= target * sums.scored;
        let actual = mean(sums.composite_sum, sums.scored).unwrap_or_default();
        missed |= !met;
        reasons.push(pb::OutcomeReason {
            target: pb::OutcomeTarget::Composite as i32,
            met,
            actual,
            required: targets.composite.to_f64(),
            message: format!(
                "mean composite {actual:.2} is {} the target {}",
                if met { "at or above" } else { "below" },
                targets.composite
            ),
        });
    }
    if sums.items_due > 0 {
        let target = i64::from(targets.clear_rate);
        let met = sums.items_cleared * 10_000 >= target * sums.items_due;
        let actual = ratio(sums.items_cleared, sums.items_due).unwrap_or_default();
        missed |= !met;
        reasons.push(pb::OutcomeReason {
            target: pb::OutcomeTarget::ClearRate as i32,
            met,
            actual,
            required: f64::from(targets.clear_rate) / 10_000.0,
            message: format!(
                "{} of {} items due were cleared on time ({:.1} %), {} the target {:.1} %",
                sums.items_cleared,
                sums.items_due,
                actual * 100.0,
                if met { "at or above" } else { "below" },
                f64::from(targets.clear_rate) / 100.0
            ),
        });
    }
    if sums.scored > 0 {
        let (actual, required, message) = match input.progress.previous {
            Some((date, previous)) => {
                let threshold = (i128::from(previous.composite_sum)
                    * (10_000 - i128::from(targets.improvement))
                    + i128::from(targets.improvement) * 10_000 * i128::from(previous.scored))
                    as f64
                    / (i128::from(previous.scored) * 10_000) as f64
                    / 100.0;
                let actual = mean(sums.composite_sum, sums.scored).unwrap_or_default();
                (
                    actual,
                    round4(threshold),
                    format!(
                        "mean composite {actual:.2} {} the improvement threshold {:.2} over {date}",
                        if improved { "reached" } else { "did not reach" },
                        threshold
                    ),
                )
            }
            None => (
                mean(sums.composite_sum, sums.scored).unwrap_or_default(),
                0.0,
                "no earlier day with scored interactions to improve on".to_owned(),
            ),
        };
        reasons.push(pb::OutcomeReason {
            target: pb::OutcomeTarget::Improvement as i32,
            met: improved,
            actual,
            required,
            message,
        });
    }
    let outcome = if missed {
        pb::Outcome::Missed
    } else if improved {
        pb::Outcome::Exceeded
    } else {
        pb::Outcome::Met
    };
    (outcome, reasons)
}

/// Ranks staff rollups of one day, best first: mean composite, then clear rate, then
/// interactions (more first), then staff id. Equal mean and clear rate share a rank.
pub fn ranking(staff: &[pb::DailyRollup]) -> Vec<pb::RankingEntry> {
    let key = |rollup: &pb::DailyRollup| {
        let quality = rollup.quality.as_ref();
        let clearing = rollup.clearing.as_ref();
        (
            quality.map_or(0, |quality| quality.scored),
            quality.map_or(0, |quality| quality.composite_sum_hundredths),
            clearing.map_or(0, |clearing| clearing.items_due),
            clearing.map_or(0, |clearing| clearing.items_cleared),
        )
    };
    let mut sorted: Vec<&pb::DailyRollup> = staff.iter().collect();
    sorted.sort_by(|a, b| {
        let (an, asum, adue, aclear) = key(a);
        let (bn, bsum, bdue, bclear) = key(b);
        compare_means(bsum, bn, asum, an)
            .then_with(|| compare_means(bclear, bdue, aclear, adue))
            .then_with(|| b.interactions.cmp(&a.interactions))
            .then_with(|| a.staff_id.cmp(&b.staff_id))
    });
    let mut entries: Vec<pb::RankingEntry> = Vec::with_capacity(sorted.len());
    for (index, rollup) in sorted.iter().enumerate() {
        let rank = match index.checked_sub(1).map(|previous| sorted[previous]) {
            Some(previous)
                if {
                    let (pn, psum, pdue, pclear) = key(previous);
                    let (n, sum, due, clear) = key(rollup);
                    compare_means(psum, pn, sum, n).is_eq()
                        && compare_means(pclear, pdue, clear, due).is_eq()
                } =>
            {
                entries[index - 1].rank
            }
            _ => index as i32 + 1,
        };
        entries.push(pb::RankingEntry {
            rank,
            staff_id: rollup.staff_id.clone(),
            interactions: rollup.interactions,
            mean_composite: rollup
                .quality
                .as_ref()
                .and_then(|quality| quality.mean_composite),
            clear_rate: rollup
                .clearing
                .as_ref()
                .and_then(|clearing| clearing.clear_rate),
            outcome: rollup.outcome,
        });
    }
    entries
}

/// Compares a/an with b/bn exactly; a mean over no count is below every other.
pub fn compare_means(a: i64, an: i64, b: i64, bn: i64) -> std::cmp::Ordering {
    match (an > 0, bn > 0) {
        (false, false) => std::cmp::Ordering::Equal,
        (false, true) => std::cmp::Ordering::Less,
        (true, false) => std::cmp::Ordering::Greater,
        (true, true) => (i128::from(a) * i128::from(bn)).cmp(&(i128::from(b) * i128::from(an))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(composite_sum: i64, scored: i64) -> DaySums {
        DaySums {
            interactions: scored,
            scored,
            composite_sum,
            ..Default::default()
        }
    }

    #[test]
    fn improvement_closes_a_share_of_the_gap_exactly() {
        // p = 80, g = 5 %: threshold 81.
        assert!(improved(&day(8_100, 1), &day(8_000, 1), 500));
        assert!(!improved(&day(8_099, 1), &day(8_000, 1), 500));
        // Means, not sums: 2 × 81 over 1 × 80.
        assert!(improved(&day(16_200, 2), &day(8_000, 1), 500));
        // A perfect previous day needs a perfect day.
        assert!(!improved(&day(9_999, 1), &day(10_000, 1), 500));
        assert!(improved(&day(10_000, 1), &day(10_000, 1), 500));
    }

    #[test]
    fn progress_before_the_newest_day_walks_back_to_the_first_miss() {
        let date = |d: i8| jiff::civil::date(2026, 11, d);
        // Newest first: 23 (90) ← 22 (85) ← 21 (80) ← 20 (90).
        let days = [
            (date(23), day(9_000, 1)),
            (date(22), day(8_500, 1)),
            (date(21), day(8_000, 1)),
            (date(20), day(9_000, 1)),
        ];
        let progress = Progress::from_latest(&days, 500, false).unwrap();
        assert_eq!(progress.previous.unwrap().0, date(23));
        // 23 improved on 22, 22 on 21; 21 did not improve on 20.
        assert_eq!(progress.streak, 2);
        // Without the miss in view, more history is needed unless it is the whole history.
        assert_eq!(Progress::from_latest(&days[..3], 500, false), None);
        assert_eq!(
            Progress::from_latest(&days[..3], 500, true).unwrap().streak,
            2
        );
        // Walking forward gives the same answer.
        let mut forward = Progress::default();
        for (date, sums) in days.iter().rev() {
            forward = forward.after(*date, sums, 500);
        }
        assert_eq!(forward, progress);
    }
}
