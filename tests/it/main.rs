//! Integration tests: the real app on port 0, against SQLite and PostgreSQL alike.

mod helpers;

mod agent;
mod ai_analysis;
mod api_auth;
mod api_comments;
mod api_concurrency;
mod api_people;
mod api_projects;
mod api_tasks;
mod cli;
mod crash;
mod crm;
mod discord;
mod email;
mod fake_discord;
mod fake_graph;
mod fake_openai;
mod fake_telegram;
mod fake_zendesk;
mod handbook;
mod handbook_cli;
mod handbook_hybrid;
mod handbook_llm;
mod integrations_api;
mod layers;
mod packaging;
mod parser_fuzz;
mod queue_claims;
mod scheduler;
mod scheduler_reports;
mod scheduler_settings;
mod telegram;
mod voice;
mod whatsapp;
mod zendesk;
