// The public API, called exactly as any client would: form-encoded POSTs
// carrying the session's credentials (AuthType=SessionKey).

export const NOT_BUILT = 501;

export class ApiError extends Error {
  constructor(message, status, { totp = false, webauthn = null } = {}) {
    super(message);
    this.status = status;
    this.totp = totp;
    // A security-key challenge (WebAuthnSignRequest), when the server asks for one.
    this.webauthn = webauthn;
  }
  get notBuilt() {
    return this.status === NOT_BUILT;
  }
}

let session = null;
let onSessionLost = () => {};

export function setSession(value) {
  session = value;
}

export function getSession() {
  return session;
}

export function whenSessionLost(handler) {
  onSessionLost = handler;
}

let onSessionRenewed = () => {};

export function whenSessionRenewed(handler) {
  onSessionRenewed = handler;
}

/// A password change ends every session of the account, this one too: sign
/// in again with the new password, so the page stays signed in. False when
/// that needs a second factor (the code just used cannot be used again).
export async function renewSession(password) {
  const path = session.kind === "admin" ? "/api/v1/admin/account/session-start" : "/api/v1/user/web/session/start";
  try {
    const answer = await call(path, {}, { auth: { Username: session.username, AuthType: "Password", Password: password } });
    onSessionRenewed(answer.SessionKey);
    return true;
  } catch (err) {
    return false;
  }
}

function encode(value) {
  if (value === true) return "1";
  if (value === false) return "0";
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/// POSTs `params` to `path`. `auth`: the session (default), or explicit
/// credential fields, or null for none.
export async function call(path, params = {}, { auth = "session" } = {}) {
  return answerOf(await send(path, params, auth), auth);
}

/// Saves the whole server configuration. The server restarts to apply it,
/// as a Comet Server does; this resolves once it answers again.
export async function saveServerConfig(config) {
  const version = "/api/v1/admin/meta/version";
  const before = (await call(version)).ServerStartHash;
  await call("/api/v1/admin/meta/server-config/set", { Config: config });
  for (let tries = 0; tries < 150; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      if ((await call(version)).ServerStartHash !== before) return;
    } catch (err) {
      // Still restarting.
    }
  }
  throw new ApiError("The server did not come back after saving its configuration", 503);
}

/// POSTs `params` to `path` for a file (a restore archive): gives it as a
/// Blob with the name the server suggests. An error answer throws.
export async function download(path, params = {}) {
  const response = await send(path, params, "session");
  if (response.ok && response.headers.get("Content-Type") === "application/octet-stream") {
    const disposition = response.headers.get("Content-Disposition") || "";
    const fileName = /filename="([^"]+)"/.exec(disposition)?.[1] || "download";
    return { blob: await response.blob(), fileName };
  }
  await answerOf(response, "session");
  throw new ApiError("The server answered without a file", response.status);
}

async function send(path, params, auth) {
  const body = new URLSearchParams();
  if (auth === "session") {
    if (!session) throw new ApiError("You are not signed in", 403);
    body.set("Username", session.username);
    body.set("AuthType", "SessionKey");
    body.set("SessionKey", session.key);
  } else if (auth) {
    for (const [key, value] of Object.entries(auth)) body.set(key, value);
  }
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) body.set(key, encode(value));
  }
  try {
    return await fetch(path, { method: "POST", body, credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError("The server could not be reached. Check your connection and try again.", 0);
  }
}

/// The JSON of an answer; an error answer (a message with `Status` 400 or
/// more, or a second factor asked for) throws.
async function answerOf(response, auth) {
  if (response.status === 449 || response.headers.get("X-Comet-TOTP-Requested") === "1") {
    const challenge = response.headers.get("X-Comet-U2F-Challenge");
    let webauthn = null;
    try {
      webauthn = challenge ? JSON.parse(challenge) : null;
    } catch (err) {
      webauthn = null;
    }
    const totp = !webauthn || response.headers.get("X-Comet-TOTP-Requested") === "1";
    throw new ApiError(webauthn ? "Use your security key" : "Enter the code from your authenticator app", 449, { totp, webauthn });
  }
  let data;
  try {
    data = await response.json();
  } catch (err) {
    throw new ApiError(`The server answered HTTP ${response.status} without a readable body`, response.status);
  }
  const isMessage = data && typeof data === "object" && !Array.isArray(data) && typeof data.Status === "number" && "Message" in data;
  if (isMessage && data.Status >= 400) {
    const error = new ApiError(data.Message || `Error ${data.Status}`, data.Status);
    if (auth === "session" && data.Status === 403 && data.Message === "Unauthorised") onSessionLost(error);
    throw error;
  }
  if (!response.ok) throw new ApiError(`The server answered HTTP ${response.status}`, response.status);
  return data;
}

export async function branding() {
  try {
    const response = await fetch("/gen/branding.props", { cache: "no-store" });
    return await response.json();
  } catch (err) {
    return {};
  }
}

export async function webConfig() {
  try {
    const response = await fetch("/app/config.json", { cache: "no-store" });
    return await response.json();
  } catch (err) {
    return { AnyOrigin: true, AllowedOrigins: [] };
  }
}
