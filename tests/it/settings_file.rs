//! `coordinator init` and `.env.example`: one commented list of every setting, written from
//! the catalog in `src/config/`, never over an existing file.

use crate::cli::coordinator;

const EXAMPLE: &str = include_str!("../../.env.example");

#[test]
fn init_writes_every_setting_once_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    // A broken coordinator.toml does not stand in the way of writing a first .env.
    std::fs::write(dir.path().join("coordinator.toml"), "not = [toml").unwrap();
    let out = coordinator(dir.path()).arg("init").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".env"));
    let written = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    assert_eq!(
        written, EXAMPLE,
        ".env.example must be what `coordinator init` writes"
    );
    // Everything is commented out: nothing is set, least of all an invented secret.
    assert!(written.lines().all(|l| l.is_empty() || l.starts_with('#')));

    std::fs::write(dir.path().join(".env"), "TELEGRAM_BOT_TOKEN=mine\n").unwrap();
    let again = coordinator(dir.path()).arg("init").output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains(".env exists already"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".env")).unwrap(),
        "TELEGRAM_BOT_TOKEN=mine\n",
        "left as it was"
    );
}

#[test]
fn the_example_lists_every_setting_with_its_default() {
    for group in coordinator::config::setting_groups() {
        assert!(EXAMPLE.contains(&format!("# --- {} ---\n", group.title)));
        for s in group.settings {
            let line = format!("\n# {}={}\n", s.name, s.default.unwrap_or(""));
            assert!(EXAMPLE.contains(&line), "{line:?} is missing");
        }
    }
}

#[test]
fn the_written_file_is_read_by_the_service() {
    let dir = tempfile::tempdir().unwrap();
    assert!(coordinator(dir.path())
        .arg("init")
        .output()
        .unwrap()
        .status
        .success());
    // As written (all defaults), the service starts.
    let out = coordinator(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // An uncommented line takes effect: a bad value is named.
    let env = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    let env = env.replace("# COORDINATOR_REPORT_HOUR=9", "COORDINATOR_REPORT_HOUR=25");
    std::fs::write(dir.path().join(".env"), env).unwrap();
    let out = coordinator(dir.path()).arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COORDINATOR_REPORT_HOUR"));
}
