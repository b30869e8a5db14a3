// The web app: collections, search (text, image drop/paste/upload, audio upload/recording, more
// like this), labelling with the keyboard, probes. State that can be shared lives in the URL.

import { ApiError, collectionPath, post, postForm, setToken, whenUnauthenticated } from "./api.js";
import { fillCollectionSelect, loadCollections, renderCollections } from "./collections.js";
import { $ } from "./dom.js";
import { LabelStore, renderLabelPanel } from "./labels.js";
import { ProbePanel } from "./probe.js";
import { Recorder } from "./recorder.js";
import { ResultsGrid } from "./results.js";
import { pushState, readUrl } from "./state.js";

const labels = new LabelStore();
let state = readUrl();
let mediaQuery = null; // { kind: "image" | "audio", blob, name } while an upload is the query
let searchSeq = 0;

const grid = new ResultsGrid(labels, {
  moreLikeThis: (id) => { mediaQuery = null; showMediaQuery(); search({ like: id, q: "" }); },
  selectionChanged: (n) => renderLabelPanel(labels, n, assign),
});
const probes = new ProbePanel(labels, (where) => { $("#where").value = where; search({ where }); });
labels.onChange(() => { renderLabelPanel(labels, grid.selected.size, assign); grid.refreshLabels(); });

function assign(index) {
  if (!grid.selected.size) return;
  labels.assign([...grid.selected], index);
  grid.clearSelection();
}

function showError(message) {
  const el = $("#search-error");
  el.textContent = message || "";
  el.hidden = !message;
}

function status(message) { $("#search-status").textContent = message; }

function formState() {
  const modalities = [...document.querySelectorAll("input[name=modality]:checked")].map((el) => el.value);
  return { where: $("#where").value.trim(), modalities, k: Number.parseInt($("#k").value, 10),
           mode: $("#mode").value };
}

function writeForm() {
  $("#query").value = state.q;
  $("#where").value = state.where;
  for (const el of document.querySelectorAll("input[name=modality]")) el.checked = state.modalities.includes(el.value);
  const k = $("#k");
  if (![...k.options].some((o) => o.value === String(state.k))) k.append(new Option(String(state.k)));
  k.value = String(state.k);
  $("#mode").value = state.mode;
}

function showMediaQuery() {
  $("#media-query").hidden = !mediaQuery;
  $("#media-query-label").textContent = mediaQuery ? `${mediaQuery.kind} query: ${mediaQuery.name}` : "";
}

// Completed searches, on #results: lets a test (or a script) wait for the answer to its action.
function searchDone() {
  const results = $("#results");
  results.dataset.searches = String(Number(results.dataset.searches || "0") + 1);
}

async function search(changes = {}, { push = true } = {}) {
  state = { ...state, ...formState(), ...changes };
  if (push) pushState(state);
  writeForm();
  showError("");
  if (!state.collection) return;
  if (!mediaQuery && !state.q && !state.like) { grid.render([], ""); status(""); searchDone(); return; }
  const seq = ++searchSeq;
  status("searching…");
  const path = `${collectionPath(state.collection)}/search`;
  const common = { k: state.k, where: state.where || null, modalities: state.modalities };
  try {
    let result;
    if (mediaQuery) {
      const form = new FormData();
      form.append(mediaQuery.kind, mediaQuery.blob, mediaQuery.name);
      form.append("k", String(state.k));
      if (state.where) form.append("where", state.where);
      for (const m of state.modalities) form.append("modalities", m);
      // An image has no words for a keyword ranking: it is searched by vector whatever the mode.
      if (mediaQuery.kind === "audio") form.append("mode", state.mode);
      result = await postForm(`${path}/media`, form);
    } else if (state.like) {
      result = await post(path, { item_id: state.like, ...common });
    } else {
      result = await post(path, { text: state.q, mode: state.mode, ...common });
    }
    if (seq !== searchSeq) return;
    grid.render(result.hits, state.q || result.query_transcript || "");
    const heard = result.query_transcript ? ` · heard: “${result.query_transcript}”` : "";
    const like = state.like && !mediaQuery ? " like the chosen item" : "";
    status(`${result.hits.length} hits${like}${heard}`);
    searchDone();
  } catch (e) {
    if (seq !== searchSeq) return;
    grid.render([], "");
    status("");
    showError(e instanceof ApiError ? `${e.status}: ${e.message}` : String(e));
    searchDone();
  }
}

async function openCollection(name, { push = true } = {}) {
  state = { ...readUrl({ search: "" }), collection: name };
  mediaQuery = null;
  showMediaQuery();
  if (push) pushState(state);
  await route();
}

