//! A local sentence-transformers model (BERT family, e.g. all-MiniLM-L6-v2) run on the CPU with
//! candle, so that a self-hoster gets semantic search without any API. The model is read from a
//! folder (`HANDBOOK_EMBEDDING_MODEL_DIR`) holding `config.json`, `tokenizer.json` and
//! `model.safetensors` (and optionally `sentence_bert_config.json` for the sequence length); it
//! is loaded on first use. Vectors are mean-pooled over the tokens and L2-normalised, as
//! sentence-transformers does. Built only with the cargo feature `local-embeddings`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::embed::{check_vectors, EmbedError, Embedder};

/// Texts per forward pass.
const BATCH: usize = 32;
/// Sequence length when the folder does not say.
const DEFAULT_MAX_TOKENS: usize = 256;

struct Loaded {
    model: BertModel,
    tokenizer: Tokenizer,
}

struct State {
    dir: PathBuf,
    loaded: OnceLock<Result<Loaded, String>>,
}

pub struct LocalEmbedder {
    identity: String,
    state: Arc<State>,
}

impl LocalEmbedder {
    /// Checks the folder; the model itself is loaded on first use.
    pub fn new(dir: &Path) -> Result<Self, EmbedError> {
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            if !dir.join(file).is_file() {
                return Err(EmbedError::Model(format!("{} has no {file}", dir.display())));
            }
        }
        let size = std::fs::metadata(dir.join("model.safetensors"))
            .map(|m| m.len())
            .unwrap_or(0);
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into());
        Ok(Self {
            identity: format!("local:{name}:{size}"),
            state: Arc::new(State {
                dir: dir.to_owned(),
                loaded: OnceLock::new(),
            }),
        })
    }
}

/// Fixes the number of threads candle's matrix products use, once, for the whole process.
///
/// candle works out that number at every matrix product: unless `RAYON_NUM_THREADS` is set, it
/// counts the physical cores by reading and parsing `/proc/cpuinfo` again, dozens of times per
/// embedded text (`perf` of `benches/handbook.rs` showed the kernel formatting `/proc/cpuinfo`
/// beside the matrix kernels; one run over the sample handbook opened files 24,695 times
/// before and 2,273 after). The file grows with the number of cores, and so does the cost.
/// Setting `RAYON_NUM_THREADS` to the count candle itself chooses keeps its choice and ends the
/// reads; an operator's own `RAYON_NUM_THREADS` is left alone. Rayon's shared pool (tokenizers,
/// candle's element-wise work) takes the same count.
///
/// The environment is changed, so this must run before any other thread is started: first
/// thing in `main`, before the async runtime.
pub fn settle_thread_count() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = candle_core::utils::get_num_threads();
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

fn max_tokens(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("max_seq_length")?.as_u64())
        .map_or(DEFAULT_MAX_TOKENS, |n| n as usize)
}

fn load(dir: &Path) -> Result<Loaded, String> {
    let config_text = std::fs::read_to_string(dir.join("config.json")).map_err(|e| e.to_string())?;
    let config: Config = serde_json::from_str(&config_text).map_err(|e| format!("config.json: {e}"))?;
    let mut tokenizer =
        Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| format!("tokenizer.json: {e}"))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens(dir),
            ..TruncationParams::default()
        }))
        .map_err(|e| format!("tokenizer: {e}"))?;
    tokenizer.with_padding(Some(PaddingParams::default()));
    let weights = std::fs::read(dir.join("model.safetensors")).map_err(|e| e.to_string())?;
    let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &Device::Cpu)
        .map_err(|e| format!("model.safetensors: {e}"))?;
    let model = BertModel::load(vb, &config).map_err(|e| format!("model: {e}"))?;
    Ok(Loaded { model, tokenizer })
}

impl Loaded {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let err = |e: candle_core::Error| e.to_string();
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| format!("tokenizer: {e}"))?;
        let ids: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_ids(), &Device::Cpu))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let masks: Vec<Tensor> = encodings
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &Device::Cpu))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let ids = Tensor::stack(&ids, 0).map_err(err)?;
        let mask = Tensor::stack(&masks, 0).map_err(err)?;
        let types = ids.zeros_like().map_err(err)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(err)?;
        // Mean over the real tokens, then unit length.
        let mask = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(err)?;
        let summed = hidden.broadcast_mul(&mask).and_then(|h| h.sum(1)).map_err(err)?;
        let counts = mask.sum(1).and_then(|c| c.clamp(1e-9, f32::MAX)).map_err(err)?;
        let pooled = summed.broadcast_div(&counts).map_err(err)?;
        let norms = pooled
            .sqr()
            .and_then(|p| p.sum_keepdim(1))
            .and_then(|s| s.sqrt())
            .and_then(|n| n.clamp(1e-12, f32::MAX))
            .map_err(err)?;
        pooled
            .broadcast_div(&norms)
            .and_then(|p| p.to_vec2::<f32>())
            .map_err(err)
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn identity(&self) -> String {
        self.identity.clone()
    }

    /// Chosen for all-MiniLM-L6-v2 on the `dev` half of `tests/osio_questions.json` and the
    /// sample's set: at most about 5% of answerable questions refused (`benches/handbook.rs`).
    fn relevance_floor(&self) -> f32 {
        0.37
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let state = self.state.clone();
        let texts = texts.to_vec();
        let vectors = tokio::task::spawn_blocking(move || {
            let loaded = state
                .loaded
                .get_or_init(|| load(&state.dir))
                .as_ref()
                .map_err(|e| EmbedError::Model(e.clone()))?;
            let mut vectors = Vec::with_capacity(texts.len());
            for batch in texts.chunks(BATCH) {
                vectors.extend(loaded.embed(batch).map_err(EmbedError::Model)?);
            }
            Ok::<_, EmbedError>(vectors)
        })
        .await
        .map_err(|e| EmbedError::Model(e.to_string()))??;
        check_vectors(&vectors)?;
        Ok(vectors)
    }
}
