// Server settings: webhooks, email, and the configuration as JSON.

import { call } from "./api.js";
import { describe } from "./events.js";
import { h, clear, button, confirmDialog, field, modal, notAvailable, notice, pageHeader, showError, spinner, table, textInput, toast } from "./ui.js";

const EVENT_TYPES = {
  "Server": [[4000, "SEVT_META_HELLO"], [4400, "SEVT_SERVER_STARTED"], [4401, "SEVT_SERVER_RESTARTED"], [4402, "SEVT_SERVER_SHUTDOWN"], [4403, "SEVT_SERVER_UPDATED"]],
  "Accounts": [[4100, "SEVT_ACCOUNT_NEW"], [4101, "SEVT_ACCOUNT_REMOVED"], [4102, "SEVT_ACCOUNT_UPDATED"], [4103, "SEVT_ACCOUNT_LOGIN"], [4104, "SEVT_ACCOUNT_LOGIN_FAILED"], [4105, "SEVT_ACCOUNT_SESSION_START"], [4106, "SEVT_ACCOUNT_SESSION_REVOKE"], [4107, "SEVT_ACCOUNT_SESSION_EXPIRE"]],
  "Administrators": [[4150, "SEVT_ACCOUNT_ADMIN_NEW"], [4151, "SEVT_ACCOUNT_ADMIN_REMOVED"], [4152, "SEVT_ACCOUNT_ADMIN_UPDATED"], [4153, "SEVT_ACCOUNT_ADMIN_LOGIN"], [4154, "SEVT_ACCOUNT_ADMIN_LOGIN_FAILED"], [4155, "SEVT_ACCOUNT_ADMIN_SESSION_START"], [4156, "SEVT_ACCOUNT_ADMIN_SESSION_REVOKE"], [4157, "SEVT_ACCOUNT_ADMIN_SESSION_EXPIRE"]],
  "Jobs and devices": [[4200, "SEVT_JOB_NEW"], [4201, "SEVT_JOB_COMPLETED"], [4700, "SEVT_DEVICE_NEW"], [4701, "SEVT_DEVICE_REMOVED"], [4702, "SEVT_DEVICE_LIVE_CONNECT"], [4703, "SEVT_DEVICE_LIVE_DISCONNECT"], [4704, "SEVT_DEVICE_LOBBY_CONNECT"], [4705, "SEVT_DEVICE_LOBBY_DISCONNECT"]],
  "Storage, tenants, policies, groups": [[4300, "SEVT_BUCKET_NEW"], [4301, "SEVT_BUCKET_REMOVED"], [4500, "SEVT_TENANT_NEW"], [4501, "SEVT_TENANT_REMOVED"], [4502, "SEVT_TENANT_UPDATED"], [4600, "SEVT_POLICY_NEW"], [4601, "SEVT_POLICY_REMOVED"], [4602, "SEVT_POLICY_UPDATED"], [4800, "SEVT_USERGROUP_NEW"], [4801, "SEVT_USERGROUP_REMOVED"], [4802, "SEVT_USERGROUP_UPDATED"]],
};

const WEBHOOKS_GET = "/api/v1/admin/meta/webhook-options/get";
const WEBHOOKS_SET = "/api/v1/admin/meta/webhook-options/set";

