//! The service under load: the real `coordinator` binary as a child process, in Telegram
//! webhook mode (or long polling), pointed at the fakes, on a fresh SQLite file or PostgreSQL
//! schema. It can be killed with SIGKILL and started again on the same port and database, and
//! its resident memory is read from `/proc/PID/status`.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use coordinator::store::ScratchSchema;
use serde_json::{json, Value};

pub const API_TOKEN: &str = "load-admin";
pub const SECRET: &str = "load-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// A fresh database for one run: a SQLite file in the run folder, or a scratch schema on the
/// PostgreSQL server (dropped by [`Database::drop_schema`]).
pub struct Database {
    pub engine: Engine,
    pub url: String,
    schema: Option<ScratchSchema>,
}

impl Database {
    pub async fn create(engine: Engine, dir: &Path, postgres: &str) -> anyhow::Result<Self> {
        match engine {
            Engine::Sqlite => Ok(Self {
                engine,
                url: format!("sqlite://{}", dir.join("load.db").display()),
                schema: None,
            }),
            Engine::Postgres => {
                let schema = ScratchSchema::create(postgres, "load").await?;
                Ok(Self {
                    engine,
                    url: schema.url.clone(),
                    schema: Some(schema),
                })
            }
        }
    }

    pub async fn drop_schema(&self) {
        let Some(schema) = &self.schema else {
            return;
        };
        if let Err(e) = schema.drop_now().await {
            eprintln!("could not drop the schema {}: {e}", schema.name);
        }
    }
}

pub async fn postgres_reachable(url: &str) -> bool {
    let connect = sqlx::PgPool::connect(url);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ => false,
    }
}

/// Resident memory, in KiB (`/proc/PID/status`).
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: everything resident, the binary's code pages included.
    pub rss: u64,
    /// `VmHWM`: the peak of `VmRSS`.
    pub peak: u64,
    /// `RssAnon`: the heap and stacks, what the process itself allocated.
    pub anonymous: u64,
}

/// How to start the service.
pub struct Launch {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub database_url: String,
    pub telegram_url: String,
    pub model_url: String,
    pub handbook: PathBuf,
    /// The fake Slack Web API, when Slack is measured: Slack is configured as well.
    pub slack_url: Option<String>,
    /// Settings of this run on top of the load tool's own (a short outbox lease, retention).
    pub extra_env: Vec<(String, String)>,
    /// Telegram by long polling (`getUpdates`) instead of the webhook.
    pub polling: bool,
}

