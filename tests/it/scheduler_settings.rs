//! The scheduler's settings through the API: a person's quiet hours decide when their reminders
//! go out, and a project's chat receives its scheduled reports (the weekly one with its chart).

use chrono::{Datelike, TimeZone};
use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{both_dbs, Db};
use crate::scheduler::{at, sent, start, task, ANNA};

both_dbs!(
    quiet_hours_set_through_the_api_move_reminders,
    a_project_chat_gets_the_scheduled_reports,
    an_empty_project_chat_gets_no_report,
    work_added_after_the_report_hour_waits_for_the_next_report,
);

/// A scheduler in Berlin time with the default report hour (09:00).
fn berlin_scheduler(app: &crate::helpers::TestApp) -> Scheduler {
    berlin_scheduler_reporting_at(app, SchedulerConfig::with_zone(berlin()).report_hour)
}

/// A scheduler in Berlin time that sends reports at `report_hour` (24: never).
fn berlin_scheduler_reporting_at(app: &crate::helpers::TestApp, report_hour: u32) -> Scheduler {
    Scheduler::with_config(
        app.workspace.clone(),
        app.store.clone(),
        SchedulerConfig {
            report_hour,
            ..SchedulerConfig::with_zone(berlin())
        },
        Policies::default(),
    )
}

fn berlin() -> chrono_tz::Tz {
    chrono_tz::Europe::Berlin
}

/// Sets a project's chat through the API (`path` is its `/chat` route).
async fn set_chat(app: &crate::helpers::TestApp, path: &str, body: serde_json::Value) {
    let set = app.call(Method::PUT, path, Some(body)).await;
    assert_eq!(set.status, 200, "{}", set.body);
}

async fn quiet_hours_set_through_the_api_move_reminders(db: Db) {
    let (app, fake) = start(db).await;
    let scheduler = berlin_scheduler_reporting_at(&app, 24);
    let path = "/api/people/anna/quiet-hours";
    let bad = app
        .call(Method::PUT, path, Some(json!({"start": "25:00", "end": "07:00"})))
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body["error"]["message"].as_str().unwrap().contains("start"));
    let missing = app
        .call(
            Method::PUT,
            "/api/people/nobody/quiet-hours",
            Some(json!({"start": "22:00", "end": "07:00"})),
        )
        .await;
    assert_eq!(missing.status, 404);

    // Due Sun 20 Jan 2030 07:00 Berlin: the 24 h reminder falls at 07:00 on the 19th, inside
    // the default quiet hours (20:00–08:00), so it waits...
    task(
        &app,
        json!({"title": "Early task", "assigned_to": "anna", "due_date": "2030-01-20T06:00:00Z"}),
    )
    .await;
    let held = scheduler.run_once(at("2030-01-19T06:00:00Z")).await.unwrap();
    assert_eq!((held.reminders_sent, held.held), (0, 1));
    // ...until Anna's quiet hours end at 06:00.
    let set = app
        .call(Method::PUT, path, Some(json!({"start": "22:00", "end": "6:00"})))
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body, json!({"start": "22:00", "end": "06:00"}));
    let now_sent = scheduler.run_once(at("2030-01-19T06:01:00Z")).await.unwrap();
    assert_eq!((now_sent.reminders_sent, now_sent.held), (1, 0));
    let messages = sent(&fake, 1).await;
    assert_eq!(messages[0].chat_id, ANNA);
    assert!(
        messages[0].text.contains("Early task is due in"),
        "{}",
        messages[0].text
    );
}

async fn a_project_chat_gets_the_scheduled_reports(db: Db) {
    let (app, fake) = start(db).await;
    let project = app
        .post("/api/projects", json!({"name": "Website relaunch"}))
        .await;
    assert_eq!(project.status, 201);
    let id = project.body["id"].as_i64().unwrap();
    task(
        &app,
        json!({"title": "Wireframes", "project_id": id, "assigned_to": "anna"}),
    )
    .await;

    let path = format!("/api/projects/{id}/chat");
    for (body, field) in [
        (json!({"channel": "fax", "chat_id": "1"}), "chat_channel"),
        (json!({"channel": "telegram", "chat_id": null}), "chat_id"),
        (
            json!({"channel": "telegram", "chat_id": "-1001", "ladder_hours": -2}),
            "ladder_hours",
        ),
    ] {
        let reply = app.call(Method::PUT, &path, Some(body)).await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert!(
            reply.body["error"]["message"].as_str().unwrap().contains(field),
            "{}",
            reply.body
        );
    }
    let none = app
        .call(
            Method::PUT,
            "/api/projects/9999/chat",
            Some(json!({"channel": null, "chat_id": null})),
        )
        .await;
    assert_eq!(none.status, 404);
    set_chat(
        &app,
        &path,
        json!({"channel": "telegram", "chat_id": "-1001", "ladder_hours": 2}),
    )
    .await;

    let scheduler = berlin_scheduler(&app);
    // Monday 14 Jan 2030, 08:30 Berlin: before the report hour (09:00), nothing.
    assert_eq!(
        scheduler
            .run_once(at("2030-01-14T07:30:00Z"))
            .await
            .unwrap()
            .reports_sent,
        0
    );
    // 09:10 Berlin: the daily and, on a Monday, the weekly report; once each.
    assert_eq!(
        scheduler
            .run_once(at("2030-01-14T08:10:00Z"))
            .await
            .unwrap()
            .reports_sent,
        2
    );
    assert_eq!(
        scheduler
            .run_once(at("2030-01-14T08:20:00Z"))
            .await
            .unwrap()
            .reports_sent,
        0
    );
    let daily = sent(&fake, 1).await;
    assert_eq!(daily[0].chat_id, -1001);
    assert!(
        daily[0].text.starts_with("Daily report, Website relaunch"),
        "{}",
        daily[0].text
    );
    // The weekly one goes as a photo (the chart) with the numbers as its caption.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while fake.uploads().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(&uploads[0].bytes[..8], b"\x89PNG\r\n\x1a\n");
}

