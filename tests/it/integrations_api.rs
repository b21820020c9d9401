//! `POST /integrations/{channel}/send` through the outbox to a fake Bot API, and
//! `GET /integrations/history` showing what was received and sent, with its filters.

use std::time::Duration;

use coordinator::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_telegram::{text_update, FakeTelegram};
use crate::helpers::{both_dbs, Db, Reply, TestApp, ADMIN_TOKEN};

const SECRET: &str = "integrations-secret";
const ANNA: i64 = 4242;
const BEN: i64 = 5151;
const WAIT: Duration = Duration::from_secs(15);

both_dbs!(
    telegram_send_goes_through_the_outbox,
    sends_are_refused_with_reasons,
    history_shows_both_directions_with_filters,
);

async fn app(db: Db, tg: &FakeTelegram) -> TestApp {
    let app = TestApp::builder(db).with_telegram(tg, SECRET).spawn().await;
    for (handle, id) in [("anna", ANNA), ("ben", BEN)] {
        let body = json!({"handle": handle, "name": handle,
                          "identities": [{"channel": "telegram", "external_id": id.to_string()}]});
        assert_eq!(app.post("/api/people", body).await.status, 201);
    }
    assert_eq!(
        app.post(
            "/api/people",
            json!({"handle": "cleo", "name": "Cleo", "email": "cleo@example.org"})
        )
        .await
        .status,
        201
    );
    app
}

async fn send(app: &TestApp, token: &str, channel: &str, body: Value, key: Option<&str>) -> Reply {
    let mut request = app
        .request(
            Method::POST,
            &format!("/integrations/{channel}/send"),
            Some(token),
        )
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    TestApp::send(request).await
}

