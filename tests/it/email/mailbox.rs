//! The real IMAP server of the tests (Dovecot, started by `scripts/email-test-servers.sh`): a
//! fresh mailbox per test, messages appended as a mail server would deliver them.

use std::sync::atomic::{AtomicU32, Ordering};

use async_imap::Session;
use futures::TryStreamExt;
use tokio::net::TcpStream;

const USER: &str = "bot";
const PASSWORD: &str = "bot-secret";

fn port() -> u16 {
    std::env::var("EMAIL_TEST_IMAP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(14143)
}

async fn reachable() -> bool {
    TcpStream::connect(("127.0.0.1", port())).await.is_ok()
}

/// Whether the IMAP half of a test can run: starts the server with the script when it is not
/// up. On CI (`CI=true`) a missing server fails the test; elsewhere it is skipped with a note.
pub async fn imap_ready() -> bool {
    if reachable().await {
        return true;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/email-test-servers.sh");
    let started = tokio::process::Command::new("bash").arg(script).status().await;
    if started.is_ok_and(|s| s.success()) && reachable().await {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the IMAP test server (Dovecot, scripts/email-test-servers.sh) is not available, and CI=true requires it");
    }
    eprintln!("skipping an IMAP test: Dovecot is not available (run scripts/email-test-servers.sh)");
    false
}

pub struct Mailbox {
    pub name: String,
    session: Session<TcpStream>,
}

impl Mailbox {
    /// A new, empty mailbox of its own.
    pub async fn create() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}x{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let tcp = TcpStream::connect(("127.0.0.1", port())).await.unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap();
        let mut session = client.login(USER, PASSWORD).await.map_err(|(e, _)| e).unwrap();
        session.create(&name).await.unwrap();
        Self { name, session }
    }

    pub fn url(&self) -> String {
        format!("imap://{USER}:{PASSWORD}@127.0.0.1:{}/{}", port(), self.name)
    }

    /// Delivers `raw` into the mailbox, unseen.
    pub async fn append(&mut self, raw: &str) {
        self.session
            .append(&self.name, None, None, raw.as_bytes())
            .await
            .unwrap();
    }

    /// The flags of every message, by UID.
    pub async fn flags(&mut self) -> Vec<(u32, Vec<String>)> {
        self.session.select(&self.name).await.unwrap();
        let fetched: Vec<_> = self
            .session
            .uid_fetch("1:*", "FLAGS")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let mut flags: Vec<(u32, Vec<String>)> = fetched
            .iter()
            .map(|f| {
                (
                    f.uid.unwrap_or(0),
                    f.flags().map(|fl| format!("{fl:?}")).collect(),
                )
            })
            .collect();
        flags.sort();
        flags
    }

    /// Marks message `uid` unseen again, as a person might.
    pub async fn mark_unseen(&mut self, uid: u32) {
        self.session.select(&self.name).await.unwrap();
        let _: Vec<_> = self
            .session
            .uid_store(uid.to_string(), "-FLAGS (\\Seen)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
    }
}
