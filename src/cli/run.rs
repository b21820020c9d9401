//! What the `coordinator` binary runs: parses the command, loads the settings, runs it.
//! It lives in the library, not in `src/main.rs`, so that the generic code it instantiates
//! (the async runtime, the log subscriber, the commands' futures) is compiled once with the
//! library instead of again in the binary's own unit, after every change.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use super::{Cli, Command, DiscordCommand, HandbookCommand, TelegramCommand, TokenCommand};
use crate::app::{cancel_on_signal, App};
use crate::channels::discord::{Discord, Registration};
use crate::channels::telegram::Telegram;
use crate::config::{ConfigError, Settings};
use crate::handbook::{self, Handbook, HandbookError};
use crate::workspace::{Actor, WorkspaceError};

/// The binary's `main`: everything but the allocator, which is the binary's own choice.
pub fn main() -> ExitCode {
    // Changes the environment: before the runtime starts its threads.
    handbook::settle_thread_count();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(start()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    // Before the settings are read: `init` is how a first .env comes about.
    if matches!(cli.command, Some(Command::Init)) {
        return init(std::path::Path::new(".env"));
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // In the terminal chat the service's progress lines would interleave with the replies:
    // warnings and errors only there, unless RUST_LOG asks for more.
    let filter = match cli.command {
        Some(Command::Chat { .. }) if std::env::var_os("RUST_LOG").is_none() => "warn",
        _ => settings.log_filter.as_str(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => {
            eprintln!("configuration error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            let bad_input = e
                .downcast_ref::<HandbookError>()
                .is_some_and(HandbookError::is_bad_input);
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

/// `coordinator init`: writes the commented settings file at `path`, never over an existing one.
fn init(path: &std::path::Path) -> ExitCode {
    use std::io::Write;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| file.write_all(crate::config::env_file().as_bytes()));
    match written {
        Ok(()) => {
            println!(
                "wrote {}: every setting, commented out, with its default. Uncomment and fill in \
                 what you use (a channel's token first, e.g. TELEGRAM_BOT_TOKEN), then run \
                 `coordinator`.",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!(
                "configuration error: {} exists already and is left as it is (compare it with \
                 .env.example, or move it away and run `coordinator init` again)",
                path.display()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(1)
        }
    }
}

/// `coordinator telegram status`: asks the Bot API, needs no database.
async fn telegram_status(settings: &Settings) -> anyhow::Result<()> {
    let Some(config) = &settings.telegram else {
        return Err(ConfigError::new(
            "TELEGRAM_BOT_TOKEN",
            "is not set, so there is no bot to ask Telegram about (set it in the environment or .env)",
        )
        .into());
    };
    let telegram = Telegram::new(config).map_err(anyhow::Error::msg)?;
    let status = telegram
        .webhook_status()
        .await
        .map_err(|e| anyhow::anyhow!("Telegram getWebhookInfo at {} failed: {e}", config.api_url))?;
    print!("{status}");
    Ok(())
}

/// `coordinator handbook …`: needs the handbook index only, not the database.
async fn run_handbook(command: HandbookCommand, settings: &Settings) -> anyhow::Result<()> {
    let handbook = Handbook::from_settings(settings)?;
    match command {
        HandbookCommand::Ingest { dir, json } => {
            let dir = dir.unwrap_or_else(|| settings.handbook_dir.clone());
            if json {
                let outcome = handbook.ingest(&dir, &indicatif::ProgressBar::hidden()).await;
                println!("{}", handbook::ChildOutcome::from(outcome).to_line());
                return Ok(());
            }
            let report = ingest_in_terminal(&handbook, &dir, settings).await?;
            println!("{report}");
        }
        HandbookCommand::Search { query, k } => {
            let dir = &settings.handbook_dir;
            let passages = match handbook.search(&query, k.into()).await {
                // A first search indexes the handbook folder first, as the service would.
                Err(handbook::HandbookError::NotIndexed) if dir.is_dir() => {
                    eprintln!(
                        "the handbook is not indexed yet: indexing {} first",
                        dir.display()
                    );
                    let report = ingest_in_terminal(&handbook, dir, settings).await?;
                    eprintln!("{report}");
                    handbook.search(&query, k.into()).await?
                }
                found => found?,
            };
            print!("{}", handbook::format_results(&query, &passages));
        }
    }
    Ok(())
}

/// Indexes `dir` with progress on the terminal, fetching the default model first when it is
/// the embedder and not there yet; skipped files are named on stderr.
async fn ingest_in_terminal(
    handbook: &Handbook,
    dir: &std::path::Path,
    settings: &Settings,
) -> anyhow::Result<handbook::IngestReport> {
    if let Some(model) = handbook::default_model(settings) {
        eprintln!(
            "fetching the embedding model once into {} (about 84 MB; HANDBOOK_MODEL_URL=off skips it)",
            model.dir.display()
        );
        if !handbook.fetch_default_model(&model).await {
            eprintln!("no embedding model (see the log): indexing for keyword search only");
        }
    }
    let report = handbook.ingest(dir, &handbook::terminal_progress()).await?;
    for (file, reason) in &report.skipped {
        eprintln!("skipped {file}: {reason}");
    }
    Ok(report)
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let addr = settings.addr;
            let mut app = App::build(settings).await?;
            match std::env::current_exe() {
                Ok(exe) => app = app.with_ingest_child(exe),
                Err(e) => tracing::warn!(error = %e, "the handbook is indexed in this process"),
            }
            if let Some(token) = app.workspace.first_start_token().await? {
                println!("No API token existed, so an admin token was created. It is shown only this once:");
                println!("  {token}");
                println!("Use it as: Authorization: Bearer {token}");
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (COORDINATOR_ADDR): {e}"))?;
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            app.run_until_stopped(listener, shutdown).await
        }
        Command::Migrate => {
            App::build(settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Handbook { command } => run_handbook(command, &settings).await,
        // Handled in `main`, before the settings are read.
        Command::Init => Ok(()),
        Command::Telegram {
            command: TelegramCommand::Status,
        } => telegram_status(&settings).await,
        Command::Chat { handle } => App::build(settings).await?.chat(handle.as_deref()).await,
        Command::Discord {
            command: DiscordCommand::Register,
        } => {
            if settings.discord_token.is_none() {
                return Err(ConfigError {
                    setting: "DISCORD_TOKEN".into(),
                    message: "needed to register slash commands".into(),
                }
                .into());
            }
            let discord = Discord::new(&settings, crate::conversation::commands::menu())
                .map_err(anyhow::Error::msg)?
                .ok_or_else(|| anyhow::anyhow!("Discord is not configured"))?;
            let scope = match &settings.discord_guild_id {
                Some(guild) => format!("for server {guild}"),
                None => "globally".to_owned(),
            };
            let done = discord.register_commands().await.map_err(anyhow::Error::msg)?;
            match done {
                Registration::Registered(n) => println!("registered {n} slash commands {scope}"),
                Registration::UpToDate(n) => println!("the {n} slash commands {scope} are up to date"),
            }
            if let Some(via) = discord.interactions_via() {
                println!("they are answered through {via}");
            }
            Ok(())
        }
        Command::Report {
            period,
            project,
            chart,
        } => {
            let app = App::build(settings).await?;
            let tz = app.settings.timezone;
            let report = app
                .workspace
                .report(
                    &Actor::system("cli"),
                    period.into(),
                    project,
                    crate::store::now(),
                    tz,
                )
                .await?;
            println!("{}", report.text);
            if let (Some(path), Some(png)) = (chart, &report.chart) {
                std::fs::write(&path, png)?;
                println!("chart written to {}", path.display());
            }
            Ok(())
        }
        Command::Token { command } => token_command(settings, command).await,
    }
}

/// `coordinator token create | list | revoke`. A taken name, an unknown one or a bad value is a
/// bad argument (exit 2).
async fn token_command(settings: Settings, command: TokenCommand) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let cli = Actor::system("cli");
    let bad = |setting: &str, e: WorkspaceError| -> anyhow::Error {
        match e {
            WorkspaceError::Conflict(m) | WorkspaceError::NotFound(m) => ConfigError::new(setting, m).into(),
            WorkspaceError::Invalid(v) => ConfigError::new(setting, v.message).into(),
            other => other.into(),
        }
    };
    match command {
        TokenCommand::Create { name, role, expires } => {
            let expires_at = expires
                .map(|d| chrono::Duration::from_std(d).map(|d| crate::store::now() + d))
                .transpose()
                .map_err(|_| ConfigError::new("--expires", "is too long"))?;
            let (token, _) = app
                .workspace
                .create_token_until(&cli, &name, role.into(), expires_at)
                .await
                .map_err(|e| bad("--name", e))?;
            println!("{token}");
        }
        TokenCommand::List => {
            let tokens = app.workspace.tokens(&cli).await?;
            println!(
                "{:<24} {:<7} {:<20} {:<20} {:<20} last used",
                "name", "role", "created", "expires", "revoked"
            );
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            for t in tokens {
                println!(
                    "{:<24} {:<7} {:<20} {:<20} {:<20} {}",
                    t.name,
                    t.role.as_str(),
                    at(Some(t.created_at)),
                    at(t.expires_at),
                    at(t.revoked_at),
                    at(t.last_used_at)
                );
            }
        }
        TokenCommand::Revoke { name } => {
            app.workspace
                .revoke_token(&cli, &name)
                .await
                .map_err(|e| bad("NAME", e))?;
            println!("revoked {name}");
        }
    }
    Ok(())
}
