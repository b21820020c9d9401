//! WhatsApp end to end: signed Cloud API notifications posted to the real app's webhook, and a
//! fake Graph API on 127.0.0.1 (`WHATSAPP_API_URL`) receiving what the app sends. This file:
//! the webhook and the conversation over WhatsApp; `delivery`: statuses, the 24-hour window,
//! Graph errors.

use std::time::Duration;

use coordinator::store::Queue;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_graph::{
    audio_message, button_reply, document_message, messages_from, sign, text_message, FakeGraph,
    PHONE_NUMBER_ID, TOKEN,
};
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp};

const APP_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const VERIFY_TOKEN: &str = "verify-me-please";
const TEMPLATE: &str = "task_update";
const ANNA: &str = "491701234567";
const BEN: &str = "16505551234";
const WAIT: Duration = Duration::from_secs(15);

mod delivery;

both_dbs!(
    subscription_check_answers_the_challenge_only_to_the_right_token,
    forged_signatures_are_refused,
    text_command_creates_a_task_and_the_reply_goes_to_the_wa_id,
    button_reply_marks_the_task_done,
    redelivered_payload_has_one_effect,
    several_messages_in_one_payload,
    unknown_numbers_link_with_a_code,
);

async fn app_with(db: Db, fake: &FakeGraph, template: bool) -> TestApp {
    let mut settings = vec![
        ("WHATSAPP_TOKEN", TOKEN),
        ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
        ("WHATSAPP_APP_SECRET", APP_SECRET),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
        ("WHATSAPP_API_URL", fake.url.as_str()),
    ];
    if template {
        settings.push(("WHATSAPP_TEMPLATE_NAME", TEMPLATE));
        settings.push(("WHATSAPP_TEMPLATE_LANGUAGE", "en"));
    }
    fake.add_template(TEMPLATE, "en", 1);
    let app = spawn_app_with(db, &settings).await;
    let anna = app
        .post(
            "/api/people",
            json!({"handle": "anna", "name": "Anna", "timezone": "Europe/Berlin",
                   "identities": [{"channel": "whatsapp", "external_id": ANNA}]}),
        )
        .await;
    assert_eq!(anna.status, 201, "{}", anna.body);
    app
}

async fn whatsapp_app(db: Db, fake: &FakeGraph) -> TestApp {
    app_with(db, fake, true).await
}

/// Posts a notification signed with the app secret; the status.
async fn deliver(app: &TestApp, notification: &Value) -> u16 {
    let body = serde_json::to_vec(notification).unwrap();
    app.client
        .post(format!("{}/webhooks/whatsapp", app.base))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(APP_SECRET, &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn say(app: &TestApp, wamid: &str, from: &str, text: &str) -> u16 {
    deliver(
        app,
        &messages_from(from, "Someone", vec![text_message(wamid, from, text)]),
    )
    .await
}

async fn tasks(app: &TestApp) -> Vec<Value> {
    app.get("/api/tasks?limit=500")
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn subscription_check_answers_the_challenge_only_to_the_right_token(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    let check = |query: String| {
        let client = app.client.clone();
        let url = format!("{}/webhooks/whatsapp?{query}", app.base);
        async move { client.get(url).send().await.unwrap() }
    };
    let good = check(format!(
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
    ))
    .await;
    assert_eq!(good.status(), 200);
    assert_eq!(good.text().await.unwrap(), "1158201444");
    for query in [
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong".to_owned(),
        format!("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"),
        format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
        "hub.mode=subscribe&hub.challenge=1".to_owned(),
        String::new(),
    ] {
        let bad = check(query.clone()).await;
        assert_eq!(bad.status(), 403, "{query}");
        let body: Value = bad.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
    }
}

async fn forged_signatures_are_refused(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    let payload = messages_from(
        ANNA,
        "Anna",
        vec![text_message("wamid.F1", ANNA, "/newtask forged")],
    );
    let body = serde_json::to_vec(&payload).unwrap();
    let other = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": []})).unwrap();
    for signature in [
        None,
        Some("sha256=00".to_owned()),
        Some("not-a-signature".to_owned()),
        Some(sign("another-app-secret", &body)),
        Some(sign(APP_SECRET, &other)),
        Some(sign(APP_SECRET, &body).replace("sha256=", "sha1=")),
    ] {
        let mut request = app
            .client
            .post(format!("{}/webhooks/whatsapp", app.base))
            .body(body.clone());
        if let Some(signature) = &signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{signature:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized");
    }
    // Garbage with a good signature is acknowledged and ignored, not refused.
    let garbage = b"{not json".to_vec();
    let response = app
        .client
        .post(format!("{}/webhooks/whatsapp", app.base))
        .header("x-hub-signature-256", sign(APP_SECRET, &garbage))
        .body(garbage)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(tasks(&app).await.is_empty());
    assert!(fake.requests().is_empty());
}

async fn text_command_creates_a_task_and_the_reply_goes_to_the_wa_id(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    assert_eq!(
        say(
            &app,
            "wamid.T1",
            ANNA,
            "/newtask Write the brief due 2030-01-15 !high"
        )
        .await,
        200
    );
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ANNA);
    assert_eq!(sent[0].kind, "interactive");
    assert!(
        sent[0].text.starts_with("Created #1: Write the brief"),
        "{}",
        sent[0].text
    );
    assert!(
        sent[0].text.contains("Tue 15 Jan 23:59 (Europe/Berlin)"),
        "{}",
        sent[0].text
    );
    let buttons = &sent[0].body["interactive"]["action"]["buttons"];
    assert_eq!(buttons[0]["reply"]["id"], "done:1");
    assert_eq!(buttons[0]["reply"]["title"], "Mark done");
    let all = tasks(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["title"], "Write the brief");
    assert_eq!(all[0]["priority"], "high");

    say(&app, "wamid.T2", ANNA, "/status 1 in progress").await;
    say(&app, "wamid.T3", ANNA, "/tasks").await;
    let sent = fake.wait_for_sent(3, WAIT).await;
    assert_eq!(sent[1].kind, "text");
    assert_eq!(sent[1].text, "#1 Write the brief is now in_progress.");
    assert!(
        sent[2]
            .text
            .starts_with("Open tasks (1):\n#1 Write the brief [in_progress]"),
        "{}",
        sent[2].text
    );
    assert!(sent.iter().all(|s| s.to == ANNA));
    let trail = app.store.audit_trail("task", "1").await.unwrap();
    assert!(trail.iter().all(|r| r.actor == "anna" && r.channel == "whatsapp"));
    let rows = app.store.outbox_for_chat("whatsapp", ANNA).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].2.as_deref(), Some(sent[0].wamid.as_str()));
}

async fn button_reply_marks_the_task_done(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    say(&app, "wamid.B1", ANNA, "/newtask Press me").await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    let press = button_reply("wamid.B2", ANNA, &sent[0].wamid, "done:1", "Mark done");
    assert_eq!(
        deliver(&app, &messages_from(ANNA, "Anna", vec![press])).await,
        200
    );
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].text, "Done: #1 Press me");
    assert_eq!(app.get("/api/tasks/1").await.body["status"], "done");
    // The press itself needs no call: the acknowledgement row is done without a request.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.requests().len(), 2);
    let rows = app.store.outbox_for_chat("whatsapp", ANNA).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.0 == "done"), "{rows:?}");
}

