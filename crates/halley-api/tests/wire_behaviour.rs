//! JSON behaviour the rest of Halley relies on (hand-written).

use std::collections::BTreeMap;

use halley_api::constants::{self, sevt_name};
use halley_api::endpoints::{self, AuthKind, ParamEncoding, ENDPOINTS};
use halley_api::types::{
    B2StorageExtraInfo, B2TransactionTotals, CometAPIResponseMessage, SourceConfig,
    StreamableEvent, UserProfileConfig, WebAuthnCredential,
};
use halley_api::wire::Lenient;
use halley_api::Bytes;
use serde_json::{json, Value};

fn encode<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("encodes")
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("decodes")
}

#[test]
fn omitempty_zero_fields_are_left_out() {
    let event = StreamableEvent {
        actor: "admin".into(),
        r#type: constants::SEVT_ACCOUNT_LOGIN,
        ..Default::default()
    };
    assert_eq!(
        encode(&event),
        json!({"Actor": "admin", "OwnerOrganizationID": "", "Type": constants::SEVT_ACCOUNT_LOGIN})
    );

    let event = StreamableEvent {
        resource_id: "r".into(),
        timestamp: 5,
        type_string: "T".into(),
        data: json!({"x": 1}),
        ..event
    };
    let encoded = encode(&event);
    assert_eq!(encoded["ResourceID"], "r");
    assert_eq!(encoded["Timestamp"], 5);
    assert_eq!(encoded["TypeString"], "T");
    assert_eq!(encoded["Data"], json!({"x": 1}));
}

#[test]
fn empty_maps_and_lists_are_never_null() {
    let encoded = encode(&UserProfileConfig::default());
    assert_eq!(encoded["Sources"], json!({}));
    assert_eq!(encoded["Destinations"], json!({}));
    assert_eq!(encoded["BackupRules"], json!({}));
    assert_eq!(encoded["Devices"], json!({}));
    let nulls: Vec<_> = encoded
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(k, _)| k)
        .collect();
    assert!(nulls.is_empty(), "null fields: {nulls:?}");
}

#[test]
fn profile_maps_re_encoded_by_php_as_empty_arrays_decode_as_empty() {
    let profile: UserProfileConfig = decode(json!({
        "Username": "alice",
        "Sources": [],
        "Destinations": [],
        "BackupRules": null,
        "Devices": {},
    }));
    assert_eq!(profile.username, "alice");
    assert!(profile.sources.is_empty());
    assert!(profile.destinations.is_empty());
    assert!(profile.backup_rules.is_empty());
    let encoded = encode(&profile);
    assert_eq!(encoded["Sources"], json!({}));
    assert_eq!(encoded["Destinations"], json!({}));
}

#[test]
fn php_list_shaped_map_decodes_with_index_keys() {
    let profile: UserProfileConfig = decode(json!({"Sources": [{"Description": "a"}]}));
    assert_eq!(profile.sources["0"].description, "a");
}

#[test]
fn nested_struct_accepts_empty_array_and_null() {
    let source: SourceConfig = decode(json!({"Statistics": [], "Description": null}));
    assert_eq!(source, SourceConfig::default());
}

#[test]
fn lists_accept_null() {
    let profile: UserProfileConfig =
        decode(json!({"Username": "bob", "Emails": null, "ServerConfig": null}));
    assert_eq!(profile.username, "bob");
    assert!(profile.emails.is_empty());
    let encoded = encode(&profile);
    assert!(encoded
        .as_object()
        .unwrap()
        .values()
        .all(|value| !value.is_null()));
}

