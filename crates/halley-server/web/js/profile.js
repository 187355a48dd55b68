// An account's profile editor. Edits go to a draft; Save sends the whole
// profile with the hash it was read with (set-user-profile-hash), so a
// concurrent change by someone else is refused (Status 409) instead of being
// overwritten, and the draft is kept so nothing typed is lost.

import { call } from "./api.js";
import { h, clear, stickyHeader, badge, button, confirmDialog, field, formatBytes, formatDate, notice, notAvailable, pageHeader, randomId, showError, spinner, table, toast } from "./ui.js";
import { platformName } from "./devices.js";
import { requestVaultDialog } from "./request_vault.js";

export const VAULT_TYPES = { 1000: "S3-compatible", 1001: "SFTP", 1002: "Local path", 1003: "Comet/Halley storage", 1004: "FTP", 1005: "Azure Blob", 1006: "Spanned", 1007: "OpenStack Swift", 1008: "Backblaze B2", 1009: "Storj", 1010: "WebDAV", 1011: "SMB" };
const ENGINES = { "engine1/file": "Files and folders", "engine1/stdout": "Program output", "engine1/mysql": "MySQL", "engine1/mssql": "Microsoft SQL Server", "engine1/windisk": "Disk image", "engine1/hyperv": "Hyper-V", "engine1/vmware": "VMware", "engine1/exchangeedb": "Exchange", "engine1/winmsofficemail": "Microsoft 365", "engine1/systemstate": "Windows System State" };
const FREQUENCIES = { 8011: "Daily", 8012: "Hourly", 8013: "Weekly", 8014: "Monthly", 8015: "Periodic", 8010: "Once" };
const TABS = [
  ["general", "General"],
  ["vaults", "Storage Vaults"],
  ["items", "Protected Items"],
  ["schedules", "Schedules"],
  ["devices", "Devices"],
  ["quotas", "Quotas & policy"],
  ["json", "Advanced (JSON)"],
];
const GiB = 1024 ** 3;

const clone = (value) => JSON.parse(JSON.stringify(value));

function scheduleText(schedule) {
  const kind = FREQUENCIES[schedule.FrequencyType] || `Frequency ${schedule.FrequencyType}`;
  const secs = Number(schedule.SecondsPast) || 0;
  if (schedule.FrequencyType === 8011) {
    const hh = String(Math.floor(secs / 3600)).padStart(2, "0");
    const mm = String(Math.floor((secs % 3600) / 60)).padStart(2, "0");
    return `${kind} at ${hh}:${mm} (device time)`;
  }
  return kind;
}

