//! `coordinator chat`: the terminal as a chat channel, through the same inbox, conversation
//! and outbox as every platform.

use std::time::Duration;

use std::sync::Arc;
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

use super::App;
use crate::channels::cli::{Terminal, TerminalOut, CHAT_ID};
use crate::domain::Role;
use crate::message::Channels;
use crate::workspace::{Actor, NewPerson, Paging};

impl App {
    /// The person the terminal speaks as: `handle`, else the first admin; on an empty
    /// workspace an `admin` person is made.
    async fn terminal_person(&self, handle: Option<&str>) -> anyhow::Result<String> {
        let system = Actor::system("cli");
        if let Some(handle) = handle {
            return Ok(self.workspace.person(&system, handle).await?.handle);
        }
        let people = self
            .workspace
            .list_people(&system, Paging::new(Some(500), None)?)
            .await?;
        if let Some(admin) = people.items.iter().find(|p| p.role == Role::Admin) {
            return Ok(admin.handle.clone());
        }
        if let Some(first) = people.items.first() {
            return Ok(first.handle.clone());
        }
        let new = NewPerson {
            handle: "admin".into(),
            name: "Admin".into(),
            role: Some("admin".into()),
            ..NewPerson::default()
        };
        Ok(self.workspace.create_person(&system, new).await?.handle)
    }

    /// `coordinator chat`: lines from standard input go through the inbox, the conversation
    /// and the outbox like any chat message; replies are printed.
    pub async fn chat(self, handle: Option<&str>) -> anyhow::Result<()> {
        let me = self.terminal_person(handle).await?;
        let shutdown = CancellationToken::new();
        let mut channels = Channels::default();
        channels.add(Arc::new(TerminalOut));
        let mut tasks = self.spawn_workers(channels, &shutdown);
        tasks.push(self.handbook.spawn_ingest(
            self.settings.handbook_dir.clone(),
            crate::handbook::default_model(&self.settings),
            None,
            shutdown.clone(),
        ));
        let terminal = Terminal::new(&me);
        let inbox = self.inbox_writer();
        eprintln!("Chatting as @{me}. /help lists the commands; Ctrl-D ends.");
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Some(line) = lines.next_line().await? {
            if line.trim().is_empty() {
                continue;
            }
            inbox.accept(&terminal.event(&line)).await?;
            self.wait_for_terminal(Duration::from_secs(60)).await?;
        }
        self.wait_for_terminal(Duration::from_secs(10)).await?;
        shutdown.cancel();
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    }

    /// Waits until everything typed so far is answered (or `limit` passes).
    async fn wait_for_terminal(&self, limit: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + limit;
        while self.store.unfinished_for_chat("cli", CHAT_ID).await? > 0 && tokio::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}
