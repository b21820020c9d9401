//! The facts an agent turn begins with (`Store::work_facts`), read in one statement: they
//! must say what counting the tasks one by one says.

use chrono::{TimeZone, Utc};
use coordinator::domain::{Priority, Role, TaskStatus};
use coordinator::store::{AuditEntry, OpenTask, PersonData, Store, TaskData};

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(work_facts_count_open_overdue_and_a_persons_first_open_tasks);

/// A task to make: assignee, status, priority, due date.
type Planned = (Option<i64>, TaskStatus, Priority, Option<chrono::DateTime<Utc>>);

async fn work_facts_count_open_overdue_and_a_persons_first_open_tasks(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let by = AuditEntry {
        actor: "admin".into(),
        channel: "api".into(),
    };
    let person = |handle: &str| PersonData {
        handle: handle.into(),
        name: handle.into(),
        email: None,
        timezone: "UTC".into(),
        role: Role::Member,
        manager_id: None,
        profile: None,
    };
    let anna = store.create_person(&person("anna"), &[], &by).await.unwrap();
    let ben = store.create_person(&person("ben"), &[], &by).await.unwrap();
    let now = Utc.with_ymd_and_hms(2027, 3, 10, 12, 0, 0).unwrap();
    let (before, after) = (now - chrono::Duration::days(1), now + chrono::Duration::days(1));
    // Anna: 7 open (2 overdue, the second in progress and urgent) and 2 done (one of them
    // overdue had it been open); Ben: 1 open; nobody's: 3 open, 1 of them overdue.
    let mut made = Vec::new();
    let plan: Vec<Planned> = vec![
        (Some(anna.id), TaskStatus::Todo, Priority::Medium, Some(before)),
        (
            Some(anna.id),
            TaskStatus::InProgress,
            Priority::Urgent,
            Some(before),
        ),
        (Some(anna.id), TaskStatus::Done, Priority::Medium, Some(before)),
        (Some(anna.id), TaskStatus::Todo, Priority::Low, Some(after)),
        (Some(anna.id), TaskStatus::Todo, Priority::Medium, None),
        (Some(anna.id), TaskStatus::Done, Priority::Medium, None),
        (Some(anna.id), TaskStatus::Todo, Priority::Medium, None),
        (Some(anna.id), TaskStatus::Todo, Priority::High, None),
        (Some(anna.id), TaskStatus::Todo, Priority::Medium, None),
        (Some(ben.id), TaskStatus::Todo, Priority::Medium, None),
        (None, TaskStatus::Todo, Priority::Medium, Some(before)),
        (None, TaskStatus::Todo, Priority::Medium, None),
        (None, TaskStatus::InProgress, Priority::Medium, Some(after)),
    ];
    for (n, (assignee_id, status, priority, due_date)) in plan.iter().cloned().enumerate() {
        let data = TaskData {
            title: format!("task {n}"),
            description: String::new(),
            status,
            priority,
            project_id: None,
            assignee_id,
            time_estimate: None,
            time_spent: None,
            due_date,
            labels: Vec::new(),
            recurrence: None,
        };
        made.push(store.create_task(&data, None, None, &by).await.unwrap());
    }

    let facts = store.work_facts(Some(anna.id), now, 5).await.unwrap();
    assert_eq!((facts.open, facts.overdue, facts.theirs), (11, 3, 7));
    let open_of_anna: Vec<OpenTask> = made
        .iter()
        .filter(|t| t.assigned_to.as_deref() == Some("anna") && t.status != TaskStatus::Done)
        .take(5)
        .map(|t| OpenTask {
            id: t.id,
            status: t.status,
            priority: t.priority,
            due_date: t.due_date,
        })
        .collect();
    assert_eq!(open_of_anna.len(), 5);
    assert_eq!(facts.first_of_theirs, open_of_anna, "the oldest five, in order");
    assert_eq!(facts.first_of_theirs[1].priority, Priority::Urgent);

    let ben_facts = store.work_facts(Some(ben.id), now, 5).await.unwrap();
    assert_eq!((ben_facts.open, ben_facts.overdue, ben_facts.theirs), (11, 3, 1));
    assert_eq!(ben_facts.first_of_theirs.len(), 1);
    // Nobody, and somebody with no tasks: the counts alone.
    let nobody = store.work_facts(None, now, 5).await.unwrap();
    assert_eq!((nobody.open, nobody.overdue, nobody.theirs), (11, 3, 0));
    assert!(nobody.first_of_theirs.is_empty());
    let cleo = store.create_person(&person("cleo"), &[], &by).await.unwrap();
    let cleo_facts = store.work_facts(Some(cleo.id), now, 5).await.unwrap();
    assert_eq!((cleo_facts.theirs, cleo_facts.first_of_theirs.len()), (0, 0));
    // An empty workspace.
    let (url, _dir) = fresh_database(db).await;
    let empty = Store::connect(&url).await.unwrap();
    empty.migrate().await.unwrap();
    assert_eq!(empty.work_facts(None, now, 5).await.unwrap(), Default::default());
}
