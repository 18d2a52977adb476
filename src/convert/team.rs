//! `proto::v1::Team` to the domain and back.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use jiff::tz::TimeZone;

use super::interaction::MAX_ID_CHARS;
use super::{InvalidArgument, Violations, parse_date};
use crate::domain::calendar::{BusinessCalendar, MINUTES_PER_DAY, OpeningPeriod};
use crate::domain::interaction::StandardRef;
use crate::domain::points::Points;
use crate::domain::team::{DailyTargets, Team};
use crate::proto::v1 as pb;

const MAX_MEMBERS: usize = 10_000;
const MAX_HOLIDAYS: usize = 5_000;
const MAX_PERIODS: usize = 7 * 48;

/// Parses "HH:MM" into minutes after midnight; "24:00" only when `end`.
fn minutes(value: &str, end: bool) -> Option<u16> {
    let (hours, minutes) = value.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    let total = hours * 60 + minutes;
    let valid = minutes < 60 && (hours < 24 || (end && total == MINUTES_PER_DAY));
    valid.then_some(total)
}

/// Writes minutes after midnight as "HH:MM".
pub fn format_minutes(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Validates a time zone name.
pub fn time_zone(violations: &mut Violations, field: &str, name: &str) -> Option<TimeZone> {
    if name.is_empty() {
        violations.add(
            field,
            "is required (an IANA time zone such as Asia/Shanghai)",
        );
        return None;
    }
    match TimeZone::get(name) {
        Ok(zone) => Some(zone),
        Err(_) => {
            violations.add(field, format!("unknown IANA time zone \"{name}\""));
            None
        }
    }
}

fn calendar(
    violations: &mut Violations,
    message: &pb::BusinessCalendar,
    field: &str,
    zone: TimeZone,
) -> Option<Arc<BusinessCalendar>> {
    let mut weekly: [Vec<OpeningPeriod>; 7] = Default::default();
    if message.periods.is_empty() {
        violations.add(
            format!("{field}.periods"),
            "a calendar needs at least one opening period (leave the calendar unset for wall-clock time)",
        );
    }
    if message.periods.len() > MAX_PERIODS {
        violations.add(
            format!("{field}.periods"),
            format!("at most {MAX_PERIODS} periods are accepted"),
        );
    }
    for (index, period) in message.periods.iter().enumerate() {
        let path = format!("{field}.periods[{index}]");
        let weekday = match pb::Weekday::try_from(period.weekday) {
            Ok(pb::Weekday::Unspecified) | Err(_) => {
                violations.add(
                    format!("{path}.weekday"),
                    "is required (WEEKDAY_MONDAY ... WEEKDAY_SUNDAY)",
                );
                None
            }
            Ok(weekday) => Some(weekday as usize - 1),
        };
        let start = minutes(&period.start, false);
        if start.is_none() {
            violations.add(
                format!("{path}.start"),
                "must be a local time HH:MM (00:00 to 23:59)",
            );
        }
        let end = minutes(&period.end, true);
        if end.is_none() {
            violations.add(
                format!("{path}.end"),
                "must be a local time HH:MM (00:01 to 24:00)",
            );
        }
        let (Some(weekday), Some(start), Some(end)) = (weekday, start, end) else {
            continue;
        };
        if end <= start {
            violations.add(format!("{path}.end"), "must be after the start");
            continue;
        }
        let day = &mut weekly[weekday];
        if day
            .iter()
            .any(|other| start < other.end_minute && other.start_minute < end)
        {
            violations.add(path, "overlaps another period of the same day");
            continue;
        }
        day.push(OpeningPeriod {
            start_minute: start,
            end_minute: end,
        });
    }
    for day in &mut weekly {
        day.sort();
    }
    if message.holidays.len() > MAX_HOLIDAYS {
        violations.add(
            format!("{field}.holidays"),
            format!("at most {MAX_HOLIDAYS} holidays are accepted"),
        );
    }
    let holidays: BTreeSet<_> = message
        .holidays
        .iter()
        .enumerate()
        .filter_map(|(index, holiday)| {
            parse_date(violations, &format!("{field}.holidays[{index}]"), holiday)
        })
        .collect();
    Some(Arc::new(BusinessCalendar::new(zone, weekly, holidays)))
}

fn fraction_target(
    violations: &mut Violations,
    field: &str,
    value: Option<f64>,
    default: u32,
) -> u32 {
    match value {
        None => default,
        Some(value) if (0.0..=1.0).contains(&value) => (value * 10_000.0).round() as u32,
        Some(_) => {
            violations.add(field, "must be between 0 and 1");
            default
        }
    }
}

/// Validates and converts a team; `field` is its path in the request.
pub fn from_proto(message: &pb::Team, field: &str) -> Result<Team, InvalidArgument> {
    let mut violations = Violations::default();
    violations.check_name(&format!("{field}.team_id"), &message.team_id);
    if message.display_name.chars().count() > 200 {
        violations.add(
            format!("{field}.display_name"),
            "must be at most 200 characters",
        );
    }
    let zone = time_zone(
        &mut violations,
        &format!("{field}.time_zone"),
        &message.time_zone,
    );
    let calendar = match (&message.calendar, &zone) {
        (Some(message), Some(zone)) => calendar(
            &mut violations,
            message,
            &format!("{field}.calendar"),
            zone.clone(),
        ),
        _ => None,
    };
    let standard = message.standard.as_ref().map(|reference| {
        violations.check_name(
            &format!("{field}.standard.standard_id"),
            &reference.standard_id,
        );
        if reference.version < 0 {
            violations.add(format!("{field}.standard.version"), "must not be negative");
        }
        StandardRef {
            standard_id: reference.standard_id.clone(),
            version: reference.version,
        }
    });
    let defaults = DailyTargets::default();
    let targets = match &message.targets {
        None => defaults,
        Some(targets) => DailyTargets {
            composite: match targets.composite_target {
                None => defaults.composite,
                Some(value) => match Points::from_f64(value) {
                    Some(points) if (Points::ZERO..=Points::HUNDRED).contains(&points) => points,
                    _ => {
                        violations.add(
                            format!("{field}.targets.composite_target"),
                            "must be between 0 and 100",
                        );
                        defaults.composite
                    }
                },
            },
            clear_rate: fraction_target(
                &mut violations,
                &format!("{field}.targets.clear_rate_target"),
                targets.clear_rate_target,
                defaults.clear_rate,
            ),
            improvement: fraction_target(
                &mut violations,
                &format!("{field}.targets.improvement_target"),
                targets.improvement_target,
                defaults.improvement,
            ),
        },
    };
    if message.member_staff_ids.len() > MAX_MEMBERS {
        violations.add(
            format!("{field}.member_staff_ids"),
            format!("at most {MAX_MEMBERS} members are accepted"),
        );
    }
    let mut seen = HashSet::new();
    for (index, member) in message.member_staff_ids.iter().enumerate() {
        let path = format!("{field}.member_staff_ids[{index}]");
        violations.check_id(&path, member, true, MAX_ID_CHARS);
        if !seen.insert(member.as_str()) {
            violations.add(path, "is listed twice");
        }
    }
    let Some(zone) = zone else {
        return Err(violations.into_result(()).unwrap_err());
    };
    violations.into_result(Team {
        team_id: message.team_id.clone(),
        display_name: message.display_name.clone(),
        time_zone_name: message.time_zone.clone(),
        time_zone: zone,
        calendar,
        standard,
        targets,
        members: message.member_staff_ids.clone(),
    })
}

/// A fraction in basis points as a decimal.
pub fn basis_points_to_f64(value: u32) -> f64 {
    f64::from(value) / 10_000.0
}

/// The default team on the wire (it is not stored unless updated).
pub fn default_team_to_proto(team: &Team) -> pb::Team {
    pb::Team {
        team_id: team.team_id.clone(),
        display_name: team.display_name.clone(),
        time_zone: team.time_zone_name.clone(),
        calendar: None,
        standard: None,
        targets: Some(pb::DailyTargets {
            composite_target: Some(team.targets.composite.to_f64()),
            clear_rate_target: Some(basis_points_to_f64(team.targets.clear_rate)),
            improvement_target: Some(basis_points_to_f64(team.targets.improvement)),
        }),
        member_staff_ids: Vec::new(),
        create_time: None,
        update_time: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_parse_with_24_00_only_as_an_end() {
        assert_eq!(minutes("09:30", false), Some(570));
        assert_eq!(minutes("24:00", true), Some(1440));
        assert_eq!(minutes("24:00", false), None);
        assert_eq!(minutes("9:30", false), None);
        assert_eq!(minutes("12:60", true), None);
        assert_eq!(format_minutes(570), "09:30");
    }
}
