//! The web page in a real headless Chromium, driven over WebDriver (chromedriver, Debian's
//! `chromium` and `chromium-driver`, which `.ci/run` installs): sign in through the link sent to
//! the fake Telegram, move a task on the board and see it in the API, approve a proposal, see an
//! escalation appear live in the alerts feed, retry a dead letter, search the handbook; a forged
//! form and a guest change nothing. The SQLite run saves the screenshots the README shows
//! (`docs/web-board.png`, `docs/web-alerts.png`).
//!
//! Without chromedriver the test is skipped with a note, except under `CI=true`, where it fails.

use std::time::Duration;

use coordinator::domain::Role;
use coordinator::store::Queue;
use coordinator::workspace::{Actor, Proposal};
use serde_json::json;

use super::webdriver::Session;
use crate::fake_telegram::{text_update, Failure, FakeTelegram};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::wait_until;

const SECRET: &str = "web-Secret_3";
const LEAD: i64 = 7401;
const ANNA: i64 = 7402;

both_dbs!(the_page_in_a_real_browser);

/// Saves a screenshot of the page under `docs/`.
async fn screenshot(browser: &Session, name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    std::fs::write(&path, browser.screenshot().await).unwrap();
}

/// Chooses `value` in the select `css` (as a person picking an option does).
async fn choose(browser: &Session, css: &str, value: &str) {
    browser
        .find(&format!("{css} option[value='{value}']"))
        .await
        .click()
        .await;
}

async fn task(app: &TestApp, body: serde_json::Value) -> i64 {
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

async fn the_page_in_a_real_browser(db: Db) {
    let Some(browser) = Session::start().await else {
        return;
    };
    let public = "https://team.example";
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("COORDINATOR_PUBLIC_URL", public)
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    for (handle, role, id) in [("lead", "admin", LEAD), ("anna", "member", ANNA)] {
        let person = json!({"handle": handle, "name": handle, "role": role,
            "identities": [{"channel": "telegram", "external_id": id.to_string()}]});
        assert_eq!(app.post("/api/people", person).await.status, 201);
    }
    let project = app.post("/api/projects", json!({"name": "Launch"})).await.body["id"]
        .as_i64()
        .unwrap();
    let notes = task(&app, json!({"title": "Write the launch notes", "assigned_to": "anna", "project_id": project, "priority": "high"})).await;
    task(&app, json!({"title": "Book the venue", "assigned_to": "lead", "project_id": project, "due_date": "2020-03-01"})).await;
    task(
        &app,
        json!({"title": "Order the banners", "project_id": project, "status": "in_progress"}),
    )
    .await;
    let doomed = task(&app, json!({"title": "Old duplicate of the notes"})).await;

    // Sign in through the link the bot sends on Telegram (its host is the public URL; the
    // browser opens the same path here).
    app.deliver_telegram_ok(&text_update(1, LEAD, LEAD, "/web")).await;
    let sent = fake.wait_for_sent(1, super::webdriver::WAIT).await;
    let link = sent[0]
        .text
        .split_whitespace()
        .find(|w| w.starts_with(public))
        .unwrap_or_else(|| panic!("no link in {:?}", sent[0].text))
        .to_owned();
    browser
        .open(&format!("{}{}", app.base, &link[public.len()..]))
        .await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_heading("Board").await;
    assert!(browser.text("body").await.contains("Signed in as lead (admin)"));

    // A forged form (its token replaced) is refused and changes nothing.
    let card = format!("#task-{notes}");
    browser
        .execute(&format!(
            "document.querySelector('{card} form.move input[name=csrf]').value = 'forged';"
        ))
        .await;
    browser.click(&format!("{card} form.move button")).await;
    browser.wait_for_heading("Form refused").await;
    assert_eq!(status_of(&app, notes).await, "todo");

    // Move a task on the board; the API sees it.
    browser.open(&format!("{}/web?project={project}", app.base)).await;
    choose(&browser, &format!("{card} form.move select"), "in_progress").await;
    browser.click(&format!("{card} form.move button")).await;
    browser.wait_for_text("Moved #").await;
    assert_eq!(status_of(&app, notes).await, "in_progress");
    if db == Db::Sqlite {
        screenshot(&browser, "web-board.png").await;
    }

    // Approve a proposal.
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
    browser.open(&format!("{}/web/approvals", app.base)).await;
    browser
        .click(&format!("#action-{} form button", proposal.id))
        .await;
    browser.wait_for_text("is done now").await;
    assert_eq!(app.get(&format!("/api/tasks/{doomed}")).await.status, 404);

    // An escalation appears in the open alerts feed without a reload.
    browser.open(&format!("{}/web/alerts", app.base)).await;
    let escalated = app
        .post(
            "/api/monitoring/escalate",
            json!({"task_id": notes, "reason": "the printer needs the text today"}),
        )
        .await;
    assert_eq!(escalated.status, 202, "{}", escalated.body);
    browser.wait_for_text("the printer needs the text today").await;
    assert_eq!(browser.text("h1").await, "Alerts", "the page was not reloaded");
    if db == Db::Sqlite {
        screenshot(&browser, "web-alerts.png").await;
    }

    // A dead letter retried from the deliveries page arrives.
    let venue = task(&app, json!({"title": "Call the caterer", "assigned_to": "anna"})).await;
    fake.fail_next(
        "sendMessage",
        vec![Failure::Forbidden("bot was blocked by the user".into())],
    );
    let r = app
        .post(
            "/api/monitoring/escalate",
            json!({"task_id": venue, "reason": "menu due"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    wait_until(|| async { app.store.queue_counts(Queue::Outbox).await.unwrap().dead == 1 }).await;
    let dead = app.store.dead_letters(Queue::Outbox, 1).await.unwrap()[0].id;
    browser.open(&format!("{}/web/deliveries", app.base)).await;
    let before = fake.sent().len();
    browser.click(&format!("#dead-{dead} form button")).await;
    browser.wait_for_text("is queued to be sent again").await;
    wait_until(|| async {
        fake.sent()[before..]
            .iter()
            .any(|m| m.chat_id == ANNA && m.text.contains("menu due"))
    })
    .await;

    // Search the handbook: once the start-up ingest is searchable, with the page's form.
    let mut found = false;
    for _ in 0..100 {
        browser
            .open(&format!("{}/web/handbook?q=refund%20approval", app.base))
            .await;
        if browser.text("body").await.contains("refunds-and-approvals.md") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(found, "{}", browser.text("body").await);
    browser.open(&format!("{}/web/handbook", app.base)).await;
    browser.find("#q").await.type_text("Who approves a refund?").await;
    browser.click("form.search button").await;
    browser
        .wait_for_text("refunds-and-approvals.md › Refunds and credit notes")
        .await;

    // A guest, signed in with a token, cannot change anything.
    browser.click("form[action='/web/sign-out'] button").await;
    browser.wait_for_heading("Sign in").await;
    let guest = app.token("visitor", Role::Guest).await;
    browser.find("#token").await.type_text(&guest).await;
    browser.click("main form button[type=submit]").await;
    browser.wait_for_heading("Board").await;
    assert!(browser
        .text("body")
        .await
        .contains("Signed in as token:visitor (guest)"));
    choose(&browser, &format!("{card} form.move select"), "done").await;
    browser.click(&format!("{card} form.move button")).await;
    browser.wait_for_heading("Not allowed").await;
    assert_eq!(status_of(&app, notes).await, "in_progress");
    browser.quit().await;
}
