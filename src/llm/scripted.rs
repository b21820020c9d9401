//! A provider that answers from a script, for tests and benchmarks of everything around the
//! model (no network, no latency).

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{ChatRequest, ChatResponse, LlmError, LlmProvider, Message, Usage};

pub struct Scripted {
    replies: Mutex<VecDeque<Result<Message, LlmError>>>,
    /// When the script runs out, this message is repeated.
    repeat: Message,
    requests: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    pub fn new(replies: Vec<Result<Message, LlmError>>, repeat: Message) -> Self {
        Self {
            replies: Mutex::new(replies.into()),
            repeat,
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl LlmProvider for Scripted {
    fn model(&self) -> &str {
        "scripted"
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let prompt_chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
        if let Ok(mut seen) = self.requests.lock() {
            seen.push(request.clone());
        }
        let next = self.replies.lock().ok().and_then(|mut r| r.pop_front());
        let message = match next {
            Some(reply) => reply?,
            None => self.repeat.clone(),
        };
        Ok(ChatResponse {
            finish_reason: if message.tool_calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            }
            .into(),
            usage: Usage {
                prompt_tokens: (prompt_chars / 4) as u64,
                completion_tokens: (message.content.len() / 4) as u64,
            },
            message,
            model: "scripted".into(),
        })
    }
}
