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

  /* ---- per-item browser ---- */
  var dataNode = document.getElementById("items-data");
  var browser = null;
  if (dataNode) browser = itemBrowser(JSON.parse(dataNode.textContent));

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fillSelect(select, values) {
    values.forEach(function (v) { var o = el("option", null, v); o.value = v; select.appendChild(o); });
  }

  function itemBrowser(data) {
    var PAGE = 20, page = 0, shown = [];
    var fDataset = document.getElementById("f-dataset"), fTask = document.getElementById("f-task");
    var fModel = document.getElementById("f-model"), fText = document.getElementById("f-text");
    var list = document.getElementById("item-list"), count = document.getElementById("item-count");
    var datasets = {}, tasks = {};
    data.items.forEach(function (it) {
      datasets[it.dataset] = 1;
      (it.tasks || []).forEach(function (t) { tasks[t] = 1; });
    });
    fillSelect(fDataset, Object.keys(datasets).sort());
    fillSelect(fTask, Object.keys(tasks).sort());
    fillSelect(fModel, data.models);
    if (!Object.keys(tasks).length) fTask.parentNode.hidden = true;

    function matches(it, q, model) {
      if (fDataset.value && it.dataset !== fDataset.value) return false;
      if (fTask.value && (it.tasks || []).indexOf(fTask.value) < 0) return false;
      if (model >= 0 && !it.outputs[model]) return false;
      if (!q) return true;
      if (it.instruction.toLowerCase().indexOf(q) >= 0) return true;
      return it.outputs.some(function (o, k) {
        return o && (model < 0 || model === k) && (o.output || "").toLowerCase().indexOf(q) >= 0;
      });
    }

    function renderOutput(o, k) {
      var box = el("section", "output");
      box.appendChild(el("h4", null, data.models[k]));
      var scores = el("div", "scores");
      data.aspects.forEach(function (a) {
        if (!(a in o.scores)) return;
        var s = el("span");
        s.appendChild(document.createTextNode(a + " "));
        s.appendChild(el("b", null, o.scores[a] === null ? "N/A" : o.scores[a]));
        scores.appendChild(s);
      });
      box.appendChild(scores);
      if (o.status && o.status !== "ok") box.appendChild(el("div", "status", o.status));
      box.appendChild(el("pre", null, o.output === null ? "(no output)" : o.output));
      var names = Object.keys(o.rationales || {});
      if (names.length) {
        var det = el("details"), dl = el("dl");
        det.appendChild(el("summary", null, "judge rationales"));
        names.forEach(function (a) { dl.appendChild(el("dt", null, a)); dl.appendChild(el("dd", null, o.rationales[a])); });
        det.appendChild(dl);
        box.appendChild(det);
      }
      return box;
    }

    function render() {
      var q = fText.value.trim().toLowerCase();
      var model = fModel.value ? data.models.indexOf(fModel.value) : -1;
      shown = data.items.filter(function (it) { return matches(it, q, model); });
      var pages = Math.max(1, Math.ceil(shown.length / PAGE));
      if (page >= pages) page = pages - 1;
      count.textContent = shown.length + " of " + data.items.length + " items";
      document.getElementById("page").textContent = "page " + (page + 1) + " of " + pages;
      list.textContent = "";
      shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (it) {
        var card = el("article", "item");
        var head = [("#" + it.id), it.dataset, it.category].concat(it.tasks || []);
        if (it.difficulty) head.push(it.difficulty);
        card.appendChild(el("div", "item-head", head.join(" · ")));
        card.appendChild(el("p", "instruction", it.instruction));
        var outs = el("div", "outputs");
        it.outputs.forEach(function (o, k) { if (o && (model < 0 || model === k)) outs.appendChild(renderOutput(o, k)); });
        card.appendChild(outs);
        list.appendChild(card);
      });
    }

    [fDataset, fTask, fModel].forEach(function (s) { s.addEventListener("change", function () { page = 0; render(); }); });
    fText.addEventListener("input", function () { page = 0; render(); });
    document.getElementById("prev").addEventListener("click", function () { if (page > 0) { page--; render(); } });
    document.getElementById("next").addEventListener("click", function () { page++; render(); });
    render();
    var filters = { dataset: fDataset, task: fTask, model: fModel };
    return {
      render: render,
      search: function (q) { fText.value = q; page = 0; render(); },
      filter: function (name, value) {
        var select = filters[name];
        if (!select) return;
        select.value = value;
        select.dispatchEvent(new Event("change"));
      },
      shown: function () { return shown; }
    };
  }

  /* ---- layout figures for the test hook: does anything stick out of the page or its box? ---- */
  function layout() {
    var doc = document.documentElement;
    var boxes = Array.prototype.map.call(document.querySelectorAll(".scroll"), function (box) {
      var inner = box.firstElementChild;
      return { id: box.parentNode.id, scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
               contentWidth: inner ? Math.ceil(inner.getBoundingClientRect().width) : 0 };
    });
    var labels = [], outside = 0;
    Array.prototype.forEach.call(document.querySelectorAll("#chart svg g.panel"), function (panel) {
      var plot = panel.querySelector("rect.plot").getBoundingClientRect();
      Array.prototype.forEach.call(panel.querySelectorAll("text.tick"), function (t) {
        var r = t.getBoundingClientRect();
        if (r.left < plot.left - 0.5 || r.right > plot.right + 0.5) outside++;
        labels.push(r);
      });
    });
    var overlaps = 0, closest = null;
    for (var i = 0; i < labels.length; i++) for (var j = i + 1; j < labels.length; j++) {
      var a = labels[i], b = labels[j];
      if (a.bottom <= b.top || b.bottom <= a.top) continue;            /* different rows of panels */
      var gap = Math.max(a.left, b.left) - Math.min(a.right, b.right);  /* < 0: they overlap */
      if (gap < 0) overlaps++;
      if (closest === null || gap < closest) closest = gap;
    }
    var svg = document.querySelector("#chart svg");
    return { pageScrollWidth: doc.scrollWidth, pageClientWidth: doc.clientWidth, boxes: boxes,
             svgWidth: svg ? Math.ceil(svg.getBoundingClientRect().width) : 0, tickLabels: labels.length,
             tickOverlaps: overlaps, tickClosest: closest, ticksOutsidePanel: outside };
  }

  /* ---- test hook: ?test=STEP;STEP... with steps sort:N (click header N of the leaderboard;
     sort:N,M clicks several), search:TEXT, filter:NAME=VALUE (NAME: dataset, task, model) and
     probe; the state goes to #test-output for `chromium --dump-dom`. ---- */
  var test = new URLSearchParams(window.location.search).get("test");
  if (test) {
    var out = document.getElementById("test-output");
    var report = function (extra) {
      out.hidden = true;  /* measured without the report itself */
      var board = document.getElementById("board");
      var models = Array.prototype.map.call(board.tBodies[0].rows, function (r) { return r.cells[1].textContent; });
      var list = document.getElementById("item-list");
      var result = { models: models, title: document.title, pwned: window.__pwned === true,
                     items: browser ? browser.shown().length : null, imgs: document.images.length,
                     cards: list ? list.querySelectorAll("article.item").length : null,
                     outputs: list ? list.querySelectorAll("section.output").length : null,
                     count: browser ? document.getElementById("item-count").textContent : null,
                     layout: layout() };
      Object.keys(extra || {}).forEach(function (k) { result[k] = extra[k]; });
      out.textContent = JSON.stringify(result);
      out.hidden = false;
    };
    test.split(";").forEach(function (step) {
      var parts = step.split(":"), verb = parts[0], arg = parts.slice(1).join(":");
      if (verb === "sort") arg.split(",").forEach(function (i) {
        document.getElementById("board").tHead.rows[0].cells[parseInt(i, 10)].click();
      });
      if (verb === "search" && browser) browser.search(decodeURIComponent(arg));
      if (verb === "filter" && browser) {
        var eq = arg.indexOf("=");
        browser.filter(arg.slice(0, eq), decodeURIComponent(arg.slice(eq + 1)));
      }
    });
    report();
    window.setTimeout(function () { report({ late: true }); }, 500);
  }
})();
