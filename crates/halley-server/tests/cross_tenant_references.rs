//! IDs that name another tenant's objects: a profile's `GroupID` and
//! `PolicyID`, a group's linked policy, a group or policy ID written over,
//! members from another tenant, news items and uploaded resources. Each is
//! refused exactly as a missing object would be, and nothing changes.

mod common;

use common::*;
use serde_json::{json, Value};

/// Calls as the administrator `who` (a tenant's, or `admin` for the top level).
async fn as_admin(
    server: &Server,
    who: (&str, &str),
    path: &str,
    fields: &[(&str, &str)],
) -> Answer {
    let mut all = vec![
        ("Username", who.0),
        ("AuthType", "Password"),
        ("Password", who.1),
    ];
    all.extend_from_slice(fields);
    post_form(&server.url, &format!("/api/v1/admin/{path}"), &all).await
}

const A: (&str, &str) = ("admin-a", "pass-a-1");
const B: (&str, &str) = ("admin-b", "pass-b-1");
const TOP: (&str, &str) = ("admin", "admin");

struct World {
    server: Server,
    org_a: String,
    org_b: String,
    b_group: String,
    b_policy: String,
}

async fn two_tenants() -> World {
    let server = Server::start();
    let org_a = create_tenant(&server, "Tenant A").await;
    let org_b = create_tenant(&server, "Tenant B").await;
    create_tenant_admin(&server, &org_a, A.0, A.1).await;
    create_tenant_admin(&server, &org_b, B.0, B.1).await;
    for (who, user) in [(A, "a1"), (B, "b1")] {
        let added = as_admin(
            &server,
            who,
            "add-user",
            &[("TargetUser", user), ("TargetPassword", "password1")],
        )
        .await;
        assert_eq!(added.api_status(), 200, "{}", added.message());
    }
    let group = as_admin(&server, B, "user-groups/new", &[("Name", "B staff")]).await;
    let b_group = group.json()["UserGroupID"].as_str().unwrap().to_string();
    let policy = as_admin(
        &server,
        B,
        "policies/new",
        &[("Policy", &json!({"Description": "B policy"}).to_string())],
    )
    .await;
    let b_policy = policy.json()["PolicyID"].as_str().unwrap().to_string();
    World {
        server,
        org_a,
        org_b,
        b_group,
        b_policy,
    }
}

async fn profile(world: &World, who: (&str, &str), user: &str) -> Value {
    as_admin(
        &world.server,
        who,
        "get-user-profile",
        &[("TargetUser", user)],
    )
    .await
    .json()
}

/// The refusal for `id` must read exactly as the one for an ID nobody has.
fn assert_refused_as_missing(refused: &Answer, missing: &Answer, id: &str) {
    assert_eq!(refused.api_status(), 400, "{}", refused.message());
    assert_eq!(
        refused.message().replace(id, "ID"),
        missing.message().replace("no-such-id", "ID"),
    );
}

async fn profiles_cannot_name_another_tenants_group_or_policy(world: &World) {
    let stored = profile(world, A, "a1").await;
    for (field, id) in [("GroupID", &world.b_group), ("PolicyID", &world.b_policy)] {
        for path in ["set-user-profile", "set-user-profile-hash"] {
            let mut edited = stored.clone();
            let hash = as_admin(
                &world.server,
                A,
                "get-user-profile-hash",
                &[("TargetUser", "a1")],
            )
            .await
            .json()["ProfileHash"]
                .as_str()
                .unwrap()
                .to_string();
            let mut with = |value: &str| {
                edited[field] = json!(value);
                edited.to_string()
            };
            let foreign = with(id);
            let unknown = with("no-such-id");
            let fields = |data: &str| {
                vec![
                    ("TargetUser", "a1".to_string()),
                    ("ProfileData", data.to_string()),
                    ("RequireHash", hash.clone()),
                ]
            };
            let call = |fields: Vec<(&'static str, String)>| async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                as_admin(&world.server, A, path, &fields).await
            };
            let refused = call(fields(&foreign)).await;
            let missing = call(fields(&unknown)).await;
            assert_refused_as_missing(&refused, &missing, id);
        }
        let created = as_admin(
            &world.server,
            A,
            "add-user-from-profile",
            &[
                ("TargetUser", "a2"),
                ("ProfileData", &json!({ field: id }).to_string()),
            ],
        )
        .await;
        assert_eq!(created.api_status(), 400, "{field}: {}", created.message());
    }
    let stored = profile(world, A, "a1").await;
    assert_eq!(stored["GroupID"], "");
    assert_eq!(stored["PolicyID"], "");
    assert_eq!(
        profile(world, A, "a2").await["Status"],
        400,
        "a2 was not created"
    );

    // B sees no stranger in its group.
    let group = as_admin(
        &world.server,
        B,
        "user-groups/get",
        &[("GroupID", &world.b_group), ("IncludeUsers", "1")],
    )
    .await
    .json();
    assert_eq!(group["Users"], json!({}));

    // Nor can the top level give its own account a tenant's group.
    let added = as_admin(
        &world.server,
        TOP,
        "add-user-from-profile",
        &[
            ("TargetUser", "top1"),
            (
                "ProfileData",
                &json!({"GroupID": world.b_group}).to_string(),
            ),
        ],
    )
    .await;
    assert_eq!(added.api_status(), 400, "{}", added.message());
}

