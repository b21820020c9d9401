//! Slack end to end: real-shaped Events API callbacks, slash commands and button presses,
//! signed with the signing secret and POSTed to `/webhooks/slack`, or sent over Socket Mode; a
//! fake Slack (Web API, response URLs, Socket Mode) on 127.0.0.1 speaking the real JSON; the
//! real app pointed at it through `SLACK_API_URL`. This module holds what the files share.

mod buttons;
mod events;
mod sends;
mod socket;

use std::time::Duration;

use coordinator::channels::slack::signature::Verifier;
use coordinator::config::Secret;
use serde_json::{json, Value};

use crate::fake_slack::{FakeSlack, APP_ID, APP_TOKEN, BOT_TOKEN, BOT_USER, SIGNING_SECRET, TEAM};
use crate::helpers::{Db, TestApp};

pub const ANNA: &str = "U0ANNA001";
pub const MARTA: &str = "U0MARTA01";
pub const STRANGER: &str = "U0STRANGE";
pub const DM: &str = "D0ANNADM1";
pub const CHANNEL: &str = "C0GENERAL";
pub const WAIT: Duration = Duration::from_secs(30);

pub struct Slack {
    pub app: TestApp,
    pub fake: FakeSlack,
}

/// How the app hears from Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /webhooks/slack` (signing secret).
    Webhook,
    /// Socket Mode (app-level token), no signing secret.
    Socket,
}

