// Sign-in: HybridSessionStart with the password, then, when the server answers
// HTTP 449, a second step: the security key (X-Comet-U2F-Challenge) or the
// TOTP code (X-Comet-TOTP-Requested).

import { call } from "./api.js";
import { h, clear, notice } from "./ui.js";
import { securityKeysAvailable, signChallenge } from "./webauthn.js";

const START = "/api/v1/hybrid/session/start";

export function renderSignIn({ brand, message, signedIn }) {
  const errorBox = h("div", { class: "form-error", id: "signin-error" }, message ? notice("error", message) : null);
  const username = h("input", { name: "username", id: "signin-username", autocomplete: "username", required: true, autocapitalize: "off", spellcheck: "false" });
  const password = h("input", { name: "password", id: "signin-password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "signin-submit" }, "Sign in");
  const card = h("div", { class: "signin-card" });
  const brandName = brand.BrandName || "Halley";

  const finish = (answer, user) => {
    const kind = answer.SessionType === "user" ? "user" : "admin";
    signedIn({ kind, username: user, key: answer.SessionKey });
  };

  const busy = (el, on, label) => {
    el.disabled = on;
    el.textContent = on ? "Signing in…" : label;
  };

  const totpStep = (user, pass) => {
    const code = h("input", { name: "totp", id: "signin-totp", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9 ]*", maxlength: 8, required: true });
    const verify = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "signin-verify" }, "Verify");
    const totpError = h("div", { class: "form-error", id: "signin-error" });
    const form = h(
      "form",
      { class: "signin-form", onsubmit: async (event) => {
        event.preventDefault();
        busy(verify, true, "Verify");
        try {
          const answer = await call(START, {}, { auth: { Username: user, AuthType: "PasswordTOTP", Password: pass, TOTP: code.value.replace(/\s/g, "") } });
          finish(answer, user);
        } catch (err) {
          clear(totpError, notice("error", err.status === 403 ? "That code was not accepted. Wait for the next code and try again." : err.message));
          code.select();
        } finally {
          busy(verify, false, "Verify");
        }
      } },
      h("h2", {}, "Two-factor authentication"),
      h("p", { class: "muted" }, `Enter the 6-digit code from the authenticator app for ${user}.`),
      totpError,
      h("div", { class: "field" }, h("label", { for: "signin-totp" }, "Authentication code"), code),
      verify,
      h("button", { type: "button", class: "btn btn-link", onclick: () => location.reload() }, "Use another account"),
    );
    clear(card, logo(), form);
    code.focus();
  };

  /// The security key signs the server's challenge; a key that fails
  /// asks the server for a new challenge (each is good once).
  const keyStep = (user, pass, challenge, totpToo) => {
    const useKey = h("button", { type: "submit", class: "btn btn-primary btn-block", id: "signin-use-key" }, "Use security key");
    const keyError = h("div", { class: "form-error", id: "signin-error" });
    let current = challenge;
    const form = h(
      "form",
      { class: "signin-form", onsubmit: async (event) => {
        event.preventDefault();
        busy(useKey, true, "Use security key");
        try {
          if (!securityKeysAvailable()) throw new Error("This browser cannot use security keys.");
          const sign = await signChallenge(current);
          const answer = await call(START, {}, { auth: { Username: user, AuthType: "PasswordWebAuthn", Password: pass, WebAuthnSign: sign } });
          finish(answer, user);
        } catch (err) {
          clear(keyError, notice("error", err.status === 403 ? "The security key was not accepted." : err.message || String(err)));
          try {
            await call(START, {}, { auth: { Username: user, AuthType: "Password", Password: pass } });
          } catch (again) {
            if (again.webauthn) current = again.webauthn;
          }
        } finally {
          busy(useKey, false, "Use security key");
        }
      } },
      h("h2", {}, "Security key"),
      h("p", { class: "muted" }, `Insert or touch the security key of ${user}.`),
      keyError,
      useKey,
      totpToo ? h("button", { type: "button", class: "btn btn-link", id: "signin-use-totp", onclick: () => totpStep(user, pass) }, "Use an authenticator code instead") : null,
      h("button", { type: "button", class: "btn btn-link", onclick: () => location.reload() }, "Use another account"),
    );
    clear(card, logo(), form);
    useKey.focus();
  };

  const form = h(
    "form",
    { class: "signin-form", onsubmit: async (event) => {
      event.preventDefault();
      busy(submit, true, "Sign in");
      try {
        const answer = await call(START, {}, { auth: { Username: username.value.trim(), AuthType: "Password", Password: password.value } });
        finish(answer, username.value.trim());
      } catch (err) {
        if (err.webauthn) {
          keyStep(username.value.trim(), password.value, err.webauthn, err.totp);
          return;
        }
        if (err.totp) {
          totpStep(username.value.trim(), password.value);
          return;
        }
        clear(errorBox, notice("error", err.status === 403 ? "The username or password is not right." : err.message));
        password.select();
      } finally {
        busy(submit, false, "Sign in");
      }
    } },
    h("h2", {}, "Sign in"),
    h("p", { class: "muted" }, "Administrators and account holders sign in here."),
    errorBox,
    h("div", { class: "field" }, h("label", { for: "signin-username" }, "Username"), username),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    submit,
  );

  function logo() {
    return h("div", { class: "signin-brand" }, h("img", { src: "/app/favicon.svg", alt: "", width: 40, height: 40 }), h("span", {}, brandName));
  }

  clear(card, logo(), form);
  setTimeout(() => username.focus(), 0);
  return h("div", { class: "signin-page" }, card, h("p", { class: "signin-foot muted" }, `${brandName} backup management`));
}
