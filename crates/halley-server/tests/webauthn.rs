//! Security keys for administrators, through the wire, with a software
//! authenticator (a key pair held by the test): registration, sign-in with
//! the 449 challenge, a wrong signature, a replayed counter, another
//! account's key, another host, and the recovery by another administrator.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::*;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

/// A security key in software: one P-256 key pair, its credential ID and
/// its signature counter.
struct SoftKey {
    pair: EcdsaKeyPair,
    id: Vec<u8>,
    counter: u32,
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// A CBOR byte string's head.
fn cbor_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = match data.len() {
        n if n < 24 => vec![0x40 | n as u8],
        n if n < 256 => vec![0x58, n as u8],
        n => vec![0x59, (n >> 8) as u8, n as u8],
    };
    out.extend_from_slice(data);
    out
}

impl SoftKey {
    fn new() -> SoftKey {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let id = sha256(pkcs8.as_ref())[..16].to_vec();
        SoftKey {
            pair,
            id,
            counter: 0,
        }
    }

    fn client_data(kind: &str, options: &Value, origin: &str) -> Vec<u8> {
        let challenge = STANDARD
            .decode(options["challenge"].as_str().unwrap())
            .unwrap();
        json!({"type": kind, "challenge": URL_SAFE_NO_PAD.encode(challenge),
               "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
    }

    /// The answer to `navigator.credentials.create(options)`: a "none"
    /// attestation of a new ES256 credential.
    fn register(&self, options: &Value, origin: &str) -> String {
        let point = self.pair.public_key().as_ref(); // 0x04 || x || y
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        cose.extend(cbor_bytes(&point[1..33]));
        cose.push(0x22);
        cose.extend(cbor_bytes(&point[33..65]));
        let mut auth_data = sha256(options["rp"]["id"].as_str().unwrap().as_bytes());
        auth_data.push(0x41); // user present, attested credential data
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.id.len() as u16).to_be_bytes());
        auth_data.extend(&self.id);
        auth_data.extend(cose);
        let mut attestation = vec![0xa3, 0x63];
        attestation.extend(b"fmt");
        attestation.push(0x64);
        attestation.extend(b"none");
        attestation.push(0x67);
        attestation.extend(b"attStmt");
        attestation.push(0xa0);
        attestation.push(0x68);
        attestation.extend(b"authData");
        attestation.extend(cbor_bytes(&auth_data));
        let id = URL_SAFE_NO_PAD.encode(&self.id);
        json!({"id": id, "rawId": id, "type": "public-key", "extensions": {},
               "response": {
                   "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
                   "clientDataJSON": URL_SAFE_NO_PAD.encode(Self::client_data("webauthn.create", options, origin)),
               }})
        .to_string()
    }

    /// The answer to `navigator.credentials.get(options)`, counting up.
    fn sign(&mut self, options: &Value, origin: &str) -> String {
        self.counter += 1;
        let client_data = Self::client_data("webauthn.get", options, origin);
        let mut auth_data = sha256(options["rpId"].as_str().unwrap().as_bytes());
        auth_data.push(0x01);
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client_data));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), &signed)
            .unwrap()
            .as_ref()
            .to_vec();
        let id = URL_SAFE_NO_PAD.encode(&self.id);
        json!({"id": id, "rawId": id, "type": "public-key", "extensions": {},
        "response": {
            "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            "signature": URL_SAFE_NO_PAD.encode(signature),
            "userHandle": null,
        }})
        .to_string()
    }
}

/// The server reached by the host name `localhost` (WebAuthn needs a
/// name, not an address).
struct Named {
    client: reqwest::Client,
    origin: String,
}

impl Named {
    fn new(server: &Server) -> Named {
        let address: std::net::SocketAddr =
            server.url.trim_start_matches("http://").parse().unwrap();
        Named {
            client: reqwest::Client::builder()
                .resolve("localhost", address)
                .build()
                .unwrap(),
            origin: format!("http://localhost:{}", address.port()),
        }
    }

    /// A call to `/api/v1/admin/{path}`: the HTTP status, the challenge
    /// header if any, and the answer.
    async fn call(&self, path: &str, fields: &[(&str, &str)]) -> (u16, Option<String>, Value) {
        let answer = self
            .client
            .post(format!("{}/api/v1/admin/{path}", self.origin))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let challenge = answer
            .headers()
            .get("X-Comet-U2F-Challenge")
            .map(|v| v.to_str().unwrap().to_string());
        (status, challenge, answer.json().await.unwrap())
    }

    async fn as_admin(
        &self,
        user: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        let mut all = vec![
            ("Username", user),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ];
        all.extend_from_slice(fields);
        self.call(path, &all).await
    }

