use coordinator::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{both_dbs, spawn_app, Db};

both_dbs!(comment_crud_and_ownership);

async fn comment_crud_and_ownership(db: Db) {
    let app = spawn_app(db).await;
    let t1 = app.post("/api/tasks", json!({"title": "one"})).await.body["id"].clone();
    let t2 = app.post("/api/tasks", json!({"title": "two"})).await.body["id"].clone();
    let alice = app.token("alice-tool", Role::Member).await;
    let bob = app.token("bob-tool", Role::Member).await;

    let c1 = app
        .call_as(
            &alice,
            Method::POST,
            "/api/comments",
            Some(json!({"task_id": t1, "content": "first"})),
        )
        .await;
    assert_eq!(c1.status, 201, "{}", c1.body);
    assert_eq!(c1.body["author"], "token:alice-tool");
    app.call_as(
        &bob,
        Method::POST,
        "/api/comments",
        Some(json!({"task_id": t2, "content": "other"})),
    )
    .await;

    let on_t1 = app.get(&format!("/api/comments?task_id={t1}")).await;
    assert_eq!(on_t1.body.as_array().unwrap().len(), 1);
    assert_eq!(on_t1.body[0]["content"], "first");
    assert_eq!(app.get("/api/comments").await.headers["x-total-count"], "2");

    let path = format!("/api/comments/{}", c1.body["id"]);
    let not_theirs = app
        .call_as(&bob, Method::PUT, &path, Some(json!({"content": "hijack"})))
        .await;
    assert_eq!(not_theirs.status, 403);
    let edited = app
        .call_as(
            &alice,
            Method::PUT,
            &path,
            Some(json!({"content": "first, edited"})),
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.body["content"], "first, edited");
    assert_eq!(app.call_as(&bob, Method::DELETE, &path, None).await.status, 403);

    let empty = app
        .post("/api/comments", json!({"task_id": t1, "content": "  "}))
        .await;
    assert_eq!(empty.status, 422);
    let orphan = app
        .post("/api/comments", json!({"task_id": 999, "content": "hello"}))
        .await;
    assert_eq!(orphan.status, 422);
    assert!(orphan.message().starts_with("task_id"));

    assert_eq!(app.call_as(&alice, Method::DELETE, &path, None).await.status, 204);
    assert_eq!(app.get(&path).await.status, 404);
}
