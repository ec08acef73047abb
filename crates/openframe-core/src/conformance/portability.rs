//! Export and import: keyset-paged reads in order, verbatim batch writes, the number counter moved past an
//! import, and a batch that conflicts writing nothing. Dumps are compared byte for byte with the reference's.

use std::sync::Arc;

use serde_json::json;

use crate::aggregate::InteractionAggregate;
use crate::error::{Conflict, Error};
use crate::memory::MemoryRepository;
use crate::portability::{self, ImportBatch};
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::{INTERACTION, PHONE_LOG, PROVIDER_APPLICATION, RELATED_RECORD, Table, field};
use crate::sys_id::SysId;
use crate::user::User;

use super::accounts::provider_application;
use super::fixture::{
    AGENT, Fixture, assert_aggregate, assert_conflict, assert_same_dump, ok, reference_body, sys_id,
};

/// `repo`'s dump, as [`portability::export`] writes it.
pub(crate) async fn dump(repo: &dyn Repository) -> String {
    let mut out = Vec::new();
    ok(
        "export",
        portability::export(repo, &mut out, &mut |_| {}).await,
    );
    String::from_utf8(out).unwrap_or_else(|e| panic!("the export is not UTF-8: {e}"))
}

/// Imports `dump` into `repo` in batches of `batch` records; panics on an error.
pub(crate) async fn load(repo: &dyn Repository, dump: &str, batch: usize) {
    portability::import(repo, &mut dump.as_bytes(), batch, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("import: {e} ({e:?})"));
}

fn user(n: u64, name: &str) -> User {
    User {
        sys_id: sys_id(&format!("{:016x}{n:016x}", 0xdd_u64)),
        user_name: name.to_owned(),
        // Every other user has a full name: both kinds must survive an export and import.
        name: if n.is_multiple_of(2) {
            format!("Full Name {n}")
        } else {
            String::new()
        },
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${n}+/="),
        roles: vec!["sn_openframe_api_user".to_owned(), "admin".to_owned()],
    }
}

/// Fills `fixture`'s store: users, providers, interactions with context, logs (one updated after a later
/// one was added, so creation order differs from sys_id order) and related records, a closed one, and
/// values with quotes, newlines and non-ASCII text.
async fn populate(fixture: &Fixture) -> Vec<SysId> {
    let repo = fixture.repo();
    for (n, name) in ["zoe", "admin", "Émile", "agent.1"].into_iter().enumerate() {
        ok("add_user", repo.add_user(&user(n as u64, name)).await);
    }
    for (inbound, name) in [
        ("genesys-1", "Genesys"),
        ("connect-1", "Amazon \"Connect\""),
    ] {
        ok(
            "add_provider_application",
            repo.add_provider_application(&provider_application(inbound, name))
                .await,
        );
    }
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut body = reference_body();
        body["interaction"]["clientSessionId"] = json!(format!("session-{i}"));
        body["interaction"]["inboundId"] =
            json!(if i % 2 == 0 { "genesys-1" } else { "connect-1" });
        body["interactionContext"]["note"] = json!(format!("line one\nline \"two\" ünïcödé {i}"));
        let created = ok("create", fixture.create(&body).await);
        ids.push(created.sys_id);
    }
    let update = json!({
        "interaction": {"additionalParams": {"state": "closed_complete", "work_notes": "tab\there"}},
        "interactionContext": {"devicetype": "", "extra": "x"},
        "phoneLogs": [
            {"call_id": "99", "agent": AGENT, "start_time": "2024-11-04 22:00:00"},
            {"call_id": "2323223", "end_time": "2024-11-04 21:50:00"}
        ],
        "relatedRecords": [{"documentTable": "customer_contact", "documentId": "59e788fbdb1b1200b6075200cf9619d3"}]
    });
    ok("update", fixture.update(&ids[2], &update).await);
    ids
}

/// Every interaction read through `export_interactions` pages of `limit`.
async fn paged(repo: &dyn Repository, limit: usize) -> Vec<InteractionAggregate> {
    let mut all = Vec::new();
    let mut after: Option<SysId> = None;
    loop {
        let page = ok(
            "export_interactions",
            repo.export_interactions(after.as_ref(), limit).await,
        );
        assert!(page.len() <= limit, "a page of {limit} held {}", page.len());
        let Some(last) = page.last() else { break };
        after = Some(sys_id(last.interaction.sys_id()));
        let full = page.len() == limit;
        all.extend(page);
        if !full {
            break;
        }
    }
    all
}

