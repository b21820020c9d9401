//! The scheduler driven by `run_once(now)` across simulated days, observed through the fake
//! Telegram Bot API: reminders, quiet hours, escalation ladders with buttons, manual
//! escalation. Reports, policy checks and two replicas are in `scheduler_reports`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use serde_json::{json, Value};

use crate::fake_telegram::{callback_update_on, FakeTelegram, Sent};
use crate::helpers::{both_dbs, Db, TestApp};

const SECRET: &str = "sched-secret";
pub(crate) const ANNA: i64 = 7001;
pub(crate) const MARTA: i64 = 7002;
pub(crate) const WAIT: Duration = Duration::from_secs(10);

both_dbs!(
    reminders_come_at_local_times_outside_quiet_hours,
    the_ladder_climbs_once_per_step_and_buttons_stop_or_delay_it,
    manual_escalation_reaches_the_assignee,
);

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub(crate) async fn start(db: Db) -> (TestApp, FakeTelegram) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        // The app's own scheduler stays out of the way: the tests call run_once.
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    let marta = json!({"handle": "marta", "name": "Marta", "timezone": "Europe/Berlin",
        "identities": [{"channel": "telegram", "external_id": MARTA.to_string()}]});
    assert_eq!(app.post("/api/people", marta).await.status, 201);
    let anna = json!({"handle": "anna", "name": "Anna", "timezone": "Europe/Berlin", "manager": "marta",
        "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", anna).await.status, 201);
    (app, fake)
}

pub(crate) fn scheduler(app: &TestApp, policies: Policies) -> Scheduler {
    let mut config = SchedulerConfig::with_zone("Europe/Berlin".parse().unwrap());
    // No scheduled reports here (hour 24 never comes); they are tested on their own.
    config.report_hour = 24;
    Scheduler::with_config(app.workspace.clone(), app.store.clone(), config, policies)
}

