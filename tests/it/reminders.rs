//! One-off reminders end to end through the fake Telegram Bot API: `/remind` read in the
//! recipient's zone, delivered by `run_once(now)` at the right instant, held by quiet hours,
//! Done and Snooze buttons, `/reminders` and `/unremind`, bad input answered with an example,
//! the agent's `set_reminder` tool, the REST API, and two schedulers sending once.

use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::fake_telegram::{callback_update_on, FakeTelegram, Sent};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::{at, scheduler};
use crate::team_commands::Chat;
use coordinator::scheduler::Policies;

const SECRET: &str = "remind-secret";
const MARTA: i64 = 8101;
const BOB: i64 = 8102;

both_dbs!(
    a_reminder_set_in_berlin_reaches_new_york_at_the_right_instant,
    quiet_hours_hold_and_buttons_snooze_or_finish,
    bad_reminders_get_a_clear_reply_with_an_example,
    the_agent_sets_a_reminder_from_free_text,
    two_schedulers_send_a_reminder_once,
);

/// Marta in Berlin and Bob in New York, both on Telegram.
async fn start_with(db: Db, ai: Option<&FakeOpenAi>) -> (TestApp, FakeTelegram) {
    let fake = FakeTelegram::start().await;
    let mut builder = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        // The app's own scheduler stays out of the way: the tests call run_once.
        .with("COORDINATOR_SCHEDULER_TICK", "1h");
    if let Some(ai) = ai {
        builder = builder.with_openai(ai);
    }
    let app = builder.spawn().await;
    for (handle, zone, id) in [
        ("marta", "Europe/Berlin", MARTA),
        ("bob", "America/New_York", BOB),
    ] {
        let body = json!({"handle": handle, "name": handle, "role": "member", "timezone": zone,
            "identities": [{"channel": "telegram", "external_id": id.to_string()}]});
        assert_eq!(app.post("/api/people", body).await.status, 201);
    }
    (app, fake)
}

async fn start(db: Db) -> (TestApp, FakeTelegram) {
    start_with(db, None).await
}

fn to(sent: &[Sent], chat: i64) -> Vec<Sent> {
    sent.iter().filter(|s| s.chat_id == chat).cloned().collect()
}

