// Administrators: list, create (username, password, tenant, permissions),
// change permissions, delete. `admin-user/new` takes no permissions, so they
// are written afterwards into the administrator's entry of the server
// configuration (`meta/server-config/get|set`, whose secrets stay obscured).

import { call, saveServerConfig } from "./api.js";
import { h, clear, badge, button, confirmDialog, field, modal, notAvailable, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";

const LIST = "/api/v1/admin/admin-user/list";

export const PERMISSIONS = [
  ["Server", [
    ["PreventEditServerSettings", "Prevent editing server settings"],
    ["PreventServerShutdown", "Prevent restarting or shutting down the server"],
    ["PreventChangePassword", "Prevent changing their own password"],
    ["DenyViewServerInfo", "Hide server information"],
    ["DenyViewServerHistory", "Hide server history"],
    ["DenyConstellationRole", "Deny the Constellation role"],
    ["DenySoftwareBuildRole", "Deny the software build role"],
  ]],
  ["Tenant settings", [
    ["AllowEditBranding", "Allow editing branding"],
    ["AllowEditEmailOptions", "Allow editing email settings"],
    ["AllowEditRemoteStorage", "Allow editing requestable storage"],
    ["AllowEditWebhooks", "Allow editing webhooks"],
    ["AllowEditExternalAuthSources", "Allow editing external sign-in sources"],
  ]],
  ["Storage Vaults", [
    ["PreventRequestStorageVault", "Prevent requesting Storage Vaults"],
    ["PreventAddCustomStorageVault", "Prevent adding custom Storage Vaults"],
    ["PreventDeleteStorageVault", "Prevent deleting Storage Vaults"],
    ["HideCloudStorageBranding", "Hide cloud storage branding"],
  ]],
];

/// Permission checkboxes and the policy allowlist, bound to `permissions`.
function permissionFields(permissions, policies) {
  const allowed = new Set(permissions.AllowedUserPolicies || []);
  return h("div", { class: "permissions" },
    PERMISSIONS.map(([title, items]) => h("fieldset", {}, h("legend", {}, title),
      h("div", { class: "check-grid" }, items.map(([key, label]) => {
        const box = h("input", { type: "checkbox", id: `perm-${key}`, checked: !!permissions[key] });
        box.addEventListener("change", () => { permissions[key] = box.checked; });
        return field(label, box);
      })))),
    Object.keys(policies).length ? h("fieldset", {}, h("legend", {}, "Policies they may assign (none ticked: all)"),
      h("div", { class: "check-grid" }, Object.entries(policies).map(([id, label]) => {
        const box = h("input", { type: "checkbox", id: `perm-policy-${id}`, checked: allowed.has(id) });
        box.addEventListener("change", () => {
          if (box.checked) allowed.add(id);
          else allowed.delete(id);
          permissions.AllowedUserPolicies = [...allowed];
        });
        return field(String(label || id), box);
      }))) : null);
}

/// Writes `permissions` into the entry of `username` in `organization`.
async function savePermissions(username, organization, permissions) {
  const config = await call("/api/v1/admin/meta/server-config/get");
  const entry = (config.AdminUsers || []).find((a) => a.Username === username && (a.OrganizationID || "") === organization);
  if (!entry) throw new Error(`The administrator ${username} is not in the server configuration.`);
  entry.Permissions = { ...(entry.Permissions || {}), ...permissions };
  await saveServerConfig(config);
}

function summary(permissions) {
  const on = PERMISSIONS.flatMap(([, items]) => items).filter(([key]) => permissions && permissions[key]).length;
  const limited = (permissions?.AllowedUserPolicies || []).length;
  if (!on && !limited) return h("span", { class: "muted" }, "Default");
  return [on ? `${on} set` : "", on && limited ? ", " : "", limited ? `${limited} policies` : ""].join("");
}

export function renderAdmins(main, ctx) {
  const body = h("div", { class: "card", id: "area-body" }, spinner());
  let tenants = {};
  let policies = {};

  const load = async () => {
    try {
      const [list, orgs, names] = await Promise.all([
        call(LIST),
        call("/api/v1/admin/organization/list").catch(() => ({})),
        call("/api/v1/admin/policies/list").catch(() => ({})),
      ]);
      tenants = orgs || {};
      policies = names || {};
      const rows = (Array.isArray(list) ? list : Object.values(list || {})).sort((a, b) => a.Username.localeCompare(b.Username));
      clear(body, table([
        { label: "Username", render: (a) => h("strong", { class: "admin-name" }, a.Username) },
        { label: "Tenant", render: (a) => (a.OrganizationID ? tenants[a.OrganizationID]?.Name || a.OrganizationID : "Top level") },
        { label: "Two-factor", render: (a) => (a.AllowPasswordAndTOTPLogin && !a.AllowPasswordLogin ? badge("TOTP", "ok") : badge("Off", "neutral")) },
        { label: "Permissions", class: "hide-sm", render: (a) => summary(a.Permissions) },
        { label: "Actions", class: "row-actions", render: (a) => h("div", { class: "btn-row" },
          button("Permissions", () => permissionsDialog(a), { class: "btn btn-secondary btn-sm", "aria-label": `Permissions of ${a.Username}` }),
          a.Username === ctx.session.username && !a.OrganizationID ? null : button("Delete", () => confirmDialog(`Delete ${a.Username}?`,
            "The administrator is removed and signed out everywhere.", "Delete administrator", async () => {
              await call("/api/v1/admin/admin-user/delete", { TargetUser: a.Username });
              toast(`Administrator ${a.Username} deleted`);
              load();
            }), { class: "btn btn-danger btn-sm", "aria-label": `Delete ${a.Username}` })) },
      ], rows, { empty: "No administrators" }));
    } catch (err) {
      clear(body, err.notBuilt ? notAvailable("Administrator management is", LIST) : notice("error", err.message));
    }
  };

  const createDialog = () => {
    const dialog = modal("New administrator", (close, dialogError) => {
      const username = h("input", { id: "admin-username", required: true, autocomplete: "off", autocapitalize: "off", spellcheck: "false" });
      const password = h("input", { id: "admin-password", type: "password", required: true, autocomplete: "new-password" });
      const tenant = h("select", { id: "admin-tenant" }, h("option", { value: "" }, "Top level (the whole server)"),
        Object.entries(tenants).map(([id, o]) => h("option", { value: id }, o.Name || id)));
      const permissions = {};
      const submit = h("button", { type: "submit", class: "btn btn-primary", id: "admin-submit" }, "Create administrator");
      // Once created, a retry only writes the permissions again.
      let created = null;
      return h("form", { class: "dialog-body", onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        try {
          if (!created) {
            await call("/api/v1/admin/admin-user/new", { TargetUser: username.value.trim(), TargetPassword: password.value, TargetOrgID: tenant.value || undefined });
            created = { username: username.value.trim(), organization: tenant.value };
            username.disabled = true;
            password.disabled = true;
            tenant.disabled = true;
            load();
          }
          const wanted = Object.fromEntries(Object.entries(permissions).filter(([, v]) => (Array.isArray(v) ? v.length : v)));
          if (Object.keys(wanted).length) {
            try {
              await savePermissions(created.username, created.organization, wanted);
            } catch (err) {
              throw new Error(`The administrator was created, but the permissions were not saved: ${err.message} Try again to save them.`);
            }
          }
          close();
          toast(`Administrator ${created.username} created`);
          load();
        } catch (err) {
          showError(dialogError, err);
        } finally {
          submit.disabled = false;
        }
      } },
      field("Username", username),
      field("Password", password),
      field("Tenant", tenant, "A tenant's administrators manage only that tenant."),
      h("details", { class: "advanced" }, h("summary", { id: "admin-permissions-toggle" }, "Permissions"), permissionFields(permissions, policies)),
      h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
    });
    dialog.classList.add("dialog-wide");
  };

  const permissionsDialog = (admin) => {
    const dialog = modal(`Permissions of ${admin.Username}`, (close, dialogError) => {
      const permissions = JSON.parse(JSON.stringify(admin.Permissions || {}));
      const submit = h("button", { type: "submit", class: "btn btn-primary", id: "permissions-submit" }, "Save permissions");
      return h("form", { class: "dialog-body", onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        try {
          await savePermissions(admin.Username, admin.OrganizationID || "", permissions);
          close();
          toast(`Permissions of ${admin.Username} saved`);
          load();
        } catch (err) {
          showError(dialogError, err);
        } finally {
          submit.disabled = false;
        }
      } },
      permissionFields(permissions, policies),
      h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
    });
    dialog.classList.add("dialog-wide");
  };

  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && [4150, 4151].includes(change.event.Type)) load();
    });
  }
  clear(main,
    pageHeader("Administrators", "People who manage this server", button("New administrator", createDialog, { kind: "primary", id: "new-admin" })),
    body);
  load();
  return () => unsubscribe();
}
