// The application shell: session, navigation, routing (in the URL fragment,
// so the server needs to know no page paths) and the postMessage API.

import { branding, call, setSession, webConfig, whenSessionLost, whenSessionRenewed } from "./api.js";
import { EventStream } from "./events.js";
import { h, clear, icon, toast } from "./ui.js";
import { startMessaging } from "./sso.js";
import { renderSignIn } from "./signin.js";
import { renderDashboard } from "./dashboard.js";
import { renderJobs } from "./jobs.js";
import { renderDevices } from "./devices.js";
import { ADMIN_SCOPE, renderDeviceView } from "./device.js";
import { renderAccounts } from "./accounts.js";
import { renderProfile } from "./profile.js";
import { renderPending, PENDING_AREAS } from "./pending.js";
import { renderSettings } from "./settings.js";
import { renderMyAccount } from "./account.js";
import { renderPolicies } from "./policies.js";
import { renderGroups } from "./groups.js";
import { renderTenants } from "./tenants.js";
import { renderAdmins } from "./admins.js";
import { renderStorage } from "./storage.js";
import { renderUser, USER_SECTIONS } from "./user.js";

const STORAGE_KEY = "halley.session";
const root = document.getElementById("app");

const app = {
  session: null,
  stream: null,
  brand: {},
  cleanup: null,
  signInMessage: null,
};

const ADMIN_NAV = [
  { path: "dashboard", label: "Dashboard", icon: "dashboard" },
  { path: "accounts", label: "Accounts", icon: "accounts" },
  { path: "jobs", label: "Jobs", icon: "jobs" },
  { path: "devices", label: "Devices", icon: "devices" },
  { path: "policies", label: "Policies", icon: "policies" },
  { path: "groups", label: "User groups", icon: "groups" },
  { path: "storage", label: "Storage", icon: "vaults" },
  { path: "tenants", label: "Tenants", icon: "tenants" },
  { path: "admins", label: "Administrators", icon: "admins" },
  { path: "settings", label: "Server settings", icon: "settings" },
  { path: "account", label: "My account", icon: "security" },
];

function saveSession(session) {
  app.session = session;
  setSession(session);
  try {
    if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch (err) {
    // Storage may be refused in a third-party frame; the session then lasts
    // as long as the page.
  }
  if (app.stream) {
    app.stream.close();
    app.stream = null;
  }
  if (session && session.kind === "admin") app.stream = new EventStream(session);
}

function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (saved && saved.username && saved.key && (saved.kind === "admin" || saved.kind === "user")) return saved;
  } catch (err) {
    // Ignore a damaged entry.
  }
  return null;
}

export function signedIn(session) {
  app.signInMessage = null;
  saveSession(session);
  const home = session.kind === "admin" ? "#/dashboard" : "#/me";
  if (location.hash !== home) location.hash = home;
  else route();
}

async function signOut({ revoke = true, message = null } = {}) {
  const session = app.session;
  if (revoke && session) {
    const path = session.kind === "admin" ? "/api/v1/admin/account/session-revoke" : "/api/v1/user/web/session/revoke";
    call(path).catch(() => {});
  }
  saveSession(null);
  app.signInMessage = message;
  if (location.hash !== "#/signin") location.hash = "#/signin";
  else route();
}

/// postMessage single sign-on: the key is checked with the API before anyone
/// is signed in; a bad key leaves nobody signed in.
async function ssoSignIn(kind, username, key) {
  const session = { kind, username, key, sso: true };
  saveSession(null);
  try {
    if (!username || !key) throw new Error("missing username or session key");
    setSession(session);
    if (kind === "admin") await call("/api/v1/admin/account/properties");
    else await call("/api/v1/user/web/get-user-profile-and-hash");
  } catch (err) {
    setSession(null);
    signOut({ revoke: false, message: "Single sign-on failed: the session key was not accepted. Sign in with your password." });
    return;
  }
  signedIn(session);
}

