//! Working time: elapsed time and deadlines in wall-clock time, or in a team's business hours
//! (weekly opening periods, several a day, and holidays, in an IANA time zone).
//!
//! An opening period is the real time between its local start and end on that date, each
//! resolved in the time zone with the usual "compatible" rule (a start inside a spring-forward
//! gap moves later), so elapsed business time is exact across daylight-saving changes.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Minutes in a day; a period may end at this value (24:00).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// The furthest a business-time walk looks ahead or spans, in days.
const MAX_DAYS: i32 = 3_660;

/// One opening period, in minutes after local midnight: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpeningPeriod {
    /// Start, minutes after midnight.
    pub start_minute: u16,
    /// End, minutes after midnight; at most 1440 (24:00).
    pub end_minute: u16,
}

/// Weekly opening hours and holidays in a time zone. Build with [`BusinessCalendar::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCalendar {
    time_zone: TimeZone,
    /// Monday first; each day sorted and non-overlapping.
    weekly: [Vec<OpeningPeriod>; 7],
    holidays: BTreeSet<Date>,
}

impl BusinessCalendar {
    /// A calendar from periods per weekday (validated by the caller: sorted, non-overlapping,
    /// at least one in the week).
    pub fn new(
        time_zone: TimeZone,
        weekly: [Vec<OpeningPeriod>; 7],
        holidays: BTreeSet<Date>,
    ) -> Self {
        Self {
            time_zone,
            weekly,
            holidays,
        }
    }

    /// The time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The opening periods of `date` as instants (none on a holiday).
    fn periods_on(&self, date: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let periods: &[OpeningPeriod] = if self.holidays.contains(&date) {
            &[]
        } else {
            &self.weekly[weekday_index(date.weekday())]
        };
        periods.iter().filter_map(move |period| {
            let start = self.instant(date, period.start_minute)?;
            let end = self.instant(date, period.end_minute)?;
            (end > start).then_some((start, end))
        })
    }

