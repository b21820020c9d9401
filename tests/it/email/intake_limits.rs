//! IMAP intake against Dovecot under a mail too large to read and a mail whose handling fails
//! every time: the large one is never fetched but recorded as refused (sender, subject, size),
//! the failing one is dead-lettered after `EMAIL_MAX_FAILURES` tries, and the mail after both
//! is read.

use coordinator::channels::email::imap::ImapConfig;
use reqwest::Method;
use serde_json::Value;

use super::mailbox::{imap_ready, Mailbox};
use super::smtp_sink::SmtpSink;
use super::{ann_and_task, comments, mail, settings, wait_until, ANN};
use crate::helpers::{both_dbs, spawn_app_with, Db};

both_dbs!(large_and_failing_mail_do_not_stop_intake);

const POISON: &str = "poison-1@example.com";

/// The database refuses to record mail `POISON`: its handling fails every time, as any fault
/// bound to one message would (the test cannot make the mail parser itself fail: it records
/// unparsable mail as malformed).
async fn refuse_storing_poison(db: Db, url: &str) {
    let statements: &[&str] = match db {
        Db::Sqlite => &["CREATE TRIGGER refuse_poison BEFORE INSERT ON email_messages \
             WHEN NEW.message_id = 'poison-1@example.com' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
        Db::Postgres => &[
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.message_id = 'poison-1@example.com' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON email_messages \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        ],
    };
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            for sql in statements {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            for sql in statements {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
}

/// A 30 MB body in lines of 76 characters, as a mail client would write an attachment.
fn big_body() -> String {
    let line = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6\n";
    line.repeat(30 * 1024 * 1024 / line.len() + 1)
}

async fn large_and_failing_mail_do_not_stop_intake(db: Db) {
    if !imap_ready().await {
        return;
    }
    let sink = SmtpSink::start().await;
    let mut mailbox = Mailbox::create().await;
    let (sink_url, imap_url) = (sink.url(), mailbox.url());
    let mut extra = settings(&sink_url, Some(&imap_url));
    extra.push(("EMAIL_MAX_FAILURES", "2"));
    let app = spawn_app_with(db, &extra).await;
    let task = ann_and_task(&app).await;
    refuse_storing_poison(db, &app.database_url).await;

    let big = mail(
        ANN,
        "bot@example.org",
        "big-1@example.com",
        "",
        "Site photos",
        &big_body(),
    );
    assert!(big.len() > 30 * 1024 * 1024);
    mailbox.append(&big).await;
    let poison = mail(
        ANN,
        "bot@example.org",
        POISON,
        "",
        "again",
        &format!("/comment {task} poison"),
    );
    mailbox.append(&poison).await;
    let after = mail(
        ANN,
        "bot@example.org",
        "after-1@example.com",
        "",
        "after",
        &format!("/comment {task} after"),
    );
    mailbox.append(&after).await;

    assert!(
        wait_until(|| async { comments(&app, task).await == vec!["after".to_owned()] }).await,
        "the mail after a large and a failing one was never read: {:?}",
        comments(&app, task).await
    );
    let history = app.get("/integrations/history?channel=email&direction=in").await;
    assert_eq!(history.status, 200, "{}", history.body);
    let rows = history.body.as_array().cloned().unwrap_or_default();
    let row = |status: &str| -> Value {
        rows.iter()
            .find(|r| r["status"] == status)
            .cloned()
            .unwrap_or_else(|| panic!("no {status} row in {rows:?}"))
    };
    let refused = row("refused");
    assert_eq!(refused["chat_id"], ANN);
    assert_eq!(refused["text"], "Site photos");
    let reason = refused["error"].as_str().unwrap();
    // The size the server reports (RFC822.SIZE): the message as appended, CRLF line ends.
    let size = format!("{:.1} MB", big.len() as f64 / (1024.0 * 1024.0));
    assert!(
        reason.contains("too large") && reason.contains(&size) && reason.contains("25.0 MB"),
        "{reason} (expected {size})"
    );
    let dead = row("dead");
    assert_eq!(dead["chat_id"], ANN);
    assert_eq!(dead["text"], "again");
    let error = dead["error"].as_str().unwrap();
    assert!(
        error.contains("2 tries") && error.contains("refused by the test"),
        "{error}"
    );

    let status = app.call(Method::GET, "/api/monitoring/status", None).await;
    let dead_letters = status.body["inbox"]["dead_letters"].as_array().unwrap();
    assert!(
        dead_letters.iter().any(|d| d["chat_id"] == ANN),
        "{dead_letters:?}"
    );
    let records = app.store.email_messages_with(ANN).await.unwrap();
    let big_record = records
        .iter()
        .find(|r| r.message_id == "big-1@example.com")
        .expect("the large mail is recorded");
    assert_eq!(big_record.status, "too_large");
    // The large mail and the one after are marked read; the watermark is past all three.
    let key = ImapConfig::parse(&imap_url).unwrap().key();
    let mark = app.store.email_watermark(&key).await.unwrap().unwrap();
    assert_eq!(mark.last_uid, 3);
    let flags = mailbox.flags().await;
    assert_eq!(flags.len(), 3);
    for uid in [1, 3] {
        let (_, f) = flags.iter().find(|(u, _)| *u == uid).unwrap();
        assert!(f.iter().any(|f| f.contains("Seen")), "{flags:?}");
    }
}
