//! `POST /webhooks/crm`: events from the CRM, signed `X-Coordinator-Signature: sha256=HEX`
//! (HMAC-SHA256 of the raw body with `CRM_WEBHOOK_SECRET`); a missing or wrong signature gets
//! 401. The body is one event or `{"events": [...]}`; an event is
//! `{"event_id", "type": "deal.updated", "data": {"id": …, …}}` (`object` and `action` may be
//! given instead of `type`). Each event is stored (once per `event_id`, or per content when it
//! has none) before the 202, and applied in order per CRM object by the integration worker.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::mapping::{id_text, lookup};
use super::{verify, SIGNATURE};
use crate::http::webhook::{configured_secret, early, receive, Early, SignedWebhook, WebhookError};
use crate::integrations::{kinds, Integrations, JobError};

pub fn router(i: Integrations) -> Router {
    Router::new()
        .route("/webhooks/crm", post(receive::<CrmWebhook>))
        .with_state(CrmWebhook(i))
}

/// One event, ready to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub object: String,
    /// `created`, `updated` or `deleted`.
    pub action: String,
    pub external_id: String,
    pub data: Value,
}

/// Why an event of a body was not queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped(pub String);

/// The events of a body; those that cannot be used say why.
pub fn events(body: &Value, mapping: &super::Mapping) -> Vec<Result<Event, Skipped>> {
    let list: Vec<&Value> = match body {
        Value::Array(items) => items.iter().collect(),
        Value::Object(o) if o.get("events").is_some_and(Value::is_array) => o["events"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        other => vec![other],
    };
    list.into_iter().map(|e| event(e, mapping)).collect()
}

fn event(raw: &Value, mapping: &super::Mapping) -> Result<Event, Skipped> {
    let kind = raw["type"].as_str().unwrap_or("");
    let (type_object, type_action) = kind.rsplit_once('.').unwrap_or((kind, ""));
    let object = raw["object"]
        .as_str()
        .unwrap_or(type_object)
        .trim()
        .to_ascii_lowercase();
    let action = raw["action"]
        .as_str()
        .unwrap_or(type_action)
        .trim()
        .to_ascii_lowercase();
    let Some(spec) = mapping.objects.get(&object) else {
        return Err(Skipped(format!("no mapping for CRM object '{object}'")));
    };
    let action = match action.as_str() {
        "created" | "create" | "updated" | "update" | "upserted" | "changed" => "updated",
        "deleted" | "delete" | "removed" | "archived" => "deleted",
        other => return Err(Skipped(format!("unknown action '{other}'"))),
    };
    let data = raw.get("data").cloned().unwrap_or(Value::Null);
    let Some(external_id) = lookup(&data, &spec.id).and_then(id_text) else {
        return Err(Skipped(format!("the {object} has no id at '{}'", spec.id)));
    };
    let event_id = raw
        .get("event_id")
        .and_then(id_text)
        .unwrap_or_else(|| hex::encode(Sha256::digest(raw.to_string().as_bytes())));
    Ok(Event {
        event_id,
        object,
        action: action.to_owned(),
        external_id,
        data,
    })
}

/// `POST /webhooks/crm`: the integrations, as a signed webhook.
#[derive(Clone)]
pub struct CrmWebhook(pub Integrations);

/// What a body held: the usable events, and why the others were not queued.
pub struct Batch {
    events: Vec<Event>,
    ignored: Vec<String>,
}

/// What storing a batch did.
pub struct Stored {
    accepted: usize,
    duplicates: usize,
    ignored: Vec<String>,
}

#[async_trait::async_trait]
impl SignedWebhook for CrmWebhook {
    type Parsed = Batch;
    type Stored = Stored;
    const WHAT: &'static str = "CRM event";

    /// `X-Coordinator-Signature` over the body with the webhook secret.
    async fn verify(&self, headers: &HeaderMap, body: &Bytes) -> Result<(), WebhookError> {
        let secret = configured_secret(self.0.crm_webhook_secret().await, "CRM", "CRM_WEBHOOK_SECRET")?;
        let Some(signature) = headers.get(SIGNATURE).and_then(|v| v.to_str().ok()) else {
            return Err(WebhookError::Unauthorized(
                "missing X-Coordinator-Signature".into(),
            ));
        };
        if !verify(secret.expose(), body, signature) {
            return Err(WebhookError::Unauthorized("bad X-Coordinator-Signature".into()));
        }
        Ok(())
    }

    fn parse(&self, _headers: &HeaderMap, body: &Bytes) -> Result<Batch, Early> {
        let parsed: Value = serde_json::from_slice(body).map_err(|e| {
            tracing::warn!(error = %e, "CRM webhook body is not JSON; ignored");
            let answer =
                json!({"status": "ignored", "accepted": 0, "duplicates": 0, "ignored": [e.to_string()]});
            early((StatusCode::ACCEPTED, Json(answer)))
        })?;
        let mut batch = Batch {
            events: Vec::new(),
            ignored: Vec::new(),
        };
        for event in events(&parsed, self.0.crm_mapping()) {
            match event {
                Ok(e) => batch.events.push(e),
                Err(Skipped(reason)) => {
                    tracing::info!(%reason, "CRM event ignored");
                    batch.ignored.push(reason);
                }
            }
        }
        Ok(batch)
    }

    async fn store(&self, batch: Batch) -> Result<Stored, String> {
        let mut stored = Stored {
            accepted: 0,
            duplicates: 0,
            ignored: batch.ignored,
        };
        for event in batch.events {
            let payload = json!({
                "event_id": event.event_id,
                "object": event.object,
                "action": event.action,
                "external_id": event.external_id,
                "data": event.data,
            });
            let key = format!("{}:{}", event.object, event.external_id);
            let dedupe = format!("crm:{}", event.event_id);
            match self
                .0
                .enqueue(kinds::CRM_WEBHOOK, &key, &payload, Some(&dedupe))
                .await
                .map_err(|e| e.to_string())?
            {
                true => stored.accepted += 1,
                false => stored.duplicates += 1,
            }
        }
        Ok(stored)
    }

    fn answer(&self, stored: Stored) -> Response {
        let status = if stored.accepted > 0 {
            "accepted"
        } else if stored.duplicates > 0 {
            "duplicate"
        } else {
            "ignored"
        };
        let answer = json!({"status": status, "accepted": stored.accepted,
            "duplicates": stored.duplicates, "ignored": stored.ignored});
        (StatusCode::ACCEPTED, Json(answer)).into_response()
    }
}

/// Applies a stored event.
pub(crate) async fn process(i: &Integrations, payload: &Value) -> Result<(), JobError> {
    let text = |k: &str| payload[k].as_str().map(str::to_owned);
    let (Some(object), Some(action), Some(external_id)) =
        (text("object"), text("action"), text("external_id"))
    else {
        return Err(JobError::Permanent("the job is not a CRM event".into()));
    };
    let Some(spec) = i.crm_mapping().objects.get(&object) else {
        tracing::warn!(%object, "the CRM mapping no longer has this object; event dropped");
        return Ok(());
    };
    if action == "deleted" {
        super::apply::delete(i, &object, spec, &external_id).await
    } else {
        super::apply::upsert(i, &object, spec, &external_id, &payload["data"]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_from_bodies() {
        let m = super::super::Mapping::built_in();
        let one = json!({"event_id": "e1", "type": "deal.created", "data": {"id": 5, "name": "Site"}});
        let got = events(&one, &m);
        assert_eq!(got.len(), 1);
        let e = got[0].clone().unwrap();
        assert_eq!(
            (e.object.as_str(), e.action.as_str(), e.external_id.as_str()),
            ("deal", "updated", "5")
        );
        let many = json!({"events": [one, {"object": "contact", "action": "deleted", "data": {"id": "c1"}},
            {"type": "invoice.created", "data": {"id": 1}}, {"type": "deal.created", "data": {}}]});
        let got = events(&many, &m);
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].clone().unwrap().action, "deleted");
        assert!(got[1].clone().unwrap().event_id.len() == 64);
        assert!(got[2].is_err() && got[3].is_err());
    }
}