function shell(main) {
  const session = app.session;
  const brand = app.brand.BrandName || "Halley";
  const current = (location.hash.replace(/^#\//, "").split("/")[0]) || "";
  const items = session.kind === "admin" ? ADMIN_NAV : USER_SECTIONS;
  const nav = h(
    "nav",
    { class: "sidebar", id: "sidebar", "aria-label": "Main" },
    h("ul", {}, items.map((item) => {
      const target = session.kind === "admin" ? item.path : item.path ? `me/${item.path}` : "me";
      const here = location.hash.replace(/^#\//, "");
      const active = session.kind === "admin" ? current === item.path : here === target || (item.path && here.startsWith(`${target}/`));
      return h("li", {}, h("a", { href: `#/${target}`, class: active ? "active" : "", "aria-current": active ? "page" : null }, icon(item.icon), item.label));
    })),
  );
  const menuButton = h("button", { type: "button", class: "icon-btn menu-toggle", "aria-label": "Menu", "aria-controls": "sidebar", "aria-expanded": "false", onclick: () => {
    const open = document.body.classList.toggle("nav-open");
    menuButton.setAttribute("aria-expanded", String(open));
  } }, icon("menu", 22));
  const who = h(
    "div",
    { class: "who" },
    h("span", { class: "avatar", "aria-hidden": "true" }, session.username.slice(0, 1).toUpperCase()),
    h("span", { class: "who-name" }, h("strong", { id: "signed-in-user" }, session.username), h("small", {}, session.kind === "admin" ? "Administrator" : "Account")),
  );
  const top = h(
    "header",
    { class: "topbar" },
    menuButton,
    h("a", { class: "brand", href: session.kind === "admin" ? "#/dashboard" : "#/me" }, h("img", { src: "/app/favicon.svg", alt: "", width: 26, height: 26 }), h("span", {}, brand)),
    h("div", { class: "topbar-right" },
      who,
      h("button", { type: "button", class: "btn btn-ghost", id: "sign-out", onclick: () => signOut() }, "Sign out")),
  );
  return clear(root, h("a", { class: "skip", href: "#main" }, "Skip to content"), top, h("div", { class: "layout" }, nav, main));
}

function route() {
  if (app.cleanup) {
    try {
      app.cleanup();
    } catch (err) {
      console.error(err);
    }
    app.cleanup = null;
  }
  document.body.classList.remove("nav-open");
  for (const dialog of document.querySelectorAll("dialog")) dialog.remove();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const session = app.session;
  if (!session) {
    document.body.dataset.view = "signin";
    clear(root, renderSignIn({ brand: app.brand, message: app.signInMessage, signedIn }));
    return;
  }
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const ctx = { session, stream: app.stream, signOut, brand: app.brand };
  let view = parts[0];
  if (session.kind === "user") {
    if (view !== "me") {
      location.replace("#/me");
      return;
    }
    shell(main);
    document.body.dataset.view = `user-${parts[1] || "overview"}`;
    app.cleanup = renderUser(main, ctx, parts[1] || "", parts[2]);
    return;
  }
  if (!view || view === "signin" || view === "me") {
    location.replace("#/dashboard");
    return;
  }
  shell(main);
  document.body.dataset.view = view;
  if (view === "dashboard") app.cleanup = renderDashboard(main, ctx);
  else if (view === "accounts" && parts[1]) app.cleanup = renderProfile(main, ctx, parts[1]);
  else if (view === "accounts") app.cleanup = renderAccounts(main, ctx);
  else if (view === "jobs") app.cleanup = renderJobs(main, ctx, parts[1]);
  else if (view === "devices" && parts[2]) app.cleanup = renderDeviceView(main, ctx, ADMIN_SCOPE, parts[1], parts[2]);
  else if (view === "devices") app.cleanup = renderDevices(main, ctx);
  else if (view === "settings") app.cleanup = renderSettings(main, ctx);
  else if (view === "account") app.cleanup = renderMyAccount(main, ctx);
  else if (view === "policies") app.cleanup = renderPolicies(main, ctx, parts[1]);
  else if (view === "groups") app.cleanup = renderGroups(main, ctx, parts[1]);
  else if (view === "tenants") app.cleanup = renderTenants(main, ctx);
  else if (view === "storage") app.cleanup = renderStorage(main, ctx);
  else if (view === "admins") app.cleanup = renderAdmins(main, ctx);
  else if (PENDING_AREAS[view]) app.cleanup = renderPending(main, ctx, PENDING_AREAS[view]);
  else {
    clear(main, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/dashboard" }, "Back to the dashboard")));
  }
}

async function start() {
  const [brand, config] = await Promise.all([branding(), webConfig()]);
  app.brand = brand;
  if (brand.BrandName) document.title = brand.BrandName;
  whenSessionLost(() => {
    if (app.session) {
      toast("Your session has ended. Please sign in again.", "error");
      signOut({ revoke: false, message: "Your session has ended. Please sign in again." });
    }
  });
  whenSessionRenewed((key) => {
    if (app.session) saveSession({ ...app.session, key });
  });
  const saved = loadSession();
  if (saved) saveSession(saved);
  window.addEventListener("hashchange", route);
  route();
  startMessaging(config, ssoSignIn);
  document.body.dataset.ready = "1";
}

start();
