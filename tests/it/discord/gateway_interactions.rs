//! Slash commands and buttons over the gateway, with only a bot token: no public URL, no
//! interactions endpoint. `INTERACTION_CREATE` is stored, acknowledged through the callback
//! route with a deferred response, handled, and answered through the interaction's webhook.

use std::time::Duration;

use serde_json::{json, Value};

use super::{interaction, press, slash, start_as, string, Setup, ANNA, CHANNEL, WAIT};
use crate::fake_discord::{APP_ID, EPHEMERAL, TOKEN};
use crate::helpers::{both_dbs, Db};

both_dbs!(
    slash_commands_and_buttons_work_over_the_gateway,
    a_duplicate_dispatch_has_one_effect,
);

/// Waits until `n` callbacks were made for `interaction`.
async fn callbacks(d: &super::Discord, interaction: &Value, n: usize) -> Vec<crate::fake_discord::Call> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let calls = d.fake.callbacks(interaction);
        if calls.len() >= n || std::time::Instant::now() >= deadline {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn slash_commands_and_buttons_work_over_the_gateway(db: Db) {
    let d = start_as(db, Setup::BotTokenOnly, &[]).await;
    d.fake.wait_for_identify(WAIT).await;

    // The commands are registered, for the application the bot token belongs to.
    let deadline = std::time::Instant::now() + WAIT;
    while d.fake.commands(None).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One slash command per command of the menu (Telegram's too), team and projects included.
    let menu = coordinator::conversation::commands::menu();
    assert_eq!(d.fake.commands(None).len(), menu.len());
    assert_eq!(d.fake.calls_to("GET /applications/@me").len(), 1);

    let new = slash(
        ANNA,
        "newtask",
        json!([string("title", "Gateway task"), string("priority", "high")]),
    );
    d.fake.dispatch_interaction(&new);
    let reply = d.answer_to(&new).await;
    assert!(
        reply.content.starts_with("Created #1: Gateway task"),
        "{}",
        reply.content
    );
    assert_eq!(reply.custom_ids(), vec!["done:1"]);
    assert_eq!(reply.channel_id, CHANNEL);

    // Acknowledged once, deferred, without the bot token.
    let acks = d.fake.callbacks(&new);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].body, json!({"type": 5}));
    assert!(acks[0].authorization.is_none());
    let token = new["token"].as_str().unwrap();
    assert_eq!(
        acks[0].path,
        format!("/interactions/{}/{token}/callback", new["id"].as_str().unwrap())
    );
    // The "thinking" message was replaced through the webhook, as the bot's application.
    let patches = d
        .fake
        .calls_to(&format!("PATCH /webhooks/{APP_ID}/{token}/messages/@original"));
    assert_eq!(patches.len(), 1);
    assert!(patches[0].authorization.is_none());
    let task = d.app.get("/api/tasks/1").await.body;
    assert_eq!(
        (task["title"].as_str(), task["priority"].as_str()),
        (Some("Gateway task"), Some("high"))
    );

    // The ephemeral answers stay ephemeral.
    let help = slash(ANNA, "help", json!([]));
    d.fake.dispatch_interaction(&help);
    let answer = d.answer_to(&help).await;
    assert!(answer.content.starts_with("Commands:"));
    assert_eq!(answer.flags & EPHEMERAL, EPHEMERAL);
    assert_eq!(
        d.fake.callbacks(&help)[0].body,
        json!({"type": 5, "data": {"flags": EPHEMERAL}})
    );

    // A button press: deferred update, a notice for the presser, the chat's answer.
    let pressed = press(ANNA, &reply, "done:1");
    d.fake.dispatch_interaction(&pressed);
    let answers = d.answers_via(&pressed, 2).await;
    assert_eq!(d.fake.callbacks(&pressed)[0].body, json!({"type": 6}));
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].flags & EPHEMERAL, EPHEMERAL);
    assert_eq!(answers[0].content, "Done: #1 Gateway task");
    assert_eq!(answers[1].content, "Done: #1 Gateway task");
    assert_eq!(d.app.get("/api/tasks/1").await.body["status"], "done");

    // Autocomplete is answered at once, with nothing stored.
    let mut autocomplete = interaction(
        4,
        ANNA,
        json!({"id": "1", "name": "newtask", "type": 1,
               "options": [{"type": 3, "name": "title", "value": "Ga", "focused": true}]}),
    );
    autocomplete["data"]["id"] = json!(crate::fake_discord::snowflake());
    d.fake.dispatch_interaction(&autocomplete);
    let acks = callbacks(&d, &autocomplete, 1).await;
    assert_eq!(acks[0].body, json!({"type": 8, "data": {"choices": []}}));

    // The token is a credential: it is in no chat id, history row or status the API shows.
    let visible = d.visible_records().await;
    for interaction in [&new, &help, &pressed] {
        let token = interaction["token"].as_str().unwrap();
        assert!(!visible.contains(token), "a token shows in {visible}");
    }
    assert!(
        visible.contains(&format!("{CHANNEL}:{}", new["id"].as_str().unwrap())),
        "{visible}"
    );
    // The answers went through the interaction's own credential, never as the bot.
    let answers: Vec<_> = d
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.path.starts_with("/interactions/") || c.path.starts_with("/webhooks/"))
        .collect();
    assert!(answers.len() >= 6, "{answers:?}");
    assert!(answers.iter().all(|c| c.authorization.is_none()), "{answers:?}");
    assert!(
        d.fake.calls_to("GET /gateway/bot")[0].authorization.as_deref()
            == Some(format!("Bot {TOKEN}").as_str())
    );
}

async fn a_duplicate_dispatch_has_one_effect(db: Db) {
    let d = start_as(db, Setup::BotTokenOnly, &[]).await;
    d.fake.wait_for_identify(WAIT).await;
    let new = slash(ANNA, "newtask", json!([string("title", "Only once")]));
    d.fake.dispatch_interaction(&new);
    d.answer_to(&new).await;
    // The same event again (as after a resumed session): stored once, acknowledged once.
    d.fake.dispatch_interaction(&new);
    let acks = callbacks(&d, &new, 2).await;
    assert_eq!(acks.len(), 2, "the second dispatch was acknowledged too");
    // Storing comes before the acknowledgement: by now the duplicate has been refused.
    assert_eq!(d.tasks().await.len(), 1);
    let inbox = d.app.get("/integrations/history?direction=in").await.body;
    assert_eq!(inbox.as_array().map(Vec::len), Some(1), "{inbox}");
    assert_eq!(d.fake.calls_to("PATCH /webhooks").len(), 1);
    assert!(d.fake.calls_to("POST /webhooks").is_empty());
}
