//! `coordinator`: an AI project coordinator that lives in a team's chats.
//!
//! # One path in, one path out
//!
//! ```text
//!  Telegram · Discord · Slack · WhatsApp · email · terminal
//!     │ channels::<platform>::inbound   verify (http::webhook), parse, normalize → message::InboundEvent
//!     ▼
//!  inbox (table)  stored before the 2xx, deduplicated; a worker claims each event
//!     │ queue::EventHandler
//!     ▼
//!  conversation   who speaks (identity → person) · command? ──► run (no LLM)
//!     │                                            free text ──► agent (llm) ──► tools
//!     ▼                                                                          │
//!  workspace      every operation, with the actor's permission check ◄───────────┘
//!     │                         ▲ api (REST, /ai, /integrations) · scheduler · integrations
//!     ▼                         │ use the same operations
//!  store          SQLite | PostgreSQL          handbook (LanceDB: FTS + vectors)
//!
//!  replies · reminders · escalations · reports
//!     │ queue::to_outbound, in the same transaction as the change that caused them
//!     ▼
//!  outbox (table) ──► message::Transport (channels::<platform>::outbound) ──► the platform
//! ```
//!
//! # Layers, bottom to top
//!
//! A module imports only modules of lower layers; `tests/it/layers.rs` checks it.
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | 0 | `domain` | pure types and rules: tasks, projects, people, statuses, periods, addresses |
//! | 1 | `config` | `Settings`, the only reader of the environment |
//! | 2 | `store`, `llm`, `handbook`, `message` | persistence (two engines); the model API; the handbook index; our message types, buttons and the `Transport` trait |
//! | 3 | `queue`, `http`, `limits` | what the queues share (`Outcome`, backoff, `EventHandler`); the JSON error shape and the signed-webhook path; per-identity and per-token allowances |
//! | 4 | `inbox`, `outbox`, `workspace` | the two durable queues; the operations, each with its permission check |
//! | 5 | `tools`, `integrations`, `channels` | the agent's tools; Zendesk, CRM, voice; the platform adapters |
//! | 6 | `scheduler` | reminders, escalation ladders, policy checks, scheduled reports, admin alerts |
//! | 7 | `conversation` | what to answer: commands, buttons, the agent |
//! | 8 | `api`, `web` | axum routes, bearer auth, OpenAPI, health, metrics; the team's web page (`/web`) |
//! | 9 | `app` | builds everything from `Settings` and runs it until shutdown |
//! | 10 | `cli` | the commands of the binary |
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod channels;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod domain;
pub mod handbook;
pub mod http;
pub mod inbox;
pub mod integrations;
pub mod limits;
pub mod llm;
pub mod message;
pub mod outbox;
pub mod queue;
pub mod scheduler;
pub mod store;
pub mod tools;
#[cfg(feature = "web")]
pub mod web;
pub mod workspace;
