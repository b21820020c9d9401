//! Recurring tasks: made from chat ("every month on the 1st") and through the API (an RRULE),
//! the next occurrence made by `run_once(now)` when one is done or due, exactly once across a
//! restart and with two replicas on one database; rules that never fire are refused.

use coordinator::scheduler::Policies;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_telegram::FakeTelegram;
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::{at, scheduler};
use crate::team_commands::Chat;

const SECRET: &str = "recur-secret";
const ANNA: i64 = 8201;

both_dbs!(
    a_monthly_task_from_chat_and_its_next_occurrence,
    an_api_rule_makes_one_next_occurrence_across_restarts_and_replicas,
    rules_that_never_fire_are_refused_with_an_example,
);

async fn start(db: Db) -> (TestApp, FakeTelegram) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    let body = json!({"handle": "anna", "name": "Anna", "role": "member", "timezone": "Europe/Berlin",
        "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", body).await.status, 201);
    (app, fake)
}

async fn tasks(app: &TestApp) -> Vec<Value> {
    app.get("/api/tasks?limit=500")
        .await
        .body
        .as_array()
        .unwrap()
        .clone()
}

async fn a_monthly_task_from_chat_and_its_next_occurrence(db: Db) {
    let (app, fake) = start(db).await;
    let mut chat = Chat::new(&app, &fake);
    let reply = chat
        .say(
            ANNA,
            "/newtask Send the monthly report every month on the 1st @anna",
        )
        .await;
    assert!(
        reply.contains("Created #1: Send the monthly report, for @anna"),
        "{reply}"
    );
    assert!(reply.contains("repeating (FREQ=MONTHLY;BYMONTHDAY=1)"), "{reply}");
    let first = app.get("/api/tasks/1").await.body;
    assert_eq!(first["recurrence"], "FREQ=MONTHLY;BYMONTHDAY=1");
    let due: chrono::DateTime<chrono::Utc> = first["due_date"].as_str().unwrap().parse().unwrap();
    let local = due.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(local.format("%d %H:%M:%S").to_string(), "01 23:59:59", "{due}");

    // Done early: the next one is made at the next sweep, due on the 1st of the month after.
    let done = app
        .call(
            Method::PATCH,
            "/api/tasks/1/status",
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(done.status, 200);
    let s = scheduler(&app, Policies::default());
    let now = due - chrono::Duration::days(3);
    assert_eq!(s.run_once(now).await.unwrap().recurring_tasks_made, 1);
    assert_eq!(s.run_once(now).await.unwrap().recurring_tasks_made, 0);
    let all = tasks(&app).await;
    assert_eq!(all.len(), 2);
    let next = &all[1];
    assert_eq!(next["title"], "Send the monthly report");
    assert_eq!(next["assigned_to"], "anna");
    assert_eq!(next["status"], "todo");
    let next_due: chrono::DateTime<chrono::Utc> = next["due_date"].as_str().unwrap().parse().unwrap();
    let next_local = next_due.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(next_local.format("%d %H:%M:%S").to_string(), "01 23:59:59");
    assert!(next_due - due > chrono::Duration::days(27) && next_due - due < chrono::Duration::days(32));

    // Words after "every" that are no repetition stay in the title.
    let reply = chat.say(ANNA, "/newtask Review every PR").await;
    assert!(reply.contains("Created #3: Review every PR."), "{reply}");
    let reply = chat.say(ANNA, "/newtask Backup every blue moon").await;
    assert!(reply.contains("Created #4: Backup every blue moon."), "{reply}");
}

async fn an_api_rule_makes_one_next_occurrence_across_restarts_and_replicas(db: Db) {
    let (app, _fake) = start(db).await;
    // Every Monday at 09:00 Berlin, from Monday 7 Jan 2030.
    let created = app
        .post(
            "/api/tasks",
            json!({"title": "Weekly planning", "assigned_to": "anna", "due_date": "2030-01-07T08:00:00Z",
                   "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["due_date"], "2030-01-07T08:00:00Z");
    assert_eq!(created.body["recurrence"], "FREQ=WEEKLY;BYDAY=MO");

    // Not due yet: nothing.
    let s = scheduler(&app, Policies::default());
    assert_eq!(
        s.run_once(at("2030-01-07T07:59:00Z"))
            .await
            .unwrap()
            .recurring_tasks_made,
        0
    );
    // Its time comes (still open): two replicas sweep at once, one next occurrence.
    let other = scheduler(&app, Policies::default());
    let now = at("2030-01-07T08:00:00Z");
    let (a, b) = tokio::join!(s.run_once(now), other.run_once(now));
    assert_eq!(
        a.unwrap().recurring_tasks_made + b.unwrap().recurring_tasks_made,
        1
    );

    // A second app on the same database (a restart, or another replica) makes nothing more.
    let again = TestApp::builder(db)
        .with("DATABASE_URL", &app.database_url)
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    let restarted = scheduler(&again, Policies::default());
    assert_eq!(restarted.run_once(now).await.unwrap().recurring_tasks_made, 0);
    assert_eq!(
        restarted
            .run_once(at("2030-01-08T10:00:00Z"))
            .await
            .unwrap()
            .recurring_tasks_made,
        0
    );
    let all = tasks(&app).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["due_date"], "2030-01-14T08:00:00Z");
    assert_eq!(all[1]["recurrence"], "FREQ=WEEKLY;BYDAY=MO");
    // The second occurrence, left open well past its time: the next one skips the missed weeks.
    let late = restarted.run_once(at("2030-01-29T12:00:00Z")).await.unwrap();
    assert_eq!(late.recurring_tasks_made, 1);
    let all = tasks(&app).await;
    assert_eq!(all.len(), 3);
    assert_eq!(all[2]["due_date"], "2030-02-04T08:00:00Z");
    let trail = app
        .store
        .audit_trail("task", &all[2]["id"].to_string())
        .await
        .unwrap();
    assert_eq!(trail[0].action, "task.recur");
}

async fn rules_that_never_fire_are_refused_with_an_example(db: Db) {
    let (app, _fake) = start(db).await;
    for (rule, problem) in [
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("FREQ=DAILY;UNTIL=20200101T000000Z", "never fires"),
        ("FREQ=MINUTELY", "not taken"),
        ("FREQ=MONTHLY;BYMONTHDAY=40", "not a valid rule"),
        ("every tuesday", "no FREQ"),
    ] {
        let reply = app
            .post("/api/tasks", json!({"title": "Never", "recurrence": rule}))
            .await;
        assert_eq!(reply.status, 422, "{rule}: {}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("recurrence: "), "{message}");
        assert!(message.contains(problem), "{rule}: {message}");
        assert!(message.contains("e.g. FREQ=MONTHLY;BYMONTHDAY=1"), "{message}");
    }
    assert!(tasks(&app).await.is_empty());
}