async fn an_empty_project_chat_gets_no_report(db: Db) {
    let (app, fake) = start(db).await;
    let project = app.post("/api/projects", json!({"name": "Empty"})).await;
    assert_eq!(project.status, 201);
    let id = project.body["id"].as_i64().unwrap();
    let path = format!("/api/projects/{id}/chat");
    set_chat(&app, &path, json!({"channel": "telegram", "chat_id": "-1002"})).await;
    let scheduler = berlin_scheduler(&app);
    // Tuesday 15 Jan 2030, after the report hour: the project has no task, so nothing is sent,
    // however often the scheduler looks.
    for minute in ["08:10", "08:11"] {
        let sweep = scheduler
            .run_once(at(&format!("2030-01-15T{minute}:00Z")))
            .await
            .unwrap();
        assert_eq!(sweep.reports_sent, 0, "{sweep:?}");
    }
    // A task done more than a day ago is not news for a daily report either.
    let done = task(&app, json!({"title": "Kick-off", "project_id": id})).await;
    let marked = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{done}/status"),
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(marked.status, 200, "{}", marked.body);
    // Three days on, at noon in Berlin: past the report hour whatever the time the test runs.
    let in_three_days = (chrono::Utc::now() + chrono::Duration::days(3)).with_timezone(&berlin());
    let later = berlin()
        .from_local_datetime(&in_three_days.date_naive().and_hms_opt(12, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let sweep = scheduler.run_once(later).await.unwrap();
    assert_eq!(sweep.reports_sent, 0, "{sweep:?}");
    // Once there is open work, the daily report comes, once.
    task(&app, json!({"title": "Wireframes", "project_id": id})).await;
    let sweep = scheduler.run_once(later).await.unwrap();
    assert_eq!(sweep.reports_sent, 1, "{sweep:?}");
    let sweep = scheduler.run_once(later).await.unwrap();
    assert_eq!(sweep.reports_sent, 0, "{sweep:?}");
    let daily = sent(&fake, 1).await;
    assert_eq!(daily[0].chat_id, -1002);
    assert!(
        daily[0].text.starts_with("Daily report, Empty"),
        "{}",
        daily[0].text
    );
}

async fn work_added_after_the_report_hour_waits_for_the_next_report(db: Db) {
    let (app, fake) = start(db).await;
    let project = app.post("/api/projects", json!({"name": "Late"})).await;
    let id = project.body["id"].as_i64().unwrap();
    let path = format!("/api/projects/{id}/chat");
    set_chat(&app, &path, json!({"channel": "telegram", "chat_id": "-1003"})).await;
    // Reports at midnight (Berlin): today's is due already, and this task comes after it.
    let scheduler = berlin_scheduler_reporting_at(&app, 0);
    task(&app, json!({"title": "Wireframes", "project_id": id})).await;
    let now = chrono::Utc::now();
    let sweep = scheduler.run_once(now).await.unwrap();
    assert_eq!(sweep.reports_sent, 0, "{sweep:?}");
    // The next day's reports have it: the daily one, and the weekly and monthly ones on a
    // Monday and on the 1st.
    let next = now + chrono::Duration::days(1);
    let local = next.with_timezone(&berlin());
    let due = 1 + u32::from(local.weekday() == chrono::Weekday::Mon) + u32::from(local.day() == 1);
    let sweep = scheduler.run_once(next).await.unwrap();
    assert_eq!(sweep.reports_sent, due, "{sweep:?}");
    // The weekly one goes as a chart with a caption; the daily one as text.
    let daily = sent(&fake, 1).await;
    assert!(
        daily[0].text.starts_with("Daily report, Late"),
        "{}",
        daily[0].text
    );
}
