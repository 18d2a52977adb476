//! The domain model: interactions, standards, working-time calendars, fixed-point points and
//! scorecards. Pure data and pure functions; no I/O.

pub mod calendar;
pub mod interaction;
pub mod points;
pub mod scorecard;
pub mod standard;
pub mod team;