#[test]
fn integers_accept_integral_floats_and_null() {
    let message: CometAPIResponseMessage = decode(json!({"Status": 200.0, "Message": "OK"}));
    assert_eq!(message, CometAPIResponseMessage::ok());
    let message: CometAPIResponseMessage =
        serde_json::from_str(r#"{"Status": 1e3, "Message": null}"#).unwrap();
    assert_eq!(message, CometAPIResponseMessage::new(1000, ""));
    let message: CometAPIResponseMessage = decode(json!({"Status": null}));
    assert_eq!(message.status, 0);
    let message: CometAPIResponseMessage = decode(json!({"Status": -3.0}));
    assert_eq!(message.status, -3);

    let fractional = serde_json::from_value::<CometAPIResponseMessage>(json!({"Status": 1.5}));
    assert!(fractional.is_err());
    let negative_unsigned = serde_json::from_value::<WebAuthnCredential>(json!({"SignCount": -1}));
    assert!(negative_unsigned.is_err());
    let credential: WebAuthnCredential = decode(json!({"SignCount": 4.0}));
    assert_eq!(credential.sign_count, 4);
}

#[test]
fn booleans_accept_null_and_zero_one() {
    let profile: UserProfileConfig =
        decode(json!({"IsSuspended": 1, "AllProtectedItemsQuotaEnabled": null}));
    assert!(profile.is_suspended);
    let profile: UserProfileConfig = decode(json!({"IsSuspended": null}));
    assert!(!profile.is_suspended);
}

#[test]
fn unknown_fields_survive_a_read_modify_write() {
    let mut profile: UserProfileConfig = decode(json!({
        "Username": "carol",
        "FutureField": {"nested": [1, 2]},
        "Sources": {"s1": {"Description": "docs", "FutureSourceField": true}},
    }));
    profile.username = "dave".into();
    let encoded = encode(&profile);
    assert_eq!(encoded["Username"], "dave");
    assert_eq!(encoded["FutureField"], json!({"nested": [1, 2]}));
    assert_eq!(encoded["Sources"]["s1"]["FutureSourceField"], true);
    assert_eq!(encoded["Sources"]["s1"]["Description"], "docs");
}

#[test]
fn bytes_are_base64_and_null_is_empty() {
    let credential = WebAuthnCredential {
        public_key: Bytes(b"hello".to_vec()),
        ..Default::default()
    };
    let encoded = encode(&credential);
    assert_eq!(encoded["PublicKey"], "aGVsbG8=");
    assert_eq!(encoded["AAGUID"], "");
    let decoded: WebAuthnCredential = decode(json!({"PublicKey": "aGVsbG8", "AAGUID": null}));
    assert_eq!(decoded.public_key.as_slice(), b"hello");
    assert!(decoded.aaguid.is_empty());
    assert!(serde_json::from_value::<WebAuthnCredential>(json!({"PublicKey": "!!"})).is_err());
}

#[test]
fn integer_keyed_maps_use_decimal_string_keys() {
    let mut totals = BTreeMap::new();
    totals.insert(1_700_000_000_i64, B2TransactionTotals::default());
    let info = B2StorageExtraInfo {
        total_transactions_in_time_interval: totals,
        ..Default::default()
    };
    let encoded = encode(&info);
    let keys: Vec<_> = encoded["TotalTransactionsInTimeInterval"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["1700000000"]);
    let decoded: B2StorageExtraInfo = decode(encoded);
    assert_eq!(decoded, info);
    assert!(serde_json::from_value::<B2StorageExtraInfo>(
        json!({"TotalTransactionsInTimeInterval": {"x": {}}})
    )
    .is_err());
}

#[test]
fn lenient_wrapper_decodes_a_top_level_document() {
    let profile = serde_json::from_str::<Lenient<UserProfileConfig>>("[]")
        .unwrap()
        .0;
    assert_eq!(profile, UserProfileConfig::default());
}

#[test]
fn response_message_helpers() {
    assert_eq!(
        encode(&CometAPIResponseMessage::ok()),
        json!({"Status": 200, "Message": "OK"})
    );
    let error = CometAPIResponseMessage::new(403, "Unauthorised");
    assert_eq!(
        encode(&error),
        json!({"Status": 403, "Message": "Unauthorised"})
    );
    assert!(!error.is_success());
    assert!(CometAPIResponseMessage::ok().is_success());
}

#[test]
fn endpoint_table_is_complete() {
    assert_eq!(ENDPOINTS.len(), 247);
    let mut names: Vec<_> = ENDPOINTS.iter().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 247, "endpoint names are unique");

    let profile = endpoints::by_name("AdminGetUserProfile").unwrap();
    assert_eq!(profile.path, "/api/v1/admin/get-user-profile");
    assert_eq!(profile.auth, AuthKind::Admin);
    assert_eq!(profile.returns, "UserProfileConfig");
    assert_eq!(
        endpoints::by_path("/api/v1/admin/get-user-profile").map(|e| e.name),
        Some("AdminGetUserProfile")
    );
    assert!(endpoints::by_name("NoSuchCall").is_none());

    let upload = endpoints::by_name("AdminMetaResourceNew").unwrap();
    assert_eq!(upload.content_type, "multipart/form-data");
    assert!(upload
        .params
        .iter()
        .any(|p| p.encoding == ParamEncoding::MultipartFile));

    let gets: Vec<_> = ENDPOINTS.iter().filter(|e| e.method == "GET").collect();
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].path, "/gen/branding.props");
}

#[test]
fn sevt_names() {
    assert_eq!(
        sevt_name(constants::SEVT_ACCOUNT_LOGIN),
        Some("SEVT_ACCOUNT_LOGIN")
    );
    // SEVT_META_HELLO and SEVT__MIN share a value; the first listed wins.
    assert_eq!(constants::SEVT_META_HELLO, constants::SEVT__MIN);
    assert_eq!(sevt_name(constants::SEVT__MIN), Some("SEVT_META_HELLO"));
    assert_eq!(sevt_name(-1), None);
    assert_eq!(sevt_name(0), None);
}

#[test]
fn constants_have_their_go_types() {
    assert_eq!(constants::APPLICATION_VERSION, "25.9.6");
    let status: halley_api::types::JobStatus = constants::JOB_STATUS_STOP_SUCCESS;
    assert!(status > 0);
    assert_eq!(constants::RESTORETYPE_INVALID, -1);
}