async fn redelivered_payload_has_one_effect(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    let payload = messages_from(
        ANNA,
        "Anna",
        vec![text_message("wamid.R1", ANNA, "/newtask Only once")],
    );
    for _ in 0..3 {
        assert_eq!(deliver(&app, &payload).await, 200);
    }
    fake.wait_for_sent(1, WAIT).await;
    // Give a would-be duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(tasks(&app).await.len(), 1);
}

async fn several_messages_in_one_payload(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    let payload = messages_from(
        ANNA,
        "Anna",
        vec![
            text_message("wamid.M1", ANNA, "/newtask First"),
            audio_message("wamid.M2", ANNA, "1003383421387256", true),
            text_message("wamid.M3", ANNA, "/newtask Second"),
            document_message("wamid.M4", ANNA, "2003383421387256", "plan.pdf", ""),
        ],
    );
    assert_eq!(deliver(&app, &payload).await, 200);
    let sent = fake.wait_for_sent(3, WAIT).await;
    let texts: Vec<&str> = sent.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(
        (texts[0], texts[2]),
        ("Created #1: First.", "Created #2: Second.")
    );
    assert!(texts[1].contains("OPENAI_API_KEY"), "{}", texts[1]);
    let titles: Vec<Value> = tasks(&app).await.iter().map(|t| t["title"].clone()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    // All four were stored and handled; the document needs no answer, and without a
    // transcription service the voice note gets a note saying so.
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.store.queue_counts(Queue::Inbox).await.unwrap().done < 4
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.store.queue_counts(Queue::Inbox).await.unwrap().done, 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent().len(), 3);
}

async fn unknown_numbers_link_with_a_code(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    app.post("/api/people", json!({"handle": "ben", "name": "Ben"}))
        .await;
    say(&app, "wamid.L1", BEN, "/newtask sneaky").await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].to, BEN);
    assert!(sent[0].text.contains("/link CODE"), "{}", sent[0].text);
    assert!(tasks(&app).await.is_empty());
    let code = app
        .call(Method::POST, "/api/people/ben/link-code", None)
        .await
        .body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    say(&app, "wamid.L2", BEN, &format!("/link {code}")).await;
    say(&app, "wamid.L3", BEN, "/newtask now allowed").await;
    let sent = fake.wait_for_sent(3, WAIT).await;
    assert!(sent[1].text.contains("you are @ben"), "{}", sent[1].text);
    assert!(sent[2].text.starts_with("Created #1"), "{}", sent[2].text);
    let ben = app.get("/api/people/ben").await.body;
    assert_eq!(ben["identities"][0]["channel"], "whatsapp");
    assert_eq!(ben["identities"][0]["external_id"], BEN);
}
