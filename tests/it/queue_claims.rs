//! Claims on the durable queues, against the store itself (no workers running): a renewed
//! claim keeps the item from other workers; a lapsed one lets another worker take it over, and
//! the worker that lost it can no longer change the item. Through the running service: a send
//! slower than the outbox lease is still sent once. The inbox worker with a scripted handler:
//! a slow event keeps one of its slots, not the worker, each chat stays in order, and a worker
//! has the slots of its engine.

use chrono::{DateTime, Duration, Utc};
use coordinator::domain::Channel;
use coordinator::inbox::InboxWriter;
use coordinator::message::{ChatKind, InboundEvent, OutboundMessage, Sender};
use coordinator::queue::to_outbound;
use coordinator::store::{Claimed, EventTags, InboxFinish, NewInboxEvent, Queue, Store};
use serde_json::json;

use crate::fake_telegram::{text_update, FakeTelegram};
use crate::helpers::{both_dbs, fresh_database, Db, TestApp};

both_dbs!(
    a_renewed_claim_is_not_taken_over,
    a_lapsed_claim_is_taken_over,
    a_stale_inbox_worker_cannot_change_a_finished_event,
    a_stale_outbox_worker_cannot_change_a_sent_message,
    a_send_slower_than_the_lease_is_sent_once,
    a_batch_takes_one_event_per_chat_and_finishes_each_claim_it_holds,
    webhooks_at_once_are_stored_together_each_once,
    a_poll_answer_is_stored_together_each_chat_in_order,
    a_batch_insert_says_which_events_are_new,
    a_slow_event_holds_one_slot_not_the_worker,
    each_chat_is_answered_in_order_while_slots_refill,
    a_worker_has_the_slots_of_its_engine,
    replies_beyond_one_statement_are_all_queued_once,
);

/// A store on a fresh database of `db`, its schema created.
async fn migrated_store(db: Db) -> (Store, tempfile::TempDir) {
    let (url, dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

async fn store_with_one_event(db: Db) -> (Store, tempfile::TempDir) {
    let (store, dir) = migrated_store(db).await;
    assert!(store
        .enqueue_inbox("telegram", "update-1", "42", "{}")
        .await
        .unwrap());
    (store, dir)
}

/// A worker's claim at `at`, for 30 s.
async fn claim_at(store: &Store, at: DateTime<Utc>) -> Option<Claimed> {
    store
        .claim(Queue::Inbox, None, at, at + Duration::seconds(30))
        .await
        .unwrap()
}

async fn a_renewed_claim_is_not_taken_over(db: Db) {
    let (store, _dir) = store_with_one_event(db).await;
    let now = coordinator::store::now();
    let claimed = claim_at(&store, now).await.expect("the event is due");
    assert!(store
        .renew_claim(Queue::Inbox, &claimed, now + Duration::seconds(70))
        .await
        .unwrap());
    let later = now + Duration::seconds(40);
    let other = claim_at(&store, later).await;
    assert!(
        other.is_none(),
        "taken over while its claim was renewed: {other:?}"
    );
    let after = now + Duration::seconds(71);
    let other = claim_at(&store, after)
        .await
        .expect("taken over once the renewed claim lapsed");
    assert_eq!((other.id, other.attempts), (claimed.id, 2));
}

async fn a_lapsed_claim_is_taken_over(db: Db) {
    let (store, _dir) = store_with_one_event(db).await;
    let now = coordinator::store::now();
    let claimed = claim_at(&store, now).await.expect("the event is due");
    let before = now + Duration::seconds(29);
    assert!(claim_at(&store, before).await.is_none());
    let after = now + Duration::seconds(31);
    let other = claim_at(&store, after)
        .await
        .expect("taken over once the claim lapsed");
    assert_eq!(other.id, claimed.id);
    // A finished item's claim is not renewed back to life.
    assert!(store.finish_inbox_with(Some(&other), &[]).await.unwrap());
    assert!(!store
        .renew_claim(Queue::Inbox, &other, after + Duration::seconds(600))
        .await
        .unwrap());
    let much_later = now + Duration::seconds(3600);
    assert!(claim_at(&store, much_later).await.is_none());
}

/// Worker A claims an event and stalls past its lease; worker B takes it over and finishes it.
/// When A comes back, none of its updates applies: the event stays done, and A's replies are
/// not queued.
async fn a_stale_inbox_worker_cannot_change_a_finished_event(db: Db) {
    let (store, _dir) = store_with_one_event(db).await;
    let now = coordinator::store::now();
    let a = claim_at(&store, now).await.expect("the event is due");
    let b = claim_at(&store, now + Duration::seconds(31))
        .await
        .expect("taken over once A's claim lapsed");
    assert_eq!(a.id, b.id);
    assert_ne!(a.token, b.token, "each claim has its own token");
    assert!(
        a.token.ends_with(":1") && b.token.ends_with(":2"),
        "{} {}",
        a.token,
        b.token
    );
    assert!(store.finish_inbox_with(Some(&b), &[]).await.unwrap());

    let later = now + Duration::seconds(40);
    assert!(!store
        .retry_at(Queue::Inbox, &a, later, Some("A failed"), true)
        .await
        .unwrap());
    assert!(!store.mark_dead(Queue::Inbox, &a, "A gave up").await.unwrap());
    assert!(!store.renew_claim(Queue::Inbox, &a, later).await.unwrap());
    let reply = to_outbound(
        &OutboundMessage::text(Channel::Telegram, "42", "A's late answer"),
        Some(format!("reply:{}:0", a.id)),
    )
    .unwrap();
    assert!(!store.finish_inbox_with(Some(&a), &[reply]).await.unwrap());

    let inbox = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!((inbox.done, inbox.pending, inbox.dead), (1, 0, 0), "{inbox:?}");
    assert!(store.outbox_for_chat("telegram", "42").await.unwrap().is_empty());
    assert!(claim_at(&store, now + Duration::seconds(3600)).await.is_none());
}

/// The same for the outbox: A's send outlived its lease, B sent the message and recorded it;
/// A's late result changes nothing.
async fn a_stale_outbox_worker_cannot_change_a_sent_message(db: Db) {
    let (store, _dir) = migrated_store(db).await;
    let message = OutboundMessage::text(Channel::Telegram, "42", "Standup at ten");
    store
        .enqueue_outbox(&[to_outbound(&message, Some("standup".into())).unwrap()])
        .await
        .unwrap();
    let now = coordinator::store::now();
    let claim = |at: DateTime<Utc>| {
        let store = store.clone();
        async move {
            store
                .claim(Queue::Outbox, None, at, at + Duration::seconds(60))
                .await
                .unwrap()
        }
    };
    let a = claim(now).await.expect("the message is due");
    assert!(claim(now + Duration::seconds(30)).await.is_none());
    let b = claim(now + Duration::seconds(61))
        .await
        .expect("taken over once A's claim lapsed");
    assert!(store.mark_sent(&b, Some("777")).await.unwrap());

    assert!(!store.mark_sent(&a, Some("778")).await.unwrap());
    assert!(!store
        .retry_at(Queue::Outbox, &a, now, Some("timed out"), true)
        .await
        .unwrap());
    assert!(!store.mark_dead(Queue::Outbox, &a, "gave up").await.unwrap());
    let rows = store.outbox_for_chat("telegram", "42").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0.as_str(), rows[0].2.as_deref()), ("done", Some("777")));
}

