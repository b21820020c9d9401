//! A small client for the Zendesk Support API (v2), with API-token basic auth
//! (`{email}/token:{token}`): tickets (cursor pagination), one ticket, the cursor-based
//! incremental ticket export, a ticket's comments, and ticket updates.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ZendeskConfig, ZendeskError};
use crate::integrations::job::{retry_after, without_url};

/// A ticket, with the fields the sync uses (Zendesk sends many more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ticket {
    pub id: i64,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// new, open, pending, hold, solved, closed (deleted in exports)
    #[serde(default)]
    pub status: String,
    /// urgent, high, normal, low, or none
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub requester_id: Option<i64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A ticket comment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Comment {
    pub id: i64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub plain_body: Option<String>,
    #[serde(default = "yes")]
    pub public: bool,
    #[serde(default)]
    pub author_id: Option<i64>,
}

fn yes() -> bool {
    true
}

impl Comment {
    /// The text, preferring the plain version.
    pub fn text(&self) -> &str {
        self.plain_body
            .as_deref()
            .or(self.body.as_deref())
            .unwrap_or("")
            .trim()
    }
}

/// One page of tickets and the cursor of the next.
#[derive(Debug, Clone)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    pub after_cursor: Option<String>,
}

/// One page of the incremental export.
#[derive(Debug, Clone, Deserialize)]
pub struct ExportPage {
    #[serde(default)]
    pub tickets: Vec<Ticket>,
    #[serde(default)]
    pub after_cursor: Option<String>,
    #[serde(default)]
    pub end_of_stream: bool,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    after_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Paged<T> {
    #[serde(default = "Vec::new")]
    tickets: Vec<T>,
    #[serde(default = "Vec::new")]
    comments: Vec<Comment>,
    #[serde(default)]
    meta: Option<Meta>,
}

/// Where an export starts: a time (first run) or where the last one stopped.
#[derive(Debug, Clone, Copy)]
pub enum ExportFrom<'a> {
    StartTime(i64),
    Cursor(&'a str),
}

/// The most pages of comments read for one ticket.
const MAX_COMMENT_PAGES: usize = 20;

pub struct Client<'a> {
    http: &'a reqwest::Client,
    config: &'a ZendeskConfig,
}

impl<'a> Client<'a> {
    pub fn new(http: &'a reqwest::Client, config: &'a ZendeskConfig) -> Self {
        Self { http, config }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v2/{path}", self.config.api_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Value, ZendeskError> {
        let response = request
            .basic_auth(
                format!("{}/token", self.config.email),
                Some(self.config.api_token.expose()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ZendeskError::Unreachable(format!("{what}: {}", without_url(&e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ZendeskError::Http {
                status,
                retry_after: retry_after(&response),
                what: what.to_owned(),
            });
        }
        response
            .json::<Value>()
            .await
            .map_err(|e| ZendeskError::Unreachable(format!("{what}: {}", without_url(&e))))
    }

    fn parse<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, ZendeskError> {
        serde_json::from_value(value)
            .map_err(|e| ZendeskError::Unreachable(format!("{what}: unexpected answer ({e})")))
    }

    /// A page of tickets (`size` at most 100), after `cursor`.
    pub async fn tickets(&self, cursor: Option<&str>, size: u32) -> Result<TicketPage, ZendeskError> {
        let mut query = vec![("page[size]", size.clamp(1, 100).to_string())];
        if let Some(c) = cursor {
            query.push(("page[after]", c.to_owned()));
        }
        let value = self
            .send(
                self.http.get(self.url("tickets.json")).query(&query),
                "the ticket list",
            )
            .await?;
        let page: Paged<Ticket> = Self::parse(value, "the ticket list")?;
        let after_cursor = page.meta.filter(|m| m.has_more).and_then(|m| m.after_cursor);
        Ok(TicketPage {
            tickets: page.tickets,
            after_cursor,
        })
    }

    pub async fn ticket(&self, id: i64) -> Result<Ticket, ZendeskError> {
        let what = format!("ticket {id}");
        match self
            .send(self.http.get(self.url(&format!("tickets/{id}.json"))), &what)
            .await
        {
            Err(ZendeskError::Http { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                Err(ZendeskError::NoTicket(id))
            }
            Err(e) => Err(e),
            Ok(mut value) => Self::parse(value["ticket"].take(), &what),
        }
    }

    /// One page of the cursor-based incremental ticket export.
    pub async fn export(&self, from: ExportFrom<'_>) -> Result<ExportPage, ZendeskError> {
        let query = match from {
            ExportFrom::StartTime(t) => ("start_time", t.to_string()),
            ExportFrom::Cursor(c) => ("cursor", c.to_owned()),
        };
        let url = self.url("incremental/tickets/cursor.json");
        let value = self
            .send(self.http.get(url).query(&[query]), "the incremental export")
            .await?;
        Self::parse(value, "the incremental export")
    }

    /// Every comment of a ticket, oldest first.
    pub async fn comments(&self, ticket_id: i64) -> Result<Vec<Comment>, ZendeskError> {
        let what = format!("the comments of ticket {ticket_id}");
        let url = self.url(&format!("tickets/{ticket_id}/comments.json"));
        let mut comments = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_COMMENT_PAGES {
            let mut query = vec![("page[size]", "100".to_owned())];
            if let Some(a) = &after {
                query.push(("page[after]", a.clone()));
            }
            let value = self.send(self.http.get(&url).query(&query), &what).await?;
            let page: Paged<Value> = Self::parse(value, &what)?;
            comments.extend(page.comments);
            match page.meta {
                Some(Meta {
                    has_more: true,
                    after_cursor: Some(next),
                }) => after = Some(next),
                _ => break,
            }
        }
        Ok(comments)
    }

    /// `PUT /tickets/{id}.json` with `{"ticket": ticket}`; Zendesk's answer.
    pub async fn update_ticket(&self, id: i64, ticket: Value) -> Result<Value, ZendeskError> {
        let body = serde_json::json!({ "ticket": ticket });
        let what = format!("the update of ticket {id}");
        match self
            .send(
                self.http.put(self.url(&format!("tickets/{id}.json"))).json(&body),
                &what,
            )
            .await
        {
            Err(ZendeskError::Http { status, .. }) if status == reqwest::StatusCode::NOT_FOUND => {
                Err(ZendeskError::NoTicket(id))
            }
            other => other,
        }
    }
}
