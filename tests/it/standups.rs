//! Stand-ups end to end through the fake Telegram Bot API, with the clock passed to
//! `run_once(now)`: `/standup here` in a project's chat, the question asked privately once per
//! person (two schedulers at once), answers collected, one digest naming who was silent, a
//! blocker that becomes a task only after its author says yes, bad input, and the REST API.
//! Recurring chat prompts are in `prompts`.

mod prompts;

use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::fake_telegram::{callback_update_on, FakeTelegram, Sent};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::{at, scheduler, WAIT};
use crate::team_commands::{person, Chat, SECRET};
use coordinator::scheduler::Policies;

pub(crate) const GROUP: i64 = -100_4242;
const ANNA: i64 = 9101;
const BEN: i64 = 9102;
const CLEO: i64 = 9103;
const DAN: i64 = 9104;
const GUS: i64 = 9105;

both_dbs!(
    three_answer_the_silent_fourth_is_named_in_one_digest,
    a_blocker_becomes_a_task_only_after_its_author_says_yes,
    bad_standups_get_a_clear_reply_and_the_api_checks_its_input,
    the_agent_reads_an_answer_without_labels,
);

/// Anna (admin), Ben, Cleo and Dan (members) and Gus (a guest), all in Berlin; the group is
/// the chat of project #1, Launch.
pub(crate) async fn start(db: Db) -> (TestApp, FakeTelegram) {
    start_with(db, None).await
}

async fn start_with(db: Db, ai: Option<&FakeOpenAi>) -> (TestApp, FakeTelegram) {
    let fake = FakeTelegram::start().await;
    let mut builder = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("COORDINATOR_SCHEDULER_TICK", "1h");
    if let Some(ai) = ai {
        builder = builder.with_openai(ai);
    }
    let app = builder.spawn().await;
    for (handle, role, id) in [
        ("anna", "admin", ANNA),
        ("ben", "member", BEN),
        ("cleo", "member", CLEO),
        ("dan", "member", DAN),
        ("gus", "guest", GUS),
    ] {
        person(&app, handle, role, id).await;
    }
    (app, fake)
}

fn to(sent: &[Sent], chat: i64) -> Vec<Sent> {
    sent.iter().filter(|s| s.chat_id == chat).cloned().collect()
}

