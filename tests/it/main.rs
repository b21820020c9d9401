//! Integration tests: the real app on port 0, against SQLite and PostgreSQL alike.

mod helpers;

mod api_auth;
mod api_comments;
mod api_people;
mod api_projects;
mod api_tasks;
mod cli;
mod crash;
mod fake_telegram;
mod telegram;
