//! The workspace page in a real browser: the real `openframe` binary on a temporary SQLite store, Debian's
//! headless Chromium driven by playwright-core (`tests/browser/workspace.test.mjs`, which starts the binary,
//! and restarts it once to prove the page resumes its stream), the reference's POST and PATCH and a Table API
//! delete sent over HTTP, and each change asserted on the page within a second. The screenshot goes to `test-output/`.
//!
//! Node.js, `/usr/bin/chromium` and `tests/browser/node_modules` come from `scripts/browser-test-deps.sh`,
//! which `.ci/run` runs. Without them this test fails under `CI=true`; elsewhere it says loudly, on stderr,
//! that it did not run.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::binary::BIN;

/// Longest a node run may take before it is killed (the browser test itself takes a few seconds).
const NODE_TIMEOUT: Duration = Duration::from_secs(180);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What the browser test needs and does not find.
fn missing(need_browser: bool) -> Vec<String> {
    let mut missing = Vec::new();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("node (Debian's nodejs)".to_owned());
    }
    if need_browser {
        if !chromium().is_file() {
            missing.push(format!("{} (Debian's chromium)", chromium().display()));
        }
        if !browser_dir().join("node_modules/playwright-core").is_dir() {
            missing.push("tests/browser/node_modules (npm ci)".to_owned());
        }
    }
    missing
}

/// Whether the tools are there; fails under CI when they are not, else says loudly that nothing ran.
fn tools_present(test: &str, need_browser: bool) -> bool {
    let missing = missing(need_browser);
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: CI must run the browser test but lacks {what}; .ci/run installs them with scripts/browser-test-deps.sh"
        );
    }
    eprintln!(
        "\n!!!!! {test} DID NOT RUN: missing {what}.\n!!!!! Run scripts/browser-test-deps.sh (CI does) to run it.\n"
    );
    false
}

/// Runs `node args…` in tests/browser with `envs`; returns whether it passed and everything it printed.
fn run_node(args: &[&str], envs: &[(&str, String)]) -> (bool, String) {
    let logs = tempfile::tempdir().expect("temp dir");
    let out_path = logs.path().join("out.log");
    let out = File::create(&out_path).expect("log file");
    let err = out.try_clone().expect("log file");
    let mut node = Command::new("node");
    node.args(args)
        .current_dir(browser_dir())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for (name, value) in envs {
        node.env(name, value);
    }
    let mut child = node.spawn().expect("start node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > NODE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let printed = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(status) => (status.success(), printed),
        None => (
            false,
            format!("{printed}\nnode was killed after {NODE_TIMEOUT:?}"),
        ),
    }
}

#[test]
fn the_pages_event_stream_parser_follows_the_standard() {
    if !tools_present("the_pages_event_stream_parser_follows_the_standard", false) {
        return;
    }
    let (passed, printed) = run_node(&["--test", "sse_parser.test.mjs"], &[]);
    println!("{printed}");
    assert!(passed, "the parser's unit tests failed:\n{printed}");
}

#[test]
fn the_workspace_shows_a_call_and_its_update_in_headless_chromium() {
    if !tools_present(
        "the_workspace_shows_a_call_and_its_update_in_headless_chromium",
        true,
    ) {
        return;
    }
    let store = tempfile::tempdir().expect("temp dir");
    let root = repo_root();
    let screenshot = root.join("test-output/workspace.png");
    let _ = std::fs::remove_file(&screenshot);
    let (passed, printed) = run_node(
        &["--test", "workspace.test.mjs"],
        &[
            ("OPENFRAME_BIN", BIN.to_owned()),
            ("OPENFRAME_STORE_DIR", store.path().display().to_string()),
            (
                "OPENFRAME_EXAMPLES",
                root.join("docs/examples").display().to_string(),
            ),
            ("OPENFRAME_SCREENSHOT", screenshot.display().to_string()),
            ("CHROMIUM", chromium().display().to_string()),
        ],
    );
    println!("{printed}");
    assert!(passed, "the browser test failed:\n{printed}");
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
}
