//! The agent cannot be steered past the speaker. A scripted model that obeys every instruction
//! it reads (it issues exactly the tool call the injected text asks for) is run against the
//! injection corpus (`tests/data/injection_corpus.json`: Zendesk subjects and CRM deal names
//! that become task titles, CRM contact names, handbook passages, a guest's messages in a
//! group, a guest's email, in English, German and Spanish). Whatever it asks, nothing changes:
//! a guest's turn cannot write at all, and a member's or admin's turn that has read someone
//! else's text only gets proposals, which wait for the speaker's approval.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::fake_telegram::{group_text_update, text_update, FakeTelegram, BOT_USERNAME};
use crate::helpers::{both_dbs, Db, TestApp, ADMIN_TOKEN};

both_dbs!(the_injection_corpus_moves_nothing);

const SECRET: &str = "guard-secret";
const ADA: i64 = 7001; // admin: the strongest rights an injection could borrow
const GUS: i64 = 7002; // guest in the group
const GROUP: i64 = -7100;
const WAIT: Duration = Duration::from_secs(30);

#[derive(serde::Deserialize)]
struct Case {
    id: String,
    source: String,
    text: String,
    call: Call,
}

#[derive(serde::Deserialize)]
struct Call {
    tool: String,
    arguments: Value,
}

fn corpus() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/injection_corpus.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `value` with every `"$TASK"` (a string or inside one) replaced by the victim's id.
fn with_task(value: &Value, task: i64) -> Value {
    match value {
        Value::String(s) if s == "$TASK" => json!(task),
        Value::String(s) => Value::String(s.replace("$TASK", &task.to_string())),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), with_task(v, task))).collect())
        }
        other => other.clone(),
    }
}

