// "Request Storage Vault": a new vault from one of the tenant's providers,
// for the profile editor (administrators) and the end-user view alike.

import { call } from "./api.js";
import { h, clear, button, field, modal, showError, toast } from "./ui.js";

/// `providers()` lists the providers (ID to name); `request(id)` asks one
/// with this page's address as `SelfAddress`, which a provider of this
/// server's own buckets gives devices; `done()` runs after.
export function requestVaultDialog({ providers, request, done, warning = null }) {
  modal("Request Storage Vault", (close, dialogError) => {
    const provider = h("select", { id: "request-vault-provider", required: true }, h("option", { value: "" }, "Loading providers…"));
    const submit = h("button", { type: "submit", class: "btn btn-primary", id: "request-vault-submit", disabled: true }, "Request");
    providers().then((listed) => {
      const entries = Object.entries(listed || {});
      clear(provider, entries.length ? entries.map(([id, name]) => h("option", { value: id }, name || id)) : h("option", { value: "" }, "No providers are offered"));
      submit.disabled = !entries.length;
    }, (err) => showError(dialogError, err));
    return h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        await request(provider.value, `${location.origin}/`);
        close();
        toast("Storage Vault added");
        done();
      } catch (err) {
        showError(dialogError, err);
      } finally {
        submit.disabled = false;
      }
    } },
    warning,
    field("Provider", provider),
    h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
  });
}

/// For an account holder.
export function requestOwnVault(getHash, done) {
  requestVaultDialog({
    providers: () => call("/api/v1/user/web/request-storage-vault-providers"),
    request: async (id, self) => call("/api/v1/user/web/request-storage-vault", { StorageProvider: id, ProfileHash: await getHash(), SelfAddress: self }),
    done,
  });
}
