//! Many requests at once, spawned on the multi-thread runtime: numbers stay unique and gap-free, no update
//! is lost, uniqueness holds under races.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use serde_json::json;
use tokio::task::JoinHandle;

use crate::error::{Conflict, Error, Result};
use crate::number::{FIRST_NUMBER, format_number, parse_number};
use crate::repository::Repository;
use crate::schema::field;
use crate::user::User;

use super::accounts::provider_application;
use super::fixture::{Fixture, ok, sys_id};

/// Tasks in each race.
const TASKS: usize = 32;

/// Spawns one task per `0..n`, waits for all, and re-raises a task's panic as the test's.
async fn race<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<JoinHandle<T>> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        match handle.await {
            Ok(value) => results.push(value),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("a racing task did not finish: {e}"),
        }
    }
    results
}

/// 64 creates from 32 concurrent tasks (two each, in sequence) all succeed with exactly the numbers
/// `IMS0001001`..`IMS0001064`, each task's second number above its first, each stored with its own data.
pub async fn concurrent_creates_get_distinct_numbers(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let results = race(TASKS, |i| {
        let fixture = fixture.clone();
        async move {
            let mut created = Vec::new();
            for j in 0..2 {
                let session = format!("task-{i}-{j}");
                let body = json!({"interaction": {"userPhoneNumber": "+14089965744", "clientSessionId": session}});
                let c = ok(&format!("create {session}"), fixture.create(&body).await);
                created.push((session, c));
            }
            created
        }
    })
    .await;

    let mut numbers = BTreeSet::new();
    for created in &results {
        let counters: Vec<u64> = created
            .iter()
            .map(|(_, c)| {
                parse_number(&c.number)
                    .unwrap_or_else(|| panic!("{:?} is not an interaction number", c.number))
            })
            .collect();
        assert!(
            counters[0] < counters[1],
            "numbers must increase: a task's second create got {} after {}",
            created[1].1.number,
            created[0].1.number
        );
        for (session, c) in created {
            assert!(
                numbers.insert(c.number.clone()),
                "number {} given twice",
                c.number
            );
            let stored = fixture.load(&c.sys_id).await;
            assert_eq!(
                (
                    stored.interaction.get(field::NUMBER),
                    stored.interaction.get(field::CLIENT_SESSION_ID)
                ),
                (c.number.as_str(), session.as_str()),
                "interaction {} holds another create's data",
                c.sys_id
            );
        }
    }
    let expected: BTreeSet<String> = (FIRST_NUMBER..FIRST_NUMBER + 2 * TASKS as u64)
        .map(format_number)
        .collect();
    assert_eq!(
        numbers, expected,
        "concurrent creates must get exactly the next numbers, no gaps"
    );
}

/// 32 concurrent PATCHes of one interaction, each adding its own phone log and context key, all land:
/// no lost update, and `sys_mod_count` ends at 32.
pub async fn concurrent_updates_all_land(repo: &Arc<dyn Repository>) {
    let fixture = Fixture::new(repo);
    let body = json!({"interaction": {"userPhoneNumber": "+14089965744"}});
    let id = ok("create", fixture.create(&body).await).sys_id;
    race(TASKS, |i| {
        let (fixture, id) = (fixture.clone(), id.clone());
        async move {
            let body = json!({
                "phoneLogs": [{"call_id": format!("call-{i}"), "call_type": "INBOUND"}],
                "interactionContext": {format!("k{i}"): format!("v{i}")}
            });
            ok(&format!("PATCH {i}"), fixture.update(&id, &body).await);
        }
    })
    .await;

    let stored = fixture.load(&id).await;
    let calls: BTreeSet<&str> = stored
        .phone_logs
        .iter()
        .map(|l| l.get(field::CALL_ID))
        .collect();
    let expected: BTreeSet<String> = (0..TASKS).map(|i| format!("call-{i}")).collect();
    assert_eq!(
        calls,
        expected.iter().map(String::as_str).collect(),
        "every concurrent PATCH's phone log must be stored, once"
    );
    assert_eq!(stored.phone_logs.len(), TASKS, "one log per PATCH");
    let ids: BTreeSet<&str> = stored.phone_logs.iter().map(|l| l.sys_id()).collect();
    assert_eq!(ids.len(), TASKS, "phone-log sys_ids must be distinct");
    for i in 0..TASKS {
        assert_eq!(
            stored.context.get(&format!("k{i}")),
            Some(&format!("v{i}")),
            "context key k{i} of a concurrent PATCH is lost"
        );
    }
    assert_eq!(stored.context.len(), TASKS);
    assert_eq!(
        stored.interaction.get(field::SYS_MOD_COUNT),
        TASKS.to_string(),
        "sys_mod_count must count every concurrent PATCH"
    );
}

/// Checks a race for one key: exactly one add succeeded, every other is the conflict `expected`; returns
/// the winner.
fn one_winner(what: &str, results: Vec<Result<()>>, expected: &Conflict) -> usize {
    let mut winners = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(()) => winners.push(i),
            Err(Error::Conflict(got)) if got == *expected => {}
            Err(e) => panic!("racing {what} {i}: expected Ok or {expected:?}, got `{e}` ({e:?})"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of the racing {what}s must succeed, {winners:?} did"
    );
    winners[0]
}

/// Racing adds of one user name or one `inbound_id`: exactly one succeeds, the rest are `Conflict`, and the
/// winner is what is stored.
pub async fn concurrent_duplicates_conflict(repo: &Arc<dyn Repository>) {
    let users: Vec<User> = (0..TASKS)
        .map(|i| User {
            sys_id: sys_id(&format!("{:032x}", 0xe000 + i)),
            user_name: "racer".into(),
            name: String::new(),
            password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${i}"),
            roles: vec!["sn_openframe_api_user".into()],
        })
        .collect();
    let results = race(TASKS, |i| {
        let (repo, user) = (Arc::clone(repo), users[i].clone());
        async move { repo.add_user(&user).await }
    })
    .await;
    let taken = Conflict::UserName {
        user_name: "racer".into(),
    };
    let winner = one_winner("add_user", results, &taken);
    assert_eq!(
        ok("find_user", repo.find_user("racer").await).as_ref(),
        Some(&users[winner]),
        "the stored user must be the one whose add succeeded"
    );

    let apps: Vec<_> = (0..TASKS)
        .map(|i| {
            let mut app = provider_application("racing-provider", &format!("Provider {i}"));
            app.set(field::SYS_ID, format!("{:032x}", 0xf000 + i));
            app
        })
        .collect();
    let results = race(TASKS, |i| {
        let (repo, app) = (Arc::clone(repo), apps[i].clone());
        async move { repo.add_provider_application(&app).await }
    })
    .await;
    let taken = Conflict::InboundId {
        inbound_id: "racing-provider".into(),
    };
    let winner = one_winner("add_provider_application", results, &taken);
    assert_eq!(
        ok(
            "find_provider_application",
            repo.find_provider_application("racing-provider").await
        )
        .as_ref(),
        Some(&apps[winner]),
        "the stored application must be the one whose add succeeded"
    );
}
