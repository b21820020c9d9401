//! Two providers: the second answers when the first fails or is rate limited.

use std::sync::Arc;

use super::{ChatRequest, ChatResponse, LlmError, LlmProvider};

pub struct Fallback {
    primary: Arc<dyn LlmProvider>,
    secondary: Arc<dyn LlmProvider>,
}

impl Fallback {
    pub fn new(primary: Arc<dyn LlmProvider>, secondary: Arc<dyn LlmProvider>) -> Self {
        Self { primary, secondary }
    }
}

#[async_trait::async_trait]
impl LlmProvider for Fallback {
    fn model(&self) -> &str {
        self.primary.model()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        match self.primary.chat(request).await {
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "first model failed; asking the fallback");
                metrics::counter!("llm_fallbacks_total").increment(1);
                self.secondary.chat(request).await
            }
            other => other,
        }
    }
}
