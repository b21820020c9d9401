//! The commands of CONTRACT.md. Wiring only: each command builds what it needs and calls it.

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "coordinator",
    version,
    about = "A project coordinator that lives in your team's chats",
    long_about = "A project coordinator that lives in your team's chats: it turns messages into \
tasks, tracks deadlines and serves a REST API. Settings come from the environment, a .env file \
and coordinator.toml (see README.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: HTTP API, webhooks and workers (the default). Migrates first.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Talk to the coordinator in the terminal: the same commands, conversation and database
    /// as in a chat app.
    Chat {
        /// Speak as this person (a handle); by default the first admin. On an empty workspace
        /// an `admin` person is created.
        #[arg(long = "as")]
        handle: Option<String>,
    },
    /// Discord set-up.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Index and search the handbook that `/ask` answers from.
    Handbook {
        #[command(subcommand)]
        command: HandbookCommand,
    },
    /// Print the report the scheduler would send (weekly ones carry a chart: see --chart).
    Report {
        #[arg(long, value_enum, default_value_t = ReportPeriodArg::Daily)]
        period: ReportPeriodArg,
        /// One project's report (its id); all projects when omitted.
        #[arg(long)]
        project: Option<i64>,
        /// Write the weekly chart (PNG) to this file.
        #[arg(long)]
        chart: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportPeriodArg {
    Daily,
    Weekly,
    Monthly,
}

impl From<ReportPeriodArg> for crate::scheduler::Period {
    fn from(p: ReportPeriodArg) -> Self {
        match p {
            ReportPeriodArg::Daily => crate::scheduler::Period::Daily,
            ReportPeriodArg::Weekly => crate::scheduler::Period::Weekly,
            ReportPeriodArg::Monthly => crate::scheduler::Period::Monthly,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DiscordCommand {
    /// Register the slash commands with Discord (globally, or for DISCORD_GUILD_ID). Writes only
    /// when Discord's commands differ from ours, so running it again changes nothing.
    Register,
}

#[derive(Debug, Subcommand)]
pub enum HandbookCommand {
    /// (Re)index the handbook's markdown files, incrementally: unchanged files cost nothing,
    /// removed files leave the index.
    Ingest {
        /// The handbook folder; HANDBOOK_DIR (default ./handbook) when omitted.
        dir: Option<std::path::PathBuf>,
    },
    /// Print the best passages for a query, with their source file, heading and score.
    Search {
        /// What to look for, e.g. "who approves a refund over 2000 EUR".
        query: String,
        /// How many passages at most.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=50))]
        k: u16,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it once; only its hash is stored.
    Create {
        /// What the token is for, e.g. "crm-sync".
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value_t = TokenRole::Member)]
        role: TokenRole,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenRole {
    Admin,
    Member,
}

impl From<TokenRole> for crate::domain::Role {
    fn from(r: TokenRole) -> Self {
        match r {
            TokenRole::Admin => crate::domain::Role::Admin,
            TokenRole::Member => crate::domain::Role::Member,
        }
    }
}
