// The device view: one device of an account, and what can be done on it
// while it is connected (the dispatcher): back up a rule now, browse a
// Storage Vault's snapshots one directory at a time, search them, restore
// files or a whole snapshot, delete a snapshot, and the vault and software
// maintenance an administrator may start. Administrators and account
// holders share it; `scope` says which API they call.

import { call, download } from "./api.js";
import { h, clear, badge, button, confirmDialog, field, formatBytes, formatDate, menu, modal, notAvailable, notice, spinner, table, toast } from "./ui.js";
import { POLL_MS, isRunning, jobType, progressView, statusBadge } from "./jobs.js";
import { platformName } from "./devices.js";

export const ADMIN_SCOPE = {
  admin: true,
  dispatcher: "/api/v1/admin/dispatcher/",
  jobProperties: "/api/v1/admin/get-job-properties",
  jobsHref: "#/jobs",
  devicesHref: "#/devices",
  jobHref: (jobId) => `#/jobs/${encodeURIComponent(jobId)}`,
  profile: async (username) => call("/api/v1/admin/get-user-profile", { TargetUser: username }),
  connections: async (username) => call("/api/v1/admin/dispatcher/list-active", { UserNameFilter: username }),
};

export const USER_SCOPE = {
  admin: false,
  dispatcher: "/api/v1/user/web/dispatcher/",
  jobsHref: "#/me/jobs",
  devicesHref: "#/me/devices",
  profile: async () => (await call("/api/v1/user/web/get-user-profile-and-hash")).Profile || {},
  connections: async () => call("/api/v1/user/web/dispatcher/list-active"),
};

// SEVT_DEVICE_LIVE_CONNECT and _LIVE_DISCONNECT.
const LIVE_CHANGES = new Set([4702, 4703]);

const ARCHIVE_FORMATS = [
  [0, "tar"],
  [1, "tar.gz"],
  [2, "zip"],
  [4, "tar.zst"],
];

const RESTORE_FILES = 0;
const RESTORE_ARCHIVE = 5;

/// The device's live connection to call: the oldest, which is its service
/// (a one-off command of the agent may hold a newer one).
function serviceConnection(connections, username, deviceId) {
  const mine = Object.entries(connections || {}).filter(([, c]) => c.Username === username && c.DeviceID === deviceId);
  mine.sort(([, a], [, b]) => (Number(a.ConnectionTime) || 0) - (Number(b.ConnectionTime) || 0));
  return mine.length ? { targetId: mine[0][0], ...mine[0][1] } : null;
}

/// Calls `name` of the dispatcher on the device.
function dispatch(device, name, params = {}) {
  return call(device.scope.dispatcher + name, { TargetID: device.targetId, ...params });
}

/// The server's refusal in `box`, or "not available" while the endpoint is
/// not built (`Status` 501).
function showFailure(box, err, what, path) {
  clear(box, err.notBuilt ? notAvailable(what, path) : notice("error", err.message));
}

/// Runs a dispatcher call for an action; the refusal, if any, goes in `box`.
/// The answer when the device took it, else null.
async function perform(device, box, name, params, what) {
  try {
    const answer = await dispatch(device, name, params);
    clear(box);
    return answer;
  } catch (err) {
    showFailure(box, err, what, device.scope.dispatcher + name);
    return null;
  }
}

/// A button that stays disabled while its action runs.
function actionButton(label, run, attrs = {}) {
  const btn = button(label, async () => {
    btn.disabled = true;
    try {
      await run();
    } finally {
      btn.disabled = false;
    }
  }, attrs);
  return btn;
}

const nameOf = (map, id, fallback) => map?.[id]?.Description || fallback || id;

