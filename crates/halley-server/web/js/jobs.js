// Job history: the words for job types and statuses (shared with the
// dashboard and the end-user view), and the Jobs page with its filters,
// details dialog and "Abandon" for running jobs.

import { call } from "./api.js";
import { h, clear, badge, button, formatBytes, formatDate, modal, notAvailable, notice, pageHeader, showError, spinner, table } from "./ui.js";

const TYPES = {
  4000: "Unknown",
  4001: "Backup",
  4002: "Restore",
  4003: "Retention",
  4004: "Unlock",
  4005: "Delete data",
  4006: "Re-measure",
  4007: "Client update",
  4008: "Import",
  4009: "Re-index",
  4010: "Deep verify",
  4011: "Uninstall",
};

// [word, badge colour, filter group]
const STATUSES = {
  5000: ["Success", "ok", "success"],
  6004: ["Not started yet", "info", "running"],
  7000: ["Timed out", "error", "error"],
  7001: ["Warning", "warn", "warning"],
  7002: ["Error", "error", "error"],
  7003: ["Quota exceeded", "error", "error"],
  7004: ["Missed", "warn", "warning"],
  7005: ["Cancelled", "warn", "warning"],
  7006: ["Skipped (already running)", "warn", "warning"],
  7007: ["Abandoned", "error", "error"],
};

export const STATUS_GROUPS = [
  ["", "All statuses"],
  ["running", "Running"],
  ["success", "Success"],
  ["warning", "Warning"],
  ["error", "Error"],
];

export function isRunning(job) {
  const s = Number(job.Status);
  return s >= 6000 && s <= 6999;
}

export function jobType(job) {
  return TYPES[job.Classification] || `Type ${job.Classification ?? "?"}`;
}

/// [word, badge colour, filter group] of a job's status.
export function jobStatus(job) {
  const s = Number(job.Status);
  if (STATUSES[s]) return STATUSES[s];
  if (s >= 5000 && s <= 5999) return ["Success", "ok", "success"];
  if (s >= 6000 && s <= 6999) return ["Running", "info", "running"];
  if (s >= 7000 && s <= 7999) return ["Failed", "error", "error"];
  return [`Status ${job.Status ?? "?"}`, "neutral", ""];
}

export function statusBadge(job) {
  const [word, kind] = jobStatus(job);
  return badge(word, kind);
}

