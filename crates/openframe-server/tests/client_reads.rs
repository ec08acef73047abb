//! The ordinary reads of pysnc (ServiceNow's own client) and pysnow, unmodified, against the real binary
//! over TLS on each of the four stores: every query operator, paging, get by sys_id and by number, display
//! values, the active query, streaming, pysnow's count (the Aggregate API). The venvs come from `scripts/client-libs.sh` (CI runs it).

mod common;

use std::path::Path;

use common::binary::{ADMIN_PASSWORD, Server};
use common::postgres::{TestDatabase, postgres_url};
use common::python::{run_python, tls_server, venv_python};
use serde_json::json;

/// Creates three calls through the openframe endpoint with `requests`: A (new, 30 s, "Billing question"),
/// B (on hold, 120 s, "billing follow-UP", A's child), C (closed, 600 s, "Cancel"). Prints their sys_ids.
const SEED: &str = r#"
import json, sys
import requests
base, user, password, cert = sys.argv[1:5]
def create(session, state, duration, text, parent=None):
    params = {"state": state, "duration": duration, "short_description": text}
    if parent:
        params["parent"] = parent
    reply = requests.post(base + "/api/now/openframe/voice-interaction", auth=(user, password), verify=cert,
        json={"interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": session,
                              "additionalParams": params}})
    reply.raise_for_status()
    return reply.json()["result"]["sysId"]
a = create("reads-1", "new", "30", "Billing question")
b = create("reads-2", "on_hold", "120", "billing follow-UP", a)
c = create("reads-3", "closed_complete", "600", "Cancel")
print(json.dumps([a, b, c]))
"#;

/// pysnc's GlideRecord: one query per operator (printing the numbers found), paging one row at a time,
/// get by sys_id and by number, display values (pysnc asks for `all` by default), the active query.
const PYSNC: &str = r#"
import json, sys
from pysnc import ServiceNowClient
base, user, password, b_sys_id, cert = sys.argv[1:6]
client = ServiceNowClient(base, (user, password), verify=cert)

def numbers(build, batch_size=100):
    gr = client.GlideRecord("interaction", batch_size=batch_size)
    build(gr)
    gr.order_by("number")
    gr.query()
    return [r.get_value("number") for r in gr]

out = {}
for name, field, op, value in [
    ("eq", "state", "=", "new"), ("ne", "state", "!=", "new"), ("in", "state", "IN", "new,on_hold"),
    ("not_in", "state", "NOT IN", "new"), ("gt", "duration", ">", "100"), ("lt", "duration", "<", "100"),
    ("ge", "duration", ">=", "120"), ("le", "duration", "<=", "120"), ("between", "duration", "BETWEEN", "100@200"),
    ("starts", "short_description", "STARTSWITH", "billing"), ("ends", "short_description", "ENDSWITH", "UP"),
    ("like", "short_description", "LIKE", "QUEST"), ("not_like", "short_description", "NOT LIKE", "billing"),
    ("date", "opened_at", ">", "javascript:gs.dateGenerate('2000-01-01','start')"),
]:
    out[name] = numbers(lambda gr: gr.add_query(field, op, value))
out["empty"] = numbers(lambda gr: gr.add_null_query("parent"))
out["not_empty"] = numbers(lambda gr: gr.add_not_null_query("parent"))
out["active"] = numbers(lambda gr: gr.add_active_query())
out["or"] = numbers(lambda gr: gr.add_query("state", "new").add_or_condition("state", "closed_complete"))
out["paged"] = numbers(lambda gr: None, batch_size=1)

by_id = client.GlideRecord("interaction")
out["by_sys_id"] = by_id.get(b_sys_id) and by_id.get_value("number")
by_number = client.GlideRecord("interaction")
out["by_number"] = by_number.get("number", "IMS0001002") and by_number.get_value("sys_id")
missing = client.GlideRecord("interaction")
out["missing"] = missing.get("IMS0001005")
out["display"] = {f: [by_id.get_value(f), by_id.get_display_value(f)]
                  for f in ("state", "parent", "opened_by", "active", "duration")}
print(json.dumps(out))
"#;

/// pysnow: QueryBuilder chains, streaming, display values, a query by sys_id.
const PYSNOW: &str = r#"
import datetime, json, sys
from urllib.parse import urlparse
import pysnow
base, user, password, b_sys_id, cert = sys.argv[1:6]
client = pysnow.Client(host=urlparse(base).netloc, user=user, password=password, use_ssl=True)
interactions = client.resource(api_path="/table/interaction")
out = {}
def numbers(query, **kwargs):
    response = interactions.get(query=query, stream=True, **kwargs)
    return sorted(r["number"] for r in response.all())
