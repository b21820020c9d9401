//! A task's new assignee hears of it on their own chat (`workspace::handover`), through the fake
//! Telegram Bot API: from a group they may not read, from another person's hands; not when they
//! gave it to themselves, not from an API token, and in their quiet hours only when they end.

use std::time::Duration;

use chrono::Timelike;
use coordinator::scheduler::Policies;
use coordinator::workspace::{Actor, TaskUpdate};
use reqwest::Method;
use serde_json::json;

use crate::fake_telegram::{group_text_update, text_update, FakeTelegram, Sent};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::team_commands::{person, ANNA, BEN, SECRET};

const WAIT: Duration = Duration::from_secs(15);
const GROUP: i64 = -100_777;

both_dbs!(a_new_assignee_is_told_on_their_own_chat);

/// Delivers `text` from `from` in `chat` and returns everything the bot sent until `n` more
/// messages went out.
async fn say(
    app: &TestApp,
    fake: &FakeTelegram,
    update: i64,
    chat: i64,
    from: i64,
    text: &str,
    n: usize,
) -> Vec<Sent> {
    let before = fake.sent().len();
    let message = if chat < 0 {
        group_text_update(update, chat, from, text)
    } else {
        text_update(update, chat, from, text)
    };
    app.deliver_telegram_ok(&message).await;
    let sent = fake.wait_for_sent(before + n, WAIT).await;
    assert!(sent.len() >= before + n, "{text:?}: {:?}", &sent[before..]);
    sent[before..].to_vec()
}

/// `handle` acting through the web page.
async fn as_person(app: &TestApp, handle: &str) -> Actor {
    let person = app.store.person_by_handle(handle).await.unwrap();
    Actor::person(&person, "web", chrono_tz::UTC)
}

fn to(sent: &[Sent], chat: i64) -> Vec<&Sent> {
    sent.iter().filter(|m| m.chat_id == chat).collect()
}

async fn a_new_assignee_is_told_on_their_own_chat(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db).with_telegram(&fake, SECRET).spawn().await;
    person(&app, "anna", "admin", ANNA).await;
    person(&app, "ben", "member", BEN).await;
    // No quiet hours to begin with, whatever the hour the test runs at.
    for (n, who) in [(101, ANNA), (102, BEN)] {
        let sent = say(&app, &fake, n, who, who, "/quiet off", 1).await;
        assert!(sent[0].text.starts_with("No quiet hours"), "{sent:?}");
    }

    // Made for Ben in a group: the group gets the answer, Ben a private notice with a button.
    let sent = say(
        &app,
        &fake,
        1,
        GROUP,
        ANNA,
        "/newtask Draft the pitch deck @ben due 2030-01-11 !high",
        2,
    )
    .await;
    let notice = to(&sent, BEN);
    assert_eq!(notice.len(), 1, "{sent:?}");
    assert_eq!(
        notice[0].text,
        "@anna gave you #1: Draft the pitch deck, due Fri 11 Jan 23:59 (Europe/Berlin), high priority. \
         /tasks mine lists all of yours."
    );
    let markup = notice[0]
        .reply_markup
        .as_ref()
        .expect("a Mark done button")
        .to_string();
    assert!(
        markup.contains("Mark done") && markup.contains("done:1"),
        "{markup}"
    );
    assert!(to(&sent, GROUP)[0].text.starts_with("Created #1"), "{sent:?}");

    // Ben's own task, in his own chat: only the answer.
    let sent = say(&app, &fake, 2, BEN, BEN, "/newtask Buy cables @ben", 1).await;
    assert!(sent[0].text.starts_with("Created #2"), "{sent:?}");
    // Handed to Anna by an API token: nobody is told (an integration makes tasks by the dozen).
    let moved = app
        .call(Method::PUT, "/api/tasks/2", Some(json!({"assigned_to": "anna"})))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    // Handed back to Ben by Anna (as the agent or the web page do it, through the workspace):
    // Ben is told.
    let anna = as_person(&app, "anna").await;
    let back: TaskUpdate = serde_json::from_value(json!({"assigned_to": "ben"})).unwrap();
    app.workspace.update_task(&anna, 2, back).await.unwrap();
    let sent = fake.wait_for_sent(6, WAIT).await;
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert_eq!(sent[5].chat_id, BEN);
    assert!(
        sent[5].text.starts_with("@anna gave you #2: Buy cables."),
        "{}",
        sent[5].text
    );
    // Saving it again with the same assignee tells nobody again.
    let same: TaskUpdate = serde_json::from_value(json!({"assigned_to": "ben", "priority": "low"})).unwrap();
    app.workspace.update_task(&anna, 2, same).await.unwrap();

    // In Ben's quiet hours (the hour around now, in his zone) the notice waits for their end.
    let now = chrono::Utc::now();
    let hour = now.with_timezone(&chrono_tz::Europe::Berlin).hour();
    let quiet = format!("/quiet {:02}:00-{:02}:00", (hour + 23) % 24, (hour + 2) % 24);
    let sent = say(&app, &fake, 3, BEN, BEN, &quiet, 1).await;
    assert!(sent[0].text.contains("Quiet hours"), "{sent:?}");
    let sent = say(&app, &fake, 4, GROUP, ANNA, "/newtask Book the venue @ben", 1).await;
    assert!(sent[0].text.starts_with("Created #3"), "{sent:?}");
    // One given in the quiet hours and done before they end is not news any more.
    let sent = say(&app, &fake, 6, GROUP, ANNA, "/newtask Order the banners @ben", 1).await;
    assert!(sent[0].text.starts_with("Created #4"), "{sent:?}");
    let done = app
        .call(
            Method::PATCH,
            "/api/tasks/4/status",
            Some(json!({"status": "done"})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let sent = say(&app, &fake, 5, ANNA, ANNA, "/tasks", 1).await;
    assert_eq!(sent[0].chat_id, ANNA, "{sent:?}");
    let to_ben = |fake: &FakeTelegram| -> Vec<String> {
        fake.sent()
            .iter()
            .filter(|m| m.chat_id == BEN)
            .map(|m| m.text.clone())
            .collect()
    };
    assert_eq!(to_ben(&fake).len(), 5, "{:?}", to_ben(&fake));
    let scheduler = crate::scheduler::scheduler(&app, Policies::default());
    assert_eq!(scheduler.run_once(now).await.unwrap().held_released, 0);
    let after = now + chrono::Duration::hours(3) + chrono::Duration::minutes(1);
    // Two replicas sweeping at the same moment release it once.
    let replica = crate::scheduler::scheduler(&app, Policies::default());
    let (a, b) = tokio::join!(scheduler.run_once(after), replica.run_once(after));
    assert_eq!(a.unwrap().held_released + b.unwrap().held_released, 1);
    assert_eq!(scheduler.run_once(after).await.unwrap().held_released, 0);
    let sent = fake.wait_for_sent(fake.sent().len() + 1, WAIT).await;
    let last = sent.last().unwrap();
    assert_eq!(last.chat_id, BEN);
    assert!(
        last.text.starts_with("@anna gave you #3: Book the venue."),
        "{}",
        last.text
    );
    // Only that: not #4, and the repeated save above queued nothing.
    assert_eq!(to_ben(&fake).len(), 6, "{:?}", to_ben(&fake));
}
