//! Reading a mailbox over IMAP (async-imap on tokio; `imap://` plain or `imaps://` TLS). New
//! messages are those above the stored watermark (UIDVALIDITY + last UID), or, for a mailbox
//! not seen before or whose UIDVALIDITY changed, the unseen ones. Each is fetched with
//! `BODY.PEEK[]`, handed to [`Ingest`], then flagged `\Seen` and the watermark moved past it: a
//! restart resumes after the last message handled and nothing is read twice. Waits with IDLE
//! when the server has it, otherwise polls every `EMAIL_IMAP_POLL`.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::Session;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{Ingest, Ingested};
use crate::store::{Store, Watermark};

/// Connecting, logging in, and each round of reading must finish within this.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(60);

/// Where and how to read mail, from `IMAP_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapConfig {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
}

impl Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}/{}",
            if self.tls { "imaps" } else { "imap" },
            self.user,
            self.host,
            self.port,
            self.mailbox
        )
    }
}

impl ImapConfig {
    /// `imap://user:pass@host[:143]/MAILBOX` or `imaps://…[:993]`; the mailbox defaults to INBOX.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|_| "IMAP_URL: is not a URL".to_owned())?;
        let tls = match url.scheme() {
            "imap" => false,
            "imaps" => true,
            other => return Err(format!("IMAP_URL: unknown scheme '{other}' (imap or imaps)")),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let host = url.host_str().ok_or("IMAP_URL: no host")?.to_owned();
        let user = decode(url.username());
        if user.is_empty() {
            return Err("IMAP_URL: no user name".into());
        }
        let mailbox = decode(url.path().trim_start_matches('/'));
        Ok(Self {
            tls,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            user,
            password: url.password().map(decode).unwrap_or_default(),
            mailbox: if mailbox.is_empty() {
                "INBOX".into()
            } else {
                mailbox
            },
        })
    }

    /// The watermark's key: one per account and mailbox.
    pub fn key(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.mailbox)
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
}

impl ImapReader {
    pub fn new(config: ImapConfig, store: Store, ingest: Ingest, poll: Duration) -> Self {
        Self {
            config,
            store,
            ingest,
            poll,
        }
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
        let mailbox = session.select(&self.config.mailbox).await?;
        let validity = mailbox.uid_validity.unwrap_or(0);
        let key = self.config.key();
        let mark = self.store.email_watermark(&key).await?;
        let (query, above) = match mark {
            Some(m) if m.uid_validity == validity => {
                (format!("UID {}:*", m.last_uid.saturating_add(1)), m.last_uid)
            }
            _ => ("UNSEEN".to_owned(), 0),
        };
        let mut uids: Vec<u32> = session
            .uid_search(&query)
            .await?
            .into_iter()
            // `n:*` always matches the last message, even below n.
            .filter(|uid| *uid > above)
            .collect();
        uids.sort_unstable();
        let mut handled = 0;
        for uid in uids {
            let fetched: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await?
                .try_collect()
                .await?;
            let raw = fetched.iter().find_map(|f| f.body()).unwrap_or_default().to_vec();
            let outcome = self.ingest.ingest(&raw).await?;
            if let Ingested::Skipped { message_id, note } = &outcome {
                tracing::info!(uid, %message_id, %note, "email skipped");
            }
            let _: Vec<_> = session
                .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
                .await?
                .try_collect()
                .await?;
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
        }
        Ok(handled)
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
            let handled = tokio::time::timeout(NETWORK_TIMEOUT, self.read_new(&mut session))
                .await
                .map_err(|_| ImapError::Other("reading timed out".into()))??;
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

#[cfg(test)]
mod tests {
    use super::ImapConfig;

    #[test]
    fn imap_urls() {
        let c = ImapConfig::parse("imap://bot%40x.org:p%20w@127.0.0.1:1143/INBOX").unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str(), c.port, c.tls),
            ("bot@x.org", "p w", 1143, false)
        );
        assert_eq!(c.mailbox, "INBOX");
        let c = ImapConfig::parse("imaps://u:p@mail.example.org").unwrap();
        assert_eq!((c.port, c.tls, c.mailbox.as_str()), (993, true, "INBOX"));
        assert!(!format!("{c:?}").contains(":p@"));
        assert!(ImapConfig::parse("pop3://u:p@x").is_err());
        assert!(ImapConfig::parse("imap://x.org").is_err());
    }
}
