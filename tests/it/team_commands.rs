//! The team administered from chat, through the fake Telegram Bot API: claiming the bot with
//! the code printed at start, inviting people, roles and removal, `/me`, `/tz`, `/quiet`, and
//! projects with their own chats (`projects`).

mod projects;

use std::time::Duration;

use chrono::TimeDelta;
use coordinator::domain::{Channel, Identity};
use coordinator::workspace::{Newcomer, WorkspaceError};
use serde_json::{json, Value};

use crate::fake_graph::{self, FakeGraph};
use crate::fake_telegram::{group_text_update, text_update, FakeTelegram, BOT_USERNAME};
use crate::helpers::{both_dbs, Db, TestApp};

pub(crate) const SECRET: &str = "team-Secret_1";
pub(crate) const ANNA: i64 = 4242;
pub(crate) const BEN: i64 = 4343;
const WAIT: Duration = Duration::from_secs(15);

both_dbs!(
    claim_makes_the_first_admin_once,
    claim_codes_expire_and_a_new_start_replaces_them,
    invite_links_the_invitee_with_the_role,
    invite_names_whatsapp_and_email_when_configured,
    roles_and_removal_keep_an_admin,
    me_tz_and_quiet,
);

/// A person with a Telegram identity, made through the API.
pub(crate) async fn person(app: &TestApp, handle: &str, role: &str, telegram_id: i64) {
    let reply = app
        .post(
            "/api/people",
            json!({"handle": handle, "name": handle[..1].to_uppercase() + &handle[1..], "role": role,
                   "timezone": "Europe/Berlin",
                   "identities": [{"channel": "telegram", "external_id": telegram_id.to_string()}]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Sends `texts` in order from `from` in chat `chat` and returns the replies to them.
pub(crate) struct Chat<'a> {
    app: &'a TestApp,
    fake: &'a FakeTelegram,
    next_update: i64,
}

impl<'a> Chat<'a> {
    pub(crate) fn new(app: &'a TestApp, fake: &'a FakeTelegram) -> Self {
        Self {
            app,
            fake,
            next_update: 1,
        }
    }

    /// `text` from `from` in chat `chat` (private when `chat == from`); the bot's one reply.
    pub(crate) async fn say_in(&mut self, chat: i64, from: i64, text: &str) -> String {
        let before = self.fake.sent().len();
        let id = self.next_update;
        self.next_update += 1;
        let update = if chat < 0 {
            group_text_update(id, chat, from, text)
        } else {
            text_update(id, chat, from, text)
        };
        self.app.deliver_telegram_ok(&update).await;
        let sent = self.fake.wait_for_sent(before + 1, WAIT).await;
        assert!(sent.len() > before, "no reply to {text:?}");
        assert_eq!(sent[before].chat_id, chat);
        sent[before].text.clone()
    }

    pub(crate) async fn say(&mut self, from: i64, text: &str) -> String {
        self.say_in(from, from, text).await
    }
}

async fn person_json(app: &TestApp, handle: &str) -> Value {
    let reply = app.get(&format!("/api/people/{handle}")).await;
    assert_eq!(reply.status, 200, "{handle}: {}", reply.body);
    reply.body
}

/// The code after `start=` in an invite's Telegram link.
fn start_code(text: &str) -> String {
    let at = text
        .find("?start=")
        .unwrap_or_else(|| panic!("no start link in {text:?}"))
        + 7;
    text[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

async fn claim_makes_the_first_admin_once(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db).with_telegram(&fake, SECRET).spawn().await;
    let code = app.claim_code().await;
    assert_eq!(code.len(), 12, "{code}");
    let printed = app.printed().await;
    assert!(
        printed.contains(&format!("https://t.me/{BOT_USERNAME}?start={code}")),
        "{printed}"
    );
    let mut chat = Chat::new(&app, &fake);

    let wrong = chat.say(ANNA, "/claim WRONGWRONG12").await;
    assert!(wrong.contains("unknown, already used or expired"), "{wrong}");
    assert_eq!(wrong.lines().count(), 1, "{wrong}");
    let usage = chat.say(ANNA, "/claim").await;
    assert!(usage.contains("Usage: /claim CODE"), "{usage}");
    // The Telegram link sends `/start CODE`.
    let claimed = chat.say(ANNA, &format!("/start {code}")).await;
    assert!(claimed.contains("You are the admin now, @user4242"), "{claimed}");
    let anna = person_json(&app, "user4242").await;
    assert_eq!(anna["role"], "admin");
    assert_eq!(anna["name"], "User 4242");
    assert_eq!(anna["identities"][0]["external_id"], ANNA.to_string());

    // The code works once: someone else cannot use it, in either form.
    let again = chat.say(BEN, &format!("/claim {code}")).await;
    assert!(again.contains("unknown, already used or expired"), "{again}");
    let start = chat.say(BEN, &format!("/start {code}")).await;
    assert!(start.contains("unknown, already used or expired"), "{start}");
    assert_eq!(app.get("/api/people").await.headers["x-total-count"], "1");
    // Plain /start is still the help.
    let help = chat.say(BEN, "/start").await;
    assert!(help.contains("/invite [@handle] [admin|member|guest]"), "{help}");
    assert!(help.contains("/project new NAME | /project here NAME"), "{help}");
    // With an admin, a new start makes no code.
    assert!(app
        .workspace
        .start_claim(coordinator::store::now())
        .await
        .unwrap()
        .is_none());
    let audit = app
        .store
        .audit_trail("person", &anna["id"].to_string())
        .await
        .unwrap();
    assert!(audit.iter().any(|r| r.action == "person.claim"), "{audit:?}");
}

async fn claim_codes_expire_and_a_new_start_replaces_them(db: Db) {
    let app = TestApp::builder(db).spawn().await;
    let printed = app.claim_code().await;
    let now = coordinator::store::now();
    let identity = Identity {
        channel: Channel::Discord,
        external_id: "81234".into(),
    };
    let newcomer = Newcomer {
        username: Some("Marta".into()),
        display_name: "Marta Silva".into(),
    };
    let late = app
        .workspace
        .claim(&identity, &newcomer, &printed, now + TimeDelta::hours(25))
        .await;
    assert!(matches!(late, Err(WorkspaceError::NotFound(_))), "{late:?}");
    // A new start replaces the code.
    let fresh = app.workspace.start_claim(now).await.unwrap().unwrap();
    let old = app.workspace.claim(&identity, &newcomer, &printed, now).await;
    assert!(matches!(old, Err(WorkspaceError::NotFound(_))), "{old:?}");
    let marta = app
        .workspace
        .claim(&identity, &newcomer, &fresh.code.to_lowercase(), now)
        .await
        .unwrap();
    assert_eq!(marta.handle, "marta");
    assert_eq!(marta.name, "Marta Silva");
    assert_eq!(marta.identities, vec![identity]);
}

async fn invite_links_the_invitee_with_the_role(db: Db) {
    const CARO: i64 = 6006;
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db).with_telegram(&fake, SECRET).spawn().await;
    person(&app, "anna", "admin", ANNA).await;
    let mut chat = Chat::new(&app, &fake);

    let invited = chat.say(ANNA, "/invite @bob guest").await;
    assert!(invited.starts_with("Invited @bob as guest."), "{invited}");
    let code = start_code(&invited);
    assert_eq!(code.len(), 8);
    assert!(
        invited.contains(&format!("Telegram: https://t.me/{BOT_USERNAME}?start={code}")),
        "{invited}"
    );
    let people = chat.say(ANNA, "/people").await;
    assert!(people.contains("@anna (Anna) — admin · telegram"), "{people}");
    assert!(people.contains("@bob — guest · no chat linked yet"), "{people}");
    assert!(people.contains("Invites not used yet:\n@bob (until "), "{people}");

    let linked = chat.say(BEN, &format!("/start {code}")).await;
    assert!(linked.contains("you are @bob here now"), "{linked}");
    let bob = person_json(&app, "bob").await;
    assert_eq!(bob["role"], "guest");
    assert_eq!(
        bob["name"], "User 4343",
        "the invitee's own name replaces the handle"
    );
    assert_eq!(bob["identities"][0]["external_id"], BEN.to_string());
    // A guest may not create tasks nor see the team.
    let refused = chat.say(BEN, "/newtask Sneaky").await;
    assert!(refused.starts_with("Not allowed:"), "{refused}");
    let refused = chat.say(BEN, "/people").await;
    assert_eq!(refused, "Not allowed: bob (guest) may not see the team.");
    let reused = chat.say(CARO, &format!("/start {code}")).await;
    assert!(reused.contains("unknown, already used or expired"), "{reused}");

    // Without a handle, the invitee brings their own.
    let invited = chat.say(ANNA, "/invite member").await;
    assert!(invited.starts_with("Invited a new member"), "{invited}");
    let linked = chat.say(CARO, &format!("/link {}", start_code(&invited))).await;
    assert!(linked.contains("you are @user6006 here now"), "{linked}");
    let caro = person_json(&app, "user6006").await;
    assert_eq!(caro["role"], "member");
    assert_eq!(caro["name"], "User 6006");

    // Members see the team but not the invites, and may not invite.
    let people = chat.say(CARO, "/people").await;
    assert!(people.starts_with("The team (3):"), "{people}");
    assert!(!people.contains("Invites not used yet"), "{people}");
    let refused = chat.say(CARO, "/invite @dan").await;
    assert_eq!(refused, "Not allowed: user6006 (member) may not invite people.");
    let usage = chat.say(ANNA, "/invite @dan @eve").await;
    assert!(
        usage.contains("Usage: /invite [@handle] [admin|member|guest] — e.g. /invite @anna member"),
        "{usage}"
    );
    // Inviting someone known makes a new code (and may change their role).
    let again = chat.say(ANNA, "/invite @bob member").await;
    assert!(again.starts_with("New link code for @bob (member)."), "{again}");
}

async fn invite_names_whatsapp_and_email_when_configured(db: Db) {
    let fake = FakeTelegram::start().await;
    let graph = FakeGraph::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("WHATSAPP_TOKEN", fake_graph::TOKEN)
        .with("WHATSAPP_PHONE_NUMBER_ID", fake_graph::PHONE_NUMBER_ID)
        .with("WHATSAPP_API_URL", &graph.url)
        .with("EMAIL_FROM", "Coordinator <bot@team.example>")
        .spawn()
        .await;
    person(&app, "anna", "admin", ANNA).await;
    let mut chat = Chat::new(&app, &fake);
    let invited = chat.say(ANNA, "/invite @bob").await;
    let code = start_code(&invited);
    assert!(
        invited.contains(&format!(
            "WhatsApp: https://wa.me/{}?text=%2Flink%20{code}",
            fake_graph::DISPLAY_PHONE_NUMBER
        )),
        "{invited}"
    );
    assert!(
        invited.contains(&format!(
            "Email: write to bot@team.example with /link {code} as the first line"
        )),
        "{invited}"
    );
    assert!(!invited.contains("Discord"), "{invited}");
}

async fn roles_and_removal_keep_an_admin(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db).with_telegram(&fake, SECRET).spawn().await;
    person(&app, "anna", "admin", ANNA).await;
    person(&app, "ben", "member", BEN).await;
    let mut chat = Chat::new(&app, &fake);

    let refused = chat.say(BEN, "/role @ben admin").await;
    assert_eq!(refused, "Not allowed: ben (member) may not change roles.");
    let refused = chat.say(BEN, "/remove @anna").await;
    assert_eq!(refused, "Not allowed: ben (member) may not remove people.");
    let last = chat.say(ANNA, "/role @anna member").await;
    assert!(last.contains("@anna is the only admin"), "{last}");
    let last = chat.say(ANNA, "/remove @anna").await;
    assert!(
        last.contains("@anna is the only admin and cannot be removed"),
        "{last}"
    );
    for (text, expected) in [
        (
            "/role",
            "Usage: /role @handle admin|member|guest — e.g. /role @anna admin",
        ),
        ("/role @ben boss", "'boss' is not a role"),
        ("/remove", "Usage: /remove @handle — e.g. /remove @anna"),
    ] {
        let usage = chat.say(ANNA, text).await;
        assert!(usage.contains(expected), "{text}: {usage}");
    }
    let nobody = chat.say(ANNA, "/role @ghost admin").await;
    assert!(nobody.contains("nobody has the handle 'ghost'"), "{nobody}");
    assert!(nobody.contains("/people lists the team"), "{nobody}");
    let unknown_assignee = chat.say(ANNA, "/newtask Print the flyers @ghost").await;
    assert_eq!(
        unknown_assignee,
        "That didn't work: the assignee: nobody has the handle 'ghost'. \
         /people lists the team; an admin adds someone with /invite @handle."
    );

    assert_eq!(chat.say(ANNA, "/role @ben admin").await, "@ben is now an admin.");
    assert_eq!(
        chat.say(ANNA, "/role @anna member").await,
        "@anna is now a member."
    );
    assert_eq!(person_json(&app, "anna").await["role"], "member");
    let task = app
        .post(
            "/api/tasks",
            json!({"title": "Write the brief", "assigned_to": "anna"}),
        )
        .await;
    assert_eq!(task.status, 201, "{}", task.body);
    let removed = chat.say(BEN, "/remove @anna").await;
    assert_eq!(
        removed,
        "Removed @anna: they can no longer use the bot. Their 1 open task(s) have no assignee now: /tasks lists them."
    );
    assert_eq!(app.get("/api/people/anna").await.status, 404);
    let task = app.get("/api/tasks/1").await.body;
    assert_eq!(task["title"], "Write the brief");
    assert_eq!(task["assigned_to"], Value::Null);
    // Anna's chat no longer drives the bot.
    let stranger = chat.say(ANNA, "/tasks").await;
    assert!(stranger.starts_with("I don't know you yet."), "{stranger}");
}

async fn me_tz_and_quiet(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db).with_telegram(&fake, SECRET).spawn().await;
    person(&app, "anna", "member", ANNA).await;
    let mut chat = Chat::new(&app, &fake);
    let me = chat.say(ANNA, "/me").await;
    assert!(
        me.starts_with("@anna (Anna), member\nChats: telegram 4242\n"),
        "{me}"
    );
    assert!(me.contains("Time zone: Europe/Berlin (now "), "{me}");
    assert!(me.contains("Quiet hours: 20:00–08:00"), "{me}");

    let usage = chat.say(ANNA, "/tz Berlin").await;
    assert!(usage.contains("Did you mean Europe/Berlin?"), "{usage}");
    assert!(
        usage.contains("Usage: /tz ZONE — e.g. /tz Europe/Berlin"),
        "{usage}"
    );
    let tz = chat.say(ANNA, "/tz america/new_york").await;
    assert!(tz.starts_with("Your time zone is America/New_York now"), "{tz}");
    assert_eq!(person_json(&app, "anna").await["timezone"], "America/New_York");

    let usage = chat.say(ANNA, "/quiet late").await;
    assert!(
        usage.contains("Usage: /quiet HH:MM-HH:MM|off — e.g. /quiet 22:00-07:00"),
        "{usage}"
    );
    let quiet = chat.say(ANNA, "/quiet 22:00-07:00").await;
    assert!(
        quiet.starts_with("Quiet hours: 22:00–07:00 (America/New_York)."),
        "{quiet}"
    );
    let id = person_json(&app, "anna").await["id"].as_i64().unwrap();
    let stored = app.store.quiet_hours(id).await.unwrap();
    assert_eq!((stored.quiet_start_minute, stored.quiet_end_minute), (1320, 420));
    let off = chat.say(ANNA, "/quiet off").await;
    assert_eq!(off, "No quiet hours: reminders reach you at any time.");
    let me = chat.say(ANNA, "/me").await;
    assert!(me.contains("Time zone: America/New_York"), "{me}");
    assert!(me.contains("Quiet hours: none"), "{me}");
    // Someone unknown has no /me.
    let stranger = chat.say(9999, "/me").await;
    assert!(stranger.starts_with("I don't know you yet."), "{stranger}");
}
