//! Display values: [`ReferenceNames::look_up`] over a page of each table shows the same thing on every
//! store as on the reference store — users by full name (else user name), interactions by number, provider
//! applications by name, choices by label, references to records not stored by their value — and sees only
//! the fields it is asked about.

use std::sync::Arc;

use serde_json::json;

use crate::display::ReferenceNames;
use crate::query::TableQuery;
use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, TABLES, field};
use crate::user::User;

use super::accounts::provider_application;
use super::fixture::{AGENT, Fixture, UNKNOWN, ok, sys_id};

/// Fills a store: two users (one with a full name, one without: the suite's agent), a provider
/// application, and interactions referencing them, a parent, and a user that is not stored.
pub(super) async fn fill(fixture: &Fixture) {
    let repo = fixture.repo();
    let mut named = User {
        sys_id: sys_id("00000000000000000000000000000d01"),
        user_name: "abel.tuter".into(),
        name: "Abel Tuter".into(),
        password_hash: "$argon2id$x".into(),
        roles: vec!["itil".into()],
    };
    ok("add_user", repo.add_user(&named).await);
    named.sys_id = sys_id(AGENT);
    named.user_name = "agent".into();
    named.name = String::new();
    ok("add_user", repo.add_user(&named).await);
    let app = provider_application("genesys-d", "Genesys Display");
    ok(
        "add_provider_application",
        repo.add_provider_application(&app).await,
    );
    let first = ok(
        "create",
        fixture
            .create(&json!({
                "interaction": {
                    "userPhoneNumber": "+14089965740",
                    "inboundId": "genesys-d",
                    "additionalParams": {"state": "on_hold", "direction": "outbound",
                                         "assigned_to": "00000000000000000000000000000d01",
                                         "opened_for": UNKNOWN}
                },
                "phoneLogs": [{"call_id": "c1", "agent": AGENT, "call_type": "OUTBOUND"},
                              {"call_id": "c2", "agent": UNKNOWN}],
                "relatedRecords": [{"documentTable": "csm_consumer", "documentId": AGENT}]
            }))
            .await,
    );
    ok(
        "create",
        fixture
            .create(&json!({
                "interaction": {
                    "userPhoneNumber": "+14089965741",
                    "additionalParams": {"state": "closed_abandoned", "parent": first.sys_id.as_str(),
                                         "closed_by": AGENT}
                }
            }))
            .await,
    );
}

/// Every field of every record of every table, as display values, over one page per table.
async fn displayed(repo: &Arc<dyn Repository>) -> Vec<(String, String, String)> {
    let mut shown = Vec::new();
    for table in TABLES {
        let page = ok(
            "query_records",
            repo.query_records(&TableQuery::all(table)).await,
        );
        let names = ok(
            "ReferenceNames::look_up",
            ReferenceNames::look_up(repo.as_ref(), &page.records, &[]).await,
        );
        for record in &page.records {
            for name in table
                .field_names()
                .chain(crate::computed::computed_fields(table).iter().copied())
            {
                // The fixture's clock and sys_ids are the same on every store: every field is compared.
                shown.push((
                    format!("{}#{}", table.name, record.sys_id()),
                    name.to_owned(),
                    names.display(record, name).into_owned(),
                ));
            }
        }
    }
    shown.sort();
    shown
}

/// Each store shows what the reference store shows, field by field; a few values spelled out.
pub async fn display_values_match_the_reference(repo: &Arc<dyn Repository>) {
    let store = Fixture::new(repo);
    let reference = Fixture::reference();
    fill(&store).await;
    fill(&reference).await;
    let got = displayed(repo).await;
    let want = displayed(reference.repo()).await;
    let differences: Vec<String> = want
        .iter()
        .filter(|w| !got.contains(w))
        .map(|(record, name, value)| format!("{record}.{name}: want {value:?}"))
        .collect();
    assert!(
        differences.is_empty() && got.len() == want.len(),
        "display values differ from the reference store's:\n{}",
        differences.join("\n")
    );
    let value_of = |table: &str, name: &str| -> Vec<&str> {
        got.iter()
            .filter(|(record, n, _)| record.starts_with(&format!("{table}#")) && n == name)
            .map(|(_, _, v)| v.as_str())
            .collect()
    };
    let mut states = value_of(INTERACTION.name, field::STATE);
    states.sort_unstable();
    assert_eq!(states, ["Closed Abandoned", "On Hold"]);
    let mut assigned = value_of(INTERACTION.name, field::ASSIGNED_TO);
    assigned.sort_unstable();
    assert_eq!(assigned, ["", "Abel Tuter"], "a user by full name");
    let mut agents = value_of(PHONE_LOG.name, field::AGENT);
    agents.sort_unstable();
    assert_eq!(
        agents,
        ["agent", UNKNOWN],
        "by user name; not stored: the value"
    );
    assert!(value_of(INTERACTION.name, field::PARENT).contains(&"IMS0001001"));
    assert!(value_of(INTERACTION.name, field::PROVIDER_APPLICATION).contains(&"Genesys Display"));
    let mut active = value_of(INTERACTION.name, crate::computed::ACTIVE);
    active.sort_unstable();
    assert_eq!(active, ["false", "true"]);
}

/// Only the fields asked about are looked up: a page shown with `sysparm_fields=state` shows its
/// references' values, as nothing was looked up for them.
pub async fn display_values_look_up_only_the_fields_shown(repo: &Arc<dyn Repository>) {
    let store = Fixture::new(repo);
    fill(&store).await;
    let page = ok(
        "query_records",
        repo.query_records(&TableQuery::all(&INTERACTION)).await,
    );
    let names = ok(
        "ReferenceNames::look_up",
        ReferenceNames::look_up(repo.as_ref(), &page.records, &[field::STATE]).await,
    );
    for record in &page.records {
        assert_eq!(
            names.display(record, field::ASSIGNED_TO),
            record.get(field::ASSIGNED_TO)
        );
    }
}
