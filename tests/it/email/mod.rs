//! Email against real servers on 127.0.0.1: Dovecot (IMAP, appended messages) and an SMTP sink
//! that records what the bot sends; plus the relay webhook.

mod auth;
mod dns;
mod files;
mod intake_limits;
mod mailbox;
mod smtp_sink;
mod voice;

use std::sync::Arc;
use std::time::Duration;

use coordinator::app::App;
use coordinator::channels::email::auth::SenderAuth;
use coordinator::channels::email::imap::{ImapConfig, ImapReader};
use coordinator::channels::email::Ingest;
use coordinator::config::Settings;
use coordinator::domain::Channel;
use coordinator::domain::EmailAddress;
use coordinator::message::{Button, OutboundMessage};
use coordinator::outbox::OutboxWriter;
use mail_parser::MessageParser;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::helpers::{both_dbs, fresh_database, spawn_app_with, Db, TestApp, ADMIN_TOKEN};
use mailbox::{imap_ready, Mailbox};
use smtp_sink::SmtpSink;

const WAIT: Duration = Duration::from_secs(30);
const BOT: &str = "Coordinator <bot@example.org>";
const ANN: &str = "ann@example.com";

both_dbs!(
    reply_to_a_notification_lands_on_its_task_threaded,
    automatic_and_malformed_mail_is_recorded_and_skipped,
    nothing_is_read_twice_after_a_restart,
    relay_webhook_stores_mail_and_answers_unknown_senders_once,
    an_invitee_links_their_address_with_the_code_by_mail,
);

/// The relay in front of the test mailbox, whose `Authentication-Results` the service trusts.
pub const RELAY: &str = "mx.test";

fn settings<'a>(sink: &'a str, imap: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut s = vec![
        ("SMTP_URL", sink),
        ("EMAIL_FROM", BOT),
        ("EMAIL_IMAP_POLL", "1s"),
        ("EMAIL_TRUSTED_AUTHSERV_ID", RELAY),
    ];
    if let Some(url) = imap {
        s.push(("IMAP_URL", url));
    }
    s
}

/// The header with which the trusted relay vouches for the sender's domain.
pub fn relay_pass(from: &str) -> String {
    let domain = from
        .rsplit('@')
        .next()
        .unwrap_or("")
        .trim_end_matches('>')
        .to_ascii_lowercase();
    format!("Authentication-Results: {RELAY}; dmarc=pass header.from={domain}\r\n")
}

/// A raw message as a mail server would deliver it, vouched for by the trusted relay.
fn mail(from: &str, to: &str, id: &str, headers: &str, subject: &str, body: &str) -> String {
    format!(
        "{}From: {from}\r\nTo: {to}\r\nMessage-ID: <{id}>\r\nDate: Mon, 7 Jan 2030 10:00:00 +0000\r\n\
         Subject: {subject}\r\n{headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        relay_pass(from),
        body.replace('\n', "\r\n")
    )
}

