//! The contract of the `Store` trait: what every engine must do, checked
//! through the trait alone. Each test runs against every engine `engines()`
//! opens: SQLite in a temporary file and PostgreSQL in a database of its own.

mod common;

use common::postgres::TestDatabase;
use halley_server::store::{
    DocumentRecord, ExportOptions, JobQuery, JobRecord, JobWhen, NewDelivery, PostgresStore,
    ReplaceOutcome, SessionKind, SessionRecord, Settlement, SqliteStore, Store, StoreError,
    TenantScope, UserRecord,
};

/// What keeps an engine's store alive: its file or its database.
#[allow(dead_code)]
enum Holder {
    File(tempfile::TempDir),
    Database(TestDatabase),
}

/// A fresh, empty store of each engine, with what keeps it alive.
async fn engines() -> Vec<(&'static str, Box<dyn Store>, Holder)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("contract.db"))
        .await
        .unwrap();
    let database = TestDatabase::create().await;
    let postgres = PostgresStore::open(&database.url, "contract")
        .await
        .unwrap();
    vec![
        ("sqlite", Box::new(sqlite), Holder::File(dir)),
        ("postgres", Box::new(postgres), Holder::Database(database)),
    ]
}

fn all() -> TenantScope {
    TenantScope::server_wide()
}

fn tenant(id: &str) -> TenantScope {
    all().narrowed_to(id).unwrap()
}

