//! Running the real `openframe` binary: start it, find its address, talk to it, stop it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_openframe");
pub const ADMIN_PASSWORD: &str = "e2e-admin-password";

/// Every environment variable the binary reads for its settings: removed from every child, so that the
/// environment a test runs in cannot change what it tests.
pub const SETTINGS_ENV: &[&str] = &[
    "OPENFRAME_LISTEN",
    "OPENFRAME_STORE",
    "OPENFRAME_CONFIG",
    "OPENFRAME_LOG_FORMAT",
    "OPENFRAME_METRICS_LISTEN",
    "OPENFRAME_MAX_CONNECTIONS",
    "OPENFRAME_HEADER_READ_TIMEOUT",
    "OPENFRAME_BODY_READ_TIMEOUT",
    "OPENFRAME_RESPONSE_WRITE_TIMEOUT",
    "OPENFRAME_SHUTDOWN_GRACE",
    "OPENFRAME_TLS_CERT",
    "OPENFRAME_TLS_KEY",
    "RUST_LOG",
];

/// A running `openframe serve`; killed when dropped unless stopped, so a failing test leaves no server behind.
pub struct Server {
    child: Child,
    pub base: String,
    stderr: mpsc::Receiver<String>,
    /// Standard error up to and including the `listening on` line.
    pub early: Vec<String>,
    stopped: bool,
}

impl Server {
    pub fn start(store: &str) -> Server {
        Server::start_with(store, &[])
    }

    /// Starts `openframe serve` on `store` with these extra command-line arguments.
    pub fn start_with(store: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--listen", "127.0.0.1:0", "--store", store];
        args.extend_from_slice(extra);
        Server::start_args(&args, &[])
    }

    /// `openframe serve ARGS…` with these environment variables (beside the admin password).
    pub fn start_args(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .args(args)
            .env("OPENFRAME_ADMIN_PASSWORD", ADMIN_PASSWORD);
        for var in SETTINGS_ENV {
            command.env_remove(var);
        }
        let mut child = command
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start openframe");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let base = addr.trim().to_owned();
                        seen.push(line);
                        return Server {
                            child,
                            base,
                            stderr: rx,
                            early: seen,
                            stopped: false,
                        };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("openframe did not start; stderr so far: {seen:?}")
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> &str {
        self.base
            .split_once("://")
            .map_or(self.base.as_str(), |(_, addr)| addr)
    }

    /// SIGKILL: the process dies on the spot, as in a crash or a power cut of the process.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
        self.stopped = true;
    }

    /// Sends SIGTERM without waiting; [`Server::wait`] collects the exit.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Sends a signal (`-HUP`, `-TERM`) without waiting.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit: its exit code and all it wrote on standard error.
    pub fn wait(mut self) -> (i32, Vec<String>) {
        let code = self.child.wait().expect("wait").code().unwrap_or(-1);
        self.stopped = true;
        // The reader thread ends at EOF once the process is gone; collect what it has.
        let mut rest = std::mem::take(&mut self.early);
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            rest.push(line);
        }
        (code, rest)
    }

    /// SIGTERM, then the exit code.
    pub fn stop(self) -> (i32, Vec<String>) {
        self.terminate();
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub async fn send(
    method: reqwest::Method,
    url: &str,
    user: (&str, &str),
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = client()
        .request(method, url)
        .basic_auth(user.0, Some(user.1))
        .header("Accept", "application/json");
    if let Some(body) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(body.to_owned());
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
