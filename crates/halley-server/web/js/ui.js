// Small DOM helpers: elements are built with properties and text nodes, never
// from HTML strings, so nothing the API returns can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  let initial;
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "value") {
      initial = value;
      continue;
    }
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  if (initial !== undefined) el.value = initial;
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function formatBytes(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (value >= 1024 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/// A Unix time in the viewer's time zone.
export function formatDate(seconds) {
  const n = Number(seconds) || 0;
  if (n <= 0) return "—";
  return new Date(n * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatDay(seconds) {
  const n = Number(seconds) || 0;
  if (n <= 0) return "—";
  return new Date(n * 1000).toLocaleDateString(undefined, { dateStyle: "medium" });
}

export function formatTime(seconds) {
  return new Date((Number(seconds) || 0) * 1000).toLocaleTimeString();
}

export function notice(kind, ...children) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

export function pageHeader(title, subtitle, ...actions) {
  return h(
    "header",
    { class: "page-header" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions.length ? h("div", { class: "actions" }, ...actions) : null,
  );
}

/// A page header, and the banner where its saves report, that stay in view
/// while the form below them scrolls.
export function stickyHeader(header, banner) {
  return h("div", { class: "editor-header" }, header, banner);
}

export function button(label, onclick, { kind = "secondary", type = "button", ...rest } = {}) {
  return h("button", { type, class: `btn btn-${kind}`, onclick, ...rest }, label);
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  if (input.type === "checkbox") {
    return h("div", { class: "field field-check" }, input, h("label", { for: id }, label), hint ? h("small", { class: "hint" }, hint) : null);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { class: "hint" }, hint) : null);
}

export function toast(message, kind = "ok") {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast toast-${kind}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), 4000);
}

/// A modal dialog; `build(close, errorBox)` returns its body. The dialog
/// stays open on error so nothing typed is lost.
export function modal(title, build) {
  const errorBox = h("div", { class: "dialog-error" });
  const dialog = h("dialog", { class: "dialog", "aria-label": title });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.append(
    h("div", { class: "dialog-head" }, h("h2", {}, title), h("button", { type: "button", class: "icon-btn", "aria-label": "Close", onclick: close }, "×")),
    errorBox,
    build(close, errorBox),
  );
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector("input, select, textarea");
  if (first) first.focus();
  return dialog;
}

export function showError(box, err) {
  clear(box, notice("error", err.message || String(err)));
}

/// Confirms a destructive action in a dialog. `run()` is awaited; on error the
/// dialog stays open with the message. With `typeToConfirm`, the user types
/// that text first.
export function confirmDialog(title, text, label, run, { typeToConfirm } = {}) {
  return modal(title, (close, dialogError) => {
    const typed = typeToConfirm ? h("input", { id: "confirm-text", autocomplete: "off", required: true, spellcheck: "false" }) : null;
    const submit = h("button", { type: "submit", class: "btn btn-danger", id: "confirm-submit" }, label);
    return h(
      "form",
      { class: "dialog-body", onsubmit: async (event) => {
        event.preventDefault();
        if (typed && typed.value.trim() !== typeToConfirm) {
          clear(dialogError, notice("error", `Type ${typeToConfirm} exactly to confirm.`));
          return;
        }
        submit.disabled = true;
        try {
          await run();
          close();
        } catch (err) {
          showError(dialogError, err);
        } finally {
          submit.disabled = false;
        }
      } },
      h("p", {}, text),
      typed ? field(`Type ${typeToConfirm} to confirm`, typed) : null,
      h("div", { class: "dialog-actions" }, button("Cancel", close), submit),
    );
  });
}

/// A checkbox bound to `get`/`set`; `onchange` runs after each change.
export function checkbox(label, get, set, { id, hint, onchange, disabled } = {}) {
  const input = h("input", { type: "checkbox", id, checked: !!get(), disabled });
  input.addEventListener("change", () => {
    set(input.checked);
    if (onchange) onchange();
  });
  return field(label, input, hint);
}

/// A text (or other) input bound to `get`/`set`.
export function textInput(get, set, { onchange, ...attrs } = {}) {
  const input = h("input", { ...attrs, value: get() ?? "" });
  input.addEventListener("input", () => {
    set(attrs.type === "number" ? (input.value === "" ? 0 : Number(input.value)) : input.value);
    if (onchange) onchange();
  });
  return input;
}

/// Lines of a textarea as a list, blank lines dropped.
export function lines(text) {
  return String(text).split(/\n/).map((s) => s.trim()).filter(Boolean);
}

export const clone = (value) => JSON.parse(JSON.stringify(value));

/// The "not available on this server yet" state of an area whose endpoint
/// answers 501.
export function notAvailable(what, endpointPath) {
  return h(
    "div",
    { class: "empty-state not-built" },
    h("div", { class: "empty-icon", "aria-hidden": "true" }, "◌"),
    h("h3", {}, `${what} not available on this server yet`),
    h(
      "p",
      { class: "muted" },
      "This server does not provide ",
      h("code", {}, endpointPath),
      " yet. This view fills in by itself once it does.",
    ),
  );
}

export function emptyState(title, text, ...actions) {
  return h("div", { class: "empty-state" }, h("h3", {}, title), text ? h("p", { class: "muted" }, text) : null, ...actions);
}

export function badge(text, kind = "neutral") {
  return h("span", { class: `badge badge-${kind}` }, text);
}

export function table(columns, rows, { empty = "Nothing to show" } = {}) {
  if (!rows.length) return emptyState(empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.render(row)))))),
    ),
  );
}