/// The jobs started from this view. Administrators follow each one's
/// status and progress; end users' calls answer without the job's ID, so
/// their entries point to the Jobs page.
function startedJobs(scope) {
  const list = h("ul", { class: "job-list", id: "device-jobs" });
  const endListeners = [];
  const card = h("section", { class: "card", hidden: true }, h("div", { class: "card-head" }, h("h2", {}, "Started from this page"), h("a", { href: scope.jobsHref }, "All jobs")), list);
  const add = (entry) => {
    card.hidden = false;
    list.prepend(entry);
  };
  const follow = (jobId, label) => {
    const entry = h("li", { dataset: { job: jobId } });
    add(entry);
    const show = (job) => clear(entry,
      h("span", { class: "job-what" }, label, job.Classification ? h("small", { class: "muted" }, ` · ${jobType(job)}`) : null),
      statusBadge(job),
      isRunning(job) ? progressView(job) : null,
      h("a", { href: scope.jobHref(jobId), dataset: { jobLink: jobId } }, "Details"));
    show({ GUID: jobId, Status: 6001 });
    // The device reports the job a moment after it answers the call.
    let misses = 0;
    const poll = async () => {
      if (!entry.isConnected) return;
      try {
        const job = await call(scope.jobProperties, { JobID: jobId });
        misses = 0;
        show(job);
        if (isRunning(job)) setTimeout(poll, POLL_MS);
        else endListeners.forEach((listener) => listener(job));
      } catch (err) {
        misses += 1;
        if (misses < 5) setTimeout(poll, POLL_MS);
        else entry.append(notice("error", err.message));
      }
    };
    poll();
  };
  const started = (answer, label) => {
    if (answer.JobID && scope.jobProperties) {
      follow(answer.JobID, label);
      return;
    }
    add(h("li", {}, h("span", { class: "job-what" }, label), badge("Started", "info"), h("a", { href: scope.jobsHref }, "See Jobs")));
  };
  return { card, started, whenEnded: (listener) => endListeners.push(listener) };
}

function rulesCard(device, jobs) {
  const box = h("div", {});
  const { profile } = device;
  const rules = Object.entries(profile.BackupRules || {}).filter(([, r]) => profile.Sources?.[r.Source]?.OwnerDevice === device.id);
  const runNow = async ([id, rule]) => {
    const label = `Backup: ${rule.Description || id}`;
    const answer = await perform(device, box, "run-backup", { BackupRule: id }, "Backing up now is");
    if (answer) {
      jobs.started(answer, label);
      toast(`${rule.Description || id} started on ${device.name}`);
    }
  };
  return h("section", { class: "card", id: "device-rules" },
    h("h2", {}, "Backup rules"),
    box,
    table([
      { label: "Rule", render: ([id, r]) => h("strong", {}, r.Description || id) },
      { label: "Protected Item", render: ([, r]) => nameOf(profile.Sources, r.Source) },
      { label: "Storage Vault", render: ([, r]) => nameOf(profile.Destinations, r.Destination) },
      { label: "", class: "row-actions", render: (entry) => (device.targetId
        ? actionButton("Back up now", () => runNow(entry), { class: "btn btn-primary btn-sm", dataset: { runRule: entry[0] } })
        : null) },
    ], rules, { empty: "No backup rules use this device's Protected Items." }));
}

function softwareCard(device) {
  const box = h("div", {});
  const update = async () => {
    if (await perform(device, box, "update-software", {}, "Updating the software is")) toast(`${device.name} is updating its software`);
  };
  const uninstall = () => modal(`Uninstall from ${device.name}`, (close) => {
    const removeConfig = h("input", { type: "checkbox", id: "uninstall-remove-config" });
    return h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      close();
      if (await perform(device, box, "uninstall-software", { RemoveConfigFile: removeConfig.checked }, "Uninstalling the software is")) toast(`${device.name} is uninstalling the software`);
    } },
    h("p", {}, `The backup software removes itself from ${device.name}. It stops backing up until it is installed again.`),
    field("Also remove its configuration file", removeConfig),
    h("div", { class: "dialog-actions" }, button("Cancel", close), h("button", { type: "submit", class: "btn btn-danger", id: "uninstall-submit" }, "Uninstall")));
  });
  return h("section", { class: "card", id: "device-software" },
    h("div", { class: "card-head" }, h("h2", {}, "Software"),
      h("div", { class: "btn-row" },
        actionButton("Update software", update, { class: "btn btn-secondary btn-sm", id: "device-update" }),
        button("Uninstall…", uninstall, { class: "btn btn-danger btn-sm", id: "device-uninstall" }))),
    box);
}

