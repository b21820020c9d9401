//! Reading a mailbox over IMAP (async-imap on tokio; `imap://` plain or `imaps://` TLS). New
//! messages are those above the stored watermark (UIDVALIDITY + last UID), or, for a mailbox
//! not seen before or whose UIDVALIDITY changed, the unseen ones. Each message's size and
//! header are fetched first: one over `EMAIL_MAX_MESSAGE_BYTES` is never fetched but recorded
//! as refused (`unread`); the others are fetched with `BODY.PEEK[]` and handed to [`Ingest`].
//! Then the message is flagged `\Seen` and the watermark moved past it: a restart resumes
//! after the last message handled and nothing is read twice. Each message is read under its
//! own timeout; a message that fails `EMAIL_MAX_FAILURES` times (error, timeout or panic) is
//! dead-lettered and skipped, so intake never stops at one message. Waits with IDLE when the
//! server has it, otherwise polls every `EMAIL_IMAP_POLL`.

use std::fmt::Debug;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::Session;
use futures::{FutureExt, TryStreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

mod config;

pub use config::ImapConfig;

use super::unread::{self, Envelope, Place};
use super::{Ingest, Ingested};
use crate::message::redact;
use crate::store::{Store, Watermark};

/// Connecting, logging in, and each IMAP command outside reading a message must finish within
/// this.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(60);

/// What bounds reading one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Larger messages (`RFC822.SIZE`) are not fetched but refused (`EMAIL_MAX_MESSAGE_BYTES`).
    pub max_bytes: u64,
    /// After this many failures a message is dead-lettered and skipped (`EMAIL_MAX_FAILURES`).
    pub max_failures: i32,
    /// Reading and handling one message must finish within this; each message has its own.
    pub message_timeout: Duration,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            max_failures: 3,
            message_timeout: Duration::from_secs(120),
        }
    }
}

/// What was learnt of a message before reading it failed, for its dead letter.
#[derive(Debug, Default)]
struct Seen {
    size: Option<u64>,
    envelope: Envelope,
}

/// Why reading a message failed.
enum Failure {
    /// An error answer or a failure to store: the connection is still usable.
    Recoverable(String),
    /// A timeout or a panic: the connection must be replaced.
    Broken(String),
}

impl Failure {
    fn text(&self) -> &str {
        match self {
            Failure::Recoverable(e) | Failure::Broken(e) => e,
        }
    }
}

/// A connection, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Stream for T {}

type ImapSession = Session<Box<dyn Stream>>;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("IMAP connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP: {0}")]
    Other(String),
    #[error("could not store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// The IMAP reader.
pub struct ImapReader {
    config: ImapConfig,
    store: Store,
    ingest: Ingest,
    poll: Duration,
    limits: ReadLimits,
}

impl ImapReader {
    pub fn new(config: ImapConfig, store: Store, ingest: Ingest, poll: Duration) -> Self {
        Self {
            config,
            store,
            ingest,
            poll,
            limits: ReadLimits::default(),
        }
    }

    /// Reads with these limits instead of the defaults.
    pub fn with_limits(mut self, limits: ReadLimits) -> Self {
        self.limits = limits;
        self
    }

