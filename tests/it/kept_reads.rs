//! Reads the store keeps for a moment (`store::recent`): the project of a chat, an
//! integration's settings, and whether any stand-up question exists. A change made through the same store applies at once; one made
//! through another store on the same database (another replica) once the kept read is older
//! than `KEPT_FOR`.

use chrono::Duration as Span;
use coordinator::domain::{ProjectStatus, Role};
use coordinator::store::{
    AuditEntry, NewOutbound, NewRun, PersonData, ProjectData, StandupData, Store, KEPT_FOR,
};

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(
    a_chat_given_to_a_project_applies_here_at_once_and_elsewhere_after_the_kept_time,
    integration_settings_written_apply_here_at_once_and_elsewhere_after_the_kept_time,
    a_first_standup_question_is_answerable_here_at_once_and_elsewhere_after_the_kept_time,
);

async fn two_replicas(db: Db) -> (Store, Store, tempfile::TempDir) {
    let (url, dir) = fresh_database(db).await;
    let here = Store::connect(&url).await.unwrap();
    here.migrate().await.unwrap();
    let elsewhere = Store::connect(&url).await.unwrap();
    (here, elsewhere, dir)
}

fn after_the_kept_time() -> std::time::Duration {
    KEPT_FOR + std::time::Duration::from_millis(100)
}

async fn a_chat_given_to_a_project_applies_here_at_once_and_elsewhere_after_the_kept_time(db: Db) {
    let (here, elsewhere, _dir) = two_replicas(db).await;
    let by = AuditEntry {
        actor: "admin".into(),
        channel: "api".into(),
    };
    let data = |name: &str| ProjectData {
        name: name.into(),
        description: String::new(),
        status: ProjectStatus::Active,
        deadline: None,
        notify_chat: false,
    };
    let website = here.create_project(&data("Website"), &by).await.unwrap();
    let app = here.create_project(&data("App"), &by).await.unwrap();
    // Both replicas have read (and keep) that the chat has no project.
    assert_eq!(here.project_for_chat("telegram", "-100").await.unwrap(), None);
    assert_eq!(
        elsewhere.project_for_chat("telegram", "-100").await.unwrap(),
        None
    );

    here.move_project_chat(website.id, "telegram", "-100", &by)
        .await
        .unwrap();
    assert_eq!(
        here.project_for_chat("telegram", "-100").await.unwrap(),
        Some(website.id),
        "the replica that made the change sees it at once"
    );
    tokio::time::sleep(after_the_kept_time()).await;
    assert_eq!(
        elsewhere.project_for_chat("telegram", "-100").await.unwrap(),
        Some(website.id)
    );

    // The other ways a chat changes hands: the scheduler's routing, and a deleted project.
    here.set_project_chat(app.id, Some("telegram"), Some("-200"), None)
        .await
        .unwrap();
    assert_eq!(
        here.project_for_chat("telegram", "-200").await.unwrap(),
        Some(app.id)
    );
    here.move_project_chat(app.id, "telegram", "-100", &by)
        .await
        .unwrap();
    assert_eq!(
        here.project_for_chat("telegram", "-100").await.unwrap(),
        Some(app.id)
    );
    assert_eq!(here.project_for_chat("telegram", "-200").await.unwrap(), None);
    here.delete_project(app.id, &by).await.unwrap();
    assert_eq!(here.project_for_chat("telegram", "-100").await.unwrap(), None);
    tokio::time::sleep(after_the_kept_time()).await;
    assert_eq!(
        elsewhere.project_for_chat("telegram", "-100").await.unwrap(),
        None
    );
}

