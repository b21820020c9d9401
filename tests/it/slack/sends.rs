//! Slack out through the outbox: slash commands answered within Slack's three seconds with the
//! result through the response URL, a 429's `Retry-After` waited out, and a project's Slack
//! channel (`/coord project here`) hearing its escalations and reports.

use std::sync::Arc;
use std::time::Duration;

use coordinator::domain::Channel;
use coordinator::message::OutboundMessage;
use coordinator::outbox::OutboxWriter;
use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use serde_json::{json, Value};

use super::{start, Via, ANNA, CHANNEL, DM, STRANGER, WAIT};
use crate::helpers::{both_dbs, Db};
use crate::scheduler::at;

both_dbs!(
    a_slash_command_is_acknowledged_at_once_and_its_result_follows,
    a_rate_limited_send_waits_as_slack_asks_then_delivers,
    escalations_and_reports_reach_the_projects_channel,
    a_slack_user_is_linked_with_coord_link,
);

async fn a_slash_command_is_acknowledged_at_once_and_its_result_follows(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    let (status, ack, took) = s.slash(ANNA, CHANNEL, "newtask Print the flyers !high").await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3), "acknowledged after {took:?}");
    let ack: Value = serde_json::from_str(&ack).unwrap();
    assert_eq!(ack, json!({"response_type": "in_channel"}));
    let result = &s.fake.wait_responses(WAIT, 1).await[0];
    let text = result.body["text"].as_str().unwrap();
    assert!(text.starts_with("Created #1: Print the flyers"), "{text}");
    assert_eq!(result.body["response_type"], "in_channel");
    let task = s.app.get("/api/tasks/1").await;
    assert_eq!(task.body["priority"], "high");

    // Help is for the asker only, in a direct message too.
    let (status, ack, _) = s.slash(ANNA, DM, "").await;
    assert_eq!((status, ack.as_str()), (200, ""));
    let help = &s.fake.wait_responses(WAIT, 2).await[1];
    assert_eq!(help.body["response_type"], "ephemeral");
    // It names the commands as Slack users type them: through /coord, the app's one command.
    let help_text = help.body["text"].as_str().unwrap();
    assert!(help_text.contains("\n/coord newtask TITLE"), "{help_text}");
    assert!(help_text.contains("(also /coord start)"), "{help_text}");
    assert!(
        !help_text.lines().any(|l| l.starts_with("/newtask")),
        "{help_text}"
    );

    // A command without what it needs is answered with its usage; nothing is created.
    s.slash(ANNA, CHANNEL, "newtask").await;
    let usage = &s.fake.wait_responses(WAIT, 3).await[2];
    assert!(
        usage.body["text"].as_str().unwrap().contains("/coord newtask"),
        "{}",
        usage.body
    );
    assert_eq!(s.app.get("/api/tasks").await.body.as_array().unwrap().len(), 1);
    // Nothing was posted as the bot: every answer went through its response URL.
    assert!(s.fake.calls_to("chat.postMessage").is_empty());
}

async fn a_rate_limited_send_waits_as_slack_asks_then_delivers(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    s.fake.rate_limit_next("chat.postMessage", vec![2]);
    let outbox = OutboxWriter::new(s.app.store.clone(), Arc::new(tokio::sync::Notify::new()));
    outbox
        .enqueue(
            &OutboundMessage::text(Channel::Slack, CHANNEL, "Weekly report is ready"),
            None,
        )
        .await
        .unwrap();
    let delivered = s.fake.wait_message(WAIT, CHANNEL, |_| true).await;
    assert_eq!(delivered.text, "Weekly report is ready");
    let calls = s.fake.calls_to("chat.postMessage");
    assert_eq!(calls.len(), 2, "one 429, then the delivery");
    let waited = calls[1].at - calls[0].at;
    assert!(waited >= Duration::from_millis(1900), "retried after {waited:?}");
}

