//! Scheduled reports (built by `workspace::reports`): each project's report goes to its
//! configured chat on schedule (at
//! the report hour in the workspace zone: daily, Mondays weekly, on the 1st monthly), once per
//! period (dedupe key `report:{period}:{project}:{date}`). A report with nothing in it (no task
//! open, none done in its period) is not sent: an empty project's chat hears nothing. Nor is
//! one that only work added after the report hour would fill: it waits for the next report.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::{Scheduler, SweepReport};
use crate::domain::Period;
use crate::store::StoreError;
use crate::workspace::{chat_address, Actor, WorkspaceError};

/// Which periods are due at `now` (local `tz`), once the report hour has passed.
fn due_periods(now: DateTime<Utc>, tz: Tz, hour: u32) -> Vec<Period> {
    let local = now.with_timezone(&tz);
    if local.hour() < hour {
        return Vec::new();
    }
    let mut due = vec![Period::Daily];
    if local.weekday() == Weekday::Mon {
        due.push(Period::Weekly);
    }
    if local.day() == 1 {
        due.push(Period::Monthly);
    }
    due
}

pub(super) async fn sweep(
    s: &Scheduler,
    now: DateTime<Utc>,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let tz = s.config.timezone;
    let periods = due_periods(now, tz, s.config.report_hour);
    if periods.is_empty() {
        return Ok(());
    }
    let date = now.with_timezone(&tz).date_naive();
    let system = Actor::system("scheduler");
    let longest = periods.iter().map(|p| p.length()).max().unwrap_or_default();
    // A report missed at its hour (the service was down) still goes later that day, but work
    // first added after the hour waits for the next report instead of calling one up at once.
    let slot = (date.and_hms_opt(s.config.report_hour, 0, 0))
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map_or(now, |t| t.with_timezone(&Utc));
    for (project, _name, channel, chat) in s.store.project_chats(now - longest, slot).await? {
        let Some(to) = chat_address(Some(&channel), Some(&chat)) else {
            continue;
        };
        for period in &periods {
            let key = format!("report:{}:{project}:{date}", period.as_str());
            if s.store.outbox_has_key(&key).await? {
                continue;
            }
            let built = match s.workspace.report(&system, *period, Some(project), now, tz).await {
                Ok(r) => r,
                Err(WorkspaceError::NotFound(_)) => continue,
                Err(e) => return Err(StoreError::Other(format!("report of project {project}: {e:?}"))),
            };
            if built.data.counts.open == 0 && built.data.counts.done == 0 {
                continue;
            }
            let message = built.message(to.channel, &to.chat_id);
            s.store
                .enqueue_outbox(&[crate::queue::to_outbound(&message, Some(key))?])
                .await?;
            report.reports_sent += 1;
        }
    }
    Ok(())
}
