//! Voice notes end to end: a fake Bot API and a fake Graph API serving the audio, a fake
//! OpenAI-compatible server speaking the real `/audio/transcriptions` multipart request and JSON
//! answer, the real app in between; and the upload endpoint `POST /integrations/voice/transcribe`.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::fake_graph::{audio_message, messages_from, sign, FakeGraph, PHONE_NUMBER_ID, TOKEN};
use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::fake_telegram::{voice_update, FakeTelegram, DEFAULT_FILE_PATH};
use crate::helpers::{both_dbs, spawn_app_with, Db, TestApp, ADMIN_TOKEN};

const SECRET: &str = "voice-secret";
const APP_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const ANNA: i64 = 4242;
const ANNA_WA: &str = "491701234567";
const WAIT: Duration = Duration::from_secs(20);
/// Bytes that stand for an Ogg/Opus voice note.
const OGG: &[u8] = b"OggS\0\x02fake-opus-voice-note";

both_dbs!(
    telegram_voice_note_becomes_a_task_through_the_agent,
    whatsapp_audio_is_transcribed,
    limits_and_formats_get_clear_answers,
    without_a_transcription_service_the_sender_is_told,
    temporary_transcription_failures_are_retried_by_the_inbox,
    the_upload_endpoint_transcribes_and_refuses_politely,
);

async fn telegram_app(db: Db, tg: &FakeTelegram, ai: Option<&FakeOpenAi>, extra: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder(db).with_telegram(tg, SECRET);
    if let Some(ai) = ai {
        builder = builder.with_openai(ai);
    }
    let app = builder.with_settings(extra).spawn().await;
    let body = json!({"handle": "anna", "name": "Anna", "timezone": "Europe/Berlin",
                      "identities": [{"channel": "telegram", "external_id": ANNA.to_string()}]});
    let reply = app.post("/api/people", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    app
}

async fn telegram_voice_note_becomes_a_task_through_the_agent(db: Db) {
    let (tg, ai) = (FakeTelegram::start().await, FakeOpenAi::start().await);
    let app = telegram_app(db, &tg, Some(&ai), &[]).await;
    tg.set_file(DEFAULT_FILE_PATH, OGG.to_vec());
    ai.set_transcript("Please remind me to call the printer by February first 2030.");
    ai.script(vec![
        Scripted::ToolCalls(vec![(
            "create_task".into(),
            json!({"title": "Call the printer", "due_date": "2030-02-01"}),
        )]),
        Scripted::Text("Done: task #1, Call the printer, due 1 Feb.".into()),
    ]);
    app.deliver_telegram_ok(&voice_update(1, ANNA, ANNA, "voice-file-1", 4))
        .await;

    let sent = tg.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].chat_id, ANNA);
    assert_eq!(
        sent[0].text,
        "🎙 \"Please remind me to call the printer by February first 2030.\"\n\n\
         Done: task #1, Call the printer, due 1 Feb."
    );
    let task = app.get("/api/tasks/1").await.body;
    assert_eq!(task["title"], "Call the printer");
    // The audio went to the transcription endpoint as Telegram served it.
    let heard = ai.transcriptions();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].model, "whisper-1");
    assert_eq!(heard[0].bytes, OGG);
    assert_eq!(heard[0].fields["response_format"], "json");
    assert!(heard[0].filename.ends_with(".ogg"), "{}", heard[0].filename);
    let get_file = tg.calls("getFile");
    assert_eq!(get_file[0]["file_id"], "voice-file-1");
    // The agent read the transcript as the user's words.
    let first = &ai.requests()[0];
    let last_user = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .unwrap();
    assert!(last_user["content"]
        .as_str()
        .unwrap()
        .contains("call the printer"));
    // The history shows the transcript in and the answer out, both about task 1.
    let history = app.get("/integrations/history?person=anna").await;
    assert_eq!(history.status, 200, "{}", history.body);
    let items = history.body.as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        (items[0]["direction"].as_str(), items[0]["task_id"].as_i64()),
        (Some("out"), Some(1))
    );
    assert_eq!(
        (items[1]["direction"].as_str(), items[1]["task_id"].as_i64()),
        (Some("in"), Some(1))
    );
    assert_eq!(
        items[1]["text"],
        "Please remind me to call the printer by February first 2030."
    );
}

async fn whatsapp_audio_is_transcribed(db: Db) {
    let (graph, ai) = (FakeGraph::start().await, FakeOpenAi::start().await);
    let app = TestApp::builder(db)
        .with("WHATSAPP_TOKEN", TOKEN)
        .with("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .with("WHATSAPP_APP_SECRET", APP_SECRET)
        .with("WHATSAPP_API_URL", &graph.url)
        .with_openai(&ai)
        .spawn()
        .await;
    let body = json!({"handle": "anna", "name": "Anna",
                      "identities": [{"channel": "whatsapp", "external_id": ANNA_WA}]});
    assert_eq!(app.post("/api/people", body).await.status, 201);
    graph.add_media("1003383421387256", "audio/ogg; codecs=opus", OGG.to_vec());
    ai.set_transcript("What is on my plate this week?");
    ai.script(vec![Scripted::Text("Nothing is due this week.".into())]);
    let notification = messages_from(
        ANNA_WA,
        "Anna",
        vec![audio_message("wamid.VOICE1", ANNA_WA, "1003383421387256", true)],
    );
    let payload = serde_json::to_vec(&notification).unwrap();
    let status = app
        .client
        .post(format!("{}/webhooks/whatsapp", app.base))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(APP_SECRET, &payload))
        .body(payload)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let sent = graph.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].to, ANNA_WA);
    assert_eq!(
        sent[0].text,
        "🎙 \"What is on my plate this week?\"\n\nNothing is due this week."
    );
    let heard = ai.transcriptions();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].bytes, OGG);
    assert!(heard[0].filename.ends_with(".ogg"));
}

