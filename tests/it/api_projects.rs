use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{both_dbs, spawn_app, Db};

both_dbs!(project_crud_and_conflicts);

async fn project_crud_and_conflicts(db: Db) {
    let app = spawn_app(db).await;
    let created = app
        .post(
            "/api/projects",
            json!({"name": "Website relaunch", "description": "Q1", "deadline": "2030-03-31"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "active");
    let id = created.body["id"].as_i64().unwrap();

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "status": "paused"}), "status"),
        (json!({"name": "x", "deadline": "whenever"}), "deadline"),
    ] {
        let reply = app.post("/api/projects", body).await;
        assert_eq!(reply.status, 422);
        assert!(reply.message().starts_with(field), "{}", reply.message());
    }

    let updated = app
        .call(
            Method::PUT,
            &format!("/api/projects/{id}"),
            Some(json!({"status": "on_hold", "deadline": null})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["status"], "on_hold");
    assert_eq!(updated.body["deadline"], Value::Null);
    assert_eq!(updated.body["name"], "Website relaunch");

    app.post("/api/projects", json!({"name": "Second"})).await;
    let list = app.get("/api/projects?limit=1").await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.headers["x-total-count"], "2");

    let task = app
        .post("/api/tasks", json!({"title": "t", "project_id": id}))
        .await;
    let conflict = app
        .call(Method::DELETE, &format!("/api/projects/{id}"), None)
        .await;
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.code(), "conflict");
    app.call(Method::DELETE, &format!("/api/tasks/{}", task.body["id"]), None)
        .await;
    let deleted = app
        .call(Method::DELETE, &format!("/api/projects/{id}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(app.get(&format!("/api/projects/{id}")).await.status, 404);
}
