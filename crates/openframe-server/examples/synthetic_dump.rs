//! Writes a synthetic `openframe export` dump to standard output, for measuring `openframe import` and
//! `openframe export` (docs/PORTABILITY.md has the figures):
//!
//! ```sh
//! cargo run --release -p openframe-server --example synthetic_dump -- 20000 > /tmp/dump.jsonl
//! time openframe import --store sqlite:///tmp/of.db < /tmp/dump.jsonl
//! ```
//!
//! N interactions (the argument, 10,000 by default), each with two context variables, three phone logs and
//! two related records, like the reference's example; one user and one provider application.

use std::io::{self, BufWriter, Write};

use openframe_core::number::{FIRST_NUMBER, format_number};
use openframe_core::portability::{END_KEY, FORMAT_VERSION, HEADER_KEY, USER_TABLE};
use openframe_core::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, field};
use openframe_core::{Record, Result};
use serde_json::json;

/// A sys_id from a counter: increasing, so interactions come out in sys_id order as the format wants.
fn sys_id(kind: u64, n: u64) -> String {
    format!("{kind:08x}{n:024x}")
}

fn stamped(table: &'static openframe_core::schema::Table, id: String) -> Record {
    let mut r = Record::new(table);
    r.set(field::SYS_ID, id);
    for (name, value) in [
        (field::SYS_CREATED_ON, "2024-11-04 21:45:00"),
        (field::SYS_UPDATED_ON, "2024-11-04 21:45:00"),
        (field::SYS_CREATED_BY, "admin"),
        (field::SYS_UPDATED_BY, "admin"),
        (field::SYS_MOD_COUNT, "0"),
    ] {
        r.set(name, value);
    }
    r
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 10_000,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let mut line = |v: serde_json::Value| -> io::Result<()> {
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")
    };
    let mut records = 0u64;
    line(json!({ HEADER_KEY: FORMAT_VERSION }))?;
    line(json!({"table": USER_TABLE, "record": {
        "sys_id": sys_id(1, 0), "user_name": "admin",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "roles": ["admin"]}}))?;
    let mut app = stamped(&PROVIDER_APPLICATION, sys_id(2, 0));
    app.set(field::INBOUND_ID, "genesys-cloud-1");
    app.set(field::NAME, "Genesys Cloud");
    line(json!({"table": PROVIDER_APPLICATION.name, "record": app}))?;
    records += 2;
    for i in 0..n {
        let id = sys_id(3, i);
        let mut interaction = stamped(&INTERACTION, id.clone());
        interaction.set(field::NUMBER, format_number(FIRST_NUMBER + i));
        interaction.set(field::STATE, "new");
        interaction.set(field::TYPE, "phone");
        interaction.set(field::USER_PHONE_NUMBER, "+1303506536");
        interaction.set(field::CLIENT_SESSION_ID, format!("session-{i}"));
        interaction.set(field::INBOUND_ID, "genesys-cloud-1");
        interaction.set(field::PROVIDER_APPLICATION, sys_id(2, 0));
        line(json!({"table": INTERACTION.name, "record": interaction,
            "context": {"devicetype": "genesys", "requester_session_language": "en-US"}}))?;
        for k in 0..3 {
            let mut log = stamped(&PHONE_LOG, sys_id(4, i * 3 + k));
            log.set(field::INTERACTION, id.as_str());
            log.set(field::CALL_ID, format!("{i}-{k}"));
            log.set(field::START_TIME, "2024-11-04 21:45:00");
            line(json!({"table": PHONE_LOG.name, "record": log}))?;
        }
        for k in 0..2 {
            let mut related = stamped(&RELATED_RECORD, sys_id(5, i * 2 + k));
            related.set(field::INTERACTION, id.as_str());
            related.set(field::DOCUMENT_TABLE, "csm_consumer");
            related.set(field::DOCUMENT_ID, "59e788fbdb1b1200b6075200cf9619d2");
            line(json!({"table": RELATED_RECORD.name, "record": related}))?;
        }
        records += 6;
    }
    line(json!({ END_KEY: { "records": records } }))?;
    out.flush()?;
    Ok(())
}