pub(crate) async fn task(app: &TestApp, body: Value) -> i64 {
    let reply = app.post("/api/tasks", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

/// Waits until `n` messages were sent, then checks that no more follow the queue.
pub(crate) async fn sent(fake: &FakeTelegram, n: usize) -> Vec<Sent> {
    let sent = fake.wait_for_sent(n, WAIT).await;
    assert!(sent.len() >= n, "expected {n} messages, got {sent:?}");
    sent
}

async fn reminders_come_at_local_times_outside_quiet_hours(db: Db) {
    let (app, fake) = start(db).await;
    let s = scheduler(&app, Policies::default());
    // Due Wed 15 Jan 2030 at 10:00 Berlin (09:00 UTC).
    let id = task(
        &app,
        json!({"title": "Ship invoice", "assigned_to": "anna", "due_date": "2030-01-15T09:00:00Z"}),
    )
    .await;
    // Two days before: nothing.
    assert_eq!(
        s.run_once(at("2030-01-13T09:00:00Z"))
            .await
            .unwrap()
            .reminders_sent,
        0
    );
    // 24 h before is 10:00 Berlin on the 14th: the first reminder, once.
    assert_eq!(
        s.run_once(at("2030-01-14T09:00:00Z"))
            .await
            .unwrap()
            .reminders_sent,
        1
    );
    assert_eq!(
        s.run_once(at("2030-01-14T09:05:00Z"))
            .await
            .unwrap()
            .reminders_sent,
        0
    );
    let first = sent(&fake, 1).await;
    assert_eq!(first[0].chat_id, ANNA);
    assert!(
        first[0]
            .text
            .contains(&format!("#{id} Ship invoice is due in 24 hours")),
        "{}",
        first[0].text
    );
    assert!(
        first[0].text.contains("Tue 15 Jan 10:00 Europe/Berlin"),
        "{}",
        first[0].text
    );
    // 2 h before is 08:00 Berlin on the 15th: outside quiet hours (20:00–08:00), sent.
    assert_eq!(
        s.run_once(at("2030-01-15T07:00:00Z"))
            .await
            .unwrap()
            .reminders_sent,
        1
    );
    let both = sent(&fake, 2).await;
    assert!(both[1].text.contains("due in 2 hours"), "{}", both[1].text);
    let path = format!("/api/tasks/{id}/status");
    let done = app
        .call(reqwest::Method::PATCH, &path, Some(json!({"status": "done"})))
        .await;
    assert_eq!(done.status, 200);

    // A task due at 07:00 Berlin: its 2 h reminder (05:00) falls in quiet hours and is held;
    // the 24 h one (07:00 the day before) is held until 08:00.
    task(
        &app,
        json!({"title": "Early task", "assigned_to": "anna", "due_date": "2030-01-20T06:00:00Z"}),
    )
    .await;
    let held = s.run_once(at("2030-01-19T06:00:00Z")).await.unwrap();
    assert_eq!((held.reminders_sent, held.held), (0, 1));
    assert_eq!(
        s.run_once(at("2030-01-19T07:00:00Z"))
            .await
            .unwrap()
            .reminders_sent,
        1
    );
    let all = sent(&fake, 3).await;
    assert!(
        all[2].text.contains("Early task is due in 23 hours"),
        "{}",
        all[2].text
    );
    let quiet = s.run_once(at("2030-01-20T04:00:00Z")).await.unwrap();
    assert_eq!((quiet.reminders_sent, quiet.held), (0, 1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.sent().len(), 3, "nothing is sent in quiet hours");
}

async fn the_ladder_climbs_once_per_step_and_buttons_stop_or_delay_it(db: Db) {
    let (app, fake) = start(db).await;
    let s = scheduler(&app, Policies::default());
    let project = app.post("/api/projects", json!({"name": "Web"})).await.body["id"]
        .as_i64()
        .unwrap();
    app.store
        .set_project_chat(project, Some("telegram"), Some("-500"), None)
        .await
        .unwrap();
    // Overdue since Mon 14 Jan 2030 09:00 UTC, normal priority: one step a day.
    let id = task(
        &app,
        json!({"title": "Late page", "assigned_to": "anna", "project_id": project,
        "due_date": "2030-01-14T09:00:00Z"}),
    )
    .await;
    let day1 = s.run_once(at("2030-01-14T10:00:00Z")).await.unwrap();
    assert_eq!((day1.escalations_opened, day1.escalation_steps), (1, 1));
    assert_eq!(
        s.run_once(at("2030-01-14T12:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        0
    );
    // Step 1 reaches Anna and, as the project's chat, -500.
    let step1: Vec<Sent> = sent(&fake, 2)
        .await
        .into_iter()
        .filter(|m| m.chat_id == ANNA)
        .collect();
    assert!(step1[0].text.contains("step 1") && step1[0].text.contains(&format!("#{id} Late page")));
    let buttons: Vec<String> = step1[0].reply_markup.as_ref().unwrap()["inline_keyboard"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["callback_data"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        buttons,
        [
            format!("ack:{id}"),
            format!("snooze:{id}:1h"),
            format!("snooze:{id}:1d"),
            format!("done:{id}")
        ]
    );
    // Snooze a day by button: the step-2 time (15 Jan 10:00) moves to now + 1 day.
    let snooze = callback_update_on(1, ANNA, &step1[0], &format!("snooze:{id}:1d"));
    app.deliver_telegram_ok(&snooze).await;
    fake.wait_for_calls("answerCallbackQuery", 1, WAIT).await;
    wait_until(|| async {
        app.store
            .task_escalation(id)
            .await
            .unwrap()
            .unwrap()
            .next_at
            .unwrap()
            < at("2030-01-01T00:00:00Z")
    })
    .await;
    // The snooze counts from the wall clock (the button's time), far before 2030: simulate it.
    app.store
        .snooze_escalation(id, at("2030-01-16T10:00:00Z"), at("2030-01-15T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        s.run_once(at("2030-01-15T10:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        0
    );
    // Step 2 (the manager) after the snooze; step 3 (the project chat) a day later.
    assert_eq!(
        s.run_once(at("2030-01-16T10:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        1
    );
    assert_eq!(
        s.run_once(at("2030-01-17T10:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        1
    );
    assert_eq!(
        s.run_once(at("2030-01-18T10:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        0
    );
    wait_until(|| async {
        let counts = app
            .store
            .queue_counts(coordinator::store::Queue::Outbox)
            .await
            .unwrap();
        counts.pending + counts.processing == 0
    })
    .await;
    let steps: Vec<Sent> = fake
        .sent()
        .into_iter()
        .filter(|m| m.text.contains("Escalation"))
        .collect();
    let mut first: Vec<i64> = steps[..2].iter().map(|m| m.chat_id).collect();
    first.sort_unstable();
    assert_eq!(first, [-500, ANNA]);
    assert_eq!(
        steps[2..].iter().map(|m| m.chat_id).collect::<Vec<_>>(),
        [MARTA, -500]
    );
    assert!(steps[2].text.contains("step 2") && steps[3].text.contains("step 3"));

    // A second overdue task: acknowledged by button after step 1, the ladder stops.
    let other = task(
        &app,
        json!({"title": "Late copy", "assigned_to": "anna", "due_date": "2030-01-14T09:00:00Z"}),
    )
    .await;
    assert_eq!(
        s.run_once(at("2030-01-18T11:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        1
    );
    wait_until(|| async { fake.sent().iter().any(|m| m.text.contains("Late copy")) }).await;
    let msg = fake
        .sent()
        .into_iter()
        .rfind(|m| m.text.contains("Late copy"))
        .unwrap();
    app.deliver_telegram_ok(&callback_update_on(2, ANNA, &msg, &format!("ack:{other}")))
        .await;
    wait_until(|| async {
        app.store.task_escalation(other).await.unwrap().unwrap().status == "acknowledged"
    })
    .await;
    assert_eq!(
        s.run_once(at("2030-01-25T11:00:00Z"))
            .await
            .unwrap()
            .escalation_steps,
        0
    );
    // Marking it done resolves the escalation; monitoring lists what is still open.
    let status = app.get("/api/monitoring/status").await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["open_escalations"]["total"], 2);
    assert!(status.body["scheduler"]["ran_at"].is_string());
}

pub(crate) async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "condition never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn manual_escalation_reaches_the_assignee(db: Db) {
    let (app, fake) = start(db).await;
    let id = task(&app, json!({"title": "Contract", "assigned_to": "anna"})).await;
    let reply = app
        .post(
            "/api/monitoring/escalate",
            json!({"task_id": id, "reason": "client called twice"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["notified"][0]["chat_id"], ANNA.to_string());
    let msg = &sent(&fake, 1).await[0];
    assert_eq!(msg.chat_id, ANNA);
    assert!(
        msg.text.contains("client called twice") && msg.text.contains(&format!("#{id}")),
        "{}",
        msg.text
    );
    // Bad input: 422 for an empty reason, 404 for an unknown task, 400-class for bad JSON.
    let empty = app
        .post("/api/monitoring/escalate", json!({"task_id": id, "reason": " "}))
        .await;
    assert_eq!((empty.status, empty.code()), (422, "invalid"));
    assert_eq!(
        app.post("/api/monitoring/escalate", json!({"task_id": 999, "reason": "x"}))
            .await
            .status,
        404
    );
    let lonely = task(&app, json!({"title": "Nobody's"})).await;
    assert_eq!(
        app.post(
            "/api/monitoring/escalate",
            json!({"task_id": lonely, "reason": "x"})
        )
        .await
        .status,
        409
    );
}
