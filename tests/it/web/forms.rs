//! The web page's forms over HTTP, as a browser sends them: every change is the same workspace
//! operation as the API's, with the signed-in actor's rights (guests read, members change work,
//! admins administer); a form without its session's CSRF token changes nothing. The alerts feed
//! shows escalations and updates live; approvals, a dead letter's retry and the handbook search.

use std::time::Duration;

use coordinator::domain::Role;
use coordinator::workspace::{Actor, Proposal};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::client::WebClient;
use crate::fake_telegram::{Failure, FakeTelegram};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::wait_until;

const SECRET: &str = "web-Secret_2";
const ANNA: i64 = 7202;

both_dbs!(
    guests_read_members_change_and_forms_need_their_token,
    the_alerts_feed_is_live_and_acts,
    approvals_retries_and_the_handbook,
);

async fn task(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/api/tasks", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn status_of(app: &TestApp, id: i64) -> String {
    app.get(&format!("/api/tasks/{id}")).await.body["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn guests_read_members_change_and_forms_need_their_token(db: Db) {
    let app = TestApp::builder(db).spawn().await;
    let id = task(
        &app,
        json!({"title": "Write the launch notes", "priority": "high"}),
    )
    .await;
    let late = task(&app, json!({"title": "File the taxes", "due_date": "2020-01-10"})).await;
    let guest_token = app.token("visitor", Role::Guest).await;
    let member_token = app.token("crew", Role::Member).await;
    let mut guest = WebClient::new(&app.base);
    guest.sign_in_with_token(&guest_token).await;
    let mut member = WebClient::new(&app.base);
    member.sign_in_with_token(&member_token).await;

    // Guests read the board, with the overdue task marked with the analysis's reason.
    let board = guest.get("/web").await;
    assert_eq!(board.status, 200);
    assert!(board.body.contains("Write the launch notes"), "{}", board.body);
    let card = &board.body[board.body.find(&format!("id=\"task-{late}\"")).unwrap()..];
    assert!(
        card.contains("flagged") || board.body.contains("card flagged"),
        "{card}"
    );
    assert!(card.contains("Overdue: "), "{card}");

    // …and cannot change anything: each form answers 403 and the task stays as it was.
    let csrf = board.csrf();
    let path = format!("/web/tasks/{id}/status");
    let refused = guest.post(&path, &[("csrf", &csrf), ("status", "done")]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("may not change tasks"), "{}", refused.body);
    for (form_path, fields) in [
        ("/web/tasks".to_owned(), vec![("title", "Sneaky")]),
        (format!("/web/tasks/{id}/comments"), vec![("content", "hi")]),
        ("/web/alerts/ack".to_owned(), vec![("task_id", "1")]),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let r = guest.post(&form_path, &form).await;
        assert_eq!(r.status, 403, "{form_path}: {}", r.body);
    }
    assert_eq!(status_of(&app, id).await, "todo");
    assert_eq!(app.get("/api/tasks?q=sneaky").await.body, json!([]));

    // A forged form — no token, a wrong one, another session's — is refused before anything.
    let mine = member.get("/web").await.csrf();
    for token in [None, Some("forged"), Some(csrf.as_str())] {
        let mut form = vec![("status", "done")];
        if let Some(token) = token {
            form.push(("csrf", token));
        }
        let r = member.post(&path, &form).await;
        assert_eq!(r.status, 403, "{token:?}: {}", r.body);
        assert!(r.body.contains("Form refused"), "{}", r.body);
    }
    assert_eq!(status_of(&app, id).await, "todo");

    // With its token the member's move is the API's: the API sees it at once.
    let moved = member
        .post(&path, &[("csrf", &mine), ("status", "in_progress")])
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert!(moved.location.unwrap().starts_with("/web?done=Moved"));
    assert_eq!(status_of(&app, id).await, "in_progress");

    // Create, edit, comment; bad input is a page that says what was wrong.
    let created = member
        .post(
            "/web/tasks",
            &[
                ("csrf", &mine),
                ("title", "Book the venue"),
                ("priority", "urgent"),
                ("assigned_to", ""),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let found = app.get("/api/tasks?q=venue").await.body;
    assert_eq!(found[0]["priority"], "urgent", "{found}");
    let venue = found[0]["id"].as_i64().unwrap();
    let edit = member
        .post(
            &format!("/web/tasks/{venue}"),
            &[
                ("csrf", &mine),
                ("title", "Book the big venue"),
                ("description", "200 seats"),
                ("status", "blocked"),
                ("priority", "high"),
                ("assigned_to", ""),
                ("due_date", "2031-05-01"),
            ],
        )
        .await;
    assert_eq!(edit.status, 303, "{}", edit.body);
    let t = app.get(&format!("/api/tasks/{venue}")).await.body;
    assert_eq!(
        (t["title"].as_str(), t["status"].as_str()),
        (Some("Book the big venue"), Some("blocked"))
    );
    assert!(t["due_date"].as_str().unwrap().starts_with("2031-05-01"), "{t}");
    let comment = member
        .post(
            &format!("/web/tasks/{venue}/comments"),
            &[("csrf", &mine), ("content", "Asked two places")],
        )
        .await;
    assert_eq!(comment.status, 303);
    let comments = app.get(&format!("/api/comments?task_id={venue}")).await.body;
    assert_eq!(comments[0]["author"], "token:crew", "{comments}");
    let page = member.get(&format!("/web/tasks/{venue}")).await;
    assert!(page.body.contains("Asked two places"), "{}", page.body);
    let blank = member
        .post("/web/tasks", &[("csrf", &mine), ("title", "  ")])
        .await;
    assert_eq!(blank.status, 422, "{}", blank.body);
    assert!(blank.body.contains("title"), "{}", blank.body);
    let bad = member
        .post(&path, &[("csrf", &mine), ("status", "finished")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(member.get("/web/tasks/999999").await.status, 404);

    // Filters: text, priority, overdue.
    let only = member.get("/web?q=venue").await.body;
    assert!(only.contains("Book the big venue") && !only.contains("Write the launch notes"));
    let high = member.get("/web?priority=high").await.body;
    assert!(high.contains("Write the launch notes") && !high.contains("File the taxes"));
    let overdue = member.get("/web?overdue=1").await.body;
    assert!(overdue.contains("File the taxes") && !overdue.contains("Book the big venue"));
}

/// An app with Telegram, and Anna (a member with a Telegram chat) to escalate to.
async fn with_anna(db: Db) -> (TestApp, FakeTelegram) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    let anna = json!({"handle": "anna", "name": "Anna", "role": "member",
        "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", anna).await.status, 201);
    (app, fake)
}

async fn escalate(app: &TestApp, id: i64, reason: &str) {
    let r = app
        .post(
            "/api/monitoring/escalate",
            json!({"task_id": id, "reason": reason}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
}

async fn the_alerts_feed_is_live_and_acts(db: Db) {
    let (app, _fake) = with_anna(db).await;
    let first = task(&app, json!({"title": "Sign the lease", "assigned_to": "anna"})).await;
    let second = task(&app, json!({"title": "Pay the deposit", "assigned_to": "anna"})).await;
    let mut lead = WebClient::new(&app.base);
    lead.sign_in_with_token(&app.token("lead", Role::Member).await)
        .await;

    escalate(&app, first, "the landlord is waiting").await;
    // The board shows an unread count; the feed shows the escalation with its reason.
    let board = lead.get("/web").await.body;
    assert!(board.contains("id=\"unread\""), "{board}");
    let feed = lead.get("/web/alerts").await;
    assert!(
        feed.body.contains("Sign the lease") && feed.body.contains("the landlord is waiting"),
        "{}",
        feed.body
    );
    assert!(feed.body.contains(&format!("href=\"/web/tasks/{first}\"")));
    // Read now: no unread count any more.
    assert!(!lead.get("/web").await.body.contains("id=\"unread\""));

    // Live: a new escalation arrives on the open stream, with the unread count first.
    let cookie = format!("coordinator_session={}", lead.cookies["coordinator_session"]);
    let response = reqwest::Client::new()
        .get(format!("{}/web/alerts/stream", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = response.bytes_stream();
    escalate(&app, second, "the bank closes at five").await;
    let mut seen = String::new();
    let arrived = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(chunk) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("event: feed") && seen.contains("the bank closes at five") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(arrived, Ok(true), "{seen}");
    // The event that brought it counts one unread (the feed was read before).
    let last = seen.rsplit("event: feed").next().unwrap();
    assert!(last.starts_with("\ndata: 1\n"), "one unread: {seen}");

    // Acknowledge one and snooze the other from the page.
    let csrf = lead.get("/web/alerts").await.csrf();
    let ack = lead
        .post(
            "/web/alerts/ack",
            &[("csrf", &csrf), ("task_id", &first.to_string())],
        )
        .await;
    assert_eq!(ack.status, 303, "{}", ack.body);
    let snooze = lead
        .post(
            "/web/alerts/snooze",
            &[("csrf", &csrf), ("task_id", &second.to_string()), ("hours", "4")],
        )
        .await;
    assert_eq!(snooze.status, 303, "{}", snooze.body);
    let open = app.get("/api/monitoring/status").await.body["open_escalations"]["items"].clone();
    let of = |id: i64| {
        open.as_array()
            .unwrap()
            .iter()
            .find(|e| e["task_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(of(first)["status"], "acknowledged", "{open}");
    assert_eq!(of(first)["acknowledged_by"], "token:lead", "{open}");
    let next = of(second)["next_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::hours(3), "{open}");
    let feed = lead.get("/web/alerts").await.body;
    assert!(feed.contains("acknowledged by token:lead"), "{feed}");
    let bad = lead
        .post(
            "/web/alerts/snooze",
            &[("csrf", &csrf), ("task_id", "x"), ("hours", "4")],
        )
        .await;
    assert_eq!(bad.status, 422);
}

async fn approvals_retries_and_the_handbook(db: Db) {
    let (app, fake) = with_anna(db).await;
    let doomed = task(&app, json!({"title": "Old duplicate", "assigned_to": "anna"})).await;
    let proposal = app
        .workspace
        .propose_action(
            &Actor::system("agent"),
            Proposal::DeleteTask { task_id: doomed },
            "duplicate",
            None,
        )
        .await
        .unwrap();
    let mut guest = WebClient::new(&app.base);
    guest
        .sign_in_with_token(&app.token("visitor", Role::Guest).await)
        .await;
    let mut admin = WebClient::new(&app.base);
    admin
        .sign_in_with_token(&app.token("boss", Role::Admin).await)
        .await;

    // The proposal shows what it would change; a guest's approval is refused, an admin's runs.
    let page = guest.get("/web/approvals").await;
    assert!(
        page.body
            .contains(&format!("Delete task #{doomed} Old duplicate")),
        "{}",
        page.body
    );
    let path = format!("/web/approvals/{}/approve", proposal.id);
    let refused = guest.post(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(app.get(&format!("/api/tasks/{doomed}")).await.status, 200);
    let csrf = admin.get("/web/approvals").await.csrf();
    let approved = admin.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert_eq!(app.get(&format!("/api/tasks/{doomed}")).await.status, 404);
    assert!(admin
        .get("/web/approvals")
        .await
        .body
        .contains("No proposal is waiting."));

    // A message Telegram refuses is given up; the deliveries page retries it.
    let lease = task(&app, json!({"title": "Sign the lease", "assigned_to": "anna"})).await;
    fake.fail_next(
        "sendMessage",
        vec![Failure::Forbidden("bot was blocked by the user".into())],
    );
    escalate(&app, lease, "overdue twice").await;
    wait_until(|| async {
        app.store
            .queue_counts(coordinator::store::Queue::Outbox)
            .await
            .unwrap()
            .dead
            == 1
    })
    .await;
    let deliveries = admin.get("/web/deliveries").await;
    assert!(
        deliveries.body.contains("blocked by the user"),
        "{}",
        deliveries.body
    );
    let dead = app
        .store
        .dead_letters(coordinator::store::Queue::Outbox, 5)
        .await
        .unwrap();
    let retry = format!("/web/deliveries/{}/retry", dead[0].id);
    assert!(deliveries.body.contains(&retry), "{}", deliveries.body);
    let guest_csrf = guest.get("/web").await.csrf();
    let by_guest = guest.post(&retry, &[("csrf", &guest_csrf)]).await;
    assert_eq!(by_guest.status, 403);
    let before = fake.sent().len();
    let retried = admin.post(&retry, &[("csrf", &deliveries.csrf())]).await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    wait_until(|| async { fake.sent()[before..].iter().any(|m| m.chat_id == ANNA) }).await;
    assert_eq!(
        app.store
            .queue_counts(coordinator::store::Queue::Outbox)
            .await
            .unwrap()
            .dead,
        0
    );

    // The handbook: passages with `file › heading`; guests may not search (as in the API).
    let mut found = String::new();
    for _ in 0..600 {
        found = admin.get("/web/handbook?q=refund%20approval").await.body;
        if found.contains("<cite>") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found.contains("refunds-and-approvals.md › Refunds and credit notes"),
        "{found}"
    );
    assert!(!found.contains("may not answer this exactly"), "{found}");
    // A near miss (the sample handbook has no stock options): the closest passages, with the
    // caveat that they may not answer it.
    let closest = admin
        .get("/web/handbook?q=Is%20there%20a%20stock%20option%20plan%20for%20employees%3F")
        .await
        .body;
    assert!(
        closest.contains("The handbook may not answer this exactly") && closest.contains("<cite>"),
        "{closest}"
    );
    let guest_search = guest.get("/web/handbook?q=refund").await.body;
    assert!(
        guest_search.contains("may not search the handbook"),
        "{guest_search}"
    );
}
