//! Task and project changes to the CRM: each change is queued as a job (when
//! `CRM_OUTBOUND_URL` is set) and posted by the integration worker as JSON, signed
//! `X-Coordinator-Signature: sha256=HEX`, with `X-Coordinator-Event` and
//! `X-Coordinator-Delivery` (the same on every retry of one delivery). A 2xx answer delivers;
//! 5xx, 408, 429 and network errors are retried with backoff; any other answer is given up.

use serde_json::{json, Value};

use super::{sign, CrmError, NAME, SIGNATURE};
use crate::integrations::job::{retry_after, without_url};
use crate::integrations::{kinds, Integrations, JobError};
use crate::workspace::{Change, ChangeEvent};

/// What a change is about: (`task` or `project`, id, the record as JSON or just its id).
fn subject(change: &Change) -> (&'static str, i64, Value) {
    let as_json = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    match change {
        Change::TaskCreated(t) | Change::TaskUpdated { task: t, .. } => {
            ("task", t.id, as_json(serde_json::to_value(t)))
        }
        Change::TaskDeleted(id) => ("task", *id, json!({ "id": id })),
        Change::ProjectCreated(p) | Change::ProjectUpdated(p) => {
            ("project", p.id, as_json(serde_json::to_value(p)))
        }
        Change::ProjectDeleted(id) => ("project", *id, json!({ "id": id })),
    }
}

/// Queues a webhook for the change, unless it came from the CRM or no URL is set.
pub(crate) async fn on_change(i: &Integrations, event: &ChangeEvent) -> Result<(), CrmError> {
    if event.channel == NAME {
        return Ok(());
    }
    match i.crm_outbound().await {
        Ok(None) => return Ok(()),
        Ok(Some(_)) => {}
        // Set but unusable now (e.g. a secret that does not decrypt): queue it all the same,
        // the delivery says why it cannot go.
        Err(e) => tracing::warn!(error = %e, "the CRM's outbound settings are not usable"),
    }
    let (resource, id, data) = subject(&event.change);
    let external_ids: Vec<Value> = i
        .store()
        .links_of(NAME, resource, id)
        .await?
        .into_iter()
        .map(|l| json!({"object": l.object_type, "id": l.external_id}))
        .collect();
    let delivery = hex::encode(rand::random::<[u8; 12]>());
    let payload = json!({
        "id": delivery,
        "type": event.change.name(),
        "occurred_at": crate::store::now(),
        "actor": event.actor,
        "channel": event.channel,
        "data": data,
        "external_ids": external_ids,
    });
    let key = format!("{resource}:{id}");
    i.enqueue(
        kinds::CRM_OUTBOUND,
        &key,
        &payload,
        Some(&format!("crm.out:{delivery}")),
    )
    .await?;
    Ok(())
}

/// Posts one queued webhook.
pub(crate) async fn deliver(i: &Integrations, job_id: i64, payload: &Value) -> Result<(), JobError> {
    let target = match i.crm_outbound().await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(JobError::Permanent(
                "CRM_OUTBOUND_URL (or its secret) is no longer set".into(),
            ))
        }
        Err(e) => return Err(JobError::Transient(e.to_string())),
    };
    let body = serde_json::to_vec(payload).map_err(|e| JobError::Permanent(e.to_string()))?;
    let event = payload["type"].as_str().unwrap_or("change");
    let delivery = payload["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| job_id.to_string());
    let response = i
        .http()
        .post(&target.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE, sign(target.secret.expose(), &body))
        .header("x-coordinator-event", event)
        .header("x-coordinator-delivery", &delivery)
        .body(body)
        .send()
        .await
        .map_err(|e| JobError::Transient(format!("CRM webhook: {}", without_url(&e))))?;
    let status = response.status();
    if status.is_success() {
        tracing::info!(event, %delivery, "CRM webhook delivered");
        return Ok(());
    }
    Err(JobError::from_status(
        status,
        retry_after(&response),
        "CRM webhook",
    ))
}
