// Train a probe from the labelled hits, show its report (accuracy with its interval, paired
// comparisons with zero-shot and the plain probe, per-class precision/recall, the confusion matrix as a picture),
// apply it to the collection, then filter searches by the predicted label.

import { collectionPath, get, post } from "./api.js";
import { $, clear, h, pct, svg } from "./dom.js";

function accuracyLine(report) {
  if (report.accuracy === null) return h("p", {}, "accuracy: not enough examples to estimate it");
  const interval = report.accuracy_interval;
  return h("p", { class: "accuracy" },
    `${report.accuracy_title}: `,
    h("strong", { class: "value" }, pct(report.accuracy)),
    interval ? ` (${Math.round(interval.level * 100)}% interval ${pct(interval.low)} – ${pct(interval.high)}, ${report.n_evaluated} rows)` : "");
}

// Each baseline on the same rows: the difference with its interval and what it allows to say
// ("cannot tell apart" when the interval spans 0).
function comparison(report) {
  const rows = [["this probe", report.accuracy, ""], ["zero-shot (prompts only)", report.zero_shot_accuracy, "zero-shot"],
    ["plain probe (no prompts)", report.plain_probe_accuracy, "plain probe"]];
  const verdict = (baseline) => {
    const c = report.comparisons.find((x) => x.baseline === baseline);
    if (!c) return "";
    const points = (v) => `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)}`;
    return `${points(c.difference)} points [${points(c.interval.low)}, ${points(c.interval.high)}]: ${c.verdict}`;
  };
  return h("table", { class: "data compare" },
    h("tbody", {}, rows.map(([name, value, baseline]) => h("tr", {}, h("td", {}, name),
      h("td", { class: "num" }, pct(value)), h("td", { class: "verdict" }, baseline ? verdict(baseline) : "")))));
}

function perClass(report) {
  return h("table", { class: "data per-class" },
    h("thead", {}, h("tr", {}, h("th", {}, "class"), h("th", {}, "precision"), h("th", {}, "recall"), h("th", {}, "F1"), h("th", {}, "n"))),
    h("tbody", {}, report.class_metrics.map((m) => h("tr", {},
      h("td", {}, m.label), h("td", { class: "num" }, pct(m.precision)), h("td", { class: "num" }, pct(m.recall)),
      h("td", { class: "num" }, pct(m.f1)), h("td", { class: "num" }, String(m.support))))));
}

