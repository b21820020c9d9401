//! The scheduler at scale: the due-work sweep (`Scheduler::run_once`) over 1,000,000 tasks, and
//! the time to build a weekly report with its chart. Tasks are bulk-inserted with
//! `generate_series` on PostgreSQL (`TEST_DATABASE_URL`, in a fresh schema) or a recursive CTE on
//! SQLite (`-- --sqlite`): 1% overdue, 1% due within a day, 1% blocked, the rest due later or
//! done, created over a year. Run with `cargo bench --bench scheduler` (`-- --tasks N` to resize).

use std::time::Instant;

use chrono::{Duration, Utc};
use coordinator::domain::Period;
use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use coordinator::store::{ScratchSchema, Store};
use coordinator::workspace::{Actor, Workspace};

const SEED: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
    SELECT i FROM n";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let tasks: i64 = arg("--tasks").and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let sqlite = std::env::args().any(|a| a == "--sqlite");
    let dir = tempfile::tempdir()?;
    let url = if sqlite {
        format!("sqlite://{}", dir.path().join("bench.db").display())
    } else {
        let base = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        ScratchSchema::create(&base, "bsched").await?.url
    };
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let workspace = Workspace::new(store.clone(), chrono_tz::UTC, None);
    let now = coordinator::store::now();
    let started = Instant::now();
    seed(&url, tasks, now).await?;
    println!(
        "{} engine, {tasks} tasks inserted in {:.1?}",
        if sqlite { "SQLite" } else { "PostgreSQL" },
        started.elapsed()
    );

    let mut config = SchedulerConfig::with_zone(chrono_tz::UTC);
    config.report_hour = 24;
    let scheduler = Scheduler::with_config(workspace.clone(), store.clone(), config, Policies::default());
    for (label, at) in [
        // Before every due date: only the blocked tasks (1%) get ladders.
        (
            "sweep before the due dates (blocked tasks only)",
            now - Duration::days(400),
        ),
        ("first sweep (opens ladders)", now),
        ("steady sweep", now + Duration::seconds(30)),
        ("steady sweep", now + Duration::seconds(60)),
    ] {
        let started = Instant::now();
        let report = scheduler.run_once(at).await?;
        println!("{label}: {:.1?} ({report:?})", started.elapsed());
    }
    for _ in 0..3 {
        let started = Instant::now();
        let report = workspace
            .report(&Actor::system("bench"), Period::Weekly, None, now, chrono_tz::UTC)
            .await?;
        println!(
            "weekly report with chart: {:.1?} (done {}, open {}, chart {} bytes)",
            started.elapsed(),
            report.data.counts.done,
            report.data.counts.open,
            report.chart.map(|c| c.len()).unwrap_or(0)
        );
    }
    Ok(())
}

/// Inserts `n` tasks in one statement per engine, spread over the year before `now`.
async fn seed(url: &str, n: i64, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    let day = 86_400.0;
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        sqlx::query("INSERT INTO people (handle, name, timezone, role, created_at, updated_at) VALUES ('bench', 'Bench', 'UTC', 'member', $1, $1)")
            .bind(now).execute(&pool).await?;
        let sql = format!(
            "INSERT INTO tasks (title, status, priority, assignee_id, due_date, created_by, created_at, updated_at) \
             SELECT 'task ' || i, CASE WHEN i % 100 = 2 THEN 'blocked' WHEN i % 2 = 0 THEN 'done' ELSE 'todo' END, 'medium', 1, \
             strftime('%Y-%m-%dT%H:%M:%fZ', $2, CASE WHEN i % 100 = 1 THEN '-1 days' WHEN i % 100 = 3 THEN '+12 hours' ELSE '+30 days' END), \
             'bench', strftime('%Y-%m-%dT%H:%M:%fZ', $2, '-' || (i % 365) || ' days'), strftime('%Y-%m-%dT%H:%M:%fZ', $2, '-' || (i % 30) || ' days') \
             FROM ({SEED})"
        );
        sqlx::query(&sql)
            .bind(n)
            .bind(now.format("%Y-%m-%d %H:%M:%S").to_string())
            .execute(&pool)
            .await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::query("INSERT INTO people (handle, name, timezone, role, created_at, updated_at) VALUES ('bench', 'Bench', 'UTC', 'member', $1, $1)")
            .bind(now).execute(&pool).await?;
        sqlx::query(
            "INSERT INTO tasks (title, status, priority, assignee_id, due_date, created_by, created_at, updated_at) \
             SELECT 'task ' || i, CASE WHEN i % 100 = 2 THEN 'blocked' WHEN i % 2 = 0 THEN 'done' ELSE 'todo' END, 'medium', \
             (SELECT id FROM people LIMIT 1), \
             $2 + CASE WHEN i % 100 = 1 THEN interval '-1 day' WHEN i % 100 = 3 THEN interval '12 hours' ELSE interval '30 days' END, \
             'bench', $2 - make_interval(secs => (i % 365) * $3), $2 - make_interval(secs => (i % 30) * $3) \
             FROM generate_series(1, $1) AS i",
        )
        .bind(n)
        .bind(now)
        .bind(day)
        .execute(&pool)
        .await?;
        sqlx::query("ANALYZE tasks").execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}