/// The running child process.
pub struct Service {
    launch: Launch,
    child: Option<Child>,
    port: u16,
    pub base: String,
    pub client: reqwest::Client,
    /// How long each start took until `/health` answered 200.
    pub start_times: Vec<Duration>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Service {
    pub async fn start(launch: Launch) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        let mut service = Self {
            launch,
            child: None,
            port,
            base: format!("http://127.0.0.1:{port}"),
            client,
            start_times: Vec::new(),
        };
        service.spawn().await?;
        Ok(service)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let l = &self.launch;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(l.dir.join("service.log"))?;
        let started = Instant::now();
        let mut command = Command::new(&l.bin);
        command.env_clear();
        if !l.polling {
            command.env("TELEGRAM_WEBHOOK_SECRET", SECRET);
        }
        if let Some(slack) = &l.slack_url {
            command
                .env("SLACK_BOT_TOKEN", crate::fake_slack::BOT_TOKEN)
                .env("SLACK_SIGNING_SECRET", crate::fake_slack::SIGNING_SECRET)
                .env("SLACK_API_URL", slack);
        }
        let child = command
            .arg("serve")
            .current_dir(&l.dir)
            .env("DATABASE_URL", &l.database_url)
            .env("COORDINATOR_ADDR", format!("127.0.0.1:{}", self.port))
            .env("HANDBOOK_MODEL_URL", "off")
            .env("COORDINATOR_API_TOKEN", API_TOKEN)
            // The load tool measures the service, not its per-chat and per-token allowances.
            .env("COORDINATOR_MESSAGES_PER_MINUTE", "1000000")
            .env("COORDINATOR_AGENT_TURNS_PER_DAY", "1000000")
            .env("COORDINATOR_LLM_TOKENS_PER_DAY", "1000000000")
            .env("COORDINATOR_API_REQUESTS_PER_MINUTE", "1000000")
            .env("COORDINATOR_DATA_DIR", l.dir.join("data"))
            .env("HANDBOOK_DIR", &l.handbook)
            .env("TELEGRAM_BOT_TOKEN", crate::fake_telegram::TOKEN)
            .env("TELEGRAM_API_URL", &l.telegram_url)
            .env("OPENAI_API_KEY", "sk-load")
            .env("OPENAI_BASE_URL", &l.model_url)
            .env(
                "RUST_LOG",
                std::env::var("SERVICE_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .envs(l.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", l.bin.display()))?;
        self.child = Some(child);
        let deadline = started + Duration::from_secs(120);
        while Instant::now() < deadline {
            let health = self.client.get(format!("{}/health", self.base)).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                self.start_times.push(started.elapsed());
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!(
                    "the service exited with {status}; see {}",
                    self.launch.dir.join("service.log").display()
                );
            }
            // Polled often, so that the start-up figure is not rounded up to the poll.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("the service did not answer /health within 120 s")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident memory of the process, in KiB.
    pub fn memory_kib(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some(Memory {
            rss: field("VmRSS:")?,
            peak: field("VmHWM:")?,
            anonymous: field("RssAnon:")?,
        })
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and database.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.spawn().await
    }

    /// Creates a person linked to each Slack user in `users`, eight requests at a time.
    pub async fn link_slack(&self, users: &[String]) -> anyhow::Result<()> {
        use futures::StreamExt;
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(users.iter())
            .map(|user| async move {
                let person = json!({"handle": format!("s{}", user.to_lowercase()), "name": user,
                    "identities": [{"channel": "slack", "external_id": user}]});
                let response = self
                    .client
                    .post(format!("{}/api/people", self.base))
                    .bearer_auth(API_TOKEN)
                    .json(&person)
                    .send()
                    .await?;
                if response.status() != 201 {
                    bail!(
                        "creating a person: {} {}",
                        response.status(),
                        response.text().await?
                    );
                }
                Ok(())
            })
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Creates a person linked to each Telegram user in `users`, eight requests at a time.
    pub async fn link(&self, users: &[i64]) -> anyhow::Result<()> {
        use futures::StreamExt;
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(users.iter().copied())
            .map(|user| async move {
                let person = json!({"handle": format!("u{user}"), "name": format!("User {user}"),
                    "identities": [{"channel": "telegram", "external_id": user.to_string()}]});
                let response = self
                    .client
                    .post(format!("{}/api/people", self.base))
                    .bearer_auth(API_TOKEN)
                    .json(&person)
                    .send()
                    .await?;
                if response.status() != 201 {
                    bail!(
                        "creating a person: {} {}",
                        response.status(),
                        response.text().await?
                    );
                }
                Ok(())
            })
            .buffer_unordered(8)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET {path}: {}", response.status());
        }
        Ok(response)
    }

    /// The database's size in bytes: PostgreSQL's `pg_database_size` as the service reports
    /// it, or for SQLite the file with its write-ahead log.
    pub async fn database_bytes(&self, db: &Database) -> anyhow::Result<u64> {
        if db.engine == Engine::Sqlite {
            let file = db.url.trim_start_matches("sqlite://");
            let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            return Ok(size(file.to_owned()) + size(format!("{file}-wal")));
        }
        let status = self.queues().await?;
        Ok(status["database_bytes"].as_u64().unwrap_or(0))
    }

    /// `GET /api/monitoring/status`.
    pub async fn queues(&self) -> anyhow::Result<Value> {
        Ok(self.get("/api/monitoring/status").await?.json().await?)
    }

    /// Inbound events the service has finished since it started (answered, or given up as
    /// dead letters), from its own counters on `/metrics`: waiting on these reads nothing from
    /// the database, so the waiting does not slow what it measures (the queue counts of
    /// `/api/monitoring/status` are some twenty statements a poll).
    pub async fn events_finished(&self) -> anyhow::Result<u64> {
        let text = self.get("/metrics").await?.text().await?;
        Ok(counter_sum(&text, "inbox_processed_total") + counter_sum(&text, "inbox_dead_letters_total"))
    }

    /// Waits until the service has finished `events` inbound events since it started, at most
    /// `within` after `started`.
    pub async fn wait_for_events(
        &self,
        events: u64,
        started: Instant,
        within: Duration,
    ) -> anyhow::Result<()> {
        loop {
            if self.events_finished().await? >= events {
                return Ok(());
            }
            if started.elapsed() > within {
                bail!("the inbox did not finish {events} events within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Items of the inbox and of the outbox not yet finished (pending or processing).
    pub async fn unfinished(&self) -> anyhow::Result<(i64, i64)> {
        let q = self.queues().await?;
        let open = |queue: &str| {
            let c = &q[queue]["counts"];
            c["pending"].as_i64().unwrap_or(0) + c["processing"].as_i64().unwrap_or(0)
        };
        Ok((open("inbox"), open("outbox")))
    }

    /// The titles of every task, page by page.
    pub async fn task_titles(&self) -> anyhow::Result<Vec<String>> {
        let mut titles = Vec::new();
        loop {
            let page: Vec<Value> = self
                .get(&format!("/api/tasks?limit=500&offset={}", titles.len()))
                .await?
                .json()
                .await?;
            let n = page.len();
            titles.extend(
                page.iter()
                    .map(|t| t["title"].as_str().unwrap_or_default().to_owned()),
            );
            if n < 500 {
                return Ok(titles);
            }
        }
    }
}

/// The sum of a Prometheus counter over its labels in the text exposition format.
fn counter_sum(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