// The confusion matrix as an SVG heat map: rows are true classes, columns predictions.
export function confusionSvg(classes, matrix) {
  const cell = 34;
  const labelWidth = 90;
  const top = 70;
  const n = classes.length;
  const max = Math.max(1, ...matrix.flat());
  const width = labelWidth + n * cell + 10;
  const height = top + n * cell + 10;
  const picture = svg("svg", { class: "confusion", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": "confusion matrix: rows true class, columns predicted class" });
  classes.forEach((name, j) => {
    picture.append(svg("text", { x: labelWidth + j * cell + cell / 2, y: top - 6, transform: `rotate(-40 ${labelWidth + j * cell + cell / 2} ${top - 6})`, class: "axis" }, name));
    picture.append(svg("text", { x: labelWidth - 6, y: top + j * cell + cell / 2 + 4, "text-anchor": "end", class: "axis" }, name));
  });
  matrix.forEach((row, i) => row.forEach((count, j) => {
    const shade = count / max;
    picture.append(svg("rect", { x: labelWidth + j * cell, y: top + i * cell, width: cell - 2, height: cell - 2,
      fill: i === j ? `rgba(43, 120, 70, ${0.15 + 0.85 * shade})` : `rgba(190, 60, 50, ${count ? 0.15 + 0.85 * shade : 0.04})`,
      class: "cell", dataset: { row: String(i), col: String(j) } }, svg("title", {}, `true ${classes[i]}, predicted ${classes[j]}: ${count}`)));
    picture.append(svg("text", { x: labelWidth + j * cell + cell / 2 - 1, y: top + i * cell + cell / 2 + 4, "text-anchor": "middle", class: "count" }, String(count)));
  }));
  return picture;
}

export function renderReport(report) {
  const box = clear($("#probe-report"));
  box.hidden = false;
  box.append(
    h("h3", {}, `${report.name} v${report.version}`, h("span", { class: "muted" }, ` · ${report.space} space · ${report.n_examples} examples`)),
    accuracyLine(report),
    comparison(report),
    perClass(report),
    h("h4", {}, "confusion matrix"),
    confusionSvg(report.classes, report.confusion_matrix),
    report.notes.length ? h("ul", { class: "notes" }, report.notes.map((n) => h("li", {}, n))) : null,
  );
  $("#apply-box").hidden = false;
}

export class ProbePanel {
  constructor(labels, filterBy) {
    this.labels = labels;
    this.filterBy = filterBy; // (where) => run the search with that filter
    this.collection = "";
    this.report = null;
    $("#train-form").addEventListener("submit", (e) => { e.preventDefault(); this.train(); });
    $("#apply-button").addEventListener("click", () => this.apply());
    $("#probe-select").addEventListener("change", (e) => this.show(e.target.value));
    $("#predicted-filter").addEventListener("change", (e) => {
      const value = e.target.value;
      if (this.report) this.filterBy(value ? `${this.report.label_column} = '${value.replaceAll("'", "''")}'` : "");
    });
  }

  error(message) {
    const el = $("#probe-error");
    el.textContent = message || "";
    el.hidden = !message;
  }

  async open(collection) {
    this.collection = collection;
    this.report = null;
    $("#probe-report").hidden = true;
    $("#apply-box").hidden = true;
    $("#filter-label").hidden = true;
    $("#apply-result").textContent = "";
    this.error("");
    await this.refreshList();
  }

  async refreshList(current = "") {
    const select = clear($("#probe-select"));
    select.append(h("option", { value: "" }, "stored probes…"));
    if (!this.collection) return;
    try {
      for (const p of await get(`${collectionPath(this.collection)}/probes`)) {
        select.append(h("option", { value: p.name, selected: p.name === current }, `${p.name} v${p.version}`));
      }
    } catch (e) { this.error(e.message); }
  }

  async show(name) {
    if (!name) return;
    this.error("");
    try {
      this.report = await get(`${collectionPath(this.collection)}/probes/${encodeURIComponent(name)}`);
      renderReport(this.report);
    } catch (e) { this.error(e.message); }
  }

  async train() {
    const name = $("#probe-name").value.trim();
    const prompt = $("#probe-prompt").value.trim();
    const examples = this.labels.trainingExamples();
    this.error("");
    const button = $("#train-button");
    button.disabled = true;
    button.textContent = "Training…";
    try {
      this.report = await post(`${collectionPath(this.collection)}/probes/${encodeURIComponent(name)}/train`,
        { examples, prompt_template: prompt || null });
      renderReport(this.report);
      await this.refreshList(name);
    } catch (e) {
      this.error(e.message);
    } finally {
      button.disabled = false;
      button.textContent = "Train probe";
    }
  }

  async apply() {
    if (!this.report) return;
    this.error("");
    const out = $("#apply-result");
    out.textContent = "Applying…";
    try {
      const result = await post(`${collectionPath(this.collection)}/probes/${encodeURIComponent(this.report.name)}/apply`,
        { version: this.report.version });
      out.textContent = `labelled ${result.items} items: ` + Object.entries(result.counts).map(([l, n]) => `${l} ${n}`).join(", ") +
        (result.abstained ? `, ${result.abstained} abstained` : "");
      const select = clear($("#predicted-filter"));
      select.append(h("option", { value: "" }, "any"));
      for (const label of this.report.classes) select.append(h("option", { value: label }, label));
      $("#filter-label").hidden = false;
    } catch (e) {
      out.textContent = "";
      this.error(e.message);
    }
  }
}
