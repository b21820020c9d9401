//! Writes made at the same moment are committed in one transaction (`store::group_commit`).
//! Tasks: each caller still gets its own task with its own audit entry (as a later read shows
//! it), a repeated source key its first task, and a task that cannot be written fails alone
//! while the rest of its group is written. Agent turns: each is recorded once, with its two
//! messages and its usage, in its own conversation, and the next turn reads what it starts
//! from in one statement. Conversations: chats that speak for the first time at once get one
//! each, however many of their turns start together.

use chrono::{TimeZone, Utc};
use coordinator::domain::{Label, Priority, TaskStatus};
use coordinator::store::{AuditEntry, Store, StoreError, TaskData, TurnRecord};
use futures::future::join_all;

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(
    tasks_created_at_once_each_get_their_own_and_a_bad_one_fails_alone,
    turns_finished_at_once_are_each_recorded_once,
    chats_speaking_first_at_once_each_get_one_conversation,
);

fn data(title: &str, project_id: Option<i64>) -> TaskData {
    TaskData {
        title: title.to_owned(),
        description: String::new(),
        status: TaskStatus::Todo,
        priority: Priority::Medium,
        project_id,
        assignee_id: None,
        time_estimate: None,
        time_spent: None,
        due_date: None,
        labels: Vec::new(),
        recurrence: None,
    }
}

async fn tasks_created_at_once_each_get_their_own_and_a_bad_one_fails_alone(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let by = AuditEntry {
        actor: "anna".into(),
        channel: "telegram".into(),
    };
    // 60 at once: 40 with keys of their own, 10 repeating one key, 10 without a key, and one
    // in a project that does not exist.
    let keys: Vec<Option<String>> = (0..60)
        .map(|n| match n {
            0..40 => Some(format!("telegram:{n}")),
            40..50 => Some("telegram:repeated".to_owned()),
            _ => None,
        })
        .collect();
    let made = join_all(keys.iter().enumerate().map(|(n, key)| {
        let (store, by) = (&store, &by);
        async move {
            let mut task = data(&format!("task {n}"), None);
            if n % 2 == 0 {
                task.due_date = Some(Utc.with_ymd_and_hms(2027, 1, 15, 9, 30, 0).unwrap());
                task.labels = vec![Label {
                    name: "client".into(),
                    color: Some("#ff0000".into()),
                }];
                task.time_estimate = Some(2.5);
                task.priority = Priority::High;
            }
            store
                .create_task(&task, Some(("telegram", "42")), key.as_deref(), by)
                .await
        }
    }));
    let nowhere = data("in no project", Some(999_999));
    let bad = store.create_task(&nowhere, None, None, &by);
    let (made, bad) = tokio::join!(made, bad);
    assert!(matches!(bad, Err(StoreError::Conflict(_))), "{bad:?}");
    let made: Vec<_> = made.into_iter().map(Result::unwrap).collect();
    for (n, task) in made.iter().enumerate() {
        if (40..50).contains(&n) {
            assert_eq!(task.id, made[40].id, "a repeated key makes one task");
            continue;
        }
        assert_eq!(task.title, format!("task {n}"));
        assert_eq!(*task, store.task(task.id).await.unwrap(), "task {n} as read back");
        let trail = store.audit_trail("task", &task.id.to_string()).await.unwrap();
        assert_eq!(trail.len(), 1, "task {n}: {trail:?}");
        assert_eq!(
            (trail[0].action.as_str(), trail[0].actor.as_str()),
            ("task.create", "anna")
        );
    }
    let mut ids: Vec<i64> = made.iter().map(|t| t.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        51,
        "40 keyed, 1 for the repeated key, 10 without a key"
    );
}