fn user(name: &str, org: &str, hash: &str) -> UserRecord {
    UserRecord {
        username: name.into(),
        organization_id: org.into(),
        profile_json: format!(r#"{{"Username":"{name}","PolicyID":"p","GroupID":"g"}}"#),
        profile_hash: hash.into(),
    }
}

fn doc(id: &str, org: &str, hash: &str) -> DocumentRecord {
    DocumentRecord {
        kind: "policy".into(),
        id: id.into(),
        organization_id: org.into(),
        doc_json: format!(r#"{{"Description":"{hash}"}}"#),
        hash: hash.into(),
    }
}

fn job(guid: &str, user: &str, org: &str, start: i64, end: i64, status: i64) -> JobRecord {
    JobRecord {
        guid: guid.into(),
        username: user.into(),
        organization_id: org.into(),
        start_time: start,
        end_time: end,
        status,
        detail_json: format!(r#"{{"GUID":"{guid}"}}"#),
    }
}

fn guids(jobs: &[JobRecord]) -> Vec<&str> {
    jobs.iter().map(|j| j.guid.as_str()).collect()
}

#[tokio::test]
async fn accounts_are_seen_and_written_only_inside_their_scope() {
    for (engine, store, _dir) in engines().await {
        store
            .user_create(&all(), &user("top", "", "h0"))
            .await
            .unwrap();
        store
            .user_create(&tenant("a"), &user("amy", "a", "h1"))
            .await
            .unwrap();
        store
            .user_create(&tenant("b"), &user("bob", "b", "h2"))
            .await
            .unwrap();
        assert!(
            matches!(
                store
                    .user_create(&tenant("b"), &user("amy", "b", "x"))
                    .await,
                Err(StoreError::Conflict)
            ),
            "{engine}: usernames are one namespace"
        );
        assert!(
            matches!(
                store
                    .user_create(&tenant("a"), &user("eve", "b", "x"))
                    .await,
                Err(StoreError::OutOfScope)
            ),
            "{engine}"
        );
        assert_eq!(
            store.user_list(&all()).await.unwrap(),
            ["amy", "bob", "top"]
        );
        assert_eq!(store.user_list(&tenant("a")).await.unwrap(), ["amy"]);
        assert_eq!(store.user_list(&tenant("")).await.unwrap(), ["top"]);
        assert_eq!(
            store.user_list_full(&tenant("b")).await.unwrap()[0].username,
            "bob"
        );
        assert!(store.user_get(&tenant("a"), "bob").await.unwrap().is_none());
        assert_eq!(
            store.user_get(&tenant("b"), "bob").await.unwrap(),
            Some(user("bob", "b", "h2"))
        );
        assert_eq!(
            store
                .users_with_policy(&tenant("a"), "p")
                .await
                .unwrap()
                .len(),
            1,
            "{engine}"
        );
        assert_eq!(store.users_in_group(&all(), "g").await.unwrap().len(), 3);

        // Another tenant's account is absent to a replace and a delete.
        let outcome = store
            .user_replace(&tenant("a"), &user("bob", "a", "stolen"), None)
            .await;
        assert!(matches!(outcome, Ok(ReplaceOutcome::NotFound)), "{engine}");
        assert!(!store.user_delete(&tenant("a"), "bob").await.unwrap());
        assert_eq!(
            store
                .user_get(&all(), "bob")
                .await
                .unwrap()
                .unwrap()
                .profile_hash,
            "h2"
        );
    }
}

#[tokio::test]
async fn a_conditional_replace_lets_exactly_one_writer_win() {
    for (engine, store, _dir) in engines().await {
        store
            .user_create(&all(), &user("amy", "a", "h1"))
            .await
            .unwrap();
        let scope = tenant("a");
        let (one, two) = (user("amy", "a", "one"), user("amy", "a", "two"));
        let (first, second) = tokio::join!(
            store.user_replace(&scope, &one, Some("h1")),
            store.user_replace(&scope, &two, Some("h1")),
        );
        let mut outcomes = [first.unwrap(), second.unwrap()];
        outcomes.sort_by_key(|o| *o == ReplaceOutcome::Replaced);
        assert_eq!(
            outcomes,
            [ReplaceOutcome::HashMismatch, ReplaceOutcome::Replaced],
            "{engine}"
        );
        assert_eq!(
            store
                .user_replace(&scope, &user("nobody", "a", "x"), Some("h1"))
                .await
                .unwrap(),
            ReplaceOutcome::NotFound
        );
    }
}

#[tokio::test]
async fn deleting_an_account_takes_its_sessions_and_jobs() {
    for (engine, store, _dir) in engines().await {
        store
            .user_create(&all(), &user("amy", "a", "h"))
            .await
            .unwrap();
        store
            .session_create(&SessionRecord {
                key_hash: "k".into(),
                kind: SessionKind::User,
                username: "amy".into(),
                organization_id: "a".into(),
                created_at: 1,
                last_used_at: 1,
            })
            .await
            .unwrap();
        store
            .job_put(&all(), &job("j1", "amy", "a", 10, 20, 5000))
            .await
            .unwrap();
        store
            .job_put(&all(), &job("j2", "amy", "b", 10, 20, 5000))
            .await
            .unwrap();
        assert!(store.user_delete(&tenant("a"), "amy").await.unwrap());
        assert!(store.session_get("k").await.unwrap().is_none(), "{engine}");
        let left = store.jobs_find(&all(), &JobQuery::default()).await.unwrap();
        assert_eq!(
            guids(&left),
            ["j2"],
            "{engine}: only the account's own jobs go"
        );
    }
}

#[tokio::test]
async fn documents_are_written_conditionally_and_never_across_tenants() {
    for (engine, store, _dir) in engines().await {
        let a = tenant("a");
        let put = |d: DocumentRecord, expected: Option<&'static str>| {
            let (a, store) = (&a, &store);
            async move { store.document_put(a, &d, expected).await }
        };
        assert_eq!(
            put(doc("p1", "a", "h1"), None).await.unwrap(),
            ReplaceOutcome::Replaced
        );
        assert_eq!(
            put(doc("p1", "a", "h2"), Some("stale")).await.unwrap(),
            ReplaceOutcome::HashMismatch
        );
        assert_eq!(
            put(doc("p9", "a", "h2"), Some("h1")).await.unwrap(),
            ReplaceOutcome::NotFound
        );
        assert_eq!(
            put(doc("p1", "a", "h2"), Some("h1")).await.unwrap(),
            ReplaceOutcome::Replaced
        );

        // B's document of the same kind and ID is absent to A, and stays.
        store
            .document_put(&all(), &doc("pb", "b", "hb"), None)
            .await
            .unwrap();
        assert_eq!(
            put(doc("pb", "a", "x"), None).await.unwrap(),
            ReplaceOutcome::NotFound
        );
        assert_eq!(
            put(doc("pb", "a", "x"), Some("hb")).await.unwrap(),
            ReplaceOutcome::NotFound
        );
        assert!(store
            .document_get(&a, "policy", "pb")
            .await
            .unwrap()
            .is_none());
        assert!(!store.document_delete(&a, "policy", "pb").await.unwrap());
        assert_eq!(
            store.document_get(&all(), "policy", "pb").await.unwrap(),
            Some(doc("pb", "b", "hb")),
            "{engine}"
        );
        assert!(matches!(
            store.document_put(&a, &doc("px", "b", "x"), None).await,
            Err(StoreError::OutOfScope)
        ));

        // The top level's published documents, seen with a tenant's own.
        store
            .document_put(&all(), &doc("top", "", "ht"), None)
            .await
            .unwrap();
        let ids = |docs: Vec<DocumentRecord>| docs.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.document_list(&a, "policy").await.unwrap()),
            ["p1"]
        );
        assert_eq!(
            ids(store
                .document_list(&a.and_top_level(), "policy")
                .await
                .unwrap()),
            ["p1", "top"]
        );
        assert_eq!(
            ids(store.document_list(&all(), "policy").await.unwrap()),
            ["p1", "pb", "top"]
        );
        assert!(store.document_delete(&a, "policy", "p1").await.unwrap());
    }
}

