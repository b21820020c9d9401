//! Recurring chat prompts: `/remind here every monday 09:00 TEXT` posts TEXT to the chat at
//! each occurrence, once across two schedulers and repeated sweeps, until `/unremind`; rules
//! that are not understood or never fire get a clear reply with an example.

use coordinator::scheduler::Policies;

use super::{start, to, GROUP};
use crate::helpers::{both_dbs, Db};
use crate::scheduler::{at, scheduler, WAIT};
use crate::team_commands::Chat;

const BEN: i64 = 9102;

both_dbs!(
    a_recurring_prompt_is_posted_once_per_occurrence,
    bad_repetitions_get_a_clear_reply,
);

async fn a_recurring_prompt_is_posted_once_per_occurrence(db: Db) {
    let (app, fake) = start(db).await;
    let mut chat = Chat::new(&app, &fake);
    let set = chat
        .say_in(GROUP, BEN, "/remind here every monday 09:00 What's blocking you?")
        .await;
    assert!(
        set.starts_with("Recurring reminder #1 set for this chat (FREQ=WEEKLY;BYDAY=MO), first Mon "),
        "{set}"
    );
    assert!(
        set.ends_with("09:00 (Europe/Berlin): What's blocking you?\n/unremind 1 stops it."),
        "{set}"
    );
    let listed = chat.say_in(GROUP, BEN, "/reminders").await;
    assert!(
        listed.contains("(repeats: FREQ=WEEKLY;BYDAY=MO) — this chat: What's blocking you?"),
        "{listed}"
    );
    let elsewhere = chat.say(BEN, "/reminders").await;
    assert!(
        elsewhere.contains(" — another chat: What's blocking you?"),
        "{elsewhere}"
    );

    let (a, b) = (
        scheduler(&app, Policies::default()),
        scheduler(&app, Policies::default()),
    );
    let prompts = |sent: &[crate::fake_telegram::Sent]| {
        to(sent, GROUP)
            .into_iter()
            .filter(|s| s.text == "What's blocking you?")
            .count()
    };
    // Monday 14 Jan 2030, 09:00 Berlin (the first occurrence, set by the real clock, is long
    // past: it goes out now, once) and Monday 21 Jan.
    let mut total = 0;
    for monday in ["2030-01-14T08:00:00Z", "2030-01-21T08:00:00Z"] {
        let now = at(monday);
        let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
        total += ra.unwrap().asked_reminders_sent + rb.unwrap().asked_reminders_sent;
        let again = a.run_once(now + chrono::Duration::minutes(1)).await.unwrap();
        assert_eq!(again.asked_reminders_sent, 0);
    }
    assert_eq!(total, 2);
    // The set-up's three replies and the two prompts.
    fake.wait_for_sent(5, WAIT).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(prompts(&fake.sent()), 2, "{:?}", fake.sent());
    let reminder = app.get("/api/reminders/1").await.body;
    assert_eq!(reminder["status"], "pending");
    assert_eq!(reminder["rule"], "FREQ=WEEKLY;BYDAY=MO");
    assert_eq!(reminder["remind_at"], "2030-01-28T08:00:00Z");

    // Not on Sunday; stopped, never again.
    assert_eq!(
        a.run_once(at("2030-01-27T08:00:00Z"))
            .await
            .unwrap()
            .asked_reminders_sent,
        0
    );
    let stopped = chat.say_in(GROUP, BEN, "/unremind 1").await;
    assert!(stopped.starts_with("Cancelled reminder #1"), "{stopped}");
    assert_eq!(
        a.run_once(at("2030-01-28T08:00:00Z"))
            .await
            .unwrap()
            .asked_reminders_sent,
        0
    );
}

async fn bad_repetitions_get_a_clear_reply(db: Db) {
    let (app, fake) = start(db).await;
    let mut chat = Chat::new(&app, &fake);
    let example = "e.g. /remind @anna friday 10:00 Send the invoice";
    for (text, problem) in [
        (
            "/remind here every blue moon Hello",
            "couldn't understand the repetition",
        ),
        ("/remind here every year on 30 february Party", "never fires"),
        (
            "/remind here every monday 09:00",
            "What should I say every monday 09:00?",
        ),
    ] {
        let reply = chat.say_in(GROUP, BEN, text).await;
        assert!(reply.contains(problem), "{text}: {reply}");
        assert!(reply.contains(example), "{text}: {reply}");
    }
    assert_eq!(
        app.get("/api/reminders?all=true").await.body,
        serde_json::json!([])
    );
}
