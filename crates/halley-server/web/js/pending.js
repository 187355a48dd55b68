// Areas whose endpoints may not be built on this server yet. Each view calls
// its endpoint: a 501 answer shows the "not available" state, anything else
// is listed, so the page lights up as soon as the server provides it.

import { call } from "./api.js";
import { h, clear, notAvailable, notice, pageHeader, spinner, table } from "./ui.js";

// Every area's endpoints are built now; a new area starts here until its
// endpoint is. Each entry: { title, subtitle, what, path, rows(data), columns }.
export const PENDING_AREAS = {};

export function renderPending(main, ctx, area) {
  const body = h("div", { class: "card", id: "area-body" }, spinner());
  clear(main, pageHeader(area.title, area.subtitle), body);
  call(area.path).then(
    (data) => clear(body, table(area.columns, area.rows(data), { empty: `No ${area.title.toLowerCase()} yet` })),
    (err) => clear(body, err.notBuilt ? notAvailable(area.what, area.path) : notice("error", err.message)),
  );
  return null;
}
