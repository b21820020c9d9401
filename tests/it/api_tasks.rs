use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{both_dbs, spawn_app, Db, TestApp};

both_dbs!(
    task_crud_round_trip,
    task_errors_name_the_field,
    text_is_stored_exactly,
    filters_and_paging,
    status_patch_and_audit_trail,
    malformed_and_oversized_bodies,
    health_docs_and_metrics,
    health_is_503_when_the_database_is_gone,
);

async fn new_task(app: &TestApp, body: Value) -> Value {
    let reply = app.post("/api/tasks", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

async fn task_crud_round_trip(db: Db) {
    let app = spawn_app(db).await;
    app.person("anna", "member").await;
    let project = app.post("/api/projects", json!({"name": "Website"})).await.body;
    let task = new_task(
        &app,
        json!({
            "title": "Design the landing page",
            "description": "hero, pricing",
            "priority": "high",
            "project_id": project["id"],
            "assigned_to": "@Anna",
            "time_estimate": 6.5,
            "due_date": "2030-01-15T17:00:00Z",
            "labels": [{"name": "client", "color": "#ff0000"}]
        }),
    )
    .await;
    let id = task["id"].as_i64().unwrap();
    assert_eq!(task["status"], "todo");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["assigned_to"], "anna");
    assert_eq!(task["time_estimate"], 6.5);
    assert_eq!(task["due_date"], "2030-01-15T17:00:00Z");
    assert_eq!(task["labels"][0]["name"], "client");

    let fetched = app.get(&format!("/api/tasks/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, task);

    // PUT is a partial update: absent fields stay, null clears.
    let updated = app
        .call(
            Method::PUT,
            &format!("/api/tasks/{id}"),
            Some(
                json!({"title": "Design v2", "assigned_to": null, "time_spent": 2, "due_date": "2030-02-01"}),
            ),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["title"], "Design v2");
    assert_eq!(updated.body["assigned_to"], Value::Null);
    assert_eq!(updated.body["time_spent"], 2.0);
    assert_eq!(updated.body["priority"], "high");
    assert_eq!(updated.body["due_date"], "2030-02-01T23:59:59Z");

    let deleted = app.call(Method::DELETE, &format!("/api/tasks/{id}"), None).await;
    assert_eq!(deleted.status, 204);
    let gone = app.get(&format!("/api/tasks/{id}")).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.code(), "not_found");
    assert_eq!(gone.message(), format!("task {id} does not exist"));
    let again = app.call(Method::DELETE, &format!("/api/tasks/{id}"), None).await;
    assert_eq!(again.status, 404);
}

async fn task_errors_name_the_field(db: Db) {
    let app = spawn_app(db).await;
    let cases = [
        (json!({"title": "   "}), "title"),
        (json!({"title": "x", "status": "later"}), "status"),
        (json!({"title": "x", "priority": "asap"}), "priority"),
        (json!({"title": "x", "due_date": "next blue moon"}), "due_date"),
        (json!({"title": "x", "project_id": 999}), "project_id"),
        (json!({"title": "x", "assigned_to": "nobody"}), "assigned_to"),
        (json!({"title": "x", "time_estimate": -3}), "time_estimate"),
        (json!({"title": 5}), "title"),
        (json!({"description": "no title"}), "title"),
        (json!({"title": "x", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let reply = app.post("/api/tasks", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.code(), "invalid");
        assert!(reply.message().contains(field), "{body}: {}", reply.message());
    }
    let (_, total) = app.store.list_tasks(&Default::default()).await.unwrap();
    assert_eq!(total, 0, "no invalid task may be stored");

    let missing = app
        .call(Method::PUT, "/api/tasks/77", Some(json!({"title": "y"})))
        .await;
    assert_eq!(missing.status, 404);
    let bad_path = app.get("/api/tasks/abc").await;
    assert_eq!(bad_path.status, 400);
    assert_eq!(bad_path.code(), "bad_request");
}

async fn text_is_stored_exactly(db: Db) {
    let app = spawn_app(db).await;
    let title = "Robert'); DROP TABLE tasks;-- \"quoted\" 🚀 日本語";
    let description = "line one\nline two\t' OR 1=1 --?";
    let task = new_task(&app, json!({"title": title, "description": description})).await;
    let fetched = app.get(&format!("/api/tasks/{}", task["id"])).await;
    assert_eq!(fetched.body["title"], title);
    assert_eq!(fetched.body["description"], description);
    let comment = app
        .post(
            "/api/comments",
            json!({"task_id": task["id"], "content": "👍 'single' \"double\" %_"}),
        )
        .await;
    assert_eq!(comment.status, 201, "{}", comment.body);
    assert_eq!(comment.body["content"], "👍 'single' \"double\" %_");
    // NUL cannot be stored by PostgreSQL and is never meant: refused on both engines alike.
    let nul = app.post("/api/tasks", json!({"title": "a\u{0}b"})).await;
    assert_eq!(nul.status, 422, "{}", nul.body);
}

async fn filters_and_paging(db: Db) {
    let app = spawn_app(db).await;
    app.person("anna", "member").await;
    app.person("ben", "member").await;
    let p1 = app.post("/api/projects", json!({"name": "One"})).await.body["id"].clone();
    let p2 = app.post("/api/projects", json!({"name": "Two"})).await.body["id"].clone();
    new_task(
        &app,
        json!({"title": "a", "project_id": p1, "assigned_to": "anna", "due_date": "2020-01-01"}),
    )
    .await;
    new_task(&app, json!({"title": "b", "project_id": p1, "assigned_to": "ben", "due_date": "2020-01-01", "status": "done"})).await;
    new_task(
        &app,
        json!({"title": "c", "project_id": p2, "assigned_to": "anna", "due_date": "2099-01-01"}),
    )
    .await;
    new_task(&app, json!({"title": "d", "project_id": p2, "status": "blocked"})).await;
    new_task(
        &app,
        json!({"title": "e", "status": "in_progress", "due_date": "2025-06-01T00:00:00Z"}),
    )
    .await;

    let titles = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        (format!("/api/tasks?project_id={p1}"), vec!["a", "b"]),
        ("/api/tasks?status=blocked".to_owned(), vec!["d"]),
        ("/api/tasks?status=in_progress".to_owned(), vec!["e"]),
        ("/api/tasks?assigned_to=anna".to_owned(), vec!["a", "c"]),
        ("/api/tasks?due_before=2030-01-01".to_owned(), vec!["a", "b", "e"]),
        ("/api/tasks?overdue=true".to_owned(), vec!["a", "e"]),
        (
            format!("/api/tasks?overdue=true&project_id={p1}&assigned_to=anna"),
            vec!["a"],
        ),
        ("/api/tasks?assigned_to=nobody".to_owned(), vec![]),
    ];
    for (path, want) in cases {
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(titles(&reply), want, "{path}");
        assert_eq!(
            reply.headers["x-total-count"],
            want.len().to_string().as_str(),
            "{path}"
        );
    }

    let page = app.get("/api/tasks?limit=2&offset=2").await;
    assert_eq!(titles(&page), vec!["c", "d"]);
    assert_eq!(page.headers["x-total-count"], "5");
    let last = app.get("/api/tasks?limit=2&offset=4").await;
    assert_eq!(titles(&last), vec!["e"]);

    for bad in [
        "limit=0",
        "limit=501",
        "offset=-1",
        "limit=abc",
        "status=someday",
        "due_before=soon",
        "overdue=maybe",
    ] {
        let reply = app.get(&format!("/api/tasks?{bad}")).await;
        assert_eq!(reply.status, 422, "{bad}: {}", reply.body);
        assert_eq!(reply.code(), "invalid");
    }
}

async fn status_patch_and_audit_trail(db: Db) {
    let app = spawn_app(db).await;
    let task = new_task(&app, json!({"title": "Ship"})).await;
    let id = task["id"].as_i64().unwrap();
    let path = format!("/api/tasks/{id}/status");
    let done = app
        .call(Method::PATCH, &path, Some(json!({"status": "done"})))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["status"], "done");
    let bad = app
        .call(Method::PATCH, &path, Some(json!({"status": "finished"})))
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.message().starts_with("status:"));
    let missing = app
        .call(
            Method::PATCH,
            "/api/tasks/4242/status",
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(missing.status, 404);

    let trail = app.store.audit_trail("task", &id.to_string()).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["task.create", "task.status"]);
    assert!(trail
        .iter()
        .all(|r| r.actor == "token:bootstrap" && r.channel == "api"));
}

async fn malformed_and_oversized_bodies(db: Db) {
    let app = spawn_app(db).await;
    let malformed = TestApp::send(
        app.request(Method::POST, "/api/tasks", Some(crate::helpers::ADMIN_TOKEN))
            .header("content-type", "application/json")
            .body("{\"title\": "),
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.code(), "bad_request");

    let not_json = TestApp::send(
        app.request(Method::POST, "/api/tasks", Some(crate::helpers::ADMIN_TOKEN))
            .body("title=x"),
    )
    .await;
    assert_eq!(not_json.status, 400);

    let huge = "x".repeat(2 * 1024 * 1024);
    let too_large = app
        .post("/api/tasks", json!({"title": "t", "description": huge}))
        .await;
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert_eq!(too_large.code(), "payload_too_large");

    let unknown = app.get("/api/nothing-here").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "not_found");
    let (_, total) = app.store.list_tasks(&Default::default()).await.unwrap();
    assert_eq!(total, 0);
}

async fn health_docs_and_metrics(db: Db) {
    let app = spawn_app(db).await;
    let health = TestApp::send(app.request(Method::GET, "/health", None)).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");

    let spec = TestApp::send(app.request(Method::GET, "/openapi.json", None)).await;
    assert_eq!(spec.status, 200);
    let paths = spec.body["paths"].as_object().unwrap();
    for path in [
        "/api/projects",
        "/api/projects/{id}",
        "/api/tasks",
        "/api/tasks/{id}",
        "/api/tasks/{id}/status",
        "/api/comments",
        "/api/comments/{id}",
        "/api/people",
        "/api/people/{handle}",
        "/api/people/{handle}/link-code",
        "/health",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    let docs = app.client.get(format!("{}/docs", app.base)).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("/openapi.json"));

    app.get("/api/tasks").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("http_requests_total{path=\"/api/tasks\",method=\"GET\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("http_request_duration_seconds"));
}

async fn health_is_503_when_the_database_is_gone(db: Db) {
    let app = spawn_app(db).await;
    app.store.close().await;
    let health = TestApp::send(app.request(Method::GET, "/health", None)).await;
    assert_eq!(health.status, 503);
    assert_eq!(health.body["database"], "unreachable");
    let tasks = app.get("/api/tasks").await;
    assert_eq!(tasks.status, 503, "{}", tasks.body);
    assert_eq!(tasks.code(), "unavailable");
}
