//! The bundled prompts, the checks of prompt files, and how placeholders are filled.

use std::sync::Arc;

use super::*;
use crate::llm::ToolSpec;
use crate::tools::{Tool, ToolContext, ToolError, Toolbox};

/// The app adds handbook search to the default tools; a stand-in with its name will do here.
struct SearchStandIn;

#[async_trait::async_trait]
impl Tool for SearchStandIn {
    fn name(&self) -> &'static str {
        "search_handbook"
    }

    fn writes(&self) -> bool {
        false
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec::new(self.name(), "A stand-in.", &serde_json::json!({"type": "object"}))
    }

    async fn call(&self, _: &ToolContext, _: &str) -> Result<serde_json::Value, ToolError> {
        unreachable!("not called here")
    }
}

fn toolbox() -> Toolbox {
    let mut toolbox = Toolbox::default();
    toolbox.add(Arc::new(SearchStandIn));
    toolbox
}

fn person_with_profile(profile: &str) -> Person {
    Person {
        id: 1,
        handle: "sam".into(),
        name: "Sam".into(),
        email: None,
        timezone: "UTC".into(),
        role: Role::Member,
        manager: None,
        profile: Some(profile.into()),
        identities: Vec::new(),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }
}

#[test]
fn bundled_profiles_parse_and_guests_only_read() {
    let prompts = Prompts::bundled().unwrap();
    assert!(prompts.system.len() > 100);
    let guest = prompts.profile_for(None, Role::Guest);
    assert_eq!(guest.name, "guest");
    for write in [
        "create_task",
        "change_status",
        "assign_task",
        "propose_action",
        "add_comment",
    ] {
        assert!(!guest.tools.iter().any(|t| t == write), "guests may not {write}");
    }
    let pm = prompts.profile_for(None, Role::Admin);
    assert!(pm.tools.iter().any(|t| t == "propose_action"));
}

#[test]
fn bundled_files_pass_the_checks_of_files_on_disk() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let prompts = Prompts::load(&dir, &toolbox()).unwrap();
    assert!(prompts.from_disk().contains(&"system.md".to_owned()));
    assert!(prompts.from_disk().contains(&"roles/guest.md".to_owned()));
}

#[test]
fn the_system_prompt_is_filled_in_one_pass() {
    let prompts = Prompts::bundled().unwrap();
    let text = prompts.system_prompt("PROFILE TEXT", "Now: Monday. {{profile}}");
    assert!(
        text.ends_with("PROFILE TEXT\n\nNow: Monday. {{profile}}"),
        "{text}"
    );
    let without_speaker = prompts.system_prompt("Answer from the handbook.", "");
    assert!(
        without_speaker.ends_with("Answer from the handbook."),
        "{without_speaker}"
    );
    assert!(!without_speaker.contains("\n\n\n"));
}

#[test]
fn files_on_disk_replace_the_bundled_ones_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let load = || Prompts::load(dir.path(), &toolbox());
    // Nothing there: all built in.
    assert!(load().unwrap().from_disk().is_empty());

    std::fs::create_dir(dir.path().join("roles")).unwrap();
    std::fs::write(
        dir.path().join("system.md"),
        "You are Ada.\n{{speaker}}\n{{ profile }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("roles/sales.md"),
        "+++\nname = \"sales\"\ntools = [\"list_tasks\"]\n+++\nYou sell.\n",
    )
    .unwrap();
    let prompts = load().unwrap();
    assert_eq!(prompts.from_disk(), ["system.md", "roles/sales.md"]);
    assert_eq!(prompts.system_prompt("P", "S"), "You are Ada.\nS\nP");
    let person = person_with_profile("sales");
    assert_eq!(prompts.profile_for(Some(&person), Role::Member).text, "You sell.");
    // Files not there stay built in.
    assert_eq!(prompts.profile_for(None, Role::Guest).name, "guest");

    let cases = [
        (
            "system.md",
            "You are Ada. {{profile}}",
            "missing the placeholder {{speaker}}",
        ),
        (
            "system.md",
            "{{profile}} {{speaker}} {{team}}",
            "unknown placeholder {{team}}",
        ),
        ("roles/sales.md", "You sell.", "missing +++ front matter"),
        (
            "roles/sales.md",
            "+++\nname = \"sales\"\ntools = [\"sell_everything\"]\n+++\nx",
            "unknown tool 'sell_everything'",
        ),
        (
            "roles/guest.md",
            "+++\nname = \"guest\"\ntools = [\"create_task\"]\n+++\nx",
            "'create_task' changes the workspace",
        ),
        (
            "roles/sales.md",
            "+++\nname = \"sales\"\ntools = []\n+++\nHi {{speaker}}",
            "unknown placeholder {{speaker}}",
        ),
    ];
    for (file, text, expected) in cases {
        let before = std::fs::read(dir.path().join(file)).ok();
        std::fs::write(dir.path().join(file), text).unwrap();
        let err = load()
            .err()
            .unwrap_or_else(|| panic!("{file} {text:?} was accepted"));
        assert_eq!(err.setting, "COORDINATOR_PROMPTS_DIR");
        assert!(err.message.contains(file), "{err}");
        assert!(err.message.contains(expected), "{err}");
        match before {
            Some(bytes) => std::fs::write(dir.path().join(file), bytes).unwrap(),
            None => std::fs::remove_file(dir.path().join(file)).unwrap(),
        }
    }
    assert!(load().is_ok());
}
