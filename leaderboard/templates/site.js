/* justeval leaderboard page: sortable tables and the per-item browser.
   Works from file:// with no network. Model and judge text is only ever inserted with
   textContent (never innerHTML), so an output containing markup shows as text. */
(function () {
  "use strict";

  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var raw = cell ? cell.getAttribute("data-value") : "";
    if (type === "num") {
      var x = parseFloat(raw);
      return isNaN(x) ? null : x;
    }
    return (raw || "").toLowerCase();
  }

  function compareValues(x, y) {
    if (x === null && y === null) return 0;
    if (x === null) return 1;             /* empty cells last, either direction */
    if (y === null) return -1;
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function columnIndex(table, key) {
    var cells = table.tHead.rows[0].cells;
    for (var i = 0; i < cells.length; i++) if (cells[i].getAttribute("data-key") === key) return i;
    return -1;
  }

  /* Rows equal in the sorted column are ordered by a fixed rule, never by whatever order an
     earlier sort left: the average (best first) where the table has one, then the name column
     (the model, or the first column) A to Z, then the order the page was built in. */
  function sortTable(table, index, direction) {
    var th = table.tHead.rows[0].cells[index];
    var type = th.getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var avg = columnIndex(table, "average"), name = columnIndex(table, "model");
    if (name < 0) name = 0;
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      var c = compareValues(x, y);
      if (c !== 0) return x === null || y === null ? c : (direction === "ascending" ? c : -c);
      if (avg >= 0 && avg !== index) {
        c = compareValues(cellValue(a, avg, "num"), cellValue(b, avg, "num"));
        if (c !== 0) return cellValue(a, avg, "num") === null || cellValue(b, avg, "num") === null ? c : -c;
      }
      if (name !== index) {
        c = compareValues(cellValue(a, name, "text"), cellValue(b, name, "text"));
        if (c !== 0) return c;
      }
      return parseInt(a.getAttribute("data-order"), 10) - parseInt(b.getAttribute("data-order"), 10);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction);
  }

  function makeSortable(table) {
    Array.prototype.forEach.call(table.tBodies[0].rows, function (r, k) { r.setAttribute("data-order", String(k)); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.addEventListener("click", function () {
        var type = th.getAttribute("data-type") || "text";
        var current = th.getAttribute("aria-sort");
        var first = type === "num" && th.getAttribute("data-key") !== "rank" ? "descending" : "ascending";
        var next = current ? (current === "ascending" ? "descending" : "ascending") : first;
        sortTable(table, index, next);
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);

  /* ---- per-item browser ----
     The page holds an index (items, tags, and per model and item: status, output length,
     scores); the texts are in items/*.js next to the page, each a script that hands its
     data to justevalItems() or justevalFull(). Script elements load from file:// where
     fetch() may not, so the site works opened from disk. A preview file holds one model's
     outputs (cut to preview_chars) for chunk_items consecutive items; the whole texts of the
     outputs that were cut load only when asked for. */
  /* Page sections (token shift, ...) register themselves in window.justevalExtensions before this
     script runs: {output(box, model, item, text, pre), busy(), report(), step(verb, arg)}, each
     optional. output() may add to an output's card; the others join the test hook. */
  var extensions = window.justevalExtensions || [];
  function extensionsBusy() { return extensions.some(function (x) { return x.busy ? x.busy() : false; }); }

  var dataNode = document.getElementById("items-data");
  var browser = null;
  if (dataNode) browser = itemBrowser(JSON.parse(dataNode.textContent));
  window.justevalBrowser = browser;  /* for benchmarks/page_load.py: filter, search, busy */

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fillSelect(select, values) {
    values.forEach(function (v) { var o = el("option", null, v); o.value = v; select.appendChild(o); });
  }

  function pad(n, width) { var s = String(n); while (s.length < width) s = "0" + s; return s; }

  function itemBrowser(data) {
    var models = data.models, items = data.items, cells = data.cells;
    /* about 200 output cards a page at most: 20 items for up to 10 models, fewer beyond */
    var PAGE = Math.max(2, Math.min(20, Math.floor(200 / Math.max(1, models.length))));
    var page = 0, shown = [], pending = 0, failed = [], requested = {}, redraw = null;
    var previews = models.map(function () { return {}; });
    var fulls = models.map(function () { return {}; });
    var lowered = models.map(function () { return {}; });
    var fDataset = document.getElementById("f-dataset"), fTask = document.getElementById("f-task");
    var fModel = document.getElementById("f-model"), fText = document.getElementById("f-text");
    var list = document.getElementById("item-list"), count = document.getElementById("item-count");
    var datasets = {}, tasks = {};
    items.forEach(function (it) {
      datasets[it.dataset] = 1;
      (it.tasks || []).forEach(function (t) { tasks[t] = 1; });
    });
    fillSelect(fDataset, Object.keys(datasets).sort());
    fillSelect(fTask, Object.keys(tasks).sort());
    fillSelect(fModel, models);
    if (!Object.keys(tasks).length) fTask.parentNode.hidden = true;

    window.justevalItems = function (d) { d.rows.forEach(function (r) { previews[d.model][r[0]] = r; }); };
    window.justevalFull = function (d) { d.rows.forEach(function (r) { fulls[d.model][r[0]] = r; }); };

    function later() {  /* one redraw once the files asked for so far have arrived */
      if (redraw === null) redraw = window.setTimeout(function () { redraw = null; draw(); }, 30);
    }

    function load(name) {
      if (requested[name]) return;
      requested[name] = true;
      pending++;
      var s = document.createElement("script");
      s.src = data.dir + "/" + name;
      s.onload = s.onerror = function (ev) {
        if (ev.type === "error") failed.push(name);
        pending--;
        s.parentNode.removeChild(s);
        later();
      };
      document.head.appendChild(s);
    }

    function chunkFile(k, i) { return "m" + pad(k, 3) + "-" + pad(Math.floor(i / data.chunk_items), 4) + ".js"; }
    function needPreview(k, i) { if (!previews[k][i]) load(chunkFile(k, i)); }

    function outputText(k, i) {  /* the preview in lower case, for search; null until loaded */
      var low = lowered[k][i];
      if (low === undefined) {
        var r = previews[k][i];
        if (!r) return null;
        low = lowered[k][i] = (r[1] || "").toLowerCase();
      }
      return low;
    }

    function matches(i, q, model) {
      var it = items[i];
      if (fDataset.value && it.dataset !== fDataset.value) return false;
      if (fTask.value && (it.tasks || []).indexOf(fTask.value) < 0) return false;
      if (model >= 0 && !cells[model][i]) return false;
      if (!q) return true;
      if (it.instruction.toLowerCase().indexOf(q) >= 0) return true;
      for (var k = 0; k < models.length; k++) {
        if ((model >= 0 && k !== model) || !cells[k][i]) continue;
        var text = outputText(k, i);
        if (text === null) { needPreview(k, i); continue; }
        if (text.indexOf(q) >= 0) return true;
      }
      return false;
    }

    function renderOutput(k, i) {
      var cell = cells[k][i], r = previews[k][i];
      var box = el("section", "output");
      box.appendChild(el("h4", null, models[k]));
      var scores = el("div", "scores");
      data.aspects.forEach(function (a, n) {
        var v = cell[3 + n];
        if (v === false) return;
        var s = el("span");
        s.appendChild(document.createTextNode(a + " "));
        s.appendChild(el("b", null, v === null ? "N/A" : v));
        scores.appendChild(s);
      });
      box.appendChild(scores);
      var status = data.statuses[cell[0]];
      if (status !== "ok") box.appendChild(el("div", "status", status));
      var whole = cell[2] >= 0 ? fulls[k][i] : null;
      var text = whole ? whole[1] : r ? r[1] : undefined;
      var rationales = whole ? whole[2] : r ? r[2] : {};
      if (text === undefined) {
        needPreview(k, i);
        box.appendChild(el("pre", "loading", "loading…"));
      } else {
        var pre = el("pre", null, text === null ? "(no output)" : text);
        box.appendChild(pre);
        extensions.forEach(function (x) { if (x.output) x.output(box, k, i, text, pre); });
      }
      if (cell[2] >= 0 && !whole) {
        var more = el("button", "more", "show all " + cell[1].toLocaleString() + " characters");
        more.type = "button";
        more.addEventListener("click", function () {
          more.disabled = true;
          load("m" + pad(k, 3) + "-full-" + pad(cell[2], 4) + ".js");
        });
        box.appendChild(more);
      }
      var names = Object.keys(rationales || {});
      if (names.length) {
        var det = el("details"), dl = el("dl");
        det.appendChild(el("summary", null, "judge rationales"));
        names.forEach(function (a) { dl.appendChild(el("dt", null, a)); dl.appendChild(el("dd", null, rationales[a])); });
        det.appendChild(dl);
        box.appendChild(det);
      }
      return box;
    }

    function filter() {
      var q = fText.value.trim().toLowerCase();
      var model = fModel.value ? models.indexOf(fModel.value) : -1;
      shown = [];
      for (var i = 0; i < items.length; i++) if (matches(i, q, model)) shown.push(i);
      return model;
    }

    function draw() {
      var model = filter();
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      if (page >= pages) page = pages - 1;
      var note = pending ? " (searching: " + pending + " files of outputs still loading)" : "";
      if (failed.length) note += " (could not load " + failed.length + " files from " + data.dir + "/)";
      count.textContent = shown.length + " of " + items.length + " items" + note;
      document.getElementById("page").textContent = "page " + (page + 1) + " of " + pages;
      list.textContent = "";
      shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (i) {
        var it = items[i];
        var card = el("article", "item");
        var head = [("#" + it.id), it.dataset, it.category].concat(it.tasks || []);
        if (it.difficulty) head.push(it.difficulty);
        card.appendChild(el("div", "item-head", head.join(" · ")));
        var cut = it.instruction_chars > it.instruction.length ? " […] (" + it.instruction_chars.toLocaleString() +
          " characters)" : "";
        card.appendChild(el("p", "instruction", it.instruction + cut));
        var outs = el("div", "outputs");
        for (var k = 0; k < models.length; k++) {
          if (cells[k][i] && (model < 0 || model === k)) outs.appendChild(renderOutput(k, i));
        }
        card.appendChild(outs);
        list.appendChild(card);
      });
    }

    [fDataset, fTask, fModel].forEach(function (s) { s.addEventListener("change", function () { page = 0; draw(); }); });
    fText.addEventListener("input", function () { page = 0; draw(); });
    document.getElementById("prev").addEventListener("click", function () { if (page > 0) { page--; draw(); } });
    document.getElementById("next").addEventListener("click", function () { page++; draw(); });
    draw();
    var filters = { dataset: fDataset, task: fTask, model: fModel };
    return {
      render: draw,
      search: function (q) { fText.value = q; page = 0; draw(); },
      filter: function (name, value) {
        var select = filters[name];
        if (!select) return;
        select.value = value;
        select.dispatchEvent(new Event("change"));
      },
      showAll: function () {
        Array.prototype.forEach.call(list.querySelectorAll("button.more"), function (b) { b.click(); });
      },
      shown: function () { return shown; },
      busy: function () { return pending > 0 || redraw !== null || extensionsBusy(); },
      failed: function () { return failed; }
    };
  }

  /* ---- layout figures for the test hook: does anything stick out of the page or its box? ---- */
  function visible(node) { return node.getClientRects().length > 0; }

  function layout() {
    var doc = document.documentElement;
    var boxes = Array.prototype.filter.call(document.querySelectorAll(".scroll"), visible).map(function (box) {
      var inner = box.firstElementChild;
      return { id: box.parentNode.id, scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
               contentWidth: inner ? Math.ceil(inner.getBoundingClientRect().width) : 0 };
    });
    var svg = Array.prototype.filter.call(document.querySelectorAll("#chart svg"), visible)[0] || null;
    var labels = [], outside = 0, cutLabels = 0;
    if (svg) {
      var frame = svg.getBoundingClientRect();
      Array.prototype.forEach.call(svg.querySelectorAll("g.panel"), function (panel) {
        var plot = panel.querySelector("rect.plot").getBoundingClientRect();
        Array.prototype.forEach.call(panel.querySelectorAll("text.tick"), function (t) {
          var r = t.getBoundingClientRect();
          if (r.left < plot.left - 0.5 || r.right > plot.right + 0.5) outside++;
          labels.push(r);
        });
      });
      var firstPlot = svg.querySelector("rect.plot").getBoundingClientRect();
      Array.prototype.forEach.call(svg.querySelectorAll("text.label"), function (t) {  /* model names */
        var r = t.getBoundingClientRect();
        if (r.left < frame.left - 0.5 || r.right > firstPlot.left + 0.5) cutLabels++;
      });
    }
    var overlaps = 0, closest = null;
    for (var i = 0; i < labels.length; i++) for (var j = i + 1; j < labels.length; j++) {
      var a = labels[i], b = labels[j];
      if (a.bottom <= b.top || b.bottom <= a.top) continue;            /* different rows of panels */
      var gap = Math.max(a.left, b.left) - Math.min(a.right, b.right);  /* < 0: they overlap */
      if (gap < 0) overlaps++;
      if (closest === null || gap < closest) closest = gap;
    }
    /* the item browser: cards inside the list, texts inside their boxes */
    var list = document.getElementById("item-list"), cardsOut = 0, textsOut = 0;
    if (list) {
      var edge = list.getBoundingClientRect().right + 0.5;
      Array.prototype.forEach.call(list.querySelectorAll("article.item, section.output"), function (n) {
        if (n.getBoundingClientRect().right > edge) cardsOut++;
      });
      Array.prototype.forEach.call(list.querySelectorAll(".instruction, .item-head, section.output h4, " +
                                                          "section.output pre, section.output .scores, dd"), function (n) {
        if (n.scrollWidth > n.clientWidth + 1 || n.getBoundingClientRect().right > edge) textsOut++;
      });
    }
    return { pageScrollWidth: doc.scrollWidth, pageClientWidth: doc.clientWidth, boxes: boxes,
             svgWidth: svg ? Math.ceil(svg.getBoundingClientRect().width) : 0, tickLabels: labels.length,
             tickOverlaps: overlaps, tickClosest: closest, ticksOutsidePanel: outside,
             modelLabels: svg ? svg.querySelectorAll("text.label").length : 0, modelLabelsCut: cutLabels,
             cardsOutside: cardsOut, textsOverflowing: textsOut };
  }

  /* ---- test hook: ?test=STEP;STEP... with steps sort:N (click header N of the leaderboard;
     sort:N,M clicks several), search:TEXT, filter:NAME=VALUE (NAME: dataset, task, model), full
     (ask for the whole text of every cut output shown) and probe; once the output files asked
     for have loaded, the state goes to #test-output for `chromium --dump-dom`. ---- */
  var test = new URLSearchParams(window.location.search).get("test");
  if (test) {
    var out = document.getElementById("test-output");
    var report = function (extra) {
      out.hidden = true;  /* measured without the report itself */
      var board = document.getElementById("board");
      var models = Array.prototype.map.call(board.tBodies[0].rows, function (r) { return r.cells[1].textContent; });
      var list = document.getElementById("item-list");
      var pres = list ? list.querySelectorAll("section.output pre") : [];
      var result = { models: models, title: document.title, pwned: window.__pwned === true,
                     items: browser ? browser.shown().length : null, imgs: document.images.length,
                     cards: list ? list.querySelectorAll("article.item").length : null,
                     outputs: list ? list.querySelectorAll("section.output").length : null,
                     texts: Array.prototype.map.call(pres, function (p) { return p.textContent.length; }),
                     loading: list ? list.querySelectorAll("pre.loading").length : null,
                     failed: browser ? browser.failed() : [],
                     count: browser ? document.getElementById("item-count").textContent : null,
                     layout: layout() };
      extensions.forEach(function (x) {
        var more = x.report ? x.report() : {};
        Object.keys(more).forEach(function (k) { result[k] = more[k]; });
      });
      Object.keys(extra || {}).forEach(function (k) { result[k] = extra[k]; });
      out.textContent = JSON.stringify(result);
      out.hidden = false;
    };
    var steps = test.split(";"), waited = 0;
    var settle = function (then) {  /* wait for the output files asked for (at most ~10 s) */
      if (((browser && browser.busy()) || extensionsBusy()) && waited++ < 500) { window.setTimeout(function () { settle(then); }, 20); return; }
      then();
    };
    var run = function () {
      if (!steps.length) {
        report();
        window.setTimeout(function () { report({ late: true }); }, 500);
        return;
      }
      var step = steps.shift(), parts = step.split(":"), verb = parts[0], arg = parts.slice(1).join(":");
      if (verb === "sort") arg.split(",").forEach(function (i) {
        document.getElementById("board").tHead.rows[0].cells[parseInt(i, 10)].click();
      });
      if (verb === "search" && browser) browser.search(decodeURIComponent(arg));
      if (verb === "filter" && browser) {
        var eq = arg.indexOf("=");
        browser.filter(arg.slice(0, eq), decodeURIComponent(arg.slice(eq + 1)));
      }
      if (verb === "full" && browser) browser.showAll();
      extensions.forEach(function (x) { if (x.step) x.step(verb, arg); });
      settle(run);
    };
    settle(run);
  }
})();
