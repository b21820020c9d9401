//! WhatsApp delivery: status callbacks, the 24-hour window and its template, re-engagement, and
//! Graph API errors recorded as dead letters instead of retried forever.

use std::sync::Arc;
use std::time::Duration;

use coordinator::domain::Channel;
use coordinator::message::OutboundMessage;
use coordinator::outbox::OutboxWriter;
use coordinator::store::Queue;

use super::{app_with, deliver, say, whatsapp_app, ANNA, BEN, TEMPLATE, WAIT};
use crate::fake_graph::{failed_status, status, statuses, Failure, FakeGraph};
use crate::helpers::{both_dbs, Db, TestApp};

both_dbs!(
    status_callbacks_mark_delivery,
    silent_people_get_the_template,
    reengagement_failure_is_resent_as_the_template,
    graph_errors_are_recorded_not_retried,
    without_a_template_silent_people_get_a_clear_dead_letter,
);

fn proactive(to: &str, text: &str) -> OutboundMessage {
    OutboundMessage::text(Channel::Whatsapp, to, text)
}

/// The delivery record of a send, once the app has recorded it (just after the fake answered).
async fn recorded(app: &TestApp, wamid: &str) -> coordinator::store::Delivery {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = app.store.whatsapp_delivery(wamid).await.unwrap();
        match found {
            Some(d) if d.kind.is_some() => return d,
            _ if tokio::time::Instant::now() >= deadline => panic!("{wamid} was never recorded"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Waits until the outbox has `n` dead letters.
async fn dead_letters(app: &TestApp, n: usize) -> Vec<coordinator::store::DeadLetter> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let dead = app.store.dead_letters(Queue::Outbox, 50).await.unwrap();
        if dead.len() >= n || tokio::time::Instant::now() >= deadline {
            return dead;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status_callbacks_mark_delivery(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    say(&app, "wamid.S1", ANNA, "/help").await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    let wamid = sent[0].wamid.clone();
    let delivery = recorded(&app, &wamid).await;
    assert_eq!(
        (delivery.status.as_str(), delivery.kind.as_deref()),
        ("accepted", Some("text"))
    );

    for (step, expected) in [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("sent", "read"),
    ] {
        assert_eq!(
            deliver(&app, &statuses(vec![status(&wamid, ANNA, step)])).await,
            200
        );
        let delivery = app.store.whatsapp_delivery(&wamid).await.unwrap().unwrap();
        assert_eq!(delivery.status, expected, "after {step}");
    }
    // A status that overtakes its send is kept until the send records its id.
    deliver(&app, &statuses(vec![status("wamid.NOT-YET", BEN, "delivered")])).await;
    let early = app
        .store
        .whatsapp_delivery("wamid.NOT-YET")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((early.status.as_str(), early.kind), ("delivered", None));
    // The outbox records the wamid just after the send returns.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut rows = app.store.outbox_for_chat("whatsapp", ANNA).await.unwrap();
    while rows[0].0 != "done" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        rows = app.store.outbox_for_chat("whatsapp", ANNA).await.unwrap();
    }
    assert_eq!(
        rows[0].2.as_deref(),
        Some(wamid.as_str()),
        "the receipt joins its outbox row"
    );
}

async fn silent_people_get_the_template(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    let outbox = OutboxWriter::new(app.store.clone(), Arc::new(tokio::sync::Notify::new()));
    say(&app, "wamid.W1", ANNA, "/tasks").await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].kind, "text", "inside the window: free text");

    // Anna last wrote 25 hours ago.
    let long_ago = coordinator::store::now() - chrono::TimeDelta::hours(25);
    assert!(app
        .store
        .set_inbox_received_at("whatsapp", "wamid.W1", long_ago)
        .await
        .unwrap());
    let reminder = "Reminder: #1 Write the brief is due today.\nReply /done 1 when finished.";
    outbox
        .enqueue(&proactive(ANNA, reminder), Some("reminder:1".into()))
        .await
        .unwrap();
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].to, ANNA);
    assert_eq!(sent[1].kind, "template");
    assert_eq!(sent[1].body["template"]["name"], TEMPLATE);
    assert_eq!(sent[1].body["template"]["language"]["code"], "en");
    assert_eq!(
        sent[1].text,
        "Reminder: #1 Write the brief is due today. · Reply /done 1 when finished."
    );
    let delivery = recorded(&app, &sent[1].wamid).await;
    assert_eq!(delivery.kind.as_deref(), Some("template"));

    // Someone who never wrote gets the template too.
    outbox
        .enqueue(&proactive(BEN, "Welcome aboard."), None)
        .await
        .unwrap();
    let sent = fake.wait_for_sent(3, WAIT).await;
    assert_eq!((sent[2].to.as_str(), sent[2].kind.as_str()), (BEN, "template"));

    // Writing again opens the window again.
    say(&app, "wamid.W2", ANNA, "/tasks").await;
    let sent = fake.wait_for_sent(4, WAIT).await;
    assert_eq!((sent[3].to.as_str(), sent[3].kind.as_str()), (ANNA, "text"));
}