async fn groups_and_policies_of_another_tenant_stay_as_they_are(world: &World) {
    // Writing over B's group and policy by their IDs.
    let renamed = as_admin(
        &world.server,
        A,
        "user-groups/set",
        &[
            ("GroupID", &world.b_group),
            ("Group", &json!({"Name": "taken"}).to_string()),
        ],
    )
    .await;
    let missing = as_admin(
        &world.server,
        A,
        "user-groups/get",
        &[("GroupID", "no-such-id")],
    )
    .await;
    assert_refused_as_missing(&renamed, &missing, &world.b_group);
    let replaced = as_admin(
        &world.server,
        A,
        "policies/set",
        &[
            ("PolicyID", &world.b_policy),
            ("Policy", &json!({"Description": "taken"}).to_string()),
        ],
    )
    .await;
    let missing = as_admin(
        &world.server,
        A,
        "policies/get",
        &[("PolicyID", "no-such-id")],
    )
    .await;
    assert_refused_as_missing(&replaced, &missing, &world.b_policy);
    let group = as_admin(
        &world.server,
        B,
        "user-groups/get",
        &[("GroupID", &world.b_group)],
    )
    .await
    .json();
    assert_eq!(group["UserGroup"]["Name"], "B staff");
    let policy = as_admin(
        &world.server,
        B,
        "policies/get",
        &[("PolicyID", &world.b_policy)],
    )
    .await
    .json();
    assert_eq!(policy["Policy"]["Description"], "B policy");

    // A's own group may not link B's policy, nor take B's account.
    let own = as_admin(&world.server, A, "user-groups/new", &[("Name", "A staff")]).await;
    let own = own.json()["UserGroupID"].as_str().unwrap().to_string();
    let linked = as_admin(
        &world.server,
        A,
        "user-groups/set",
        &[
            ("GroupID", &own),
            (
                "Group",
                &json!({"Name": "A staff", "PolicyID": world.b_policy}).to_string(),
            ),
        ],
    )
    .await;
    assert_eq!(linked.api_status(), 400, "{}", linked.message());
    for (group, users) in [(&own, json!(["b1"])), (&world.b_group, json!(["a1"]))] {
        let joined = as_admin(
            &world.server,
            A,
            "user-groups/set-users-for-group",
            &[("GroupID", group), ("Users", &users.to_string())],
        )
        .await;
        assert_eq!(joined.api_status(), 400, "{}", joined.message());
    }
    assert_eq!(profile(world, B, "b1").await["GroupID"], "");
    assert_eq!(profile(world, A, "a1").await["GroupID"], "");
}

async fn news_of_another_tenant_cannot_be_removed(world: &World) {
    let submitted = as_admin(
        &world.server,
        B,
        "news/submit",
        &[("NewsContent", "B news")],
    )
    .await;
    assert_eq!(submitted.api_status(), 200);
    let news = as_admin(&world.server, B, "news/get-all", &[]).await.json();
    let id = news.as_object().unwrap().keys().next().unwrap().clone();
    let removed = as_admin(&world.server, A, "news/remove", &[("NewsItem", &id)]).await;
    let missing = as_admin(
        &world.server,
        A,
        "news/remove",
        &[("NewsItem", "no-such-id")],
    )
    .await;
    assert_refused_as_missing(&removed, &missing, &id);
    assert_eq!(
        as_admin(&world.server, A, "news/get-all", &[]).await.json(),
        json!({})
    );
    let still = as_admin(&world.server, B, "news/get-all", &[]).await.json();
    assert_eq!(still[&id]["TextContent"], "B news");
}

