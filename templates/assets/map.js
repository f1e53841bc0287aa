// mxmap interactive map (progressive enhancement over the static SVG).
// Leaflet 1.9 with the canvas renderer and topojson-client, both vendored under
// /assets/vendor/. Data files (content-hashed, under /data/map/) are named in the
// page's data-config and loaded on demand: the level's TopoJSON and attributes, the
// municipality summary for the municipality level or a region page, the details when
// a popup opens. State (level, colour mode, legend filter, view, open municipality)
// lives in the URL hash. No tiles: the page makes no third-party request.
(function () {
  'use strict';
  var el = document.querySelector('.lmap');
  if (!el || !window.L || !window.topojson || !window.fetch) return;
  var cfg;
  try { cfg = JSON.parse(el.getAttribute('data-config')); } catch (e) { return; }
  var root = el.getAttribute('data-root') || '';
  var wrap = el.parentNode;
  var section = wrap.closest('section');
  var statusEl = wrap.querySelector('.lmap-status');
  var base = root + (cfg.page || '');
  var europe = cfg.cc === 'europe';

  var CAT = {
    'us-hyperscaler': ['#d55e00', 'US hyperscaler', 'US hyperscalers (CLOUD Act)'],
    'other-provider': ['#cc79a7', 'Other non-European provider', 'Other'],
    'european-provider': ['#0072b2', 'European / national provider', 'European'],
    'local-isp': ['#56b4e9', 'Local ISP / hoster', 'European'],
    'independent': ['#009e73', 'Self-hosted / independent', 'Self-hosted'],
    'unknown': [null, 'Unknown / not classified', 'No data']
  };
  var CAT_ORDER = ['us-hyperscaler', 'other-provider', 'european-provider', 'local-isp', 'independent', 'unknown'];
  var RED = ['#fee5d9', '#fcae91', '#fb6a4a', '#de2d26', '#a50f15'];
  var GREEN = ['#edf8e9', '#bae4b3', '#74c476', '#31a354', '#006d2c'];
  var GRADE = { 'A+': '#1a9850', 'A': '#66bd63', 'B': '#a6d96a', 'C': '#fee08b', 'D': '#fdae61', 'E': '#f46d43', 'F': '#d73027' };
  var GRADE_ORDER = ['A+', 'A', 'B', 'C', 'D', 'E', 'F'];
  var MODES = [['provider', 'Provider category'], ['us', 'US-hyperscaler share'], ['domestic', 'Domestic share'], ['grade', 'Security grade']];
  var SMALL = 10;

  // ---- state in the URL hash ----
  function readHash() {
    var s = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      var i = kv.indexOf('=');
      if (i > 0) s[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return s;
  }
  var hash = readHash();
  var levelKinds = cfg.levels.map(function (l) { return l.kind; });
  var state = {
    // A region page opens at the finest level: the region is small enough.
    level: levelKinds.indexOf(hash.level) >= 0 ? hash.level
      : (cfg.region ? levelKinds[levelKinds.length - 1] : (cfg['default'] || levelKinds[0])),
    color: MODES.some(function (m) { return m[0] === hash.color; }) ? hash.color : 'provider',
    filter: hash.filter ? hash.filter.split(',') : [],
    m: hash.m || null
  };
  function writeHash() {
    var c = map.getCenter();
    var parts = ['level=' + state.level, 'color=' + state.color];
    if (state.filter.length) parts.push('filter=' + encodeURIComponent(state.filter.join(',')));
    parts.push('z=' + map.getZoom(), 'lat=' + c.lat.toFixed(4), 'lon=' + c.lng.toFixed(4));
    if (state.m) parts.push('m=' + encodeURIComponent(state.m));
    history.replaceState(null, '', '#' + parts.join('&'));
  }

  // ---- data ----
  var cache = {};
  function load(path) {
    if (!cache[path]) {
      cache[path] = fetch(root + path).then(function (r) {
        if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
        return r.json();
      });
    }
    return cache[path];
  }
  function summary() { return europe ? Promise.resolve(null) : load(cfg.summary); }

  // ---- map ----
  wrap.hidden = false;
  section.classList.add('js-map');
  var map = L.map(el, {
    renderer: L.canvas({ padding: 0.5 }),
    zoomSnap: 0.5,
    minZoom: europe ? 3 : 4,
    maxZoom: 14,
    keyboard: false,
    attributionControl: true
  });
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  map.attributionControl.addAttribution('Boundaries © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors, ODbL');

  function hatch(color) {
    var c = document.createElement('canvas');
    c.width = c.height = 8;
    var x = c.getContext('2d');
    x.fillStyle = '#f4f4f6'; x.fillRect(0, 0, 8, 8);
    x.strokeStyle = color || '#8a8a96'; x.lineWidth = 1.5;
    x.beginPath(); x.moveTo(0, 8); x.lineTo(8, 0); x.moveTo(-2, 2); x.lineTo(2, -2); x.moveTo(6, 10); x.lineTo(10, 6); x.stroke();
    return x.createPattern(c, 'repeat');
  }
  var HATCH = hatch();

  // Controls: level switch and colour mode.
  var bar = document.createElement('div');
  bar.className = 'lmap-bar';
  if (cfg.levels.length > 1) {
    var seg = document.createElement('div');
    seg.className = 'lmap-levels';
    seg.setAttribute('role', 'group');
    seg.setAttribute('aria-label', 'Map level');
    cfg.levels.forEach(function (l) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = l.label;
      b.setAttribute('data-level', l.kind);
      b.addEventListener('click', function () { state.level = l.kind; state.filter = []; show(); });
      seg.appendChild(b);
    });
    bar.appendChild(seg);
  }
  var label = document.createElement('label');
  label.textContent = 'Colour by ';
  var select = document.createElement('select');
  select.className = 'lmap-mode';
  MODES.forEach(function (m) {
    var o = document.createElement('option');
    o.value = m[0]; o.textContent = m[1];
    select.appendChild(o);
  });
  select.value = state.color;
  select.addEventListener('change', function () { state.color = select.value; state.filter = []; restyle(); writeHash(); });
  label.appendChild(select);
  bar.appendChild(label);
  wrap.insertBefore(bar, el);

  var legendCtl = L.control({ position: 'bottomright' });
  legendCtl.onAdd = function () {
    var d = L.DomUtil.create('div', 'lmap-legend');
    L.DomEvent.disableClickPropagation(d);
    L.DomEvent.disableScrollPropagation(d);
    return d;
  };
  legendCtl.addTo(map);
  var legendEl = legendCtl.getContainer();

  // ---- per-area values ----
  var current = null; // {kind, layer, areas, sum}
  function pct(n, d) { return d ? 100 * n / d : 0; }
  function fmtPct(p) { return p < 10 ? p.toFixed(1) : Math.round(p).toString(); }
  function bucket(share) { return Math.min(4, Math.floor(share * 5)); }
  function isAggregate() { return current && current.kind !== 'municipalities'; }

  // The row of a municipality area: its first member.
  function rowOf(area) { return current.sum ? current.sum.r[area[2][0]] : null; }
  function providerOf(row) { return current.sum.p[row[3]]; }

  // Class key, colour and label of an area in the current mode.
  function classify(area) {
    var mode = state.color;
    if (!isAggregate()) {
      var row = rowOf(area);
      if (!row) return { key: 'none', color: null };
      var p = providerOf(row);
      var classified = p[1] !== 'unknown';
      if (mode === 'provider') return { key: p[1], color: CAT[p[1]] ? CAT[p[1]][0] : null };
      if (mode === 'grade') return GRADE[row[5]] ? { key: row[5], color: GRADE[row[5]] } : { key: '?', color: null };
      if (!classified) return { key: 'none', color: null };
      if (mode === 'us') return p[1] === 'us-hyperscaler' ? { key: 's4', color: RED[4] } : { key: 's0', color: RED[0] };
      return p[2] === 'domestic' ? { key: 's4', color: GREEN[4] } : { key: 's0', color: GREEN[0] };
    }
    var c = area[4]; // [n, classified, us, domestic, graded, good, population, cats, top, topN]
    if (mode === 'provider') {
      var best = null, bestN = 0;
      CAT_ORDER.forEach(function (k) {
        if (k !== 'unknown' && (c[7][k] || 0) > bestN) { best = k; bestN = c[7][k]; }
      });
      if (!best) return { key: 'none', color: null };
      return { key: best, color: CAT[best][0], opacity: 0.35 + 0.55 * bestN / c[1] };
    }
    if (mode === 'grade') {
      if (!c[4]) return { key: 'none', color: null };
      var g = bucket(c[5] / c[4]);
      return { key: 's' + g, color: GREEN[g] };
    }
    if (!c[1]) return { key: 'none', color: null };
    var share = (mode === 'us' ? c[2] : c[3]) / c[1];
    var b = bucket(share);
    return { key: 's' + b, color: (mode === 'us' ? RED : GREEN)[b] };
  }

  function styleOf(area) {
    var k = classify(area);
    var hidden = state.filter.indexOf(k.key) >= 0;
    var small = isAggregate() && area[4][1] < SMALL;
    return {
      color: small ? '#333' : '#fff',
      weight: small ? 1.2 : 0.6,
      dashArray: small ? '3 3' : null,
      fillColor: k.color || HATCH,
      fillOpacity: hidden ? 0 : (k.opacity || 0.85),
      opacity: hidden ? 0.3 : 1
    };
  }

  function restyle() {
    if (!current) return;
    current.layer.eachLayer(function (l) { l.setStyle(styleOf(l.area)); });
    legend();
  }

  // ---- legend with counts, filtering on click ----
  function legendItems() {
    var mode = state.color;
    if (mode === 'provider') {
      return CAT_ORDER.map(function (k) { return [k === 'unknown' ? 'none' : k, CAT[k][1], CAT[k][0]]; })
        .concat(isAggregate() ? [] : []);
    }
    if (mode === 'grade' && !isAggregate()) {
      return GRADE_ORDER.map(function (g) { return [g, 'Grade ' + g, GRADE[g]]; }).concat([['?', 'Not measured', null]]);
    }
    var scale = mode === 'us' ? RED : GREEN;
    if (!isAggregate()) {
      var what = mode === 'us' ? 'US hyperscaler' : 'Domestic provider';
      return [['s4', what, scale[4]], ['s0', 'Other provider', scale[0]], ['none', 'Not classified', null]];
    }
    var items = [0, 1, 2, 3, 4].map(function (i) { return ['s' + i, (i * 20) + '–' + ((i + 1) * 20) + ' %', scale[i]]; });
    return items.concat([['none', mode === 'grade' ? 'Nothing graded' : 'Nothing classified', null]]);
  }
  function legend() {
    var counts = {}, total = 0;
    current.layer.eachLayer(function (l) {
      var k = classify(l.area).key;
      var n = isAggregate() ? 1 : l.area[2].length;
      counts[k] = (counts[k] || 0) + n;
      total += n;
    });
    var titles = { provider: 'Email provider', us: 'US-hyperscaler share', domestic: 'Domestic share', grade: isAggregate() ? 'Share graded B or better' : 'Security grade' };
    var html = '<strong>' + titles[state.color] + '</strong> <small>(click to filter)</small><ul>';
    legendItems().forEach(function (it) {
      var n = counts[it[0]] || 0;
      if (!n) return;
      var p = pct(n, total);
      var sw = it[2] ? 'background:' + it[2] : '';
      var off = state.filter.indexOf(it[0]) >= 0;
      html += '<li><button type="button" data-key="' + it[0] + '" aria-pressed="' + (!off) + '"' + (off ? ' class="off"' : '') + '><span class="sw' + (it[2] ? '' : ' hatch') + '" style="' + sw + '"></span>' +
        esc(it[1]) + ' (' + n.toLocaleString('en') + ') – ' + fmtPct(p) + ' %</button></li>';
    });
    var noun = europe ? 'countries' : (isAggregate() ? levelConfig().noun : 'municipalities');
    html += '</ul><small>' + total.toLocaleString('en') + ' ' + noun + (isAggregate() ? '; dashed: fewer than ' + SMALL + ' classified' : '') + '</small>';
    legendEl.innerHTML = html;
    Array.prototype.forEach.call(legendEl.querySelectorAll('button'), function (b) {
      b.addEventListener('click', function () {
        var k = b.getAttribute('data-key');
        var i = state.filter.indexOf(k);
        if (i >= 0) state.filter.splice(i, 1); else state.filter.push(k);
        restyle();
        writeHash();
      });
    });
  }

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  // ---- tooltips and popups ----
  function tooltip(area) {
    if (!isAggregate()) {
      var rows = area[2].map(function (i) { return current.sum.r[i]; });
      var p = providerOf(rows[0]);
      return '<strong>' + esc(rows.map(function (r) { return r[1]; }).join(', ')) + '</strong><br>' +
        esc(p[0]) + ' · grade ' + esc(rows[0][5]);
    }
    var c = area[4];
    var t = '<strong>' + esc(area[1]) + '</strong><br>' + c[0].toLocaleString('en') + ' municipalities, ' + c[1].toLocaleString('en') + ' classified';
    if (c[1]) {
      t += '<br>' + fmtPct(pct(c[2], c[1])) + ' % US hyperscalers · ' + fmtPct(pct(c[3], c[1])) + ' % domestic';
      if (c[8]) t += '<br>Top: ' + esc(c[8]) + ' (' + c[9] + ')';
    }
    if (c[1] < SMALL) t += '<br><em>Small sample: fewer than ' + SMALL + ' classified</em>';
    return t;
  }

  function hrefOf(area) {
    if (europe) return root + area[3];
    if (!isAggregate()) return base + 'm/' + rowOf(area)[2] + '/';
    return area[3] ? base + area[3] : null;
  }

  function popup(area, layer) {
    if (isAggregate()) {
      var c = area[4];
      var h = '<div class="lmap-popup"><h3>' + esc(area[1]) + '</h3><p>' + c[0].toLocaleString('en') + ' municipalities · population ' + c[6].toLocaleString('en') + '</p>';
      if (c[1]) {
        h += '<p>Most common: <strong>' + esc(c[8]) + '</strong> (' + c[9] + ' of ' + c[1] + ' classified)</p><ul class="bars">';
        CAT_ORDER.forEach(function (k) {
          var n = c[7][k] || 0;
          if (n) h += '<li><span class="sw' + (CAT[k][0] ? '' : ' hatch') + '" style="' + (CAT[k][0] ? 'background:' + CAT[k][0] : '') + '"></span>' + esc(CAT[k][1]) + ': ' + n + ' (' + fmtPct(pct(n, c[0])) + ' %)</li>';
        });
        h += '</ul>';
      } else {
        h += '<p>No municipality classified.</p>';
      }
      if (c[1] < SMALL) h += '<p><em>Small sample: fewer than ' + SMALL + ' classified.</em></p>';
      if (c[4]) h += '<p>Grade B or better: ' + fmtPct(pct(c[5], c[4])) + ' % of ' + c[4] + ' graded</p>';
      var href = hrefOf(area);
      if (href) h += '<p><a class="more" href="' + esc(href) + '">' + (europe ? 'Country report' : 'List of municipalities') + ' →</a></p>';
      var aopts = { maxWidth: window.innerWidth < 600 ? 300 : 450, autoPanPaddingTopLeft: [10, 60] };
      layer.bindPopup(h + '</div>', aopts).openPopup();
      if (europe) return;
      // The area's municipalities, each linked to its page, with a search box when
      // there are more than ten (the summary file is loaded for it).
      summary().then(function (sum) {
        var rows = area[2].map(function (i) { return sum.r[i]; });
        rows.sort(function (a, b) { return a[1].localeCompare(b[1]); });
        var list = '<ul class="members">' + rows.map(function (r) {
          var p = sum.p[r[3]];
          return '<li data-name="' + esc(r[1].toLowerCase()) + '"><span class="sw' + (CAT[p[1]][0] ? '' : ' hatch') + '" style="' + (CAT[p[1]][0] ? 'background:' + CAT[p[1]][0] : '') + '"></span><a href="' + esc(base + 'm/' + r[2] + '/') + '">' + esc(r[1]) + '</a> — ' + esc(p[0]) + '</li>';
        }).join('') + '</ul>';
        var search = rows.length > 10 ? '<input type="search" class="member-search" placeholder="Find a municipality" aria-label="Find a municipality in ' + esc(area[1]) + '">' : '';
        layer.setPopupContent(h + search + list + '</div>');
        var box = layer.getPopup().getElement().querySelector('.member-search');
        if (box) {
          box.addEventListener('input', function () {
            var q = box.value.toLowerCase();
            Array.prototype.forEach.call(layer.getPopup().getElement().querySelectorAll('.members li'), function (li) {
              li.hidden = q && li.getAttribute('data-name').indexOf(q) < 0;
            });
          });
        }
      }).catch(function () {});
      return;
    }
    var row = rowOf(area);
    state.m = row[0];
    writeHash();
    var p = providerOf(row);
    var head = '<div class="lmap-popup"><h3>' + esc(row[1]) + '</h3><p><span class="badge" style="background:' + (CAT[p[1]][0] || '#ddd') + ';color:' + (p[1] === 'local-isp' || p[1] === 'unknown' ? '#111' : '#fff') + '">' + esc(p[0]) + '</span> ' + esc(CAT[p[1]][1]) + '</p>' +
      '<p>Confidence: ' + row[4] + ' % · Grade ' + esc(row[5]) + '</p>';
    var link = '<p><a class="more" href="' + esc(hrefOf(area)) + '">Full page →</a></p>';
    var opts = { maxWidth: window.innerWidth < 600 ? 300 : 450, autoPanPaddingTopLeft: [10, 60] };
    layer.bindPopup(head + '<p class="loading">Loading details…</p>' + link + '</div>', opts).openPopup();
    load(cfg.detail).then(function (d) {
      var x = d[row[0]];
      if (!x) return;
      var h = head + '<p>Domain: ' + (x[0] ? esc(x[0]) : '—') + (x[5] ? ' · Gateway: ' + esc(x[5]) : '') + '</p>';
      h += '<details open><summary>Incoming mail handled by (MX)</summary><ul class="mx">' +
        (x[1].length ? x[1].map(function (m) { return '<li>' + m[0] + ' ' + esc(m[1]) + '</li>'; }).join('') : '<li>none</li>') + '</ul></details>';
      h += '<p class="verdict">Verdict: ' + esc(x[2]) + ' (' + esc(x[4]) + ' confidence)</p><p class="evidence">' + esc(x[3]) + '</p>';
      layer.setPopupContent(h + link + '</div>');
    }).catch(function () {});
  }

  function levelConfig() {
    return cfg.levels.filter(function (l) { return l.kind === state.level; })[0] || cfg.levels[0];
  }

  // ---- showing a level ----
  var first = true;
  // The level being shown (a later switch abandons an earlier one's slices).
  var showing = 0;
  // Shapes converted per task: about 50 ms of a phone's main thread (Lighthouse's
  // long task), so input is answered between slices.
  var SLICE = 60;
  // Runs fn over items, SLICE at a time, one task per slice; resolves when done, never
  // when a later show() has taken over (token).
  function sliced(items, token, fn) {
    return new Promise(function (done) {
      var at = 0;
      function next() {
        if (token !== showing) return;
        fn(items.slice(at, at + SLICE));
        at += SLICE;
        if (at < items.length) setTimeout(next, 0); else done();
      }
      // The first slice too gets a task of its own, apart from the data's parsing.
      setTimeout(next, 0);
    });
  }
  // Bounds of GeoJSON features, from their coordinates.
  function boundsOf(features) {
    var s = 90, w = 180, n = -90, e = -180;
    function walk(c) {
      if (typeof c[0] === 'number') {
        if (c[1] < s) s = c[1];
        if (c[1] > n) n = c[1];
        if (c[0] < w) w = c[0];
        if (c[0] > e) e = c[0];
        return;
      }
      for (var i = 0; i < c.length; i++) walk(c[i]);
    }
    features.forEach(function (f) { if (f.geometry.coordinates) walk(f.geometry.coordinates); });
    if (s > n) throw new Error('no shape to draw');
    return L.latLngBounds([s, w], [n, e]);
  }
  function setStatus(text, failed) {
    statusEl.textContent = text || '';
    statusEl.className = 'lmap-status' + (failed ? ' failed' : '');
  }
  function show() {
    var lc = levelConfig();
    state.level = lc.kind;
    Array.prototype.forEach.call(bar.querySelectorAll('[data-level]'), function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-level') === lc.kind));
    });
    setStatus('Loading map data…');
    var needSummary = !europe && (lc.kind === 'municipalities' || cfg.region);
    var token = ++showing;
    Promise.all([load(lc.topo), load(lc.attrs), needSummary ? summary() : Promise.resolve(null)]).then(function (res) {
      if (token !== showing) return null;
      var topo = res[0], attrs = res[1], sum = res[2];
      var regionIdx = cfg.region && sum ? sum.g.indexOf(cfg.region[1]) : -1;
      // Only the geometries that will be drawn are converted (a region page of
      // Germany draws 1,100 of the 10,900 municipalities in the file).
      var geoms = [];
      topo.objects.a.geometries.forEach(function (g, i) {
        var area = attrs.a[i];
        if (!area) return;
        if (cfg.region) {
          var inRegion = area[0] === 'r:' + cfg.region[0] || area[2].some(function (r) { return sum && sum.r[r][7] === regionIdx; });
          if (!inRegion) return;
        }
        g.area = area;
        geoms.push(g);
      });
      // Converted in slices (no map work yet), so the area's bounds are known before
      // the first shape is added: the view is set once, and each slice of shapes is
      // then projected and added in a task of its own.
      var feats = [];
      return sliced(geoms, token, function (part) {
        var fc = topojson.feature(topo, { type: 'GeometryCollection', geometries: part });
        fc.features.forEach(function (f, k) {
          if (!f.geometry) return;
          f.properties = { area: part[k].area };
          feats.push(f);
        });
      }).then(function () {
        var bounds = boundsOf(feats);
        if (current) map.removeLayer(current.layer);
        current = { kind: europe ? 'countries' : lc.kind, sum: sum, areas: attrs.a };
        current.layer = L.geoJSON(null, {
          style: function (f) { return styleOf(f.properties.area); },
          onEachFeature: function (f, layer) {
            layer.area = f.properties.area;
            layer.bindTooltip(function () { return tooltip(layer.area); }, { sticky: true, className: 'lmap-tip' });
            layer.on('mouseover', function () { layer.setStyle({ weight: 2, color: '#333' }); });
            layer.on('mouseout', function () { layer.setStyle(styleOf(layer.area)); });
            layer.on('click', function () { popup(layer.area, layer); });
          }
        }).addTo(map);
        if (first && hash.z && hash.lat && hash.lon) {
          map.setView([+hash.lat, +hash.lon], +hash.z);
        } else if (europe && first) {
          map.fitBounds([[34, -12], [71, 45]]);
        } else if (first || !map.getBounds().intersects(bounds)) {
          map.fitBounds(bounds);
        }
        return sliced(feats, token, function (part) {
          part.forEach(function (f) { current.layer.addData(f); });
        });
      }).then(function () { return sum; });
    }).then(function (sum) {
      if (token !== showing) return;
      legend();
      setStatus('');
      if (first && state.m) {
        current.layer.eachLayer(function (l) {
          var rows = isAggregate() ? [] : l.area[2].map(function (i) { return sum.r[i][0]; });
          if (rows.indexOf(state.m) >= 0) popup(l.area, l);
        });
      }
      first = false;
      writeHash();
      el.setAttribute('data-ready', lc.kind);
    }).catch(function (e) {
      setStatus('Failed to load map data. Please try again later.', true);
      section.classList.remove('js-map');
      if (window.console) console.warn(e);
    });
  }

  if (europe && cfg.context) {
    cfg.context.forEach(function (c) {
      L.marker([c[2], c[1]], {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'lmap-context', html: esc(c[0]) + '<br><small>not covered</small>', iconSize: [110, 30] })
      }).addTo(map);
    });
  }
  map.on('moveend', function () { if (!first) writeHash(); });
  map.on('popupclose', function () { if (state.m) { state.m = null; writeHash(); } });
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { map.invalidateSize(); }, 100);
  });
  // For tests and bookmarklets: where an area is on screen.
  window.mxmap = {
    map: map,
    state: state,
    point: function (id) {
      var found = null;
      if (!current) return null;
      current.layer.eachLayer(function (l) {
        var ids = isAggregate() ? [l.area[0]] : l.area[2].map(function (i) { return current.sum.r[i][0]; });
        if (!found && ids.indexOf(id) >= 0) {
          var p = map.latLngToContainerPoint(l.getCenter());
          var r = el.getBoundingClientRect();
          found = { x: r.left + p.x, y: r.top + p.y };
        }
      });
      return found;
    }
  };
  show();
})();
