//! Teams: time zone, business-hours calendar, standard, daily targets and members.

use std::sync::Arc;

use jiff::tz::TimeZone;

use super::calendar::{BusinessCalendar, WorkingTime};
use super::interaction::StandardRef;
use super::points::Points;

/// The id of the team of staff who belong to no team.
pub const DEFAULT_TEAM_ID: &str = "default";

/// A rate or fraction in basis points (1/10 000), so comparisons are exact.
pub type BasisPoints = u32;

/// Daily targets of the OEC outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTargets {
    /// Mean composite target.
    pub composite: Points,
    /// Clear-rate target, in basis points.
    pub clear_rate: BasisPoints,
    /// Improvement target g, in basis points of the gap to 100.
    pub improvement: BasisPoints,
}

impl Default for DailyTargets {
    fn default() -> Self {
        Self {
            composite: Points::from_hundredths(8_000),
            clear_rate: 9_000,
            improvement: 500,
        }
    }
}

/// A validated team.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Id.
    pub team_id: String,
    /// Display name.
    pub display_name: String,
    /// IANA name of the time zone.
    pub time_zone_name: String,
    /// The time zone.
    pub time_zone: TimeZone,
    /// Business hours, if any.
    pub calendar: Option<Arc<BusinessCalendar>>,
    /// The standard chosen, if any.
    pub standard: Option<StandardRef>,
    /// Daily targets.
    pub targets: DailyTargets,
    /// Member staff ids.
    pub members: Vec<String>,
}

impl Team {
    /// The default team: UTC unless configured otherwise, wall-clock time, default targets.
    pub fn default_team(time_zone_name: &str) -> Self {
        Self {
            team_id: DEFAULT_TEAM_ID.to_owned(),
            display_name: "Staff in no team".to_owned(),
            time_zone_name: time_zone_name.to_owned(),
            time_zone: TimeZone::get(time_zone_name).unwrap_or(TimeZone::UTC),
            calendar: None,
            standard: None,
            targets: DailyTargets::default(),
            members: Vec::new(),
        }
    }

    /// How elapsed time is measured for this team.
    pub fn working_time(&self) -> WorkingTime {
        match &self.calendar {
            Some(calendar) => WorkingTime::Business(calendar.clone()),
            None => WorkingTime::WallClock,
        }
    }
}
