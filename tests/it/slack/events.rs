//! The Events API over `POST /webhooks/slack`: signature and challenge, direct messages,
//! mentions answered in their thread, a teammate's mention read as their handle, Slack's
//! retries counted once, shared audio heard.

use coordinator::store::Queue;
use serde_json::{json, Value};

use super::{callback, dm, mention, start, ts, Slack, Via, ANNA, CHANNEL, DM, MARTA, STRANGER, WAIT};
use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::fake_slack::SIGNING_SECRET;
use crate::helpers::{both_dbs, Db};

both_dbs!(
    a_direct_message_creates_a_task,
    a_mention_is_answered_in_its_thread,
    a_teammates_mention_is_read_as_their_handle,
    forged_or_stale_signatures_are_refused_and_nothing_is_stored,
    a_retried_event_counts_once,
    the_endpoint_check_gets_its_challenge,
    a_voice_clip_is_heard_as_a_command,
);

async fn tasks(s: &Slack) -> Vec<Value> {
    let reply = s.app.get("/api/tasks").await;
    assert_eq!(reply.status, 200);
    reply.body.as_array().cloned().unwrap_or_default()
}

async fn a_direct_message_creates_a_task(db: Db) {
    let ai = FakeOpenAi::start().await;
    let fake_key = [
        ("OPENAI_API_KEY", "test-key"),
        ("OPENAI_BASE_URL", ai.base_url.as_str()),
    ];
    let s = start(db, Via::Webhook, &fake_key).await;
    ai.script(vec![
        Scripted::ToolCalls(vec![(
            "create_task".into(),
            json!({"title": "Write the client brief", "priority": "high"}),
        )]),
        Scripted::Text("Created #1: Write the client brief.".into()),
    ]);
    let at = ts();
    assert_eq!(
        s.event(
            dm(
                ANNA,
                &at,
                "Please add a task: write the client brief, it's urgent-ish"
            ),
            None
        )
        .await,
        200
    );
    let reply = s.fake.wait_message(WAIT, DM, |_| true).await;
    assert_eq!(reply.text, "Created #1: Write the client brief.");
    // A direct message is answered in the conversation, not in a thread.
    assert_eq!(reply.thread_ts, None);
    let all = tasks(&s).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["title"], "Write the client brief");
    assert_eq!(all[0]["priority"], "high");
    // The agent spoke for Anna: her words reached the model.
    let asked = ai.requests()[0].to_string();
    assert!(asked.contains("write the client brief"), "{asked}");
    let call = &s.fake.calls_to("chat.postMessage")[0];
    assert_eq!(call.body["channel"], DM);
    assert_eq!(call.body["unfurl_links"], false);
}

async fn a_mention_is_answered_in_its_thread(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let at = ts();
    assert_eq!(
        s.event(
            mention(ANNA, CHANNEL, &at, "/newtask Book the venue !urgent"),
            None
        )
        .await,
        200
    );
    let reply = s.fake.wait_message(WAIT, CHANNEL, |_| true).await;
    assert!(reply.text.starts_with("Created #1"), "{}", reply.text);
    assert_eq!(reply.thread_ts.as_deref(), Some(at.as_str()));
    assert_eq!(tasks(&s).await[0]["priority"], "urgent");
    // A reply in that thread that does not name the bot is not for it (the thread is Anna's).
    let chatter = json!({"type": "message", "channel": CHANNEL, "user": ANNA, "text": "thanks!",
                         "ts": ts(), "thread_ts": at, "parent_user_id": ANNA, "channel_type": "channel"});
    assert_eq!(s.event(chatter, None).await, 200);
    // Free text in a mention without a model: what the bot can do, in the thread.
    let second = ts();
    assert_eq!(
        s.event(mention(ANNA, CHANNEL, &second, "what can you do?"), None)
            .await,
        200
    );
    let offline = s
        .fake
        .wait_message(WAIT, CHANNEL, |m| m.thread_ts.as_deref() == Some(second.as_str()))
        .await;
    assert!(
        offline.text.contains("/coord help lists the commands"),
        "{}",
        offline.text
    );
    assert!(offline.text.contains("\n/coord tasks mine\n"), "{}", offline.text);
    let inbox = s.app.store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!(inbox.pending + inbox.processing + inbox.done + inbox.dead, 2);
}

/// Slack writes "@Marta" in a message as `<@U0MARTA01>`: a linked teammate is their handle.
async fn a_teammates_mention_is_read_as_their_handle(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let at = ts();
    let text = format!("/newtask Call the printer <@{MARTA}> due tomorrow");
    assert_eq!(s.event(mention(ANNA, CHANNEL, &at, &text), None).await, 200);
    let reply = s.fake.wait_message(WAIT, CHANNEL, |_| true).await;
    assert!(
        reply.text.starts_with("Created #1: Call the printer, for @marta"),
        "{}",
        reply.text
    );
    assert_eq!(tasks(&s).await[0]["assigned_to"], "marta");
    // Someone nobody linked is not guessed at: the command says so and makes nothing.
    let second = ts();
    let text = format!("/newtask Book the van <@{STRANGER}>");
    assert_eq!(s.event(mention(ANNA, CHANNEL, &second, &text), None).await, 200);
    let refused = s
        .fake
        .wait_message(WAIT, CHANNEL, |m| m.thread_ts.as_deref() == Some(second.as_str()))
        .await;
    let expected = format!("nobody has the handle '{}'", STRANGER.to_lowercase());
    assert!(refused.text.contains(&expected), "{}", refused.text);
    assert_eq!(tasks(&s).await.len(), 1);
}