fn buttons(sent: &Sent) -> Vec<String> {
    sent.reply_markup.as_ref().map_or(Vec::new(), |m| {
        m["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .map(|b| b["callback_data"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

async fn a_reminder_set_in_berlin_reaches_new_york_at_the_right_instant(db: Db) {
    let (app, fake) = start(db).await;
    let s = scheduler(&app, Policies::default());
    let mut chat = Chat::new(&app, &fake);
    // Marta, in Berlin, asks in chat: the time is Bob's, 10:00 in New York = 15:00 UTC.
    let reply = chat
        .say(MARTA, "/remind @bob 2030-01-15 10:00 Send the invoice")
        .await;
    assert!(reply.contains("Reminder #1 set for @bob"), "{reply}");
    assert!(
        reply.contains("Tue 15 Jan 10:00 (America/New_York; Tue 15 Jan 16:00 your time)"),
        "{reply}"
    );
    // The same instant through the API, written in Berlin time.
    let api = app
        .post(
            "/api/reminders",
            json!({"person": "bob", "at": "2030-01-15T16:00:00+01:00", "text": "Check the payment"}),
        )
        .await;
    assert_eq!(api.status, 201, "{}", api.body);
    assert_eq!(api.body["remind_at"], "2030-01-15T15:00:00Z");
    assert_eq!(api.body["timezone"], "America/New_York");

    let early = s.run_once(at("2030-01-15T14:59:59Z")).await.unwrap();
    assert_eq!(early.asked_reminders_sent, 0);
    let due = s.run_once(at("2030-01-15T15:00:00Z")).await.unwrap();
    assert_eq!(due.asked_reminders_sent, 2);
    assert_eq!(
        s.run_once(at("2030-01-15T15:01:00Z"))
            .await
            .unwrap()
            .asked_reminders_sent,
        0
    );
    let sent = fake.wait_for_sent(3, crate::scheduler::WAIT).await;
    let bobs = to(&sent, BOB);
    assert_eq!(bobs.len(), 2, "{sent:?}");
    assert!(
        bobs.iter()
            .any(|m| m.text == "Reminder: Send the invoice (from @marta)"),
        "{bobs:?}"
    );
    assert!(
        bobs.iter().any(|m| m.text == "Reminder: Check the payment"),
        "{bobs:?}"
    );
    assert_eq!(
        buttons(&bobs[0])[..],
        [
            format!("rdone:{}", bobs_id(&bobs[0])),
            format!("rsnooze:{}:1h", bobs_id(&bobs[0])),
            format!("rsnooze:{}:1d", bobs_id(&bobs[0]))
        ]
    );
    let listed = app.get("/api/reminders?pending=false").await;
    assert_eq!(listed.status, 200);
    assert!(listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "sent"));
}

/// The reminder id a sent reminder's first button carries.
fn bobs_id(sent: &Sent) -> i64 {
    buttons(sent)[0].trim_start_matches("rdone:").parse().unwrap()
}

async fn quiet_hours_hold_and_buttons_snooze_or_finish(db: Db) {
    let (app, fake) = start(db).await;
    let s = scheduler(&app, Policies::default());
    let mut chat = Chat::new(&app, &fake);
    // 06:00 in New York is inside Bob's quiet hours (20:00–08:00): held until 08:00 (13:00 UTC).
    let reply = chat
        .say(BOB, "/remind me 2030-01-16 06:00 Water the plants")
        .await;
    assert!(reply.contains("Reminder #1 set for you"), "{reply}");
    let held = s.run_once(at("2030-01-16T11:00:00Z")).await.unwrap();
    assert_eq!((held.asked_reminders_sent, held.held), (0, 1));
    assert_eq!(
        s.run_once(at("2030-01-16T12:59:00Z"))
            .await
            .unwrap()
            .asked_reminders_sent,
        0
    );
    assert_eq!(
        s.run_once(at("2030-01-16T13:00:00Z"))
            .await
            .unwrap()
            .asked_reminders_sent,
        1
    );
    let sent = fake.wait_for_sent(2, crate::scheduler::WAIT).await;
    let reminder = sent.last().unwrap().clone();
    assert_eq!(reminder.chat_id, BOB);
    assert!(
        reminder
            .text
            .starts_with("Reminder: Water the plants\nAsked for Wed 16 Jan 06:00 America/New_York"),
        "{}",
        reminder.text
    );

    // Snooze: it comes again an hour after the press.
    let snooze = callback_update_on(900, BOB, &reminder, "rsnooze:1:1h");
    app.deliver_telegram_ok(&snooze).await;
    let sent = fake.wait_for_sent(3, crate::scheduler::WAIT).await;
    assert!(
        sent[2]
            .text
            .contains("Snoozed: reminder #1 comes again in an hour"),
        "{}",
        sent[2].text
    );
    let again = app.get("/api/reminders/1").await.body;
    assert_eq!(again["status"], "pending");
    let snoozed_until: chrono::DateTime<chrono::Utc> = again["remind_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        s.run_once(snoozed_until - chrono::Duration::seconds(1))
            .await
            .unwrap()
            .asked_reminders_sent,
        0
    );
    // Outside quiet hours wherever the test machine's clock stands: noon in New York.
    let noon = snoozed_until
        .date_naive()
        .and_hms_opt(17, 0, 0)
        .unwrap()
        .and_utc()
        + chrono::Duration::days(1);
    assert_eq!(s.run_once(noon).await.unwrap().asked_reminders_sent, 1);
    let sent = fake.wait_for_sent(4, crate::scheduler::WAIT).await;
    assert!(
        sent[3].text.starts_with("Reminder: Water the plants"),
        "{}",
        sent[3].text
    );

    // Done: it stays done.
    let done = callback_update_on(901, BOB, &sent[3], "rdone:1");
    app.deliver_telegram_ok(&done).await;
    let sent = fake.wait_for_sent(5, crate::scheduler::WAIT).await;
    assert!(sent[4].text.contains("Done: reminder #1"), "{}", sent[4].text);
    assert_eq!(app.get("/api/reminders/1").await.body["status"], "done");
    // Marta cannot touch Bob's own reminder: for her it does not exist.
    let reply = chat.say(MARTA, "/unremind 1").await;
    assert!(reply.contains("reminder 1 does not exist"), "{reply}");
}

async fn bad_reminders_get_a_clear_reply_with_an_example(db: Db) {
    let (app, fake) = start(db).await;
    let s = scheduler(&app, Policies::default());
    let mut chat = Chat::new(&app, &fake);
    let example = "e.g. /remind @anna friday 10:00 Send the invoice";
    for (text, problem) in [
        ("/remind @bob 31 february Pay rent", "February has no day 31"),
        ("/remind me yesterday Pay rent", "is in the past"),
        ("/remind @zed tomorrow 10:00 Pay rent", "I don't know @zed"),
        ("/remind me someday Pay rent", "couldn't find when"),
        ("/remind me tomorrow 10:00", "What should I remind of"),
        ("/remind", "Whom, when and what?"),
    ] {
        let reply = chat.say(MARTA, text).await;
        assert!(reply.contains(problem), "{text}: {reply}");
        assert!(reply.contains(example), "{text}: {reply}");
    }
    // Nothing was stored.
    assert_eq!(app.get("/api/reminders?all=true").await.body, json!([]));

    // A good one, listed, cancelled: never sent.
    let reply = chat.say(MARTA, "/remind me 2030-03-01 Renew the domain").await;
    assert!(reply.contains("Fri 1 Mar 09:00 (Europe/Berlin)"), "{reply}");
    let list = chat.say(MARTA, "/reminders").await;
    assert!(
        list.contains("#1 Fri 1 Mar 09:00 — @marta: Renew the domain"),
        "{list}"
    );
    assert!(chat.say(BOB, "/reminders").await.contains("No pending reminders"));
    let cancelled = chat.say(MARTA, "/unremind 1").await;
    assert!(cancelled.contains("Cancelled reminder #1"), "{cancelled}");
    let again = chat.say(MARTA, "/unremind 1").await;
    assert!(
        again.contains("only pending reminders can be cancelled"),
        "{again}"
    );
    let sweep = s.run_once(at("2030-03-01T09:00:00Z")).await.unwrap();
    assert_eq!(sweep.asked_reminders_sent, 0);

    // The API: 422 naming the field, 404 for an unknown person.
    let past = app
        .post(
            "/api/reminders",
            json!({"person": "bob", "at": "2020-01-01T10:00:00Z", "text": "x"}),
        )
        .await;
    assert_eq!(past.status, 422, "{}", past.body);
    assert!(
        past.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("at: "),
        "{}",
        past.body
    );
    let nobody = app
        .post(
            "/api/reminders",
            json!({"person": "zed", "at": "2030-01-01T10:00:00Z", "text": "x"}),
        )
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.body);
    let neither = app
        .post(
            "/api/reminders",
            json!({"at": "2030-01-01T10:00:00Z", "text": "x"}),
        )
        .await;
    assert_eq!(neither.status, 422, "{}", neither.body);
}

async fn the_agent_sets_a_reminder_from_free_text(db: Db) {
    let ai = FakeOpenAi::start().await;
    let (app, fake) = start_with(db, Some(&ai)).await;
    ai.script(vec![
        Scripted::ToolCalls(vec![(
            "set_reminder".into(),
            json!({"who": "bob", "when": "2030-01-18 10:00", "text": "send the invoice"}),
        )]),
        Scripted::Text("I'll remind Bob on Friday at ten.".into()),
    ]);
    let mut chat = Chat::new(&app, &fake);
    let reply = chat
        .say(
            MARTA,
            "remind @bob on Friday 18 January 2030 at ten to send the invoice",
        )
        .await;
    assert_eq!(reply, "I'll remind Bob on Friday at ten.");
    let listed = app.get("/api/reminders").await.body;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["person"], "bob");
    assert_eq!(listed[0]["created_by"], "marta");
    // 10:00 in New York.
    assert_eq!(listed[0]["remind_at"], "2030-01-18T15:00:00Z");
}

async fn two_schedulers_send_a_reminder_once(db: Db) {
    let (app, fake) = start(db).await;
    for n in 0..5 {
        let body = json!({"person": "bob", "at": "2030-01-15T15:00:00Z", "text": format!("Item {n}")});
        assert_eq!(app.post("/api/reminders", body).await.status, 201);
    }
    let (a, b) = (
        scheduler(&app, Policies::default()),
        scheduler(&app, Policies::default()),
    );
    let now = at("2030-01-15T15:00:00Z");
    let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
    let total = ra.unwrap().asked_reminders_sent + rb.unwrap().asked_reminders_sent;
    assert_eq!(total, 5);
    let sent = fake.wait_for_sent(5, crate::scheduler::WAIT).await;
    assert_eq!(to(&sent, BOB).len(), 5);
    let later = a.run_once(at("2030-01-15T15:10:00Z")).await.unwrap();
    assert_eq!(later.asked_reminders_sent, 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(fake.sent().len(), 5);
}
