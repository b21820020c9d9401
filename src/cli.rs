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
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
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
