// The Devices page: the lobby of devices waiting to be registered (first:
// they wait for the administrator), and every account's devices with their
// live state. Both follow the event stream.

import { call } from "./api.js";
import { h, clear, badge, button, confirmDialog, field, formatDate, modal, notAvailable, notice, pageHeader, showError, spinner, table, toast } from "./ui.js";

const LIVE = "/api/v1/admin/dispatcher/list-active";
const LOBBY = "/api/v1/admin/installation/list-active";

// SEVT_DEVICE_NEW, _REMOVED, _LIVE_CONNECT, _LIVE_DISCONNECT, _LOBBY_CONNECT,
// _LOBBY_DISCONNECT; and account changes, which carry the Devices map.
const RELOAD_ON = new Set([4700, 4701, 4702, 4703, 4704, 4705, 4100, 4101, 4102]);
const LIVE_DISCONNECT = 4703;

/// An `OSInfo` in words. The wire names are lower case; profiles written by
/// hand sometimes capitalise them.
export function platformName(os) {
  const o = os || {};
  return [o.distribution || o.Distribution, o.version || o.Version].filter(Boolean).join(" ");
}

const deviceKey = (username, deviceId) => `${username}\n${deviceId}`;

/// One row per device of every account, with its live connections (a device
/// may hold several: the service and a one-off command). A connection whose
/// device no profile lists yet (registered a moment ago) gets a row too.
function deviceRows(profiles, live) {
  const connections = new Map();
  for (const c of Object.values(live || {})) {
    const key = deviceKey(c.Username, c.DeviceID);
    connections.set(key, [...(connections.get(key) || []), c]);
  }
  const rows = [];
  for (const [username, profile] of Object.entries(profiles)) {
    for (const [id, device] of Object.entries(profile.Devices || {})) {
      const key = deviceKey(username, id);
      rows.push({ key, username, accountName: profile.AccountName, id, device: device || {}, connections: connections.get(key) || [] });
      connections.delete(key);
    }
  }
  for (const [key, list] of connections) {
    rows.push({ key, username: list[0].Username, id: list[0].DeviceID, device: {}, connections: list });
  }
  const name = (row) => row.device.FriendlyName || row.id;
  return rows.sort((a, b) => a.username.localeCompare(b.username) || name(a).localeCompare(name(b)));
}