pub async fn start(db: Db, via: Via, extra: &[(&str, &str)]) -> Slack {
    let fake = FakeSlack::start().await;
    let mut builder = TestApp::builder(db)
        .with("SLACK_BOT_TOKEN", BOT_TOKEN)
        .with("SLACK_API_URL", &fake.api_url);
    builder = match via {
        Via::Webhook => builder.with("SLACK_SIGNING_SECRET", SIGNING_SECRET),
        Via::Socket => builder.with("SLACK_APP_TOKEN", APP_TOKEN),
    };
    let app = builder.with_settings(extra).spawn().await;
    for (handle, id, role) in [("anna", ANNA, "admin"), ("marta", MARTA, "member")] {
        let person = app
            .post(
                "/api/people",
                json!({"handle": handle, "name": handle, "role": role, "timezone": "Europe/Berlin",
                       "identities": [{"channel": "slack", "external_id": id}]}),
            )
            .await;
        assert_eq!(person.status, 201, "{}", person.body);
    }
    Slack { app, fake }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Slack {
    /// POSTs `body` to `/webhooks/slack` signed at `timestamp` with `secret`; status and body.
    pub async fn post_signed(
        &self,
        body: &str,
        content_type: &str,
        timestamp: i64,
        secret: &str,
        extra: &[(&str, &str)],
    ) -> (u16, String) {
        let ts = timestamp.to_string();
        let signature = Verifier::new(Secret::new(secret)).sign(&ts, body.as_bytes());
        let mut request = self
            .app
            .client
            .post(format!("{}/webhooks/slack", self.app.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", signature)
            .body(body.to_owned());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// An Events API callback, as Slack POSTs it (a retry carries `X-Slack-Retry-Num`).
    pub async fn event(&self, event: Value, retry: Option<u32>) -> u16 {
        let retry = retry.map(|n| n.to_string());
        let mut extra = Vec::new();
        if let Some(n) = &retry {
            extra.push(("x-slack-retry-num", n.as_str()));
            extra.push(("x-slack-retry-reason", "http_timeout"));
        }
        let body = callback(event).to_string();
        self.post_signed(&body, "application/json", now(), SIGNING_SECRET, &extra)
            .await
            .0
    }

    /// `/coord TEXT` in `channel` as `user`; the status, the acknowledgement's body and how
    /// long it took.
    pub async fn slash(&self, user: &str, channel: &str, text: &str) -> (u16, String, Duration) {
        let form = slash_form(&self.fake, user, channel, text);
        let body = serde_urlencoded::to_string(&form).unwrap();
        let started = std::time::Instant::now();
        let (status, ack) = self
            .post_signed(
                &body,
                "application/x-www-form-urlencoded",
                now(),
                SIGNING_SECRET,
                &[],
            )
            .await;
        (status, ack, started.elapsed())
    }

    /// A press of the button with `value` on `message`, as `user`.
    pub async fn press(&self, user: &str, message: &crate::fake_slack::Msg, value: &str) -> u16 {
        let payload = block_actions(&self.fake, user, message, value);
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        self.post_signed(
            &body,
            "application/x-www-form-urlencoded",
            now(),
            SIGNING_SECRET,
            &[],
        )
        .await
        .0
    }
}

/// The Events API envelope around `event`.
pub fn callback(event: Value) -> Value {
    json!({
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "team_id": TEAM, "api_app_id": APP_ID,
        "event": event, "type": "event_callback",
        "event_id": format!("Ev{}", event["ts"].as_str().unwrap_or("0").replace('.', "")),
        "event_time": now(),
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": BOT_USER,
                            "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false, "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMCJ9"
    })
}

/// A direct message from `user`.
pub fn dm(user: &str, ts: &str, text: &str) -> Value {
    json!({"type": "message", "channel": DM, "user": user, "text": text, "ts": ts, "event_ts": ts,
           "channel_type": "im", "client_msg_id": format!("msg-{ts}"), "team": TEAM, "blocks": []})
}

/// A mention of the bot in `channel`.
pub fn mention(user: &str, channel: &str, ts: &str, text: &str) -> Value {
    json!({"type": "app_mention", "user": user, "text": format!("<@{BOT_USER}> {text}"), "ts": ts,
           "channel": channel, "event_ts": ts, "team": TEAM, "client_msg_id": format!("msg-{ts}")})
}

/// The form fields of `/coord TEXT`.
pub fn slash_form(fake: &FakeSlack, user: &str, channel: &str, text: &str) -> Vec<(String, String)> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    [
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO".to_owned()),
        ("team_id", TEAM.to_owned()),
        ("team_domain", "example".to_owned()),
        ("channel_id", channel.to_owned()),
        (
            "channel_name",
            if channel.starts_with('D') {
                "directmessage"
            } else {
                "general"
            }
            .to_owned(),
        ),
        ("user_id", user.to_owned()),
        ("user_name", user.to_lowercase()),
        ("command", "/coord".to_owned()),
        ("text", text.to_owned()),
        ("api_app_id", APP_ID.to_owned()),
        ("is_enterprise_install", "false".to_owned()),
        ("response_url", fake.response_url()),
        (
            "trigger_id",
            format!("{n}{}.738474920.8088930838d88f008e0", now()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A `block_actions` payload for the button with `value` on `message`.
pub fn block_actions(fake: &FakeSlack, user: &str, message: &crate::fake_slack::Msg, value: &str) -> Value {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": TEAM},
        "api_app_id": APP_ID, "token": "9s8d9as89d8as9d8as989",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
        "trigger_id": format!("{n}{}.1395872398.c0b7e9b6a5d4", now()),
        "team": {"id": TEAM, "domain": "example"}, "enterprise": null, "is_enterprise_install": false,
        "channel": {"id": message.channel, "name": "general"},
        "message": {"type": "message", "user": BOT_USER, "bot_id": "B0BOT0001", "ts": message.ts,
                    "text": message.text, "blocks": message.blocks, "team": TEAM},
        "state": {"values": {}},
        "response_url": fake.response_url(),
        "actions": [{"action_id": "coord-0", "block_id": "coord-actions",
                     "text": {"type": "plain_text", "text": "Press", "emoji": true},
                     "value": value, "type": "button", "action_ts": format!("{}.000400", now())}]
    })
}

/// A unique message ts.
pub fn ts() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "{}.{:06}",
        now(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}