/// The one message the bot sent in answer, after the event was processed.
async fn only_answer(tg: &FakeTelegram) -> String {
    let sent = tg.wait_for_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent[0].text.clone()
}

async fn limits_and_formats_get_clear_answers(db: Db) {
    let ai = FakeOpenAi::start().await;
    // Declared too long.
    let tg = FakeTelegram::start().await;
    let app = telegram_app(db, &tg, Some(&ai), &[]).await;
    tg.set_file(DEFAULT_FILE_PATH, OGG.to_vec());
    app.deliver_telegram_ok(&voice_update(1, ANNA, ANNA, "long", 301))
        .await;
    let text = only_answer(&tg).await;
    assert!(
        text.contains("too long (5:01 min)") && text.contains("up to 5:00 min"),
        "{text}"
    );
    drop(app);

    // Declared too large (the fake declares 4096 bytes), and too large when downloaded.
    let tg = FakeTelegram::start().await;
    let app = telegram_app(db, &tg, Some(&ai), &[("VOICE_MAX_BYTES", "2048")]).await;
    app.deliver_telegram_ok(&voice_update(1, ANNA, ANNA, "big", 4))
        .await;
    let text = only_answer(&tg).await;
    assert!(
        text.contains("too large (4 KB)") && text.contains("up to 2 KB"),
        "{text}"
    );
    let mut update = voice_update(2, ANNA, ANNA, "big-but-quiet", 4);
    update["message"]["voice"]
        .as_object_mut()
        .unwrap()
        .remove("file_size");
    tg.set_file(DEFAULT_FILE_PATH, vec![7u8; 5000]);
    app.deliver_telegram_ok(&update).await;
    let sent = tg.wait_for_sent(2, WAIT).await;
    assert!(sent[1].text.contains("too large"), "{}", sent[1].text);
    drop(app);

    // A format the endpoint does not take.
    let tg = FakeTelegram::start().await;
    let app = telegram_app(db, &tg, Some(&ai), &[]).await;
    let mut update = voice_update(1, ANNA, ANNA, "amr", 4);
    update["message"]["voice"]["mime_type"] = json!("audio/amr");
    app.deliver_telegram_ok(&update).await;
    let text = only_answer(&tg).await;
    assert!(
        text.contains("can't transcribe audio/amr") && text.contains("mp3"),
        "{text}"
    );
    // The transcript says the audio was longer than allowed (no declared duration).
    let tg2 = FakeTelegram::start().await;
    drop(app);
    let app = telegram_app(db, &tg2, Some(&ai), &[("VOICE_MAX_SECONDS", "2")]).await;
    tg2.set_file(DEFAULT_FILE_PATH, vec![1u8; 40_000]);
    let mut update = voice_update(1, ANNA, ANNA, "undeclared", 1);
    update["message"]["voice"]["duration"] = json!(0);
    app.deliver_telegram_ok(&update).await;
    let text = only_answer(&tg2).await;
    assert!(text.contains("too long (0:10 min)"), "{text}");
    // Nothing was transcribed but the last one; no task came of any.
    assert_eq!(ai.transcription_requests(), 1);
    assert!(ai.requests().is_empty());
    assert!(app.get("/api/tasks").await.body.as_array().unwrap().is_empty());
}

async fn without_a_transcription_service_the_sender_is_told(db: Db) {
    let tg = FakeTelegram::start().await;
    let app = telegram_app(db, &tg, None, &[]).await;
    tg.set_file(DEFAULT_FILE_PATH, OGG.to_vec());
    app.deliver_telegram_ok(&voice_update(1, ANNA, ANNA, "voice", 3))
        .await;
    let text = only_answer(&tg).await;
    assert!(text.contains("OPENAI_API_KEY"), "{text}");
    assert!(tg.calls("getFile").is_empty(), "nothing to download it for");
}

