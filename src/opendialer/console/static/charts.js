// Small SVG charts for the wallboard and the reports: bars and lines over one axis. No
// dependencies; colours pass WCAG AA against white and every chart has a text legend.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const CHART_COLOURS = ["#0b57d0", "#b3261e", "#146c2e", "#7c4dff", "#8a5300"];

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  return el;
}

function chartLabel(value, percent) {
  if (value == null) return "";
  if (percent) return (value * 100).toFixed(value < 0.1 ? 1 : 0) + " %";
  return Math.abs(value) >= 100 ? Math.round(value).toString() : String(+value.toFixed(2));
}

// series: [{name, values, kind: "bar" | "line"}]; labels: one per point.
function drawChart(container, labels, series, options) {
  const opts = options || {};
  const width = 640, height = 200, left = 48, bottom = 28, top = 10, right = 10;
  const plotW = width - left - right, plotH = height - top - bottom;
  const all = series.flatMap((s) => s.values.filter((v) => v != null));
  const max = Math.max(opts.percent ? 0.01 : 1, ...all) * 1.1;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
                            "aria-label": opts.title || series.map((s) => s.name).join(", ") });
  const y = (v) => top + plotH - (v / max) * plotH;
  const step = labels.length ? plotW / labels.length : plotW;
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    svg.append(svgEl("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#e3e5e8" }));
    const t = svgEl("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 10, fill: "#4a4f57" });
    t.textContent = chartLabel(v, opts.percent);
    svg.append(t);
  }
  const every = Math.max(1, Math.ceil(labels.length / 12));
  labels.forEach((label, i) => {
    if (i % every) return;
    const t = svgEl("text", { x: left + step * i + step / 2, y: height - 10, "text-anchor": "middle",
                              "font-size": 10, fill: "#4a4f57" });
    t.textContent = label;
    svg.append(t);
  });
  const bars = series.filter((s) => s.kind !== "line");
  series.forEach((s, index) => {
    const colour = s.colour || CHART_COLOURS[index % CHART_COLOURS.length];
    if (s.kind === "line") {
      const points = s.values.map((v, i) => (v == null ? null : `${left + step * i + step / 2},${y(v)}`));
      const path = points.filter(Boolean).join(" ");
      if (path) svg.append(svgEl("polyline", { points: path, fill: "none", stroke: colour, "stroke-width": 2 }));
      s.values.forEach((v, i) => {  // a dot on each point: one point alone is no line
        if (v != null) svg.append(svgEl("circle", { cx: left + step * i + step / 2, cy: y(v), r: 3, fill: colour }));
      });
    } else {
      const slot = bars.indexOf(s), barW = (step * 0.8) / bars.length;
      s.values.forEach((v, i) => {
        if (v == null) return;
        // Side by side, each its own colour: equal values still show every series' bar.
        const bar = svgEl("rect", { x: left + step * i + step * 0.1 + slot * barW, y: y(v),
                                    width: Math.max(1, barW - 1), height: top + plotH - y(v), fill: colour,
                                    "data-series": s.name, "data-value": v });
        const title = svgEl("title");
        title.textContent = `${labels[i]} ${s.name}: ${chartLabel(v, opts.percent)}`;
        bar.append(title);
        svg.append(bar);
      });
    }
  });
  const legend = document.createElement("p");
  legend.className = "legend";
  series.forEach((s, index) => {
    const key = document.createElement("span");
    key.className = "key key-" + (index % CHART_COLOURS.length);
    key.textContent = (s.kind === "line" ? "— " : "■ ") + s.name;
    legend.append(key);
  });
  container.replaceChildren(svg, legend);
}
