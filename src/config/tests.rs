//! The settings' checks and defaults.

use std::time::Duration;

use chrono_tz::Tz;

use super::values::read_toml;
use super::*;

#[test]
fn defaults_match_the_contract() {
    let s = Settings::with(&[]).unwrap();
    assert_eq!(s.database_url.expose(), "sqlite://data/coordinator.db");
    assert_eq!(s.addr.to_string(), "127.0.0.1:5001");
    assert_eq!(s.scheduler_tick, Duration::from_secs(30));
    assert_eq!(
        s.reminder_leads,
        vec![Duration::from_secs(24 * 3600), Duration::from_secs(2 * 3600)]
    );
    assert_eq!(s.report_hour, 9);
    assert_eq!(s.timezone, Tz::UTC);
    assert!(s.openai.is_none() && s.telegram.is_none());
    assert_eq!(s.openai_transcription_model, "whisper-1");
    assert_eq!((s.voice_max_bytes, s.voice_max_seconds), (20 * 1024 * 1024, 300));
}

#[test]
fn bad_values_name_the_setting() {
    for (name, value) in [
        ("DATABASE_URL", "mysql://x"),
        ("COORDINATOR_ADDR", "nowhere"),
        ("COORDINATOR_TIMEZONE", "Mars/Olympus"),
        ("COORDINATOR_SCHEDULER_TICK", "often"),
        ("COORDINATOR_REMINDER_LEADS", "24h,soon"),
        ("COORDINATOR_REPORT_HOUR", "25"),
        ("TELEGRAM_API_URL", "not a url"),
        ("COORDINATOR_SECRET_KEY", "c2hvcnQ="),
        ("TELEGRAM_WEBHOOK_SECRET", "has spaces"),
        ("COORDINATOR_OPEN_CHAT", "maybe"),
        ("EMAIL_IMAP_POLL", "sometimes"),
        ("EMAIL_FROM", "nobody"),
        ("VOICE_MAX_BYTES", "lots"),
        ("VOICE_MAX_SECONDS", "0"),
        ("COORDINATOR_INBOX_WORKERS", "0"),
        ("COORDINATOR_INBOX_WORKERS", "1000"),
        ("TELEGRAM_SENDS_PER_SECOND", "0"),
        ("EMAIL_SENDS_PER_SECOND", "fast"),
    ] {
        let err = Settings::with(&[(name, value)]).unwrap_err();
        assert_eq!(err.setting, name, "{err}");
    }
}

#[test]
fn throughput_settings() {
    use crate::domain::Channel;
    let s = Settings::with(&[]).unwrap();
    assert_eq!(s.throughput.inbox_workers, 128);
    assert_eq!(
        s.throughput.sends_per_second(Channel::Telegram).map(|n| n.get()),
        Some(30)
    );
    assert_eq!(s.throughput.sends_per_second(Channel::Cli), None);
    let s = Settings::with(&[
        ("COORDINATOR_INBOX_WORKERS", "4"),
        ("TELEGRAM_SENDS_PER_SECOND", "1000"),
        ("WHATSAPP_SENDS_PER_SECOND", "250"),
    ])
    .unwrap();
    assert_eq!(s.throughput.inbox_workers, 4);
    assert_eq!(
        s.throughput.sends_per_second(Channel::Telegram).map(|n| n.get()),
        Some(1000)
    );
    assert_eq!(
        s.throughput.sends_per_second(Channel::Whatsapp).map(|n| n.get()),
        Some(250)
    );
    assert_eq!(
        s.throughput.sends_per_second(Channel::Discord).map(|n| n.get()),
        Some(20)
    );
}

#[test]
fn whatsapp_template_settings() {
    let s = Settings::with(&[]).unwrap();
    assert_eq!(s.whatsapp_template_name, None);
    assert_eq!(s.whatsapp_template_language, "en");
    assert!(s.whatsapp_template_text_param);
    let s = Settings::with(&[
        ("WHATSAPP_TEMPLATE_NAME", "task_update"),
        ("WHATSAPP_TEMPLATE_LANGUAGE", "pt_BR"),
        ("WHATSAPP_TEMPLATE_TEXT_PARAM", "false"),
    ])
    .unwrap();
    assert_eq!(s.whatsapp_template_name.as_deref(), Some("task_update"));
    assert_eq!(s.whatsapp_template_language, "pt_BR");
    assert!(!s.whatsapp_template_text_param);
    for (name, value) in [
        ("WHATSAPP_TEMPLATE_NAME", "Task Update"),
        ("WHATSAPP_TEMPLATE_LANGUAGE", "en-US"),
        ("WHATSAPP_TEMPLATE_TEXT_PARAM", "sometimes"),
    ] {
        let err = Settings::with(&[(name, value)]).unwrap_err();
        assert_eq!(err.setting, name, "{err}");
    }
}

