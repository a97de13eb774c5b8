//! An output folder is written as a unit: built beside its target and
//! swapped in, so a reader, a crash or a second writer never sees a mix.

use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn surge() -> Command {
    Command::cargo_bin("surge").unwrap()
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Every file under `dir` (relative path → bytes).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn run_into(out: &Path, seed: &str, extra: &[&str]) {
    surge()
        .args(["run", "--quiet", "--seed", seed])
        .args(extra)
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

#[test]
fn a_run_after_a_sweep_replaces_the_folder_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mmc");
    surge()
        .args([
            "sweep",
            "--quiet",
            "--charts",
            "none",
            "--grid",
            "pool.gpu.gpus=8,9",
        ])
        .args(["--set", "duration=10m", "--set", "warmup=1m"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("sweep.csv").exists());
    run_into(
        &out,
        "1",
        &[
            "--charts",
            "none",
            "--set",
            "duration=10m",
            "--set",
            "warmup=1m",
        ],
    );
    assert!(
        !out.join("sweep.csv").exists(),
        "nothing of the sweep stays"
    );
    assert!(!out.join("shard.json").exists());
    assert!(out.join("timeseries.csv").exists());
    // No staging folders or anything else left beside it.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_second_writer_to_the_same_folder_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("busy");
    // Another surge holds the folder's lock.
    let lock = std::fs::File::create(dir.path().join(".busy.lock")).unwrap();
    lock.try_lock().unwrap();
    surge()
        .args(["run", "--quiet"])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "is being written by another surge",
        ));
    assert!(!out.exists(), "nothing written");
    drop(lock);
    run_into(&out, "1", &["--charts", "none"]);
    assert!(out.join("summary.csv").exists());
}

/// `kill -9` at moments spread over a run leaves the folder exactly as it
/// was before (run A) or exactly as after (run B), never a mix.
#[test]
fn a_kill_at_any_moment_leaves_the_old_folder_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--set", "duration=6h", "--charts", "png"];
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    run_into(&a_dir, "1", &args);
    let started = std::time::Instant::now();
    run_into(&b_dir, "2", &args);
    let full = started.elapsed();
    let (a, b) = (snapshot(&a_dir), snapshot(&b_dir));
    assert_ne!(a, b);
    let out = dir.path().join("out");
    let bin = assert_cmd::cargo::cargo_bin("surge");
    let mut outcomes = (0, 0);
    for k in 0..10u32 {
        run_into(&out, "1", &args);
        assert_eq!(snapshot(&out), a);
        let mut child = std::process::Command::new(&bin)
            .args(["run", "--quiet", "--seed", "2"])
            .args(args)
            .arg(repo("scenarios/mmc.toml"))
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap();
        // From early in the run to just past its usual end.
        std::thread::sleep(full.mul_f64(0.12 * f64::from(k) + 0.05));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = snapshot(&out);
        if now == a {
            outcomes.0 += 1;
        } else if now == b {
            outcomes.1 += 1;
        } else {
            let (na, nb): (Vec<_>, Vec<_>) = (now.keys().collect(), b.keys().collect());
            panic!("kill {k}: a mix of old and new files: {na:?} vs {nb:?}");
        }
    }
    eprintln!(
        "old folder {} times, new folder {} times",
        outcomes.0, outcomes.1
    );
    assert!(outcomes.0 > 0, "some kills happened before the swap");
}

/// `surge run --format json | head -c 0`: the closed pipe ends surge
/// quietly (SIGPIPE, as `head` expects), never with a panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("surge"))
        .args([
            "run",
            "--format",
            "json",
            "--charts",
            "none",
            "--replications",
            "3",
        ])
        .arg(repo("scenarios/mmc.toml"))
        .arg("--out")
        .arg(dir.path().join("o"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes before surge has written anything: its JSON meets a
    // closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101));
    assert!(
        out.status.signal() == Some(13) || out.status.success(),
        "{:?}",
        out.status
    );
}

#[test]
fn the_current_folder_is_never_an_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    surge()
        .current_dir(dir.path())
        .args(["run", "--quiet", "--out", "."])
        .arg(repo("scenarios/mmc.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected a folder of its own"));
    assert!(dir.path().join("keep.txt").exists());
}
