//! `report.html`: self-contained, complete, and rendered by a real browser.
//!
//! The browser check runs Debian's `chromium` headless (`.ci/run` installs
//! it). Where no chromium is installed the check says so and passes,
//! unless `SURGE_REQUIRE_CHROMIUM` is set, as `.ci/run` does.

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;

fn surge() -> Command {
    Command::cargo_bin("surge").expect("binary builds")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn run(scenario: &str, out: &Path, args: &[&str]) {
    surge()
        .args(["run", "--quiet"])
        .args(args)
        .arg(repo(scenario))
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

/// One short launch-day run, shared by the tests: four classes, two
/// pools, an unstable pool warning and setbacks (so outcome charts too).
fn launch_day() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    OUT.get_or_init(|| {
        // One folder per process: nextest runs each test in its own.
        let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("report-launch-day-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        run(
            "scenarios/launch-day.toml",
            &out,
            &[
                "--set",
                "duration=10h",
                "--set",
                "warmup=30m",
                "--set",
                "pool.gpu-image.gpus=3000",
            ],
        );
        out
    })
}

fn chart_files(out: &Path) -> Vec<String> {
    common::file_names(&out.join("charts"))
}

#[test]
fn the_report_has_everything_and_needs_no_network() {
    let out = launch_day();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    // What was run, its warnings, tables per class and pool.
    assert!(html.contains("<h1>launch-day</h1>"));
    assert!(html.contains("A viral signup spike"), "the description");
    assert!(html.contains("--set duration=10h"));
    assert!(html.contains("<h2>Warnings</h2>") && html.contains("mean offered load"));
    // The run's verdict on the image pool, whatever it is, is said.
    assert!(
        html.contains("<b>Pool gpu-image</b>: "),
        "the image pool's verdict"
    );
    for class in ["chat-free", "chat-plus", "image-free", "image-plus"] {
        assert!(
            html.contains(&format!("<th scope=\"row\">{class}</th>")),
            "{class}"
        );
    }
    for pool in ["gpu-chat", "gpu-image"] {
        assert!(
            html.contains(&format!("<th scope=\"row\">{pool}</th>")),
            "{pool}"
        );
    }
    assert!(html.contains("<h2>Scenario</h2>"), "the resolved scenario");
    // Every chart, embedded.
    let charts = chart_files(out);
    assert!(charts.len() >= 8, "{charts:?}");
    assert_eq!(
        html.matches("<img ").count(),
        charts.len(),
        "one image per chart"
    );
    assert_eq!(
        html.matches("src=\"data:image/png;base64,").count(),
        charts.len()
    );
    // In the scenario's order: the overview, the classes, then the pools.
    let at = |name: &str| {
        html.find(&format!("<code>charts/{name}.png</code>"))
            .unwrap()
    };
    assert!(at("overview") < at("latency-chat-plus"));
    assert!(at("latency-chat-plus") < at("latency-image-plus"));
    assert!(at("latency-image-free") < at("pool-gpu-chat"));
    assert!(at("pool-gpu-chat") < at("pool-gpu-image"));
    // Nothing to fetch: no links out, no scripts, no external sources.
    for needle in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!html.contains(needle), "report contains {needle}");
    }
}

#[test]
fn svg_charts_are_embedded_as_svg_and_none_writes_no_report() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("svg");
    let short = ["--set", "duration=20m", "--set", "warmup=1m"];
    run(
        "scenarios/mmc.toml",
        &out,
        &[&short[..], &["--charts", "svg"]].concat(),
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        html.matches("src=\"data:image/svg+xml;base64,").count(),
        chart_files(&out).len()
    );
    let none = dir.path().join("none");
    run(
        "scenarios/mmc.toml",
        &none,
        &[&short[..], &["--charts", "none"]].concat(),
    );
    assert!(!none.join("report.html").exists());
    assert!(!none.join("charts").exists());
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SURGE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

#[test]
fn headless_chromium_renders_the_report_with_its_charts() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("SURGE_REQUIRE_CHROMIUM").is_none(),
            "SURGE_REQUIRE_CHROMIUM is set but no chromium was found"
        );
        eprintln!("skipped: no chromium on PATH (install Debian's chromium package to run it)");
        return;
    };
    let dir = TempDir::new().unwrap();
    let out = launch_day();
    let shot = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    // Under coreutils `timeout` where there is one, so a browser that
    // hangs fails the test instead of stalling CI.
    let mut command = if Path::new("/usr/bin/timeout").exists() {
        let mut c = std::process::Command::new("/usr/bin/timeout");
        c.arg("180").arg(&browser);
        c
    } else {
        std::process::Command::new(&browser)
    };
    let status = command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1300,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", out.join("report.html").display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("chromium starts");
    assert!(status.success(), "chromium exited with {status}");
    let img = image::open(&shot).expect("a PNG screenshot").to_rgb8();
    assert_eq!(img.dimensions(), (1300, 2400));
    // The first charts are within the window, shown at their own size:
    // their exact line colours (p99 red, arrivals blue) are on the page,
    // which no text or table has.
    let count = |rgb: [u8; 3]| img.pixels().filter(|p| p.0 == rgb).count();
    let red = count([214, 39, 40]);
    let blue = count([31, 119, 180]);
    assert!(red > 200, "p99 line pixels in the screenshot: {red}");
    assert!(blue > 200, "arrival line pixels in the screenshot: {blue}");
    // And the page is mostly a white page with dark text.
    let white = count([255, 255, 255]);
    assert!(
        white > 1300 * 2400 / 3,
        "white pixels: {white} of {}",
        1300 * 2400
    );
}
