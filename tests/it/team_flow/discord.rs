//! The flow's Discord part, with only a bot token: no public URL, no interactions endpoint.
//! Every step is a slash command dispatched over the fake gateway (`INTERACTION_CREATE`, the
//! real protocol) and answered through the interaction's webhook: `/claim` makes the first
//! admin, `/invite` gives a code that Anna's `/link` (in a direct message) takes,
//! `/project here` makes the server channel the project's chat, and `/newtask` there lands
//! in that project.

use serde_json::{json, Value};

use crate::discord::{slash, string, user, Discord, CHANNEL, WAIT};
use crate::fake_discord::{FakeDiscord, EPHEMERAL, TOKEN};
use crate::helpers::{both_dbs, Db, TestApp};

const LEAD: &str = "80351110224670001";
const ANNA: &str = "80351110224670002";
/// Anna's direct-message channel with the bot.
const ANNA_DM: &str = "1000000000000000077";

both_dbs!(claim_invite_project_and_task_over_the_gateway);

/// `/name` with `options` from `from` (named `username`) in the server channel.
fn slash_as(from: &str, username: &str, name: &str, options: Value) -> Value {
    let mut interaction = slash(from, name, options);
    interaction["member"]["user"] = user(from, username);
    interaction
}

/// The same, in `from`'s direct messages with the bot (no server, no member).
fn direct_slash(from: &str, username: &str, channel: &str, name: &str, options: Value) -> Value {
    let mut interaction = slash(from, name, options);
    let object = interaction.as_object_mut().unwrap();
    object.remove("guild_id");
    object.remove("member");
    object.insert("user".into(), user(from, username));
    object.insert("channel_id".into(), json!(channel));
    object.insert("channel".into(), json!({"id": channel, "type": 1}));
    object.insert("context".into(), json!(1));
    interaction
}

/// Dispatches `interaction` over the gateway; the answer's text and flags.
async fn ask(d: &Discord, interaction: &Value) -> (String, u64) {
    d.fake.dispatch_interaction(interaction);
    let answer = d.answer_to(interaction).await;
    (answer.content, answer.flags)
}

async fn claim_invite_project_and_task_over_the_gateway(db: Db) {
    let fake = FakeDiscord::start().await;
    let app = TestApp::builder(db)
        .with("DISCORD_API_URL", &fake.api_url)
        .with("DISCORD_TOKEN", TOKEN)
        .spawn()
        .await;
    let d = Discord { app, fake };
    d.fake.wait_for_identify(WAIT).await;
    let code = d.app.claim_code().await;

    // The lead claims the bot with a slash command; the code's answer is theirs alone.
    let claim = slash_as(LEAD, "lead", "claim", json!([string("code", &code)]));
    let (claimed, flags) = ask(&d, &claim).await;
    assert!(claimed.contains("You are the admin now, @lead"), "{claimed}");
    assert_eq!(flags & EPHEMERAL, EPHEMERAL);
    let lead = d.app.get("/api/people/lead").await.body;
    assert_eq!(lead["role"], "admin", "{lead}");
    assert_eq!(lead["identities"][0]["channel"], "discord");
    assert_eq!(lead["identities"][0]["external_id"], LEAD);
    // Acknowledged through the callback route: no interactions endpoint is involved.
    assert_eq!(d.fake.callbacks(&claim).len(), 1);

    // `/invite` with its options; Anna links in a direct message with the code she is sent.
    let invite = slash_as(
        LEAD,
        "lead",
        "invite",
        json!([string("handle", "anna"), string("role", "member")]),
    );
    let (invited, flags) = ask(&d, &invite).await;
    assert!(invited.starts_with("Invited @anna as member."), "{invited}");
    assert_eq!(
        flags & EPHEMERAL,
        EPHEMERAL,
        "an invite's code is not for the channel"
    );
    let line = invited
        .lines()
        .find(|l| l.starts_with("• Discord: a direct message to the bot: /link "))
        .unwrap_or_else(|| panic!("no Discord line in {invited:?}"));
    let anna_code = line.rsplit(' ').next().unwrap();
    let link = direct_slash(
        ANNA,
        "anna.k",
        ANNA_DM,
        "link",
        json!([string("code", anna_code)]),
    );
    let (linked, _) = ask(&d, &link).await;
    assert!(linked.contains("you are @anna here now"), "{linked}");
    let anna = d.app.get("/api/people/anna").await.body;
    assert_eq!(anna["role"], "member", "{anna}");
    assert_eq!(anna["identities"][0]["channel"], "discord");
    assert_eq!(anna["identities"][0]["external_id"], ANNA);

    // The server channel becomes Launch's chat, through the /project here subcommand.
    let here = slash_as(
        LEAD,
        "lead",
        "project",
        json!([{"type": 1, "name": "here", "options": [string("name", "Launch")]}]),
    );
    let (made, _) = ask(&d, &here).await;
    assert!(
        made.starts_with("This chat is now the chat of Launch (project #1, new)"),
        "{made}"
    );

    // Anna's /newtask there (another interaction in the same channel) belongs to Launch.
    let new = slash_as(
        ANNA,
        "anna.k",
        "newtask",
        json!([
            string("title", "Book the venue"),
            string("assignee", "anna"),
            string("due", "2030-01-15 10:00")
        ]),
    );
    let (created, _) = ask(&d, &new).await;
    assert!(created.starts_with("Created #1: Book the venue"), "{created}");
    let task = d.app.get("/api/tasks/1").await.body;
    assert_eq!(task["project_id"], 1, "{task}");
    assert_eq!(task["assigned_to"], "anna", "{task}");
    let (listed, _) = ask(&d, &slash_as(ANNA, "anna.k", "projects", json!([]))).await;
    assert_eq!(listed, "Projects (1):\n#1 Launch [active] — this chat");
    // The project's chat is the channel itself, where reports and reminders can go later.
    let routing = d.app.store.task_routing(1).await.unwrap();
    assert_eq!(routing.project_chat.as_deref(), Some(CHANNEL));
    // Nothing was ever posted to an interactions endpoint of ours.
    assert!(d.fake.calls_to("POST /webhooks/discord").is_empty());
}