export function renderProfile(main, ctx, username) {
  let original = null;
  let draft = null;
  let hash = "";
  let tab = "general";
  let changedElsewhere = false;
  const banner = h("div", { id: "profile-banner" });
  const body = h("div", { class: "tab-body" }, spinner());
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const saveButton = h("button", { type: "button", class: "btn btn-primary", id: "profile-save", disabled: true, onclick: () => save() }, "Save changes");
  const discardButton = h("button", { type: "button", class: "btn btn-secondary", id: "profile-discard", disabled: true, onclick: () => discard() }, "Discard");
  const status = h("span", { class: "save-state muted", id: "profile-state" });
  const header = pageHeader(username, "Account profile", status, discardButton, saveButton);

  const dirty = () => draft && JSON.stringify(draft) !== JSON.stringify(original);
  const touch = () => {
    const isDirty = dirty();
    saveButton.disabled = !isDirty;
    discardButton.disabled = !isDirty;
    status.textContent = isDirty ? "Unsaved changes" : "All changes saved";
  };

  const load = async () => {
    try {
      const answer = await call("/api/v1/admin/get-user-profile-and-hash", { TargetUser: username });
      original = answer.Profile;
      hash = answer.ProfileHash;
      const subtitle = header.querySelector("p");
      if (subtitle) subtitle.textContent = original.AccountName || "Account profile";
      draft = clone(original);
      changedElsewhere = false;
      clear(banner);
      draw();
      touch();
    } catch (err) {
      clear(body, notice("error", err.message), h("p", {}, h("a", { href: "#/accounts" }, "Back to accounts")));
    }
  };

  const save = async () => {
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    try {
      const answer = await call("/api/v1/admin/set-user-profile-hash", { TargetUser: username, ProfileData: draft, RequireHash: hash });
      original = answer.Profile || clone(draft);
      hash = answer.ProfileHash || hash;
      draft = clone(original);
      changedElsewhere = false;
      clear(banner, notice("ok", "Changes saved."));
      toast(`Profile of ${username} saved`);
      draw();
    } catch (err) {
      if (err.status === 409) {
        clear(
          banner,
          notice(
            "error",
            h("strong", {}, "Not saved: "),
            "someone else changed this account since you opened it. Your edits are still here. ",
            button("Load their version (discard my edits)", load, { kind: "secondary", class: "btn btn-secondary btn-sm", id: "profile-reload" }),
          ),
        );
      } else {
        clear(banner, notice("error", h("strong", {}, "Not saved: "), err.message, " Your edits are still here."));
      }
    } finally {
      saveButton.textContent = "Save changes";
      touch();
    }
  };

  const discard = () => {
    draft = clone(original);
    clear(banner);
    draw();
    touch();
  };

  // Inputs bound to a path in the draft.
  const bind = (get, set, attrs = {}) => {
    const input = h("input", { ...attrs, value: attrs.type === "checkbox" ? undefined : get() ?? "", checked: attrs.type === "checkbox" ? !!get() : undefined });
    input.addEventListener(attrs.type === "checkbox" ? "change" : "input", () => {
      if (attrs.type === "checkbox") set(input.checked);
      else if (attrs.type === "number") set(input.value === "" ? 0 : Number(input.value));
      else set(input.value);
      touch();
    });
    return input;
  };

  const general = () => {
    const emails = h("textarea", { id: "profile-emails", rows: 2, value: (draft.Emails || []).join("\n") });
    emails.addEventListener("input", () => {
      draft.Emails = emails.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
      touch();
    });
    const totpOn = original.AllowPasswordAndTOTPLogin && !original.AllowPasswordLogin;
    return h(
      "div",
      { class: "form-grid" },
      h("section", { class: "card" },
        h("h2", {}, "Account"),
        field("Account name", bind(() => draft.AccountName, (v) => (draft.AccountName = v), { id: "profile-account-name" }), "A display name, such as the customer's company."),
        field("Email addresses", emails, "One per line. Backup reports go here."),
        field("Send email reports", bind(() => draft.SendEmailReports, (v) => (draft.SendEmailReports = v), { type: "checkbox", id: "profile-reports" })),
        field("Language", bind(() => draft.LanguageCode, (v) => (draft.LanguageCode = v), { id: "profile-language", placeholder: "en_US" })),
        field("Time zone", bind(() => draft.LocalTimezone, (v) => (draft.LocalTimezone = v), { id: "profile-timezone", placeholder: "Europe/London" })),
      ),
      h("section", { class: "card" },
        h("h2", {}, "Access"),
        field("Suspended", bind(() => draft.IsSuspended, (v) => (draft.IsSuspended = v), { type: "checkbox", id: "profile-suspended" }), "A suspended account cannot run backups."),
        field("Require a password change at next sign-in", bind(() => draft.RequirePasswordChange, (v) => (draft.RequirePasswordChange = v), { type: "checkbox", id: "profile-require-change" })),
        h("dl", { class: "facts" },
          h("dt", {}, "Username"), h("dd", {}, original.Username),
          h("dt", {}, "Created"), h("dd", {}, formatDate(original.CreateTime)),
          h("dt", {}, "Tenant"), h("dd", {}, original.OrganizationID || "Top level"),
          h("dt", {}, "Two-factor"), h("dd", {}, totpOn ? badge("TOTP on", "ok") : badge("Off", "neutral")),
        ),
      ),
    );
  };

  const removeButton = (map, id, what) => button("Remove", () => {
    delete draft[map][id];
    draw();
    touch();
  }, { kind: "danger", class: "btn btn-danger btn-sm", "aria-label": `Remove ${what}` });

  /// A new Storage Vault from one of the tenant's providers
  /// (request-storage-vault), added to the stored profile as it was read:
  /// unsaved edits must be saved or discarded first.
  const requestVault = () => requestVaultDialog({
    providers: () => call("/api/v1/admin/request-storage-vault-providers", { TargetOrganization: original.OrganizationID || undefined }),
    request: (id, self) => call("/api/v1/admin/request-storage-vault", { TargetUser: username, StorageProvider: id, ProfileHash: hash, SelfAddress: self }),
    done: load,
    warning: dirty() ? notice("warn", "Save or discard your edits first: the new vault is added to the saved profile.") : null,
  });

  const vaults = () => {
    const entries = Object.entries(draft.Destinations || {});
    const add = () => {
      draft.Destinations = draft.Destinations || {};
      draft.Destinations[randomId()] = { Description: "New Storage Vault", DestinationType: 1002, LocalcopyPath: "", CreateTime: Math.floor(Date.now() / 1000) };
      draw();
      touch();
    };
    return h("div", {},
      h("div", { class: "section-head" }, h("p", { class: "muted" }, "Where this account's devices store their backups."),
        h("div", { class: "btn-row" }, button("Request Storage Vault…", requestVault, { kind: "secondary", id: "request-vault" }), button("Add Storage Vault", add, { kind: "secondary" }))),
      table([
        { label: "Name", render: ([id, v]) => bind(() => v.Description, (x) => (v.Description = x), { "aria-label": "Storage Vault name", class: "inline-input" }) },
        { label: "Type", render: ([, v]) => VAULT_TYPES[v.DestinationType] || `Type ${v.DestinationType}` },
        { label: "Location", render: ([, v]) => (v.DestinationType === 1002 ? bind(() => v.LocalcopyPath, (x) => (v.LocalcopyPath = x), { "aria-label": "Path", class: "inline-input", placeholder: "/backups/…" }) : v.S3BucketName || v.SFTPRemotePath || v.CometBucket || "—") },
        { label: "Quota (GiB)", render: ([, v]) => h("div", { class: "quota" },
          bind(() => v.StorageLimitEnabled, (x) => { v.StorageLimitEnabled = x; }, { type: "checkbox", "aria-label": "Limit storage" }),
          bind(() => (v.StorageLimitBytes ? v.StorageLimitBytes / GiB : ""), (x) => { v.StorageLimitBytes = Math.round(x * GiB); }, { type: "number", min: 0, step: "any", "aria-label": "Quota in GiB", class: "inline-input num-input" })) },
        { label: "Used", class: "num", render: ([, v]) => formatBytes(v?.Statistics?.ClientProvidedSize?.Size) },
        { label: "", class: "row-actions", render: ([id, v]) => removeButton("Destinations", id, v.Description) },
      ], entries, { empty: "No Storage Vaults yet" }),
    );
  };

  const items = () => {
    const entries = Object.entries(draft.Sources || {});
    const devices = draft.Devices || {};
    return h("div", {},
      h("p", { class: "muted" }, "What this account's devices back up. New items are created from the backup client."),
      table([
        { label: "Name", render: ([, s]) => bind(() => s.Description, (x) => (s.Description = x), { "aria-label": "Protected Item name", class: "inline-input" }) },
        { label: "Type", render: ([, s]) => ENGINES[s.Engine] || s.Engine || "—" },
        { label: "Device", render: ([, s]) => devices[s.OwnerDevice]?.FriendlyName || s.OwnerDevice || "—" },
        { label: "Last modified", class: "hide-sm", render: ([, s]) => formatDate(s.ModifyTime) },
        { label: "", class: "row-actions", render: ([id, s]) => removeButton("Sources", id, s.Description) },
      ], entries, { empty: "No Protected Items yet" }),
    );
  };

  const schedules = () => {
    const entries = Object.entries(draft.BackupRules || {});
    const sources = draft.Sources || {};
    const vaultsMap = draft.Destinations || {};
    const select = (map, get, set, label) => {
      const el = h("select", { "aria-label": label, class: "inline-input" }, h("option", { value: "" }, "—"), Object.entries(map).map(([id, x]) => h("option", { value: id }, x.Description || id)));
      el.value = get() || "";
      el.addEventListener("change", () => { set(el.value); touch(); });
      return el;
    };
    const add = () => {
      draft.BackupRules = draft.BackupRules || {};
      draft.BackupRules[randomId()] = { Description: "Daily backup", Source: Object.keys(sources)[0] || "", Destination: Object.keys(vaultsMap)[0] || "", Schedules: [{ FrequencyType: 8011, SecondsPast: 22 * 3600 }], CreateTime: Math.floor(Date.now() / 1000) };
      draw();
      touch();
    };
    return h("div", {},
      h("div", { class: "section-head" }, h("p", { class: "muted" }, "When each Protected Item is backed up, and to which Storage Vault."), button("Add schedule", add, { kind: "secondary" })),
      table([
        { label: "Name", render: ([, r]) => bind(() => r.Description, (x) => (r.Description = x), { "aria-label": "Schedule name", class: "inline-input" }) },
        { label: "Protected Item", render: ([, r]) => select(sources, () => r.Source, (x) => (r.Source = x), "Protected Item") },
        { label: "Storage Vault", render: ([, r]) => select(vaultsMap, () => r.Destination, (x) => (r.Destination = x), "Storage Vault") },
        { label: "When", render: ([, r]) => (r.Schedules || []).map(scheduleText).join("; ") || "Manual only" },
        { label: "", class: "row-actions", render: ([id, r]) => removeButton("BackupRules", id, r.Description) },
      ], entries, { empty: "No schedules yet" }),
    );
  };

  /// Revoking is its own call (the device's Protected Items go with it), so
  /// the editor reloads the account afterwards.
  const revokeDevice = (id, device) => confirmDialog(
    "Revoke device",
    `Revoke ${device.FriendlyName || id}? Its Protected Items and their schedules are removed too; the account's Storage Vaults stay.${dirty() ? " Your unsaved edits are discarded." : ""}`,
    "Revoke",
    async () => {
      await call("/api/v1/admin/revoke-device", { TargetUser: username, TargetDevice: id });
      toast(`${device.FriendlyName || id} revoked`);
      load();
    },
  );

  const devicesTab = () => {
    const entries = Object.entries(draft.Devices || {});
    const online = h("div", {}, spinner("Checking live connections…"));
    call("/api/v1/admin/dispatcher/list-active").then(
      () => clear(online),
      (err) => clear(online, err.notBuilt ? notice("info", "Live connection state is not available on this server yet.") : notice("error", err.message)),
    );
    return h("div", {},
      online,
      table([
        { label: "Name", render: ([, d]) => bind(() => d.FriendlyName, (x) => (d.FriendlyName = x), { "aria-label": "Device name", class: "inline-input" }) },
        { label: "Platform", class: "hide-sm", render: ([, d]) => platformName(d.PlatformVersion) || "—" },
        { label: "Client", class: "hide-sm", render: ([, d]) => d.ClientVersion || "—" },
        { label: "Registered", render: ([, d]) => formatDate(d.RegistrationTime) },
        { label: "", class: "row-actions", render: ([id, d]) => button("Revoke", () => revokeDevice(id, d), { kind: "danger", class: "btn btn-danger btn-sm", "aria-label": `Revoke ${d.FriendlyName || id}` }) },
      ], entries, { empty: "No devices registered yet" }),
    );
  };

  const quotas = () => {
    const policy = h("div", {}, spinner());
    call("/api/v1/admin/policies/list").then(
      (list) => {
        const select = h("select", { id: "profile-policy" }, h("option", { value: "" }, "No policy"), Object.entries(list || {}).map(([id, name]) => h("option", { value: id }, String(name))));
        select.value = draft.PolicyID || "";
        select.addEventListener("change", () => { draft.PolicyID = select.value; touch(); });
        clear(policy, field("Policy", select));
      },
      (err) => clear(policy,
        field("Policy ID", bind(() => draft.PolicyID, (x) => (draft.PolicyID = x), { id: "profile-policy" })),
        err.notBuilt ? notice("info", "Policies are not available on this server yet; the ID is kept with the account.") : notice("error", err.message)),
    );
    const bytes = (get, set, attrs) => bind(() => (get() ? get() / GiB : ""), (x) => set(Math.round(x * GiB)), { type: "number", min: 0, step: "any", ...attrs });
    return h("div", { class: "form-grid" },
      h("section", { class: "card" },
        h("h2", {}, "Quotas"),
        field("Limit the total size of all Protected Items", bind(() => draft.AllProtectedItemsQuotaEnabled, (x) => (draft.AllProtectedItemsQuotaEnabled = x), { type: "checkbox", id: "profile-quota-enabled" })),
        field("Size limit (GiB)", bytes(() => draft.AllProtectedItemsQuotaBytes, (x) => (draft.AllProtectedItemsQuotaBytes = x), { id: "profile-quota-bytes" })),
        field("Maximum devices", bind(() => draft.MaximumDevices, (x) => (draft.MaximumDevices = x), { type: "number", min: 0, id: "profile-max-devices" }), "0: no limit."),
        field("Microsoft 365 accounts", bind(() => draft.QuotaOffice365ProtectedAccounts, (x) => (draft.QuotaOffice365ProtectedAccounts = x), { type: "number", min: 0 })),
        field("Hyper-V guests", bind(() => draft.QuotaHyperVGuests, (x) => (draft.QuotaHyperVGuests = x), { type: "number", min: 0 })),
        field("VMware guests", bind(() => draft.QuotaVMwareGuests, (x) => (draft.QuotaVMwareGuests = x), { type: "number", min: 0 })),
      ),
      h("section", { class: "card" }, h("h2", {}, "Policy"), policy),
    );
  };

  const json = () => {
    const area = h("textarea", { id: "profile-json", class: "code", rows: 24, spellcheck: "false", value: JSON.stringify(draft, null, 2) });
    const jsonError = h("div", {});
    return h("div", {},
      h("p", { class: "muted" }, "The whole profile as the API stores it. Apply your edits to the draft, then save."),
      jsonError,
      area,
      h("div", { class: "btn-row" }, button("Apply to draft", () => {
        try {
          const parsed = JSON.parse(area.value);
          if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("The profile must be a JSON object");
          draft = parsed;
          clear(jsonError, notice("ok", "Applied. Save to keep the changes."));
          touch();
        } catch (err) {
          showError(jsonError, err);
        }
      }, { kind: "secondary", id: "profile-json-apply" })),
    );
  };

  const views = { general, vaults, items, schedules, devices: devicesTab, quotas, json };

  const draw = () => {
    clear(tabs, TABS.map(([id, label]) => h("button", {
      type: "button",
      role: "tab",
      id: `tab-${id}`,
      class: id === tab ? "tab active" : "tab",
      "aria-selected": id === tab ? "true" : "false",
      onclick: () => { tab = id; draw(); },
    }, label)));
    clear(body, views[tab]());
  };

  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      const event = change.event;
      if (change.type !== "event" || event.ResourceID !== username) return;
      if (event.Type === 4102 && event.Actor !== `admin:${ctx.session.username}` && !changedElsewhere) {
        changedElsewhere = true;
        clear(banner, notice("warn", "This account was just changed elsewhere. Saving now would be refused; ",
          button("Load the new version", load, { kind: "secondary", class: "btn btn-secondary btn-sm" }), dirty() ? " (your unsaved edits would be discarded)" : ""));
      }
      if (event.Type === 4101) clear(banner, notice("error", "This account has been deleted."));
    });
  }

  clear(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/accounts" }, "Accounts"), " / ", username),
    stickyHeader(header, banner),
    tabs,
    body,
  );
  load();
  return () => unsubscribe();
}
