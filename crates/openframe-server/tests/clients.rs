//! The real binary driven by the client libraries people use with ServiceNow, unmodified: ServiceNow's own
//! pysnc reads and writes interactions over HTTPS (it refuses plain `http://`), with Basic auth and with its
//! OAuth password-grant flow, and pysnow writes them through its resources; the writes on each of the four
//! stores (the reads on every store are in `client_reads.rs`). The venvs come from
//! `scripts/client-libs.sh` (CI runs it); without them the tests say loudly that they did not run, and fail
//! under CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use common::binary::{ADMIN_PASSWORD, Server};
use common::postgres::{TestDatabase, postgres_url};
use common::python::{run_python, venv_python};

/// A server on a fresh SQLite store in `dir`, over TLS (see `common::python::tls_server`); `before` runs on
/// the store first (CLI commands).
fn tls_server(dir: &Path, before: impl FnOnce(&str)) -> (Server, String, PathBuf) {
    let store = format!("sqlite://{}", dir.join("pysnc.db").display());
    before(&store);
    common::python::tls_server(dir, &store)
}

/// Creates two calls with `requests` (pysnc's own HTTP library), then reads them back with pysnc's
/// GlideRecord: a query, iteration, `get_value`, `get` by sys_id, and a query long enough that pysnc sends
/// it through the Batch API.
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

# A query over 10,000 characters: pysnc sends it through the Batch API.
long = client.GlideRecord("interaction")
long.add_encoded_query("^OR".join(f"client_session_id=pysnc-{i}" for i in range(1, 600)))
long.order_by("number")
long.query()
batched = [r.get_value("number") for r in long]
print(json.dumps({"created": created, "rows": rows, "found": found, "found_number": one.get_value("number"),
                  "batched": batched}))
"#;

/// Signs in with pysnc's OAuth password-grant flow (requests-oauthlib underneath), creates a call with the
/// Bearer session, reads it with GlideRecord, then refreshes the access token as pysnc does when it expires
/// (the refresh-token grant) and reads again with the new one.
const OAUTH_SCRIPT: &str = r#"
import json, sys
from pysnc import ServiceNowClient, ServiceNowPasswordGrantFlow

base, user, password, client_id, client_secret, cert = sys.argv[1:7]
flow = ServiceNowPasswordGrantFlow(user, password, client_id, client_secret)
client = ServiceNowClient(base, flow, verify=cert)
session = client.session
first = dict(session.token)

reply = session.post(
    base + "/api/now/openframe/voice-interaction",
    json={"interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": "oauth-1"}},
)
reply.raise_for_status()
created = reply.json()["result"]["sysId"]

def numbers():
    gr = client.GlideRecord("interaction")
    gr.add_query("client_session_id", "oauth-1")
    gr.query()
    return [r.get_value("number") for r in gr]

before = numbers()
# What pysnc runs when its token has expired (it then sends that one request without a token, a pysnc
# quirk the platform answers 401 too; the requests after it carry the new token).
session.refresh_token(session.auto_refresh_url)
after = numbers()
second = dict(session.token)
print(json.dumps({
    "created": created,
    "before": before,
    "after": after,
    "first": {k: first.get(k) for k in ("token_type", "scope", "expires_in")},
    "refreshed": second["access_token"] != first["access_token"],
    "same_refresh_token": second["refresh_token"] == first["refresh_token"],
}))
"#;

#[test]
fn pysnc_signs_in_with_oauth_and_refreshes_its_token() {
    let Some(python) = venv_python(".venv-clients") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut registered = String::new();
    let (server, base, cert) = tls_server(dir.path(), |store| {
        let output = Command::new(common::binary::BIN)
            .args(["oauth-client", "add", "--name", "pysnc", "--store", store])
            .output()
            .expect("run openframe oauth-client add");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        registered = String::from_utf8(output.stdout).unwrap();
    });
    let field = |name: &str| {
        registered
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {registered:?}"))
            .to_owned()
    };
    let (id, secret) = (field("client_id"), field("client_secret"));
    let result = run_python(
        &python,
        OAUTH_SCRIPT,
        &[&base, "admin", ADMIN_PASSWORD, &id, &secret],
        &cert,
    );
    assert_eq!(
        result["before"],
        serde_json::json!(["IMS0001001"]),
        "{result}"
    );
    assert_eq!(result["after"], result["before"], "{result}");
    assert_eq!(
        result["first"],
        // oauthlib splits the scope into a list.
        serde_json::json!({"token_type": "Bearer", "scope": ["useraccount"], "expires_in": 1799})
    );
    assert_eq!(result["refreshed"], true, "{result}");
    assert_eq!(result["same_refresh_token"], true, "{result}");
    assert_eq!(server.stop().0, 0);
}