async fn turns_finished_at_once_are_each_recorded_once(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mut conversations = Vec::new();
    for n in 0..30 {
        conversations.push(
            store
                .conversation_for("telegram", &format!("chat-{n}"))
                .await
                .unwrap(),
        );
    }
    // 30 chats' turns at once, and the first chat's turn again (a redelivered message).
    let texts: Vec<(String, String)> = (0..30)
        .map(|n| (format!("question {n}"), format!("answer {n}")))
        .collect();
    let record = |n: usize| {
        let (store, conversation, (question, answer)) = (&store, &conversations[n], &texts[n]);
        async move {
            let key = format!("telegram:{n}");
            let turn = TurnRecord {
                source_key: Some(&key),
                user_text: question,
                user_tokens: 2,
                speaker: Some("anna"),
                reply_tokens: 2,
                steps: 1,
                prompt_tokens: 100 + n as i64,
                completion_tokens: 10,
                model: "fake",
                reply: answer,
            };
            store.record_turn(conversation.id, &turn).await
        }
    };
    let results = join_all((0..30).chain([0]).map(record)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for (n, conversation) in conversations.iter().enumerate() {
        let now = store.conversation(conversation.id).await.unwrap();
        assert_eq!(
            (now.turns, now.prompt_tokens, now.completion_tokens),
            (1, 100 + n as i64, 10),
            "chat {n}"
        );
        let messages = store.recent_messages(conversation.id, 0, 10).await.unwrap();
        let said: Vec<(&str, &str)> = messages
            .iter()
            .map(|m| (m.role.as_str(), m.content.as_str()))
            .collect();
        assert_eq!(
            said,
            [("assistant", texts[n].1.as_str()), ("user", texts[n].0.as_str())],
            "chat {n}"
        );
        assert_eq!(
            store
                .turn_reply(&format!("telegram:{n}"))
                .await
                .unwrap()
                .as_deref(),
            Some(texts[n].1.as_str())
        );
    }
    // Three turns of one conversation in one group (an API chat has no key): its totals count
    // each once, and each question comes just before its answer.
    let shared = store.conversation_for("api", "shared").await.unwrap();
    let turn = |key: Option<&'static str>, n: i64| {
        let store = &store;
        async move {
            let (question, answer) = (format!("q{n}"), format!("a{n}"));
            let turn = TurnRecord {
                source_key: key,
                user_text: &question,
                user_tokens: 1,
                speaker: Some("anna"),
                reply_tokens: 1,
                steps: 1,
                prompt_tokens: n,
                completion_tokens: 1,
                model: "fake",
                reply: &answer,
            };
            store.record_turn(shared.id, &turn).await
        }
    };
    let results = join_all([turn(Some("api:1"), 10), turn(Some("api:2"), 20), turn(None, 30)]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let now = store.conversation(shared.id).await.unwrap();
    assert_eq!((now.turns, now.prompt_tokens, now.completion_tokens), (3, 60, 3));
    let messages = store.recent_messages(shared.id, 0, 10).await.unwrap();
    assert_eq!(messages.len(), 6, "{messages:?}");
    for pair in messages.chunks(2) {
        let (answer, question) = (&pair[0], &pair[1]);
        assert_eq!(
            (answer.role.as_str(), question.role.as_str()),
            ("assistant", "user")
        );
        assert_eq!(answer.content[1..], question.content[1..], "{pair:?}");
        assert_eq!(question.speaker.as_deref(), Some("anna"));
    }

    // What the next turn starts from, in one read: the reply of a message answered before,
    // and whether anyone but the speaker has spoken.
    let start = store
        .turn_start("telegram", "chat-0", Some("telegram:0"), "anna")
        .await
        .unwrap();
    assert_eq!(start.conversation.id, conversations[0].id);
    assert_eq!(start.conversation.turns, 1);
    assert_eq!(start.answered.as_deref(), Some("answer 0"));
    assert!(!start.others_spoke, "only anna spoke in chat-0");
    let start = store
        .turn_start("telegram", "chat-0", Some("telegram:next"), "ben")
        .await
        .unwrap();
    assert_eq!(start.answered, None);
    assert!(start.others_spoke, "anna spoke before ben");
    let start = store.turn_start("telegram", "chat-0", None, "ben").await.unwrap();
    assert_eq!((start.answered, start.others_spoke), (None, true));
    // A chat's first turn makes its conversation.
    let first = store
        .turn_start("telegram", "chat-new", Some("telegram:first"), "anna")
        .await
        .unwrap();
    assert_eq!(
        (first.conversation.turns, first.answered, first.others_spoke),
        (0, None, false)
    );
    let again = store.conversation_for("telegram", "chat-new").await.unwrap();
    assert_eq!(again.id, first.conversation.id);
}

async fn chats_speaking_first_at_once_each_get_one_conversation(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let known = store.conversation_for("telegram", "chat-known").await.unwrap();
    // 80 first turns at once: 60 chats, 20 of them twice, plus a chat that has a conversation.
    let chats: Vec<String> = (0..60)
        .chain(0..20)
        .map(|n| format!("chat-{n}"))
        .chain(["chat-known".to_owned()])
        .collect();
    let starts = join_all(chats.iter().enumerate().map(|(n, chat)| {
        let store = &store;
        async move {
            let key = format!("telegram:{n}");
            store.turn_start("telegram", chat, Some(&key), "anna").await
        }
    }))
    .await;
    let mut by_chat = std::collections::HashMap::new();
    for (chat, start) in chats.iter().zip(starts) {
        let start = start.unwrap_or_else(|e| panic!("{chat}: {e}"));
        assert_eq!(start.conversation.chat_id, *chat);
        assert_eq!(start.conversation.channel, "telegram");
        assert_eq!(
            (start.conversation.turns, start.answered, start.others_spoke),
            (0, None, false),
            "{chat}"
        );
        let id = *by_chat.entry(chat.clone()).or_insert(start.conversation.id);
        assert_eq!(id, start.conversation.id, "{chat}: two conversations");
    }
    assert_eq!(by_chat["chat-known"], known.id);
    let mut ids: Vec<i64> = by_chat.values().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 61, "one conversation per chat");
    for (chat, id) in &by_chat {
        let read = store.conversation_for("telegram", chat).await.unwrap();
        assert_eq!(read.id, *id, "{chat} as read back");
    }
}