async fn forged_or_stale_signatures_are_refused_and_nothing_is_stored(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let body = callback(dm(ANNA, &ts(), "/tasks")).to_string();
    let now = chrono::Utc::now().timestamp();
    let json = "application/json";
    let (forged, answer) = s.post_signed(&body, json, now, "not-the-secret", &[]).await;
    assert_eq!(forged, 401);
    let error: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(error["error"]["code"], "unauthorized");
    assert_eq!(
        s.post_signed(&body, json, now - 301, SIGNING_SECRET, &[]).await.0,
        401
    );
    assert_eq!(
        s.post_signed(&body, json, now + 600, SIGNING_SECRET, &[]).await.0,
        401
    );
    let unsigned = s
        .app
        .client
        .post(format!("{}/webhooks/slack", s.app.base))
        .header("content-type", json)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    // Signed, but the body was changed on the way.
    let signed = coordinator::channels::slack::signature::Verifier::new(coordinator::config::Secret::new(
        SIGNING_SECRET,
    ))
    .sign(&now.to_string(), body.as_bytes());
    let tampered = s
        .app
        .client
        .post(format!("{}/webhooks/slack", s.app.base))
        .header("content-type", json)
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", signed)
        .body(body.replace("/tasks", "/done 1"))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status().as_u16(), 401);
    let inbox = s.app.store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!(inbox.pending + inbox.processing + inbox.done + inbox.dead, 0);
    assert!(s.fake.calls().is_empty());
    // Within five minutes, correctly signed: taken.
    assert_eq!(
        s.post_signed(&body, json, now - 240, SIGNING_SECRET, &[]).await.0,
        200
    );
}

async fn a_retried_event_counts_once(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let at = ts();
    let event = mention(ANNA, CHANNEL, &at, "/newtask Order the banners");
    assert_eq!(s.event(event.clone(), None).await, 200);
    // Slack did not see our 200 in time and retries; with message.channels subscribed too, the
    // same message also arrives as a plain `message`.
    assert_eq!(s.event(event.clone(), Some(1)).await, 200);
    assert_eq!(s.event(event.clone(), Some(2)).await, 200);
    let mut as_message = event;
    as_message["type"] = json!("message");
    as_message["channel_type"] = json!("channel");
    assert_eq!(s.event(as_message, None).await, 200);
    s.fake
        .wait_message(WAIT, CHANNEL, |m| m.text.starts_with("Created #"))
        .await;
    crate::scheduler::wait_until(|| async {
        let counts = s.app.store.queue_counts(Queue::Outbox).await.unwrap();
        let inbox = s.app.store.queue_counts(Queue::Inbox).await.unwrap();
        counts.pending + counts.processing + inbox.pending + inbox.processing == 0
    })
    .await;
    assert_eq!(tasks(&s).await.len(), 1);
    assert_eq!(s.fake.calls_to("chat.postMessage").len(), 1);
    let inbox = s.app.store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!(inbox.done, 1);
}

async fn the_endpoint_check_gets_its_challenge(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let body = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                      "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                      "type": "url_verification"})
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let (status, answer) = s
        .post_signed(&body, "application/json", now, SIGNING_SECRET, &[])
        .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    // Even the check must be signed.
    assert_eq!(
        s.post_signed(&body, "application/json", now, "wrong", &[])
            .await
            .0,
        401
    );
    // What cannot be used is acknowledged, not refused.
    let (status, _) = s
        .post_signed("{not json", "application/json", now, SIGNING_SECRET, &[])
        .await;
    assert_eq!(status, 200);
}

async fn a_voice_clip_is_heard_as_a_command(db: Db) {
    let ai = FakeOpenAi::start().await;
    ai.set_transcript("/newtask Call the printer");
    let fake_key = [
        ("OPENAI_API_KEY", "test-key"),
        ("OPENAI_BASE_URL", ai.base_url.as_str()),
    ];
    let s = start(db, Via::Webhook, &fake_key).await;
    s.fake.add_file(
        "F0AUDIO01",
        "audio/webm",
        b"\x1aE\xdf\xa3 fake webm audio".to_vec(),
    );
    let at = ts();
    let clip = json!({
        "type": "message", "subtype": "file_share", "channel": DM, "user": ANNA, "text": "",
        "ts": at, "channel_type": "im", "upload": false, "display_as_bot": false,
        "files": [{"id": "F0AUDIO01", "name": "audio_message.webm", "mimetype": "audio/webm",
                   "filetype": "webm", "subtype": "slack_audio", "size": 27, "duration_ms": 2100,
                   "url_private_download": "https://files.slack.com/files-pri/T0-F0AUDIO01/download/audio_message.webm"}]
    });
    assert_eq!(s.event(clip, None).await, 200);
    let reply = s.fake.wait_message(WAIT, DM, |_| true).await;
    assert!(reply.text.contains("Call the printer"), "{}", reply.text);
    assert_eq!(tasks(&s).await[0]["title"], "Call the printer");
    assert_eq!(ai.transcription_requests(), 1);
    // The file came with the bot token, after files.info named it.
    let download = &s.fake.calls_to("file:F0AUDIO01")[0];
    assert_eq!(
        download.authorization.as_deref(),
        Some(format!("Bearer {}", crate::fake_slack::BOT_TOKEN).as_str())
    );
}
