//! Rules of the code base that ARCHITECTURE.md states as invariants, checked over the sources:
//! front ends reach storage only through the core, and tests wait by signals or bounded polling,
//! never by fixed sleeps.

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

/// The desktop shell and the daemon hold no database or Redis code: they depend on neither
/// driver, and no source of theirs names one. Everything they store or read goes through the
/// core's API.
#[test]
fn front_ends_reach_the_database_and_redis_only_through_the_core() {
    let root = root();
    for manifest in ["src-tauri/Cargo.toml", "crates/opsdeckd/Cargo.toml"] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        // The `[dependencies]` table's keys (the manifests keep one dependency per line).
        let deps: Vec<&str> = text
            .lines()
            .skip_while(|l| l.trim() != "[dependencies]")
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .filter_map(|l| l.split_once('=').map(|(key, _)| key.trim()))
            .collect();
        assert!(deps.contains(&"opsdeck-core"), "{manifest}: no [dependencies] with opsdeck-core found: {deps:?}");
        for driver in ["sqlx", "redis"] {
            assert!(!deps.contains(&driver), "{manifest} depends on {driver} directly");
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