    /// The instant of a local time on a date; minute 1440 is the next midnight.
    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let (date, minute) = if minute >= MINUTES_PER_DAY {
            (date.tomorrow().ok()?, 0)
        } else {
            (date, minute)
        };
        let datetime = date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        Some(datetime.to_zoned(self.time_zone.clone()).ok()?.timestamp())
    }

    fn local_date(&self, instant: Timestamp) -> Date {
        instant.to_zoned(self.time_zone.clone()).date()
    }

    /// Business time between two instants (zero when `to` is not after `from`).
    pub fn elapsed(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        if to <= from {
            return SignedDuration::ZERO;
        }
        let mut total = SignedDuration::ZERO;
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        let mut days = 0;
        while date <= last && days <= MAX_DAYS {
            for (start, end) in self.periods_on(date) {
                let overlap_start = start.max(from);
                let overlap_end = end.min(to);
                if overlap_end > overlap_start {
                    total += overlap_end.duration_since(overlap_start);
                }
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
            days += 1;
        }
        total
    }

    /// The instant at which `duration` of business time has passed since `from`; `None` if
    /// that is more than ten years of calendar away.
    pub fn deadline(&self, from: Timestamp, duration: SignedDuration) -> Option<Timestamp> {
        let mut remaining = duration.max(SignedDuration::ZERO);
        if remaining.is_zero() {
            return Some(from);
        }
        // A period of the day before can still be open at `from` (local midnight handling).
        let mut date = self.local_date(from).yesterday().ok()?;
        for _ in 0..=MAX_DAYS {
            for (start, end) in self.periods_on(date) {
                let available_from = start.max(from);
                if end <= available_from {
                    continue;
                }
                let available = end.duration_since(available_from);
                if remaining <= available {
                    return available_from.checked_add(remaining).ok();
                }
                remaining -= available;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

fn weekday_index(weekday: Weekday) -> usize {
    weekday.to_monday_zero_offset() as usize
}

/// How elapsed time is measured for a team: wall clock, or business hours.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkingTime {
    /// Plain elapsed time.
    WallClock,
    /// Time within the opening periods of a calendar.
    Business(Arc<BusinessCalendar>),
}

impl WorkingTime {
    /// Elapsed working time between two instants (zero when `to` is not after `from`).
    pub fn elapsed(&self, from: Timestamp, to: Timestamp) -> SignedDuration {
        match self {
            Self::WallClock if to > from => to.duration_since(from),
            Self::WallClock => SignedDuration::ZERO,
            Self::Business(calendar) => calendar.elapsed(from, to),
        }
    }

    /// Elapsed working time over `[from, to)` intervals (a `None` end is open: it runs to
    /// `until`).
    pub fn elapsed_over(
        &self,
        intervals: &[(Timestamp, Option<Timestamp>)],
        until: Timestamp,
    ) -> SignedDuration {
        intervals
            .iter()
            .map(|&(from, to)| self.elapsed(from, to.unwrap_or(until).min(until)))
            .sum()
    }

    /// The instant at which `duration` of working time has passed since `from`.
    pub fn deadline(&self, from: Timestamp, duration: SignedDuration) -> Option<Timestamp> {
        match self {
            Self::WallClock => from.checked_add(duration.max(SignedDuration::ZERO)).ok(),
            Self::Business(calendar) => calendar.deadline(from, duration),
        }
    }

    /// The instant at which `duration` of working time has passed counting only the given
    /// intervals (in order; a `None` end is open). `None` when the intervals end first (the
    /// clock is paused for good).
    pub fn deadline_over(
        &self,
        intervals: &[(Timestamp, Option<Timestamp>)],
        duration: SignedDuration,
    ) -> Option<Timestamp> {
        let mut remaining = duration.max(SignedDuration::ZERO);
        for &(from, to) in intervals {
            let Some(to) = to else {
                return self.deadline(from, remaining);
            };
            let available = self.elapsed(from, to);
            if remaining <= available {
                return self.deadline(from, remaining);
            }
            remaining -= available;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(hour: u16, minute: u16) -> u16 {
        hour * 60 + minute
    }

    fn period(start: u16, end: u16) -> OpeningPeriod {
        OpeningPeriod {
            start_minute: start,
            end_minute: end,
        }
    }

    /// Weekdays 09:00–12:00 and 13:00–18:00 (a lunch break), closed at weekends.
    fn split_shift(zone: &str, holidays: &[Date]) -> BusinessCalendar {
        let day = vec![period(hm(9, 0), hm(12, 0)), period(hm(13, 0), hm(18, 0))];
        let weekly = [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            vec![],
            vec![],
        ];
        BusinessCalendar::new(
            TimeZone::get(zone).unwrap(),
            weekly,
            holidays.iter().copied().collect(),
        )
    }

    fn at(zone: &str, text: &str) -> Timestamp {
        let datetime: jiff::civil::DateTime = text.parse().unwrap();
        datetime
            .to_zoned(TimeZone::get(zone).unwrap())
            .unwrap()
            .timestamp()
    }

    fn minutes(duration: SignedDuration) -> i64 {
        duration.as_secs() / 60
    }

    #[test]
    fn split_shift_skips_the_lunch_break_and_the_night() {
        let calendar = split_shift("Asia/Shanghai", &[]);
        let zone = "Asia/Shanghai";
        // Tuesday 11:30 -> 13:30: 30 min before lunch + 30 min after.
        let elapsed = calendar.elapsed(at(zone, "2026-11-24T11:30"), at(zone, "2026-11-24T13:30"));
        assert_eq!(minutes(elapsed), 60);
        // Tuesday 17:00 -> Wednesday 10:00: 60 + 60.
        let elapsed = calendar.elapsed(at(zone, "2026-11-24T17:00"), at(zone, "2026-11-25T10:00"));
        assert_eq!(minutes(elapsed), 120);
        // Friday 17:30 -> Monday 09:15: 30 + 15 (the weekend is closed).
        let elapsed = calendar.elapsed(at(zone, "2026-11-27T17:30"), at(zone, "2026-11-30T09:15"));
        assert_eq!(minutes(elapsed), 45);
    }

    #[test]
    fn a_holiday_counts_nothing() {
        let holiday = Date::constant(2026, 11, 25);
        let calendar = split_shift("Asia/Shanghai", &[holiday]);
        let zone = "Asia/Shanghai";
        // Tuesday 17:00 -> Thursday 10:00 with Wednesday a holiday: 60 + 60.
        let elapsed = calendar.elapsed(at(zone, "2026-11-24T17:00"), at(zone, "2026-11-26T10:00"));
        assert_eq!(minutes(elapsed), 120);
        // A deadline of 2 h from Tuesday 17:30 lands on Thursday 10:30.
        let deadline = calendar
            .deadline(at(zone, "2026-11-24T17:30"), SignedDuration::from_hours(2))
            .unwrap();
        assert_eq!(deadline, at(zone, "2026-11-26T10:30"));
    }

    /// Every day 00:00–06:00 and 09:00–17:00 in Berlin.
    fn berlin_nights_and_days() -> BusinessCalendar {
        let day = vec![period(hm(0, 0), hm(6, 0)), period(hm(9, 0), hm(17, 0))];
        BusinessCalendar::new(
            TimeZone::get("Europe/Berlin").unwrap(),
            std::array::from_fn(|_| day.clone()),
            BTreeSet::new(),
        )
    }

    #[test]
    fn spring_forward_in_berlin_has_a_five_hour_night() {
        // 2026-03-29: clocks jump from 02:00 to 03:00 local time.
        let calendar = berlin_nights_and_days();
        let zone = "Europe/Berlin";
        let elapsed = calendar.elapsed(at(zone, "2026-03-28T23:00"), at(zone, "2026-03-29T12:00"));
        assert_eq!(minutes(elapsed), 5 * 60 + 3 * 60);
        // Wall-clock time agrees with the real instants.
        let wall = WorkingTime::WallClock
            .elapsed(at(zone, "2026-03-29T00:00"), at(zone, "2026-03-29T06:00"));
        assert_eq!(minutes(wall), 5 * 60);
    }

    #[test]
    fn fall_back_in_berlin_has_a_seven_hour_night() {
        // 2026-10-25: clocks go back from 03:00 to 02:00 local time.
        let calendar = berlin_nights_and_days();
        let zone = "Europe/Berlin";
        let elapsed = calendar.elapsed(at(zone, "2026-10-24T23:00"), at(zone, "2026-10-25T12:00"));
        assert_eq!(minutes(elapsed), 7 * 60 + 3 * 60);
        // A 6 h deadline from midnight ends at 05:00 local, not 06:00.
        let deadline = calendar
            .deadline(at(zone, "2026-10-25T00:00"), SignedDuration::from_hours(6))
            .unwrap();
        assert_eq!(deadline, at(zone, "2026-10-25T05:00"));
    }

    #[test]
    fn deadline_inverts_elapsed() {
        let calendar = split_shift("America/New_York", &[Date::constant(2026, 11, 26)]);
        let zone = "America/New_York";
        let from = at(zone, "2026-11-25T16:45");
        for minutes_after in [0, 1, 15, 75, 76, 480, 481, 2000] {
            let duration = SignedDuration::from_mins(minutes_after);
            let deadline = calendar.deadline(from, duration).unwrap();
            assert_eq!(
                calendar.elapsed(from, deadline),
                duration,
                "{minutes_after} min"
            );
        }
    }

    #[test]
    fn a_period_ending_at_midnight_counts_to_midnight() {
        let calendar = BusinessCalendar::new(
            TimeZone::UTC,
            std::array::from_fn(|_| vec![period(hm(22, 0), MINUTES_PER_DAY)]),
            BTreeSet::new(),
        );
        let from: Timestamp = "2026-11-22T21:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-11-23T23:30:00Z".parse().unwrap();
        assert_eq!(minutes(calendar.elapsed(from, to)), 120 + 90);
    }

    #[test]
    fn deadline_over_skips_paused_intervals() {
        let wall = WorkingTime::WallClock;
        let t = |hour: i64| Timestamp::from_second(hour * 3600).unwrap();
        // Active 0-2 h, paused 2-5 h, active from 5 h on.
        let active = [(t(0), Some(t(2))), (t(5), None)];
        assert_eq!(
            wall.deadline_over(&active, SignedDuration::from_hours(3)),
            Some(t(6))
        );
        assert_eq!(
            wall.elapsed_over(&active, t(7)),
            SignedDuration::from_hours(4)
        );
        // Paused for good after 2 h: a 3 h deadline never comes.
        let paused = [(t(0), Some(t(2)))];
        assert_eq!(
            wall.deadline_over(&paused, SignedDuration::from_hours(3)),
            None
        );
    }
}
