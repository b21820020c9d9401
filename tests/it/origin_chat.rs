//! The chat a task came from hears first: its reminders and the first escalation step reach
//! the assignee and that chat (else the project's chat), never twice in one chat, unless the
//! project turned that off; a group chat is not held by the assignee's quiet hours. Through
//! the fake Telegram Bot API, with the scheduler driven by `run_once(now)`.

use coordinator::scheduler::{Policies, Scheduler};
use coordinator::store::Queue;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_telegram::{group_text_update, text_update, FakeTelegram, Sent};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::{at, scheduler, start, task, wait_until, ANNA, MARTA};

/// The team's group chat.
const GROUP: i64 = -700;

both_dbs!(
    a_group_task_is_reminded_and_escalated_in_the_group_and_privately,
    one_chat_hears_once_when_it_is_the_assignees_or_the_projects,
    a_project_can_keep_its_chat_out,
    the_group_is_not_held_by_the_assignees_quiet_hours,
);

/// Sends `text` as `from` in `chat` and waits until the bot has answered it.
async fn say(app: &TestApp, fake: &FakeTelegram, update_id: i64, chat: i64, from: i64, text: &str) -> Sent {
    let before = fake.sent().len();
    let update = if chat < 0 {
        group_text_update(update_id, chat, from, text)
    } else {
        text_update(update_id, chat, from, text)
    };
    app.deliver_telegram_ok(&update).await;
    // The answer in this chat (a new assignee's notice may go to their own chat first).
    let until = tokio::time::Instant::now() + crate::scheduler::WAIT;
    loop {
        if let Some(answer) = fake.sent().into_iter().skip(before).find(|m| m.chat_id == chat) {
            return answer;
        }
        assert!(tokio::time::Instant::now() < until, "no answer to {text}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `/newtask` in a chat; the new task's id.
async fn new_task(
    app: &TestApp,
    fake: &FakeTelegram,
    update_id: i64,
    chat: i64,
    from: i64,
    args: &str,
) -> i64 {
    let reply = say(app, fake, update_id, chat, from, &format!("/newtask {args}")).await;
    assert!(reply.text.starts_with("Created #"), "{}", reply.text);
    reply.text["Created #".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the outbox has sent everything queued, then returns what went out whose text
/// starts with `prefix`, as (chat, text).
async fn delivered(app: &TestApp, fake: &FakeTelegram, prefix: &str) -> Vec<(i64, String)> {
    wait_until(|| async {
        let counts = app.store.queue_counts(Queue::Outbox).await.unwrap();
        counts.pending + counts.processing == 0
    })
    .await;
    fake.sent()
        .into_iter()
        .filter(|m| m.text.starts_with(prefix))
        .map(|m| (m.chat_id, m.text))
        .collect()
}

fn chats(messages: &[(i64, String)]) -> Vec<i64> {
    let mut chats: Vec<i64> = messages.iter().map(|(chat, _)| *chat).collect();
    chats.sort_unstable();
    chats
}

async fn setup(db: Db) -> (TestApp, FakeTelegram, Scheduler) {
    let (app, fake) = start(db).await;
    let s = scheduler(&app, Policies::default());
    (app, fake, s)
}

async fn a_group_task_is_reminded_and_escalated_in_the_group_and_privately(db: Db) {
    let (app, fake, s) = setup(db).await;
    // Marta creates it in the team's group, for Anna: due Tue 15 Jan 2030 10:00 Berlin.
    let id = new_task(
        &app,
        &fake,
        1,
        GROUP,
        MARTA,
        "Ship invoice @anna due 2030-01-15 10:00",
    )
    .await;

    // 24 h before, 10:00 Berlin: the reminder, to Anna and to the group; a second sweep at the
    // same moment sends nothing more.
    for _ in 0..2 {
        s.run_once(at("2030-01-14T09:00:00Z")).await.unwrap();
    }
    let reminders = delivered(&app, &fake, "Reminder").await;
    assert_eq!(chats(&reminders), [GROUP, ANNA], "{reminders:?}");
    let group = &reminders.iter().find(|(c, _)| *c == GROUP).unwrap().1;
    assert!(
        group.contains(&format!("#{id} Ship invoice (for @anna) is due in 24 hours")),
        "{group}"
    );
    assert!(group.contains("Tue 15 Jan 10:00 Europe/Berlin"), "{group}");

    // Overdue the next morning: step 1 reaches Anna and the group, once each.
    let first = s.run_once(at("2030-01-15T10:00:00Z")).await.unwrap();
    assert_eq!((first.escalations_opened, first.escalation_steps), (1, 1));
    let again = s.run_once(at("2030-01-15T10:05:00Z")).await.unwrap();
    assert_eq!(again.escalation_steps, 0);
    let steps = delivered(&app, &fake, "Escalation (step 1)").await;
    assert_eq!(chats(&steps), [GROUP, ANNA], "{steps:?}");
    let group = &steps.iter().find(|(c, _)| *c == GROUP).unwrap().1;
    assert!(
        group.contains("(assigned to @anna) is overdue") && group.contains("@anna has been asked"),
        "{group}"
    );
    let in_group = fake
        .sent()
        .into_iter()
        .find(|m| m.chat_id == GROUP && m.text.starts_with("Escalation"))
        .unwrap();
    let buttons = &in_group.reply_markup.unwrap()["inline_keyboard"][0];
    assert_eq!(buttons[0]["callback_data"], format!("ack:{id}"));
}

async fn one_chat_hears_once_when_it_is_the_assignees_or_the_projects(db: Db) {
    let (app, fake, s) = setup(db).await;
    // Anna notes a task for herself in her private chat: that chat is hers, told once.
    let own = new_task(
        &app,
        &fake,
        1,
        ANNA,
        ANNA,
        "Call the bank @anna due 2030-01-15 10:00",
    )
    .await;
    // A group task of a project whose chat is that same group: the group is told once.
    let project = app.post("/api/projects", json!({"name": "Launch"})).await.body["id"]
        .as_i64()
        .unwrap();
    let chat = app
        .call(
            Method::PUT,
            &format!("/api/projects/{project}/chat"),
            Some(json!({"channel": "telegram", "chat_id": GROUP.to_string()})),
        )
        .await;
    assert_eq!(chat.status, 200, "{}", chat.body);
    let venue = new_task(
        &app,
        &fake,
        2,
        GROUP,
        MARTA,
        "Book venue @anna due 2030-01-15 10:00",
    )
    .await;
    let moved = app
        .call(
            Method::PUT,
            &format!("/api/tasks/{venue}"),
            Some(json!({"project_id": project})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);

    assert_eq!(
        s.run_once(at("2030-01-14T09:00:00Z"))
            .await
            .unwrap()
            .reminders_sent,
        2
    );
    let reminders = delivered(&app, &fake, "Reminder").await;
    assert_eq!(chats(&reminders), [GROUP, ANNA, ANNA], "{reminders:?}");
    let to_anna: Vec<&String> = reminders
        .iter()
        .filter(|(c, _)| *c == ANNA)
        .map(|(_, t)| t)
        .collect();
    assert!(to_anna
        .iter()
        .any(|t| t.contains(&format!("#{own} Call the bank"))));
    assert!(to_anna
        .iter()
        .any(|t| t.contains(&format!("#{venue} Book venue"))));

    // Step 1 likewise: Anna twice (one per task), the group once.
    s.run_once(at("2030-01-15T10:00:00Z")).await.unwrap();
    let steps = delivered(&app, &fake, "Escalation (step 1)").await;
    assert_eq!(chats(&steps), [GROUP, ANNA, ANNA], "{steps:?}");
}

async fn a_project_can_keep_its_chat_out(db: Db) {
    let (app, fake, s) = setup(db).await;
    let created = app
        .post("/api/projects", json!({"name": "Quiet", "description": "d"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["notify_chat"], true);
    let project = created.body["id"].as_i64().unwrap();
    app.store
        .set_project_chat(project, Some("telegram"), Some(&GROUP.to_string()), None)
        .await
        .unwrap();
    let path = format!("/api/projects/{project}");
    let off = app
        .call(Method::PUT, &path, Some(json!({"notify_chat": false})))
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(
        (
            &off.body["notify_chat"],
            &off.body["name"],
            &off.body["description"]
        ),
        (&json!(false), &json!("Quiet"), &json!("d"))
    );
    let bad = app
        .call(Method::PUT, &path, Some(json!({"notify_chat": "sometimes"})))
        .await;
    assert!((400..500).contains(&bad.status), "{}", bad.body);
    assert_eq!(app.get(&path).await.body["notify_chat"], false);

    let first = task(
        &app,
        json!({"title": "Silent", "assigned_to": "anna", "project_id": project,
               "due_date": "2030-01-15T09:00:00Z"}),
    )
    .await;
    s.run_once(at("2030-01-14T09:00:00Z")).await.unwrap();
    s.run_once(at("2030-01-15T10:00:00Z")).await.unwrap();
    let reminders = delivered(&app, &fake, "Reminder").await;
    let steps = delivered(&app, &fake, "Escalation").await;
    assert_eq!(chats(&reminders), [ANNA], "{reminders:?}");
    assert_eq!(chats(&steps), [ANNA], "{steps:?}");
    assert!(steps[0].1.contains(&format!("#{first} Silent")));

    // Turned on again, the project's chat hears of the next task.
    let on = app
        .call(Method::PUT, &path, Some(json!({"notify_chat": true})))
        .await;
    assert_eq!(on.body["notify_chat"], true, "{}", on.body);
    task(
        &app,
        json!({"title": "Loud", "assigned_to": "anna", "project_id": project,
               "due_date": "2030-01-25T09:00:00Z"}),
    )
    .await;
    s.run_once(at("2030-01-24T09:00:00Z")).await.unwrap();
    let loud: Vec<(i64, String)> = delivered(&app, &fake, "Reminder")
        .await
        .into_iter()
        .filter(|(_, t)| t.contains("Loud"))
        .collect();
    assert_eq!(chats(&loud), [GROUP, ANNA], "{loud:?}");
}

async fn the_group_is_not_held_by_the_assignees_quiet_hours(db: Db) {
    let (app, fake, s) = setup(db).await;
    // Due Sun 20 Jan 2030 07:00 Berlin: the 24 h reminder falls at 07:00 on the 19th, inside
    // Anna's quiet hours (20:00–08:00).
    new_task(
        &app,
        &fake,
        1,
        GROUP,
        MARTA,
        "Early task @anna due 2030-01-20 07:00",
    )
    .await;
    let held = s.run_once(at("2030-01-19T06:00:00Z")).await.unwrap();
    assert_eq!((held.reminders_sent, held.held), (0, 1));
    s.run_once(at("2030-01-19T06:30:00Z")).await.unwrap();
    let early = delivered(&app, &fake, "Reminder").await;
    assert_eq!(
        chats(&early),
        [GROUP],
        "the group hears now, Anna later: {early:?}"
    );
    // 08:00 Berlin: Anna's turn; the group is not told again.
    let now_sent = s.run_once(at("2030-01-19T07:00:00Z")).await.unwrap();
    assert_eq!((now_sent.reminders_sent, now_sent.held), (1, 0));
    let all: Vec<Value> = delivered(&app, &fake, "Reminder")
        .await
        .into_iter()
        .map(|(chat, _)| json!(chat))
        .collect();
    assert_eq!(all, [json!(GROUP), json!(ANNA)]);
}
