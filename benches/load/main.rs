//! The load tool: starts the real `coordinator` binary (a child process, Telegram webhook mode)
//! against a fake Telegram Bot API and a scripted OpenAI-compatible model, both served by this
//! tool on 127.0.0.1, on SQLite and on PostgreSQL, and measures it, or breaks it on purpose.
//!
//! ```text
//! cargo bench --bench load                        # the measurements, both databases
//! cargo bench --bench load -- --db sqlite         # one database
//! cargo bench --bench load -- --fault kill --seed 7
//! cargo bench --bench load -- --fault all --write docs/PERFORMANCE.md
//! cargo bench --bench load -- --platform slack    # Slack's Events API instead of Telegram
//! cargo bench --bench load -- --fault slow-sends
//! cargo bench --bench load -- --soak 30m --rate 5 --db sqlite
//! ```
//!
//! Measurements ([`measure`]): webhook updates stored and acknowledged per second; webhook →
//! `sendMessage` latency for commands and for free text through the agent; resident memory idle
//! and with 1,000 active chats; by long polling ([`polling`]), `/newtask` updates and agent turns
//! per second; with `--platform slack` ([`slack`]), signed Events API callbacks
//! acknowledged per second and event → `chat.postMessage` latency. Fault runs ([`faults`]): every update delivered three times;
//! SIGKILL at random moments and restart; 30% of sends refused (429 or 5xx); the PostgreSQL
//! server restarted under load; 20% of sends answered only after the outbox lease ran out.
//! Each fault run counts lost, duplicated and delayed replies. A soak ([`soak`]) runs a steady
//! load for a long time with retention on, and samples memory, database size and table sizes.
//!
//! A benchmark binary rather than a `coordinator bench` command: the fakes and the load
//! generator are test equipment and stay out of the shipped binary, and the service is measured
//! from outside, through its real process, as it runs in production. `cargo bench` builds the
//! optimized binary (`target/release/coordinator`) first; `--bin` or `COORDINATOR_BIN` picks
//! another.

mod fake_model;
mod fake_slack;
mod fake_telegram;
mod faults;
mod measure;
mod polling;
mod report;
mod service;
mod slack;
mod soak;
mod turns;
mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use fake_model::FakeModel;
use fake_slack::FakeSlack;
use fake_telegram::FakeTelegram;
use report::Table;
use service::{Database, Engine, Launch, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Databases {
    Sqlite,
    Postgres,
    Both,
}

/// Which platform the measurements go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    /// Telegram webhook updates, replies through `sendMessage`.
    Telegram,
    /// Slack Events API callbacks (signed), replies through `chat.postMessage`.
    Slack,
}

/// The measurements of a measuring run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Measurement {
    Throughput,
    /// `/newtask` updates and agent turns with Telegram by long polling (`getUpdates`).
    Polling,
    Latency,
    Turns,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultKind {
    /// Every update delivered three times.
    Redeliver,
    /// SIGKILL at random moments under load, then restart.
    Kill,
    /// The Bot API refuses a share of the sends with 429 (retry_after) or 5xx.
    FlakySends,
    /// The PostgreSQL server restarted under load (PostgreSQL only).
    DbRestart,
    /// A share of the sends answered only after the outbox lease ran out (the message is
    /// shown when the call arrives, the answer comes late).
    SlowSends,
    /// Each of the above in turn.
    All,
}