/// The Bot API holds the reply to Anna for three seconds while the outbox lease is one second:
/// the worker renews its claim while the send is in flight, so no other claim sends it again.
async fn a_send_slower_than_the_lease_is_sent_once(db: Db) {
    const ANNA: i64 = 4242;
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, "slow-secret")
        .with("COORDINATOR_OUTBOX_LEASE", "1s")
        .spawn()
        .await;
    let anna = app
        .post(
            "/api/people",
            json!({"handle": "anna", "name": "Anna",
                   "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]}),
        )
        .await;
    assert_eq!(anna.status, 201, "{}", anna.body);
    fake.hold_sends_to(ANNA);
    assert_eq!(
        app.deliver_telegram(&text_update(1, ANNA, ANNA, "/newtask Print flyers"))
            .await,
        200
    );
    let wait = std::time::Duration::from_secs(15);
    assert_eq!(fake.wait_for_calls("sendMessage", 1, wait).await.len(), 1);
    // Three leases pass while the platform holds the send.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    fake.release_sends();
    let sent = fake.wait_for_sent(1, wait).await;
    assert!(sent[0].text.contains("Print flyers"), "{}", sent[0].text);
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = app
            .store
            .outbox_for_chat("telegram", &ANNA.to_string())
            .await
            .unwrap();
        if rows.iter().all(|r| r.0 == "done") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "done");
    assert_eq!(
        fake.calls("sendMessage").len(),
        1,
        "the reply was sent again while the first send was in flight"
    );
}

