//! `coordinator`: an AI project coordinator that lives in a team's chats.
//!
//! ```text
//!  api (REST)  ──► workspace (operations, permissions, audit) ──► store (SQLite | PostgreSQL)
//! ```
//!
//! - `config`: `Settings`, the only reader of the environment.
//! - `domain`: pure types and rules (tasks, projects, people, statuses, due dates).
//! - `store`: persistence; one interface, two engines, migrations in `migrations/`.
//! - `workspace`: what users and the agent can do, each operation checked against the actor.
//! - `api`: axum routes, bearer auth, JSON errors, OpenAPI, health and metrics.
//! - `app`: builds everything from `Settings` and runs it until shutdown.
//! - `cli`: the commands of the binary.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod channels;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod domain;
pub mod handbook;
pub mod inbox;
pub mod integrations;
pub mod llm;
pub mod outbox;
pub mod scheduler;
pub mod store;
pub mod tools;
pub mod workspace;
