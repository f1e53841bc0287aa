// Client-side search over the split index search/{shard}.json: one small file per
// query, chosen by the query's first two letters or digits (as the build names them).
// Rows: [key, name, cc, slug, category, provider, region]; keys are names (also without
// "Comune di …" prefixes), names in other languages and scripts, mail domains and
// official codes, folded to lower case without accents.
(function () {
  "use strict";
  var form = document.getElementById("search");
  var input = document.getElementById("q");
  var country = document.getElementById("cc");
  var list = document.getElementById("results");
  var status = document.getElementById("status");
  var cache = {};
  var asked = 0;
  var LATIN = { "ß": "ss", "ł": "l", "ø": "o", "đ": "d", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ı": "i", "ħ": "h", "ŀ": "l" };
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[ßłøđæœþðıħŀ]/g, function (c) { return LATIN[c]; });
  }
  // Leading words indexed without them (src/site/pages.rs NAME_NOISE, same order).
  var NOISE = ["comune di ", "comune de ", "citta di ", "gemeinde ", "stadt ", "markt ", "marktgemeinde ", "stadtgemeinde ", "ville de ", "commune de ", "municipality of ", "city of ", "town of ", "ayuntamiento de ", "concello de ", "ajuntament de ", "opcina ", "obcina ", "grad ", "miasto ", "gmina ", "mesto ", "obec ", "dimos ", "comune.", "www.", "gemeinde.", "stadt.", "municipio.", "mairie-"];
  function strip(q) {
    for (var i = 0; i < NOISE.length; i++) {
      if (q.indexOf(NOISE[i]) === 0) { q = q.slice(NOISE[i].length); break; }
    }
    // An official code with its country prefix: the last part (as the index has it).
    return /^[a-z]{2}-[a-z0-9-]*$/.test(q) && /\d/.test(q.split("-").pop()) ? q.split("-").pop() : q;
  }
  function shard(q) {
    var cs = Array.from(q).filter(function (c) { return /[\p{L}\p{N}]/u.test(c); }).slice(0, 2);
    if (cs.length < 2) { return "_"; }
    if (cs[0].charCodeAt(0) < 128 && cs[1].charCodeAt(0) < 128) { return cs.join(""); }
    return "u" + cs.map(function (c) { return c.codePointAt(0).toString(16); }).join("-");
  }
  function load(name) {
    if (!cache[name]) {
      cache[name] = fetch(name + ".json").then(function (r) {
        return r.ok ? r.json() : [];
      });
    }
    return cache[name];
  }
  function render(q, rows) {
    var cc = country.value;
    var best = {};
    rows.forEach(function (r) {
      if (cc && r[2] !== cc) { return; }
      var key = r[0];
      var at = key.indexOf(q);
      if (at < 0) { return; }
      // Exact key first, then keys starting with the query, then the rest.
      var rank = key === q ? 0 : (at === 0 ? 1 : 2);
      var id = r[2] + "/" + r[3];
      if (!best[id] || best[id][0] > rank) { best[id] = [rank, r]; }
    });
    var hits = Object.keys(best).map(function (k) { return best[k]; });
    hits.sort(function (a, b) { return a[0] - b[0] || (a[1][1] < b[1][1] ? -1 : a[1][1] > b[1][1] ? 1 : 0); });
    var total = hits.length;
    hits = hits.slice(0, 200);
    list.textContent = "";
    hits.forEach(function (h) {
      var r = h[1];
      var li = document.createElement("li");
      var dot = document.createElement("span");
      dot.className = "dot cat-" + r[4];
      var a = document.createElement("a");
      a.href = "../" + r[2] + "/m/" + r[3] + "/";
      a.textContent = r[1];
      li.appendChild(dot);
      li.appendChild(a);
      var where = " (" + r[2].toUpperCase() + (r[6] ? ", " + r[6] : "") + ") — " + r[5];
      li.appendChild(document.createTextNode(where));
      list.appendChild(li);
    });
    status.textContent = total > 200 ? "First 200 of " + total + " matches." : (total === 1 ? "1 match." : total + " matches.");
  }
  function show() {
    var q = strip(fold(input.value.trim()));
    if (Array.from(q).length < 2) { list.textContent = ""; status.textContent = "Type at least two letters."; return; }
    var n = ++asked;
    status.textContent = "Searching…";
    load(shard(q)).then(function (rows) {
      if (n === asked) { render(q, rows); }
    }).catch(function () { status.textContent = "The search index could not be loaded."; });
  }
  // Keyboard: arrow down from the field into the results, up and down between them,
  // Escape back to the field.
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" && list.firstChild) { e.preventDefault(); list.querySelector("a").focus(); }
  });
  list.addEventListener("keydown", function (e) {
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    var at = links.indexOf(document.activeElement);
    if (at < 0) { return; }
    if (e.key === "ArrowDown" && at + 1 < links.length) { e.preventDefault(); links[at + 1].focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (at > 0 ? links[at - 1] : input).focus(); }
    if (e.key === "Escape") { input.focus(); }
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); show(); });
  input.addEventListener("input", show);
  country.addEventListener("change", show);
  var params = new URLSearchParams(location.search);
  if (params.get("q")) { input.value = params.get("q"); }
  if (params.get("cc")) { country.value = params.get("cc"); }
  show();
})();
