//! The inbox keeps each chat's events behind its head waiting (no claim looks at them) and
//! makes the next one due when the head ends: done, dead, or a dead letter put back first. What
//! a claim can take is the same as when every claim tested each event against its chat's head:
//! one event a chat, the oldest unfinished, whichever way it was stored. The outbox keeps each
//! chat's messages the same way. (On PostgreSQL items are stored pending and the claim alone
//! keeps the order: the same outcomes are asserted on both engines.)

use chrono::Duration;
use coordinator::store::{Claimed, EventTags, InboxFinish, NewInboxEvent, NewOutbound, Queue, Store};

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(
    each_chat_gives_its_next_event_once_its_head_ends,
    a_dead_letter_put_back_goes_first_in_its_chat,
    an_event_stored_behind_one_stored_before_in_its_batch_is_due,
    an_event_left_waiting_with_nothing_in_front_is_made_due,
    a_chat_held_back_by_its_rate_limit_keeps_its_messages_in_order,
);

async fn store(db: Db) -> (Store, String, tempfile::TempDir) {
    let (url, dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, url, dir)
}

fn event(id: &str, chat: &str) -> NewInboxEvent {
    NewInboxEvent {
        channel: "telegram".into(),
        event_id: id.into(),
        chat_id: chat.into(),
        payload: "{}".into(),
    }
}

/// Everything due now, claimed: (chat, event id) of each, oldest first.
async fn claim_all(store: &Store) -> Vec<Claimed> {
    let now = coordinator::store::now();
    store
        .claim_batch(Queue::Inbox, None, now, now + Duration::seconds(30), 100)
        .await
        .unwrap()
}

fn ids(claims: &[Claimed]) -> Vec<(String, i64)> {
    claims.iter().map(|c| (c.chat_id.clone(), c.id)).collect()
}

async fn finish(store: &Store, claims: &[Claimed]) {
    let rows: Vec<InboxFinish> = claims
        .iter()
        .map(|claim| InboxFinish {
            claim: claim.clone(),
            tags: EventTags {
                channel: "telegram".into(),
                external_id: claim.chat_id.clone(),
                source_key: format!("telegram:{}", claim.id),
                task_hint: None,
            },
            history_text: None,
            replies: Vec::new(),
        })
        .collect();
    let applied = store.finish_inbox_batch(&rows).await.unwrap();
    assert!(applied.iter().all(|a| *a), "{applied:?}");
}

/// Three events of chat 1 (two stored one by one, one in a batch with chat 3's two), one of
/// chat 2: a claim takes each chat's first only; as heads end (done in a batch, or dead), each
/// chat gives its next, in the order it was stored, and a chat that is done gives nothing.
async fn each_chat_gives_its_next_event_once_its_head_ends(db: Db) {
    let (store, _url, _dir) = store(db).await;
    assert!(store.enqueue_inbox("telegram", "a", "1", "{}").await.unwrap());
    assert!(store.enqueue_inbox("telegram", "b", "1", "{}").await.unwrap());
    assert!(store.enqueue_inbox("telegram", "d", "2", "{}").await.unwrap());
    let batch = [event("c", "1"), event("f", "3"), event("g", "3")];
    assert_eq!(store.enqueue_inbox_batch(&batch).await.unwrap(), [true; 3]);
    let counts = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!(
        (counts.pending, counts.processing),
        (6, 0),
        "waiting counts as pending"
    );
    assert_eq!(store.unfinished_for_chat("telegram", "1").await.unwrap(), 3);

    let heads = claim_all(&store).await;
    let chats: Vec<&str> = heads.iter().map(|c| c.chat_id.as_str()).collect();
    assert_eq!(chats, ["1", "2", "3"], "{heads:?}");
    assert!(
        claim_all(&store).await.is_empty(),
        "nothing else is due while the heads run"
    );

    // Chat 1's head dies, chat 3's is done, chat 2's is done: chat 1 and 3 give their next.
    assert!(store.mark_dead(Queue::Inbox, &heads[0], "failed").await.unwrap());
    finish(&store, &heads[1..]).await;
    let next = claim_all(&store).await;
    let first_of_1 = heads[0].id;
    assert_eq!(next.len(), 2, "{next:?}");
    assert_eq!(next[0].chat_id, "1");
    assert!(next[0].id > first_of_1, "chat 1's second event, b");
    assert_eq!(next[1].chat_id, "3");
    finish(&store, &next).await;

    let last = claim_all(&store).await;
    assert_eq!(ids(&last).len(), 1, "{last:?}");
    assert_eq!(last[0].chat_id, "1");
    assert!(
        last[0].id > next[0].id,
        "chat 1's third event, c, stored in the batch"
    );
    finish(&store, &last).await;
    assert!(claim_all(&store).await.is_empty());
    let counts = store.queue_counts(Queue::Inbox).await.unwrap();
    assert_eq!(
        (counts.pending, counts.done, counts.dead),
        (0, 5, 1),
        "{counts:?}"
    );
}

