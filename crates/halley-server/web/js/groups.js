// User groups: the list, creation, and an editor for a group's name, its
// policy and its members. The group keeps the policy's ID (`PolicyID`); the
// server gives that policy to the members when the group or its membership
// is saved.

import { call } from "./api.js";
import { h, clear, stickyHeader, button, confirmDialog, field, formatDate, modal, notAvailable, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";

const LIST = "/api/v1/admin/user-groups/list-full";

async function accounts() {
  try {
    return await call("/api/v1/admin/list-users-full");
  } catch (err) {
    return {};
  }
}

async function policyNames() {
  try {
    return (await call("/api/v1/admin/policies/list")) || {};
  } catch (err) {
    return {};
  }
}

export function renderGroups(main, ctx, id) {
  return id ? renderGroupEditor(main, ctx, id) : renderGroupList(main, ctx);
}

function renderGroupList(main, ctx) {
  const body = h("div", { class: "card", id: "area-body" }, spinner());
  const load = async () => {
    try {
      const [groups, users, policies] = await Promise.all([call(LIST), accounts(), policyNames()]);
      const members = {};
      for (const profile of Object.values(users || {})) {
        if (profile.GroupID) members[profile.GroupID] = (members[profile.GroupID] || 0) + 1;
      }
      const rows = Object.entries(groups || {}).sort(([, a], [, b]) => String(a.Name || "").localeCompare(String(b.Name || "")));
      clear(body, table([
        { label: "Group", render: ([gid, g]) => h("a", { href: `#/groups/${encodeURIComponent(gid)}`, class: "account-link group-link" }, g.Name || "Unnamed group") },
        { label: "Policy", render: ([, g]) => (g.PolicyID ? policies[g.PolicyID] || g.PolicyID : h("span", { class: "muted" }, "—")) },
        { label: "Members", class: "num", render: ([gid]) => String(members[gid] || 0) },
        { label: "Created", class: "hide-sm nowrap", render: ([, g]) => formatDate(g.CreatedAt) },
        { label: "Actions", class: "row-actions", render: ([gid, g]) => h("div", { class: "btn-row" },
          h("a", { class: "btn btn-secondary btn-sm", href: `#/groups/${encodeURIComponent(gid)}` }, "Edit"),
          button("Delete", () => deleteGroup(gid, g.Name, load), { class: "btn btn-danger btn-sm", "aria-label": `Delete ${g.Name}` })) },
      ], rows, { empty: "No user groups yet" }));
    } catch (err) {
      clear(body, err.notBuilt ? notAvailable("User groups are", LIST) : notice("error", err.message));
    }
  };
  const createDialog = () => modal("New user group", (close, dialogError) => {
    const name = h("input", { id: "group-new-name", required: true, autocomplete: "off" });
    const submit = h("button", { type: "submit", class: "btn btn-primary", id: "group-new-submit" }, "Create group");
    return h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const answer = await call("/api/v1/admin/user-groups/new", { Name: name.value.trim() });
        close();
        toast(`Group ${name.value.trim()} created`);
        location.hash = `#/groups/${encodeURIComponent(answer.UserGroupID)}`;
      } catch (err) {
        showError(dialogError, err);
      } finally {
        submit.disabled = false;
      }
    } },
    field("Name", name),
    h("p", { class: "muted small" }, "Choose its policy and members next."),
    h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
  });
  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && change.event.Type >= 4800 && change.event.Type <= 4802) load();
    });
  }
  clear(main,
    pageHeader("User groups", "Accounts grouped for reporting and policies", button("New group", createDialog, { kind: "primary", id: "new-group" })),
    body);
  load();
  return () => unsubscribe();
}

function deleteGroup(id, name, after) {
  confirmDialog(`Delete ${name || "this group"}?`, "Its members stay, outside any group, and keep their policies.", "Delete group", async () => {
    await call("/api/v1/admin/user-groups/delete", { GroupID: id });
    toast("Group deleted");
    after();
  });
}

