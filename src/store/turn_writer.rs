//! Agent turns finished at the same time are recorded in one transaction
//! ([`super::group_commit`]): each turn (`ai_turns`), its two messages, and its usage added to
//! its conversation's totals. A group takes one statement for its turns, one for their messages
//! and one for the conversations' totals, whatever its size.

use std::collections::{BTreeMap, HashSet};

use super::group_commit::{Failed, Group};
use super::Pool;

/// A turn to record, owned, so that it can wait for its group.
pub(crate) struct TurnRow {
    pub conversation_id: i64,
    pub source_key: Option<String>,
    pub user_text: String,
    pub user_tokens: i32,
    pub speaker: Option<String>,
    pub reply_tokens: i32,
    pub steps: i32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub model: String,
    pub reply: String,
}

/// Turn records, grouped.
pub(crate) struct Turns;

/// Rows to a statement at most: inside every engine's bound on values (8 values a turn, 6 a
/// message, 5 a conversation).
const PER_STATEMENT: usize = 500;

impl Group for Turns {
    type Row = TurnRow;
    type Out = ();
    const WHAT: &'static str = "agent turns";

    /// A turn already recorded under its source key (an earlier attempt of the same message)
    /// changes nothing.
    async fn write(pool: &Pool, rows: &[TurnRow]) -> Result<Vec<()>, Failed> {
        let at = super::now();
        // Turns recorded in the first statement: each with a key not seen before in the group
        // (so that the keys returned say which were new) or with no key; a repeated key waits
        // for the second, where it finds the first.
        let mut seen = HashSet::new();
        let (first, repeated): (Vec<&TurnRow>, Vec<&TurnRow>) = rows
            .iter()
            .partition(|row| row.source_key.as_deref().is_none_or(|key| seen.insert(key)));
        super::on_pool!(pool, |p| {
            let mut tx = super::begin_write(p).await?;
            let mut recorded: Vec<&TurnRow> = Vec::with_capacity(rows.len());
            for pass in [first, repeated] {
                for chunk in pass.chunks(PER_STATEMENT) {
                    let mut qb = sqlx::QueryBuilder::new(
                        "INSERT INTO ai_turns (conversation_id, source_key, steps, prompt_tokens, \
                         completion_tokens, model, reply, created_at) ",
                    );
                    qb.push_values(chunk, |mut values, turn| {
                        values
                            .push_bind(turn.conversation_id)
                            .push_bind(turn.source_key.as_deref())
                            .push_bind(turn.steps)
                            .push_bind(turn.prompt_tokens)
                            .push_bind(turn.completion_tokens)
                            .push_bind(&turn.model)
                            .push_bind(&turn.reply)
                            .push_bind(at);
                    });
                    qb.push(" ON CONFLICT (source_key) DO NOTHING RETURNING source_key");
                    let made: HashSet<Option<String>> = qb
                        .build_query_as::<(Option<String>,)>()
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .map(|(key,)| key)
                        .collect();
                    // A turn without a key has nothing to conflict with: always recorded.
                    recorded.extend(
                        chunk
                            .iter()
                            .filter(|turn| turn.source_key.is_none() || made.contains(&turn.source_key)),
                    );
                }
            }
            // Each recorded turn's two messages, the question before its answer.
            for chunk in recorded.chunks(PER_STATEMENT) {
                let messages = chunk.iter().flat_map(|turn| {
                    [
                        (
                            turn,
                            "user",
                            &turn.user_text,
                            turn.user_tokens,
                            turn.speaker.as_deref(),
                        ),
                        (turn, "assistant", &turn.reply, turn.reply_tokens, None),
                    ]
                });
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO conversation_messages (conversation_id, role, content, tokens, created_at, speaker) ",
                );
                qb.push_values(messages, |mut values, (turn, role, content, tokens, speaker)| {
                    values
                        .push_bind(turn.conversation_id)
                        .push_bind(role)
                        .push_bind(content)
                        .push_bind(tokens)
                        .push_bind(at)
                        .push_bind(speaker);
                });
                qb.build().execute(&mut *tx).await?;
            }
            // Each conversation's totals, once however many of its turns the group holds.
            let mut totals: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
            for turn in &recorded {
                let total = totals.entry(turn.conversation_id).or_default();
                total.0 += turn.prompt_tokens;
                total.1 += turn.completion_tokens;
                total.2 += 1;
            }
            let totals: Vec<_> = totals.into_iter().collect();
            for chunk in totals.chunks(PER_STATEMENT) {
                let mut qb = sqlx::QueryBuilder::new(
                    "UPDATE conversations SET prompt_tokens = prompt_tokens + v.column2, \
                     completion_tokens = completion_tokens + v.column3, turns = turns + v.column4, \
                     updated_at = v.column5 FROM (",
                );
                qb.push_values(chunk, |mut values, (id, (prompt, completion, turns))| {
                    values
                        .push_bind(*id)
                        .push_bind(*prompt)
                        .push_bind(*completion)
                        .push_bind(*turns)
                        .push_bind(at);
                });
                qb.push(") AS v WHERE conversations.id = v.column1");
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await.map_err(|e| Failed::AtCommit(e.into()))?;
        });
        Ok(vec![(); rows.len()])
    }
}
