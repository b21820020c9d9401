//! Mail acts as a person only when its From domain is authenticated: forged senders (no
//! authentication, a failing DKIM signature, a valid signature of another domain, a relay's
//! header that the service does not trust) are kept and shown in the history with the reason,
//! never acted on and never answered.

use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use serde_json::Value;

use super::dns::FakeDns;
use super::smtp_sink::SmtpSink;
use super::{ann_and_task, comments, post_mail, settings, wait_until, ANN, RELAY};
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp, ADMIN_TOKEN};

both_dbs!(
    forged_senders_behind_a_relay_never_act_and_get_no_answer,
    dkim_signed_mail_acts_and_forgeries_do_not,
);

/// A plain message from `from` to the bot, with `extra` headers on top.
fn message(extra: &str, from: &str, id: &str, body: &str) -> String {
    format!(
        "{extra}From: {from}\r\nTo: bot@example.org\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 7 Jan 2030 10:00:00 +0000\r\nSubject: update\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// Posts `raw` through the relay webhook and checks that it was kept but refused.
async fn refused(app: &TestApp, raw: &str, why: &str) {
    let (status, body) = post_mail(app, Some(ADMIN_TOKEN), "message/rfc822", raw).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("skipped")),
        "{body}"
    );
    let note = body["note"].as_str().unwrap_or("");
    assert!(note.contains("unauthenticated"), "{note}");
    assert!(note.contains(why), "{note} should say {why}");
}

/// The email rows of the history.
async fn history(app: &TestApp) -> Vec<Value> {
    app.get("/integrations/history?channel=email&direction=in")
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn forged_senders_behind_a_relay_never_act_and_get_no_answer(db: Db) {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(db, &settings(&sink.url(), None)).await;
    let task = ann_and_task(&app).await;
    let command = format!("/done {task}");
    // No authentication at all: anyone can write "From: ann".
    refused(
        &app,
        &message("", ANN, "forged-1@x", &command),
        "no Authentication-Results",
    )
    .await;
    // A relay the service does not trust vouches for the sender.
    let untrusted = "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.com\r\n";
    refused(
        &app,
        &message(untrusted, ANN, "forged-2@x", &command),
        "no Authentication-Results",
    )
    .await;
    // The trusted relay says the domain failed; a forged "pass" below its header changes nothing.
    let failed = format!(
        "Authentication-Results: {RELAY}; dmarc=fail header.from=example.com; dkim=fail\r\n\
         Authentication-Results: {RELAY}; dmarc=pass header.from=example.com\r\n"
    );
    refused(
        &app,
        &message(&failed, ANN, "forged-3@x", &command),
        "did not authenticate",
    )
    .await;
    // DKIM of another domain vouches for nothing about example.com.
    let other = format!("Authentication-Results: {RELAY}; dkim=pass header.d=attacker.org\r\n");
    refused(
        &app,
        &message(&other, ANN, "forged-4@x", &command),
        "did not authenticate",
    )
    .await;
    // An unknown, unauthenticated sender gets no answer either (no backscatter).
    refused(
        &app,
        &message("", "stranger@elsewhere.org", "forged-5@x", "hello"),
        "no Authentication",
    )
    .await;

    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let task_now = app.get(&format!("/api/tasks/{task}")).await.body;
    assert_eq!(task_now["status"], "todo", "a forged /done acted");
    assert!(sink.received().is_empty(), "a forged sender was answered");
    let rows = history(&app).await;
    let refused_rows: Vec<&Value> = rows.iter().filter(|r| r["status"] == "refused").collect();
    assert_eq!(refused_rows.len(), 5, "{rows:?}");
    assert!(refused_rows.iter().all(|r| r["error"]
        .as_str()
        .unwrap_or("")
        .contains("unauthenticated sender")));

    // The same command, vouched for by the trusted relay, acts.
    let pass = format!("Authentication-Results: {RELAY}; dmarc=pass header.from=example.com\r\n");
    let (status, body) = post_mail(
        &app,
        Some(ADMIN_TOKEN),
        "message/rfc822",
        &message(&pass, ANN, "real-1@x", &command),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    assert!(
        wait_until(|| async { app.get(&format!("/api/tasks/{task}")).await.body["status"] == "done" }).await,
        "the authenticated /done did not act"
    );
}

/// A new signing key for `domain` (selector `sel`, PKCS#8), its public key served by `dns`.
fn key_for(dns: &FakeDns, domain: &str) -> Vec<u8> {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    dns.txt(
        &format!("sel._domainkey.{domain}"),
        &format!("v=DKIM1; k=ed25519; p={public}"),
    );
    pkcs8
}

/// `raw` with a DKIM signature of `domain` on top, made with `pkcs8`.
fn signed(pkcs8: &[u8], domain: &str, raw: &str) -> String {
    let key = Ed25519Key::from_pkcs8_der(pkcs8).unwrap();
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector("sel")
        .headers(["From", "To", "Subject", "Message-ID", "Date"])
        .sign(raw.as_bytes())
        .unwrap();
    format!("{}{raw}", signature.to_header())
}

async fn dkim_signed_mail_acts_and_forgeries_do_not(db: Db) {
    let sink = SmtpSink::start().await;
    let sink_url = sink.url();
    let dns = FakeDns::start().await;
    let dns_addr = dns.addr.to_string();
    // No trusted relay: the service checks DKIM itself, against the test's DNS.
    let mut values: Vec<(&str, &str)> = settings(&sink_url, None)
        .into_iter()
        .filter(|(k, _)| *k != "EMAIL_TRUSTED_AUTHSERV_ID")
        .collect();
    values.push(("EMAIL_DNS_SERVER", dns_addr.as_str()));
    let app = spawn_app_with(db, &values).await;
    let task = ann_and_task(&app).await;
    let ours = key_for(&dns, "example.com");
    let theirs = key_for(&dns, "attacker.org");

    // Unsigned.
    let plain = message("", ANN, "d-1@x", &format!("/comment {task} unsigned"));
    refused(&app, &plain, "no DKIM signature").await;
    // A valid signature of another domain.
    let other = signed(
        &theirs,
        "attacker.org",
        &message("", ANN, "d-2@x", &format!("/comment {task} other")),
    );
    refused(&app, &other, "attacker.org").await;
    // Signed by example.com, then changed on the way.
    let good = signed(
        &ours,
        "example.com",
        &message("", ANN, "d-3@x", &format!("/comment {task} original")),
    );
    let tampered = good.replace("original", "tampered");
    refused(&app, &tampered, "body hash does not match").await;

    // Signed by example.com and unchanged: acts.
    let raw = signed(
        &ours,
        "example.com",
        &message("", ANN, "d-4@x", &format!("/comment {task} signed and sealed")),
    );
    let (status, body) = post_mail(&app, Some(ADMIN_TOKEN), "message/rfc822", &raw).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    assert!(
        wait_until(|| async { comments(&app, task).await == vec!["signed and sealed".to_owned()] }).await,
        "{:?}",
        comments(&app, task).await
    );
    assert_eq!(
        history(&app)
            .await
            .iter()
            .filter(|r| r["status"] == "refused")
            .count(),
        3
    );
}
