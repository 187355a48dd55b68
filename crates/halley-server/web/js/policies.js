// Policies: the list, and an editor that saves with the policy's hash
// (CheckPolicyHash), so that two administrators editing the same policy never
// overwrite each other silently: the second save is refused (Status 409) and
// its edits stay on screen.

import { call } from "./api.js";
import { VAULT_TYPES } from "./profile.js";
import { h, clear, stickyHeader, badge, button, checkbox, clone, confirmDialog, field, formatDate, notAvailable, notice, pageHeader, showError, spinner, table, textInput, toast } from "./ui.js";

const LIST = "/api/v1/admin/policies/list-full";

const SWITCHES = [
  ["Account", [
    ["PreventChangeAccountPassword", "Prevent changing the account password"],
    ["PreventChangeAccountName", "Prevent changing the account name"],
    ["PreventChangeEmailSettings", "Prevent changing email report settings"],
    ["PreventOpenWebUI", "Prevent signing in to the web interface"],
    ["PreventOpenAppUI", "Prevent opening the backup client"],
    ["RequirePasswordOpenAppUI", "Ask for the password to open the backup client"],
    ["HideAppVersion", "Hide the client version"],
    ["PreventViewDeviceNames", "Hide device names"],
  ]],
  ["Storage Vaults", [
    ["PreventRequestStorageVault", "Prevent requesting Storage Vaults"],
    ["PreventAddCustomStorageVault", "Prevent adding custom Storage Vaults"],
    ["PreventEditStorageVault", "Prevent editing Storage Vaults"],
    ["PreventDeleteStorageVault", "Prevent deleting Storage Vaults"],
    ["HideCloudStorageBranding", "Hide cloud storage branding"],
  ]],
  ["Protected Items", [
    ["PreventNewProtectedItem", "Prevent creating Protected Items"],
    ["PreventEditProtectedItem", "Prevent editing Protected Items"],
    ["PreventDeleteProtectedItem", "Prevent deleting Protected Items"],
    ["PreventDeleteSingleSnapshots", "Prevent deleting single snapshots"],
    ["PreventProtectedItemRetention", "Prevent changing retention"],
  ]],
];

const SETTING_MODES = [
  [0, "Server default"],
  [1, "Optional, on by default"],
  [2, "Optional, off by default"],
  [3, "Always on"],
  [4, "Always off"],
];

export function renderPolicies(main, ctx, id) {
  return id ? renderPolicyEditor(main, ctx, id) : renderPolicyList(main, ctx);
}

function renderPolicyList(main, ctx) {
  const body = h("div", { class: "card", id: "area-body" }, spinner());
  const load = async () => {
    try {
      const all = await call(LIST);
      const rows = Object.entries(all || {}).sort(([, a], [, b]) => String(a.Description || "").localeCompare(String(b.Description || "")));
      clear(body, table([
        { label: "Policy", render: ([id, p]) => h("a", { href: `#/policies/${encodeURIComponent(id)}`, class: "account-link policy-link" }, p.Description || "Unnamed policy") },
        { label: "Default", render: ([, p]) => (p.DefaultUserPolicy ? badge("New accounts", "info") : h("span", { class: "muted" }, "—")) },
        { label: "Modified", class: "hide-sm nowrap", render: ([, p]) => formatDate(p.ModifiedDate) },
        { label: "Actions", class: "row-actions", render: ([id, p]) => h("div", { class: "btn-row" },
          h("a", { class: "btn btn-secondary btn-sm", href: `#/policies/${encodeURIComponent(id)}` }, "Edit"),
          button("Delete", () => deletePolicy(id, p.Description, load), { kind: "danger", class: "btn btn-danger btn-sm", "aria-label": `Delete ${p.Description || id}` })) },
      ], rows, { empty: "No policies yet" }));
    } catch (err) {
      clear(body, err.notBuilt ? notAvailable("Policies are", LIST) : notice("error", err.message));
    }
  };
  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && change.event.Type >= 4600 && change.event.Type <= 4602) load();
    });
  }
  clear(main,
    pageHeader("Policies", "Settings and restrictions applied to groups of accounts",
      h("a", { class: "btn btn-primary", href: "#/policies/new", id: "new-policy" }, "New policy")),
    body);
  load();
  return () => unsubscribe();
}

function deletePolicy(id, description, after) {
  confirmDialog(`Delete ${description || "this policy"}?`,
    "Accounts that use it keep their current settings but no longer follow the policy.",
    "Delete policy",
    async () => {
      await call("/api/v1/admin/policies/delete", { PolicyID: id });
      toast("Policy deleted");
      after();
    });
}

