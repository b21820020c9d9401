//! The scheduler: the proactive half of the coordinator. Every tick (`COORDINATOR_SCHEDULER_TICK`)
//! it sends reminders before due dates and the reminders people asked for (`asked`), makes the
//! next occurrences of recurring tasks (`recurring`), asks for stand-ups and posts their
//! digests (`standups`), moves escalation ladders of overdue and
//! blocked tasks, checks the handbook's policy rules, and sends the scheduled reports. It never calls a
//! channel: everything it says goes to the outbox, in the same transaction as the state change
//! and under a dedupe key, so several replicas over one PostgreSQL database never send twice.
//! Time is a parameter: `run_once(now)` is one sweep at `now`. Each sweep also looks for what
//! the admins should hear of in their alert chat (`alerts`), and now and then deletes what is
//! older than the retention settings keep (`retention`).

pub mod alerts;
pub mod asked;
pub mod escalations;
pub mod policy;
pub mod recurring;
pub mod reminders;
pub mod reports;
pub mod retention;
pub mod standups;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{Retention, Settings};
use crate::domain::Person;
use crate::handbook::Handbook;
use crate::store::{Store, StoreError, SweepRecord, TaskRouting};
pub use crate::workspace::routing::quiet_until;
use crate::workspace::routing::{chat_notice, Address};
use crate::workspace::Workspace;
pub use policy::{Breach, Policies, Rule};

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub reminders_sent: u32,
    /// Reminders people asked for (`/remind`) that went out.
    pub asked_reminders_sent: u32,
    /// Next occurrences of recurring tasks made.
    pub recurring_tasks_made: u32,
    /// Stand-up questions asked (one per person and day).
    pub standup_questions: u32,
    /// Stand-up digests posted.
    pub standup_digests: u32,
    /// Reminders and escalation steps held back by quiet hours.
    pub held: u32,
    /// Messages kept for the end of someone's quiet hours (a new assignee's notice) that went
    /// out.
    pub held_released: u32,
    pub escalations_opened: u32,
    pub escalations_resolved: u32,
    pub escalation_steps: u32,
    pub reports_sent: u32,
    pub breaches_reported: u32,
    /// Alerts (and summaries of alerts held back) queued for the admins' alert chat.
    pub alerts_sent: u32,
    /// Old rows deleted by retention.
    pub rows_pruned: u32,
    /// AI actions whose approval a stop interrupted, put back.
    pub actions_recovered: u32,
}

/// How the scheduler behaves; `from_settings` gives the defaults.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub tick: Duration,
    /// Reminders this long before a due date (24 h and 2 h by default).
    pub reminder_leads: Vec<Duration>,
    /// The zone for people without one and for the scheduled reports.
    pub timezone: Tz,
    /// Scheduled reports go out at this local hour (daily; Mondays weekly; the 1st monthly).
    pub report_hour: u32,
    /// How long old rows are kept; `None`: kept forever.
    pub retention: Option<Retention>,
}

impl SchedulerConfig {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            tick: settings.scheduler_tick,
            reminder_leads: settings.reminder_leads.clone(),
            report_hour: settings.report_hour,
            timezone: settings.timezone,
            retention: Some(settings.queues.retention),
        }
    }

    /// The defaults, in zone `timezone`, without retention: a scheduler run at chosen moments
    /// (tests, tools) deletes nothing unless it is given a `retention`.
    pub fn with_zone(timezone: Tz) -> Self {
        Self {
            tick: Duration::from_secs(30),
            reminder_leads: vec![Duration::from_secs(24 * 3600), Duration::from_secs(2 * 3600)],
            timezone,
            report_hour: 9,
            retention: None,
        }
    }
}

/// The scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) store: Store,
    pub(crate) workspace: Workspace,
    pub(crate) config: SchedulerConfig,
    pub(crate) policies: Arc<Policies>,
    /// Whose failed ingests the admins hear of.
    pub(crate) handbook: Option<Handbook>,
    /// When retention last ran (it runs at most once a minute).
    pub(crate) pruned_at: Arc<std::sync::Mutex<Option<DateTime<Utc>>>>,
}

