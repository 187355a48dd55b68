// Job history: the words for job types and statuses (shared with the
// dashboard and the end-user view), and the Jobs page with its filters,
// running jobs' progress, details dialog with the job's log, and "Cancel" and
// "Abandon" for running jobs.

import { call } from "./api.js";
import { h, clear, badge, button, formatBytes, formatDate, formatTime, modal, notAvailable, notice, pageHeader, showError, spinner, table } from "./ui.js";

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

/// A running job's `Progress`: a bar when the device knows how many items
/// there are, else how much it has done so far.
export function progressView(job) {
  const el = h("div", { class: "job-progress", dataset: { progress: job.GUID } });
  fillProgress(el, job);
  return el;
}

function fillProgress(el, job) {
  const p = job.Progress || {};
  const done = Number(p.ItemsDone) || 0;
  const total = Number(p.ItemsTotal) || 0;
  const bytes = Number(p.BytesDone) || 0;
  // Without a total the bar is indeterminate: it moves, but claims no share.
  const bar = total > 0
    ? h("progress", { max: total, value: Math.min(done, total), "aria-label": "Items done" })
    : h("progress", { "aria-label": "Running" });
  const words = !bytes && !done
    ? "Starting…"
    : [formatBytes(bytes), total > 0 ? `${done.toLocaleString()} of ${total.toLocaleString()} items` : `${done.toLocaleString()} ${done === 1 ? "item" : "items"}`].join(" · ");
  clear(el, bar, h("small", { class: "muted job-progress-text" }, words));
}

/// Brings a running job's progress and duration on screen up to date in
/// place, so that buttons beside them keep working while they change.
function refreshRunning(container, job) {
  const guid = CSS.escape(job.GUID);
  for (const el of container.querySelectorAll(`[data-progress="${guid}"]`)) fillProgress(el, job);
  for (const el of container.querySelectorAll(`[data-duration="${guid}"]`)) el.textContent = jobDuration(job);
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
    { label: "Status", render: (j) => [statusBadge(j), isRunning(j) ? progressView(j) : null] },
    { label: "Protected Item", render: (j) => {
      const names = jobNames(j, profileOf(j));
      const where = [names.device, names.vault].filter(Boolean).join(" → ");
      return [h("div", {}, dash(names.item)), where ? h("small", { class: "muted job-where" }, where) : null];
    } },
    { label: "Started", class: "when", render: (j) => formatDate(j.StartTime) },
    { label: "Duration", class: "num", render: (j) => h("span", { dataset: { duration: j.GUID } }, jobDuration(j)) },
    { label: "Size", class: "num", render: (j) => formatBytes(j.TotalSize) },
  ];
}

const WINDOWS = [
  ["day", "Last 24 hours", 86400],
  ["week", "Last 7 days", 7 * 86400],
  ["all", "All time", 0],
];

/// A button asking the server to act on a running job, with the server's
/// answer beside it when it refuses (a device that is not connected cannot
/// be told to cancel).
function jobAction(job, { label, busy, path, key, title, onDone }) {
  const error = h("span", { class: "job-error", role: "alert" });
  const btn = button(label, async () => {
    btn.disabled = true;
    btn.textContent = busy;
    error.textContent = "";
    try {
      await call(path, { TargetUser: job.Username, JobID: job.GUID });
      onDone();
    } catch (err) {
      error.textContent = err.message;
      btn.textContent = label;
      btn.disabled = false;
    }
  }, { class: "btn btn-danger btn-sm", dataset: { [key]: job.GUID }, title });
  return h("span", { class: "job-action" }, btn, error);
}

function abandonControl(job, onDone) {
  return jobAction(job, {
    label: "Abandon",
    busy: "Abandoning…",
    path: "/api/v1/admin/job/abandon",
    key: "abandon",
    title: "Mark this job abandoned, as when its device stopped reporting",
    onDone,
  });
}

/// The device stops the job and reports it cancelled (7005); until then the
/// button stays disabled.
function cancelControl(job) {
  return jobAction(job, {
    label: "Cancel",
    busy: "Cancelling…",
    path: "/api/v1/admin/job/cancel",
    key: "cancel",
    title: "Ask the device running this job to stop it",
    onDone: () => {},
  });
}

const SEVERITIES = { D: ["Debug", "neutral"], I: ["Info", "info"], W: ["Warning", "warn"], E: ["Error", "error"] };