    /// Registers `key` for `user` on this address.
    async fn register(&self, user: &str, key: &SoftKey, description: &str) -> Value {
        let self_address = format!("{}/", self.origin);
        let (_, _, challenge) = self
            .as_admin(
                user,
                "account/webauthn/request-registration-challenge",
                &[("SelfAddress", &self_address)],
            )
            .await;
        assert_eq!(challenge["Status"], 200, "{challenge}");
        let options = &challenge["CredentialCreationOptions"];
        let credential = key.register(options, &self.origin);
        self.as_admin(
            user,
            "account/webauthn/submit-challenge-response",
            &[
                ("SelfAddress", &self_address),
                ("ChallengeID", challenge["ChallengeID"].as_str().unwrap()),
                ("Credential", &credential),
                ("Description", description),
            ],
        )
        .await
        .2
    }

    /// Signs in as `user` with a password, answering the key challenge
    /// with `key`: the session key, or the refusal.
    async fn sign_in(&self, user: &str, key: &mut SoftKey) -> Result<String, Value> {
        let (status, challenge, answer) = self.as_admin(user, "account/session-start", &[]).await;
        assert_eq!(status, 449, "{answer}");
        let request: Value = serde_json::from_str(&challenge.expect("a challenge header")).unwrap();
        let credential = key.sign(&request["Assertion"]["publicKey"], &self.origin);
        let sign = json!({"ChallengeID": request["ChallengeID"], "CredentialJSON": credential})
            .to_string();
        let (_, _, answer) = self
            .call(
                "account/session-start",
                &[
                    ("Username", user),
                    ("AuthType", "PasswordWebAuthn"),
                    ("Password", "password1"),
                    ("WebAuthnSign", &sign),
                ],
            )
            .await;
        answer["SessionKey"]
            .as_str()
            .map(str::to_string)
            .ok_or(answer)
    }

