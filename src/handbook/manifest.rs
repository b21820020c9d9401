//! `files.json` beside the index: what the last complete ingest indexed (each file's hash, the
//! embedder, the passage count). An ingest that finds the folder exactly as listed there has
//! nothing to do and does not open the index at all, so a restarted service with an unchanged
//! handbook does not load LanceDB until the first search. The list is removed before an ingest
//! changes the table and written again once it has finished, so it never vouches for a
//! half-written index.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::index::{self, FORMAT};
use super::ingest::SourceFile;

const FILE: &str = "files.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: u32,
    embedder: Option<String>,
    /// File name → SHA-256 of its text.
    files: BTreeMap<String, String>,
    pub passages: usize,
}

impl Manifest {
    pub fn new(embedder: Option<String>, files: &[SourceFile], passages: usize) -> Self {
        Self {
            format: FORMAT,
            embedder,
            files: files.iter().map(|f| (f.name.clone(), f.hash.clone())).collect(),
            passages,
        }
    }

    /// The manifest in `index_dir`, when there is one and its table is there too.
    pub fn read(index_dir: &Path) -> Option<Self> {
        if !index_dir
            .join(format!("{}.lance", index::live_table(index_dir)))
            .is_dir()
        {
            return None;
        }
        let text = std::fs::read_to_string(index_dir.join(FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Whether the index already holds exactly `files`, embedded by `embedder`.
    pub fn covers(&self, files: &[SourceFile], embedder: &Option<String>) -> bool {
        self.format == FORMAT
            && &self.embedder == embedder
            && self.files.len() == files.len()
            && files.iter().all(|f| self.files.get(&f.name) == Some(&f.hash))
    }

    /// Writes the manifest (through a temporary file, so a reader never sees half of it).
    pub fn write(&self, index_dir: &Path) -> std::io::Result<()> {
        let temp = path(index_dir).with_extension("json.tmp");
        std::fs::write(&temp, serde_json::to_vec(self).unwrap_or_default())?;
        std::fs::rename(&temp, path(index_dir))
    }

    /// Forgets what was indexed: the next ingest compares against the table itself.
    pub fn remove(index_dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path(index_dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn path(index_dir: &Path) -> PathBuf {
    index_dir.join(FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, hash: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            hash: hash.into(),
            text: String::new(),
        }
    }

    #[test]
    fn a_manifest_covers_only_the_same_files_and_embedder_with_its_table_present() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![file("a.md", "1"), file("b.md", "2")];
        let manifest = Manifest::new(Some("model".into()), &files, 7);
        manifest.write(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()), None, "no table, no manifest");
        std::fs::create_dir(dir.path().join(format!("{}.lance", index::TABLE))).unwrap();
        let read = Manifest::read(dir.path()).unwrap();
        assert_eq!(read.passages, 7);
        assert!(read.covers(&files, &Some("model".into())));
        assert!(!read.covers(&files, &None), "another embedder");
        assert!(!read.covers(&files[..1], &Some("model".into())), "a file removed");
        let changed = vec![file("a.md", "1"), file("b.md", "3")];
        assert!(!read.covers(&changed, &Some("model".into())), "a file changed");
        let added = vec![file("a.md", "1"), file("b.md", "2"), file("c.md", "4")];
        assert!(!read.covers(&added, &Some("model".into())), "a file added");
        Manifest::remove(dir.path()).unwrap();
        Manifest::remove(dir.path()).unwrap();
        assert_eq!(Manifest::read(dir.path()), None);
    }
}
