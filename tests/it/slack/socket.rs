//! Socket Mode: no public URL, no signing secret; the app opens the websocket with the app-level
//! token, and every envelope is acknowledged (by `envelope_id`) once what it carries is stored.

use serde_json::json;

use super::{block_actions, callback, dm, mention, slash_form, start, ts, Via, ANNA, CHANNEL, DM, WAIT};
use crate::helpers::{both_dbs, Db};

both_dbs!(socket_mode_carries_messages_commands_and_presses,);

async fn socket_mode_carries_messages_commands_and_presses(db: Db) {
    let s = start(db, Via::Socket, &[]).await;
    s.fake.wait_connected(WAIT).await;
    let opened = s.fake.calls_to("apps.connections.open");
    assert_eq!(
        opened[0].authorization.as_deref(),
        Some(format!("Bearer {}", crate::fake_slack::APP_TOKEN).as_str())
    );
    // Without a signing secret there is no webhook.
    let webhook = s
        .app
        .client
        .post(format!("{}/webhooks/slack", s.app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status().as_u16(), 404);

    // A mention: stored, acknowledged, answered in its thread.
    let at = ts();
    let event = callback(mention(ANNA, CHANNEL, &at, "/newtask Print the badges"));
    let first = s.fake.envelope("events_api", event.clone());
    assert_eq!(s.fake.wait_ack(WAIT, &first).await, json!({"envelope_id": first}));
    let reply = s.fake.wait_message(WAIT, CHANNEL, |_| true).await;
    assert!(reply.text.starts_with("Created #1"), "{}", reply.text);
    assert_eq!(reply.thread_ts.as_deref(), Some(at.as_str()));
    // Slack sends it again (no ack seen in time): acknowledged, not acted on twice.
    let again = s.fake.envelope("events_api", event);
    s.fake.wait_ack(WAIT, &again).await;

    // A slash command: the acknowledgement carries the response type; the result follows.
    let form: serde_json::Map<String, serde_json::Value> = slash_form(&s.fake, ANNA, CHANNEL, "done 1")
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    let command = s.fake.envelope("slash_commands", serde_json::Value::Object(form));
    let ack = s.fake.wait_ack(WAIT, &command).await;
    assert_eq!(ack["payload"], json!({"response_type": "in_channel"}));
    let done = &s.fake.wait_responses(WAIT, 1).await[0];
    assert!(
        done.body["text"].as_str().unwrap().contains("#1"),
        "{}",
        done.body
    );
    assert_eq!(s.app.get("/api/tasks/1").await.body["status"], "done");

    // A direct message with a button on the answer; the press comes as `interactive`.
    let hello = ts();
    let dm_envelope = s
        .fake
        .envelope("events_api", callback(dm(ANNA, &hello, "/newtask Order paper")));
    s.fake.wait_ack(WAIT, &dm_envelope).await;
    let created = s
        .fake
        .wait_message(WAIT, DM, |m| m.text.starts_with("Created #2"))
        .await;
    let values = created.button_values();
    assert!(values.contains(&"done:2".to_owned()), "{values:?}");
    let press = s
        .fake
        .envelope("interactive", block_actions(&s.fake, ANNA, &created, "done:2"));
    s.fake.wait_ack(WAIT, &press).await;
    s.fake
        .wait_message(WAIT, DM, |m| m.ts == created.ts && m.updates > 0)
        .await;
    assert_eq!(s.app.get("/api/tasks/2").await.body["status"], "done");
    assert_eq!(s.app.get("/api/tasks").await.body.as_array().unwrap().len(), 2);

    // Slack refreshes the connection: the app opens a new one.
    s.fake.disconnect();
    s.fake.wait(WAIT, |f| f.connections(), |n| *n >= 2).await;
    assert!(s.fake.connections() >= 2);
}