#[test]
fn pysnc_reads_interactions_over_https() {
    let Some(python) = venv_python(".venv-clients") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, base, cert) = tls_server(dir.path(), |_| {});
    let result = run_python(&python, SCRIPT, &[&base, "admin", ADMIN_PASSWORD], &cert);
    let created = result["created"].as_array().expect("created");
    let rows = result["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{result}");
    assert_eq!(rows[0]["number"], "IMS0001001");
    assert_eq!(rows[1]["number"], "IMS0001002");
    assert_eq!(rows[0]["sys_id"], created[0]);
    assert_eq!(rows[0]["state"], "new");
    assert_eq!(result["found"], true);
    assert_eq!(result["found_number"], "IMS0001002");
    assert_eq!(
        result["batched"],
        serde_json::json!(["IMS0001001", "IMS0001002"]),
        "a long query through the Batch API"
    );
    assert_eq!(server.stop().0, 0);
}

/// pysnc's writes: `insert()` (POST), `update()` (PATCH with the changed fields), `update_multiple()` (one
/// PATCH per changed record, through the Batch API), `delete()` (DELETE) and `delete_multiple()` (a query, then
/// one DELETE per record through the Batch API), each read back.
const PYSNC_WRITES_SCRIPT: &str = r#"
import json, sys
from pysnc import ServiceNowClient

base, user, password, cert = sys.argv[1:5]
client = ServiceNowClient(base, (user, password), verify=cert)
FIELDS = ("number", "short_description", "direction", "state", "work_notes", "sys_mod_count", "user_phone_number")

def read(sys_id):
    gr = client.GlideRecord("interaction")
    if not gr.get(sys_id):
        return None
    return {f: gr.get_value(f) for f in FIELDS}

gr = client.GlideRecord("interaction")
gr.initialize()
gr.short_description = "pysnc insert"
gr.direction = "inbound"
gr.user_phone_number = "+14089965744"
# insert() answers a GlideElement: with pysnc's default `sysparm_display_value=all` its string data is the
# field's {display_value, value} object (as against an instance), so str() takes the sys_id out.
first = str(gr.insert())
inserted = read(first)

gr.short_description = "pysnc update"
gr.state = "work_in_progress"
gr.update()
updated = read(first)

other = client.GlideRecord("interaction")
other.initialize()
other.short_description = "pysnc second"
second = str(other.insert())

many = client.GlideRecord("interaction")
many.add_query("sys_id", "IN", ",".join([first, second]))
many.query()
for record in many:
    record.work_notes = "batched " + record.get_value("number")
multiple = many.update_multiple()
after_multiple = [read(first), read(second)]

doomed = client.GlideRecord("interaction")
doomed.get(second)
deleted = doomed.delete()

# delete_multiple(): a query, then one DELETE per record through the Batch API.
for text in ("pysnc bulk 1", "pysnc bulk 2"):
    bulk = client.GlideRecord("interaction")
    bulk.initialize()
    bulk.short_description = text
    bulk.insert()
bulk = client.GlideRecord("interaction")
bulk.add_query("short_description", "STARTSWITH", "pysnc bulk")
deleted_multiple = bulk.delete_multiple()
left = client.GlideRecord("interaction")
left.add_query("short_description", "STARTSWITH", "pysnc bulk")
left.query()
print(json.dumps({"first": first, "second": second, "inserted": inserted, "updated": updated,
                  "multiple": multiple, "after_multiple": after_multiple, "deleted": deleted,
                  "after_delete": read(second), "kept": read(first),
                  "deleted_multiple": deleted_multiple, "bulk_left": left.get_row_count()}))
"#;

/// Runs `check` against a server on each of the four stores in turn, with a fresh store each.
fn on_every_store(check: impl Fn(&str, Server, &str, &Path)) {
    for kind in ["sqlite", "sled", "memory", "postgres"] {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let database = match kind {
            "postgres" => match postgres_url("client writes") {
                Some(url) => Some(runtime.block_on(TestDatabase::create(&url))),
                None => continue,
            },
            _ => None,
        };
        let store = match (kind, &database) {
            ("sqlite", _) => format!("sqlite://{}", dir.path().join("writes.db").display()),
            ("sled", _) => format!("sled://{}", dir.path().join("writes.sled").display()),
            (_, Some(db)) => db.url(None),
            _ => "memory://".to_owned(),
        };
        let (server, base, cert) = common::python::tls_server(dir.path(), &store);
        check(kind, server, &base, &cert);
        if let Some(db) = database {
            runtime.block_on(db.drop_now());
        }
    }
}

