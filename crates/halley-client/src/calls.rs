//! One method per endpoint Halley builds, named after the SDK method.

use std::collections::BTreeMap;

use halley_api::types::*;

use crate::{Client, Result};

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Client {
    pub async fn admin_meta_version(&self) -> Result<ServerMetaVersionInfo> {
        self.call("/api/v1/admin/meta/version", &[]).await
    }

    pub async fn branding_props(&self) -> Result<ServerMetaBrandingProperties> {
        let response = reqwest::get(format!("{}/gen/branding.props", self.base_url)).await?;
        crate::decode(&response.bytes().await?)
    }

    pub async fn admin_add_first_admin_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/add-first-admin-user",
            &[
                ("TargetUser", username.into()),
                ("TargetPassword", password.into()),
            ],
        )
        .await
    }

    pub async fn admin_list_users(&self) -> Result<Vec<String>> {
        self.call("/api/v1/admin/list-users", &[]).await
    }

    pub async fn admin_list_users_full(&self) -> Result<BTreeMap<String, UserProfileConfig>> {
        self.call("/api/v1/admin/list-users-full", &[]).await
    }

    pub async fn admin_add_user(
        &self,
        username: &str,
        password: &str,
        store_recovery_code: Option<bool>,
        require_password_change: Option<bool>,
    ) -> Result<CometAPIResponseMessage> {
        let mut params = vec![
            ("TargetUser", username.to_string()),
            ("TargetPassword", password.to_string()),
        ];
        if let Some(store) = store_recovery_code {
            params.push(("StoreRecoveryCode", u8::from(store).to_string()));
        }
        if let Some(require) = require_password_change {
            params.push(("RequirePasswordChange", u8::from(require).to_string()));
        }
        self.call_ok("/api/v1/admin/add-user", &params).await
    }

    pub async fn admin_add_user_from_profile(
        &self,
        username: &str,
        profile: &UserProfileConfig,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/add-user-from-profile",
            &[
                ("TargetUser", username.into()),
                ("ProfileData", json(profile)),
            ],
        )
        .await
    }

    pub async fn admin_get_user_profile(&self, username: &str) -> Result<UserProfileConfig> {
        self.call(
            "/api/v1/admin/get-user-profile",
            &[("TargetUser", username.into())],
        )
        .await
    }

    pub async fn admin_get_user_profile_hash(
        &self,
        username: &str,
    ) -> Result<GetProfileHashResponseMessage> {
        self.call(
            "/api/v1/admin/get-user-profile-hash",
            &[("TargetUser", username.into())],
        )
        .await
    }

    pub async fn admin_get_user_profile_and_hash(
        &self,
        username: &str,
    ) -> Result<GetProfileAndHashResponseMessage> {
        self.call(
            "/api/v1/admin/get-user-profile-and-hash",
            &[("TargetUser", username.into())],
        )
        .await
    }

    pub async fn admin_set_user_profile(
        &self,
        username: &str,
        profile: &UserProfileConfig,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/set-user-profile",
            &[
                ("TargetUser", username.into()),
                ("ProfileData", json(profile)),
            ],
        )
        .await
    }

    pub async fn admin_set_user_profile_hash(
        &self,
        username: &str,
        profile: &UserProfileConfig,
        require_hash: &str,
    ) -> Result<GetProfileAndHashResponseMessage> {
        self.call(
            "/api/v1/admin/set-user-profile-hash",
            &[
                ("TargetUser", username.into()),
                ("ProfileData", json(profile)),
                ("RequireHash", require_hash.into()),
            ],
        )
        .await
    }

    pub async fn admin_delete_user(&self, username: &str) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/delete-user",
            &[("TargetUser", username.into())],
        )
        .await
    }

    pub async fn admin_reset_user_password(
        &self,
        username: &str,
        new_password: &str,
        old_password: Option<&str>,
    ) -> Result<CometAPIResponseMessage> {
        let mut params = vec![
            ("TargetUser", username.to_string()),
            ("NewPassword", new_password.to_string()),
        ];
        if let Some(old) = old_password {
            params.push(("OldPassword", old.to_string()));
        }
        self.call_ok("/api/v1/admin/reset-user-password", &params)
            .await
    }

    pub async fn admin_disable_user_totp(&self, username: &str) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/disable-user-totp",
            &[("TargetUser", username.into())],
        )
        .await
    }

    pub async fn admin_account_session_start(&self) -> Result<SessionKeyRegeneratedResponse> {
        self.call("/api/v1/admin/account/session-start", &[]).await
    }

    pub async fn admin_account_session_start_as_user(
        &self,
        username: &str,
    ) -> Result<SessionKeyRegeneratedResponse> {
        self.call(
            "/api/v1/admin/account/session-start-as-user",
            &[("TargetUser", username.into())],
        )
        .await
    }

    pub async fn admin_account_session_revoke(&self) -> Result<CometAPIResponseMessage> {
        self.call_ok("/api/v1/admin/account/session-revoke", &[])
            .await
    }

    pub async fn admin_account_session_upgrade(
        &self,
        session_key: &str,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/account/session-upgrade",
            &[("SessionKey", session_key.into())],
        )
        .await
    }

    pub async fn hybrid_session_start(&self) -> Result<SessionKeyRegeneratedResponse> {
        self.call("/api/v1/hybrid/session/start", &[]).await
    }

    pub async fn admin_account_properties(&self) -> Result<AdminAccountPropertiesResponse> {
        self.call("/api/v1/admin/account/properties", &[]).await
    }

    pub async fn admin_account_set_properties(
        &self,
        security: &AdminSecurityOptions,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/account/set-properties",
            &[("Security", json(security))],
        )
        .await
    }

    pub async fn admin_account_regenerate_totp(&self) -> Result<TotpRegeneratedResponse> {
        self.call("/api/v1/admin/account/regenerate-totp", &[])
            .await
    }

    pub async fn admin_account_validate_totp(&self, code: &str) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/admin/account/validate-totp",
            &[("TOTPCode", code.into())],
        )
        .await
    }

    pub async fn user_web_session_start(&self) -> Result<SessionKeyRegeneratedResponse> {
        self.call("/api/v1/user/web/session/start", &[]).await
    }

    pub async fn user_web_session_revoke(&self) -> Result<CometAPIResponseMessage> {
        self.call_ok("/api/v1/user/web/session/revoke", &[]).await
    }

    pub async fn user_web_get_user_profile_and_hash(
        &self,
    ) -> Result<GetProfileAndHashResponseMessage> {
        self.call("/api/v1/user/web/get-user-profile-and-hash", &[])
            .await
    }

    pub async fn user_web_set_profile_hash(
        &self,
        profile: &UserProfileConfig,
        hash: &str,
    ) -> Result<GetProfileAndHashResponseMessage> {
        self.call(
            "/api/v1/user/web/set-profile-hash",
            &[("ProfileData", json(profile)), ("ProfileHash", hash.into())],
        )
        .await
    }

    pub async fn user_web_account_reset_password(
        &self,
        hash: &str,
        old: &str,
        new: &str,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/user/web/account/reset-password",
            &[
                ("ProfileHash", hash.into()),
                ("OldPassword", old.into()),
                ("NewPassword", new.into()),
            ],
        )
        .await
    }

    pub async fn user_web_account_regenerate_totp(
        &self,
        hash: &str,
    ) -> Result<TotpRegeneratedResponse> {
        self.call(
            "/api/v1/user/web/account/regenerate-totp",
            &[("ProfileHash", hash.into())],
        )
        .await
    }

    pub async fn user_web_account_validate_totp(
        &self,
        hash: &str,
        code: &str,
    ) -> Result<CometAPIResponseMessage> {
        self.call_ok(
            "/api/v1/user/web/account/validate-totp",
            &[("ProfileHash", hash.into()), ("TOTPCode", code.into())],
        )
        .await
    }
}
