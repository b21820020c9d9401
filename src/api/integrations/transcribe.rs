//! `POST /integrations/voice/transcribe`: an audio upload (multipart, field `file`) in, its
//! transcript out. The route has its own body limit, `VOICE_MAX_BYTES` plus room for the form,
//! instead of the API's `COORDINATOR_MAX_BODY_BYTES`.

use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::Router;
use serde::Serialize;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::require_member;
use crate::api::error::{ErrorBody, Json};
use crate::api::{ApiError, ApiResult, AppState, Auth};
use crate::domain::size_text;
use crate::integrations::voice::{unsupported, AudioFormat, TranscribeError};

/// Room for the form's boundaries and other fields around the file.
const FORM_OVERHEAD: usize = 64 * 1024;

/// The upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TranscribeUpload {
    /// The audio: ogg/opus, mp3, m4a, mp4, wav, webm or flac (by its content type, else by its
    /// file name), at most `VOICE_MAX_BYTES`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Transcription {
    pub text: String,
    /// The audio's length, when the transcription service reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// The model that transcribed it (`OPENAI_TRANSCRIPTION_MODEL`).
    pub model: String,
}

/// The route with its own body limit, and its OpenAPI description.
pub fn upload_router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let limit = usize::try_from(state.integrations.voice.limits().max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(FORM_OVERHEAD);
    let (router, openapi) = OpenApiRouter::new().routes(routes!(transcribe)).split_for_parts();
    let router = router
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(DefaultBodyLimit::max(limit));
    (router, openapi)
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "file: larger than the {} allowed (VOICE_MAX_BYTES)",
            size_text(max)
        ),
    )
}

fn form_error(e: MultipartError, max: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(max)
    } else {
        ApiError::bad_request(format!("unreadable form: {}", e.body_text()))
    }
}

fn unavailable(message: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
}

#[utoipa::path(post, operation_id = "voice_transcribe", tag = "integrations", path = "/integrations/voice/transcribe",
    request_body(content = TranscribeUpload, content_type = "multipart/form-data"), security(("bearer" = [])),
    responses((status = 200, body = Transcription), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn transcribe(
    State(s): State<AppState>,
    Auth(actor): Auth,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<Transcription>> {
    require_member(&actor, "transcribe audio")?;
    let voice = &s.integrations.voice;
    let Some(transcriber) = voice.transcriber() else {
        return Err(unavailable(
            "transcription is not configured on this server (it needs OPENAI_API_KEY)",
        ));
    };
    let limits = voice.limits();
    let mut form = form.map_err(|_| {
        ApiError::bad_request("expected a multipart/form-data body with the audio in a field named file")
    })?;
    let mut upload = None;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| form_error(e, limits.max_bytes))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let format = AudioFormat::detect(field.content_type(), field.file_name());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, limits.max_bytes))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > limits.max_bytes {
                return Err(too_large(limits.max_bytes));
            }
        }
        upload = Some((format, bytes));
        break;
    }
    let Some((format, bytes)) = upload else {
        return Err(ApiError::invalid(
            "file",
            "missing: send the audio in a field named file",
        ));
    };
    let format = format.map_err(|seen| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("file: {}", unsupported(&seen)),
        )
    })?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("file", "is empty"));
    }
    let transcript = match transcriber.transcribe(bytes, format).await {
        Ok(transcript) => transcript,
        Err(TranscribeError::Rejected(e)) => {
            return Err(ApiError::invalid(
                "file",
                &format!("the transcription service could not read it: {e}"),
            ))
        }
        Err(TranscribeError::Unavailable(e)) => {
            tracing::warn!(error = %e, "transcription unavailable");
            return Err(unavailable("the transcription service is unavailable, try again"));
        }
        Err(e @ TranscribeError::Misconfigured(_)) => {
            tracing::error!(error = %e, "transcription is misconfigured");
            return Err(unavailable(
                "the transcription service refused this server's request",
            ));
        }
    };
    if let Some(seconds) = transcript.duration_seconds {
        if seconds > f64::from(limits.max_seconds) {
            return Err(ApiError::invalid(
                "file",
                &format!(
                    "the audio lasts {seconds:.0} s; at most {} s are transcribed (VOICE_MAX_SECONDS)",
                    limits.max_seconds
                ),
            ));
        }
    }
    Ok(Json(Transcription {
        text: transcript.text,
        duration_seconds: transcript.duration_seconds,
        model: transcriber.model().to_owned(),
    }))
}
