//! Protected Items with their backup rules, edited inside a profile: the
//! item is `Sources[id]`, its rules are the `BackupRules` whose `Source` is id.

use std::collections::BTreeMap;

use halley_api::types::{
    BackupRuleConfig, ProtectedItemWithBackupRulesResponse, SourceConfig, UserProfileConfig,
};

use crate::http::{ApiError, ApiResult};

fn unknown(id: &str) -> ApiError {
    ApiError::invalid_param("SourceID", format!("no Protected Item has the ID '{id}'"))
}

pub fn read(
    profile: &UserProfileConfig,
    id: &str,
    hash: String,
) -> ApiResult<ProtectedItemWithBackupRulesResponse> {
    let source = profile
        .sources
        .get(id)
        .cloned()
        .ok_or_else(|| unknown(id))?;
    let backup_rules = profile
        .backup_rules
        .iter()
        .filter(|(_, rule)| rule.source == id)
        .map(|(rule_id, rule)| (rule_id.clone(), rule.clone()))
        .collect();
    Ok(ProtectedItemWithBackupRulesResponse {
        status: 200,
        message: "OK".into(),
        source,
        backup_rules,
        profile_hash: hash,
        ..Default::default()
    })
}

/// Sets the item (when `source` is given; otherwise it must exist) and makes
/// `rules` its exact set of backup rules.
pub fn write(
    profile: &mut UserProfileConfig,
    id: &str,
    source: Option<SourceConfig>,
    rules: BTreeMap<String, BackupRuleConfig>,
) -> ApiResult<()> {
    match source {
        Some(source) => {
            profile.sources.insert(id.to_string(), source);
        }
        None if !profile.sources.contains_key(id) => return Err(unknown(id)),
        None => {}
    }
    profile.backup_rules.retain(|_, rule| rule.source != id);
    for (rule_id, mut rule) in rules {
        rule.source = id.to_string();
        profile.backup_rules.insert(rule_id, rule);
    }
    Ok(())
}

/// Removes the item and its backup rules.
pub fn remove(profile: &mut UserProfileConfig, id: &str) -> ApiResult<()> {
    profile.sources.remove(id).ok_or_else(|| unknown(id))?;
    profile.backup_rules.retain(|_, rule| rule.source != id);
    Ok(())
}