function renderPolicyEditor(main, ctx, policyId) {
  const isNew = policyId === "new";
  let original = null;
  let draft = null;
  let hash = "";
  let jsonEdited = false;
  const banner = h("div", { id: "policy-banner" });
  const body = h("div", {}, spinner());
  const saveButton = h("button", { type: "button", class: "btn btn-primary", id: "policy-save", disabled: true, onclick: () => save() }, isNew ? "Create policy" : "Save changes");
  const discardButton = h("button", { type: "button", class: "btn btn-secondary", id: "policy-discard", disabled: true, onclick: () => discard() }, "Discard");
  const deleteButton = isNew ? null : button("Delete", () => deletePolicy(policyId, original?.Description, () => { location.hash = "#/policies"; }), { kind: "danger", id: "policy-delete" });
  const status = h("span", { class: "save-state muted", id: "policy-state" });
  const jsonArea = h("textarea", { id: "policy-json", class: "code", rows: 16, spellcheck: "false", "aria-label": "The policy as JSON" });
  const jsonError = h("div", {});
  jsonArea.addEventListener("input", () => { jsonEdited = true; });

  const dirty = () => draft && JSON.stringify(draft) !== JSON.stringify(original);
  const touch = () => {
    const isDirty = isNew || dirty();
    saveButton.disabled = !isDirty;
    discardButton.disabled = isNew || !isDirty;
    status.textContent = isNew ? "" : isDirty ? "Unsaved changes" : "All changes saved";
    if (!jsonEdited && document.activeElement !== jsonArea) jsonArea.value = JSON.stringify(draft.Policy || {}, null, 2);
  };

  const load = async () => {
    if (isNew) {
      original = { Description: "", DefaultUserPolicy: false, Policy: {} };
    } else {
      try {
        const answer = await call("/api/v1/admin/policies/get", { PolicyID: policyId });
        original = answer.Policy;
        hash = answer.PolicyHash;
      } catch (err) {
        clear(body, notice("error", err.message), h("p", {}, h("a", { href: "#/policies" }, "Back to policies")));
        return;
      }
    }
    draft = clone(original);
    draft.Policy = draft.Policy || {};
    jsonEdited = false;
    clear(banner);
    draw();
    touch();
  };

  const save = async () => {
    saveButton.disabled = true;
    const label = saveButton.textContent;
    saveButton.textContent = "Saving…";
    try {
      if (isNew) {
        const answer = await call("/api/v1/admin/policies/new", { Policy: draft });
        toast(`Policy ${draft.Description || ""} created`);
        location.replace(`#/policies/${encodeURIComponent(answer.PolicyID)}`);
        return;
      }
      await call("/api/v1/admin/policies/set", { PolicyID: policyId, Policy: draft, CheckPolicyHash: hash });
      const again = await call("/api/v1/admin/policies/get", { PolicyID: policyId });
      original = again.Policy;
      hash = again.PolicyHash;
      draft = clone(original);
      draft.Policy = draft.Policy || {};
      jsonEdited = false;
      clear(banner, notice("ok", "Changes saved."));
      toast("Policy saved");
      draw();
    } catch (err) {
      if (err.status === 409) {
        clear(banner, notice("error",
          h("strong", {}, "Not saved: "),
          "someone else changed this policy since you opened it. Your edits are still here. ",
          button("Load their version (discard my edits)", load, { class: "btn btn-secondary btn-sm", id: "policy-reload" })));
      } else {
        clear(banner, notice("error", h("strong", {}, "Not saved: "), err.message, " Your edits are still here."));
      }
    } finally {
      saveButton.textContent = label;
      if (draft) touch();
    }
  };

  const discard = () => {
    draft = clone(original);
    draft.Policy = draft.Policy || {};
    jsonEdited = false;
    clear(banner);
    draw();
    touch();
  };

  const policySwitch = (key, label) => checkbox(label, () => draft.Policy[key], (v) => { draft.Policy[key] = v; }, { id: `policy-${key}`, onchange: touch });

  const providers = () => {
    const current = () => {
      draft.Policy.StorageVaultProviders = draft.Policy.StorageVaultProviders || { ShouldRestrictProviderList: false, AllowedProvidersWhenRestricted: [] };
      const p = draft.Policy.StorageVaultProviders;
      p.AllowedProvidersWhenRestricted = p.AllowedProvidersWhenRestricted || [];
      return p;
    };
    const list = h("fieldset", { disabled: !current().ShouldRestrictProviderList }, h("legend", {}, "Allowed storage types"),
      h("div", { class: "check-grid" }, Object.entries(VAULT_TYPES).map(([type, label]) => checkbox(label,
        () => current().AllowedProvidersWhenRestricted.includes(Number(type)),
        (on) => {
          const p = current();
          p.AllowedProvidersWhenRestricted = p.AllowedProvidersWhenRestricted.filter((t) => t !== Number(type));
          if (on) p.AllowedProvidersWhenRestricted.push(Number(type));
          p.AllowedProvidersWhenRestricted.sort((a, b) => a - b);
        },
        { id: `policy-provider-${type}`, onchange: touch }))));
    return h("section", { class: "card" },
      h("h2", {}, "Storage providers"),
      checkbox("Restrict the storage types accounts may use", () => current().ShouldRestrictProviderList, (v) => { current().ShouldRestrictProviderList = v; list.disabled = !v; }, { id: "policy-restrict-providers", onchange: touch }),
      list);
  };

  const draw = () => {
    const resetMode = h("select", { id: "policy-ModeAdminResetPassword" }, SETTING_MODES.map(([value, label]) => h("option", { value: String(value) }, label)));
    resetMode.value = String(draft.Policy.ModeAdminResetPassword || 0);
    resetMode.addEventListener("change", () => { draft.Policy.ModeAdminResetPassword = Number(resetMode.value); touch(); });
    const facts = isNew ? null : h("dl", { class: "facts" },
      h("dt", {}, "Created"), h("dd", {}, formatDate(original.CreatedDate)),
      h("dt", {}, "Modified"), h("dd", {}, formatDate(original.ModifiedDate)),
      h("dt", {}, "Tenant"), h("dd", {}, original.OrganizationID || "Top level"));
    clear(body,
      h("div", { class: "form-grid" },
        h("section", { class: "card" },
          h("h2", {}, "General"),
          field("Description", textInput(() => draft.Description, (v) => { draft.Description = v; }, { id: "policy-description", required: true, autocomplete: "off", onchange: touch }), "The name administrators see when they choose a policy."),
          checkbox("Default policy for new accounts", () => draft.DefaultUserPolicy, (v) => { draft.DefaultUserPolicy = v; }, { id: "policy-default", onchange: touch, hint: "One policy per tenant can be the default." }),
          field("Administrators may reset passwords", resetMode),
          facts),
        SWITCHES.map(([title, switches]) => h("section", { class: "card" }, h("h2", {}, title), switches.map(([key, label]) => policySwitch(key, label)))),
        providers()),
      h("section", { class: "card", style: "margin-top:18px" },
        h("details", { class: "advanced" },
          h("summary", {}, "Advanced: every setting as JSON"),
          h("p", { class: "muted" }, "The policy's UserPolicy as the API stores it: default Protected Items and schedules, retention, exclusions and more. Apply, then save."),
          jsonError,
          jsonArea,
          h("div", { class: "btn-row" }, button("Apply to the form", () => {
            try {
              const parsed = JSON.parse(jsonArea.value);
              if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("The policy must be a JSON object");
              draft.Policy = parsed;
              jsonEdited = false;
              clear(jsonError, notice("ok", "Applied. Save to keep the changes."));
              draw();
              touch();
            } catch (err) {
              showError(jsonError, err);
            }
          }, { id: "policy-json-apply" })))));
  };

  let unsubscribe = () => {};
  if (ctx.stream && !isNew) {
    unsubscribe = ctx.stream.subscribe((change) => {
      const event = change.event;
      if (change.type !== "event" || event.ResourceID !== policyId) return;
      const showsError = banner.querySelector(".notice-error");
      if (event.Type === 4602 && event.Actor !== `admin:${ctx.session.username}` && !showsError && saveButton.textContent !== "Saving…") {
        clear(banner, notice("warn", "This policy was just changed elsewhere; saving now would be refused. ",
          button("Load the new version", load, { class: "btn btn-secondary btn-sm" }), dirty() ? " (your unsaved edits would be discarded)" : ""));
      }
      if (event.Type === 4601) clear(banner, notice("error", "This policy has been deleted."));
    });
  }

  clear(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/policies" }, "Policies"), " / ", isNew ? "New policy" : "Edit"),
    stickyHeader(pageHeader(isNew ? "New policy" : "Edit policy", isNew ? "Settings and restrictions for the accounts that use it" : null, status, discardButton, deleteButton, saveButton), banner),
    body);
  load();
  return () => unsubscribe();
}
