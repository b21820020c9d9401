//! The words of findings and suggestions: spans of time, hours, who a task belongs to.

use chrono::TimeDelta;

use crate::store::TaskSignal;

pub(super) fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// "less than an hour", "5 hours", "3 days".
pub(super) fn span(d: TimeDelta) -> String {
    match d.num_hours() {
        h if h < 1 => "less than an hour".into(),
        h if h < 24 => plural(h, "hour"),
        _ => plural(d.num_days(), "day"),
    }
}

/// "36 hours", "1 hour", "less than an hour", "no".
pub(super) fn hours(h: f64) -> String {
    match h.round() as i64 {
        0 if h > 0.0 => "less than an hour".into(),
        0 => "no".into(),
        n => plural(n, "hour"),
    }
}

/// "16 working hours", "no working hours".
pub(super) fn working(h: f64) -> String {
    match h.round() as i64 {
        0 if h > 0.0 => "less than a working hour".into(),
        0 => "no working hours".into(),
        1 => "1 working hour".into(),
        n => format!("{n} working hours"),
    }
}

/// "@anna" or "unassigned".
pub(super) fn who(task: &TaskSignal) -> String {
    match &task.assigned_to {
        Some(handle) => format!("@{handle}"),
        None => "unassigned".into(),
    }
}

pub(super) fn label(task: &TaskSignal) -> String {
    format!("#{} {}", task.id, task.title)
}

/// "is due in 20 hours" or "is 2 days overdue".
pub(super) fn due_phrase(until_due: TimeDelta) -> String {
    if until_due < TimeDelta::zero() {
        format!("is {} overdue", span(-until_due))
    } else {
        format!("is due in {}", span(until_due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases() {
        assert_eq!(span(TimeDelta::minutes(59)), "less than an hour");
        assert_eq!(span(TimeDelta::minutes(61)), "1 hour");
        assert_eq!(span(TimeDelta::hours(23)), "23 hours");
        assert_eq!(span(TimeDelta::hours(49)), "2 days");
        assert_eq!(span(TimeDelta::hours(24)), "1 day");
        assert_eq!(hours(35.6), "36 hours");
        assert_eq!(hours(0.2), "less than an hour");
        assert_eq!(working(0.0), "no working hours");
        assert_eq!(working(1.0), "1 working hour");
        assert_eq!(due_phrase(TimeDelta::hours(20)), "is due in 20 hours");
        assert_eq!(due_phrase(TimeDelta::hours(-50)), "is 2 days overdue");
    }
}
