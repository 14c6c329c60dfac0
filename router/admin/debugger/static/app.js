// eventrouter debugger: plain JavaScript, no dependencies, no build step.
//
// Every request for data carries the admin token as a Bearer header. The
// live stream is Server-Sent Events read with fetch() and a small parser,
// because EventSource cannot send headers. The server samples the stream;
// the page caps its list at MAX_ROWS and batches DOM work into animation
// frames, so it stays responsive however fast events arrive. Counts come
// from the server's once-a-second stats and are exact.
(() => {
  'use strict';

  const TOKEN_KEY = 'eventrouter.adminToken';
  const MAX_ROWS = 500;
  const DETAIL_REFRESH_MS = 2000;
  const LOG_REFRESH_MS = 5000;
  const STALE_STREAM_MS = 40000; // the server pings every 15 s
  const $ = (id) => document.getElementById(id);

  let token = '';

  // ---------- small helpers ----------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return e;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const nf = new Intl.NumberFormat('en-US');
  function num(n) {
    if (n === undefined || n === null || n === '') return '–';
    if (typeof n !== 'number') return String(n);
    if (!Number.isInteger(n)) return n < 10 ? n.toFixed(1) : nf.format(Math.round(n));
    return nf.format(n);
  }

  function bytes(n) {
    if (typeof n !== 'number') return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function clock(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const p = (x, w) => String(x).padStart(w || 2, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function when(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toLocaleString();
  }

  function badge(status) {
    return el('span', { class: 'badge ' + String(status || '').replace(/[^a-z_]/gi, ''), text: status || 'unknown' });
  }

  // violation reads a tracking-plan violation as every admin route sends
  // it: Segment's {violationType, violationField, violationDescription}
  // (router.Violation, the shape of context.protocols).
  function violation(x) {
    x = x || {};
    return {
      type: x.violationType || 'violation',
      field: x.violationField || '',
      description: x.violationDescription || '',
    };
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  function setResult(node, text, bad) {
    node.hidden = false;
    node.textContent = text;
    node.classList.toggle('bad', !!bad);
  }

  // ---------- the admin API ----------

  class Unauthorized extends Error {}
  class HTTPError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Authorization: 'Bearer ' + token }, opts.headers || {});
    let body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const resp = await fetch(path, {
      method: opts.method || 'GET', headers, body, signal: opts.signal,
      cache: 'no-store', credentials: 'omit',
    });
    if (resp.status === 401) {
      signOut('The server refused the token (401). Enter it again.');
      throw new Unauthorized('unauthorized');
    }
    if (!resp.ok) {
      let code = 'http_' + resp.status;
      let message = resp.statusText || 'request failed';
      try {
        const e = await resp.json();
        if (e && e.error) { code = e.error.code || code; message = e.error.message || message; }
      } catch (_) { /* not JSON */ }
      throw new HTTPError(resp.status, code, `${message} (${resp.status})`);
    }
    return resp;
  }

  async function getJSON(path, signal) {
    const resp = await api(path, { signal });
    return resp.json();
  }

  // readLines calls onLine for every complete line of a streamed body.
  async function readLines(resp, onLine) {
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        let line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        onLine(line);
      }
    }
    buf += dec.decode();
    if (buf) onLine(buf);
  }

  // operation POSTs body to path and reads the NDJSON answer: progress
  // lines go to onProgress; it resolves with the result object or throws
  // the error line.
  async function operation(path, body, onProgress) {
    const resp = await api(path, { method: 'POST', json: body, headers: { Accept: 'application/x-ndjson' } });
    let result = null;
    let failure = null;
    await readLines(resp, (line) => {
      if (!line.trim()) return;
      let obj;
      try { obj = JSON.parse(line); } catch (_) { failure = new Error('unreadable answer: ' + line.slice(0, 200)); return; }
      if (obj.progress && onProgress) onProgress(obj.progress);
      if (obj.result) result = obj.result;
      if (obj.error) failure = new HTTPError(resp.status, obj.error.code, obj.error.message || 'operation failed');
    });
    if (failure) throw failure;
    if (!result) throw new Error('the server ended the answer without a result');
    return result;
  }

  function progressText(verb, p) {
    if (!p) return verb + '…';
    const total = p.total ? ' of ' + num(p.total) : '';
    return `${verb}… ${num(p.done || 0)}${total}` + (p.matched !== undefined ? `, ${num(p.matched)} matched` : '');
  }

  // ---------- sign-in ----------

  async function checkToken(tok) {
    const resp = await fetch('/admin/destinations', {
      headers: { Authorization: 'Bearer ' + tok }, cache: 'no-store', credentials: 'omit',
    });
    if (resp.status === 401) return { ok: false, message: 'That token was refused.' };
    let body = null;
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    if (resp.status === 404 && body && body.error && body.error.code === 'admin_disabled') {
      return { ok: false, message: body.error.message };
    }
    return { ok: true, destinations: resp.ok && body ? body.destinations : null };
  }

  async function signIn(tok, quiet) {
    const err = $('token-error');
    err.hidden = true;
    let res;
    try {
      res = await checkToken(tok);
    } catch (e) {
      if (!quiet) setResult(err, 'Could not reach the server: ' + e.message, true);
      showLogin();
      return;
    }
    if (!res.ok) {
      sessionStorage.removeItem(TOKEN_KEY);
      $('token-input').value = '';
      showLogin();
      setResult(err, res.message, true);
      return;
    }
    token = tok;
    sessionStorage.setItem(TOKEN_KEY, tok);
    $('token-input').value = '';
    showApp();
    if (res.destinations) renderDestinations(res.destinations);
  }

  function showLogin() {
    $('app').hidden = true;
    $('topstats').hidden = true;
    $('login').hidden = false;
    $('token-input').focus();
  }

  function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    $('topstats').hidden = false;
    selectTab('stream');
    startStream();
  }

  function signOut(message) {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    stopStream();
    closeDetail();
    stopLogTimer();
    // Drop everything read with the token from the page.
    clear($('stream-list'));
    rowsById.clear();
    clear($('dest-list'));
    clear($('dlq-list'));
    clear($('quarantine-list'));
    clear($('log-panel'));
    clear($('log-destinations'));
    destRows.clear();
    queue = [];
    pending = [];
    updateStreamMeta();
    showLogin();
    if (message) setResult($('token-error'), message, true);
  }

  // ---------- live stream ----------

  let streamGen = 0;
  let streamAbort = null;
  let streamReader = null;
  let lastStreamData = 0;
  let queue = [];      // messages waiting for the next frame
  let pending = [];    // messages that arrived while paused
  let pendingCount = 0;
  let paused = false;
  let latestStats = null;
  let flushScheduled = false;
  let filtersActive = false;
  const rowsById = new Map(); // id -> row of the stream list

  function setConn(state, text) {
    const c = $('conn-status');
    c.dataset.state = state;
    c.textContent = text;
  }

  function filterQuery() {
    const q = new URLSearchParams();
    const add = (k, v) => { v = v.trim(); if (v) q.set(k, v); };
    add('source', $('filter-source').value);
    add('type', $('filter-type').value);
    add('event', $('filter-event').value);
    add('user_id', $('filter-user').value);
    if ($('filter-violations').checked) q.set('violations', '1');
    filtersActive = [...q.keys()].length > 0;
    const s = q.toString();
    return s ? '?' + s : '';
  }

  function stopStream() {
    streamGen++;
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
    streamReader = null;
  }

  async function startStream() {
    stopStream();
    const gen = streamGen;
    const qs = filterQuery();
    let backoff = 500;
    while (gen === streamGen && token) {
      setConn('connecting', 'connecting…');
      const ctl = new AbortController();
      streamAbort = ctl;
      try {
        const resp = await api('/admin/stream' + qs, { signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
        if (gen !== streamGen) return;
        // The stream is subscribed: fill the list with what came just
        // before, so the page is not blank after a reload.
        if (!paused) await prefill(qs, gen);
        if (gen !== streamGen) return;
        setConn(paused ? 'paused' : 'live', paused ? 'paused' : 'live');
        backoff = 500;
        lastStreamData = Date.now();
        const parse = sseParser(onStreamEvent);
        const reader = resp.body.getReader();
        streamReader = reader;
        const dec = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done || gen !== streamGen) break;
          lastStreamData = Date.now();
          parse(dec.decode(value, { stream: true }));
        }
        if (gen !== streamGen) return;
        setConn('error', 'stream ended — reconnecting');
      } catch (e) {
        if (e instanceof Unauthorized || gen !== streamGen) return;
        setConn('error', 'disconnected: ' + (e.message || e) + ' — retrying');
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  // prefill adds the server's most recent messages (newest first) below
  // the rows already shown, skipping those the list has.
  async function prefill(qs, gen) {
    let r;
    try {
      r = await getJSON('/admin/messages' + (qs ? qs + '&' : '?') + 'limit=100');
    } catch (_) {
      return; // an older server without the list: the stream alone will do
    }
    if (gen !== streamGen || paused) return;
    const list = $('stream-list');
    const frag = document.createDocumentFragment();
    let room = MAX_ROWS - list.childElementCount;
    for (const m of r.messages || []) {
      if (room <= 0) break;
      if (rowsById.has(m.id)) continue;
      frag.appendChild(streamRow(m));
      room--;
    }
    list.appendChild(frag);
    updateStreamMeta();
  }

  // A connection that has sent nothing, not even a ping, for too long is
  // dropped and opened again.
  setInterval(() => {
    if (streamReader && Date.now() - lastStreamData > STALE_STREAM_MS) {
      const r = streamReader;
      streamReader = null;
      r.cancel().catch(() => {});
    }
  }, 5000);

  // sseParser returns a function that takes text chunks of an event stream
  // and calls onEvent(name, data) for each complete event.
  function sseParser(onEvent) {
    let buf = '';
    let name = '';
    let data = [];
    return (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        let line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (data.length) onEvent(name || 'message', data.join('\n'));
          name = '';
          data = [];
          continue;
        }
        if (line[0] === ':') continue; // comment: the server's keep-alive ping
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value[0] === ' ') value = value.slice(1);
        if (field === 'event') name = value;
        else if (field === 'data') data.push(value);
      }
    };
  }

  function onStreamEvent(name, data) {
    let obj;
    try { obj = JSON.parse(data); } catch (_) { return; }
    if (name === 'message') {
      if (paused) {
        pendingCount++;
        pending.push(obj);
        if (pending.length > MAX_ROWS) pending.splice(0, pending.length - MAX_ROWS);
      } else {
        queue.push(obj);
        if (queue.length > 2 * MAX_ROWS) queue.splice(0, queue.length - MAX_ROWS);
      }
    } else if (name === 'stats') {
      latestStats = obj;
    } else {
      return;
    }
    scheduleFlush();
  }

  function scheduleFlush() {
    if (flushScheduled) return;
    flushScheduled = true;
    // Hidden tabs get no animation frames; a timer keeps the list bounded.
    if (document.hidden) setTimeout(flush, 1000);
    else requestAnimationFrame(flush);
  }

  function flush() {
    flushScheduled = false;
    if (latestStats) {
      renderStats(latestStats);
      latestStats = null;
    }
    if (queue.length) {
      const items = queue.length > MAX_ROWS ? queue.slice(-MAX_ROWS) : queue;
      queue = [];
      const list = $('stream-list');
      const frag = document.createDocumentFragment();
      for (let i = items.length - 1; i >= 0; i--) {
        if (!rowsById.has(items[i].id)) frag.appendChild(streamRow(items[i]));
      }
      list.insertBefore(frag, list.firstChild);
      while (list.childElementCount > MAX_ROWS) {
        const last = list.lastElementChild;
        rowsById.delete(last.dataset.id);
        list.removeChild(last);
      }
    }
    updateStreamMeta();
  }

  function streamRow(m) {
    const user = m.user_id
      ? el('span', { text: m.user_id })
      : (m.anonymous_id ? el('span', { class: 'muted', title: 'anonymousId', text: m.anonymous_id }) : '');
    const status = el('td', null, badge(m.status));
    if (m.violations) status.appendChild(el('span', { class: 'badge failed', text: `${m.violations} violation${m.violations === 1 ? '' : 's'}` }));
    const tr = el('tr', {
      tabindex: 0, 'aria-selected': m.id === detailId ? 'true' : 'false',
      'data-testid': 'stream-row',
      dataset: { id: m.id || '', messageId: m.message_id || '', source: m.source || '', status: m.status || '' },
    },
    el('td', { class: 'mono', title: m.received_at || '', text: clock(m.received_at) }),
    el('td', { text: m.source || '' }),
    el('td', { text: m.type || '' }),
    el('td', { text: m.event || '' }),
    el('td', null, user),
    status);
    rowsById.set(m.id, tr);
    return tr;
  }

  function updateStreamMeta() {
    const n = $('stream-list').childElementCount;
    $('stream-count').textContent = n ? `— ${num(n)} shown` + (n >= MAX_ROWS ? ` (the last ${MAX_ROWS})` : '') : '';
    const empty = $('stream-empty');
    empty.hidden = n > 0;
    if (!n) {
      empty.firstElementChild.textContent = '';
      if (filtersActive) {
        empty.firstElementChild.append(el('strong', { text: 'No messages match these filters yet' }), ' — they appear here as they arrive.');
        $('curl-example').hidden = true;
      } else {
        empty.firstElementChild.append(el('strong', { text: 'No events yet' }), ' — send one with curl:');
        $('curl-example').hidden = false;
      }
    }
    const p = $('pause');
    p.textContent = paused ? (pendingCount ? `Resume (${num(pendingCount)} new)` : 'Resume') : 'Pause';
  }

  function renderStats(s) {
    $('stat-received-per-s').textContent = num(s.received_per_s);
    const total = $('stat-received-total');
    total.textContent = num(s.received_total);
    if (s.accepted_total !== undefined) {
      total.title = `accepted ${num(s.accepted_total)}, rejected ${num(s.rejected_total)}, quarantined ${num(s.quarantined_total)}`;
    }
    $('stat-sampled-out').textContent = num(s.sampled_out_total);
    if (Array.isArray(s.destinations)) renderDestinations(s.destinations);
  }

  function togglePause() {
    paused = !paused;
    const p = $('pause');
    p.setAttribute('aria-pressed', paused ? 'true' : 'false');
    if (!paused) {
      queue = queue.concat(pending);
      pending = [];
      pendingCount = 0;
    }
    if ($('conn-status').dataset.state === 'live' || $('conn-status').dataset.state === 'paused') {
      setConn(paused ? 'paused' : 'live', paused ? 'paused' : 'live');
    }
    scheduleFlush();
  }

  // ---------- destinations ----------

  const destRows = new Map();
  let destNames = '';

  function renderDestinations(list) {
    const tbody = $('dest-list');
    const seen = new Set();
    list = list.slice().sort((a, b) => String(a.name).localeCompare(String(b.name)));
    for (const d of list) {
      seen.add(d.name);
      let row = destRows.get(d.name);
      if (!row) {
        const cells = {};
        const tr = el('tr', { 'data-testid': 'dest-row', dataset: { destination: d.name } });
        for (const k of ['name', 'type', 'rate', 'total', 'state', 'retrying', 'lag', 'dead', 'error']) {
          cells[k] = el('td', { class: ['rate', 'total', 'retrying', 'lag', 'dead'].includes(k) ? 'num' : (k === 'error' ? 'err' : '') });
          cells[k].dataset.field = k;
          tr.appendChild(cells[k]);
        }
        row = { tr, cells };
        destRows.set(d.name, row);
      }
      tbody.appendChild(row.tr); // keeps sorted order
      const c = row.cells;
      c.name.textContent = d.name;
      c.type.textContent = d.type || '';
      c.rate.textContent = num(d.delivered_per_s);
      c.total.textContent = num(d.delivered_total);
      const state = d.failing ? 'failing' : (d.retrying > 0 ? 'retrying' : 'ok');
      row.tr.dataset.state = state;
      clear(c.state);
      c.state.appendChild(badge(state));
      c.retrying.textContent = num(d.retrying);
      c.lag.textContent = num(d.lag);
      c.dead.textContent = num(d.dead_letters);
      // The last error stays shown after recovery, greyed and dated.
      c.error.textContent = d.last_error ? (d.failing ? '' : `${clock(d.last_error_at)} `) + d.last_error : '';
      c.error.className = d.failing ? 'err' : 'err old';
      c.error.title = d.last_error_at ? 'at ' + when(d.last_error_at) : '';
    }
    for (const [name, row] of destRows) {
      if (!seen.has(name)) { row.tr.remove(); destRows.delete(name); }
    }
    const empty = $('dest-empty');
    empty.hidden = list.length > 0;
    empty.textContent = list.length ? '' : 'No destinations are configured: add one under destinations: in the config.';
    const names = list.map((d) => d.name).join('\n');
    if (names !== destNames) {
      destNames = names;
      const sel = $('dlq-destination');
      const cur = sel.value;
      clear(sel);
      for (const d of list) sel.appendChild(el('option', { value: d.name, text: d.name }));
      if (cur && list.some((d) => d.name === cur)) sel.value = cur;
    }
  }

  // ---------- message detail ----------

  let detailId = null;
  let detailTimer = null;
  let detailSnapshot = '';
  let detailData = null;

  function selectRow(id) {
    for (const tr of $('stream-list').querySelectorAll('tr[aria-selected="true"]')) tr.setAttribute('aria-selected', 'false');
    for (const tr of $('stream-list').children) if (tr.dataset.id === id) tr.setAttribute('aria-selected', 'true');
  }

  function openDetail(id) {
    closeDetail();
    detailId = id;
    selectRow(id);
    $('detail-empty').hidden = true;
    $('detail-error').hidden = true;
    $('detail-action').hidden = true;
    $('detail-body').hidden = true;
    $('detail-title').textContent = 'Message ' + id;
    loadDetail(id);
    detailTimer = setInterval(() => { if (!document.hidden) loadDetail(id); }, DETAIL_REFRESH_MS);
  }

  function closeDetail() {
    if (detailTimer) clearInterval(detailTimer);
    detailTimer = null;
    detailId = null;
    detailSnapshot = '';
    detailData = null;
    $('detail-body').hidden = true;
    $('detail-empty').hidden = false;
    $('detail-title').textContent = 'Message';
  }

  function messagePath(id) {
    const slash = id.indexOf('/');
    const source = slash < 0 ? '' : id.slice(0, slash);
    const messageId = slash < 0 ? id : id.slice(slash + 1);
    return '/admin/messages/' + encodeURIComponent(source) + '/' + encodeURIComponent(messageId);
  }

  async function loadDetail(id) {
    let d;
    try {
      const resp = await api(messagePath(id));
      d = await resp.json();
    } catch (e) {
      if (id !== detailId || e instanceof Unauthorized) return;
      const err = $('detail-error');
      if (e instanceof HTTPError && e.status === 404) {
        if (detailTimer) clearInterval(detailTimer);
        detailTimer = null;
        setResult(err, 'This message is not in the debugger\'s recent window: it keeps only the most recent messages in memory, and above 1,000 accepted messages a second a sample of them.', true);
      } else {
        setResult(err, 'Could not load the message: ' + e.message, true);
      }
      return;
    }
    if (id !== detailId) return;
    $('detail-error').hidden = true;
    const snap = JSON.stringify(d);
    if (snap === detailSnapshot) return;
    detailSnapshot = snap;
    detailData = d;
    renderDetail(d);
  }

  function renderDetail(d) {
    const s = d.summary || {};
    const dl = $('detail-summary');
    clear(dl);
    const row = (k, v, mono) => {
      if (v === undefined || v === null || v === '') return;
      dl.append(el('dt', { text: k }), el('dd', { class: mono ? 'mono' : '' }, v));
    };
    row('Event', s.event);
    row('Type', s.type);
    row('Source', s.source);
    row('Message ID', s.message_id, true);
    row('User ID', s.user_id, true);
    row('Anonymous ID', s.anonymous_id, true);
    row('Received', when(s.received_at));
    row('Status', badge(s.status));
    if (d.reason) row('Rejected because', d.reason + (d.detail ? ': ' + d.detail : ''));

    const v = $('detail-violations');
    clear(v);
    const violations = d.violations || [];
    if (!violations.length) {
      v.appendChild(el('p', { class: 'muted', text: 'None.' }));
    } else {
      for (const raw of violations) {
        const x = violation(raw);
        v.appendChild(el('p', { class: 'violation', 'data-testid': 'violation' },
          el('span', { class: 'badge failed', text: x.type }), ' ',
          x.field ? el('code', { text: x.field }) : '', x.field ? ' ' : '', x.description || ''));
      }
    }

    const box = $('detail-destinations');
    clear(box);
    const dests = d.destinations || {};
    const names = Object.keys(dests).sort();
    if (!names.length) {
      box.appendChild(el('p', { class: 'muted', text: 'No destination has handled it yet (or no destination is routed this message).' }));
    }
    for (const name of names) {
      const attempts = dests[name] || [];
      const last = attempts.length ? attempts[attempts.length - 1] : null;
      const wrap = el('div', { class: 'dest-attempts', 'data-testid': 'attempts', dataset: { destination: name, status: last ? last.status : '' } });
      const h = el('h4', null, el('span', { text: name }), last ? badge(last.status) : '');
      if (last && last.status === 'dead_lettered') {
        h.appendChild(el('button', {
          type: 'button', class: 'small', 'data-testid': 'detail-resend',
          dataset: { destination: name }, 'aria-label': 'Resend to ' + name, text: 'Resend',
        }));
      }
      wrap.appendChild(h);
      const tb = el('tbody');
      for (const a of attempts) {
        tb.appendChild(el('tr', { 'data-testid': 'attempt', dataset: { status: a.status || '' } },
          el('td', { class: 'num', text: num(a.attempt) }),
          el('td', null, badge(a.status)),
          el('td', { class: 'err', text: a.error || '' }),
          el('td', { class: 'num', text: typeof a.latency_ms === 'number' ? a.latency_ms.toFixed(1) + ' ms' : '' }),
          el('td', { class: 'mono', title: a.at || '', text: clock(a.at) })));
      }
      wrap.appendChild(el('table', null,
        el('thead', null, el('tr', null,
          el('th', { scope: 'col', class: 'num', text: '#' }), el('th', { scope: 'col', text: 'Status' }),
          el('th', { scope: 'col', text: 'Error' }), el('th', { scope: 'col', class: 'num', text: 'Latency' }),
          el('th', { scope: 'col', text: 'At' }))),
        tb));
      box.appendChild(wrap);
    }

    $('detail-raw').textContent = d.raw || '(not kept)';
    $('detail-message').textContent = d.message ? JSON.stringify(d.message, null, 2) : '';
    $('detail-body').hidden = false;
  }

  // resendFromDetail finds the message in the destination's dead letters
  // and redrives exactly that entry.
  async function resendFromDetail(destination, button) {
    const d = detailData;
    if (!d) return;
    const s = d.summary || {};
    const out = $('detail-action');
    button.disabled = true;
    setResult(out, `Looking for ${s.message_id} in the dead letters of ${destination}…`);
    try {
      let before = null;
      let seq = null;
      for (let page = 0; page < 50 && seq === null; page++) {
        const q = new URLSearchParams({ destination, limit: '100' });
        if (before !== null) q.set('before', String(before));
        const r = await getJSON('/admin/dlq?' + q);
        for (const m of r.messages || []) {
          if (m.message_id === s.message_id && (!m.source || !s.source || m.source === s.source)) { seq = m.seq; break; }
        }
        if (r.next_before === null || r.next_before === undefined) break;
        before = r.next_before;
      }
      if (seq === null) {
        setResult(out, `${s.message_id} is not in the dead letters of ${destination} (already resent?).`, true);
        return;
      }
      const res = await operation('/admin/dlq/redrive', { destination, ids: [seq] },
        (p) => setResult(out, progressText('Resending', p)));
      setResult(out, `Resent ${num(res.redriven)} message${res.redriven === 1 ? '' : 's'} to ${destination}.`);
      if (detailId) loadDetail(detailId);
    } catch (e) {
      if (!(e instanceof Unauthorized)) setResult(out, 'Resend failed: ' + e.message, true);
    } finally {
      button.disabled = false;
    }
  }

  // ---------- dead letters ----------

  let dlqNext = null;

  async function loadDLQ(more) {
    const dest = $('dlq-destination').value;
    const tbody = $('dlq-list');
    const empty = $('dlq-empty');
    if (!more) { clear(tbody); dlqNext = null; updateSelected('dlq'); }
    if (!dest) {
      empty.hidden = false;
      empty.textContent = 'No destinations are configured, so there are no dead letters.';
      $('dlq-more').hidden = true;
      return;
    }
    const q = new URLSearchParams({ destination: dest, limit: '100' });
    const ec = $('dlq-error').value.trim();
    if (ec) q.set('error_contains', ec);
    if (more && dlqNext !== null) q.set('before', String(dlqNext));
    let r;
    try {
      r = await getJSON('/admin/dlq?' + q);
    } catch (e) {
      if (e instanceof Unauthorized) return;
      empty.hidden = false;
      empty.textContent = 'Could not load the dead letters: ' + e.message;
      return;
    }
    const msgs = r.messages || [];
    for (const m of msgs) {
      tbody.appendChild(el('tr', { 'data-testid': 'dlq-row', dataset: { seq: m.seq, messageId: m.message_id || '' } },
        el('td', null, el('input', { type: 'checkbox', class: 'pick', 'aria-label': 'Select dead letter ' + m.seq, dataset: { seq: m.seq } })),
        el('td', { class: 'num', text: String(m.seq) }),
        el('td', { class: 'mono', text: m.message_id || '' }),
        el('td', { text: m.event || m.type || '' }),
        el('td', { class: 'err', text: m.error || '' }),
        el('td', { class: 'num', text: num(m.attempts) }),
        el('td', { title: m.first_failure ? 'first failure ' + when(m.first_failure) : '', text: when(m.dead_lettered_at) }),
        el('td', null, el('button', {
          type: 'button', class: 'small', 'data-testid': 'dlq-resend', dataset: { seq: m.seq },
          'aria-label': 'Resend dead letter ' + m.seq, text: 'Resend',
        }))));
    }
    $('dlq-total').textContent = typeof r.total === 'number' ? `— ${num(r.total)} in ${dest}` : '';
    dlqNext = r.next_before === undefined ? null : r.next_before;
    $('dlq-more').hidden = dlqNext === null;
    const none = tbody.childElementCount === 0;
    empty.hidden = !none;
    if (none) empty.textContent = `No dead letters for ${dest}${ec ? ' matching that error' : ''}. A message lands here when a destination fails it max_attempts times or rejects it permanently.`;
  }

  async function redrive(seqs) {
    const dest = $('dlq-destination').value;
    const out = $('dlq-result');
    setBusy('dlq', true);
    setResult(out, progressText('Resending'));
    try {
      const res = await operation('/admin/dlq/redrive', { destination: dest, ids: seqs },
        (p) => setResult(out, progressText('Resending', p)));
      setResult(out, `Resent ${num(res.redriven)} message${res.redriven === 1 ? '' : 's'} to ${dest}.`);
      out.dataset.state = 'done';
      await loadDLQ(false);
    } catch (e) {
      if (!(e instanceof Unauthorized)) { setResult(out, 'Resend failed: ' + e.message, true); out.dataset.state = 'error'; }
    } finally {
      setBusy('dlq', false);
    }
  }

  // ---------- quarantine ----------

  let quarantineNext = null;

  async function loadQuarantine(more) {
    const tbody = $('quarantine-list');
    const empty = $('quarantine-empty');
    if (!more) { clear(tbody); quarantineNext = null; updateSelected('quarantine'); }
    const q = new URLSearchParams({ limit: '100' });
    const src = $('quarantine-source').value.trim();
    const ev = $('quarantine-event').value.trim();
    if (src) q.set('source', src);
    if (ev) q.set('event', ev);
    if (more && quarantineNext !== null) q.set('before', String(quarantineNext));
    let r;
    try {
      r = await getJSON('/admin/quarantine?' + q);
    } catch (e) {
      if (e instanceof Unauthorized) return;
      empty.hidden = false;
      empty.textContent = 'Could not load the quarantine: ' + e.message;
      return;
    }
    for (const m of r.messages || []) {
      const vs = (m.violations || []).map(violation);
      const summary = vs.length
        ? (vs[0].field ? vs[0].field + ': ' : '') + (vs[0].description || vs[0].type || '') + (vs.length > 1 ? ` (+${vs.length - 1} more)` : '')
        : '';
      tbody.appendChild(el('tr', { 'data-testid': 'quarantine-row', dataset: { seq: m.seq, messageId: m.message_id || '' } },
        el('td', null, el('input', { type: 'checkbox', class: 'pick', 'aria-label': 'Select quarantined message ' + m.seq, dataset: { seq: m.seq } })),
        el('td', { class: 'num', text: String(m.seq) }),
        el('td', { text: m.source || '' }),
        el('td', { text: m.event || m.type || '' }),
        el('td', { class: 'mono', text: m.user_id || m.anonymous_id || '' }),
        el('td', { class: 'err', title: vs.map((x) => (x.field ? x.field + ': ' : '') + (x.description || x.type)).join('\n'), text: summary }),
        el('td', { text: when(m.quarantined_at) }),
        el('td', null, el('button', {
          type: 'button', class: 'small', 'data-testid': 'quarantine-resend', dataset: { seq: m.seq },
          'aria-label': 'Resend quarantined message ' + m.seq, text: 'Resend',
        }))));
    }
    $('quarantine-total').textContent = typeof r.total === 'number' ? `— ${num(r.total)}` : '';
    quarantineNext = r.next_before === undefined ? null : r.next_before;
    $('quarantine-more').hidden = quarantineNext === null;
    const none = tbody.childElementCount === 0;
    empty.hidden = !none;
    if (none) empty.textContent = 'Nothing is quarantined. Messages that break the tracking plan land here when enforcement is set to quarantine.';
  }

  async function replayQuarantine(seqs) {
    const out = $('quarantine-result');
    setBusy('quarantine', true);
    setResult(out, progressText('Resending'));
    try {
      const res = await operation('/admin/quarantine/replay', { ids: seqs },
        (p) => setResult(out, progressText('Resending', p)));
      setResult(out, `Resent ${num(res.replayed)}; still invalid ${num(res.still_invalid)}; skipped ${num(res.skipped)}.`);
      out.dataset.state = 'done';
      await loadQuarantine(false);
    } catch (e) {
      if (!(e instanceof Unauthorized)) { setResult(out, 'Resend failed: ' + e.message, true); out.dataset.state = 'error'; }
    } finally {
      setBusy('quarantine', false);
    }
  }

  // ---------- selection helpers for the two lists ----------

  function pickedSeqs(kind) {
    return [...$(kind + '-list').querySelectorAll('input.pick:checked')].map((c) => Number(c.dataset.seq));
  }

  function updateSelected(kind) {
    const n = pickedSeqs(kind).length;
    const b = $(kind + '-resend-selected');
    b.disabled = n === 0;
    b.textContent = n ? `Resend selected (${n})` : 'Resend selected';
  }

  function setBusy(kind, busy) {
    for (const b of document.querySelectorAll(`#view-${kind} button`)) {
      if (busy) { b.dataset.wasDisabled = b.disabled ? '1' : ''; b.disabled = true; } else { b.disabled = b.dataset.wasDisabled === '1'; }
    }
    if (!busy) updateSelected(kind);
  }

  // ---------- log ----------

  let logTimer = null;

  function stopLogTimer() {
    if (logTimer) clearInterval(logTimer);
    logTimer = null;
  }

  async function loadLog() {
    const panel = $('log-panel');
    let r;
    try {
      r = await getJSON('/admin/log');
    } catch (e) {
      if (e instanceof Unauthorized) return;
      clear(panel);
      panel.appendChild(el('p', { class: 'error', text: 'Could not load the log\'s state: ' + e.message }));
      return;
    }
    clear(panel);
    const dl = el('dl', { class: 'kv', 'data-testid': 'log-summary' });
    const row = (k, v, testid) => dl.append(el('dt', { text: k }), el('dd', { 'data-testid': testid }, v));
    row('Retention', r.retention === 'unlimited' ? 'unlimited (kept until the size cap forces them out)' : (r.retention || '–'), 'log-retention');
    if (r.max_bytes > 0) {
      const pct = Math.min(100, (100 * (r.bytes || 0)) / r.max_bytes);
      const bar = el('div', { class: 'bar', role: 'img', 'aria-label': pct.toFixed(0) + '% of the size cap used' }, el('span'));
      bar.firstChild.style.width = pct.toFixed(1) + '%';
      row('Size', el('span', null, `${bytes(r.bytes)} of ${bytes(r.max_bytes)} (${pct.toFixed(1)}%)`, bar), 'log-size');
    } else {
      row('Size', `${bytes(r.bytes)} (no size cap)`, 'log-size');
    }
    row('Records', num(r.messages) + ' (a record holds one request\'s messages for one partition)', 'log-messages');
    if (r.dedupe) {
      row('Dedupe index', `${bytes(r.dedupe.disk_bytes)} on disk, ${bytes(r.dedupe.memory_bytes)} of ${bytes(r.dedupe.memory_limit_bytes)} memory, window ${r.dedupe.window}`, 'log-dedupe');
    }
    row('First sequence', num(r.first_seq), 'log-first-seq');
    row('Oldest message', when(r.first_time), 'log-first-time');
    panel.appendChild(dl);
    const tbody = $('log-destinations');
    clear(tbody);
    for (const d of r.destinations || []) {
      tbody.appendChild(el('tr', { 'data-testid': 'log-destination', dataset: { destination: d.name } },
        el('td', { text: d.name }),
        el('td', { class: 'num', text: num(d.lag) }),
        el('td', { text: d.oldest_pending_at ? when(d.oldest_pending_at) : 'nothing pending' }),
        el('td', { text: d.retention_left || (d.lag ? '–' : 'nothing at risk') })));
    }
  }

  // ---------- tabs ----------

  const TABS = ['stream', 'dlq', 'quarantine', 'log'];

  function selectTab(name) {
    for (const t of TABS) {
      const tab = $('tab-' + t);
      const on = t === name;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $('view-' + t).hidden = !on;
    }
    stopLogTimer();
    if (name === 'dlq') loadDLQ(false);
    if (name === 'quarantine') loadQuarantine(false);
    if (name === 'log') {
      loadLog();
      logTimer = setInterval(() => { if (!document.hidden) loadLog(); }, LOG_REFRESH_MS);
    }
  }

  // ---------- wiring ----------

  function init() {
    $('curl-example').textContent =
      `curl -u YOUR_WRITE_KEY: ${location.origin}/v1/track \\\n` +
      `  -H 'Content-Type: application/json' \\\n` +
      `  -d '{"type":"track","userId":"user-1","event":"Hello debugger"}'`;
    updateStreamMeta();

    $('token-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const tok = $('token-input').value.trim();
      if (tok) signIn(tok, false);
    });
    $('logout').addEventListener('click', () => signOut(''));

    $('filters').addEventListener('submit', (e) => {
      e.preventDefault();
      clear($('stream-list'));
      rowsById.clear();
      queue = [];
      pending = [];
      pendingCount = 0;
      startStream();
      updateStreamMeta();
    });
    $('filter-clear').addEventListener('click', () => {
      $('filters').reset();
      $('filters').requestSubmit();
    });
    $('pause').addEventListener('click', togglePause);

    const list = $('stream-list');
    list.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-id]');
      if (tr) openDetail(tr.dataset.id);
    });
    list.addEventListener('keydown', (e) => {
      const tr = e.target.closest('tr[data-id]');
      if (!tr) return;
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openDetail(tr.dataset.id); }
      if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
      if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
    });
    $('detail-destinations').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-testid="detail-resend"]');
      if (b) resendFromDetail(b.dataset.destination, b);
    });

    const tablist = document.querySelector('[role=tablist]');
    tablist.addEventListener('click', (e) => {
      const t = e.target.closest('[role=tab]');
      if (t) selectTab(t.id.slice(4));
    });
    tablist.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
      const cur = TABS.findIndex((t) => $('tab-' + t).getAttribute('aria-selected') === 'true');
      const next = TABS[(cur + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
      selectTab(next);
      $('tab-' + next).focus();
    });

    for (const kind of ['dlq', 'quarantine']) {
      const load = kind === 'dlq' ? loadDLQ : loadQuarantine;
      const resend = kind === 'dlq' ? redrive : replayQuarantine;
      $(kind + '-filters').addEventListener('submit', (e) => { e.preventDefault(); load(false); });
      $(kind + '-more').addEventListener('click', () => load(true));
      $(kind + '-list').addEventListener('change', () => updateSelected(kind));
      $(kind + '-list').addEventListener('click', (e) => {
        const b = e.target.closest('button[data-seq]');
        if (b) resend([Number(b.dataset.seq)]);
      });
      $(kind + '-resend-selected').addEventListener('click', () => {
        const seqs = pickedSeqs(kind);
        if (seqs.length) resend(seqs);
      });
    }
    $('dlq-destination').addEventListener('change', () => loadDLQ(false));
    $('log-refresh').addEventListener('click', loadLog);

    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved, true);
    else showLogin();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
