//! Language models behind our own types: `ChatRequest` in, `ChatResponse` out, with tool specs
//! and tool calls. `LlmProvider` has an OpenAI-compatible implementation (any server that speaks
//! chat completions: OpenAI, Ollama, vLLM, llama.cpp, proxies), a fallback that tries a second
//! provider when the first fails, and a scripted one for tests and benchmarks. Nothing above
//! this module sees async-openai's types.

mod fallback;
mod openai;
mod scripted;

pub use fallback::Fallback;
pub use openai::OpenAiProvider;
pub use scripted::Scripted;

/// Makes *ring* the process's TLS crypto provider, once. The OpenAI client's HTTP stack is built
/// without a provider of its own (its default would compile a second cryptography library,
/// aws-lc, into the binary); every other client here already uses *ring*. Called before an
/// OpenAI-compatible client is made.
pub fn ensure_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An error means a provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool the model asked for, with its arguments as the JSON text the model wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// Calls an assistant message makes.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the call it answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::plain(Role::Assistant, content)
    }

    pub fn tool_result(call_id: &str, content: impl Into<String>) -> Self {
        Self {
            role: Role::Tool,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.to_owned()),
        }
    }

    fn plain(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool the model may call: its name, what it does, and a JSON schema of its arguments.
///
/// The schema is kept as JSON text, serialized once when the spec is made: every request to the
/// model carries every allowed tool's schema, and encoding them from a JSON tree on each
/// request was most of a provider's own work in a turn.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: std::sync::Arc<serde_json::value::RawValue>,
}

impl ToolSpec {
    /// A spec whose argument schema is `parameters`.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: &serde_json::Value,
    ) -> Self {
        // A `Value` always serializes; `null` (no schema) is the answer if it ever did not.
        let text = serde_json::value::to_raw_value(parameters)
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        Self {
            name: name.into(),
            description: description.into(),
            parameters: std::sync::Arc::from(text),
        }
    }
}

impl PartialEq for ToolSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.description == other.description
            && self.parameters.get() == other.parameters.get()
    }
}

#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

#[derive(Debug, Clone)]
pub struct ChatResponse {
    /// The assistant's message: text, tool calls, or both.
    pub message: Message,
    pub finish_reason: String,
    pub usage: Usage,
    /// Which model answered (the fallback's, when it was used).
    pub model: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("the model is rate limited: {0}")]
    RateLimited(String),
    #[error("the model is unavailable: {0}")]
    Unavailable(String),
    #[error("the model's answer could not be used: {0}")]
    BadResponse(String),
    #[error("the request was refused: {0}")]
    Refused(String),
}

impl LlmError {
    /// Worth trying another provider.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited(_) | LlmError::Unavailable(_) | LlmError::BadResponse(_)
        )
    }
}

#[async_trait::async_trait]
pub trait LlmProvider: Send + Sync {
    /// The model's name, for records.
    fn model(&self) -> &str;

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;
}
