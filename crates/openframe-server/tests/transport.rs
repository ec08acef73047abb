//! What the real binary speaks: HTTPS with HTTP/1.1 and HTTP/2 chosen by ALPN, HTTP/2 with prior knowledge
//! on a plain listener, a certificate reloaded on SIGHUP, and one-line errors for bad TLS settings. Driven
//! with curl, as an operator would check a deployment.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::binary::{ADMIN_PASSWORD, BIN, Server};

/// A self-signed certificate for `localhost`, written as PEM files into `dir`: (certificate, key).
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, generated.cert.pem()).expect("write the certificate");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write the key");
    (cert, key)
}

/// curl with `args` against `url`: the HTTP version it spoke and the body, or what went wrong.
fn curl(args: &[&str], url: &str) -> Result<(String, String), String> {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(["--write-out", "\n%{http_version} %{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').ok_or("no status line")?;
    Ok((status.to_owned(), body.to_owned()))
}

/// The `--resolve` and `--cacert` arguments that make curl trust `cert` for `localhost` at the server.
fn trusting(server: &Server, cert: &Path) -> (Vec<String>, String) {
    let port = server
        .addr()
        .rsplit_once(':')
        .expect("host:port")
        .1
        .to_owned();
    (
        vec![
            "--resolve".into(),
            format!("localhost:{port}:127.0.0.1"),
            "--cacert".into(),
            cert.display().to_string(),
        ],
        format!("https://localhost:{port}"),
    )
}

fn sqlite_store(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("transport.db").display())
}

#[test]
fn https_speaks_http2_and_http1_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let server = Server::start_with(
        &sqlite_store(&dir),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.url("/").starts_with("https://"),
        "{}",
        server.url("/")
    );
    let (trust, base) = trusting(&server, &cert);
    let trust: Vec<&str> = trust.iter().map(String::as_str).collect();
    let healthz = format!("{base}/healthz");
    let http2 = curl(&[&trust[..], &["--http2"]].concat(), &healthz).expect("HTTP/2 over TLS");
    assert_eq!(http2, ("2 200".into(), r#"{"status":"ok"}"#.into()));
    let http1 = curl(&[&trust[..], &["--http1.1"]].concat(), &healthz).expect("HTTP/1.1 over TLS");
    assert_eq!(http1.0, "1.1 200");
    // A create over HTTP/2 and TLS, with Basic credentials.
    let auth = format!("admin:{ADMIN_PASSWORD}");
    let (status, body) = curl(
        &[
            &trust[..],
            &[
                "--http2",
                "--user",
                &auth,
                "--header",
                "Content-Type: application/json",
                "--data",
                r#"{"interaction":{"userPhoneNumber":"+14089965744"}}"#,
            ],
        ]
        .concat(),
        &format!("{base}/api/now/openframe/voice-interaction"),
    )
    .expect("create");
    assert_eq!(status, "2 200", "{body}");
    assert!(body.contains("IMS0001001"), "{body}");
    // Plain HTTP on the TLS port is no way in.
    assert!(
        curl(&[], &format!("http://{}/healthz", server.addr()))
            .map_or(true, |(s, _)| s != "1.1 200")
    );
    assert_eq!(server.stop().0, 0);
}

#[test]
fn a_plain_listener_speaks_http2_with_prior_knowledge() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&sqlite_store(&dir));
    let healthz = server.url("/healthz");
    let (status, body) =
        curl(&["--http2-prior-knowledge"], &healthz).expect("HTTP/2 with prior knowledge");
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("2 200", r#"{"status":"ok"}"#)
    );
    assert_eq!(curl(&[], &healthz).expect("HTTP/1.1").0, "1.1 200");
    assert_eq!(server.stop().0, 0);
}

#[test]
fn sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (first, key) = certificate(dir.path(), "live");
    let old = dir.path().join("old.pem");
    std::fs::copy(&first, &old).unwrap();
    let server = Server::start_with(
        &sqlite_store(&dir),
        &[
            "--tls-cert",
            first.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let healthz = |cert: &Path| {
        let (trust, base) = trusting(&server, cert);
        let trust: Vec<&str> = trust.iter().map(String::as_str).collect();
        curl(&trust, &format!("{base}/healthz"))
    };
    assert!(
        healthz(&old)
            .expect("the first certificate")
            .0
            .ends_with(" 200")
    );
    // A renewal: a new pair in the same files, then SIGHUP.
    let (renewed, renewed_key) = certificate(dir.path(), "renewed");
    std::fs::copy(&renewed, &first).unwrap();
    std::fs::copy(&renewed_key, &key).unwrap();
    server.signal("-HUP");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while healthz(&renewed).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        healthz(&old).is_err(),
        "the old certificate is no longer served"
    );
    // A broken renewal keeps the certificate in use.
    std::fs::write(&first, "not a certificate").unwrap();
    server.signal("-HUP");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        healthz(&renewed)
            .expect("still the renewed one")
            .0
            .ends_with(" 200")
    );
    assert_eq!(server.stop().0, 0);
}

#[test]
fn bad_tls_settings_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path(), "server");
    let missing = dir.path().join("missing.pem");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--tls-cert", cert.to_str().unwrap()],
            "--tls-cert and --tls-key go together",
        ),
        (
            &[
                "--tls-cert",
                missing.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
            "missing.pem",
        ),
        (
            &[
                "--tls-cert",
                key.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
            "no certificate in it",
        ),
    ];
    for (args, expected) in cases {
        let output = Command::new(BIN)
            .arg("serve")
            .args(["--store", &sqlite_store(&dir), "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("OPENFRAME_TLS_CERT")
            .env_remove("OPENFRAME_TLS_KEY")
            .output()
            .expect("run openframe");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(lines[0].contains(expected), "{args:?}: {stderr}");
    }
}
