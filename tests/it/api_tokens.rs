//! Token lifecycle (list, revoke, expiry, unique names), the `author` of a comment, and who may
//! read an API conversation: each check here fails without the rule it tests.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::helpers::{both_dbs, spawn_app, spawn_app_with, Db, TestApp};

both_dbs!(
    tokens_are_listed_revoked_and_expire_under_unique_names,
    comments_name_their_author_only_with_the_right_to,
    api_conversations_are_read_only_by_their_owner,
);

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.call_as(token, Method::GET, "/api/tasks", None).await.status
}

async fn tokens_are_listed_revoked_and_expire_under_unique_names(db: Db) {
    let app = spawn_app(db).await;
    let created = app
        .post("/api/tokens", json!({"name": "ci", "role": "member"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert_eq!(created.body["name"], "ci");
    assert_eq!(status_with(&app, &token).await, 200);

    // Names are unique: they are the token's principal.
    let again = app.post("/api/tokens", json!({"name": "ci"})).await;
    assert_eq!((again.status, again.code()), (409, "conflict"), "{}", again.body);
    let bad = app.post("/api/tokens", json!({"name": "bootstrap"})).await;
    assert_eq!(bad.status, 422);
    let bad = app
        .post("/api/tokens", json!({"name": "x", "expires": "soon"}))
        .await;
    assert_eq!(
        (bad.status, bad.message().contains("expires")),
        (422, true),
        "{}",
        bad.body
    );

    // Listed without the token itself, with when it was last used.
    let list = app.get("/api/tokens").await;
    assert_eq!(list.status, 200);
    let ci = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .cloned()
        .unwrap();
    assert!(
        ci.get("token").is_none() && ci.get("token_hash").is_none(),
        "{ci}"
    );
    assert!(ci["last_used_at"].is_string(), "{ci}");
    assert!(!list.body.to_string().contains(&token));

    // Only admins administer tokens.
    assert_eq!(
        app.call_as(&token, Method::GET, "/api/tokens", None).await.status,
        403
    );
    assert_eq!(
        app.call_as(&token, Method::DELETE, "/api/tokens/ci", None)
            .await
            .status,
        403
    );

    // Revoked: 401 at once; the name stays taken.
    assert_eq!(app.call(Method::DELETE, "/api/tokens/ci", None).await.status, 204);
    assert_eq!(status_with(&app, &token).await, 401);
    assert_eq!(app.call(Method::DELETE, "/api/tokens/ci", None).await.status, 404);
    assert_eq!(app.post("/api/tokens", json!({"name": "ci"})).await.status, 409);

    // Expired: 401 once its time is up.
    let short = app
        .post("/api/tokens", json!({"name": "short-lived", "expires": "1s"}))
        .await;
    assert_eq!(short.status, 201, "{}", short.body);
    let short = short.body["token"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&app, &short).await, 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(status_with(&app, &short).await, 401);
}

async fn comments_name_their_author_only_with_the_right_to(db: Db) {
    let app = spawn_app(db).await;
    app.person("anna", "member").await;
    let task = app.post("/api/tasks", json!({"title": "Brief"})).await.body["id"]
        .as_i64()
        .unwrap();
    // An admin may write in a person's name (the seed's field).
    let by_admin = app
        .post(
            "/api/comments",
            json!({"task_id": task, "content": "imported", "author": "anna"}),
        )
        .await;
    assert_eq!(
        (by_admin.status, by_admin.body["author"].as_str()),
        (201, Some("anna")),
        "{}",
        by_admin.body
    );
    let nobody = app
        .post(
            "/api/comments",
            json!({"task_id": task, "content": "x", "author": "ghost"}),
        )
        .await;
    assert_eq!(
        (nobody.status, nobody.message().contains("author")),
        (422, true),
        "{}",
        nobody.body
    );

    // Anyone else only as themselves.
    let member = app.token("tool", coordinator::domain::Role::Member).await;
    let forged = app
        .call_as(
            &member,
            Method::POST,
            "/api/comments",
            Some(json!({"task_id": task, "content": "x", "author": "anna"})),
        )
        .await;
    assert_eq!(
        (forged.status, forged.code()),
        (403, "forbidden"),
        "{}",
        forged.body
    );
    let own = app
        .call_as(
            &member,
            Method::POST,
            "/api/comments",
            Some(json!({"task_id": task, "content": "mine", "author": "token:tool"})),
        )
        .await;
    assert_eq!(
        (own.status, own.body["author"].as_str()),
        (201, Some("token:tool")),
        "{}",
        own.body
    );
    let plain = app
        .call_as(
            &member,
            Method::POST,
            "/api/comments",
            Some(json!({"task_id": task, "content": "plain"})),
        )
        .await;
    assert_eq!(plain.body["author"], "token:tool");
}

async fn api_conversations_are_read_only_by_their_owner(db: Db) {
    let ai = FakeOpenAi::start().await;
    let app = spawn_app_with(
        db,
        &[
            ("OPENAI_API_KEY", "test-key"),
            ("OPENAI_BASE_URL", ai.base_url.as_str()),
        ],
    )
    .await;
    ai.script(vec![Scripted::Text("Hello.".into())]);
    let alice = app.token("alice", coordinator::domain::Role::Member).await;
    let bob = app.token("bob", coordinator::domain::Role::Member).await;
    let started = app
        .call_as(&alice, Method::POST, "/ai/chat", Some(json!({"message": "hi"})))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let id = started.body["conversation_id"].as_i64().unwrap();
    let path = format!("/ai/conversations/{id}");
    assert_eq!(app.call_as(&alice, Method::GET, &path, None).await.status, 200);
    assert_eq!(app.call_as(&bob, Method::GET, &path, None).await.status, 404);
    // Nor may bob continue it.
    let hijack = app
        .call_as(
            &bob,
            Method::POST,
            "/ai/chat",
            Some(json!({"message": "and now?", "conversation_id": id})),
        )
        .await;
    assert_eq!(hijack.status, 404);
}

#[tokio::test]
async fn metrics_can_be_kept_behind_a_token() {
    let app = TestApp::builder(Db::Sqlite)
        .with("COORDINATOR_METRICS_TOKEN", "scrape-me")
        .spawn()
        .await;
    let url = format!("{}/metrics", app.base);
    let bare = app.client.get(&url).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 401);
    let wrong = app.client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = app
        .client
        .get(&url)
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    assert!(right.text().await.unwrap().contains("http_requests_total"));
    // Without the setting it stays open, as before.
    let open = spawn_app(Db::Sqlite).await;
    assert_eq!(
        open.client
            .get(format!("{}/metrics", open.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}
