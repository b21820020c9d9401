//! The OpenAI-compatible provider, on async-openai's client (its retries, errors and
//! configuration) with our own request and answer types in the chat-completions wire format.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::Client;
use serde::{Deserialize, Serialize};

use super::{ChatRequest, ChatResponse, LlmError, LlmProvider, Message, Role, ToolCall, Usage};
use crate::config::OpenAiSettings;

/// A whole answer (with async-openai's own quick retries of 429 and 5xx) must come within this.
const TIMEOUT: Duration = Duration::from_secs(90);

pub struct OpenAiProvider {
    client: Client<OpenAIConfig>,
    model: String,
    name: &'static str,
}

impl OpenAiProvider {
    /// `name` tells the first provider from the fallback in logs and metrics.
    pub fn new(settings: &OpenAiSettings, name: &'static str) -> Self {
        super::ensure_tls_provider();
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.clone())
            .with_api_key(settings.api_key.expose());
        Self {
            client: Client::with_config(config),
            model: settings.model.clone(),
            name,
        }
    }

    /// The chat-completions request body, borrowing from `request`.
    fn body<'a>(&'a self, request: &'a ChatRequest) -> Body<'a> {
        Body {
            model: &self.model,
            messages: request.messages.iter().map(WireMessage::from).collect(),
            tools: request
                .tools
                .iter()
                .map(|t| WireTool {
                    kind: "function",
                    function: t,
                })
                .collect(),
            tool_choice: (!request.tools.is_empty()).then_some("auto"),
            max_completion_tokens: request.max_tokens,
        }
    }
}

/// `POST /chat/completions`, as the chat-completions API documents it; serialized straight from
/// our types (no intermediate JSON tree: on a busy server that cost more than the rest of a
/// turn's own work).
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    /// `null` only for an assistant message that makes tool calls and says nothing.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireCall<'a>>,
}

impl<'a> From<&'a Message> for WireMessage<'a> {
    fn from(m: &'a Message) -> Self {
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Tool => "tool",
            Role::Assistant => "assistant",
        };
        let calls: Vec<WireCall<'a>> = match m.role {
            Role::Assistant => m
                .tool_calls
                .iter()
                .map(|c| WireCall {
                    id: &c.id,
                    kind: "function",
                    function: WireCallFunction {
                        name: &c.name,
                        arguments: &c.arguments,
                    },
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            role,
            content: (calls.is_empty() || !m.content.is_empty()).then_some(m.content.as_str()),
            tool_call_id: match m.role {
                Role::Tool => Some(m.tool_call_id.as_deref().unwrap_or_default()),
                _ => None,
            },
            tool_calls: calls,
        }
    }
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// A spec is the wire format's `function` object as it is: name, description, parameters.
    function: &'a super::ToolSpec,
}

#[derive(Serialize)]
struct WireCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireCallFunction<'a>,
}

#[derive(Serialize)]
struct WireCallFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// The parts of a chat completion we read. Lenient where OpenAI-compatible servers differ:
/// a tool call without an id or a name is left out, missing arguments are `{}`.
#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    content: Option<String>,
    tool_calls: Option<Vec<AnswerCall>>,
}

#[derive(Deserialize)]
struct AnswerCall {
    id: Option<String>,
    function: Option<AnswerFunction>,
}

#[derive(Deserialize)]
struct AnswerFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

fn classify(e: OpenAIError) -> LlmError {
    match e {
        OpenAIError::ApiError(api) => {
            let status = api.status_code.as_u16();
            let text = api.to_string();
            match status {
                429 if api.api_error.r#type.as_deref() == Some("insufficient_quota") => {
                    LlmError::Refused(text)
                }
                429 => LlmError::RateLimited(text),
                500..=599 | 408 => LlmError::Unavailable(text),
                _ => LlmError::Refused(text),
            }
        }
        OpenAIError::Reqwest(e) => LlmError::Unavailable(e.to_string()),
        OpenAIError::JSONDeserialize(e, _) => LlmError::BadResponse(e.to_string()),
        other => LlmError::Unavailable(other.to_string()),
    }
}

fn read_response(response: Completion) -> Result<ChatResponse, LlmError> {
    let usage = response
        .usage
        .map(|u| Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        })
        .unwrap_or_default();
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::BadResponse("no choices in the answer".into()))?;
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let function = c.function?;
            Some(ToolCall {
                id: c.id?,
                name: function.name?,
                arguments: function.arguments.unwrap_or_else(|| "{}".to_owned()),
            })
        })
        .collect();
    Ok(ChatResponse {
        message: Message {
            role: Role::Assistant,
            content: choice.message.content.unwrap_or_default(),
            tool_calls,
            tool_call_id: None,
        },
        finish_reason: choice.finish_reason.unwrap_or_else(|| "stop".into()),
        usage,
        model: response.model,
    })
}

#[async_trait::async_trait]
impl LlmProvider for OpenAiProvider {
    fn model(&self) -> &str {
        &self.model
    }

    #[tracing::instrument(skip_all, fields(provider = self.name, model = %self.model))]
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.body(request);
        let started = std::time::Instant::now();
        let chat = self.client.chat();
        let call = chat.create_byot::<_, Completion>(&body);
        let result = match tokio::time::timeout(TIMEOUT, call).await {
            Err(_) => Err(LlmError::Unavailable(format!("no answer within {TIMEOUT:?}"))),
            Ok(result) => result.map_err(classify).and_then(read_response),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(LlmError::RateLimited(_)) => "rate_limited",
            Err(_) => "error",
        };
        metrics::counter!("llm_requests_total", "provider" => self.name, "outcome" => outcome).increment(1);
        metrics::histogram!("llm_request_seconds", "provider" => self.name)
            .record(started.elapsed().as_secs_f64());
        result
    }
}
