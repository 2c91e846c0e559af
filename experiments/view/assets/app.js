// arise-gym viewer: filterable tables over rows that data/*.js scripts hand to ARISE_VIEW.loaded.
// Plain scripts (no modules, no fetch) so the site works from file:// with no server and no CDN.
"use strict";
var ARISE_VIEW = (function () {
  var store = {}, waiting = {};
  var PAGE_ROWS = 500;  // rows drawn at a time: a 5,000-row table would take seconds to build

  function loaded(name, payload) {
    store[name] = payload;
    (waiting[name] || []).forEach(function (cb) { cb(payload); });
    delete waiting[name];
  }

  // Load data/<name>.js once (lazily: a job's rows are read only when a page needs them).
  function load(name, cb) {
    if (store[name]) { cb(store[name]); return; }
    if (waiting[name]) { waiting[name].push(cb); return; }
    waiting[name] = [cb];
    var s = document.createElement("script");
    s.src = document.body.dataset.root + "data/" + name + ".js";
    s.onerror = function () { fail("could not load " + s.src); };
    document.head.appendChild(s);
  }

  function fail(message) {
    var box = document.getElementById("count") || document.body;
    box.textContent = "error: " + message;
    box.className = "error";
    document.body.dataset.rendered = "error";
  }

  function objects(payload) {
    return payload.rows.map(function (r) {
      var o = {};
      payload.columns.forEach(function (c, i) { o[c] = r[i]; });
      return o;
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function shown(v) {
    if (v === null || v === undefined || v === "") return "-";
    if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(v < 0.01 && v > 0 ? 5 : 3);
    return String(v);
  }

  function readHash() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      if (i > 0) out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }

  function writeHash(state) {
    var parts = Object.keys(state).filter(function (k) { return state[k] !== ""; }).sort()
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(state[k]); });
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
  }

  // spec: {rows, columns: [{key, label, render?, filter?: "select"|"words"}], search: [keys], noun}
  function filterTable(spec) {
    var state = readHash(), filters = document.getElementById("filters");
    var sortKey = state.sort || "", sortDesc = state.desc === "1", limit = PAGE_ROWS;
    filters.textContent = "";
    var search = el("input", {type: "search", id: "search", placeholder: "search " + spec.search.join(", ")});
    search.value = state.q || "";
    filters.appendChild(el("label", {}, "search ")).appendChild(search);
    var selects = {};
    spec.columns.forEach(function (c) {
      if (!c.filter) return;
      var values = {};
      spec.rows.forEach(function (r) {
        (c.filter === "words" ? String(r[c.key] || "").split(" ") : [shown(r[c.key])]).forEach(function (v) {
          if (v !== "") values[v] = true;
        });
      });
      var sel = el("select", {id: "filter-" + c.key, "data-column": c.key});
      sel.appendChild(el("option", {value: ""}, "all"));
      Object.keys(values).sort().forEach(function (v) { sel.appendChild(el("option", {value: v}, v)); });
      sel.value = state[c.key] && values[state[c.key]] ? state[c.key] : "";
      selects[c.key] = sel;
      var label = el("label", {}, c.label + " ");
      label.appendChild(sel);
      filters.appendChild(label);
      sel.addEventListener("change", redraw);
    });
    search.addEventListener("input", redraw);

    function redraw() { limit = PAGE_ROWS; draw(); }

    function matches(r) {
      for (var k in selects) {
        var want = selects[k].value;
        if (!want) continue;
        var col = spec.columns.filter(function (c) { return c.key === k; })[0];
        if (col.filter === "words" ? String(r[k] || "").split(" ").indexOf(want) < 0 : shown(r[k]) !== want) return false;
      }
      var q = search.value.trim().toLowerCase();
      if (!q) return true;
      return spec.search.some(function (k) { return String(r[k] === null ? "" : r[k]).toLowerCase().indexOf(q) >= 0; });
    }

    function draw() {
      var rows = spec.rows.filter(matches);
      if (sortKey) {
        rows = rows.slice().sort(function (a, b) {
          var x = a[sortKey], y = b[sortKey];
          var c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
          return sortDesc ? -c : c;
        });
      }
      var st = {q: search.value.trim(), sort: sortKey, desc: sortKey && sortDesc ? "1" : ""};
      for (var k in selects) st[k] = selects[k].value;
      writeHash(st);
      var t = el("table", {"class": "data", id: "rows"}), head = el("tr");
      spec.columns.forEach(function (c) {
        var th = el("th", {"data-column": c.key}, c.label + (sortKey === c.key ? (sortDesc ? " \u25bc" : " \u25b2") : ""));
        th.addEventListener("click", function () {
          sortDesc = sortKey === c.key ? !sortDesc : false;
          sortKey = c.key;
          draw();
        });
        head.appendChild(th);
      });
      t.appendChild(el("thead")).appendChild(head);
      var body = t.appendChild(el("tbody"));
      rows.slice(0, limit).forEach(function (r) {
        var tr = el("tr");
        if (r.success === false) tr.className = "failed";
        spec.columns.forEach(function (c) {
          var td = el("td", {"data-column": c.key});
          if (c.render) td.appendChild(c.render(r)); else td.textContent = shown(r[c.key]);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      var box = document.getElementById("table");
      box.textContent = "";
      box.appendChild(t);
      if (rows.length > limit) {
        var more = el("button", {id: "more"}, "show " + Math.min(PAGE_ROWS, rows.length - limit) + " more (" +
                      limit + " of " + rows.length + " shown)");
        more.addEventListener("click", function () { limit += PAGE_ROWS; draw(); });
        box.appendChild(more);
      }
      document.getElementById("count").textContent = rows.length + " of " + spec.rows.length + " " + spec.noun;
      document.body.dataset.rendered = "1";
      document.body.dataset.renderMs = String(Math.round(performance.now()));
    }
    draw();
  }

  function a(href, text) { return el("a", {href: href}, text); }
  function flag(v) { return el("span", {"class": v ? "badge bad" : "badge"}, v ? "yes" : "no"); }
  function verdict(v) { return el("span", {"class": v ? "badge ok" : "badge bad"}, v ? "success" : "failure"); }

  function episodeColumns(root, withJob) {
    var cols = [];
    if (withJob) cols.push({key: "job", label: "job", filter: "select", render: function (r) {
      return a(root + "jobs/" + r.slug + ".html", r.job); }});
    return cols.concat([
      {key: "key", label: "episode", render: function (r) {
        return a(root + "episodes/" + r.slug + "/" + r.key + ".html", r.key); }},
      {key: "condition", label: "condition", filter: "select"},
      {key: "family", label: "family", filter: "select"},
      {key: "phase", label: "phase", filter: "select"},
      {key: "split", label: "split", filter: "select"},
      {key: "success", label: "success", filter: "select", render: function (r) { return verdict(r.success); }},
      {key: "score", label: "score"},
      {key: "llm_failure", label: "LLM failure", filter: "select", render: function (r) { return flag(r.llm_failure); }},
      {key: "truncated", label: "truncated", filter: "select", render: function (r) { return flag(r.truncated); }},
      {key: "n_steps", label: "steps"},
      {key: "n_calls", label: "calls"},
      {key: "tools_called", label: "tools called", filter: "words"},
      {key: "cost_usd", label: "cost (USD)"},
      {key: "category", label: "failure category", filter: "select"},
      {key: "answer", label: "answer"}
    ]);
  }

  function jobPage(slug) {
    var root = document.body.dataset.root;
    load(slug, function (payload) {
      var rows = objects(payload);
      rows.forEach(function (r) { r.slug = slug; });
      filterTable({rows: rows, columns: episodeColumns(root, false), noun: "episodes",
                   search: ["task", "answer", "tools_called", "family", "category"]});
    });
  }

  function allEpisodesPage() {
    var root = document.body.dataset.root, runs = objects(store.runs), rows = [], left = runs.length;
    if (!left) { filterTable({rows: [], columns: episodeColumns(root, true), noun: "episodes", search: ["task"]}); }
    runs.forEach(function (run) {
      load(run.slug, function (payload) {
        objects(payload).forEach(function (r) { r.slug = run.slug; r.job = run.arm + " seed " + run.seed; rows.push(r); });
        if (--left === 0) {
          filterTable({rows: rows, columns: episodeColumns(root, true), noun: "episodes",
                       search: ["task", "answer", "tools_called", "family", "category", "job"]});
        }
      });
    });
  }

  function runsPage() {
    var rows = objects(store.runs);
    filterTable({rows: rows, noun: "jobs", search: ["arm", "path", "model"], columns: [
      {key: "world", label: "world", filter: "select"},
      {key: "protocol", label: "protocol", filter: "select"},
      {key: "arm", label: "arm", filter: "select", render: function (r) { return a("jobs/" + r.slug + ".html", r.arm); }},
      {key: "seed", label: "seed", filter: "select"},
      {key: "model", label: "model", filter: "select"},
      {key: "episodes", label: "episodes"},
      {key: "success_rate", label: "success"},
      {key: "mean_score", label: "mean score"},
      {key: "llm_failures", label: "LLM failures"},
      {key: "cost_usd", label: "cost (USD)"},
      {key: "tools_promoted", label: "tools promoted"},
      {key: "evolution", label: "evolution", render: function (r) {
        return r.evolution ? a("evolution/" + r.slug + ".html", "timeline") : el("span", {}, "-"); }}
    ]});
  }

  // Evolution pages: the active tools while a chosen episode was played (snapshots taken after earlier episodes).
  function libraryAt() {
    var data = document.getElementById("snapshots"), input = document.getElementById("at-episode");
    if (!data || !input) return;
    var snaps = JSON.parse(data.textContent), list = document.getElementById("at-tools");
    var at = readHash().at;
    if (at !== undefined && at !== "") input.value = at;
    function draw() {
      var n = Number(input.value), active = {};
      snaps.forEach(function (s) { if (s.episode < n) active = s.active; });
      list.textContent = "";
      var names = Object.keys(active).sort();
      if (!names.length) list.appendChild(el("li", {}, "no active tools"));
      names.forEach(function (name) {
        var li = el("li", {"class": "active-tool"});
        li.appendChild(a("#tool-" + name + "-v" + active[name], name + " v" + active[name]));
        list.appendChild(li);
      });
      history.replaceState(null, "", "#at=" + input.value);
      document.body.dataset.rendered = "1";
    }
    input.addEventListener("input", draw);
    draw();
  }

  document.addEventListener("DOMContentLoaded", libraryAt);
  // Time from navigation start to the load event (lazy data files included), read by the benchmark.
  window.addEventListener("load", function () {
    document.body.dataset.loadMs = String(Math.round(performance.now()));
  });
  return {loaded: loaded, load: load, jobPage: jobPage, runsPage: runsPage, allEpisodesPage: allEpisodesPage};
})();
