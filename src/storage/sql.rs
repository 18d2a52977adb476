//! SQL that both backends run with only the placeholder style different (`?1` in SQLite,
//! `$1` in PostgreSQL): the daily-sum upserts, the day-row reads of a rollup, and the
//! scorecard listing. Each builder returns the text and its parameters; a backend binds the
//! parameters in its own types.

use std::collections::BTreeSet;

use jiff::civil::Date;

use crate::rollup::sums::DaySums;
use crate::storage::{DayScope, ScorecardCursor, ScorecardFilter};

/// How a backend writes the N-th parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `?1`, `?2`, … (SQLite).
    Question,
    /// `$1`, `$2`, … (PostgreSQL).
    Dollar,
}

impl Placeholders {
    fn nth(self, index: usize) -> String {
        match self {
            Self::Question => format!("?{index}"),
            Self::Dollar => format!("${index}"),
        }
    }
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A local date (text `YYYY-MM-DD` in SQLite, `date` in PostgreSQL).
    Date(Date),
}

/// SQL text with numbered parameters, built up clause by clause.
#[derive(Debug, Clone)]
pub struct Sql {
    /// The statement.
    pub text: String,
    /// Its parameters, in number order.
    pub params: Vec<Param>,
    style: Placeholders,
}

impl Sql {
    fn new(style: Placeholders, text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
            style,
        }
    }

    /// Binds a value; returns its placeholder.
    fn bind(&mut self, value: Param) -> String {
        self.params.push(value);
        self.style.nth(self.params.len())
    }

    fn push(&mut self, clause: &str) {
        self.text.push_str(clause);
    }
}

/// `INSERT … ON CONFLICT DO UPDATE` that adds every [`DaySums`] field to the stored row of
/// `table` keyed by `keys` (parameters: the keys, then the sums in `FIELDS` order). The
/// addition happens in the database, so concurrent writers never lose each other's updates.
pub fn sums_upsert(style: Placeholders, table: &str, keys: &[&str]) -> String {
    let fields = DaySums::FIELDS;
    let columns: Vec<&str> = keys.iter().chain(fields).copied().collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|index| style.nth(index)).collect();
    let updates: Vec<String> = fields
        .iter()
        .map(|field| format!("{field} = {table}.{field} + excluded.{field}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        keys.join(", "),
        updates.join(", ")
    )
}

/// The table of a scope and its key condition (columns prefixed with `prefix`).
fn scope_key(sql: &mut Sql, scope: DayScope<'_>, prefix: &str) -> (&'static str, String) {
    match scope {
        DayScope::Team(team_id) => {
            let team = sql.bind(Param::Text(team_id.to_owned()));
            ("team_days", format!("{prefix}team_id = {team}"))
        }
        DayScope::Staff { team_id, staff_id } => {
            let team = sql.bind(Param::Text(team_id.to_owned()));
            let staff = sql.bind(Param::Text(staff_id.to_owned()));
            (
                "staff_days",
                format!("{prefix}team_id = {team} AND {prefix}staff_id = {staff}"),
            )
        }
        DayScope::EveryStaff(team_id) => {
            let team = sql.bind(Param::Text(team_id.to_owned()));
            ("staff_days", format!("{prefix}team_id = {team}"))
        }
    }
}

/// Day rows of `scope` from `from` through `to` with their close time: columns team id,
/// staff id (empty for a team row), local date, the sums, changes after close, close time.
pub fn day_rows(style: Placeholders, scope: DayScope<'_>, from: Date, to: Date) -> Sql {
    let mut sql = Sql::new(style, "");
    let (table, key_clause) = scope_key(&mut sql, scope, "d.");
    let from = sql.bind(Param::Date(from));
    let to = sql.bind(Param::Date(to));
    let columns = DaySums::FIELDS
        .iter()
        .map(|field| format!("d.{field}"))
        .collect::<Vec<_>>()
        .join(", ");
    let staff = if table == "team_days" {
        "''"
    } else {
        "d.staff_id"
    };
    sql.push(&format!(
        "SELECT d.team_id, {staff}, d.local_date, {columns}, d.changes_after_close, c.close_time
         FROM {table} d LEFT JOIN day_closes c
           ON c.team_id = d.team_id AND c.local_date = d.local_date
         WHERE {key_clause} AND d.local_date BETWEEN {from} AND {to} ORDER BY d.local_date, 2"
    ));
    sql
}

/// The latest days of `scope` on or before a date with scored interactions, newest first:
/// columns local date, the sums.
pub fn scored_days(
    style: Placeholders,
    scope: DayScope<'_>,
    on_or_before: Date,
    limit: usize,
) -> Sql {
    let mut sql = Sql::new(style, "");
    let (table, key_clause) = scope_key(&mut sql, scope, "");
    let on_or_before = sql.bind(Param::Date(on_or_before));
    let limit = sql.bind(Param::Int(limit as i64));
    let columns = DaySums::FIELDS.join(", ");
    sql.push(&format!(
        "SELECT local_date, {columns} FROM {table} WHERE {key_clause}
         AND local_date <= {on_or_before} AND scored > 0 ORDER BY local_date DESC LIMIT {limit}"
    ));
    sql
}

