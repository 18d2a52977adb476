//! The additive sums of one staff member's day, and the contribution one stored scorecard
//! makes to them. Rollups keep only these sums per (team, staff, date); means, rates,
//! carry-over, day-over-day, streaks and outcomes are derived when read, so a rollup always
//! equals the recomputation from the stored scorecards.

use std::collections::BTreeMap;
use std::ops::{AddAssign, Neg};

use jiff::civil::Date;

use crate::proto::v1 as pb;

macro_rules! day_sums {
    ($($field:ident),* $(,)?) => {
        /// Additive sums of one (team, staff member, local date). Scores in hundredths.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct DaySums {
            $(
                #[allow(missing_docs)]
                pub $field: i64,
            )*
        }

        impl DaySums {
            /// Column names, in [`DaySums::to_array`] order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The sums in [`DaySums::FIELDS`] order.
            pub fn to_array(&self) -> [i64; Self::FIELDS.len()] {
                [$(self.$field),*]
            }

            /// From values in [`DaySums::FIELDS`] order.
            pub fn from_array(values: [i64; Self::FIELDS.len()]) -> Self {
                let [$($field),*] = values;
                Self { $($field),* }
            }
        }

        impl AddAssign for DaySums {
            fn add_assign(&mut self, other: Self) {
                $(self.$field += other.$field;)*
            }
        }

        impl Neg for DaySums {
            type Output = Self;
            fn neg(self) -> Self {
                Self { $($field: -self.$field),* }
            }
        }
    };
}

day_sums!(
    interactions,
    scored,
    composite_sum,
    politeness_sum,
    politeness_count,
    speed_sum,
    speed_count,
    follow_through_sum,
    follow_through_count,
    excellent,
    meets,
    below,
    fail,
    ungraded,
    provisional,
    sla_breaches,
    complaints,
    surveys,
    gap_sum,
    satisfied,
    basic,
    unsatisfied,
    expectations_not_exceeded,
    items_due,
    items_cleared,
    carry_delta,
);

/// Number of sums in a [`DaySums`].
pub const SUM_COUNT: usize = DaySums::FIELDS.len();

impl DaySums {
    /// Whether every sum is zero.
    pub fn is_zero(&self) -> bool {
        self.to_array().iter().all(|value| *value == 0)
    }

    /// Whether anything happened on the day (an interaction or an item due).
    pub fn has_activity(&self) -> bool {
        self.interactions > 0 || self.items_due > 0
    }
}

/// What one scorecard adds to its staff member's days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contribution {
    /// The team at ingest.
    pub team_id: String,
    /// The owning staff member.
    pub staff_id: String,
    /// Sums by local date: the opened date carries the quality; due dates carry items; the
    /// days after a due date carry the carry-over deltas.
    pub days: BTreeMap<Date, DaySums>,
}

fn score_hundredths(score: Option<&pb::DimensionScore>) -> Option<i64> {
    let score = score?;
    score
        .applicable
        .then(|| (score.score.unwrap_or_default() * 100.0).round() as i64)
}

fn parse(date: &str) -> Option<Date> {
    date.parse().ok()
}