/// A batch claim takes the oldest due event of each chat and none of a chat whose older event is
/// unfinished; finishing the batch applies each claim it still holds (tagged, replies queued)
/// and nothing of one it lost.
async fn a_batch_takes_one_event_per_chat_and_finishes_each_claim_it_holds(db: Db) {
    let (store, _dir) = migrated_store(db).await;
    for (event, chat) in [("u1", "1"), ("u2", "1"), ("u3", "2"), ("u4", "3")] {
        assert!(store.enqueue_inbox("telegram", event, chat, "{}").await.unwrap());
    }
    let now = coordinator::store::now();
    let lease = now + Duration::seconds(30);
    let batch = store
        .claim_batch(Queue::Inbox, None, now, lease, 10)
        .await
        .unwrap();
    let chats: Vec<&str> = batch.iter().map(|c| c.chat_id.as_str()).collect();
    assert_eq!(chats, ["1", "2", "3"], "one per chat, oldest first: {batch:?}");
    assert!(store
        .claim_batch(Queue::Inbox, None, now, lease, 10)
        .await
        .unwrap()
        .is_empty());

    let finish = |claim: &Claimed, text: &str| InboxFinish {
        claim: claim.clone(),
        tags: tags_of(claim),
        history_text: Some(text.to_owned()),
        replies: vec![to_outbound(
            &OutboundMessage::text(Channel::Telegram, &claim.chat_id, text),
            Some(format!("reply:{}:0", claim.id)),
        )
        .unwrap()],
    };
    let mut lost = batch[2].clone();
    lost.token = format!("{}-stale", lost.token);
    let applied = store
        .finish_inbox_batch(&[
            finish(&batch[0], "first"),
            finish(&batch[1], "second"),
            finish(&lost, "lost"),
        ])
        .await
        .unwrap();
    assert_eq!(applied, [true, true, false]);
    assert_eq!(store.outbox_for_chat("telegram", "1").await.unwrap().len(), 1);
    assert_eq!(store.outbox_for_chat("telegram", "2").await.unwrap().len(), 1);
    assert!(store.outbox_for_chat("telegram", "3").await.unwrap().is_empty());
    let inbox = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!((inbox.done, inbox.pending), (2, 1), "{inbox:?}");

    // Chat 1's second event is due now that its first is done; chat 3's is still held.
    let next = store
        .claim_batch(Queue::Inbox, None, now, lease, 10)
        .await
        .unwrap();
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].chat_id, "1");
    assert!(next[0].id > batch[0].id);
}

fn inbound(n: usize) -> InboundEvent {
    InboundEvent {
        channel: Channel::Telegram,
        event_id: format!("update-{n}"),
        chat_id: format!("{}", 100 + n % 7),
        chat_kind: ChatKind::Private,
        sender: Sender {
            external_id: format!("{}", 100 + n % 7),
            display_name: "Anna".into(),
            username: None,
        },
        text: format!("/newtask grouped {n}"),
        mentions_bot: false,
        message_id: Some(n.to_string()),
        reply_to: None,
        attachments: Vec::new(),
        button: None,
        received_at: coordinator::store::now(),
    }
}

/// 60 requests at once, 30 events each delivered twice: the writer stores them in groups,
/// and each event is new exactly once, stored once, with its own payload.
async fn webhooks_at_once_are_stored_together_each_once(db: Db) {
    let (store, _dir) = migrated_store(db).await;
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let writer = InboxWriter::new(store.clone(), wake);
    let mut requests = tokio::task::JoinSet::new();
    for n in (0..60).map(|k| k % 30) {
        let writer = writer.clone();
        requests.spawn(async move { (n, writer.accept(&inbound(n)).await.unwrap()) });
    }
    let mut fresh = vec![0; 30];
    while let Some(done) = requests.join_next().await {
        let (n, new) = done.unwrap();
        fresh[n] += usize::from(new);
    }
    assert_eq!(fresh, vec![1; 30], "each event new exactly once");
    assert_eq!(store.queue_counts(Queue::Inbox).await.unwrap().pending, 30);
    let heads = heads(&store).await;
    assert_eq!(heads.len(), 7, "one head per chat");
    for (claim, event, n) in heads {
        assert_eq!(event.chat_id, claim.chat_id);
        assert_eq!(event.text, format!("/newtask grouped {n}"));
        assert_eq!(n % 7, (claim.chat_id.parse::<usize>().unwrap() - 100));
    }
}

/// Every inbox event a claim takes now, with its event and the number of its `update-N` id.
async fn heads(store: &Store) -> Vec<(Claimed, InboundEvent, usize)> {
    let now = coordinator::store::now();
    let claims = store
        .claim_batch(Queue::Inbox, None, now, now + Duration::seconds(30), 100)
        .await
        .unwrap();
    claims
        .into_iter()
        .map(|claim| {
            let event: InboundEvent = serde_json::from_str(&claim.payload).unwrap();
            let n = event.event_id.trim_start_matches("update-").parse().unwrap();
            (claim, event, n)
        })
        .collect()
}

