//! Files on tasks by email (through the relay webhook, the path IMAP shares): an attachment of a
//! mail whose subject is `/newtask …` ends on the new task, one sent alone in a task's thread on
//! that task; both download byte-identical through the API; oversize and disallowed attachments
//! are refused with a clear reply and nothing is stored; `/task ID files` mails them back as
//! attachments.

use base64::Engine;
use mail_parser::{MessageParser, MimeHeaders};

use super::smtp_sink::SmtpSink;
use super::{ann_and_task, post_mail, settings, ANN, WAIT};
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp, ADMIN_TOKEN};

both_dbs!(email_attachments_end_on_the_right_task_and_come_back,);

const MAX: u64 = 100_000;

/// Bytes that no encoding step leaves alone.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A mail from Ann with `files` (name, type, bytes) attached, as a mail client writes it.
fn mail(to: &str, id: &str, subject: &str, body: &str, files: &[(&str, &str, &[u8])]) -> String {
    let mut raw = format!(
        "{}From: Ann <{ANN}>\r\nTo: {to}\r\nMessage-ID: <{id}>\r\nDate: Mon, 7 Jan 2030 10:00:00 +0000\r\n\
         Subject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        super::relay_pass(ANN)
    );
    for (name, kind, content) in files {
        let encoded = base64::engine::general_purpose::STANDARD.encode(content);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        raw.push_str(&format!(
            "--b1\r\nContent-Type: {kind}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            lines.join("\r\n")
        ));
    }
    raw.push_str("--b1--\r\n");
    raw
}

/// Posts `raw` to the relay webhook and returns the text of the bot's next mail, and the mail.
async fn send(app: &TestApp, sink: &SmtpSink, raw: &str) -> (String, Vec<u8>) {
    let before = sink.received().len();
    let (status, body) = post_mail(app, Some(ADMIN_TOKEN), "message/rfc822", raw).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    let received = sink.wait_for(before + 1, WAIT).await;
    assert!(received.len() > before, "no answer to {raw:.300}");
    let data = received[before].data.clone();
    let message = MessageParser::default().parse(&data).unwrap();
    (message.body_text(0).unwrap_or_default().into_owned(), data)
}

async fn files_of(app: &TestApp, task: i64) -> Vec<serde_json::Value> {
    let files = app.get(&format!("/api/tasks/{task}/files")).await;
    assert_eq!(files.status, 200, "{}", files.body);
    files.body.as_array().cloned().unwrap_or_default()
}

async fn download(app: &TestApp, task: i64, file: i64) -> (String, Vec<u8>) {
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/api/tasks/{task}/files/{file}"),
            Some(ADMIN_TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    (kind, response.bytes().await.unwrap().to_vec())
}

async fn email_attachments_end_on_the_right_task_and_come_back(db: Db) {
    let sink = SmtpSink::start().await;
    let sink_url = sink.url();
    let max = MAX.to_string();
    let mut values = settings(&sink_url, None);
    values.push(("FILES_MAX_BYTES", max.as_str()));
    let app = spawn_app_with(db, &values).await;
    let release = ann_and_task(&app).await;

    // The subject is the command, the PDF goes on the new task.
    let brief = bytes(50_000, 7);
    let raw = mail(
        "bot@example.org",
        "files-1@example.com",
        "/newtask Review the brief",
        "",
        &[("brief.pdf", "application/pdf", &brief)],
    );
    let (text, _) = send(&app, &sink, &raw).await;
    let created = release + 1;
    assert!(
        text.contains(&format!("Created #{created}: Review the brief")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Attached brief.pdf (49 KB) to #{created} as file 1.")),
        "{text}"
    );
    let files = files_of(&app, created).await;
    assert_eq!(files.len(), 1, "{files:?}");
    let (kind, got) = download(&app, created, files[0]["id"].as_i64().unwrap()).await;
    assert_eq!(kind, "application/pdf");
    assert!(got == brief, "the PDF came back changed");

    // A file alone in a task's thread goes on that task.
    let notes = b"Launch notes\r\nline two\r\n".to_vec();
    let raw = mail(
        &format!("bot+t{release}@example.org"),
        "files-2@example.com",
        "Re: Ship the release",
        "",
        &[("notes.csv", "text/csv", &notes)],
    );
    let (text, _) = send(&app, &sink, &raw).await;
    assert!(text.contains("Attached notes.csv"), "{text}");
    let files = files_of(&app, release).await;
    assert_eq!(files.len(), 1, "{files:?}");
    let (kind, got) = download(&app, release, files[0]["id"].as_i64().unwrap()).await;
    assert_eq!((kind.as_str(), got), ("text/csv", notes));

    // Too large, and a program: refused, each with its reason; nothing is stored.
    let big = bytes(3 * MAX as usize, 1);
    let program = bytes(1000, 3);
    let raw = mail(
        "bot@example.org",
        "files-3@example.com",
        "more",
        &format!("/attach {release}"),
        &[
            ("video.mp4", "video/mp4", &big),
            ("setup.exe", "application/x-msdownload", &program),
        ],
    );
    let (text, _) = send(&app, &sink, &raw).await;
    assert!(
        text.contains("video.mp4 is too large (293 KB): I keep files up to 98 KB. Nothing was stored."),
        "{text}"
    );
    assert!(
        text.contains("setup.exe is a kind of file I don't keep (application/x-msdownload)"),
        "{text}"
    );
    assert_eq!(files_of(&app, release).await.len(), 1);

    // Mailed back on request, as attachments.
    let raw = mail(
        "bot@example.org",
        "files-4@example.com",
        "files please",
        &format!("/task {created} files"),
        &[],
    );
    let (text, data) = send(&app, &sink, &raw).await;
    assert!(text.contains("Files (1):"), "{text}");
    let message = MessageParser::default().parse(&data).unwrap();
    let attached: Vec<(String, Vec<u8>)> = message
        .attachments()
        .map(|a| {
            (
                a.attachment_name().unwrap_or("").to_owned(),
                a.contents().to_vec(),
            )
        })
        .collect();
    assert_eq!(attached, vec![("brief.pdf".to_owned(), brief)]);
}
