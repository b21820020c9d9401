//! The scheduler's reports (numbers and chart), handbook policy checks, and two replicas over
//! one PostgreSQL database sending nothing twice.

use std::time::Duration;

use coordinator::scheduler::Policies;
use serde_json::json;

use crate::helpers::{both_dbs, Db};
use crate::scheduler::{at, scheduler, sent, start, task, wait_until, ANNA};

both_dbs!(
    reports_count_right_and_carry_a_png_chart,
    policy_breaches_are_reported_with_their_source,
);

async fn reports_count_right_and_carry_a_png_chart(db: Db) {
    let (app, fake) = start(db).await;
    let now = coordinator::store::now();
    let past = (now - chrono::Duration::days(1)).to_rfc3339();
    let soon = (now + chrono::Duration::days(2)).to_rfc3339();
    let a = task(
        &app,
        json!({"title": "A", "assigned_to": "anna", "due_date": past}),
    )
    .await;
    task(&app, json!({"title": "B", "assigned_to": "anna", "due_date": soon, "time_estimate": 10.0, "time_spent": 9.0})).await;
    let c = task(&app, json!({"title": "C", "assigned_to": "marta"})).await;
    let _ = a;
    assert_eq!(
        app.call(
            reqwest::Method::PATCH,
            &format!("/api/tasks/{c}/status"),
            Some(json!({"status": "done"}))
        )
        .await
        .status,
        200
    );
    let report = app
        .workspace
        .report(
            &coordinator::workspace::Actor::system("test"),
            coordinator::domain::Period::Weekly,
            None,
            coordinator::store::now(),
            "UTC".parse().unwrap(),
        )
        .await
        .unwrap();
    let counts = &report.data.counts;
    assert_eq!(
        (
            counts.done,
            counts.open,
            counts.overdue,
            counts.at_risk,
            counts.upcoming
        ),
        (1, 2, 1, 1, 1)
    );
    assert!(
        report.text.contains("@anna: done 0, open 2, overdue 1"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("@marta: done 1, open 0, overdue 0"),
        "{}",
        report.text
    );
    let png = report.chart.as_ref().unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let info = png::Decoder::new(std::io::Cursor::new(png.clone()))
        .read_info()
        .unwrap()
        .info()
        .clone();
    assert_eq!((info.width, info.height), (800, 450));
    // `/report weekly` in chat: the chart goes as a photo with the numbers as its caption.
    app.deliver_telegram_ok(&crate::fake_telegram::text_update(
        10,
        ANNA,
        ANNA,
        "/report weekly",
    ))
    .await;
    wait_until(|| async { !fake.uploads().is_empty() }).await;
}

async fn policy_breaches_are_reported_with_their_source(db: Db) {
    let (app, fake) = start(db).await;
    let policies = Policies::load(std::path::Path::new("handbook")).unwrap();
    let s = scheduler(&app, policies);
    let anna = coordinator::workspace::Actor::person(
        &app.workspace
            .person(&coordinator::workspace::Actor::system("t"), "anna")
            .await
            .unwrap(),
        "telegram",
        chrono_tz::UTC,
    );
    let new = coordinator::workspace::NewTask {
        labels: vec![coordinator::domain::Label {
            name: "client".into(),
            color: None,
        }],
        ..coordinator::workspace::NewTask::titled(
            coordinator::domain::TaskTitle::parse("Client brief").unwrap(),
        )
    };
    let id = app.workspace.create_task(&anna, new, None).await.unwrap().id;
    let breaches = coordinator::scheduler::policy::check(&s, id, coordinator::store::now())
        .await
        .unwrap();
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0].rule, "client-task-owner");
    let swept = s.run_once(coordinator::store::now()).await.unwrap();
    assert_eq!(swept.breaches_reported, 1);
    assert_eq!(
        s.run_once(coordinator::store::now())
            .await
            .unwrap()
            .breaches_reported,
        0,
        "once"
    );
    let msg = &sent(&fake, 1).await[0];
    assert_eq!(msg.chat_id, ANNA, "the actor who made the task hears of it");
    assert!(
        msg.text
            .contains("Client tasks must have an owner and a due date."),
        "{}",
        msg.text
    );
    assert!(
        msg.text.contains("deadlines-and-time-tracking.md › "),
        "{}",
        msg.text
    );

    // The open breach is a finding of `/ai/analyze`, and its own suggestion.
    let analysis = app.post("/ai/analyze", serde_json::json!({})).await;
    assert_eq!(analysis.status, 200, "{}", analysis.body);
    assert_eq!(analysis.body["counts"]["policy_breach"], 1, "{}", analysis.body);
    let finding = analysis.body["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "policy_breach")
        .cloned()
        .unwrap();
    assert_eq!(finding["task_id"], id);
    assert_eq!(finding["detail"]["rule"], "client-task-owner");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("deadlines-and-time-tracking.md › "),
        "{finding}"
    );
    let suggestions = app.get("/ai/suggestions").await.body;
    let advice = suggestions
        .as_array()
        .or_else(|| suggestions["suggestions"].as_array())
        .unwrap()
        .iter()
        .find(|s| s["task_id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(advice["action"], "follow_policy", "{advice}");

    // Once the task complies and the next sweep sees it, the finding is gone.
    let fixed = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/tasks/{id}"),
            Some(serde_json::json!({"assigned_to": "anna", "due_date": "2030-03-01T12:00:00Z"})),
        )
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    s.run_once(coordinator::store::now()).await.unwrap();
    let analysis = app.post("/ai/analyze", serde_json::json!({})).await;
    assert_eq!(analysis.body["counts"]["policy_breach"], 0, "{}", analysis.body);
}

/// Two replicas over one PostgreSQL database sweep at the same moment: each reminder and
/// escalation step is sent once.
#[tokio::test]
async fn two_replicas_never_send_twice() {
    if !crate::helpers::postgres_ready().await {
        return;
    }
    let (app, fake) = start(Db::Postgres).await;
    let a = scheduler(&app, Policies::default());
    let b = scheduler(&app, Policies::default());
    for n in 0..20 {
        task(
            &app,
            json!({"title": format!("late {n}"), "assigned_to": "anna", "due_date": "2030-01-14T09:00:00Z"}),
        )
        .await;
        task(
            &app,
            json!({"title": format!("soon {n}"), "assigned_to": "anna", "due_date": "2030-01-15T08:00:00Z"}),
        )
        .await;
    }
    let now = at("2030-01-14T10:00:00Z");
    let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.escalation_steps + rb.escalation_steps, 20);
    assert_eq!(ra.reminders_sent + rb.reminders_sent, 20);
    let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
    assert_eq!(ra.unwrap().escalation_steps + rb.unwrap().escalation_steps, 0);
    let sent = fake.wait_for_sent(40, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent_now = fake.sent();
    assert_eq!(sent.len(), 40);
    assert_eq!(sent_now.len(), 40, "no duplicates");
    let mut texts: Vec<&str> = sent_now.iter().map(|m| m.text.as_str()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 40);
}
