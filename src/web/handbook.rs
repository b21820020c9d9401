//! The handbook (`/web/handbook`): the index's status (files, passages, embedder, last
//! ingest), a search box whose passages cite `file › heading` (the same search as `/ask` and
//! `GET /api/handbook/search`, members and admins), and re-ingest (admins).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::error::WebResult;
use super::layout::{page as shell, redirect_with, when, Flash, Frame};
use super::session::{Posted, Signed};
use super::WebState;
use crate::handbook::HandbookError;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    done: String,
}

/// `GET /web/handbook?q=…`.
pub async fn page(
    State(state): State<WebState>,
    Signed(session): Signed,
    Query(query): Query<SearchQuery>,
) -> WebResult<Response> {
    let frame = Frame::new(&state, session, "handbook").await?;
    let actor = &frame.session.actor;
    let q = query.q.trim();
    let results = if q.is_empty() {
        None
    } else if let Err(e) = actor.require_member("search the handbook") {
        Some(Err(e.to_string()))
    } else {
        Some(match state.handbook.search(q, 8).await {
            Ok(found) => Ok(found),
            Err(e) if e.is_bad_input() => Err(format!("I can't search for that: {e}.")),
            Err(HandbookError::NotIndexed) => Err("The handbook is not indexed yet.".into()),
            Err(e) => {
                tracing::warn!(error = %e, "handbook search failed");
                Err("The handbook cannot be searched right now; try again in a minute.".into())
            }
        })
    };
    let passages = state.handbook.passage_count().await.ok();
    let last = state.handbook.last_ingest();
    let failure = state.handbook.last_ingest_failure();
    let flash = Flash {
        done: query.done.clone(),
    };
    let body = html! {
        (flash.show())
        form.search method="get" action="/web/handbook" role="search" {
            label for="q" { "Search the handbook" }
            input id="q" name="q" type="search" value=(q) maxlength="1000" required;
            button type="submit" { "Search" }
        }
        @match &results {
            None => {},
            Some(Err(problem)) => { p.error role="alert" { (problem) } },
            Some(Ok(found)) if found.is_empty() => { p { "The handbook has nothing on that." } },
            Some(Ok(found)) => {
                @if !crate::handbook::answer::is_sure(found) {
                    p.warn { (crate::handbook::answer::NOT_SURE) }
                }
                ol.passages aria-label="Passages" {
                    @for p in found {
                        li {
                            p.cite { cite { (p.citation()) } " · lines " (p.line_start) "–" (p.line_end) }
                            blockquote { (p.text) }
                        }
                    }
                }
            },
        }
        h2 { "Index" }
        dl.facts {
            dt { "Passages" } dd { @match passages { Some(n) => { (n) }, None => { "unknown (the index cannot be opened)" } } }
            dt { "Embedder" } dd { (state.handbook.embedder_identity().unwrap_or_else(|| "none: full-text search only".into())) }
            dt { "Last ingest" } dd {
                @match &last {
                    Some((at, report)) => { (when(*at, frame.tz())) ": " (report.to_string()) },
                    None => { "none since the server started" },
                }
            }
            @if let Some(f) = &failure {
                dt { "Last failure" } dd.error { (when(f.at, frame.tz())) ": " (f.error) }
            }
        }
        @if actor.require_admin("re-ingest").is_ok() {
            form method="post" action="/web/handbook/ingest" {
                (frame.csrf())
                button type="submit" { "Re-ingest " code { (state.handbook_dir.display()) } }
            }
        }
    };
    Ok(shell(&frame, "Handbook", body).into_response())
}

/// `POST /web/handbook/ingest` (admins): re-indexes the handbook folder in the background.
pub async fn ingest(State(state): State<WebState>, posted: Posted<Flash>) -> WebResult<Response> {
    posted.session.actor.require_admin("re-ingest the handbook")?;
    let handbook = state.handbook.clone();
    let dir = state.handbook_dir.clone();
    tokio::spawn(async move {
        match handbook.ingest(&dir, &indicatif::ProgressBar::hidden()).await {
            Ok(report) => tracing::info!(%report, "handbook re-indexed from the web page"),
            Err(e) => tracing::warn!(error = %e, "handbook re-ingest from the web page failed"),
        }
    });
    Ok(redirect_with(
        "/web/handbook",
        "Re-ingest started; this page shows its outcome when it is done.",
    ))
}
