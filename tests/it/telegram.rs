//! Telegram end to end: a fake Bot API server on 127.0.0.1 speaking the real JSON, the real app
//! pointed at it through `TELEGRAM_API_URL`, in webhook and in polling mode.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_telegram::{callback_update_on, group_text_update, text_update, Failure, FakeTelegram};
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp};

const SECRET: &str = "s3cret-Token_1";
const ANNA: i64 = 4242;
const WAIT: Duration = Duration::from_secs(15);

both_dbs!(
    webhook_refuses_a_forged_secret,
    webhook_commands_create_and_change_tasks,
    redelivered_update_has_one_effect_and_one_reply,
    unknown_people_link_with_a_code,
    groups_hear_commands_and_mentions_only,
    buttons_are_answered_and_act,
    retry_after_is_honoured,
    a_slow_send_to_one_chat_does_not_hold_up_the_others,
    permanent_errors_become_visible_dead_letters,
    polling_mode_reads_updates_and_registers_commands,
    polling_stores_an_answer_of_many_updates_in_order,
);

async fn webhook_app(db: Db, fake: &FakeTelegram) -> TestApp {
    let app = TestApp::builder(db).with_telegram(fake, SECRET).spawn().await;
    let anna = app
        .post(
            "/api/people",
            json!({"handle": "anna", "name": "Anna", "timezone": "Europe/Berlin",
                   "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]}),
        )
        .await;
    assert_eq!(anna.status, 201, "{}", anna.body);
    app
}

/// The app with Telegram by long polling (no webhook secret) against `fake`.
async fn polling_app(db: Db, fake: &FakeTelegram) -> TestApp {
    spawn_app_with(
        db,
        &[
            ("TELEGRAM_BOT_TOKEN", fake.token.as_str()),
            ("TELEGRAM_API_URL", fake.url.as_str()),
        ],
    )
    .await
}

async fn tasks(app: &TestApp) -> Vec<Value> {
    app.get("/api/tasks?limit=500")
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn webhook_refuses_a_forged_secret(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    let update = text_update(1, ANNA, ANNA, "/newtask forged");
    for secret in [None, Some("wrong"), Some("s3cret-Token_")] {
        let mut request = app
            .client
            .post(format!("{}/webhooks/telegram", app.base))
            .json(&update);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    // Garbage with the right secret is acknowledged and ignored, not refused.
    let garbage = app
        .client
        .post(format!("{}/webhooks/telegram", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(tasks(&app).await.is_empty());
    assert!(fake.sent().is_empty());
}

async fn webhook_commands_create_and_change_tasks(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    let update = text_update(1, ANNA, ANNA, "/newtask Write the brief due 2030-01-15 !high");
    assert_eq!(app.deliver_telegram(&update).await, 200);
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, ANNA);
    assert!(
        sent[0].text.starts_with("Created #1: Write the brief"),
        "{}",
        sent[0].text
    );
    // Due at the end of the day in Anna's zone.
    assert!(
        sent[0].text.contains("Tue 15 Jan 23:59 (Europe/Berlin)"),
        "{}",
        sent[0].text
    );
    assert!(sent[0]
        .reply_markup
        .as_ref()
        .unwrap()
        .to_string()
        .contains("done:1"));
    let all = tasks(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["title"], "Write the brief");
    assert_eq!(all[0]["priority"], "high");
    assert_eq!(all[0]["due_date"], "2030-01-15T22:59:59Z");

    for (id, text) in [
        (2, "/status 1 in progress"),
        (3, "/comment 1 draft is in the shared folder"),
        (4, "/done #1"),
        (5, "/done"),
        (6, "/done 1"),
        (7, "/status 1 done"),
    ] {
        app.deliver_telegram(&text_update(id, ANNA, ANNA, text)).await;
    }
    let sent = fake.wait_for_sent(7, WAIT).await;
    let texts: Vec<&str> = sent.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts[1], "#1 Write the brief is now in_progress.");
    assert_eq!(texts[2], "Comment added to #1.");
    assert_eq!(texts[3], "Done: #1 Write the brief");
    assert!(
        texts[4].contains("/done ID"),
        "wrong usage shows the right usage: {}",
        texts[4]
    );
    // A second "done" changes nothing and says so.
    assert_eq!(texts[5], "#1 Write the brief was already done.");
    assert_eq!(texts[6], "#1 Write the brief is already done.");
    let task = app.get("/api/tasks/1").await.body;
    assert_eq!(task["status"], "done");
    let comments = app.get("/api/comments?task_id=1").await.body;
    assert_eq!(comments[0]["author"], "anna");
    let trail = app.store.audit_trail("task", "1").await.unwrap();
    assert!(trail.iter().all(|r| r.actor == "anna" && r.channel == "telegram"));
}

async fn redelivered_update_has_one_effect_and_one_reply(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    let update = text_update(77, ANNA, ANNA, "/newtask Only once");
    for _ in 0..3 {
        assert_eq!(app.deliver_telegram(&update).await, 200);
    }
    fake.wait_for_sent(1, WAIT).await;
    // Give a would-be duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(tasks(&app).await.len(), 1);
}

async fn unknown_people_link_with_a_code(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    app.post("/api/people", json!({"handle": "ben", "name": "Ben"}))
        .await;
    let stranger = 9999;
    app.deliver_telegram(&text_update(1, stranger, stranger, "/newtask sneaky"))
        .await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert!(sent[0].text.contains("/link CODE"), "{}", sent[0].text);
    assert!(tasks(&app).await.is_empty());

    let code = app
        .call(Method::POST, "/api/people/ben/link-code", None)
        .await
        .body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.deliver_telegram(&text_update(2, stranger, stranger, "/link WRONGCODE"))
        .await;
    app.deliver_telegram(&text_update(3, stranger, stranger, &format!("/link {code}")))
        .await;
    app.deliver_telegram(&text_update(4, stranger, stranger, "/newtask now allowed"))
        .await;
    let sent = fake.wait_for_sent(4, WAIT).await;
    assert!(
        sent[1].text.contains("unknown, already used or expired"),
        "{}",
        sent[1].text
    );
    assert!(sent[2].text.contains("you are @ben"), "{}", sent[2].text);
    assert!(sent[3].text.starts_with("Created #1"), "{}", sent[3].text);
    let ben = app.get("/api/people/ben").await.body;
    assert_eq!(ben["identities"][0]["external_id"], stranger.to_string());
}

async fn groups_hear_commands_and_mentions_only(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    let group = -100_555;
    app.deliver_telegram(&group_text_update(1, group, ANNA, "lunch anyone?"))
        .await;
    app.deliver_telegram(&group_text_update(2, group, ANNA, "/tasks"))
        .await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.sent().len(), 1, "small talk in a group gets no answer");
    assert_eq!(sent[0].chat_id, group);
    assert_eq!(sent[0].text, "Open tasks: none.");
    let request = &fake.calls("sendMessage")[0];
    assert!(request["reply_parameters"]["message_id"].is_number(), "{request}");
}

async fn buttons_are_answered_and_act(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    app.deliver_telegram(&text_update(1, ANNA, ANNA, "/newtask Press me"))
        .await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    app.deliver_telegram(&callback_update_on(2, ANNA, &sent[0], "done:1"))
        .await;
    let answers = fake.wait_for_calls("answerCallbackQuery", 1, WAIT).await;
    assert_eq!(answers.len(), 1);
    assert!(answers[0]["callback_query_id"].is_string());
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].text, "Done: #1 Press me");
    assert_eq!(app.get("/api/tasks/1").await.body["status"], "done");
    // A second press changes nothing: the presser's toast says so, the chat gets no message.
    app.deliver_telegram(&callback_update_on(3, ANNA, &sent[0], "done:1"))
        .await;
    let answers = fake.wait_for_calls("answerCallbackQuery", 2, WAIT).await;
    assert_eq!(answers[1]["text"], "#1 Press me was already done.");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.sent().len(), 2, "{:?}", fake.sent());
}

