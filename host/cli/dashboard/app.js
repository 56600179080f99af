// Aviary's dashboard: hash routes over the server's JSON API, redrawn by polling (no reload, no
// framework, nothing fetched from elsewhere). Every action is a POST the server turns into the
// CLI's own patch.

const main = document.getElementById("main");
const nsInput = document.getElementById("ns-input");
let timer = null;
let ctx = { namespace: "default" };

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const badge = (s) => `<span class="badge s-${esc(s)}" data-status="${esc(s)}">${esc(s || "—")}</span>`;

async function api(path, options) {
  const r = await fetch(path, options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

function toast(text, error = false) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = "show" + (error ? " err" : "");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ""), 4000);
}

// Re-runs `draw` every `ms` until the route changes; a failed poll shows its error in place.
function poll(draw, ms = 1000) {
  clearInterval(timer);
  const once = async () => {
    try {
      await draw();
    } catch (e) {
      main.innerHTML = `<p class="error" id="error">${esc(e.message)}</p>`;
    }
  };
  once();
  timer = setInterval(once, ms);
}

// The list of a namespace's Rollouts.
function rolloutsPage(ns) {
  poll(async () => {
    const data = await api(`/api/rollouts?ns=${encodeURIComponent(ns)}`);
    const rows = data.rollouts.map((r) => `
      <tr data-rollout="${esc(r.name)}">
        <td><a href="#/ns/${esc(ns)}/rollouts/${esc(r.name)}">${esc(r.name)}</a></td>
        <td>${esc(r.strategy)}</td>
        <td class="status">${badge(r.status)}<div class="muted">${esc(r.message)}</div></td>
        <td class="step">${esc(r.step)}</td>
        <td class="weight">${esc(r.setWeight)}</td>
        <td>${esc(r.ready)}</td>
        <td class="mono">${r.images.map(esc).join("<br>")}</td>
      </tr>`).join("");
    main.innerHTML = `
      <h1>Rollouts <span class="muted">in ${esc(ns)}</span></h1>
      ${data.rollouts.length ? `<table id="rollouts"><thead><tr><th>Name</th><th>Strategy</th><th>Status</th>
        <th>Step</th><th>Set weight</th><th>Ready</th><th>Images</th></tr></thead><tbody>${rows}</tbody></table>`
        : `<p class="muted">No Rollouts in this namespace.</p>`}`;
  });
}

function treeHtml(ns, info) {
  return info.revisions.map((rev) => `
    <div class="rev"><h3>revision ${rev.revision}</h3>
      ${rev.replicaSets.map((rs) => `
        <div class="rs" data-replicaset="${esc(rs.name)}">${badge(rs.status)} <span class="mono">${esc(rs.name)}</span>
          ${rs.stable ? '<span class="tag stable">stable</span>' : ""}${rs.canary ? '<span class="tag canary">canary</span>' : ""}
          ${rs.active ? '<span class="tag">active</span>' : ""}${rs.preview ? '<span class="tag">preview</span>' : ""}
          <span class="muted">${rs.available}/${rs.replicas} available · ${esc(rs.images.join(", "))}</span>
          <div class="pods">${rs.pods.map((p) => `<div class="mono">${esc(p.name)} · ${esc(p.status)} · ${esc(p.ready)}</div>`).join("")}</div>
        </div>`).join("")}
      ${rev.analysisRuns.map((ar) => `
        <div class="rs" data-analysisrun="${esc(ar.name)}">${badge(ar.status)}
          <a class="mono" href="#/ns/${esc(ns)}/analysisruns/${esc(ar.name)}">${esc(ar.name)}</a>
          <span class="muted">✔ ${ar.successful} ✖ ${ar.failed} ? ${ar.inconclusive} ⚠ ${ar.error}</span></div>`).join("")}
      ${rev.experiments.map((ex) => `<div class="rs">${badge(ex.status)} <span class="mono">${esc(ex.name)}</span> (experiment)</div>`).join("")}
    </div>`).join("");
}