/// The export reads pages in sys_id order (users by name), each interaction whole and as `load_interaction`
/// reads it, and a page after the last record is empty; the dump matches the reference's byte for byte, and
/// imported into a fresh reference it exports the same again.
pub async fn export_reads_everything_in_order(repo: &Arc<dyn Repository>) {
    let store = Fixture::new(repo);
    let reference = Fixture::reference();
    let mut ids = populate(&store).await;
    populate(&reference).await;

    ids.sort();
    for limit in [1, 3, 100] {
        let got = paged(repo.as_ref(), limit).await;
        let got_ids: Vec<&str> = got.iter().map(|a| a.interaction.sys_id()).collect();
        let want: Vec<&str> = ids.iter().map(SysId::as_str).collect();
        assert_eq!(
            got_ids, want,
            "interactions in pages of {limit}: not every one, or not in sys_id order"
        );
        for a in &got {
            assert_aggregate(
                a,
                &store.load(&sys_id(a.interaction.sys_id())).await,
                "an exported interaction (got) differs from the one loaded (want)",
            );
        }
    }
    let last = ids.last().cloned();
    assert!(
        ok(
            "export_interactions",
            repo.export_interactions(last.as_ref(), 10).await
        )
        .is_empty(),
        "a page after the last interaction"
    );

    let users = ok("export_users", repo.export_users(None, 2).await);
    let names: Vec<&str> = users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["admin", "agent.1"]);
    let users = ok("export_users", repo.export_users(Some("agent.1"), 10).await);
    let names: Vec<&str> = users.iter().map(|u| u.user_name.as_str()).collect();
    assert_eq!(names, ["zoe", "Émile"], "byte-wise order after agent.1");
    assert_eq!(users[0], user(0, "zoe"), "a user is exported exactly");

    let apps = ok(
        "export_provider_applications",
        repo.export_provider_applications(None, 10).await,
    );
    assert_eq!(apps.len(), 2);
    assert!(
        apps[0].sys_id() < apps[1].sys_id(),
        "provider applications in sys_id order"
    );
    let after_first = sys_id(apps[0].sys_id());
    let rest = ok(
        "export_provider_applications",
        repo.export_provider_applications(Some(&after_first), 10)
            .await,
    );
    assert_eq!(rest, apps[1..]);

    let got = dump(repo.as_ref()).await;
    let want = dump(reference.repo().as_ref()).await;
    assert_same_dump(
        &got,
        &want,
        "the store's dump (got) differs from the reference's (want)",
    );

    let copy = MemoryRepository::new();
    load(&copy, &got, 5).await;
    assert_same_dump(
        &dump(&copy).await,
        &got,
        "the dump imported into a fresh store exports differently",
    );
}

/// A dump imported into the store (in several batches) exports byte for byte the same, every interaction
/// loads as it was, and the number counter has moved past the highest imported number.
pub async fn import_then_export_gives_the_dump(repo: &Arc<dyn Repository>) {
    let source = Fixture::reference();
    let ids = populate(&source).await;
    // An interaction numbered well past the others, as a store whose counter ran ahead would hold.
    let mut far = InteractionAggregate {
        interaction: Record::new(&INTERACTION),
        context: Default::default(),
        phone_logs: Vec::new(),
        related_records: Vec::new(),
    };
    far.interaction
        .set(field::SYS_ID, "ffff00000000000000000000000000aa");
    far.interaction.set(field::NUMBER, "IMS0123456");
    far.interaction
        .set(field::SYS_CREATED_ON, "2020-01-01 00:00:00");
    ok(
        "reference import",
        source
            .repo()
            .import(&ImportBatch {
                interactions: vec![far],
                ..ImportBatch::default()
            })
            .await,
    );
    let want = dump(source.repo().as_ref()).await;

    load(repo.as_ref(), &want, 4).await;
    assert_same_dump(
        &dump(repo.as_ref()).await,
        &want,
        "the imported store exports differently",
    );
    for id in &ids {
        let got = ok("load_interaction", repo.load_interaction(id).await);
        let expected = ok("reference load", source.repo().load_interaction(id).await);
        assert_eq!(got, expected, "interaction {id} after import");
    }
    for name in ["admin", "Émile"] {
        assert_eq!(
            ok("find_user", repo.find_user(name).await),
            ok("reference find_user", source.repo().find_user(name).await)
        );
    }
    assert!(
        ok(
            "find_provider_application",
            repo.find_provider_application("connect-1").await
        )
        .is_some()
    );

    let mut next = Record::new(&INTERACTION);
    next.set(field::SYS_ID, SysId::random().as_str());
    let number = ok(
        "create_interaction after import",
        repo.create_interaction(InteractionAggregate {
            interaction: next,
            context: Default::default(),
            phone_logs: Vec::new(),
            related_records: Vec::new(),
        })
        .await,
    );
    assert_eq!(
        number, "IMS0123457",
        "the counter moves past the highest imported number"
    );
}