/// Load and fault runs against the real service.
#[derive(Debug, Parser)]
#[command(name = "load")]
pub struct Options {
    /// Which databases to run on (PostgreSQL is skipped with a note when unreachable).
    #[arg(long, value_enum, default_value = "both")]
    db: Databases,
    /// Run a fault instead of the measurements.
    #[arg(long, value_enum)]
    fault: Option<FaultKind>,
    /// The platform the measurements go through (fault runs use Telegram).
    #[arg(long, value_enum, default_value = "telegram")]
    pub platform: Platform,
    /// Seed of every random choice of a fault run (when, which, how long).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Updates sent in a fault run [default: 600; 150 for flaky-sends].
    #[arg(long)]
    pub updates: Option<usize>,
    /// Updates per second in a fault run (the service sends at most 30 replies a second).
    #[arg(long, default_value_t = 15.0)]
    pub rate: f64,
    /// Chats the fault-run updates come from, round robin.
    #[arg(long, default_value_t = 50)]
    pub chats: usize,
    /// Every n-th fault-run update is free text for the agent; the others are `/newtask`.
    #[arg(long, default_value_t = 4)]
    pub agent_every: usize,
    /// A reply that arrives later than this after its update's first delivery counts as delayed.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub delay_threshold: Duration,
    /// Kills in the kill run.
    #[arg(long, default_value_t = 6)]
    pub kills: usize,
    /// Server restarts in the db-restart run.
    #[arg(long, default_value_t = 2)]
    pub db_restarts: usize,
    /// Share of `sendMessage` calls refused in the flaky-sends run.
    #[arg(long, default_value_t = 0.3)]
    pub failure_ratio: f64,
    /// Share of `sendMessage` calls answered late in the slow-sends run.
    #[arg(long, default_value_t = 0.2)]
    pub slow_ratio: f64,
    /// How late those are answered: longer than `--outbox-lease`, shorter than the service's
    /// Telegram client timeout (40 s), which would give up on the call instead.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration)]
    pub slow_send: Duration,
    /// `COORDINATOR_OUTBOX_LEASE` of the slow-sends run.
    #[arg(long, default_value = "10s")]
    pub outbox_lease: String,
    /// Run a soak for this long instead: a steady `--rate` of updates with retention running
    /// (short retention settings), sampling resident memory, database size and table sizes.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub soak: Option<Duration>,
    /// How often the soak samples.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub sample_every: Duration,
    /// `COORDINATOR_KEEP_QUEUE` (and twice it for conversations, four times for the history)
    /// during the soak.
    #[arg(long, default_value = "3m")]
    pub soak_keep: String,
    /// Run only these measurements (comma-separated), e.g. `--only throughput,turns`, to
    /// profile one of them; `--write` is refused then, the tables would lose rows.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Measurement>,
    /// Runs of the throughput and turns measurements, each on a fresh service; their rates
    /// are reported as the median with the range (the other rows come from the first run).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Updates in the throughput measurement.
    #[arg(long, default_value_t = 2000)]
    pub throughput_updates: usize,
    /// Concurrent webhook clients in the throughput measurement.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Measured updates per latency measurement (commands, agent), one at a time.
    #[arg(long, default_value_t = 300)]
    pub latency_updates: usize,
    /// Chats in the memory measurement.
    #[arg(long, default_value_t = 1000)]
    pub active_chats: usize,
    /// The service binary [default: the one `cargo bench` built].
    #[arg(long, env = "COORDINATOR_BIN")]
    bin: Option<PathBuf>,
    /// PostgreSQL server; each run gets a fresh schema on it.
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub database_url: String,
    /// Also write the tables into their sections of this document (e.g. docs/PERFORMANCE.md).
    #[arg(long)]
    write: Option<PathBuf>,
    /// Keep each run's folder (database, service log) instead of removing it.
    #[arg(long)]
    keep: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// One run's service with its fakes and database.
pub struct Rig {
    pub service: Service,
    pub telegram: FakeTelegram,
    pub model: FakeModel,
    /// With `--platform slack`.
    pub slack: Option<FakeSlack>,
    pub db: Database,
    dir: tempfile::TempDir,
    keep: bool,
}

impl Rig {
    pub async fn start(options: &Options, engine: Engine, name: &str) -> anyhow::Result<Self> {
        Self::start_with(options, engine, name, Vec::new()).await
    }

    /// As [`Rig::start`], with these settings for the service on top.
    pub async fn start_with(
        options: &Options,
        engine: Engine,
        name: &str,
        extra_env: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        Self::launch(options, engine, name, extra_env, false).await
    }

    /// As [`Rig::start`], with Telegram by long polling instead of the webhook.
    pub async fn start_polling(options: &Options, engine: Engine, name: &str) -> anyhow::Result<Self> {
        Self::launch(options, engine, name, Vec::new(), true).await
    }

    async fn launch(
        options: &Options,
        engine: Engine,
        name: &str,
        extra_env: Vec<(String, String)>,
        polling: bool,
    ) -> anyhow::Result<Self> {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("load");
        std::fs::create_dir_all(&root)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-{}-", engine.name().to_lowercase()))
            .tempdir_in(root)?;
        let db = Database::create(engine, dir.path(), &options.database_url).await?;
        let telegram = FakeTelegram::start().await?;
        let model = FakeModel::start().await?;
        let slack = match options.platform {
            Platform::Slack => Some(FakeSlack::start().await?),
            Platform::Telegram => None,
        };
        let launch = Launch {
            bin: binary(options),
            dir: dir.path().to_owned(),
            database_url: db.url.clone(),
            telegram_url: telegram.url.clone(),
            model_url: model.base_url.clone(),
            handbook: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("handbook"),
            slack_url: slack.as_ref().map(|s| s.api_url.clone()),
            extra_env,
            polling,
        };
        let service = match Service::start(launch).await {
            Ok(service) => service,
            Err(e) => {
                db.drop_schema().await;
                let kept = dir.keep();
                anyhow::bail!("{e:#} (run folder kept: {})", kept.display());
            }
        };
        Ok(Self {
            service,
            telegram,
            model,
            slack,
            db,
            dir,
            keep: options.keep,
        })
    }

