//! The real binary driven by the client libraries people use with ServiceNow, unmodified: ServiceNow's own
//! pysnc reads interactions over HTTPS (it refuses plain `http://`). The venv comes from
//! `scripts/client-libs.sh` (CI runs it); without it the test says loudly that it did not run, and fails
//! under CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::binary::{ADMIN_PASSWORD, Server};

fn python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/.venv-clients/bin/python");
    if python.exists() {
        return Some(python);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI must run the client-library tests: run scripts/client-libs.sh first");
    }
    eprintln!("\n!!!!! the pysnc test DID NOT RUN: run scripts/client-libs.sh (CI does)\n");
    None
}

/// Creates two calls with `requests` (pysnc's own HTTP library), then reads them back with pysnc's
/// GlideRecord: a query, iteration, `get_value`, and `get` by sys_id.
const SCRIPT: &str = r#"
import json, sys
import requests
from pysnc import ServiceNowClient

base, user, password, cert = sys.argv[1:5]
created = []
for session in ("pysnc-1", "pysnc-2"):
    reply = requests.post(
        base + "/api/now/openframe/voice-interaction",
        json={"interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": session}},
        auth=(user, password),
        verify=cert,
    )
    reply.raise_for_status()
    created.append(reply.json()["result"]["sysId"])

client = ServiceNowClient(base, (user, password), verify=cert)
gr = client.GlideRecord("interaction")
gr.add_query("client_session_id", "STARTSWITH", "pysnc-")
gr.order_by("number")
gr.query()
rows = [{"sys_id": r.get_value("sys_id"), "number": r.get_value("number"), "state": r.get_value("state")} for r in gr]

one = client.GlideRecord("interaction")
found = one.get(created[1])
print(json.dumps({"created": created, "rows": rows, "found": found, "found_number": one.get_value("number")}))
"#;

#[test]
fn pysnc_reads_interactions_over_https() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let store = format!("sqlite://{}", dir.path().join("pysnc.db").display());
    let server = Server::start_with(
        &store,
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
    // requests lets these variables beat a session's own `verify`: point them at the test's certificate too.
    let output = Command::new(python)
        .env("REQUESTS_CA_BUNDLE", &cert)
        .env_remove("CURL_CA_BUNDLE")
        .args(["-c", SCRIPT])
        .arg(format!("https://localhost:{port}"))
        .args(["admin", ADMIN_PASSWORD])
        .arg(&cert)
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "pysnc failed:\n{stderr}");
    let result: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script's JSON");
    let created = result["created"].as_array().expect("created");
    let rows = result["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{result}");
    assert_eq!(rows[0]["number"], "IMS0001001");
    assert_eq!(rows[1]["number"], "IMS0001002");
    assert_eq!(rows[0]["sys_id"], created[0]);
    assert_eq!(rows[0]["state"], "new");
    assert_eq!(result["found"], true);
    assert_eq!(result["found_number"], "IMS0001002");
    assert_eq!(server.stop().0, 0);
}
