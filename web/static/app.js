// sluice live tail page. Plain script, no dependencies.
//
// Safety: every piece of log data reaches the DOM through textContent or
// a text node, never as markup. Control characters are shown as the
// Unicode "control pictures" (ESC as ␛), never passed on.
//
// Speed: lines arrive as one SSE event each, whose id is the line's cursor
// in the router; they are parsed as they come and drawn at most once per
// animation frame, the DOM holding the newest MAX_DOM matching lines and
// the model the newest KEEP lines.
//
// Resume: the EventSource sends the last id it saw as Last-Event-ID when it
// reconnects, and a new EventSource carries it as after=, so the router
// goes on from the next line: nothing repeated, nothing skipped (a gap the
// router's ring can no longer fill arrives as its in-band L11 line).
'use strict';

(function () {
  const MAX_DOM = 2000;   // rows in the DOM
  const PER_FRAME = 400;  // rows drawn in one animation frame at most
  const KEEP = 20000;     // lines kept in memory (filters and resume draw from these)
  const BACKLOG = 1000;   // lines asked for on connect
  const SPARK = 60;       // samples per sparkline
  const POLL_MS = 2000;   // app list and line counters

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), signin: $('signin'), form: $('signin-form'), token: $('token'),
    signinError: $('signin-error'), signout: $('signout'), main: $('main'), apps: $('app-list'),
    source: $('f-source'), ps: $('f-ps'), text: $('f-text'), pause: $('pause'), pausedCount: $('paused-count'),
    utc: $('utc'), permalink: $('permalink'), shown: $('shown'), log: $('log'), follow: $('follow'),
    sources: $('sources'), procs: $('procs'),
  };

  const stats = { draw: 0, parse: 0 }; // the longest frame's drawing and batch's parsing, ms

  const state = {
    app: '', filter: { source: '', ps: '', text: '' }, utc: false,
    paused: false, pausedCount: 0, following: true,
    all: [], seq: 0, renderedSeq: 0, queue: [], frame: 0,
    cursor: '', es: null, retry: 0, connected: false, // cursor: the id of the last event
    apps: new Map(), // name -> {lines, at, rates: [], li, canvas, rate}
    sources: new Set(), procs: new Set(),
  };

  // ---- parsing and colour (as cmd/sluice/color.go) ----

  // parse splits "TIMESTAMP SOURCE[PROC]: TEXT".
  function parse(raw, seq) {
    const e = { raw, seq, ts: '', src: '', proc: '', text: raw, cls: '', lower: '' };
    const sp = raw.indexOf(' ');
    if (sp < 0) return e;
    const rest = raw.slice(sp + 1);
    const colon = rest.indexOf(': ');
    if (colon <= 0 || rest.slice(0, colon).indexOf(' ') >= 0) return e;
    e.ts = raw.slice(0, sp);
    const who = rest.slice(0, colon);
    e.text = rest.slice(colon + 2);
    const lb = who.indexOf('[');
    if (lb >= 0 && who.endsWith(']')) {
      e.src = who.slice(0, lb);
      e.proc = who.slice(lb + 1, -1);
    } else {
      e.src = who;
    }
    e.cls = colour(e.src, e.proc);
    return e;
  }

  const enc = new TextEncoder();
  function colour(src, proc) {
    if (src === 'sluice') return 'notice';
    let key = src;
    if (proc !== '') {
      const t = proc.split('.')[0];
      key = t === '' ? src : t;
    }
    let h = 0x811c9dc5; // FNV-1a 32, as hash/fnv in the terminal client
    for (const b of enc.encode(key)) {
      h ^= b;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return 'c' + (h % 10);
  }

  // ---- filters ----

  function matches(e) {
    const f = state.filter;
    if (f.source && e.src !== f.source) return false;
    if (f.ps && e.proc !== f.ps && !e.proc.startsWith(f.ps + '.')) return false;
    if (f.text) {
      if (!e.lower) e.lower = e.raw.toLowerCase();
      if (!e.lower.includes(f.text.toLowerCase())) return false;
    }
    return true;
  }

  // ---- rendering ----

  const pad = (n, w) => String(n).padStart(w || 2, '0');
  function fmtTime(ts) {
    const d = new Date(ts);
    if (isNaN(d)) return ts;
    if (state.utc) {
      return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
    }
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  // appendText appends s to parent as text, control characters as visible
  // symbols in their own span.
  const CTL = /[\u0000-\u0008\u000a-\u001f\u007f\u240d]/;
  function appendText(parent, s) {
    if (!CTL.test(s)) {
      parent.appendChild(document.createTextNode(s));
      return;
    }
    let run = '';
    for (const ch of s) {
      const c = ch.codePointAt(0);
      const ctl = c < 0x20 && c !== 9 ? String.fromCodePoint(0x2400 + c) : c === 0x7f ? '\u2421' : c === 0x240d ? ch : '';
      if (ctl === '') { run += ch; continue; }
      if (run) { parent.appendChild(document.createTextNode(run)); run = ''; }
      const span = document.createElement('span');
      span.className = 'ctl';
      span.textContent = ctl;
      parent.appendChild(span);
    }
    if (run) parent.appendChild(document.createTextNode(run));
  }

  function makeRow(e) {
    const row = document.createElement('div');
    row.className = 'row';
    row.logEntry = e;
    if (e.ts) {
      const ts = document.createElement('span');
      ts.className = 'ts';
      ts.textContent = fmtTime(e.ts);
      row.appendChild(ts);
      const who = document.createElement('span');
      who.className = 'who ' + e.cls;
      appendText(who, e.proc ? `${e.src}[${e.proc}]:` : `${e.src}:`);
      row.appendChild(who);
    }
    const msg = document.createElement('span');
    msg.className = 'msg' + (e.cls === 'notice' ? ' notice' : '');
    appendText(msg, e.text);
    row.appendChild(msg);
    return row;
  }

  function gapRow(text) {
    const e = parse('', ++state.seq);
    e.text = text;
    e.gap = true;
    return e;
  }

  function schedule() {
    if (!state.frame) state.frame = requestAnimationFrame(flush);
  }

  // flush draws the queued lines: one DOM update per frame.
  function flush() {
    const t0 = performance.now();
    try { draw(); } finally { stats.draw = Math.max(stats.draw, performance.now() - t0); }
  }

  function draw() {
    state.frame = 0;
    if (state.paused || state.queue.length === 0) return;
    const q = state.queue;
    // Only the newest MAX_DOM matching lines of the queue can stay in the
    // DOM: start there.
    let i = q.length, n = 0;
    while (i > 0 && n < MAX_DOM) {
      i--;
      if (q[i].gap || matches(q[i])) n++;
    }
    // Draw at most PER_FRAME rows, oldest first; the rest wait for the
    // next frame, so one frame's work stays bounded however far behind.
    const frag = document.createDocumentFragment();
    let drawn = 0;
    for (; i < q.length && drawn < PER_FRAME; i++) {
      const e = q[i];
      if (!e.gap && !matches(e)) continue;
      const r = makeRow(e);
      if (e.gap) r.classList.add('gap');
      frag.appendChild(r);
      drawn++;
    }
    state.renderedSeq = q[i - 1].seq;
    state.queue = i < q.length ? q.slice(i) : [];
    el.log.appendChild(frag);
    trimDOM();
    if (state.following) el.log.scrollTop = el.log.scrollHeight;
    else if (drawn) el.follow.hidden = false;
    showCount();
    if (state.queue.length) schedule();
  }

  function trimDOM() {
    let extra = el.log.childElementCount - MAX_DOM;
    while (extra-- > 0) el.log.firstElementChild.remove();
  }

  // redraw rebuilds the DOM from the model (after a filter or time zone
  // change): the newest MAX_DOM matching lines already drawn.
  function redraw() {
    const rows = [];
    for (let i = state.all.length - 1; i >= 0 && rows.length < MAX_DOM; i--) {
      const e = state.all[i];
      if (e.seq <= state.renderedSeq && (e.gap || matches(e))) rows.push(e);
    }
    const frag = document.createDocumentFragment();
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = makeRow(rows[i]);
      if (rows[i].gap) r.classList.add('gap');
      frag.appendChild(r);
    }
    el.log.replaceChildren(frag);
    el.log.scrollTop = el.log.scrollHeight;
    state.following = true;
    el.follow.hidden = true;
    showCount();
  }

  function showCount() {
    el.shown.textContent = `${el.log.childElementCount} shown`;
  }

  // add takes parsed lines into the model and the draw queue.
  function add(entries) {
    for (const e of entries) {
      state.all.push(e);
      state.queue.push(e);
      if (!e.gap) {
        noteName(state.sources, el.sources, e.src);
        noteName(state.procs, el.procs, e.proc);
        if (state.paused && matches(e)) state.pausedCount++;
      }
    }
    if (state.all.length > KEEP * 1.5) state.all = state.all.slice(-KEEP);
    if (state.queue.length > KEEP) state.queue = state.queue.slice(-KEEP);
    if (state.paused) {
      el.pausedCount.hidden = false;
      el.pausedCount.textContent = `${state.pausedCount} new while paused`;
    }
    schedule();
  }

  function noteName(set, list, v) {
    if (!v || set.has(v) || set.size >= 200) return;
    set.add(v);
    const o = document.createElement('option');
    o.value = v;
    list.appendChild(o);
  }

  // ---- the stream and its cursor ----

  // epoch is the router's epoch in a cursor ("EPOCH:SEQ"): it changes when
  // the router restarts or forgets the app.
  const epoch = (c) => c.split(':')[0];

  function onStart(ev) {
    const at = ev.lastEventId;
    if (state.cursor && at && epoch(at) !== epoch(state.cursor)) {
      add([gapRow('— the router restarted; lines sent while the stream was down may be missing —')]);
    }
    if (at) state.cursor = at;
    setStatus('live', `live · ${state.app}`);
    state.retry = 0;
  }

  function onLine(ev) {
    const t0 = performance.now();
    state.cursor = ev.lastEventId;
    add([parse(ev.data, ++state.seq)]);
    stats.parse = Math.max(stats.parse, performance.now() - t0);
  }

  function connect() {
    if (state.es) state.es.close();
    if (!state.app) return;
    let url = `/web/stream?app=${encodeURIComponent(state.app)}&num=${BACKLOG}`;
    if (state.cursor) url += `&after=${encodeURIComponent(state.cursor)}`;
    const es = new EventSource(url);
    state.es = es;
    es.addEventListener('start', onStart);
    es.addEventListener('message', onLine);
    es.onerror = () => {
      if (es !== state.es) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (401/403/503) or not an event stream: check the
        // session, then try again with a backoff.
        setStatus('down', 'stream closed; retrying…');
        const wait = Math.min(30000, 1000 * 2 ** state.retry++);
        setTimeout(() => { if (es === state.es) refresh().then((ok) => ok && connect()); }, wait);
      } else {
        setStatus('down', 'reconnecting…');
      }
    };
  }

  function selectApp(name) {
    if (name === state.app && state.es) return;
    state.app = name;
    state.all = []; state.queue = []; state.cursor = ''; state.renderedSeq = state.seq;
    state.pausedCount = 0;
    el.log.replaceChildren();
    for (const [n, a] of state.apps) a.li.classList.toggle('current', n === name);
    writeHash();
    connect();
  }

  // ---- app list and sparklines ----

  async function refresh() {
    let res;
    try {
      res = await fetch('/web/apps', { credentials: 'same-origin', cache: 'no-store' });
    } catch (_) {
      setStatus('down', 'router unreachable');
      return false;
    }
    if (res.status === 401) {
      showSignin();
      return false;
    }
    if (!res.ok) return false;
    const v = await res.json();
    showMain(v);
    return true;
  }

  function showMain(v) {
    el.signin.hidden = true;
    el.main.hidden = false;
    el.signout.hidden = !v.auth;
    const seen = new Set();
    for (const a of v.apps) {
      seen.add(a.name);
      let s = state.apps.get(a.name);
      if (!s) {
        s = { lines: a.lines, at: v.now, rates: [], li: document.createElement('li') };
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = a.name;
        s.rate = document.createElement('span');
        s.rate.className = 'rate';
        s.canvas = document.createElement('canvas');
        s.canvas.width = 360; s.canvas.height = 48;
        s.li.append(name, s.rate, s.canvas);
        s.li.addEventListener('click', () => selectApp(a.name));
        state.apps.set(a.name, s);
        insertSorted(s.li, a.name);
      } else {
        const dt = (v.now - s.at) / 1000;
        const r = a.lines >= s.lines && dt > 0 ? (a.lines - s.lines) / dt : 0;
        s.rates.push(r);
        if (s.rates.length > SPARK) s.rates.shift();
        s.lines = a.lines; s.at = v.now;
      }
      s.li.classList.toggle('current', a.name === state.app);
      s.rate.textContent = `${fmtRate(s.rates.length ? s.rates[s.rates.length - 1] : 0)} lines/s`;
      spark(s.canvas, s.rates);
    }
    for (const [n, s] of state.apps) {
      if (!seen.has(n)) { s.li.remove(); state.apps.delete(n); }
    }
    if (!state.app || !state.apps.has(state.app)) {
      const want = readHash().app;
      const pick = want && (state.apps.has(want) || !v.auth || v.admin) ? want : v.apps.length ? v.apps[0].name : '';
      if (pick) selectApp(pick);
    }
  }

  function insertSorted(li, name) {
    for (const other of el.apps.children) {
      if (other.firstChild.textContent > name) { el.apps.insertBefore(li, other); return; }
    }
    el.apps.appendChild(li);
  }

  const fmtRate = (r) => (r >= 100 ? Math.round(r).toString() : r.toFixed(1));

  function spark(c, rates) {
    const g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    if (rates.length < 2) return;
    const max = Math.max(1, ...rates);
    const step = c.width / (SPARK - 1);
    const x0 = c.width - (rates.length - 1) * step;
    g.beginPath();
    rates.forEach((r, i) => {
      const x = x0 + i * step, y = c.height - 2 - (r / max) * (c.height - 4);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.strokeStyle = '#5aa9e6';
    g.lineWidth = 2;
    g.stroke();
  }

  // ---- sign-in ----

  function showSignin() {
    if (state.es) { state.es.close(); state.es = null; }
    state.app = '';
    el.main.hidden = true;
    el.signout.hidden = true;
    el.signin.hidden = false;
    setStatus('', 'signed out');
    el.token.focus();
  }

  el.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    el.signinError.textContent = '';
    const body = new URLSearchParams({ token: el.token.value });
    el.token.value = '';
    const res = await fetch('/web/signin', { method: 'POST', body, credentials: 'same-origin' });
    if (!res.ok) {
      el.signinError.textContent = res.status === 401 ? 'Wrong token.' : `Sign-in failed (${res.status}).`;
      return;
    }
    showMain(await res.json());
  });

  el.signout.addEventListener('click', async () => {
    await fetch('/web/signout', { method: 'POST', credentials: 'same-origin' });
    for (const s of state.apps.values()) s.li.remove();
    state.apps.clear();
    el.log.replaceChildren();
    showSignin();
  });

  // ---- controls ----

  function setStatus(cls, text) {
    el.status.className = 'status ' + cls;
    el.status.textContent = text;
  }

  function setPaused(p) {
    state.paused = p;
    el.pause.setAttribute('aria-pressed', String(p));
    el.pause.textContent = p ? 'Resume' : 'Pause';
    if (!p) {
      state.pausedCount = 0;
      el.pausedCount.hidden = true;
      schedule();
    }
  }
  el.pause.addEventListener('click', () => setPaused(!state.paused));

  function onFilter() {
    state.filter = { source: el.source.value.trim(), ps: el.ps.value.trim(), text: el.text.value };
    writeHash();
    redraw();
  }
  for (const i of [el.source, el.ps, el.text]) i.addEventListener('input', onFilter);
  el.utc.addEventListener('change', () => { state.utc = el.utc.checked; writeHash(); redraw(); });

  el.log.addEventListener('scroll', () => {
    const atEnd = el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 24;
    state.following = atEnd;
    if (atEnd) el.follow.hidden = true;
  });
  el.follow.addEventListener('click', () => {
    state.following = true;
    el.follow.hidden = true;
    el.log.scrollTop = el.log.scrollHeight;
  });

  // One copy button, moved to the row under the pointer.
  const copyBtn = document.createElement('button');
  copyBtn.type = 'button';
  copyBtn.className = 'copy';
  copyBtn.textContent = 'copy';
  el.log.addEventListener('mouseover', (ev) => {
    const row = ev.target.closest && ev.target.closest('.row');
    if (row && row.logEntry && copyBtn.parentNode !== row) row.appendChild(copyBtn);
  });
  copyBtn.addEventListener('click', async (ev) => {
    ev.stopPropagation();
    const row = copyBtn.parentNode;
    if (!row || !row.logEntry) return;
    const text = row.logEntry.raw || row.logEntry.text;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const ta = document.createElement('textarea');
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    copyBtn.textContent = 'copied';
    setTimeout(() => { copyBtn.textContent = 'copy'; }, 1000);
  });

  // ---- permalink: the fragment keeps app, filters and time zone ----

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    return { app: p.get('app') || '', source: p.get('source') || '', ps: p.get('ps') || '', text: p.get('q') || '', utc: p.get('tz') === 'utc' };
  }

  function writeHash() {
    const p = new URLSearchParams();
    if (state.app) p.set('app', state.app);
    if (state.filter.source) p.set('source', state.filter.source);
    if (state.filter.ps) p.set('ps', state.filter.ps);
    if (state.filter.text) p.set('q', state.filter.text);
    if (state.utc) p.set('tz', 'utc');
    const h = '#' + p.toString();
    if (location.hash !== h) history.replaceState(null, '', h);
    el.permalink.href = h;
  }

  function applyHash() {
    const h = readHash();
    el.source.value = h.source; el.ps.value = h.ps; el.text.value = h.text; el.utc.checked = h.utc;
    state.filter = { source: h.source, ps: h.ps, text: h.text };
    state.utc = h.utc;
    if (h.app && h.app !== state.app && state.apps.size > 0) selectApp(h.app);
    else redraw();
  }
  window.addEventListener('hashchange', applyHash);

  // ---- start ----
  applyHash();
  refresh();
  setInterval(() => { if (!el.main.hidden) refresh(); }, POLL_MS);
  // Test and debugging hook: nothing secret, just counts.
  window.sluiceTail = {
    lines: () => Array.from(el.log.children, (r) => (r.logEntry ? r.logEntry.raw || r.logEntry.text : '')),
    pending: () => state.queue.length,
    stats: () => stats,
  };
})();