fn buttons(sent: &Sent) -> Vec<String> {
    sent.reply_markup.as_ref().map_or(Vec::new(), |m| {
        m["inline_keyboard"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .map(|b| b["callback_data"].as_str().unwrap_or_default().to_owned())
            .collect()
    })
}

/// Sets the stand-up (Mon–Fri 09:30 Berlin, digest 11:30) and asks on Monday 14 Jan 2030 with
/// two schedulers at once; waits for the four questions.
async fn asked(app: &TestApp, fake: &FakeTelegram, chat: &mut Chat<'_>) {
    chat.say_in(GROUP, ANNA, "/project here Launch").await;
    let set = chat.say_in(GROUP, BEN, "/standup here mon-fri 09:30").await;
    assert!(
        set.starts_with("Stand-up for Launch: Mon–Fri at 09:30 (Europe/Berlin)."),
        "{set}"
    );
    assert!(set.contains("post the digest here at 11:30"), "{set}");
    let (a, b) = (
        scheduler(app, Policies::default()),
        scheduler(app, Policies::default()),
    );
    // The first sweep finds the stand-up set long ago (the real clock) and moves on to Monday.
    let early = a.run_once(at("2030-01-14T08:00:00Z")).await.unwrap();
    assert_eq!(early.standup_questions, 0);
    let before = fake.sent().len();
    let now = at("2030-01-14T08:30:00Z");
    let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
    assert_eq!(ra.unwrap().standup_questions + rb.unwrap().standup_questions, 4);
    assert_eq!(
        a.run_once(at("2030-01-14T08:31:00Z"))
            .await
            .unwrap()
            .standup_questions,
        0
    );
    let sent = fake.wait_for_sent(before + 4, WAIT).await;
    for id in [ANNA, BEN, CLEO, DAN] {
        let asks = to(&sent, id);
        assert_eq!(asks.len(), 1, "{id}: {asks:?}");
        assert!(
            asks[0].text.starts_with(
                "Stand-up for Launch: what did you do, what's next, and what blocks you? \
             Answer here before Mon 14 Jan 11:30 Europe/Berlin"
            ),
            "{}",
            asks[0].text
        );
    }
    assert!(to(&sent, GUS).is_empty(), "guests are not asked");
}

async fn three_answer_the_silent_fourth_is_named_in_one_digest(db: Db) {
    let (app, fake) = start(db).await;
    let mut chat = Chat::new(&app, &fake);
    asked(&app, &fake, &mut chat).await;

    let thanks = chat
        .say(BEN, "Done: the flyers\nNext: print them\nBlockers: none")
        .await;
    assert!(
        thanks.starts_with("Thanks, noted for the stand-up of Launch: the digest goes to the team at 11:30"),
        "{thanks}"
    );
    assert!(!thanks.contains("Shall I"), "{thanks}");
    chat.say(CLEO, "Yesterday: the venue\nToday: catering").await;
    chat.say(ANNA, "Reviewed the budget, the launch plan is next")
        .await;

    let (a, b) = (
        scheduler(&app, Policies::default()),
        scheduler(&app, Policies::default()),
    );
    assert_eq!(
        a.run_once(at("2030-01-14T10:29:00Z"))
            .await
            .unwrap()
            .standup_digests,
        0
    );
    let before = fake.sent().len();
    let now = at("2030-01-14T10:30:00Z");
    let (ra, rb) = tokio::join!(a.run_once(now), b.run_once(now));
    assert_eq!(ra.unwrap().standup_digests + rb.unwrap().standup_digests, 1);
    assert_eq!(
        a.run_once(at("2030-01-14T10:31:00Z"))
            .await
            .unwrap()
            .standup_digests,
        0
    );
    let sent = fake.wait_for_sent(before + 1, WAIT).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let digests: Vec<Sent> = to(&fake.sent(), GROUP)
        .into_iter()
        .filter(|s| s.text.starts_with("Stand-up digest"))
        .collect();
    assert_eq!(digests.len(), 1, "{sent:?}");
    let digest = &digests[0].text;
    assert!(
        digest.starts_with("Stand-up digest for Launch, Mon 14 Jan: 3 of 4 answered."),
        "{digest}"
    );
    assert!(
        digest.contains("@anna: Reviewed the budget, the launch plan is next"),
        "{digest}"
    );
    assert!(
        digest.contains("@ben\nDone: the flyers\nNext: print them"),
        "{digest}"
    );
    assert!(
        digest.contains("@cleo\nDone: the venue\nNext: catering"),
        "{digest}"
    );
    assert!(digest.ends_with("No answer from: @dan."), "{digest}");

    // After the digest, Dan's message is no answer any more.
    let late = chat.say(DAN, "Done: the posters").await;
    assert!(!late.starts_with("Thanks, noted"), "{late}");

    let runs = app.get("/api/projects/1/standup/runs").await;
    assert_eq!(runs.status, 200, "{}", runs.body);
    let run = &runs.body[0];
    assert_eq!(run["day"], "2030-01-14");
    assert_eq!(run["digest_at"], "2030-01-14T10:30:00Z");
    let answers = run["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 4);
    let silent: Vec<&str> = answers
        .iter()
        .filter(|a| a["answered_at"].is_null())
        .map(|a| a["person"].as_str().unwrap())
        .collect();
    assert_eq!(silent, ["dan"]);
    let ben = answers.iter().find(|a| a["person"] == "ben").unwrap();
    assert_eq!(
        ben["answer"],
        "Done: the flyers\nNext: print them\nBlockers: none"
    );
    assert_eq!(ben["done"], "the flyers");
    assert_eq!(ben["blockers"], serde_json::Value::Null);
}

async fn a_blocker_becomes_a_task_only_after_its_author_says_yes(db: Db) {
    let (app, fake) = start(db).await;
    let mut chat = Chat::new(&app, &fake);
    let flyers = app
        .post(
            "/api/tasks",
            json!({"title": "Print flyers", "assigned_to": "ben"}),
        )
        .await;
    assert_eq!(flyers.body["id"], 1);
    asked(&app, &fake, &mut chat).await;

    let offer = chat
        .say(
            BEN,
            "Done: layout\nNext: proofs\nBlockers: the printer is out of toner",
        )
        .await;
    assert!(
        offer.ends_with("Blocker: the printer is out of toner\nShall I make it a task?"),
        "{offer}"
    );
    let offer_sent = fake.sent().last().unwrap().clone();
    let ben_answer = buttons(&offer_sent)[0].trim_start_matches("btake:").to_owned();
    assert_eq!(
        buttons(&offer_sent),
        [format!("btake:{ben_answer}"), format!("bskip:{ben_answer}")]
    );
    let offer = chat.say(CLEO, "Blockers: #1 waits for paper").await;
    assert!(offer.ends_with("Shall I add it as a comment on #1?"), "{offer}");
    let cleo_sent = fake.sent().last().unwrap().clone();
    let cleo_answer = buttons(&cleo_sent)[1].trim_start_matches("bskip:").to_owned();
    // Nothing yet: only the blocker's author decides.
    assert_eq!(app.get("/api/tasks").await.body.as_array().unwrap().len(), 1);

    let press = |n: i64, from: i64, sent: &Sent, data: String| callback_update_on(n, from, sent, &data);
    let presses = [
        (
            press(901, DAN, &offer_sent, format!("btake:{ben_answer}")),
            "does not exist",
        ),
        (
            press(902, BEN, &offer_sent, format!("btake:{ben_answer}")),
            "Made task #2 from your blocker.",
        ),
        (
            press(903, BEN, &offer_sent, format!("btake:{ben_answer}")),
            "Already done: see #2.",
        ),
        (
            press(904, CLEO, &cleo_sent, format!("bskip:{cleo_answer}")),
            "the blocker stays in the digest only",
        ),
    ];
    for (update, expected) in presses {
        let before = fake.sent().len();
        app.deliver_telegram_ok(&update).await;
        let sent = fake.wait_for_sent(before + 1, WAIT).await;
        assert!(
            sent[before].text.contains(expected),
            "{expected}: {}",
            sent[before].text
        );
    }
    let task = app.get("/api/tasks/2").await.body;
    assert_eq!(task["title"], "Blocker: the printer is out of toner");
    assert_eq!(task["project_id"], 1);
    assert_eq!(app.get("/api/tasks").await.body.as_array().unwrap().len(), 2);
    let comments = app.get("/api/comments?task_id=1").await.body;
    assert_eq!(comments, json!([]), "Cleo said no");

    let s = scheduler(&app, Policies::default());
    let before = fake.sent().len();
    assert_eq!(
        s.run_once(at("2030-01-14T10:30:00Z"))
            .await
            .unwrap()
            .standup_digests,
        1
    );
    let digest = fake
        .wait_for_sent(before + 1, WAIT)
        .await
        .last()
        .unwrap()
        .text
        .clone();
    assert!(
        digest.contains("@ben\nDone: layout\nNext: proofs\nBlockers: the printer is out of toner (→ #2)"),
        "{digest}"
    );
    assert!(digest.contains("No answer from: @anna, @dan."), "{digest}");
}

async fn bad_standups_get_a_clear_reply_and_the_api_checks_its_input(db: Db) {
    let (app, fake) = start(db).await;
    let mut chat = Chat::new(&app, &fake);
    let example = "e.g. /standup here mon-fri 09:30 (digest 11:30)";
    let elsewhere = chat.say(BEN, "/standup here mon-fri 09:30").await;
    assert!(
        elsewhere.contains("this chat is no project's chat"),
        "{elsewhere}"
    );
    assert!(elsewhere.contains(example), "{elsewhere}");
    chat.say_in(GROUP, ANNA, "/project here Launch").await;
    for (text, problem) in [
        ("/standup here funday 09:30", "'funday' is not a day"),
        ("/standup here mon-fri 25:00", "'25:00' is not a time of day"),
        ("/standup here mon-fri", "At what time?"),
        ("/standup here mon-fri 09:30 digest 08:00", "after the question"),
        ("/standup sometimes", "'sometimes' is not here or off"),
        ("/standup", "Launch has no stand-up yet"),
    ] {
        let reply = chat.say_in(GROUP, BEN, text).await;
        assert!(reply.contains(problem), "{text}: {reply}");
        assert!(reply.contains(example), "{text}: {reply}");
    }
    let guest = chat.say_in(GROUP, GUS, "/standup here mon-fri 09:30").await;
    assert_eq!(guest, "Not allowed: gus (guest) may not set stand-ups.");
    assert_eq!(app.get("/api/projects/1/standup").await.status, 404);

    // The API: 422 naming the field; then set, shown, stopped.
    let put = |body| app.call(reqwest::Method::PUT, "/api/projects/1/standup", Some(body));
    let bad = put(json!({"days": "someday", "time": "09:30"})).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("days: "),
        "{}",
        bad.body
    );
    let bad = put(json!({"days": "mon", "time": "9:75"})).await;
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("time: "),
        "{}",
        bad.body
    );
    let bad = put(json!({"days": "mon", "time": "09:00", "timezone": "Mars/Base"})).await;
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("timezone: "),
        "{}",
        bad.body
    );
    let chatless = app.post("/api/projects", json!({"name": "Quiet"})).await.body["id"].clone();
    let none = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/projects/{chatless}/standup"),
            Some(json!({"days": "mon", "time": "09:00"})),
        )
        .await;
    assert_eq!(none.status, 422, "{}", none.body);
    let set = put(
        json!({"days": "mon,wed,fri", "time": "09:15", "digest": "10:00", "timezone": "America/New_York"}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["days"], "MO,WE,FR");
    assert_eq!(set.body["digest_minutes"], 45);
    assert_eq!(set.body["timezone"], "America/New_York");
    let shown = chat.say_in(GROUP, BEN, "/standup").await;
    assert!(
        shown.starts_with("Stand-up for Launch: Mon, Wed, Fri at 09:15 (America/New_York)"),
        "{shown}"
    );
    assert!(shown.contains("digest here at 10:00"), "{shown}");
    let off = chat.say_in(GROUP, BEN, "/standup off").await;
    assert_eq!(off, "The stand-up of Launch is stopped.");
    assert_eq!(app.get("/api/projects/1/standup").await.status, 404);
    let again = app
        .call(reqwest::Method::DELETE, "/api/projects/1/standup", None)
        .await;
    assert_eq!(again.status, 404);
    let openapi = app.get("/openapi.json").await.body;
    assert!(openapi["paths"]["/api/projects/{id}/standup"]["put"].is_object());
    assert!(openapi["paths"]["/api/projects/{id}/standup/runs"]["get"].is_object());
}

async fn the_agent_reads_an_answer_without_labels(db: Db) {
    let ai = FakeOpenAi::start().await;
    let (app, fake) = start_with(db, Some(&ai)).await;
    let mut chat = Chat::new(&app, &fake);
    asked(&app, &fake, &mut chat).await;
    ai.script(vec![Scripted::Text(
        r#"{"done": "the budget review", "next": "the launch plan", "blockers": "legal has not signed"}"#
            .into(),
    )]);
    let text = "Went through the budget, the launch plan is next, but legal has not signed yet";
    let offer = chat.say(ANNA, text).await;
    assert!(
        offer.ends_with("Blocker: legal has not signed\nShall I make it a task?"),
        "{offer}"
    );
    // The answer reached the model as the user's message, under the reading instructions.
    let request = ai.requests().last().cloned().unwrap();
    assert_eq!(request["messages"][1]["content"], text, "{request}");
    let runs = app.get("/api/projects/1/standup/runs").await.body;
    let anna = runs[0]["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["person"] == "anna")
        .cloned()
        .unwrap();
    assert_eq!(anna["answer"], text);
    assert_eq!(anna["done"], "the budget review");
    assert_eq!(anna["next"], "the launch plan");
    assert_eq!(anna["blocker_state"], "offered");
}