    /// Turns password-only sign-in off and the key on, for `user`.
    async fn require_key(&self, user: &str) {
        let (_, _, properties) = self.as_admin(user, "account/properties", &[]).await;
        let mut security = properties["Security"].clone();
        security["AllowPasswordLogin"] = json!(false);
        security["AllowPasswordAndWebAuthnLogin"] = json!(true);
        let (_, _, answer) = self
            .as_admin(
                user,
                "account/set-properties",
                &[("Security", &security.to_string())],
            )
            .await;
        assert_eq!(answer["Status"], 200, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_sign_in_with_a_security_key() {
    let server = Server::start();
    for name in ["ada", "bob"] {
        admin_post(
            &server.url,
            "/api/v1/admin/admin-user/new",
            &[("TargetUser", name), ("TargetPassword", "password1")],
        )
        .await
        .assert_refused(200, "OK");
    }
    let named = Named::new(&server);
    let (mut ada_key, mut bob_key) = (SoftKey::new(), SoftKey::new());

    // An address WebAuthn cannot work on is refused by name.
    let (_, _, refused) = named
        .as_admin(
            "ada",
            "account/webauthn/request-registration-challenge",
            &[("SelfAddress", &format!("{}/", server.url))],
        )
        .await;
    assert!(
        refused["Message"].as_str().unwrap().contains("host name"),
        "{refused}"
    );

    // Registration: the options name this host; the key is listed.
    assert_eq!(
        named.register("ada", &ada_key, "Blue key").await["Status"],
        200
    );
    assert_eq!(
        named.register("bob", &bob_key, "Bob's key").await["Status"],
        200
    );
    let (_, _, properties) = named.as_admin("ada", "account/properties", &[]).await;
    let registrations = &properties["Security"]["WebAuthnRegistrations"];
    assert_eq!(registrations.as_array().unwrap().len(), 1);
    assert_eq!(registrations[0]["Description"], "Blue key");
    assert_eq!(registrations[0]["ID"], STANDARD.encode(&ada_key.id));
    // A key cannot be turned on for sign-in before it is registered.
    let (_, _, properties) = named.as_admin("bob", "account/properties", &[]).await;
    let mut none = properties["Security"].clone();
    none["WebAuthnRegistrations"] = json!([]);
    none["AllowPasswordLogin"] = json!(false);
    none["AllowPasswordAndWebAuthnLogin"] = json!(true);
    let (_, _, answer) = named
        .as_admin(
            "bob",
            "account/set-properties",
            &[("Security", &none.to_string())],
        )
        .await;
    assert!(
        answer["Message"]
            .as_str()
            .unwrap()
            .contains("needs a security key"),
        "{answer}"
    );

    named.require_key("ada").await;
    named.require_key("bob").await;

    // Sign-in: 449 with the challenge, then the key's signature; the
    // login event says which factor was used.
    let (mut stream, _) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    let session = named.sign_in("ada", &mut ada_key).await.expect("signed in");
    let login = common::agent::event_where(&mut stream, |e| {
        e["Type"] == 4153 && e["Actor"] == "admin:ada"
    })
    .await;
    assert_eq!(login["Data"]["SecondFactor"], "WebAuthn", "{login}");
    let (_, _, properties) = named
        .call(
            "account/properties",
            &[
                ("Username", "ada"),
                ("AuthType", "SessionKey"),
                ("SessionKey", &session),
            ],
        )
        .await;
    assert_eq!(
        properties["Security"]["WebAuthnRegistrations"][0]["Credential"]["SignCount"],
        1
    );

    // A wrong signature, a replayed counter and another account's key are
    // refused.
    let mut tampered = SoftKey::new();
    tampered.id = ada_key.id.clone();
    assert!(named.sign_in("ada", &mut tampered).await.is_err());
    ada_key.counter -= 1;
    assert!(
        named.sign_in("ada", &mut ada_key).await.is_err(),
        "a replayed counter"
    );
    ada_key.counter += 5;
    assert!(
        named.sign_in("ada", &mut bob_key).await.is_err(),
        "bob's key for ada"
    );
    assert!(named.sign_in("ada", &mut ada_key).await.is_ok());
    // An answer is good once only.
    let (_, challenge, _) = named.as_admin("ada", "account/session-start", &[]).await;
    let request: Value = serde_json::from_str(&challenge.unwrap()).unwrap();
    let credential = ada_key.sign(&request["Assertion"]["publicKey"], &named.origin);
    let sign =
        json!({"ChallengeID": request["ChallengeID"], "CredentialJSON": credential}).to_string();
    let fields = [
        ("Username", "ada"),
        ("AuthType", "PasswordWebAuthn"),
        ("Password", "password1"),
        ("WebAuthnSign", sign.as_str()),
    ];
    assert_eq!(
        named.call("account/session-start", &fields).await.2["Status"],
        200
    );
    assert_eq!(
        named.call("account/session-start", &fields).await.2["Status"],
        403
    );

    // On another host name no key is registered: no way in there.
    let answer = post_form(
        &server.url,
        "/api/v1/admin/account/properties",
        &[
            ("Username", "ada"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await;
    answer.assert_refused(403, "no security key is registered for this host");

    // Recovery: another top-level administrator removes the keys and turns
    // password sign-in back on, through the server's configuration.
    let mut config = admin_post(&server.url, "/api/v1/admin/meta/server-config/get", &[])
        .await
        .json();
    for entry in config["AdminUsers"].as_array_mut().unwrap() {
        if entry["Username"] == "ada" {
            entry["WebAuthnRegistrations"] = json!([]);
            entry["AllowPasswordAndWebAuthnLogin"] = json!(false);
            entry["AllowPasswordLogin"] = json!(true);
        }
    }
    server.set_config(&config).await.assert_refused(200, "OK");
    let (status, _, answer) = named.as_admin("ada", "account/properties", &[]).await;
    assert_eq!(status, 200, "{answer}");
    let left = &answer["Security"]["WebAuthnRegistrations"];
    assert!(left.as_array().is_none_or(Vec::is_empty), "{left}");

    // The key holder removes their own key by leaving it out.
    let (_, _, properties) = named
        .call(
            "account/properties",
            &[
                ("Username", "bob"),
                ("AuthType", "SessionKey"),
                (
                    "SessionKey",
                    &named.sign_in("bob", &mut bob_key).await.unwrap(),
                ),
            ],
        )
        .await;
    let mut security = properties["Security"].clone();
    security["WebAuthnRegistrations"] = json!([]);
    security["AllowPasswordAndWebAuthnLogin"] = json!(false);
    security["AllowPasswordLogin"] = json!(true);
    let (_, challenge, _) = named.as_admin("bob", "account/session-start", &[]).await;
    let request: Value = serde_json::from_str(&challenge.unwrap()).unwrap();
    let sign = json!({"ChallengeID": request["ChallengeID"],
                      "CredentialJSON": bob_key.sign(&request["Assertion"]["publicKey"], &named.origin)}).to_string();
    let (_, _, answer) = named
        .call(
            "account/set-properties",
            &[
                ("Username", "bob"),
                ("AuthType", "PasswordWebAuthn"),
                ("Password", "password1"),
                ("WebAuthnSign", &sign),
                ("Security", &security.to_string()),
            ],
        )
        .await;
    assert_eq!(answer["Status"], 200, "{answer}");
    assert_eq!(
        named.as_admin("bob", "account/properties", &[]).await.0,
        200
    );
}

/// The attestation key and certificate of the software U2F key (a fixed
/// self-signed test certificate, as a real key has its maker's).
const ATTESTATION_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgAc0EKnpVB/uV1B6XOFxipxGC2tovmIN2fJXttQZQbAShRANCAAR+pF17RAOOV/XCPd/Xhlg6PuFcEDjojv7MWIgtc+9wvczc9l7/4tjVlj8hrPiq0/tYH9r+oz32FvW9g6SDn0zb";
const ATTESTATION_CERTIFICATE: &str = "MIIBozCCAUmgAwIBAgIUH5sVXnpyg8h3yVZeEocbyRLVTSQwCgYIKoZIzj0EAwIwJjEkMCIGA1UEAwwbSGFsbGV5IHRlc3QgVTJGIGF0dGVzdGF0aW9uMCAXDTI2MTIwNjAzMzAxMVoYDzIxMjYxMTEyMDMzMDExWjAmMSQwIgYDVQQDDBtIYWxsZXkgdGVzdCBVMkYgYXR0ZXN0YXRpb24wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR+pF17RAOOV/XCPd/Xhlg6PuFcEDjojv7MWIgtc+9wvczc9l7/4tjVlj8hrPiq0/tYH9r+oz32FvW9g6SDn0zbo1MwUTAdBgNVHQ4EFgQU99Oys8oVZIgZIKwh3TyWjiD5DDwwHwYDVR0jBBgwFoAU99Oys8oVZIgZIKwh3TyWjiD5DDwwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiA9Xd6BCw4dsbgxYK4MMkjOFOm24k4ItVfeDczA+fOYiAIhAP7G9iA1ITIdCW98pg108xy/V9fvC3/i3fvGYYoetg4Z";

/// A legacy U2F key in software: its own key pair and handle, and a
/// counter.
struct SoftU2f {
    key: SoftKey,
}

impl SoftU2f {
    fn client_data(typ: &str, challenge: &str, origin: &str) -> String {
        let data = json!({"typ": typ, "challenge": challenge, "origin": origin}).to_string();
        URL_SAFE_NO_PAD.encode(data)
    }

    /// The registration message and client data answering `challenge`.
    fn register(&self, challenge: &str, app_id: &str) -> (String, String) {
        let rng = SystemRandom::new();
        let attestation = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &STANDARD.decode(ATTESTATION_KEY).unwrap(),
            &rng,
        )
        .unwrap();
        let client_data = Self::client_data("navigator.id.finishEnrollment", challenge, app_id);
        let public_key = self.key.pair.public_key().as_ref().to_vec();
        let mut signed = vec![0u8];
        signed.extend(sha256(app_id.as_bytes()));
        signed.extend(sha256(&URL_SAFE_NO_PAD.decode(&client_data).unwrap()));
        signed.extend(&self.key.id);
        signed.extend(&public_key);
        let mut message = vec![0x05];
        message.extend(&public_key);
        message.push(self.key.id.len() as u8);
        message.extend(&self.key.id);
        message.extend(STANDARD.decode(ATTESTATION_CERTIFICATE).unwrap());
        message.extend(attestation.sign(&rng, &signed).unwrap().as_ref());
        (URL_SAFE_NO_PAD.encode(message), client_data)
    }

    /// The `U2FSignResponse` to a `U2FSignRequest`.
    fn sign(&mut self, request: &Value) -> String {
        self.key.counter += 1;
        let app_id = request["AppID"].as_str().unwrap();
        let client_data = Self::client_data(
            "navigator.id.getAssertion",
            request["ChallengeData"].as_str().unwrap(),
            app_id,
        );
        let mut head = vec![0x01];
        head.extend(self.key.counter.to_be_bytes());
        let mut signed = sha256(app_id.as_bytes());
        signed.extend(&head);
        signed.extend(sha256(&URL_SAFE_NO_PAD.decode(&client_data).unwrap()));
        let mut signature = head;
        signature.extend(
            self.key
                .pair
                .sign(&SystemRandom::new(), &signed)
                .unwrap()
                .as_ref(),
        );
        json!({"ChallengeID": request["ChallengeID"], "KeyHandle": URL_SAFE_NO_PAD.encode(&self.key.id),
               "Signature": URL_SAFE_NO_PAD.encode(signature), "ClientData": client_data})
        .to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_u2f_keys_register_and_sign_in() {
    let server = Server::start();
    admin_post(
        &server.url,
        "/api/v1/admin/admin-user/new",
        &[("TargetUser", "cyd"), ("TargetPassword", "password1")],
    )
    .await
    .assert_refused(200, "OK");
    let named = Named::new(&server);
    let mut key = SoftU2f {
        key: SoftKey::new(),
    };
    let self_address = format!("{}/", named.origin);

    let (_, _, challenge) = named
        .as_admin(
            "cyd",
            "account/u2f/request-registration-challenge",
            &[("SelfAddress", &self_address)],
        )
        .await;
    assert_eq!(challenge["AppID"], named.origin.as_str(), "{challenge}");
    assert_eq!(challenge["RegisterRequests"][0]["Version"], "U2F_V2");
    let (message, client_data) = key.register(
        challenge["RegisterRequests"][0]["Challenge"]
            .as_str()
            .unwrap(),
        &named.origin,
    );
    // A message altered in transit is refused.
    let mut altered = URL_SAFE_NO_PAD.decode(&message).unwrap();
    altered[10] ^= 1;
    let submit = |id: String, message: String| {
        let (named, client_data) = (&named, client_data.clone());
        async move {
            named
                .as_admin(
                    "cyd",
                    "account/u2f/submit-challenge-response",
                    &[
                        ("U2FChallengeID", &id),
                        ("U2FClientData", &client_data),
                        ("U2FRegistrationData", &message),
                        ("U2FVersion", "U2F_V2"),
                        ("Description", "Old key"),
                    ],
                )
                .await
                .2
        }
    };
    let id = challenge["ChallengeID"].as_str().unwrap().to_string();
    let refused = submit(id.clone(), URL_SAFE_NO_PAD.encode(altered)).await;
    assert!(
        refused["Message"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{refused}"
    );
    // The challenge was spent: a new one for the good message.
    let (_, _, challenge) = named
        .as_admin(
            "cyd",
            "account/u2f/request-registration-challenge",
            &[("SelfAddress", &self_address)],
        )
        .await;
    let (message, client_data) = key.register(
        challenge["RegisterRequests"][0]["Challenge"]
            .as_str()
            .unwrap(),
        &named.origin,
    );
    let (_, _, answer) = named
        .as_admin(
            "cyd",
            "account/u2f/submit-challenge-response",
            &[
                ("U2FChallengeID", challenge["ChallengeID"].as_str().unwrap()),
                ("U2FClientData", &client_data),
                ("U2FRegistrationData", &message),
                ("U2FVersion", "U2F_V2"),
                ("Description", "Old key"),
            ],
        )
        .await;
    assert_eq!(answer["Status"], 200, "{answer}");

    let (_, _, properties) = named.as_admin("cyd", "account/properties", &[]).await;
    let mut security = properties["Security"].clone();
    assert_eq!(security["U2FRegistrations"][0]["Description"], "Old key");
    security["AllowPasswordLogin"] = json!(false);
    security["AllowPasswordAndU2FLogin"] = json!(true);
    let (_, _, answer) = named
        .as_admin(
            "cyd",
            "account/set-properties",
            &[("Security", &security.to_string())],
        )
        .await;
    assert_eq!(answer["Status"], 200, "{answer}");

    // Sign-in: 449 with a U2FSignRequest, then PasswordU2F with U2FSign.
    let (status, challenge, _) = named.as_admin("cyd", "account/session-start", &[]).await;
    assert_eq!(status, 449);
    let request: Value = serde_json::from_str(&challenge.unwrap()).unwrap();
    assert_eq!(request["AppID"], named.origin.as_str());
    assert_eq!(
        request["RegisteredKeys"][0]["KeyHandle"],
        URL_SAFE_NO_PAD.encode(&key.key.id)
    );
    let sign = key.sign(&request);
    let fields = [
        ("Username", "cyd"),
        ("AuthType", "PasswordU2F"),
        ("Password", "password1"),
        ("U2FSign", sign.as_str()),
    ];
    let (_, _, started) = named.call("account/session-start", &fields).await;
    assert!(started["SessionKey"].as_str().is_some(), "{started}");

    // The same counter again is a replay.
    key.key.counter -= 1;
    let (_, challenge, _) = named.as_admin("cyd", "account/session-start", &[]).await;
    let request: Value = serde_json::from_str(&challenge.unwrap()).unwrap();
    let sign = key.sign(&request);
    let fields = [
        ("Username", "cyd"),
        ("AuthType", "PasswordU2F"),
        ("Password", "password1"),
        ("U2FSign", sign.as_str()),
    ];
    assert_eq!(
        named.call("account/session-start", &fields).await.2["Status"],
        403
    );
}
