//! Interactions as the scoring core sees them: validated, typed, in time order.

use jiff::Timestamp;

/// Customer tier (差异化服务).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// 小客户.
    Small,
    /// 中客户.
    Medium,
    /// 大客户.
    Large,
    /// 贵宾.
    Vip,
}

impl Tier {
    /// Every tier, smallest first.
    pub const ALL: [Tier; 4] = [Tier::Small, Tier::Medium, Tier::Large, Tier::Vip];
}

/// Contact channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// Voice call.
    Phone,
    /// Live chat.
    Chat,
    /// Email thread.
    Email,
    /// Text messages.
    Sms,
    /// Visit.
    InPerson,
    /// Social media.
    Social,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 6] = [
        Channel::Phone,
        Channel::Chat,
        Channel::Email,
        Channel::Sms,
        Channel::InPerson,
        Channel::Social,
    ];
}

/// What an interaction is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InteractionKind {
    /// A question.
    Inquiry,
    /// A complaint: scored with the closed loop.
    Complaint,
    /// A service request.
    ServiceRequest,
    /// A follow-up contact by staff.
    FollowUp,
    /// Feedback.
    Feedback,
}

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Speaker {
    /// The customer.
    Customer,
    /// Staff.
    Staff,
    /// An automatic message; ignored by every rule.
    System,
}

/// Who opened an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// The customer (also the default).
    Customer,
    /// Staff.
    Staff,
}

/// Lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Being worked on.
    Open,
    /// Waiting on the customer: the resolution clock pauses.
    PendingCustomer,
    /// On hold: the clock runs.
    OnHold,
    /// Resolved.
    Resolved,
    /// Reopened after resolution.
    Reopened,
}

/// One turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Who spoke.
    pub speaker: Speaker,
    /// For staff turns by someone other than the owner: who. `None` means the owner.
    pub staff_id: Option<String>,
    /// When.
    pub at: Timestamp,
    /// What was said (may be empty).
    pub text: String,
}

/// A status change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusChange {
    /// The new status.
    pub status: Status,
    /// When.
    pub at: Timestamp,
}

/// A promise made by staff.
#[derive(Debug, Clone, PartialEq)]
pub struct Commitment {
    /// Id, unique within the interaction.
    pub id: String,
    /// When it is due.
    pub due_at: Timestamp,
    /// When it was kept.
    pub fulfilled_at: Option<Timestamp>,
}

/// A SERVQUAL survey on a 1–5 scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Survey {
    /// Expectation, 1–5.
    pub expectation: u8,
    /// Perception, 1–5.
    pub perception: u8,
}

impl Survey {
    /// perception − expectation.
    pub fn gap(self) -> i32 {
        i32::from(self.perception) - i32::from(self.expectation)
    }
}

/// The closed loop of a complaint.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ComplaintLoop {
    /// When the resolution was recorded.
    pub resolution_recorded_at: Option<Timestamp>,
    /// When the customer confirmed it.
    pub customer_confirmed_at: Option<Timestamp>,
    /// When the callback (回访) was done.
    pub callback_at: Option<Timestamp>,
}

/// A reference to a standard version (`version` 0: the latest).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandardRef {
    /// The standard id.
    pub standard_id: String,
    /// The version, or 0 for the latest.
    pub version: i64,
}

/// A validated interaction revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    /// The caller's key.
    pub interaction_id: String,
    /// The revision.
    pub revision: i64,
    /// The owning staff member.
    pub staff_id: String,
    /// The customer (may be empty).
    pub customer_id: String,
    /// The tier.
    pub tier: Tier,
    /// The channel.
    pub channel: Channel,
    /// The kind.
    pub kind: InteractionKind,
    /// Who opened it.
    pub initiator: Initiator,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// The turns, in time order.
    pub turns: Vec<Turn>,
    /// Status changes after opening, in time order.
    pub status_changes: Vec<StatusChange>,
    /// Commitments.
    pub commitments: Vec<Commitment>,
    /// The survey.
    pub survey: Option<Survey>,
    /// The complaint loop.
    pub complaint: ComplaintLoop,
    /// A standard chosen by the caller.
    pub standard: Option<StandardRef>,
}

impl Interaction {
    /// The status at the end of the known history.
    pub fn current_status(&self) -> Status {
        self.status_changes
            .last()
            .map_or(Status::Open, |change| change.status)
    }

    /// When the interaction was resolved, if it is resolved now (the last resolution).
    pub fn resolved_at(&self) -> Option<Timestamp> {
        match self.status_changes.last() {
            Some(StatusChange {
                status: Status::Resolved,
                at,
            }) => Some(*at),
            _ => None,
        }
    }

    /// The status in force over each interval: `(status, from, until)`, the last one open
    /// (`until` is `None`).
    pub fn status_intervals(&self) -> Vec<(Status, Timestamp, Option<Timestamp>)> {
        let mut intervals = Vec::with_capacity(self.status_changes.len() + 1);
        let mut status = Status::Open;
        let mut from = self.opened_at;
        for change in &self.status_changes {
            intervals.push((status, from, Some(change.at)));
            status = change.status;
            from = change.at;
        }
        intervals.push((status, from, None));
        intervals
    }

    /// The effective staff id of a staff turn (its own, else the owner's).
    pub fn turn_staff<'a>(&'a self, turn: &'a Turn) -> &'a str {
        turn.staff_id.as_deref().unwrap_or(&self.staff_id)
    }
}
