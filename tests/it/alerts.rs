//! Admin alerts in chat: `/alerts here` (admins only), a dead letter alerted once with a button
//! that sends it again, the hourly limit with its summary, and a failing channel alerted once
//! with a note when it recovers. Through the fake Telegram Bot API; the scheduler's sweep is
//! driven by `run_once`.

use chrono::Duration;
use coordinator::domain::Channel;
use coordinator::message::OutboundMessage;
use coordinator::scheduler::{Policies, Scheduler};
use coordinator::store::{now, Queue};
use serde_json::json;

use crate::fake_telegram::{callback_update_on, group_text_update, text_update, Failure, FakeTelegram, Sent};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::{scheduler, start, wait_until, ANNA, MARTA, WAIT};

/// The admins' group.
const ADMINS: i64 = -800;
const BOSS: i64 = 7100;

both_dbs!(
    a_dead_letter_is_alerted_once_with_a_button_that_sends_it_again,
    alerts_over_the_hourly_limit_become_one_summary,
    a_failing_channel_is_alerted_once_and_its_recovery_noted,
    an_integration_job_given_up_is_alerted_once,
);

async fn setup(db: Db) -> (TestApp, FakeTelegram, Scheduler) {
    let (app, fake) = start(db).await;
    let boss = json!({"handle": "boss", "name": "Boss", "role": "admin",
        "identities": [{"channel": "telegram", "external_id": BOSS.to_string()}]});
    assert_eq!(app.post("/api/people", boss).await.status, 201);
    let s = scheduler(&app, Policies::default());
    (app, fake, s)
}

/// Sends `text` as `from` in `chat` and returns the bot's answer.
async fn say(app: &TestApp, fake: &FakeTelegram, update_id: i64, chat: i64, from: i64, text: &str) -> Sent {
    let before = fake.sent().len();
    let update = if chat < 0 {
        group_text_update(update_id, chat, from, text)
    } else {
        text_update(update_id, chat, from, text)
    };
    app.deliver_telegram_ok(&update).await;
    let sent = fake.wait_for_sent(before + 1, WAIT).await;
    assert!(sent.len() > before, "no answer to {text}");
    sent[before].clone()
}

/// Waits until nothing is left to send, then returns the messages in the admins' group whose
/// text starts with `prefix`.
async fn in_admins(app: &TestApp, fake: &FakeTelegram, prefix: &str) -> Vec<Sent> {
    wait_until(|| async {
        let counts = app.store.queue_counts(Queue::Outbox).await.unwrap();
        counts.pending + counts.processing == 0
    })
    .await;
    fake.sent()
        .into_iter()
        .filter(|m| m.chat_id == ADMINS && m.text.starts_with(prefix))
        .collect()
}

async fn dead_letters(app: &TestApp) -> i64 {
    app.store.queue_counts(Queue::Outbox).await.unwrap().dead
}

