// Labelled examples for a probe: item id -> label, kept per collection in this browser
// (localStorage), so labelling can go on across several searches and reloads.

import { $, clear, h } from "./dom.js";

const key = (collection) => `omnivec.labels.${collection}`;

export class LabelStore {
  constructor() {
    this.collection = "";
    this.names = [];
    this.examples = {};
    this.listeners = [];
  }

  load(collection) {
    this.collection = collection;
    let saved = {};
    try { saved = JSON.parse(localStorage.getItem(key(collection)) || "{}"); } catch { saved = {}; }
    this.names = Array.isArray(saved.names) ? saved.names.filter((n) => typeof n === "string") : [];
    this.examples = saved.examples && typeof saved.examples === "object" ? saved.examples : {};
    this.changed();
  }

  save() {
    if (this.collection) localStorage.setItem(key(this.collection), JSON.stringify({ names: this.names, examples: this.examples }));
    this.changed();
  }

  onChange(listener) { this.listeners.push(listener); }
  changed() { for (const l of this.listeners) l(this); }

  addName(name) {
    const clean = name.trim();
    if (clean && !this.names.includes(clean)) this.names.push(clean);
    this.save();
    return this.names.indexOf(clean);
  }

  // Label the items with names[index]; index null removes their labels.
  assign(ids, index) {
    const label = index === null ? null : this.names[index];
    if (index !== null && label === undefined) return false;
    for (const id of ids) {
      if (label === null) delete this.examples[id];
      else this.examples[id] = label;
    }
    this.save();
    return true;
  }

  labelOf(id) { return this.examples[id] || null; }
  count(label) { return Object.values(this.examples).filter((l) => l === label).length; }
  clear() { this.examples = {}; this.save(); }

  trainingExamples() {
    return Object.entries(this.examples).map(([item_id, label]) => ({ item_id, label }));
  }
}

export function renderLabelPanel(store, selectedCount, onAssign) {
  const list = clear($("#label-list"));
  store.names.forEach((name, i) => {
    const button = h("button", { type: "button", class: "label-button", title: `label the selection "${name}" (key ${i + 1})` },
      h("kbd", {}, String(i + 1)), " ", name, h("span", { class: "count" }, ` ${store.count(name)}`));
    button.addEventListener("click", () => onAssign(i));
    list.append(h("li", {}, button));
  });
  $("#selected-count").textContent = String(selectedCount);
  $("#example-count").textContent = String(Object.keys(store.examples).length);
}
