//! Rust names for the description's JSON names.

use std::collections::HashSet;

/// Rust keywords (strict and reserved, all editions) that cannot be field
/// names as they are.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers either.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super"];

/// Field names the generator uses itself.
const RESERVED_FIELDS: &[&str] = &["extra"];

/// `CamelCase`, `HTTPServer`, `S3UsesTLS`, `SFTPCustomAuth_KnownHostsFile`
/// to `snake_case`: `http_server`, `s3_uses_tls`,
/// `sftp_custom_auth_known_hosts_file`.
pub fn snake_case(name: &str) -> String {
    words(name).join("_").to_ascii_lowercase()
}

/// Splits an identifier into words. A word starts at an upper-case letter
/// after a lower-case letter, at the last capital of an acronym followed by a
/// lower-case letter (`HTTPServer`: `HTTP`, `Server`), and at a capital after
/// digits when it starts a capitalised word (`S3Object`: `S3`, `Object`, but
/// `U2FLogin`: `U2F`, `Login`). A plural acronym stays one word (`SiteIDs`:
/// `Site`, `IDs`). Underscores separate words and vanish.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            push_word(&mut words, &mut current);
            continue;
        }
        if i > 0 && starts_word(&chars, i) {
            push_word(&mut words, &mut current);
        }
        current.push(c);
    }
    push_word(&mut words, &mut current);
    words
}

/// Whether `chars[i]` (not the first) starts a new word.
fn starts_word(chars: &[char], i: usize) -> bool {
    let (previous, c) = (chars[i - 1], chars[i]);
    if !c.is_ascii_uppercase() {
        return false;
    }
    if previous.is_ascii_lowercase() {
        return true;
    }
    let next_is_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
    if previous.is_ascii_uppercase() {
        return next_is_lower && !is_plural_s(chars, i + 1);
    }
    previous.is_ascii_digit() && next_is_lower
}

/// Whether `chars[i]` is a lone `s` ending a word, as in `IDs` or `VMs`.
fn is_plural_s(chars: &[char], i: usize) -> bool {
    chars.get(i) == Some(&'s') && !chars.get(i + 1).is_some_and(char::is_ascii_lowercase)
}

fn push_word(words: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        words.push(std::mem::take(current));
    }
}

/// Hands out distinct Rust field names within one struct.
#[derive(Default)]
pub struct FieldNames {
    used: HashSet<String>,
}

impl FieldNames {
    /// The Rust field name for a JSON field name: snake case; a keyword
    /// becomes a raw identifier (`r#type`), or gets a trailing underscore
    /// where that is impossible (`self_`); a name taken by an earlier field
    /// or by the generator gets a numeric suffix (`id_2`).
    pub fn field(&mut self, json_name: &str) -> String {
        let base = snake_case(json_name);
        let base = if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            format!("f_{base}")
        } else {
            base
        };
        let mut candidate = base.clone();
        let mut n = 1;
        while self.used.contains(&candidate) || RESERVED_FIELDS.contains(&candidate.as_str()) {
            n += 1;
            candidate = format!("{base}_{n}");
        }
        self.used.insert(candidate.clone());
        escape_keyword(candidate)
    }
}

fn escape_keyword(name: String) -> String {
    if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_go_names() {
        let cases = [
            ("Status", "status"),
            ("OwnerOrganizationID", "owner_organization_id"),
            ("S3UsesTLS", "s3_uses_tls"),
            ("S3ObjectLockMode", "s3_object_lock_mode"),
            ("AllowPasswordAndU2FLogin", "allow_password_and_u2f_login"),
            ("U2FRegistrations", "u2f_registrations"),
            (
                "WindowsCodeSignPKCS11KeyID",
                "windows_code_sign_pkcs11_key_id",
            ),
            ("Office365Credential", "office365_credential"),
            (
                "SFTPCustomAuth_KnownHostsFile",
                "sftp_custom_auth_known_hosts_file",
            ),
            (
                "LastSuccessfulDeepVerify_GUID",
                "last_successful_deep_verify_guid",
            ),
            ("VMs", "vms"),
            ("IncludedVMs", "included_vms"),
            ("SiteIDs", "site_ids"),
            ("PSAConfigs", "psa_configs"),
            ("authenticatorSelection", "authenticator_selection"),
            ("AAGUID", "aaguid"),
        ];
        for (go, rust) in cases {
            assert_eq!(snake_case(go), rust, "{go}");
        }
    }

    #[test]
    fn field_names_avoid_keywords_and_collisions() {
        let mut names = FieldNames::default();
        assert_eq!(names.field("Type"), "r#type");
        assert_eq!(names.field("type"), "type_2");
        assert_eq!(names.field("Extra"), "extra_2");
        assert_eq!(names.field("Self"), "self_");
    }
}