#[test]
fn pysnc_inserts_updates_and_deletes_on_every_store() {
    let Some(python) = venv_python(".venv-clients") else {
        return;
    };
    on_every_store(|kind, server, base, cert| pysnc_writes(kind, &python, server, base, cert));
}

fn pysnc_writes(kind: &str, python: &Path, server: Server, base: &str, cert: &Path) {
    let result = run_python(
        python,
        PYSNC_WRITES_SCRIPT,
        &[base, "admin", ADMIN_PASSWORD],
        cert,
    );
    eprintln!("pysnc writes on {kind}");
    assert_eq!(
        result["inserted"],
        json!({"number": "IMS0001001", "short_description": "pysnc insert", "direction": "inbound",
               "state": "new", "work_notes": "", "sys_mod_count": "0", "user_phone_number": "+14089965744"}),
        "{result}"
    );
    assert_eq!(
        result["updated"],
        json!({"number": "IMS0001001", "short_description": "pysnc update", "direction": "inbound",
               "state": "work_in_progress", "work_notes": "", "sys_mod_count": "1",
               "user_phone_number": "+14089965744"}),
        "{result}"
    );
    assert_eq!(result["multiple"], true, "{result}");
    assert_eq!(
        result["after_multiple"][0]["work_notes"], "batched IMS0001001",
        "{result}"
    );
    assert_eq!(result["after_multiple"][0]["sys_mod_count"], "2");
    assert_eq!(
        result["after_multiple"][1]["work_notes"], "batched IMS0001002",
        "{result}"
    );
    assert_eq!(result["deleted"], true, "{result}");
    assert_eq!(result["after_delete"], serde_json::Value::Null, "{result}");
    assert_eq!(result["kept"], result["after_multiple"][0], "{result}");
    assert_eq!(result["deleted_multiple"], true, "{result}");
    assert_eq!(result["bulk_left"], 0, "{result}");
    assert_eq!(server.stop().0, 0);
}

/// pysnow's writes on a resource: `create(payload=…)` (POST), `update(query=…, payload=…)` (a GET, then PUT)
/// and `delete(query=…)` (a GET, then DELETE), each read back.
const PYSNOW_SCRIPT: &str = r#"
import json, sys
import requests, pysnow

host, user, password, cert = sys.argv[1:5]
session = requests.Session()
session.auth = (user, password)
session.verify = cert
client = pysnow.Client(host=host, session=session)
interactions = client.resource(api_path="/table/interaction")
created = interactions.create(payload={"short_description": "pysnow create", "user_phone_number": "+14089965744",
                                       "duration": 30}).one()
number = created["number"]
updated = interactions.update(query={"number": number},
                              payload={"short_description": "pysnow update", "state": "on_hold"}).one()
read = interactions.get(query={"number": number}).one()
kept = interactions.create(payload={"short_description": "pysnow kept"}).one()
deleted = interactions.delete(query={"number": number})
left = [r["number"] for r in interactions.get(query={}).all()]
print(json.dumps({"created": created, "updated": updated, "read": read, "deleted": deleted, "left": left,
                  "kept": kept["number"]}))
"#;

#[test]
fn pysnow_creates_updates_and_deletes_on_every_store() {
    let Some(python) = venv_python(".venv-pysnow") else {
        return;
    };
    on_every_store(|kind, server, base, cert| pysnow_writes(kind, &python, server, base, cert));
}

fn pysnow_writes(kind: &str, python: &Path, server: Server, base: &str, cert: &Path) {
    eprintln!("pysnow writes on {kind}");
    let host = base
        .strip_prefix("https://")
        .expect("an https URL")
        .to_owned();
    let result = run_python(
        python,
        PYSNOW_SCRIPT,
        &[&host, "admin", ADMIN_PASSWORD],
        cert,
    );
    let created = &result["created"];
    assert_eq!(created["number"], "IMS0001001", "{result}");
    assert_eq!(created["short_description"], "pysnow create");
    assert_eq!(created["duration"], "30");
    assert_eq!(created["state"], "new");
    let updated = &result["updated"];
    assert_eq!(updated["sys_id"], created["sys_id"], "{result}");
    assert_eq!(updated["short_description"], "pysnow update");
    assert_eq!(updated["state"], "on_hold");
    assert_eq!(updated["sys_mod_count"], "1");
    assert_eq!(result["read"], result["updated"], "{result}");
    assert_eq!(
        result["deleted"],
        serde_json::json!({"status": "record deleted"}),
        "{result}"
    );
    assert_eq!(
        result["left"],
        serde_json::json!([result["kept"]]),
        "{result}"
    );
    assert_eq!(server.stop().0, 0);
}
