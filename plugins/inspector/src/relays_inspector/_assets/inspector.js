// The inspector's page: the tree (an SVG from tree.svg), a clicked component's handlers
// (handlers?component=KEY) and the live event stream (events, server-sent events).
// Plain DOM code: no framework, nothing from another server (the page's CSP forbids it).
"use strict";

const MAX_ROWS = 500; // event lines kept on the page; older ones are removed
const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- the tree and the handler table -------------------------------------------------

async function drawTree() {
  const box = $("tree");
  const answer = await fetch("tree.svg", { credentials: "same-origin" });
  if (!answer.ok) {
    box.textContent = `could not draw the tree (${answer.status})`;
    return;
  }
  const parsed = new DOMParser().parseFromString(await answer.text(), "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.nodeName !== "svg") {
    box.textContent = "the tree picture could not be read";
    return;
  }
  box.replaceChildren(document.importNode(svg, true));
  for (const node of box.querySelectorAll("g.node")) {
    node.addEventListener("click", () => showHandlers(node));
  }
  document.body.dataset.tree = "drawn";
}

async function showHandlers(node) {
  for (const other of $("tree").querySelectorAll("g.node.selected")) other.classList.remove("selected");
  node.classList.add("selected");
  const answer = await fetch(`handlers?component=${encodeURIComponent(node.id)}`, { credentials: "same-origin" });
  const table = $("handlers");
  const body = table.tBodies[0];
  if (!answer.ok) {
    $("handlers-hint").textContent = answer.status === 404 ? "that component has left the tree: redraw" : `error ${answer.status}`;
    table.hidden = true;
    return;
  }
  const data = await answer.json();
  $("handlers-title").textContent = `Handlers of ${data.component}`;
  $("handlers-hint").textContent = `${data.handlers.length} handlers under ${data.repr}`;
  body.replaceChildren(...data.handlers.map((row) => {
    const line = element("tr");
    line.append(element("td", "event", row.event), element("td", "channel", row.channel),
      element("td", "priority", String(row.priority)), element("td", "handler", row.handler),
      element("td", "owner", row.owner));
    return line;
  }));
  table.hidden = false;
  document.body.dataset.handlers = data.component;
}

// -- the live figures ----------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svgElement(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function lineChart(id, values) {
  const svg = $(id);
  const top = Math.max(1, ...values);
  const step = values.length > 1 ? 236 / (values.length - 1) : 0;
  const points = values.map((value, index) => `${2 + index * step},${56 - (value / top) * 48}`);
  svg.replaceChildren(
    svgElement("polyline", { points: points.join(" ") }),
    svgElement("text", { x: 2, y: 7 }, String(Math.round(top * 100) / 100)),
  );
}

function bucketLabel(seconds) {
  return seconds >= 1e-3 ? `${seconds * 1e3}ms` : `${Math.round(seconds * 1e6)}µs`;
}

function histogram(data) {
  const svg = $("plot-histogram");
  const top = Math.max(1, ...data.counts);
  const width = 236 / data.counts.length;
  const bars = data.counts.map((count, index) => {
    const height = (count / top) * 46;
    const bar = svgElement("rect", { x: 2 + index * width, y: 50 - height, width: width - 2, height });
    const bound = index < data.bounds.length ? `≤ ${bucketLabel(data.bounds[index])}` : "more";
    bar.append(svgElement("title", {}, `${bound}: ${count}`));
    return bar;
  });
  const labels = [0, Math.floor(data.counts.length / 2), data.counts.length - 1].map((index) =>
    svgElement("text", { x: 2 + index * width, y: 59 },
      index < data.bounds.length ? bucketLabel(data.bounds[index]) : "more"));
  svg.replaceChildren(...bars, ...labels);
}

function counts(all) {
  const rows = Object.entries(all).slice(0, 12);
  const top = Math.max(1, ...rows.map(([, count]) => count));
  $("counts").tBodies[0].replaceChildren(...rows.map(([name, count]) => {
    const line = element("tr");
    const bar = element("td", "bar");
    const fill = element("span");
    fill.style.width = `${(count / top) * 100}%`;
    bar.append(fill);
    line.append(element("td", "name", name), element("td", "count", String(count)), bar);
    return line;
  }));
}

function showFigures(figures) {
  const series = figures.series;
  const last = (values) => (values.length ? values[values.length - 1] : 0);
  lineChart("plot-requests", series.requests_per_second);
  lineChart("plot-queue", series.queue_depth);
  $("now-requests").textContent = String(last(series.requests_per_second));
  $("now-queue").textContent = String(last(series.queue_depth));
  if (figures.has_server) {
    lineChart("plot-connections", series.connections);
    $("now-connections").textContent = String(last(series.connections));
  } else {
    $("now-connections").textContent = "no server";
  }
  histogram(figures.histogram);
  counts(figures.counts);
  document.body.dataset.figures = String(series.time.length);
}

// -- the event stream ---------------------------------------------------------------

let source = null;
let paused = false;
let skipped = 0;
let shown = 0;

function clock(seconds) {
  const time = new Date(seconds * 1000);
  return time.toLocaleTimeString([], { hour12: false }) + "." + String(time.getMilliseconds()).padStart(3, "0");
}

function eventLine(record) {
  const line = element("li", record.error ? "error" : "");
  line.append(element("span", "time", clock(record.time)), element("span", "name", record.name),
    element("span", "text", record.text));
  line.dataset.name = record.name;
  if (record.error) {
    const details = element("details");
    details.append(element("summary", "", record.error), element("pre", "", record.traceback || ""));
    line.append(details);
  }
  return line;
}

function receive(message) {
  const batch = JSON.parse(message.data);
  $("dropped").textContent = String(batch.dropped);
  if (batch.figures) showFigures(batch.figures);
  if (paused) {
    skipped += batch.events.length;
    $("skipped").textContent = String(skipped);
    return;
  }
  const list = $("events");
  for (const record of batch.events) list.append(eventLine(record));
  shown += batch.events.length;
  while (list.childElementCount > MAX_ROWS) list.firstElementChild.remove();
  $("shown").textContent = String(shown);
  list.scrollTop = list.scrollHeight;
}

function connect() {
  if (source) source.close();
  const query = new URLSearchParams();
  const name = $("filter-name").value.trim();
  const channel = $("filter-channel").value.trim();
  if (name) query.set("name", name);
  if (channel) query.set("channel", channel);
  source = new EventSource("events" + (query.size ? `?${query}` : ""));
  source.addEventListener("events", receive);
  source.addEventListener("open", () => { $("state").textContent = "live"; });
  source.addEventListener("error", () => { $("state").textContent = "reconnecting"; });
  source.addEventListener("events", () => { document.body.dataset.stream = "live"; }, { once: true });
}

function setUp() {
  $("redraw").addEventListener("click", drawTree);
  $("filters").addEventListener("submit", (submitted) => { submitted.preventDefault(); connect(); });
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").setAttribute("aria-pressed", String(paused));
    $("pause").textContent = paused ? "resume" : "pause";
    $("state").textContent = paused ? "paused" : "live";
  });
  $("clear").addEventListener("click", () => { $("events").replaceChildren(); shown = 0; $("shown").textContent = "0"; });
  drawTree();
  connect();
}

setUp();
