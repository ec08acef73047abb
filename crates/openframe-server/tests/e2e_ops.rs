//! Operations through the real binary: the config file and its precedence (`config check`), the request
//! log on standard error in both formats, `/metrics` on its own address.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::binary::{ADMIN_PASSWORD, BIN, SETTINGS_ENV, Server, client};
use common::reference_post;
use serde_json::Value;

/// `openframe config check ARGS…` with exactly `env` among the settings variables.
fn config_check(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(["config", "check"]).args(args);
    for var in SETTINGS_ENV.iter().chain(&["OPENFRAME_ADMIN_PASSWORD"]) {
        command.env_remove(var);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("run openframe")
}

/// The settings `config check` printed: key → (value, source).
fn printed(out: &Output) -> Vec<(String, String, String)> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "config check failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (setting, source) = line.split_once(" # ").expect("a source comment");
            let (key, value) = setting.split_once(" = ").expect("key = value");
            (
                key.to_owned(),
                value.trim().trim_matches('"').to_owned(),
                source.trim().to_owned(),
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

#[test]
fn each_setting_comes_from_the_flag_then_the_environment_then_the_file_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "openframe.toml",
        "listen = \"127.0.0.1:1001\"\nstore = \"sqlite://from-file.db\"\nlog_format = \"json\"\n\
         metrics_listen = \"127.0.0.1:2001\"\nmax_connections = 11\nshutdown_grace = 21\n",
    );
    let env = [
        ("OPENFRAME_LISTEN", "127.0.0.1:1002"),
        ("OPENFRAME_STORE", "sled://from-env"),
        ("OPENFRAME_LOG_FORMAT", "human"),
        ("OPENFRAME_METRICS_LISTEN", "127.0.0.1:2002"),
        ("OPENFRAME_MAX_CONNECTIONS", "12"),
        ("OPENFRAME_SHUTDOWN_GRACE", "22"),
    ];
    let flags = [
        "--listen",
        "127.0.0.1:1003",
        "--store",
        "memory://",
        "--log-format",
        "json",
        "--metrics-listen",
        "127.0.0.1:2003",
        "--max-connections",
        "13",
        "--shutdown-grace",
        "23",
    ];
    let with_file = ["--config", file.as_str()];
    let from_file = format!("from {file}");
    let defaults = [
        ("listen", "127.0.0.1:8080", "default"),
        ("store", "sqlite://openframe.db", "default"),
        ("log_format", "human", "default"),
        ("max_connections", "1024", "default"),
        ("header_read_timeout", "15", "default"),
        ("body_read_timeout", "30", "default"),
        ("response_write_timeout", "30", "default"),
        ("shutdown_grace", "30", "default"),
    ];
    let file_values = [
        ("listen", "127.0.0.1:1001", from_file.as_str()),
        ("store", "sqlite://from-file.db", from_file.as_str()),
        ("log_format", "json", from_file.as_str()),
        ("metrics_listen", "127.0.0.1:2001", from_file.as_str()),
        ("max_connections", "11", from_file.as_str()),
        ("header_read_timeout", "15", "default"),
        ("body_read_timeout", "30", "default"),
        ("response_write_timeout", "30", "default"),
        ("shutdown_grace", "21", from_file.as_str()),
    ];
    let env_values = [
        ("listen", "127.0.0.1:1002", "from OPENFRAME_LISTEN"),
        ("store", "sled://from-env", "from OPENFRAME_STORE"),
        ("log_format", "human", "from OPENFRAME_LOG_FORMAT"),
        (
            "metrics_listen",
            "127.0.0.1:2002",
            "from OPENFRAME_METRICS_LISTEN",
        ),
        ("max_connections", "12", "from OPENFRAME_MAX_CONNECTIONS"),
        ("header_read_timeout", "15", "default"),
        ("body_read_timeout", "30", "default"),
        ("response_write_timeout", "30", "default"),
        ("shutdown_grace", "22", "from OPENFRAME_SHUTDOWN_GRACE"),
    ];
    let flag_values = [
        ("listen", "127.0.0.1:1003", "from --listen"),
        ("store", "memory://", "from --store"),
        ("log_format", "json", "from --log-format"),
        ("metrics_listen", "127.0.0.1:2003", "from --metrics-listen"),
        ("max_connections", "13", "from --max-connections"),
        ("header_read_timeout", "15", "default"),
        ("body_read_timeout", "30", "default"),
        ("response_write_timeout", "30", "default"),
        ("shutdown_grace", "23", "from --shutdown-grace"),
    ];
    let all_flags: Vec<&str> = with_file.iter().chain(&flags).copied().collect();
    /// A case's name, flags, environment, and the (key, value, source) lines it must print.
    type Case<'a> = (
        &'a str,
        Vec<&'a str>,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str, &'a str)],
    );
    let table: [Case; 5] = [
        ("nothing given", vec![], &[], &defaults),
        ("a file", with_file.to_vec(), &[], &file_values),
        (
            "a file and the environment",
            with_file.to_vec(),
            &env,
            &env_values,
        ),
        ("all three", all_flags, &env, &flag_values),
        (
            "flags and the environment",
            flags.to_vec(),
            &env,
            &flag_values,
        ),
    ];
    for (case, args, env, expected) in table {
        let got = printed(&config_check(&args, env));
        let expected: Vec<(String, String, String)> = expected
            .iter()
            .map(|(k, v, s)| (k.to_string(), v.to_string(), s.to_string()))
            .collect();
        assert_eq!(got, expected, "{case}");
    }
}

