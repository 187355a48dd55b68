// The administrator's dashboard: accounts, storage used, jobs and devices
// online, and the live event feed, updated from the event stream.

import { call } from "./api.js";
import { describe } from "./events.js";
import { h, clear, badge, formatBytes, formatDate, formatTime, notAvailable, pageHeader, spinner } from "./ui.js";
import { isRunning, jobType, jobStatus, statusBadge, jobDuration, newestFirst } from "./jobs.js";

export function accountStorage(profile) {
  let total = 0;
  for (const vault of Object.values(profile.Destinations || {})) {
    total += Number(vault?.Statistics?.ClientProvidedSize?.Size) || 0;
  }
  return total;
}

const LOGINS = new Set([4103, 4104, 4153, 4154]);

/// Sign-in events name the request path as their resource: show who instead.
function eventDetails(event) {
  const actor = String(event.Actor || "");
  const who = actor.includes(":") ? actor.slice(actor.indexOf(":") + 1) : actor;
  if (LOGINS.has(event.Type)) {
    return [who ? h("span", { class: "feed-resource" }, who) : null, event.ResourceID ? h("span", { class: "feed-actor muted" }, `via ${event.ResourceID}`) : null];
  }
  const by = actor && actor !== "system" && who !== event.ResourceID ? h("span", { class: "feed-actor muted" }, `by ${who}`) : null;
  return [event.ResourceID ? h("span", { class: "feed-resource" }, event.ResourceID) : null, by];
}

function stat(id, label, valueEl, foot) {
  return h("section", { class: "card stat", id }, h("h2", { class: "stat-label" }, label), valueEl, foot ? h("p", { class: "stat-foot muted" }, foot) : null);
}

export function renderDashboard(main, ctx) {
  const accounts = h("p", { class: "stat-value", id: "stat-accounts" }, "…");
  const accountsFoot = h("span", {}, "");
  const storage = h("p", { class: "stat-value", id: "stat-storage" }, "…");
  const devices = h("div", { class: "stat-value-box" }, spinner());
  const jobs = h("div", { class: "stat-value-box" }, spinner());
  const recentJobs = h("div", {}, spinner());
  const feed = h("ol", { class: "feed", id: "live-events" });
  const liveState = h("span", { class: "live-state", id: "live-state" });

  const loadAccounts = async () => {
    try {
      const all = await call("/api/v1/admin/list-users-full");
      const profiles = Object.values(all);
      accounts.textContent = String(profiles.length);
      const suspended = profiles.filter((p) => p.IsSuspended).length;
      accountsFoot.textContent = suspended ? `${suspended} suspended` : "all active";
      storage.textContent = formatBytes(profiles.reduce((sum, p) => sum + accountStorage(p), 0));
    } catch (err) {
      accounts.textContent = "—";
      accountsFoot.textContent = err.message;
    }
  };

  const loadDevices = async () => {
    try {
      const active = await call("/api/v1/admin/dispatcher/list-active");
      // A device may hold more than one connection: count devices.
      const online = new Set(Object.values(active || {}).map((c) => `${c.Username}\n${c.DeviceID}`));
      clear(devices, h("p", { class: "stat-value", id: "stat-devices-online" }, String(online.size)), h("p", { class: "stat-foot muted" }, h("a", { href: "#/devices" }, "All devices")));
    } catch (err) {
      clear(devices, err.notBuilt ? h("p", { class: "stat-na" }, "Not available on this server yet") : h("p", { class: "stat-na" }, err.message));
    }
  };

  const loadJobs = async () => {
    try {
      const list = newestFirst(await call("/api/v1/admin/get-jobs-recent"));
      const running = list.filter(isRunning);
      const failed = list.filter((job) => jobStatus(job)[2] === "error").length;
      clear(jobs, h("p", { class: "stat-value", id: "stat-running-jobs" }, String(running.length)), h("p", { class: "stat-foot muted" }, `${list.length} in the last day${failed ? `, ${failed} failed` : ""}`));
      clear(recentJobs, list.length
        ? h("ul", { class: "plain-list job-list", id: "recent-jobs" }, list.slice(0, 8).map((job) => h("li", {},
          statusBadge(job),
          h("span", { class: "job-what" }, h("strong", {}, jobType(job)), " · ", job.Username),
          h("time", { class: "muted", datetime: new Date(job.StartTime * 1000).toISOString() }, isRunning(job) ? `started ${formatDate(job.StartTime)}` : `${formatDate(job.StartTime)} · ${jobDuration(job)}`))))
        : h("p", { class: "muted" }, "No jobs in the last day."));
    } catch (err) {
      const text = err.notBuilt ? "Not available on this server yet" : err.message;
      clear(jobs, h("p", { class: "stat-na" }, text));
      clear(recentJobs, err.notBuilt ? notAvailable("Jobs are", "/api/v1/admin/get-jobs-recent") : h("p", {}, err.message));
    }
  };

  const showState = (state) => {
    const labels = { live: ["Live", "ok"], connecting: ["Connecting…", "neutral"], offline: ["Reconnecting…", "warn"], refused: ["Not allowed", "error"] };
    const [text, kind] = labels[state] || [state, "neutral"];
    clear(liveState, badge(text, kind));
  };

  const eventItem = (event) =>
    h(
      "li",
      { class: "feed-item", dataset: { type: String(event.Type) } },
      h("time", { datetime: new Date(event.Timestamp * 1000).toISOString() }, formatTime(event.Timestamp)),
      h("span", { class: "feed-what" }, describe(event)),
      ...eventDetails(event),
    );

  const renderFeed = () => {
    const events = ctx.stream ? ctx.stream.recent.slice(0, 30) : [];
    if (!events.length) clear(feed, h("li", { class: "feed-empty muted" }, "Waiting for activity… changes made anywhere appear here at once."));
    else clear(feed, events.map(eventItem));
  };

  let unsubscribe = () => {};
  if (ctx.stream) {
    showState(ctx.stream.state);
    unsubscribe = ctx.stream.subscribe((change) => {
      if (change.type === "state") showState(change.state);
      else {
        renderFeed();
        if (change.event.Type >= 4100 && change.event.Type <= 4102) loadAccounts();
        if (change.event.Type === 4200 || change.event.Type === 4201) loadJobs();
        if (change.event.Type >= 4700 && change.event.Type <= 4703) loadDevices();
      }
    });
  }

  clear(
    main,
    pageHeader("Dashboard", `Signed in as ${ctx.session.username}`),
    h(
      "div",
      { class: "stats" },
      stat("card-accounts", "Accounts", accounts, accountsFoot),
      stat("card-storage", "Storage used", storage, "reported by devices"),
      stat("card-jobs", "Running jobs", jobs),
      stat("card-devices", "Devices online", devices),
    ),
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Live activity"), liveState), feed),
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Recent jobs"), h("a", { href: "#/jobs" }, "All jobs")), recentJobs),
    ),
  );
  renderFeed();
  loadAccounts();
  loadDevices();
  loadJobs();
  return () => unsubscribe();
}
