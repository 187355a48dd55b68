// Storage: the Storage Role (on or off, where buckets are kept), its
// buckets (size, tenant, new, delete), replication, and the providers
// that hand out requestable Storage Vaults.

import { call, saveServerConfig } from "./api.js";
import { h, clear, badge, button, confirmDialog, field, formatBytes, formatDate, lines, modal, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";

const GiB = 1024 ** 3;
const CONFIG_GET = "/api/v1/admin/meta/server-config/get";
const PROVIDERS_GET = "/api/v1/admin/meta/remote-storage-vault/get";
const PROVIDERS_SET = "/api/v1/admin/meta/remote-storage-vault/set";
const PROVIDER_TYPES = { custom: "Custom Remote Bucket", comet: "Storage Role server", s3: "S3-compatible", aws: "Amazon S3", wasabi: "Wasabi", b2: "Backblaze B2" };

/// The role's switch and where its buckets are kept (top-level
/// administrators: other administrators see nothing here).
function roleCard(onChange) {
  const box = h("div", { id: "storage-role" }, spinner());
  const card = h("section", { class: "card" }, h("h2", {}, "Storage Role"), box);
  call(CONFIG_GET).then((config) => {
    const role = config.StorageRole || {};
    const enabled = h("input", { type: "checkbox", id: "storage-role-enabled", checked: !!role.RoleEnabled });
    const path = h("input", { id: "storage-role-path", spellcheck: "false", value: role.LocalStorage?.[0]?.Path || "", placeholder: "buckets/ in the data directory" });
    const errorBox = h("div", {});
    const save = button("Save", async () => {
      try {
        const current = await call(CONFIG_GET);
        const next = { ...(current.StorageRole || {}), RoleEnabled: enabled.checked };
        next.LocalStorage = path.value.trim() ? [{ Path: path.value.trim() }] : [];
        await saveServerConfig({ ...current, StorageRole: next });
        clear(errorBox);
        toast(enabled.checked ? "Storage Role on" : "Storage Role off");
        onChange();
      } catch (err) {
        showError(errorBox, err);
      }
    }, { kind: "primary", id: "storage-role-save" });
    clear(box, errorBox,
      field("Host buckets on this server", enabled, "Devices back up into this server's buckets over its own listeners."),
      field("Folder for buckets", path, "Used when no other storage is configured (StorageRole.Storage)."),
      save);
  }, () => card.remove());
  return card;
}

function newBucketDialog(onMade) {
  modal("New bucket", (close, dialogError) => {
    const quota = h("input", { type: "number", id: "bucket-quota", min: 0, step: "any", placeholder: "No limit" });
    const submit = h("button", { type: "submit", class: "btn btn-primary", id: "bucket-submit" }, "Create bucket");
    const form = h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const gib = Number(quota.value || 0);
        const made = await call("/api/v1/admin/storage/register-bucket", gib > 0 ? { SetQuotaBytes: Math.round(gib * GiB) } : {});
        onMade();
        // The key is shown this once: the server keeps only its hash.
        clear(form,
          notice("ok", "Bucket created. Copy the key now: it is not shown again."),
          field("Bucket ID", h("input", { id: "new-bucket-id", readonly: true, value: made.NewBucketID })),
          field("Bucket key", h("input", { id: "new-bucket-key", readonly: true, value: made.NewBucketKey })),
          h("div", { class: "dialog-actions" }, button("Done", close, { kind: "primary", id: "bucket-done" })));
      } catch (err) {
        showError(dialogError, err);
        submit.disabled = false;
      }
    } },
    field("Quota (GiB)", quota, "Writes past it are refused and the job ends over quota."),
    h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
    return form;
  });
}

function bucketsCard(ctx) {
  const box = h("div", { id: "buckets" }, spinner());
  const free = h("p", { class: "muted", id: "bucket-free-space" });
  const load = async () => {
    try {
      const [buckets, tenants] = await Promise.all([
        call("/api/v1/admin/storage/list-buckets"),
        call("/api/v1/admin/organization/list").catch(() => ({})),
      ]);
      call("/api/v1/admin/storage/free-space").then((space) => {
        clear(free, space.Unlimited ? "Storage behind this server: no fixed limit." : `${formatBytes(space.AvailableBytes)} free (${Math.round(space.UsedPercent)}% used).`);
      }, () => clear(free));
      const rows = Object.entries(buckets || {}).sort(([, a], [, b]) => (b.CreateTime || 0) - (a.CreateTime || 0));
      clear(box, table([
        { label: "Bucket", render: ([id]) => h("code", { class: "bucket-id" }, id) },
        { label: "Tenant", render: ([, b]) => (b.OrganizationID ? tenants[b.OrganizationID]?.Name || b.OrganizationID : "Top level") },
        { label: "Size", class: "num", render: ([, b]) => (b.Size?.MeasureCompleted ? formatBytes(b.Size.Size) : "Not measured yet") },
        { label: "Created", class: "hide-sm", render: ([, b]) => formatDate(b.CreateTime) },
        { label: "Actions", class: "row-actions", render: ([id]) => button("Delete", () => confirmDialog(`Delete bucket ${id}?`,
          "The bucket and every backup in it are deleted. Devices using it can no longer back up or restore.",
          "Delete bucket",
          async () => {
            await call("/api/v1/admin/storage/delete-bucket", { BucketID: id });
            toast(`Bucket ${id} deleted`);
            load();
          }, { typeToConfirm: id.slice(0, 8) }), { class: "btn btn-danger btn-sm", "aria-label": `Delete bucket ${id}` }) },
      ], rows, { empty: "No buckets yet" }));
    } catch (err) {
      clear(box, notice("warn", err.message));
    }
  };
  let unsubscribe = () => {};
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && (change.event.Type === 4300 || change.event.Type === 4301)) load();
    });
  }
  load();
  const card = h("section", { class: "card" },
    h("div", { class: "section-head" }, h("h2", {}, "Buckets"), button("New bucket", () => newBucketDialog(load), { kind: "primary", id: "new-bucket" })),
    free, box);
  return { card, load, unsubscribe };
}

