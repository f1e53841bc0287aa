// Client-side search over search/index.json ([name, cc, slug, category] rows).
// Matching ignores case and diacritics ("Jogeva" finds "Jõgeva").
(function () {
  "use strict";
  var form = document.getElementById("search");
  var input = document.getElementById("q");
  var country = document.getElementById("cc");
  var list = document.getElementById("results");
  var status = document.getElementById("status");
  var rows = null;
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/ß/g, "ss").replace(/ł/g, "l").replace(/ø/g, "o").replace(/đ/g, "d").replace(/æ/g, "ae");
  }
  function show() {
    if (!rows) { return; }
    var q = fold(input.value.trim());
    var cc = country.value;
    list.textContent = "";
    if (q.length < 2) { status.textContent = "Type at least two letters."; return; }
    var hits = [];
    for (var i = 0; i < rows.length && hits.length < 200; i++) {
      var r = rows[i];
      if (cc && r[1] !== cc) { continue; }
      var name = r[4] || (r[4] = fold(r[0]));
      var at = name.indexOf(q);
      if (at >= 0) { hits.push([at === 0 ? 0 : 1, r]); }
    }
    hits.sort(function (a, b) { return a[0] - b[0]; });
    hits.forEach(function (h) {
      var r = h[1];
      var li = document.createElement("li");
      var dot = document.createElement("span");
      dot.className = "dot cat-" + r[3];
      var a = document.createElement("a");
      a.href = "../" + r[1] + "/m/" + r[2] + "/";
      a.textContent = r[0];
      li.appendChild(dot);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" (" + r[1].toUpperCase() + ")"));
      list.appendChild(li);
    });
    status.textContent = hits.length === 200 ? "First 200 matches." : hits.length + " matches.";
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); show(); });
  input.addEventListener("input", show);
  country.addEventListener("change", show);
  var params = new URLSearchParams(location.search);
  if (params.get("q")) { input.value = params.get("q"); }
  if (params.get("cc")) { country.value = params.get("cc"); }
  status.textContent = "Loading the index…";
  fetch("index.json").then(function (r) { return r.json(); }).then(function (data) {
    rows = data;
    status.textContent = rows.length + " municipalities.";
    show();
  }).catch(function () { status.textContent = "The search index could not be loaded."; });
})();
