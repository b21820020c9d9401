//! The CRM sync end to end: signed inbound webhooks (good, forged, replayed, updated, deleted)
//! mapped to projects, people and tasks by the mapping file, and signed outbound webhooks to
//! a receiver on 127.0.0.1, retried after a failure.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use coordinator::integrations::crm::{sign, verify};
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_zendesk::eventually;
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp};

const SECRET: &str = "crm-shared-secret";

/// A CRM's webhook receiver: records every delivery; the first `fail` answer 503.
#[derive(Clone, Default)]
struct Receiver {
    deliveries: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    fail: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(fail: usize) -> (Self, String) {
        let receiver = Self::default();
        *receiver.fail.lock().unwrap() = fail;
        let app = Router::new()
            .route("/hooks/coordinator", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/coordinator", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, url)
    }

    fn all(&self) -> Vec<(HeaderMap, Bytes)> {
        self.deliveries.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.deliveries.lock().unwrap().push((headers, body));
    let mut fail = r.fail.lock().unwrap();
    if *fail > 0 {
        *fail -= 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::NO_CONTENT
}

fn signed(app: &TestApp, body: &Value, secret: &str) -> reqwest::RequestBuilder {
    let text = body.to_string();
    app.request(Method::POST, "/webhooks/crm", None)
        .header("content-type", "application/json")
        .header("x-coordinator-signature", sign(secret, text.as_bytes()))
        .body(text)
}

async fn list(app: &TestApp, path: &str) -> Vec<Value> {
    let reply = app.get(path).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body.as_array().unwrap().clone()
}

async fn crm_webhooks_map_objects_and_refuse_forgeries(db: Db) {
    let app = spawn_app_with(db, &[("CRM_WEBHOOK_SECRET", SECRET)]).await;
    let events = json!({"events": [
        {"event_id": "evt-1", "type": "project.created", "data": {"id": "P-1", "name": "Website relaunch", "status": "open"}},
        {"event_id": "evt-2", "type": "contact.created", "data": {"id": 501, "name": "Dana Scully", "email": "Dana@Example.org"}},
        {"event_id": "evt-3", "type": "deal.created", "data": {"id": "D-9", "name": "Acme contract", "stage": "negotiation",
            "priority": "high", "project_id": "P-1", "owner_id": 501, "close_date": "2030-02-01", "hours": 12}},
        {"event_id": "evt-4", "type": "invoice.created", "data": {"id": 1}}
    ]});

    let forged = TestApp::send(signed(&app, &events, "guess")).await;
    assert_eq!((forged.status, forged.code()), (401, "unauthorized"));
    let unsigned = TestApp::send(
        app.request(Method::POST, "/webhooks/crm", None)
            .body(events.to_string()),
    )
    .await;
    assert_eq!(unsigned.status, 401);
    let text = events.to_string();
    let hex_only = sign(SECRET, text.as_bytes()).replace("sha256=", "");
    let bad_format = TestApp::send(
        app.request(Method::POST, "/webhooks/crm", None)
            .header("x-coordinator-signature", hex_only)
            .body(text),
    )
    .await;
    assert_eq!(bad_format.status, 401);

    let good = TestApp::send(signed(&app, &events, SECRET)).await;
    assert_eq!(good.status, 202, "{}", good.body);
    assert_eq!(good.body["accepted"], 3);
    assert_eq!(
        good.body["ignored"].as_array().unwrap().len(),
        1,
        "the invoice has no mapping"
    );
    eventually("the deal becomes a task", || async {
        list(&app, "/api/tasks").await.len() == 1
    })
    .await;

    let projects = list(&app, "/api/projects").await;
    assert_eq!(projects.len(), 1);
    assert_eq!(
        (projects[0]["name"].as_str(), projects[0]["status"].as_str()),
        (Some("Website relaunch"), Some("active"))
    );
    let person = app.get("/api/people/dana").await;
    assert_eq!(person.status, 200, "{}", person.body);
    assert_eq!(person.body["email"], "dana@example.org");
    // CRM contacts are edited by customers: they join as guests, never as staff.
    assert_eq!(person.body["role"], "guest");
    let task = &list(&app, "/api/tasks").await[0];
    assert_eq!(task["title"], "Acme contract");
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["project_id"], projects[0]["id"]);
    assert_eq!(task["assigned_to"], "dana");
    assert_eq!(task["time_estimate"], 12.0);
    assert!(task["due_date"].as_str().unwrap().starts_with("2030-02-01"));

    // A contact whose email someone here has is NOT that person: matching it would hand a
    // customer-editable address a staff identity. It becomes a guest of its own.
    let existing = app
        .post(
            "/api/people",
            json!({"handle": "fox", "name": "Fox Mulder", "email": "fox@example.org"}),
        )
        .await;
    assert_eq!(existing.status, 201);
    let contact = json!({"event_id": "evt-5", "type": "contact.updated", "data": {"id": 502, "name": "Fox M.", "email": "FOX@example.org"}});
    assert_eq!(TestApp::send(signed(&app, &contact, SECRET)).await.status, 202);
    eventually("the contact becomes a person of its own", || async {
        list(&app, "/api/people").await.len() == 3
    })
    .await;
    let fox = app.get("/api/people/fox").await.body;
    assert_eq!(
        fox["name"], "Fox Mulder",
        "the contact rewrote a person it did not create"
    );
    let people = list(&app, "/api/people").await;
    let contact = people
        .iter()
        .find(|p| p["name"] == "Fox M.")
        .expect("the contact's person");
    assert_eq!(contact["role"], "guest");
    assert_ne!(contact["handle"], "fox");
}

async fn crm_replays_have_no_second_effect_and_updates_update(db: Db) {
    let app = spawn_app_with(db, &[("CRM_WEBHOOK_SECRET", SECRET)]).await;
    let created = json!({"event_id": "e-1", "type": "deal.created", "data": {"id": 42, "name": "Renewal", "stage": "open"}});
    assert_eq!(
        TestApp::send(signed(&app, &created, SECRET)).await.body["accepted"],
        1
    );
    eventually("the deal becomes a task", || async {
        list(&app, "/api/tasks").await.len() == 1
    })
    .await;
    let task = list(&app, "/api/tasks").await[0].clone();

    // The same event again: acknowledged, stored once.
    let replay = TestApp::send(signed(&app, &created, SECRET)).await;
    assert_eq!(
        (replay.status, replay.body["status"].as_str()),
        (202, Some("duplicate"))
    );
    // The same object with the same fields under another event id: applied, but no change.
    let resent = json!({"event_id": "e-2", "type": "deal.updated", "data": {"id": 42, "name": "Renewal", "stage": "open"}});
    assert_eq!(
        TestApp::send(signed(&app, &resent, SECRET)).await.body["accepted"],
        1
    );
    eventually("e-2 is applied", || async {
        app.store
            .integration_jobs("crm.webhook")
            .await
            .unwrap()
            .iter()
            .all(|j| j.0 == "done")
    })
    .await;
    let tasks = list(&app, "/api/tasks").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["updated_at"], task["updated_at"], "nothing changed");

    // An update updates.
    let update = json!({"event_id": "e-3", "type": "deal.updated", "data": {"id": 42, "name": "Renewal 2031", "stage": "won"}});
    TestApp::send(signed(&app, &update, SECRET)).await;
    eventually("the task follows the deal", || async {
        let t = app.get(&format!("/api/tasks/{}", task["id"])).await;
        t.body["title"] == "Renewal 2031" && t.body["status"] == "done"
    })
    .await;
    assert_eq!(list(&app, "/api/tasks").await.len(), 1);

    // The built-in mapping deletes the task of a deleted deal.
    let deleted = json!({"event_id": "e-4", "type": "deal.deleted", "data": {"id": 42}});
    TestApp::send(signed(&app, &deleted, SECRET)).await;
    eventually("the task is gone", || async {
        list(&app, "/api/tasks").await.is_empty()
    })
    .await;
}

async fn outbound_crm_webhooks_are_signed_and_retried(db: Db) {
    let (receiver, url) = Receiver::start(1).await;
    let app = spawn_app_with(db, &[("CRM_WEBHOOK_SECRET", SECRET), ("CRM_OUTBOUND_URL", &url)]).await;
    let created = app.post("/api/tasks", json!({"title": "Call the client"})).await;
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_i64().unwrap();

    eventually("the webhook is delivered after a 503", || async {
        receiver.all().len() == 2
    })
    .await;
    let deliveries = receiver.all();
    let (headers, body) = &deliveries[1];
    let signature = headers["x-coordinator-signature"].to_str().unwrap();
    assert!(verify(SECRET, body, signature), "signed with the shared secret");
    assert!(!verify("other", body, signature));
    assert_eq!(headers["x-coordinator-event"], "task.created");
    assert_eq!(
        headers["x-coordinator-delivery"], deliveries[0].0["x-coordinator-delivery"],
        "a retry keeps its id"
    );
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["type"], "task.created");
    assert_eq!(payload["data"]["id"], id);
    assert_eq!(payload["data"]["title"], "Call the client");
    assert_eq!(payload["actor"], "token:bootstrap");

