//! What an operator relies on when installing and upgrading: `--help` explains every command
//! and option, and `coordinator migrate` (which `serve` also runs) tolerates a schema that a
//! newer version already migrated, so that replicas of the previous version keep starting
//! during a rolling upgrade.

use std::process::{Command, Stdio};

use crate::helpers::{both_dbs, fresh_database, Db};

fn coordinator(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coordinator"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HANDBOOK_MODEL_URL", "off")
        .stdin(Stdio::null());
    cmd
}

fn help(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = coordinator(dir.path()).args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_explains_every_command_and_option() {
    let top = help(&["--help"]);
    for command in [
        "serve", "migrate", "chat", "token", "handbook", "report", "discord", "init", "telegram",
    ] {
        assert!(
            top.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing from --help:\n{top}"
        );
    }
    for words in ["DATABASE_URL", "COORDINATOR_ADDR", "Exit codes"] {
        assert!(top.contains(words), "{words} missing from --help:\n{top}");
    }
    let subcommands: &[&[&str]] = &[
        &["serve"],
        &["migrate"],
        &["chat"],
        &["token", "create"],
        &["handbook", "ingest"],
        &["handbook", "search"],
        &["report"],
        &["discord", "register"],
        &["init"],
        &["telegram", "status"],
    ];
    for command in subcommands {
        let mut args = command.to_vec();
        args.push("--help");
        let text = help(&args);
        // Every option carries an explanation: on its line (short layout) or below it (long).
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let option = line.trim_start();
            if option.starts_with("--") && !option.starts_with("--help") && !option.starts_with("--version") {
                let same_line = option
                    .split_once("  ")
                    .is_some_and(|(_, rest)| !rest.trim().is_empty());
                let explained = same_line
                    || lines
                        .get(i + 1)
                        .is_some_and(|next| next.starts_with("          ") && !next.trim().is_empty());
                assert!(
                    explained,
                    "{command:?}: option without an explanation: {line}\n{text}"
                );
            }
        }
        assert!(text.lines().count() > 3, "{command:?}: {text}");
    }
}

/// What a newer version leaves behind: a migration this build does not know, recorded as applied.
async fn record_future_migration(db: Db, url: &str) {
    let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
               VALUES (99999, 'from a newer version', TRUE, $1, 0)";
    match db {
        Db::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sql).bind(vec![0u8; 48]).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Db::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).bind(vec![0u8; 48]).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

async fn the_previous_version_starts_on_a_migrated_schema(db: Db) {
    let (url, dir) = fresh_database(db).await;
    let migrate = || {
        let out = coordinator(dir.path())
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .env("COORDINATOR_DATA_DIR", dir.path().join("data"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = migrate();
    assert_eq!(code, Some(0), "{err}");
    record_future_migration(db, &url).await;
    let (code, err) = migrate();
    assert_eq!(
        code,
        Some(0),
        "a newer schema stopped this version from starting: {err}"
    );
}

both_dbs!(the_previous_version_starts_on_a_migrated_schema);