async fn telegram_send_goes_through_the_outbox(db: Db) {
    let tg = FakeTelegram::start().await;
    let app = app(db, &tg).await;
    let task = app.post("/api/tasks", json!({"title": "Brochure"})).await.body;
    let body = json!({"to": "anna", "text": "The printer called back.", "task_id": task["id"]});
    let queued = send(&app, ADMIN_TOKEN, "telegram", body.clone(), Some("k-1")).await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let id = queued.body["id"].as_i64().unwrap();
    assert_eq!(queued.body["chat_id"], ANNA.to_string());
    assert_eq!(queued.body["person"], "anna");
    assert_eq!(queued.body["task_id"], task["id"]);
    let sent = tg.wait_for_sent(1, WAIT).await;
    assert_eq!(
        (sent[0].chat_id, sent[0].text.as_str()),
        (ANNA, "The printer called back.")
    );

    // The same key again: the same message, not a second one.
    let again = send(&app, ADMIN_TOKEN, "telegram", body, Some("k-1")).await;
    assert_eq!((again.status, again.body["id"].as_i64()), (202, Some(id)));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = json!({"to": "anna", "text": "Something else"});
    let reused = send(&app, ADMIN_TOKEN, "telegram", other, Some("k-1")).await;
    assert_eq!((reused.status, reused.code()), (409, "conflict"));

    // A member may send, to a handle with @ or to a raw chat id.
    let member = app.token("ops", Role::Member).await;
    let to_ben = send(
        &app,
        &member,
        "telegram",
        json!({"to": "@ben", "text": "Hi Ben"}),
        None,
    )
    .await;
    assert_eq!(to_ben.status, 202, "{}", to_ben.body);
    let to_chat = send(
        &app,
        &member,
        "telegram",
        json!({"to": "-1001234", "text": "Hi team"}),
        None,
    )
    .await;
    assert_eq!(
        (to_chat.status, to_chat.body["person"].clone()),
        (202, Value::Null)
    );
    let sent = tg.wait_for_sent(3, WAIT).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    let targets: Vec<i64> = sent.iter().map(|s| s.chat_id).collect();
    assert!(
        targets.contains(&BEN) && targets.contains(&-1001234),
        "{targets:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tg.sent().len(), 3);
}

async fn sends_are_refused_with_reasons(db: Db) {
    let tg = FakeTelegram::start().await;
    let app = app(db, &tg).await;
    let cases = [
        ("telegram", json!({"to": "nobody", "text": "x"}), 422, "to: "),
        ("telegram", json!({"to": "@nobody", "text": "x"}), 422, "to: "),
        (
            "telegram",
            json!({"to": "cleo", "text": "x"}),
            422,
            "to: @cleo has no telegram identity",
        ),
        (
            "whatsapp",
            json!({"to": "anna", "text": "x"}),
            422,
            "channel: whatsapp is not configured",
        ),
        (
            "email",
            json!({"to": "cleo", "text": "x"}),
            422,
            "channel: email is not configured",
        ),
        ("telegram", json!({"to": "anna", "text": "   "}), 422, "text: "),
        (
            "telegram",
            json!({"to": "anna", "text": "x", "task_id": 999}),
            422,
            "task_id: ",
        ),
        (
            "telegram",
            json!({"to": "anna", "text": "x", "extra": 1}),
            422,
            "",
        ),
        ("fax", json!({"to": "anna", "text": "x"}), 404, "no channel 'fax'"),
        ("cli", json!({"to": "anna", "text": "x"}), 404, "no channel 'cli'"),
    ];
    for (channel, body, status, message) in cases {
        let reply = send(&app, ADMIN_TOKEN, channel, body.clone(), None).await;
        assert_eq!(reply.status, status, "{channel} {body}: {}", reply.body);
        assert!(
            reply.message().starts_with(message),
            "{channel} {body}: {}",
            reply.body
        );
    }
    let guest = app.token("viewer", Role::Guest).await;
    let forbidden = send(&app, &guest, "telegram", json!({"to": "anna", "text": "x"}), None).await;
    assert_eq!(forbidden.status, 403);
    let anonymous = TestApp::send(
        app.request(Method::POST, "/integrations/telegram/send", None)
            .json(&json!({"to": "anna", "text": "x"})),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    let long_key = "k".repeat(300);
    let bad_key = send(
        &app,
        ADMIN_TOKEN,
        "telegram",
        json!({"to": "anna", "text": "x"}),
        Some(&long_key),
    )
    .await;
    assert_eq!(bad_key.status, 422);
    assert_eq!(app.get("/integrations/history").await.body, json!([]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(tg.sent().is_empty());
}

fn summary(reply: &Reply) -> Vec<(String, String)> {
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["direction"].as_str().unwrap().to_owned(),
                i["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn history_shows_both_directions_with_filters(db: Db) {
    let tg = FakeTelegram::start().await;
    let app = app(db, &tg).await;
    app.deliver_telegram_ok(&text_update(1, ANNA, ANNA, "/newtask Write the brief"))
        .await;
    tg.wait_for_sent(1, WAIT).await;
    let body = json!({"to": "ben", "text": "Anna wrote the brief task.", "task_id": 1});
    assert_eq!(send(&app, ADMIN_TOKEN, "telegram", body, None).await.status, 202);
    tg.wait_for_sent(2, WAIT).await;
    app.deliver_telegram_ok(&text_update(2, BEN, BEN, "/tasks")).await;
    tg.wait_for_sent(3, WAIT).await;

    let all = app.get("/integrations/history").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.headers["x-total-count"], "5");
    let items = all.body.as_array().unwrap();
    let directions: Vec<&str> = items.iter().map(|i| i["direction"].as_str().unwrap()).collect();
    assert_eq!(directions, ["out", "in", "out", "out", "in"], "newest first");
    let first_in = &items[4];
    assert_eq!(first_in["text"], "/newtask Write the brief");
    assert_eq!(first_in["channel"], "telegram");
    assert_eq!(first_in["chat_id"], ANNA.to_string());
    assert_eq!(first_in["person"], "anna");
    assert_eq!(first_in["task_id"], 1);
    assert_eq!(first_in["status"], "done");
    assert!(first_in["created_at"].is_string() && first_in["finished_at"].is_string());
    let reply = &items[3];
    assert!(
        reply["text"].as_str().unwrap().starts_with("Created #1"),
        "{reply}"
    );
    assert_eq!(
        (reply["person"].as_str(), reply["task_id"].as_i64()),
        (Some("anna"), Some(1))
    );

    let about_task = app.get("/integrations/history?task_id=1").await;
    assert_eq!(
        about_task.body.as_array().unwrap().len(),
        3,
        "{}",
        about_task.body
    );
    let ben = app.get("/integrations/history?person=ben").await;
    assert_eq!(
        summary(&ben)[..2],
        [
            ("out".to_owned(), ben.body[0]["text"].as_str().unwrap().to_owned()),
            ("in".to_owned(), "/tasks".to_owned())
        ]
    );
    assert_eq!(summary(&ben).len(), 3);
    let received = app.get("/integrations/history?direction=in&person=%40anna").await;
    assert_eq!(
        summary(&received),
        [("in".to_owned(), "/newtask Write the brief".to_owned())]
    );
    let page = app.get("/integrations/history?limit=2&offset=1").await;
    assert_eq!(page.headers["x-total-count"], "5");
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    assert_eq!(page.body[0]["id"], items[1]["id"]);
    assert_eq!(
        app.get("/integrations/history?channel=whatsapp").await.body,
        json!([])
    );
    assert_eq!(
        app.get("/integrations/history?person=nobody").await.body,
        json!([])
    );
    for bad in ["channel=fax", "direction=sideways", "limit=0", "task_id=x"] {
        let reply = app.get(&format!("/integrations/history?{bad}")).await;
        assert_eq!((reply.status, reply.code()), (422, "invalid"), "{bad}");
    }
    let guest = app.token("viewer", Role::Guest).await;
    let forbidden = app
        .call_as(&guest, Method::GET, "/integrations/history", None)
        .await;
    assert_eq!(forbidden.status, 403);
}
