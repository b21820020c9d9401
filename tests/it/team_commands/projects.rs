//! Projects from chat: `/project new`, `/project here` (the chat becomes the project's, and
//! tasks made there belong to it), `/projects`.

use coordinator::domain::TaskTitle;
use coordinator::workspace::{Actor, NewTask, Origin};
use serde_json::Value;

use super::{person, Chat, ANNA, BEN, SECRET};
use crate::fake_telegram::FakeTelegram;
use crate::helpers::{both_dbs, Db, TestApp};

const GROUP: i64 = -100_777;

both_dbs!(project_here_makes_the_chat_the_projects);

async fn project_here_makes_the_chat_the_projects(db: Db) {
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db).with_telegram(&fake, SECRET).spawn().await;
    person(&app, "anna", "admin", ANNA).await;
    person(&app, "ben", "member", BEN).await;
    let mut chat = Chat::new(&app, &fake);

    let usage = chat.say_in(GROUP, ANNA, "/project").await;
    assert!(
        usage.contains("Usage: /project new NAME | /project here NAME — e.g. /project here Launch"),
        "{usage}"
    );
    let refused = chat.say_in(GROUP, BEN, "/project here Launch").await;
    assert_eq!(
        refused,
        "Not allowed: ben (member) may not make a chat a project's chat."
    );
    let created = chat.say(BEN, "/project new Beta").await;
    assert!(created.starts_with("Created project #1 Beta."), "{created}");
    let again = chat.say(BEN, "/project new  beta").await;
    assert_eq!(
        again,
        "There is already a project called Beta (#1). To give it a chat, send /project here Beta \
         in that chat."
    );

    let here = chat.say_in(GROUP, ANNA, "/project here Launch").await;
    assert!(
        here.starts_with("This chat is now the chat of Launch (project #2, new)"),
        "{here}"
    );
    let task = chat.say_in(GROUP, BEN, "/newtask Print flyers @ben").await;
    assert!(task.starts_with("Created #1: Print flyers"), "{task}");
    let task = app.get("/api/tasks/1").await.body;
    assert_eq!(task["project_id"], 2, "{task}");
    let routing = app.store.task_routing(1).await.unwrap();
    assert_eq!(routing.project_chat.as_deref(), Some(GROUP.to_string().as_str()));
    // A task made elsewhere has no project.
    chat.say(BEN, "/newtask Call the printer").await;
    assert_eq!(app.get("/api/tasks/2").await.body["project_id"], Value::Null);
    // The project's chat lists the project's tasks; elsewhere, all of them.
    let here = chat.say_in(GROUP, BEN, "/tasks").await;
    assert!(
        here.starts_with("Open tasks in Launch (1):\n#1 Print flyers"),
        "{here}"
    );
    let mine = chat.say_in(GROUP, BEN, "/tasks mine").await;
    assert!(mine.starts_with("Your open tasks in Launch (1):"), "{mine}");
    let everywhere = chat.say(BEN, "/tasks").await;
    assert!(everywhere.starts_with("Open tasks (2):"), "{everywhere}");
    let report = chat.say_in(GROUP, BEN, "/report").await;
    assert!(report.starts_with("Daily report, Launch:"), "{report}");
    assert!(report.contains("\nOpen: 1\n"), "{report}");
    let report = chat.say(BEN, "/report").await;
    assert!(report.starts_with("Daily report, all projects:"), "{report}");
    // A task that names its project keeps it, even in another project's chat.
    let ben = app.workspace.person(&Actor::system("test"), "ben").await.unwrap();
    let origin = Origin {
        channel: "telegram".into(),
        chat: GROUP.to_string(),
        source_key: "test:1".into(),
    };
    let named = NewTask {
        project_id: Some(1),
        ..NewTask::titled(TaskTitle::parse("Beta work").unwrap())
    };
    let named = app
        .workspace
        .create_task(
            &Actor::person(&ben, "telegram", chrono_tz::Tz::UTC),
            named,
            Some(&origin),
        )
        .await
        .unwrap();
    assert_eq!(named.project_id, Some(1));

    let list = chat.say_in(GROUP, BEN, "/projects").await;
    assert_eq!(
        list,
        "Projects (2):\n#1 Beta [active] — no chat\n#2 Launch [active] — this chat"
    );
    // The chat moves: one chat, one project.
    let moved = chat.say_in(GROUP, ANNA, "/project here beta").await;
    assert!(moved.contains("the chat of Beta (project #1)"), "{moved}");
    assert!(moved.contains("Until now it was the chat of Launch."), "{moved}");
    let list = chat.say(ANNA, "/projects").await;
    assert_eq!(
        list,
        format!("Projects (2):\n#1 Beta [active] — chat: telegram {GROUP}\n#2 Launch [active] — no chat")
    );
}