    async fn connect(&self) -> Result<ImapSession, ImapError> {
        let tcp = TcpStream::connect((self.config.host.as_str(), self.config.port)).await?;
        let stream: Box<dyn Stream> = if self.config.tls {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| ImapError::Other(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(self.config.host.clone())
                .map_err(|e| ImapError::Other(format!("bad host name: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await?
            .ok_or_else(|| ImapError::Other("the server closed the connection before greeting".into()))?;
        client
            .login(&self.config.user, &self.config.password)
            .await
            .map_err(|(e, _)| e.into())
    }

    /// Reads and handles every new message once, on its own connection; returns how many were
    /// handled. Used by tests and operators; the service keeps one connection open instead.
    pub async fn run_once(&self) -> Result<usize, ImapError> {
        let mut session = tokio::time::timeout(NETWORK_TIMEOUT, self.connect())
            .await
            .map_err(|_| ImapError::Other("connecting timed out".into()))??;
        let handled = self.read_new(&mut session).await?;
        let _ = session.logout().await;
        Ok(handled)
    }

    /// Selects the mailbox and handles the messages above the watermark.
    async fn read_new(&self, session: &mut ImapSession) -> Result<usize, ImapError> {
        let timed_out = |_| ImapError::Other("the server did not answer in time".into());
        let mailbox = tokio::time::timeout(NETWORK_TIMEOUT, session.select(&self.config.mailbox))
            .await
            .map_err(timed_out)??;
        let validity = mailbox.uid_validity.unwrap_or(0);
        let key = self.config.key();
        let mark = self.store.email_watermark(&key).await?;
        let (query, above) = match mark {
            Some(m) if m.uid_validity == validity => {
                (format!("UID {}:*", m.last_uid.saturating_add(1)), m.last_uid)
            }
            _ => ("UNSEEN".to_owned(), 0),
        };
        let mut uids: Vec<u32> = tokio::time::timeout(NETWORK_TIMEOUT, session.uid_search(&query))
            .await
            .map_err(timed_out)??
            .into_iter()
            // `n:*` always matches the last message, even below n.
            .filter(|uid| *uid > above)
            .collect();
        uids.sort_unstable();
        let mut handled = 0;
        for uid in uids {
            let place = Place {
                mailbox: &key,
                uid_validity: validity,
                uid,
            };
            let mut seen = Seen::default();
            let read = AssertUnwindSafe(self.read_one(session, place, &mut seen)).catch_unwind();
            let error = match tokio::time::timeout(self.limits.message_timeout, read).await {
                Ok(Ok(Ok(()))) => {
                    self.store
                        .set_email_watermark(
                            &key,
                            Watermark {
                                uid_validity: validity,
                                last_uid: uid,
                            },
                        )
                        .await?;
                    handled += 1;
                    continue;
                }
                Ok(Ok(Err(e))) => Failure::Recoverable(redact(&e.to_string())),
                Ok(Err(_)) => Failure::Broken("handling it panicked".into()),
                Err(_) => Failure::Broken(format!("not read within {:?}", self.limits.message_timeout)),
            };
            let given_up = self.failed(place, &seen, &error).await?;
            match error {
                // Later messages wait: the watermark only moves forward, past handled messages.
                Failure::Recoverable(e) if !given_up => return Err(ImapError::Other(e)),
                Failure::Recoverable(_) => {}
                // The connection is in an unknown state: start a new one.
                Failure::Broken(e) => return Err(ImapError::Other(e)),
            }
        }
        Ok(handled)
    }

    /// Fetches the size and header of message `place.uid`; refuses it when it is too large,
    /// else fetches it whole and hands it to [`Ingest`]. Then flags it `\Seen`.
    async fn read_one(
        &self,
        session: &mut ImapSession,
        place: Place<'_>,
        seen: &mut Seen,
    ) -> Result<(), ImapError> {
        let uid = place.uid.to_string();
        let heads: Vec<_> = session
            .uid_fetch(&uid, "(RFC822.SIZE BODY.PEEK[HEADER])")
            .await?
            .try_collect()
            .await?;
        let head = heads.iter().find(|f| f.uid == Some(place.uid)).or(heads.first());
        seen.size = head.and_then(|f| f.size).map(u64::from);
        seen.envelope = head
            .and_then(|f| f.header())
            .map(Envelope::from_header)
            .unwrap_or_default();
        match seen.size {
            Some(size) if size > self.limits.max_bytes => {
                unread::refuse_too_large(&self.store, place, &seen.envelope, size, self.limits.max_bytes)
                    .await?;
            }
            _ => {
                let fetched: Vec<_> = session
                    .uid_fetch(&uid, "BODY.PEEK[]")
                    .await?
                    .try_collect()
                    .await?;
                let raw = fetched.iter().find_map(|f| f.body()).unwrap_or_default();
                let outcome = self.ingest.ingest(raw).await?;
                if let Ingested::Skipped { message_id, note } = &outcome {
                    tracing::info!(uid = place.uid, %message_id, %note, "email skipped");
                }
            }
        }
        let _: Vec<_> = session
            .uid_store(&uid, "+FLAGS (\\Seen)")
            .await?
            .try_collect()
            .await?;
        Ok(())
    }

    /// Counts a failure to read `place`; at the limit, the message becomes a dead letter and
    /// the watermark moves past it (`true`).
    async fn failed(&self, place: Place<'_>, seen: &Seen, failure: &Failure) -> Result<bool, ImapError> {
        let error = failure.text();
        let failures = self
            .store
            .count_email_failure(place.mailbox, place.uid_validity, place.uid, error)
            .await?;
        tracing::warn!(uid = place.uid, failures, error, "email could not be read");
        if failures < self.limits.max_failures {
            return Ok(false);
        }
        unread::give_up(&self.store, place, &seen.envelope, seen.size, failures, error).await?;
        self.store
            .set_email_watermark(
                place.mailbox,
                Watermark {
                    uid_validity: place.uid_validity,
                    last_uid: place.uid,
                },
            )
            .await?;
        Ok(true)
    }

    /// One connection: read, then wait (IDLE or poll) and read again, until an error or
    /// `shutdown`. `Ok(())` only on shutdown.
    async fn session_until_stopped(&self, shutdown: &CancellationToken) -> Result<(), ImapError> {
        let mut session = tokio::time::timeout(NETWORK_TIMEOUT, self.connect())
            .await
            .map_err(|_| ImapError::Other("connecting timed out".into()))??;
        let idle = session.capabilities().await?.has_str("IDLE");
        tracing::info!(mailbox = ?self.config, idle, "reading email over IMAP");
        loop {
            // Each message has its own timeout (`ReadLimits::message_timeout`).
            let handled = self.read_new(&mut session).await?;
            if handled > 0 {
                tracing::debug!(handled, "emails read");
            }
            if shutdown.is_cancelled() {
                let _ = session.logout().await;
                return Ok(());
            }
            if !idle {
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        let _ = session.logout().await;
                        return Ok(());
                    }
                    _ = tokio::time::sleep(self.poll) => continue,
                }
            }
            let mut handle = session.idle();
            handle.init().await?;
            let stopped = {
                let (wait, _stop) = handle.wait_with_timeout(self.poll);
                tokio::select! {
                    _ = shutdown.cancelled() => true,
                    response = wait => match response? {
                        IdleResponse::NewData(_) | IdleResponse::Timeout | IdleResponse::ManualInterrupt => false,
                    },
                }
            };
            session = tokio::time::timeout(NETWORK_TIMEOUT, handle.done())
                .await
                .map_err(|_| ImapError::Other("ending IDLE timed out".into()))??;
            if stopped {
                let _ = session.logout().await;
                return Ok(());
            }
        }
    }

    /// Keeps a connection open and reads new mail until `shutdown`; reconnects with backoff.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) {
        let mut pause = Duration::from_secs(1);
        loop {
            match self.session_until_stopped(&shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, mailbox = ?self.config, "IMAP reading failed; reconnecting")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(300));
        }
    }
}
