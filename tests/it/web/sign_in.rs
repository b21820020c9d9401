//! Signing in: `/web` in a private Telegram chat answers with a one-time link to
//! `COORDINATOR_PUBLIC_URL`; in a group the link goes to the person's private chat. The link
//! works once; the session cookie is HttpOnly, SameSite=Lax and Secure behind https; sign out
//! everywhere ends every session of the person; a revoked token's sessions end at once.

use std::time::Duration;

use coordinator::domain::Role;
use reqwest::Method;
use serde_json::json;

use super::client::WebClient;
use crate::fake_telegram::{group_text_update, text_update, FakeTelegram};
use crate::helpers::{both_dbs, Db, TestApp};

const SECRET: &str = "web-Secret_1";
const LEAD: i64 = 7101;
const STRANGER: i64 = 7303;
const GROUP: i64 = -100_700;
const WAIT: Duration = Duration::from_secs(15);

both_dbs!(
    a_link_from_telegram_signs_in_once,
    token_sessions_end_with_sign_out_everywhere_and_revocation,
);

/// The path and query of the sign-in link in `text`, which must point at `public`.
fn link_path(text: &str, public: &str) -> String {
    let start = text
        .find(&format!("{public}/web/sign-in?code="))
        .unwrap_or_else(|| panic!("no sign-in link in {text:?}"));
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    link[public.len()..].to_owned()
}

async fn a_link_from_telegram_signs_in_once(db: Db) {
    let public = "https://coordinator.example";
    let fake = FakeTelegram::start().await;
    let app = TestApp::builder(db)
        .with_telegram(&fake, SECRET)
        .with("COORDINATOR_PUBLIC_URL", public)
        .spawn()
        .await;
    let lead = json!({"handle": "lead", "name": "Lea", "role": "member",
        "identities": [{"channel": "telegram", "external_id": LEAD.to_string()}]});
    assert_eq!(app.post("/api/people", lead).await.status, 201);

    // Someone unknown gets no link.
    app.deliver_telegram_ok(&text_update(1, STRANGER, STRANGER, "/web"))
        .await;
    let sent = fake.wait_for_sent(1, WAIT).await;
    assert!(
        sent[0].text.starts_with("I don't know you yet"),
        "{}",
        sent[0].text
    );
    assert!(!sent[0].text.contains("sign-in"), "{}", sent[0].text);

    app.deliver_telegram_ok(&text_update(2, LEAD, LEAD, "/web")).await;
    let sent = fake.wait_for_sent(2, WAIT).await;
    assert_eq!(sent[1].chat_id, LEAD);
    assert!(
        sent[1].text.contains("works once, for 15 minutes"),
        "{}",
        sent[1].text
    );
    let path = link_path(&sent[1].text, public);

    // The link opens a page with a button; the GET alone signs nobody in (link previews).
    let mut browser = WebClient::new(&app.base);
    let confirm = browser.get(&path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(!browser.cookies.contains_key("coordinator_session"));
    let code = super::client::field(&confirm.body, "code").unwrap();
    let csrf = confirm.csrf();
    // The sign-in form's own token must match its cookie.
    let mut other = WebClient::new(&app.base);
    let forged = other
        .post("/web/sign-in", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let done = browser
        .post("/web/sign-in", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/web"));
    let session = done
        .set_cookies
        .iter()
        .find(|c| c.starts_with("coordinator_session="))
        .expect("a session cookie");
    for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/web", "Max-Age="] {
        assert!(session.contains(part), "{part} missing in {session}");
    }
    let board = browser.get("/web").await;
    assert_eq!(board.status, 200);
    assert!(
        board.body.contains("Signed in as <strong>lead</strong> (member)"),
        "{}",
        board.body
    );

    // The same link again: refused, and nothing signed in.
    let mut again = WebClient::new(&app.base);
    let confirm = again.get(&path).await;
    let reuse = again
        .post("/web/sign-in", &[("csrf", &confirm.csrf()), ("code", &code)])
        .await;
    assert_eq!(reuse.status, 401, "{}", reuse.body);
    assert!(reuse.body.contains("used already or expired"), "{}", reuse.body);
    assert!(!again.cookies.contains_key("coordinator_session"));

    // Asked in a group, the link goes to the private chat; the group only hears where.
    app.deliver_telegram_ok(&group_text_update(3, GROUP, LEAD, "/web"))
        .await;
    let sent = fake.wait_for_sent(4, WAIT).await;
    let private = sent
        .iter()
        .skip(2)
        .find(|m| m.chat_id == LEAD)
        .expect("a private link");
    let in_group = sent
        .iter()
        .skip(2)
        .find(|m| m.chat_id == GROUP)
        .expect("a notice in the group");
    link_path(&private.text, public);
    assert!(!in_group.text.contains("/web/sign-in"), "{}", in_group.text);
    assert!(in_group.text.contains("private chat"), "{}", in_group.text);

    // Linking is what makes a sign-in link: the workspace refuses one for a token.
    let token_actor = coordinator::workspace::Actor::system("test");
    assert!(app
        .workspace
        .web_sign_in_code(&token_actor, coordinator::store::now())
        .await
        .is_err());
}

async fn token_sessions_end_with_sign_out_everywhere_and_revocation(db: Db) {
    let app = TestApp::builder(db).spawn().await;
    let token = app.token("ops", Role::Member).await;
    let mut laptop = WebClient::new(&app.base);
    let mut phone = WebClient::new(&app.base);
    laptop.sign_in_with_token(&token).await;
    phone.sign_in_with_token(&token).await;
    // Without https, no Secure flag (the browser would drop the cookie on http).
    let mut plain = WebClient::new(&app.base);
    let page = plain.get("/web").await;
    assert!(
        page.set_cookies.iter().all(|c| !c.contains("Secure")),
        "{:?}",
        page.set_cookies
    );

    // A wrong token: the sign-in page again, with the reason.
    let csrf = page.csrf();
    let refused = plain
        .post("/web/sign-in/token", &[("csrf", &csrf), ("token", "crd_nope")])
        .await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.contains("That token is not valid"),
        "{}",
        refused.body
    );

    let board = phone.get("/web").await;
    assert!(board.body.contains("token:ops"), "{}", board.body);
    let csrf = board.csrf();
    let out = phone
        .post("/web/sign-out", &[("csrf", &csrf), ("everywhere", "1")])
        .await;
    assert_eq!(out.status, 303);
    for client in [&mut laptop, &mut phone] {
        let page = client.get("/web").await;
        assert!(
            page.body.contains("Or sign in with an API token"),
            "{}",
            page.body
        );
        assert_eq!(client.get("/web/alerts").await.status, 303);
    }

    // A revoked token's session stops at once.
    laptop.sign_in_with_token(&token).await;
    assert!(laptop.get("/web").await.body.contains("token:ops"));
    let revoked = app.call(Method::DELETE, "/api/tokens/ops", None).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    assert!(laptop
        .get("/web")
        .await
        .body
        .contains("Or sign in with an API token"));
}