    /// Stops the service and removes what the run made (kept with `--keep` or after a failure).
    pub async fn finish(mut self, failed: bool) {
        self.service.kill9();
        self.db.drop_schema().await;
        if self.keep || failed {
            let kept = self.dir.keep();
            eprintln!("  run folder kept: {}", kept.display());
        }
    }
}

/// The service binary, relative to the target folder when it is in it.
pub(crate) fn binary(options: &Options) -> PathBuf {
    options
        .bin
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_coordinator")))
}

fn binary_name(options: &Options) -> String {
    let bin = binary(options);
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    match target.parent().and_then(|t| bin.strip_prefix(t).ok()) {
        Some(inside) => format!("target/{}", inside.display()),
        None => bin.display().to_string(),
    }
}

async fn engines(options: &Options) -> Vec<Engine> {
    let mut engines = Vec::new();
    if options.db != Databases::Postgres {
        engines.push(Engine::Sqlite);
    }
    if options.db != Databases::Sqlite {
        if service::postgres_reachable(&options.database_url).await {
            engines.push(Engine::Postgres);
        } else {
            eprintln!(
                "note: PostgreSQL at {} is unreachable (TEST_DATABASE_URL); skipped",
                options.database_url
            );
        }
    }
    engines
}

/// One row per measurement, one column per database.
fn measure_table(binary: &str, engines: &[Engine], results: &[measure::Rows]) -> Table {
    let mut headers = vec!["measurement"];
    headers.extend(engines.iter().map(|e| e.name()));
    let mut table = Table::new(
        format!("Measurements (`cargo bench --bench load`; service binary `{binary}`)"),
        &headers,
    );
    if let Some(first) = results.first() {
        for (i, (what, _)) in first.iter().enumerate() {
            let mut row = vec![what.clone()];
            row.extend(
                results
                    .iter()
                    .map(|r| r.get(i).map(|(_, v)| v.clone()).unwrap_or_default()),
            );
            table.row(row);
        }
    }
    table
}

async fn run(options: Options) -> anyhow::Result<()> {
    let engines = engines(&options).await;
    let mut tables: Vec<(String, Table)> = Vec::new();
    if let Some(length) = options.soak {
        for &engine in &engines {
            let table = soak::run(&options, engine, length).await?;
            tables.push((format!("soak-{}", engine.name().to_lowercase()), table));
        }
    }
    match options.fault {
        None if options.platform == Platform::Slack => {
            let mut results = Vec::new();
            for &engine in &engines {
                results.push(slack::run(&options, engine).await?);
            }
            let mut table = measure_table(&binary_name(&options), &engines, &results);
            table.title = format!(
                "Slack (`cargo bench --bench load -- --platform slack`; service binary `{}`)",
                binary_name(&options)
            );
            tables.push(("measure-slack".to_owned(), table));
        }
        None if options.soak.is_some() => {}
        None => {
            let mut results = Vec::new();
            for &engine in &engines {
                results.push(measure::run(&options, engine).await?);
            }
            let table = measure_table(&binary_name(&options), &engines, &results);
            tables.push(("measure".to_owned(), table));
        }
        Some(fault) => {
            let kinds = match fault {
                FaultKind::All => vec![
                    FaultKind::Redeliver,
                    FaultKind::Kill,
                    FaultKind::FlakySends,
                    FaultKind::DbRestart,
                    FaultKind::SlowSends,
                ],
                one => vec![one],
            };
            let mut table = faults::table(&options);
            for kind in kinds {
                for &engine in &engines {
                    if kind == FaultKind::DbRestart && engine != Engine::Postgres {
                        eprintln!(
                            "note: db-restart runs on PostgreSQL only; skipped on {}",
                            engine.name()
                        );
                        continue;
                    }
                    table.row(faults::run(&options, kind, engine).await?);
                }
            }
            let key = match fault {
                FaultKind::All => "faults".to_owned(),
                one => format!("fault-{}", faults::name(one)),
            };
            tables.push((key, table));
        }
    }
    for (key, table) in &tables {
        println!("\n{}", table.markdown());
        if let Some(path) = &options.write {
            report::write_section(path, key, &table.markdown())?;
        }
    }
    if let Some(path) = &options.write {
        println!("written to {}", path.display());
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let options = Options::parse();
    if !options.only.is_empty() && options.write.is_some() {
        eprintln!("--only and --write do not go together: the tables would lose rows");
        return std::process::ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(options)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
