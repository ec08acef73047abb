//! Users and provider applications: add, find by key, uniqueness, exact lookups.

use std::sync::Arc;

use crate::datetime::DateTime;
use crate::error::Conflict;
use crate::record::Record;
use crate::repository::Repository;
use crate::schema::field;
use crate::user::{User, new_provider_application};

use super::environment::CLOCK_START;
use super::fixture::{assert_conflict, ok, sys_id};

/// A provider application as `openframe provider add` makes it, with a sys_id derived from `inbound_id`
/// so that the same call gives the same record.
pub(crate) fn provider_application(inbound_id: &str, name: &str) -> Record {
    let digest = inbound_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let id = sys_id(&format!("{:016x}{digest:016x}", 0xaa_u64));
    ok(
        "new_provider_application",
        new_provider_application(
            id,
            inbound_id,
            name,
            "admin",
            DateTime::from_unix(CLOCK_START),
        ),
    )
}

fn user(id: &str, name: &str, roles: &[&str]) -> User {
    User {
        sys_id: sys_id(id),
        user_name: name.to_owned(),
        name: String::new(),
        // A PHC string has `$`, `=`, `,`, `+` and `/` in it.
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdC{}$h+/a=", name.len()),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// `find_users_by_sys_id` answers the users among the sys_ids asked for, each once whatever the repeats,
/// with their full names; sys_ids of no user are left out, and none asked is none found.
pub async fn users_by_sys_id(repo: &Arc<dyn Repository>) {
    let mut named = user("0000000000000000000000000000b001", "abel.tuter", &["itil"]);
    named.name = "Abel Tuter".to_owned();
    let unnamed = user("0000000000000000000000000000b002", "beth", &[]);
    let other = user("0000000000000000000000000000b003", "carl", &[]);
    for u in [&named, &unnamed, &other] {
        ok("add_user", repo.add_user(u).await);
    }
    let asked = [
        named.sys_id.clone(),
        sys_id("0000000000000000000000000000b0ff"),
        unnamed.sys_id.clone(),
        named.sys_id.clone(),
    ];
    let mut found = ok(
        "find_users_by_sys_id",
        repo.find_users_by_sys_id(&asked).await,
    );
    found.sort_by(|a, b| a.sys_id.cmp(&b.sys_id));
    assert_eq!(
        found,
        [named.clone(), unnamed.clone()],
        "find_users_by_sys_id must answer each asked-for user once, as added"
    );
    assert_eq!(found[0].display_name(), "Abel Tuter");
    assert_eq!(found[1].display_name(), "beth");
    let none = ok("find_users_by_sys_id", repo.find_users_by_sys_id(&[]).await);
    assert!(none.is_empty(), "no sys_ids, no users: {none:?}");
    ok("remove_user", repo.remove_user("abel.tuter").await);
    let after = ok(
        "find_users_by_sys_id",
        repo.find_users_by_sys_id(&[named.sys_id.clone()]).await,
    );
    assert!(after.is_empty(), "a removed user is not found: {after:?}");
}

/// `has_users` is false on a fresh store and true after `add_user`; `find_user` returns the user exactly
/// (sys_id, name, hash, roles in their order, no roles at all) and matches names exactly: no case folding,
/// trimming or wildcards.
pub async fn users_round_trip(repo: &Arc<dyn Repository>) {
    assert!(
        !ok("has_users", repo.has_users().await),
        "a fresh store has no users"
    );
    let admin = user(
        "0000000000000000000000000000a001",
        "admin",
        &["sn_openframe_api_user", "admin", "itil"],
    );
    ok("add_user", repo.add_user(&admin).await);
    assert!(
        ok("has_users", repo.has_users().await),
        "has_users after add_user"
    );
    let mut odd = user(
        "0000000000000000000000000000a002",
        "Jane O'Brien-Ünïcödé 日本 100%_\\",
        &[],
    );
    odd.name = "Jane O'Brien (Ünïcödé 日本)".to_owned();
    ok("add_user", repo.add_user(&odd).await);

    for expected in [&admin, &odd] {
        let found = ok("find_user", repo.find_user(&expected.user_name).await);
        assert_eq!(
            found.as_ref(),
            Some(expected),
            "find_user({:?}) must return the user as added (hash and roles included)",
            expected.user_name
        );
        let hash = found.map(|u| u.password_hash);
        assert_eq!(
            hash.as_ref(),
            Some(&expected.password_hash),
            "password hash"
        );
    }
    for near_miss in [
        "Admin",
        "ADMIN",
        "admin ",
        " admin",
        "adm%",
        "adm_n",
        "%",
        "_dmin",
        "Jane O'Brien%",
        "",
    ] {
        let found = ok("find_user", repo.find_user(near_miss).await);
        assert!(
            found.is_none(),
            "find_user({near_miss:?}) must match names exactly, found {found:?}"
        );
    }
}

/// Adding a user whose name is taken is a [`Conflict::UserName`] naming it that leaves the first user as it
/// was; a name that differs only in case is another user.
pub async fn duplicate_user_name_is_conflict(repo: &Arc<dyn Repository>) {
    let first = user(
        "0000000000000000000000000000b001",
        "agent",
        &["sn_openframe_user"],
    );
    ok("add_user", repo.add_user(&first).await);
    let second = user("0000000000000000000000000000b002", "agent", &["admin"]);
    let result = repo.add_user(&second).await;
    assert_conflict(
        "add_user with a taken name",
        result,
        Conflict::UserName {
            user_name: "agent".into(),
        },
    );
    assert_eq!(
        ok("find_user", repo.find_user("agent").await),
        Some(first),
        "a refused add_user must leave the first user as it was"
    );
    let other_case = user("0000000000000000000000000000b003", "Agent", &["admin"]);
    ok(
        "add_user of a name differing only in case",
        repo.add_user(&other_case).await,
    );
    assert_eq!(
        ok("find_user", repo.find_user("Agent").await),
        Some(other_case)
    );
}

/// `find_provider_application` returns the application as added, by exact `inbound_id`.
pub async fn provider_applications_round_trip(repo: &Arc<dyn Repository>) {
    let mut genesys = provider_application("genesys_1", "Genesys Cloud — ÉU");
    genesys.set(field::SHORT_DESCRIPTION, "Queues 'A' & \"B\", 100% \\ _");
    let avaya = provider_application("avaya-2", "Avaya");
    for app in [&genesys, &avaya] {
        ok(
            "add_provider_application",
            repo.add_provider_application(app).await,
        );
    }
    for app in [&genesys, &avaya] {
        let inbound_id = app.get(field::INBOUND_ID);
        assert_eq!(
            ok(
                "find_provider_application",
                repo.find_provider_application(inbound_id).await
            )
            .as_ref(),
            Some(app),
            "find_provider_application({inbound_id:?}) must return the application as added"
        );
    }
    for near_miss in [
        "genesys%",
        "genesysX1",
        "GENESYS_1",
        "genesys_1 ",
        "genesys",
        "%",
        "",
    ] {
        let found = ok(
            "find_provider_application",
            repo.find_provider_application(near_miss).await,
        );
        assert!(
            found.is_none(),
            "find_provider_application({near_miss:?}) must match inbound ids exactly, found {found:?}"
        );
    }
}

/// Adding a provider application whose `inbound_id` is taken is a [`Conflict::InboundId`] naming it that
/// changes nothing.
pub async fn duplicate_inbound_id_is_conflict(repo: &Arc<dyn Repository>) {
    let first = provider_application("gen-1", "Genesys");
    ok(
        "add_provider_application",
        repo.add_provider_application(&first).await,
    );
    let mut second = provider_application("gen-1", "Another");
    second.set(field::SYS_ID, "0000000000000000000000000000c002");
    let result = repo.add_provider_application(&second).await;
    assert_conflict(
        "add_provider_application with a taken inbound_id",
        result,
        Conflict::InboundId {
            inbound_id: "gen-1".into(),
        },
    );
    assert_eq!(
        ok(
            "find_provider_application",
            repo.find_provider_application("gen-1").await
        ),
        Some(first),
        "a refused add must leave the first application as it was"
    );
}

/// `ping` answers on an empty store and on one with data.
pub async fn ping_answers(repo: &Arc<dyn Repository>) {
    ok("ping on an empty store", repo.ping().await);
    ok(
        "add_user",
        repo.add_user(&user("0000000000000000000000000000d001", "p", &[]))
            .await,
    );
    ok("ping", repo.ping().await);
}

/// `set_user_password` replaces the hash of that user only; `remove_user` removes that user only, after
/// which its name can be taken again. Both are [`Error::NotFound`] for a name no user has, matched exactly.
pub async fn users_change_and_go(repo: &Arc<dyn Repository>) {
    let agent = user(
        "0000000000000000000000000000e001",
        "agent",
        &["sn_openframe_user"],
    );
    let admin = user("0000000000000000000000000000e002", "admin", &["admin"]);
    for u in [&agent, &admin] {
        ok("add_user", repo.add_user(u).await);
    }
    let new_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$n+/w=";
    ok(
        "set_user_password",
        repo.set_user_password("agent", new_hash).await,
    );
    let changed = ok("find_user", repo.find_user("agent").await);
    assert_eq!(
        changed,
        Some(User {
            password_hash: new_hash.to_owned(),
            ..agent.clone()
        }),
        "set_user_password changes the hash and nothing else"
    );
    assert_eq!(
        ok("find_user", repo.find_user("admin").await).as_ref(),
        Some(&admin),
        "set_user_password leaves other users as they were"
    );
    for missing in ["Agent", "agent ", "nobody", "%"] {
        assert_not_found(
            &format!("set_user_password({missing:?})"),
            repo.set_user_password(missing, new_hash).await,
        );
        assert_not_found(
            &format!("remove_user({missing:?})"),
            repo.remove_user(missing).await,
        );
    }

    ok("remove_user", repo.remove_user("agent").await);
    assert_eq!(
        ok("find_user", repo.find_user("agent").await),
        None,
        "a removed user is not found"
    );
    assert_eq!(
        ok("find_user", repo.find_user("admin").await).as_ref(),
        Some(&admin),
        "remove_user leaves other users as they were"
    );
    assert_not_found(
        "remove_user of a removed user",
        repo.remove_user("agent").await,
    );
    let again = user("0000000000000000000000000000e003", "agent", &["admin"]);
    ok(
        "add_user with the name of a removed user",
        repo.add_user(&again).await,
    );
    assert_eq!(ok("find_user", repo.find_user("agent").await), Some(again));
    ok("remove_user", repo.remove_user("agent").await);
    ok("remove_user", repo.remove_user("admin").await);
    assert!(
        !ok("has_users", repo.has_users().await),
        "no users once every one is removed"
    );
}

fn assert_not_found(what: &str, result: crate::Result<()>) {
    match result {
        Err(crate::Error::NotFound { what: "user" }) => {}
        other => panic!("{what} must be NotFound {{ what: \"user\" }}, got {other:?}"),
    }
}