async fn reengagement_failure_is_resent_as_the_template(db: Db) {
    let fake = FakeGraph::start().await;
    let app = whatsapp_app(db, &fake).await;
    say(&app, "wamid.E1", ANNA, "/tasks").await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].kind, "text");
    // The callback in this test comes after the send is recorded (the other order is covered
    // by the channel's own check when the id is recorded).
    for _ in 0..100 {
        let rows = app.store.outbox_for_chat("whatsapp", ANNA).await.unwrap();
        if rows.first().is_some_and(|r| r.0 == "done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = statuses(vec![failed_status(
        &sent[0].wamid,
        ANNA,
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    )]);
    for _ in 0..2 {
        assert_eq!(deliver(&app, &failed).await, 200);
    }
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!((sent[1].to.as_str(), sent[1].kind.as_str()), (ANNA, "template"));
    assert_eq!(sent[1].text, "Open tasks: none.");
    let first = app
        .store
        .whatsapp_delivery(&sent[0].wamid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (first.status.as_str(), first.error_code),
        ("failed", Some(131047))
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.sent().len(), 2, "a repeated failure is resent once");
    let rows = app.store.outbox_for_chat("whatsapp", ANNA).await.unwrap();
    assert_eq!(rows.len(), 2);
}

async fn graph_errors_are_recorded_not_retried(db: Db) {
    let fake = FakeGraph::start().await;
    fake.fail_next(vec![
        Failure::ServerError,
        Failure::Graph(
            400,
            131026,
            "Message undeliverable",
            "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.",
        ),
    ]);
    let app = whatsapp_app(db, &fake).await;
    say(&app, "wamid.G1", ANNA, "/help").await;
    let dead = dead_letters(&app, 1).await;
    assert_eq!(dead.len(), 1);
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("131026") && error.contains("not a WhatsApp phone number"),
        "{error}"
    );
    assert_eq!(
        dead[0].attempts, 2,
        "one retry after the 500, none after the 131026"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.requests().len(), 2);
    assert!(fake.sent().is_empty());
}

async fn without_a_template_silent_people_get_a_clear_dead_letter(db: Db) {
    let fake = FakeGraph::start().await;
    let app = app_with(db, &fake, false).await;
    let outbox = OutboxWriter::new(app.store.clone(), Arc::new(tokio::sync::Notify::new()));
    outbox
        .enqueue(&proactive(BEN, "Welcome aboard."), None)
        .await
        .unwrap();
    let dead = dead_letters(&app, 1).await;
    let error = dead[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("WHATSAPP_TEMPLATE_NAME") && error.contains(BEN),
        "{error}"
    );
    assert!(
        fake.requests().is_empty(),
        "nothing WhatsApp would refuse is sent"
    );
}