async fn retry_after_is_honoured(db: Db) {
    let fake = FakeTelegram::start().await;
    fake.fail_next("sendMessage", vec![Failure::RetryAfter(2)]);
    let app = webhook_app(db, &fake).await;
    app.deliver_telegram(&text_update(1, ANNA, ANNA, "/tasks")).await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    let times = fake.call_times("sendMessage");
    assert_eq!(times.len(), 2, "one refused attempt, one delivery");
    assert!(
        times[1].duration_since(times[0]) >= Duration::from_secs(2),
        "resent before retry_after"
    );
    // The delivery is recorded right after the platform's answer: wait for it.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = app
            .store
            .outbox_for_chat("telegram", &ANNA.to_string())
            .await
            .unwrap();
        if rows.first().is_some_and(|r| r.0 == "done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "done");
    assert_eq!(
        rows[0].2.as_deref(),
        Some(sent[0].message_id.to_string().as_str())
    );
}

/// The Bot API takes its time answering a send to Anna (or teloxide waits 10 s after a 5xx):
/// Ben's reply still goes out meanwhile, and Anna's is delivered once the platform answers.
async fn a_slow_send_to_one_chat_does_not_hold_up_the_others(db: Db) {
    const BEN: i64 = 4343;
    let fake = FakeTelegram::start().await;
    let app = webhook_app(db, &fake).await;
    let ben = app
        .post(
            "/api/people",
            json!({"handle": "ben", "name": "Ben",
                   "identities": [{"channel": "telegram", "external_id": BEN.to_string()}]}),
        )
        .await;
    assert_eq!(ben.status, 201, "{}", ben.body);
    fake.hold_sends_to(ANNA);
    assert_eq!(
        app.deliver_telegram(&text_update(1, ANNA, ANNA, "/newtask Print flyers"))
            .await,
        200
    );
    let calls = fake.wait_for_calls("sendMessage", 1, WAIT).await;
    assert_eq!(calls.len(), 1, "the reply to Anna was never attempted");
    assert_eq!(
        app.deliver_telegram(&text_update(2, BEN, BEN, "/newtask Book the van"))
            .await,
        200
    );
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1, "Ben's reply waited behind Anna's send");
    assert_eq!(sent[0].chat_id, BEN);
    assert!(sent[0].text.contains("Book the van"), "{}", sent[0].text);
    fake.release_sends();
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].chat_id, ANNA);
    assert!(sent[1].text.contains("Print flyers"), "{}", sent[1].text);
    assert_eq!(fake.calls("sendMessage").len(), 2, "Anna's reply was sent once");
}

