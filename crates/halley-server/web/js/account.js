// The signed-in administrator's own account (password, two-factor
// authentication), and the two-factor enrolment card end users share.

import { call, renewSession } from "./api.js";
import { h, clear, badge, button, confirmDialog, field, formatDate, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";
import { createCredential, securityKeysAvailable } from "./webauthn.js";

const PROPERTIES = "/api/v1/admin/account/properties";
const SET_PROPERTIES = "/api/v1/admin/account/set-properties";

/// Two-factor enrolment shared by administrators and end users.
export function totpCard({ enabled, regenerate, validate, disable, changed }) {
  const box = h("div", {});
  const errorBox = h("div", {});
  const idle = () => clear(box,
    h("p", {}, "Status: ", enabled ? badge("On", "ok") : badge("Off", "neutral"), " ", h("span", { id: "totp-status", class: "muted" }, enabled ? "Sign-in asks for a code from your authenticator app." : "Sign-in asks for your password only.")),
    h("div", { class: "btn-row" },
      button(enabled ? "Set up a new authenticator" : "Turn on two-factor authentication", start, { kind: enabled ? "secondary" : "primary", id: "totp-start" }),
      enabled && disable ? button("Turn off", async () => {
        try {
          await disable();
          enabled = false;
          clear(errorBox, notice("ok", "Two-factor authentication is off."));
          idle();
          if (changed) changed();
        } catch (err) {
          showError(errorBox, err);
        }
      }, { kind: "danger", id: "totp-disable" }) : null));
  const start = async () => {
    try {
      const answer = await regenerate();
      const secret = (String(answer.URL).match(/[?&]secret=([^&]+)/) || [])[1] || "";
      const code = h("input", { id: "totp-code", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 8, required: true });
      const confirm = h("button", { type: "submit", class: "btn btn-primary", id: "totp-confirm" }, "Confirm");
      clear(errorBox);
      clear(box, h("form", { onsubmit: async (event) => {
        event.preventDefault();
        confirm.disabled = true;
        try {
          await validate(code.value.replace(/\s/g, ""));
          enabled = true;
          clear(errorBox, notice("ok", "Two-factor authentication is on. Sign-in now asks for a code."));
          toast("Two-factor authentication is on");
          idle();
          if (changed) changed();
        } catch (err) {
          showError(errorBox, err);
          code.select();
        } finally {
          confirm.disabled = false;
        }
      } },
      enabled ? notice("warn", "The previous authenticator no longer works: finish this setup before you sign out.") : null,
      h("p", {}, "Scan this code with your authenticator app, then enter the code it shows."),
      answer.Image ? h("img", { src: answer.Image, alt: "QR code of the two-factor secret", class: "qr", width: 180, height: 180 }) : null,
      h("p", { class: "muted small" }, "Or enter this secret by hand: ", h("code", { class: "secret", id: "totp-secret", dataset: { url: answer.URL } }, secret)),
      field("Code from the app", code),
      h("div", { class: "btn-row" }, button("Cancel", () => { clear(errorBox); idle(); }), confirm)));
      code.focus();
    } catch (err) {
      showError(errorBox, err);
    }
  };
  idle();
  return h("section", { class: "card", id: "totp-card" }, h("h2", {}, "Two-factor authentication"), errorBox, box);
}

/// The password form. The API changes an administrator's password only in a
/// call authenticated with the current one (and the TOTP code when the
/// account needs it), so those are sent as the credentials of that call.
function passwordCard(ctx, getSecurity) {
  const old = h("input", { type: "password", id: "admin-pw-old", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", id: "admin-pw-new", autocomplete: "new-password", required: true, minlength: 8 });
  const again = h("input", { type: "password", id: "admin-pw-again", autocomplete: "new-password", required: true });
  const code = h("input", { id: "admin-pw-totp", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 8 });
  const codeField = field("Code from your authenticator app", code);
  codeField.hidden = true;
  const errorBox = h("div", { id: "admin-pw-result" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", id: "admin-pw-submit" }, "Change password");
  return h("section", { class: "card" },
    h("h2", {}, "Password"),
    errorBox,
    h("form", { onsubmit: async (event) => {
      event.preventDefault();
      if (next.value !== again.value) {
        clear(errorBox, notice("error", "The new passwords do not match."));
        again.select();
        return;
      }
      submit.disabled = true;
      const totp = codeField.hidden ? "" : code.value.replace(/\s/g, "");
      try {
        const security = { ...(await getSecurity()), Password: next.value };
        const auth = totp
          ? { Username: ctx.session.username, AuthType: "PasswordTOTP", Password: old.value, TOTP: totp }
          : { Username: ctx.session.username, AuthType: "Password", Password: old.value };
        await call(SET_PROPERTIES, { Security: security }, { auth });
        const renewed = await renewSession(next.value);
        old.value = next.value = again.value = code.value = "";
        codeField.hidden = true;
        clear(errorBox, notice("ok", renewed
          ? "Password changed. Use the new one the next time you sign in."
          : "Password changed. Your sessions have ended: sign in again with the new password."));
        toast("Password changed");
      } catch (err) {
        if (err.totp) {
          codeField.hidden = false;
          clear(errorBox, notice("info", "Enter the code from your authenticator app to confirm the change."));
          code.focus();
        } else if (err.status === 403 && err.message === "Unauthorised") {
          clear(errorBox, notice("error", totp ? "The current password or the code is not right." : "The current password is not right."));
          old.select();
        } else {
          showError(errorBox, err);
        }
      } finally {
        submit.disabled = false;
      }
    } },
    field("Current password", old),
    field("New password", next),
    field("New password again", again),
    codeField,
    submit));
}

/// The administrator's security keys: add (this address is the key's
/// relying party), remove, and whether sign-in asks for one.
function securityKeysCard(getSecurity, changed) {
  const box = h("div", { id: "security-keys" }, spinner());
  const errorBox = h("div", {});
  const save = async (change) => {
    const security = await getSecurity();
    change(security);
    await call(SET_PROPERTIES, { Security: security });
  };
  const draw = async () => {
    const security = await getSecurity();
    const keys = security.WebAuthnRegistrations || [];
    const required = !!security.AllowPasswordAndWebAuthnLogin && !security.AllowPasswordLogin;
    const description = h("input", { id: "key-description", placeholder: "Name of the key", autocomplete: "off" });
    const add = button("Add security key", async () => {
      clear(errorBox);
      try {
        if (!securityKeysAvailable()) throw new Error("This browser cannot use security keys.");
        const self = `${location.origin}/`;
        const challenge = await call("/api/v1/admin/account/webauthn/request-registration-challenge", { SelfAddress: self });
        const credential = await createCredential(challenge.CredentialCreationOptions);
        await call("/api/v1/admin/account/webauthn/submit-challenge-response", { SelfAddress: self, ChallengeID: challenge.ChallengeID, Credential: credential, Description: description.value.trim() });
        toast("Security key added");
        draw();
        changed();
      } catch (err) {
        showError(errorBox, err);
      }
    }, { kind: "primary", id: "add-security-key" });
    const toggle = button(required ? "Stop asking for a key" : "Ask for a key at sign-in", async () => {
      try {
        await save((s) => {
          s.AllowPasswordAndWebAuthnLogin = !required;
          s.AllowPasswordLogin = required && !s.AllowPasswordAndTOTPLogin;
        });
        toast(required ? "Sign-in no longer asks for a key" : "Sign-in now asks for a security key");
        draw();
        changed();
      } catch (err) {
        showError(errorBox, err);
      }
    }, { id: "require-security-key", disabled: !keys.length });
    clear(box,
      h("p", {}, "Status: ", required ? badge("On", "ok") : badge("Off", "neutral"), " ", h("span", { class: "muted", id: "security-key-status" }, required ? "Sign-in asks for one of these keys after the password." : "Sign-in does not ask for a key.")),
      table([
        { label: "Key", render: (k) => h("strong", { class: "key-name" }, k.Description || "Security key") },
        { label: "Added", render: (k) => formatDate(k.RegisterTime) },
        { label: "", class: "row-actions", render: (k) => button("Remove", () => confirmDialog(`Remove ${k.Description}?`, "It can no longer be used to sign in.", "Remove key", async () => {
          await save((s) => {
            s.WebAuthnRegistrations = (s.WebAuthnRegistrations || []).filter((r) => r.ID !== k.ID);
            if (!s.WebAuthnRegistrations.length) {
              s.AllowPasswordAndWebAuthnLogin = false;
              if (!s.AllowPasswordAndTOTPLogin) s.AllowPasswordLogin = true;
            }
          });
          toast("Security key removed");
          draw();
          changed();
        }), { class: "btn btn-danger btn-sm", "aria-label": `Remove ${k.Description}` }) },
      ], keys, { empty: "No security keys" }),
      field("New key", description, "Keys work on the address they were added on."),
      h("div", { class: "btn-row" }, add, toggle));
  };
  draw().catch((err) => clear(box, notice("error", err.message)));
  return h("section", { class: "card" }, h("h2", {}, "Security keys"), errorBox, box);
}

export function renderMyAccount(main, ctx) {
  const body = h("div", {}, spinner());
  clear(main, pageHeader("My account", `Administrator ${ctx.session.username}`), body);
  const getSecurity = async () => (await call(PROPERTIES)).Security || {};
  const access = h("section", { class: "card", id: "account-access" }, h("h2", {}, "Access"), spinner());
  const drawAccess = (props) => {
    const security = props.Security || {};
    clear(access, h("h2", {}, "Access"),
      h("dl", { class: "facts" },
        h("dt", {}, "Tenant"), h("dd", {}, props.OrganizationID || "Top level"),
        h("dt", {}, "Sign-in"), h("dd", { id: "account-signin-mode" }, security.AllowPasswordLogin ? "password alone" : security.AllowPasswordAndWebAuthnLogin ? "password and security key" : "password and authenticator code"),
        h("dt", {}, "Address restriction"), h("dd", {}, security.IPWhitelist || "none")));
  };
  const refresh = () => call(PROPERTIES).then(drawAccess, (err) => clear(access, notice("error", err.message)));
  call(PROPERTIES).then(
    (props) => {
      const security = props.Security || {};
      drawAccess(props);
      clear(body, access, h("div", { class: "grid-2" },
        passwordCard(ctx, getSecurity),
        totpCard({
          enabled: security.AllowPasswordAndTOTPLogin && !security.AllowPasswordLogin,
          regenerate: () => call("/api/v1/admin/account/regenerate-totp"),
          validate: (code) => call("/api/v1/admin/account/validate-totp", { TOTPCode: code }),
          disable: async () => call(SET_PROPERTIES, { Security: { ...(await getSecurity()), AllowPasswordLogin: true, AllowPasswordAndTOTPLogin: false } }),
          changed: refresh,
        }),
        securityKeysCard(getSecurity, refresh)));
    },
    (err) => clear(body, notice("error", err.message)),
  );
  return null;
}