function vaultActions(device, vault, box, jobs) {
  const vaultName = nameOf(device.profile.Destinations, vault);
  const maintain = async (name, label, what) => {
    const answer = await perform(device, box, name, { Destination: vault }, what);
    if (answer) {
      jobs.started(answer, `${label}: ${vaultName}`);
      toast(`${label} of ${vaultName} started on ${device.name}`);
    }
  };
  const unlock = () => confirmDialog(
    "Unlock Storage Vault",
    `Remove the lock files of ${vaultName}? Do this only when no other device is using the vault.`,
    "Unlock",
    () => maintain("unlock", "Unlock", "Unlocking a Storage Vault is"),
  );
  return h("div", { class: "btn-row" },
    actionButton("Verify vault", () => maintain("deepverify-storage-vault", "Deep verify", "Verifying a Storage Vault is"), { class: "btn btn-secondary btn-sm", id: "vault-verify" }),
    actionButton("Apply retention now", () => maintain("apply-retention-rules", "Retention", "Applying retention is"), { class: "btn btn-secondary btn-sm", id: "vault-retention" }),
    menu("More", [
      ["Re-index", () => maintain("reindex-storage-vault", "Re-index", "Re-indexing a Storage Vault is")],
      ["Unlock…", unlock, "danger"],
    ]));
}

/// The Storage Vault chooser, its snapshots, and the browser of one.
function snapshotsCard(device, jobs) {
  const { profile } = device;
  const box = h("div", {});
  const body = h("div", { id: "snapshot-area" });
  const actions = h("div", {});
  const vaults = Object.entries(profile.Destinations || {});
  const chooser = h("select", { id: "vault-choice", "aria-label": "Storage Vault" },
    vaults.map(([id, v]) => h("option", { value: id }, v.Description || id)));

  const showList = async () => {
    const vault = chooser.value;
    if (device.scope.admin) clear(actions, vaultActions(device, vault, box, jobs));
    clear(body, spinner("Asking the device for the snapshots…"));
    const answer = await perform(device, box, "request-vault-snapshots", { Destination: vault }, "Listing snapshots is");
    if (!answer) {
      clear(body);
      return;
    }
    const snapshots = [...(answer.Snapshots || [])].sort((a, b) => (Number(b.CreateTime) || 0) - (Number(a.CreateTime) || 0));
    clear(body, snapshotTable(device, vault, snapshots, { box, jobs, showList }));
  };
  chooser.addEventListener("change", showList);
  // A job that ended may have written or removed snapshots: the list is read
  // again, unless a snapshot is being browsed.
  jobs.whenEnded(() => {
    if (body.isConnected && !body.querySelector("#snapshot-browser")) showList();
  });
  if (vaults.length) showList();
  else clear(body, notice("info", "This account has no Storage Vaults."));
  return h("section", { class: "card", id: "device-snapshots" },
    h("div", { class: "card-head snapshot-head" }, h("h2", {}, "Snapshots"), h("div", { class: "btn-row" }, chooser, button("Refresh", showList, { class: "btn btn-secondary btn-sm", id: "snapshot-refresh" }), actions)),
    box,
    body);
}

const snapshotLabel = (device, snapshot) => `${formatDate(snapshot.CreateTime)} · ${nameOf(device.profile.Sources, snapshot.Source)}`;

function snapshotTable(device, vault, snapshots, context) {
  const { box, showList } = context;
  const area = h("div", {});
  const remove = (snapshot) => confirmDialog(
    "Delete snapshot",
    `Delete the snapshot of ${snapshotLabel(device, snapshot)} from ${nameOf(device.profile.Destinations, vault)}? This cannot be undone.`,
    "Delete",
    async () => {
      if (await perform(device, box, "delete-snapshot", { DestinationID: vault, SnapshotID: snapshot.Snapshot }, "Deleting snapshots is")) {
        toast("Snapshot deleted");
        showList();
      }
    },
  );
  const browse = (snapshot) => clear(area, snapshotBrowser(device, vault, snapshot, { ...context, back: () => clear(area, list) }));
  const list = table([
    { label: "Taken", class: "when", render: (s) => formatDate(s.CreateTime) },
    { label: "Protected Item", render: (s) => nameOf(device.profile.Sources, s.Source) },
    { label: "", class: "row-actions", render: (s) => h("div", { class: "btn-row" },
      button("Browse", () => browse(s), { class: "btn btn-secondary btn-sm", dataset: { browse: s.Snapshot } }),
      button("Restore…", () => restoreDialog(device, vault, s, [], context), { class: "btn btn-secondary btn-sm", dataset: { restoreSnapshot: s.Snapshot } }),
      button("Delete", () => remove(s), { class: "btn btn-danger btn-sm", dataset: { deleteSnapshot: s.Snapshot } })) },
  ], snapshots, { empty: "This Storage Vault holds no snapshots yet." });
  return clear(area, list);
}

