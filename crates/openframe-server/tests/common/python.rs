//! The Python client libraries people use with ServiceNow, run against the real binary over TLS: the
//! venvs of `scripts/client-libs.sh` (pysnc in `.ci/.venv-clients`, pysnow in `.ci/.venv-pysnow`), a
//! self-signed certificate for `localhost`, and a script's JSON output.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::binary::Server;

/// The Python of venv `.ci/<venv>`; `None` (the test then says loudly it did not run) when it is missing,
/// except under `CI=true`, where that is a failure.
pub fn venv_python(venv: &str) -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.ci")
        .join(venv)
        .join("bin/python");
    if python.exists() {
        return Some(python);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI must run the client-library tests: run scripts/client-libs.sh first");
    }
    eprintln!("\n!!!!! a client-library test DID NOT RUN: run scripts/client-libs.sh (CI does)\n");
    None
}

/// A server on `store` over TLS with a self-signed certificate for `localhost` written into `dir`; returns
/// it, its base URL (`https://localhost:<port>`) and the certificate's path.
pub fn tls_server(dir: &Path, store: &str) -> (Server, String, PathBuf) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let server = Server::start_with(
        store,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = server
        .addr()
        .rsplit_once(':')
        .expect("host:port")
        .1
        .to_owned();
    (server, format!("https://localhost:{port}"), cert)
}

/// Runs `script` with `python` and `args`, then the certificate's path, trusting `cert`; its standard
/// output as JSON.
pub fn run_python(python: &Path, script: &str, args: &[&str], cert: &Path) -> serde_json::Value {
    // requests lets these variables beat a session's own `verify`: point them at the test's certificate too.
    let output = Command::new(python)
        .env("REQUESTS_CA_BUNDLE", cert)
        .env_remove("CURL_CA_BUNDLE")
        .args(["-c", script])
        .args(args)
        .arg(cert)
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the script failed:\n{stderr}");
    serde_json::from_slice(&output.stdout).expect("the script's JSON")
}
