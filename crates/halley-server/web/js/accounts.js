// Accounts: search, create, suspend, delete, reset password, sign in as.

import { call } from "./api.js";
import { accountStorage } from "./dashboard.js";
import { openAsUser } from "./sso.js";
import { h, clear, badge, button, field, formatBytes, formatDay, menu, modal, notice, pageHeader, showError, spinner, table, toast, emptyState } from "./ui.js";

export function renderAccounts(main, ctx) {
  let profiles = [];
  const search = h("input", { type: "search", id: "account-search", placeholder: "Search by username, name or email", "aria-label": "Search accounts" });
  const list = h("div", { id: "account-list" }, spinner());
  const errorBox = h("div", {});

  const load = async () => {
    try {
      const all = await call("/api/v1/admin/list-users-full");
      profiles = Object.entries(all).map(([name, profile]) => ({ ...profile, Username: profile.Username || name }));
      profiles.sort((a, b) => a.Username.localeCompare(b.Username));
      clear(errorBox);
      draw();
    } catch (err) {
      clear(list);
      showError(errorBox, err);
    }
  };

  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = profiles.filter((p) => !q || [p.Username, p.AccountName, ...(p.Emails || [])].some((v) => String(v || "").toLowerCase().includes(q)));
    if (!profiles.length) {
      clear(list, emptyState("No accounts yet", "Create the first customer account to get started.", button("New account", createDialog, { kind: "primary" })));
      return;
    }
    clear(
      list,
      table(
        [
          { label: "Account", render: (p) => h("div", { class: "cell-main" }, h("a", { href: `#/accounts/${encodeURIComponent(p.Username)}`, class: "account-link" }, p.Username), p.AccountName ? h("small", { class: "muted" }, p.AccountName) : null) },
          { label: "Email", class: "hide-sm", render: (p) => (p.Emails || []).join(", ") || h("span", { class: "muted" }, "—") },
          { label: "Created", class: "hide-md nowrap", render: (p) => formatDay(p.CreateTime) },
          { label: "Devices", class: "num", render: (p) => String(Object.keys(p.Devices || {}).length) },
          { label: "Storage", class: "num", render: (p) => formatBytes(accountStorage(p)) },
          { label: "Status", render: (p) => (p.IsSuspended ? badge("Suspended", "warn") : badge("Active", "ok")) },
          {
            label: "Actions",
            class: "row-actions",
            render: (p) =>
              h(
                "div",
                { class: "btn-row" },
                h("a", { class: "btn btn-secondary btn-sm", href: `#/accounts/${encodeURIComponent(p.Username)}` }, "Edit"),
                menu("More", [
                  ["Sign in as this user", () => signInAs(p.Username)],
                  [p.IsSuspended ? "Resume account" : "Suspend account", () => setSuspended(p.Username, !p.IsSuspended)],
                  ["Reset password…", () => resetDialog(p.Username)],
                  ["Delete account…", () => deleteDialog(p.Username), "danger"],
                ]),
              ),
          },
        ],
        rows,
        { empty: "No account matches your search" },
      ),
    );
  };

  const signInAs = (username) => {
    const key = call("/api/v1/admin/account/session-start-as-user", { TargetUser: username }).then((answer) => answer.SessionKey);
    key.catch((err) => showError(errorBox, err));
    if (!openAsUser(username, key)) toast("Allow pop-ups for this site to open the account in a new tab", "error");
  };

  const setSuspended = async (username, suspended) => {
    try {
      const current = await call("/api/v1/admin/get-user-profile-and-hash", { TargetUser: username });
      const profile = { ...current.Profile, IsSuspended: suspended };
      await call("/api/v1/admin/set-user-profile-hash", { TargetUser: username, ProfileData: profile, RequireHash: current.ProfileHash });
      toast(suspended ? `${username} is suspended` : `${username} is active again`);
      load();
    } catch (err) {
      showError(errorBox, err);
    }
  };

  const createDialog = () =>
    modal("New account", (close, dialogError) => {
      const username = h("input", { id: "new-username", autocomplete: "off", required: true, autocapitalize: "off", spellcheck: "false" });
      const password = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true });
      const recovery = h("input", { id: "new-recovery", type: "checkbox", checked: true });
      const submit = h("button", { type: "submit", class: "btn btn-primary", id: "new-submit" }, "Create account");
      return h(
        "form",
        { class: "dialog-body", onsubmit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          try {
            await call("/api/v1/admin/add-user", { TargetUser: username.value.trim(), TargetPassword: password.value, StoreRecoveryCode: recovery.checked ? 1 : 0 });
            close();
            toast(`Account ${username.value.trim()} created`);
            load();
          } catch (err) {
            showError(dialogError, err);
          } finally {
            submit.disabled = false;
          }
        } },
        field("Username", username),
        field("Password", password, "The account holder signs in to the backup client with this password."),
        field("Keep a recovery code", recovery, "Lets an administrator reset the password later without the old one."),
        h("div", { class: "dialog-actions" }, button("Cancel", close), submit),
      );
    });

  const resetDialog = (username) =>
    modal(`Reset password of ${username}`, (close, dialogError) => {
      const next = h("input", { id: "reset-new", type: "password", autocomplete: "new-password", required: true });
      const old = h("input", { id: "reset-old", type: "password", autocomplete: "off" });
      const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Reset password");
      return h(
        "form",
        { class: "dialog-body", onsubmit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          try {
            await call("/api/v1/admin/reset-user-password", { TargetUser: username, NewPassword: next.value, OldPassword: old.value || undefined });
            close();
            toast(`Password of ${username} reset; its sessions were ended`);
          } catch (err) {
            showError(dialogError, err);
          } finally {
            submit.disabled = false;
          }
        } },
        field("New password", next),
        field("Current password", old, "Needed unless the account keeps a recovery code."),
        h("div", { class: "dialog-actions" }, button("Cancel", close), submit),
      );
    });

  const deleteDialog = (username) =>
    modal(`Delete ${username}?`, (close, dialogError) => {
      const confirmInput = h("input", { id: "delete-confirm", autocomplete: "off", required: true });
      const submit = h("button", { type: "submit", class: "btn btn-danger", id: "delete-submit" }, "Delete account");
      return h(
        "form",
        { class: "dialog-body", onsubmit: async (event) => {
          event.preventDefault();
          if (confirmInput.value.trim() !== username) {
            clear(dialogError, notice("error", "Type the username exactly to confirm."));
            return;
          }
          submit.disabled = true;
          try {
            await call("/api/v1/admin/delete-user", { TargetUser: username });
            close();
            toast(`Account ${username} deleted`);
            load();
          } catch (err) {
            showError(dialogError, err);
          } finally {
            submit.disabled = false;
          }
        } },
        h("p", {}, "The account, its settings and its devices' registrations are removed. Stored backup data is not touched."),
        field(`Type ${username} to confirm`, confirmInput),
        h("div", { class: "dialog-actions" }, button("Cancel", close), submit),
      );
    });

  search.addEventListener("input", draw);
  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && change.event.Type >= 4100 && change.event.Type <= 4102) load();
    });
  }
  clear(
    main,
    pageHeader("Accounts", "Customer accounts, their devices and storage", button("New account", createDialog, { kind: "primary", id: "new-account" })),
    h("div", { class: "toolbar" }, search),
    errorBox,
    list,
  );
  load();
  return () => unsubscribe();
}
