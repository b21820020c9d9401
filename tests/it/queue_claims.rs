//! Claims on the durable queues, against the store itself (no workers running): a renewed
//! claim keeps the item from other workers; a lapsed one lets another worker take it over.

use chrono::{DateTime, Duration, Utc};
use coordinator::store::{Claimed, Queue, Store};

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(a_renewed_claim_is_not_taken_over, a_lapsed_claim_is_taken_over);

async fn store_with_one_event(db: Db) -> (Store, tempfile::TempDir) {
    let (url, dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
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
    store
        .renew_claim(Queue::Inbox, claimed.id, now + Duration::seconds(70))
        .await
        .unwrap();
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
    store.finish_inbox_with(Some(other.id), &[]).await.unwrap();
    store
        .renew_claim(Queue::Inbox, other.id, after + Duration::seconds(600))
        .await
        .unwrap();
    let much_later = now + Duration::seconds(3600);
    assert!(claim_at(&store, much_later).await.is_none());
}
