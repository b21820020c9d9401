//! The board's columns show their first cards and link to the rest: a column alone, paged,
//! with the filters kept; the cards of a later page carry their reasons like the first ones.

use coordinator::domain::Role;
use serde_json::json;

use super::client::WebClient;
use crate::helpers::{both_dbs, Db, TestApp};

both_dbs!(a_column_shows_its_first_cards_and_links_to_the_rest);

async fn a_column_shows_its_first_cards_and_links_to_the_rest(db: Db) {
    let app = TestApp::builder(db).spawn().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        // The last one is overdue: its reason shows on the column's second page.
        let due = if i == 29 { "2020-01-10" } else { "2031-01-01" };
        let body = json!({"title": format!("Card {i:02}"), "priority": "high", "due_date": due, "assigned_to": null});
        let r = app.post("/api/tasks", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    let r = app
        .post("/api/tasks", json!({"title": "A quiet one", "priority": "low"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut guest = WebClient::new(&app.base);
    guest
        .sign_in_with_token(&app.token("visitor", Role::Guest).await)
        .await;

    // The board: the first 25 cards of the column, and a link to the other 5 that keeps the
    // filter.
    let board = guest.get("/web?priority=high").await;
    assert_eq!(board.status, 200, "{}", board.body);
    assert!(board.body.contains("Card 24</a>"), "{}", board.body);
    assert!(!board.body.contains("Card 25</a>"), "{}", board.body);
    assert!(!board.body.contains("A quiet one"), "{}", board.body);
    let more = "href=\"/web?priority=high&amp;status=todo&amp;offset=25\"";
    assert!(board.body.contains(more), "{}", board.body);
    assert!(board.body.contains("More (5 not shown)"), "{}", board.body);
    assert!(board.body.contains("id=\"col-done\""), "{}", board.body);

    // The column alone: the rest, where it starts, and the way back.
    let rest = guest.get("/web?priority=high&status=todo&offset=25").await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    for i in 25..30 {
        assert!(rest.body.contains(&format!("Card {i:02}</a>")), "{}", rest.body);
    }
    assert!(!rest.body.contains("Card 24</a>"), "{}", rest.body);
    assert!(rest.body.contains("Showing 26–30 of 30."), "{}", rest.body);
    assert!(
        rest.body
            .contains("href=\"/web?priority=high&amp;status=todo&amp;offset=0\""),
        "{}",
        rest.body
    );
    assert!(!rest.body.contains("not shown)"), "{}", rest.body);
    assert!(!rest.body.contains("id=\"col-done\""), "{}", rest.body);
    let card = &rest.body[rest.body.find(&format!("id=\"task-{}\"", ids[29])).unwrap()..];
    let card = &card[..card.find("class=\"move\"").unwrap()];
    assert!(card.contains("Overdue: "), "{card}");
    assert!(card.contains("Unassigned: "), "{card}");

    // Bad paging is a page that says what was wrong.
    let bad = guest.get("/web?status=todo&offset=-1").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("offset"), "{}", bad.body);
    let bad = guest.get("/web?status=finished").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("status"), "{}", bad.body);
}