/// A batch that would take a sys_id, number, user name or inbound id the store holds (or that repeats
/// one) is the [`Conflict`] naming that key, and writes nothing of the batch; a malformed batch is invalid
/// and writes nothing.
pub async fn conflicting_import_writes_nothing(repo: &Arc<dyn Repository>) {
    let source = Fixture::reference();
    let ids = populate(&source).await;
    let existing = ok(
        "reference load",
        source.repo().load_interaction(&ids[0]).await,
    )
    .unwrap_or_else(|| panic!("the reference lost {}", ids[0]));
    ok(
        "import",
        repo.import(&ImportBatch {
            users: vec![user(1, "admin")],
            provider_applications: vec![provider_application("genesys-1", "Genesys")],
            interactions: vec![existing.clone()],
        })
        .await,
    );
    let before = dump(repo.as_ref()).await;

    let fresh = |n: u8| {
        let mut a = existing.clone();
        let id = format!("{n:02x}{}", "0".repeat(30));
        a.interaction.set(field::SYS_ID, id.as_str());
        a.interaction.set(field::NUMBER, format!("IMS01000{n:02}"));
        for (i, child) in a
            .phone_logs
            .iter_mut()
            .chain(a.related_records.iter_mut())
            .enumerate()
        {
            child.set(field::SYS_ID, format!("{n:02x}{i:02x}{}", "0".repeat(28)));
            child.set(field::INTERACTION, id.as_str());
        }
        a
    };
    let new_user = user(9, "new-user");
    let sys_id_taken = |table: &Table, sys_id: &str| Conflict::SysId {
        table: table.name,
        sys_id: sys_id.to_owned(),
    };
    let mut cases: Vec<(&str, ImportBatch, Conflict)> = Vec::new();
    let mut taken = fresh(2);
    taken
        .interaction
        .set(field::SYS_ID, existing.interaction.sys_id());
    for child in taken
        .phone_logs
        .iter_mut()
        .chain(taken.related_records.iter_mut())
    {
        child.set(field::INTERACTION, existing.interaction.sys_id());
    }
    cases.push((
        "a taken interaction sys_id",
        ImportBatch {
            interactions: vec![fresh(1), taken],
            ..Default::default()
        },
        sys_id_taken(&INTERACTION, existing.interaction.sys_id()),
    ));
    let mut number = fresh(3);
    number
        .interaction
        .set(field::NUMBER, existing.interaction.get(field::NUMBER));
    cases.push((
        "a taken number",
        ImportBatch {
            interactions: vec![fresh(1), number],
            ..Default::default()
        },
        Conflict::Number {
            number: existing.interaction.get(field::NUMBER).to_owned(),
        },
    ));
    let mut number = fresh(3);
    number
        .interaction
        .set(field::NUMBER, fresh(1).interaction.get(field::NUMBER));
    cases.push((
        "a number twice in the batch",
        ImportBatch {
            interactions: vec![fresh(1), number],
            ..Default::default()
        },
        Conflict::Number {
            number: fresh(1).interaction.get(field::NUMBER).to_owned(),
        },
    ));
    let mut log = fresh(4);
    log.phone_logs[0].set(field::SYS_ID, existing.phone_logs[0].sys_id());
    cases.push((
        "a taken phone-log sys_id",
        ImportBatch {
            interactions: vec![fresh(1), log],
            ..Default::default()
        },
        sys_id_taken(&PHONE_LOG, existing.phone_logs[0].sys_id()),
    ));
    let mut related = fresh(4);
    related.related_records[0].set(field::SYS_ID, existing.related_records[0].sys_id());
    cases.push((
        "a taken related-record sys_id",
        ImportBatch {
            interactions: vec![fresh(1), related],
            ..Default::default()
        },
        sys_id_taken(&RELATED_RECORD, existing.related_records[0].sys_id()),
    ));
    cases.push((
        "an interaction twice in the batch",
        ImportBatch {
            interactions: vec![fresh(1), fresh(1)],
            ..Default::default()
        },
        sys_id_taken(&INTERACTION, fresh(1).interaction.sys_id()),
    ));
    cases.push((
        "a taken user name",
        ImportBatch {
            users: vec![new_user.clone(), user(7, "admin")],
            interactions: vec![fresh(1)],
            ..Default::default()
        },
        Conflict::UserName {
            user_name: "admin".into(),
        },
    ));
    cases.push((
        "a user name twice in the batch",
        ImportBatch {
            users: vec![new_user.clone(), user(8, "new-user")],
            interactions: vec![fresh(1)],
            ..Default::default()
        },
        Conflict::UserName {
            user_name: "new-user".into(),
        },
    ));
    cases.push((
        "a taken user sys_id",
        ImportBatch {
            users: vec![new_user.clone(), user(1, "other")],
            interactions: vec![fresh(1)],
            ..Default::default()
        },
        Conflict::SysId {
            table: portability::USER_TABLE,
            sys_id: user(1, "admin").sys_id.into_string(),
        },
    ));
    let mut app = provider_application("genesys-1", "Again");
    app.set(field::SYS_ID, "eeee00000000000000000000000000ee");
    cases.push((
        "a taken inbound_id",
        ImportBatch {
            users: vec![new_user.clone()],
            provider_applications: vec![app],
            interactions: vec![fresh(1)],
        },
        Conflict::InboundId {
            inbound_id: "genesys-1".into(),
        },
    ));
    let taken_id = provider_application("genesys-1", "Genesys")
        .sys_id()
        .to_owned();
    let mut app = provider_application("genesys-2", "Other");
    app.set(field::SYS_ID, taken_id.as_str());
    cases.push((
        "a taken provider application sys_id",
        ImportBatch {
            provider_applications: vec![app],
            ..Default::default()
        },
        sys_id_taken(&PROVIDER_APPLICATION, &taken_id),
    ));
    for (what, batch, expected) in cases {
        assert_conflict(
            &format!("import with {what}"),
            repo.import(&batch).await,
            expected,
        );
        assert_same_dump(
            &dump(repo.as_ref()).await,
            &before,
            &format!("import with {what} wrote something"),
        );
    }

    let mut stray = fresh(5);
    stray.phone_logs[0].set(field::INTERACTION, existing.interaction.sys_id());
    let mut bad_number = fresh(6);
    bad_number.interaction.set(field::NUMBER, "1001");
    let mut bad_user = new_user.clone();
    bad_user.user_name = "a:b".into();
    for (what, batch) in [
        (
            "a phone log of another interaction",
            ImportBatch {
                interactions: vec![fresh(1), stray],
                ..Default::default()
            },
        ),
        (
            "a malformed number",
            ImportBatch {
                interactions: vec![fresh(1), bad_number],
                ..Default::default()
            },
        ),
        (
            "a malformed user name",
            ImportBatch {
                users: vec![bad_user],
                interactions: vec![fresh(1)],
                ..Default::default()
            },
        ),
    ] {
        match repo.import(&batch).await {
            Err(Error::Invalid { .. }) => {}
            other => panic!("import with {what}: expected invalid, got {other:?}"),
        }
        assert_same_dump(
            &dump(repo.as_ref()).await,
            &before,
            &format!("import with {what} wrote something"),
        );
    }

    // The same batch without the conflict goes in whole.
    ok(
        "import",
        repo.import(&ImportBatch {
            users: vec![new_user],
            interactions: vec![fresh(1)],
            ..Default::default()
        })
        .await,
    );
    assert!(
        ok(
            "load_interaction",
            repo.load_interaction(&sys_id(fresh(1).interaction.sys_id()))
                .await
        )
        .is_some()
    );
    assert!(ok("find_user", repo.find_user("new-user").await).is_some());
}