/// The job's log (`get-job-log-entries`), with a severity filter.
function jobLog(guid, admin) {
  const path = admin ? "/api/v1/admin/get-job-log-entries" : "/api/v1/user/web/get-job-log-entries";
  const level = h("select", { id: "job-log-severity", "aria-label": "Log lines to show" },
    [["", "All lines"], ["W", "Warnings and errors"], ["E", "Errors only"]].map(([v, t]) => h("option", { value: v }, t)));
  const lines = h("div", { class: "job-log", id: "job-log", tabindex: "0", "aria-label": "Job log" }, spinner("Loading the log…"));
  const load = async () => {
    try {
      const entries = await call(path, { JobID: guid, MinSeverity: level.value || undefined });
      const atEnd = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
      const list = Array.isArray(entries) ? entries : [];
      clear(lines, list.length
        ? h("ol", { class: "job-log-lines" }, list.map((e) => {
          const [word, kind] = SEVERITIES[e.Severity] || [e.Severity || "Info", "neutral"];
          return h("li", { class: `log-line log-${kind}` },
            h("time", { datetime: new Date((Number(e.Time) || 0) * 1000).toISOString() }, formatTime(e.Time)),
            h("span", { class: "log-severity" }, word),
            h("span", { class: "log-message" }, e.Message));
        }))
        : h("p", { class: "muted" }, level.value ? "No lines at this level." : "No log lines yet."));
      // A growing log stays at its newest lines unless the reader scrolled up.
      if (atEnd) lines.scrollTop = lines.scrollHeight;
    } catch (err) {
      clear(lines, err.notBuilt ? h("p", { class: "muted" }, "Job logs are not available on this server yet.") : notice("error", err.message));
    }
  };
  level.addEventListener("change", load);
  const section = h("section", { class: "job-log-section" }, h("div", { class: "card-head" }, h("h3", {}, "Log"), level), lines);
  return { section, load };
}

// No event reports progress (the server publishes SEVT_JOB_NEW and
// SEVT_JOB_COMPLETED only), so running jobs on screen are read again this
// often.
export const POLL_MS = 2000;

function detailsDialog(guid, profiles, onChanged, { admin = true } = {}) {
  const dialog = modal("Job details", (close, errorBox) => {
    const body = h("div", { class: "dialog-body", id: "job-details" }, spinner());
    const facts = h("div", {});
    const actions = h("div", { class: "dialog-actions" });
    const log = jobLog(guid, admin);
    const path = admin ? "/api/v1/admin/get-job-properties" : "/api/v1/user/web/get-job-properties";
    let wasRunning = null;
    const show = (job) => {
      const names = jobNames(job, profiles[job.Username]);
      const running = isRunning(job);
      const rows = [
        ["Account", job.Username],
        ["Type", jobType(job)],
        ["Status", statusBadge(job)],
        running ? ["Progress", progressView(job)] : null,
        ["Device", names.device],
        ["Protected Item", names.item],
        ["Storage Vault", names.vault],
        ["Started", formatDate(job.StartTime)],
        ["Ended", running ? "still running" : formatDate(job.EndTime)],
        ["Duration", jobDuration(job)],
        ["Files", job.TotalFiles ? Number(job.TotalFiles).toLocaleString() : "—"],
        ["Size", formatBytes(job.TotalSize)],
        ["Uploaded", formatBytes(job.UploadSize)],
        ["Downloaded", formatBytes(job.DownloadSize)],
        ["Job ID", h("code", {}, job.GUID)],
      ].filter(Boolean);
      clear(facts, h("dl", { class: "details" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v instanceof Node ? v : dash(v))])));
      // The buttons are rebuilt only when the job starts or stops running, so
      // a refresh never takes one away mid-click.
      if (running !== wasRunning) {
        wasRunning = running;
        clear(actions,
          admin && running ? cancelControl(job) : null,
          admin && running ? abandonControl(job, () => { close(); onChanged(); }) : null,
          button("Close", close));
      }
    };
    const refresh = async (first) => {
      try {
        const [job] = await Promise.all([call(path, { JobID: guid }), log.load()]);
        if (!body.isConnected && !first) return;
        if (first) clear(body, facts, log.section, actions);
        show(job);
        if (isRunning(job)) setTimeout(() => body.isConnected && refresh(false), POLL_MS);
        else if (!first) onChanged();
      } catch (err) {
        showError(errorBox, err);
        if (first) clear(body, h("div", { class: "dialog-actions" }, button("Close", close)));
      }
    };
    refresh(true);
    return body;
  });
  dialog.classList.add("dialog-wide");
}

/// The Jobs page; with `openJobId`, that job's details open once it loads.
export function renderJobs(main, ctx, openJobId) {
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
        isRunning(j) ? cancelControl(j) : null,
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
      watchRunning();
      if (openJobId) detailsDialog(openJobId, profiles, load);
      openJobId = null;
    } catch (err) {
      clear(list, err.notBuilt ? notAvailable("Jobs are", "/api/v1/admin/get-jobs-all") : notice("error", err.message));
    }
  };

  // While a job runs, its progress is read again every POLL_MS: only the
  // running jobs (`get-jobs-for-date-range` with Start = End = 0). A job
  // that started or ended meanwhile reloads the whole list.
  let poll = null;
  let stopped = false;
  const watchRunning = () => {
    clearTimeout(poll);
    if (stopped || !jobs.some(isRunning)) return;
    poll = setTimeout(async () => {
      try {
        const running = new Map((await call("/api/v1/admin/get-jobs-for-date-range", { Start: 0, End: 0 })).map((j) => [j.GUID, j]));
        if (stopped) return;
        const shown = jobs.filter(isRunning);
        if (shown.length !== running.size || shown.some((j) => !running.has(j.GUID))) {
          load();
          return;
        }
        jobs = jobs.map((j) => running.get(j.GUID) || j);
        for (const job of running.values()) refreshRunning(list, job);
      } catch (err) {
        // The next round, or the next job event, tries again.
      }
      watchRunning();
    }, POLL_MS);
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
  return () => {
    stopped = true;
    clearTimeout(poll);
    unsubscribe();
  };
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
