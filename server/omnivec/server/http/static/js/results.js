// The results grid: image thumbnails, text hits with the matched chunk highlighted, audio hits
// with a player that starts at the hit's start_s and the transcript span; score and space on
// hover; selection for labelling.

import { mediaSrc } from "./api.js";
import { $, clear, h, highlighted } from "./dom.js";

const seconds = (s) => (s === null || s === undefined ? "" : `${s.toFixed(1)} s`);
const shortSource = (uri) => (uri ? uri.split(/[\\/]/).pop() : "");

function scoreLine(hit) {
  const found = (hit.matches || []).map((m) => `${m.ranking} #${m.rank}`).join(", ");
  return `score ${hit.score >= 0 ? "+" : ""}${hit.score.toFixed(3)} · space ${hit.space} · fused ${hit.fused_score.toFixed(4)} · rank ${hit.rank}${found ? ` · found by ${found}` : ""}`;
}

function imageBody(hit) {
  const img = h("img", { class: "thumb", alt: shortSource(hit.source_uri) || hit.id, loading: "lazy" });
  mediaSrc(hit.thumbnail_url).then((src) => { img.src = src; }, () => img.classList.add("missing"));
  return h("div", { class: "media" }, img);
}

function textBody(hit, query) {
  const chunk = hit.span ? hit.span.text : "";
  return h("div", { class: "text-hit" },
    hit.chunk > 0 ? h("span", { class: "chunk-no" }, `chunk ${hit.chunk + 1} `) : null,
    h("mark", { class: "chunk" }, highlighted(chunk, query)));
}

function audioBody(hit, query) {
  const start = hit.span && hit.span.start_s !== null ? hit.span.start_s : 0;
  const end = hit.span ? hit.span.end_s : null;
  const audio = h("audio", { controls: true, preload: "metadata", class: "player", dataset: { start: String(start) } });
  mediaSrc(hit.audio_url).then((src) => { audio.src = `${src}#t=${start}`; }, () => audio.classList.add("missing"));
  // Whatever starts playback (our button or the native control), it starts at the hit.
  let positioned = false;
  const toStart = () => { if (!positioned) { positioned = true; audio.currentTime = start; } };
  audio.addEventListener("loadedmetadata", toStart);
  audio.addEventListener("play", toStart);
  const play = h("button", { type: "button", class: "play", title: `play from ${seconds(start)}` }, `▶ ${seconds(start)}`);
  play.addEventListener("click", (event) => {
    event.stopPropagation();
    positioned = true;
    audio.currentTime = start;
    audio.play();
  });
  return h("div", { class: "audio-hit" },
    h("div", { class: "player-row" }, play, audio),
    h("div", { class: "span-time" }, `${seconds(start)} – ${seconds(end)}`),
    h("blockquote", { class: "transcript" }, highlighted(hit.span ? hit.span.text : "", query)));
}

export class ResultsGrid {
  constructor(labels, callbacks) {
    this.labels = labels;
    this.callbacks = callbacks; // { moreLikeThis(id), selectionChanged(n) }
    this.hits = [];
    this.selected = new Set();
    this.focus = -1;
  }

  render(hits, query) {
    this.hits = hits;
    this.selected.clear();
    this.focus = -1;
    const grid = clear($("#results"));
    hits.forEach((hit, i) => grid.append(this.card(hit, i, query)));
    this.callbacks.selectionChanged(0);
  }

  card(hit, index, query) {
    const body = hit.modality === "image" ? imageBody(hit) : hit.modality === "audio" ? audioBody(hit, query) : textBody(hit, query);
    const label = this.labels.labelOf(hit.id);
    const more = h("button", { type: "button", class: "more", title: "search for items like this one" }, "more like this");
    more.addEventListener("click", (event) => { event.stopPropagation(); this.callbacks.moreLikeThis(hit.id); });
    const card = h("article", {
      class: `hit ${hit.modality}`, role: "listitem", tabindex: "0", title: scoreLine(hit),
      dataset: { id: hit.id, modality: hit.modality, index: String(index) },
    },
    h("div", { class: "hit-head" },
      h("span", { class: "rank" }, `${hit.rank}.`),
      h("span", { class: "modality" }, hit.modality),
      h("span", { class: "source" }, shortSource(hit.source_uri) || hit.id),
      h("span", { class: "label-badge", hidden: !label }, label || "")),
    body,
    h("div", { class: "hit-foot" },
      h("span", { class: "score" }, scoreLine(hit)),
      more));
    card.addEventListener("click", (event) => {
      if (event.target.closest("audio, button, a")) return;
      this.toggle(index);
    });
    card.addEventListener("focus", () => { this.focus = index; });
    return card;
  }

  cards() { return [...document.querySelectorAll("#results .hit")]; }

  toggle(index) {
    const id = this.hits[index].id;
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    this.cards()[index].classList.toggle("selected", this.selected.has(id));
    this.callbacks.selectionChanged(this.selected.size);
  }

  selectAll() {
    this.hits.forEach((hit, i) => { this.selected.add(hit.id); this.cards()[i].classList.add("selected"); });
    this.callbacks.selectionChanged(this.selected.size);
  }

  clearSelection() {
    this.selected.clear();
    for (const card of this.cards()) card.classList.remove("selected");
    this.callbacks.selectionChanged(0);
  }

  moveFocus(step) {
    if (!this.hits.length) return;
    this.focus = Math.max(0, Math.min(this.hits.length - 1, this.focus + step));
    this.cards()[this.focus].focus();
  }

  focusedHit() { return this.focus >= 0 ? this.hits[this.focus] : null; }

  refreshLabels() {
    this.cards().forEach((card, i) => {
      const label = this.labels.labelOf(this.hits[i].id);
      const badge = card.querySelector(".label-badge");
      badge.textContent = label || "";
      badge.hidden = !label;
    });
  }
}