#[tokio::test]
async fn job_queries_filter_and_page_in_the_store() {
    for (engine, store, _dir) in engines().await {
        let running = 6000..=6999;
        for record in [
            job("old", "amy", "a", 100, 190, 5000),
            job("run", "bo", "a", 500, 0, 6001),
            job("late", "amy", "a", 900, 990, 7002),
            job("ended-in", "amy", "a", 50, 450, 5000),
            job("other", "amy", "b", 600, 690, 5000),
        ] {
            store.job_put(&all(), &record).await.unwrap();
        }
        let a = tenant("a");
        let find = |query: JobQuery| {
            let a = a.clone();
            let store = &store;
            async move { guids(&store.jobs_find(&a, &query).await.unwrap()).join(",") }
        };
        let when = |when| JobQuery {
            when,
            ..Default::default()
        };
        assert_eq!(
            find(JobQuery::default()).await,
            "ended-in,old,run,late",
            "{engine}"
        );
        assert_eq!(find(when(JobWhen::StartedSince(500))).await, "run,late");
        assert_eq!(find(when(JobWhen::Running(running.clone()))).await, "run");
        assert_eq!(
            find(when(JobWhen::RunningOrStartedSince {
                since: 800,
                running: running.clone()
            }))
            .await,
            "run,late"
        );
        assert_eq!(
            find(when(JobWhen::StartedOrEndedWithin {
                start: 400,
                end: 600
            }))
            .await,
            "ended-in,run"
        );
        let amy = JobQuery {
            username: Some("amy".into()),
            ..Default::default()
        };
        assert_eq!(find(amy.clone()).await, "ended-in,old,late");
        let page = JobQuery {
            offset: 1,
            limit: Some(1),
            ..amy
        };
        assert_eq!(find(page).await, "old");

        // A job of another tenant is absent, and its GUID cannot be taken.
        assert!(store.job_get(&a, "other").await.unwrap().is_none());
        assert!(matches!(
            store
                .job_put(&a, &job("other", "amy", "a", 1, 2, 5000))
                .await,
            Err(StoreError::OutOfScope)
        ));
        assert_eq!(
            store
                .job_get(&all(), "other")
                .await
                .unwrap()
                .unwrap()
                .organization_id,
            "b"
        );
    }
}

#[tokio::test]
async fn resources_belong_to_their_uploaders() {
    for (engine, store, _dir) in engines().await {
        store.resource_add("b", "h1").await.unwrap();
        store.resource_add("b", "h1").await.unwrap();
        assert!(store.resource_visible(&tenant("b"), "h1").await.unwrap());
        assert!(
            !store.resource_visible(&tenant("a"), "h1").await.unwrap(),
            "{engine}"
        );
        assert!(store.resource_visible(&all(), "h1").await.unwrap());
        store.resource_add("a", "h1").await.unwrap();
        assert!(store.resource_visible(&tenant("a"), "h1").await.unwrap());
        assert_eq!(store.resource_list(&tenant("b")).await.unwrap(), ["h1"]);
    }
}