    // Status changes and deletions follow, in order.
    app.call(
        Method::PATCH,
        &format!("/api/tasks/{id}/status"),
        Some(json!({"status": "done"})),
    )
    .await;
    app.call(Method::DELETE, &format!("/api/tasks/{id}"), None).await;
    eventually("two more deliveries", || async { receiver.all().len() == 4 }).await;
    let kinds: Vec<String> = receiver.all()[2..]
        .iter()
        .map(|(_, b)| {
            serde_json::from_slice::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["task.updated", "task.deleted"]);

    // What the CRM itself sent is not echoed back to it.
    let inbound =
        json!({"event_id": "x-1", "type": "project.created", "data": {"id": "P-7", "name": "From the CRM"}});
    assert_eq!(TestApp::send(signed(&app, &inbound, SECRET)).await.status, 202);
    eventually("the project exists", || async {
        list(&app, "/api/projects").await.len() == 1
    })
    .await;
    let jobs = app.store.integration_jobs("crm.outbound").await.unwrap();
    assert_eq!(jobs.len(), 3, "no job for the CRM's own project");
    // A project made here goes out, with the CRM ids it is linked to when it has some.
    let project = list(&app, "/api/projects").await[0]["id"].as_i64().unwrap();
    app.call(
        Method::PUT,
        &format!("/api/projects/{project}"),
        Some(json!({"description": "Phase 2"})),
    )
    .await;
    eventually("the project update is delivered", || async {
        receiver.all().len() == 5
    })
    .await;
    let last: Value = serde_json::from_slice(&receiver.all()[4].1).unwrap();
    assert_eq!(last["type"], "project.updated");
    assert_eq!(last["external_ids"], json!([{"object": "project", "id": "P-7"}]));
}

async fn a_mapping_file_decides_what_objects_become(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mapping.toml");
    std::fs::write(
        &path,
        r#"
[objects.ticket]
resource = "task"
id = "properties.hs_object_id"
[objects.ticket.fields]
title = "properties.subject"
priority = "properties.hs_ticket_priority"
[objects.ticket.values.priority]
HIGH = "urgent"
"#,
    )
    .unwrap();
    let path = path.to_str().unwrap().to_owned();
    let app = spawn_app_with(db, &[("CRM_WEBHOOK_SECRET", SECRET), ("CRM_MAPPING_FILE", &path)]).await;
    let event = json!({"object": "ticket", "action": "created", "event_id": 77,
        "data": {"properties": {"hs_object_id": "991", "subject": "Escalated ticket", "hs_ticket_priority": "HIGH"}}});
    TestApp::send(signed(&app, &event, SECRET)).await;
    eventually("the ticket becomes a task", || async {
        list(&app, "/api/tasks").await.len() == 1
    })
    .await;
    let task = &list(&app, "/api/tasks").await[0];
    assert_eq!(
        (task["title"].as_str(), task["priority"].as_str()),
        (Some("Escalated ticket"), Some("urgent"))
    );
    // The built-in objects are not known to this mapping.
    let deal = json!({"type": "deal.created", "data": {"id": 1, "name": "x"}});
    assert_eq!(
        TestApp::send(signed(&app, &deal, SECRET)).await.body["status"],
        "ignored"
    );
    let view = app.get("/integrations/crm/config").await;
    assert_eq!(view.body["objects"], json!({"ticket": "task"}));
    assert_eq!(view.body["webhook_secret_set"], true);
    assert!(!view.body.to_string().contains(SECRET));
}

both_dbs!(
    crm_webhooks_map_objects_and_refuse_forgeries,
    crm_replays_have_no_second_effect_and_updates_update,
    outbound_crm_webhooks_are_signed_and_retried,
    a_mapping_file_decides_what_objects_become,
);