async fn polling_mode_reads_updates_and_registers_commands(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = polling_app(db, &fake).await;
    app.post(
        "/api/people",
        json!({"handle": "anna", "name": "Anna", "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]}),
    )
    .await;
    let commands = fake.wait_for_calls("setMyCommands", 1, WAIT).await;
    let names: Vec<&str> = commands[0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"newtask") && names.contains(&"link"), "{names:?}");
    // The menu is the whole command list, team and project commands included.
    let menu: Vec<&str> = coordinator::conversation::commands::menu()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(names, menu);
    assert!(
        names.contains(&"invite") && names.contains(&"project"),
        "{names:?}"
    );
    fake.push_update(text_update(500, ANNA, ANNA, "/newtask From polling"));
    fake.push_update(text_update(500, ANNA, ANNA, "/newtask From polling"));
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert!(
        sent[0].text.starts_with("Created #1: From polling"),
        "{}",
        sent[0].text
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(tasks(&app).await.len(), 1);
    assert_eq!(fake.sent().len(), 1);
    // No webhook was set, so none is deleted (telegram_setup has the stale one).
    assert!(!fake.calls("getWebhookInfo").is_empty());
    assert!(fake.calls("deleteWebhook").is_empty());
    // Confirmed updates are not handed out again.
    assert_eq!(fake.pending_updates(), 0);
}

async fn polling_stores_an_answer_of_many_updates_in_order(db: Db) {
    const BEN: i64 = 4343;
    let fake = FakeTelegram::start().await;
    let app = polling_app(db, &fake).await;
    for (handle, id) in [("anna", ANNA), ("ben", BEN)] {
        let person = app
            .post(
                "/api/people",
                json!({"handle": handle, "name": handle,
                       "identities": [{"channel": "telegram", "external_id": id.to_string()}]}),
            )
            .await;
        assert_eq!(person.status, 201, "{}", person.body);
    }
    fake.wait_for_calls("getUpdates", 1, WAIT).await;
    // One answer of five updates: two chats interleaved, each chat's in its order.
    fake.push_updates([
        text_update(20, ANNA, ANNA, "/newtask Anna one"),
        text_update(21, BEN, BEN, "/newtask Ben one"),
        text_update(22, ANNA, ANNA, "/newtask Anna two"),
        text_update(23, ANNA, ANNA, "/newtask Anna three"),
        text_update(24, BEN, BEN, "/newtask Ben two"),
    ]);
    let sent = fake.wait_for_sent(5, WAIT).await;
    assert_eq!(sent.len(), 5, "{sent:?}");
    let replies = |chat: i64| -> Vec<String> {
        sent.iter()
            .filter(|m| m.chat_id == chat)
            .map(|m| m.text.clone())
            .collect()
    };
    let (anna, ben) = (replies(ANNA), replies(BEN));
    assert_eq!(anna.len(), 3, "{anna:?}");
    for (reply, title) in anna.iter().zip(["Anna one", "Anna two", "Anna three"]) {
        assert!(reply.contains(title), "Anna's replies out of order: {anna:?}");
    }
    assert!(
        ben[0].contains("Ben one") && ben[1].contains("Ben two"),
        "{ben:?}"
    );
    // Each chat's tasks were made in the order they were sent.
    let id_of = |title: &str| task_number(&sent, title);
    assert!(id_of("Anna one") < id_of("Anna two") && id_of("Anna two") < id_of("Anna three"));
    assert!(id_of("Ben one") < id_of("Ben two"));
    assert_eq!(tasks(&app).await.len(), 5);
    // The answer was confirmed as a whole: the next call asks from the update after it.
    fake.wait_for_calls("getUpdates", 3, WAIT).await;
    let offsets: Vec<i64> = fake
        .calls("getUpdates")
        .iter()
        .filter_map(|c| c["offset"].as_i64())
        .collect();
    assert!(offsets.contains(&25), "{offsets:?}");
    assert!(
        !offsets.iter().any(|o| (21..25).contains(o)),
        "confirmed part of an answer: {offsets:?}"
    );
    assert_eq!(fake.pending_updates(), 0);
}

/// The task number in the reply "Created #N: TITLE".
fn task_number(sent: &[crate::fake_telegram::Sent], title: &str) -> u64 {
    let reply = sent
        .iter()
        .find(|m| m.text.contains(&format!(": {title}")))
        .unwrap_or_else(|| panic!("no reply for {title}: {sent:?}"));
    let number = reply.text.trim_start_matches("Created #");
    number
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a creation reply: {}", reply.text))
}

async fn permanent_errors_become_visible_dead_letters(db: Db) {
    let fake = FakeTelegram::start().await;
    fake.fail_next("sendMessage", vec![Failure::BadRequest("chat not found".into())]);
    let app = webhook_app(db, &fake).await;
    app.deliver_telegram(&text_update(1, ANNA, ANNA, "/tasks")).await;
    fake.wait_for_calls("sendMessage", 1, WAIT).await;
    let mut status = Value::Null;
    for _ in 0..100 {
        status = app.get("/api/monitoring/status").await.body;
        if status["outbox"]["counts"]["dead"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["outbox"]["counts"]["dead"], 1, "{status}");
    assert_eq!(status["inbox"]["counts"]["done"], 1, "{status}");
    let dead = &status["outbox"]["dead_letters"][0];
    assert_eq!(dead["channel"], "telegram");
    assert!(
        dead["last_error"].as_str().unwrap().contains("chat not found"),
        "{dead}"
    );
    // Not retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.calls("sendMessage").len(), 1);
    let metrics = app.metrics().await;
    assert!(metrics.contains("outbox_dead_letters_total"));
}

#[tokio::test]
async fn ask_answers_from_the_handbook_with_citations() {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(Db::Sqlite, &fake).await;
    let update = text_update(1, ANNA, ANNA, "/ask how fast do we answer a client email?");
    app.deliver_telegram(&update).await;
    let update = text_update(2, ANNA, ANNA, "/ask what is the airspeed of an unladen swallow");
    app.deliver_telegram(&update).await;
    let sent = fake.wait_for_sent(2, Duration::from_secs(120)).await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].text.contains("client-communication.md ›"),
        "{}",
        sent[0].text
    );
    assert!(
        sent[1].text.contains("found nothing in the handbook"),
        "{}",
        sent[1].text
    );
}

/// With no model, free text gets the handbook's passages and, when it looks like a command
/// typed without its slash, the command it probably meant.
#[tokio::test]
async fn free_text_without_a_model_answers_from_the_handbook() {
    let fake = FakeTelegram::start().await;
    let app = webhook_app(Db::Sqlite, &fake).await;
    let update = text_update(1, ANNA, ANNA, "how fast should we reply to a client's email?");
    app.deliver_telegram(&update).await;
    let update = text_update(2, ANNA, ANNA, "newtask Send the invoice due friday");
    app.deliver_telegram(&update).await;
    let sent = fake.wait_for_sent(2, Duration::from_secs(120)).await;
    let answer = sent
        .iter()
        .find(|m| m.text.contains("From the handbook"))
        .expect("passages");
    assert!(
        answer.text.contains("client-communication.md ›"),
        "{}",
        answer.text
    );
    let hint = sent
        .iter()
        .find(|m| m.text.contains("Did you mean"))
        .expect("a command hint");
    assert!(
        hint.text.contains("/newtask Send the invoice due friday"),
        "{}",
        hint.text
    );
}
