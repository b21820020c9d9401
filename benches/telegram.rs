//! Telegram through real HTTP, against the in-process fake Bot API server of the integration
//! tests (`tests/it/fake_telegram.rs`), on SQLite (a temporary file) and on PostgreSQL (a fresh
//! schema on `TEST_DATABASE_URL`, skipped with a note when the server is unreachable):
//!
//! 1. Webhook throughput: 2,000 distinct `/newtask` updates from linked users POSTed to
//!    `/webhooks/telegram` by 16 concurrent clients; wall time until every one was answered 200
//!    (stored and acknowledged). Also reported: the per-request acknowledgement latency and how
//!    long the inbox then took to turn every update into a task.
//! 2. End-to-end latency: 300 updates sent one at a time, each from its own private chat (so the
//!    per-chat limit of 1 message/s does not apply) and at least 35 ms apart (under the global
//!    limit of 30 messages/s); for each, the time from the webhook POST to the arrival of the
//!    reply's `sendMessage` at the fake server (its own arrival timestamp). Ten unmeasured
//!    updates warm up first.
//!
//! Each measurement runs on a service of its own, with a fresh database, so the reply backlog of
//! the first (2,000 replies drain at 30/s) does not delay the second.
//!
//! Run with `cargo bench --bench telegram`. A plain `main`, not criterion: it prints one table.

// Its own tests (`mod wire_format`, not `cfg(test)`) leave their imports unused outside a test build.
#[allow(unused_imports)]
#[path = "../tests/it/fake_telegram.rs"]
mod fake_telegram;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::app::App;
use coordinator::config::Settings;
use coordinator::store::ScratchSchema;
use fake_telegram::{text_update, FakeTelegram};
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const API_TOKEN: &str = "bench";
const SECRET: &str = "bench-secret";

/// Updates POSTed in the throughput run.
const THROUGHPUT_UPDATES: usize = 2000;
/// Concurrent webhook clients in the throughput run.
const CONCURRENCY: usize = 16;
/// Linked users the throughput updates come from (round robin, each in their private chat).
const THROUGHPUT_USERS: usize = 50;
/// Measured updates in the latency run, each from its own chat.
const LATENCY_UPDATES: usize = 300;
/// Unmeasured updates sent before those.
const WARM_UP: usize = 10;
/// The least time between two sends of the latency run (the global limit is 30 messages/s).
const PACE: Duration = Duration::from_millis(35);
/// How long to wait for one reply, or for the inbox to drain, before giving up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The running service with its fake Bot API, and what must be cleaned up afterwards.
struct Running {
    base: String,
    client: reqwest::Client,
    fake: FakeTelegram,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    /// The PostgreSQL schema to drop at the end.
    schema: Option<ScratchSchema>,
    _dir: tempfile::TempDir,
}