async fn integration_settings_written_apply_here_at_once_and_elsewhere_after_the_kept_time(db: Db) {
    let (here, elsewhere, _dir) = two_replicas(db).await;
    let names = |settings: Vec<coordinator::store::StoredSetting>| {
        settings
            .into_iter()
            .map(|s| (s.name, s.value, s.sealed.is_some()))
            .collect::<Vec<_>>()
    };
    assert!(here.integration_settings("crm").await.unwrap().is_empty());
    assert!(elsewhere.integration_settings("crm").await.unwrap().is_empty());

    here.put_integration_setting("crm", "outbound_url", Some("https://crm.example/hook"), None)
        .await
        .unwrap();
    here.put_integration_setting("crm", "outbound_secret", None, Some(b"sealed"))
        .await
        .unwrap();
    let expected = vec![
        ("outbound_secret".to_owned(), None, true),
        (
            "outbound_url".to_owned(),
            Some("https://crm.example/hook".to_owned()),
            false,
        ),
    ];
    assert_eq!(names(here.integration_settings("crm").await.unwrap()), expected);
    tokio::time::sleep(after_the_kept_time()).await;
    assert_eq!(
        names(elsewhere.integration_settings("crm").await.unwrap()),
        expected
    );

    here.delete_integration_setting("crm", "outbound_url")
        .await
        .unwrap();
    assert_eq!(
        names(here.integration_settings("crm").await.unwrap()),
        vec![("outbound_secret".to_owned(), None, true)]
    );
    // Another integration's settings are their own.
    assert!(here.integration_settings("zendesk").await.unwrap().is_empty());
}

async fn a_first_standup_question_is_answerable_here_at_once_and_elsewhere_after_the_kept_time(db: Db) {
    let (here, elsewhere, _dir) = two_replicas(db).await;
    let by = AuditEntry {
        actor: "admin".into(),
        channel: "api".into(),
    };
    let project = here
        .create_project(
            &ProjectData {
                name: "Website".into(),
                description: String::new(),
                status: ProjectStatus::Active,
                deadline: None,
                notify_chat: false,
            },
            &by,
        )
        .await
        .unwrap();
    let anna = PersonData {
        handle: "anna".into(),
        name: "Anna".into(),
        email: None,
        timezone: "UTC".into(),
        role: Role::Member,
        manager_id: None,
        profile: None,
    };
    let anna = here.create_person(&anna, &[], &by).await.unwrap();
    // No stand-up has ever run: both replicas read (and keep) that no question is open.
    assert!(here
        .open_standup_question(anna.id, "telegram:1")
        .await
        .unwrap()
        .is_none());
    assert!(elsewhere
        .open_standup_question(anna.id, "telegram:1")
        .await
        .unwrap()
        .is_none());

    let at = chrono::Utc::now() - Span::minutes(1);
    let standup = here
        .put_standup(
            &StandupData {
                project_id: project.id,
                channel: "telegram".into(),
                chat_id: "-100".into(),
                days: "mon,tue,wed,thu,fri".into(),
                ask_time: "09:00".into(),
                digest_minutes: 120,
                timezone: "UTC".into(),
                next_ask_at: at,
            },
            &by,
        )
        .await
        .unwrap();
    let run = NewRun {
        day: at.format("%Y-%m-%d").to_string(),
        digest_at: at + Span::hours(2),
        people: vec![anna.id],
    };
    assert!(here
        .open_standup_run(standup.id, at, at + Span::days(1), Some(&run))
        .await
        .unwrap());
    let asks = here.due_standup_asks(chrono::Utc::now(), 10).await.unwrap();
    assert_eq!(asks.len(), 1, "{asks:?}");
    let question = NewOutbound {
        channel: "telegram".into(),
        chat_id: "42".into(),
        payload: "What did you do yesterday?".into(),
        dedupe_key: None,
        person_id: Some(anna.id),
        task_id: None,
    };
    assert!(here
        .ask_standup(asks[0].answer_id, chrono::Utc::now(), &question)
        .await
        .unwrap());

    let open = here.open_standup_question(anna.id, "telegram:2").await.unwrap();
    assert_eq!(
        open.map(|q| q.id),
        Some(asks[0].answer_id),
        "the replica that opened the run sees its question at once"
    );
    tokio::time::sleep(after_the_kept_time()).await;
    let open = elsewhere
        .open_standup_question(anna.id, "telegram:2")
        .await
        .unwrap();
    assert_eq!(
        open.map(|q| q.id),
        Some(asks[0].answer_id),
        "another replica, once its kept read is older than the kept time"
    );
}