/// The carry-over deltas of `scope` before a date summed by staff id (empty for a team):
/// the items carried into that date.
pub fn carried_into(style: Placeholders, scope: DayScope<'_>, before: Date) -> Sql {
    let mut sql = Sql::new(style, "");
    let (table, key_clause) = scope_key(&mut sql, scope, "");
    let before = sql.bind(Param::Date(before));
    let staff = if table == "team_days" {
        "''"
    } else {
        "staff_id"
    };
    sql.push(&format!(
        "SELECT {staff}, CAST(SUM(carry_delta) AS BIGINT) FROM {table}
         WHERE {key_clause} AND local_date < {before} GROUP BY 1 ORDER BY 1"
    ));
    sql
}

/// The statements of one rollup read ([`crate::storage::Store::day_view`]).
#[derive(Debug, Clone)]
pub struct DayViewSql {
    /// [`day_rows`] from `from` through `to`.
    pub rows: Sql,
    /// [`carried_into`] `from`.
    pub carried_in: Sql,
    /// [`scored_days`] before `from`, when earlier days are asked for.
    pub history: Option<Sql>,
}

/// The statements of a rollup read of `scope` from `from` through `to` with up to `history`
/// earlier scored days.
pub fn day_view(
    style: Placeholders,
    scope: DayScope<'_>,
    from: Date,
    to: Date,
    history: usize,
) -> DayViewSql {
    DayViewSql {
        rows: day_rows(style, scope, from, to),
        carried_in: carried_into(style, scope, from),
        history: match from.yesterday() {
            Ok(before) if history > 0 => Some(scored_days(style, scope, before, history)),
            _ => None,
        },
    }
}

/// The encoded scorecards (latest revisions) matching `filter` after `after`, in listing
/// order (local date descending, interaction id ascending).
pub fn list_scorecards(
    style: Placeholders,
    filter: &ScorecardFilter,
    after: Option<&ScorecardCursor>,
    limit: usize,
) -> Sql {
    let mut sql = Sql::new(style, "SELECT scorecard FROM interactions WHERE 1 = 1");
    for (column, value) in [("staff_id", &filter.staff_id), ("team_id", &filter.team_id)] {
        if let Some(value) = value {
            let value = sql.bind(Param::Text(value.clone()));
            sql.push(&format!(" AND {column} = {value}"));
        }
    }
    if let Some(from) = filter.from_date {
        let from = sql.bind(Param::Date(from));
        sql.push(&format!(" AND local_date >= {from}"));
    }
    if let Some(to) = filter.to_date {
        let to = sql.bind(Param::Date(to));
        sql.push(&format!(" AND local_date <= {to}"));
    }
    for (column, value) in [
        ("tier", filter.tier),
        ("channel", filter.channel),
        ("status", filter.status),
    ] {
        if let Some(value) = value {
            let value = sql.bind(Param::Int(i64::from(value)));
            sql.push(&format!(" AND {column} = {value}"));
        }
    }
    if !filter.grades.is_empty() {
        let grades: BTreeSet<i32> = filter.grades.iter().copied().collect();
        let placeholders: Vec<String> = grades
            .into_iter()
            .map(|grade| sql.bind(Param::Int(i64::from(grade))))
            .collect();
        sql.push(&format!(" AND grade IN ({})", placeholders.join(", ")));
    }
    if let Some(after) = after {
        let date = sql.bind(Param::Date(after.local_date));
        let id = sql.bind(Param::Text(after.interaction_id.clone()));
        sql.push(&format!(
            " AND (local_date < {date} OR (local_date = {date} AND interaction_id > {id}))"
        ));
    }
    let limit = sql.bind(Param::Int(limit as i64));
    sql.push(&format!(
        " ORDER BY local_date DESC, interaction_id ASC LIMIT {limit}"
    ));
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_binding_order_in_either_style() {
        let date: Date = "2026-11-23".parse().unwrap();
        let scope = DayScope::Staff {
            team_id: "t",
            staff_id: "s",
        };
        let question = day_rows(Placeholders::Question, scope, date, date);
        let dollar = day_rows(Placeholders::Dollar, scope, date, date);
        assert!(question.text.contains("d.team_id = ?1 AND d.staff_id = ?2"));
        assert!(question.text.contains("BETWEEN ?3 AND ?4"));
        assert_eq!(question.text.replace('?', "$"), dollar.text);
        assert_eq!(question.params, dollar.params);
        assert_eq!(question.params.len(), 4);
    }

    #[test]
    fn the_upsert_adds_every_sum_to_the_stored_row() {
        let sql = sums_upsert(
            Placeholders::Dollar,
            "team_days",
            &["team_id", "local_date"],
        );
        assert!(sql.contains(&format!("${}", 2 + DaySums::FIELDS.len())));
        assert!(sql.contains("items_due = team_days.items_due + excluded.items_due"));
        assert!(sql.contains("ON CONFLICT (team_id, local_date)"));
    }
}
