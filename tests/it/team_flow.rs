//! Issue 19's whole flow through the fake Telegram Bot API, as a new team lead lives it: the
//! first start prints a claim code, claiming it from a private chat makes the first admin, who
//! invites @anna; Anna's own Telegram account links with `/start CODE`; `/project here Launch`
//! makes the team's group the project's chat; a task made there for @anna belongs to Launch;
//! its reminder and first escalation reach the group and Anna's private chat; the weekly
//! report lands in the group. The scheduler is driven by `run_once(now)`, as in `origin_chat`.
//! The same flow's Discord part, over the gateway, is in `team_flow::discord`.

mod discord;

use std::time::Duration;

use coordinator::scheduler::{Policies, Scheduler, SchedulerConfig};
use coordinator::store::Queue;
use serde_json::Value;

use crate::fake_telegram::{group_text_update, text_update, FakeTelegram, BOT_USERNAME};
use crate::helpers::{both_dbs, Db, TestApp};
use crate::scheduler::{at, wait_until};

const SECRET: &str = "flow-Secret_1";
/// The team lead's Telegram account (and private chat).
const LEAD: i64 = 5101;
/// Anna's own Telegram account (and private chat).
const ANNA: i64 = 5202;
/// Someone who was not invited.
const STRANGER: i64 = 5303;
/// The team's Telegram group.
const GROUP: i64 = -100_900;
const WAIT: Duration = Duration::from_secs(15);

both_dbs!(from_first_start_to_the_weekly_report_in_the_group);

/// The chat side of the test: each message gets a fresh update id; the bot's one reply.
struct Telegram<'a> {
    app: &'a TestApp,
    fake: &'a FakeTelegram,
    next_update: i64,
}