/// Rows of the browser, from a directory listing (`StoredObject`) or from
/// search results (`SearchResultFileInfo`).
function treeRow(parent, o) {
  return { name: o.name, path: `${parent}/${o.name}`, dir: o.type === "dir", subtree: o.subtree, size: o.size, when: formatDate(o.mtime) };
}

function searchRow(o) {
  return { name: o.path || o.name, path: o.path, dir: o.type === "dir", size: o.size, when: o.mtime || "—" };
}

/// The paths checked in a snapshot browser, kept while it moves between
/// folders and search results.
function pathSelection() {
  const selected = new Set();
  const summary = h("span", { class: "muted", id: "restore-selection" });
  const draw = () => {
    summary.textContent = selected.size
      ? `${selected.size} selected: ${[...selected].join(", ")}`
      : "Nothing selected: Restore restores the whole snapshot.";
  };
  const checkbox = (row) => {
    const input = h("input", { type: "checkbox", checked: selected.has(row.path), "aria-label": `Select ${row.name}`, dataset: { selectPath: row.path } });
    input.addEventListener("change", () => {
      if (input.checked) selected.add(row.path);
      else selected.delete(row.path);
      draw();
    });
    return input;
  };
  const reset = (container) => {
    selected.clear();
    for (const input of container.querySelectorAll("input[data-select-path]")) input.checked = false;
    draw();
  };
  draw();
  return { summary, checkbox, reset, paths: () => [...selected] };
}

/// Root / one / two: each folder above the current one opens it again.
function folderCrumbs(crumbs, trail, open) {
  const link = (label, path) => button(label, () => open(path), { class: "btn btn-link dir-link" });
  clear(crumbs,
    link("Root", []),
    trail.map((step, i) => [" / ", i === trail.length - 1 ? h("strong", {}, step.name) : link(step.name, trail.slice(0, i + 1))]));
}