function spell(seconds) {
  const n = Math.max(0, Math.round(seconds));
  if (n < 60) return `${n} s`;
  if (n < 600) return `${Math.floor(n / 60)} min ${n % 60 ? `${n % 60} s` : ""}`.trim();
  if (n < 3600) return `${Math.round(n / 60)} min`;
  const hours = Math.floor(n / 3600);
  if (hours < 48) return `${hours} h ${Math.floor((n % 3600) / 60)} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/// How long a job took, or has been running so far.
export function jobDuration(job) {
  const start = Number(job.StartTime) || 0;
  if (!start) return "—";
  if (isRunning(job) || !job.EndTime) return `${spell(Date.now() / 1000 - start)}, running`;
  return spell(Number(job.EndTime) - start);
}

/// Newest first.
export function newestFirst(jobs) {
  return [...(Array.isArray(jobs) ? jobs : [])].sort((a, b) => (Number(b.StartTime) || 0) - (Number(a.StartTime) || 0));
}

/// Device, Protected Item and Storage Vault names from the account's
/// profile, when it has them.
export function jobNames(job, profile) {
  const p = profile || {};
  return {
    device: p.Devices?.[job.DeviceID]?.FriendlyName || job.DeviceID || "",
    item: p.Sources?.[job.SourceGUID]?.Description || job.SourceGUID || "",
    vault: p.Destinations?.[job.DestinationGUID]?.Description || job.DestinationGUID || "",
  };
}

const dash = (value) => (value === undefined || value === null || value === "" ? "—" : String(value));

/// The columns shown to end users and administrators alike.
export function jobColumns(profileOf) {
  return [
    { label: "Type", render: (j) => jobType(j) },
    { label: "Status", render: (j) => statusBadge(j) },
    { label: "Protected Item", render: (j) => {
      const names = jobNames(j, profileOf(j));
      const where = [names.device, names.vault].filter(Boolean).join(" → ");
      return [h("div", {}, dash(names.item)), where ? h("small", { class: "muted job-where" }, where) : null];
    } },
    { label: "Started", class: "when", render: (j) => formatDate(j.StartTime) },
    { label: "Duration", class: "num", render: (j) => jobDuration(j) },
    { label: "Size", class: "num", render: (j) => formatBytes(j.TotalSize) },
  ];
}

const WINDOWS = [
  ["day", "Last 24 hours", 86400],
  ["week", "Last 7 days", 7 * 86400],
  ["all", "All time", 0],
];

function abandonControl(job, onDone) {
  const error = h("span", { class: "job-error", role: "alert" });
  const btn = button("Abandon", async () => {
    btn.disabled = true;
    error.textContent = "";
    try {
      await call("/api/v1/admin/job/abandon", { TargetUser: job.Username, JobID: job.GUID });
      onDone();
    } catch (err) {
      error.textContent = err.message;
      btn.disabled = false;
    }
  }, { kind: "danger", class: "btn btn-danger btn-sm", dataset: { abandon: job.GUID }, title: "Mark this job abandoned, as when its device stopped reporting" });
  return h("span", { class: "job-abandon" }, btn, error);
}

function detailsDialog(guid, profiles, onChanged, { admin = true } = {}) {
  modal("Job details", (close, errorBox) => {
    const body = h("div", { class: "dialog-body", id: "job-details" }, spinner());
    const path = admin ? "/api/v1/admin/get-job-properties" : "/api/v1/user/web/get-job-properties";
    call(path, { JobID: guid }).then(
      (job) => {
        const names = jobNames(job, profiles[job.Username]);
        const rows = [
          ["Account", job.Username],
          ["Type", jobType(job)],
          ["Status", statusBadge(job)],
          ["Device", names.device],
          ["Protected Item", names.item],
          ["Storage Vault", names.vault],
          ["Started", formatDate(job.StartTime)],
          ["Ended", isRunning(job) ? "still running" : formatDate(job.EndTime)],
          ["Duration", jobDuration(job)],
          ["Files", job.TotalFiles ? Number(job.TotalFiles).toLocaleString() : "—"],
          ["Size", formatBytes(job.TotalSize)],
          ["Uploaded", formatBytes(job.UploadSize)],
          ["Downloaded", formatBytes(job.DownloadSize)],
          ["Job ID", h("code", {}, job.GUID)],
        ];
        clear(body,
          h("dl", { class: "details" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v instanceof Node ? v : dash(v))])),
          h("p", { class: "muted" }, "Job logs are not available on this server yet."),
          h("div", { class: "dialog-actions" },
            admin && isRunning(job) ? abandonControl(job, () => { close(); onChanged(); }) : null,
            button("Close", close)));
      },
      (err) => {
        showError(errorBox, err);
        clear(body, h("div", { class: "dialog-actions" }, button("Close", close)));
      },
    );
    return body;
  });
}

export function renderJobs(main, ctx) {
  const list = h("div", { class: "card jobs-list", id: "area-body" }, spinner());
  const count = h("span", { class: "muted", id: "jobs-count" });
  const account = h("select", { id: "jobs-account", "aria-label": "Account" }, h("option", { value: "" }, "All accounts"));
  const status = h("select", { id: "jobs-status", "aria-label": "Status" }, STATUS_GROUPS.map(([v, t]) => h("option", { value: v }, t)));
  const windowSel = h("select", { id: "jobs-window", "aria-label": "Time" }, WINDOWS.map(([v, t]) => h("option", { value: v }, t)));
  windowSel.value = "week";
  let jobs = [];
  let profiles = {};

  const draw = () => {
    const span = WINDOWS.find(([v]) => v === windowSel.value)?.[2] || 0;
    const since = span ? Date.now() / 1000 - span : 0;
    const rows = jobs.filter((j) =>
      (!account.value || j.Username === account.value)
      && (!status.value || jobStatus(j)[2] === status.value)
      && (!since || isRunning(j) || Number(j.StartTime) >= since));
    count.textContent = `${rows.length} of ${jobs.length} jobs`;
    const profileOf = (j) => profiles[j.Username];
    const columns = [
      { label: "Account", render: (j) => h("a", { href: `#/accounts/${encodeURIComponent(j.Username)}` }, profiles[j.Username]?.AccountName || j.Username) },
      ...jobColumns(profileOf),
      { label: "", class: "row-actions", render: (j) => h("div", { class: "job-actions" },
        button("Details", () => detailsDialog(j.GUID, profiles, load), { class: "btn btn-secondary btn-sm", dataset: { details: j.GUID } }),
        isRunning(j) ? abandonControl(j, load) : null) },
    ];
    clear(list, table(columns, rows, { empty: jobs.length ? "No jobs match these filters" : "No jobs yet" }));
  };

  const fillAccounts = () => {
    const names = new Set([...Object.keys(profiles), ...jobs.map((j) => j.Username)]);
    const current = account.value;
    clear(account, h("option", { value: "" }, "All accounts"), [...names].sort().map((n) => h("option", { value: n }, profiles[n]?.AccountName && profiles[n].AccountName !== n ? `${n} (${profiles[n].AccountName})` : n)));
    account.value = names.has(current) ? current : "";
  };

  let loaded = false;
  const load = async () => {
    try {
      const [all, users] = await Promise.all([
        call("/api/v1/admin/get-jobs-all"),
        loaded ? Promise.resolve(profiles) : call("/api/v1/admin/list-users-full").catch(() => ({})),
      ]);
      jobs = newestFirst(all);
      profiles = users || {};
      loaded = true;
      fillAccounts();
      draw();
    } catch (err) {
      clear(list, err.notBuilt ? notAvailable("Jobs are", "/api/v1/admin/get-jobs-all") : notice("error", err.message));
    }
  };

  for (const el of [account, status, windowSel]) el.addEventListener("change", draw);

  clear(
    main,
    pageHeader("Jobs", "Backup, restore and maintenance jobs of every account, newest first", button("Refresh", () => load(), { id: "jobs-refresh" })),
    h("div", { class: "toolbar jobs-filters" }, account, status, windowSel, count),
    list,
  );
  load();

  let unsubscribe = () => {};
  if (ctx.stream) {
    let timer = null;
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type !== "state" && (change.event.Type === 4200 || change.event.Type === 4201)) {
        clearTimeout(timer);
        timer = setTimeout(load, 300);
      }
    });
  }
  return () => unsubscribe();
}

/// The end user's own jobs, with names from their profile.
export function userJobsTable(jobs, profile) {
  const own = newestFirst(jobs);
  const columns = [
    ...jobColumns(() => profile),
    { label: "", class: "row-actions", render: (j) => button("Details", () => detailsDialog(j.GUID, { [j.Username]: profile }, () => {}, { admin: false }), { class: "btn btn-secondary btn-sm", dataset: { details: j.GUID } }) },
  ];
  return table(columns, own, { empty: "No jobs yet." });
}
