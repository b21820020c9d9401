//! Tasks created at the same moment are written in one transaction (`store::task_writer`):
//! each caller still gets its own task with its own audit entry, a repeated source key its
//! first task, and a task that cannot be written fails alone while the rest of its group is
//! written.

use coordinator::domain::{Priority, TaskStatus};
use coordinator::store::{AuditEntry, Store, StoreError, TaskData};
use futures::future::join_all;

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(tasks_created_at_once_each_get_their_own_and_a_bad_one_fails_alone);

fn data(title: &str, project_id: Option<i64>) -> TaskData {
    TaskData {
        title: title.to_owned(),
        description: String::new(),
        status: TaskStatus::Todo,
        priority: Priority::Medium,
        project_id,
        assignee_id: None,
        time_estimate: None,
        time_spent: None,
        due_date: None,
        labels: Vec::new(),
        recurrence: None,
    }
}

async fn tasks_created_at_once_each_get_their_own_and_a_bad_one_fails_alone(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let by = AuditEntry {
        actor: "anna".into(),
        channel: "telegram".into(),
    };
    // 60 at once: 40 with keys of their own, 10 repeating one key, 10 without a key, and one
    // in a project that does not exist.
    let keys: Vec<Option<String>> = (0..60)
        .map(|n| match n {
            0..40 => Some(format!("telegram:{n}")),
            40..50 => Some("telegram:repeated".to_owned()),
            _ => None,
        })
        .collect();
    let made = join_all(keys.iter().enumerate().map(|(n, key)| {
        let (store, by) = (&store, &by);
        async move {
            let task = data(&format!("task {n}"), None);
            store
                .create_task(&task, Some(("telegram", "42")), key.as_deref(), by)
                .await
        }
    }));
    let nowhere = data("in no project", Some(999_999));
    let bad = store.create_task(&nowhere, None, None, &by);
    let (made, bad) = tokio::join!(made, bad);
    assert!(matches!(bad, Err(StoreError::Conflict(_))), "{bad:?}");
    let made: Vec<_> = made.into_iter().map(Result::unwrap).collect();
    for (n, task) in made.iter().enumerate() {
        if (40..50).contains(&n) {
            assert_eq!(task.id, made[40].id, "a repeated key makes one task");
            continue;
        }
        assert_eq!(task.title, format!("task {n}"));
        let trail = store.audit_trail("task", &task.id.to_string()).await.unwrap();
        assert_eq!(trail.len(), 1, "task {n}: {trail:?}");
        assert_eq!(
            (trail[0].action.as_str(), trail[0].actor.as_str()),
            ("task.create", "anna")
        );
    }
    let mut ids: Vec<i64> = made.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        51,
        "40 keyed, 1 for the repeated key, 10 without a key"
    );
}
