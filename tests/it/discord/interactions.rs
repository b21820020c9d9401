//! The interactions endpoint: signatures, PING, slash commands and their deferred answers,
//! ephemeral answers, buttons and redeliveries.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;

use super::{integer, key, post_signed, press, slash, start, string, user, ANNA, STRANGER, WAIT};
use crate::fake_discord::{Msg, EPHEMERAL};
use crate::helpers::{both_dbs, Db};

both_dbs!(
    ping_pong_and_forged_signatures,
    slash_commands_create_and_change_tasks,
    a_person_picked_from_discords_list_is_their_handle,
    private_answers_are_ephemeral_and_link_works,
    buttons_work,
    redelivered_interaction_has_one_effect,
);

async fn ping_pong_and_forged_signatures(db: Db) {
    let d = start(db, &[]).await;
    let (status, answer) = post_signed(
        &d.app,
        r#"{"type":1,"id":"1","application_id":"1","token":"t","version":1}"#,
        &key(),
    )
    .await;
    assert_eq!((status, answer), (200, json!({"type": 1})));

    let command = slash(ANNA, "newtask", json!([string("title", "Forged")])).to_string();
    // Another key, as Discord's own probes do.
    let (status, answer) = post_signed(&d.app, &command, &SigningKey::from_bytes(&[8u8; 32])).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["code"], "unauthorized");
    // A signature over a different body.
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let other = hex::encode(key().sign(format!("{timestamp}{{}}").as_bytes()).to_bytes());
    for (signature, ts) in [
        (Some(other.as_str()), Some(timestamp.as_str())),
        (None, None),
        (Some("00"), Some("1")),
    ] {
        let mut request = d
            .app
            .client
            .post(format!("{}/webhooks/discord", d.app.base))
            .body(command.clone());
        if let (Some(signature), Some(ts)) = (signature, ts) {
            request = request
                .header("X-Signature-Ed25519", signature)
                .header("X-Signature-Timestamp", ts);
        }
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    // Signed but not JSON: a clear 400, never a 500.
    assert_eq!(post_signed(&d.app, "{not json", &key()).await.0, 400);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(d.tasks().await.is_empty());
    assert!(d.fake.calls_to("POST /webhooks").is_empty() && d.fake.calls_to("PATCH /webhooks").is_empty());
}

async fn slash_commands_create_and_change_tasks(db: Db) {
    let d = start(db, &[]).await;
    let new = slash(
        ANNA,
        "newtask",
        json!([
            string("title", "Write the brief"),
            string("assignee", "anna"),
            string("due", "2030-01-15"),
            string("priority", "high")
        ]),
    );
    let answer = d.interact(&new).await;
    // Deferred, visible to the channel.
    assert_eq!(answer, json!({"type": 5}));
    let reply = d.answer_to(&new).await;
    assert!(
        reply.content.starts_with("Created #1: Write the brief"),
        "{}",
        reply.content
    );
    assert!(
        reply.content.contains("Tue 15 Jan 23:59 (Europe/Berlin)"),
        "{}",
        reply.content
    );
    assert_eq!(reply.custom_ids(), vec!["done:1"]);
    assert_eq!(reply.flags, 0);
    // The "thinking" message was replaced, not followed up.
    assert_eq!(d.fake.calls_to("PATCH /webhooks").len(), 1);
    let patch = &d.fake.calls_to("PATCH /webhooks")[0];
    assert!(
        patch.authorization.is_none(),
        "interaction webhooks need no bot token"
    );
    assert_eq!(patch.body["allowed_mentions"], json!({"parse": []}));
    let tasks = d.tasks().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["assigned_to"], "anna");
    assert_eq!(tasks[0]["priority"], "high");

    let status = slash(
        ANNA,
        "status",
        json!([integer("id", 1), string("status", "in_progress")]),
    );
    d.interact(&status).await;
    assert_eq!(
        d.answer_to(&status).await.content,
        "#1 Write the brief is now in_progress."
    );

    let comment = slash(
        ANNA,
        "comment",
        json!([integer("id", 1), string("text", "Waiting for the client")]),
    );
    d.interact(&comment).await;
    assert_eq!(d.answer_to(&comment).await.content, "Comment added to #1.");
    let comments = d.app.get("/api/comments?task_id=1").await.body;
    assert_eq!(comments[0]["content"], "Waiting for the client");

    let list = slash(ANNA, "tasks", json!([]));
    d.interact(&list).await;
    assert!(d.answer_to(&list).await.content.contains("Write the brief"));

    let report = slash(ANNA, "report", json!([string("period", "weekly")]));
    d.interact(&report).await;
    assert!(d.answer_to(&report).await.content.contains("Open: 1"));

    let ask = slash(
        ANNA,
        "ask",
        json!([string("question", "What is our refund policy?")]),
    );
    d.interact(&ask).await;
    assert!(!d.answer_to(&ask).await.content.is_empty());

    let done = slash(ANNA, "done", json!([integer("id", 1)]));
    d.interact(&done).await;
    assert_eq!(d.answer_to(&done).await.content, "Done: #1 Write the brief");
    assert_eq!(d.app.get("/api/tasks/1").await.body["status"], "done");

    // Wrong use gets the usage line.
    let bad = slash(
        ANNA,
        "newtask",
        json!([string("title", "Party"), string("due", "someday maybe")]),
    );
    d.interact(&bad).await;
    assert!(d.answer_to(&bad).await.content.contains("Usage: /newtask"));
    assert_eq!(d.tasks().await.len(), 1);
}

/// The answer to `/newtask` with `options`, sent by Anna.
async fn newtask(d: &super::Discord, options: serde_json::Value) -> String {
    let new = slash(ANNA, "newtask", options);
    d.interact(&new).await;
    d.answer_to(&new).await.content
}

