//! Delay detection: `/ai/analyze` and `/ai/suggestions`, and the workspace functions behind them
//! driven with a fixed `now`. `updated_at` is set by the store to the real time, so the tests
//! that need stale or long-blocked tasks set it directly in the test database.

use chrono::{DateTime, TimeDelta, Utc};
use coordinator::domain::{Priority, Role, TaskTitle};
use coordinator::workspace::{Actor, AnalysisOptions, NewTask};
use reqwest::Method;
use serde_json::{json, Value};

mod scale;

use crate::helpers::{both_dbs, spawn_app, Db, TestApp};

both_dbs!(
    findings_and_suggestions_at_a_fixed_time,
    api_analyze_and_suggestions,
    most_severe_findings_first_and_capped,
);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// Sets a task's `updated_at`, which the store otherwise sets to the real time.
async fn set_updated_at(db: Db, url: &str, task: i64, when: DateTime<Utc>) {
    let sql = "UPDATE tasks SET updated_at = $1 WHERE id = $2";
    let done = match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let done = sqlx::query(sql)
                .bind(when)
                .bind(task)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            done.rows_affected()
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let done = sqlx::query(sql)
                .bind(when)
                .bind(task)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            done.rows_affected()
        }
    };
    assert_eq!(done, 1);
}

async fn create(app: &TestApp, path: &str, body: Value) -> i64 {
    let reply = app.post(path, body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

/// (kind, severity, task id, project id, message) of a finding.
type Row = (String, String, Option<i64>, Option<i64>, String);

/// The `Row` of every finding, in order.
fn summary(findings: &[Value]) -> Vec<Row> {
    findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
                f["task_id"].as_i64(),
                f["project_id"].as_i64(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(kind: &str, severity: &str, task: Option<i64>, project: Option<i64>, message: String) -> Row {
    (kind.into(), severity.into(), task, project, message)
}

async fn findings_and_suggestions_at_a_fixed_time(db: Db) {
    let app = spawn_app(db).await;
    app.person("anna", "member").await;
    app.person("bob", "member").await;
    // Monday 09:00 UTC: Website's deadline leaves 16 working hours (Monday and Tuesday).
    let now = at("2030-01-14T09:00:00Z");
    let website = create(
        &app,
        "/api/projects",
        json!({"name": "Website", "deadline": "2030-01-15T17:00:00Z"}),
    )
    .await;
    let launch = create(
        &app,
        "/api/projects",
        json!({"name": "Launch", "deadline": "2030-01-10T17:00:00Z"}),
    )
    .await;
    let roomy = create(
        &app,
        "/api/projects",
        json!({"name": "Roomy", "deadline": "2030-03-01"}),
    )
    .await;
    let shelved = create(
        &app,
        "/api/projects",
        json!({"name": "Shelved", "status": "on_hold", "deadline": "2029-12-01"}),
    )
    .await;
    let task = |body: Value| create(&app, "/api/tasks", body);

    let homepage = task(
        json!({"title": "Homepage copy", "project_id": website, "assigned_to": "anna",
        "priority": "high", "due_date": "2030-01-11T09:00:00Z", "time_estimate": 30}),
    )
    .await;
    let client = task(
        json!({"title": "API client", "project_id": website, "assigned_to": "anna",
        "status": "in_progress", "time_estimate": 8, "time_spent": 12}),
    )
    .await;
    let notes =
        task(json!({"title": "Release notes", "project_id": website, "due_date": "2030-01-15T05:00:00Z"}))
            .await;
    let deploy = task(
        json!({"title": "Deploy", "project_id": website, "assigned_to": "bob", "status": "blocked",
        "priority": "urgent", "time_estimate": 3, "time_spent": 1}),
    )
    .await;
    let logo = task(
        json!({"title": "Logo", "assigned_to": "bob", "status": "in_progress", "priority": "low",
        "due_date": "2030-01-14T04:00:00Z"}),
    )
    .await;
    task(json!({"title": "Shipped", "status": "done", "due_date": "2030-01-01"})).await;
    let fresh = task(json!({"title": "Fresh work", "assigned_to": "anna", "status": "in_progress"})).await;
    let later = task(json!({"title": "Later", "due_date": "2030-01-17T09:00:00Z"})).await;
    task(json!({"title": "Launch checklist", "project_id": launch, "assigned_to": "anna"})).await;
    task(json!({"title": "Room plan", "project_id": roomy, "assigned_to": "bob", "time_estimate": 10})).await;
    let old_idea = task(json!({"title": "Old idea", "project_id": shelved, "status": "blocked"})).await;

    set_updated_at(db, &app.database_url, client, now - TimeDelta::days(5)).await;
    set_updated_at(db, &app.database_url, deploy, now - TimeDelta::days(2)).await;
    set_updated_at(db, &app.database_url, logo, now - TimeDelta::days(10)).await;
    set_updated_at(db, &app.database_url, fresh, now - TimeDelta::days(1)).await;
    set_updated_at(db, &app.database_url, old_idea, now - TimeDelta::hours(3)).await;

    let actor = Actor::system("test");
    let analysis = app
        .workspace
        .analyze(&actor, now, AnalysisOptions::default())
        .await
        .unwrap();
    let json = serde_json::to_value(&analysis).unwrap();
    assert_eq!(json["generated_at"], "2030-01-14T09:00:00Z");
    assert_eq!(json["options"], json!({"stale_days": 3, "due_soon_hours": 48}));
    assert_eq!(
        json["counts"],
        json!({"overdue": 2, "stale_in_progress": 2, "unassigned_due_soon": 1, "project_at_risk": 2, "blocked": 2,
               "policy_breach": 0})
    );
    let expected = vec![
        row("overdue", "high", Some(homepage), Some(website), format!("#{homepage} Homepage copy is 3 days overdue (@anna)")),
        row("blocked", "high", Some(deploy), Some(website), format!("#{deploy} Deploy is blocked and has not been updated for 2 days (@bob)")),
        row("stale_in_progress", "high", Some(logo), None, format!("#{logo} Logo is in progress but has not been updated for 10 days (@bob)")),
        row("project_at_risk", "high", None, Some(launch), "Project Launch is past its deadline of 2030-01-10 with 1 open task".into()),
        row("unassigned_due_soon", "medium", Some(notes), Some(website), format!("#{notes} Release notes is due in 20 hours and nobody is assigned")),
        row(
            "project_at_risk",
            "medium",
            None,
            Some(website),
            "Project Website needs about 36 hours of open work but has 32 working hours left before its deadline of 2030-01-15 (2 people)".into(),
        ),
        row("overdue", "low", Some(logo), None, format!("#{logo} Logo is 5 hours overdue (@bob)")),
        row("blocked", "low", Some(old_idea), Some(shelved), format!("#{old_idea} Old idea is blocked and has not been updated for 3 hours (unassigned)")),
        row("stale_in_progress", "low", Some(client), Some(website), format!("#{client} API client is in progress but has not been updated for 5 days (@anna)")),
    ];
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(summary(findings), expected);

    // The figures behind the findings.
    assert_eq!(findings[0]["assignee"], "anna");
    assert_eq!(findings[0]["detail"]["hours_overdue"], 72.0);
    assert_eq!(findings[0]["detail"]["priority"], "high");
    assert_eq!(findings[4]["detail"]["hours_until_due"], 20.0);
    assert_eq!(
        findings[5]["detail"],
        json!({"name": "Website", "deadline": "2030-01-15T17:00:00Z", "open_tasks": 4, "remaining_hours": 36.0,
            "unestimated_tasks": 1, "default_estimate_hours": 4.0, "people": 2, "working_hours_left": 16.0,
            "capacity_hours": 32.0})
    );
    assert_eq!(findings[8]["detail"]["days_since_update"], 5.0);

    // Other thresholds: "Later" is due within 96 hours; with 6 stale days only Logo is stale.
    let wider = AnalysisOptions::new(Some(6), Some(96)).unwrap();
    let analysis = app.workspace.analyze(&actor, now, wider).await.unwrap();
    assert_eq!(analysis.counts.unassigned_due_soon, 2);
    assert_eq!(analysis.counts.stale_in_progress, 1);
    let found = analysis
        .findings
        .iter()
        .find(|f| f.task_id == Some(later))
        .unwrap();
    assert_eq!(
        found.message,
        format!("#{later} Later is due in 3 days and nobody is assigned")
    );

    let suggestions = app.workspace.suggestions(&actor, now).await.unwrap();
    let got: Vec<Value> = suggestions
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    let s = |action: &str, severity: &str, task: Option<i64>, project: Option<i64>, message: String| json!({"action": action, "severity": severity, "task_id": task, "project_id": project, "message": message});
    assert_eq!(
        got,
        vec![
            s("move_deadline", "high", Some(homepage), Some(website),
                format!("Agree a new due date for #{homepage} Homepage copy with @anna, or finish it: it is 3 days overdue")),
            s("follow_up", "high", Some(deploy), Some(website), format!("Ask @bob what is blocking #{deploy} Deploy: no update for 2 days")),
            s("follow_up", "high", Some(logo), None, format!("Ask @bob for an update on #{logo} Logo: in progress with no update for 10 days")),
            s("move_deadline", "high", None, Some(launch), "Move the deadline of project Launch (2030-01-10 has passed) or close its open task".into()),
            s("assign", "medium", Some(notes), Some(website), format!("Assign #{notes} Release notes: it is due in 20 hours and nobody is assigned")),
            s("split_or_reestimate", "medium", None, Some(website),
                "Re-estimate or split the open work of project Website, or move its deadline (2030-01-15): about 36 hours of work for 32 working hours left".into()),
            s("follow_up", "low", Some(old_idea), Some(shelved),
                format!("Find out what is blocking #{old_idea} Old idea and assign it: no update for 3 hours")),
            s("split_or_reestimate", "low", Some(client), Some(website), format!("Re-estimate or split #{client} API client: 12 of 8 estimated hours are spent")),
        ]
    );

    // Marking work done clears its findings.
    let done = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{homepage}/status"),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(done.status, 200);
    let analysis = app
        .workspace
        .analyze(&actor, now, AnalysisOptions::default())
        .await
        .unwrap();
    assert_eq!(analysis.counts.overdue, 1);
    // Website now needs 6 hours: it fits.
    assert_eq!(analysis.counts.project_at_risk, 1);
}

async fn api_analyze_and_suggestions(db: Db) {
    let app = spawn_app(db).await;
    let old = create(
        &app,
        "/api/tasks",
        json!({"title": "Old task", "due_date": "2020-01-01T00:00:00Z"}),
    )
    .await;

    let reply = app.call(Method::POST, "/ai/analyze", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["options"],
        json!({"stale_days": 3, "due_soon_hours": 48})
    );
    assert_eq!(reply.body["limit_per_kind"], 200);
    assert_eq!(reply.body["counts"]["overdue"], 1);
    assert_eq!(reply.body["counts"]["unassigned_due_soon"], 1);
    let findings = reply.body["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    for (finding, kind) in findings.iter().zip(["overdue", "unassigned_due_soon"]) {
        assert_eq!(finding["kind"], kind);
        assert_eq!(finding["severity"], "high");
        assert_eq!(finding["task_id"], old);
    }
    let message = findings[0]["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("#{old} Old task is ")), "{message}");
    assert!(message.ends_with(" days overdue (unassigned)"), "{message}");

    let reply = app
        .post("/ai/analyze", json!({"stale_days": 7, "due_soon_hours": 24}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["options"],
        json!({"stale_days": 7, "due_soon_hours": 24})
    );
    let reply = app.post("/ai/analyze", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    for (body, field) in [
        (json!({"stale_days": 0}), "stale_days"),
        (json!({"stale_days": 366}), "stale_days"),
        (json!({"due_soon_hours": -5}), "due_soon_hours"),
        (json!({"due_soon_hours": "soon"}), "due_soon_hours"),
        (json!({"stale": 3}), "stale"),
    ] {
        let reply = app.post("/ai/analyze", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.code(), "invalid");
        assert!(reply.message().contains(field), "{body}: {}", reply.message());
    }
    let malformed = TestApp::send(
        app.request(Method::POST, "/ai/analyze", Some(crate::helpers::ADMIN_TOKEN))
            .header("content-type", "application/json")
            .body("{\"stale_days\": "),
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.code(), "bad_request");

    let reply = app.get("/ai/suggestions").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let suggestions = reply.body["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 1);
    assert_eq!(suggestions[0]["action"], "assign");
    assert_eq!(suggestions[0]["task_id"], old);
    let message = suggestions[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("Assign #{old} Old task: it is ")),
        "{message}"
    );

    // Bearer auth like every /ai route; any role may read.
    let guest = app.token("viewer", Role::Guest).await;
    for (method, path) in [(Method::POST, "/ai/analyze"), (Method::GET, "/ai/suggestions")] {
        let anonymous = TestApp::send(app.request(method.clone(), path, None)).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(anonymous.code(), "unauthorized");
        let reply = app.call_as(&guest, method, path, None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    let doc = app.get("/openapi.json").await.body;
    assert_eq!(doc["paths"]["/ai/analyze"]["post"]["operationId"], "ai_analyze");
    assert_eq!(
        doc["paths"]["/ai/suggestions"]["get"]["operationId"],
        "ai_suggestions"
    );
}

/// More matches than the cap: the most severe come first, whatever their due dates.
async fn most_severe_findings_first_and_capped(db: Db) {
    let app = spawn_app(db).await;
    let actor = Actor::system("test");
    let now = at("2030-06-03T12:00:00Z");
    for i in 0..205 {
        let new = NewTask {
            priority: Priority::Low,
            due_date: Some(now - TimeDelta::hours(30) - TimeDelta::minutes(i)),
            ..NewTask::titled(TaskTitle::parse(&format!("Chore {i}")).unwrap())
        };
        app.workspace.create_task(&actor, new, None).await.unwrap();
    }
    let urgent = NewTask {
        priority: Priority::Urgent,
        due_date: Some(now - TimeDelta::minutes(5)),
        ..NewTask::titled(TaskTitle::parse("Server down").unwrap())
    };
    let urgent = app.workspace.create_task(&actor, urgent, None).await.unwrap().id;

    let analysis = app
        .workspace
        .analyze(&actor, now, AnalysisOptions::default())
        .await
        .unwrap();
    assert_eq!(analysis.counts.overdue, 206);
    assert_eq!(analysis.counts.unassigned_due_soon, 206);
    let overdue: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| f.kind == coordinator::workspace::FindingKind::Overdue)
        .collect();
    assert_eq!(overdue.len(), 200);
    assert_eq!(overdue[0].task_id, Some(urgent));
    assert_eq!(
        overdue[0].message,
        format!("#{urgent} Server down is less than an hour overdue (unassigned)")
    );
    // Then the latest chores first: Chore 204 is due earliest.
    assert_eq!(overdue[1].message, "#205 Chore 204 is 1 day overdue (unassigned)");
    assert!(overdue[1..].iter().all(|f| f.message.contains("Chore")));

    let suggestions = app.workspace.suggestions(&actor, now).await.unwrap();
    assert_eq!(suggestions.len(), 100);
    assert_eq!(suggestions[0].task_id, Some(urgent));
}