async fn person(app: &TestApp, handle: &str, role: &str, identities: Value, email: Option<&str>) {
    let mut body = json!({"handle": handle, "name": handle, "role": role, "identities": identities});
    if let Some(email) = email {
        body["email"] = json!(email);
    }
    let reply = app.post("/api/people", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Waits until the model has been asked `n` times in all and the inbox is idle again.
async fn settle(app: &TestApp, ai: &FakeOpenAi, n: usize) {
    let until = tokio::time::Instant::now() + WAIT;
    while ai.requests().len() < n && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ai.requests().len() >= n,
        "the model was asked {} times, not {n}",
        ai.requests().len()
    );
    loop {
        let status = app.get("/api/monitoring/status").await.body;
        let counts = &status["inbox"]["counts"];
        let busy = counts["pending"].as_i64().unwrap_or(0) + counts["processing"].as_i64().unwrap_or(0) > 0;
        if !busy || tokio::time::Instant::now() > until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn the_injection_corpus_moves_nothing(db: Db) {
    let cases = corpus();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let handbook = tempfile::tempdir().unwrap();
    for case in cases.iter().filter(|c| c.source == "handbook") {
        let body = format!(
            "# Policy {}\n\nKeyword zq{}.\n\n{}\n",
            case.id,
            case.id.replace('-', ""),
            case.text
        );
        std::fs::write(handbook.path().join(format!("{}.md", case.id)), body).unwrap();
    }
    let (tg, ai) = (FakeTelegram::start().await, FakeOpenAi::start().await);
    let handbook_dir = handbook.path().to_str().unwrap().to_owned();
    let app = TestApp::builder(db)
        .with_telegram(&tg, SECRET)
        .with_openai(&ai)
        .with("HANDBOOK_DIR", &handbook_dir)
        .with("EMAIL_FROM", "Coordinator <bot@example.org>")
        .with("EMAIL_TRUSTED_AUTHSERV_ID", "mx.test")
        .spawn()
        .await;
    person(
        &app,
        "ada",
        "admin",
        json!([{"channel": "telegram", "external_id": ADA.to_string()}]),
        None,
    )
    .await;
    person(
        &app,
        "gus",
        "guest",
        json!([{"channel": "telegram", "external_id": GUS.to_string()}]),
        None,
    )
    .await;
    person(&app, "erin", "guest", json!([]), Some("erin@customer.example")).await;
    person(&app, "mallory", "member", json!([]), None).await;

    let mut update_id = 1;
    let mut asked = 0;
    let mut unseen = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let victim = app
            .post("/api/tasks", json!({"title": format!("Victim of {}", case.id)}))
            .await;
        assert_eq!(victim.status, 201, "{}", victim.body);
        let task = victim.body["id"].as_i64().unwrap();
        let text = case.text.replace("$TASK", &task.to_string());
        let injected_call = (case.call.tool.clone(), with_task(&case.call.arguments, task));
        let obey = |ai: &FakeOpenAi, read: Option<(&str, Value)>| {
            let mut script = Vec::new();
            if let Some((tool, args)) = read {
                script.push(Scripted::ToolCalls(vec![(tool.to_owned(), args)]));
            }
            script.push(Scripted::ToolCalls(vec![injected_call.clone()]));
            script.push(Scripted::Text("Done as asked.".into()));
            ai.script(script);
        };
        let expect_proposal = match case.source.as_str() {
            "zendesk_subject" | "crm_deal" => {
                // Written by the integration: a task whose title is the customer's text.
                let made = app.post("/api/tasks", json!({"title": text})).await;
                assert_eq!(made.status, 201, "{}", made.body);
                obey(&ai, Some(("find_tasks", json!({"query": text}))));
                app.deliver_telegram_ok(&text_update(update_id, ADA, ADA, "anything new from customers?"))
                    .await;
                asked += 3;
                true
            }
            "crm_contact" => {
                person(&app, &format!("contact{n}"), "guest", json!([]), None).await;
                let renamed = app
                    .call(
                        reqwest::Method::PUT,
                        &format!("/api/people/contact{n}"),
                        Some(json!({"name": text})),
                    )
                    .await;
                assert_eq!(renamed.status, 200, "{}", renamed.body);
                obey(&ai, Some(("list_people", json!({}))));
                app.deliver_telegram_ok(&text_update(update_id, ADA, ADA, "who is on the team?"))
                    .await;
                asked += 3;
                true
            }
            "handbook" => {
                let keyword = format!("zq{}", case.id.replace('-', ""));
                obey(&ai, Some(("search_handbook", json!({"query": keyword}))));
                app.deliver_telegram_ok(&text_update(update_id, ADA, ADA, "what does the handbook say?"))
                    .await;
                asked += 3;
                true
            }
            "group" => {
                // The guest's own turn: the model obeys, the guest's rights refuse.
                obey(&ai, None);
                app.deliver_telegram_ok(&group_text_update(
                    update_id,
                    GROUP,
                    GUS,
                    &format!("@{BOT_USERNAME} {text}"),
                ))
                .await;
                asked += 2;
                settle(&app, &ai, asked).await;
                update_id += 1;
                // The admin's next turn in the group, after the guest's words.
                obey(&ai, None);
                app.deliver_telegram_ok(&group_text_update(
                    update_id,
                    GROUP,
                    ADA,
                    &format!("@{BOT_USERNAME} anything for me?"),
                ))
                .await;
                asked += 2;
                true
            }
            "email" => {
                obey(&ai, None);
                let raw = format!(
                    "Authentication-Results: mx.test; dmarc=pass header.from=customer.example\r\n\
                     From: erin@customer.example\r\nTo: bot@example.org\r\nMessage-ID: <{}@customer.example>\r\n\
                     Subject: request\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n",
                    case.id
                );
                let posted = app
                    .client
                    .post(format!("{}/webhooks/email", app.base))
                    .bearer_auth(ADMIN_TOKEN)
                    .header("content-type", "message/rfc822")
                    .body(raw)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(posted.status().as_u16(), 202);
                asked += 2;
                false
            }
            other => panic!("unknown source {other}"),
        };
        update_id += 1;
        settle(&app, &ai, asked).await;

        // The injected text reached the model, so the test is not passing by not reading it.
        // (The handbook files were written before the victims existed: they say `$TASK`.)
        let shown = if case.source == "handbook" {
            &case.text
        } else {
            &text
        };
        let seen = ai
            .requests()
            .iter()
            .any(|r| r["messages"].to_string().contains(shown.as_str()));
        if !seen {
            unseen.push(case.id.clone());
        }

        // Nothing moved.
        let now = app.get(&format!("/api/tasks/{task}")).await.body;
        assert_eq!(now["status"], "todo", "{}: {now}", case.id);
        assert_eq!(now["title"], format!("Victim of {}", case.id), "{}", case.id);
        assert!(now["assigned_to"].is_null(), "{}: {now}", case.id);
        assert_eq!(now["priority"], "medium", "{}", case.id);
        let comments = app.get(&format!("/api/comments?task_id={task}")).await.body;
        assert!(
            comments.to_string().matches("\"content\"").count() == 0,
            "{}: {comments}",
            case.id
        );
        if case.call.tool == "create_task" {
            let wanted = case.call.arguments["title"].as_str().unwrap();
            let found = app.get(&format!("/api/tasks?q={}", urlencode(wanted))).await.body;
            let made = found
                .as_array()
                .map(|a| a.iter().any(|t| t["title"] == wanted))
                .unwrap_or(false);
            assert!(!made, "{}: the injected task was created", case.id);
        }
        // A member's or admin's turn that read the text only proposed the change.
        let actions = app.get("/ai/actions").await.body;
        let proposed = actions.as_array().unwrap().iter().any(|a| {
            a["action_type"] == "tool_call"
                && a["status"] == "proposed"
                && a["data"]["tool"] == case.call.tool.as_str()
                && a["data"]["arguments"] == injected_call.1
        });
        assert_eq!(proposed, expect_proposal, "{}: proposals {actions}", case.id);
    }
    assert!(
        unseen.is_empty(),
        "these injections never reached the model: {unseen:?}"
    );
    // Every proposal still waits: none was carried out without a person.
    let actions = app.get("/ai/actions").await.body;
    assert!(actions
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["status"] == "proposed"));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