qb = pysnow.QueryBuilder
out["chain"] = numbers(qb().field("state").equals(["new", "on_hold"]).AND().field("duration").greater_than(50))
out["not_equals"] = numbers(qb().field("state").not_equals("new").AND().field("short_description").contains("CANCEL"))
out["dates"] = numbers(qb().field("opened_at").greater_than(datetime.datetime(2000, 1, 1))
                       .AND().field("opened_at").between(datetime.datetime(2000, 1, 1), datetime.datetime(2999, 1, 1)))
out["or"] = numbers(qb().field("duration").less_than(100).OR().field("duration").greater_than_or_equal(600))
out["empty"] = numbers(qb().field("parent").is_empty())
response = interactions.get(query={"sys_id": b_sys_id})
out["by_sys_id"] = response.one()["number"]
# pysnow's count through the Aggregate API (its legacy query interface).
out["stats_count"] = client.query(table="interaction", query={"state": "on_hold"}).count
everything = interactions.get(query={}, stream=True)
out["count"] = len(list(everything.all()))
record = interactions.get(query={"number": "IMS0001002"}, display_value="all").one()
out["all"] = {f: record[f] for f in ("state", "parent", "opened_by")}
record = interactions.get(query={"number": "IMS0001002"}, display_value=True, exclude_reference_link=True).one()
out["true"] = {f: record[f] for f in ("state", "parent", "opened_by", "active")}
print(json.dumps(out))
"#;

/// Seeds a fresh store behind `server`, then runs both clients and checks what they read.
fn reads_agree(
    store_name: &str,
    python: &Path,
    pysnow: Option<&Path>,
    server: Server,
    base: &str,
    cert: &Path,
) {
    let ids = run_python(python, SEED, &[base, "admin", ADMIN_PASSWORD], cert);
    let b = ids[1].as_str().expect("B's sys_id").to_owned();
    let (a, bb, c) = ("IMS0001001", "IMS0001002", "IMS0001003");
    let got = run_python(python, PYSNC, &[base, "admin", ADMIN_PASSWORD, &b], cert);
    let want = json!({
        "eq": [a], "ne": [bb, c], "in": [a, bb], "not_in": [bb, c], "gt": [bb, c], "lt": [a], "ge": [bb, c],
        "le": [a, bb], "between": [bb], "starts": [a, bb], "ends": [bb], "like": [a], "not_like": [c],
        "date": [a, bb, c], "empty": [a, c], "not_empty": [bb], "active": [a, bb], "or": [a, c],
        "paged": [a, bb, c], "by_sys_id": bb, "by_number": b, "missing": false,
        "display": {
            "state": ["on_hold", "On Hold"],
            "parent": [ids[0], a],
            "opened_by": [got["display"]["opened_by"][0], "admin"],
            "active": ["true", "true"],
            "duration": ["120", "120"],
        },
    });
    assert_eq!(got, want, "pysnc on {store_name}");
    if let Some(pysnow) = pysnow {
        let got = run_python(pysnow, PYSNOW, &[base, "admin", ADMIN_PASSWORD, &b], cert);
        let opened_by = got["all"]["opened_by"]["value"].clone();
        let want = json!({
            "chain": [bb], "not_equals": [c], "dates": [a, bb, c], "or": [a, c], "empty": [a, c],
            "by_sys_id": bb, "count": 3, "stats_count": 1,
            "all": {
                "state": {"display_value": "On Hold", "value": "on_hold"},
                "parent": {"display_value": a, "value": ids[0],
                           "link": format!("{base}/api/now/table/interaction/{}", ids[0].as_str().unwrap())},
                "opened_by": {"display_value": "admin", "value": opened_by,
                              "link": format!("{base}/api/now/table/sys_user/{}", opened_by.as_str().unwrap())},
            },
            "true": {"state": "On Hold", "parent": a, "opened_by": "admin", "active": "true"},
        });
        assert_eq!(got, want, "pysnow on {store_name}");
    }
    assert_eq!(server.stop().0, 0);
}

fn run_on(store_name: &str, store: impl FnOnce(&Path) -> String) {
    let Some(python) = venv_python(".venv-clients") else {
        return;
    };
    let pysnow = venv_python(".venv-pysnow");
    let dir = tempfile::tempdir().unwrap();
    let (server, base, cert) = tls_server(dir.path(), &store(dir.path()));
    reads_agree(store_name, &python, pysnow.as_deref(), server, &base, &cert);
}

#[test]
fn pysnc_and_pysnow_read_sqlite() {
    run_on("sqlite", |dir| {
        format!("sqlite://{}", dir.join("reads.db").display())
    });
}

#[test]
fn pysnc_and_pysnow_read_sled() {
    run_on("sled", |dir| {
        format!("sled://{}", dir.join("reads.sled").display())
    });
}

#[test]
fn pysnc_and_pysnow_read_memory() {
    run_on("memory", |_| "memory://".to_owned());
}

#[test]
fn pysnc_and_pysnow_read_postgres() {
    let Some(url) = postgres_url("pysnc_and_pysnow_read_postgres") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDatabase::create(&url));
    run_on("postgres", |_| db.url(None));
    runtime.block_on(db.drop_now());
}
