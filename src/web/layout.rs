//! The frame every page shares: the document head, a skip link, the navigation with the unread
//! alerts count, who is signed in and the sign-out forms; and small pieces the pages reuse
//! (the CSRF field, dates, flash messages).

use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::error::WebResult;
use super::WebState;
use crate::workspace::Session;

/// What the frame of a signed-in page shows.
pub struct Frame {
    pub session: Session,
    pub unread: usize,
    /// The navigation entry of this page.
    pub current: &'static str,
}

impl Frame {
    /// The frame for `session` on page `current`, with the unread alerts count.
    pub async fn new(state: &WebState, session: Session, current: &'static str) -> WebResult<Self> {
        let feed = state
            .workspace
            .alert_feed(&session.actor, &session.principal, crate::store::now())
            .await?;
        Ok(Self {
            session,
            unread: feed.unread,
            current,
        })
    }

    pub fn tz(&self) -> Tz {
        self.session.actor.timezone
    }

    /// The hidden field every form of this session carries.
    pub fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }
}

const NAV: &[(&str, &str, &str)] = &[
    ("board", "/web", "Board"),
    ("alerts", "/web/alerts", "Alerts"),
    ("approvals", "/web/approvals", "Approvals"),
    ("deliveries", "/web/deliveries", "Deliveries"),
    ("handbook", "/web/handbook", "Handbook"),
    ("people", "/web/people", "People"),
    ("reports", "/web/reports", "Reports"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · coordinator" }
            link rel="stylesheet" href="/web/assets/app.css";
            script src="/web/assets/app.js" defer {}
        }
    }
}

/// A signed-in page.
pub fn page(frame: &Frame, title: &str, body: Markup) -> Html<String> {
    let actor = &frame.session.actor;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        ul {
                            @for (key, href, label) in NAV {
                                li {
                                    a href=(href) aria-current=[(frame.current == *key).then_some("page")] {
                                        (label)
                                        @if *key == "alerts" && frame.unread > 0 {
                                            " " span.badge id="unread" aria-label={ (frame.unread) " unread" } { (frame.unread) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { "Signed in as " strong { (actor.name) } " (" (actor.role) ")" }
                        form method="post" action="/web/sign-out" {
                            (frame.csrf())
                            button type="submit" { "Sign out" }
                        }
                        form method="post" action="/web/sign-out" {
                            (frame.csrf())
                            input type="hidden" name="everywhere" value="1";
                            button type="submit" { "Sign out everywhere" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string())
}

/// A page for someone not signed in, or a message after an error.
pub fn bare_page(title: &str, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                main id="main" .narrow {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string())
}

/// An error or notice, with the way back.
pub fn message_page(title: &str, text: &str) -> Html<String> {
    bare_page(
        title,
        html! {
            p role="alert" { (text) }
            p { a href="/web" { "Back to the board" } }
        },
    )
}

/// A time in the reader's zone.
pub fn when(at: DateTime<Utc>, tz: Tz) -> Markup {
    html! {
        time datetime=(at.to_rfc3339()) { (at.with_timezone(&tz).format("%a %-d %b %Y %H:%M")) }
    }
}

/// A notice at the top of a page after a form did something (`?done=...`).
pub fn flash(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.flash role="status" { (text) }
        }
    }
}

/// The `?done=…` of a page a form redirected to.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Flash {
    #[serde(default)]
    pub done: String,
}

impl Flash {
    pub fn show(&self) -> Markup {
        let text = self.done.trim();
        flash((!text.is_empty()).then_some(text))
    }
}

/// After a form: back to `to`, which says `text` (303, so a reload does not send it again).
pub fn redirect_with(to: &str, text: &str) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let text = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC);
    Redirect::to(&format!("{to}{sep}done={text}")).into_response()
}

/// Text known to be safe HTML (an inline SVG rendered by us).
pub fn trusted(svg: String) -> Markup {
    PreEscaped(svg)
}