/// Starts the service in webhook mode on a fresh database of `engine` and links one person to
/// each Telegram user id in `users`; `None` when PostgreSQL is not reachable.
async fn start(engine: Engine, users: &[i64]) -> Option<Running> {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (url, schema) = match engine {
        Engine::Sqlite => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        ),
        Engine::Postgres => {
            let scratch = ScratchSchema::create(&postgres_url(), "b")
                .await
                .expect("a bench schema");
            (scratch.url.clone(), Some(scratch))
        }
    };
    let fake = FakeTelegram::start().await;
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().expect("utf-8 temporary path").to_owned();
    let settings = Settings::with(&[
        ("DATABASE_URL", url.as_str()),
        ("COORDINATOR_API_TOKEN", API_TOKEN),
        // Benchmarks measure the service, not its per-token and per-chat allowances.
        ("COORDINATOR_MESSAGES_PER_MINUTE", "1000000"),
        ("COORDINATOR_AGENT_TURNS_PER_DAY", "1000000"),
        ("COORDINATOR_LLM_TOKENS_PER_DAY", "1000000000"),
        ("COORDINATOR_API_REQUESTS_PER_MINUTE", "1000000"),
        ("TELEGRAM_BOT_TOKEN", fake.token.as_str()),
        ("TELEGRAM_API_URL", fake.url.as_str()),
        ("TELEGRAM_WEBHOOK_SECRET", SECRET),
        ("COORDINATOR_DATA_DIR", data_dir.as_str()),
        ("COORDINATOR_ADDR", "127.0.0.1:0"),
    ])
    .expect("bench settings");
    let app = App::build(settings).await.expect("build the app");
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
    let running = Running {
        base,
        client,
        fake,
        shutdown,
        server,
        schema,
        _dir: dir,
    };
    for (i, user) in users.iter().enumerate() {
        running.link(&format!("u{}", i + 1), *user).await;
    }
    Some(running)
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

    /// Creates a person linked to the Telegram user `user`.
    async fn link(&self, handle: &str, user: i64) {
        let response = self
            .client
            .post(format!("{}/api/people", self.base))
            .bearer_auth(API_TOKEN)
            .json(&json!({
                "handle": handle,
                "name": handle.to_uppercase(),
                "identities": [{"channel": "telegram", "external_id": user.to_string()}],
            }))
            .send()
            .await
            .expect("create a person");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 201, "create a person: {body}");
    }

    /// POSTs one update (already JSON) to the webhook; returns the HTTP status.
    async fn deliver(&self, url: &str, body: Vec<u8>) -> u16 {
        self.client
            .post(url)
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("POST the webhook")
            .status()
            .as_u16()
    }

    /// How many tasks the workspace holds.
    async fn task_count(&self) -> usize {
        let response = self
            .client
            .get(format!("{}/api/tasks?limit=1", self.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("list tasks");
        assert_eq!(response.status().as_u16(), 200, "list tasks");
        response.headers()["x-total-count"]
            .to_str()
            .ok()
            .and_then(|t| t.parse().ok())
            .expect("x-total-count")
    }

    /// Waits for a `sendMessage` to `chat` among the calls from index `from` on; returns when it
    /// arrived at the fake server, with its text.
    async fn reply_to(&self, chat: i64, from: usize) -> (Instant, String) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if self.fake.call_times("sendMessage").len() > from {
                // `calls` first: `call_times` read after it covers at least as many calls.
                let calls = self.fake.calls("sendMessage");
                let times = self.fake.call_times("sendMessage");
                if let Some(i) = (from..calls.len()).find(|&i| calls[i]["chat_id"].as_i64() == Some(chat)) {
                    let text = calls[i]["text"].as_str().unwrap_or_default().to_owned();
                    return (times[i], text);
                }
            }
            assert!(
                Instant::now() < deadline,
                "no reply to chat {chat} within {REPLY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
}

/// Sorted durations and their summary.
struct Stats {
    sorted: Vec<Duration>,
}

impl Stats {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self { sorted: samples }
    }

    /// Nearest-rank percentile.
    fn percentile(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    fn median(&self) -> Duration {
        let n = self.sorted.len();
        if n % 2 == 1 {
            self.sorted[n / 2]
        } else {
            (self.sorted[n / 2 - 1] + self.sorted[n / 2]) / 2
        }
    }

    fn mean(&self) -> Duration {
        self.sorted.iter().sum::<Duration>() / self.sorted.len() as u32
    }

    fn summary(&self) -> String {
        format!(
            "median {} | p99 {} | mean {} | min {} | max {}",
            ms(self.median()),
            ms(self.percentile(99.0)),
            ms(self.mean()),
            ms(self.sorted[0]),
            ms(self.sorted[self.sorted.len() - 1]),
        )
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// One line of the final table.
struct Row {
    engine: &'static str,
    measurement: String,
    result: String,
}

/// The throughput run: returns its rows.
async fn throughput(engine: Engine) -> Option<Vec<Row>> {
    let users: Vec<i64> = (0..THROUGHPUT_USERS as i64).map(|i| 5_000_001 + i).collect();
    let running = Arc::new(start(engine, &users).await?);
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..THROUGHPUT_UPDATES)
            .map(|n| {
                let user = users[n % users.len()];
                let update = text_update(
                    n as i64 + 1,
                    user,
                    user,
                    &format!("/newtask Bench task {}", n + 1),
                );
                serde_json::to_vec(&update).expect("update JSON")
            })
            .collect(),
    );
    let url = Arc::new(format!("{}/webhooks/telegram", running.base));
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (running, bodies, url, next) = (running.clone(), bodies.clone(), url.clone(), next.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(n) else {
                    return latencies;
                };
                let sent = Instant::now();
                let status = running.deliver(&url, body.clone()).await;
                latencies.push(sent.elapsed());
                assert_eq!(status, 200, "webhook answer to update {}", n + 1);
            }
        });
    }
    let mut latencies = Vec::with_capacity(THROUGHPUT_UPDATES);
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.expect("a webhook client panicked"));
    }
    let wall = started.elapsed();
    assert_eq!(latencies.len(), THROUGHPUT_UPDATES);

    // Then: how long until the inbox had turned every stored update into a task.
    let drained = loop {
        let count = running.task_count().await;
        if count >= THROUGHPUT_UPDATES {
            break Some(started.elapsed());
        }
        if started.elapsed() > DRAIN_TIMEOUT {
            eprintln!(
                "{}: only {count} of {THROUGHPUT_UPDATES} tasks after {DRAIN_TIMEOUT:?}",
                engine.name()
            );
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let stats = Stats::new(latencies);
    let mut rows = vec![
        Row {
            engine: engine.name(),
            measurement: format!(
                "webhook updates stored + acknowledged ({THROUGHPUT_UPDATES}, {CONCURRENCY} concurrent)"
            ),
            result: format!(
                "{:.0} updates/s (wall {:.3} s)",
                THROUGHPUT_UPDATES as f64 / wall.as_secs_f64(),
                wall.as_secs_f64()
            ),
        },
        Row {
            engine: engine.name(),
            measurement: "  per-request webhook answer time".into(),
            result: stats.summary(),
        },
    ];
    rows.push(Row {
        engine: engine.name(),
        measurement: format!("  all {THROUGHPUT_UPDATES} turned into tasks (from first POST)"),
        result: match drained {
            Some(d) => format!(
                "{:.3} s ({:.0} updates/s)",
                d.as_secs_f64(),
                THROUGHPUT_UPDATES as f64 / d.as_secs_f64()
            ),
            None => format!("not within {DRAIN_TIMEOUT:?}"),
        },
    });

    match Arc::try_unwrap(running) {
        Ok(running) => running.stop().await,
        Err(_) => unreachable!("every webhook client has finished"),
    }
    Some(rows)
}

/// The end-to-end latency run: returns its rows.
async fn latency(engine: Engine) -> Option<Vec<Row>> {
    let users: Vec<i64> = (0..(WARM_UP + LATENCY_UPDATES) as i64)
        .map(|i| 6_000_001 + i)
        .collect();
    let running = start(engine, &users).await?;
    let url = format!("{}/webhooks/telegram", running.base);
    let mut samples = Vec::with_capacity(LATENCY_UPDATES);
    let mut next_send = tokio::time::Instant::now();
    let started = Instant::now();
    for (k, &user) in users.iter().enumerate() {
        tokio::time::sleep_until(next_send).await;
        next_send = tokio::time::Instant::now() + PACE;
        let replies_before = running.fake.call_times("sendMessage").len();
        let update = text_update(
            k as i64 + 1,
            user,
            user,
            &format!("/newtask Bench task {}", k + 1),
        );
        let body = serde_json::to_vec(&update).expect("update JSON");
        let posted = Instant::now();
        let status = running.deliver(&url, body).await;
        assert_eq!(status, 200, "webhook answer to update {}", k + 1);
        let (arrived, text) = running.reply_to(user, replies_before).await;
        assert!(
            text.starts_with("Created #"),
            "unexpected reply to update {}: {text}",
            k + 1
        );
        if k >= WARM_UP {
            samples.push(arrived.saturating_duration_since(posted));
        }
    }
    let wall = started.elapsed();
    let stats = Stats::new(samples);
    let rows = vec![Row {
        engine: engine.name(),
        measurement: format!(
            "webhook POST -> sendMessage at Bot API ({LATENCY_UPDATES}, 1 at a time, >= {} ms apart, {:.1} s)",
            PACE.as_millis(),
            wall.as_secs_f64()
        ),
        result: stats.summary(),
    }];
    running.stop().await;
    Some(rows)
}

async fn run() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut engines = vec![Engine::Sqlite];
    let base = postgres_url();
    if postgres_reachable(&base).await {
        engines.push(Engine::Postgres);
    } else {
        eprintln!(
            "note: PostgreSQL at {base} is unreachable (set TEST_DATABASE_URL); benchmarking SQLite only"
        );
    }
    for engine in engines {
        eprintln!("{}: webhook throughput...", engine.name());
        rows.extend(throughput(engine).await.unwrap_or_default());
        eprintln!("{}: end-to-end latency...", engine.name());
        rows.extend(latency(engine).await.unwrap_or_default());
    }
    rows
}

fn print_table(rows: &[Row]) {
    let headers = ["engine", "measurement", "result"];
    let widths = [
        rows.iter()
            .map(|r| r.engine.len())
            .chain([headers[0].len()])
            .max()
            .unwrap_or(0),
        rows.iter()
            .map(|r| r.measurement.len())
            .chain([headers[1].len()])
            .max()
            .unwrap_or(0),
        rows.iter()
            .map(|r| r.result.len())
            .chain([headers[2].len()])
            .max()
            .unwrap_or(0),
    ];
    let line = |cells: [&str; 3]| {
        println!(
            "| {:<w0$} | {:<w1$} | {:<w2$} |",
            cells[0],
            cells[1],
            cells[2],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    };
    line(headers);
    println!(
        "|{}|{}|{}|",
        "-".repeat(widths[0] + 2),
        "-".repeat(widths[1] + 2),
        "-".repeat(widths[2] + 2)
    );
    for row in rows {
        line([row.engine, &row.measurement, &row.result]);
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let rows = rt.block_on(run());
    println!();
    println!("Telegram webhook benchmark (fake Bot API on 127.0.0.1)");
    print_table(&rows);
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}
