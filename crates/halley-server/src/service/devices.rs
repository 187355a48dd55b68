//! Devices registered to an account: `Devices[id]` of the profile, each
//! owning the Protected Items whose `OwnerDevice` is its ID.

use halley_api::types::UserProfileConfig;

/// Removes the device with the Protected Items it owns and their backup
/// rules (which would name items that no longer exist). Storage Vaults are
/// the account's and stay.
pub fn remove(profile: &mut UserProfileConfig, device_id: &str) {
    profile.devices.remove(device_id);
    let owned: Vec<String> = profile
        .sources
        .iter()
        .filter(|(_, source)| source.owner_device == device_id)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &owned {
        profile.sources.remove(id);
    }
    profile
        .backup_rules
        .retain(|_, rule| !owned.contains(&rule.source));
}
