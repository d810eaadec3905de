//! Rules of the code base that ARCHITECTURE.md states as invariants, checked over the sources:
//! front ends reach storage only through the core and the core only through its API, the API
//! crate does no I/O, nothing refers to documents outside the repository, and tests wait by
//! signals or bounded polling, never by fixed sleeps.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// Lines of `files` that match `bad`, as `path:line: text`.
fn offending(files: &[PathBuf], bad: impl Fn(&str, &[&str], usize) -> bool) -> Vec<String> {
    let root = root();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if bad(line, &lines, i) {
                let shown = file.strip_prefix(&root).unwrap_or(file).display().to_string();
                found.push(format!("{shown}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

/// The `[dependencies]` table's keys of a manifest (the manifests keep one dependency per line).
fn dependencies(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(manifest)).unwrap();
    text.lines()
        .skip_while(|l| l.trim() != "[dependencies]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split_once('=').map(|(key, _)| key.trim()))
        .filter(|key| !key.starts_with('#'))
        // `tokio.workspace = true` names `tokio`.
        .map(|key| key.split('.').next().unwrap_or(key).to_string())
        .collect()
}

/// The core's domain modules, which no front end may name (ARCHITECTURE.md: one door).
const DOMAIN_MODULES: [&str; 13] = [
    "scheduler",
    "ocr",
    "orders",
    "accounts",
    "audit",
    "overview",
    "health",
    "events",
    "db",
    "redis_conn",
    "ratelimit",
    "facade",
    "sandbox",
];

/// The shell and the daemon reach the core through `opsdeck_api::Ops` and the core's small
/// root surface: no `opsdeck_core::<domain module>` path in their sources, and neither enables
/// the core's `internals` feature (which opens those modules to the core's tests and the bench).
#[test]
fn front_ends_name_no_domain_module_of_the_core() {
    let root = root();
    let mut files = rust_files(&root.join("src-tauri/src"));
    files.extend(rust_files(&root.join("crates/opsdeckd/src")));
    let found = offending(&files, |line, _, _| {
        let code = line.split("//").next().unwrap_or_default();
        DOMAIN_MODULES.iter().any(|module| code.contains(&format!("opsdeck_core::{module}")))
    });
    assert!(found.is_empty(), "front-end code naming the core's internals:\n{}", found.join("\n"));
    for manifest in ["src-tauri/Cargo.toml", "crates/opsdeckd/Cargo.toml"] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        let normal = text.split("[dev-dependencies]").next().unwrap();
        assert!(!normal.contains("internals"), "{manifest} enables the core's internals outside its tests");
    }
}

/// The API crate is types and one trait: nothing that does I/O (so it crosses to any front end
/// and to an HTTP client of the server).
#[test]
fn the_api_crate_does_no_io() {
    let deps = dependencies("crates/opsdeck-api/Cargo.toml");
    assert!(deps.iter().any(|d| d == "serde"), "no [dependencies] found: {deps:?}");
    for io in ["tokio", "sqlx", "redis", "reqwest", "axum", "hyper", "tauri", "opsdeck-core"] {
        assert!(!deps.iter().any(|d| d == io), "opsdeck-api depends on {io}");
    }
}

/// Every document a file points at is in the repository: no path into a sibling checkout.
#[test]
fn nothing_refers_to_documents_outside_the_repository() {
    let root = root();
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !["target", "node_modules", ".git", "dist", "gen"].contains(&name.as_str()) {
                    pending.push(path);
                }
            } else if ["rs", "md", "toml", "ts", "vue", "mjs", "sh", "yaml", "json"]
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")))
            {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 100, "the repository's files were not found: {}", files.len());
    let outside = ["../shared/", "shared/specs/", "shared/seed/", "STYLE.md", "notes.en.md", "notes.zh.md"];
    let this_file = file!().rsplit('/').next().unwrap();
    let found = offending(&files, |line, _, _| outside.iter().any(|o| line.contains(o)));
    let found: Vec<String> = found.into_iter().filter(|f| !f.contains(this_file)).collect();
    assert!(found.is_empty(), "references to documents outside the repository:\n{}", found.join("\n"));
}

/// The desktop shell and the daemon hold no database or Redis code: they depend on neither
/// driver, and no source of theirs names one. Everything they store or read goes through the
/// core's API.
#[test]
fn front_ends_reach_the_database_and_redis_only_through_the_core() {
    let root = root();
    for manifest in ["src-tauri/Cargo.toml", "crates/opsdeckd/Cargo.toml"] {
        let deps = dependencies(manifest);
        assert!(deps.iter().any(|d| d == "opsdeck-core"), "{manifest}: no [dependencies] with opsdeck-core: {deps:?}");
        for driver in ["sqlx", "redis"] {
            assert!(!deps.iter().any(|d| d == driver), "{manifest} depends on {driver} directly");
        }
    }
    let mut files = rust_files(&root.join("src-tauri/src"));
    files.extend(rust_files(&root.join("crates/opsdeckd/src")));
    assert!(files.len() >= 5, "the front ends' sources were not found: {files:?}");
    let found = offending(&files, |line, _, _| {
        let code = line.split("//").next().unwrap_or_default();
        ["sqlx::", "redis::", "AnyPool", "RedisConn"].iter().any(|name| code.contains(name))
    });
    assert!(found.is_empty(), "front-end code touching storage directly:\n{}", found.join("\n"));
}

/// Tests wait with signals or bounded polling. A `sleep` in a test source is allowed only as
/// the polling step of a bounded loop, a deadline that fails the test, or a fault's own length
/// (an outage, injected latency, a job's work), and says which in a comment on it or in the
/// three lines above it.
#[test]
fn tests_never_wait_by_fixed_sleeps() {
    let root = root();
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        files.extend(rust_files(&crate_dir.path().join("tests")));
    }
    files.extend(rust_files(&root.join("src-tauri/tests")));
    assert!(files.len() >= 20, "the test sources were not found: {files:?}");
    let reasons = ["poll", "fault", "lasts", "latency", "outage", "the run's work"];
    let found = offending(&files, |line, lines, i| {
        let code = line.split("//").next().unwrap_or_default();
        let sleeps = ["sleep(", "sleep_until("].iter().any(|call| code.contains(call));
        if !sleeps || code.contains("=> panic!") {
            return false;
        }
        let said = lines[i.saturating_sub(3)..=i].iter().any(|l| {
            l.split_once("//").is_some_and(|(_, comment)| {
                let comment = comment.to_lowercase();
                reasons.iter().any(|r| comment.contains(r))
            })
        });
        !said
    });
    assert!(found.is_empty(), "sleeps in tests that do not say why they are no fixed wait:\n{}", found.join("\n"));
}
