//! Running the `surge` binary as a user does, for the CLI tests.
#![allow(dead_code)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The `surge` binary of this build.
pub fn surge() -> Command {
    Command::cargo_bin("surge").expect("binary builds")
}

/// A path inside the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Write `text` as `bad.toml` in a fresh folder; run `surge run` on it with
/// `--out` inside that folder; assert exit 2, that stderr names the file,
/// line and key (none for TOML syntax errors), and that no output folder
/// appeared.
pub fn assert_rejected(text: &str, line: usize, key: &str) -> String {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let assert = surge()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty());
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    let location = format!("bad.toml:{line}:");
    assert!(
        stderr.contains(&location),
        "expected {location} in:\n{stderr}"
    );
    if !key.is_empty() {
        assert!(
            stderr.contains(&format!(": {key}: ")),
            "expected key {key} in:\n{stderr}"
        );
    }
    assert!(!out.exists(), "no output may be written for a bad scenario");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}
