// The collections page: counts per modality, spaces with their encoders, size on disk.

import { get } from "./api.js";
import { $, clear, formatBytes, h } from "./dom.js";

export async function loadCollections() {
  return get("/api/collections");
}

export function renderCollections(collections, open) {
  const body = clear($("#collections-table tbody"));
  $("#collections-empty").hidden = collections.length > 0;
  $("#collections-table").hidden = collections.length === 0;
  for (const c of collections) {
    const modalities = Object.entries(c.modality_counts).map(([m, n]) => `${m} ${n}`).join(", ") || "empty";
    const spaces = c.spaces.map((s) => h("div", {},
      h("strong", {}, s.space), ` ${s.encoder.model}`,
      s.encoder.pretrained ? ` (${s.encoder.pretrained})` : "", `, ${s.encoder.dim}-d, ${s.index_kind}`));
    const link = h("a", { href: `/?c=${encodeURIComponent(c.name)}`, class: "collection-link" }, c.name);
    link.addEventListener("click", (event) => { event.preventDefault(); open(c.name); });
    body.append(h("tr", { dataset: { collection: c.name } },
      h("td", {}, link), h("td", { class: "num" }, String(c.item_count)), h("td", {}, modalities),
      h("td", {}, spaces), h("td", { class: "num" }, formatBytes(c.size_bytes))));
  }
}

export function fillCollectionSelect(collections, current) {
  const select = clear($("#collection-select"));
  select.append(h("option", { value: "" }, "choose…"));
  for (const c of collections) select.append(h("option", { value: c.name, selected: c.name === current }, c.name));
}