function renderGroupEditor(main, ctx, groupId) {
  let original = null;
  let users = {};
  let policies = {};
  let draft = null;
  const banner = h("div", { id: "group-banner" });
  const body = h("div", {}, spinner());
  const status = h("span", { class: "save-state muted", id: "group-state" });
  const saveButton = h("button", { type: "button", class: "btn btn-primary", id: "group-save", disabled: true, onclick: () => save() }, "Save changes");
  const deleteButton = button("Delete", () => deleteGroup(groupId, original?.group.Name, () => { location.hash = "#/groups"; }), { kind: "danger", id: "group-delete" });

  const snapshot = (group, members) => ({ group, members: [...members].sort() });
  const dirty = () => draft && JSON.stringify(draft) !== JSON.stringify(original);
  const touch = () => {
    saveButton.disabled = !dirty();
    status.textContent = dirty() ? "Unsaved changes" : "All changes saved";
  };

  const load = async () => {
    try {
      const [answer, all, names] = await Promise.all([
        call("/api/v1/admin/user-groups/get", { GroupID: groupId, IncludeUsers: true }),
        accounts(),
        policyNames(),
      ]);
      users = all || {};
      policies = names;
      original = snapshot(answer.UserGroup, Object.keys(answer.Users || {}));
      draft = JSON.parse(JSON.stringify(original));
      clear(banner);
      draw();
      touch();
    } catch (err) {
      clear(body, notice("error", err.message), h("p", {}, h("a", { href: "#/groups" }, "Back to user groups")));
    }
  };

  const save = async () => {
    saveButton.disabled = true;
    saveButton.textContent = "Saving…";
    try {
      if (!draft.group.Name.trim()) throw new Error("The group needs a name.");
      if (JSON.stringify(draft.group) !== JSON.stringify(original.group)) {
        await call("/api/v1/admin/user-groups/set", { GroupID: groupId, Group: draft.group });
        original.group = JSON.parse(JSON.stringify(draft.group));
      }
      if (JSON.stringify(draft.members) !== JSON.stringify(original.members)) {
        await call("/api/v1/admin/user-groups/set-users-for-group", { GroupID: groupId, Users: draft.members });
        original.members = [...draft.members];
      }
      clear(banner, notice("ok", "Changes saved."));
      toast("Group saved");
      users = await accounts();
      draw();
    } catch (err) {
      clear(banner, notice("error", h("strong", {}, "Not saved: "), err.message, " Your edits are still here."));
    } finally {
      saveButton.textContent = "Save changes";
      touch();
    }
  };

  const draw = () => {
    const name = h("input", { id: "group-name", required: true, autocomplete: "off", value: draft.group.Name || "" });
    name.addEventListener("input", () => { draft.group.Name = name.value; touch(); });
    const policy = h("select", { id: "group-policy" }, h("option", { value: "" }, "No policy"),
      Object.entries(policies).map(([pid, label]) => h("option", { value: pid }, String(label || pid))));
    policy.value = draft.group.PolicyID || "";
    policy.addEventListener("change", () => {
      if (policy.value) draft.group.PolicyID = policy.value;
      else delete draft.group.PolicyID;
      touch();
    });
    const candidates = Object.entries(users)
      .map(([username, p]) => ({ ...p, Username: p.Username || username }))
      .filter((p) => (p.OrganizationID || "") === (draft.group.OrganizationID || ""))
      .sort((a, b) => a.Username.localeCompare(b.Username));
    const search = h("input", { type: "search", id: "group-member-search", placeholder: "Filter accounts", "aria-label": "Filter accounts" });
    const list = h("div", { class: "check-list", id: "group-members", role: "group", "aria-label": "Members" });
    const drawList = () => {
      const q = search.value.trim().toLowerCase();
      const shown = candidates.filter((p) => !q || [p.Username, p.AccountName].some((v) => String(v || "").toLowerCase().includes(q)));
      clear(list, shown.length ? shown.map((p) => {
        const box = h("input", { type: "checkbox", value: p.Username, checked: draft.members.includes(p.Username), id: `member-${p.Username}` });
        box.addEventListener("change", () => {
          draft.members = draft.members.filter((u) => u !== p.Username);
          if (box.checked) draft.members.push(p.Username);
          draft.members.sort();
          count.textContent = `${draft.members.length} selected`;
          touch();
        });
        const other = p.GroupID && p.GroupID !== groupId ? " (in another group: saving moves it here)" : "";
        return field(`${p.Username}${p.AccountName ? ` — ${p.AccountName}` : ""}${other}`, box);
      }) : h("p", { class: "muted" }, candidates.length ? "No account matches." : "No accounts in this group's tenant yet."));
    };
    const count = h("span", { class: "muted small" }, `${draft.members.length} selected`);
    search.addEventListener("input", drawList);
    drawList();
    clear(body, h("div", { class: "form-grid" },
      h("section", { class: "card" },
        h("h2", {}, "Group"),
        field("Name", name),
        field("Policy", policy, "Saving gives this policy to every member. Removing the policy or a member leaves the accounts' policies as they are."),
        h("dl", { class: "facts" },
          h("dt", {}, "Created"), h("dd", {}, formatDate(draft.group.CreatedAt)),
          h("dt", {}, "Tenant"), h("dd", {}, draft.group.OrganizationID || "Top level"))),
      h("section", { class: "card" },
        h("div", { class: "card-head" }, h("h2", {}, "Members"), count),
        h("div", { class: "field" }, search),
        list)));
  };

  clear(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/groups" }, "User groups"), " / ", "Edit"),
    stickyHeader(pageHeader("Edit user group", null, status, deleteButton, saveButton), banner),
    body);
  load();
  return null;
}
