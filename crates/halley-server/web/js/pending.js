// Areas whose endpoints may not be built on this server yet. Each view calls
// its endpoint: a 501 answer shows the "not available" state, anything else
// is listed, so the page lights up as soon as the server provides it.

import { call } from "./api.js";
import { h, clear, formatDate, notAvailable, notice, pageHeader, spinner, table } from "./ui.js";

const text = (value) => (value === undefined || value === null || value === "" ? "—" : String(value));

export const PENDING_AREAS = {
  devices: {
    title: "Devices",
    subtitle: "Devices connected to this server now",
    what: "Live devices are",
    path: "/api/v1/admin/dispatcher/list-active",
    rows: (data) => Object.entries(data || {}),
    columns: [
      { label: "Connection", render: ([id]) => id },
      { label: "Account", render: ([, c]) => text(c.Username) },
      { label: "Device", render: ([, c]) => text(c.DeviceID) },
      { label: "Version", render: ([, c]) => text(c.ReportedVersion) },
      { label: "Connected", render: ([, c]) => formatDate(c.ConnectionTime) },
    ],
  },
};

export function renderPending(main, ctx, area) {
  const body = h("div", { class: "card", id: "area-body" }, spinner());
  clear(main, pageHeader(area.title, area.subtitle), body);
  call(area.path).then(
    (data) => clear(body, table(area.columns, area.rows(data), { empty: `No ${area.title.toLowerCase()} yet` })),
    (err) => clear(body, err.notBuilt ? notAvailable(area.what, area.path) : notice("error", err.message)),
  );
  return null;
}
