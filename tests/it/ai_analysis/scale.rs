//! Delay detection over 1,000,000 tasks: the figures for the README, measured by hand.

use chrono::{DateTime, Utc};
use coordinator::workspace::{Actor, AnalysisOptions};

use crate::helpers::{fresh_database, Db};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// The analysis over 1,000,000 tasks (100 people, 1,000 projects): run by hand with
/// `cargo test --release --test it analysis_over_a_million_tasks -- --ignored --nocapture`
/// (with `TEST_DATABASE_URL` for the PostgreSQL half). Prints the figures; asserts no timing.
#[tokio::test]
#[ignore = "seeds 1,000,000 tasks; run by hand"]
async fn analysis_over_a_million_tasks() {
    scale(Db::Sqlite).await;
    if crate::helpers::postgres_ready().await {
        scale(Db::Postgres).await;
    }
}

const SEED_SQLITE: [&str; 3] = [
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
     INSERT INTO people (handle, name, timezone, role, created_at, updated_at) \
     SELECT 'p' || i, 'Person ' || i, 'UTC', 'member', $1, $1 FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
     INSERT INTO projects (name, status, deadline, created_at, updated_at) \
     SELECT 'Project ' || i, CASE WHEN i % 10 = 0 THEN 'on_hold' ELSE 'active' END, \
     strftime('%Y-%m-%dT%H:%M:%S+00:00', $1, ((i * 37) % 120 - 20) || ' days'), $1, $1 FROM n",
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
     INSERT INTO tasks (title, status, priority, project_id, assignee_id, time_estimate, time_spent, \
       due_date, created_by, created_at, updated_at) \
     SELECT 'Task ' || i, \
       CASE WHEN i % 10 < 6 THEN 'done' WHEN i % 10 < 8 THEN 'todo' WHEN i % 10 = 8 THEN 'in_progress' \
            ELSE 'blocked' END, \
       CASE (i / 10) % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'urgent' END, \
       1 + (i / 3) % 1000, CASE WHEN i % 13 = 0 THEN NULL ELSE 1 + (i * 11) % 100 END, \
       CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 16) + 1.0 END, (i % 7) * 1.0, \
       CASE WHEN i % 3 = 0 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S+00:00', $1, \
            ((i * 7919) % 17520 - 8760) || ' hours') END, \
       'seed', $1, strftime('%Y-%m-%dT%H:%M:%S+00:00', $1, '-' || ((i * 104729) % 86400) || ' minutes') \
     FROM n",
];

const SEED_POSTGRES: [&str; 3] = [
    "INSERT INTO people (handle, name, timezone, role, created_at, updated_at) \
     SELECT 'p' || i, 'Person ' || i, 'UTC', 'member', $1, $1 FROM generate_series(1, 100) i",
    "INSERT INTO projects (name, status, deadline, created_at, updated_at) \
     SELECT 'Project ' || i, CASE WHEN i % 10 = 0 THEN 'on_hold' ELSE 'active' END, \
     $1 + make_interval(days => (i * 37) % 120 - 20), $1, $1 FROM generate_series(1, 1000) i",
    "INSERT INTO tasks (title, status, priority, project_id, assignee_id, time_estimate, time_spent, \
       due_date, created_by, created_at, updated_at) \
     SELECT 'Task ' || i, \
       CASE WHEN i % 10 < 6 THEN 'done' WHEN i % 10 < 8 THEN 'todo' WHEN i % 10 = 8 THEN 'in_progress' \
            ELSE 'blocked' END, \
       CASE (i / 10) % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'urgent' END, \
       1 + (i / 3) % 1000, CASE WHEN i % 13 = 0 THEN NULL ELSE 1 + (i * 11) % 100 END, \
       CASE WHEN i % 5 = 0 THEN NULL ELSE (i % 16) + 1.0 END, (i % 7) * 1.0, \
       CASE WHEN i % 3 = 0 THEN NULL ELSE $1 + make_interval(hours => ((i * 7919) % 17520 - 8760)::int) END, \
       'seed', $1, $1 - make_interval(mins => ((i * 104729) % 86400)::int) \
     FROM generate_series(1::bigint, 1000000::bigint) i",
];

async fn scale(db: Db) {
    use coordinator::store::Store;
    use coordinator::workspace::Workspace;
    use std::time::Instant;

    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let now = at("2030-01-14T09:00:00Z");
    let started = Instant::now();
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            for sql in SEED_SQLITE {
                let base = now.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
                sqlx::query(sql).bind(base).execute(&pool).await.unwrap();
            }
            sqlx::query("ANALYZE").execute(&pool).await.unwrap();
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for sql in SEED_POSTGRES {
                sqlx::query(sql).bind(now).execute(&pool).await.unwrap();
            }
            sqlx::query("VACUUM ANALYZE tasks").execute(&pool).await.unwrap();
            sqlx::query("ANALYZE projects").execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    eprintln!("{db:?}: seeded 1,000,000 tasks in {:.1?}", started.elapsed());
    let workspace = Workspace::new(store, chrono_tz::Tz::UTC, None);
    let actor = Actor::system("bench");
    for run in 0..3 {
        let started = Instant::now();
        let analysis = workspace
            .analyze(&actor, now, AnalysisOptions::default())
            .await
            .unwrap();
        let analyze = started.elapsed();
        let started = Instant::now();
        let suggestions = workspace.suggestions(&actor, now).await.unwrap();
        eprintln!(
            "{db:?} run {run}: analyze {analyze:.1?} ({} findings, counts {:?}); suggestions {:.1?} ({})",
            analysis.findings.len(),
            analysis.counts,
            started.elapsed(),
            suggestions.len()
        );
    }
}