function replicationCard() {
  const box = h("div", { id: "replication" });
  const card = h("section", { class: "card" }, h("h2", {}, "Replication"), box);
  call("/api/v1/admin/replication/state").then((targets) => {
    if (!targets || !targets.length) {
      card.remove();
      return;
    }
    clear(box, table([
      { label: "Replica", render: (t) => t.Description || t.RemoteServerID },
      { label: "State", render: (t) => (t.State === 4 ? badge("Up to date", "ok") : t.State ? badge("Copying", "neutral") : badge("Waiting", "neutral")) },
      { label: "Copied", class: "num", render: (t) => `${t.ItemsReplicated} objects, ${formatBytes(t.BytesReplicated)}` },
      { label: "Queued", class: "num", render: (t) => `${t.ItemsQueued} objects` },
    ], targets));
  }, () => card.remove());
  return card;
}

/// One dialog adds or edits a provider of the caller's tenant; "Test" asks
/// the provider without making anything.
function providerDialog(all, index, save) {
  const current = index >= 0 ? all[index] : { Type: "custom", ID: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) };
  modal(index >= 0 ? "Edit provider" : "New provider", (close, dialogError) => {
    const type = h("select", { id: "provider-type" }, Object.entries(PROVIDER_TYPES).map(([value, label]) => h("option", { value }, label)));
    type.value = current.Type || "custom";
    const name = h("input", { id: "provider-name", required: true, value: current.Description || "" });
    const quota = h("input", { type: "number", id: "provider-quota", min: 0, step: "any", value: current.StorageLimitEnabled ? current.StorageLimitBytes / GiB : "" });
    const custom = current.Custom || {};
    const url = h("input", { id: "provider-url", type: "url", value: custom.URL || "", placeholder: "https://provider.example/allocate" });
    const headers = h("textarea", { id: "provider-headers", rows: 2, spellcheck: "false", value: Object.entries(custom.CustomHeaders || {}).map(([k, v]) => `${k}: ${v}`).join("\n"), placeholder: "X-Api-Key: …" });
    const bodyType = h("select", { id: "provider-body-type" }, ["none", "json", "urlencoded", "form"].map((v) => h("option", { value: v }, v)));
    bodyType.value = custom.CustomBodyType || "none";
    const body = h("textarea", { id: "provider-body", rows: 3, spellcheck: "false", value: custom.CustomBody || "" });
    const address = h("input", { id: "provider-address", value: current.RemoteAddress || "", placeholder: "Empty: this server" });
    const username = h("input", { id: "provider-username", autocomplete: "off", value: current.Username || "" });
    const password = h("input", { id: "provider-password", type: "password", autocomplete: "new-password", value: current.Password || "" });
    const b2 = current.B2 ? { MasterBucket: current.B2.MasterBucket, AccessKey: current.B2.KeyID, SecretKey: current.B2.AppKey } : null;
    const s3 = current.S3 || current.AWS || current.Wasabi || b2 || {};
    const endpoint = h("input", { id: "provider-endpoint", value: current.S3?.S3Endpoint || "", placeholder: "https://s3.example.com" });
    const bucket = h("input", { id: "provider-bucket", value: s3.MasterBucket || "" });
    const prefix = h("input", { id: "provider-prefix", value: current.S3?.Prefix || "" });
    const accessKey = h("input", { id: "provider-access-key", autocomplete: "off", value: s3.AccessKey || "" });
    const secretKey = h("input", { id: "provider-secret-key", type: "password", autocomplete: "new-password", value: s3.SecretKey || "" });
    const sections = {
      custom: h("div", {}, field("URL", url, "Halley POSTs here; the answer is the new vault's DestinationLocation."), field("Headers", headers, "One per line, Name: value."), field("Body type", bodyType), field("Body", body)),
      comet: h("div", {}, field("Server address", address, "Another Halley or Comet server's address, or empty for this server's own Storage Role."), field("Administrator", username), field("Password", password)),
      s3: h("div", {}, field("Endpoint", endpoint), field("Bucket", bucket, "Each requested vault is a folder of its own in this bucket."), field("Prefix", prefix), field("Access key", accessKey), field("Secret key", secretKey)),
    };
    const section = h("div", {});
    const showSection = () => {
      const kind = type.value === "custom" || type.value === "comet" ? type.value : "s3";
      clear(section, sections[kind]);
      sections.s3.querySelector("#provider-endpoint").closest(".field").hidden = type.value !== "s3";
      sections.s3.querySelector("#provider-prefix").closest(".field").hidden = type.value !== "s3";
    };
    type.addEventListener("change", showSection);
    showSection();
    const option = () => {
      const gib = Number(quota.value || 0);
      const next = { ID: current.ID, Type: type.value, Description: name.value.trim(), StorageLimitEnabled: gib > 0, StorageLimitBytes: Math.round(gib * GiB), RebrandStorage: !!current.RebrandStorage };
      if (type.value === "custom") {
        next.Custom = { URL: url.value.trim(), CustomBodyType: bodyType.value, CustomBody: body.value, CustomHeaders: Object.fromEntries(lines(headers.value).map((l) => l.split(/:\s*/, 2)).filter((p) => p.length === 2)) };
      } else if (type.value === "comet") {
        Object.assign(next, { RemoteAddress: address.value.trim(), Username: username.value, Password: password.value });
      } else {
        const keys = { MasterBucket: bucket.value.trim(), AccessKey: accessKey.value, SecretKey: secretKey.value };
        if (type.value === "s3") next.S3 = { ...keys, S3Endpoint: endpoint.value.trim(), Prefix: prefix.value.trim() };
        else if (type.value === "b2") next.B2 = { MasterBucket: keys.MasterBucket, KeyID: keys.AccessKey, AppKey: keys.SecretKey };
        else next[type.value === "aws" ? "AWS" : "Wasabi"] = keys;
      }
      return next;
    };
    const result = h("div", { id: "provider-test-result" });
    const test = button("Test", async () => {
      clear(result, spinner("Asking the provider…"));
      try {
        await call("/api/v1/admin/meta/remote-storage-vault/test", { TemplateOptions: option() });
        clear(result, notice("ok", "The provider answered with a usable Storage Vault."));
      } catch (err) {
        clear(result, notice("error", err.message));
      }
    }, { id: "provider-test" });
    const submit = h("button", { type: "submit", class: "btn btn-primary", id: "provider-submit" }, "Save provider");
    return h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const next = [...all];
        if (index >= 0) next[index] = option();
        else next.push(option());
        await save(next);
        close();
      } catch (err) {
        showError(dialogError, err);
      } finally {
        submit.disabled = false;
      }
    } },
    field("Type", type), field("Name", name, "Shown to whoever requests a vault."), field("Quota per vault (GiB)", quota), section, result,
    h("div", { class: "dialog-actions" }, test, button("Cancel", close), submit));
  });
}

