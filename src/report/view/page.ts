// The viewer's page: the folder's record files as buttons, filter controls, a pager and the rows,
// drawn by a small inline script from the JSON API (server.ts). Record text reaches the page
// only through textContent (never as markup); the server-rendered frame escapes through html.ts.
// The page's state (file, offset, filters) lives in its URL, so a view can be reloaded or shared.
// The body carries `data-state` (loading, ready, error) and `data-renders` (a count of pages
// drawn), which the browser tests wait on.
import { html, inlineScript, raw, scriptJson } from "../html.js";
import type { RecordFileInfo } from "./data-folder.js";

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 48px; color: #222; }
h1 { font-size: 20px; margin: 16px 0 0; } .root { color: #555; margin: 2px 0 8px; }
nav#files button { margin: 0 6px 6px 0; } nav#files button.current { font-weight: 700; border-width: 2px; }
form#filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: end; padding: 8px 0; border-top: 1px solid #ddd; }
form#filters label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
form#filters input[type=number] { width: 90px; }
.pager { display: flex; gap: 12px; align-items: center; margin: 8px 0; } #status { color: #b91c1c; }
.row { display: flex; gap: 12px; border-top: 1px solid #eee; padding: 8px 0; }
.row .where { font-family: monospace; color: #666; margin: 0 0 4px; }
.row .body { flex: 1; min-width: 0; } .images { display: flex; flex-direction: column; gap: 4px; flex: none; }
.images img { width: 128px; height: 128px; object-fit: contain; image-rendering: pixelated; border: 1px solid #ccc; }
.no-image { width: 128px; color: #888; font-size: 12px; overflow-wrap: anywhere; }
.turn, .side p { white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0; }
.turn .role { font-weight: 600; margin-right: 6px; } .sides { display: flex; gap: 16px; }
.side { flex: 1; min-width: 0; } .side h4 { margin: 4px 0; } .side.chosen h4 { color: #166534; } .side.rejected h4 { color: #b91c1c; }
.tags { margin-top: 4px; } .tag { display: inline-block; border-radius: 3px; padding: 0 5px; margin: 0 4px 2px 0; background: #eee; font-size: 12px; }
.tag.reason { background: #fef3c7; } .tag.score { background: #e0f2fe; }
.row.error { background: #fef2f2; color: #991b1b; } .row.error .problem { white-space: pre-wrap; overflow-wrap: anywhere; }
.row.drop .reason { background: #fee2e2; }
`;

/** Draws the page from the API. Plain ES2017 in the browser; no library. */
const SCRIPT = `
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("view-config").textContent);
  var FILTERS = ["reason", "method", "source", "score", "minScore", "maxScore"];
  var form = document.getElementById("filters");
  var rowsBox = document.getElementById("rows");
  var renders = 0;
  var state = readState();

  function readState() {
    var q = new URLSearchParams(location.search);
    var names = config.files.map(function (f) { return f.name; });
    var file = q.get("file");
    var s = {
      file: file !== null && names.indexOf(file) !== -1 ? file : names[0],
      offset: Math.max(0, parseInt(q.get("offset") || "0", 10) || 0),
      limit: Math.max(1, parseInt(q.get("limit") || "20", 10) || 20)
    };
    FILTERS.forEach(function (k) { s[k] = q.get(k) || ""; });
    return s;
  }

  function query() {
    var q = new URLSearchParams();
    q.set("file", state.file);
    q.set("offset", String(state.offset));
    q.set("limit", String(state.limit));
    FILTERS.forEach(function (k) { if (state[k] !== "") q.set(k, state[k]); });
    return q.toString();
  }

  function fetchJson(url) {
    return fetch(url).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
        return body;
      });
    });
  }

  function node(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function options(select, entries, label) {
    var keep = select.value;
    select.textContent = "";
    select.appendChild(node("option", null, label)).value = "";
    entries.forEach(function (e) {
      var o = node("option", null, e[1]);
      o.value = e[0];
      select.appendChild(o);
    });
    select.value = keep;
  }

  function fillControls(facets) {
    var count = function (o) { return Object.keys(o).sort().map(function (k) { return [k, k + " (" + o[k] + ")"]; }); };
    options(form.elements.reason, count(facets.reasons), "any");
    options(form.elements.method, count(facets.methods), "any");
    options(form.elements.score, Object.keys(facets.scores).sort().map(function (k) {
      var s = facets.scores[k];
      return [k, k + " [" + s.min + ", " + s.max + "]"];
    }), "none");
    FILTERS.forEach(function (k) { form.elements[k].value = state[k]; });
    var t = facets.types;
    document.getElementById("summary").textContent = state.file + " (" + facets.format + "): " + facets.rows + " entries: " +
      t.preference + " preference pairs, " + t.sft + " SFT samples, " + t.drop + " drops, " + t.error + " errors";
  }

  function images(row) {
    var box = node("div", "images");
    row.images.forEach(function (image) {
      if (image.url === null) {
        var missing = node("div", "no-image", image.problem || image.path);
        missing.title = image.path;
        box.appendChild(missing);
        return;
      }
      var img = node("img");
      img.src = image.url;
      img.alt = image.path;
      box.appendChild(img);
    });
    return box;
  }

  function turn(t) {
    var p = node("p", "turn");
    p.appendChild(node("span", "role", t.role));
    p.appendChild(document.createTextNode(t.content));
    return p;
  }

  function side(name, text) {
    var box = node("div", "side " + name);
    box.appendChild(node("h4", null, name));
    box.appendChild(node("p", null, text));
    return box;
  }

  function tags(row) {
    var box = node("div", "tags");
    var p = row.provenance;
    if (p === null) return box;
    box.appendChild(node("span", "tag method", p.method));
    box.appendChild(node("span", "tag", "stage " + p.stage));
    if (p.source !== undefined) box.appendChild(node("span", "tag source", "source " + p.source));
    (p.reasons || []).forEach(function (r) { box.appendChild(node("span", "tag reason", r)); });
    Object.keys(p.scores || {}).forEach(function (k) { box.appendChild(node("span", "tag score", k + " " + p.scores[k])); });
    box.appendChild(node("span", "tag", "model " + p.model));
    return box;
  }

  function where(row, what) {
    return node("p", "where", row.file + " line " + row.line + (what ? " · " + what : ""));
  }

  function drawRow(row) {
    var article = node("article", "row " + row.type);
    article.dataset.type = row.type;
    article.dataset.line = String(row.line);
    var body = node("div", "body");
    if (row.type === "error") {
      body.appendChild(where(row, "error"));
      body.appendChild(node("p", "problem", row.problem));
    } else if (row.type === "drop") {
      article.dataset.reason = row.reason;
      body.appendChild(where(row, "dropped item " + row.itemId));
      body.appendChild(node("span", "tag reason", row.reason));
    } else {
      if (row.id !== null) article.dataset.id = row.id;
      article.appendChild(images(row));
      body.appendChild(where(row, (row.id !== null ? row.id + " · " : "") + row.type));
      if (row.type === "preference") {
        row.prompt.forEach(function (t) { body.appendChild(turn(t)); });
        var sides = node("div", "sides");
        sides.appendChild(side("chosen", row.chosen));
        sides.appendChild(side("rejected", row.rejected));
        body.appendChild(sides);
      } else {
        row.messages.forEach(function (t) { body.appendChild(turn(t)); });
      }
      body.appendChild(tags(row));
    }
    article.appendChild(body);
    return article;
  }

  function drawPage(page) {
    rowsBox.textContent = "";
    page.rows.forEach(function (row) { rowsBox.appendChild(drawRow(row)); });
    var first = page.total === 0 ? 0 : page.offset + 1;
    var last = Math.min(page.total, page.offset + page.rows.length);
    var filtered = page.total !== page.entries || FILTERS.some(function (k) { return state[k] !== ""; });
    document.getElementById("range").textContent = "rows " + first + "-" + last + " of " + page.total +
      (filtered ? " matching (" + page.entries + " entries)" : "");
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = page.offset + page.limit >= page.total;
    document.getElementById("status").textContent = "";
    document.querySelectorAll("nav#files button").forEach(function (b) {
      b.classList.toggle("current", b.dataset.file === state.file);
    });
  }

  // Rows are drawn as soon as they arrive; the facets (a scan of the whole file) fill the
  // controls when they do. Only the latest load draws: an older answer arriving late is dropped.
  var latest = 0;
  function load(withFacets) {
    var seq = ++latest;
    var current = function () { return seq === latest; };
    document.body.dataset.state = "loading";
    history.replaceState(null, "", "?" + query());
    var facets = Promise.resolve();
    if (withFacets) {
      document.getElementById("summary").textContent = "reading " + state.file + " for its reasons, methods and scores...";
      facets = fetchJson("/api/facets?file=" + encodeURIComponent(state.file)).then(function (f) {
        if (current()) fillControls(f);
      });
    }
    var page = fetchJson("/api/records?" + query()).then(function (p) {
      if (current()) drawPage(p);
    });
    return Promise.all([facets, page]).then(function () {
      if (!current()) return;
      renders++;
      document.body.dataset.renders = String(renders);
      document.body.dataset.state = "ready";
    }).catch(function (error) {
      if (!current()) return;
      document.getElementById("status").textContent = error.message;
      document.body.dataset.state = "error";
      console.error("selfsynth view: " + error.message);
    });
  }

  document.getElementById("files").addEventListener("click", function (event) {
    var file = event.target.dataset && event.target.dataset.file;
    if (!file) return;
    state = { file: file, offset: 0, limit: state.limit };
    FILTERS.forEach(function (k) { state[k] = ""; });
    load(true);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    FILTERS.forEach(function (k) { state[k] = form.elements[k].value.trim(); });
    state.offset = 0;
    load(false);
  });
  document.getElementById("clear").addEventListener("click", function () {
    FILTERS.forEach(function (k) { state[k] = ""; form.elements[k].value = ""; });
    state.offset = 0;
    load(false);
  });
  form.elements.limit.addEventListener("change", function () {
    state.limit = parseInt(form.elements.limit.value, 10);
    state.offset = 0;
    load(false);
  });
  document.getElementById("prev").addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - state.limit);
    load(false);
  });
  document.getElementById("next").addEventListener("click", function () {
    state.offset += state.limit;
    load(false);
  });
  form.elements.limit.value = String(state.limit);
  load(true);
})();
`;

export interface ViewPageParts {
  /** The data folder shown. */
  root: string;
  files: RecordFileInfo[];
}

export function renderViewPage(parts: ViewPageParts): string {
  const sizes = [10, 20, 50, 100];
  return html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>selfsynth view: ${parts.root}</title><style>${raw(STYLE)}</style></head>
<body data-state="loading" data-renders="0">
<h1>selfsynth view</h1><p class="root"><code>${parts.root}</code></p>
<nav id="files">${parts.files.map((f) => html`<button type="button" data-file="${f.name}">${f.name}</button>`)}</nav>
<form id="filters">
<label>reason <select name="reason"><option value="">any</option></select></label>
<label>method <select name="method"><option value="">any</option></select></label>
<label>source <input name="source" type="search" placeholder="part of an item id"></label>
<label>score <select name="score"><option value="">none</option></select></label>
<label>from <input name="minScore" type="number" step="any"></label>
<label>to <input name="maxScore" type="number" step="any"></label>
<label>rows <select name="limit">${sizes.map((n) => html`<option value="${n}">${n}</option>`)}</select></label>
<button type="submit">filter</button><button type="button" id="clear">clear</button>
</form>
<p id="summary"></p>
<div class="pager"><button type="button" id="prev">previous</button><span id="range"></span><button type="button" id="next">next</button></div>
<p id="status" role="status"></p>
<div id="rows"></div>
<script type="application/json" id="view-config">${scriptJson({ files: parts.files })}</script>
${inlineScript(SCRIPT)}
</body></html>
`.text;
}
