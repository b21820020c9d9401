//! Applying a CRM event to the workspace. Each CRM object is linked (`external_links`) to the
//! record it made, with a hash of the fields last applied: the same fields again change
//! nothing, new ones update the record, and a deletion unlinks (or deletes) it. Writes go
//! through the workspace as the `crm` actor, so they are checked, audited, and not echoed
//! back to the CRM.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::mapping::{id_text, ObjectMapping, OnDelete, Resource};
use super::NAME;
use crate::integrations::{actor, Integrations, JobError};
use crate::store::NewLink;
use crate::workspace::{
    NewPerson, NewProject, Origin, PersonUpdate, ProjectUpdate, TaskRequest, TaskUpdate, WorkspaceError,
};

fn job_error(e: WorkspaceError) -> JobError {
    match e {
        WorkspaceError::Unavailable(m) | WorkspaceError::Internal(m) => JobError::Transient(m),
        other => JobError::Permanent(other.to_string()),
    }
}

fn from_fields<T: serde::de::DeserializeOwned>(
    fields: &Map<String, Value>,
    what: &str,
) -> Result<T, JobError> {
    serde_json::from_value(Value::Object(fields.clone()))
        .map_err(|e| JobError::Permanent(format!("the CRM object does not fit a {what}: {e}")))
}

/// A handle for a new person: the mapped one, else from the email or the name.
fn handle_base(fields: &Map<String, Value>, external_id: &str) -> String {
    let source = ["handle", "email", "name"]
        .iter()
        .find_map(|k| fields.get(*k).and_then(Value::as_str))
        .map(|s| s.split('@').next().unwrap_or(s).to_owned())
        .unwrap_or_default();
    let mut handle = String::new();
    for c in source.to_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            c
        } else {
            '-'
        };
        if !(c == '-' && handle.ends_with('-')) {
            handle.push(c);
        }
    }
    let handle: String = handle.trim_matches('-').chars().take(28).collect();
    if handle.is_empty() {
        format!(
            "crm-{}",
            external_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(24)
                .collect::<String>()
        )
    } else {
        handle
    }
}

/// Our fields for a CRM object, with its references resolved to our ids and handles.
async fn our_fields(
    i: &Integrations,
    spec: &ObjectMapping,
    data: &Value,
) -> Result<Map<String, Value>, JobError> {
    let mut fields = spec.fields_of(data);
    for (field, target) in &spec.refs {
        // Absent: left as it is; present but empty: cleared.
        let Some(value) = target.field.split('.').try_fold(data, |v, key| v.get(key)) else {
            continue;
        };
        let resolved = match id_text(value) {
            None => Value::Null,
            Some(id) => match i.store().external_link(NAME, &target.object, &id).await? {
                None => {
                    tracing::info!(object = %target.object, %id, "CRM reference to an object not seen yet; left empty");
                    Value::Null
                }
                Some(link) if field == "assigned_to" => match i.store().person(link.local_id).await {
                    Ok(p) => Value::String(p.handle),
                    Err(_) => Value::Null,
                },
                Some(link) => Value::from(link.local_id),
            },
        };
        fields.insert(field.clone(), resolved);
    }
    Ok(fields)
}

