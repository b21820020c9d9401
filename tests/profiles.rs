//! The build profiles keep their promise: `release` builds LanceDB's engine (and the few other
//! crates off the service's paths) unoptimized for a short cold build, and `dist` (the Docker
//! image, release artefacts) builds every one of those crates optimized again. A custom profile
//! inherits its parent's package settings, so a crate added to `release`'s list and not to
//! `dist`'s would ship unoptimized. The crates that every message, command, search or turn runs
//! through stay optimized in `release` too.

use std::collections::BTreeMap;

fn levels(manifest: &toml::Table, profile: &str) -> BTreeMap<String, i64> {
    let packages = manifest["profile"][profile]["package"]
        .as_table()
        .unwrap_or_else(|| panic!("[profile.{profile}.package] is missing"));
    packages
        .iter()
        .filter(|(name, _)| name.as_str() != "*")
        .map(|(name, settings)| {
            let level = settings["opt-level"]
                .as_integer()
                .unwrap_or_else(|| panic!("{profile}: {name} has no numeric opt-level"));
            (name.clone(), level)
        })
        .collect()
}

fn manifest() -> toml::Table {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn dist_optimizes_every_crate_that_release_leaves_unoptimized() {
    let manifest = manifest();
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();

    let release = levels(&manifest, "release");
    let dist = levels(&manifest, "dist");
    let unoptimized: Vec<&String> = release
        .iter()
        .filter(|(_, level)| **level == 0)
        .map(|(name, _)| name)
        .collect();
    assert!(unoptimized.iter().any(|n| *n == "lance"), "{release:?}");
    for name in unoptimized {
        assert_eq!(dist.get(name), Some(&3), "dist must build {name} at level 3");
        // A crate renamed or dropped by an upgrade would leave its setting matching nothing.
        assert!(
            lock.contains(&format!("name = \"{name}\"\n")),
            "{name} is not in Cargo.lock"
        );
    }
}

/// What a webhook, a command, an agent turn, a reply or a handbook search runs through: none of
/// these may be left unoptimized in `release` to shorten its build.
const HOT: &[&str] = &[
    "axum",
    "candle-core",
    "candle-nn",
    "gemm-common",
    "gemm-f32",
    "hyper",
    "libsqlite3-sys",
    "mimalloc",
    "reqwest",
    "rustls",
    "serde",
    "serde_json",
    "sqlx-core",
    "sqlx-postgres",
    "sqlx-sqlite",
    "teloxide-core",
    "tokenizers",
    "tokio",
];

#[test]
fn release_optimizes_the_services_paths() {
    let manifest = manifest();
    let release = levels(&manifest, "release");
    let profile = &manifest["profile"]["release"];
    // What a crate without a setting of its own gets: `package."*"`, else the profile's level.
    let default = profile
        .get("package")
        .and_then(|p| p.get("*"))
        .unwrap_or(profile)
        .get("opt-level")
        .and_then(toml::Value::as_integer);
    assert_eq!(default, Some(3));
    for name in HOT {
        assert!(
            release.get(*name).is_none_or(|level| *level == 3),
            "release must build {name} optimized: it is on the service's paths"
        );
    }
}
