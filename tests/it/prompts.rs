//! Prompt files on disk: `COORDINATOR_PROMPTS_DIR` (default `prompts` in the working directory)
//! replaces the built-in prompts at start; a bad file stops the start, naming it.

use serde_json::json;

use crate::cli::coordinator;
use crate::fake_openai::{FakeOpenAi, Scripted};
use crate::helpers::{both_dbs, Db, TestApp};

both_dbs!(prompt_files_on_disk_replace_the_built_in_ones);

fn write(dir: &std::path::Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

async fn prompt_files_on_disk_replace_the_built_in_ones(db: Db) {
    let ai = FakeOpenAi::start().await;
    let prompts = tempfile::tempdir().unwrap();
    write(
        prompts.path(),
        "system.md",
        "You are Ada, who coordinates the Harbourline team.\n\n{{profile}}\n\n{{speaker}}\n",
    );
    write(
        prompts.path(),
        "roles/project-manager.md",
        "+++\nname = \"project-manager\"\ntools = [\"list_tasks\"]\n+++\nYou plan the launch and nothing else.\n",
    );
    let app = TestApp::builder(db)
        .with_openai(&ai)
        .with("COORDINATOR_PROMPTS_DIR", prompts.path().to_str().unwrap())
        .spawn()
        .await;
    ai.script(vec![Scripted::Text("Hello.".into())]);
    // The API's admin token speaks as an admin: the project manager's profile.
    let reply = app.post("/ai/chat", json!({"message": "hello"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let requests = ai.requests();
    let system = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are Ada, who coordinates the Harbourline team.\n\nYou plan the launch and nothing else.\n\nNow: "),
        "{system}"
    );
    assert!(!system.contains("{{"), "every placeholder is filled: {system}");
    assert!(
        !system.contains("You are the project coordinator for this team"),
        "the built-in system prompt is replaced: {system}"
    );
    let tools: Vec<&str> = requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(tools, ["list_tasks"], "the profile on disk chose the tools");
}

/// `coordinator migrate` builds the agent (with a model configured), so it checks the prompts.
fn start_with_prompts(dir: &std::path::Path, prompts_dir: Option<&str>) -> (Option<i32>, String) {
    let mut command = coordinator(dir);
    command.arg("migrate").env("OPENAI_API_KEY", "test-key");
    if let Some(prompts_dir) = prompts_dir {
        command.env("COORDINATOR_PROMPTS_DIR", prompts_dir);
    }
    let out = command.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_prompt_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // The default folder: `prompts` in the working directory.
    write(dir.path(), "prompts/system.md", "You coordinate. {{profile}}\n");
    let (code, err) = start_with_prompts(dir.path(), None);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("COORDINATOR_PROMPTS_DIR"), "{err}");
    assert!(err.contains("prompts/system.md"), "{err}");
    assert!(err.contains("missing the placeholder {{speaker}}"), "{err}");

    write(
        dir.path(),
        "prompts/system.md",
        "You coordinate.\n{{profile}}\n{{speaker}}\n",
    );
    assert_eq!(start_with_prompts(dir.path(), None).0, Some(0));

    let elsewhere = tempfile::tempdir().unwrap();
    write(
        elsewhere.path(),
        "roles/guest.md",
        "+++\nname = \"guest\"\ntools = [\"list_tasks\", \"create_task\"]\n+++\nBe polite.\n",
    );
    let (code, err) = start_with_prompts(dir.path(), elsewhere.path().to_str());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("roles/guest.md"), "{err}");
    assert!(err.contains("'create_task' changes the workspace"), "{err}");
}

/// Without a model there is no agent, and prompt files are not read.
#[test]
fn without_a_model_prompt_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "prompts/system.md", "broken");
    let out = coordinator(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
