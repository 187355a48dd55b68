// End-user views for a user session: devices (each with its device view),
// Protected Items, Storage Vaults, jobs, and the account's password and
// two-factor settings.

import { call, renewSession } from "./api.js";
import { h, clear, badge, button, field, formatBytes, formatDate, notAvailable, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";
import { totpCard } from "./account.js";
import { userJobsTable } from "./jobs.js";
import { platformName } from "./devices.js";
import { USER_SCOPE, renderDeviceView } from "./device.js";
import { requestOwnVault } from "./request_vault.js";

export const USER_SECTIONS = [
  { path: "", label: "Overview", icon: "dashboard" },
  { path: "devices", label: "Devices", icon: "devices" },
  { path: "items", label: "Protected Items", icon: "items" },
  { path: "vaults", label: "Storage Vaults", icon: "vaults" },
  { path: "jobs", label: "Jobs", icon: "jobs" },
  { path: "security", label: "Password & security", icon: "security" },
];

const PROFILE = "/api/v1/user/web/get-user-profile-and-hash";

function devicesTable(profile) {
  return table([
    { label: "Device", render: ([id, d]) => h("a", { href: `#/me/devices/${encodeURIComponent(id)}`, class: "device-link", dataset: { deviceLink: id } }, d.FriendlyName || "Unnamed device") },
    { label: "Platform", class: "hide-sm", render: ([, d]) => platformName(d.PlatformVersion) || "—" },
    { label: "Registered", render: ([, d]) => formatDate(d.RegistrationTime) },
  ], Object.entries(profile.Devices || {}), { empty: "No devices yet: install the backup client and sign in with this account." });
}

function itemsTable(profile) {
  const devices = profile.Devices || {};
  return table([
    { label: "Protected Item", render: ([, s]) => s.Description || "Unnamed item" },
    { label: "Device", render: ([, s]) => devices[s.OwnerDevice]?.FriendlyName || "—" },
    { label: "Size", class: "num", render: ([, s]) => formatBytes(s?.Statistics?.LastBackupJob?.TotalSize) },
    { label: "Changed", class: "hide-sm", render: ([, s]) => formatDate(s.ModifyTime) },
  ], Object.entries(profile.Sources || {}), { empty: "Nothing is protected yet." });
}

function vaultsTable(profile) {
  return table([
    { label: "Storage Vault", render: ([, v]) => v.Description || "Unnamed vault" },
    { label: "Used", class: "num", render: ([, v]) => formatBytes(v?.Statistics?.ClientProvidedSize?.Size) },
    { label: "Quota", class: "num", render: ([, v]) => (v.StorageLimitEnabled ? formatBytes(v.StorageLimitBytes) : "none") },
  ], Object.entries(profile.Destinations || {}), { empty: "No Storage Vaults yet." });
}

function jobsCard(profile) {
  const box = h("div", {}, spinner());
  call("/api/v1/user/web/get-jobs").then(
    (jobs) => clear(box, userJobsTable(jobs, profile)),
    (err) => clear(box, err.notBuilt ? notAvailable("Job history is", "/api/v1/user/web/get-jobs") : notice("error", err.message)),
  );
  return h("section", { class: "card", id: "user-jobs" }, h("h2", {}, "Jobs"), box);
}

function passwordCard(getHash) {
  const old = h("input", { type: "password", id: "pw-old", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", id: "pw-new", autocomplete: "new-password", required: true });
  const again = h("input", { type: "password", id: "pw-again", autocomplete: "new-password", required: true });
  const errorBox = h("div", {});
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Change password");
  return h("section", { class: "card" },
    h("h2", {}, "Password"),
    errorBox,
    h("form", { onsubmit: async (event) => {
      event.preventDefault();
      if (next.value !== again.value) {
        clear(errorBox, notice("error", "The new passwords do not match."));
        return;
      }
      submit.disabled = true;
      try {
        await call("/api/v1/user/web/account/reset-password", { ProfileHash: await getHash(), OldPassword: old.value, NewPassword: next.value });
        const renewed = await renewSession(next.value);
        old.value = next.value = again.value = "";
        clear(errorBox, notice("ok", renewed
          ? "Password changed. Use it in the backup client too."
          : "Password changed. Use it in the backup client too, and sign in again with it."));
      } catch (err) {
        showError(errorBox, err);
      } finally {
        submit.disabled = false;
      }
    } },
    field("Current password", old), field("New password", next), field("New password again", again), submit));
}

export function renderUser(main, ctx, section, deviceId) {
  if (section === "devices" && deviceId) return renderDeviceView(main, ctx, USER_SCOPE, ctx.session.username, deviceId);
  const body = h("div", { class: "stack" }, spinner());
  const titles = { "": ["Overview", `Signed in as ${ctx.session.username}`], devices: ["Devices", "Computers and servers backed up by this account"], items: ["Protected Items", "What your devices back up"], vaults: ["Storage Vaults", "Where your backups are kept"], jobs: ["Jobs", "Backups, restores and other jobs of your devices"], security: ["Password & security", "How you sign in"] };
  const [title, subtitle] = titles[section] || ["Not found", ""];
  clear(main, pageHeader(title, subtitle), body);
  const getHash = async () => (await call(PROFILE)).ProfileHash;

  call(PROFILE).then(
    (answer) => {
      const profile = answer.Profile || {};
      const totalUsed = Object.values(profile.Destinations || {}).reduce((sum, v) => sum + (Number(v?.Statistics?.ClientProvidedSize?.Size) || 0), 0);
      if (section === "") {
        clear(body,
          h("div", { class: "stats" },
            h("section", { class: "card stat" }, h("h2", { class: "stat-label" }, "Devices"), h("p", { class: "stat-value" }, String(Object.keys(profile.Devices || {}).length))),
            h("section", { class: "card stat" }, h("h2", { class: "stat-label" }, "Protected Items"), h("p", { class: "stat-value" }, String(Object.keys(profile.Sources || {}).length))),
            h("section", { class: "card stat" }, h("h2", { class: "stat-label" }, "Storage used"), h("p", { class: "stat-value" }, formatBytes(totalUsed))),
            h("section", { class: "card stat" }, h("h2", { class: "stat-label" }, "Account"), h("p", { class: "stat-value stat-small", id: "user-account-name" }, profile.AccountName || profile.Username), profile.IsSuspended ? badge("Suspended", "warn") : badge("Active", "ok"))),
          h("section", { class: "card" }, h("h2", {}, "Devices"), devicesTable(profile)),
          h("section", { class: "card" }, h("h2", {}, "Protected Items"), itemsTable(profile)),
          jobsCard(profile));
      } else if (section === "devices") {
        clear(body, h("section", { class: "card" }, devicesTable(profile)));
      } else if (section === "items") {
        clear(body, h("section", { class: "card" }, itemsTable(profile)));
      } else if (section === "vaults") {
        const request = profile.Policy?.PreventRequestStorageVault
          ? null
          : h("div", { class: "btn-row" }, button("Request Storage Vault…", () => requestOwnVault(getHash, () => renderUser(main, ctx, section)), { id: "user-request-vault" }));
        clear(body, h("section", { class: "card" }, request, vaultsTable(profile)));
      } else if (section === "jobs") {
        clear(body, jobsCard(profile));
      } else if (section === "security") {
        clear(body, h("div", { class: "grid-2" },
          passwordCard(getHash),
          totpCard({
            enabled: profile.AllowPasswordAndTOTPLogin && !profile.AllowPasswordLogin,
            regenerate: async () => call("/api/v1/user/web/account/regenerate-totp", { ProfileHash: await getHash() }),
            validate: async (code) => {
              await call("/api/v1/user/web/account/validate-totp", { ProfileHash: await getHash(), TOTPCode: code });
            },
          })));
      } else {
        clear(body, h("p", {}, h("a", { href: "#/me" }, "Back to the overview")));
      }
    },
    (err) => clear(body, notice("error", err.message)),
  );
  return null;
}
