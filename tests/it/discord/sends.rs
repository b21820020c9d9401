//! Discord out through the outbox: escalations to channels and direct messages, rate limits,
//! and the slash-command registration.

use std::time::Duration;

use coordinator::domain::Channel;
use coordinator::message::{Button, OutboundMessage};
use serde_json::json;

use super::{outbox, start, ANNA, CHANNEL, WAIT};
use crate::fake_discord::{snowflake_at, Failure, FakeDiscord, Msg, APP_ID, GUILD_ID, TOKEN};
use crate::helpers::{both_dbs, Db};

both_dbs!(
    escalations_reach_channels_and_direct_messages,
    rate_limits_are_honoured,
    registration_is_idempotent,
    a_send_whose_answer_was_lost_is_shown_once,
);

async fn escalations_reach_channels_and_direct_messages(db: Db) {
    let d = start(db, &[]).await;
    let mut escalation =
        OutboundMessage::text(Channel::Discord, CHANNEL, "Task #7 is 2 days overdue @everyone");
    escalation.buttons = vec![
        Button {
            label: "Acknowledge".into(),
            data: "ack:7".into(),
        },
        Button {
            label: "Snooze 1 h".into(),
            data: "snooze:7:1h".into(),
        },
    ];
    outbox(&d.app)
        .enqueue(&escalation, Some("esc:7:1".into()))
        .await
        .unwrap();
    let sent = d
        .fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.channel_id == CHANNEL))
        .await;
    let msg = sent.iter().find(|m| m.channel_id == CHANNEL).unwrap();
    assert_eq!(msg.content, "Task #7 is 2 days overdue @everyone");
    assert_eq!(msg.custom_ids(), vec!["ack:7", "snooze:7:1h"]);
    assert_eq!(msg.allowed_mentions, Some(json!({"parse": []})));
    let call = &d.fake.calls_to(&format!("POST /channels/{CHANNEL}/messages"))[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );

    // To a person: `user:ID`, and a bare user id (Unknown Channel, then the DM).
    d.fake.add_user(ANNA);
    outbox(&d.app)
        .enqueue(
            &OutboundMessage::text(Channel::Discord, format!("user:{ANNA}"), "Reminder one"),
            None,
        )
        .await
        .unwrap();
    outbox(&d.app)
        .enqueue(
            &OutboundMessage::text(Channel::Discord, ANNA, "Reminder two"),
            None,
        )
        .await
        .unwrap();
    let sent = d
        .fake
        .wait_for(WAIT, |m| {
            m.iter().filter(|m| m.content.starts_with("Reminder")).count() == 2
        })
        .await;
    let dms: Vec<&Msg> = sent
        .iter()
        .filter(|m| m.content.starts_with("Reminder"))
        .collect();
    assert_eq!(dms.len(), 2);
    assert!(dms
        .iter()
        .all(|m| m.channel_id == dms[0].channel_id && m.channel_id != ANNA));
    assert_eq!(
        d.fake.calls_to("POST /users/@me/channels")[0].body,
        json!({"recipient_id": ANNA})
    );

    // The chat of a task created by slash command an hour ago: its token is stale, so the
    // channel gets it.
    let old = format!(
        "{CHANNEL}:{}:expired-token",
        snowflake_at(chrono::Utc::now() - chrono::Duration::hours(1))
    );
    outbox(&d.app)
        .enqueue(
            &OutboundMessage::text(Channel::Discord, old, "Task #1 is overdue"),
            None,
        )
        .await
        .unwrap();
    let sent = d
        .fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.content == "Task #1 is overdue"))
        .await;
    let late = sent.iter().find(|m| m.content == "Task #1 is overdue").unwrap();
    assert_eq!(
        (late.channel_id.as_str(), late.via_interaction.is_none()),
        (CHANNEL, true)
    );
    // The same with today's form (the token kept apart): a recent interaction whose token is
    // not known goes to the channel as well.
    let unknown = format!("{CHANNEL}:{}", crate::fake_discord::snowflake());
    outbox(&d.app)
        .enqueue(
            &OutboundMessage::text(Channel::Discord, unknown, "Task #2 is overdue"),
            None,
        )
        .await
        .unwrap();
    let sent = d
        .fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.content == "Task #2 is overdue"))
        .await;
    let late = sent.iter().find(|m| m.content == "Task #2 is overdue").unwrap();
    assert_eq!(
        (late.channel_id.as_str(), late.via_interaction.is_none()),
        (CHANNEL, true)
    );
}

