//! The `coordinator` binary: parses the command, loads the settings, runs.

use std::process::ExitCode;

use clap::Parser;
use coordinator::app::{cancel_on_signal, App};
use coordinator::cli::{Cli, Command, TokenCommand};
use coordinator::config::Settings;
use coordinator::workspace::Actor;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log_filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let addr = settings.addr;
            let app = App::build(settings).await?;
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
        Command::Chat { handle } => App::build(settings).await?.chat(handle.as_deref()).await,
        Command::Token {
            command: TokenCommand::Create { name, role },
        } => {
            let app = App::build(settings).await?;
            let token = app
                .workspace
                .create_token(&Actor::system("cli"), &name, role.into())
                .await?;
            println!("{token}");
            Ok(())
        }
    }
}
