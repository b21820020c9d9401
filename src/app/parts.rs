//! The parts `App::build` puts together from the settings: the platforms' outbound sides, voice
//! notes, inbound mail, where files go, and what the prompts came from.

use std::sync::Arc;

use crate::channels::discord::Discord;
use crate::channels::slack::Slack;
use crate::channels::telegram::Telegram;
use crate::config::Settings;
use crate::domain;
use crate::inbox::InboxWriter;
use crate::integrations::voice::{self, Transcriber, Voice};
use crate::message::Channels;
use crate::outbox::OutboxWriter;
use crate::store::Store;

/// Says which prompts came from `dir` and which are built in.
pub(super) fn log_prompts(dir: &std::path::Path, from_disk: &[String]) {
    if from_disk.is_empty() {
        tracing::info!("prompts: all built in ({} has no prompt files)", dir.display());
    } else {
        tracing::info!(
            "prompts from {}: {}; the others built in",
            dir.display(),
            from_disk.join(", ")
        );
    }
}

/// Reads inbound mail into the inbox, when `EMAIL_FROM` is set; `None` (with an error logged)
/// when senders cannot be authenticated.
pub(super) fn email_ingest(
    settings: &Settings,
    store: &Store,
    inbox: InboxWriter,
    outbox: OutboxWriter,
) -> Option<crate::channels::email::Ingest> {
    let bot = settings.email_from.clone()?;
    let auth = match crate::channels::email::auth::SenderAuth::new(
        settings.email_trusted_authserv_id.clone(),
        settings.email_dns_server,
    ) {
        Ok(auth) => auth,
        Err(e) => {
            tracing::error!(error = %e, "email is not available: senders cannot be authenticated");
            return None;
        }
    };
    Some(crate::channels::email::Ingest::new(
        store.clone(),
        inbox,
        outbox,
        bot,
        auth,
    ))
}

/// The outbound side of every configured platform.
pub(super) fn channels(
    settings: &Settings,
    store: &Store,
    telegram: Option<&Telegram>,
    discord: Option<&Discord>,
) -> Channels {
    let mut channels = Channels::default();
    if let Some(telegram) = telegram {
        channels.add(Arc::new(telegram.outbound()));
    }
    if let Some(discord) = discord {
        channels.add(Arc::new(discord.outbound(store.clone())));
    }
    if let Some(whatsapp) = crate::channels::whatsapp::outbound(settings, store.clone()) {
        channels.add(Arc::new(whatsapp));
    }
    match crate::channels::email::outbound(settings, store.clone()) {
        Ok(Some(email)) => channels.add(Arc::new(email)),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "email sending is not available"),
    }
    channels
}

/// Voice notes: transcribed with `OPENAI_API_KEY` at `OPENAI_BASE_URL`, fetched from each
/// configured platform (email's audio is kept in the store when it arrives).
pub(super) fn voice(
    settings: &Settings,
    store: &Store,
    telegram: Option<&Telegram>,
    slack: Option<&Slack>,
) -> Voice {
    let transcriber = settings.openai.as_ref().map(|openai| {
        Arc::new(Transcriber::new(
            &openai.base_url,
            openai.api_key.expose(),
            &settings.openai_transcription_model,
        ))
    });
    let limits = voice::Limits {
        max_bytes: settings.voice_max_bytes,
        max_seconds: settings.voice_max_seconds,
    };
    let mut voice = Voice::new(store.clone(), transcriber, limits, settings.open_chat);
    if let Some(telegram) = telegram {
        voice.add_source(domain::Channel::Telegram, Arc::new(telegram.media()));
    }
    if let Some(slack) = slack {
        voice.add_source(domain::Channel::Slack, Arc::new(slack.media()));
    }
    if let Some(whatsapp) = crate::channels::whatsapp::media(settings) {
        voice.add_source(domain::Channel::Whatsapp, Arc::new(whatsapp));
    }
    if settings.discord_token.is_some() || settings.discord_public_key.is_some() {
        match crate::channels::discord::media::DiscordMedia::new(&settings.discord_api_url) {
            Ok(discord) => voice.add_source(domain::Channel::Discord, Arc::new(discord)),
            Err(e) => tracing::warn!(error = %e, "Discord attachments cannot be fetched"),
        }
    }
    let email = crate::channels::email::media::EmailMedia { store: store.clone() };
    voice.add_source(domain::Channel::Email, Arc::new(email));
    voice
}

/// Where the bytes of files on tasks go: the S3-compatible bucket when `FILES_S3_BUCKET` is
/// set, else the data folder.
pub(super) fn file_blobs(settings: &Settings) -> anyhow::Result<crate::store::Blobs> {
    let Some(s3) = &settings.files_s3 else {
        return Ok(crate::store::Blobs::Folder(crate::store::FileFolder::under(
            &settings.data_dir,
        )));
    };
    let location = crate::store::S3Location {
        endpoint: &s3.endpoint,
        path_style: s3.path_style,
        bucket: &s3.bucket,
        region: &s3.region,
        access_key_id: s3.access_key_id.expose(),
        secret_access_key: s3.secret_access_key.expose(),
    };
    let blobs = crate::store::S3Blobs::new(&location)
        .map_err(|e| crate::config::ConfigError::new("FILES_S3_ENDPOINT", e))?;
    Ok(crate::store::Blobs::S3(blobs))
}
