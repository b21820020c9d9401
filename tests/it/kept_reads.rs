//! Reads the store keeps for a moment (`store::recent`): the project of a chat and an
//! integration's settings. A change made through the same store applies at once; one made
//! through another store on the same database (another replica) once the kept read is older
//! than `KEPT_FOR`.

use coordinator::domain::ProjectStatus;
use coordinator::store::{AuditEntry, ProjectData, Store, KEPT_FOR};

use crate::helpers::{both_dbs, fresh_database, Db};

both_dbs!(
    a_chat_given_to_a_project_applies_here_at_once_and_elsewhere_after_the_kept_time,
    integration_settings_written_apply_here_at_once_and_elsewhere_after_the_kept_time,
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
