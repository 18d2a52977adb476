//! The shape of a conversation that speed and follow-through both read: the first-reply wait,
//! the answered next-reply waits, and a trailing run of customer turns still unanswered.
//! System turns are ignored.

use jiff::Timestamp;

use crate::domain::interaction::{Initiator, Interaction, Speaker};

/// Where a wait starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStart {
    /// At `opened_at` (the customer opened the interaction without a turn).
    OpenedAt,
    /// At a customer turn.
    Turn(usize),
}

/// A customer wait for a staff turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Start of the wait.
    pub from: WaitStart,
    /// The staff turn that ended it, if any.
    pub reply: Option<usize>,
}

/// The conversation analysis of an interaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    /// The first-reply wait, if there is a start to measure from.
    pub first_wait: Option<Wait>,
    /// Answered waits after the first reply (each run of customer turns to the next staff
    /// turn).
    pub next_waits: Vec<Wait>,
    /// First turn of a run of customer turns with no staff turn after it.
    pub unanswered_since: Option<usize>,
    /// Indexes of staff turns.
    pub staff_turns: Vec<usize>,
    /// Whether any customer turn exists.
    pub has_customer_turn: bool,
}

impl Conversation {
    /// Analyses the turns of `interaction`.
    pub fn of(interaction: &Interaction) -> Self {
        let spoken: Vec<(usize, Speaker)> = interaction
            .turns
            .iter()
            .enumerate()
            .filter(|(_, turn)| turn.speaker != Speaker::System)
            .map(|(index, turn)| (index, turn.speaker))
            .collect();
        let staff_turns: Vec<usize> = spoken
            .iter()
            .filter(|(_, speaker)| *speaker == Speaker::Staff)
            .map(|(index, _)| *index)
            .collect();
        let first_customer = spoken
            .iter()
            .position(|(_, speaker)| *speaker == Speaker::Customer);
        let first_staff = spoken
            .iter()
            .position(|(_, speaker)| *speaker == Speaker::Staff);
        let staff_at_or_after = |position: usize| {
            spoken[position..]
                .iter()
                .find(|(_, s)| *s == Speaker::Staff)
        };

        let first_wait = match (first_customer, first_staff) {
            (Some(customer), Some(staff)) if customer < staff => {
                Some((WaitStart::Turn(spoken[customer].0), customer))
            }
            (_, _) if interaction.initiator == Initiator::Customer && first_staff.is_some() => {
                Some((WaitStart::OpenedAt, 0))
            }
            (Some(customer), _) => Some((WaitStart::Turn(spoken[customer].0), customer)),
            _ => None,
        }
        .map(|(from, search_from)| Wait {
            from,
            reply: staff_at_or_after(search_from).map(|(index, _)| *index),
        });

        let mut next_waits = Vec::new();
        if let Some(reply) = first_wait.and_then(|wait| wait.reply) {
            let after = spoken
                .iter()
                .position(|(index, _)| *index == reply)
                .expect("the reply is a spoken turn")
                + 1;
            let mut run_start = None;
            for &(index, speaker) in &spoken[after..] {
                match speaker {
                    Speaker::Customer if run_start.is_none() => run_start = Some(index),
                    Speaker::Staff => {
                        if let Some(start) = run_start.take() {
                            next_waits.push(Wait {
                                from: WaitStart::Turn(start),
                                reply: Some(index),
                            });
                        }
                    }
                    _ => {}
                }
            }
        }

        let last_staff_position = spoken
            .iter()
            .rposition(|(_, speaker)| *speaker == Speaker::Staff);
        let unanswered_since = spoken[last_staff_position.map_or(0, |position| position + 1)..]
            .iter()
            .find(|(_, speaker)| *speaker == Speaker::Customer)
            .map(|(index, _)| *index);

        Self {
            first_wait,
            next_waits,
            unanswered_since,
            staff_turns,
            has_customer_turn: first_customer.is_some(),
        }
    }

    /// Whether the unanswered run (if any) is the first-reply wait itself.
    pub fn unanswered_is_first_wait(&self) -> bool {
        matches!(
            self.first_wait,
            Some(Wait { from: WaitStart::Turn(start), reply: None }) if Some(start) == self.unanswered_since
        )
    }
}

/// When a wait starts.
pub fn wait_start_time(interaction: &Interaction, start: WaitStart) -> Timestamp {
    match start {
        WaitStart::OpenedAt => interaction.opened_at,
        WaitStart::Turn(index) => interaction.turns[index].at,
    }
}
