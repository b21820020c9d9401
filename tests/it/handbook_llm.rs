//! The handbook with a language model: `/ask` answered only from the found passages (fake
//! OpenAI server on 127.0.0.1, real Telegram path), the quoted fallback when the model fails,
//! and the agent's `search_handbook` tool.

use std::time::Duration;

use serde_json::{json, Value};

use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::fake_telegram::{text_update, FakeTelegram};
use crate::helpers::{Db, TestApp};

const SECRET: &str = "handbook-secret";
const WAIT: Duration = Duration::from_secs(120);
const ANNA: i64 = 5151;

async fn app_with(tg: &FakeTelegram, ai: &FakeOpenAi) -> TestApp {
    let app = TestApp::builder(Db::Sqlite)
        .with_telegram(tg, SECRET)
        .with_openai(ai)
        .spawn()
        .await;
    let body = json!({"handle": "anna", "name": "Anna", "role": "member",
                      "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    assert_eq!(app.post("/api/people", body).await.status, 201);
    app
}

fn system_prompt(request: &Value) -> String {
    request["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn ask_with_a_model_answers_only_from_the_passages() {
    let (tg, ai) = (FakeTelegram::start().await, FakeOpenAi::start().await);
    let app = app_with(&tg, &ai).await;
    let answer = "We answer client email within one working day (client-communication.md › Response times).";
    ai.script(vec![Scripted::Text(answer.into())]);

    let question = text_update(1, ANNA, ANNA, "/ask how fast do we answer a client email?");
    app.deliver_telegram_ok(&question).await;
    let sent = tg.wait_for_sent(1, WAIT).await;
    assert_eq!(sent[0].text, answer);

    let requests = ai.requests();
    assert_eq!(requests.len(), 1, "one model call for one question");
    let prompt = system_prompt(&requests[0]);
    assert!(prompt.contains("only from the handbook passages"), "{prompt}");
    assert!(prompt.contains("client-communication.md ›"), "{prompt}");
    assert!(
        requests[0]["tools"].as_array().is_none_or(|t| t.is_empty()),
        "answering from the handbook offers no tools: {}",
        requests[0]
    );
    assert_eq!(
        requests[0]["messages"][1]["content"],
        "how fast do we answer a client email?"
    );
    assert!(!prompt.contains("may not answer the question"), "{prompt}");

    // Nothing relevant: the bot says so, and the model is not asked to invent.
    let question = text_update(2, ANNA, ANNA, "/ask what is the airspeed of an unladen swallow");
    app.deliver_telegram_ok(&question).await;
    let sent = tg.wait_for_sent(2, WAIT).await;
    assert!(
        sent[1].text.contains("found nothing in the handbook"),
        "{}",
        sent[1].text
    );
    assert_eq!(ai.requests().len(), 1);

    // A near miss (the sample handbook has no stock options): the model gets the closest
    // passages marked as what may not answer the question.
    ai.script(vec![Scripted::Text(
        "The handbook does not cover stock options.".into(),
    )]);
    let question = text_update(3, ANNA, ANNA, "/ask Is there a stock option plan for employees?");
    app.deliver_telegram_ok(&question).await;
    let sent = tg.wait_for_sent(3, WAIT).await;
    assert_eq!(sent[2].text, "The handbook does not cover stock options.");
    let requests = ai.requests();
    assert_eq!(requests.len(), 2);
    let prompt = system_prompt(&requests[1]);
    assert!(prompt.contains("may not answer the question"), "{prompt}");
    assert!(prompt.contains("<passage source="), "{prompt}");
}

#[tokio::test]
async fn ask_quotes_the_passages_when_the_model_fails() {
    let (tg, ai) = (FakeTelegram::start().await, FakeOpenAi::start().await);
    let app = app_with(&tg, &ai).await;
    ai.always_fail(Some(400));

    let question = text_update(1, ANNA, ANNA, "/ask who approves a refund of 1,200 EUR?");
    app.deliver_telegram_ok(&question).await;
    let sent = tg.wait_for_sent(1, WAIT).await;
    assert!(sent[0].text.starts_with("From the handbook:"), "{}", sent[0].text);
    assert!(
        sent[0].text.contains("refunds-and-approvals.md ›"),
        "{}",
        sent[0].text
    );
    assert!(!ai.requests().is_empty(), "the model was tried first");
}

#[tokio::test]
async fn the_agent_searches_the_handbook_with_its_tool() {
    let (tg, ai) = (FakeTelegram::start().await, FakeOpenAi::start().await);
    let app = app_with(&tg, &ai).await;
    ai.script(vec![
        Scripted::ToolCalls(vec![(
            "search_handbook".into(),
            json!({"query": "refund approval 1200 EUR"}),
        )]),
        Scripted::Text(
            "The account lead approves it (refunds-and-approvals.md › Approval thresholds).".into(),
        ),
    ]);

    let question = text_update(1, ANNA, ANNA, "a client wants 1200 EUR back, who signs that off?");
    app.deliver_telegram_ok(&question).await;
    let sent = tg.wait_for_sent(1, WAIT).await;
    assert!(
        sent[0].text.contains("refunds-and-approvals.md"),
        "{}",
        sent[0].text
    );

    let requests = ai.requests();
    assert_eq!(requests.len(), 2);
    let offered: Vec<&str> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(offered.contains(&"search_handbook"), "{offered:?}");
    let tool_result = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        tool_result.contains("refunds-and-approvals.md") && tool_result.contains("Approval thresholds"),
        "{tool_result}"
    );
    let tool_result: Value = serde_json::from_str(&tool_result).unwrap();
    assert_eq!(tool_result["sure"], true, "{tool_result}");
}