#[test]
fn discord_ids_are_checked() {
    let key = "ab".repeat(32);
    let err = Settings::with(&[("DISCORD_PUBLIC_KEY", key.as_str())]).unwrap_err();
    assert_eq!(err.setting, "DISCORD_APPLICATION_ID");
    for name in ["DISCORD_APPLICATION_ID", "DISCORD_GUILD_ID"] {
        assert_eq!(Settings::with(&[(name, "my-server")]).unwrap_err().setting, name);
    }
    let s = Settings::with(&[
        ("DISCORD_PUBLIC_KEY", key.as_str()),
        ("DISCORD_APPLICATION_ID", "1100000000000000000"),
        ("DISCORD_GUILD_ID", "1000000000000000001"),
    ])
    .unwrap();
    assert_eq!(s.discord_guild_id.as_deref(), Some("1000000000000000001"));
}

#[test]
fn handbook_model_dir_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let err = Settings::with(&[("HANDBOOK_EMBEDDING_MODEL_DIR", path)]).unwrap_err();
    assert_eq!(err.setting, "HANDBOOK_EMBEDDING_MODEL_DIR");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::write(dir.path().join(file), "{}").unwrap();
    }
    let both = Settings::with(&[
        ("HANDBOOK_EMBEDDING_MODEL_DIR", path),
        ("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small"),
    ]);
    let alone = Settings::with(&[("HANDBOOK_EMBEDDING_MODEL_DIR", path)]);
    if cfg!(feature = "local-embeddings") {
        assert_eq!(both.unwrap_err().setting, "HANDBOOK_EMBEDDING_MODEL_DIR");
        assert_eq!(
            alone.unwrap().handbook_embedding_model_dir.as_deref(),
            Some(dir.path())
        );
    } else {
        assert_eq!(alone.unwrap_err().setting, "HANDBOOK_EMBEDDING_MODEL_DIR");
    }
    let s = Settings::with(&[("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/")]).unwrap();
    assert_eq!(s.openai_base_url, "http://127.0.0.1:11434/v1");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let s = Settings::with(&[
        ("OPENAI_API_KEY", "sk-very-secret"),
        ("TELEGRAM_BOT_TOKEN", "123:bot-secret"),
        ("DATABASE_URL", "postgres://me:hunter2@db/x"),
    ])
    .unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("sk-very-secret"));
    assert!(!debug.contains("bot-secret"));
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("[redacted]"));
}

#[test]
fn toml_keys_are_setting_names_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coordinator.toml");
    std::fs::write(
        &path,
        "coordinator_addr = \"0.0.0.0:8080\"\nCOORDINATOR_OPEN_CHAT = true\n",
    )
    .unwrap();
    let source = read_toml(&path).unwrap();
    let s = Settings::from_source(&source).unwrap();
    assert_eq!(s.addr.to_string(), "0.0.0.0:8080");
    assert!(s.open_chat);
}

#[test]
fn allowances_default_to_the_listed_values() {
    assert_eq!(Settings::with(&[]).unwrap().allowances, Allowances::default());
}

#[test]
fn public_url_gives_telegram_its_webhook_address() {
    let s = Settings::with(&[]).unwrap();
    assert_eq!((s.public_url, s.prompts_dir), (None, PathBuf::from("prompts")));
    let s = Settings::with(&[
        ("COORDINATOR_PUBLIC_URL", "https://team.example.com/coordinator/"),
        ("TELEGRAM_BOT_TOKEN", "1:x"),
    ])
    .unwrap();
    assert_eq!(
        s.public_url.as_deref(),
        Some("https://team.example.com/coordinator")
    );
    assert_eq!(
        s.telegram.unwrap().webhook_url.as_deref(),
        Some("https://team.example.com/coordinator/webhooks/telegram")
    );
    for bad in [
        "team.example.com",
        "ftp://team.example.com",
        "https://x.example/?a=1",
    ] {
        let err = Settings::with(&[("COORDINATOR_PUBLIC_URL", bad)]).unwrap_err();
        assert_eq!(err.setting, "COORDINATOR_PUBLIC_URL", "{bad}");
    }
}