/// A chat's first event died while its second ran; put back, the first is due at once (it is
/// older than all the chat still has), and the third waits until both have ended.
async fn a_dead_letter_put_back_goes_first_in_its_chat(db: Db) {
    let (store, _url, _dir) = store(db).await;
    for id in ["a", "b", "c"] {
        assert!(store.enqueue_inbox("telegram", id, "7", "{}").await.unwrap());
    }
    let a = claim_all(&store).await.remove(0);
    assert!(store.mark_dead(Queue::Inbox, &a, "failed").await.unwrap());
    let b = claim_all(&store).await.remove(0);
    assert!(b.id > a.id);

    assert!(store.requeue_dead(Queue::Inbox, a.id).await.unwrap());
    assert!(
        !store.requeue_dead(Queue::Inbox, a.id).await.unwrap(),
        "not a dead letter now"
    );
    let again = claim_all(&store).await;
    assert_eq!(
        ids(&again),
        [("7".to_owned(), a.id)],
        "the one put back, beside b running"
    );
    finish(&store, &[b]).await;
    assert!(claim_all(&store).await.is_empty(), "c waits for the one put back");
    finish(&store, &again).await;
    let c = claim_all(&store).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].id > a.id);
}

/// A batch whose first event of a chat was stored before (and is done) while its second is
/// new: the new one is due, though the statement stored it without a look in front of it.
async fn an_event_stored_behind_one_stored_before_in_its_batch_is_due(db: Db) {
    let (store, _url, _dir) = store(db).await;
    assert!(store.enqueue_inbox("telegram", "x", "5", "{}").await.unwrap());
    let x = claim_all(&store).await;
    finish(&store, &x).await;

    let fresh = store
        .enqueue_inbox_batch(&[event("x", "5"), event("y", "5"), event("z", "5")])
        .await
        .unwrap();
    assert_eq!(fresh, [false, true, true]);
    let y = claim_all(&store).await;
    assert_eq!(y.len(), 1, "y is due, z waits behind it: {y:?}");
    assert!(y[0].id > x[0].id);
    finish(&store, &y).await;
    assert_eq!(claim_all(&store).await.len(), 1, "then z");
}

