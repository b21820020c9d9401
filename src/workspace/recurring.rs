//! Recurring tasks: where a new series starts and its first occurrence (the scheduler makes
//! the next ones, `scheduler::recurring`).

use chrono::{DateTime, Utc};

use crate::domain::{end_of_day, Recurrence, ValidationError};
use crate::store::SeriesData;

/// The series of a new recurring task and its first occurrence (the task's due date): it starts
/// at `due` (at the rule's time of day, when it names one), else today at the end of the day
/// (or at that time) in `tz`. A rule that never fires is refused.
pub(super) fn series(
    rule: &Recurrence,
    due: Option<DateTime<Utc>>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, SeriesData), ValidationError> {
    use chrono::TimeZone;
    let day = due.unwrap_or(now).with_timezone(&tz).date_naive();
    let start = match (rule.time_of_day(), due) {
        (Some(time), _) => tz
            .from_local_datetime(&day.and_time(time))
            .earliest()
            .map_or_else(|| end_of_day(day, tz), |at| at.with_timezone(&Utc)),
        (None, Some(due)) => due,
        (None, None) => end_of_day(day, tz),
    };
    let first = rule.first(start, tz, now, "recurrence")?;
    Ok((
        first,
        SeriesData {
            rule: rule.rule().to_owned(),
            start,
            timezone: tz.name().to_owned(),
        },
    ))
}