/// Ann (a member whose profile has her address) and a task; returns the task id.
async fn ann_and_task(app: &TestApp) -> i64 {
    let person = json!({"handle": "ann", "name": "Ann", "email": "Ann@Example.com", "role": "member"});
    let reply = app.post("/api/people", person).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = app.post("/api/tasks", json!({"title": "Ship the release"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_i64().unwrap()
}

async fn comments(app: &TestApp, task: i64) -> Vec<String> {
    let body = app.get(&format!("/api/comments?task_id={task}")).await.body;
    let items = body.get("items").cloned().unwrap_or(body);
    items
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| c["content"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn wait_until<F, Fut>(mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < until {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn header(raw: &[u8], name: &str) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    message.header_raw(name).unwrap_or("").trim().to_owned()
}

async fn reply_to_a_notification_lands_on_its_task_threaded(db: Db) {
    if !imap_ready().await {
        return;
    }
    let sink = SmtpSink::start().await;
    let mut mailbox = Mailbox::create().await;
    let (sink_url, imap_url) = (sink.url(), mailbox.url());
    let app = spawn_app_with(db, &settings(&sink_url, Some(&imap_url))).await;
    let task = ann_and_task(&app).await;

    // A notification about the task, as the scheduler would queue it.
    let mut note = OutboundMessage::text(
        Channel::Email,
        ANN,
        format!("Task #{task} Ship the release is overdue."),
    );
    note.buttons.push(Button {
        label: "Mark done".into(),
        data: format!("done:{task}"),
    });
    OutboxWriter::new(app.store.clone(), Arc::new(Notify::new()))
        .enqueue(&note, None)
        .await
        .unwrap();
    let sent = sink.wait_for(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].rcpt, vec![ANN]);
    let raw = &sent[0].data;
    let parsed = MessageParser::default().parse(raw).unwrap();
    let notification_id = parsed.message_id().unwrap().to_owned();
    assert!(
        notification_id.starts_with(&format!("t{task}.")),
        "{notification_id}"
    );
    assert!(notification_id.ends_with("@example.org"));
    assert!(header(raw, "Reply-To").contains(&format!("bot+t{task}@example.org")));
    assert_eq!(header(raw, "Auto-Submitted"), "auto-generated");
    assert!(parsed.subject().unwrap().contains(&format!("#{task}")));
    assert!(header(raw, "Content-Type").starts_with("multipart/alternative"));
    assert!(parsed.body_text(0).unwrap().contains(&format!("/done {task}")));
    assert!(parsed.body_html(0).unwrap().contains("<p>"));

    // Ann answers from her mail program: quoted history and signature included.
    let subject = format!("Re: {}", parsed.subject().unwrap());
    let answer = mail(
        "Ann <ann@example.com>",
        &format!("bot+t{task}@example.org"),
        "answer-1@example.com",
        &format!("In-Reply-To: <{notification_id}>\r\nReferences: <{notification_id}>\r\n"),
        &subject,
        "Shipped it this morning.\n\n-- \nAnn\n\nOn Mon, 7 Jan 2030, Coordinator <bot@example.org> wrote:\n> Task is overdue.",
    );
    mailbox.append(&answer).await;
    assert!(
        wait_until(|| async { comments(&app, task).await == vec!["Shipped it this morning.".to_owned()] })
            .await,
        "comments: {:?}",
        comments(&app, task).await
    );
    let sent = sink.wait_for(2, WAIT).await;
    assert_eq!(sent.len(), 2);
    let reply = &sent[1].data;
    assert_eq!(sent[1].rcpt, vec![ANN]);
    assert_eq!(header(reply, "In-Reply-To"), "<answer-1@example.com>");
    assert_eq!(
        header(reply, "References"),
        format!("<{notification_id}> <answer-1@example.com>")
    );
    assert_eq!(header(reply, "Auto-Submitted"), "auto-replied");
    let reply = MessageParser::default().parse(reply).unwrap();
    assert_eq!(reply.subject().unwrap(), subject);
    assert!(reply.message_id().unwrap().starts_with(&format!("t{task}.")));
    assert!(reply
        .body_text(0)
        .unwrap()
        .contains(&format!("Comment added to #{task}")));
    // The message was marked read on the server.
    let flags = mailbox.flags().await;
    assert_eq!(flags.len(), 1);
    assert!(flags[0].1.iter().any(|f| f.contains("Seen")), "{flags:?}");
}

async fn automatic_and_malformed_mail_is_recorded_and_skipped(db: Db) {
    if !imap_ready().await {
        return;
    }
    let sink = SmtpSink::start().await;
    let mut mailbox = Mailbox::create().await;
    let (sink_url, imap_url) = (sink.url(), mailbox.url());
    let app = spawn_app_with(db, &settings(&sink_url, Some(&imap_url))).await;
    let task = ann_and_task(&app).await;
    let vacation = mail(
        ANN,
        "bot@example.org",
        "away-1@example.com",
        "Auto-Submitted: auto-replied\r\n",
        "Out of office",
        "I am away until Monday.",
    );
    let bulk = mail(
        ANN,
        "bot@example.org",
        "bulk-1@example.com",
        "Precedence: bulk\r\n",
        "News",
        "/done 1",
    );
    mailbox.append(&vacation).await;
    mailbox.append(&bulk).await;
    mailbox.append("this is not a mail message at all\r\n").await;
    // The first line is a command; the rest is ignored.
    let done = mail(
        ANN,
        "bot@example.org",
        "done-1@example.com",
        "",
        "done",
        &format!("/done {task}\n\nThanks!"),
    );
    mailbox.append(&done).await;
    let sent = sink.wait_for(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    let body = MessageParser::default()
        .parse(&sent[0].data)
        .unwrap()
        .body_text(0)
        .unwrap()
        .into_owned();
    assert!(body.contains(&format!("Done: #{task}")), "{body}");
    assert_eq!(
        app.get(&format!("/api/tasks/{task}")).await.body["status"],
        "done"
    );
    assert_eq!(header(&sent[0].data, "In-Reply-To"), "<done-1@example.com>");
    // Messages are read in order, so the earlier ones were handled before the command.
    let records = app.store.email_messages_with(ANN).await.unwrap();
    let status = |id: &str| {
        records
            .iter()
            .find(|r| r.message_id == id)
            .map(|r| r.status.clone())
    };
    assert_eq!(status("away-1@example.com").as_deref(), Some("auto_reply"));
    assert_eq!(status("bulk-1@example.com").as_deref(), Some("auto_reply"));
    assert_eq!(status("done-1@example.com").as_deref(), Some("accepted"));
    let malformed = app.store.email_messages_with("").await.unwrap();
    assert_eq!(malformed.len(), 1, "{malformed:?}");
    assert_eq!(malformed[0].status, "malformed");
    assert!(
        !malformed[0].note.as_deref().unwrap_or("").is_empty(),
        "{malformed:?}"
    );
    // All four were handled and marked read.
    let flags = mailbox.flags().await;
    assert_eq!(flags.len(), 4);
    assert!(
        flags.iter().all(|(_, f)| f.iter().any(|f| f.contains("Seen"))),
        "{flags:?}"
    );
}

/// The service on a given database, stoppable and restartable.
async fn start(url: &str, data: &str, extra: &[(&str, &str)]) -> (App, CancellationToken) {
    let mut values = vec![
        ("DATABASE_URL", url),
        ("COORDINATOR_API_TOKEN", ADMIN_TOKEN),
        ("COORDINATOR_DATA_DIR", data),
        ("COORDINATOR_ADDR", "127.0.0.1:0"),
    ];
    values.extend_from_slice(extra);
    let app = App::build(Settings::with(&values).unwrap()).await.unwrap();
    (app, CancellationToken::new())
}

async fn api(base: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .timeout(Duration::from_secs(30));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

async fn run(
    app: App,
    shutdown: &CancellationToken,
) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (
        base,
        tokio::spawn(app.run_until_stopped(listener, shutdown.clone())),
    )
}

async fn comment_texts(base: &str, task: i64) -> Vec<String> {
    let body = api(base, Method::GET, &format!("/api/comments?task_id={task}"), None).await;
    let items = body.get("items").cloned().unwrap_or(body);
    items
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| c["content"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn nothing_is_read_twice_after_a_restart(db: Db) {
    if !imap_ready().await {
        return;
    }
    let sink = SmtpSink::start().await;
    let mut mailbox = Mailbox::create().await;
    let (sink_url, imap_url) = (sink.url(), mailbox.url());
    let (url, dir) = fresh_database(db).await;
    let data = dir.path().join("data").to_str().unwrap().to_owned();
    let extra = settings(&sink_url, Some(&imap_url));

    let (app, shutdown) = start(&url, &data, &extra).await;
    let (base, running) = run(app, &shutdown).await;
    let person = json!({"handle": "ann", "name": "Ann", "email": ANN, "role": "member"});
    api(&base, Method::POST, "/api/people", Some(person)).await;
    let task = api(
        &base,
        Method::POST,
        "/api/tasks",
        Some(json!({"title": "Ship it"})),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let first = mail(
        ANN,
        "bot@example.org",
        "first@example.com",
        "",
        "one",
        &format!("/comment {task} first"),
    );
    mailbox.append(&first).await;
    assert!(wait_until(|| async { comment_texts(&base, task).await.len() == 1 }).await);
    shutdown.cancel();
    running.await.unwrap().unwrap();

    // While the service is down: a new message arrives, and someone marks the first unread.
    let second = mail(
        ANN,
        "bot@example.org",
        "second@example.com",
        "",
        "two",
        &format!("/comment {task} second"),
    );
    mailbox.append(&second).await;
    mailbox.mark_unseen(1).await;

    let (app, shutdown) = start(&url, &data, &extra).await;
    let store = app.store.clone();
    let (base, running) = run(app, &shutdown).await;
    assert!(wait_until(|| async { comment_texts(&base, task).await.len() == 2 }).await);
    assert_eq!(comment_texts(&base, task).await, vec!["first", "second"]);
    let config = ImapConfig::parse(&imap_url).unwrap();
    let mark = store.email_watermark(&config.key()).await.unwrap().unwrap();
    assert_eq!(mark.last_uid, 2);
    // A reader on the same database finds nothing new, although message 1 is unread again.
    let (app, _) = start(&url, &data, &extra).await;
    let ingest = Ingest::new(
        app.store.clone(),
        app.inbox_writer(),
        app.outbox_writer(),
        EmailAddress::parse(BOT).unwrap(),
        SenderAuth::new(Some(RELAY.into()), None).unwrap(),
    );
    let reader = ImapReader::new(config, app.store.clone(), ingest, Duration::from_secs(1));
    assert_eq!(reader.run_once().await.unwrap(), 0);
    let accepted = store.email_messages_with(ANN).await.unwrap();
    assert_eq!(accepted.iter().filter(|r| r.direction == "in").count(), 2);
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

async fn post_mail(app: &TestApp, token: Option<&str>, content_type: &str, raw: &str) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/webhooks/email", app.base))
        .header("content-type", content_type)
        .body(raw.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn relay_webhook_stores_mail_and_answers_unknown_senders_once(db: Db) {
    let sink = SmtpSink::start().await;
    let sink_url = sink.url();
    let app = spawn_app_with(db, &settings(&sink_url, None)).await;
    let task = ann_and_task(&app).await;
    let done = mail(
        ANN,
        "bot@example.org",
        "hook-1@example.com",
        "",
        "hi",
        &format!("/done {task}"),
    );

    assert_eq!(post_mail(&app, None, "message/rfc822", &done).await.0, 401);
    assert_eq!(
        post_mail(&app, Some("wrong"), "message/rfc822", &done).await.0,
        401
    );
    let member = app.token("relay", coordinator::domain::Role::Member).await;
    assert_eq!(
        post_mail(&app, Some(&member), "message/rfc822", &done).await.0,
        403
    );
    assert_eq!(
        post_mail(&app, Some(ADMIN_TOKEN), "application/json", &done)
            .await
            .0,
        415
    );

    let (status, body) = post_mail(&app, Some(ADMIN_TOKEN), "message/rfc822", &done).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    let (status, body) = post_mail(&app, Some(ADMIN_TOKEN), "text/plain", &done).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("duplicate")),
        "{body}"
    );
    let sent = sink.wait_for(1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        app.get(&format!("/api/tasks/{task}")).await.body["status"],
        "done"
    );

    let (status, body) = post_mail(&app, Some(ADMIN_TOKEN), "message/rfc822", "\u{0}\u{1} garbage").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("skipped")),
        "{body}"
    );
    assert!(body["note"].as_str().unwrap().starts_with("malformed"), "{body}");

    // A stranger gets one polite answer, threaded, and nothing else, however often they write.
    for n in 1..=2 {
        let raw = mail(
            "eve@elsewhere.org",
            "bot@example.org",
            &format!("eve-{n}@elsewhere.org"),
            "",
            "hello",
            "/tasks",
        );
        let (status, body) = post_mail(&app, Some(ADMIN_TOKEN), "message/rfc822", &raw).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (202, Some("skipped")),
            "{body}"
        );
    }
    let sent = sink.wait_for(2, WAIT).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].rcpt, vec!["eve@elsewhere.org"]);
    assert_eq!(header(&sent[1].data, "In-Reply-To"), "<eve-1@elsewhere.org>");
    // Ann's next message is answered after Eve's: had Eve's second message been answered, it
    // would have come first.
    let tasks = mail(ANN, "bot@example.org", "hook-2@example.com", "", "list", "/tasks");
    assert_eq!(
        post_mail(&app, Some(ADMIN_TOKEN), "message/rfc822", &tasks)
            .await
            .0,
        202
    );
    let sent = sink.wait_for(3, WAIT).await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].rcpt, vec![ANN]);
    assert_eq!(
        sent.iter()
            .filter(|m| m.rcpt == vec!["eve@elsewhere.org"])
            .count(),
        1
    );
}

/// Posts `raw` to the relay webhook as an admin; the status it got (always with a 202).
async fn relay(app: &TestApp, raw: &str) -> String {
    let (status, body) = post_mail(app, Some(ADMIN_TOKEN), "message/rfc822", raw).await;
    assert_eq!(status, 202, "{body}");
    body["status"].as_str().unwrap_or_default().to_owned()
}

/// `/invite` tells an invitee to mail `/link CODE`: a sender nobody knows yet may redeem a code,
/// and nothing else, and their address then acts as them.
async fn an_invitee_links_their_address_with_the_code_by_mail(db: Db) {
    let sink = SmtpSink::start().await;
    let sink_url = sink.url();
    let app = spawn_app_with(db, &settings(&sink_url, None)).await;
    let reply = app
        .post(
            "/api/people",
            json!({"handle": "bo", "name": "Bo", "role": "member"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let code = app.post("/api/people/bo/link-code", json!({})).await.body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    const BO: &str = "bo@studio.example";
    let send = |id: &str, subject: &str, body: &str| mail(BO, "bot@example.org", id, "", subject, body);

    // Anything else first: the one polite answer, which says how to use a code.
    assert_eq!(
        relay(&app, &send("bo-1@studio.example", "hi", "/tasks")).await,
        "skipped"
    );
    let sent = sink.wait_for(1, WAIT).await;
    assert!(String::from_utf8_lossy(&sent[0].data).contains("/link CODE"));

    // A wrong code is answered, and links nothing.
    assert_eq!(
        relay(&app, &send("bo-2@studio.example", "code", "/link WRONG123")).await,
        "accepted"
    );
    let sent = sink.wait_for(2, WAIT).await;
    assert!(String::from_utf8_lossy(&sent[1].data).contains("unknown, already used or expired"));

    // The right one, in the subject of an otherwise empty mail.
    assert_eq!(
        relay(&app, &send("bo-3@studio.example", &format!("/link {code}"), "")).await,
        "accepted"
    );
    let sent = sink.wait_for(3, WAIT).await;
    let linked = String::from_utf8_lossy(&sent[2].data).to_string();
    assert!(linked.contains("you are @bo here now"), "{linked}");
    assert_eq!(sent[2].rcpt, vec![BO]);

    // From now on the address is Bo's.
    assert_eq!(
        relay(
            &app,
            &send("bo-4@studio.example", "new", "/newtask Send the moodboard")
        )
        .await,
        "accepted"
    );
    assert!(
        wait_until(|| async {
            let tasks = app.get("/api/tasks").await.body;
            tasks.to_string().contains("Send the moodboard")
        })
        .await
    );
}