/// An event waiting behind a head that ended without making it due (what a crash between two
/// statements can leave, written here directly) is made due by the sweep the inbox workers
/// run, and only it: a chat whose head is still unfinished keeps its next.
async fn an_event_left_waiting_with_nothing_in_front_is_made_due(db: Db) {
    let (store, url, _dir) = store(db).await;
    for (id, chat) in [("a", "8"), ("b", "8"), ("c", "9"), ("d", "9")] {
        assert!(store.enqueue_inbox("telegram", id, chat, "{}").await.unwrap());
    }
    let heads = claim_all(&store).await;
    assert_eq!(heads.len(), 2);
    // Chat 8's head ends behind the store's back, with b waiting (on PostgreSQL, where items
    // are stored pending, b is set waiting too: what a crash between two statements leaves).
    let statements = [
        format!(
            "UPDATE inbox_events SET status = 'done' WHERE id = {}",
            heads[0].id
        ),
        format!(
            "UPDATE inbox_events SET status = 'waiting' WHERE chat_id = '8' AND id > {}",
            heads[0].id
        ),
    ];
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            for sql in &statements {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for sql in &statements {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
    assert!(claim_all(&store).await.is_empty(), "b was left waiting");
    assert_eq!(store.promote_stranded().await.unwrap(), 1);
    let b = claim_all(&store).await;
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].chat_id, "8");
    assert_eq!(
        store.promote_stranded().await.unwrap(),
        0,
        "d still waits behind c"
    );
}

fn message(chat: &str, text: &str, key: Option<&str>) -> NewOutbound {
    NewOutbound {
        channel: "telegram".into(),
        chat_id: chat.into(),
        payload: text.into(),
        dedupe_key: key.map(str::to_owned),
        person_id: None,
        task_id: None,
    }
}

async fn claim_outbox(store: &Store, at: chrono::DateTime<chrono::Utc>) -> Vec<Claimed> {
    store
        .claim_batch(Queue::Outbox, None, at, at + Duration::seconds(30), 100)
        .await
        .unwrap()
}

/// Three messages to one chat (the first two queued together, the third with a key queued
/// before it, skipped) and one to another chat: the outbox claims each chat's first only; the
/// first put back for a second by the chat's rate limit holds the chat, not the other; sent,
/// it makes the chat's next due, and the history shows a waiting message as pending.
async fn a_chat_held_back_by_its_rate_limit_keeps_its_messages_in_order(db: Db) {
    let (store, _url, _dir) = store(db).await;
    store
        .enqueue_outbox(&[message("1", "one", Some("k1")), message("1", "two", Some("k2"))])
        .await
        .unwrap();
    store
        .enqueue_outbox(&[message("1", "again", Some("k1")), message("1", "three", None)])
        .await
        .unwrap();
    store
        .enqueue_outbox(&[message("2", "other", None)])
        .await
        .unwrap();
    let statuses: Vec<String> = store
        .outbox_for_chat("telegram", "1")
        .await
        .unwrap()
        .into_iter()
        .map(|(status, payload, _)| format!("{payload}:{status}"))
        .collect();
    assert_eq!(statuses, ["one:pending", "two:pending", "three:pending"]);

    let now = coordinator::store::now();
    let heads = claim_outbox(&store, now).await;
    let payloads: Vec<&str> = heads.iter().map(|c| c.payload.as_str()).collect();
    assert_eq!(payloads, ["one", "other"]);
    // Chat 1's first is held back a second; chat 2's is sent.
    assert!(store
        .retry_at(Queue::Outbox, &heads[0], now + Duration::seconds(1), None, false)
        .await
        .unwrap());
    assert!(store.mark_sent(&heads[1], Some("m-2")).await.unwrap());
    assert!(
        claim_outbox(&store, now).await.is_empty(),
        "two and three wait behind one"
    );

    let later = now + Duration::seconds(2);
    let one = claim_outbox(&store, later).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].payload, "one");
    assert!(store.mark_sent(&one[0], Some("m-1")).await.unwrap());
    let two = claim_outbox(&store, later).await;
    assert_eq!(
        two.iter().map(|c| c.payload.as_str()).collect::<Vec<_>>(),
        ["two"]
    );
    assert!(store.mark_dead(Queue::Outbox, &two[0], "refused").await.unwrap());
    let three = claim_outbox(&store, later).await;
    assert_eq!(
        three.iter().map(|c| c.payload.as_str()).collect::<Vec<_>>(),
        ["three"]
    );
    assert_eq!(store.unfinished_for_chat("telegram", "1").await.unwrap(), 1);
}
