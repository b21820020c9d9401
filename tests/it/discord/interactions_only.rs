//! An interactions-only application: public key and application id, no bot token. Its slash
//! commands and buttons are answered through the interaction's webhook, which needs no bot
//! token; what does need it (a message to a channel) is dead-lettered saying so.

use std::time::Duration;

use coordinator::domain::Channel;
use coordinator::message::OutboundMessage;
use coordinator::store::Queue;
use serde_json::json;

use super::{outbox, press, slash, start_as, string, Setup, ANNA, CHANNEL, WAIT};
use crate::fake_discord::{Failure, APP_ID, EPHEMERAL};
use crate::helpers::{both_dbs, Db};

both_dbs!(follow_ups_need_no_bot_token,);

async fn follow_ups_need_no_bot_token(db: Db) {
    let d = start_as(db, Setup::InteractionsOnly, &[]).await;
    let new = slash(ANNA, "newtask", json!([string("title", "No bot here")]));
    // The answer may be ready before Discord has taken in the acknowledgement, when the
    // interaction's webhook is still unknown: that is waited out, not sent elsewhere.
    let token = new["token"].as_str().unwrap();
    d.fake.fail_next(
        "GET",
        &format!("/webhooks/{APP_ID}/{token}/messages/@original"),
        vec![Failure::Refused {
            status: 404,
            code: 10015,
            message: "Unknown Webhook",
        }],
    );
    assert_eq!(d.interact(&new).await, json!({"type": 5}));
    let reply = d.answer_to(&new).await;
    assert!(
        reply.content.starts_with("Created #1: No bot here"),
        "{}",
        reply.content
    );
    assert_eq!(
        d.fake.calls_to("GET /webhooks").len(),
        2,
        "refused once, then found"
    );

    let pressed = press(ANNA, &reply, "done:1");
    assert_eq!(d.interact(&pressed).await, json!({"type": 6}));
    let answers = d.answers_via(&pressed, 2).await;
    assert_eq!(answers[0].flags & EPHEMERAL, EPHEMERAL);
    assert_eq!(answers[1].content, "Done: #1 No bot here");
    assert_eq!(d.app.get("/api/tasks/1").await.body["status"], "done");

    // A message to a channel needs the bot: it is dead-lettered, and the reason says why.
    outbox(&d.app)
        .enqueue(
            &OutboundMessage::text(Channel::Discord, CHANNEL, "An escalation"),
            None,
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let dead = loop {
        let dead = d.app.store.dead_letters(Queue::Outbox, 10).await.unwrap();
        if !dead.is_empty() || std::time::Instant::now() >= deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dead.len(), 1, "only the channel message failed");
    let reason = dead[0].last_error.clone().unwrap_or_default();
    assert!(reason.contains("DISCORD_TOKEN is not set"), "{reason}");

    // Nothing was sent as the bot, and no gateway was opened.
    assert!(d.fake.calls().iter().all(|c| c.authorization.is_none()));
    assert!(d.fake.identifies().is_empty());
    assert!(d.fake.calls_to("PUT /applications").is_empty());
    let visible = d.visible_records().await;
    for interaction in [&new, &pressed] {
        assert!(
            !visible.contains(interaction["token"].as_str().unwrap()),
            "{visible}"
        );
    }
}
