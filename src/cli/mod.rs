//! The commands of CONTRACT.md. Wiring only: each command builds what it needs and calls it.

use clap::{Parser, Subcommand, ValueEnum};

mod run;

pub use run::main;

#[derive(Debug, Parser)]
#[command(
    name = "coordinator",
    version,
    about = "A project coordinator that lives in your team's chats",
    long_about = "A project coordinator that lives in your team's chats: it turns messages into \
tasks, tracks deadlines and serves a REST API.

Without a command it runs `serve`. Settings come from the environment (a .env file in the \
working directory is read first and never overrides a variable already set), then from \
coordinator.toml in the working directory, which overrides both. README.md lists every setting.",
    after_long_help = "Common settings:
  DATABASE_URL            sqlite://data/coordinator.db (default) or postgres://user:pass@host/db
  COORDINATOR_ADDR        HTTP listen address (default 127.0.0.1:5001)
  COORDINATOR_DATA_DIR    local state: SQLite file, handbook index (default data)
  COORDINATOR_API_TOKEN   a bootstrap admin token for the API
  HANDBOOK_DIR            the handbook's markdown files (default handbook)
  OPENAI_API_KEY          enables the agent (OPENAI_BASE_URL for any compatible server)
  TELEGRAM_BOT_TOKEN, DISCORD_TOKEN, WHATSAPP_TOKEN, SMTP_URL, IMAP_URL   the chat channels
  RUST_LOG                log filter (default info)
`coordinator init` writes a .env listing every setting with its default.

Exit codes: 0 success, 2 bad arguments or configuration (the message names the setting),
1 any other failure."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default): HTTP API, webhooks, chat channels, workers, scheduler.
    ///
    /// Applies pending database migrations first, then listens on COORDINATOR_ADDR until
    /// SIGINT or SIGTERM, and then stops gracefully. Every configured channel runs: Telegram
    /// (webhook or long polling), Discord, WhatsApp, email. On the very first start, when no
    /// API token exists, it prints an admin token once.
    Serve,
    /// Apply pending database migrations and exit.
    ///
    /// `serve` does the same on every start; this is for upgrades that migrate before the new
    /// version starts (see README.md, Upgrading). Several processes may run it at once on
    /// PostgreSQL: they take turns.
    Migrate,
    /// Talk to the coordinator in the terminal: the same commands, conversation and database
    /// as in a chat app.
    Chat {
        /// Speak as this person (a handle); by default the first admin. On an empty workspace
        /// an `admin` person is created.
        #[arg(long = "as")]
        handle: Option<String>,
    },
    /// Write a commented .env in the working directory: every setting, with its default and
    /// what it does, all commented out (no secret is invented). Never overwrites: exits 2 when
    /// .env exists. The repository's .env.example is the same text.
    Init,
    /// Telegram: what the Bot API reports about this bot (needs TELEGRAM_BOT_TOKEN).
    Telegram {
        #[command(subcommand)]
        command: TelegramCommand,
    },
    /// Discord set-up (needs DISCORD_TOKEN; the application id is asked of Discord when
    /// DISCORD_APPLICATION_ID is not set).
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Manage API tokens (for scripts, a CRM, the REST API).
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
        /// Which report: the day's, the week's or the month's.
        #[arg(long, value_enum, default_value_t = ReportPeriodArg::Daily)]
        period: ReportPeriodArg,
        /// One project's report (its id); all projects when omitted.
        #[arg(long, value_name = "ID")]
        project: Option<i64>,
        /// Write the weekly chart (PNG) to this file.
        #[arg(long, value_name = "FILE")]
        chart: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportPeriodArg {
    /// The last day: done, open, overdue, at risk, due in the next day, by person.
    Daily,
    /// The last seven days, the same figures, with a chart of open and done tasks per day.
    Weekly,
    /// The last 30 days.
    Monthly,
}

impl From<ReportPeriodArg> for crate::domain::Period {
    fn from(p: ReportPeriodArg) -> Self {
        match p {
            ReportPeriodArg::Daily => crate::domain::Period::Daily,
            ReportPeriodArg::Weekly => crate::domain::Period::Weekly,
            ReportPeriodArg::Monthly => crate::domain::Period::Monthly,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TelegramCommand {
    /// Print what Telegram reports about the webhook (getWebhookInfo): its URL, pending
    /// updates, the last delivery error and the update types sent; and what this service does
    /// about it at start.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum DiscordCommand {
    /// Register the slash commands with Discord (globally, or for DISCORD_GUILD_ID). Writes only
    /// when Discord's commands differ from ours, so running it again changes nothing. Says how
    /// they are answered: through the gateway, or the HTTP interactions endpoint.
    Register,
}

#[derive(Debug, Subcommand)]
pub enum HandbookCommand {
    /// (Re)index the handbook's markdown files, incrementally: unchanged files cost nothing,
    /// removed files leave the index.
    Ingest {
        /// The handbook folder; HANDBOOK_DIR (default ./handbook) when omitted.
        dir: Option<std::path::PathBuf>,
        /// How the ingest ended, as one line of JSON on standard output, and no progress bar:
        /// how the server reads the outcome of the start-up ingest it runs in a child process.
        #[arg(long, hide = true)]
        json: bool,
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
        /// What the token may do.
        #[arg(long, value_enum, default_value_t = TokenRole::Member)]
        role: TokenRole,
        /// Stop working after this long, e.g. 30d, 12h (default: never).
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<std::time::Duration>,
    },
    /// List the tokens: names, roles, created, expires, revoked, last used; never the tokens.
    List,
    /// Revoke a token by name: it stops working at once (401).
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenRole {
    /// Everything, including managing people.
    Admin,
    /// Projects, tasks and comments.
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
