// Server settings (webhooks; the rest as its endpoints land) and the
// administrator's own account (two-factor enrolment).

import { call } from "./api.js";
import { h, clear, badge, button, field, modal, notAvailable, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";

export function renderSettings(main) {
  const hooks = h("div", {}, spinner());
  const hookError = h("div", {});
  const server = h("div", {}, spinner());
  let options = {};
  let saved = "{}";

  const drawHooks = () => {
    const entries = Object.entries(options);
    const dirty = JSON.stringify(options) !== saved;
    clear(
      hooks,
      table([
        { label: "Name", render: ([id]) => id },
        { label: "URL", render: ([, o]) => { const i = h("input", { class: "inline-input", value: o.URL || "", "aria-label": "Webhook URL" }); i.addEventListener("input", () => { o.URL = i.value; drawDirty(); }); return i; } },
        { label: "Detail", render: ([, o]) => { const s = h("select", { "aria-label": "Detail level" }, h("option", { value: "full" }, "Full events"), h("option", { value: "none" }, "Type only")); s.value = o.Level || "full"; s.addEventListener("change", () => { o.Level = s.value; drawDirty(); }); return s; } },
        { label: "Events", render: ([, o]) => ((o.WhiteListedEventTypes || []).length ? `${o.WhiteListedEventTypes.length} types` : "All") },
        { label: "", class: "row-actions", render: ([id]) => button("Remove", () => { delete options[id]; drawHooks(); }, { kind: "danger", class: "btn btn-danger btn-sm" }) },
      ], entries, { empty: "No webhooks: events are not sent anywhere" }),
      h("div", { class: "btn-row" },
        button("Add webhook", () => modal("New webhook", (close, dialogError) => {
          const name = h("input", { id: "hook-name", required: true, autocomplete: "off" });
          const url = h("input", { id: "hook-url", type: "url", required: true, placeholder: "https://example.com/hook" });
          return h("form", { class: "dialog-body", onsubmit: (event) => {
            event.preventDefault();
            const key = name.value.trim();
            if (options[key]) {
              clear(dialogError, notice("error", "A webhook with this name exists already."));
              return;
            }
            options[key] = { URL: url.value.trim(), Level: "full", CustomHeaders: {}, WhiteListedEventTypes: [] };
            close();
            drawHooks();
          } },
          field("Name", name),
          field("URL", url, "Receives a POST of every event as JSON."),
          h("p", { class: "muted small" }, "Save the webhooks afterwards to start deliveries."),
          h("div", { class: "dialog-actions" }, button("Cancel", close), h("button", { type: "submit", class: "btn btn-primary" }, "Add")));
        })),
        saveButton,
      ),
    );
    saveButton.disabled = !dirty;
  };
  const drawDirty = () => { saveButton.disabled = JSON.stringify(options) === saved; };
  const saveButton = button("Save webhooks", async () => {
    try {
      await call("/api/v1/admin/meta/webhook-options/set", { WebhookOptions: options });
      saved = JSON.stringify(options);
      clear(hookError);
      toast("Webhooks saved");
      drawHooks();
    } catch (err) {
      showError(hookError, err);
    }
  }, { kind: "primary" });

  call("/api/v1/admin/meta/webhook-options/get").then(
    (data) => { options = data || {}; saved = JSON.stringify(options); drawHooks(); },
    (err) => clear(hooks, err.notBuilt ? notAvailable("Webhooks are", "/api/v1/admin/meta/webhook-options/get") : notice("error", err.message)),
  );
  call("/api/v1/admin/meta/server-config/get").then(
    (config) => clear(server, h("pre", { class: "code" }, JSON.stringify(config, null, 2))),
    (err) => clear(server, err.notBuilt ? notAvailable("Server configuration is", "/api/v1/admin/meta/server-config/get") : notice("error", err.message)),
  );
  clear(
    main,
    pageHeader("Server settings"),
    h("section", { class: "card" }, h("h2", {}, "Webhooks"), h("p", { class: "muted" }, "Every event of the server is POSTed as JSON to these addresses."), hookError, hooks),
    h("section", { class: "card" }, h("h2", {}, "Configuration"), server),
  );
  return null;
}

/// Two-factor enrolment shared by administrators and end users.
export function totpCard({ enabled, regenerate, validate }) {
  const box = h("div", {});
  const errorBox = h("div", {});
  const idle = () => clear(box,
    h("p", {}, "Status: ", enabled ? badge("On", "ok") : badge("Off", "neutral")),
    h("p", { class: "muted" }, enabled ? "Sign-in asks for a code from your authenticator app." : "Add a code from an authenticator app to your password when signing in."),
    button(enabled ? "Set up a new authenticator" : "Turn on two-factor authentication", start, { kind: "secondary", id: "totp-start" }));
  const start = async () => {
    try {
      const answer = await regenerate();
      const code = h("input", { id: "totp-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 8 });
      clear(box,
        h("p", {}, "Scan this code with your authenticator app, then enter the code it shows."),
        h("img", { src: answer.Image, alt: "QR code of the TOTP secret", class: "qr", width: 180, height: 180 }),
        h("p", { class: "muted small" }, "Or enter the secret: ", h("code", {}, (answer.URL.match(/secret=([^&]+)/) || [])[1] || "")),
        field("Code", code),
        h("div", { class: "btn-row" }, button("Cancel", idle), button("Confirm", async () => {
          try {
            await validate(code.value.trim());
            enabled = true;
            clear(errorBox);
            toast("Two-factor authentication is on");
            idle();
          } catch (err) {
            showError(errorBox, err);
          }
        }, { kind: "primary", id: "totp-confirm" })));
    } catch (err) {
      showError(errorBox, err);
    }
  };
  idle();
  return h("section", { class: "card" }, h("h2", {}, "Two-factor authentication"), errorBox, box);
}

export function renderMyAccount(main, ctx) {
  const body = h("div", {}, spinner());
  clear(main, pageHeader("My account", `Administrator ${ctx.session.username}`), body);
  call("/api/v1/admin/account/properties").then(
    (props) => {
      const security = props.Security || {};
      clear(body,
        h("section", { class: "card" }, h("h2", {}, "Access"),
          h("dl", { class: "facts" },
            h("dt", {}, "Tenant"), h("dd", {}, props.OrganizationID || "Top level"),
            h("dt", {}, "Password sign-in"), h("dd", {}, security.AllowPasswordLogin ? "allowed alone" : "needs a second factor"),
            h("dt", {}, "Address restriction"), h("dd", {}, security.IPWhitelist || "none"))),
        totpCard({
          enabled: security.AllowPasswordAndTOTPLogin && !security.AllowPasswordLogin,
          regenerate: () => call("/api/v1/admin/account/regenerate-totp"),
          validate: (code) => call("/api/v1/admin/account/validate-totp", { TOTPCode: code }),
        }));
    },
    (err) => clear(body, notice("error", err.message)),
  );
  return null;
}
