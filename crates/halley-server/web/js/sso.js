// The postMessage API of the Comet web interface: announce `app_loaded` to the
// opener or parent, then accept `session_login` and `user_session_login`
// from allowed origins (any origin without an allowlist; this page's own
// origin always, for "sign in as this user" tabs).

export function startMessaging(config, signIn) {
  const allowlist = config.AnyOrigin === false ? new Set(config.AllowedOrigins || []) : null;
  const allowed = (origin) => origin === location.origin || !allowlist || allowlist.has(origin);

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || typeof data !== "object" || typeof data.msg !== "string") return;
    if (data.msg !== "session_login" && data.msg !== "user_session_login") return;
    if (!allowed(event.origin)) {
      console.warn(`postMessage from ${event.origin} ignored: not an allowed origin`);
      return;
    }
    const kind = data.msg === "session_login" ? "admin" : "user";
    signIn(kind, String(data.username ?? ""), String(data.sessionkey ?? ""));
  });

  const targets = [];
  if (window.opener && window.opener !== window) targets.push(window.opener);
  if (window.parent && window.parent !== window) targets.push(window.parent);
  const origins = allowlist ? [location.origin, ...allowlist] : ["*"];
  for (const target of targets) {
    for (const origin of origins) {
      try {
        target.postMessage({ msg: "app_loaded" }, origin);
      } catch (err) {
        // A closed opener or a malformed origin: nothing to tell.
      }
    }
  }
}

/// Opens this interface in a new tab signed in as an end user, through the
/// same postMessage API a portal would use.
export function openAsUser(username, keyPromise) {
  const tab = window.open("/", "_blank");
  if (!tab) return false;
  let key = null;
  let loaded = false;
  const send = () => {
    if (key && loaded) {
      tab.postMessage({ msg: "user_session_login", username, sessionkey: key }, location.origin);
      window.removeEventListener("message", listener);
    }
  };
  const listener = (event) => {
    if (event.source === tab && event.origin === location.origin && event.data?.msg === "app_loaded") {
      loaded = true;
      send();
    }
  };
  window.addEventListener("message", listener);
  keyPromise.then(
    (value) => {
      key = value;
      send();
    },
    () => tab.close(),
  );
  return true;
}