function providersCard() {
  const box = h("div", { id: "providers" }, spinner());
  let all = [];
  const save = async (next) => {
    await call(PROVIDERS_SET, { RemoteStorageOptions: next });
    toast("Providers saved");
    load();
  };
  const load = async () => {
    try {
      all = (await call(PROVIDERS_GET)) || [];
      clear(box,
        table([
          { label: "Provider", render: ([, o]) => h("strong", { class: "provider-name" }, o.Description || o.ID) },
          { label: "Type", render: ([, o]) => PROVIDER_TYPES[o.Type] || o.Type },
          { label: "Quota", class: "num", render: ([, o]) => (o.StorageLimitEnabled ? formatBytes(o.StorageLimitBytes) : "none") },
          { label: "Actions", class: "row-actions", render: ([i, o]) => h("div", { class: "btn-row" },
            button("Edit", () => providerDialog(all, i, save), { class: "btn btn-secondary btn-sm", "aria-label": `Edit provider ${o.Description}` }),
            button("Remove", () => confirmDialog(`Remove the provider ${o.Description}?`, "Vaults it made stay; no new ones can be requested from it.", "Remove provider",
              () => save(all.filter((_, j) => j !== i))), { class: "btn btn-danger btn-sm", "aria-label": `Remove provider ${o.Description}` })) },
        ], all.map((o, i) => [i, o]), { empty: "No providers: Storage Vaults cannot be requested" }),
        h("div", { class: "btn-row" }, button("Add provider", () => providerDialog(all, -1, save), { kind: "primary", id: "add-provider" })));
    } catch (err) {
      clear(box, notice("error", err.message));
    }
  };
  load();
  return h("section", { class: "card" }, h("h2", {}, "Storage Vault providers"),
    h("p", { class: "muted" }, "Where new Storage Vaults come from when one is requested for an account."), box);
}

export function renderStorage(main, ctx) {
  const buckets = bucketsCard(ctx);
  clear(main,
    pageHeader("Storage", "Buckets this server hosts, and where requested Storage Vaults come from"),
    h("div", { class: "stack" }, roleCard(buckets.load), buckets.card, replicationCard(), providersCard()));
  return () => buckets.unsubscribe();
}
