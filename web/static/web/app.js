/* The listener page: plain JS over the public REST API (/api/). No framework, no build step, nothing from another
 * host. State lives here; every change of it re-renders the parts that show it. */
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_BYTES = Number(document.body.dataset.maxBytes) || 8 * 1024 * 1024;

const state = {
  file: null,
  session: null,        // {id, token}
  playlist: null,       // the version on screen
  latestId: null,       // the newest version's id
  versions: [],         // [{id, version, created_at, params}]
  steering: {tags: [], avoid: [], liked: [], skipped: []},
  pending: {tags: [], avoid: []},
  busy: false,
  guidanceSet: false,   // the slider was moved: send its value; until then the model's tuned default applies
};

/* ---------- errors: one clear sentence per API error code ---------- */

const MESSAGES = {
  invalid_image: "That file is not a picture we can read. Choose a JPEG, PNG or WebP photo.",
  truncated_image: "The photo arrived incomplete (the upload was cut off). Please choose it again.",
  unsupported_format: "That image format is not supported. Use a JPEG, PNG or WebP photo.",
  unsupported_media_type: "The page sent something the server does not accept. Reload the page and try again.",
  payload_too_large: (e) => `That photo is too large: the limit is ${bytes(e.details && e.details.max_bytes)}. ` +
    "Choose a smaller one, or take a photo at a lower resolution.",
  too_many_pixels: "That photo has too many pixels. Choose a smaller one.",
  missing_query: "Choose a photo first.",
  invalid_input: (e) => `Some input was not accepted${fields(e)}. Check it and try again.`,
  malformed_request: "The request was garbled on the way. Try again.",
  invalid_embedding: "The image could not be turned into a query. Try another photo.",
  too_many_tags: "Too many tags at once: use at most 16.",
  tag_too_long: "A tag is too long: keep each under 64 characters.",
  invalid_tags: "A tag is empty. Type a word or two.",
  conflicting_tags: "The same tag cannot be both “more of” and “less of”.",
  empty_feedback: "Nothing to send: like or skip a track first.",
  conflicting_feedback: "A track cannot be liked and skipped at once.",
  too_many_ids: "Too many tracks in one go.",
  track_not_served: "That track is not in this session any more. Reload the playlist.",
  missing_token: "This session's key is missing. Start again with a photo.",
  invalid_token: "This session's key is not valid. Start again with a photo.",
  session_not_found: "This session no longer exists (sessions are kept 30 days). Start again with a photo.",
  playlist_not_found: "That playlist version no longer exists. Start again with a photo.",
  not_found: "Not found.",
  session_outdated: "The recommender's model changed since this session began. Start again with a photo.",
  session_full: (e) => `This session has reached its ${(e.details && e.details.max_versions) || 100} versions. ` +
    "Start a new one with a photo.",
  sampling_rejected: "The model refused this request. Try another photo.",
  throttled: (e) => "Too many requests from you just now. " + wait(e, "Wait a moment and try again."),
  prior_not_ready: (e) => "The recommender is still starting. " + wait(e, "Try again in a few seconds."),
  sampling_unavailable: (e) => "The recommender is busy. " + wait(e, "Try again in a few seconds."),
  broker_unavailable: (e) => "The recommender is busy. " + wait(e, "Try again in a few seconds."),
  worker_timeout: (e) => "The recommender took too long (it is busy). " + wait(e, "Try again in a few seconds."),
  database_unavailable: (e) => "The catalog database is unavailable for a moment. " + wait(e, "Try again shortly."),
  network: "Could not reach the server. Check your connection and try again.",
};

function mb(n) { return Math.round(((n || MAX_BYTES) / (1024 * 1024)) * 10) / 10; }
function bytes(n) { n = n || MAX_BYTES; return n >= 1024 * 1024 ? `${mb(n)} MB` : `${Math.ceil(n / 1024)} KB`; }
function wait(e, fallback) { return e.retryAfter ? `Try again in ${e.retryAfter} s.` : fallback; }
function fields(e) {
  const names = e.details && typeof e.details === "object" ? Object.keys(e.details) : [];
  return names.length ? ` (${names.join(", ")})` : "";
}

