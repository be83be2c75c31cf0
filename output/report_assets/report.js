// sockscope report: draws the ladders and framing maps from the JSON block,
// and makes the streams table sortable and filterable. Network-derived text
// only ever reaches the page through textContent and setAttribute: never
// through innerHTML, so a payload cannot become markup.
(function () {
  'use strict';
  var SVGNS = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('report-data').textContent);

  function svg(tag, attrs, text) {
    var n = document.createElementNS(SVGNS, tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) n.setAttribute(k, attrs[k]); }
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  function html(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  function para(box, cls, text) { var p = html('p', cls, text); box.appendChild(p); return p; }
  function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }
  function dirWord(d) { return d === 0 ? 'client → server' : 'server → client'; }
  function bytes(n) { return n === 1 ? '1 byte' : n + ' bytes'; }

  // Shared <defs>: the hatch pattern for missing bytes.
  var defs = svg('svg', { width: 0, height: 0, 'aria-hidden': 'true', focusable: 'false', class: 'defs' });
  var pat = svg('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' });
  pat.appendChild(svg('rect', { width: 6, height: 6, fill: '#fff' }));
  pat.appendChild(svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#444', 'stroke-width': 2 }));
  defs.appendChild(pat);
  document.body.insertBefore(defs, document.body.firstChild);

  // Roving focus inside a widget: one tab stop, arrow keys move.
  function focusItem(list, from, to) {
    if (to < 0 || to >= list.length) return;
    if (from >= 0 && list[from]) list[from].setAttribute('tabindex', '-1');
    list[to].setAttribute('tabindex', '0');
    list[to].focus();
  }

  // ---- ladder ----
  var L = 230, R = 760, NOTE = 775, W = 1180, ROW = 46, TOP = 60;
  function drawLadder(wrap, st) {
    var section = wrap.closest('section.stream');
    var box = section.querySelector('.explain-box');
    var list = section.querySelector('.explain-list');
    var pk = st.pk || [];
    var H = TOP + pk.length * ROW + (st.pkcut ? 30 : 12);
    var root = svg('svg', { class: 'ladder', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'group',
      'aria-label': 'ladder diagram of ' + st.id + ': ' + pk.length + ' packets; arrow keys move, Enter explains' });
    root.appendChild(svg('text', { x: 52, y: 38, 'text-anchor': 'end', class: 'time' }, 'frame'));
    root.appendChild(svg('text', { x: 62, y: 38, class: 'time' }, 'time'));
    root.appendChild(svg('text', { x: L, y: 20, 'text-anchor': 'middle', class: 'endpoint' }, 'client'));
    root.appendChild(svg('text', { x: L, y: 38, 'text-anchor': 'middle', class: 'endpoint' }, st.c));
    root.appendChild(svg('text', { x: R, y: 20, 'text-anchor': 'middle', class: 'endpoint' }, 'server'));
    root.appendChild(svg('text', { x: R, y: 38, 'text-anchor': 'middle', class: 'endpoint' }, st.s));
    root.appendChild(svg('line', { x1: L, y1: TOP - 10, x2: L, y2: H - 4, class: 'life' }));
    root.appendChild(svg('line', { x1: R, y1: TOP - 10, x2: R, y2: H - 4, class: 'life' }));
    var items = [];
    pk.forEach(function (p, i) {
      var y = TOP + i * ROW + 22;
      var cls = 'pkt d' + p.d + ' k-' + p.k + (p.p ? ' prob' : '');
      var notes = (p.n || []).join(' · ');
      var label = 'frame ' + p.f + ', ' + p.t + ', ' + dirWord(p.d) + ': ' + p.w +
        (p.l ? '; ' + p.l.join('; ') : '') + (notes ? '; ' + notes : '');
      var g = svg('g', { class: cls, id: st.a + '-f' + p.f, tabindex: i === 0 ? '0' : '-1', role: 'button', 'aria-label': label });
      g.appendChild(svg('title', {}, label));
      g.appendChild(svg('rect', { class: 'hit', x: 0, y: y - 20, width: W, height: ROW }));
      g.appendChild(svg('text', { x: 52, y: y + 4, 'text-anchor': 'end', class: 'time' }, String(p.f)));
      g.appendChild(svg('text', { x: 62, y: y + 4, class: 'time' }, p.t));
      var x1 = p.d === 0 ? L : R, x2 = p.d === 0 ? R - 10 : L + 10, tip = p.d === 0 ? R : L;
      g.appendChild(svg('line', { x1: x1, y1: y, x2: x2, y2: y, class: 'arrow' }));
      var s = p.d === 0 ? -1 : 1;
      g.appendChild(svg('polygon', { class: 'head', points: tip + ',' + y + ' ' + (tip + s * 12) + ',' + (y - 6) + ' ' + (tip + s * 12) + ',' + (y + 6) }));
      if (p.k === 'rst') {
        g.appendChild(svg('path', { class: 'arrow', d: 'M' + (tip + s * 26) + ' ' + (y - 7) + 'l10 14m0 -14l-10 14' }));
      }
      g.appendChild(svg('text', { x: (L + R) / 2, y: y - 6, 'text-anchor': 'middle', class: 'label' }, clip(p.w, 66)));
      if (p.l) g.appendChild(svg('text', { x: (L + R) / 2, y: y + 17, 'text-anchor': 'middle', class: 'label mlabel' }, clip(p.l.join(' · '), 64)));
      if (notes) g.appendChild(svg('text', { x: NOTE, y: y + 5, class: 'note' }, (p.p ? '⚠ ' : '') + clip(notes, 50)));
      g.addEventListener('click', function () { selectPacket(i); });
      root.appendChild(g);
      items.push(g);
      var li = html('li', '');
      li.appendChild(html('span', 'fr', 'frame ' + p.f + ' (' + p.t + ', ' + (p.d === 0 ? 'c→s' : 's→c') + ') '));
      li.appendChild(document.createTextNode(p.w + (p.l ? ' — ' + p.l.join(' · ') : '') + ': ' + (p.e || (p.x || []).join('; ') || '')));
      list.appendChild(li);
    });
    if (st.pkcut) {
      root.appendChild(svg('text', { x: (L + R) / 2, y: H - 10, 'text-anchor': 'middle', class: 'note' }, '… ' + st.pkcut + ' more packets not drawn (size limits)'));
    }
    var cur = -1;
    function selectPacket(i) {
      if (cur >= 0) items[cur].classList.remove('sel');
      cur = i;
      items[i].classList.add('sel');
      var p = pk[i];
      box.textContent = '';
      para(box, 'h', 'frame ' + p.f + ' · ' + p.t + ' · ' + dirWord(p.d));
      para(box, 'pv', p.w);
      if (p.l) para(box, '', 'messages starting here: ' + p.l.join(' · '));
      (p.x || []).forEach(function (x) { para(box, '', '⚠ ' + x); });
      if (p.e) para(box, '', p.e);
    }
    root.addEventListener('keydown', function (ev) {
      var i = items.indexOf(document.activeElement);
      if (i < 0) return;
      var to = -1;
      switch (ev.key) {
        case 'ArrowDown': to = i + 1; break;
        case 'ArrowUp': to = i - 1; break;
        case 'Home': to = 0; break;
        case 'End': to = items.length - 1; break;
        case 'Enter': case ' ': selectPacket(i); ev.preventDefault(); return;
        default: return;
      }
      ev.preventDefault();
      focusItem(items, i, to);
    });
    root.selectPacket = function (g) { var i = items.indexOf(g); if (i >= 0) { focusItem(items, items.indexOf(root.querySelector('g.pkt[tabindex="0"]')), i); selectPacket(i); } };
    wrap.appendChild(root);
  }

  // ---- framing map ----
  // Two rows (segments, messages), or three for a decrypted TLS stream
  // (segments, TLS records, the messages inside): selecting an item marks
  // the items of the other rows that share its bytes.
  function drawMap(wrap, st, d) {
    var dir = st.dirs[d];
    var box = wrap.nextElementSibling;
    var dname = d === 0 ? 'c2s' : 's2c';
    var segs = dir.segs || [], msgs = dir.msgs || [], gaps = dir.gaps || [], ins = dir.in || [];
    var tls = !!dir.tls, three = ins.length > 0;
    var cuts = {}, ticks = {};
    [segs, msgs, gaps].forEach(function (l) { l.forEach(function (x) { cuts[x.s] = 1; cuts[x.e] = 1; ticks[x.s] = 1; ticks[x.e] = 1; }); });
    ins.forEach(function (x) { cuts[x.s] = 1; cuts[x.e] = 1; });
    var bs = Object.keys(cuts).map(Number).sort(function (a, b) { return a - b; });
    var n = Math.max(bs.length - 1, 1), total = Math.max(bs[bs.length - 1] - bs[0], 1);
    var MIN = 10, LEFT = 112, avail = Math.max(1000, n * MIN + 200);
    var pos = {}, x = LEFT;
    bs.forEach(function (b, i) {
      pos[b] = x;
      if (i + 1 < bs.length) x += MIN + (avail - n * MIN) * (bs[i + 1] - b) / total;
    });
    var SY = 8, SH = 32, RY = 54, MY = 78, MH = 32, IY = 120, IH = 32;
    var bottom = three ? IY + IH : MY + MH;
    var W = Math.ceil(x + 24), H = bottom + 8;
    var segWord = st.proto === 'udp' ? 'datagram' : 'segment', msgWord = dir.after ? 'message or TLS record' : tls ? 'TLS record' : 'message';
    // After a switch to TLS the row holds the cleartext messages, then the records.
    function recWord(m) { return tls && (!dir.after || m.pr === 'tls') ? 'TLS record' : 'message'; }
    var root = svg('svg', { class: 'fmap' + (three ? ' three' : ''), viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'group',
      'aria-label': 'framing map ' + st.id + ' ' + dname + ': ' + segs.length + ' ' + segWord + 's above, ' + msgs.length + ' ' + msgWord + 's below' +
        (three ? ', ' + ins.length + ' messages inside TLS under them' : '') });
    root.appendChild(svg('text', { x: 4, y: SY + 21, class: 'rowlabel' }, segWord + 's'));
    root.appendChild(svg('text', { x: 4, y: MY + 21, class: 'rowlabel' }, dir.after ? dir.after + ', TLS' : tls ? 'TLS records' : 'messages'));
    if (three) root.appendChild(svg('text', { x: 4, y: IY + 21, class: 'rowlabel' }, 'inside TLS'));
    root.appendChild(svg('line', { x1: LEFT, y1: RY, x2: x, y2: RY, class: 'ruler' }));
    var lastLabel = -1e9;
    bs.forEach(function (b) {
      if (!ticks[b]) return;
      root.appendChild(svg('line', { x1: pos[b], y1: RY - 5, x2: pos[b], y2: RY + 5, class: 'tick' }));
      if (pos[b] - lastLabel >= 44) {
        root.appendChild(svg('text', { x: pos[b], y: RY + 17, 'text-anchor': 'middle', class: 'itemlabel' }, String(b)));
        lastLabel = pos[b];
      }
    });
    gaps.forEach(function (g) {
      var r = svg('rect', { class: 'gap', x: pos[g.s], y: SY, width: Math.max(pos[g.e] - pos[g.s], 2), height: bottom - SY });
      r.appendChild(svg('title', {}, 'bytes [' + g.s + ',' + g.e + ') missing: ' + g.k));
      root.appendChild(r);
    });
    var segEls = [], msgEls = [], inEls = [];
    var msgSegs = msgs.map(function () { return []; }), msgIns = msgs.map(function () { return []; });
    segs.forEach(function (s, i) { s.m.forEach(function (mi) { if (msgSegs[mi]) msgSegs[mi].push(i); }); });
    ins.forEach(function (m, i) { m.r.forEach(function (ri) { if (msgIns[ri]) msgIns[ri].push(i); }); });
    // The segments under a message inside TLS: those of its records.
    var inSegs = ins.map(function (m) {
      var seen = {}, out = [];
      m.r.forEach(function (ri) { msgSegs[ri].forEach(function (si) { if (!seen[si]) { seen[si] = 1; out.push(si); } }); });
      return out.sort(function (a, b) { return a - b; });
    });
    var letter = { seg: 's', msg: 'm', in: 'i' };
    function item(kind, o, i, y, h, cls, text, label) {
      var w = Math.max(pos[o.e] - pos[o.s], 3);
      var r = svg('rect', { class: 'item ' + kind + cls, x: pos[o.s] + 0.5, y: y, width: w - 1, height: h,
        id: st.a + '-' + dname + '-' + letter[kind] + o.i, tabindex: '-1', role: 'button', 'aria-label': label });
      r.appendChild(svg('title', {}, label));
      r.addEventListener('click', function () { select(kind, i); });
      r.addEventListener('mouseenter', function () { select(kind, i); });
      r.addEventListener('focus', function () { select(kind, i); });
      root.appendChild(r);
      if (w > text.length * 8 + 4) {
        root.appendChild(svg('text', { x: pos[o.s] + w / 2, y: y + h / 2 + 5, 'text-anchor': 'middle', class: 'itemlabel' }, text));
      }
      return r;
    }
    function recs(l) { return l.map(function (ri) { return '#' + msgs[ri].i; }).join(', '); }
    segs.forEach(function (s, i) {
      var label = segWord + ' ' + s.i + ', frame ' + s.f + ', bytes [' + s.s + ',' + s.e + ')' + (s.c ? ', carries ' + s.c : '');
      segEls.push(item('seg', s, i, SY, SH, s.k === 'new' ? '' : ' retx', String(s.i), label));
    });
    msgs.forEach(function (m, i) {
      var label = recWord(m) + ' #' + m.i + ', bytes [' + m.s + ',' + m.e + '), frames ' + m.fr.join(', ') + ': ' + clip(m.sum, 80);
      msgEls.push(item('msg', m, i, MY, MH, (recWord(m) === 'TLS record' ? ' rec' : '') + (m.pa ? ' partial' : '') + (m.pr === 'unframed' ? ' unframed' : ''), '#' + m.i, label));
    });
    ins.forEach(function (m, i) {
      var label = 'message #' + m.i + ' inside TLS, in record' + (m.r.length === 1 ? ' ' : 's ') + recs(m.r) + ', frames ' + m.fr.join(', ') + ': ' + clip(m.sum, 80);
      inEls.push(item('in', m, i, IY, IH, (m.pa ? ' partial' : '') + (m.pr === 'unframed' ? ' unframed' : ''), '#' + m.i, label));
    });
    var rows = [segEls, msgEls, inEls];
    for (var k = 0; k < rows.length; k++) { if (rows[k].length) { rows[k][0].setAttribute('tabindex', '0'); break; } }
    var ladder = wrap.closest('section.stream').querySelector('svg.ladder');
    function clear() {
      root.querySelectorAll('.hl, .sel').forEach(function (e) { e.classList.remove('hl', 'sel'); });
      if (ladder) ladder.querySelectorAll('g.pkt.xref').forEach(function (e) { e.classList.remove('xref'); });
    }
    // The ladder's arrows for these frames are marked too.
    function xref(frames) {
      if (!ladder) return;
      frames.forEach(function (f) {
        var g = document.getElementById(st.a + '-f' + f);
        if (g) g.classList.add('xref');
      });
    }
    function mark(els, list) { list.forEach(function (j) { if (els[j]) els[j].classList.add('hl'); }); }
    function select(kind, i) {
      clear();
      box.textContent = '';
      if (kind === 'seg') {
        var s = segs[i];
        segEls[i].classList.add('sel');
        mark(msgEls, s.m);
        s.m.forEach(function (mi) { mark(inEls, msgIns[mi] || []); });
        xref([s.f]);
        para(box, 'h', segWord + ' ' + s.i + ' · frame ' + s.f + ' · ' + s.t + ' · bytes [' + s.s + ',' + s.e + ') · ' + bytes(s.n) + ' · ' + s.k.replace(/_/g, ' '));
        para(box, '', s.m.length ? 'carries ' + (s.c || s.m.map(function (mi) { return '#' + msgs[mi].i; }).join(', ')) : 'carries no framed message');
        if (s.p) para(box, 'pv', s.p);
      } else if (kind === 'msg') {
        var m = msgs[i];
        msgEls[i].classList.add('sel');
        mark(segEls, msgSegs[i]);
        mark(inEls, msgIns[i]);
        xref(m.fr);
        para(box, 'h', recWord(m) + ' #' + m.i + ' · ' + m.pr + ' · bytes [' + m.s + ',' + m.e + ') · ' + bytes(m.e - m.s) + ' · frame' + (m.fr.length === 1 ? ' ' : 's ') + m.fr.join(', ') + (m.pa ? ' · partial' : ''));
        para(box, '', m.sum);
        para(box, '', msgSegs[i].length > 1 ? 'split across ' + msgSegs[i].length + ' segments' : (msgSegs[i].length === 1 ? 'in one segment' : ''));
        if (msgIns[i].length) para(box, '', 'carries message' + (msgIns[i].length === 1 ? ' ' : 's ') + msgIns[i].map(function (j) { return '#' + ins[j].i; }).join(', ') + ' inside TLS');
        if (m.p) para(box, 'pv', m.p);
      } else {
        var q = ins[i];
        inEls[i].classList.add('sel');
        mark(msgEls, q.r);
        mark(segEls, inSegs[i]);
        xref(q.fr);
        para(box, 'h', 'message #' + q.i + ' inside TLS · ' + q.pr + ' · decrypted bytes [' + q.ps + ',' + q.pe + ') · ' + bytes(q.pe - q.ps) + ' · frame' + (q.fr.length === 1 ? ' ' : 's ') + q.fr.join(', ') + (q.pa ? ' · partial' : ''));
        para(box, '', q.sum);
        para(box, '', 'in TLS record' + (q.r.length === 1 ? ' ' : 's ') + recs(q.r) + ', carried by ' + inSegs[i].length + ' segment' + (inSegs[i].length === 1 ? '' : 's'));
        if (q.p) para(box, 'pv', q.p);
      }
    }
    var kinds = ['seg', 'msg', 'in'];
    root.addEventListener('keydown', function (ev) {
      var a = document.activeElement, row = -1, i = -1;
      for (var k = 0; k < rows.length && i < 0; k++) { i = rows[k].indexOf(a); if (i >= 0) row = k; }
      if (i < 0) return;
      var list = rows[row], toList = list, to = -1;
      switch (ev.key) {
        case 'ArrowRight': to = i + 1; break;
        case 'ArrowLeft': to = i - 1; break;
        case 'Home': to = 0; break;
        case 'End': to = list.length - 1; break;
        case 'ArrowDown':
          if (row === 0 && msgEls.length) { toList = msgEls; to = segs[i].m.length ? segs[i].m[0] : 0; }
          if (row === 1 && inEls.length) { toList = inEls; to = msgIns[i].length ? msgIns[i][0] : 0; }
          break;
        case 'ArrowUp':
          if (row === 1 && segEls.length) { toList = segEls; to = msgSegs[i].length ? msgSegs[i][0] : 0; }
          if (row === 2 && msgEls.length) { toList = msgEls; to = ins[i].r.length ? ins[i].r[0] : 0; }
          break;
        case 'Escape': clear(); box.textContent = ''; ev.preventDefault(); return;
        case 'Enter': case ' ': select(kinds[row], i); ev.preventDefault(); return;
        default: return;
      }
      ev.preventDefault();
      if (to < 0 || to >= toList.length) return;
      a.setAttribute('tabindex', '-1');
      toList[to].setAttribute('tabindex', '0');
      toList[to].focus();
    });
    root.selectItem = function (r) {
      for (var k = 0; k < rows.length; k++) {
        var i = rows[k].indexOf(r);
        if (i >= 0) { select(kinds[k], i); return; }
      }
    };
    wrap.appendChild(root);
    var notes = [];
    if (dir.segcut) notes.push(dir.segcut + ' more segments not drawn');
    if (dir.msgcut) notes.push(dir.msgcut + ' more ' + msgWord + 's not drawn');
    if (dir.incut) notes.push(dir.incut + ' more messages inside TLS not drawn');
    if (dir.resent) notes.push(dir.resent + ' segment' + (dir.resent === 1 ? '' : 's') + ' that only re-sent bytes (retransmissions, keep-alives) are in the ladder, not here');
    if (notes.length) wrap.parentNode.insertBefore(html('p', 'note', notes.join(' · ')), wrap);
  }

  document.querySelectorAll('.ladder-wrap').forEach(function (w) { drawLadder(w, data.streams[+w.dataset.stream]); });
  document.querySelectorAll('.fmap-wrap').forEach(function (w) { drawMap(w, data.streams[+w.dataset.stream], w.dataset.dir === 's2c' ? 1 : 0); });

  // ---- deep links: #tcp-0-f12 selects a packet, #tcp-0-c2s-s3 a segment, -m2 a message (a TLS record), -i1 a message inside TLS ----
  function goToHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var t = document.getElementById(id);
    if (!t) return;
    var root = t.closest && t.closest('svg');
    if (root && root.selectPacket && t.matches('g.pkt')) root.selectPacket(t);
    else if (root && root.selectItem) { root.selectItem(t); t.focus(); }
    if (t.matches('section.stream')) t.focus();
    t.scrollIntoView({ block: 'center' });
  }
  window.addEventListener('hashchange', goToHash);
  goToHash();

  // ---- j/k between streams ----
  var sections = Array.prototype.slice.call(document.querySelectorAll('section.stream'));
  document.addEventListener('keydown', function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var t = ev.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    if (ev.key !== 'j' && ev.key !== 'k') return;
    if (!sections.length) return;
    var cur = -1;
    var s = t && t.closest ? t.closest('section.stream') : null;
    if (s) cur = sections.indexOf(s);
    else {
      for (var i = 0; i < sections.length; i++) if (sections[i].getBoundingClientRect().top <= 10) cur = i;
    }
    var to = ev.key === 'j' ? cur + 1 : cur - 1;
    if (to < 0 || to >= sections.length) return;
    ev.preventDefault();
    sections[to].focus();
    sections[to].scrollIntoView({ block: 'start' });
  });

  // ---- streams table: sort and filter ----
  var table = document.getElementById('streams-table');
  if (table) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    table.querySelectorAll('thead button').forEach(function (b) {
      b.addEventListener('click', function () {
        var th = b.parentNode, key = b.dataset.key, num = b.dataset.type === 'num';
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        table.querySelectorAll('thead th').forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var sorted = rows.slice().sort(function (x, y) {
          var a = x.dataset[key], c = y.dataset[key], r;
          if (num) r = Number(a) - Number(c); else r = a < c ? -1 : a > c ? 1 : 0;
          if (r === 0) r = Number(x.dataset.id) - Number(y.dataset.id);
          return asc ? r : -r;
        });
        sorted.forEach(function (r) { tbody.appendChild(r); });
      });
    });
    var input = document.getElementById('filter'), count = document.getElementById('filter-count');
    var texts = rows.map(function (r) { return (r.textContent + ' ' + r.dataset.state + ' ' + r.dataset.fi).toLowerCase(); });
    input.addEventListener('input', function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
      rows.forEach(function (r, i) {
        var ok = words.every(function (w) { return texts[i].indexOf(w) >= 0; });
        r.classList.toggle('hidden', !ok);
        if (ok) shown++;
      });
      count.textContent = words.length ? shown + ' of ' + rows.length + ' shown' : '';
    });
  }

  // ---- print: open the explanations so they are on paper ----
  var opened = [];
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details').forEach(function (d) { if (!d.open) { d.open = true; opened.push(d); } });
  });
  window.addEventListener('afterprint', function () { opened.forEach(function (d) { d.open = false; }); opened = []; });
  document.documentElement.classList.add('js');
})();