impl Contribution {
    /// The contribution of a stored scorecard. Uses only what the scorecard records (its
    /// team, staff, local dates and scores), never the current team settings, so it can be
    /// recomputed at any time.
    pub fn of(scorecard: &pb::Scorecard) -> Self {
        let mut days: BTreeMap<Date, DaySums> = BTreeMap::new();
        if let Some(opened) = parse(&scorecard.local_date) {
            let day = days.entry(opened).or_default();
            day.interactions += 1;
            if let Some(composite) = scorecard.composite {
                day.scored += 1;
                day.composite_sum += (composite * 100.0).round() as i64;
            }
            let dimensions = [
                (
                    score_hundredths(scorecard.politeness.as_ref()),
                    &mut day.politeness_sum,
                    0,
                ),
                (
                    score_hundredths(scorecard.speed.as_ref()),
                    &mut day.speed_sum,
                    1,
                ),
                (
                    score_hundredths(scorecard.follow_through.as_ref()),
                    &mut day.follow_through_sum,
                    2,
                ),
            ];
            let mut counts = [0_i64; 3];
            for (score, sum, index) in dimensions {
                if let Some(score) = score {
                    *sum += score;
                    counts[index] += 1;
                }
            }
            day.politeness_count += counts[0];
            day.speed_count += counts[1];
            day.follow_through_count += counts[2];
            match pb::Grade::try_from(scorecard.grade) {
                Ok(pb::Grade::Excellent) => day.excellent += 1,
                Ok(pb::Grade::Meets) => day.meets += 1,
                Ok(pb::Grade::Below) => day.below += 1,
                Ok(pb::Grade::Fail) => day.fail += 1,
                _ => day.ungraded += 1,
            }
            if scorecard.status == pb::ScorecardStatus::Provisional as i32 {
                day.provisional += 1;
            }
            day.sla_breaches += i64::from(scorecard.sla_breaches);
            if scorecard.kind == pb::InteractionKind::Complaint as i32 {
                day.complaints += 1;
            }
            if let Some(satisfaction) = scorecard.satisfaction.as_ref().filter(|s| s.surveyed) {
                day.surveys += 1;
                day.gap_sum += i64::from(satisfaction.gap);
                match satisfaction.gap {
                    gap if gap > 0 => day.satisfied += 1,
                    0 => day.basic += 1,
                    _ => day.unsatisfied += 1,
                }
                if satisfaction.expectation_not_exceeded {
                    day.expectations_not_exceeded += 1;
                }
            }
        }
        for item in &scorecard.due_items {
            let Some(due) = parse(&item.local_date) else {
                continue;
            };
            let day = days.entry(due).or_default();
            day.items_due += 1;
            if item.cleared {
                day.items_cleared += 1;
            }
            // Carried over from the day after its due date through the day it is done.
            let done = parse(&item.done_local_date);
            if done.is_some_and(|done| done <= due) {
                continue;
            }
            if let Ok(next) = due.tomorrow() {
                days.entry(next).or_default().carry_delta += 1;
            }
            if let Some(after_done) = done.and_then(|done| done.tomorrow().ok()) {
                days.entry(after_done).or_default().carry_delta -= 1;
            }
        }
        days.retain(|_, sums| !sums.is_zero());
        Self {
            team_id: scorecard.team_id.clone(),
            staff_id: scorecard.staff_id.clone(),
            days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(due: &str, done: &str, cleared: bool) -> pb::DueItem {
        pb::DueItem {
            local_date: due.to_owned(),
            done_local_date: done.to_owned(),
            cleared,
            ..Default::default()
        }
    }

    #[test]
    fn an_item_done_days_late_is_carried_until_the_day_it_is_done() {
        let scorecard = pb::Scorecard {
            team_id: "t".to_owned(),
            staff_id: "s".to_owned(),
            local_date: "2026-11-23".to_owned(),
            composite: Some(87.5),
            grade: pb::Grade::Meets as i32,
            due_items: vec![
                item("2026-11-23", "2026-11-25", false),
                item("2026-11-23", "2026-11-23", false),
                item("2026-11-24", "", false),
            ],
            ..Default::default()
        };
        let contribution = Contribution::of(&scorecard);
        let day = |date: &str| {
            contribution
                .days
                .get(&date.parse::<Date>().unwrap())
                .copied()
                .unwrap_or_default()
        };
        assert_eq!(day("2026-11-23").interactions, 1);
        assert_eq!(day("2026-11-23").composite_sum, 8_750);
        assert_eq!(day("2026-11-23").items_due, 2);
        assert_eq!(day("2026-11-24").items_due, 1);
        // The first item: +1 on the 24th, -1 on the 26th (carried on the 24th and 25th).
        // The third item: +1 on the 25th, never done.
        assert_eq!(day("2026-11-24").carry_delta, 1);
        assert_eq!(day("2026-11-25").carry_delta, 1);
        assert_eq!(day("2026-11-26").carry_delta, -1);
    }

    #[test]
    fn sums_add_and_negate() {
        let mut sums = DaySums {
            interactions: 2,
            composite_sum: 15_000,
            ..Default::default()
        };
        sums += -DaySums {
            interactions: 2,
            composite_sum: 15_000,
            ..Default::default()
        };
        assert!(sums.is_zero());
        assert_eq!(DaySums::from_array(sums.to_array()), sums);
    }
}