async fn a_dead_letter_is_alerted_once_with_a_button_that_sends_it_again(db: Db) {
    let (app, fake, s) = setup(db).await;
    // Only an admin chooses the alert chat; bad arguments get the usage.
    let refused = say(&app, &fake, 1, ADMINS, MARTA, "/alerts here").await;
    assert_eq!(refused.text, "Only admins can choose where alerts go.");
    let usage = say(&app, &fake, 2, ADMINS, BOSS, "/alerts everywhere").await;
    assert!(
        usage.text.contains("Usage: /alerts [here|off]") && usage.text.contains("e.g. /alerts here"),
        "{}",
        usage.text
    );
    let set = say(&app, &fake, 3, ADMINS, BOSS, "/alerts here").await;
    assert!(
        set.text.starts_with("This chat now gets the admins' alerts"),
        "{}",
        set.text
    );
    let status = app.get("/api/monitoring/status").await.body;
    assert_eq!(status["alert_chat"]["chat_id"], ADMINS.to_string(), "{status}");

    // Anna has blocked the bot: the answer to her /tasks is given up.
    fake.fail_next(
        "sendMessage",
        vec![Failure::Forbidden("bot was blocked by the user".into())],
    );
    app.deliver_telegram_ok(&text_update(4, ANNA, ANNA, "/tasks"))
        .await;
    wait_until(|| async { dead_letters(&app).await == 1 }).await;
    assert_eq!(s.run_once(now()).await.unwrap().alerts_sent, 1);
    assert_eq!(s.run_once(now()).await.unwrap().alerts_sent, 0);
    let alerts = in_admins(&app, &fake, "Alert").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert!(
        alert.text.contains(&format!("@anna's telegram chat {ANNA}")) && alert.text.contains("blocked"),
        "{}",
        alert.text
    );
    let button = &alert.reply_markup.as_ref().unwrap()["inline_keyboard"][0][0];
    let data = button["callback_data"].as_str().unwrap().to_owned();
    assert!(data.starts_with("retry:"), "{data}");

    // A member's press does nothing; an admin's sends the message again, and now it arrives.
    let before = fake.sent().len();
    app.deliver_telegram_ok(&callback_update_on(5, MARTA, alert, &data))
        .await;
    let answers = fake.wait_for_calls("answerCallbackQuery", 1, WAIT).await;
    assert_eq!(answers[0]["text"], "Only admins can retry messages.");
    assert_eq!(dead_letters(&app).await, 1);
    app.deliver_telegram_ok(&callback_update_on(6, BOSS, alert, &data))
        .await;
    wait_until(|| async { fake.sent()[before..].iter().any(|m| m.chat_id == ANNA) }).await;
    assert_eq!(dead_letters(&app).await, 0);
    let answers = fake.wait_for_calls("answerCallbackQuery", 2, WAIT).await;
    assert!(
        answers[1]["text"].as_str().unwrap().contains("queued again"),
        "{}",
        answers[1]
    );

    // The same failure again is not alerted twice.
    fake.fail_next(
        "sendMessage",
        vec![Failure::Forbidden("bot was blocked by the user".into())],
    );
    app.deliver_telegram_ok(&text_update(7, ANNA, ANNA, "/tasks"))
        .await;
    wait_until(|| async { dead_letters(&app).await == 1 }).await;
    assert_eq!(s.run_once(now()).await.unwrap().alerts_sent, 0);
    assert_eq!(in_admins(&app, &fake, "Alert").await.len(), 1);

    // Turned off, nothing is alerted; a second /alerts off says so.
    let off = say(&app, &fake, 8, ADMINS, BOSS, "/alerts off").await;
    assert!(off.text.starts_with("Alerts are off"), "{}", off.text);
    let again = say(&app, &fake, 9, ADMINS, BOSS, "/alerts off").await;
    assert!(
        again.text.starts_with("Alerts were already off"),
        "{}",
        again.text
    );
    fake.fail_next("sendMessage", vec![Failure::BadRequest("chat not found".into())]);
    app.deliver_telegram_ok(&text_update(10, ANNA, ANNA, "/tasks"))
        .await;
    wait_until(|| async { dead_letters(&app).await == 2 }).await;
    assert_eq!(s.run_once(now()).await.unwrap().alerts_sent, 0);
}

async fn alerts_over_the_hourly_limit_become_one_summary(db: Db) {
    let (app, fake, s) = setup(db).await;
    say(&app, &fake, 1, ADMINS, BOSS, "/alerts here").await;
    // Seven chats that do not exist: seven different dead letters.
    fake.fail_next(
        "sendMessage",
        (0..7)
            .map(|_| Failure::BadRequest("chat not found".into()))
            .collect(),
    );
    for n in 0..7 {
        let message = OutboundMessage::text(Channel::Telegram, format!("{}", 9100 + n), "hello");
        let row = coordinator::queue::to_outbound(&message, Some(format!("test:{n}"))).unwrap();
        app.store.enqueue_outbox(&[row]).await.unwrap();
    }
    wait_until(|| async { dead_letters(&app).await == 7 }).await;
    let at = now();
    assert_eq!(s.run_once(at).await.unwrap().alerts_sent, 5);
    assert_eq!(
        s.run_once(at + Duration::minutes(30)).await.unwrap().alerts_sent,
        0
    );
    assert_eq!(in_admins(&app, &fake, "Alert: message").await.len(), 5);
    // An hour later the limit allows again: the two held back come as one summary.
    assert_eq!(
        s.run_once(at + Duration::minutes(61)).await.unwrap().alerts_sent,
        1
    );
    assert_eq!(
        s.run_once(at + Duration::minutes(62)).await.unwrap().alerts_sent,
        0
    );
    let summary = in_admins(&app, &fake, "Alert summary").await;
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert!(
        summary[0].text.contains("2 more messages were given up"),
        "{}",
        summary[0].text
    );
}

