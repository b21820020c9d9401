//! Many clients writing at once: every request gets its answer, never a 500. On SQLite a
//! transaction that reads before it writes (delete a project: count its tasks, then delete)
//! used to fail with "database is locked" when another connection wrote in between; write
//! transactions now take the lock when they begin.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{both_dbs, spawn_app, Db, ADMIN_TOKEN};

both_dbs!(concurrent_writes_all_succeed);

async fn concurrent_writes_all_succeed(db: Db) {
    let app = spawn_app(db).await;
    let (client, base) = (&app.client, app.base.as_str());
    let call = |method: reqwest::Method, path: String, body: Option<Value>| async move {
        let mut request = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap_or(Value::Null))
    };
    let worker = |n: usize| async move {
        let mut statuses = Vec::new();
        for round in 0..4 {
            let (status, project) = call(
                reqwest::Method::POST,
                "/api/projects".into(),
                Some(json!({"name": format!("p{n}-{round}")})),
            )
            .await;
            statuses.push(("create project", status, project.clone()));
            let id = project["id"].as_i64().unwrap_or(0);
            let (status, task) = call(
                reqwest::Method::POST,
                "/api/tasks".into(),
                Some(json!({"title": format!("t{n}-{round}"), "project_id": id})),
            )
            .await;
            statuses.push(("create task", status, task.clone()));
            let task_id = task["id"].as_i64().unwrap_or(0);
            let (status, body) = call(
                reqwest::Method::PATCH,
                format!("/api/tasks/{task_id}/status"),
                Some(json!({"status": "done"})),
            )
            .await;
            statuses.push(("set status", status, body));
            let (status, body) = call(reqwest::Method::DELETE, format!("/api/tasks/{task_id}"), None).await;
            statuses.push(("delete task", status, body));
            let (status, body) = call(reqwest::Method::DELETE, format!("/api/projects/{id}"), None).await;
            statuses.push(("delete project", status, body));
        }
        statuses
    };
    let results: Vec<_> = join_all((0..16).map(worker))
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(results.len(), 16 * 4 * 5);
    for (what, status, body) in &results {
        assert!(
            matches!(status, 200 | 201 | 204),
            "{what} answered {status}: {body}"
        );
    }
}
