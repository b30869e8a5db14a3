// The search state lives in the URL, so a link or a reload shows the same results:
//   /?c=demo&q=sunny+weather&mod=image,audio&where=...&k=24     a text search
//   /?c=demo&like=<item id>                                      "more like this"
// An uploaded image or audio query is not in the URL (its bytes are not), and is shown as such.

const MODALITIES = ["image", "text", "audio"];
// Search modes (the engine's): hybrid fuses the vector rankings with the keyword (BM25) one.
const MODES = ["hybrid", "vector", "keyword"];

export function readUrl(location = window.location) {
  const p = new URLSearchParams(location.search);
  const mod = (p.get("mod") || "").split(",").filter((m) => MODALITIES.includes(m));
  return {
    collection: p.get("c") || "",
    q: p.get("q") || "",
    like: p.get("like") || "",
    where: p.get("where") || "",
    modalities: mod.length ? mod : [...MODALITIES],
    k: Number.parseInt(p.get("k") || "12", 10) || 12,
    mode: MODES.includes(p.get("mode")) ? p.get("mode") : "hybrid",
  };
}

export function toUrl(state) {
  const p = new URLSearchParams();
  if (state.collection) p.set("c", state.collection);
  if (state.like) p.set("like", state.like);
  else if (state.q) p.set("q", state.q);
  if (state.where) p.set("where", state.where);
  if (state.modalities.length && state.modalities.length < MODALITIES.length) p.set("mod", state.modalities.join(","));
  if (state.k !== 12) p.set("k", String(state.k));
  if (state.mode && state.mode !== "hybrid") p.set("mode", state.mode);
  const query = p.toString();
  return query ? `/?${query}` : "/";
}

export function pushState(state, replace = false) {
  const url = toUrl(state);
  if (url === `${window.location.pathname}${window.location.search}`) return;
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
}