// One Rollout: summary, actions and its tree.
function rolloutPage(ns, name) {
  let containers = [];
  main.innerHTML = `<p class="muted">Loading ${esc(name)}…</p>`;
  const act = async (action, body) => {
    if ((action === "abort" || action === "undo") && !confirm(`${action} rollout ${name}?`)) return;
    try {
      const r = await api(`/api/rollouts/${encodeURIComponent(name)}/${action}?ns=${encodeURIComponent(ns)}`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body || {}),
      });
      toast(r.message);
    } catch (e) {
      toast(e.message, true);
    }
  };
  const shell = () => {
    main.innerHTML = `
      <div class="panel" id="summary"></div>
      <div class="panel actions" id="actions">
        <button data-action="promote">Promote</button>
        <button data-action="promote-full">Promote full</button>
        <button data-action="pause">Pause</button>
        <button data-action="retry">Retry</button>
        <button data-action="restart">Restart</button>
        <button data-action="abort" class="danger">Abort</button>
        <button data-action="undo" class="danger">Undo</button>
        <span class="muted">set image</span>
        <select id="container"></select>
        <input id="image" placeholder="image:tag" size="28">
        <button data-action="set-image">Set image</button>
      </div>
      <h2>Revisions</h2><div id="tree"></div>`;
    main.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", () => {
      const action = b.dataset.action;
      if (action === "set-image") {
        act(action, { container: document.getElementById("container").value, image: document.getElementById("image").value });
      } else {
        act(action);
      }
    }));
  };
  shell();
  poll(async () => {
    const info = await api(`/api/rollouts/${encodeURIComponent(name)}?ns=${encodeURIComponent(ns)}`);
    if (!document.getElementById("summary")) shell();
    if (JSON.stringify(info.containers) !== JSON.stringify(containers)) {
      containers = info.containers;
      document.getElementById("container").innerHTML = containers.map((c) => `<option>${esc(c)}</option>`).join("");
    }
    const weight = info.actualWeight ?? info.setWeight;
    document.getElementById("summary").innerHTML = `
      <h1>${esc(info.name)} ${badge(info.status)}</h1>
      <p class="muted" id="message">${esc(info.message)}${info.waitingFor ? ` — waiting for ${esc(info.waitingFor)}` : ""}</p>
      <div class="summary">
        <div><span>Strategy</span><b>${esc(info.strategy)}</b></div>
        <div><span>Step</span><b id="step">${esc(info.step ?? "—")}</b></div>
        <div><span>Set weight</span><b id="set-weight">${esc(info.setWeight ?? "—")}</b></div>
        <div><span>Actual weight</span><b>${esc(info.actualWeight ?? "—")}</b></div>
        <div><span>Pods</span><b>${info.replicas.available}/${info.replicas.desired} available</b></div>
        <div><span>Images</span><b class="mono">${info.images.map((i) => `${esc(i.image)} ${i.tags.map((t) => `<span class="tag ${esc(t)}">${esc(t)}</span>`).join("")}`).join("<br>")}</b></div>
      </div>
      ${weight != null ? `<div class="weights" title="canary weight"><div style="width:${Number(weight)}%"></div></div>` : ""}`;
    document.getElementById("tree").innerHTML = treeHtml(ns, info);
  });
}

