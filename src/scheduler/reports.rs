//! Reports: daily, weekly and monthly, for the workspace or one project, with a per-person
//! breakdown; the weekly one carries a chart (open vs done per day). The same report answers
//! `/report`, `coordinator report`, and goes to each project's configured chat on schedule (at
//! the report hour in the workspace zone: daily, Mondays weekly, on the 1st monthly), once per
//! period (dedupe key `report:{period}:{project}:{date}`).

use base64::Engine;
use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::{chat_address, render_chart, Scheduler, SweepReport};
use crate::channels::{OutboundFile, OutboundMessage};
use crate::store::StoreError;
use crate::workspace::{Actor, ReportData, Workspace, WorkspaceError};

/// The period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    pub fn length(self) -> Duration {
        match self {
            Period::Daily => Duration::days(1),
            Period::Weekly => Duration::days(7),
            Period::Monthly => Duration::days(30),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_lowercase().as_str() {
            "daily" | "day" => Ok(Period::Daily),
            "weekly" | "week" => Ok(Period::Weekly),
            "monthly" | "month" => Ok(Period::Monthly),
            other => Err(format!("'{other}' is not a period: use daily, weekly or monthly")),
        }
    }
}

/// A report, ready to print or send.
#[derive(Debug, Clone)]
pub struct Report {
    pub text: String,
    /// The weekly chart, as PNG.
    pub chart: Option<Vec<u8>>,
    pub data: ReportData,
}

impl Report {
    /// As a message to `chat`, the chart attached.
    pub fn message(&self, channel: crate::domain::Channel, chat: &str) -> OutboundMessage {
        let mut message = OutboundMessage::text(channel, chat, self.text.clone());
        if let Some(png) = &self.chart {
            message.attachments.push(OutboundFile {
                name: "report.png".into(),
                mime_type: "image/png".into(),
                bytes_base64: base64::engine::general_purpose::STANDARD.encode(png),
            });
        }
        message
    }
}

/// Builds the `period` report at `now` for `project` (or all), dates shown in `tz`.
pub async fn build(
    workspace: &Workspace,
    actor: &Actor,
    period: Period,
    project: Option<i64>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Report, WorkspaceError> {
    let data = workspace
        .report_data(actor, project, period.length(), now)
        .await?;
    let scope = data
        .project
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "all projects".into());
    let title = format!(
        "{} report, {}: {} – {}",
        capitalized(period.as_str()),
        scope,
        data.from.with_timezone(&tz).format("%a %-d %b"),
        data.to.with_timezone(&tz).format("%a %-d %b %H:%M")
    );
    let text = render_text(&title, period, &data);
    let chart = match period {
        Period::Weekly => Some(
            render_chart(&format!("Open and done, {scope}"), &data.series)
                .map_err(WorkspaceError::Internal)?,
        ),
        _ => None,
    };
    Ok(Report { text, chart, data })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn render_text(title: &str, period: Period, data: &ReportData) -> String {
    let c = &data.counts;
    let mut text = format!(
        "{title}\nDone: {}\nOpen: {}\nOverdue: {}\nAt risk: {}\nDue in the next {}: {}\nTime spent: {:.1} h of {:.1} h estimated",
        c.done,
        c.open,
        c.overdue,
        c.at_risk,
        match period {
            Period::Daily => "day",
            Period::Weekly => "week",
            Period::Monthly => "30 days",
        },
        c.upcoming,
        c.time_spent,
        c.time_estimate
    );
    if !data.people.is_empty() {
        text.push_str("\nBy person:");
        for p in &data.people {
            text.push_str(&format!(
                "\n  @{}: done {}, open {}, overdue {}",
                p.handle, p.done, p.open, p.overdue
            ));
        }
    }
    text
}

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
    for (project, _name, channel, chat) in s.store.project_chats().await? {
        let Some(to) = chat_address(Some(&channel), Some(&chat)) else {
            continue;
        };
        for period in &periods {
            let key = format!("report:{}:{project}:{date}", period.as_str());
            if s.store.outbox_has_key(&key).await? {
                continue;
            }
            let built = match build(&s.workspace, &system, *period, Some(project), now, tz).await {
                Ok(r) => r,
                Err(WorkspaceError::NotFound(_)) => continue,
                Err(e) => return Err(StoreError::Other(format!("report of project {project}: {e:?}"))),
            };
            let message = built.message(to.channel, &to.chat_id);
            s.store
                .enqueue_outbox(&[crate::inbox::to_outbound(&message, Some(key))?])
                .await?;
            report.reports_sent += 1;
        }
    }
    Ok(())
}