function snapshotBrowser(device, vault, snapshot, { box, jobs, back }) {
  const selection = pathSelection();
  // The directories walked into from the root: [{ name, treeId }].
  let trail = [];
  const crumbs = h("nav", { class: "crumbs path-crumbs", id: "snapshot-path", "aria-label": "Folder" });
  const entries = h("div", { id: "snapshot-entries" });
  const search = h("input", { type: "search", id: "snapshot-search", placeholder: "Find files by name", "aria-label": "Find files by name" });

  const nameCell = (row) => (row.dir && row.subtree
    ? button(`${row.name}/`, () => open([...trail, { name: row.name, treeId: row.subtree }]), { class: "btn btn-link dir-link", dataset: { openDir: row.name } })
    : h("span", {}, row.dir ? `${row.name}/` : row.name));
  const drawRows = (rows, empty) => clear(entries, table([
    { label: "", class: "select-cell", render: selection.checkbox },
    { label: "Name", render: nameCell },
    { label: "Size", class: "num", render: (r) => (r.dir ? "—" : formatBytes(r.size)) },
    { label: "Modified", class: "when hide-sm", render: (r) => r.when },
  ], rows, { empty }));

  const open = async (path) => {
    trail = path;
    search.value = "";
    folderCrumbs(crumbs, trail, open);
    clear(entries, spinner("Reading the folder…"));
    const treeId = trail.length ? trail[trail.length - 1].treeId : "";
    const answer = await perform(device, box, "request-stored-objects", { Destination: vault, SnapshotID: snapshot.Snapshot, TreeID: treeId }, "Browsing snapshots is");
    if (!answer) return clear(entries);
    const parent = trail.map((step) => `/${step.name}`).join("");
    return drawRows((answer.StoredObjects || []).map((o) => treeRow(parent, o)), "This folder is empty.");
  };

  const find = async (event) => {
    event.preventDefault();
    const text = search.value.trim();
    if (!text) return open(trail);
    clear(crumbs, `Files whose name contains "${text}" `, button("Back to the folders", () => open(trail), { class: "btn btn-link dir-link", id: "search-clear" }));
    clear(entries, spinner("Searching…"));
    const filter = { ClauseType: "", RuleField: "SearchResultFileInfo.name", RuleOperator: "str_contains_ci", RuleValue: text };
    const answer = await perform(device, box, "search-snapshots", { DestinationID: vault, SnapshotIDs: [snapshot.Snapshot], Filter: filter }, "Searching snapshots is");
    if (!answer) return clear(entries);
    return drawRows((answer.SnapshotFiles?.[snapshot.Snapshot] || []).map(searchRow), "No file in this snapshot has that in its name.");
  };

  open([]);
  return h("div", { class: "snapshot-browser", id: "snapshot-browser" },
    h("div", { class: "section-head" },
      h("div", {}, button("← All snapshots", back, { class: "btn btn-link dir-link", id: "snapshot-back" }), h("h3", {}, `Snapshot of ${snapshotLabel(device, snapshot)}`)),
      h("form", { class: "inline-form snapshot-search", onsubmit: find }, search, h("button", { type: "submit", class: "btn btn-secondary", id: "snapshot-search-submit" }, "Search"))),
    crumbs,
    entries,
    h("div", { class: "restore-bar" },
      selection.summary,
      h("div", { class: "btn-row" },
        button("Clear selection", () => selection.reset(entries), { class: "btn btn-secondary btn-sm" }),
        button("Restore…", () => restoreDialog(device, vault, snapshot, selection.paths(), { box, jobs }), { class: "btn btn-primary btn-sm", id: "restore-open" }))));
}

/// Where to restore: the original place, another directory, an archive
/// file written into a directory of the device, or an archive downloaded
/// to this browser. Gives its fields, the `RestoreJobAdvancedOptions` they
/// make, and whether the archive comes here.
function restoreTarget() {
  const choice = (value, label, checked) => field(label, h("input", { type: "radio", name: "restore-where", id: `restore-${value}`, value, checked }));
  const where = h("fieldset", {}, h("legend", {}, "Restore to"),
    choice("original", "The original location, replacing the files there", true),
    choice("directory", "Another directory on the device"),
    choice("archive", "An archive file, written into a directory on the device"),
    choice("download", "An archive downloaded to this browser"));
  const destPath = h("input", { id: "restore-path", placeholder: "/srv/restored", autocomplete: "off", spellcheck: "false" });
  const format = h("select", { id: "restore-format" }, ARCHIVE_FORMATS.map(([value, label]) => h("option", { value }, label)));
  const pathField = field("Directory on the device", destPath);
  const formatField = field("Archive format", format);
  const mode = () => where.querySelector("input:checked").value;
  const sync = () => {
    pathField.hidden = mode() === "original" || mode() === "download";
    formatField.hidden = mode() !== "archive" && mode() !== "download";
  };
  where.addEventListener("change", sync);
  sync();
  const options = () => {
    if (mode() === "original") return { Type: RESTORE_FILES, DestIsOriginalLocation: true };
    if (mode() === "directory") return { Type: RESTORE_FILES, DestPath: destPath.value.trim() };
    if (mode() === "download") return { Type: RESTORE_ARCHIVE, ArchiveFormat: Number(format.value) };
    return { Type: RESTORE_ARCHIVE, DestPath: destPath.value.trim(), ArchiveFormat: Number(format.value) };
  };
  return { fields: [where, pathField, formatField], options, downloads: () => mode() === "download" };
}