async function route() {
  const collections = await loadCollections().catch((e) => { showError(e.message); return []; });
  fillCollectionSelect(collections, state.collection);
  const onSearch = Boolean(state.collection);
  $("#collections-view").hidden = onSearch;
  $("#search-view").hidden = !onSearch;
  if (!onSearch) { renderCollections(collections, (n) => openCollection(n)); return; }
  if (labels.collection !== state.collection) {
    labels.load(state.collection);
    await probes.open(state.collection);
  }
  writeForm();
  await search({}, { push: false }); // the URL's query renders without user action
}

function useMedia(kind, blob, name) {
  mediaQuery = { kind, blob, name };
  showMediaQuery();
  $("#query").value = "";
  search({ q: "", like: "" });
}

function wireMediaInputs() {
  const drop = $("#drop-zone");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/"));
    if (file) useMedia("image", file, file.name);
  });
  document.addEventListener("paste", (e) => {
    const file = [...(e.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file) { e.preventDefault(); useMedia("image", file, file.name || "pasted image"); }
  });
  $("#image-input").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) useMedia("image", f, f.name); });
  $("#audio-input").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) useMedia("audio", f, f.name); });
  $("#media-query-clear").addEventListener("click", () => { mediaQuery = null; showMediaQuery(); grid.render([], ""); status(""); });
  const recorder = new Recorder();
  const button = $("#record-button");
  button.addEventListener("click", async () => {
    try {
      if (!recorder.recording) {
        await recorder.start();
        button.textContent = "■ Stop";
        button.classList.add("recording");
      } else {
        const wav = await recorder.stop();
        button.textContent = "● Record";
        button.classList.remove("recording");
        useMedia("audio", wav, "recording.wav");
      }
    } catch (e) {
      button.textContent = "● Record";
      showError(`recording failed: ${e.message || e}`);
    }
  });
}

function wireKeyboard() {
  document.addEventListener("keydown", (e) => {
    const typing = e.target.closest && e.target.closest("input, textarea, select");
    if (typing || e.ctrlKey || e.metaKey || e.altKey || $("#search-view").hidden) {
      if (e.key === "Escape" && typing) e.target.blur();
      return;
    }
    if (e.key === "/") { e.preventDefault(); $("#query").focus(); }
    else if (e.key === "?") { $("#help").hidden = !$("#help").hidden; }
    else if (e.key === "ArrowRight" || e.key === "j") { e.preventDefault(); grid.moveFocus(1); }
    else if (e.key === "ArrowLeft" || e.key === "k") { e.preventDefault(); grid.moveFocus(-1); }
    else if (e.key === "x" || e.key === " ") { if (grid.focus >= 0) { e.preventDefault(); grid.toggle(grid.focus); } }
    else if (e.key === "a") { grid.selectAll(); }
    else if (e.key === "Escape") { grid.clearSelection(); }
    else if (e.key === "m") { const hit = grid.focusedHit(); if (hit) grid.callbacks.moreLikeThis(hit.id); }
    else if (/^[1-9]$/.test(e.key)) { assign(Number(e.key) - 1); }
    else if (e.key === "0") { if (grid.selected.size) { labels.assign([...grid.selected], null); grid.clearSelection(); } }
  });
}

function wireForms() {
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("#query").value.trim();
    if (q) { mediaQuery = null; showMediaQuery(); }
    search(q ? { q, like: "" } : {});
  });
  for (const el of document.querySelectorAll("input[name=modality], #k, #mode")) el.addEventListener("change", () => search());
  $("#collection-select").addEventListener("change", (e) => { if (e.target.value) openCollection(e.target.value); });
  $("#label-form").addEventListener("submit", (e) => {
    e.preventDefault();
    labels.addName($("#new-label").value);
    $("#new-label").value = "";
  });
  $("#clear-examples").addEventListener("click", () => labels.clear());
  for (const link of document.querySelectorAll("[data-nav=collections]")) {
    link.addEventListener("click", (e) => { e.preventDefault(); openCollection(""); });
  }
  $("#help-button").addEventListener("click", () => { $("#help").hidden = !$("#help").hidden; });
  $("#token-button").addEventListener("click", () => { $("#token-form").hidden = !$("#token-form").hidden; });
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setToken($("#token-input").value.trim());
    $("#token-form").hidden = true;
    route();
  });
  whenUnauthenticated((message) => {
    $("#token-reason").textContent = message;
    $("#token-form").hidden = false;
  });
  window.addEventListener("popstate", () => { state = readUrl(); mediaQuery = null; showMediaQuery(); route(); });
}

wireForms();
wireMediaInputs();
wireKeyboard();
route();