/// A long poll's answer of 70 events from 7 chats (more than one statement holds), one of them
/// given twice: each is new once, the worker is woken, and each chat's first event is its head.
async fn a_poll_answer_is_stored_together_each_chat_in_order(db: Db) {
    let (store, _dir) = migrated_store(db).await;
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let writer = InboxWriter::new(store.clone(), wake.clone());
    let mut events: Vec<InboundEvent> = (0..70).map(inbound).collect();
    events.push(inbound(5));
    let fresh = writer.accept_all(&events).await.unwrap();
    let mut expected = vec![true; 70];
    expected.push(false);
    assert_eq!(fresh, expected);
    tokio::time::timeout(std::time::Duration::from_secs(1), wake.notified())
        .await
        .expect("the worker is woken");
    let again = writer.accept_all(&events[..10]).await.unwrap();
    assert_eq!(again, vec![false; 10], "a redelivered answer is not new");
    let heads = heads(&store).await;
    assert_eq!(heads.len(), 7, "one head per chat");
    for (claim, _, n) in heads {
        assert!(
            n < 7,
            "chat {}'s head is its first event, not update-{n}",
            claim.chat_id
        );
    }
    assert!(writer.accept_all(&[]).await.unwrap().is_empty());
}

async fn a_batch_insert_says_which_events_are_new(db: Db) {
    let (store, _dir) = store_with_one_event(db).await;
    let row = |id: &str| NewInboxEvent {
        channel: "telegram".into(),
        event_id: id.into(),
        chat_id: "42".into(),
        payload: "{}".into(),
    };
    let fresh = store
        .enqueue_inbox_batch(&[row("update-2"), row("update-1"), row("update-3"), row("update-2")])
        .await
        .unwrap();
    assert_eq!(fresh, vec![true, false, true, false]);
    assert_eq!(store.queue_counts(Queue::Inbox).await.unwrap().pending, 3);
    assert!(store.enqueue_inbox_batch(&[]).await.unwrap().is_empty());
}

