//! The binary itself: exit codes, `migrate`, `token create`, and a graceful stop on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

/// The binary, run in `dir` with nothing in its environment but `PATH`.
pub(crate) fn coordinator(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coordinator"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HANDBOOK_MODEL_URL", "off")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn bad_setting_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = coordinator(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    std::fs::write(
        dir.path().join("coordinator.toml"),
        "COORDINATOR_SCHEDULER_TICK = \"sometimes\"\n",
    )
    .unwrap();
    let out = coordinator(dir.path()).arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COORDINATOR_SCHEDULER_TICK"));

    let out = coordinator(dir.path()).arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_terminal_chat_prints_replies_not_log_lines() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("handbook")).unwrap();
    std::fs::write(
        dir.path().join("handbook/leave.md"),
        "# Leave\n\nEveryone gets 26 days of paid vacation a year.\n",
    )
    .unwrap();
    let chat = |input: &[u8]| {
        let mut child = coordinator(dir.path())
            .arg("chat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The question indexes the handbook in this process, which the service logs at INFO.
    let (stdout, _) = chat(b"/newtask Order the banners\n");
    assert!(stdout.contains("Created #1: Order the banners"), "{stdout}");
    let (stdout, stderr) = chat(b"/ask how many vacation days\n");
    assert!(stdout.contains("26 days of paid vacation"), "{stdout}");
    assert!(!stderr.contains("INFO"), "{stderr}");
}

#[test]
fn migrate_and_token_create_use_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = coordinator(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("data/coordinator.db").exists());

    let out = coordinator(dir.path())
        .args(["token", "create", "--name", "crm", "--role", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("crd_"), "{token}");
    // Only the hash is stored.
    let db = std::fs::read(dir.path().join("data/coordinator.db")).unwrap();
    let wal = std::fs::read(dir.path().join("data/coordinator.db-wal")).unwrap_or_default();
    let needle = token.as_bytes();
    assert!(!db.windows(needle.len()).any(|w| w == needle));
    assert!(!wal.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn serve_prints_a_first_token_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = coordinator(dir.path())
        .env("COORDINATOR_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut healthy = false;
    for _ in 0..100 {
        if client.get(&url).send().is_ok_and(|r| r.status() == 200) {
            healthy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(healthy, "the service did not come up");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(code) = child.try_wait().unwrap() {
            exited = Some(code);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let exited = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the service did not stop on SIGTERM")
    });
    assert!(exited.success());
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(out.contains("crd_"), "{out}");
    // Nobody is an admin yet: the one-time claim code, on a line of its own.
    assert!(
        out.lines()
            .any(|l| l.strip_prefix("/claim ").is_some_and(|code| code.len() == 12)),
        "{out}"
    );
}

#[test]
fn tokens_are_listed_and_revoked_and_names_stay_unique() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| coordinator(dir.path()).args(args).output().unwrap();
    let made = run(&["token", "create", "--name", "ci", "--expires", "30d"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let token = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    // A taken name is a bad argument.
    let again = run(&["token", "create", "--name", "ci"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let bad = run(&["token", "create", "--name", "x", "--expires", "whenever"]);
    assert_eq!(bad.status.code(), Some(2));

    let list = run(&["token", "list"]);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    let row = text
        .lines()
        .find(|l| l.starts_with("ci "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("member"), "{row}");
    assert!(!text.contains(&token), "the list shows a token");
    // The expiry is 30 days out: a date, not "-".
    assert_eq!(row.split_whitespace().filter(|w| *w == "-").count(), 2, "{row}");

    assert!(run(&["token", "revoke", "ci"]).status.success());
    let listed = String::from_utf8_lossy(&run(&["token", "list"]).stdout).to_string();
    let row = listed.lines().find(|l| l.starts_with("ci ")).unwrap().to_owned();
    assert_eq!(
        row.split_whitespace().filter(|w| *w == "-").count(),
        1,
        "revoked: {row}"
    );
    assert_eq!(run(&["token", "revoke", "ci"]).status.code(), Some(2));
}