function webhooksCard() {
  const box = h("div", { id: "webhooks" }, spinner());
  const errorBox = h("div", {});
  let options = {};

  // Each change reads the current hooks first and changes only its own, so
  // that it does not undo someone else's change to another hook.
  const change = async (apply) => {
    const current = (await call(WEBHOOKS_GET)) || {};
    apply(current);
    await call(WEBHOOKS_SET, { WebhookOptions: current });
    options = current;
    draw();
  };

  const load = async () => {
    try {
      options = (await call(WEBHOOKS_GET)) || {};
      clear(errorBox);
      draw();
    } catch (err) {
      clear(box, err.notBuilt ? notAvailable("Webhooks are", WEBHOOKS_GET) : notice("error", err.message));
    }
  };

  const draw = () => {
    const rows = Object.entries(options).sort(([a], [b]) => a.localeCompare(b));
    clear(box,
      table([
        { label: "Name", render: ([id]) => h("strong", { class: "hook-name" }, id) },
        { label: "URL", class: "url-cell", render: ([, o]) => o.URL || "—" },
        { label: "Detail", render: ([, o]) => (o.Level === "none" ? "Type only" : "Full events") },
        { label: "Events", render: ([, o]) => ((o.WhiteListedEventTypes || []).length ? `${o.WhiteListedEventTypes.length} types` : "All") },
        { label: "Headers", class: "num hide-sm", render: ([, o]) => String(Object.keys(o.CustomHeaders || {}).length) },
        { label: "Actions", class: "row-actions", render: ([id]) => h("div", { class: "btn-row" },
          button("Edit", () => hookDialog(id), { class: "btn btn-secondary btn-sm", "aria-label": `Edit webhook ${id}` }),
          button("Remove", () => confirmDialog(`Remove the webhook ${id}?`, "Events stop going to its address.", "Remove webhook", async () => {
            await change((all) => { delete all[id]; });
            toast(`Webhook ${id} removed`);
          }), { class: "btn btn-danger btn-sm", "aria-label": `Remove webhook ${id}` })) },
      ], rows, { empty: "No webhooks: events are not sent anywhere" }),
      h("div", { class: "btn-row" }, button("Add webhook", () => hookDialog(""), { kind: "primary", id: "add-webhook" })));
  };

  const hookDialog = (id) => {
    const dialog = modal(id ? `Webhook ${id}` : "New webhook", (close, dialogError) => {
      const hook = JSON.parse(JSON.stringify(options[id] || { URL: "", Level: "full", CustomHeaders: {}, WhiteListedEventTypes: [] }));
      const name = h("input", { id: "hook-name", required: true, autocomplete: "off", value: id });
      const url = h("input", { id: "hook-url", type: "url", required: true, placeholder: "https://example.com/hook", value: hook.URL || "" });
      const level = h("select", { id: "hook-level" }, h("option", { value: "full" }, "Full events"), h("option", { value: "none" }, "Event type only"));
      level.value = hook.Level || "full";
      const chosen = new Set((hook.WhiteListedEventTypes || []).map(Number));
      const all = h("input", { type: "checkbox", id: "hook-all-events", checked: chosen.size === 0 });
      const typeBoxes = h("fieldset", { disabled: chosen.size === 0, id: "hook-types" },
        Object.entries(EVENT_TYPES).map(([group, types]) => h("div", {},
          h("p", { class: "muted small", style: "margin:4px 0" }, group),
          h("div", { class: "check-grid" }, types.map(([type, name]) => {
            const box = h("input", { type: "checkbox", id: `hook-type-${type}`, value: String(type), checked: chosen.has(type) });
            box.addEventListener("change", () => {
              if (box.checked) chosen.add(type);
              else chosen.delete(type);
            });
            const label = type === 4000 ? "Hello, first to a new or changed hook" : describe({ Type: type, TypeString: name });
            return field(`${label} (${type})`, box);
          })))));
      all.addEventListener("change", () => { typeBoxes.disabled = all.checked; });
      const headers = Object.entries(hook.CustomHeaders || {});
      const headerRows = h("div", { id: "hook-headers" });
      const drawHeaders = () => clear(headerRows, headers.map((pair, index) => h("div", { class: "kv-row" },
        textInput(() => pair[0], (v) => { pair[0] = v; }, { "aria-label": "Header name", placeholder: "Authorization", class: "hook-header-name" }),
        textInput(() => pair[1], (v) => { pair[1] = v; }, { "aria-label": "Header value", class: "hook-header-value" }),
        button("Remove", () => { headers.splice(index, 1); drawHeaders(); }, { class: "btn btn-secondary btn-sm", "aria-label": "Remove header" }))));
      drawHeaders();
      const submit = h("button", { type: "submit", class: "btn btn-primary", id: "hook-submit" }, id ? "Save webhook" : "Add webhook");
      return h("form", { class: "dialog-body", onsubmit: async (event) => {
        event.preventDefault();
        const key = name.value.trim();
        if (!key) {
          clear(dialogError, notice("error", "The webhook needs a name."));
          return;
        }
        const saved = {
          ...hook,
          URL: url.value.trim(),
          Level: level.value,
          WhiteListedEventTypes: all.checked ? [] : [...chosen].sort((a, b) => a - b),
          CustomHeaders: Object.fromEntries(headers.map(([k, v]) => [k.trim(), v]).filter(([k]) => k)),
        };
        if (!all.checked && !saved.WhiteListedEventTypes.length) {
          clear(dialogError, notice("error", "Choose at least one event type, or send all events."));
          return;
        }
        submit.disabled = true;
        try {
          await change((current) => {
            if (key !== id && current[key]) throw new Error(`A webhook named ${key} exists already.`);
            if (id && key !== id) delete current[id];
            current[key] = saved;
          });
          close();
          toast(`Webhook ${key} saved`);
        } catch (err) {
          showError(dialogError, err);
        } finally {
          submit.disabled = false;
        }
      } },
      field("Name", name),
      field("URL", url, "Receives a POST of each event as JSON."),
      field("Detail", level),
      h("fieldset", {}, h("legend", {}, "Events"), field("Send all events", all), typeBoxes),
      h("fieldset", {}, h("legend", {}, "Custom headers"), headerRows,
        button("Add header", () => { headers.push(["", ""]); drawHeaders(); const inputs = headerRows.querySelectorAll(".hook-header-name"); if (inputs.length) inputs[inputs.length - 1].focus(); }, { class: "btn btn-secondary btn-sm", id: "hook-add-header" })),
      h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
    });
    dialog.classList.add("dialog-wide");
  };

  load();
  return h("section", { class: "card", id: "webhooks-card" },
    h("h2", {}, "Webhooks"),
    h("p", { class: "muted" }, "Events of the server are POSTed as JSON to these addresses, retried until they are accepted."),
    errorBox,
    box);
}

const EMAIL_GET = "/api/v1/admin/meta/email-options/get";

function emailCard() {
  const box = h("div", {}, spinner());
  const errorBox = h("div", { id: "email-result" });
  let draft = null;

  const draw = () => {
    const mode = h("select", { id: "email-mode" },
      h("option", { value: "" }, "Not set (inherit, or no email)"),
      h("option", { value: "disabled" }, "Disabled"),
      h("option", { value: "smtp" }, "SMTP with STARTTLS"),
      h("option", { value: "smtp-ssl" }, "SMTP over TLS"));
    mode.value = ["", "disabled", "smtp", "smtp-ssl"].includes(draft.Mode) ? draft.Mode : "";
    const smtp = h("fieldset", { disabled: !String(draft.Mode || "").startsWith("smtp") },
      h("legend", {}, "SMTP server"),
      h("div", { class: "form-grid" },
        field("Host", textInput(() => draft.SMTPHost, (v) => { draft.SMTPHost = v; }, { id: "email-host", autocomplete: "off" })),
        field("Port", textInput(() => draft.SMTPPort || "", (v) => { draft.SMTPPort = v; }, { id: "email-port", type: "number", min: 0, max: 65535 }), "587 for STARTTLS, 465 for TLS."),
        field("Username", textInput(() => draft.SMTPUsername, (v) => { draft.SMTPUsername = v; }, { id: "email-username", autocomplete: "off" })),
        field("Password", textInput(() => draft.SMTPPassword, (v) => { draft.SMTPPassword = v; }, { id: "email-password", type: "password", autocomplete: "new-password" }))),
      field("Accept an invalid certificate", checkboxInput(() => draft.SMTPAllowInvalidCertificate, (v) => { draft.SMTPAllowInvalidCertificate = v; }, "email-allow-invalid")),
      field("Allow sending without encryption", checkboxInput(() => draft.SMTPAllowUnencrypted, (v) => { draft.SMTPAllowUnencrypted = v; }, "email-allow-plain"), "Only when the server does not offer STARTTLS."),
      field("EHLO name", textInput(() => draft.SMTPCustomEhlo, (v) => { draft.SMTPCustomEhlo = v; }, { id: "email-ehlo", autocomplete: "off", placeholder: "Default" })));
    mode.addEventListener("change", () => {
      draft.Mode = mode.value;
      smtp.disabled = !mode.value.startsWith("smtp");
    });
    const save = h("button", { type: "submit", class: "btn btn-primary", id: "email-save" }, "Save email settings");
    const recipient = h("input", { id: "email-test-to", type: "email", autocomplete: "email", placeholder: "you@example.com" });
    const test = button("Send a test email", async () => {
      if (!recipient.value.trim()) {
        clear(errorBox, notice("error", "Enter an address to send the test email to."));
        recipient.focus();
        return;
      }
      test.disabled = true;
      test.textContent = "Sending…";
      try {
        await call("/api/v1/admin/meta/send-test-email", { EmailOptions: draft, Recipient: recipient.value.trim() });
        clear(errorBox, notice("ok", `A test email went to ${recipient.value.trim()}.`));
      } catch (err) {
        showError(errorBox, err);
      } finally {
        test.disabled = false;
        test.textContent = "Send a test email";
      }
    }, { id: "email-test" });
    clear(box, h("form", { onsubmit: async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        await call("/api/v1/admin/meta/email-options/set", { EmailOptions: draft });
        clear(errorBox, notice("ok", "Email settings saved."));
        toast("Email settings saved");
      } catch (err) {
        clear(errorBox, notice("error", h("strong", {}, "Not saved: "), err.message, " Your settings are still here."));
      } finally {
        save.disabled = false;
      }
    } },
    h("div", { class: "form-grid" },
      field("Sender address", textInput(() => draft.FromEmail, (v) => { draft.FromEmail = v; }, { id: "email-from", type: "email", autocomplete: "off" })),
      field("Sender name", textInput(() => draft.FromName, (v) => { draft.FromName = v; }, { id: "email-from-name", autocomplete: "off" }))),
    field("Delivery", mode, "The test email uses the settings on screen, saved or not."),
    smtp,
    h("div", { class: "form-actions" }, save),
    h("div", { class: "inline-form", style: "margin-top:16px" }, field("Test recipient", recipient), test)));
  };

  call(EMAIL_GET).then(
    (options) => { draft = options || {}; draw(); },
    (err) => clear(box, err.notBuilt ? notAvailable("Email settings are", EMAIL_GET) : notice("error", err.message)),
  );
  return h("section", { class: "card", id: "email-card" }, h("h2", {}, "Email"), h("p", { class: "muted" }, "How this server sends backup reports, bulletins and test emails."), errorBox, box);
}

function checkboxInput(get, set, id) {
  const input = h("input", { type: "checkbox", id, checked: !!get() });
  input.addEventListener("change", () => set(input.checked));
  return input;
}

export function renderSettings(main) {
  const server = h("div", {}, spinner());
  call("/api/v1/admin/meta/server-config/get").then(
    (config) => clear(server,
      h("details", { class: "advanced" }, h("summary", {}, "Show the configuration"),
        h("p", { class: "muted" }, "The whole cometd.cfg as the API returns it, secrets obscured."),
        h("pre", { class: "code" }, JSON.stringify(config, null, 2)))),
    (err) => clear(server, err.notBuilt ? notAvailable("Server configuration is", "/api/v1/admin/meta/server-config/get") : notice("error", err.message)),
  );
  clear(
    main,
    pageHeader("Server settings", "Where events are sent and how email goes out"),
    webhooksCard(),
    emailCard(),
    h("section", { class: "card" }, h("h2", {}, "Configuration"), server),
  );
  return null;
}
