//! External administrator authentication sources: their CRUD over the wire,
//! per tenant, and administrator sign-in through a real LDAP directory
//! (OpenLDAP's `slapd`, started here on a free loopback port with a generated
//! configuration). Without `slapd` the directory tests print SKIPPED and
//! pass, unless `CI` is set (then they fail).

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const MODULES: &str = "/usr/lib/ldap";
const SCHEMAS: &str = "/etc/ldap/schema";

const BASE: &str = "dc=example,dc=com";
const GROUP: &str = "cn=backup-admins,ou=groups,dc=example,dc=com";
const ADMIN_LOGIN_FAILED: i64 = 4154;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `slapd` holding `dc=example,dc=com`: `alice` (password
/// `alicepass`, in the group `backup-admins`), `bob` (`bobpass`, in no group)
/// and the service account `cn=reader` (`readerpass`). It answers plain LDAP
/// and StartTLS on `port`, LDAPS on `tls_port`, with a self-signed certificate.
struct Directory {
    child: Child,
    port: u16,
    tls_port: u16,
    _dir: tempfile::TempDir,
}

impl Directory {
    /// `None` (after saying SKIPPED) where `slapd` is not installed.
    fn start(test: &str) -> Option<Directory> {
        let ready = [SLAPD, SLAPADD].iter().all(|p| Path::new(p).exists())
            && Path::new(MODULES).join("back_mdb.so").exists()
            && Command::new("openssl")
                .arg("version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !ready {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: slapd, ldap-utils and openssl are required in CI (apt-get install slapd ldap-utils openssl)");
            }
            println!("SKIPPED {test}: slapd is not installed (apt-get install slapd ldap-utils)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("db")).unwrap();
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=directory.invalid", "-keyout"])
            .arg(root.join("key.pem"))
            .arg("-out")
            .arg(root.join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "openssl makes a certificate");
        let conf = root.join("slapd.conf");
        std::fs::write(&conf, slapd_conf(root)).unwrap();
        let seed = root.join("seed.ldif");
        std::fs::write(&seed, SEED).unwrap();
        let output = Command::new(SLAPADD)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&seed)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (port, tls_port) = (free_port(), free_port());
        let mut slapd = Command::new(SLAPD);
        // Run as root (as CI does), slapd gives its privileges up for nobody's.
        if is_root() {
            let owned = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(root)
                .status()
                .unwrap();
            assert!(owned.success(), "chown of the directory's files");
            slapd.args(["-u", "nobody", "-g", "nogroup"]);
        }
        let child = slapd
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
            ))
            // In the foreground, so that it ends with this test.
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let directory = Directory {
            child,
            port,
            tls_port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [port, tls_port] {
            let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
                assert!(Instant::now() < deadline, "slapd listens on {port}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Some(directory)
    }

    /// A search-then-bind source through the service account, for members of
    /// `backup-admins`.
    fn group_source(&self) -> Value {
        json!({
            "Type": "ldap",
            "Description": "Example directory",
            "LDAP": {
                "Hostname": "127.0.0.1",
                "Port": self.port,
                "SecurityMethod": "plain",
                "BindUser": "cn=reader,dc=example,dc=com",
                "BindPassword": "readerpass",
                "SearchDN": BASE,
                "SearchFilter": format!("(&(uid=%{{USER}})(memberOf={GROUP}))"),
            },
            "NewUserPermissions": {"PreventServerShutdown": true},
        })
    }

    /// A direct-bind source: any person of the directory.
    fn direct_source(&self, security: &str, accept_invalid: bool) -> Value {
        let port = if security == "ldaps" {
            self.tls_port
        } else {
            self.port
        };
        json!({
            "Type": "ldap",
            "Description": "People, direct bind",
            "LDAP": {
                "Hostname": "127.0.0.1",
                "Port": port,
                "SecurityMethod": security,
                "AcceptInvalidSSL": accept_invalid,
                "BindUser": "uid=%{USER},ou=people,dc=example,dc=com",
                "BindPassword": "%{PASS}",
            },
        })
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn slapd_conf(root: &Path) -> String {
    let root = root.display();
    format!(
        "include {SCHEMAS}/core.schema
include {SCHEMAS}/cosine.schema
include {SCHEMAS}/inetorgperson.schema
modulepath {MODULES}
moduleload back_mdb
moduleload memberof
pidfile {root}/slapd.pid
TLSCertificateFile {root}/cert.pem
TLSCertificateKeyFile {root}/key.pem
database mdb
suffix \"{BASE}\"
rootdn \"cn=admin,{BASE}\"
rootpw adminpass
directory {root}/db
maxsize 10485760
overlay memberof
"
    )
}

const SEED: &str = "dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=reader,dc=example,dc=com
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: readerpass

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Example
userPassword: alicepass
memberOf: cn=backup-admins,ou=groups,dc=example,dc=com

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Example
userPassword: bobpass

dn: cn=backup-admins,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: backup-admins
member: uid=alice,ou=people,dc=example,dc=com
";

/// POSTs a form with `username`/`password` to `server`, asking for `host`
/// (resolved to the server's loopback address) when one is given.
async fn post_on(
    server: &Server,
    host: Option<&str>,
    auth: (&str, &str),
    path: &str,
    fields: &[(&str, &str)],
) -> Answer {
    let address: SocketAddr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let mut client = reqwest::Client::builder();
    let url = match host {
        Some(host) => {
            client = client.resolve(host, address);
            format!("http://{host}:{}{path}", address.port())
        }
        None => format!("{}{path}", server.url),
    };
    let mut form = vec![
        ("Username", auth.0),
        ("AuthType", "Password"),
        ("Password", auth.1),
    ];
    form.extend_from_slice(fields);
    let response = client
        .build()
        .unwrap()
        .post(url)
        .form(&form)
        .send()
        .await
        .unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn post(server: &Server, auth: (&str, &str), path: &str, fields: &[(&str, &str)]) -> Answer {
    post_on(server, None, auth, path, fields).await
}

/// Whether an `account/properties` answer is the account's, not an error.
fn signed_in(answer: &Answer) -> bool {
    let body = answer.json();
    body.get("Permissions").is_some() && body.get("Status").is_none()
}

const NEW: &str = "/api/v1/admin/external-auth-sources/new";
const GET: &str = "/api/v1/admin/external-auth-sources/get";
const SET: &str = "/api/v1/admin/external-auth-sources/set";
const DELETE: &str = "/api/v1/admin/external-auth-sources/delete";
const PROPERTIES: &str = "/api/v1/admin/account/properties";

const ADMIN: (&str, &str) = ("admin", "admin");

fn ldap_source(description: &str) -> Value {
    json!({
        "Type": "ldap",
        "Description": description,
        "LDAP": {
            "Hostname": "ldap.example.com",
            "SecurityMethod": "starttls",
            "BindUser": "cn=reader,dc=example,dc=com",
            "BindPassword": "s3cret",
            "SearchDN": BASE,
            "SearchFilter": "(uid=%{USER})",
        },
    })
}

/// A server with tenants `acme` (host name `acme.test`) and `globex`
/// (`globex.test`), administrators `acme-boss` (who may edit its sources,
/// but not branding), `acme-clerk` (who may not) and `globex-boss`, and the
/// extra `config` merged in at the top level.
fn with_tenants(extra: Value) -> Server {
    let mut config = json!({
        "AdminUsers": [
            {"Username": "admin", "PasswordFormat": 0, "Password": "admin"},
            {"Username": "acme-boss", "OrganizationID": "acme", "PasswordFormat": 0, "Password": "bosspass",
             "Permissions": {"AllowEditExternalAuthSources": true}},
            {"Username": "acme-clerk", "OrganizationID": "acme", "PasswordFormat": 0, "Password": "clerkpass"},
            {"Username": "globex-boss", "OrganizationID": "globex", "PasswordFormat": 0, "Password": "bosspass",
             "Permissions": {"AllowEditExternalAuthSources": true}},
        ],
        "Organizations": {
            "acme": {"Name": "Acme", "Hosts": ["acme.test"]},
            "globex": {"Name": "Globex", "Hosts": ["globex.test"]},
        },
    });
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    Server::launch(Launch {
        config: Some(config),
        ..Default::default()
    })
}

#[tokio::test]
async fn sources_are_created_read_replaced_and_deleted_with_secrets_obscured() {
    let server = with_tenants(json!({}));
    let created = post(
        &server,
        ADMIN,
        NEW,
        &[("Source", &ldap_source("Head office").to_string())],
    )
    .await
    .json();
    assert_eq!(created["Status"], 200, "{created}");
    let id = created["ID"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    assert_eq!(created["Source"]["LDAP"]["BindPassword"], "**********");
    assert_eq!(created["Source"]["LDAP"]["Hostname"], "ldap.example.com");

    // Stored in cometd.cfg's own place, in the clear; read back obscured.
    let stored = server.config();
    assert_eq!(
        stored["ExternalAdminUserSources"][&id]["LDAP"]["BindPassword"],
        "s3cret"
    );
    let sources = post(&server, ADMIN, GET, &[]).await.json();
    assert_eq!(sources[&id]["Description"], "Head office");
    assert_eq!(sources[&id]["LDAP"]["BindPassword"], "**********");
    let whole = post(&server, ADMIN, "/api/v1/admin/meta/server-config/get", &[])
        .await
        .json();
    assert_eq!(
        whole["ExternalAdminUserSources"][&id]["LDAP"]["BindPassword"],
        "**********"
    );

    // A caller-chosen ID; a taken one is refused.
    let named = post(
        &server,
        ADMIN,
        NEW,
        &[
            ("Source", &ldap_source("Branch").to_string()),
            ("SourceID", "branch"),
        ],
    )
    .await
    .json();
    assert_eq!(named["ID"], "branch");
    let taken = post(
        &server,
        ADMIN,
        NEW,
        &[
            ("Source", &ldap_source("Branch").to_string()),
            ("SourceID", "branch"),
        ],
    )
    .await;
    assert_eq!(taken.api_status(), 400);
    assert!(
        taken.message().contains("already exists"),
        "{}",
        taken.message()
    );

    // Set replaces the map; the obscured placeholder keeps the stored secret.
    let mut edited = post(&server, ADMIN, GET, &[]).await.json();
    edited[&id]["Description"] = json!("Head office (renamed)");
    edited.as_object_mut().unwrap().remove("branch");
    let set = post(&server, ADMIN, SET, &[("Sources", &edited.to_string())]).await;
    assert_eq!(set.api_status(), 200, "{}", set.message());
    let stored = server.config();
    assert_eq!(
        stored["ExternalAdminUserSources"][&id]["Description"],
        "Head office (renamed)"
    );
    assert_eq!(
        stored["ExternalAdminUserSources"][&id]["LDAP"]["BindPassword"],
        "s3cret"
    );
    assert!(stored["ExternalAdminUserSources"].get("branch").is_none());
    // The whole server configuration round-trips with its placeholders too.
    let set_whole = server.set_config(&whole).await;
    assert_eq!(set_whole.api_status(), 200, "{}", set_whole.message());
    assert_eq!(
        server.config()["ExternalAdminUserSources"][&id]["LDAP"]["BindPassword"],
        "s3cret"
    );

    // Clear errors for what cannot work.
    let mut unknown_type = ldap_source("x");
    unknown_type["Type"] = json!("kerberos");
    let answer = post(
        &server,
        ADMIN,
        NEW,
        &[("Source", &unknown_type.to_string())],
    )
    .await;
    answer.assert_refused(400, "Type 'kerberos'");
    let mut no_server = ldap_source("x");
    no_server["LDAP"]["Hostname"] = json!("");
    let answer = post(&server, ADMIN, NEW, &[("Source", &no_server.to_string())]).await;
    answer.assert_refused(400, "Hostname");
    let mut bad_method = ldap_source("x");
    bad_method["LDAP"]["SecurityMethod"] = json!("ssl");
    let answer = post(&server, ADMIN, NEW, &[("Source", &bad_method.to_string())]).await;
    answer.assert_refused(400, "SecurityMethod");
    let mut no_filter = ldap_source("x");
    no_filter["LDAP"]["SearchFilter"] = json!("");
    let answer = post(&server, ADMIN, NEW, &[("Source", &no_filter.to_string())]).await;
    answer.assert_refused(400, "SearchFilter");
    let answer = post(&server, ADMIN, DELETE, &[("SourceID", "no-such-source")]).await;
    answer.assert_refused(400, "no-such-source");

    let deleted = post(&server, ADMIN, DELETE, &[("SourceID", &id)]).await;
    assert_eq!(deleted.api_status(), 200);
    assert_eq!(post(&server, ADMIN, GET, &[]).await.json(), json!({}));
}

#[tokio::test]
async fn tenant_administrators_edit_only_their_own_sources_and_only_when_allowed() {
    let server = with_tenants(json!({}));
    let boss = ("acme-boss", "bosspass");
    let acme = Some("acme.test");

    // Without AllowEditExternalAuthSources: refused.
    let refused = post_on(&server, acme, ("acme-clerk", "clerkpass"), GET, &[]).await;
    assert_eq!(refused.api_status(), 403);
    assert!(
        refused.message().contains("AllowEditExternalAuthSources"),
        "{}",
        refused.message()
    );

    let created = post_on(
        &server,
        acme,
        boss,
        NEW,
        &[
            ("Source", &ldap_source("Acme directory").to_string()),
            ("SourceID", "acme-ldap"),
        ],
    )
    .await;
    assert_eq!(created.api_status(), 200, "{}", created.message());
    // Kept with the tenant, not at the top level.
    let stored = server.config();
    assert_eq!(
        stored["Organizations"]["acme"]["ExternalAdminUserSources"]["acme-ldap"]["LDAP"]
            ["BindPassword"],
        "s3cret"
    );
    assert_eq!(stored["ExternalAdminUserSources"], json!({}));
    let organizations = post(&server, ADMIN, "/api/v1/admin/organization/list", &[])
        .await
        .json();
    assert_eq!(
        organizations["acme"]["ExternalAdminUserSources"]["acme-ldap"]["LDAP"]["BindPassword"],
        "**********"
    );
    assert!(organizations["globex"]
        .get("ExternalAdminUserSources")
        .is_none());

    // Each scope sees its own.
    let own = post_on(&server, acme, boss, GET, &[]).await.json();
    assert_eq!(own["acme-ldap"]["Description"], "Acme directory");
    let globex = post_on(
        &server,
        Some("globex.test"),
        ("globex-boss", "bosspass"),
        GET,
        &[],
    )
    .await
    .json();
    assert_eq!(globex, json!({}));
    assert_eq!(post(&server, ADMIN, GET, &[]).await.json(), json!({}));
    // A top-level administrator reaches a tenant's through TargetOrganization...
    let targeted = post(&server, ADMIN, GET, &[("TargetOrganization", "acme")])
        .await
        .json();
    assert_eq!(targeted["acme-ldap"]["Description"], "Acme directory");
    let unknown = post(&server, ADMIN, GET, &[("TargetOrganization", "initech")]).await;
    assert_eq!(unknown.api_status(), 400);
    // ...a tenant administrator cannot.
    let crossing = post_on(
        &server,
        acme,
        boss,
        GET,
        &[("TargetOrganization", "globex")],
    )
    .await;
    assert_eq!(crossing.api_status(), 403);
    let crossing = post_on(
        &server,
        acme,
        boss,
        DELETE,
        &[("SourceID", "acme-ldap"), ("TargetOrganization", "globex")],
    )
    .await;
    assert_eq!(crossing.api_status(), 403);

    // A tenant administrator's source grants no permission it lacks.
    let mut generous = ldap_source("Generous");
    generous["NewUserPermissions"] = json!({"AllowEditBranding": true});
    let answer = post_on(
        &server,
        acme,
        boss,
        NEW,
        &[("Source", &generous.to_string())],
    )
    .await;
    answer.assert_refused(403, "AllowEditBranding");

    // The top level deletes the tenant's source for it.
    let deleted = post(
        &server,
        ADMIN,
        DELETE,
        &[("SourceID", "acme-ldap"), ("TargetOrganization", "acme")],
    )
    .await;
    assert_eq!(deleted.api_status(), 200, "{}", deleted.message());
    assert!(server.config()["Organizations"]["acme"]
        .get("ExternalAdminUserSources")
        .is_none());
}

#[tokio::test]
async fn an_unreachable_directory_is_a_clear_failure() {
    let closed = free_port();
    let server = with_tenants(json!({
        "ExternalAdminUserSources": {"down": {
            "Type": "ldap",
            "LDAP": {"Hostname": "127.0.0.1", "Port": closed, "SecurityMethod": "plain",
                     "BindUser": "uid=%{USER},ou=people,dc=example,dc=com", "BindPassword": "%{PASS}"},
        }},
    }));
    let started = Instant::now();
    let answer = post(&server, ("alice", "alicepass"), PROPERTIES, &[]).await;
    assert_eq!(answer.api_status(), 503, "{}", answer.message());
    assert!(
        answer.message().contains("could not be reached"),
        "{}",
        answer.message()
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        !server.config()["AdminUsers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["Username"] == "alice"),
        "nobody is signed in"
    );
}

/// Adds the directory's group-restricted source at the top level as `corp`.
async fn add_corp_source(server: &Server, directory: &Directory) -> Answer {
    post(
        server,
        ADMIN,
        NEW,
        &[
            ("Source", &directory.group_source().to_string()),
            ("SourceID", "corp"),
        ],
    )
    .await
}

#[tokio::test]
async fn ldap_administrators_sign_in_with_the_permissions_of_their_source() {
    let Some(directory) = Directory::start("ldap_administrators_sign_in") else {
        return;
    };
    let server = with_tenants(json!({}));
    let created = add_corp_source(&server, &directory).await;
    assert_eq!(created.api_status(), 200, "{}", created.message());

    let (mut socket, answer) =
        open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(answer, "200 OK");

    // Signed in, with the source's permissions, as an administrator tied to it.
    let alice = ("alice", "alicepass");
    let properties = post(&server, alice, PROPERTIES, &[]).await.json();
    assert_eq!(properties["OrganizationID"], "", "{properties}");
    assert_eq!(properties["Permissions"]["PreventServerShutdown"], true);
    let entry = server.config()["AdminUsers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["Username"] == "alice")
        .cloned()
        .expect("an administrator entry for alice");
    assert_eq!(entry["ExternalAuthenticationSource"], "corp");
    assert_eq!(entry["Password"], "", "no password of its own");
    let shutdown = post(&server, alice, "/api/v1/admin/meta/shutdown-service", &[]).await;
    assert_eq!(shutdown.api_status(), 403);
    let users = post(&server, alice, "/api/v1/admin/list-users", &[]).await;
    assert_eq!(users.json(), json!([]));

    // A session works like a local administrator's.
    let session = post(&server, alice, "/api/v1/admin/account/session-start", &[])
        .await
        .json();
    let key = session["SessionKey"].as_str().unwrap().to_string();
    let by_session = post_form(
        &server.url,
        PROPERTIES,
        &[
            ("Username", "alice"),
            ("AuthType", "SessionKey"),
            ("SessionKey", &key),
        ],
    )
    .await
    .json();
    assert_eq!(by_session["Permissions"]["PreventServerShutdown"], true);
    // The directory keeps the password.
    let change = post(
        &server,
        alice,
        "/api/v1/admin/account/set-properties",
        &[(
            "Security",
            &json!({"Password": "another", "AllowPasswordLogin": true}).to_string(),
        )],
    )
    .await;
    assert_eq!(change.api_status(), 403);

    // Refusals: wrong password, an empty one, a person outside the group.
    for (name, password) in [("alice", "wrong"), ("alice", ""), ("bob", "bobpass")] {
        let answer = post(&server, (name, password), PROPERTIES, &[]).await;
        assert_eq!(answer.api_status(), 403, "{name}/{password}");
        assert_eq!(answer.message(), "Unauthorised");
    }
    assert!(!server.config()["AdminUsers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["Username"] == "bob"));
    let mut failures = 0;
    while failures < 3 {
        let event = next_event(&mut socket).await;
        if event["Type"] == ADMIN_LOGIN_FAILED {
            failures += 1;
        }
    }

    // A source removed from the whole configuration vouches for nobody: its
    // administrator's entry stays, but neither password nor session works.
    let by_key = |key: String| {
        let url = server.url.clone();
        async move {
            post_form(
                &url,
                PROPERTIES,
                &[
                    ("Username", "alice"),
                    ("AuthType", "SessionKey"),
                    ("SessionKey", &key),
                ],
            )
            .await
        }
    };
    let mut whole = post(&server, ADMIN, "/api/v1/admin/meta/server-config/get", &[])
        .await
        .json();
    whole["ExternalAdminUserSources"] = json!({});
    let set = server.set_config(&whole).await;
    assert_eq!(set.api_status(), 200, "{}", set.message());
    let refused = post(&server, alice, PROPERTIES, &[]).await;
    assert_eq!(refused.api_status(), 403);
    assert_eq!(refused.message(), "Unauthorised");
    assert_eq!(by_key(key.clone()).await.api_status(), 403);
    let restored = add_corp_source(&server, &directory).await;
    assert_eq!(restored.api_status(), 200);
    assert!(signed_in(&by_key(key.clone()).await));

    // Deleting the source removes the administrators it signed in, sessions and all.
    let deleted = post(&server, ADMIN, DELETE, &[("SourceID", "corp")]).await;
    assert_eq!(deleted.api_status(), 200);
    let after = post_form(
        &server.url,
        PROPERTIES,
        &[
            ("Username", "alice"),
            ("AuthType", "SessionKey"),
            ("SessionKey", &key),
        ],
    )
    .await;
    assert_eq!(after.api_status(), 403);
    assert_eq!(
        post(&server, alice, PROPERTIES, &[]).await.api_status(),
        403
    );
}

#[tokio::test]
async fn failed_ldap_sign_ins_are_throttled() {
    let Some(directory) = Directory::start("failed_ldap_sign_ins_are_throttled") else {
        return;
    };
    let server = with_tenants(json!({
        "LoginProtection": {"Enabled": true, "FailureThreshold": 2, "CooldownSeconds": 60},
        "ExternalAdminUserSources": {"corp": directory.group_source()},
    }));
    for _ in 0..2 {
        let answer = post(&server, ("alice", "wrong"), PROPERTIES, &[]).await;
        assert_eq!(answer.api_status(), 403);
    }
    let locked = post(&server, ("alice", "alicepass"), PROPERTIES, &[]).await;
    assert_eq!(locked.api_status(), 429, "{}", locked.message());
}

#[tokio::test]
async fn a_tenants_source_signs_in_only_on_that_tenants_host() {
    let Some(directory) = Directory::start("a_tenants_source_signs_in_only_on_its_host") else {
        return;
    };
    let mut acme = json!({"Name": "Acme", "Hosts": ["acme.test"]});
    acme["ExternalAdminUserSources"] = json!({"people": directory.direct_source("plain", false)});
    let server = with_tenants(json!({}));
    let set = post(
        &server,
        ADMIN,
        "/api/v1/admin/organization/set",
        &[
            ("OrganizationID", "acme"),
            ("Organization", &acme.to_string()),
        ],
    )
    .await;
    assert_eq!(set.api_status(), 200, "{}", set.message());

    let bob = ("bob", "bobpass");
    for host in [Some("globex.test"), None] {
        let answer = post_on(&server, host, bob, PROPERTIES, &[]).await;
        assert_eq!(answer.api_status(), 403, "on {host:?}");
    }
    let properties = post_on(&server, Some("acme.test"), bob, PROPERTIES, &[])
        .await
        .json();
    assert_eq!(properties["OrganizationID"], "acme", "{properties}");
    // Its administrator belongs to the tenant: its users only.
    let users = post_on(
        &server,
        Some("acme.test"),
        bob,
        "/api/v1/admin/list-users",
        &[],
    )
    .await;
    assert_eq!(users.json(), json!([]));
    assert_eq!(
        post_on(&server, Some("globex.test"), bob, PROPERTIES, &[])
            .await
            .api_status(),
        403
    );
    // HybridSessionStart signs the new administrator in as such.
    let hybrid = post_on(
        &server,
        Some("acme.test"),
        ("alice", "alicepass"),
        "/api/v1/hybrid/session/start",
        &[],
    )
    .await
    .json();
    assert_eq!(hybrid["SessionType"], "admin", "{hybrid}");
}

#[tokio::test]
async fn ldaps_and_starttls_connections() {
    let Some(directory) = Directory::start("ldaps_and_starttls_connections") else {
        return;
    };
    let server = with_tenants(json!({"ExternalAdminUserSources": {
        "a-ldaps": directory.direct_source("ldaps", true),
    }}));
    let alice = ("alice", "alicepass");
    assert!(signed_in(&post(&server, alice, PROPERTIES, &[]).await));

    let set = |sources: Value| {
        let url = server.url.clone();
        async move { admin_post(&url, SET, &[("Sources", &sources.to_string())]).await }
    };
    // The administrator tied to a removed source goes with it; StartTLS next.
    assert_eq!(
        set(json!({"b-starttls": directory.direct_source("starttls", true)}))
            .await
            .api_status(),
        200
    );
    let bob = ("bob", "bobpass");
    assert!(signed_in(&post(&server, bob, PROPERTIES, &[]).await));

    // A self-signed certificate that is not accepted: the server cannot be used.
    assert_eq!(
        set(json!({"c-strict": directory.direct_source("ldaps", false)}))
            .await
            .api_status(),
        200
    );
    let strict = post(&server, alice, PROPERTIES, &[]).await;
    assert_eq!(strict.api_status(), 503, "{}", strict.message());
}

/// A directory stand-in on loopback that records the first bytes of every
/// connection (an LDAP simple bind carries the name and password in them),
/// one connection at a time, then hangs up.
struct BindRecorder {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl BindRecorder {
    async fn start() -> BindRecorder {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = vec![0u8; 4096];
                let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(0);
                let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                record.lock().unwrap().push(text);
            }
        });
        BindRecorder { port, seen }
    }

    fn source(&self) -> Value {
        json!({"Type": "ldap", "LDAP": {"Hostname": "127.0.0.1", "Port": self.port,
            "SecurityMethod": "plain", "BindUser": "uid=%{USER},ou=people,dc=example,dc=com",
            "BindPassword": "%{PASS}"}})
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until a bind holding `needle` arrived; earlier connections were
    /// all recorded before it, as they are served in order.
    async fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.seen().iter().any(|bind| bind.contains(needle)) {
            assert!(Instant::now() < deadline, "no bind with {needle} arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_tenants_directory_never_sees_sign_ins_meant_for_another_scope() {
    let directory = BindRecorder::start().await;
    let server = with_tenants(json!({
        "AdminUsers": [
            {"Username": "admin", "PasswordFormat": 0, "Password": "admin"},
            {"Username": "loner-boss", "OrganizationID": "loner", "PasswordFormat": 0, "Password": "bosspass"},
        ],
        "Organizations": {
            "acme": {"Name": "Acme", "Hosts": ["acme.test"],
                     "ExternalAdminUserSources": {"acme-dir": directory.source()}},
            "globex": {"Name": "Globex", "Hosts": ["globex.test"]},
            // No host names: its administrators sign in on the default host.
            "loner": {"Name": "Loner", "ExternalAdminUserSources": {"loner-dir": directory.source()}},
        },
    }));
    for (user, password, org) in [
        ("dave", "davepass-top", ""),
        ("erin", "erinpass-globex", "globex"),
    ] {
        let added = post(
            &server,
            ADMIN,
            "/api/v1/admin/add-user",
            &[
                ("TargetUser", user),
                ("TargetPassword", password),
                ("TargetOrganization", org),
            ],
        )
        .await;
        assert_eq!(added.api_status(), 200, "{}", added.message());
    }
    const HYBRID: &str = "/api/v1/hybrid/session/start";
    // The top level's and other tenants' sign-ins, right or mistyped.
    let others = [
        (None, ("Admin", "admin-typo-pass"), PROPERTIES),
        (None, ("dav", "davepass-top"), HYBRID),
        (None, ("dave", "davepass-wrong"), HYBRID),
        (None, ("erin", "erinpass-globex"), PROPERTIES),
        (None, ("loner-bos", "bosspass"), PROPERTIES),
        (Some("globex.test"), ("erin", "erinpass-globex"), PROPERTIES),
        (
            Some("globex.test"),
            ("newcomer", "globex-newcomer-pass"),
            HYBRID,
        ),
    ];
    for (host, auth, path) in others {
        let answer = post_on(&server, host, auth, path, &[]).await;
        assert_ne!(answer.api_status(), 200, "{auth:?} on {host:?}");
    }
    // A sign-in on the tenant's own host name does reach its directory ...
    let control = post_on(
        &server,
        Some("acme.test"),
        ("acme-newbie", "acme-control-pass"),
        PROPERTIES,
        &[],
    )
    .await;
    assert_eq!(control.api_status(), 503, "{}", control.message());
    directory.wait_for("acme-control-pass").await;
    // ... and is the only one it ever saw.
    let seen = directory.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for (_, (name, password), _) in others {
        assert!(
            !seen
                .iter()
                .any(|bind| bind.contains(password) || bind.contains(&format!("uid={name},"))),
            "{name}'s sign-in reached a tenant's directory: {seen:?}"
        );
    }
}
