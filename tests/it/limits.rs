//! Limits per chat identity and per API token: over the limit, a clear reply (once) or a 429
//! with `Retry-After`; every inbound event is still stored; `/metrics` counts the refusals.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::fake_telegram::{text_update, FakeTelegram};
use crate::helpers::{both_dbs, Db, TestApp};

both_dbs!(
    a_chat_over_its_messages_per_minute_is_told_once,
    a_token_over_its_requests_gets_429
);

const SECRET: &str = "limits-secret";
const ANNA: i64 = 8101;

async fn a_chat_over_its_messages_per_minute_is_told_once(db: Db) {
    let tg = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&tg, SECRET)
        .with("COORDINATOR_MESSAGES_PER_MINUTE", "3")
        .spawn()
        .await;
    let anna = json!({"handle": "anna", "name": "Anna",
        "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", anna).await.status, 201);
    for n in 1..=6 {
        app.deliver_telegram_ok(&text_update(n, ANNA, ANNA, "/tasks"))
            .await;
    }
    // Three answers and one notice; the other two are stored and not answered.
    let sent = tg.wait_for_sent(4, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sent_now = tg.sent();
    assert_eq!(sent_now.len(), 4, "{sent_now:?}");
    let notices: Vec<_> = sent
        .iter()
        .filter(|s| s.text.contains("faster than I take them"))
        .collect();
    assert_eq!(notices.len(), 1, "{sent:?}");
    let history = app
        .get("/integrations/history?channel=telegram&direction=in")
        .await
        .body;
    assert_eq!(
        history.as_array().unwrap().len(),
        6,
        "every update is kept: {history}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("limits_refused_total{kind=\"messages\"}"),
        "{metrics}"
    );
}

async fn a_token_over_its_requests_gets_429(db: Db) {
    let app = TestApp::builder(db)
        .with("COORDINATOR_API_REQUESTS_PER_MINUTE", "2")
        .spawn()
        .await;
    let token = app.token("script", coordinator::domain::Role::Member).await;
    for _ in 0..2 {
        assert_eq!(
            app.call_as(&token, Method::GET, "/api/tasks", None).await.status,
            200
        );
    }
    let over = app.call_as(&token, Method::GET, "/api/tasks", None).await;
    assert_eq!((over.status, over.code()), (429, "rate_limited"), "{}", over.body);
    let wait: u64 = over.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another token is not held up by this one.
    let other = app.token("other", coordinator::domain::Role::Member).await;
    assert_eq!(
        app.call_as(&other, Method::GET, "/api/tasks", None).await.status,
        200
    );
}

#[tokio::test]
async fn a_token_over_its_agent_turns_gets_429() {
    let ai = crate::fake_openai::FakeOpenAi::start().await;
    let app = TestApp::builder(Db::Sqlite)
        .with_openai(&ai)
        .with("COORDINATOR_AGENT_TURNS_PER_DAY", "1")
        .spawn()
        .await;
    ai.script(vec![crate::fake_openai::Scripted::Text("Hi.".into())]);
    assert_eq!(
        app.post("/ai/chat", json!({"message": "hello"})).await.status,
        200
    );
    let over = app.post("/ai/chat", json!({"message": "again"})).await;
    assert_eq!((over.status, over.code()), (429, "rate_limited"), "{}", over.body);
    assert!(over.headers.contains_key("retry-after"));
    assert_eq!(ai.requests().len(), 1, "the refused turn reached the model");
}