/// Runs `args` and expects a non-zero exit with a one-line error.
fn one_line_failure(args: &[&str]) -> String {
    let mut command = Command::new(BIN);
    for var in SETTINGS_ENV {
        command.env_remove(var);
    }
    let out = command.args(args).output().expect("run openframe");
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("openframe: error: "), "{stderr}");
    stderr
}

#[test]
fn a_bad_file_is_one_line_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.toml",
            "listen = \"127.0.0.1:1\"\nport = 8080\n",
            "unknown key \"port\"",
        ),
        ("value.toml", "listen = \"nowhere\"\n", ": listen: "),
        (
            "type.toml",
            "log_format = 1\n",
            ": log_format: must be a string",
        ),
        (
            "count.toml",
            "max_connections = 0\n",
            ": max_connections: must be at least 1",
        ),
        (
            "store.toml",
            "store = \"mysql://root:hunter2@db/x\"\n",
            ": store: ",
        ),
        (
            "syntax.toml",
            "listen = \"127.0.0.1:1\"\nstore =\n",
            "openframe.toml",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(dir.path(), name, text);
        for command in [&["config", "check"][..], &["serve"], &["migrate"]] {
            let args: Vec<&str> = command.iter().copied().chain(["--config", &path]).collect();
            let err = one_line_failure(&args);
            assert!(err.contains(&path), "{name}: {err}");
            if name != "syntax.toml" {
                assert!(err.contains(expected), "{name}: {err}");
            }
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
    let err = one_line_failure(&["config", "check", "--config", "/no/such/openframe.toml"]);
    assert!(err.contains("/no/such/openframe.toml"), "{err}");
}

#[test]
fn config_check_hides_every_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "openframe.toml",
        "store = \"postgres://openframe:file-secret@db.internal:5432/of?sslmode=disable&password=query-secret\"\n",
    );
    let out = config_check(
        &["--config", &file],
        &[("OPENFRAME_ADMIN_PASSWORD", "admin-secret")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    for secret in ["file-secret", "query-secret", "admin-secret"] {
        assert!(!stdout.contains(secret), "{secret} shown:\n{stdout}");
    }
    assert!(
        stdout
            .contains("postgres://openframe:***@db.internal:5432/of?sslmode=disable&password=***"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OPENFRAME_ADMIN_PASSWORD (not shown)"),
        "{stdout}"
    );

    let out = config_check(&["--store", "postgres://of:flag-secret@db/x"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !stdout.contains("flag-secret"),
        "{stdout}"
    );
}

#[test]
fn the_example_config_file_is_accepted() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/openframe.toml"
    );
    let got = printed(&config_check(&["--config", example], &[]));
    let keys: Vec<&str> = got.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "listen",
            "store",
            "log_format",
            "metrics_listen",
            "max_connections",
            "header_read_timeout",
            "body_read_timeout",
            "response_write_timeout",
            "shutdown_grace"
        ]
    );
    for (key, _, source) in &got {
        assert!(source.ends_with("openframe.toml"), "{key} {source}");
    }
}

/// Phone numbers and passwords the requests below carry; none may reach standard error.
const SECRETS: &[&str] = &[
    "1303506536",
    "14089965744",
    "a545t65678",
    ADMIN_PASSWORD,
    "wrong-pw",
];

