//! The OpenAI-compatible provider, on async-openai. Requests are built from our types as the
//! chat-completions JSON and read back into our types; async-openai's own types stay here.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use async_openai::Client;
use serde_json::{json, Value};

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

    fn request_json(&self, request: &ChatRequest) -> Value {
        let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
        let mut body = json!({"model": self.model, "messages": messages});
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
                .collect();
            body["tools"] = json!(tools);
            body["tool_choice"] = json!("auto");
        }
        if let Some(max) = request.max_tokens {
            body["max_completion_tokens"] = json!(max);
        }
        body
    }
}

fn message_json(m: &Message) -> Value {
    match m.role {
        Role::System => json!({"role": "system", "content": m.content}),
        Role::User => json!({"role": "user", "content": m.content}),
        Role::Tool => json!({"role": "tool", "content": m.content, "tool_call_id": m.tool_call_id}),
        Role::Assistant if m.tool_calls.is_empty() => json!({"role": "assistant", "content": m.content}),
        Role::Assistant => {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
            let content = if m.content.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
    }
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

fn read_response(response: CreateChatCompletionResponse) -> Result<ChatResponse, LlmError> {
    let usage = response
        .usage
        .map(|u| Usage {
            prompt_tokens: u.prompt_tokens.into(),
            completion_tokens: u.completion_tokens.into(),
        })
        .unwrap_or_default();
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| LlmError::BadResponse("no choices in the answer".into()))?;
    // Read the message back through its JSON, so that we depend only on the wire format.
    let message = serde_json::to_value(&choice.message).map_err(|e| LlmError::BadResponse(e.to_string()))?;
    let tool_calls = message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .filter_map(|c| {
                    Some(ToolCall {
                        id: c["id"].as_str()?.to_owned(),
                        name: c["function"]["name"].as_str()?.to_owned(),
                        arguments: c["function"]["arguments"].as_str().unwrap_or("{}").to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let finish_reason = serde_json::to_value(choice.finish_reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "stop".into());
    Ok(ChatResponse {
        message: Message {
            role: Role::Assistant,
            content: message["content"].as_str().unwrap_or_default().to_owned(),
            tool_calls,
            tool_call_id: None,
        },
        finish_reason,
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
        let body: CreateChatCompletionRequest = serde_json::from_value(self.request_json(request))
            .map_err(|e| LlmError::Refused(e.to_string()))?;
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(TIMEOUT, self.client.chat().create(body)).await {
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