async fn a_failing_channel_is_alerted_once_and_its_recovery_noted(db: Db) {
    let (app, fake, s) = setup(db).await;
    say(&app, &fake, 1, ADMINS, BOSS, "/alerts here").await;
    // A Discord message (this app has no Discord: the worker leaves it alone) that failed once
    // and waits for its next try.
    let message = OutboundMessage::text(Channel::Discord, "555", "hello");
    let row = coordinator::queue::to_outbound(&message, Some("test:discord".into())).unwrap();
    app.store.enqueue_outbox(&[row]).await.unwrap();
    let lease = now() + Duration::minutes(1);
    let claimed = app
        .store
        .claim(Queue::Outbox, Some(&[Channel::Discord]), now(), lease)
        .await
        .unwrap()
        .unwrap();
    app.store
        .retry_at(
            Queue::Outbox,
            &claimed,
            now() + Duration::days(1),
            Some("connection refused"),
            true,
        )
        .await
        .unwrap();
    // Failing for a minute: not yet worth an alert. Ten minutes: alerted, once.
    let at = now();
    assert_eq!(
        s.run_once(at + Duration::minutes(1)).await.unwrap().alerts_sent,
        0
    );
    assert_eq!(
        s.run_once(at + Duration::minutes(10)).await.unwrap().alerts_sent,
        1
    );
    assert_eq!(
        s.run_once(at + Duration::minutes(11)).await.unwrap().alerts_sent,
        0
    );
    // (The Discord message stays queued: wait for the alert itself.)
    let alerts = arrived(&fake, "Alert: discord", 1).await;
    assert!(
        alerts[0].text.contains("has not delivered since"),
        "{}",
        alerts[0].text
    );
    // It goes out: the admins hear that Discord works again, once.
    let next_try = now() + Duration::days(1) + Duration::seconds(1);
    let again = app
        .store
        .claim(
            Queue::Outbox,
            Some(&[Channel::Discord]),
            next_try,
            next_try + Duration::minutes(1),
        )
        .await
        .unwrap()
        .expect("due at its next try");
    assert!(app.store.mark_sent(&again, None).await.unwrap());
    assert_eq!(
        s.run_once(at + Duration::minutes(12)).await.unwrap().alerts_sent,
        1
    );
    assert_eq!(
        s.run_once(at + Duration::minutes(13)).await.unwrap().alerts_sent,
        0
    );
    arrived(&fake, "discord delivers messages again", 1).await;
}

async fn an_integration_job_given_up_is_alerted_once(db: Db) {
    let (app, fake, s) = setup(db).await;
    say(&app, &fake, 1, ADMINS, BOSS, "/alerts here").await;
    // Two jobs of a kind nobody handles: both given up, for the same reason.
    for n in 0..2 {
        let key = format!("job-{n}");
        app.store
            .enqueue_integration_job("crm.retired", &key, "{}", None)
            .await
            .unwrap();
    }
    wait_until(|| async { app.store.queue_counts(Queue::Integrations).await.unwrap().dead == 2 }).await;
    assert_eq!(s.run_once(now()).await.unwrap().alerts_sent, 1);
    assert_eq!(s.run_once(now()).await.unwrap().alerts_sent, 0);
    let alerts = arrived(&fake, "Alert: integration job", 1).await;
    assert!(
        alerts[0].text.contains("(crm.retired)") && alerts[0].text.contains("unknown job kind"),
        "{}",
        alerts[0].text
    );
}

/// Waits until `n` messages whose text starts with `prefix` reached the admins' group, and
/// returns them.
async fn arrived(fake: &FakeTelegram, prefix: &str, n: usize) -> Vec<Sent> {
    let matching = || {
        fake.sent()
            .into_iter()
            .filter(|m| m.chat_id == ADMINS && m.text.starts_with(prefix))
            .collect::<Vec<_>>()
    };
    wait_until(|| async { matching().len() >= n }).await;
    let found = matching();
    assert_eq!(found.len(), n, "{found:?}");
    found
}
