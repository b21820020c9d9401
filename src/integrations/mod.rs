//! Outside services: voice transcription (`voice`), and the systems the workspace syncs with:
//! Zendesk (tickets ↔ tasks, comments, status back to the ticket) and a CRM (signed webhooks
//! both ways, objects mapped by a mapping file). Their settings can be stored in the database,
//! with secrets encrypted (`secrets`). Everything the syncs send out, and every webhook they
//! receive, goes through one durable queue (`jobs`, the `integration_jobs` table, claimed and
//! retried like the outbox): a request never waits on an outside API to change our data, and
//! a failed delivery is retried with backoff.
//!
//! ```text
//!  workspace change ──► Integrations (ChangeListener) ──► integration_jobs ──► Zendesk / CRM
//!  /webhooks/{zendesk,crm} ──(verify, store)──► integration_jobs ──► tasks, projects, people
//!  Zendesk incremental export (poller, cursor in sync_cursors) ──► tasks and comments
//! ```

pub mod crm;
mod job;
mod jobs;
pub mod secrets;
pub mod voice;
pub mod zendesk;

pub use job::{kinds, JobError};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, CrmSettings, Settings, ZendeskSettings};
use crate::domain::Role;
use crate::store::Store;
use crate::workspace::{Actor, ChangeEvent, ChangeListener, Workspace};
use secrets::{SecretBox, SettingsStore};

struct Shared {
    store: Store,
    workspace: Workspace,
    settings: SettingsStore,
    zendesk_env: ZendeskSettings,
    crm_env: CrmSettings,
    /// What CRM objects become: `CRM_MAPPING_FILE`, or the built-in mapping.
    crm_mapping: crm::Mapping,
    http: reqwest::Client,
    wake: Notify,
}

/// The integrations: cheap to clone, shared by the API, the webhooks and the workers.
#[derive(Clone)]
pub struct Integrations {
    shared: Arc<Shared>,
}

impl Integrations {
    /// Builds the integrations and makes the workspace announce its changes to them.
    /// A bad `CRM_MAPPING_FILE` or `COORDINATOR_SECRET_KEY` is a [`ConfigError`] naming it.
    pub fn new(settings: &Settings, store: Store, workspace: Workspace) -> Result<Self, ConfigError> {
        let key = settings
            .secret_key
            .as_ref()
            .map(SecretBox::from_base64)
            .transpose()
            .map_err(|e| ConfigError::new("COORDINATOR_SECRET_KEY", e.to_string()))?;
        let crm_mapping = match &settings.crm.mapping_file {
            None => crm::Mapping::built_in(),
            Some(path) => crm::Mapping::load(path).map_err(|e| ConfigError::new("CRM_MAPPING_FILE", e))?,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("coordinator/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let integrations = Self {
            shared: Arc::new(Shared {
                settings: SettingsStore::new(store.clone(), key),
                store,
                workspace: workspace.clone(),
                zendesk_env: settings.zendesk.clone(),
                crm_env: settings.crm.clone(),
                crm_mapping,
                http,
                wake: Notify::new(),
            }),
        };
        // The workspace holds the integrations only weakly: they hold the workspace, and a
        // strong cycle would keep the store (and its database connections) alive for ever.
        workspace.add_change_listener(Arc::new(WeakListener(Arc::downgrade(&integrations.shared))));
        Ok(integrations)
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    pub fn workspace(&self) -> &Workspace {
        &self.shared.workspace
    }

    pub fn settings_store(&self) -> &SettingsStore {
        &self.shared.settings
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    /// `/webhooks/zendesk` and `/webhooks/crm`; each checks its signature.
    pub fn webhook_router(&self) -> Router {
        zendesk::webhook::router(self.clone()).merge(crm::inbound::router(self.clone()))
    }

    /// Starts the job worker and the Zendesk poller.
    pub fn spawn(&self, shutdown: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(self.clone().jobs_until_stopped(shutdown.clone()))];
        if let Some(every) = self.shared.zendesk_env.poll_interval {
            tasks.push(tokio::spawn(
                self.clone().poll_zendesk_until_stopped(every, shutdown.clone()),
            ));
        }
        tasks
    }
}

/// The actor an integration writes as: an administrator whose changes are marked with the
/// integration's name, so that they are not sent back where they came from.
pub(crate) fn actor(name: &str) -> Actor {
    Actor {
        name: name.to_owned(),
        role: Role::Admin,
        person_id: None,
        channel: name.to_owned(),
        timezone: chrono_tz::Tz::UTC,
    }
}

/// Announces changes to the integrations while they exist.
struct WeakListener(std::sync::Weak<Shared>);

#[async_trait]
impl ChangeListener for WeakListener {
    async fn changed(&self, event: &ChangeEvent) {
        if let Some(shared) = self.0.upgrade() {
            Integrations { shared }.changed(event).await;
        }
    }
}

#[async_trait]
impl ChangeListener for Integrations {
    async fn changed(&self, event: &ChangeEvent) {
        if let Err(e) = zendesk::outbound::on_change(self, event).await {
            tracing::error!(error = %e, change = event.change.name(), "could not queue the Zendesk update");
        }
        if let Err(e) = crm::outbound::on_change(self, event).await {
            tracing::error!(error = %e, change = event.change.name(), "could not queue the CRM webhook");
        }
    }
}
