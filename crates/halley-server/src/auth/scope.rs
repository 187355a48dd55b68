//! [`TenantScope`]: which tenants' objects a call may read and write. Every
//! store method over a tenant's objects (accounts, policies, user groups,
//! news, install tokens, jobs, resources) takes one, and only this module
//! makes them: a call gets its caller's scope from the principal that
//! authentication produced, and server tasks that act for nobody name
//! [`TenantScope::server_wide`]. So a handler cannot read another tenant's
//! object by forgetting a check; it has no scope that would let it.

use super::{AdminPrincipal, UserPrincipal};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope {
    /// `None`: every tenant and the top level; `Some(org)`: that one only
    /// (`""` is the top level).
    tenant: Option<String>,
    /// Also the top level's objects (news it publishes to everyone).
    with_top_level: bool,
}

impl TenantScope {
    fn every_tenant() -> Self {
        TenantScope {
            tenant: None,
            with_top_level: false,
        }
    }

    fn only(organization_id: &str) -> Self {
        TenantScope {
            tenant: Some(organization_id.to_string()),
            with_top_level: false,
        }
    }

    /// For work the server does on nobody's behalf: sampling statistics,
    /// self-backup, delivering events, and finding an account at sign-in
    /// (usernames are one namespace across tenants). Never for a request's
    /// own reads and writes: those use their principal's scope.
    pub fn server_wide() -> Self {
        Self::every_tenant()
    }

    /// `Some(org)` when the scope is that one tenant; `None` for every tenant.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Whether the scope also shows the top level's objects.
    pub fn with_top_level(&self) -> bool {
        self.with_top_level
    }

    /// Whether an object of `organization_id` is inside the scope.
    pub fn includes(&self, organization_id: &str) -> bool {
        match &self.tenant {
            None => true,
            Some(own) => {
                own == organization_id || (self.with_top_level && organization_id.is_empty())
            }
        }
    }

    /// The scope of one tenant inside this one (a top-level administrator's
    /// `TargetOrganization`, or the tenant an object belongs to); `None` when
    /// this scope does not include it. Narrowing never widens.
    pub fn narrowed_to(&self, organization_id: &str) -> Option<TenantScope> {
        // The top level seen through `and_top_level` is not the caller's own.
        let own = self
            .tenant
            .as_deref()
            .is_none_or(|own| own == organization_id);
        own.then(|| Self::only(organization_id))
    }

    /// This scope plus what the top level publishes to every tenant. Only for
    /// objects meant for everyone (news); the top level's policies or groups
    /// are not.
    pub fn and_top_level(&self) -> TenantScope {
        TenantScope {
            tenant: self.tenant.clone(),
            with_top_level: self.tenant.is_some(),
        }
    }
}

impl AdminPrincipal {
    /// A top-level administrator sees every tenant, a tenant's administrator
    /// its own.
    pub fn scope(&self) -> TenantScope {
        if self.organization_id.is_empty() {
            TenantScope::every_tenant()
        } else {
            TenantScope::only(&self.organization_id)
        }
    }
}

impl UserPrincipal {
    /// An end user's tenant; which of its objects are the user's own is
    /// decided by the caller (jobs by owner, the profile by name).
    pub fn scope(&self) -> TenantScope {
        TenantScope::only(&self.organization_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_scope_includes_only_its_tenant() {
        let scope = TenantScope::only("a");
        assert!(scope.includes("a"));
        assert!(!scope.includes("b"));
        assert!(!scope.includes(""));
        assert!(scope.narrowed_to("b").is_none());
        assert_eq!(scope.narrowed_to("a"), Some(TenantScope::only("a")));
        assert!(scope.and_top_level().includes(""));
        assert!(!scope.and_top_level().includes("b"));
        assert!(scope.and_top_level().narrowed_to("").is_none());
    }

    #[test]
    fn the_top_level_scope_includes_every_tenant_and_narrows() {
        let scope = TenantScope::every_tenant();
        assert!(scope.includes("a") && scope.includes(""));
        let narrowed = scope.narrowed_to("a").unwrap();
        assert!(!narrowed.includes("b"));
        assert!(!narrowed.includes(""));
    }

    /// Request handlers take their scope from the principal; the server-wide
    /// one is for background work only.
    #[test]
    fn request_handlers_never_take_the_server_wide_scope() {
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api")];
        let mut read = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains("server_wide"),
                    "{} takes the server-wide scope",
                    path.display()
                );
                read += 1;
            }
        }
        assert!(read > 20, "the handlers were read ({read} files)");
    }
}
