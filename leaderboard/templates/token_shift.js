/* justeval page, token-shift section: colours each output's tokens in the item browser by the
   base model's rank of them (unshifted / marginal / shifted) with the base model's top
   alternatives in the token's tooltip. The per-token data are in items/tSSS-CCCC.js next to the
   page (source SSS, a run of items CCCC), each a script handing its JSON to justevalShift(),
   loaded when an output that has them is shown (script elements load from file://). Every
   text is inserted with textContent or as an attribute value: never parsed as markup. */
(function () {
  "use strict";
  var node = document.getElementById("token-shift-data");
  if (!node) return;
  var data = JSON.parse(node.textContent);
  var sources = data.sources, byModel = {};
  sources.forEach(function (s, n) { (byModel[s.model] = byModel[s.model] || []).push(n); });
  var rows = sources.map(function () { return {}; });
  var pools = sources.map(function () { return {}; });
  var requested = {}, pending = 0, failed = [], redraw = null, coloured = true;
  var CLASSES = ["ts-u", "ts-m", "ts-s"], NAMES = ["unshifted", "marginal", "shifted"];

  window.justevalShift = function (d) {
    pools[d.source][d.chunk] = d.strings;
    d.rows.forEach(function (r) { rows[d.source][r[0]] = { row: r, chunk: d.chunk }; });
  };

  function el(tag, cls, text) {
    var x = document.createElement(tag);
    if (cls) x.className = cls;
    if (text !== undefined && text !== null) x.textContent = String(text);
    return x;
  }
  function pad(n, width) { var s = String(n); while (s.length < width) s = "0" + s; return s; }
  function later() {
    if (redraw === null) redraw = window.setTimeout(function () {
      redraw = null;
      if (window.justevalBrowser) window.justevalBrowser.render();
    }, 30);
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
  function category(rank) { return rank === 1 ? 0 : rank >= 2 && rank <= 3 ? 1 : 2; }
  function quoted(text) { return JSON.stringify(text); }
  function pct(x, total) { return total ? (100 * x / total).toFixed(1) + " %" : "-"; }

  function tooltip(rank, detail, strings) {
    if (rank === 1) return "rank 1: the base model's own top choice";
    var lines = [rank ? "rank " + rank + " under the base model" : "outside the base model's top-k"];
    if (detail) {
      lines.push("measured token: " + quoted(strings[detail[1]]));
      if (detail[2] >= 0) lines.push("the output's own token: " + quoted(strings[detail[2]]));
      var alt = detail[3], top = [];
      for (var a = 0; a + 1 < alt.length; a += 2) {
        top.push(quoted(strings[alt[a]]) + (alt[a + 1] === null ? "" : " " + (100 * Math.exp(alt[a + 1])).toFixed(1) + " %"));
      }
      if (top.length) lines.push("base model's top: " + top.join(", "));
    }
    return lines.join("\n");
  }

  /* the text with each analysed token in a span of its category; text outside every token
     (between spans, or past the analysed ones) stays plain */
  function colour(pre, text, row, strings) {
    var ranks = row[4], spans = row[5], details = {}, cursor = 0, end = 0, last = null, lastCat = -1;
    row[6].forEach(function (d) { details[d[0]] = d; });
    var frag = document.createDocumentFragment();
    for (var j = 0; j < ranks.length; j++) {
      var start = end + spans[2 * j], stop = start + spans[2 * j + 1];
      end = stop;
      var cat = category(ranks[j]);
      if (stop <= cursor || start >= text.length) {   /* a token sharing the characters of the one before */
        if (last && stop <= cursor) {
          last.title += "\n+ " + tooltip(ranks[j], details[j], strings);
          if (cat > lastCat) { last.className = CLASSES[cat]; lastCat = cat; }
        }
        continue;
      }
      if (start > cursor) frag.appendChild(document.createTextNode(text.slice(cursor, start)));
      last = el("span", CLASSES[cat], text.slice(Math.max(start, cursor), stop));
      last.title = tooltip(ranks[j], details[j], strings);
      lastCat = cat;
      frag.appendChild(last);
      cursor = Math.min(stop, text.length);
    }
    if (cursor < text.length) frag.appendChild(document.createTextNode(text.slice(cursor)));
    pre.textContent = "";
    pre.appendChild(frag);
    pre.classList.add("ts-coloured");
  }

  function output(box, k, i, text, pre) {
    (byModel[k] || []).forEach(function (n) {
      var source = sources[n], letter = source.status.charAt(i);
      if (!letter || letter === "-") return;
      var note = el("div", "ts-note");
      box.insertBefore(note, pre);
      if (letter === "s") { note.textContent = "token shift " + source.label + ": analysed an earlier output (regenerated since), not shown"; return; }
      if (letter === "e") { note.textContent = "token shift " + source.label + ": the analysis of this output failed"; return; }
      if (letter === "n") { note.textContent = "token shift " + source.label + ": counted, but the tokenizer gave no character offsets to colour by"; return; }
      var got = rows[n][i];
      if (!got) {
        note.textContent = "token shift " + source.label + ": loading…";
        load("t" + pad(n, 3) + "-" + pad(Math.floor(i / source.chunk_items), 4) + ".js");
        return;
      }
      var r = got.row, counts = r[1], total = counts[0] + counts[1] + counts[2];
      var parts = NAMES.map(function (name, c) { return pct(counts[c], total) + " " + name; });
      var extra = r[3] !== null ? " (the first " + r[2].toLocaleString() + " of " + r[3].toLocaleString() + " tokens: cut to the context)" : "";
      if (r[4].length < r[2]) extra += "; colours cover the tokens in the first " + data.preview_chars.toLocaleString() + " characters";
      note.textContent = "token shift " + source.label + ": " + parts.join(" · ") + " of " + r[2].toLocaleString() + " tokens" + extra;
      if (!coloured || text === null || text === undefined) return;
      var target = pre;
      if (pre.classList.contains("ts-coloured")) {   /* a second analysis of this output: its own copy */
        target = el("pre");
        box.insertBefore(target, note.nextSibling);
      }
      colour(target, text, r, pools[n][got.chunk] || []);
    });
  }

  var filters = document.querySelector("#items .filters");
  if (filters) {
    var label = el("label"), box = el("input");
    box.type = "checkbox";
    box.checked = true;
    box.id = "f-shift";
    box.addEventListener("change", function () { coloured = box.checked; later(); });
    label.appendChild(box);
    label.appendChild(document.createTextNode(" colour tokens by shift"));
    filters.appendChild(label);
  }

  (window.justevalExtensions = window.justevalExtensions || []).push({
    output: output,
    busy: function () { return pending > 0 || redraw !== null; },
    step: function (verb, arg) {
      if (verb === "shift-colour") { coloured = arg !== "off"; later(); }
    },
    report: function () {
      var list = document.getElementById("item-list");
      var spans = list ? list.querySelectorAll("pre.ts-coloured span") : [];
      var byCat = { "ts-u": 0, "ts-m": 0, "ts-s": 0 };
      var titles = [];
      Array.prototype.forEach.call(spans, function (s) {
        byCat[s.className] = (byCat[s.className] || 0) + 1;
        if (s.className !== "ts-u") titles.push(s.title);
      });
      var pres = list ? list.querySelectorAll("pre.ts-coloured") : [];
      return { tokenShift: { coloured: pres.length, spans: byCat, titles: titles,
                             texts: Array.prototype.map.call(pres, function (p) { return p.textContent; }),
                             notes: Array.prototype.map.call(list ? list.querySelectorAll(".ts-note") : [],
                                                             function (x) { return x.textContent; }),
                             failed: failed } };
    }
  });
})();
