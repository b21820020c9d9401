//! Text → vectors for the handbook's semantic search. `trait Embedder` and its implementations:
//! an OpenAI-compatible `/embeddings` client (OpenAI, Ollama, vLLM, llama.cpp, a proxy), a local
//! sentence-transformers model run with candle (`local` module, cargo feature
//! `local-embeddings`), and a deterministic embedder for tests and benchmarks. An embedder names
//! itself (`identity`); the index stores that name, so changing the embedder re-embeds.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::config::Secret;

/// Why texts could not be embedded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error("the embedding service could not be reached: {0}")]
    Unreachable(String),
    #[error("the embedding service answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("the embedding service's answer was not usable: {0}")]
    Malformed(String),
    #[error("the local embedding model failed: {0}")]
    Model(String),
}

#[async_trait]
pub trait Embedder: Send + Sync {
    /// The model and whatever changes its vectors, e.g. `openai:text-embedding-3-small`.
    fn identity(&self) -> String;

    /// The confidence (cosine similarity plus a share of the words in common, see
    /// `search`) from which a question counts as answered by the handbook. Depends on the model.
    fn relevance_floor(&self) -> f32 {
        0.5
    }

    /// The confidence from which an answer is given without a caveat: between
    /// [`Self::relevance_floor`] and this, the best passages are shown as the closest the
    /// handbook comes, not as its answer (near misses, such as a meal allowance asked of a
    /// travel policy that has none, mostly land there).
    fn sure_floor(&self) -> f32 {
        self.relevance_floor() + SURE_MARGIN
    }

    /// One vector per text, in order; all of the same length.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// How far above the relevance floor an answer counts as sure: chosen for all-MiniLM-L6-v2 on
/// the `dev` half of `tests/osio_questions.json` (`benches/handbook.rs` reports both halves).
pub const SURE_MARGIN: f32 = 0.11;

/// How many texts go into one request.
const OPENAI_BATCH: usize = 64;
const OPENAI_ATTEMPTS: u32 = 3;

/// Any server speaking OpenAI's `POST {base}/embeddings`.
pub struct OpenAiEmbedder {
    client: reqwest::Client,
    url: String,
    api_key: Option<Secret>,
    model: String,
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    embedding: Vec<f32>,
    #[serde(default)]
    index: usize,
}

impl OpenAiEmbedder {
    /// `base_url` is the API root, e.g. `https://api.openai.com/v1`; a key is optional
    /// (local servers often need none).
    pub fn new(base_url: &str, api_key: Option<Secret>, model: &str) -> Result<Self, EmbedError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| EmbedError::Unreachable(e.to_string()))?;
        Ok(Self {
            client,
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            api_key: api_key.filter(|k| !k.expose().is_empty()),
            model: model.to_owned(),
        })
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::json!({
            "model": self.model,
            "input": texts,
            "encoding_format": "float",
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.post(&self.url).json(&body);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key.expose());
            }
            let (retry, error) = match request.send().await {
                Err(e) => (true, EmbedError::Unreachable(e.without_url().to_string())),
                Ok(response) if response.status().is_success() => {
                    return Self::parse(response, texts.len()).await;
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    let message: String = text.chars().take(300).collect();
                    let retry = status.as_u16() == 429 || status.is_server_error();
                    let status = status.as_u16();
                    (retry, EmbedError::Refused { status, message })
                }
            };
            if !retry || attempt >= OPENAI_ATTEMPTS {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
        }
    }

    async fn parse(response: reqwest::Response, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut parsed: EmbeddingResponse = response
            .json()
            .await
            .map_err(|e| EmbedError::Malformed(e.without_url().to_string()))?;
        if parsed.data.len() != expected {
            return Err(EmbedError::Malformed(format!(
                "{} vectors for {expected} texts",
                parsed.data.len()
            )));
        }
        parsed.data.sort_by_key(|item| item.index);
        let vectors: Vec<Vec<f32>> = parsed.data.into_iter().map(|item| item.embedding).collect();
        check_vectors(&vectors)?;
        Ok(vectors)
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn identity(&self) -> String {
        format!("openai:{}", self.model)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(OPENAI_BATCH) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}

/// Vectors must be non-empty, of one length, and finite.
pub(crate) fn check_vectors(vectors: &[Vec<f32>]) -> Result<(), EmbedError> {
    let Some(first) = vectors.first() else {
        return Ok(());
    };
    if first.is_empty() {
        return Err(EmbedError::Malformed("empty vector".into()));
    }
    if vectors.iter().any(|v| v.len() != first.len()) {
        return Err(EmbedError::Malformed("vectors of different lengths".into()));
    }
    if vectors.iter().flatten().any(|x| !x.is_finite()) {
        return Err(EmbedError::Malformed("a vector has a non-finite value".into()));
    }
    Ok(())
}

/// A deterministic embedder for tests and benchmarks: character trigrams of each lower-cased
/// word, hashed into a fixed number of dimensions, L2-normalised. Texts that share word
/// fragments get similar vectors, so misspellings and word forms still meet; there is no
/// understanding of meaning.
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dimensions: usize,
}

impl HashEmbedder {
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions: dimensions.max(8),
        }
    }

    /// The vector of one text.
    pub fn vector(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dimensions];
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let padded: Vec<char> = format!(" {} ", word.to_lowercase()).chars().collect();
            for gram in padded.windows(3) {
                let h = fnv1a(gram.iter().collect::<String>().as_bytes());
                let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
                v[(h % self.dimensions as u64) as usize] += sign;
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

impl Default for HashEmbedder {
    fn default() -> Self {
        Self::new(256)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn identity(&self) -> String {
        format!("hash-trigram-{}", self.dimensions)
    }

    fn relevance_floor(&self) -> f32 {
        0.5
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.vector(t)).collect())
    }
}

/// Cosine similarity of two vectors of equal length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_vectors_are_deterministic_and_normalised() {
        let e = HashEmbedder::default();
        let a = e.vector("Refund approval thresholds");
        assert_eq!(a, e.vector("Refund approval thresholds"));
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
        let near = cosine(&a, &e.vector("refunds approvals threshold"));
        let far = cosine(&a, &e.vector("quiet hours on the weekend"));
        assert!(near > 0.6 && far < 0.3, "{near} {far}");
        assert!(e.vector("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn vectors_are_checked() {
        assert!(check_vectors(&[vec![1.0, 0.0], vec![0.5, 0.5]]).is_ok());
        assert!(check_vectors(&[vec![1.0], vec![0.5, 0.5]]).is_err());
        assert!(check_vectors(&[vec![f32::NAN]]).is_err());
        assert!(check_vectors(&[vec![]]).is_err());
    }
}
