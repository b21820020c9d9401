//! The layout of `src/`, as `lib.rs` draws it, held against the code's own imports: a module
//! may import only modules of lower layers (and itself). Test modules (`#[cfg(test)]`) are left
//! out: a test may reach anything. A new upward import fails here with the file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bottom to top; modules of one layer do not import each other.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["config"],
    &["store", "llm", "handbook", "message"],
    &["queue", "http", "limits"],
    &["inbox", "outbox", "workspace"],
    &["tools", "integrations", "channels"],
    &["scheduler"],
    &["conversation"],
    &["api", "web"],
    &["app"],
    &["cli", "main", "lib"],
];

/// Imports that knowingly run against the layers: none.
const EXCEPTIONS: &[(&str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::MODULE` names a file uses outside its tests, with their line numbers.
fn imports(text: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let tail = &rest[at + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((name, n + 1));
            }
            rest = tail;
        }
    }
    found
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut modules_seen = std::collections::BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        modules_seen.insert(module.clone());
        let Some(own) = layer_of(&module) else {
            wrong
                .entry(module.clone())
                .or_default()
                .push(format!("{} is in no layer of this test", relative.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (target, line) in imports(&text) {
            if target == module || EXCEPTIONS.contains(&(module.as_str(), target.as_str())) {
                continue;
            }
            let Some(theirs) = layer_of(&target) else {
                continue;
            };
            if theirs >= own {
                wrong
                    .entry(module.clone())
                    .or_default()
                    .push(format!("{}:{line} imports {target}", relative.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers (lower layers must not import higher or equal ones):\n{wrong:#?}"
    );
    // Every layer named here exists, so the list cannot drift into naming nothing.
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(modules_seen.contains(*module), "no module {module} under src/");
    }
}

#[test]
fn the_scanner_sees_imports_and_skips_tests() {
    let text = "use crate::store::Store;\nfn f() { crate::api::x(); }\n#[cfg(test)]\nuse crate::app::App;\n";
    assert_eq!(
        imports(text),
        vec![("store".to_owned(), 1), ("api".to_owned(), 2)]
    );
}
