//! The REST API through real HTTP: `POST /api/tasks` and a filtered `GET /api/tasks` over a
//! workspace of 10,000 tasks, on SQLite (a temporary file) and on PostgreSQL (a fresh schema on
//! `TEST_DATABASE_URL`, skipped with a note when the server is unreachable).
//!
//! Run with `cargo bench --bench api`.

use std::sync::Arc;
use std::time::Duration;

use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::store::ScratchSchema;
use coordinator::workspace::{Actor, NewPerson, TaskRequest, Workspace};
use criterion::{criterion_group, criterion_main, Criterion};
use reqwest::header::CONTENT_TYPE;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-token";
/// Tasks in the workspace before measuring.
const TASKS: usize = 10_000;
/// People the tasks are spread over; the filtered list asks for the first.
const PEOPLE: usize = 20;
const STATUSES: [&str; 4] = ["todo", "in_progress", "done", "blocked"];
const LIST_PATH: &str = "/api/tasks?status=todo&assigned_to=anna&limit=50";

#[derive(Debug, Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The running service, its client and what must be cleaned up afterwards.
struct Running {
    base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    /// The PostgreSQL schema to drop at the end.
    schema: Option<ScratchSchema>,
    _dir: tempfile::TempDir,
}

fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn postgres_reachable(url: &str) -> bool {
    match tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(url)).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ => false,
    }
}

fn handle(i: usize) -> String {
    if i == 0 {
        "anna".into()
    } else {
        format!("person{i:02}")
    }
}

/// Fills the workspace: `PEOPLE` people, then `TASKS` tasks with every (status, person) pair
/// equally often, written by several workers at once.
async fn seed(workspace: &Workspace, workers: usize) {
    let actor = Arc::new(Actor::system("bench"));
    for i in 0..PEOPLE {
        let new = NewPerson {
            handle: handle(i),
            name: format!("Person {i}"),
            ..Default::default()
        };
        workspace.create_person(&actor, new).await.expect("seed a person");
    }
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let workspace = workspace.clone();
        let actor = actor.clone();
        set.spawn(async move {
            for i in (w..TASKS).step_by(workers) {
                let new = TaskRequest {
                    title: format!("Seeded task {i}"),
                    description: Some("A task the benchmark put in the workspace.".into()),
                    status: Some(STATUSES[i % STATUSES.len()].into()),
                    assigned_to: Some(handle((i / STATUSES.len()) % PEOPLE)),
                    ..Default::default()
                };
                workspace
                    .submit_task(&actor, new, None)
                    .await
                    .expect("seed a task");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.expect("a seeding worker panicked");
    }
}

/// Starts the service on a fresh database of `engine`, seeded; `None` when PostgreSQL is not
/// reachable.
async fn start(engine: Engine) -> Option<Running> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (url, schema, workers) = match engine {
        Engine::Sqlite => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
            8,
        ),
        Engine::Postgres => {
            let base = postgres_url();
            if !postgres_reachable(&base).await {
                eprintln!(
                    "note: PostgreSQL at {base} is unreachable (set TEST_DATABASE_URL); benchmarking SQLite only"
                );
                return None;
            }
            let scratch = ScratchSchema::create(&base, "b").await.expect("a bench schema");
            (scratch.url.clone(), Some(scratch), 16)
        }
    };
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().expect("utf-8 temporary path").to_owned();
    let settings = Settings::with(&[
        ("DATABASE_URL", url.as_str()),
        ("COORDINATOR_API_TOKEN", TOKEN),
        // Benchmarks measure the service, not its per-token and per-chat allowances.
        ("COORDINATOR_MESSAGES_PER_MINUTE", "1000000"),
        ("COORDINATOR_AGENT_TURNS_PER_DAY", "1000000"),
        ("COORDINATOR_LLM_TOKENS_PER_DAY", "1000000000"),
        ("COORDINATOR_API_REQUESTS_PER_MINUTE", "1000000"),
        ("COORDINATOR_DATA_DIR", data_dir.as_str()),
        ("COORDINATOR_ADDR", "127.0.0.1:0"),
    ])
    .expect("bench settings");
    let app = App::build(settings).await.expect("build the app");
    let started = std::time::Instant::now();
    seed(&app.workspace, workers).await;
    eprintln!(
        "{}: seeded {PEOPLE} people and {TASKS} tasks in {:.1?}",
        engine.name(),
        started.elapsed()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(listener, shutdown.clone()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client");
    Some(Running {
        base,
        client,
        shutdown,
        server,
        schema,
        _dir: dir,
    })
}

impl Running {
    /// Stops the service (which closes its pool), then drops the PostgreSQL schema.
    async fn stop(self) {
        self.shutdown.cancel();
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("the service stopped with an error: {e:#}"),
            Err(e) => eprintln!("the service task failed: {e}"),
        }
        if let Some(schema) = &self.schema {
            if let Err(e) = schema.drop_now().await {
                eprintln!("could not drop the bench schema {}: {e}", schema.name);
            }
        }
    }

    /// One filtered list; returns the body size so the work is not optimised away.
    async fn list(&self, url: &str) -> usize {
        let response = self
            .client
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("list tasks");
        assert_eq!(response.status().as_u16(), 200, "list tasks");
        response.bytes().await.expect("list body").len()
    }

    async fn create(&self, url: &str, body: &'static [u8]) -> usize {
        let response = self
            .client
            .post(url)
            .bearer_auth(TOKEN)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("create a task");
        assert_eq!(response.status().as_u16(), 201, "create a task");
        response.bytes().await.expect("create body").len()
    }

    /// Checks once that the filtered list means what the bench says it means.
    async fn check_list(&self) {
        let response = self
            .client
            .get(format!("{}{LIST_PATH}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("list tasks");
        assert_eq!(response.status().as_u16(), 200);
        let total: usize = response.headers()["x-total-count"]
            .to_str()
            .ok()
            .and_then(|t| t.parse().ok())
            .expect("x-total-count");
        let items: serde_json::Value = response.json().await.expect("list JSON");
        let items = items.as_array().expect("a JSON array");
        assert_eq!(total, TASKS / (STATUSES.len() * PEOPLE), "matching tasks");
        assert_eq!(items.len(), 50, "one page");
    }
}

const CREATE_BODY: &[u8] = br##"{"title":"Benchmark task","description":"Created by the API benchmark.","priority":"high","assigned_to":"person01","due_date":"2030-01-15","labels":[{"name":"bench","color":"#00ff00"}],"time_estimate":2.5}"##;

fn bench_engine(c: &mut Criterion, rt: &Runtime, engine: Engine) {
    let Some(running) = rt.block_on(start(engine)) else {
        return;
    };
    rt.block_on(running.check_list());
    let list_url = format!("{}{LIST_PATH}", running.base);
    let create_url = format!("{}/api/tasks", running.base);

    let mut group = c.benchmark_group(format!("api/{}", engine.name()));
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5));
    // The list runs first, so the tasks the create bench adds do not change what it reads.
    group.bench_function("list_tasks_filtered", |b| {
        b.to_async(rt)
            .iter(|| async { std::hint::black_box(running.list(&list_url).await) })
    });
    group.bench_function("create_task", |b| {
        b.to_async(rt)
            .iter(|| async { std::hint::black_box(running.create(&create_url, CREATE_BODY).await) })
    });
    group.finish();

    rt.block_on(running.stop());
}

fn api(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    bench_engine(c, &rt, Engine::Sqlite);
    bench_engine(c, &rt, Engine::Postgres);
}

criterion_group!(benches, api);
criterion_main!(benches);