// A measured value as a number: a number, a one-element list, or a bool; null otherwise.
function numeric(value) {
  if (value === undefined || value === null || value === "") return null;
  let v = value;
  try { v = JSON.parse(value); } catch { /* a plain string */ }
  if (Array.isArray(v)) v = v.find((x) => typeof x === "number" || typeof x === "boolean");
  if (typeof v === "boolean") return v ? 1 : 0;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

// The number a simple condition compares `result` with (`result >= 0.9`, `result[0] < 5`).
function threshold(condition) {
  const m = /^\s*result(?:\[0\])?\s*(?:>=|<=|>|<)\s*(-?[\d.]+)\s*$/.exec(condition || "");
  return m ? Number(m[1]) : null;
}

// An SVG chart of one metric's measurements over time, each point colored by its verdict, with
// the success and failure thresholds of simple conditions as dashed lines.
function chart(measurements, metric = {}) {
  const pts = measurements
    .map((m) => ({ t: Date.parse(m.finishedAt || m.startedAt), y: numeric(m.value), phase: m.phase, value: m.value }))
    .filter((p) => !Number.isNaN(p.t));
  const W = 800, H = 220, L = 52, R = 16, T = 14, B = 28;
  if (!pts.length) return `<p class="muted">No measurements yet.</p>`;
  const lines = [["success", threshold(metric.successCondition)], ["failure", threshold(metric.failureCondition)]]
    .filter(([, v]) => v !== null);
  const ys = pts.map((p) => p.y).filter((y) => y !== null).concat(lines.map(([, v]) => v));
  let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
  if (lo === hi) { lo -= 1; hi += 1; }
  const t0 = Math.min(...pts.map((p) => p.t)), t1 = Math.max(...pts.map((p) => p.t));
  const x = (t) => L + (t1 === t0 ? (W - L - R) / 2 : ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const valued = pts.filter((p) => p.y !== null);
  const line = valued.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
  const circles = pts.map((p) => {
    const cy = p.y === null ? H - B - 4 : y(p.y);
    return `<circle class="point ${esc(p.phase)}" data-phase="${esc(p.phase)}" cx="${x(p.t).toFixed(1)}" cy="${cy.toFixed(1)}" r="5"><title>${esc(p.phase)}: ${esc(p.value || "no value")} at ${new Date(p.t).toLocaleTimeString()}</title></circle>`;
  }).join("");
  const limits = lines.map(([kind, v]) => `<line class="threshold ${kind}" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"><title>${kind} threshold ${v}</title></line>`).join("");
  const ticks = [lo, (lo + hi) / 2, hi].map((v) => `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(3)}</text>`).join("");
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img">
    <line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>
    ${ticks}<text x="${L}" y="${H - 8}">${new Date(t0).toLocaleTimeString()}</text>
    <text x="${W - R}" y="${H - 8}" text-anchor="end">${new Date(t1).toLocaleTimeString()}</text>
    ${limits}<path class="line" d="${line}"/>${circles}</svg>`;
}

// An AnalysisRun: each metric's conditions, its chart and its measurements.
function analysisPage(ns, name) {
  poll(async () => {
    const run = await api(`/api/analysisruns/${encodeURIComponent(name)}?ns=${encodeURIComponent(ns)}`);
    const status = run.status || {};
    const results = Object.fromEntries((status.metricResults || []).map((r) => [r.name, r]));
    const metrics = (run.spec.metrics || []).map((m) => {
      const r = results[m.name] || { measurements: [] };
      const provider = Object.keys(m.provider || {}).join(", ");
      return `<div class="panel metric" data-metric="${esc(m.name)}">
        <h1>${esc(m.name)} ${badge(r.phase)} <span class="muted">${esc(provider)}</span></h1>
        <p class="cond">success: ${esc(m.successCondition || "—")} · failure: ${esc(m.failureCondition || "—")}
          ${m.interval ? ` · every ${esc(m.interval)}` : ""}${m.count != null ? ` · count ${esc(m.count)}` : ""}</p>
        ${chart(r.measurements || [], m)}
        <p class="muted">✔ ${r.successful || 0} ✖ ${r.failed || 0} ? ${r.inconclusive || 0} ⚠ ${r.error || 0}${r.message ? ` — ${esc(r.message)}` : ""}</p>
        <table class="measurements"><thead><tr><th>Finished</th><th>Verdict</th><th>Value</th><th>Message</th></tr></thead><tbody>
        ${(r.measurements || []).slice().reverse().map((x) => `<tr><td>${esc(x.finishedAt || x.startedAt)}</td><td>${badge(x.phase)}</td>
          <td class="mono">${esc(x.value)}</td><td class="muted">${esc(x.message)}</td></tr>`).join("")}</tbody></table></div>`;
    }).join("");
    main.innerHTML = `<p><a href="#/ns/${esc(ns)}">${esc(ns)}</a> / AnalysisRun</p>
      <h1>${esc(name)} ${badge(status.phase)}</h1><p class="muted">${esc(status.message)}</p>${metrics}`;
  }, 2000);
}

function pluginsPage() {
  poll(async () => {
    const data = await api("/api/plugins");
    const rows = data.plugins.map((p) => {
      const calls = p.stats ? Object.entries(p.stats.calls).map(([k, v]) => `${esc(k)}: ${v}`).join(", ") : "";
      const grants = (p.kubernetes || []).map((g) => `${esc((g.kinds || []).join("/"))} (${esc(g.apiGroup || "core")}): ${esc((g.verbs || []).join(", "))}`).join("<br>");
      return `<tr data-plugin="${esc(p.name)}"><td class="mono">${esc(p.name)}${p.argoName ? ` <span class="muted">(${esc(p.argoName)})</span>` : ""}</td>
        <td>${esc(p.kind)}</td><td>${esc(p.source)}</td><td class="mono" title="${esc(p.sha256)}">${esc((p.sha256 || "").slice(0, 12))}</td>
        <td>${(p.allowedHosts || []).map(esc).join("<br>") || '<span class="muted">none</span>'}</td><td>${grants || '<span class="muted">none</span>'}</td>
        <td>${calls || '<span class="muted">—</span>'}${p.stats ? `<div class="muted">${p.stats.meanMillis.toFixed(1)} ms mean</div>` : ""}</td></tr>`;
    }).join("");
    main.innerHTML = `<h1>Plugins</h1>
      ${data.registryError ? `<p class="error">${esc(data.registryError)}</p>` : ""}
      ${data.metrics ? "" : `<p class="muted">The controller's metrics endpoint is not reachable: no call counts.</p>`}
      <table id="plugins"><thead><tr><th>Name</th><th>World</th><th>Source</th><th>Digest</th><th>May reach</th>
      <th>Kubernetes</th><th>Calls</th></tr></thead><tbody>${rows}</tbody></table>`;
  }, 5000);
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  document.getElementById("nav-plugins").classList.toggle("active", parts[0] === "plugins");
  document.getElementById("nav-rollouts").classList.toggle("active", parts[0] !== "plugins");
  if (parts[0] === "plugins") return pluginsPage();
  const ns = parts[0] === "ns" && parts[1] ? parts[1] : ctx.namespace;
  nsInput.value = ns;
  if (parts[2] === "rollouts" && parts[3]) return rolloutPage(ns, parts[3]);
  if (parts[2] === "analysisruns" && parts[3]) return analysisPage(ns, parts[3]);
  return rolloutsPage(ns);
}

document.getElementById("ns-form").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = `#/ns/${encodeURIComponent(nsInput.value.trim() || ctx.namespace)}`;
});
window.addEventListener("hashchange", route);
api("/api/context").then((c) => (ctx = c)).catch(() => {}).finally(route);
