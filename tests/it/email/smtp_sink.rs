//! A small SMTP server on 127.0.0.1 speaking enough of RFC 5321 for a client (EHLO/HELO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT); it keeps every message it accepts, as raw bytes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            arrived: Arc::default(),
        };
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = serving.clone();
                tokio::spawn(async move {
                    let _ = sink.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut rcpt = Vec::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let verb = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if verb.starts_with("EHLO") {
                b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if verb.starts_with("HELO") || verb.starts_with("MAIL") || verb.starts_with("NOOP") {
                b"250 OK\r\n"
            } else if verb.starts_with("RSET") {
                rcpt.clear();
                b"250 OK\r\n"
            } else if verb.starts_with("RCPT") {
                rcpt.push(line.trim_end()[8..].trim().trim_matches(['<', '>']).to_owned());
                b"250 OK\r\n"
            } else if verb.starts_with("DATA") {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if lines.read_until(b'\n', &mut l).await? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" || l == b".\n" {
                        break;
                    }
                    // Dot-unstuffing.
                    data.extend_from_slice(if l.starts_with(b"..") { &l[1..] } else { &l });
                }
                self.received.lock().unwrap().push(Received {
                    rcpt: std::mem::take(&mut rcpt),
                    data,
                });
                self.arrived.notify_waiters();
                b"250 OK queued\r\n"
            } else if verb.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` messages arrived (or `limit` passed) and returns them.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.arrived.notified();
            let got = self.received();
            if got.len() >= n || tokio::time::Instant::now() >= until {
                return got;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }
}
