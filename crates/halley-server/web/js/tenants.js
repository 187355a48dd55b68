// Tenants (organisations): list, create, edit (name, host names, suspended),
// delete.

import { call } from "./api.js";
import { h, clear, badge, button, confirmDialog, field, lines, modal, notAvailable, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";

const LIST = "/api/v1/admin/organization/list";

export function renderTenants(main, ctx) {
  const body = h("div", { class: "card", id: "area-body" }, spinner());
  let tenants = {};

  const load = async () => {
    try {
      tenants = (await call(LIST)) || {};
      const rows = Object.entries(tenants).sort(([, a], [, b]) => String(a.Name || "").localeCompare(String(b.Name || "")));
      clear(body, table([
        { label: "Tenant", render: ([id, o]) => h("div", { class: "cell-main" }, h("strong", { class: "tenant-name" }, o.Name || "Unnamed tenant"), h("small", { class: "muted" }, id)) },
        { label: "Host names", class: "url-cell", render: ([, o]) => ((o.Hosts || []).length ? o.Hosts.join(", ") : h("span", { class: "muted" }, "—")) },
        { label: "Status", render: ([, o]) => (o.IsSuspended ? badge("Suspended", "warn") : badge("Active", "ok")) },
        { label: "Actions", class: "row-actions", render: ([id, o]) => h("div", { class: "btn-row" },
          button("Edit", () => editDialog(id), { class: "btn btn-secondary btn-sm", "aria-label": `Edit ${o.Name}` }),
          button("Delete", () => confirmDialog(`Delete ${o.Name || id}?`,
            "The tenant is deleted with all it holds: its accounts, administrators, policies and user groups.",
            "Delete tenant",
            async () => {
              await call("/api/v1/admin/organization/delete", { OrganizationID: id });
              toast(`Tenant ${o.Name || id} deleted`);
              load();
            },
            { typeToConfirm: o.Name || id }), { class: "btn btn-danger btn-sm", "aria-label": `Delete ${o.Name}` })) },
      ], rows, { empty: "No tenants yet" }));
    } catch (err) {
      clear(body, err.notBuilt ? notAvailable("Tenants are", LIST) : notice("error", err.message));
    }
  };

  // One dialog creates (no ID) or edits a tenant; fields the dialog does not
  // show are sent back as they were.
  const editDialog = (id) => modal(id ? "Edit tenant" : "New tenant", (close, dialogError) => {
    const current = id ? tenants[id] || {} : {};
    const name = h("input", { id: "tenant-name", required: true, autocomplete: "off", value: current.Name || "" });
    const hosts = h("textarea", { id: "tenant-hosts", rows: 3, spellcheck: "false", value: (current.Hosts || []).join("\n"), placeholder: "backup.reseller.example" });
    const suspended = h("input", { type: "checkbox", id: "tenant-suspended", checked: !!current.IsSuspended });
    const submit = h("button", { type: "submit", class: "btn btn-primary", id: "tenant-submit" }, id ? "Save tenant" : "Create tenant");
    return h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const organization = { ...current, Name: name.value.trim(), Hosts: lines(hosts.value), IsSuspended: suspended.checked };
        await call("/api/v1/admin/organization/set", { OrganizationID: id || undefined, Organization: organization });
        close();
        toast(id ? `Tenant ${organization.Name} saved` : `Tenant ${organization.Name} created`);
        load();
      } catch (err) {
        showError(dialogError, err);
      } finally {
        submit.disabled = false;
      }
    } },
    field("Name", name),
    field("Host names", hosts, "One per line. Requests to these names sign in to this tenant and show its branding."),
    field("Suspended", suspended, "While suspended, the tenant's administrators and accounts cannot sign in or use the API."),
    h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
  });

  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && change.event.Type >= 4500 && change.event.Type <= 4502) load();
    });
  }
  clear(main,
    pageHeader("Tenants", "Organisations with their own administrators and accounts", button("New tenant", () => editDialog(""), { kind: "primary", id: "new-tenant" })),
    body);
  load();
  return () => unsubscribe();
}
