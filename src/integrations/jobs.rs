//! The one queue of integration work, `integration_jobs`, claimed like the outbox
//! (`store::Queue::Integrations`): outbound Zendesk ticket updates and CRM webhooks, and the
//! processing of inbound Zendesk and CRM webhooks. Jobs with the same key (one ticket, one task,
//! one CRM object) run in order. A transient failure (timeout, 5xx, 429) is retried with
//! backoff, or after the `Retry-After` the service asked for; a permanent one, or the tenth
//! failure, makes the job a dead letter with the reason.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::job::{kinds, JobError};
use super::{crm, zendesk, Integrations};
use crate::message::redact;
use crate::queue::{backoff, claim_lost, keeping_claim, Outcome};
use crate::store::{Queue, StoreError};

/// After this many failed attempts a job becomes a dead letter.
pub const MAX_ATTEMPTS: i32 = 10;
const LEASE: Duration = Duration::from_secs(120);
const IDLE_POLL: Duration = Duration::from_millis(500);

impl Integrations {
    /// Queues a job of `kind`; jobs with the same `key` run in order. `Ok(false)`: the
    /// `dedupe_key` was queued before.
    pub(crate) async fn enqueue(
        &self,
        kind: &str,
        key: &str,
        payload: &serde_json::Value,
        dedupe_key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let fresh = self
            .store()
            .enqueue_integration_job(kind, key, &payload.to_string(), dedupe_key)
            .await?;
        if fresh {
            self.shared.wake.notify_one();
        }
        Ok(fresh)
    }

    /// Claims and runs one due job.
    pub async fn run_job_once(&self, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let store = self.store();
        let Some(job) = store.claim(Queue::Integrations, None, now, lease_until).await? else {
            return Ok(Outcome::Idle);
        };
        let payload: serde_json::Value = match serde_json::from_str(&job.payload) {
            Ok(v) => v,
            Err(e) => {
                let error = format!("unreadable payload: {e}");
                if !store.mark_dead(Queue::Integrations, &job, &error).await? {
                    return Ok(claim_lost("integrations", job.id));
                }
                return Ok(Outcome::Dead);
            }
        };
        let work = async {
            match job.channel.as_str() {
                kinds::ZENDESK_TICKET_UPDATE => zendesk::outbound::deliver(self, &payload).await,
                kinds::ZENDESK_WEBHOOK => zendesk::webhook::process(self, &payload).await,
                kinds::CRM_OUTBOUND => crm::outbound::deliver(self, job.id, &payload).await,
                kinds::CRM_WEBHOOK => crm::inbound::process(self, &payload).await,
                other => Err(JobError::Permanent(format!("unknown job kind '{other}'"))),
            }
        };
        let result = keeping_claim(store, Queue::Integrations, &job, LEASE, work).await;
        let kind = job.channel.clone();
        match result {
            Ok(()) => {
                if !store.finish_integration_job(&job).await? {
                    return Ok(claim_lost("integrations", job.id));
                }
                metrics::counter!("integration_jobs_done_total", "kind" => kind).increment(1);
                Ok(Outcome::Done)
            }
            Err(e) if matches!(e, JobError::Permanent(_)) || job.attempts >= MAX_ATTEMPTS => {
                tracing::error!(id = job.id, kind = %kind, error = %e, "integration job given up");
                if !store
                    .mark_dead(Queue::Integrations, &job, &redact(&e.to_string()))
                    .await?
                {
                    return Ok(claim_lost("integrations", job.id));
                }
                metrics::counter!("integration_jobs_dead_total", "kind" => kind).increment(1);
                Ok(Outcome::Dead)
            }
            Err(JobError::RetryAfter(wait, message)) => {
                let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                if !store
                    .retry_at(Queue::Integrations, &job, at, Some(&redact(&message)), true)
                    .await?
                {
                    return Ok(claim_lost("integrations", job.id));
                }
                Ok(Outcome::Retried)
            }
            Err(e) => {
                tracing::warn!(id = job.id, kind = %kind, attempt = job.attempts, error = %e, "integration job failed, will retry");
                let at = now + chrono::Duration::from_std(backoff(job.attempts)).unwrap_or_default();
                if !store
                    .retry_at(Queue::Integrations, &job, at, Some(&redact(&e.to_string())), true)
                    .await?
                {
                    return Ok(claim_lost("integrations", job.id));
                }
                Ok(Outcome::Retried)
            }
        }
    }

    /// Runs jobs until `shutdown`; wakes early when one is queued.
    pub async fn jobs_until_stopped(self, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.run_job_once(crate::store::now()).await {
                Ok(Outcome::Idle) => {}
                Ok(_) => continue,
                Err(e) => tracing::warn!(error = %e, "integration worker could not reach the database"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}