async fn upload(server: &Server, who: (&str, &str), bytes: &[u8]) -> String {
    let form = reqwest::multipart::Form::new().part(
        "upload",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("logo.png"),
    );
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/meta/resource/new", server.url))
        .header("X-Comet-Admin-Username", who.0)
        .header("X-Comet-Admin-AuthType", "Password")
        .header("X-Comet-Admin-Password", who.1)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Status"], 200, "{body}");
    body["ResourceHash"].as_str().unwrap().to_string()
}

async fn resources_are_read_by_their_uploader_only(world: &World) {
    let logo = b"B's logo".to_vec();
    let hash = upload(&world.server, B, &logo).await;
    let get = |who| {
        let hash = hash.clone();
        async move { as_admin(&world.server, who, "meta/resource/get", &[("Hash", &hash)]).await }
    };
    assert_eq!(get(B).await.body, logo);
    assert_eq!(
        get(TOP).await.body,
        logo,
        "the top level reads every tenant's"
    );
    let refused = get(A).await;
    let nobody = "0".repeat(64);
    let missing = as_admin(&world.server, A, "meta/resource/get", &[("Hash", &nobody)]).await;
    assert_eq!(refused.json(), missing.json());
    assert_eq!(refused.api_status(), 400);
    // Uploading the same bytes makes them A's too.
    assert_eq!(upload(&world.server, A, &logo).await, hash);
    assert_eq!(get(A).await.body, logo);
}

/// An `OrganizationID` in a written document must be the tenant the object
/// is in: A cannot place an account, policy or group in B by naming it.
async fn documents_cannot_name_another_tenant(world: &World) {
    let org_b = world.org_b.as_str();
    let mut moved = profile(world, A, "a1").await;
    moved["OrganizationID"] = json!(org_b);
    let refused = as_admin(
        &world.server,
        A,
        "set-user-profile",
        &[("TargetUser", "a1"), ("ProfileData", &moved.to_string())],
    )
    .await;
    refused.assert_refused(400, "OrganizationID");
    for (path, fields) in [
        (
            "add-user-from-profile",
            vec![
                ("TargetUser", "a3".to_string()),
                ("ProfileData", json!({"OrganizationID": org_b}).to_string()),
            ],
        ),
        (
            "policies/new",
            vec![("Policy", json!({"OrganizationID": org_b}).to_string())],
        ),
        (
            "policies/set",
            vec![
                ("PolicyID", "a-new-policy".to_string()),
                ("Policy", json!({"OrganizationID": org_b}).to_string()),
            ],
        ),
        (
            "user-groups/set",
            vec![
                ("GroupID", "a-new-group".to_string()),
                (
                    "Group",
                    json!({"Name": "x", "OrganizationID": org_b}).to_string(),
                ),
            ],
        ),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = as_admin(&world.server, A, path, &fields).await;
        answer.assert_refused(400, "OrganizationID");
    }
    assert_eq!(
        profile(world, A, "a1").await["OrganizationID"],
        world.org_a.as_str()
    );
    let b_policies = as_admin(&world.server, B, "policies/list", &[])
        .await
        .json();
    assert_eq!(b_policies.as_object().unwrap().len(), 1, "{b_policies}");
    let b_groups = as_admin(&world.server, B, "user-groups/list", &[])
        .await
        .json();
    assert_eq!(b_groups.as_object().unwrap().len(), 1, "{b_groups}");
    assert_eq!(
        profile(world, B, "a3").await["Status"],
        400,
        "a3 was not created"
    );
}

#[tokio::test]
async fn another_tenants_ids_are_refused_and_change_nothing() {
    let world = two_tenants().await;
    profiles_cannot_name_another_tenants_group_or_policy(&world).await;
    groups_and_policies_of_another_tenant_stay_as_they_are(&world).await;
    news_of_another_tenant_cannot_be_removed(&world).await;
    documents_cannot_name_another_tenant(&world).await;
    resources_are_read_by_their_uploader_only(&world).await;
}