class ApiProblem extends Error {
  constructor(status, code, message, details, retryAfter) {
    super(message);
    Object.assign(this, {status, code, details, retryAfter});
  }
}

function explain(err) {
  const entry = MESSAGES[err.code];
  const text = typeof entry === "function" ? entry(err) : entry;
  return text || err.message || `Something went wrong (HTTP ${err.status}).`;
}

function showError(err) {
  const box = $("error");
  box.textContent = "";
  box.append(explain(err));
  if (err.code && err.code !== "network") {
    const code = document.createElement("small");
    code.className = "code";
    code.textContent = ` (${err.status} ${err.code})`;
    box.append(code);
  }
  box.dataset.code = err.code || "";
  box.hidden = false;
}

function clearError() { $("error").hidden = true; $("error").dataset.code = ""; }

function setStatus(text, busy = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("busy", busy);
}

/* ---------- the API ---------- */

async function api(method, path, {json, form, token, raw} = {}) {
  const headers = {Accept: "application/json"};
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form) body = form;
  if (token) headers["X-Session-Token"] = token;
  let response;
  try {
    response = await fetch(path, {method, headers, body, credentials: "same-origin"});
  } catch (exc) {
    throw new ApiProblem(0, "network", String(exc));
  }
  if (response.ok) return raw ? response : response.json();
  let error = {};
  try { error = (await response.json()).error || {}; } catch (exc) { /* not JSON: a proxy's page */ }
  throw new ApiProblem(response.status, error.code || `http_${response.status}`, error.message || "",
    error.details || {}, response.headers.get("Retry-After"));
}

async function run(label, work) {
  if (state.busy) return;
  state.busy = true;
  document.body.classList.add("busy");
  clearError();
  setStatus(label, true);
  updateControls();
  try {
    await work();
    setStatus("");
  } catch (err) {
    setStatus("");
    if (err instanceof ApiProblem) showError(err);
    else showError(new ApiProblem(0, "", String(err)));
  } finally {
    state.busy = false;
    document.body.classList.remove("busy");
    updateControls();
  }
}

/* ---------- actions ---------- */

function chooseFile(file) {
  if (!file) return;
  state.file = file;
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.alt = `Your photo: ${file.name}`;
  preview.onerror = () => { preview.hidden = true; };  // not an image the browser can show either
  preview.hidden = false;
  updateControls();
  startSession();
}

function startSession() {
  if (!state.file) return;
  run("Drawing seeds from your photo…", async () => {
    const form = new FormData();
    form.append("image", state.file, state.file.name || "photo");
    if (state.guidanceSet) form.append("guidance", $("guidance").value);  // else the model's tuned default
    const created = await api("POST", "/api/playlists/from-image", {form});
    state.session = created.session;
    state.steering = {tags: [], avoid: [], liked: [], skipped: []};
    state.pending = {tags: [], avoid: []};
    state.latestId = created.playlist.id;
    state.playlist = created.playlist;
    await refreshSession();
    renderAll();
    $("playlist").focus();
  });
}

function steer() {
  if (!state.session) return;
  run("Steering: drawing the next version…", async () => {
    const sent = {tags: [...state.pending.tags], avoid: [...state.pending.avoid]};
    const steered = await api("POST", `/api/sessions/${state.session.id}/steer`,
      {json: sent, token: state.session.token});
    state.pending = {tags: [], avoid: []};
    state.latestId = steered.playlist.id;
    state.playlist = steered.playlist;
    await refreshSession();
    renderAll();
  });
}

function rate(trackId, opinion) {
  run(opinion === "liked" ? "Saving your like…" : "Saving your skip…", async () => {
    const result = await api("POST", `/api/sessions/${state.session.id}/feedback`,
      {json: {[opinion]: [trackId]}, token: state.session.token});
    state.steering = result.steering;
    renderTracks();
    renderChips();
  });
}

function showVersion(id) {
  run("Loading that version…", async () => {
    state.playlist = await api("GET", `/api/playlists/${id}`, {token: state.session.token});
    renderAll();
  });
}

