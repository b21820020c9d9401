//! The platforms. Each has a folder with `inbound` (verify, parse, normalize to
//! [`crate::message::InboundEvent`]) and `outbound` (a [`crate::message::Transport`]).
//! Channels never decide what to answer: events go to the inbox, answers come from the outbox.
//! They import the message and queue types and the store below them, nothing above.

pub mod cli;
pub mod discord;
pub mod email;
pub mod mentions;
pub mod slack;
pub mod telegram;
pub mod whatsapp;
