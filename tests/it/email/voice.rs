//! An audio attachment by email (through the relay webhook): kept, transcribed by a fake
//! OpenAI-compatible server, and, in a task's thread, its transcript becomes a comment on the
//! task; the answer shows what was heard.

use base64::Engine;
use mail_parser::MessageParser;

use super::smtp_sink::SmtpSink;
use super::{ann_and_task, comments, post_mail, settings, wait_until, ANN, WAIT};
use crate::fake_openai::FakeOpenAi;
use crate::helpers::{both_dbs, spawn_app_with, Db, ADMIN_TOKEN};

both_dbs!(an_audio_attachment_in_a_task_thread_becomes_a_comment);

const AUDIO: &[u8] = b"OggS\0\x02fake-opus-voice-memo";

async fn an_audio_attachment_in_a_task_thread_becomes_a_comment(db: Db) {
    let (sink, ai) = (SmtpSink::start().await, FakeOpenAi::start().await);
    let sink_url = sink.url();
    let mut values = settings(&sink_url, None);
    values.push(("OPENAI_API_KEY", "test-key"));
    values.push(("OPENAI_BASE_URL", ai.base_url.as_str()));
    let app = spawn_app_with(db, &values).await;
    let task = ann_and_task(&app).await;
    ai.set_transcript("The release notes are ready for review.");
    let encoded = base64::engine::general_purpose::STANDARD.encode(AUDIO);
    let raw = format!(
        "{}From: {ANN}\r\nTo: bot+t{task}@example.org\r\nMessage-ID: <voice-1@example.com>\r\n\
         Date: Mon, 7 Jan 2030 10:00:00 +0000\r\nSubject: voice memo\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\r\n\
         --b1\r\nContent-Type: audio/ogg\r\nContent-Disposition: attachment; filename=\"memo.ogg\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b1--\r\n",
        super::relay_pass(ANN)
    );
    let (status, body) = post_mail(&app, Some(ADMIN_TOKEN), "message/rfc822", &raw).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );

    let received = sink.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let message = MessageParser::default().parse(&received[0].data).unwrap();
    let text = message.body_text(0).unwrap_or_default().into_owned();
    assert!(
        text.starts_with("🎙 \"The release notes are ready for review.\""),
        "{text}"
    );
    assert!(text.contains(&format!("Comment added to #{task}")), "{text}");
    assert!(
        wait_until(|| async {
            comments(&app, task)
                .await
                .contains(&"The release notes are ready for review.".to_owned())
        })
        .await
    );
    let heard = ai.transcriptions();
    assert_eq!((heard.len(), heard[0].bytes.as_slice()), (1, AUDIO));
}
