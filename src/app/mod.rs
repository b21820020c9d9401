//! Building the service from `Settings` and running it until shutdown: the store (migrated),
//! the workspace, the conversation, the inbox and outbox workers, the channels and the HTTP
//! server. One cancellation token stops everything.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::channels::discord::Discord;
use crate::channels::slack::Slack;
use crate::channels::telegram::Telegram;
use crate::config::Settings;
use crate::conversation::agent::Agent;
use crate::conversation::prompts::Prompts;
use crate::conversation::{commands, Conversation};
use crate::domain;
use crate::handbook::Handbook;
use crate::inbox::{Inbox, InboxWriter};
use crate::integrations::voice::Voice;
use crate::llm::{Fallback, LlmProvider, OpenAiProvider};
use crate::message::Channels;
use crate::outbox::{Outbox, OutboxWriter};
use crate::store::Store;
use crate::tools::{SearchHandbook, Toolbox};
use crate::workspace::Workspace;

mod parts;
mod terminal;

use parts::{channels, email_ingest, file_blobs, log_prompts, voice};

/// The Prometheus recorder is process-wide; several apps in one process (tests) share it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed, which nothing else does.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Everything the service is made of, built and migrated.
pub struct App {
    pub settings: Settings,
    pub store: Store,
    pub workspace: Workspace,
    pub conversation: Arc<Conversation>,
    /// The agent, when a language model is configured.
    pub agent: Option<Arc<Agent>>,
    pub telegram: Option<Arc<Telegram>>,
    pub discord: Option<Arc<Discord>>,
    pub slack: Option<Arc<Slack>>,
    /// The sending side of every configured platform.
    channels: Channels,
    /// What each chat identity and API token may spend.
    limits: Arc<crate::limits::Limits>,
    /// Inbound mail into the inbox, when email is configured.
    email_ingest: Option<crate::channels::email::Ingest>,
    /// The handbook index `/ask` and the agent search; indexed in the background on start.
    pub handbook: Handbook,
    /// Transcribes voice notes in the inbox and for `/integrations/voice/transcribe`.
    pub voice: Arc<Voice>,
    /// The Zendesk and CRM syncs, told of every task and project change.
    pub sync: crate::integrations::Integrations,
    inbox_wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    /// Where what the operator must see at start goes (the claim code): standard output.
    start_output: Arc<dyn Fn(&str) + Send + Sync>,
    /// The `coordinator` executable the start-up ingest runs in, when not in this process.
    ingest_child: Option<crate::handbook::IngestChild>,
}