impl Scheduler {
    /// A scheduler over `workspace`, with `settings`' tick and zone and the policy rules of
    /// `HANDBOOK_DIR` (a missing or unreadable handbook means no rules, with a warning).
    pub fn new(workspace: Workspace, store: Store, settings: &Settings) -> Self {
        let policies = Policies::load(&settings.handbook_dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "no handbook policy rules loaded");
            Policies::default()
        });
        Self::with_config(
            workspace,
            store,
            SchedulerConfig::from_settings(settings),
            policies,
        )
    }

    /// The scheduler reads due work from `store` directly (its sweeps are set operations over
    /// many rows) and acts through `workspace`.
    pub fn with_config(
        workspace: Workspace,
        store: Store,
        config: SchedulerConfig,
        policies: Policies,
    ) -> Self {
        Self {
            store,
            workspace,
            config,
            policies: Arc::new(policies),
            handbook: None,
            pruned_at: Arc::default(),
        }
    }

    /// A failed ingest of `handbook` becomes an alert.
    pub fn with_handbook(mut self, handbook: Handbook) -> Self {
        self.handbook = Some(handbook);
        self
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// One sweep at `now`: reminders, escalation ladders, policy checks, scheduled reports.
    #[tracing::instrument(skip_all, fields(%now))]
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let since = self.store.last_sweep().await?.map(|s| s.ran_at);
        let released = self.store.release_held(now).await?;
        report.held_released = u32::try_from(released).unwrap_or(u32::MAX);
        reminders::sweep(self, now, &mut report).await?;
        asked::sweep(self, now, &mut report).await?;
        recurring::sweep(self, now, &mut report).await?;
        standups::sweep(self, now, &mut report).await?;
        escalations::sweep(self, now, &mut report).await?;
        policy::sweep(self, now, since, &mut report).await?;
        reports::sweep(self, now, &mut report).await?;
        alerts::sweep(self, now, &mut report).await?;
        retention::sweep(self, now, &mut report).await?;
        retention::recover_actions(self, now, &mut report).await?;
        let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        self.store
            .record_sweep(&SweepRecord {
                ran_at: now,
                reminders: count(report.reminders_sent + report.asked_reminders_sent),
                escalations: count(report.escalation_steps),
                reports: count(report.reports_sent),
                breaches: count(report.breaches_reported),
            })
            .await?;
        metrics::counter!("scheduler_sweeps_total").increment(1);
        Ok(report)
    }

    /// Sweeps every tick until `shutdown`; a failed sweep is logged and retried next tick.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        // The first sweep comes one tick after start-up, when the workers are running.
        let tick = self.config.tick.max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            match self.run_once(crate::store::now()).await {
                Ok(report) if report != SweepReport::default() => tracing::info!(?report, "scheduler sweep"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scheduler sweep failed"),
            }
        }
    }

    /// A person's zone, or the default one.
    pub(crate) fn zone_of(&self, person: &Person) -> Tz {
        person.timezone.parse().unwrap_or(self.config.timezone)
    }

    /// The chat that hears of a task besides its assignee at `now` (`routing::chat_notice`),
    /// with the zone its dates are written in. A person's private chat inside their quiet
    /// hours gets nothing (unless `urgent`): that copy is skipped, not held. A group chat is
    /// not held by anyone's quiet hours and reads the default zone.
    pub(crate) async fn chat_notice_now(
        &self,
        routing: &TaskRouting,
        urgent: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<(Address, Tz)>, StoreError> {
        let Some(notice) = chat_notice(&self.store, routing).await? else {
            return Ok(None);
        };
        let Some(owner) = &notice.owner else {
            return Ok(Some((notice.to, self.config.timezone)));
        };
        let tz = self.zone_of(owner);
        if !urgent && quiet_until(now, tz, self.store.quiet_hours(owner.id).await?).is_some() {
            return Ok(None);
        }
        Ok(Some((notice.to, tz)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QuietHours;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn quiet_hours_wrap_midnight_in_the_persons_zone() {
        let quiet = QuietHours {
            quiet_start_minute: 20 * 60,
            quiet_end_minute: 8 * 60,
        };
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 21:30 in Berlin (winter, UTC+1): quiet until 08:00 the next morning.
        assert_eq!(
            quiet_until(at("2030-01-14T20:30:00Z"), berlin, quiet),
            Some(at("2030-01-15T07:00:00Z"))
        );
        // 06:00 in Berlin: quiet until 08:00 the same day.
        assert_eq!(
            quiet_until(at("2030-01-15T05:00:00Z"), berlin, quiet),
            Some(at("2030-01-15T07:00:00Z"))
        );
        // 12:00 in Berlin: not quiet.
        assert_eq!(quiet_until(at("2030-01-15T11:00:00Z"), berlin, quiet), None);
        let none = QuietHours {
            quiet_start_minute: 0,
            quiet_end_minute: 0,
        };
        assert_eq!(quiet_until(at("2030-01-15T02:00:00Z"), berlin, none), None);
    }
}