/// Sends a create (phone numbers in the body), a query (a phone number in the query string) and a request
/// with a wrong password, each with its own X-Request-Id.
async fn send_requests(server: &Server) {
    let http = client();
    let create = http
        .post(server.url("/api/now/openframe/voice-interaction"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("X-Request-Id", "e2e-create")
        .json(&reference_post())
        .send()
        .await
        .expect("create");
    assert_eq!(create.status(), 200);
    assert_eq!(create.headers()["x-request-id"], "e2e-create");
    let query = http
        .get(server.url("/api/now/table/interaction?sysparm_query=user_phone_number=%2B1303506536"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .header("X-Request-Id", "e2e-query")
        .send()
        .await
        .expect("query");
    assert_eq!(query.status(), 200);
    let refused = http
        .get(server.url("/api/now/table/interaction"))
        .basic_auth("admin", Some("wrong-pw"))
        .header("X-Request-Id", "e2e-refused")
        .send()
        .await
        .expect("refused");
    assert_eq!(refused.status(), 401);
}

fn assert_no_secret(lines: &[String]) {
    let all = lines.join("\n");
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret:?} on stderr:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_from_a_config_file_logs_json_and_serves_metrics_on_its_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("of.db").display());
    let file = write(
        dir.path(),
        "openframe.toml",
        &format!(
            "listen = \"127.0.0.1:1\"\nstore = \"{store}\"\nlog_format = \"json\"\nmetrics_listen = \"127.0.0.1:0\"\n"
        ),
    );
    // The flag beats the file's (unusable) port 1.
    let server = Server::start_args(&["--config", &file, "--listen", "127.0.0.1:0"], &[]);
    let metrics_url = server
        .early
        .iter()
        .find_map(|line| line.strip_prefix("openframe: serving /metrics on "))
        .unwrap_or_else(|| panic!("no metrics address in {:?}", server.early))
        .trim()
        .to_owned();
    send_requests(&server).await;

    let http = client();
    let metrics = http.get(&metrics_url).send().await.expect("scrape");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for series in [
        "openframe_http_requests_total{method=\"POST\",route=\"/api/now/openframe/voice-interaction\",status=\"200\"} 1",
        "openframe_http_requests_total{method=\"GET\",route=\"/api/now/table/{table}\",status=\"401\"} 1",
        "openframe_http_request_duration_seconds_count{method=\"GET\",route=\"/api/now/table/{table}\",status=\"200\"} 1",
        "openframe_store_operation_duration_seconds_count{operation=\"create_interaction\",outcome=\"ok\"} 1",
        "openframe_store_commit_batch_size_bucket{store=\"sqlite\",le=\"+Inf\"}",
        "openframe_store_pool_connections{store=\"sqlite\",state=\"idle\"}",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    let on_api = http.get(server.url("/metrics")).send().await.expect("api");
    assert_eq!(on_api.status(), 404, "not on the API's listener");

    let (code, rest) = server.stop();
    assert_eq!(code, 0);
    assert_no_secret(&rest);
    let lines: Vec<Value> = rest
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "openframe::request")
        .collect();
    let find = |id: &str| {
        lines
            .iter()
            .find(|line| line["request_id"] == id)
            .unwrap_or_else(|| panic!("no line for {id} in {rest:?}"))
    };
    let create = find("e2e-create");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["route"], "/api/now/openframe/voice-interaction");
    assert_eq!(create["status"], 200);
    assert_eq!(create["user"], "admin");
    assert!(create["latency_ms"].is_number());
    assert_eq!(find("e2e-query")["route"], "/api/now/table/{table}");
    assert_eq!(find("e2e-refused")["status"], 401);
    assert_eq!(find("e2e-refused")["user"], "-");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_human_lines_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("of.db").display());
    let server = Server::start(&store);
    send_requests(&server).await;
    let (code, rest) = server.stop();
    assert_eq!(code, 0);
    assert_no_secret(&rest);
    let line = rest
        .iter()
        .find(|line| line.contains("request_id=e2e-create"))
        .unwrap_or_else(|| panic!("no request line in {rest:?}"));
    for field in [
        " INFO openframe::request: request ",
        "method=\"POST\"",
        "route=\"/api/now/openframe/voice-interaction\"",
        "status=200",
        "latency_ms=",
        "user=\"admin\"",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(
        !line.contains('\u{1b}'),
        "no colours off a terminal: {line:?}"
    );
}

#[test]
fn other_commands_take_the_store_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.db");
    let file = write(
        dir.path(),
        "openframe.toml",
        &format!("store = \"sqlite://{}\"\n", db.display()),
    );
    let mut command = Command::new(BIN);
    for var in SETTINGS_ENV {
        command.env_remove(var);
    }
    // migrate opens only an existing store: it names the file's store, and creates neither.
    let out = command
        .current_dir(dir.path())
        .args(["migrate", "--config", &file])
        .output()
        .expect("run openframe");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("from-file.db does not exist"), "{stderr}");
    assert!(!db.exists(), "migrate created the file's store");
    assert!(
        !dir.path().join("openframe.db").exists(),
        "not the default store"
    );
}

#[test]
fn export_backup_and_migrate_of_a_missing_store_fail_in_one_line_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (file, directory) = (dir.path().join("nope.db"), dir.path().join("nope-sled"));
    let dest = dir.path().join("copy.db");
    let dest_arg = dest.display().to_string();
    for (store, path) in [
        (format!("sqlite://{}", file.display()), &file),
        (format!("sled://{}", directory.display()), &directory),
    ] {
        for args in [
            vec!["export", "--store", store.as_str()],
            vec!["migrate", "--store", store.as_str()],
            vec!["backup", "--store", store.as_str(), dest_arg.as_str()],
        ] {
            let line = one_line_failure(&args);
            if args[0] != "backup" || store.starts_with("sqlite") {
                assert!(line.contains("does not exist"), "{args:?}: {line}");
            }
            assert!(!path.exists(), "{args:?} created {}", path.display());
            assert!(!dest.exists(), "{args:?} created {}", dest.display());
        }
    }
    // An in-memory store never exists before the command: nothing to export or migrate.
    for command in ["export", "migrate"] {
        for store in ["memory://", "sqlite::memory:"] {
            let line = one_line_failure(&[command, "--store", store]);
            assert!(line.contains("lives only inside one process"), "{line}");
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
