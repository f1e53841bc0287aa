// Progressive enhancement: click (or Enter on) a column header to sort a table.sortable.
// Without JavaScript the tables keep their server-side order.
(function () {
  function key(cell) {
    var t = cell.textContent.trim();
    var n = parseFloat(t.replace(/[^0-9.\-]/g, ""));
    return /^-?[0-9.,]+\s*%?$/.test(t) && !isNaN(n) ? n : t.toLowerCase();
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x < y) return asc ? -1 : 1;
      if (x > y) return asc ? 1 : -1;
      return 0;
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.appendChild(frag);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      th.addEventListener("click", function () { sortBy(table, i, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortBy(table, i, th); });
    });
  });
})();

// Progressive enhancement: a text filter above every table.filterable, plus a drop-down
// for each column whose header carries data-filter-select (e.g. grade, provider).
// The first filterable table takes its initial state from the address
// (?filter=text&grade=F&provider=...) and keeps it there, so a filtered view can be
// linked. Without JavaScript every row stays visible.
(function () {
  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }
  var serial = 0;
  var params = new URLSearchParams(location.search);
  // A table is equipped when it comes near the screen (reading a region's thousand
  // rows for the drop-downs makes the browser lay out the whole table, a long task
  // on load), or at once when the address carries a filter for it.
  function watch(table, index) {
    var wanted = index === 0 && ["filter"].concat(Array.prototype.map.call(table.tHead ? table.tHead.rows[0].cells : [], function (th) {
      return th.textContent.trim().toLowerCase();
    })).some(function (k) { return params.has(k); });
    // A long region table starts closed; a filter in the address opens it.
    var closed = table.closest("details");
    if (wanted && closed) closed.open = true;
    if (wanted || !("IntersectionObserver" in window)) { setup(table, index); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (!entries.some(function (e) { return e.isIntersecting; })) return;
      seen.disconnect();
      setup(table, index);
    }, { rootMargin: "300px 0px" });
    seen.observe(table);
  }
  document.querySelectorAll("table.filterable").forEach(watch);
  function setup(table, index) {
    var linked = index === 0;
    if (!table.tHead || !table.tBodies.length) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var bar = document.createElement("div");
    bar.className = "filters";
    var id = "filter-" + (++serial);
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = "Filter rows ";
    var input = document.createElement("input");
    input.type = "search";
    input.id = id;
    label.appendChild(input);
    bar.appendChild(label);
    var selects = [];
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      if (!th.hasAttribute("data-filter-select")) return;
      var values = {};
      rows.forEach(function (r) { values[r.cells[col].textContent.trim()] = true; });
      var select = document.createElement("select");
      select.setAttribute("aria-label", th.textContent.trim());
      var any = document.createElement("option");
      any.value = "";
      any.textContent = th.textContent.trim() + ": all";
      select.appendChild(any);
      Object.keys(values).sort().forEach(function (v) {
        var o = document.createElement("option");
        o.value = v;
        o.textContent = v;
        select.appendChild(o);
      });
      bar.appendChild(select);
      var key = th.textContent.trim().toLowerCase();
      if (linked && params.has(key) && values[params.get(key)]) select.value = params.get(key);
      selects.push({ col: col, select: select, key: key });
    });
    var count = document.createElement("output");
    count.setAttribute("aria-live", "polite");
    bar.appendChild(count);
    function apply() {
      var q = fold(input.value), shown = 0;
      rows.forEach(function (r) {
        var ok = !q || fold(r.textContent).indexOf(q) >= 0;
        selects.forEach(function (s) {
          if (ok && s.select.value && r.cells[s.col].textContent.trim() !== s.select.value) ok = false;
        });
        r.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = " " + shown + " of " + rows.length + " rows";
      if (linked && history.replaceState) {
        var state = new URLSearchParams(location.search);
        if (input.value) state.set("filter", input.value); else state.delete("filter");
        selects.forEach(function (s) {
          if (s.select.value) state.set(s.key, s.select.value); else state.delete(s.key);
        });
        var query = state.toString();
        history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
      }
    }
    if (linked && params.has("filter")) input.value = params.get("filter");
    input.addEventListener("input", apply);
    selects.forEach(function (s) { s.select.addEventListener("change", apply); });
    table.parentNode.insertBefore(bar, table);
    // Filtering a region's thousand rows on load costs a long task; without a filter
    // in the address every row is shown already, so only the count is written.
    if (input.value || selects.some(function (s) { return s.select.value; })) apply();
    else count.textContent = " " + rows.length + " of " + rows.length + " rows";
  }
})();

// A box that scrolls sideways (a wide table on a phone) must be reachable by keyboard
// to be scrolled without a pointer: it becomes a tab stop when it overflows and holds
// nothing focusable of its own.
(function () {
  function mark() {
    document.querySelectorAll("main table, main pre, main .tablewrap").forEach(function (box) {
      // Boxes with a link or button inside are reachable already (and are not
      // measured: measuring forces a layout of the whole table).
      if (box.querySelector("a[href], button, input, select, textarea, [tabindex]:not([data-scroll-focus])")) return;
      var scrolls = box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "visible";
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.tabIndex = 0;
        box.setAttribute("data-scroll-focus", "");
      } else if (!scrolls && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }
  // After load: measuring earlier forces a layout of the half-built page inside this
  // script's task (a long task on a country page).
  if (document.readyState === "complete") mark();
  else window.addEventListener("load", function () { setTimeout(mark, 0); });
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(mark, 200); });
})();
