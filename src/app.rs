//! Building the service from `Settings` and running it until shutdown: the store (migrated),
//! the workspace, the HTTP server. One cancellation token stops everything.

use std::sync::OnceLock;

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::store::Store;
use crate::workspace::Workspace;

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
}

impl App {
    /// Connects to the database and applies migrations.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = Store::connect(settings.database_url.expose())
            .await
            .with_context(|| format!("cannot open the database {:?}", settings.database_url))?;
        store.migrate().await.context("cannot apply migrations")?;
        let workspace = Workspace::new(store.clone(), settings.timezone, settings.api_token.clone());
        Ok(Self {
            settings,
            store,
            workspace,
        })
    }

    pub fn router(&self) -> Router {
        let state = AppState {
            workspace: self.workspace.clone(),
            metrics: metrics_handle(),
        };
        api::router(state, self.settings.max_body_bytes)
    }

    /// Serves HTTP on `listener` until `shutdown` is cancelled, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let router = self.router();
        tracing::info!(addr = %listener.local_addr()?, "listening");
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await
            .context("HTTP server failed")?;
        self.store.close().await;
        Ok(())
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
