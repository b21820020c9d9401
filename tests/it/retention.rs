//! Retention: the scheduler's sweep deletes finished queue rows, conversation turns and the
//! longer records once they are older than their settings keep them, and nothing that is
//! unfinished or young; `/api/monitoring/status` shows the tables' sizes.

use std::time::Duration as StdDuration;

use chrono::Duration;
use coordinator::config::Retention;
use coordinator::domain::Channel;
use coordinator::message::OutboundMessage;
use coordinator::queue::to_outbound;
use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use coordinator::store::{Queue, Store};
use coordinator::workspace::Workspace;

use crate::helpers::{both_dbs, fresh_database, spawn_app, Db};

both_dbs!(
    old_rows_go_and_young_or_unfinished_ones_stay,
    monitoring_shows_table_sizes
);

const DAY: u64 = 24 * 3600;

async fn old_rows_go_and_young_or_unfinished_ones_stay(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    // Two inbox events handled, one still waiting; one outbox message sent, one waiting.
    for n in 1..=3 {
        store
            .enqueue_inbox("telegram", &format!("update-{n}"), &format!("chat-{n}"), "{}")
            .await
            .unwrap();
    }
    let now = coordinator::store::now();
    for _ in 0..2 {
        let claimed = store
            .claim(Queue::Inbox, None, now, now + Duration::seconds(30))
            .await
            .unwrap()
            .unwrap();
        assert!(store.finish_inbox_with(Some(&claimed), &[]).await.unwrap());
    }
    // The one reply an unknown email sender ever gets, sent; then one message sent, one waiting.
    let unknown = OutboundMessage::text(Channel::Email, "x@example.com", "Hello");
    let key = "email:unknown-sender:x@example.com".to_owned();
    store
        .enqueue_outbox(&[to_outbound(&unknown, Some(key)).unwrap()])
        .await
        .unwrap();
    for (key, chat) in [("a", "1"), ("b", "2")] {
        let message = OutboundMessage::text(Channel::Telegram, chat, "hello");
        store
            .enqueue_outbox(&[to_outbound(&message, Some(key.into())).unwrap()])
            .await
            .unwrap();
    }
    let now = coordinator::store::now();
    for _ in 0..2 {
        let sent = store
            .claim(Queue::Outbox, None, now, now + Duration::seconds(60))
            .await
            .unwrap()
            .unwrap();
        assert!(store.mark_sent(&sent, Some("9")).await.unwrap());
    }
    let conversation = store.conversation_for("telegram", "chat-1").await.unwrap();
    store
        .append_message(conversation.id, "user", "what is due?", 4, None)
        .await
        .unwrap();

    let workspace = Workspace::new(store.clone(), chrono_tz::UTC, None);
    let scheduler = Scheduler::with_config(
        workspace,
        store.clone(),
        SchedulerConfig {
            retention: Some(Retention {
                queue: StdDuration::from_secs(DAY),
                conversations: StdDuration::from_secs(10 * DAY),
                history: StdDuration::from_secs(100 * DAY),
            }),
            ..SchedulerConfig::with_zone(chrono_tz::UTC)
        },
        Policies::default(),
    );
    let sizes = store.table_sizes().await.unwrap();
    assert_eq!(sizes.rows["inbox_events"], 3);
    assert_eq!(sizes.rows["outbox_messages"], 3);

    // Two days on: the finished queue rows are past one day, the conversation is not.
    let report = scheduler.run_once(now + Duration::days(2)).await.unwrap();
    assert_eq!(report.rows_pruned, 3, "{report:?}");
    let sizes = store.table_sizes().await.unwrap();
    assert_eq!(sizes.rows["inbox_events"], 1, "the waiting event stays");
    assert_eq!(
        sizes.rows["outbox_messages"], 2,
        "the waiting message and the unknown sender's one reply stay"
    );
    assert_eq!(sizes.rows["conversation_messages"], 1);
    let inbox = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!((inbox.pending, inbox.done), (1, 0));

    // Eleven days on: the conversation turn goes too; the scheduler runs are kept longer.
    let report = scheduler.run_once(now + Duration::days(11)).await.unwrap();
    assert_eq!(report.rows_pruned, 1, "{report:?}");
    let sizes = store.table_sizes().await.unwrap();
    assert_eq!(sizes.rows["conversation_messages"], 0);
    assert_eq!(sizes.rows["scheduler_runs"], 2);
    assert_eq!(sizes.rows["inbox_events"], 1);
}

async fn monitoring_shows_table_sizes(db: Db) {
    let app = spawn_app(db).await;
    let created = app
        .post("/api/projects", serde_json::json!({"name": "Launch"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let status = app
        .call(reqwest::Method::GET, "/api/monitoring/status", None)
        .await;
    assert_eq!(status.status, 200, "{}", status.body);
    let rows = &status.body["tables"]["rows"];
    assert_eq!(rows["outbox_messages"], 0, "{rows}");
    assert!(rows["audit_log"].as_i64().unwrap() >= 1, "{rows}");
    assert!(status.body["database_bytes"].as_i64().unwrap() > 0);
}
