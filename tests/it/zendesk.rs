//! Zendesk end to end, against `FakeZendesk`: the ticket list with linked tasks, a task made
//! from a ticket, the incremental export with its stored cursor, comments imported once, task
//! status sent back (and retried after a 5xx), signed webhooks, and the settings API with
//! encrypted secrets.

use coordinator::integrations::zendesk::webhook::sign;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_zendesk::{eventually, FakeZendesk, TOKEN};
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp};

const WEBHOOK_SECRET: &str = "zd-signing-secret";

async fn start(db: Db, fake: &FakeZendesk, extra: &[(&str, &str)]) -> TestApp {
    let settings = fake.settings();
    let mut values: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    values.extend_from_slice(extra);
    spawn_app_with(db, &values).await
}

async fn comments_of(app: &TestApp, task: i64) -> Vec<String> {
    let reply = app.get(&format!("/api/comments?task_id={task}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap().to_owned())
        .collect()
}

async fn lists_tickets_and_links_one_to_a_task(db: Db) {
    let fake = FakeZendesk::start().await;
    fake.add_ticket(1, "Printer on fire", &["hardware"], Some("high"));
    fake.add_ticket(2, "Password reset", &[], None);
    let app = start(db, &fake, &[]).await;

    let list = app.get("/integrations/zendesk/tickets").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let tickets = list.body["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[0]["subject"], "Printer on fire");
    assert_eq!(tickets[0]["task_id"], Value::Null);
    let listed = fake.requests_to("GET", "/api/v2/tickets.json");
    assert!(
        listed.len() == 1 && listed[0].uri.contains("size%5D=25"),
        "{:?}",
        listed
    );

    let linked = app.post("/integrations/zendesk/tickets/1/task", json!({})).await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let task_id = linked.body["task_id"].as_i64().unwrap();
    let task = app.get(&format!("/api/tasks/{task_id}")).await;
    assert_eq!(task.body["title"], "Printer on fire");
    assert_eq!(task.body["priority"], "high");
    assert!(task.body["description"]
        .as_str()
        .unwrap()
        .contains("/agent/tickets/1"));
    // Linking again (even without a body) finds the same task.
    let again = TestApp::send(app.request(
        Method::POST,
        "/integrations/zendesk/tickets/1/task",
        Some(crate::helpers::ADMIN_TOKEN),
    ))
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["task_id"], task_id);

    let list = app.get("/integrations/zendesk/tickets").await;
    assert_eq!(list.body["tickets"][0]["task_id"], task_id);
    assert_eq!(list.body["tickets"][1]["task_id"], Value::Null);

    let missing = app.post("/integrations/zendesk/tickets/77/task", json!({})).await;
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    let unauthenticated =
        TestApp::send(app.request(Method::GET, "/integrations/zendesk/tickets", None)).await;
    assert_eq!(unauthenticated.status, 401);
}

async fn unconfigured_or_refused_zendesk_is_a_clear_error(db: Db) {
    let app = spawn_app_with(db, &[]).await;
    let reply = app.get("/integrations/zendesk/tickets").await;
    assert_eq!(
        (reply.status, reply.code()),
        (503, "unavailable"),
        "{}",
        reply.body
    );
    assert!(reply.message().contains("ZENDESK"), "{}", reply.body);

    let fake = FakeZendesk::start().await;
    let url = fake.url.clone();
    let app = spawn_app_with(
        db,
        &[
            ("ZENDESK_API_URL", &url),
            ("ZENDESK_EMAIL", "agent@example.com"),
            ("ZENDESK_API_TOKEN", "wrong"),
        ],
    )
    .await;
    let reply = app.get("/integrations/zendesk/tickets").await;
    assert_eq!(
        (reply.status, reply.code()),
        (502, "bad_gateway"),
        "{}",
        reply.body
    );
    assert!(reply.message().contains("credentials"), "{}", reply.body);
    assert!(!reply.body.to_string().contains("wrong"));
}

async fn incremental_export_reads_from_the_stored_cursor(db: Db) {
    let fake = FakeZendesk::start().await;
    fake.add_ticket(1, "VPN down", &["coordinator"], None);
    fake.add_ticket(2, "Question about invoices", &[], Some("normal"));
    fake.add_ticket(3, "Site unreachable", &[], Some("urgent"));
    let app = start(
        db,
        &fake,
        &[
            ("ZENDESK_TASK_TAG", "coordinator"),
            ("ZENDESK_TASK_PRIORITIES", "urgent"),
        ],
    )
    .await;

    let first = app.post("/integrations/zendesk/sync", json!({})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["tickets"], 3);
    assert_eq!(first.body["tasks_created"], 2);
    let exports = fake.requests_to("GET", "/api/v2/incremental/tickets/cursor.json");
    assert!(exports[0].uri.contains("start_time="), "{}", exports[0].uri);
    let tasks = app.get("/api/tasks").await;
    let titles: Vec<&str> = tasks
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["VPN down", "Site unreachable"]);

    // Only what changed since: the stored cursor goes back to Zendesk.
    fake.add_ticket(4, "Laptop stolen", &["coordinator"], Some("low"));
    let second = app.post("/integrations/zendesk/sync", json!({})).await;
    assert_eq!(second.body["tickets"], 1, "{}", second.body);
    assert_eq!(second.body["tasks_created"], 1);
    let exports = fake.requests_to("GET", "/api/v2/incremental/tickets/cursor.json");
    assert_eq!(exports.len(), 2);
    assert!(
        exports[1]
            .uri
            .ends_with(&format!("cursor={}", first.body["cursor"].as_str().unwrap())),
        "{}",
        exports[1].uri
    );

    let third = app.post("/integrations/zendesk/sync", json!({})).await;
    assert_eq!(
        (
            third.body["tickets"].as_i64(),
            third.body["tasks_created"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(app.get("/api/tasks").await.body.as_array().unwrap().len(), 3);

    let member = app.token("mia", coordinator::domain::Role::Member).await;
    let refused = app
        .call_as(&member, Method::POST, "/integrations/zendesk/sync", None)
        .await;
    assert_eq!(refused.status, 403);
}

async fn ticket_comments_become_task_comments_once(db: Db) {
    let fake = FakeZendesk::start().await;
    fake.add_ticket(7, "Refund", &[], None);
    fake.add_comment(7, "I was charged twice.");
    let app = start(db, &fake, &[]).await;
    let linked = app.post("/integrations/zendesk/tickets/7/task", json!({})).await;
    assert_eq!(linked.body["comments_imported"], 1, "{}", linked.body);
    let task = linked.body["task_id"].as_i64().unwrap();
    // The description (Zendesk's first comment) is already the task's description.
    assert_eq!(comments_of(&app, task).await, ["I was charged twice."]);

    fake.add_comment(7, "Any news?");
    let sync = app.post("/integrations/zendesk/sync", json!({})).await;
    assert_eq!(sync.body["comments_imported"], 1, "{}", sync.body);
    app.post("/integrations/zendesk/sync", json!({})).await;
    let again = app.post("/integrations/zendesk/tickets/7/task", json!({})).await;
    assert_eq!(again.body["comments_imported"], 0);
    assert_eq!(
        comments_of(&app, task).await,
        ["I was charged twice.", "Any news?"]
    );
    let comment = &app.get(&format!("/api/comments?task_id={task}")).await.body[1];
    assert_eq!(comment["author"], "zendesk");
}

async fn task_status_goes_back_to_the_ticket_with_a_retry(db: Db) {
    let fake = FakeZendesk::start().await;
    fake.add_ticket(9, "Broken export", &[], Some("high"));
    let app = start(db, &fake, &[]).await;
    let task = app
        .post("/integrations/zendesk/tickets/9/task", json!({}))
        .await
        .body["task_id"]
        .as_i64()
        .unwrap();

    fake.fail_next_updates(1);
    let done = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{task}/status"),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    fake.wait_for("the ticket is solved", |f| {
        f.ticket(9).unwrap()["status"] == "solved"
    })
    .await;
    let updates = fake.requests_to("PUT", "/api/v2/tickets/9.json");
    assert_eq!(updates.len(), 2, "one 500, then the retry");
    assert_eq!(updates[1].body["ticket"]["status"], "solved");
    assert_eq!(updates[1].body["ticket"]["comment"]["public"], false);
    let note = fake.comment_bodies(9).pop().unwrap();
    assert!(
        note.starts_with("[coordinator] Task #") && note.contains("done"),
        "{note}"
    );

    // Our own note does not come back as a task comment.
    app.post("/integrations/zendesk/sync", json!({})).await;
    assert!(comments_of(&app, task).await.is_empty());
    // A change that is not a status change sends nothing.
    app.call(
        Method::PUT,
        &format!("/api/tasks/{task}"),
        Some(json!({"title": "Broken CSV export"})),
    )
    .await;
    eventually("the job is done", || async {
        let jobs = app.store.integration_jobs("zendesk.ticket_update").await.unwrap();
        jobs.len() == 1 && jobs[0].0 == "done"
    })
    .await;
    let jobs = app.store.integration_jobs("zendesk.ticket_update").await.unwrap();
    assert_eq!(jobs[0].2, 2, "two attempts");
    let status = app.get("/api/monitoring/status").await;
    assert_eq!(
        status.body["integrations"]["counts"]["done"], 1,
        "{}",
        status.body
    );
}

fn signed(app: &TestApp, body: &str, secret: &str, timestamp: &str) -> reqwest::RequestBuilder {
    post_with(app, body, &sign(secret, timestamp, body.as_bytes()), timestamp)
}

fn post_with(app: &TestApp, body: &str, signature: &str, timestamp: &str) -> reqwest::RequestBuilder {
    app.request(Method::POST, "/webhooks/zendesk", None)
        .header("content-type", "application/json")
        .header("x-zendesk-webhook-signature", signature)
        .header("x-zendesk-webhook-signature-timestamp", timestamp)
        .body(body.to_owned())
}

async fn zendesk_webhooks_are_verified_and_deduplicated(db: Db) {
    let fake = FakeZendesk::start().await;
    fake.add_ticket(35, "Cannot log in", &["coordinator"], None);
    let app = start(
        db,
        &fake,
        &[
            ("ZENDESK_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("ZENDESK_TASK_TAG", "coordinator"),
        ],
    )
    .await;
    let event = json!({
        "type": "zen:event-type:ticket.created", "account_id": 12514403,
        "id": "01HNXY-EXAMPLE", "time": "2030-01-01T00:00:00Z", "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:35",
        "detail": {"id": "35", "status": "OPEN", "subject": "Cannot log in", "tags": ["coordinator"]},
        "event": {}
    })
    .to_string();
    let ts = "2030-01-01T00:00:01Z";

    let forged = TestApp::send(signed(&app, &event, "not-the-secret", ts)).await;
    assert_eq!((forged.status, forged.code()), (401, "unauthorized"));
    let good_signature = sign(WEBHOOK_SECRET, ts, event.as_bytes());
    let other_time = TestApp::send(post_with(&app, &event, &good_signature, "2030-01-01T00:00:02Z")).await;
    assert_eq!(other_time.status, 401, "the timestamp is signed too");
    let other_body = TestApp::send(post_with(&app, &format!("{event} "), &good_signature, ts)).await;
    assert_eq!(other_body.status, 401);
    let unsigned = TestApp::send(
        app.request(Method::POST, "/webhooks/zendesk", None)
            .body(event.clone()),
    )
    .await;
    assert_eq!(unsigned.status, 401);

    let good = TestApp::send(signed(&app, &event, WEBHOOK_SECRET, ts)).await;
    assert_eq!(good.status, 200, "{}", good.body);
    assert_eq!(good.body["status"], "accepted");
    eventually("the ticket becomes a task", || async {
        app.get("/api/tasks")
            .await
            .body
            .as_array()
            .is_some_and(|t| t.len() == 1)
    })
    .await;
    let replay = TestApp::send(signed(&app, &event, WEBHOOK_SECRET, ts)).await;
    assert_eq!(
        (replay.status, replay.body["status"].as_str()),
        (200, Some("duplicate"))
    );
    let jobs = app.store.integration_jobs("zendesk.webhook").await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(app.get("/api/tasks").await.body.as_array().unwrap().len(), 1);

    // A signed event about something else is acknowledged and ignored.
    let other = json!({"type": "zen:event-type:user.created", "id": "u1", "detail": {"id": "5"}}).to_string();
    let ignored = TestApp::send(signed(&app, &other, WEBHOOK_SECRET, ts)).await;
    assert_eq!(
        (ignored.status, ignored.body["status"].as_str()),
        (200, Some("ignored"))
    );
}

async fn settings_api_stores_secrets_encrypted(db: Db) {
    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    let fake = FakeZendesk::start().await;
    fake.add_ticket(1, "Hello", &[], None);
    let app = spawn_app_with(db, &[("COORDINATOR_SECRET_KEY", KEY_A)]).await;
    let put = app
        .call(
            Method::PUT,
            "/integrations/zendesk/config",
            Some(json!({"api_url": fake.url, "email": "agent@example.com", "api_token": TOKEN, "webhook_secret": WEBHOOK_SECRET})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["api_token_set"], true);
    assert_eq!(put.body["configured"], true);
    for reply in [&put.body, &app.get("/integrations/zendesk/config").await.body] {
        let text = reply.to_string();
        assert!(!text.contains(TOKEN) && !text.contains(WEBHOOK_SECRET), "{text}");
    }
    // The stored column holds nonce || ciphertext, not the token.
    let stored = app.store.integration_settings("zendesk").await.unwrap();
    let token = stored.iter().find(|s| s.name == "api_token").unwrap();
    assert!(token.value.is_none());
    let sealed = token.sealed.as_ref().unwrap();
    assert!(sealed.len() > 12 + TOKEN.len());
    assert!(!sealed.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
    // ...and the token works: the stored settings reach Zendesk.
    assert_eq!(app.get("/integrations/zendesk/tickets").await.status, 200);

    // With another key the secret does not open, and says so.
    let settings = coordinator::config::Settings::with(&[("COORDINATOR_SECRET_KEY", KEY_B)]).unwrap();
    let workspace = coordinator::workspace::Workspace::new(app.store.clone(), chrono_tz::UTC, None);
    let other =
        coordinator::integrations::Integrations::new(&settings, app.store.clone(), workspace).unwrap();
    let err = other.zendesk_config().await.unwrap_err().to_string();
    assert!(
        err.contains("cannot be decrypted") && err.contains("COORDINATOR_SECRET_KEY"),
        "{err}"
    );

    // Clearing a stored value falls back to the environment's (here: none).
    let cleared = app
        .call(
            Method::PUT,
            "/integrations/zendesk/config",
            Some(json!({"api_token": null})),
        )
        .await;
    assert_eq!(
        (
            cleared.body["api_token_set"].as_bool(),
            cleared.body["configured"].as_bool()
        ),
        (Some(false), Some(false))
    );

    let member = app.token("mia", coordinator::domain::Role::Member).await;
    let refused = app
        .call_as(&member, Method::GET, "/integrations/zendesk/config", None)
        .await;
    assert_eq!(refused.status, 403);

    // Without a key, secrets are not stored at all.
    let keyless = spawn_app_with(db, &[]).await;
    let refused = keyless
        .call(
            Method::PUT,
            "/integrations/zendesk/config",
            Some(json!({"api_token": "x"})),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (422, "invalid"),
        "{}",
        refused.body
    );
    assert!(
        refused.message().starts_with("api_token:") && refused.message().contains("COORDINATOR_SECRET_KEY")
    );
}

both_dbs!(
    lists_tickets_and_links_one_to_a_task,
    unconfigured_or_refused_zendesk_is_a_clear_error,
    incremental_export_reads_from_the_stored_cursor,
    ticket_comments_become_task_comments_once,
    task_status_goes_back_to_the_ticket_with_a_retry,
    zendesk_webhooks_are_verified_and_deduplicated,
    settings_api_stores_secrets_encrypted,
);
