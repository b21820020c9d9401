use coordinator::domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{both_dbs, spawn_app, Db, TestApp};

both_dbs!(tokens_and_roles, first_start_token_is_made_once);

async fn tokens_and_roles(db: Db) {
    let app = spawn_app(db).await;
    let none = TestApp::send(app.request(Method::GET, "/api/tasks", None)).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.code(), "unauthorized");
    let wrong = TestApp::send(app.request(Method::GET, "/api/tasks", Some("crd_wrong"))).await;
    assert_eq!(wrong.status, 401);
    let basic = TestApp::send(
        app.request(Method::GET, "/api/tasks", None)
            .basic_auth("a", Some("b")),
    )
    .await;
    assert_eq!(basic.status, 401);

    let member = app.token("crm", Role::Member).await;
    let guest = app.token("viewer", Role::Guest).await;
    let created = app
        .call_as(
            &member,
            Method::POST,
            "/api/tasks",
            Some(json!({"title": "by member"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();

    // Members may not delete tasks, add people or make link codes; guests may only read.
    let cases = [
        (&member, Method::DELETE, format!("/api/tasks/{id}"), None),
        (
            &member,
            Method::POST,
            "/api/people".to_owned(),
            Some(json!({"handle": "x", "name": "X"})),
        ),
        (
            &guest,
            Method::POST,
            "/api/tasks".to_owned(),
            Some(json!({"title": "by guest"})),
        ),
        (
            &guest,
            Method::PATCH,
            format!("/api/tasks/{id}/status"),
            Some(json!({"status": "done"})),
        ),
        (
            &guest,
            Method::POST,
            "/api/comments".to_owned(),
            Some(json!({"task_id": id, "content": "hi"})),
        ),
    ];
    for (token, method, path, body) in cases {
        let reply = app.call_as(token, method.clone(), &path, body).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        assert_eq!(reply.code(), "forbidden");
    }
    let read = app.call_as(&guest, Method::GET, "/api/tasks", None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body.as_array().unwrap().len(), 1);

    let trail = app.store.audit_trail("task", &id.to_string()).await.unwrap();
    assert_eq!(trail[0].actor, "token:crm");
}

async fn first_start_token_is_made_once(db: Db) {
    // Without a bootstrap token, the first start makes one admin token and only once.
    let (url, _dir) = crate::helpers::fresh_database(db).await;
    let settings = coordinator::config::Settings::with(&[("DATABASE_URL", url.as_str())]).unwrap();
    let app = coordinator::app::App::build(settings).await.unwrap();
    let token = app
        .workspace
        .first_start_token()
        .await
        .unwrap()
        .expect("a first token");
    assert!(app.workspace.first_start_token().await.unwrap().is_none());
    let actor = app
        .workspace
        .authenticate(&token)
        .await
        .unwrap()
        .expect("token works");
    assert_eq!(actor.role, Role::Admin);
    assert!(app.workspace.authenticate("crd_other").await.unwrap().is_none());
}
