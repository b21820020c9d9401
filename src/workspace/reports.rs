//! Reports: daily, weekly and monthly, for the workspace or one project, with a per-person
//! breakdown; the weekly one carries a chart (open vs done per day). The same report answers
//! `/report`, `coordinator report`, and goes to each project's chat on schedule (the
//! scheduler's sweep).

mod chart;

use base64::Engine;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use chart::render_chart;

use super::{Actor, ReportData, Workspace, WorkspaceError};
use crate::domain::Period;
use crate::message::{OutboundFile, OutboundMessage};

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

impl Workspace {
    /// The `period` report at `now` for `project` (or all), dates shown in `tz`.
    pub async fn report(
        &self,
        actor: &Actor,
        period: Period,
        project: Option<i64>,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Result<Report, WorkspaceError> {
        let data = self.report_data(actor, project, period.length(), now).await?;
        render(period, data, tz)
    }
}

/// The report's text and chart from its figures.
fn render(period: Period, data: ReportData, tz: Tz) -> Result<Report, WorkspaceError> {
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
