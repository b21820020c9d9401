use chrono::DateTime;
use coordinator::domain::{Channel, Identity};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{both_dbs, spawn_app, Db};

both_dbs!(
    people_with_identities_and_managers,
    link_codes_tie_a_chat_identity_once
);

async fn people_with_identities_and_managers(db: Db) {
    let app = spawn_app(db).await;
    app.post(
        "/api/people",
        json!({"handle": "marta", "name": "Marta Silva", "role": "admin"}),
    )
    .await;
    let created = app
        .post(
            "/api/people",
            json!({
                "handle": "Jonas",
                "name": "Jonas Weber",
                "email": "Jonas@Example.com",
                "timezone": "Europe/Berlin",
                "manager": "marta",
                "identities": [{"channel": "telegram", "external_id": "1001"}, {"channel": "email", "external_id": "jonas@example.com"}]
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["handle"], "jonas");
    assert_eq!(created.body["email"], "jonas@example.com");
    assert_eq!(created.body["role"], "member");
    assert_eq!(created.body["manager"], "marta");
    assert_eq!(created.body["identities"].as_array().unwrap().len(), 2);

    let fetched = app.get("/api/people/jonas").await;
    assert_eq!(fetched.body, created.body);

    let duplicate = app
        .post("/api/people", json!({"handle": "jonas", "name": "Other"}))
        .await;
    assert_eq!(duplicate.status, 409);
    let taken_identity = app
        .post("/api/people", json!({"handle": "eve", "name": "Eve", "identities": [{"channel": "telegram", "external_id": "1001"}]}))
        .await;
    assert_eq!(taken_identity.status, 409);

    for (body, field) in [
        (json!({"handle": "bad handle", "name": "x"}), "handle"),
        (
            json!({"handle": "ok", "name": "x", "timezone": "Mars/Base"}),
            "timezone",
        ),
        (json!({"handle": "ok", "name": "x", "role": "boss"}), "role"),
        (
            json!({"handle": "ok", "name": "x", "manager": "ghost"}),
            "manager",
        ),
        (
            json!({"handle": "ok", "name": "x", "email": "not-an-email"}),
            "email",
        ),
        (
            json!({"handle": "ok", "name": "x", "identities": [{"channel": "fax", "external_id": "1"}]}),
            "channel",
        ),
    ] {
        let reply = app.post("/api/people", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert!(reply.message().contains(field), "{body}: {}", reply.message());
    }

    let updated = app
        .call(
            Method::PUT,
            "/api/people/jonas",
            Some(json!({"manager": null, "timezone": "America/New_York"})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["manager"], Value::Null);
    assert_eq!(updated.body["timezone"], "America/New_York");
    let self_manage = app
        .call(
            Method::PUT,
            "/api/people/marta",
            Some(json!({"manager": "marta"})),
        )
        .await;
    assert_eq!(self_manage.status, 422);

    let found = app
        .workspace
        .person_by_identity(&Identity {
            channel: Channel::Telegram,
            external_id: "1001".into(),
        })
        .await
        .unwrap();
    assert_eq!(found.unwrap().handle, "jonas");

    assert_eq!(
        app.call(Method::DELETE, "/api/people/jonas", None).await.status,
        204
    );
    assert_eq!(app.get("/api/people/jonas").await.status, 404);
    assert_eq!(app.get("/api/people").await.headers["x-total-count"], "1");
}

async fn link_codes_tie_a_chat_identity_once(db: Db) {
    let app = spawn_app(db).await;
    app.post("/api/people", json!({"handle": "anna", "name": "Anna"}))
        .await;
    let reply = app.call(Method::POST, "/api/people/anna/link-code", None).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let code = reply.body["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    let expires = DateTime::parse_from_rfc3339(reply.body["expires_at"].as_str().unwrap()).unwrap();
    let now = coordinator::store::now();
    assert!(expires > now);

    let identity = Identity {
        channel: Channel::Telegram,
        external_id: "555".into(),
    };
    let person = app
        .workspace
        .link_identity(&identity, &code.to_lowercase(), now)
        .await
        .unwrap();
    assert_eq!(person.handle, "anna");
    assert!(person.identities.contains(&identity));
    // A code works once.
    let other = Identity {
        channel: Channel::Telegram,
        external_id: "556".into(),
    };
    assert!(app.workspace.link_identity(&other, &code, now).await.is_err());

    // An expired code does not work.
    let late = app
        .call(Method::POST, "/api/people/anna/link-code", None)
        .await
        .body["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let after_expiry = now + chrono::Duration::hours(25);
    assert!(app
        .workspace
        .link_identity(&other, &late, after_expiry)
        .await
        .is_err());
    assert_eq!(
        app.call(Method::POST, "/api/people/ghost/link-code", None)
            .await
            .status,
        404
    );
}