impl Telegram<'_> {
    /// `text` from `from` in `chat` (a private chat when `chat == from`); the bot's reply there.
    async fn say_in(&mut self, chat: i64, from: i64, text: &str) -> String {
        let before = self.fake.sent().len();
        self.next_update += 1;
        let update = if chat < 0 {
            group_text_update(self.next_update, chat, from, text)
        } else {
            text_update(self.next_update, chat, from, text)
        };
        self.app.deliver_telegram_ok(&update).await;
        // The reply in this chat (a new assignee's notice may go to their own chat first).
        let until = tokio::time::Instant::now() + WAIT;
        loop {
            let sent = self.fake.sent();
            if let Some(reply) = sent.iter().skip(before).find(|m| m.chat_id == chat) {
                return reply.text.clone();
            }
            assert!(
                tokio::time::Instant::now() < until,
                "no reply to {text:?} here: {:?}",
                &sent[before..]
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn say(&mut self, from: i64, text: &str) -> String {
        self.say_in(from, from, text).await
    }
}

/// The code after `start=` in a Telegram start link.
fn start_code(text: &str) -> String {
    let at = text
        .find("?start=")
        .unwrap_or_else(|| panic!("no start link in {text:?}"))
        + "?start=".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

/// The scheduler over the app's workspace, in Berlin time, with reports at `report_hour`
/// (24: never).
fn scheduler(app: &TestApp, report_hour: u32) -> Scheduler {
    let mut config = SchedulerConfig::with_zone("Europe/Berlin".parse().unwrap());
    config.report_hour = report_hour;
    Scheduler::with_config(
        app.workspace.clone(),
        app.store.clone(),
        config,
        Policies::default(),
    )
}

/// Once the outbox has sent everything queued: the texts sent whose text starts with
/// `prefix`, as (chat, text), sorted by chat.
async fn delivered(app: &TestApp, fake: &FakeTelegram, prefix: &str) -> Vec<(i64, String)> {
    wait_until(|| async {
        let counts = app.store.queue_counts(Queue::Outbox).await.unwrap();
        counts.pending + counts.processing == 0
    })
    .await;
    let mut found: Vec<(i64, String)> = fake
        .sent()
        .into_iter()
        .filter(|m| m.text.starts_with(prefix))
        .map(|m| (m.chat_id, m.text))
        .collect();
    found.sort();
    found
}

fn chats(messages: &[(i64, String)]) -> Vec<i64> {
    messages.iter().map(|(chat, _)| *chat).collect()
}

async fn from_first_start_to_the_weekly_report_in_the_group(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        // The app's own scheduler stays out of the way: the test calls run_once.
        .with("COORDINATOR_SCHEDULER_TICK", "1h")
        .spawn()
        .await;
    let mut tg = Telegram {
        app: &app,
        fake: &fake,
        next_update: 0,
    };

    // First start: the operator is shown the claim code and the bot's start link.
    let code = app.claim_code().await;
    let printed = app.printed().await;
    assert!(
        printed.contains(&format!("https://t.me/{BOT_USERNAME}?start={code}")),
        "{printed}"
    );
    assert_eq!(app.get("/api/people").await.headers["x-total-count"], "0");

    // The lead claims the bot from a private chat and sets their zone.
    let claimed = tg.say(LEAD, &format!("/claim {code}")).await;
    assert!(
        claimed.contains(&format!("You are the admin now, @user{LEAD}")),
        "{claimed}"
    );
    let lead = app.get(&format!("/api/people/user{LEAD}")).await.body;
    assert_eq!(lead["role"], "admin", "{lead}");
    assert_eq!(lead["identities"][0]["external_id"], LEAD.to_string());
    let tz = tg.say(LEAD, "/tz Europe/Berlin").await;
    assert!(tz.starts_with("Your time zone is Europe/Berlin now"), "{tz}");

    // The lead invites Anna; Anna's own account follows the link (`/start CODE`).
    let invited = tg.say(LEAD, "/invite @anna member").await;
    assert!(invited.starts_with("Invited @anna as member."), "{invited}");
    let anna_code = start_code(&invited);
    let linked = tg.say(ANNA, &format!("/start {anna_code}")).await;
    assert!(linked.contains("you are @anna here now"), "{linked}");
    let anna = app.get("/api/people/anna").await.body;
    assert_eq!(anna["role"], "member", "{anna}");
    assert_eq!(anna["identities"][0]["channel"], "telegram");
    assert_eq!(anna["identities"][0]["external_id"], ANNA.to_string());
    let tz = tg.say(ANNA, "/tz Europe/Berlin").await;
    assert!(tz.starts_with("Your time zone is Europe/Berlin now"), "{tz}");
    let me = tg.say(ANNA, "/me").await;
    assert!(me.starts_with("@anna ("), "{me}");
    assert!(me.contains("member\nChats: telegram 5202"), "{me}");
    // The code was used: someone else's start with it is refused.
    let reused = tg.say(STRANGER, &format!("/start {anna_code}")).await;
    assert!(reused.contains("unknown, already used or expired"), "{reused}");

    // The team's group becomes the chat of the new project Launch.
    let here = tg.say_in(GROUP, LEAD, "/project here Launch").await;
    assert!(
        here.starts_with("This chat is now the chat of Launch (project #1, new)"),
        "{here}"
    );
    let projects = tg.say_in(GROUP, ANNA, "/projects").await;
    assert_eq!(projects, "Projects (1):\n#1 Launch [active] — this chat");

    // A task made in the group, for Anna: due Tue 15 Jan 2030 10:00 Berlin.
    let created = tg
        .say_in(
            GROUP,
            LEAD,
            "/newtask Print the flyers @anna due 2030-01-15 10:00",
        )
        .await;
    assert!(created.starts_with("Created #1: Print the flyers"), "{created}");
    let task = app.get("/api/tasks/1").await.body;
    assert_eq!(task["project_id"], 1, "{task}");
    assert_eq!(task["assigned_to"], "anna", "{task}");
    assert_eq!(
        task["due_date"].as_str().map(|d| &d[..19]),
        Some("2030-01-15T09:00:00")
    );
    let launch = app.get("/api/projects/1").await.body;
    assert_eq!(launch["name"], "Launch", "{launch}");

    // 24 h before (Mon 14 Jan, 10:00 Berlin): the reminder reaches the group and Anna.
    let s = scheduler(&app, 24);
    s.run_once(at("2030-01-14T09:00:00Z")).await.unwrap();
    let reminders = delivered(&app, &fake, "Reminder").await;
    assert_eq!(chats(&reminders), [GROUP, ANNA], "{reminders:?}");
    for (chat, text) in &reminders {
        assert!(text.contains("#1 Print the flyers"), "{chat}: {text}");
        assert!(text.contains("is due in 24 hours"), "{chat}: {text}");
        assert!(text.contains("Tue 15 Jan 10:00 Europe/Berlin"), "{chat}: {text}");
    }
    assert!(reminders[0].1.contains("(for @anna)"), "{}", reminders[0].1);

    // Overdue the next morning: the first escalation step reaches the group and Anna, once.
    let swept = s.run_once(at("2030-01-15T10:00:00Z")).await.unwrap();
    assert_eq!((swept.escalations_opened, swept.escalation_steps), (1, 1));
    let steps = delivered(&app, &fake, "Escalation (step 1)").await;
    assert_eq!(chats(&steps), [GROUP, ANNA], "{steps:?}");
    assert!(
        steps[0]
            .1
            .contains("#1 Print the flyers (assigned to @anna) is overdue"),
        "{}",
        steps[0].1
    );
    assert!(steps[0].1.contains("@anna has been asked"), "{}", steps[0].1);

    // Monday 21 Jan after the report hour: Launch's weekly report, chart attached, lands in
    // the group.
    let weekly = scheduler(&app, 9)
        .run_once(at("2030-01-21T09:00:00Z"))
        .await
        .unwrap();
    assert!(weekly.reports_sent >= 1, "{weekly:?}");
    wait_until(|| async {
        fake.calls("sendPhoto").iter().any(|c| {
            c["caption"]
                .as_str()
                .is_some_and(|t| t.starts_with("Weekly report"))
        })
    })
    .await;
    let photos: Vec<Value> = fake
        .calls("sendPhoto")
        .into_iter()
        .filter(|c| {
            c["caption"]
                .as_str()
                .is_some_and(|t| t.starts_with("Weekly report"))
        })
        .collect();
    assert_eq!(photos.len(), 1, "{photos:?}");
    assert_eq!(photos[0]["chat_id"], GROUP);
    let report = photos[0]["caption"].as_str().unwrap();
    assert!(report.starts_with("Weekly report, Launch:"), "{report}");
    assert!(report.contains("\nOverdue: 1"), "{report}");
    assert!(report.contains("@anna: done 0, open 1, overdue 1"), "{report}");
    assert!(fake
        .uploads()
        .iter()
        .any(|u| u.method.eq_ignore_ascii_case("sendPhoto") && u.bytes.starts_with(b"\x89PNG")));
}