async fn escalations_and_reports_reach_the_projects_channel(db: Db) {
    const PROJECT_CHANNEL: &str = "C0WEBSITE";
    let s = start(db, Via::Webhook, &[("COORDINATOR_SCHEDULER_TICK", "1h")]).await;
    let created = s
        .app
        .post(
            "/api/projects",
            json!({"name": "Website", "description": "Relaunch"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let project = created.body["id"].as_i64().unwrap();
    s.slash(ANNA, PROJECT_CHANNEL, "project here Website").await;
    let here = &s.fake.wait_responses(WAIT, 1).await[0];
    assert!(
        here.body["text"].as_str().unwrap().contains("Website"),
        "{}",
        here.body
    );
    let task = s
        .app
        .post(
            "/api/tasks",
            json!({"title": "Launch checklist", "assigned_to": "marta", "project_id": project,
                   "due_date": "2030-01-10T10:00:00Z"}),
        )
        .await;
    assert_eq!(task.status, 201, "{}", task.body);
    let mut config = SchedulerConfig::with_zone("Europe/Berlin".parse().unwrap());
    config.report_hour = 9;
    let scheduler = Scheduler::with_config(
        s.app.workspace.clone(),
        s.app.store.clone(),
        config,
        Policies::default(),
    );
    // Monday 14 Jan 2030, 09:00 in Berlin: overdue, and report time.
    let run = scheduler.run_once(at("2030-01-14T08:00:00Z")).await.unwrap();
    assert_eq!(run.escalation_steps, 1);
    let escalation = s
        .fake
        .wait_message(WAIT, PROJECT_CHANNEL, |m| {
            m.text.starts_with("Escalation (step 1)")
        })
        .await;
    assert!(
        escalation.text.contains("Launch checklist"),
        "{}",
        escalation.text
    );
    assert!(!escalation.button_values().is_empty());
    // Marta hears too, in her direct messages with the app.
    s.fake
        .wait_message(WAIT, super::MARTA, |m| m.text.starts_with("Escalation (step 1)"))
        .await;
    let report = s
        .fake
        .wait_message(WAIT, PROJECT_CHANNEL, |m| m.text.contains("Open: 1"))
        .await;
    assert!(report.text.contains("Website"), "{}", report.text);
}

async fn a_slack_user_is_linked_with_coord_link(db: Db) {
    let s = start(db, Via::Webhook, &[]).await;
    // An admin invites Bea from Slack: the answer says how to use the code on Slack.
    s.slash(ANNA, DM, "invite @bea member").await;
    let invite = &s.fake.wait_responses(WAIT, 1).await[0];
    let text = invite.body["text"].as_str().unwrap();
    assert_eq!(invite.body["response_type"], "ephemeral");
    let marker = "Slack: type /coord link ";
    let line = text
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no Slack line in {text}"));
    let code = line[line.find(marker).unwrap() + marker.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // Before linking, Bea's Slack account is a stranger.
    s.slash(STRANGER, CHANNEL, "tasks mine").await;
    let unknown = &s.fake.wait_responses(WAIT, 2).await[1];
    let unknown = unknown.body["text"].as_str().unwrap();
    assert!(unknown.starts_with("I don't know you yet"), "{unknown}");
    assert!(unknown.contains("send /coord link CODE here"), "{unknown}");
    s.slash(STRANGER, CHANNEL, &format!("link {code}")).await;
    let linked = &s.fake.wait_responses(WAIT, 3).await[2];
    assert_eq!(linked.body["response_type"], "ephemeral");
    let bea = s.app.get("/api/people/bea").await;
    assert_eq!(
        bea.body["identities"],
        json!([{"channel": "slack", "external_id": STRANGER}]),
        "{} / {}",
        bea.body,
        linked.body
    );
    // Now she is Bea: her command works.
    s.slash(STRANGER, CHANNEL, "newtask Bea's first task").await;
    let created = &s.fake.wait_responses(WAIT, 4).await[3];
    assert!(
        created.body["text"].as_str().unwrap().starts_with("Created #1"),
        "{}",
        created.body
    );
}
