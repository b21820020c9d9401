//! The gateway: mentions and direct messages reach the conversation; one replica holds it.

use std::time::Duration;

use serde_json::json;

use super::{gateway_message, start, ANNA, CHANNEL, WAIT};
use crate::fake_discord::{FakeDiscord, BOT_ID, TOKEN};
use crate::helpers::{both_dbs, Db};

both_dbs!(gateway_mentions_reach_the_conversation,);

async fn gateway_mentions_reach_the_conversation(db: Db) {
    let d = start(db, &[]).await;
    let identified = d.fake.wait_for_identify(WAIT).await;
    assert!(identified[0]["token"].as_str().unwrap().ends_with(TOKEN));
    // GUILD_MESSAGES | DIRECT_MESSAGES, no privileged intent.
    assert_eq!(identified[0]["intents"], json!((1 << 9) | (1 << 12)));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let bot =
        json!({"id": BOT_ID, "username": "coordinator", "discriminator": "0", "avatar": null, "bot": true});
    d.fake.dispatch(
        "MESSAGE_CREATE",
        gateway_message("lunch anyone?", true, json!([])),
    );
    let mention = gateway_message(
        &format!("<@{BOT_ID}> /newtask From the gateway !urgent"),
        true,
        json!([bot]),
    );
    d.fake.dispatch("MESSAGE_CREATE", mention.clone());
    let sent = d
        .fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.content.starts_with("Created #1")))
        .await;
    let reply = sent.iter().find(|m| m.content.starts_with("Created #1")).unwrap();
    assert_eq!(reply.channel_id, CHANNEL);
    assert_eq!(
        reply.message_reference.as_ref().unwrap()["message_id"],
        mention["id"]
    );
    assert_eq!(d.app.get("/api/tasks/1").await.body["priority"], "urgent");

    d.fake
        .dispatch("MESSAGE_CREATE", gateway_message("/tasks", false, json!([])));
    let sent = d
        .fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.channel_id == "1000000000000000099"))
        .await;
    let dm = sent
        .iter()
        .find(|m| m.channel_id == "1000000000000000099")
        .unwrap();
    assert!(dm.content.contains("From the gateway"), "{}", dm.content);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Chatter that did not address the bot got no answer.
    assert_eq!(d.fake.messages().len(), 2);

    // A mentioned user linked to a person is their handle, not their Discord username.
    let bot =
        json!({"id": BOT_ID, "username": "coordinator", "discriminator": "0", "avatar": null, "bot": true});
    let anna = json!({"id": ANNA, "username": "anna_k_1987", "discriminator": "0", "avatar": null});
    let assigning = gateway_message(
        &format!("<@{BOT_ID}> /newtask Check the gateway <@{ANNA}>"),
        true,
        json!([bot, anna]),
    );
    d.fake.dispatch("MESSAGE_CREATE", assigning);
    d.fake
        .wait_for(WAIT, |m| m.iter().any(|m| m.content.starts_with("Created #2")))
        .await;
    assert_eq!(d.app.get("/api/tasks/2").await.body["assigned_to"], "anna");
}

/// Two replicas on one PostgreSQL database: one holds the gateway; when it stops, the other
/// takes over.
#[tokio::test]
async fn one_replica_holds_the_gateway() {
    if !crate::helpers::postgres_ready().await {
        return;
    }
    let fake = FakeDiscord::start().await;
    let (url, dir) = crate::helpers::fresh_database(Db::Postgres).await;
    let replica = |n: usize| {
        let data_dir = dir.path().join(format!("data{n}")).display().to_string();
        let settings = coordinator::config::Settings::with(&[
            ("DATABASE_URL", url.as_str()),
            ("COORDINATOR_DATA_DIR", data_dir.as_str()),
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_URL", fake.api_url.as_str()),
        ])
        .unwrap();
        async move {
            let app = coordinator::app::App::build(settings).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let stop = tokio_util::sync::CancellationToken::new();
            let task = tokio::spawn(app.run_until_stopped(listener, stop.clone()));
            (stop, task)
        }
    };
    // The first replica connects before the second starts, so that it is the one holding the
    // lock (started together, either may win it, and stopping the first would prove nothing).
    let (first, first_task) = replica(1).await;
    assert_eq!(
        fake.wait_for_identify(WAIT).await.len(),
        1,
        "the first replica connects"
    );
    let (second, _second_task) = replica(2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.identifies().len(), 1, "only one replica connects");
    first.cancel();
    let _ = first_task.await;
    // The other replica asks for the lock every `LEASE_RETRY` (5 s) and then connects; with the
    // whole suite sharing two cores and one PostgreSQL server that can take several rounds, so
    // it gets longer than a reply does. It fails only if the takeover never comes.
    let deadline = std::time::Instant::now() + 4 * WAIT;
    while fake.identifies().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.identifies().len(), 2, "the other replica took over");
    second.cancel();
}
