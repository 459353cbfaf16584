// edgegrade live view: the overlay stream, the newest result, a chart of the ratio and the
// snapshots. It only reads: every request is a GET, and the token (when the server asks for
// one) goes with each of them.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const url = (path) => (token ? path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : path);
const $ = (id) => document.getElementById(id);
const COLOURS = { A: "#66bb6a", B: "#26c6da", C: "#ffa726", D: "#ef5350" };
const KEEP = 300; // results on the chart
let records = [], lastSeq = 0, grades = [], snapshotCount = -1, lastShownAt = 0, ended = false;
// what the page showed and when (ms since the epoch), for anyone checking how far behind the log it is
window.edgegrade = { shown: [] };

function pct(v) { return v === null || v === undefined ? "" : (100 * v).toFixed(1) + " %"; }

function add(list) {
  for (const r of list) {
    if (r.seq <= lastSeq) continue;
    lastSeq = r.seq;
    records.push(r);
  }
  if (records.length > KEEP) records = records.slice(records.length - KEEP);
}

function show() {
  const r = records[records.length - 1];
  if (!r) return;
  $("grade").textContent = r.heading || (r.grade ? "Grade " + r.grade : r.state);
  $("grade").style.color = COLOURS[r.grade] || "#ccc";
  $("ratio").textContent = r.ratio !== null && r.ratio !== undefined ? "fragmentation " + pct(r.ratio) :
    (r.inclusions ? r.inclusions.count + " inclusions" : "");
  $("mask").textContent = r.mask_ratio !== null && r.mask_ratio !== undefined ? "from the mask " + pct(r.mask_ratio) : "";
  $("review").textContent = r.review ? "REVIEW: grader and mask disagree" : "no review flag";
  $("review").className = r.review ? "on" : "off";
  $("where").textContent = "frame " + r.frame + (r.name ? " (" + r.name + ")" : "") + (r.embryo ? ", embryo " + r.embryo : "");
  lastShownAt = Date.now();
  window.edgegrade.shown.push({ seq: r.seq, frame: r.frame, grade: r.grade, logged: r.time * 1000, shown: lastShownAt });
  if (window.edgegrade.shown.length > 1000) window.edgegrade.shown.shift();
  chart();
  if (r.snapshots !== snapshotCount) { snapshotCount = r.snapshots; loadSnapshots(); }
}

function chart() {
  const c = $("chart"), g = c.getContext("2d"), w = c.width, h = c.height, pad = 28;
  g.clearRect(0, 0, w, h);
  const values = records.flatMap((r) => [r.ratio, r.mask_ratio]).filter((v) => v !== null && v !== undefined);
  const top = Math.min(1, Math.max(0.3, ...values) * 1.15 + 0.02);
  const y = (v) => h - pad - (Math.min(v, top) / top) * (h - 2 * pad);
  for (const band of grades) { // the grade intervals as bands, those in view
    if (band.low >= top) continue;
    g.fillStyle = COLOURS[band.grade] + "22";
    g.fillRect(pad, y(band.high), w - pad, y(band.low) - y(band.high));
    g.fillStyle = "#888"; g.font = "18px sans-serif";
    g.fillText(band.grade, 4, (y(band.low) + y(band.high)) / 2 + 6);
  }
  const n = records.length;
  if (!n) return;
  const x = (i) => pad + (n === 1 ? 0 : (i * (w - pad - 4)) / (n - 1));
  const line = (key, colour, dash) => {
    g.strokeStyle = colour; g.lineWidth = 3; g.setLineDash(dash); g.beginPath();
    let on = false;
    records.forEach((r, i) => {
      const v = r[key];
      if (v === null || v === undefined) { on = false; return; }
      if (on) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
      on = true;
    });
    g.stroke(); g.setLineDash([]);
  };
  line("mask_ratio", "#ffb74d", [8, 6]);
  line("ratio", "#4fc3f7", []);
  g.fillStyle = "#e53935";
  records.forEach((r, i) => { if (r.review) g.fillRect(x(i) - 1, h - pad + 6, 3, 10); });
  g.strokeStyle = "#bbb"; g.lineWidth = 1;
  records.forEach((r, i) => { if (r.scene_change) { g.beginPath(); g.moveTo(x(i), pad); g.lineTo(x(i), h - pad); g.stroke(); } });
}

function loadSnapshots() {
  fetch(url("/api/snapshots")).then((res) => res.json()).then((data) => {
    const box = $("snapshots");
    box.replaceChildren();
    for (const s of data.snapshots.slice(-24).reverse()) {
      const a = document.createElement("a");
      a.href = url("/snapshots/" + s.name + "_overlay.png");
      a.target = "_blank";
      const img = document.createElement("img");
      img.src = a.href; img.alt = s.name; img.loading = "lazy";
      a.append(img, "frame " + s.frame + ": " + s.reason);
      box.append(a);
    }
  }).catch(() => {});
}

function status() {
  const age = (Date.now() - lastShownAt) / 1000;
  const st = $("status");
  if (ended) { st.textContent = "the run has ended (or the box is unreachable)"; st.className = "stale"; return; }
  if (!lastShownAt) return;
  st.textContent = age < 2 ? "live" : "no new result for " + age.toFixed(0) + " s";
  st.className = age < 2 ? "" : "stale";
}

function connect() {
  const events = new EventSource(url("/api/events?since=" + lastSeq));
  events.onmessage = (e) => { ended = false; add(JSON.parse(e.data)); show(); };
  events.onerror = () => { ended = events.readyState === EventSource.CLOSED || Date.now() - lastShownAt > 3000; };
}

$("live").src = url("/stream.mjpg");
fetch(url("/api/history")).then((res) => res.json()).then((h) => {
  grades = h.info.grades || [];
  $("run").textContent = [h.info.source, h.info.bundle, "run " + h.info.run].join("  ·  ");
  add(h.records);
  show();
  connect();
}).catch(() => { $("status").textContent = "cannot reach the run"; });
setInterval(status, 1000);