/// Discord writes a person picked with `@` in a text option as `<@ID>`: a linked person is
/// their handle (whatever their Discord username), anyone else is nobody we know.
async fn a_person_picked_from_discords_list_is_their_handle(db: Db) {
    let d = start(db, &[]).await;
    let bob = "80351110224678920";
    let person = d
        .app
        .post(
            "/api/people",
            json!({"handle": "robert", "name": "Bob", "identities": [{"channel": "discord", "external_id": bob}]}),
        )
        .await;
    assert_eq!(person.status, 201, "{}", person.body);
    let picked = format!("<@{bob}>");
    let reply = newtask(
        &d,
        json!([string("title", "Print the flyers"), string("assignee", &picked)]),
    )
    .await;
    assert!(
        reply.starts_with("Created #1: Print the flyers, for @robert"),
        "{reply}"
    );
    // Typed at the end of the title too, in the nickname form `<@!ID>`.
    let title = format!("Call the printer <@!{bob}>");
    let reply = newtask(&d, json!([string("title", &title)])).await;
    assert!(
        reply.starts_with("Created #2: Call the printer, for @robert"),
        "{reply}"
    );
    // Someone nobody linked: the command says so and makes nothing.
    let stranger = format!("<@{STRANGER}>");
    let reply = newtask(
        &d,
        json!([string("title", "Book the van"), string("assignee", &stranger)]),
    )
    .await;
    assert!(
        reply.contains(&format!("nobody has the handle '{STRANGER}'")),
        "{reply}"
    );
    assert_eq!(d.tasks().await.len(), 2);
}

async fn private_answers_are_ephemeral_and_link_works(db: Db) {
    let d = start(db, &[]).await;
    let help = slash(ANNA, "help", json!([]));
    assert_eq!(
        d.interact(&help).await,
        json!({"type": 5, "data": {"flags": EPHEMERAL}})
    );
    let reply = d.answer_to(&help).await;
    assert!(reply.content.starts_with("Commands:"));
    assert_eq!(reply.flags & EPHEMERAL, EPHEMERAL);

    let mine = slash(ANNA, "tasks", json!([string("list", "mine")]));
    assert_eq!(d.interact(&mine).await["data"]["flags"], EPHEMERAL);
    d.answer_to(&mine).await;

    // A stranger may not create tasks until linked.
    let mut denied = slash(STRANGER, "newtask", json!([string("title", "Sneaky")]));
    denied["member"]["user"] = user(STRANGER, "bob");
    d.interact(&denied).await;
    assert!(d.answer_to(&denied).await.content.to_lowercase().contains("link"));
    assert!(d.tasks().await.is_empty());

    d.app.person("bob", "member").await;
    let code = d.app.post("/api/people/bob/link-code", json!({})).await;
    let code = code.body["code"].as_str().unwrap().to_owned();
    let mut link = slash(STRANGER, "link", json!([string("code", &code)]));
    link["member"]["user"] = user(STRANGER, "bob");
    assert_eq!(d.interact(&link).await["data"]["flags"], EPHEMERAL);
    assert!(d.answer_to(&link).await.content.starts_with("Linked."));
    let bob = d.app.get("/api/people/bob").await.body;
    assert_eq!(
        bob["identities"][0],
        json!({"channel": "discord", "external_id": STRANGER})
    );
}

async fn buttons_work(db: Db) {
    let d = start(db, &[]).await;
    let new = slash(ANNA, "newtask", json!([string("title", "Ship it")]));
    d.interact(&new).await;
    let created = d.answer_to(&new).await;
    let id = created.custom_ids()[0].clone();

    let pressed = press(ANNA, &created, &id);
    assert_eq!(d.interact(&pressed).await, json!({"type": 6}));
    let token = pressed["token"].as_str().unwrap().to_owned();
    let messages = d
        .fake
        .wait_for(WAIT, |m| {
            m.iter()
                .filter(|m| m.via_interaction.as_deref() == Some(&token))
                .count()
                >= 2
        })
        .await;
    let answers: Vec<&Msg> = messages
        .iter()
        .filter(|m| m.via_interaction.as_deref() == Some(&token))
        .collect();
    // A notice for the presser, then the chat's answer; the button's own message is untouched.
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0].flags & EPHEMERAL, EPHEMERAL);
    assert_eq!(answers[0].content, "Done: #1 Ship it");
    assert_eq!(answers[1].flags, 0);
    assert_eq!(answers[1].content, "Done: #1 Ship it");
    let button_message = messages.iter().find(|m| m.id == created.id).unwrap();
    assert_eq!(button_message.content, created.content);
    assert_eq!(d.app.get("/api/tasks/1").await.body["status"], "done");

    let stale = press(ANNA, &created, "frobnicate:1");
    d.interact(&stale).await;
    assert_eq!(
        d.answer_to(&stale).await.content,
        "This button no longer does anything."
    );
}

async fn redelivered_interaction_has_one_effect(db: Db) {
    let d = start(db, &[]).await;
    let new = slash(ANNA, "newtask", json!([string("title", "Only once")]));
    d.fake.interaction_sent(&new);
    for n in 0..3 {
        let (status, answer) = post_signed(&d.app, &new.to_string(), &key()).await;
        assert_eq!((status, answer["type"].as_u64()), (200, Some(5)));
        if n == 0 {
            d.fake.interaction_answered(&new, &answer);
        }
    }
    d.answer_to(&new).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(d.tasks().await.len(), 1);
    assert_eq!(d.fake.calls_to("PATCH /webhooks").len(), 1);
    assert!(d.fake.calls_to("POST /webhooks").is_empty());
}
