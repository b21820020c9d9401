//! Buttons (`block_actions`): a press is acknowledged at once, acted on as the presser, the
//! presser hears privately, and the message it was on is updated (`chat.update`) with what the
//! press did.

use std::sync::Arc;

use coordinator::domain::Channel;
use coordinator::message::{Button, OutboundMessage};
use coordinator::outbox::OutboxWriter;
use coordinator::scheduler::Policies;
use coordinator::workspace::{Actor, Proposal};
use serde_json::json;

use super::{start, Via, ANNA, CHANNEL, STRANGER, WAIT};
use crate::helpers::{both_dbs, Db};
use crate::scheduler::{at, scheduler, task};

both_dbs!(
    approve_updates_the_message_and_carries_out_the_proposal,
    acknowledge_stops_an_escalation_and_updates_it,
);

fn outbox(app: &crate::helpers::TestApp) -> OutboxWriter {
    OutboxWriter::new(app.store.clone(), Arc::new(tokio::sync::Notify::new()))
}

async fn approve_updates_the_message_and_carries_out_the_proposal(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let id = task(&s.app, json!({"title": "Old mock-ups"})).await;
    let action = s
        .app
        .workspace
        .propose_action(
            &Actor::system("test"),
            Proposal::DeleteTask { task_id: id },
            "superseded",
            None,
        )
        .await
        .unwrap();
    let mut proposal = OutboundMessage::text(
        Channel::Slack,
        CHANNEL,
        format!("Proposed (#{}): {} <!channel>", action.id, action.summary),
    );
    proposal.buttons = vec![
        Button {
            label: format!("Approve #{}", action.id),
            data: format!("approve:{}", action.id),
        },
        Button {
            label: format!("Reject #{}", action.id),
            data: format!("reject:{}", action.id),
        },
    ];
    outbox(&s.app).enqueue(&proposal, None).await.unwrap();
    let posted = s.fake.wait_message(WAIT, CHANNEL, |_| true).await;
    assert_eq!(
        posted.button_values(),
        [format!("approve:{}", action.id), format!("reject:{}", action.id)]
    );
    // What the message says cannot ping the channel.
    assert!(posted.text.ends_with("&lt;!channel&gt;"), "{}", posted.text);

    // Someone with no identity here presses first: told privately, nothing else happens.
    assert_eq!(
        s.press(STRANGER, &posted, &format!("approve:{}", action.id))
            .await,
        200
    );
    let refused = s.fake.wait_responses(WAIT, 1).await;
    assert!(
        refused[0].body["text"]
            .as_str()
            .unwrap()
            .starts_with("I don't know you yet"),
        "{:?}",
        refused[0].body
    );
    assert_eq!(refused[0].body["response_type"], "ephemeral");
    assert_eq!(s.app.get(&format!("/api/tasks/{id}")).await.status, 200);
    assert!(s.fake.calls_to("chat.update").is_empty());
    let started = std::time::Instant::now();
    assert_eq!(
        s.press(ANNA, &posted, &format!("approve:{}", action.id)).await,
        200
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let updated = s
        .fake
        .wait_message(WAIT, CHANNEL, |m| {
            m.ts == posted.ts && m.block_text().contains(&format!("Approved #{}", action.id))
        })
        .await;
    assert!(
        updated.block_text().contains("Old mock-ups"),
        "{}",
        updated.block_text()
    );
    assert_eq!(updated.blocks[1]["type"], "context");
    assert_eq!(s.app.get(&format!("/api/tasks/{id}")).await.status, 404);
    // The presser also hears privately, through the press's response URL.
    let notes = s
        .fake
        .wait(
            WAIT,
            |f| f.responses(),
            |r| {
                r.iter()
                    .any(|r| r.body["text"].as_str().unwrap_or_default().contains("Approved"))
            },
        )
        .await;
    let note = notes
        .iter()
        .find(|r| r.body["text"].as_str().unwrap_or_default().contains("Approved"))
        .unwrap();
    assert_eq!(note.body["response_type"], "ephemeral");
    assert_eq!(note.body["replace_original"], false);
    let update = &s.fake.calls_to("chat.update");
    assert!(!update.is_empty());
    assert_eq!(update[0].body["channel"], CHANNEL);
}

async fn acknowledge_stops_an_escalation_and_updates_it(db: Db) {
    let s = start(db, Via::Webhook, &[("COORDINATOR_SCHEDULER_TICK", "1h")]).await;
    let id = task(
        &s.app,
        json!({"title": "Send the invoice", "assigned_to": "anna", "due_date": "2030-01-10T10:00:00Z"}),
    )
    .await;
    let sweep = scheduler(&s.app, Policies::default());
    let run = sweep.run_once(at("2030-01-11T10:00:00Z")).await.unwrap();
    assert_eq!(run.escalation_steps, 1);
    // Anna's Slack identity is where the escalation reaches her (Slack posts to a user id as a
    // direct message from the app).
    let escalation = s
        .fake
        .wait_message(WAIT, ANNA, |m| m.text.starts_with("Escalation (step 1)"))
        .await;
    assert!(
        escalation.button_values().contains(&format!("ack:{id}")),
        "{:?}",
        escalation.blocks
    );
    assert_eq!(s.press(ANNA, &escalation, &format!("ack:{id}")).await, 200);
    let updated = s
        .fake
        .wait_message(WAIT, ANNA, |m| m.ts == escalation.ts && m.updates > 0)
        .await;
    assert!(
        updated
            .block_text()
            .contains(&format!("Acknowledged: the escalation of #{id} stops here.")),
        "{}",
        updated.block_text()
    );
    // Acknowledged: the ladder does not climb.
    let later = sweep.run_once(at("2030-01-13T10:00:00Z")).await.unwrap();
    assert_eq!(later.escalation_steps, 0);
}
