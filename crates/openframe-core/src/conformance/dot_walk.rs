//! Dot-walking ([`crate::dot_walk::resolve`]): a condition through a reference selects on every store what
//! it selects on the reference store, for references to users, interactions and provider applications,
//! combined with `^`, `^OR` and `^NQ`; a walk that matches nothing selects nothing; a query ordered through
//! a reference ([`crate::dot_walk::page_ordered`]) comes in the same order.

use std::sync::Arc;

use crate::dot_walk;
use crate::query::TableQuery;
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, Table, field};

use super::display::fill;
use super::fixture::{Fixture, ok};

/// Runs `query` on `table` after resolving its dot-walks; the sys_ids found, in the query's order.
async fn found(repo: &Arc<dyn Repository>, table: &'static Table, query: &str) -> Vec<String> {
    let resolved = ok(
        "dot_walk::resolve",
        dot_walk::resolve(repo.as_ref(), table, query).await,
    );
    let parsed = ok(
        "TableQuery::parse",
        TableQuery::parse(table, Some(&resolved.query), None, None),
    );
    let page = if resolved.order.is_empty() {
        ok("query_records", repo.query_records(&parsed).await)
    } else {
        ok(
            "page_ordered",
            dot_walk::page_ordered(repo.as_ref(), &parsed, &resolved.order).await,
        )
    };
    page.records
        .iter()
        .map(|r: &Record| r.sys_id().to_owned())
        .collect()
}

/// Each store selects what the reference store selects, and the cases select what they say.
pub async fn dot_walked_conditions_match_the_reference(repo: &Arc<dyn Repository>) {
    let store = Fixture::new(repo);
    let reference = Fixture::reference();
    fill(&store).await;
    fill(&reference).await;
    let cases: &[(&'static Table, &str, usize)] = &[
        (&INTERACTION, "assigned_to.name=ABEL TUTER", 1),
        (
            &INTERACTION,
            "assigned_to.user_nameSTARTSWITHabel^ORDERBYnumber",
            1,
        ),
        (&INTERACTION, "opened_by.user_name=agent^ORDERBYnumber", 2),
        (&INTERACTION, "opened_by.user_name!=agent", 0),
        (&INTERACTION, "parent.number=IMS0001001", 1),
        (
            &INTERACTION,
            "parent.state=on_hold^ORassigned_to.nameLIKEtuter",
            2,
        ),
        (
            &INTERACTION,
            "parent.number=IMS0009999^NQprovider_application.name=Genesys Display",
            1,
        ),
        (
            &INTERACTION,
            "provider_application.inbound_idSTARTSWITHgenesys^state=on_hold",
            1,
        ),
        (
            &PHONE_LOG,
            "interaction.number=IMS0001001^ORDERBYcall_id",
            2,
        ),
        (&PHONE_LOG, "agent.user_name=agent", 1),
        (&PHONE_LOG, "interaction.number=IMS0001002", 0),
        // Ordered through a reference: the same order on every store.
        (&INTERACTION, "ORDERBYassigned_to.name^ORDERBYnumber", 2),
        (
            &INTERACTION,
            "ORDERBYDESCparent.number^ORDERBYDESCnumber",
            2,
        ),
        (
            &INTERACTION,
            "opened_by.user_name=agent^ORDERBYprovider_application.name",
            2,
        ),
        (&PHONE_LOG, "ORDERBYagent.user_name^ORDERBYcall_id", 2),
    ];
    for (table, query, count) in cases {
        let got = found(repo, table, query).await;
        let want = found(reference.repo(), table, query).await;
        assert_eq!(got, want, "{}: {query}", table.name);
        assert_eq!(got.len(), *count, "{}: {query}", table.name);
    }
    let ordered = found(
        repo,
        &INTERACTION,
        "opened_by.user_name=agent^ORDERBYDESCnumber",
    )
    .await;
    let first = ok(
        "read_record",
        repo.read_record(&INTERACTION, &crate::SysId::parse(&ordered[0]).unwrap())
            .await,
    );
    assert_eq!(
        first.map(|r| r.get(field::NUMBER).to_owned()).as_deref(),
        Some("IMS0001002"),
        "the walked condition keeps the query's order"
    );
}

/// The fields a page walks to (`sysparm_fields=assigned_to.name,…`) show the same on every store as on the
/// reference store; a reference that is empty or names no stored record reaches nothing.
pub async fn walked_fields_match_the_reference(repo: &Arc<dyn Repository>) {
    let store = Fixture::new(repo);
    let reference = Fixture::reference();
    fill(&store).await;
    fill(&reference).await;
    let cases: &[(&'static Table, &[&str])] = &[
        (
            &INTERACTION,
            &[
                "assigned_to.name",
                "opened_for.user_name",
                "parent.number",
                "parent.state",
                "provider_application.inbound_id",
                "opened_by.roles",
            ],
        ),
        (&PHONE_LOG, &["interaction.number", "agent.user_name"]),
    ];
    for (table, names) in cases {
        let walks: Vec<dot_walk::WalkedField> = names
            .iter()
            .map(|n| ok("WalkedField::parse", dot_walk::WalkedField::parse(table, n)))
            .collect();
        let shown = |repo: Arc<dyn Repository>| {
            let walks = walks.clone();
            async move {
                let page = ok(
                    "query_records",
                    repo.query_records(&TableQuery::all(table)).await,
                );
                let reached = ok(
                    "Reached::look_up",
                    dot_walk::Reached::look_up(repo.as_ref(), &page.records, &walks).await,
                );
                page.records
                    .iter()
                    .flat_map(|r| {
                        walks
                            .iter()
                            .map(|w| {
                                let value = reached.record(r, w).map_or("", |t| t.get(w.field));
                                format!("{}#{}.{}={value}", table.name, r.sys_id(), w.name)
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            }
        };
        let got = shown(Arc::clone(repo)).await;
        let want = shown(Arc::clone(reference.repo())).await;
        assert_eq!(got, want, "{}", table.name);
        assert!(
            got.iter()
                .any(|v| v.ends_with(".assigned_to.name=Abel Tuter"))
                || table.name != INTERACTION.name,
            "{got:?}"
        );
    }
}
