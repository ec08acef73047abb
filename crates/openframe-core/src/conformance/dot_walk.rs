//! Dot-walking ([`crate::dot_walk::resolve`]): a condition through a reference selects on every store what
//! it selects on the reference store, for references to users, interactions and provider applications,
//! combined with `^`, `^OR` and `^NQ`; a walk that matches nothing selects nothing.

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
        TableQuery::parse(table, Some(&resolved), None, None),
    );
    let page = ok("query_records", repo.query_records(&parsed).await);
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
