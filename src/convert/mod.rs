//! Conversion between the wire (`proto::v1`) and the domain: requests are validated into
//! domain types with every problem named as a field violation; results are encoded back.

pub mod interaction;
pub mod json;
pub mod scorecard;
pub mod standard;
pub mod team;

use std::fmt;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `interaction.turns[3].at`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// A request that failed validation: every bad field, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.0))]
pub struct InvalidArgument(pub Vec<FieldViolation>);

fn summary(violations: &[FieldViolation]) -> String {
    match violations {
        [] => "invalid request".to_owned(),
        [only] => format!("{}: {}", only.field, only.description),
        [first, rest @ ..] => format!(
            "{}: {} (and {} more field violation{})",
            first.field,
            first.description,
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

impl InvalidArgument {
    /// A single violation.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

/// The path of a request field (`interaction.turns[3].at`), spelled out only when a violation
/// names it: checking a valid request formats no paths (a 60-turn interaction has hundreds).
#[derive(Debug, Clone, Copy)]
pub struct FieldPath<'a> {
    parent: &'a str,
    element: Option<(&'static str, usize)>,
    name: &'a str,
}

impl<'a> FieldPath<'a> {
    /// `parent.name`.
    pub fn new(parent: &'a str, name: &'a str) -> Self {
        Self {
            parent,
            element: None,
            name,
        }
    }

    /// `parent.list[index].name`.
    pub fn element(parent: &'a str, list: &'static str, index: usize, name: &'a str) -> Self {
        Self {
            parent,
            element: Some((list, index)),
            name,
        }
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.element {
            Some((list, index)) => write!(f, "{}.{list}[{index}].{}", self.parent, self.name),
            None => write!(f, "{}.{}", self.parent, self.name),
        }
    }
}

impl From<FieldPath<'_>> for String {
    fn from(path: FieldPath<'_>) -> Self {
        path.to_string()
    }
}

/// Collects violations while a request is checked.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a bad field.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, InvalidArgument> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(InvalidArgument(self.0))
        }
    }

    /// Checks an id: required, at most `max` characters, no control characters.
    pub fn check_id(&mut self, field: impl fmt::Display, value: &str, required: bool, max: usize) {
        if value.is_empty() {
            if required {
                self.add(field.to_string(), "is required");
            }
            return;
        }
        if value.chars().count() > max {
            self.add(
                field.to_string(),
                format!("must be at most {max} characters"),
            );
        }
        if value.chars().any(char::is_control) {
            self.add(field.to_string(), "must not contain control characters");
        }
        if value.trim() != value {
            self.add(field.to_string(), "must not start or end with whitespace");
        }
    }

    /// Checks a resource name: a lowercase letter, then up to 62 lowercase letters, digits or
    /// '-'.
    pub fn check_name(&mut self, field: &str, value: &str) {
        if value.is_empty() {
            self.add(field, "is required");
            return;
        }
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !first_ok || !rest_ok || value.len() > 63 {
            self.add(
                field,
                "must be 1 to 63 characters of lowercase letters, digits and '-', starting with a letter",
            );
        }
    }
}

/// A timestamp from the wire; `None` (with a violation) when out of range.
pub fn timestamp(
    violations: &mut Violations,
    field: impl fmt::Display,
    value: &prost_types::Timestamp,
) -> Option<Timestamp> {
    let timestamp = from_proto_timestamp(value);
    if timestamp.is_none() {
        violations.add(field.to_string(), INVALID_TIMESTAMP);
    }
    timestamp
}

/// Why a wire timestamp is refused.
pub const INVALID_TIMESTAMP: &str =
    "is not a valid timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z)";

/// A wire timestamp within `google.protobuf.Timestamp`'s range (years 1 to 9999, nanos below
/// one second). `jiff` holds more (back to year -9999), but what is accepted must also go back
/// out on the wire and as proto3 JSON.
pub fn from_proto_timestamp(value: &prost_types::Timestamp) -> Option<Timestamp> {
    const MIN_SECONDS: i64 = -62_135_596_800;
    const MAX_SECONDS: i64 = 253_402_300_799;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&value.seconds)
        || !(0..1_000_000_000).contains(&value.nanos)
    {
        return None;
    }
    Timestamp::new(value.seconds, value.nanos).ok()
}

/// A required timestamp from the wire.
pub fn required_timestamp(
    violations: &mut Violations,
    field: impl fmt::Display,
    value: Option<&prost_types::Timestamp>,
) -> Option<Timestamp> {
    match value {
        Some(value) => timestamp(violations, field, value),
        None => {
            violations.add(field.to_string(), "is required");
            None
        }
    }
}

/// A timestamp to the wire.
pub fn timestamp_to_proto(value: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: value.as_second(),
        nanos: value.subsec_nanosecond(),
    }
}

/// A duration from the wire; `None` (with a violation) when invalid or negative.
pub fn duration(
    violations: &mut Violations,
    field: &str,
    value: &prost_types::Duration,
) -> Option<SignedDuration> {
    let valid = value.nanos.abs() < 1_000_000_000
        && (value.seconds == 0 || value.nanos == 0 || (value.seconds > 0) == (value.nanos > 0));
    if !valid {
        violations.add(field, "is not a valid duration");
        return None;
    }
    let duration = SignedDuration::new(value.seconds, value.nanos);
    if duration.is_negative() {
        violations.add(field, "must not be negative");
        return None;
    }
    if duration > SignedDuration::from_hours(24 * 366 * 10) {
        violations.add(field, "must be at most ten years");
        return None;
    }
    Some(duration)
}

/// A duration to the wire.
pub fn duration_to_proto(value: SignedDuration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: value.as_secs(),
        nanos: value.subsec_nanos(),
    }
}

/// Parses a local date "YYYY-MM-DD".
pub fn parse_date(violations: &mut Violations, field: &str, value: &str) -> Option<Date> {
    match value.parse::<Date>() {
        Ok(date) if value.len() == 10 => Some(date),
        _ => {
            violations.add(field, "must be a date written YYYY-MM-DD");
            None
        }
    }
}
