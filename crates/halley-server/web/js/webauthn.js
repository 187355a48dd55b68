// Security keys in the browser: the server's options (binary fields in
// base64, as the API writes them) to what navigator.credentials takes, and
// the key's answer back to JSON.

function toBuffer(text) {
  const plain = String(text).replace(/-/g, "+").replace(/_/g, "/");
  const padded = plain + "=".repeat((4 - (plain.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
}

function toText(buffer) {
  if (!buffer) return null;
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBuffer(c.id) }));

export const securityKeysAvailable = () => !!(window.PublicKeyCredential && navigator.credentials);

/// Registers a new key: the `PublicKeyCredential` as JSON.
export async function createCredential(options) {
  const publicKey = { ...options, challenge: toBuffer(options.challenge), user: { ...options.user, id: toBuffer(options.user.id) }, excludeCredentials: withIds(options.excludeCredentials) };
  const credential = await navigator.credentials.create({ publicKey });
  return JSON.stringify({
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response: { attestationObject: toText(credential.response.attestationObject), clientDataJSON: toText(credential.response.clientDataJSON) },
    extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
  });
}

/// Signs a sign-in challenge (a `WebAuthnSignRequest`): the
/// `WebAuthnSignResponse` to send as `WebAuthnSign`.
export async function signChallenge(request) {
  const options = request.Assertion.publicKey;
  const publicKey = { ...options, challenge: toBuffer(options.challenge), allowCredentials: withIds(options.allowCredentials) };
  const credential = await navigator.credentials.get({ publicKey });
  const response = credential.response;
  return JSON.stringify({
    ChallengeID: request.ChallengeID,
    CredentialJSON: JSON.stringify({
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: { authenticatorData: toText(response.authenticatorData), clientDataJSON: toText(response.clientDataJSON), signature: toText(response.signature), userHandle: toText(response.userHandle) },
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    }),
  });
}
