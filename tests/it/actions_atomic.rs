//! An approved AI action's effect and its `done` record are one transaction: a reassignment
//! that fails part-way moves no task at all, and the action can be approved again. An approval
//! that a stop interrupted (the action left `approved`) is put back by the scheduler's sweep.

use chrono::Duration;
use coordinator::domain::ActionStatus;
use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use coordinator::workspace::{Actor, Proposal, WorkspaceError};
use serde_json::json;

use crate::helpers::{both_dbs, spawn_app, Db, TestApp};

both_dbs!(
    a_reassignment_moves_every_task_or_none,
    an_interrupted_approval_is_put_back
);

/// The database refuses any change to task `id`, as a fault part-way through would.
async fn refuse_changes_to_task(db: Db, url: &str, id: i64) {
    let statements: Vec<String> = match db {
        Db::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_task BEFORE UPDATE ON tasks WHEN OLD.id = {id} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )],
        Db::Postgres => vec![
            format!(
                "CREATE FUNCTION refuse_task() RETURNS trigger AS $$ BEGIN \
                 IF OLD.id = {id} THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER refuse_task BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_task()"
                .into(),
        ],
    };
    run_sql(db, url, &statements).await;
}

async fn allow_changes_again(db: Db, url: &str) {
    let statements = match db {
        Db::Sqlite => vec!["DROP TRIGGER refuse_task".to_owned()],
        Db::Postgres => vec!["DROP TRIGGER refuse_task ON tasks".to_owned()],
    };
    run_sql(db, url, &statements).await;
}

async fn run_sql(db: Db, url: &str, statements: &[String]) {
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            for sql in statements {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            for sql in statements {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
}

async fn assigned(app: &TestApp, handle: &str) -> usize {
    let tasks = app.get(&format!("/api/tasks?assigned_to={handle}")).await.body;
    tasks.as_array().map_or(0, Vec::len)
}

fn admin() -> Actor {
    Actor::system("api")
}

async fn a_reassignment_moves_every_task_or_none(db: Db) {
    let app = spawn_app(db).await;
    for handle in ["ana", "ben"] {
        let made = app
            .post("/api/people", json!({"handle": handle, "name": handle}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    for title in ["a", "b", "c"] {
        let made = app
            .post("/api/tasks", json!({"title": title, "assigned_to": "ana"}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    let actor = admin();
    let proposal = Proposal::ReassignTasks {
        from: "ana".into(),
        to: "ben".into(),
    };
    let action = app
        .workspace
        .propose_action(&actor, proposal, "Ana is on leave", None)
        .await
        .unwrap();
    // The second of the three tasks cannot be changed.
    refuse_changes_to_task(db, &app.database_url, 2).await;
    let failed = app.workspace.approve_action(&actor, action.id).await;
    assert!(matches!(failed, Err(WorkspaceError::Internal(_))), "{failed:?}");
    assert_eq!(
        assigned(&app, "ana").await,
        3,
        "a task moved although the reassignment failed"
    );
    assert_eq!(assigned(&app, "ben").await, 0);
    let after = app.store.action(action.id).await.unwrap();
    assert_eq!(after.status, ActionStatus::Proposed, "it can be approved again");

    allow_changes_again(db, &app.database_url).await;
    let done = app.workspace.approve_action(&actor, action.id).await.unwrap();
    assert_eq!(done.status, ActionStatus::Done);
    assert_eq!(done.result.as_deref(), Some("3 task(s) moved from @ana to @ben"));
    assert_eq!(assigned(&app, "ben").await, 3);
    assert_eq!(assigned(&app, "ana").await, 0);
}

async fn an_interrupted_approval_is_put_back(db: Db) {
    let app = spawn_app(db).await;
    let made = app.post("/api/tasks", json!({"title": "obsolete"})).await;
    let task = made.body["id"].as_i64().unwrap();
    let actor = admin();
    let delete = app
        .workspace
        .propose_action(&actor, Proposal::DeleteTask { task_id: task }, "", None)
        .await
        .unwrap();
    let call = app
        .workspace
        .defer_call(&actor, "create_task", &json!({"title": "x"}), None)
        .await
        .unwrap();
    // A process approved both and stopped before carrying them out.
    for id in [delete.id, call.id] {
        assert!(app
            .store
            .transition_action(
                id,
                ActionStatus::Proposed,
                ActionStatus::Approved,
                Some("boss"),
                None
            )
            .await
            .unwrap());
    }
    let scheduler = Scheduler::with_config(
        app.workspace.clone(),
        app.store.clone(),
        SchedulerConfig::with_zone(chrono_tz::UTC),
        Policies::default(),
    );
    let now = coordinator::store::now();
    // Soon after, an approval may still be under way: nothing is touched.
    let report = scheduler.run_once(now + Duration::minutes(1)).await.unwrap();
    assert_eq!(report.actions_recovered, 0);
    let report = scheduler.run_once(now + Duration::minutes(11)).await.unwrap();
    assert_eq!(report.actions_recovered, 2);
    let delete_now = app.store.action(delete.id).await.unwrap();
    assert_eq!(delete_now.status, ActionStatus::Proposed);
    let call_now = app.store.action(call.id).await.unwrap();
    assert_eq!(call_now.status, ActionStatus::Failed);
    assert!(call_now.result.unwrap().contains("may or may not"));
    // Approved again, it takes effect once.
    let done = app.workspace.approve_action(&actor, delete.id).await.unwrap();
    assert_eq!(done.status, ActionStatus::Done);
    assert_eq!(app.get(&format!("/api/tasks/{task}")).await.status, 404);
}