impl App {
    /// Connects to the database and applies migrations.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = Store::connect(settings.database_url.expose())
            .await
            .with_context(|| format!("cannot open the database {:?}", settings.database_url))?;
        store.migrate().await.context("cannot apply migrations")?;
        let workspace = Workspace::new(store.clone(), settings.timezone, settings.api_token.clone())
            .with_files(crate::workspace::FileSettings {
                blobs: file_blobs(&settings)?,
                rules: crate::domain::FileRules::new(settings.files_max_bytes, &settings.files_allowed_types),
            });
        let sync = crate::integrations::Integrations::new(&settings, store.clone(), workspace.clone())
            .context("cannot set up the integrations")?;
        let handbook = Handbook::from_settings(&settings).context("cannot set up the handbook")?;
        let agent = match &settings.openai {
            Some(primary) => {
                let mut provider: Arc<dyn LlmProvider> = Arc::new(OpenAiProvider::new(primary, "primary"));
                if let Some(fallback) = &settings.fallback_openai {
                    let secondary = Arc::new(OpenAiProvider::new(fallback, "fallback"));
                    provider = Arc::new(Fallback::new(provider, secondary));
                }
                let mut toolbox = Toolbox::default();
                toolbox.add(Arc::new(SearchHandbook {
                    handbook: handbook.clone(),
                }));
                let prompts = Prompts::load(&settings.prompts_dir, &toolbox)?;
                log_prompts(&settings.prompts_dir, prompts.from_disk());
                Some(Arc::new(Agent::new(
                    provider,
                    toolbox,
                    prompts,
                    workspace.clone(),
                )))
            }
            None => None,
        };
        let discord = Discord::new(&settings, commands::menu())
            .map_err(anyhow::Error::msg)?
            .map(Arc::new);
        let telegram = match &settings.telegram {
            Some(t) => Some(Arc::new(Telegram::new(t).map_err(anyhow::Error::msg)?)),
            None => None,
        };
        let slack = Slack::new(&settings.slack, commands::menu())
            .map_err(anyhow::Error::msg)?
            .map(Arc::new);
        let voice = Arc::new(voice(&settings, &store, telegram.as_deref(), slack.as_deref()));
        let mut channels = channels(&settings, &store, telegram.as_deref(), discord.as_deref());
        if let Some(slack) = &slack {
            channels.add(Arc::new(slack.outbound(store.clone())));
        }
        let limits = Arc::new(crate::limits::Limits::new(settings.allowances));
        let (inbox_wake, outbox_wake) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let email_ingest = email_ingest(
            &settings,
            &store,
            InboxWriter::new(store.clone(), inbox_wake.clone()),
            OutboxWriter::new(store.clone(), outbox_wake.clone()),
        );
        let conversation = Arc::new(
            Conversation::new(workspace.clone(), settings.open_chat, agent.clone())
                .with_handbook(handbook.clone())
                .with_channels(channels.clone())
                .with_voice(voice.clone())
                .with_limits(limits.clone())
                .with_invites(crate::conversation::team::InviteRoutes::new(&settings))
                .with_public_url(settings.public_url.clone()),
        );
        Ok(Self {
            channels,
            limits,
            handbook,
            voice,
            sync,
            settings,
            store,
            workspace,
            conversation,
            agent,
            telegram,
            discord,
            slack,
            email_ingest,
            inbox_wake,
            outbox_wake,
            start_output: Arc::new(|text| println!("{text}")),
            ingest_child: None,
        })
    }

    /// What the operator must see at start (the claim code) goes to `output` instead of
    /// standard output.
    pub fn with_start_output(mut self, output: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.start_output = Arc::new(output);
        self
    }

    /// Runs the start-up ingest as `exe handbook ingest --json` in a child process, so that
    /// the server does not keep what indexing loaded (see `handbook::child`).
    pub fn with_ingest_child(mut self, exe: std::path::PathBuf) -> Self {
        let data_dir = self.settings.data_dir.to_string_lossy().into_owned();
        self.ingest_child = Some(crate::handbook::IngestChild {
            exe,
            env: vec![("COORDINATOR_DATA_DIR".to_owned(), data_dir)],
        });
        self
    }

    /// While no person is an admin: a fresh one-time claim code, told to the operator with
    /// the Telegram link that uses it when the bot's username is known.
    async fn announce_claim(&self) {
        let claim = match self.workspace.start_claim(crate::store::now()).await {
            Ok(Some(claim)) => claim,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "could not make a claim code");
                return;
            }
        };
        let mut text = format!(
            "Nobody is an admin yet. Send this to the bot from your own chat to become the admin \
             (it works once, until {} UTC; a restart makes a new one):\n/claim {}",
            claim.expires_at.format("%Y-%m-%d %H:%M"),
            claim.code
        );
        if let Some(bot) = self.telegram.as_ref().and_then(|t| t.username()) {
            text.push_str(&format!("\nor open https://t.me/{bot}?start={}", claim.code));
        }
        (self.start_output)(&text);
    }

    pub fn inbox_writer(&self) -> InboxWriter {
        InboxWriter::new(self.store.clone(), self.inbox_wake.clone())
    }

    pub fn outbox_writer(&self) -> OutboxWriter {
        OutboxWriter::new(self.store.clone(), self.outbox_wake.clone())
    }

    pub fn router(&self) -> Router {
        let state = AppState {
            workspace: self.workspace.clone(),
            metrics: metrics_handle(),
            agent: self.agent.clone(),
            sync: self.sync.clone(),
            limits: self.limits.clone(),
            metrics_token: self.settings.metrics_token.clone(),
            handbook: self.handbook.clone(),
            integrations: api::IntegrationsState::new(
                &self.settings,
                self.voice.clone(),
                self.outbox_writer(),
            ),
        };
        let mut webhooks = Router::new();
        if let Some(router) = self
            .telegram
            .as_ref()
            .and_then(|t| t.webhook_router(self.inbox_writer()))
        {
            webhooks = webhooks.merge(router);
        }
        if let Some(router) = crate::channels::whatsapp::webhook_router(
            &self.settings,
            self.inbox_writer(),
            self.outbox_writer(),
            self.store.clone(),
        ) {
            webhooks = webhooks.merge(router);
        }
        if let Some(router) = self
            .discord
            .as_ref()
            .and_then(|d| d.webhook_router(self.store.clone(), self.inbox_writer()))
        {
            webhooks = webhooks.merge(router);
        }
        if let Some(router) = self
            .slack
            .as_ref()
            .and_then(|s| s.webhook_router(self.store.clone(), self.inbox_writer()))
        {
            webhooks = webhooks.merge(router);
        }
        if let Some(ingest) = self.email_ingest() {
            let workspace = self.workspace.clone();
            webhooks = webhooks.merge(crate::channels::email::webhook_router(workspace, ingest));
        }
        webhooks = webhooks.merge(self.sync.webhook_router());
        #[cfg(feature = "web")]
        {
            webhooks = webhooks.merge(crate::web::router(crate::web::WebState::new(
                self.workspace.clone(),
                self.handbook.clone(),
                &self.settings,
            )));
        }
        api::router(state, self.settings.max_body_bytes, webhooks)
    }

    /// Reads inbound mail into the inbox, when `EMAIL_FROM` is set (built once, in `build`).
    fn email_ingest(&self) -> Option<crate::channels::email::Ingest> {
        self.email_ingest.clone()
    }

    /// Starts the inbox and outbox workers.
    fn spawn_workers(
        &self,
        channels: Channels,
        shutdown: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        // `COORDINATOR_INBOX_WORKERS` events at once, on both databases: most of an agent turn
        // is waiting for the model, and a turn waiting keeps no other chat waiting behind it.
        // Each worker has up to `inbox::batch_for` slots, claimed in batches (one event per chat,
        // so each chat's events stay in order) and refilled as they free up; events that end
        // together are finished in one commit. Idle workers sleep on the wake-up, so their
        // number costs nothing while the inbox is empty.
        let in_flight = self.settings.throughput.inbox_workers;
        let slots = crate::inbox::batch_for(&self.store);
        let workers = in_flight.div_ceil(slots);
        let mut tasks: Vec<_> = (0..workers)
            .map(|n| {
                let batch = (in_flight - n * slots).min(slots);
                let inbox = Inbox::new(
                    self.store.clone(),
                    self.conversation.clone(),
                    self.inbox_wake.clone(),
                    self.outbox_wake.clone(),
                )
                .nth_of(n, workers)
                .with_batch(batch);
                tokio::spawn(inbox.run_until_stopped(shutdown.clone()))
            })
            .collect();
        let throughput = self.settings.throughput;
        let outbox = Outbox::with_send_rates(
            self.store.clone(),
            channels,
            self.outbox_wake.clone(),
            self.settings.queues.outbox_lease,
            move |c| throughput.sends_per_second(c),
        );
        tasks.push(tokio::spawn(outbox.run_until_stopped(shutdown.clone())));
        tasks
    }

    /// Serves HTTP on `listener` and runs the workers and channels until `shutdown` is
    /// cancelled, then finishes in-flight requests and steps.
    pub async fn run_until_stopped(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        match self.store.release_orphaned_claims().await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "picked up work left by a stopped process"),
            // The leases run out in time all the same.
            Err(e) => tracing::warn!(error = %e, "could not release work left by a stopped process"),
        }
        if let Some(telegram) = &self.telegram {
            telegram.set_up(commands::menu()).await;
            if let Some(name) = telegram.username() {
                self.conversation.set_bot_name(domain::Channel::Telegram, &name);
            }
        }
        self.announce_claim().await;
        let mut tasks = self.spawn_workers(self.channels.clone(), &shutdown);
        tasks.extend(self.sync.spawn(&shutdown));
        let limits = self.limits.clone();
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            // Idle keys (one-off chats, Discord interactions) are forgotten.
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = every.tick() => limits.forget_idle(),
                }
            }
        }));
        let scheduler =
            crate::scheduler::Scheduler::new(self.workspace.clone(), self.store.clone(), &self.settings)
                .with_handbook(self.handbook.clone());
        tasks.push(tokio::spawn(scheduler.run_until_stopped(shutdown.clone())));
        // Incremental: when the folder is unchanged this costs a read and a hash per file.
        tasks.push(self.handbook.spawn_ingest(
            self.settings.handbook_dir.clone(),
            crate::handbook::default_model(&self.settings),
            self.ingest_child.clone(),
            shutdown.clone(),
        ));
        if let Some(discord) = self.discord.clone() {
            match discord.interactions_via() {
                Some(via) => tracing::info!("Discord slash commands and buttons arrive through {via}"),
                None => tracing::warn!("Discord slash commands cannot be answered: neither the gateway nor an interactions endpoint"),
            }
            if discord.can_register() {
                let registering = discord.clone();
                tasks.push(tokio::spawn(async move {
                    match registering.register_commands().await {
                        Ok(done) => tracing::info!(?done, "Discord slash commands"),
                        Err(e) => tracing::warn!(error = %e, "Discord slash commands not registered"),
                    }
                }));
            }
            if discord.gateway_enabled() {
                tasks.push(tokio::spawn(discord.gateway_until_stopped(
                    self.store.clone(),
                    self.inbox_writer(),
                    shutdown.clone(),
                )));
            }
        }
        if let Some(slack) = self.slack.clone() {
            if !slack.receives() {
                tracing::warn!("Slack sends only: set SLACK_SIGNING_SECRET (Events API) or SLACK_APP_TOKEN (Socket Mode) to receive");
            }
            if slack.socket_mode() {
                tasks.push(tokio::spawn(slack.socket_until_stopped(
                    self.store.clone(),
                    self.inbox_writer(),
                    shutdown.clone(),
                )));
            }
        }
        if let Some(telegram) = self.telegram.clone() {
            if telegram.polling() {
                tasks.push(tokio::spawn(
                    telegram.poll_until_stopped(self.inbox_writer(), shutdown.clone()),
                ));
            } else {
                // In the background: a slow Bot API must not hold the start (nor a stop).
                let stop = shutdown.clone();
                tasks.push(tokio::spawn(async move {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = telegram.register_webhook() => {}
                    }
                }));
            }
        }
        if let (Some(url), Some(ingest)) = (&self.settings.imap_url, self.email_ingest()) {
            match crate::channels::email::imap::ImapConfig::parse(url.expose()) {
                Ok(config) => {
                    let queues = &self.settings.queues;
                    let limits = crate::channels::email::imap::ReadLimits {
                        max_bytes: queues.email_max_message_bytes,
                        max_failures: i32::try_from(queues.email_max_failures).unwrap_or(i32::MAX),
                        ..Default::default()
                    };
                    let reader = crate::channels::email::imap::ImapReader::new(
                        config,
                        self.store.clone(),
                        ingest,
                        self.settings.email_imap_poll,
                    )
                    .with_limits(limits);
                    tasks.push(tokio::spawn(reader.run_until_stopped(shutdown.clone())));
                }
                Err(e) => tracing::error!(error = %e, "email reading is not available"),
            }
        }
        let router = self.router();
        tracing::info!(addr = %listener.local_addr()?, "listening");
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .context("HTTP server failed");
        shutdown.cancel();
        for task in tasks {
            let _ = task.await;
        }
        self.store.close().await;
        served
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        token.cancel();
    });
}