/// Hands a downloaded file to the browser, as a link the page clicks.
function saveFile({ blob, fileName }) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: fileName, hidden: true, id: "restore-download-link" });
  document.body.append(link);
  link.click();
  setTimeout(() => {
    link.remove();
    URL.revokeObjectURL(url);
  }, 60_000);
}

/// Restores `paths` of the snapshot (all of it when none) on the device,
/// and follows the job it starts; or downloads them as an archive made on
/// the device while it is sent.
function restoreDialog(device, vault, snapshot, paths, { box, jobs }) {
  modal("Restore", (close, dialogError) => {
    const target = restoreTarget();
    const submit = h("button", { type: "submit", class: "btn btn-primary", id: "restore-submit" }, "Restore");
    const what = paths.length ? `${paths.length} selected ${paths.length === 1 ? "item" : "items"}` : "the whole snapshot";
    return h("form", { class: "dialog-body", onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      const params = { Source: snapshot.Source, Destination: vault, Snapshot: snapshot.Snapshot, Paths: paths.length ? paths : undefined, Options: target.options() };
      try {
        if (target.downloads()) {
          const file = await download(device.scope.dispatcher + "run-restore-custom", { TargetID: device.targetId, ...params, DownloadArchive: true });
          saveFile(file);
          close();
          toast(`Downloaded ${file.fileName}`);
          return;
        }
        const answer = await dispatch(device, "run-restore-custom", params);
        close();
        clear(box);
        jobs.started(answer, `Restore: ${what} of ${snapshotLabel(device, snapshot)}`);
        toast(`Restore started on ${device.name}`);
      } catch (err) {
        showFailure(dialogError, err, "Restoring is", `${device.scope.dispatcher}run-restore-custom`);
      } finally {
        submit.disabled = false;
      }
    } },
    h("p", {}, `Restore ${what} of the snapshot of ${snapshotLabel(device, snapshot)} on ${device.name}.`),
    target.fields,
    h("div", { class: "dialog-actions" }, button("Cancel", close), submit));
  });
}

function deviceHeader(device, connection) {
  const words = connection ? platformName(connection.ReportedPlatformVersion) || connection.ReportedPlatform : platformName(device.entry.PlatformVersion);
  return h("header", { class: "page-header" },
    h("div", {},
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: device.scope.devicesHref }, "Devices"), " / ", device.name),
      h("h1", {}, device.name, " ", h("span", { class: "device-state", id: "device-state" }, connection ? badge("Online", "ok") : badge("Offline", "neutral"))),
      h("p", { class: "muted" }, [device.scope.admin ? `Account ${device.username}` : null, words, connection ? `connected since ${formatDate(connection.ConnectionTime)}` : null].filter(Boolean).join(" · "))));
}

/// Renders the device view into `main`; gives the function that stops it.
export function renderDeviceView(main, ctx, scope, username, deviceId) {
  const body = h("div", { id: "device-view" }, spinner());
  clear(main, body);
  const load = async () => {
    try {
      const [profile, connections] = await Promise.all([scope.profile(username), scope.connections(username)]);
      const entry = profile.Devices?.[deviceId];
      if (!entry) {
        clear(body, notice("error", "This account has no such device; it may have been revoked."), h("a", { href: scope.devicesHref }, "Back to the devices"));
        return;
      }
      const connection = serviceConnection(connections, profile.Username || username, deviceId);
      const device = { scope, profile, username, id: deviceId, entry, name: entry.FriendlyName || deviceId, targetId: connection?.targetId };
      const jobs = startedJobs(scope);
      clear(body,
        deviceHeader(device, connection),
        connection ? null : notice("info", "This device is offline. Its backups and snapshots can be reached once it connects again."),
        jobs.card,
        rulesCard(device, jobs),
        connection ? snapshotsCard(device, jobs) : null,
        connection && scope.admin ? softwareCard(device) : null);
    } catch (err) {
      showFailure(body, err, "Live devices are", scope.dispatcher + "list-active");
    }
  };
  load();
  if (!ctx.stream) return null;
  return ctx.stream.subscribe((change) => {
    const data = change.event?.Data || {};
    if (change.type === "event" && LIVE_CHANGES.has(change.event.Type) && data.DeviceID === deviceId) load();
  });
}