async fn fill(store: &dyn Store) {
    store
        .user_create(&all(), &user("amy", "a", "h1"))
        .await
        .unwrap();
    store
        .user_create(&all(), &user("bob", "b", "h2"))
        .await
        .unwrap();
    store
        .document_put(&all(), &doc("pa", "a", "ha"), None)
        .await
        .unwrap();
    store
        .document_put(&all(), &doc("pb", "b", "hb"), None)
        .await
        .unwrap();
    store
        .job_put(&all(), &job("ja", "amy", "a", 1, 2, 5000))
        .await
        .unwrap();
    store
        .job_put(&all(), &job("jb", "bob", "b", 1, 2, 5000))
        .await
        .unwrap();
    store.resource_add("a", "ra").await.unwrap();
    store.resource_add("b", "rb").await.unwrap();
    store.stats_sample(1000).await.unwrap();
    store
        .session_create(&SessionRecord {
            key_hash: "k".into(),
            kind: SessionKind::User,
            username: "amy".into(),
            organization_id: "a".into(),
            created_at: 1,
            last_used_at: 1,
        })
        .await
        .unwrap();
    store
        .outbox_insert(&[NewDelivery {
            hook: "hook".into(),
            event_id: "e0".into(),
            payload: "{}".into(),
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_tenant_removes_all_of_it_and_nothing_else() {
    for (engine, store, _dir) in engines().await {
        fill(store.as_ref()).await;
        let removal = store.tenant_delete(&all(), "a").await.unwrap();
        assert_eq!(removal.usernames, ["amy"], "{engine}");
        assert_eq!(removal.policy_ids, ["pa"]);
        let a = tenant("a");
        assert!(store.user_list(&a).await.unwrap().is_empty());
        assert!(store.document_list(&a, "policy").await.unwrap().is_empty());
        assert!(store
            .jobs_find(&a, &JobQuery::default())
            .await
            .unwrap()
            .is_empty());
        assert!(store.resource_list(&a).await.unwrap().is_empty());
        assert_eq!(store.user_list(&all()).await.unwrap(), ["bob"]);
        assert_eq!(
            store
                .jobs_find(&all(), &JobQuery::default())
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            store.tenant_delete(&tenant("b"), "a").await,
            Err(StoreError::OutOfScope)
        ));
    }
}

#[tokio::test]
async fn an_export_loads_into_an_empty_store_as_it_was() {
    for (engine, store, _dir) in engines().await {
        fill(store.as_ref()).await;
        let server = store.stats_list(&all()).await.unwrap();
        assert_eq!((server.len(), server[0].users), (1, 2), "{engine}");
        let share = store.stats_list(&tenant("a")).await.unwrap();
        assert_eq!((share.len(), share[0].users), (1, 1), "{engine}");
        let whole = store
            .export(&all(), ExportOptions::default())
            .await
            .unwrap();
        let names: Vec<&str> = whole.iter().map(|t| t.name.as_str()).collect();
        assert!(
            !names.contains(&"sessions") && !names.contains(&"webhook_outbox"),
            "{engine}: sessions and queued deliveries are never exported: {names:?}"
        );
        for (_, copy, _copy_dir) in engines().await {
            copy.import(&whole).await.unwrap();
            assert_eq!(
                copy.export(&all(), ExportOptions::default()).await.unwrap(),
                whole,
                "{engine}"
            );
            assert_eq!(copy.user_list(&all()).await.unwrap(), ["amy", "bob"]);
            assert!(copy.session_get("k").await.unwrap().is_none());
            assert_eq!(copy.outbox_next_due("hook").await.unwrap(), None);
            assert_eq!(copy.stats_list(&all()).await.unwrap().len(), 1);
        }

        let only_b = store
            .export(&tenant("b"), ExportOptions { exclude_jobs: true })
            .await
            .unwrap();
        assert!(only_b
            .iter()
            .all(|t| t.name != "jobs" && t.name != "stats_samples"));
        let (_, copy, _copy_dir) = engines().await.pop().unwrap();
        copy.import(&only_b).await.unwrap();
        assert_eq!(copy.user_list(&all()).await.unwrap(), ["bob"]);
        assert_eq!(copy.document_list(&all(), "policy").await.unwrap().len(), 1);
        assert_eq!(copy.resource_list(&all()).await.unwrap(), ["rb"]);
        assert!(copy
            .jobs_find(&all(), &JobQuery::default())
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn webhook_deliveries_are_settled_in_batches() {
    for (engine, store, _dir) in engines().await {
        let delivery = |event: &str| NewDelivery {
            hook: "h".into(),
            event_id: event.into(),
            payload: format!("{{\"e\":\"{event}\"}}"),
        };
        store
            .outbox_insert(&[delivery("e1"), delivery("e2"), delivery("e3")])
            .await
            .unwrap();
        let due = store.outbox_due("h", 0, 2).await.unwrap();
        let events: Vec<&str> = due.iter().map(|row| row.event_id.as_str()).collect();
        assert_eq!(events, ["e1", "e2"], "{engine}");
        store
            .outbox_settle(&[
                Settlement::Done(due[0].id),
                Settlement::RetryAt {
                    id: due[1].id,
                    attempts: 1,
                    at: 100,
                },
            ])
            .await
            .unwrap();
        let ids = |rows: Vec<halley_server::store::OutboxRow>| -> Vec<String> {
            rows.into_iter().map(|row| row.event_id).collect()
        };
        // e2 waits for its retry; e3 was never handed out.
        assert_eq!(
            ids(store.outbox_due("h", 50, 10).await.unwrap()),
            ["e3"],
            "{engine}"
        );
        // e3 is claimed now: only e2 comes back.
        let later = store.outbox_due("h", 100, 10).await.unwrap();
        assert_eq!(later.len(), 1, "{engine}");
        assert_eq!((later[0].event_id.as_str(), later[0].attempts), ("e2", 1));
        assert!(store.outbox_due("h", 100, 10).await.unwrap().is_empty());
        // Both are claimed: due again when the claims run out.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let next = store.outbox_next_due("h").await.unwrap().unwrap();
        assert!(
            (now + 10..=now + 20).contains(&next),
            "{engine}: {next} vs {now}"
        );
        assert_eq!(store.outbox_forget_hooks_except(&[]).await.unwrap(), 2);
    }
}

#[tokio::test]
async fn a_totp_step_is_claimed_once() {
    for (engine, store, _dir) in engines().await {
        assert!(
            store.totp_claim_step("admin:a", 10).await.unwrap(),
            "{engine}"
        );
        assert!(!store.totp_claim_step("admin:a", 10).await.unwrap());
        assert!(!store.totp_claim_step("admin:a", 9).await.unwrap());
        assert!(store.totp_claim_step("admin:a", 11).await.unwrap());
        assert!(store.totp_claim_step("user:a", 10).await.unwrap());
    }
}

/// Several nodes on one PostgreSQL database: started at once, one migrates
/// and the others wait for it; then of many nodes writing the same profile
/// and the same policy with one expected hash, exactly one wins each.
#[tokio::test]
async fn nodes_sharing_a_postgres_database_migrate_once_and_write_conditionally() {
    let database = TestDatabase::create().await;
    let url = &database.url;
    let opened = futures::future::join_all(
        (0..4).map(|n| async move { PostgresStore::open(url, &format!("node{n}")).await }),
    )
    .await;
    let nodes: Vec<PostgresStore> = opened.into_iter().map(|n| n.unwrap()).collect();
    nodes[0]
        .user_create(&all(), &user("amy", "a", "h1"))
        .await
        .unwrap();
    nodes[1]
        .document_put(&all(), &doc("p1", "a", "d1"), None)
        .await
        .unwrap();

    let profiles = futures::future::join_all(nodes.iter().enumerate().map(|(i, node)| {
        let edit = user("amy", "a", &format!("node{i}"));
        async move {
            node.user_replace(&tenant("a"), &edit, Some("h1"))
                .await
                .unwrap()
        }
    }))
    .await;
    let policies = futures::future::join_all(nodes.iter().enumerate().map(|(i, node)| {
        let edit = doc("p1", "a", &format!("node{i}"));
        async move {
            node.document_put(&tenant("a"), &edit, Some("d1"))
                .await
                .unwrap()
        }
    }))
    .await;
    for outcomes in [&profiles, &policies] {
        let won = outcomes
            .iter()
            .filter(|o| **o == ReplaceOutcome::Replaced)
            .count();
        let lost = outcomes
            .iter()
            .filter(|o| **o == ReplaceOutcome::HashMismatch)
            .count();
        assert_eq!((won, lost), (1, 3), "{outcomes:?}");
    }
    // What every node reads is the winner's write.
    let winner = profiles
        .iter()
        .position(|o| *o == ReplaceOutcome::Replaced)
        .unwrap();
    for node in &nodes {
        let stored = node.user_get(&all(), "amy").await.unwrap().unwrap();
        assert_eq!(stored.profile_hash, format!("node{winner}"));
    }
    for node in &nodes {
        node.close().await;
    }
}