fn without_nulls(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(super) async fn upsert(
    i: &Integrations,
    object: &str,
    spec: &ObjectMapping,
    external_id: &str,
    data: &Value,
) -> Result<(), JobError> {
    let fields = our_fields(i, spec, data).await?;
    let version = hex::encode(Sha256::digest(
        Value::Object(fields.clone()).to_string().as_bytes(),
    ));
    let link = i.store().external_link(NAME, object, external_id).await?;
    if link
        .as_ref()
        .is_some_and(|l| l.version.as_deref() == Some(version.as_str()))
    {
        tracing::debug!(object, external_id, "CRM object unchanged");
        return Ok(());
    }
    let updated = match &link {
        Some(link) => update(i, spec.resource, link.local_id, &fields).await?,
        None => None,
    };
    let local_id = match updated {
        Some(id) => id,
        None => create(i, object, spec.resource, external_id, &fields).await?,
    };
    let new = NewLink {
        system: NAME,
        object_type: object,
        external_id,
        resource: spec.resource.as_str(),
        local_id,
        version: Some(&version),
    };
    i.store().upsert_external_link(&new).await?;
    tracing::info!(
        object,
        external_id,
        resource = spec.resource.as_str(),
        local_id,
        "CRM object applied"
    );
    Ok(())
}

/// Updates the linked record; `None` when it no longer exists here.
async fn update(
    i: &Integrations,
    resource: Resource,
    local_id: i64,
    fields: &Map<String, Value>,
) -> Result<Option<i64>, JobError> {
    let crm = actor(NAME);
    let ws = i.workspace();
    let result = match resource {
        Resource::Task => ws
            .update_task(&crm, local_id, from_fields::<TaskUpdate>(fields, "task")?)
            .await
            .map(|t| t.id),
        Resource::Project => ws
            .update_project(&crm, local_id, from_fields::<ProjectUpdate>(fields, "project")?)
            .await
            .map(|p| p.id),
        Resource::Person => {
            let Ok(person) = i.store().person(local_id).await else {
                return Ok(None);
            };
            // The CRM edits the contact's details, never its role or handle.
            let mut fields = fields.clone();
            fields.remove("role");
            fields.remove("handle");
            ws.update_person(
                &crm,
                &person.handle,
                from_fields::<PersonUpdate>(&fields, "person")?,
            )
            .await
            .map(|p| p.id)
        }
    };
    match result {
        Ok(id) => Ok(Some(id)),
        Err(WorkspaceError::NotFound(_)) => Ok(None),
        Err(e) => Err(job_error(e)),
    }
}

async fn create(
    i: &Integrations,
    object: &str,
    resource: Resource,
    external_id: &str,
    fields: &Map<String, Value>,
) -> Result<i64, JobError> {
    let crm = actor(NAME);
    let ws = i.workspace();
    let fields = without_nulls(fields);
    match resource {
        Resource::Task => {
            // The source key makes a retry after a crash find the task made the first time.
            let origin = Origin {
                channel: NAME.into(),
                chat: format!("{object}:{external_id}"),
                source_key: format!("crm:{object}:{external_id}"),
            };
            let new: TaskRequest = from_fields(&fields, "task")?;
            ws.submit_task(&crm, new, Some(&origin))
                .await
                .map(|t| t.id)
                .map_err(job_error)
        }
        Resource::Project => {
            let new: NewProject = from_fields(&fields, "project")?;
            ws.create_project(&crm, new)
                .await
                .map(|p| p.id)
                .map_err(job_error)
        }
        Resource::Person => {
            // A contact is never matched to someone who is here already (their address is the
            // customer's to edit): it becomes a person of its own, with the CRM's role.
            let mut fields = fields;
            fields.insert("role".into(), Value::String(i.crm_people_role().as_str().into()));
            let base = handle_base(&fields, external_id);
            let mut last = None;
            for n in 1..=5 {
                let handle = if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                let mut with_handle = fields.clone();
                with_handle
                    .entry("handle")
                    .or_insert_with(|| Value::String(handle));
                let new: NewPerson = from_fields(&with_handle, "person")?;
                match ws.create_person(&crm, new).await {
                    Ok(p) => return Ok(p.id),
                    Err(e @ WorkspaceError::Conflict(_)) if !fields.contains_key("handle") => last = Some(e),
                    Err(e) => return Err(job_error(e)),
                }
            }
            Err(job_error(last.unwrap_or_else(|| {
                WorkspaceError::Conflict("no free handle".into())
            })))
        }
    }
}

pub(super) async fn delete(
    i: &Integrations,
    object: &str,
    spec: &ObjectMapping,
    external_id: &str,
) -> Result<(), JobError> {
    let Some(link) = i.store().external_link(NAME, object, external_id).await? else {
        return Ok(());
    };
    if spec.on_delete == OnDelete::Delete {
        let crm = actor(NAME);
        let ws = i.workspace();
        let result = match spec.resource {
            Resource::Task => ws.delete_task(&crm, link.local_id).await,
            Resource::Project => ws.delete_project(&crm, link.local_id).await,
            Resource::Person => match i.store().person(link.local_id).await {
                Ok(p) => ws.delete_person(&crm, &p.handle).await,
                Err(_) => Ok(()),
            },
        };
        match result {
            Ok(()) | Err(WorkspaceError::NotFound(_)) => {}
            // e.g. a project that still has tasks: it stays, only the link goes.
            Err(WorkspaceError::Conflict(m)) => {
                tracing::warn!(object, external_id, reason = %m, "CRM deletion not applied")
            }
            Err(e) => return Err(job_error(e)),
        }
    }
    i.store().delete_external_link(NAME, object, external_id).await?;
    tracing::info!(object, external_id, "CRM object deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn handles_for_new_people() {
        let f = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            handle_base(&f(json!({"email": "Anna.Smith@x.org"})), "1"),
            "anna.smith"
        );
        assert_eq!(
            handle_base(&f(json!({"name": "Jörg  Müller"})), "1"),
            "j-rg-m-ller"
        );
        assert_eq!(handle_base(&f(json!({})), "c-9!"), "crm-c9");
    }
}
