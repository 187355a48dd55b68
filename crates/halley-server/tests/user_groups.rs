//! User groups: create, rename, membership, delete.

mod common;

use common::*;
use serde_json::{json, Value};

async fn call(server: &Server, path: &str, fields: &[(&str, &str)]) -> Value {
    admin_post(
        &server.url,
        &format!("/api/v1/admin/user-groups/{path}"),
        fields,
    )
    .await
    .json()
}

#[tokio::test]
async fn groups_hold_accounts() {
    let server = Server::start();
    let admin = server.admin();
    for name in ["ann", "ben", "cat"] {
        admin
            .admin_add_user(name, "password1", None, None)
            .await
            .unwrap();
    }
    let created = call(&server, "new", &[("Name", "Sales")]).await;
    assert_eq!(created["Status"], 200);
    let id = created["UserGroupID"].as_str().unwrap().to_string();
    assert_eq!(call(&server, "new", &[("Name", "")]).await["Status"], 400);

    let set = call(
        &server,
        "set-users-for-group",
        &[
            ("GroupID", &id),
            ("Users", &json!(["ann", "ben"]).to_string()),
        ],
    )
    .await;
    assert_eq!(set["Status"], 200);
    assert_eq!(
        admin.admin_get_user_profile("ann").await.unwrap().group_id,
        id
    );
    let got = call(
        &server,
        "get",
        &[("GroupID", &id), ("IncludeUsers", "true")],
    )
    .await;
    assert_eq!(got["UserGroup"]["Name"], "Sales");
    let members: Vec<&String> = got["Users"].as_object().unwrap().keys().collect();
    assert_eq!(members, vec!["ann", "ben"]);
    let without = call(&server, "get", &[("GroupID", &id), ("IncludeUsers", "0")]).await;
    assert_eq!(without["Users"], json!({}));

    // Members not listed leave; unknown accounts are refused.
    call(
        &server,
        "set-users-for-group",
        &[("GroupID", &id), ("Users", &json!(["cat"]).to_string())],
    )
    .await;
    assert_eq!(
        admin.admin_get_user_profile("ann").await.unwrap().group_id,
        ""
    );
    assert_eq!(
        admin.admin_get_user_profile("cat").await.unwrap().group_id,
        id
    );
    let bad = call(
        &server,
        "set-users-for-group",
        &[("GroupID", &id), ("Users", &json!(["ghost"]).to_string())],
    )
    .await;
    assert_eq!(bad["Status"], 400);

    let renamed = call(
        &server,
        "set",
        &[
            ("GroupID", &id),
            ("Group", &json!({"Name": "Sales EU"}).to_string()),
        ],
    )
    .await;
    assert_eq!(renamed["Status"], 200);
    assert_eq!(
        call(&server, "list", &[]).await,
        json!({id.clone(): "Sales EU"})
    );
    let full = call(&server, "list-full", &[]).await;
    assert!(full[&id]["CreatedAt"].as_i64().unwrap() > 0);
    // Set with a new ID creates the group.
    call(
        &server,
        "set",
        &[
            ("GroupID", "chosen-id"),
            ("Group", &json!({"Name": "Ops"}).to_string()),
        ],
    )
    .await;
    assert_eq!(call(&server, "list", &[]).await["chosen-id"], "Ops");

    assert_eq!(
        call(&server, "delete", &[("GroupID", &id)]).await["Status"],
        200
    );
    assert_eq!(
        admin.admin_get_user_profile("cat").await.unwrap().group_id,
        ""
    );
    assert_eq!(
        call(&server, "get", &[("GroupID", &id)]).await["Status"],
        400
    );
}

#[tokio::test]
async fn a_group_linking_a_policy_gives_it_to_its_members() {
    let server = Server::start();
    let admin = server.admin();
    for name in ["ann", "ben"] {
        admin
            .admin_add_user(name, "password1", None, None)
            .await
            .unwrap();
    }
    let policy = json!({"Description": "Locked", "Policy": {"PreventDeleteStorageVault": true}});
    admin_post(
        &server.url,
        "/api/v1/admin/policies/set",
        &[("PolicyID", "locked"), ("Policy", &policy.to_string())],
    )
    .await;
    let refused = call(
        &server,
        "set",
        &[
            ("GroupID", "g1"),
            (
                "Group",
                &json!({"Name": "Sales", "PolicyID": "nope"}).to_string(),
            ),
        ],
    )
    .await;
    assert_eq!(refused["Status"], 400);
    assert!(refused["Message"].as_str().unwrap().contains("'nope'"));

    // A member before the link gets the policy when the group is saved.
    call(
        &server,
        "set",
        &[
            ("GroupID", "g1"),
            ("Group", &json!({"Name": "Sales"}).to_string()),
        ],
    )
    .await;
    call(
        &server,
        "set-users-for-group",
        &[("GroupID", "g1"), ("Users", &json!(["ann"]).to_string())],
    )
    .await;
    assert_eq!(
        admin.admin_get_user_profile("ann").await.unwrap().policy_id,
        ""
    );
    let linked = call(
        &server,
        "set",
        &[
            ("GroupID", "g1"),
            (
                "Group",
                &json!({"Name": "Sales", "PolicyID": "locked"}).to_string(),
            ),
        ],
    )
    .await;
    assert_eq!(linked["Status"], 200, "{linked}");
    let ann = admin.admin_get_user_profile("ann").await.unwrap();
    assert_eq!(ann.policy_id, "locked");
    assert!(ann.policy.prevent_delete_storage_vault);
    // The link is kept with the group, and members who join receive it.
    let got = call(&server, "get", &[("GroupID", "g1")]).await;
    assert_eq!(got["UserGroup"]["PolicyID"], "locked");
    call(
        &server,
        "set-users-for-group",
        &[
            ("GroupID", "g1"),
            ("Users", &json!(["ann", "ben"]).to_string()),
        ],
    )
    .await;
    assert_eq!(
        admin.admin_get_user_profile("ben").await.unwrap().policy_id,
        "locked"
    );
}
