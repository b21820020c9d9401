//! Delivering updates to `/webhooks/telegram` as Telegram does: with the secret-token header,
//! and again until the answer is a 2xx (Telegram redelivers an update that was not
//! acknowledged, e.g. while the service restarts or its database is down).

use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;

use crate::service::SECRET;

#[derive(Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: String,
}

/// One update's delivery.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// The first attempt.
    pub first_at: Instant,
    /// The 2xx, if one came before the limit.
    pub acked_at: Option<Instant>,
    pub attempts: u32,
}

impl Webhook {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            url: format!("{base}/webhooks/telegram"),
        })
    }

    /// One POST; the HTTP status, or the error.
    pub async fn post(&self, body: Vec<u8>) -> Result<u16, reqwest::Error> {
        let response = self
            .client
            .post(&self.url)
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// POSTs until a 2xx or until `limit` has passed, waiting 100 ms, then longer (up to 1 s),
    /// between attempts.
    pub async fn deliver(&self, body: &[u8], limit: Duration) -> Delivery {
        let first_at = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut attempts = 0;
        loop {
            attempts += 1;
            if let Ok(status) = self.post(body.to_vec()).await {
                if (200..300).contains(&status) {
                    return Delivery {
                        first_at,
                        acked_at: Some(Instant::now()),
                        attempts,
                    };
                }
            }
            if first_at.elapsed() > limit {
                return Delivery {
                    first_at,
                    acked_at: None,
                    attempts,
                };
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}