const dash = (value) => value || h("span", { class: "muted" }, "—");
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function renderDevices(main, ctx) {
  const list = h("div", { id: "area-body" }, spinner());
  const lobbyList = h("div", { id: "lobby-list" }, spinner());
  const count = h("span", { class: "muted", id: "devices-count" });
  const lobbyCount = h("span", { class: "muted", id: "lobby-count" });
  const errorBox = h("div", {});
  let profiles = {};
  let live = null;
  // When this page saw each device go offline: the API keeps no "last seen".
  const lastSeen = new Map();

  const noteDisconnect = (event) => {
    const c = event.Data || {};
    if (event.Type === LIVE_DISCONNECT && c.DeviceID) lastSeen.set(deviceKey(c.Username, c.DeviceID), Number(event.Timestamp) || 0);
  };
  if (ctx.stream) [...ctx.stream.recent].reverse().forEach(noteDisconnect);

  const revoke = (row) => {
    const name = row.device.FriendlyName || row.id;
    confirmDialog(
      "Revoke device",
      `Revoke ${name} of ${row.username}? Its Protected Items and their schedules are removed, its connections end, and it must be registered again to back up. The account's Storage Vaults stay.`,
      "Revoke",
      async () => {
        await call("/api/v1/admin/revoke-device", { TargetUser: row.username, TargetDevice: row.id });
        delete profiles[row.username]?.Devices?.[row.id];
        if (live) for (const [id, c] of Object.entries(live)) if (deviceKey(c.Username, c.DeviceID) === row.key) delete live[id];
        draw();
        toast(`${name} revoked`);
      },
    );
  };

  const draw = () => {
    const rows = deviceRows(profiles, live);
    const online = rows.filter((r) => r.connections.length).length;
    count.textContent = live ? `${plural(rows.length, "device")}, ${online} online` : plural(rows.length, "device");
    clear(list, table([
      { label: "Account", render: (r) => h("div", { class: "cell-main" }, h("a", { href: `#/accounts/${encodeURIComponent(r.username)}` }, r.username), r.accountName && r.accountName !== r.username ? h("small", { class: "muted" }, r.accountName) : null) },
      { label: "Device", render: (r) => h("a", { href: `#/devices/${encodeURIComponent(r.username)}/${encodeURIComponent(r.id)}`, title: `Device ID ${r.id}`, class: "device-link", dataset: { deviceLink: r.id } }, r.device.FriendlyName || r.id) },
      { label: "Status", render: (r) => h("span", { class: "device-state", dataset: { stateOf: r.id } },
        !live ? badge("Unknown", "neutral") : r.connections.length ? badge("Online", "ok") : badge("Offline", "neutral")) },
      { label: "Platform", class: "hide-sm", render: (r) => {
        const c = r.connections[0];
        const words = platformName(c ? c.ReportedPlatformVersion : r.device.PlatformVersion);
        return h("div", { class: "cell-main" }, dash(words || c?.ReportedPlatform), words && c?.ReportedPlatform ? h("small", { class: "muted" }, c.ReportedPlatform) : null);
      } },
      { label: "Version", class: "hide-sm", render: (r) => dash(r.connections[0]?.ReportedVersion || r.device.ClientVersion) },
      { label: "Last seen", render: (r) => {
        if (r.connections.length) {
          const since = Math.min(...r.connections.map((c) => Number(c.ConnectionTime) || 0));
          const ip = r.connections[0].IPAddress;
          return h("div", { class: "cell-main" }, `Connected since ${formatDate(since)}`, ip ? h("small", { class: "muted" }, `from ${ip}`) : null);
        }
        const seen = lastSeen.get(r.key);
        return seen ? `Last seen ${formatDate(seen)}` : h("span", { class: "muted" }, `Registered ${formatDate(r.device.RegistrationTime)}`);
      } },
      { label: "", class: "row-actions", render: (r) => (profiles[r.username]?.Devices?.[r.id]
        ? button("Revoke", () => revoke(r), { class: "btn btn-danger btn-sm", dataset: { revoke: r.id }, "aria-label": `Revoke ${r.device.FriendlyName || r.id}` })
        : null) },
    ], rows, { empty: "No devices registered yet" }));
  };

  const registerDialog = (entry) => {
    const name = entry.FriendlyName || entry.DeviceID;
    modal(`Register ${name}`, (close, dialogError) => {
      const usernames = Object.keys(profiles).sort();
      const account = h("select", { id: "register-account", required: true },
        h("option", { value: "" }, "Choose an account"),
        usernames.map((u) => h("option", { value: u }, profiles[u].AccountName && profiles[u].AccountName !== u ? `${u} (${profiles[u].AccountName})` : u)));
      const password = h("input", { id: "register-password", type: "password", autocomplete: "off", required: true });
      const submit = h("button", { type: "submit", class: "btn btn-primary", id: "register-submit" }, "Register");
      return h(
        "form",
        { class: "dialog-body", onsubmit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          try {
            await call("/api/v1/admin/installation/dispatch/register-device", { DeviceID: entry.DeviceID, TargetUser: account.value, TargetPassword: password.value });
            close();
            toast(`${name} registered to ${account.value}`);
            load();
          } catch (err) {
            showError(dialogError, err);
          } finally {
            submit.disabled = false;
          }
        } },
        usernames.length ? null : notice("warn", "There are no accounts yet: create one first."),
        field("Account", account),
        field("Account password", password, "The server checks it, as if the device had signed in with it; the device then gets credentials of its own."),
        h("div", { class: "dialog-actions" }, button("Cancel", close), submit),
      );
    });
  };

  const drop = async (entry) => {
    try {
      await call("/api/v1/admin/installation/dispatch/drop-connection", { DeviceID: entry.DeviceID });
      clear(errorBox);
      toast(`${entry.FriendlyName || entry.DeviceID} was disconnected; it may come back to wait again`);
      loadLobby();
    } catch (err) {
      showError(errorBox, err);
    }
  };

  const drawLobby = (lobby) => {
    const rows = Object.values(lobby || {}).sort((a, b) => (Number(a.ConnectionTime) || 0) - (Number(b.ConnectionTime) || 0));
    lobbyCount.textContent = rows.length ? `${rows.length} waiting` : "";
    if (!rows.length) {
      clear(lobbyList, h("p", { class: "muted lobby-empty" }, "No devices are waiting. A device started without credentials (", h("code", {}, "halley-agent run --server URL"), ") waits here until you register it to an account."));
      return;
    }
    clear(lobbyList, table([
      { label: "Device", render: (d) => h("strong", { title: `Device ID ${d.DeviceID}` }, d.FriendlyName || d.DeviceID) },
      { label: "Platform", class: "hide-sm", render: (d) => {
        const words = platformName(d.ReportedPlatformVersion);
        return h("div", { class: "cell-main" }, dash(words || d.ReportedPlatform), words && d.ReportedPlatform ? h("small", { class: "muted" }, d.ReportedPlatform) : null);
      } },
      { label: "Version", class: "hide-sm", render: (d) => dash(d.ReportedVersion) },
      { label: "Address", class: "hide-md", render: (d) => h("div", { class: "cell-main" }, dash(d.IPAddress), d.Host ? h("small", { class: "muted" }, `via ${d.Host}`) : null) },
      { label: "Waiting since", class: "when", render: (d) => formatDate(d.ConnectionTime) },
      { label: "", class: "row-actions", render: (d) => h("div", { class: "btn-row" },
        button("Register to account…", () => registerDialog(d), { kind: "primary", class: "btn btn-primary btn-sm", dataset: { register: d.DeviceID }, "aria-label": `Register ${d.FriendlyName || d.DeviceID} to an account` }),
        button("Drop", () => drop(d), { class: "btn btn-secondary btn-sm", dataset: { drop: d.DeviceID }, title: "Close its connection" })) },
    ], rows));
  };

  const loadLobby = async () => {
    try {
      drawLobby(await call(LOBBY));
    } catch (err) {
      clear(lobbyList, err.notBuilt ? notAvailable("The registration lobby is", LOBBY) : notice("error", err.message));
    }
  };

  const load = async () => {
    loadLobby();
    try {
      const [users, connections] = await Promise.all([
        call("/api/v1/admin/list-users-full"),
        call(LIVE).catch((err) => {
          if (!err.notBuilt) throw err;
          return null;
        }),
      ]);
      profiles = users || {};
      live = connections;
      clear(errorBox, live ? null : notice("info", "Live connection state is not available on this server yet."));
      draw();
    } catch (err) {
      clear(list, notice("error", err.message));
    }
  };

  let unsubscribe = () => {};
  let timer = null;
  if (ctx.stream) {
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "event" && RELOAD_ON.has(change.event.Type)) {
        noteDisconnect(change.event);
        clearTimeout(timer);
        timer = setTimeout(load, 300);
      }
    });
  }

  clear(
    main,
    pageHeader("Devices", "Every account's devices, online or not, and devices waiting to be registered", button("Refresh", () => load(), { id: "devices-refresh" })),
    errorBox,
    h("section", { class: "card", id: "lobby-card" }, h("div", { class: "card-head" }, h("h2", {}, "Waiting for registration"), lobbyCount), lobbyList),
    h("section", { class: "card", id: "devices-card" }, h("div", { class: "card-head" }, h("h2", {}, "Registered devices"), count), list),
  );
  load();
  return () => {
    unsubscribe();
    clearTimeout(timer);
  };
}
