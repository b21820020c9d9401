//! Files on tasks over Discord's gateway: a message's attachment (served by the fake CDN, at the
//! URL in `attachments[]`) ends on the task its `/newtask` created or its `/attach ID` names,
//! downloads byte-identical through the API; the `/attach` slash command takes the file as its
//! attachment option; `/task ID files` sends them back as a multipart upload; oversize and disallowed attachments are refused with a clear reply and nothing is
//! fetched or stored.

use std::time::Duration;

use serde_json::{json, Value};

use super::{gateway_message, integer, slash, start, Discord, ANNA, WAIT};
use crate::helpers::{both_dbs, Db, ADMIN_TOKEN};

both_dbs!(discord_attachments_end_on_the_right_task_and_come_back,);

const MAX: u64 = 100_000;
/// The direct-message channel of `gateway_message(.., false, ..)`.
const DM: &str = "1000000000000000099";

/// Bytes that no encoding step leaves alone.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Sends `content` with `attachments` as a direct message; returns the bot's next answer.
async fn say(d: &Discord, content: &str, attachments: Vec<Value>) -> String {
    let before = d.fake.messages().len();
    let mut message = gateway_message(content, false, json!([]));
    message["attachments"] = Value::Array(attachments);
    d.fake.dispatch("MESSAGE_CREATE", message);
    let sent = d
        .fake
        .wait_for(WAIT, |m| {
            m.len() > before && m[before..].iter().any(|m| m.channel_id == DM)
        })
        .await;
    let answer = sent[before..].iter().find(|m| m.channel_id == DM);
    answer
        .unwrap_or_else(|| panic!("no answer to {content}"))
        .content
        .clone()
}

async fn download(d: &Discord, task: i64, file: i64) -> (u16, String, Vec<u8>) {
    let response = d
        .app
        .request(
            reqwest::Method::GET,
            &format!("/api/tasks/{task}/files/{file}"),
            Some(ADMIN_TOKEN),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

async fn discord_attachments_end_on_the_right_task_and_come_back(db: Db) {
    let d = start(db, &[("FILES_MAX_BYTES", &MAX.to_string())]).await;
    d.fake.wait_for_identify(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let brief = bytes(50_000, 7);
    let attachment = d
        .fake
        .add_attachment("brief.pdf", "application/pdf", brief.clone());
    let reply = say(&d, "/newtask Review the brief", vec![attachment]).await;
    assert!(reply.contains("Created #1: Review the brief"), "{reply}");
    assert!(
        reply.contains("Attached brief.pdf (49 KB) to #1 as file 1."),
        "{reply}"
    );
    let files = d.app.get("/api/tasks/1/files").await.body;
    assert_eq!(files.as_array().map(Vec::len), Some(1), "{files}");
    assert_eq!(files[0]["name"], "brief.pdf");
    let (status, kind, got) = download(&d, 1, files[0]["id"].as_i64().unwrap()).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert!(got == brief, "the PDF came back changed");

    // A picture sent alone, then attached by a reply to it.
    let photo = bytes(20_000, 99);
    let mut picture = gateway_message("", false, json!([]));
    picture["attachments"] = json!([d.fake.add_attachment("site.png", "image/png", photo.clone())]);
    let before = d.fake.messages().len();
    d.fake.dispatch("MESSAGE_CREATE", picture.clone());
    let sent = d.fake.wait_for(WAIT, |m| m.len() > before).await;
    assert!(
        sent[before].content.contains("reply to it with /attach ID"),
        "{}",
        sent[before].content
    );
    let mut reply_to = gateway_message("/attach 1", false, json!([]));
    reply_to["message_reference"] = json!({"message_id": picture["id"], "channel_id": DM});
    let before = d.fake.messages().len();
    d.fake.dispatch("MESSAGE_CREATE", reply_to);
    let sent = d.fake.wait_for(WAIT, |m| m.len() > before).await;
    assert!(
        sent[before].content.contains("Attached site.png"),
        "{}",
        sent[before].content
    );

    // The slash command, with the file as its attachment option.
    let notes = bytes(3_000, 5);
    let file = d.fake.add_attachment("notes.txt", "text/plain", notes.clone());
    let mut command = slash(
        ANNA,
        "attach",
        json!([integer("id", 1), {"type": 11, "name": "file", "value": file["id"]}]),
    );
    command["data"]["resolved"] = json!({"attachments": {file["id"].as_str().unwrap(): file}});
    d.interact(&command).await;
    let answer = d.answer_to(&command).await;
    assert!(
        answer.content.contains("Attached notes.txt (3 KB) to #1"),
        "{}",
        answer.content
    );

    // Declared too large: refused before any download; a program is not kept.
    let cdn_calls = || {
        d.fake
            .calls()
            .iter()
            .filter(|c| c.path.starts_with("/attachments/"))
            .count()
    };
    let fetched = cdn_calls();
    let mut big = d.fake.add_attachment("video.mp4", "video/mp4", bytes(10, 1));
    big["size"] = json!(3 * MAX);
    let reply = say(&d, "/attach 1", vec![big]).await;
    assert!(
        reply.contains("video.mp4 is too large (293 KB): I keep files up to 98 KB"),
        "{reply}"
    );
    assert!(reply.contains("Nothing was stored"), "{reply}");
    let program = d
        .fake
        .add_attachment("setup.exe", "application/x-msdownload", bytes(1000, 3));
    let reply = say(&d, "/attach 1", vec![program]).await;
    assert!(
        reply.contains("a kind of file I don't keep (application/x-msdownload)"),
        "{reply}"
    );
    assert_eq!(cdn_calls(), fetched, "a refused file was downloaded");
    let files = d.app.get("/api/tasks/1/files").await.body;
    assert_eq!(files.as_array().map(Vec::len), Some(3), "{files}");

    // Sent back on request, as files of the answer.
    let reply = say(&d, "/task 1 files", Vec::new()).await;
    assert!(reply.contains("Files (3):"), "{reply}");
    let uploads = d.fake.uploads();
    let sent_back = |name: &str| {
        uploads
            .iter()
            .find(|u| u.filename == name)
            .map(|u| (u.content_type.clone(), u.bytes.clone()))
    };
    assert_eq!(sent_back("brief.pdf"), Some(("application/pdf".into(), brief)));
    assert_eq!(sent_back("site.png"), Some(("image/png".into(), photo)));
    assert_eq!(sent_back("notes.txt"), Some(("text/plain".into(), notes)));
    assert!(uploads
        .iter()
        .all(|u| u.path == format!("/channels/{DM}/messages")));
}
