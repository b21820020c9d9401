//! Task status changes back to the linked tickets: queued when the task changes, delivered by
//! the integration worker as `PUT /api/v2/tickets/{id}.json` with the mapped status and an
//! internal note, retried when Zendesk fails or asks to wait.

use serde_json::{json, Value};

use super::client::Client;
use super::{ticket_status, ZendeskError, NAME, NOTE_PREFIX};
use crate::integrations::{kinds, Integrations, JobError};
use crate::store::{NewLink, StoreError};
use crate::workspace::{Change, ChangeEvent};

/// Queues an update for each ticket linked to a task whose status changed (not for changes
/// that came from Zendesk itself).
pub(crate) async fn on_change(i: &Integrations, event: &ChangeEvent) -> Result<(), StoreError> {
    let Change::TaskUpdated { task, before } = &event.change else {
        return Ok(());
    };
    if event.channel == NAME || task.status == *before {
        return Ok(());
    }
    for link in i.store().links_of(NAME, "task", task.id).await? {
        if link.object_type != "ticket" {
            continue;
        }
        let Ok(ticket_id) = link.external_id.parse::<i64>() else {
            continue;
        };
        let payload = json!({
            "ticket_id": ticket_id,
            "task_id": task.id,
            "status": task.status,
            "title": task.title,
            "by": event.actor,
        });
        let key = format!("ticket:{ticket_id}");
        i.enqueue(kinds::ZENDESK_TICKET_UPDATE, &key, &payload, None)
            .await?;
    }
    Ok(())
}

/// Sends one queued update.
pub(crate) async fn deliver(i: &Integrations, payload: &Value) -> Result<(), JobError> {
    let ticket_id = payload["ticket_id"]
        .as_i64()
        .ok_or_else(|| JobError::Permanent("the job has no ticket_id".into()))?;
    let status: crate::domain::TaskStatus = serde_json::from_value(payload["status"].clone())
        .map_err(|_| JobError::Permanent("the job has no valid status".into()))?;
    let task_id = payload["task_id"].as_i64().unwrap_or_default();
    let title = payload["title"].as_str().unwrap_or("");
    let by = payload["by"].as_str().unwrap_or("someone");
    let config = i.zendesk_config().await.map_err(ZendeskError::into_job)?;
    let note = format!("{NOTE_PREFIX} Task #{task_id} “{title}” is now {status} (changed by {by}).");
    let ticket = json!({
        "status": ticket_status(status),
        "comment": { "body": note, "public": false },
    });
    let answer = Client::new(i.http(), &config)
        .update_ticket(ticket_id, ticket)
        .await
        .map_err(ZendeskError::into_job)?;
    // Our note comes back in the ticket's comments: remember it, so it is not imported.
    let events = answer["audit"]["events"].as_array().cloned().unwrap_or_default();
    for event in events.iter().filter(|e| e["type"] == "Comment") {
        if let Some(id) = event["id"].as_i64() {
            let external_id = id.to_string();
            let link = NewLink {
                system: NAME,
                object_type: "comment",
                external_id: &external_id,
                resource: "own",
                local_id: task_id,
                version: None,
            };
            i.store().insert_external_link(&link).await?;
        }
    }
    tracing::info!(ticket = ticket_id, task = task_id, %status, "task status sent to Zendesk");
    Ok(())
}