async fn rate_limits_are_honoured(db: Db) {
    let d = start(db, &[]).await;
    let path = format!("/channels/{CHANNEL}/messages");
    // Longer than the outbox's own pace for one chat (one message a second).
    d.fake.fail_next(
        "POST",
        &path,
        vec![Failure::RateLimited {
            retry_after: 1.5,
            global: false,
        }],
    );
    outbox(&d.app)
        .enqueue(
            &OutboundMessage::text(Channel::Discord, CHANNEL, "after the wait"),
            None,
        )
        .await
        .unwrap();
    d.fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.content == "after the wait"))
        .await;
    let calls = d.fake.calls_to(&format!("POST {path}"));
    assert_eq!(calls.len(), 2, "one 429, then one success");
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(1500));

    // An empty bucket (X-RateLimit-Remaining: 0) holds the next send back until it refills,
    // without another request.
    d.fake.empty_bucket_next("POST", &path, 2.5);
    let other = "1000000000000000077";
    for (chat, text) in [(CHANNEL, "first"), (CHANNEL, "second")] {
        outbox(&d.app)
            .enqueue(&OutboundMessage::text(Channel::Discord, chat, text), None)
            .await
            .unwrap();
    }
    outbox(&d.app)
        .enqueue(&OutboundMessage::text(Channel::Discord, other, "elsewhere"), None)
        .await
        .unwrap();
    d.fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.content == "second"))
        .await;
    let calls = d.fake.calls_to(&format!("POST {path}"));
    assert_eq!(calls.len(), 4, "no request was spent on the empty bucket");
    assert!(calls[3].at - calls[2].at >= Duration::from_millis(2500));
    assert!(d.fake.messages().iter().any(|m| m.content == "elsewhere"));
    let metrics = d.app.metrics().await;
    assert!(
        metrics.contains("outbox_rate_limited_total{channel=\"discord\"}"),
        "{metrics}"
    );
}