function exportPlaylist() {
  const format = $("export-format").value;
  run("Preparing the download…", async () => {
    const response = await api("GET", `/api/playlists/${state.playlist.id}/export?format=${format}`,
      {token: state.session.token, raw: true});
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = match ? match[1] : `playlist.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  });
}

async function refreshSession() {
  const detail = await api("GET", `/api/sessions/${state.session.id}`, {token: state.session.token});
  state.versions = detail.playlists;
  state.steering = detail.steering;
}

function addPending(kind, raw) {
  const tag = raw.trim().toLowerCase().replace(/\s+/g, " ");
  if (!tag) return;
  const other = kind === "tags" ? "avoid" : "tags";
  state.pending[other] = state.pending[other].filter((t) => t !== tag);
  if (!state.pending[kind].includes(tag)) state.pending[kind].push(tag);
  renderChips();
  updateControls();
}

/* ---------- rendering ---------- */

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function seedColour(seed, count) {
  return `hsl(${Math.round((seed * 360) / Math.max(count, 1))}, 62%, 42%)`;
}

function renderAll() {
  for (const id of ["steer", "playlist", "versions-card", "map-card"]) $(id).hidden = !state.playlist;
  renderTracks();
  renderChips();
  renderVersions();
  renderMap();
  updateControls();
}

function renderTracks() {
  const list = $("tracks");
  list.textContent = "";
  const p = state.playlist;
  if (!p) return;
  const latest = p.id === state.latestId;
  const total = state.versions.length || p.version;
  $("playlist-title").textContent = `Playlist — version ${p.version}` + (latest ? "" : ` of ${total} (earlier)`);
  const liked = new Set(state.steering.liked), skipped = new Set(state.steering.skipped);
  const seeds = (p.seed_points || []).length;
  for (const item of p.items) {
    const t = item.track;
    const title = t.url ? el("a", {href: t.url, target: "_blank", rel: "noopener noreferrer"}, t.title || t.external_id)
                        : document.createTextNode(t.title || t.external_id);
    const swatch = el("span", {class: "swatch", "aria-hidden": "true"});
    swatch.style.backgroundColor = seedColour(item.seed, seeds);
    const why = el("div", {class: "why"}, swatch, ` found by seed ${item.seed}`);
    if (item.tag) why.append(" · pulled by ", el("strong", {}, `“${item.tag}”`));
    if (liked.has(t.id)) why.append(" · kept: you liked it");
    const tags = el("div", {class: "track-tags", role: "group", "aria-label": `Tags of ${t.title}`},
      ...t.tags.slice(0, 6).map((tag) => el("button", {type: "button", title: `More of “${tag}”`,
        onclick: () => addPending("tags", tag)}, `+ ${tag}`)));
    const likeBtn = el("button", {type: "button", class: "like", "aria-pressed": String(liked.has(t.id)),
      "aria-label": `Like ${t.title}`, disabled: !latest || null, onclick: () => rate(t.id, "liked")}, "Like");
    const skipBtn = el("button", {type: "button", class: "skip-track", "aria-pressed": String(skipped.has(t.id)),
      "aria-label": `Skip ${t.title}`, disabled: !latest || null, onclick: () => rate(t.id, "skipped")}, "Skip");
    list.append(el("li", {class: "track", "data-track-id": t.id},
      el("span", {class: "rank"}, `${item.rank}.`),
      el("div", {}, el("div", {class: "title"}, title), el("div", {class: "artist"}, t.artist || "—"), why, tags),
      el("div", {class: "rate"}, likeBtn, skipBtn)));
  }
}

function renderChips() {
  for (const kind of ["tags", "avoid"]) {
    const list = $(`chips-${kind}`);
    list.textContent = "";
    for (const tag of state.steering[kind] || []) {
      list.append(el("li", {class: `chip sent ${kind === "avoid" ? "avoid" : ""}`}, tag));
    }
    for (const tag of state.pending[kind]) {
      list.append(el("li", {class: `chip pending ${kind === "avoid" ? "avoid" : ""}`}, `${tag} (new)`,
        el("button", {type: "button", "aria-label": `Remove ${tag}`, onclick: () => {
          state.pending[kind] = state.pending[kind].filter((t) => t !== tag);
          renderChips();
        }}, "×")));
    }
  }
}

function renderVersions() {
  const list = $("versions");
  list.textContent = "";
  for (const v of state.versions) {
    const tags = (v.params.tags || []).join(", "), avoid = (v.params.avoid || []).join(", ");
    const w = v.params.guidance === null || v.params.guidance === undefined ? "" : ` · w = ${v.params.guidance}`;
    const label = `Version ${v.version}${w}` + (tags ? ` · more: ${tags}` : "") + (avoid ? ` · less: ${avoid}` : "");
    list.append(el("li", {}, el("button", {type: "button",
      "aria-current": state.playlist && v.id === state.playlist.id ? "true" : null,
      onclick: () => showVersion(v.id)}, label)));
  }
}

function renderMap() {
  const box = $("map");
  box.textContent = "";
  const p = state.playlist;
  if (!p || !(p.seed_points || []).length) return;
  const NS = "http://www.w3.org/2000/svg", size = 320, pad = 22;
  const at = (v) => pad + ((v + 1) / 2) * (size - 2 * pad);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Map of ${p.seed_points.length} seeds and the ${p.items.length} tracks they found`);
  const add = (name, attrs, text) => {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) { const title = document.createElementNS(NS, "title"); title.textContent = text; node.append(title); }
    svg.append(node);
    return node;
  };
  const count = p.seed_points.length;
  for (const item of p.items) {
    const s = p.seed_points[item.seed];
    if (item.point && s) add("line", {x1: at(s[0]), y1: at(-s[1]), x2: at(item.point[0]), y2: at(-item.point[1]),
      stroke: seedColour(item.seed, count)});
  }
  for (const item of p.items) {
    if (!item.point) continue;
    add("circle", {cx: at(item.point[0]), cy: at(-item.point[1]), r: 4, fill: seedColour(item.seed, count),
      class: "track-dot"}, `${item.rank}. ${item.track.title} — ${item.track.artist} (seed ${item.seed})`);
  }
  p.seed_points.forEach((s, i) => {
    add("circle", {cx: at(s[0]), cy: at(-s[1]), r: 9, fill: seedColour(i, count), stroke: "#fff",
      "stroke-width": 1.5, class: "seed-dot"}, `Seed ${i}`);
    const label = add("text", {x: at(s[0]), y: at(-s[1]), class: "seed-label", "aria-hidden": "true"});
    label.textContent = String(i);
  });
  box.append(svg);
}

