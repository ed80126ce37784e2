// Charts (Chart.js) and the world map (chartjs-chart-geo over world-atlas's country outlines,
// served from our own assets: no tiles, no network).
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { ChoroplethController, ColorScale, GeoFeature, ProjectionScale, topojson } from "chartjs-chart-geo";
import codes from "i18n-iso-countries/codes.json";
import { h } from "./dom.js";

Chart.register(
  ArcElement, BarController, BarElement, CategoryScale, DoughnutController, Filler, Legend,
  LinearScale, LineController, LineElement, PointElement, Tooltip,
  ChoroplethController, ColorScale, GeoFeature, ProjectionScale,
);
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;

const PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569"];

/** A titled card holding a canvas; `draw(canvas)` makes its chart once the canvas is placed. */
export function chartCard(title, draw, { tall = false, id } = {}) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const card = h("section", { class: "card chart", "data-chart": id ?? title }, h("h3", {}, title), h("div", { class: tall ? "plot tall" : "plot" }, canvas));
  requestAnimationFrame(() => {
    Promise.resolve()
      .then(() => draw(canvas))
      .then(
        () => { card.dataset.drawn = "true"; },
        (error) => { card.append(h("p", { class: "error" }, `chart failed: ${error.message}`)); },
      );
  });
  return card;
}

export function lineChart(canvas, labels, series) {
  return new Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: series.map((s, i) => ({ label: s.label, data: s.data, borderColor: PALETTE[i], backgroundColor: PALETTE[i] + "33", fill: i === 0, pointRadius: labels.length < 3 ? 3 : 0, stepped: true })),
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, interaction: { mode: "index", intersect: false } },
  });
}

export function barChart(canvas, labels, series, { stacked = false, horizontal = false, absolute = false } = {}) {
  return new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: s.color ?? PALETTE[i] })) },
    options: {
      indexAxis: horizontal ? "y" : "x",
      scales: { x: { stacked }, y: { stacked, beginAtZero: true, ticks: { precision: 0, callback: absolute ? (v) => Math.abs(v) : undefined } } },
      plugins: {
        legend: { display: series.length > 1 },
        tooltip: absolute ? { callbacks: { label: (item) => `${item.dataset.label}: ${Math.abs(item.raw)}` } } : {},
      },
    },
  });
}

export function doughnutChart(canvas, labels, data) {
  return new Chart(canvas, {
    type: "doughnut",
    data: { labels, datasets: [{ data, backgroundColor: labels.map((_, i) => PALETTE[i % PALETTE.length]) }] },
    options: { plugins: { legend: { position: "right" } } },
  });
}

const NUMERIC_OF = new Map(codes.map(([alpha2, , numeric]) => [alpha2, numeric]));
let countries = null;

async function countryOutlines() {
  if (!countries) {
    const world = await (await fetch("/dashboard/assets/countries-110m.json")).json();
    countries = topojson.feature(world, world.objects.countries).features;
  }
  return countries;
}

/** Users per country (ISO alpha-2 codes) on a world map. */
export async function worldMap(canvas, usersByCountry) {
  const features = await countryOutlines();
  const byNumeric = new Map();
  for (const [alpha2, users] of Object.entries(usersByCountry)) {
    const numeric = NUMERIC_OF.get(alpha2);
    if (numeric) byNumeric.set(numeric, users);
  }
  return new Chart(canvas, {
    type: "choropleth",
    data: {
      labels: features.map((f) => f.properties.name),
      datasets: [{ label: "users", outline: features, data: features.map((feature) => ({ feature, value: byNumeric.get(feature.id) ?? 0 })) }],
    },
    options: {
      showOutline: true,
      showGraticule: false,
      plugins: { legend: { display: false } },
      scales: { projection: { axis: "x", projection: "equalEarth" }, color: { axis: "x", quantize: 5, legend: { position: "bottom-right", align: "right" } } },
    },
  });
}