async fn registration_is_idempotent(db: Db) {
    let d = start(db, &[]).await;
    let registered = |fake: &FakeDiscord| {
        let mut names: Vec<String> = fake
            .commands(None)
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    // At start: read, found nothing, wrote them all.
    for _ in 0..500 {
        if !d.fake.calls_to("PUT /applications").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut menu: Vec<&str> = coordinator::conversation::commands::menu()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    menu.sort_unstable();
    assert_eq!(registered(&d.fake), menu);
    for name in ["newtask", "claim", "invite", "project", "projects"] {
        assert!(menu.contains(&name), "{name} is not in {menu:?}");
    }
    let newtask = d
        .fake
        .commands(None)
        .into_iter()
        .find(|c| c["name"] == "newtask")
        .unwrap();
    let options: Vec<&str> = newtask["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["title", "assignee", "due", "priority", "every", "file"]);

    // The CLI: again and again, nothing to write.
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_owned();
    let api_url = d.fake.api_url.clone();
    let run = move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_coordinator"))
            .args(["discord", "register"])
            .current_dir(&dir_path)
            .env_clear()
            .env("DISCORD_TOKEN", TOKEN)
            .env("DISCORD_APPLICATION_ID", APP_ID)
            .env("DISCORD_API_URL", &api_url)
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        let out = tokio::task::spawn_blocking(run.clone()).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("up to date"), "{stdout}");
        // No DISCORD_PUBLIC_KEY: the gateway answers them.
        assert!(
            stdout.contains("answered through gateway interactions"),
            "{stdout}"
        );
    }
    assert_eq!(d.fake.calls_to("PUT /applications").len(), 1);
    // With the public key the endpoint answers them; without DISCORD_APPLICATION_ID the bot's
    // application is asked of Discord.
    let public_key = hex::encode(super::key().verifying_key().to_bytes());
    let (dir_path, api_url) = (dir.path().to_owned(), d.fake.api_url.clone());
    let register = move |settings: Vec<(&'static str, String)>| {
        let (dir_path, api_url) = (dir_path.clone(), api_url.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_coordinator"))
                .args(["discord", "register"])
                .current_dir(&dir_path)
                .env_clear()
                .env("DISCORD_TOKEN", TOKEN)
                .env("DISCORD_API_URL", &api_url)
                .envs(settings)
                .output()
                .unwrap()
        })
    };
    let out = register(vec![
        ("DISCORD_PUBLIC_KEY", public_key),
        ("DISCORD_APPLICATION_ID", APP_ID.to_owned()),
    ])
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("up to date") && stdout.contains("the HTTP interactions endpoint"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = register(Vec::new()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    assert_eq!(d.fake.calls_to("GET /applications/@me").len(), 1);
    // Someone deleted a command: the next run puts it back.
    d.fake.delete_command(None, "ask");
    let out = tokio::task::spawn_blocking(run).await.unwrap();
    let all = coordinator::conversation::commands::menu().len();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("registered {all}")),
        "{out:?}"
    );
    assert_eq!(registered(&d.fake).len(), all);

    // Without the token the CLI names the setting and exits 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(["discord", "register"])
        .current_dir(dir.path())
        .env_clear()
        .env("DISCORD_APPLICATION_ID", APP_ID)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DISCORD_TOKEN"));

    // Per server with DISCORD_GUILD_ID.
    let guild = start(db, &[("DISCORD_GUILD_ID", GUILD_ID)]).await;
    for _ in 0..500 {
        if !guild.fake.commands(Some(GUILD_ID)).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(guild.fake.commands(Some(GUILD_ID)).len(), all);
    assert!(guild.fake.commands(None).is_empty());
}

/// Discord creates the message but its answer is lost (a 500 comes back): the outbox tries
/// again with the same nonce and `enforce_nonce`, and Discord answers with the message it
/// already made. One message in the channel.
async fn a_send_whose_answer_was_lost_is_shown_once(db: Db) {
    let d = start(db, &[]).await;
    let path = format!("/channels/{CHANNEL}/messages");
    d.fake.fail_next("POST", &path, vec![Failure::AnswerLost]);
    let message = OutboundMessage::text(Channel::Discord, CHANNEL, "Standup moves to ten");
    outbox(&d.app)
        .enqueue(&message, Some("standup:1".into()))
        .await
        .unwrap();
    let mut rows = Vec::new();
    for _ in 0..300 {
        rows = d.app.store.outbox_for_chat("discord", CHANNEL).await.unwrap();
        if rows.first().is_some_and(|r| r.0 == "done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "done", "{rows:?}");
    let calls = d.fake.calls_to(&format!("POST {path}"));
    assert_eq!(calls.len(), 2, "tried once, then once more after the 500");
    assert_eq!(calls[0].body["nonce"], calls[1].body["nonce"]);
    assert_eq!(calls[1].body["enforce_nonce"], json!(true));
    let shown: Vec<Msg> = d
        .fake
        .messages()
        .into_iter()
        .filter(|m| m.content == "Standup moves to ten")
        .collect();
    assert_eq!(shown.len(), 1, "the message was posted twice");
    assert_eq!(rows[0].2.as_deref(), Some(shown[0].id.as_str()));
}