export function spinner(text = "Loading…") {
  return h("div", { class: "loading" }, h("span", { class: "spin", "aria-hidden": "true" }), text);
}

export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

const ICONS = {
  dashboard: "M3 3h7v9H3zM14 3h7v5h-7zM14 12h7v9h-7zM3 16h7v5H3z",
  accounts: "M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8M22 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75",
  jobs: "M21 12a9 9 0 1 1-3-6.7L21 8M21 3v5h-5",
  devices: "M4 5h16v11H4zM2 20h20M9 16v4M15 16v4",
  policies: "M12 2l8 4v6c0 5-3.5 8.5-8 10-4.5-1.5-8-5-8-10V6z",
  groups: "M3 7h18M3 12h18M3 17h18",
  tenants: "M3 21h18M5 21V7l7-4 7 4v14M9 21v-6h6v6",
  admins: "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-2.9 1.2V21a2 2 0 1 1-4 0v-.1A1.7 1.7 0 0 0 7 19.4l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0-1.2-2.9H3a2 2 0 1 1 0-4h.1A1.7 1.7 0 0 0 4.6 7l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 2.9-1.2V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 2.9 1.2l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0 1.2 2.9H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1",
  settings: "M4 21v-7M4 10V3M12 21v-9M12 8V3M20 21v-5M20 12V3M1 14h6M9 8h6M17 16h6",
  items: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6",
  vaults: "M12 8c4.4 0 8-1.3 8-3s-3.6-3-8-3-8 1.3-8 3 3.6 3 8 3M4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  security: "M5 11h14v10H5zM8 11V7a4 4 0 0 1 8 0v4",
  menu: "M3 6h18M3 12h18M3 18h18",
};

/// A stroke icon from a small built-in set.
export function icon(name, size = 18) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  for (const [key, value] of Object.entries({ viewBox: "0 0 24 24", width: size, height: size, fill: "none", stroke: "currentColor", "stroke-width": 1.8, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true", class: "icon" })) {
    svg.setAttribute(key, String(value));
  }
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || ICONS.groups);
  svg.append(path);
  return svg;
}

/// A keyboard-reachable menu of further actions.
export function menu(label, items) {
  const details = h("details", { class: "menu" });
  const close = () => details.removeAttribute("open");
  details.append(
    h("summary", { class: "btn btn-secondary btn-sm" }, label, h("span", { class: "caret", "aria-hidden": "true" }, "▾")),
    h("div", { class: "menu-list", role: "menu" }, items.filter(Boolean).map(([text, onclick, kind]) => h("button", { type: "button", role: "menuitem", class: `menu-item ${kind === "danger" ? "menu-danger" : ""}`, onclick: () => { close(); onclick(); } }, text))),
  );
  // Fixed position, so that a scrolling table does not clip the list.
  details.addEventListener("toggle", () => {
    if (!details.open) return;
    const list = details.querySelector(".menu-list");
    const box = details.querySelector("summary").getBoundingClientRect();
    const width = Math.max(list.offsetWidth, 200);
    list.style.left = `${Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8))}px`;
    const below = box.bottom + 4;
    list.style.top = below + list.offsetHeight > window.innerHeight - 8 ? `${Math.max(8, box.top - list.offsetHeight - 4)}px` : `${below}px`;
    const first = list.querySelector("button");
    if (first) first.focus();
  });
  const closeOutside = (event) => {
    if (!details.isConnected) document.removeEventListener("click", closeOutside);
    else if (!details.contains(event.target)) close();
  };
  document.addEventListener("click", closeOutside);
  window.addEventListener("scroll", close, { passive: true, capture: true });
  details.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      close();
      details.querySelector("summary").focus();
    }
  });
  return details;
}