async fn temporary_transcription_failures_are_retried_by_the_inbox(db: Db) {
    let (tg, ai) = (FakeTelegram::start().await, FakeOpenAi::start().await);
    let app = telegram_app(db, &tg, Some(&ai), &[]).await;
    tg.set_file(DEFAULT_FILE_PATH, OGG.to_vec());
    ai.set_transcript("/newtask Order paper");
    ai.always_fail(Some(503));
    app.deliver_telegram_ok(&voice_update(1, ANNA, ANNA, "voice", 3))
        .await;
    // The first attempt fails (after the client's own quick retries) and is put back, with
    // the reason visible in the history.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut event = Value::Null;
    while tokio::time::Instant::now() < deadline {
        event = app.get("/integrations/history?direction=in").await.body[0].clone();
        if event["error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(event["status"], "pending", "{event}");
    assert!(
        event["error"].as_str().unwrap().contains("transcription"),
        "{event}"
    );
    assert!(ai.transcription_requests() >= 1);
    assert!(tg.sent().is_empty());
    ai.always_fail(None);
    // The inbox tries again and the transcript runs as the command it is.
    let text = only_answer(&tg).await;
    assert!(
        text.starts_with("🎙 \"/newtask Order paper\"\n\nCreated #1"),
        "{text}"
    );
    assert_eq!(app.get("/api/tasks/1").await.body["title"], "Order paper");
    assert_eq!(ai.transcriptions().len(), 1);
}

async fn upload(app: &TestApp, token: Option<&str>, part: Part) -> crate::helpers::Reply {
    let form = Form::new().part("file", part).text("language", "en");
    let mut request = app
        .client
        .post(format!("{}/integrations/voice/transcribe", app.base))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    TestApp::send(request).await
}

fn audio(name: &str, mime: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap()
}

async fn the_upload_endpoint_transcribes_and_refuses_politely(db: Db) {
    let ai = FakeOpenAi::start().await;
    let app = TestApp::builder(db)
        .with_openai(&ai)
        .with("OPENAI_TRANSCRIPTION_MODEL", "gpt-4o-mini-transcribe")
        .with("VOICE_MAX_BYTES", "4096")
        .spawn()
        .await;
    ai.set_transcript("Ship the brochure on Friday.");
    let ok = upload(
        &app,
        Some(ADMIN_TOKEN),
        audio("memo.m4a", "audio/mp4", b"....ftypM4A "),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["text"], "Ship the brochure on Friday.");
    assert_eq!(ok.body["model"], "gpt-4o-mini-transcribe");
    assert!(
        ok.body.get("duration_seconds").is_none(),
        "token usage carries no duration"
    );
    assert!(ai.transcriptions()[0].filename.ends_with(".m4a"));
    // A generic type is read by its file name.
    let generic = upload(
        &app,
        Some(ADMIN_TOKEN),
        audio("note.wav", "application/octet-stream", b"RIFF"),
    )
    .await;
    assert_eq!(generic.status, 200, "{}", generic.body);

    let unauthenticated = upload(&app, None, audio("memo.ogg", "audio/ogg", OGG)).await;
    assert_eq!(unauthenticated.status, 401);
    let too_large = upload(
        &app,
        Some(ADMIN_TOKEN),
        audio("memo.ogg", "audio/ogg", &[0u8; 5000]),
    )
    .await;
    assert_eq!((too_large.status, too_large.code()), (413, "payload_too_large"));
    let far_too_large = upload(
        &app,
        Some(ADMIN_TOKEN),
        audio("memo.ogg", "audio/ogg", &vec![0u8; 200_000]),
    )
    .await;
    assert_eq!(
        (far_too_large.status, far_too_large.code()),
        (413, "payload_too_large")
    );
    let text = upload(
        &app,
        Some(ADMIN_TOKEN),
        audio("notes.txt", "text/plain", b"hello"),
    )
    .await;
    assert_eq!(text.status, 415, "{}", text.body);
    assert!(text.message().starts_with("file: "), "{}", text.message());
    let empty = upload(&app, Some(ADMIN_TOKEN), audio("memo.ogg", "audio/ogg", b"")).await;
    assert_eq!(empty.status, 422);
    let no_file = TestApp::send(
        app.client
            .post(format!("{}/integrations/voice/transcribe", app.base))
            .bearer_auth(ADMIN_TOKEN)
            .multipart(Form::new().text("language", "en")),
    )
    .await;
    assert_eq!((no_file.status, no_file.code()), (422, "invalid"));
    let not_a_form = app
        .post("/integrations/voice/transcribe", json!({"file": "x"}))
        .await;
    assert_eq!((not_a_form.status, not_a_form.code()), (400, "bad_request"));
    assert_eq!(ai.transcriptions().len(), 2);

    // The service is down: 503, and without a key there is no service at all.
    ai.always_fail(Some(500));
    let down = upload(&app, Some(ADMIN_TOKEN), audio("memo.ogg", "audio/ogg", OGG)).await;
    assert_eq!((down.status, down.code()), (503, "unavailable"));
    let plain = spawn_app_with(db, &[]).await;
    let off = upload(&plain, Some(ADMIN_TOKEN), audio("memo.ogg", "audio/ogg", OGG)).await;
    assert_eq!((off.status, off.code()), (503, "unavailable"));
    assert!(off.message().contains("OPENAI_API_KEY"));

    // Documented.
    let doc = app.get("/openapi.json").await.body;
    assert!(doc["paths"]["/integrations/voice/transcribe"]["post"].is_object());
    assert!(doc["paths"]["/integrations/{channel}/send"]["post"].is_object());
    assert!(doc["paths"]["/integrations/history"]["get"].is_object());
}