function updateControls() {
  $("go").disabled = state.busy || !state.file;
  const latest = state.playlist && state.playlist.id === state.latestId;
  $("resteer").disabled = state.busy || !state.session || !latest;
  $("resteer").textContent = state.pending.tags.length || state.pending.avoid.length
    ? "Steer: next version with the new chips" : "Steer: next version";
  $("export").disabled = state.busy || !state.playlist;
  for (const b of document.querySelectorAll("#tag-form button")) b.disabled = state.busy || !state.session;
}

/* ---------- wiring ---------- */

function init() {
  $("max-mb").textContent = String(mb(MAX_BYTES));
  const guidance = $("guidance");
  const showGuidance = () => {
    const text = state.guidanceSet ? `w = ${guidance.value}` : "model's default";
    $("guidance-value").textContent = text;
    guidance.setAttribute("aria-valuetext", text);
  };
  guidance.addEventListener("input", () => { state.guidanceSet = true; showGuidance(); });
  showGuidance();
  for (const id of ["photo", "camera"]) {
    $(id).addEventListener("change", (event) => chooseFile(event.target.files[0]));
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    chooseFile(event.dataTransfer.files[0]);
  });
  $("go").addEventListener("click", startSession);
  $("resteer").addEventListener("click", steer);
  $("export").addEventListener("click", exportPlaylist);
  $("tag-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = event.submitter && event.submitter.value === "avoid" ? "avoid" : "tags";
    addPending(kind, $("tag-input").value);
    $("tag-input").value = "";
    $("tag-input").focus();
  });
  updateControls();
}

document.addEventListener("DOMContentLoaded", init);
