//! `GET /api/handbook/search` (members; the same search as `/ask`) and `POST /ai/chat` without
//! a model, which answers from the handbook.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{both_dbs, spawn_app, Db, TestApp};
use coordinator::domain::Role;

both_dbs!(handbook_search_route, ai_chat_without_a_model_quotes_the_handbook,);

/// Waits for the start-up ingest of the sample handbook to be searchable.
async fn indexed(app: &TestApp) {
    for _ in 0..600 {
        let r = app.get("/api/handbook/search?q=refund%20approval").await;
        if r.status == 200 && r.body.as_array().is_some_and(|a| !a.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the handbook was not indexed");
}

async fn handbook_search_route(db: Db) {
    let app = spawn_app(db).await;
    indexed(&app).await;
    let r = app
        .get("/api/handbook/search?q=Who%20approves%20a%20refund%20of%201%2C200%20EUR%3F&k=3")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hits = r.body.as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 3, "{}", r.body);
    let first = &hits[0];
    assert_eq!(first["file"], "refunds-and-approvals.md");
    assert_eq!(
        first["citation"],
        "refunds-and-approvals.md › Refunds and credit notes › Approval thresholds"
    );
    assert!(first["line_start"].as_u64().unwrap() <= first["line_end"].as_u64().unwrap());
    assert!(first["text"].as_str().unwrap().contains("EUR"));
    assert!(first["score"].is_number());
    assert_eq!(
        first["sure"], true,
        "a plain answer, not the closest the handbook comes"
    );

    // Not covered: an empty list, not an error.
    let r = app
        .get("/api/handbook/search?q=what%20is%20the%20airspeed%20of%20an%20unladen%20swallow")
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!([])));

    // Bad input: 422 with the field named.
    for (query, field) in [("q=%20%20", "q"), ("q=refunds&k=0", "k"), ("q=refunds&k=51", "k")] {
        let r = app.get(&format!("/api/handbook/search?{query}")).await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(r.body.to_string().contains(field), "{query}: {}", r.body);
    }
    let long = "x".repeat(1001);
    let r = app.get(&format!("/api/handbook/search?q={long}")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app.get("/api/handbook/search").await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Members and admins; not guests, not strangers.
    let member = app.token("reader", Role::Member).await;
    let r = app
        .call_as(&member, Method::GET, "/api/handbook/search?q=refunds", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let guest = app.token("visitor", Role::Guest).await;
    let r = app
        .call_as(&guest, Method::GET, "/api/handbook/search?q=refunds", None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .call_as("not-a-token", Method::GET, "/api/handbook/search?q=refunds", None)
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

async fn ai_chat_without_a_model_quotes_the_handbook(db: Db) {
    let app = spawn_app(db).await;
    indexed(&app).await;
    let r = app
        .post(
            "/ai/chat",
            json!({"message": "how fast should we reply to a client's email?"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reply = r.body["reply"].as_str().unwrap();
    assert!(reply.contains("client-communication.md ›"), "{reply}");
    assert!(reply.contains("No language model is configured"), "{reply}");
}