/// What the inbox worker hands events to in the worker tests: answers at once, except an event
/// whose text is `slow`, which waits until it is let go; records what it was given, in order.
#[derive(Default)]
struct Scripted {
    seen: std::sync::Mutex<Vec<(String, String)>>,
    let_go: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl coordinator::queue::EventHandler for Scripted {
    async fn handle(
        &self,
        event: &InboundEvent,
        _attempt: coordinator::queue::Attempt,
    ) -> Result<coordinator::queue::Handled, coordinator::queue::HandlerError> {
        if event.text == "slow" {
            self.let_go.notified().await;
        } else {
            // Events of different chats end in a different order than they started.
            let pause = event.event_id.bytes().map(u64::from).sum::<u64>() % 5;
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        self.seen
            .lock()
            .unwrap()
            .push((event.chat_id.clone(), event.text.clone()));
        Ok(coordinator::queue::Handled {
            replies: Vec::new(),
            history_text: Some(event.text.clone()),
        })
    }
}

impl Scripted {
    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn store_event(store: &Store, n: usize, chat: &str, text: &str) {
    let event = InboundEvent {
        chat_id: chat.to_owned(),
        sender: Sender {
            external_id: chat.to_owned(),
            display_name: "Anna".into(),
            username: None,
        },
        text: text.to_owned(),
        ..inbound(n)
    };
    let payload = serde_json::to_string(&event).unwrap();
    assert!(store
        .enqueue_inbox("telegram", &event.event_id, chat, &payload)
        .await
        .unwrap());
}

/// Runs an inbox worker of `slots` (its engine's default when `None`) over `store` until the
/// returned token is cancelled.
fn worker(
    store: &Store,
    handler: std::sync::Arc<Scripted>,
    slots: Option<usize>,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut inbox = coordinator::inbox::Inbox::new(store.clone(), handler, wake.clone(), wake);
    if let Some(slots) = slots {
        inbox = inbox.with_batch(slots);
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(inbox.run_until_stopped(stop.clone()));
    (stop, running)
}

/// Waits until `done` holds, for at most 20 s.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "not within 20 s: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A worker of 4 slots, one of them held by an event that does not end: the 12 quick events
/// behind it, in other chats, are all answered meanwhile (a worker that waits for its whole
/// batch answers 3 of them), and the slow one is finished once it ends.
async fn a_slow_event_holds_one_slot_not_the_worker(db: Db) {
    let (store, _dir) = migrated_store(db).await;
    store_event(&store, 1, "1", "slow").await;
    for n in 2..=13 {
        store_event(&store, n, &n.to_string(), &format!("quick {n}")).await;
    }
    let handler = std::sync::Arc::new(Scripted::default());
    let (stop, running) = worker(&store, handler.clone(), Some(4));
    until("the quick events finished while the slow one runs", async || {
        store.queue_counts(Queue::Inbox).await.unwrap().done == 12
    })
    .await;
    let counts = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!((counts.pending, counts.processing), (0, 1), "{counts:?}");
    let seen = handler.seen();
    assert_eq!(seen.len(), 12, "{seen:?}");
    assert!(seen.iter().all(|(_, text)| text != "slow"), "{seen:?}");
    handler.let_go.notify_one();
    until("the slow event finished", async || {
        store.queue_counts(Queue::Inbox).await.unwrap().done == 13
    })
    .await;
    stop.cancel();
    running.await.unwrap();
}

/// A worker left to its defaults works 32 events at once on SQLite (one writing connection:
/// fewer, larger claims and commits) and 16 on PostgreSQL: with 40 slow events of 40 chats
/// waiting, that many are claimed and the rest wait.
async fn a_worker_has_the_slots_of_its_engine(db: Db) {
    let slots = match db {
        Db::Sqlite => 32,
        Db::Postgres => 16,
    };
    let (store, _dir) = migrated_store(db).await;
    for n in 1..=40 {
        store_event(&store, n, &format!("{}", 500 + n), "slow").await;
    }
    let handler = std::sync::Arc::new(Scripted::default());
    let (_stop, running) = worker(&store, handler, None);
    until("the worker's slots are claimed", async || {
        store.queue_counts(Queue::Inbox).await.unwrap().processing == slots as i64
    })
    .await;
    // Full slots claim nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let counts = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!(
        (counts.processing, counts.pending),
        (slots as i64, 40 - slots as i64),
        "{counts:?}"
    );
    running.abort();
}

/// Three chats of 8 events each, stored interleaved, worked by 2 slots that refill as events
/// end: every event is answered once, and each chat's in the order it was sent.
async fn each_chat_is_answered_in_order_while_slots_refill(db: Db) {
    let (store, _dir) = migrated_store(db).await;
    let chats = ["31", "32", "33"];
    for k in 0..8 {
        for (c, chat) in chats.iter().enumerate() {
            store_event(&store, 100 + 3 * k + c, chat, &format!("message {k}")).await;
        }
    }
    let handler = std::sync::Arc::new(Scripted::default());
    let (stop, running) = worker(&store, handler.clone(), Some(2));
    until("every event finished", async || {
        store.queue_counts(Queue::Inbox).await.unwrap().done == 24
    })
    .await;
    stop.cancel();
    running.await.unwrap();
    let seen = handler.seen();
    assert_eq!(seen.len(), 24, "{seen:?}");
    for chat in chats {
        let order: Vec<&str> = seen
            .iter()
            .filter(|(c, _)| c == chat)
            .map(|(_, t)| t.as_str())
            .collect();
        let sent: Vec<String> = (0..8).map(|k| format!("message {k}")).collect();
        assert_eq!(order, sent, "chat {chat}");
    }
}

/// A finish queues its replies a thousand to a statement: 2,500 replies (and the same keys
/// again, skipped) are all queued, once each.
async fn replies_beyond_one_statement_are_all_queued_once(db: Db) {
    let (store, _dir) = store_with_one_event(db).await;
    let now = coordinator::store::now();
    let claim = store
        .claim(Queue::Inbox, None, now, now + Duration::seconds(30))
        .await
        .unwrap()
        .expect("the stored event is due");
    let reply = |n: usize| {
        to_outbound(
            &OutboundMessage::text(Channel::Telegram, &claim.chat_id, format!("part {n}")),
            Some(format!("reply:{}:{}", claim.id, n % 2_500)),
        )
        .unwrap()
    };
    let finish = InboxFinish {
        claim: claim.clone(),
        tags: tags_of(&claim),
        history_text: Some("many".into()),
        replies: (0..3_000).map(reply).collect(),
    };
    assert_eq!(store.finish_inbox_batch(&[finish]).await.unwrap(), [true]);
    let queued = store.outbox_for_chat("telegram", &claim.chat_id).await.unwrap();
    assert_eq!(queued.len(), 2_500, "each key once");
}

/// The tags of a Telegram event from the chat it was claimed for.
fn tags_of(claim: &Claimed) -> EventTags {
    EventTags {
        channel: "telegram".into(),
        external_id: claim.chat_id.clone(),
        source_key: format!("telegram:{}", claim.id),
        task_hint: None,
    }
}
