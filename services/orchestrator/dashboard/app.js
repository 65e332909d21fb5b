// The dashboard of `evolve serve` (docs/dashboard.md). Plain JavaScript, no
// dependencies. Every text that comes from the API goes into the page as a
// text node (textContent / createTextNode), never as HTML.
'use strict';

(function () {
  const TOKEN_KEY = 'evolve.token';
  const POLL_MS = 2000;
  const POLL_MAX_MS = 30000;
  const RUNS_PAGE = 20;
  const JOBS_PAGE = 50;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const RUN_STATUSES = ['PENDING', 'RUNNING', 'PROMOTED', 'COMPLETED', 'STOPPED', 'CANCELLED', 'FAILED'];

  // ------------------------------------------------------------ DOM helpers

  // h('div', {class: 'x', onclick: f}, 'text', child, [more]) -> element.
  // Strings become text nodes; attributes are set with setAttribute.
  function build(ns, tag, attrs, children) {
    const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' && !ns) el.value = v;
      else if (k === 'checked' && !ns) el.checked = !!v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
  }
  const h = (tag, attrs, ...children) => build(null, tag, attrs, children);
  const s = (tag, attrs, ...children) => build(SVG_NS, tag, attrs, children);
  const $ = (sel, root) => (root || document).querySelector(sel);

  function fmt(v, digits) {
    if (v === undefined || v === null || v === '') return '–';
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return '–';
      if (Number.isInteger(v) && digits === undefined) return String(v);
      return v.toFixed(digits === undefined ? 2 : digits);
    }
    return String(v);
  }
  function pct(v) { return v === null || v === undefined ? '–' : fmt(v, 1) + ' %'; }
  function ago(iso) {
    if (!iso) return '–';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const sec = Math.round((Date.now() - t) / 1000);
    if (sec < 2) return 'just now';
    if (sec < 120) return sec + ' s ago';
    if (sec < 7200) return Math.round(sec / 60) + ' min ago';
    if (sec < 172800) return Math.round(sec / 3600) + ' h ago';
    return Math.round(sec / 86400) + ' days ago';
  }
  function when(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }
  function short(id) { return id && id.length > 22 ? id.slice(0, 22) + '…' : (id || '–'); }
  function regimeText(r) {
    if (!r || !r.column) return 'no filter';
    return r.column + ' ∈ {' + (r.allowed || []).join(', ') + '}';
  }
  function badge(status) {
    return h('span', { class: 'badge st-' + String(status || '').toLowerCase() }, status || '–');
  }
  function link(href, text, attrs) { return h('a', Object.assign({ href }, attrs || {}), text); }
  function section(title, attrs, ...children) {
    return h('section', Object.assign({ class: 'card' }, attrs || {}), h('h2', {}, title), children);
  }
  function kv(rows) {
    return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  }
  function table(headers, rows, attrs) {
    return h('div', { class: 'table-wrap' },
      h('table', attrs || {},
        h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'nothing here yet')))));
  }

  // ------------------------------------------------------------ API access

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || [];
    }
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

  async function api(path, options) {
    const opts = Object.assign({ method: 'GET' }, options || {});
    const headers = { Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (token()) headers.Authorization = 'Bearer ' + token();
    let res;
    try {
      res = await fetch(path, { method: opts.method, headers, body: opts.body, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, 'unreachable', 'the service did not answer (' + e.message + ')');
    }
    let body = null;
    const text = await res.text();
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!res.ok) {
      const err = body && body.error ? body.error : {};
      const e = new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText || 'HTTP ' + res.status, err.details);
      if (res.status === 401) askForToken(e.message);
      throw e;
    }
    return body;
  }

  function post(path, obj) { return api(path, { method: 'POST', body: obj === undefined ? '' : JSON.stringify(obj) }); }

  // ------------------------------------------------------------ token, banner, connection

  function askForToken(message) {
    showBanner('This service requires an API token' + (token() ? ' (the one given was refused)' : '') +
      ': enter it at the top right. ' + (message || ''), 'warn');
    const input = $('#token-input');
    input.classList.add('attention');
    input.focus();
  }
  function showBanner(text, kind) {
    const b = $('#banner');
    b.textContent = text;
    b.className = 'banner ' + (kind || 'info');
  }
  function hideBanner() { $('#banner').className = 'banner hidden'; }
  function setConn(ok, text) {
    const c = $('#conn');
    c.textContent = text;
    c.className = 'conn ' + (ok ? 'ok' : 'down');
  }

  // A loop that calls fn every 2 s, doubling the wait after each failure up
  // to 30 s, and back to 2 s after a success. stop() ends it.
  class Poller {
    constructor(fn, onError) {
      this.fn = fn;
      this.onError = onError;
      this.delay = POLL_MS;
      this.timer = null;
      this.stopped = false;
      this.tick();
    }
    async tick() {
      if (this.stopped) return;
      try {
        await this.fn();
        this.delay = POLL_MS;
      } catch (e) {
        if (this.stopped) return;
        this.delay = Math.min(this.delay * 2, POLL_MAX_MS);
        if (this.onError) this.onError(e, this.delay);
      }
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.delay);
    }
    now() { clearTimeout(this.timer); this.tick(); }
    stop() { this.stopped = true; clearTimeout(this.timer); }
  }

  // ------------------------------------------------------------ system status (always live)

  let statusPoller = null;
  let lastStats = null;
  let lastWorkers = null;

  async function refreshStatus() {
    const [stats, workers] = await Promise.all([api('/api/stats'), api('/workers')]);
    lastStats = stats;
    lastWorkers = workers;
    setConn(true, 'live · ' + new Date().toLocaleTimeString());
    const holder = $('#status-panel');
    if (holder) holder.replaceChildren(statusPanel(stats, workers));
  }

  function statusPanel(stats, workers) {
    const by = stats.runs_by_status || {};
    const tiles = [
      ['Runs', stats.total_runs, 'all'],
      ['Active runs', stats.active_runs, 'running'],
      ['Pending jobs', stats.pending_jobs, 'pending'],
      ['Running jobs', stats.running_jobs, 'running'],
      ['Promoted models', stats.promoted_models, 'promoted'],
      ['Live workers', stats.live_workers, stats.live_workers > 0 ? 'ok' : 'down'],
    ];
    const list = (workers && workers.workers) || [];
    return h('div', { class: 'status' },
      h('div', { class: 'tiles' }, tiles.map(([label, value, kind]) =>
        h('div', { class: 'tile t-' + kind }, h('span', { class: 'tile-value' }, fmt(value)), h('span', { class: 'tile-label' }, label)))),
      h('div', { class: 'by-status' }, h('span', { class: 'muted' }, 'Runs by status: '),
        RUN_STATUSES.map((st) => h('a', { href: '#/runs?status=' + st, class: 'chip' }, badge(st), ' ', fmt(by[st.toLowerCase()] || 0))),
        h('span', { class: 'muted' }, ' · jobs completed ' + fmt(stats.completed_jobs) + ', failed ' + fmt(stats.failed_jobs) + ', cancelled ' + fmt(stats.cancelled_jobs))),
      h('h3', {}, 'Workers'),
      table(['Worker', 'Host', 'Status', 'Last heartbeat', 'Current jobs', 'Completed', 'Failed'],
        list.map((w) => h('tr', {},
          h('td', { class: 'mono' }, w.id),
          h('td', {}, w.host || '–'),
          h('td', {}, h('span', { class: 'badge ' + (w.live ? 'st-running' : 'st-stopped') }, w.live ? 'live' : String(w.status || 'gone').toLowerCase())),
          h('td', { title: when(w.last_heartbeat) }, ago(w.last_heartbeat)),
          h('td', {}, fmt((w.current_jobs || []).length)),
          h('td', {}, fmt(w.jobs_completed)),
          h('td', {}, fmt(w.jobs_failed)))), { class: 'workers' }));
  }

  // ------------------------------------------------------------ router

  let viewPoller = null;
  const view = () => $('#view');

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const [path, query] = raw.split('?');
    const params = new URLSearchParams(query || '');
    return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params };
  }

  function route() {
    if (viewPoller) viewPoller.stop();
    viewPoller = null;
    const { parts, params } = parseHash();
    const name = parts[0] || 'overview';
    document.querySelectorAll('[data-nav]').forEach((a) =>
      a.classList.toggle('active', a.getAttribute('data-nav') === name && parts.length <= 1));
    view().replaceChildren();
    if (name === 'overview') return overview();
    if (name === 'start') return startView();
    if (name === 'runs' && parts[1]) return runView(parts[1]);
    if (name === 'runs') return runsView(params);
    if (name === 'promoted' && parts[1]) return modelView(parts[1]);
    if (name === 'promoted') return promotedView();
    if (name === 'jobs') return jobsView(params);
    view().append(section('Not found', {}, h('p', {}, 'No such page. '), link('#/', 'Back to the overview')));
  }

  // Runs fn now and every 2 s while the view is shown; errors go to `box`.
  function live(fn, box) {
    viewPoller = new Poller(async () => {
      await fn();
      if (box) box.replaceChildren();
    }, (e, delay) => {
      if (box) box.replaceChildren(errorNote(e, delay));
      if (e.status === 0) setConn(false, 'offline · retry in ' + Math.round(delay / 1000) + ' s');
    });
  }

  function errorNote(e, delay) {
    return h('p', { class: 'error-note' }, (e.status ? 'HTTP ' + e.status + ' ' + e.code + ': ' : '') + e.message +
      (delay ? ' (retrying in ' + Math.round(delay / 1000) + ' s)' : ''));
  }

  // ------------------------------------------------------------ overview

  function overview() {
    const statusCard = section('System status', { id: 'system-status' }, h('div', { id: 'status-panel' },
      lastStats ? statusPanel(lastStats, lastWorkers) : h('p', { class: 'muted' }, 'loading…')));
    const runsBox = h('div', {});
    const promBox = h('div', {});
    const err = h('div', {});
    view().append(statusCard,
      h('div', { class: 'grid2' },
        section('Latest runs', {}, runsBox, h('p', {}, link('#/runs', 'All runs →'), ' · ', link('#/start', 'Start an evolution →'))),
        section('Best promoted models', {}, promBox, h('p', {}, link('#/promoted', 'Hall of fame →')))),
      err);
    live(async () => {
      const [runs, promoted] = await Promise.all([api('/runs?limit=8'), api('/promoted?limit=5')]);
      runsBox.replaceChildren(runsTable(runs.runs, false));
      promBox.replaceChildren(promotedTable(promoted.promoted, 0));
    }, err);
  }

  // ------------------------------------------------------------ runs

  function progress(run) {
    const max = (run.config && run.config.max_generations) || 0;
    const cur = run.current_generation || 0;
    const frac = max ? Math.min(1, cur / max) : 0;
    return h('div', { class: 'progress', title: cur + ' of ' + max + ' generations' },
      h('span', { class: 'progress-text' }, cur + ' / ' + max),
      h('progress', { max: String(max || 1), value: String(max ? cur : 0), 'aria-label': 'generation ' + cur + ' of ' + max }),
      h('span', { class: 'sr-only' }, Math.round(frac * 100) + '%'));
  }

  function actionButtons(run, after) {
    const st = run.status;
    const act = async (action, btn) => {
      btn.disabled = true;
      try {
        const r = await post('/runs/' + encodeURIComponent(run.id) + '/' + action);
        showBanner('Run ' + run.id + ': ' + r.message + ' (now ' + r.status + ')', 'info');
      } catch (e) {
        if (e.status !== 401) showBanner('Run ' + run.id + ': ' + action + ' failed: ' + e.message, 'warn');
      }
      if (after) after();
    };
    const b = (action, label, cls) => {
      const btn = h('button', { type: 'button', class: 'small ' + (cls || ''), 'data-action': action, onclick: () => act(action, btn) }, label);
      return btn;
    };
    return h('span', { class: 'actions' },
      (st === 'PENDING' || st === 'RUNNING') ? b('stop', 'Stop') : null,
      (st === 'PENDING' || st === 'RUNNING' || st === 'STOPPED') ? b('cancel', 'Cancel', 'danger') : null,
      (st === 'STOPPED' || st === 'FAILED') ? b('resume', 'Resume', 'primary') : null);
  }

  function runsTable(runs, withActions, refresh) {
    return table(['Run', 'Symbol', 'Status', 'Generation', 'Best SQN', 'Created', withActions ? 'Actions' : null].filter(Boolean),
      (runs || []).map((r) => h('tr', { 'data-run-id': r.id, class: 'run-row' },
        h('td', { class: 'mono' }, link('#/runs/' + encodeURIComponent(r.id), short(r.id), { title: r.id })),
        h('td', { class: 'run-symbol' }, r.config ? r.config.symbol : '–'),
        h('td', { class: 'run-status' }, badge(r.status), r.stop_reason ? h('span', { class: 'muted small-text' }, ' ' + r.stop_reason) : null),
        h('td', {}, progress(r)),
        h('td', { class: 'num run-sqn' }, fmt(r.best_sqn, 2)),
        h('td', { title: when(r.created_at) }, ago(r.created_at)),
        withActions ? h('td', {}, actionButtons(r, refresh)) : null)), { class: 'runs' });
  }

  function runsView(params) {
    let offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
    let status = params.get('status') || '';
    const filter = h('select', { id: 'runs-status', 'aria-label': 'status filter',
      onchange: () => { status = filter.value; offset = 0; viewPoller.now(); } },
      h('option', { value: '' }, 'every status'), RUN_STATUSES.map((st) => h('option', { value: st }, st)));
    filter.value = status;
    const pageText = h('span', { class: 'muted' });
    const prev = h('button', { type: 'button', class: 'small', onclick: () => { offset = Math.max(0, offset - RUNS_PAGE); viewPoller.now(); } }, '← Newer');
    const next = h('button', { type: 'button', class: 'small', onclick: () => { offset += RUNS_PAGE; viewPoller.now(); } }, 'Older →');
    const box = h('div', {});
    const err = h('div', {});
    view().append(section('Evolution runs', { id: 'runs' },
      h('div', { class: 'toolbar' }, h('label', {}, 'Status ', filter), h('span', { class: 'spacer' }), prev, pageText, next),
      box, err));
    live(async () => {
      const q = '/runs?limit=' + RUNS_PAGE + '&offset=' + offset + (status ? '&status=' + encodeURIComponent(status) : '');
      const data = await api(q);
      box.replaceChildren(runsTable(data.runs, true, () => viewPoller.now()));
      const total = data.total === undefined ? offset + data.count : data.total;
      pageText.textContent = total ? (offset + 1) + '–' + (offset + data.count) + ' of ' + total : 'no runs';
      prev.disabled = offset === 0;
      next.disabled = offset + data.count >= total;
    }, err);
  }

  // ------------------------------------------------------------ charts (SVG)

  // A line chart: series [{points: [[x, y], ...], cls, label}], optional
  // band {from, to, label} on the y axis. Returns an <svg>.
  function lineChart(opts) {
    const W = 900, H = opts.height || 260, L = 64, R = 12, T = 14, B = 34;
    const pts = opts.series.flatMap((se) => se.points.filter((p) => Number.isFinite(p[1])));
    let xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    if (opts.band && ys.length) {
      // The band's lower edge always shows; a far upper edge (sqn_max 100)
      // would flatten the data, so it is clipped instead.
      const span = Math.max(...ys) - Math.min(...ys) + 1;
      ys = ys.concat([opts.band.from].filter(Number.isFinite));
      if (Number.isFinite(opts.band.to) && opts.band.to - Math.max(...ys) <= 2 * span) ys.push(opts.band.to);
    }
    if (!xs.length) xs = [0, 1];
    if (!ys.length) ys = [0, 1];
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    const pad = (y1 - y0) * 0.08;
    y0 -= pad; y1 += pad;
    const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
    const Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
    const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'chart ' + (opts.cls || ''), role: 'img', 'aria-label': opts.label || 'chart' });
    svg.append(s('title', {}, opts.label || 'chart'));
    if (opts.band) {
      const a = Y(Math.min(Math.max(opts.band.to, y0), y1)), b = Y(Math.max(Math.min(opts.band.from, y1), y0));
      svg.append(s('rect', { x: L, y: a, width: W - L - R, height: Math.max(0, b - a), class: 'band' }));
      svg.append(s('text', { x: W - R - 4, y: a + 12, class: 'band-label', 'text-anchor': 'end' }, opts.band.label));
    }
    for (let i = 0; i <= 4; i++) {
      const v = y0 + (y1 - y0) * i / 4;
      svg.append(s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }));
      svg.append(s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' }, (opts.yFmt || ((v2) => fmt(v2, 2)))(v)));
    }
    const xt = opts.xTicks || [x0, (x0 + x1) / 2, x1];
    xt.forEach((v, i) => {
      const anchor = xt.length > 2 && i === 0 ? 'start' : xt.length > 2 && i === xt.length - 1 ? 'end' : 'middle';
      svg.append(s('text', { x: X(v), y: H - 10, 'text-anchor': opts.xTicks ? 'middle' : anchor, class: 'tick' }, (opts.xFmt || ((v2) => fmt(v2, 0)))(v)));
    });
    svg.append(s('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }));
    svg.append(s('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis' }));
    for (const se of opts.series) {
      let d = '';
      let pen = false;
      for (const [x, y] of se.points) {
        if (!Number.isFinite(y)) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + X(x).toFixed(1) + ' ' + Y(y).toFixed(1) + ' ';
        pen = true;
      }
      svg.append(s('path', { d: d.trim() || 'M0 0', class: 'line ' + (se.cls || '') }));
      if (se.dots) {
        for (const [x, y] of se.points) {
          if (!Number.isFinite(y)) continue;
          svg.append(s('circle', { cx: X(x), cy: Y(y), r: 4, class: 'dot ' + (se.cls || '') }, s('title', {}, (se.label || '') + ' ' + fmt(x) + ': ' + fmt(y, 3))));
        }
      }
    }
    if (opts.series.some((se) => se.label)) {
      const legend = s('g', { class: 'legend' });
      let lx = L + 8;
      for (const se of opts.series) {
        if (!se.label) continue;
        legend.append(s('line', { x1: lx, x2: lx + 18, y1: T + 8, y2: T + 8, class: 'line ' + (se.cls || '') }));
        legend.append(s('text', { x: lx + 22, y: T + 12, class: 'tick' }, se.label));
        lx += 30 + se.label.length * 7;
      }
      svg.append(legend);
    }
    return svg;
  }

  // ------------------------------------------------------------ run page

  function featureList(list, cls) {
    const items = list || [];
    if (!items.length) return h('span', { class: 'muted' }, 'none');
    return h('details', { class: 'features ' + (cls || '') },
      h('summary', {}, items.length + ' feature' + (items.length === 1 ? '' : 's')),
      h('ul', { class: 'chips' }, items.map((f) => h('li', { class: 'chip' }, f))));
  }

  // A threshold as the simulator used it: a quantile of the research span's
  // |predictions| says what it came to.
  function thresholdText(p, r) {
    if (p.threshold_quantile === null || p.threshold_quantile === undefined) return fmt(p.threshold, 5);
    return 'q' + fmt(p.threshold_quantile * 100, 0) + ' = ' + fmt(r.threshold, 5);
  }

  // Results with fewer than trade_count_min trades are listed, marked, and
  // never ranked.
  function resultsTable(jobs, tradeCountMin) {
    return table(['Threshold', 'Regime', 'SQN', 'Profit factor', 'Trades', 'Weekly cons.', 'Return', 'Excess'],
      (jobs || []).map((j) => {
        const r = j.result || {};
        const p = j.params || {};
        const few = tradeCountMin !== undefined && r.trade_count < tradeCountMin;
        return h('tr', few ? { class: 'too-few', title: 'fewer than trade_count_min trades: not ranked' } : {},
          h('td', { class: 'num' }, thresholdText(p, r)), h('td', {}, regimeText(p.regime)),
          h('td', { class: 'num' }, fmt(r.sqn, 3)), h('td', { class: 'num' }, fmt(r.profit_factor, 3)),
          h('td', { class: 'num' }, fmt(r.trade_count) + (few ? ' (too few)' : '')),
          h('td', { class: 'num' }, fmt(r.weekly_consistency, 3)),
          h('td', { class: 'num' }, pct(r.total_return_pct)), h('td', { class: 'num' }, pct(r.excess_return_pct)));
      }), { class: 'results' });
  }

  // The selection statistics of a generation or a promotion.
  function selectionRows(s) {
    if (!s) return [];
    return [
      ['Trials', h('span', { class: 'trials' }, fmt(s.trials) + ' in this run' + (s.prior_trials ? ', ' + fmt(s.prior_trials) + ' in earlier runs' : ''))],
      ['Deflated Sharpe ratio', h('span', { class: 'dsr' }, fmt(s.dsr, 3) + (s.expected_max_sharpe !== null && s.expected_max_sharpe !== undefined
        ? ' (per-trade Sharpe ' + fmt(s.sharpe, 3) + ' vs ' + fmt(s.expected_max_sharpe, 3) + ' expected of the best of ' + fmt(s.trials + s.prior_trials) + ' tries of no skill)' : ''))],
      ['Overfitting probability (PBO)', h('span', { class: 'pbo' }, fmt(s.pbo, 3) + (s.pbo_candidates ? ' over ' + fmt(s.pbo_candidates) + ' candidates' : ''))],
    ];
  }

  // A look at the holdout: the verdict and the holdout figures.
  function holdoutNode(x) {
    if (!x) return null;
    if (!x.decided) return h('span', { class: 'holdout pending' }, 'look ' + x.look + ': simulating the finalist on the holdout');
    const r = x.result || {};
    return h('span', { class: 'holdout', 'data-passed': String(x.passed) },
      h('span', { class: 'badge ' + (x.passed ? 'pass' : 'fail') }, x.passed ? 'holdout PASS' : 'holdout FAIL'), ' ',
      'look ' + x.look + ': SQN ' + fmt(r.sqn, 3) + ', excess SQN ' + fmt(r.excess_sqn, 3) + ', return ' + pct(r.total_return_pct) +
        ' vs buy and hold ' + pct(r.benchmark_return_pct) + ' (excess ' + pct(r.excess_return_pct) + '), ' + fmt(r.trade_count) + ' trades, ' +
        fmt(r.start_date) + ' → ' + fmt(r.end_date),
      x.passed ? null : h('div', { class: 'error-text small-text' }, x.verdict));
  }

  function generationCard(g, edge, tradeCountMin) {
    const jobs = g.jobs || {};
    const pruned = (edge && edge.pruned_features) || g.pruned_features || [];
    return h('article', { class: 'gen-card', 'data-generation': String(g.generation) },
      h('header', {}, h('h3', {}, 'Generation ' + g.generation),
        h('span', { class: 'badge verdict v-' + String(g.verdict || g.state || '').toLowerCase() }, g.verdict || g.state || '–')),
      kv([
        ['Model', h('span', { class: 'mono' }, short(g.model_id), g.reused_model ? ' (reused)' : '')],
        ['Features kept', featureList(g.features, 'kept')],
        ['Pruned before it', featureList(pruned, 'pruned')],
        ['Pruning reason', g.pruning_reason || (g.generation === 0 ? 'seed: no pruning' : '–')],
        ['Best SQN', h('strong', {}, fmt(g.best_sqn, 3))],
        ['Best profit factor', fmt(g.best_profit_factor, 3)],
        ['Best trade count', fmt(g.best_trade_count)],
        ['Jobs', fmt(jobs.completed) + ' done / ' + fmt(jobs.total !== undefined ? jobs.total : g.jobs_total) +
          (jobs.pending ? ', ' + jobs.pending + ' pending' : '') + (jobs.running ? ', ' + jobs.running + ' running' : '') +
          (jobs.failed ? ', ' + jobs.failed + ' failed' : '') + ' · ' + fmt(g.jobs_passing) + ' passing' +
          (g.jobs_too_few_trades ? ' · ' + g.jobs_too_few_trades + ' with too few trades (not ranked)' : '')],
        ...selectionRows(g.selection),
        g.holdout ? ['Holdout', holdoutNode(g.holdout)] : null,
      ]),
      (g.top_results && g.top_results.length) ? h('details', { class: 'top', open: true }, h('summary', {}, 'Top results'), resultsTable(g.top_results, tradeCountMin)) : null);
  }

  // The run's split and its declared confirmation test.
  function splitText(c) {
    if (!c.holdout_fraction && !c.holdout_start) return 'none (holdout_fraction 0): the promotion rests on the research span alone';
    const span = c.holdout_start ? 'bars from ' + c.holdout_start : 'the last ' + fmt(c.holdout_fraction * 100, 0) + ' % of the bars';
    const test = ['SQN ≥ ' + fmt(c.holdout_sqn_min, 3)];
    if (c.holdout_excess_sqn_min !== null && c.holdout_excess_sqn_min !== undefined) test.push('excess SQN ≥ ' + fmt(c.holdout_excess_sqn_min, 3));
    if (c.holdout_excess_return_min !== null && c.holdout_excess_return_min !== undefined) test.push('excess return ≥ ' + fmt(c.holdout_excess_return_min) + ' %');
    return span + '; selection span ' + fmt(c.selection_fraction) + ' of the research span; confirmation: ' + test.join(', ') +
      '; ' + fmt(c.holdout_looks) + (c.holdout_looks === 1 ? ' look' : ' looks');
  }

  // Where the run's research validity stands (GET /runs/{id}'s "validity"):
  // the looks at the symbol's holdout, and why a finalist was not promoted.
  function validityRows(run, v) {
    if (!v) return [];
    const rows = [];
    if (v.has_holdout) {
      rows.push(['Holdout looks', h('span', { id: 'holdout-looks' }, fmt(v.holdout_looks) + ' in this run, ' + fmt(v.prior_holdout_looks) +
        ' in earlier runs on this symbol' + (v.holdout_first_date ? ' · holdout from ' + v.holdout_first_date : '') +
        (v.research_end ? ' · research span to ' + v.research_end : ''))]);
    }
    if (run.stop_reason === 'holdout_rejected' && v.holdout) {
      rows.push(['Outcome', h('span', { id: 'outcome', class: 'error-text' }, 'no model promoted: the finalist of generation ' + v.holdout.generation +
        ' failed its holdout confirmation: ' + v.holdout.verdict)]);
    }
    return rows;
  }

  function runView(runId) {
    const head = h('div', {});
    const chart = h('div', { class: 'chart-box' });
    const gens = h('div', { class: 'gen-grid', id: 'generations' });
    const err = h('div', {});
    view().append(h('p', { class: 'crumbs' }, link('#/runs', '← Runs')),
      section('Run', { id: 'run' }, head),
      section('Best SQN by generation', { id: 'sqn-chart' }, chart),
      section('Generations', {}, gens), err);
    let finalShown = false;
    live(async () => {
      if (finalShown) return;  // a final run does not change: stop asking
      const id = encodeURIComponent(runId);
      const [doc, g] = await Promise.all([api('/runs/' + id), api('/runs/' + id + '/generations')]);
      const run = doc.run;
      const c = run.config || {};
      head.replaceChildren(
        h('div', { class: 'run-head' }, h('h3', { class: 'mono run-id' }, run.id), badge(run.status), actionButtons(run, () => { finalShown = false; viewPoller.now(); })),
        kv([
          ['Symbol', h('span', { class: 'run-symbol' }, c.symbol)],
          ['Progress', progress(run)],
          ['Best SQN', fmt(run.best_sqn, 3)],
          ['Stop reason', run.stop_reason || '–'],
          run.error ? ['Error', h('span', { class: 'error-text' }, run.error)] : null,
          ['Algorithm', c.algorithm + ' · target ' + c.target_col + ' (' + c.target_transform + ') · ' + c.timeframe],
          ['Criteria', 'SQN ' + fmt(c.sqn_min) + '..' + fmt(c.sqn_max) + ', profit factor ' + fmt(c.profit_factor_min) + '..' + fmt(c.profit_factor_max) +
            ', trades ' + fmt(c.trade_count_min) + '..' + fmt(c.trade_count_max) + ', weekly consistency < ' + fmt(c.weekly_consistency_max)],
          ['Holdout', h('span', { id: 'holdout-split' }, splitText(c))],
          ...validityRows(run, doc.validity),
          ['Grid', ((c.thresholds || []).length + (c.threshold_quantiles || []).length) + ' thresholds × ' + (c.regime_configs || []).length + ' regime filters'],
          ['Jobs', fmt(doc.jobs.completed) + ' completed, ' + fmt(doc.jobs.pending) + ' pending, ' + fmt(doc.jobs.running) + ' running, ' + fmt(doc.jobs.failed) + ' failed'],
          ['Created', when(run.created_at)],
          doc.promotion ? ['Promoted', link('#/promoted/' + encodeURIComponent(doc.promotion.id), 'model ' + short(doc.promotion.model_id) + ' (SQN ' + fmt(doc.promotion.sqn, 3) + ')', { id: 'promotion-link' })] : null,
        ]));
      const list = g.generations || [];
      const points = list.map((x) => [x.generation, x.best_sqn === null || x.best_sqn === undefined ? NaN : x.best_sqn]);
      chart.replaceChildren(list.length
        ? lineChart({ series: [{ points, cls: 'sqn-line', dots: true, label: 'best SQN' }], band: { from: c.sqn_min, to: c.sqn_max, label: 'SQN criteria' },
          label: 'best SQN by generation', xTicks: list.map((x) => x.generation), cls: 'sqn-chart' })
        : h('p', { class: 'muted' }, 'no generation yet'));
      const edges = {};
      for (const e of doc.lineage || []) edges[e.generation] = e;
      gens.replaceChildren(...(list.length ? list.map((x) => generationCard(x, edges[x.generation], c.trade_count_min)) : [h('p', { class: 'muted' }, 'no generation yet')]));
      finalShown = run.status !== 'PENDING' && run.status !== 'RUNNING';
    }, err);
  }

  // ------------------------------------------------------------ promoted models

  function promotedTable(list, rankFrom) {
    const sorted = (list || []).slice().sort((a, b) => (b.sqn || 0) - (a.sqn || 0));
    return table(['#', 'Model', 'Symbol', 'SQN', 'Profit factor', 'Trades', 'Weekly cons.', 'Threshold', 'Regime', 'Gen.', 'Holdout SQN', 'DSR', 'Promoted'],
      sorted.map((p, i) => h('tr', { class: 'promoted-row', 'data-promotion-id': p.id },
        h('td', {}, String(rankFrom + i + 1)),
        h('td', { class: 'mono' }, link('#/promoted/' + encodeURIComponent(p.id), short(p.model_id), { title: p.model_id })),
        h('td', {}, p.ticker), h('td', { class: 'num' }, h('strong', {}, fmt(p.sqn, 3))),
        h('td', { class: 'num' }, fmt(p.profit_factor, 3)), h('td', { class: 'num' }, fmt(p.trade_count)),
        h('td', { class: 'num' }, fmt(p.weekly_consistency, 3)), h('td', { class: 'num' }, fmt(p.threshold, 5)),
        h('td', {}, regimeText(p.regime)), h('td', { class: 'num' }, fmt(p.generation)),
        h('td', { class: 'num holdout-sqn' }, p.holdout ? fmt((p.holdout.result || {}).sqn, 3) : 'none'),
        h('td', { class: 'num dsr' }, fmt((p.selection || {}).dsr, 3)),
        h('td', { title: when(p.created_at) }, ago(p.created_at)))), { class: 'promoted' });
  }

  function promotedView() {
    const box = h('div', {});
    const err = h('div', {});
    view().append(section('Hall of fame: promoted models, best SQN first', { id: 'promoted' }, box), err);
    live(async () => {
      const data = await api('/promoted?limit=200');
      box.replaceChildren(promotedTable(data.promoted, 0));
    }, err);
  }

  // The lineage as nested lists, seed outermost: lineage[0] is the promoted
  // model, the last edge the seed (parent "").
  function lineageTree(edges, promotedModel) {
    const chain = (edges || []).slice().sort((a, b) => a.generation - b.generation);
    let root = null, parentUl = null;
    for (const e of chain) {
      const isPromoted = e.child_model_id === promotedModel;
      const node = h('li', { class: 'lineage-node' + (isPromoted ? ' promoted-node' : ''), 'data-generation': String(e.generation) },
        h('div', { class: 'node-box' },
          h('span', { class: 'node-gen' }, e.generation === 0 ? 'seed · gen 0' : 'gen ' + e.generation),
          h('span', { class: 'mono' }, short(e.child_model_id)),
          h('span', { class: 'muted' }, (e.remaining_features || []).length + ' features' +
            (e.generation > 0 ? ' · pruned ' + (e.pruned_features || []).length + ' · parent SQN ' + fmt(e.parent_sqn, 3) : '')),
          e.pruning_reason ? h('span', { class: 'muted small-text' }, e.pruning_reason) : null,
          (e.pruned_features || []).length ? featureList(e.pruned_features, 'pruned') : null));
      const ul = h('ul', { class: 'tree' }, node);
      if (!root) root = ul; else parentUl.lastChild.append(ul);
      parentUl = ul;
    }
    return root || h('p', { class: 'muted' }, 'no lineage recorded');
  }

  function criteriaTable(result, c) {
    const val = (v) => (v === null || v === undefined ? null : v);
    const rows = [
      ['SQN', val(result.sqn), c.sqn_min, c.sqn_max, (v) => v !== null && v >= c.sqn_min && v <= c.sqn_max, fmt(c.sqn_min) + ' ≤ x ≤ ' + fmt(c.sqn_max)],
      ['Profit factor', val(result.profit_factor), c.profit_factor_min, c.profit_factor_max, (v) => v !== null && v >= c.profit_factor_min && v <= c.profit_factor_max, fmt(c.profit_factor_min) + ' ≤ x ≤ ' + fmt(c.profit_factor_max)],
      ['Trade count', val(result.trade_count), c.trade_count_min, c.trade_count_max, (v) => v !== null && v >= c.trade_count_min && v <= c.trade_count_max, fmt(c.trade_count_min) + ' ≤ x ≤ ' + fmt(c.trade_count_max)],
      ['Weekly consistency', val(result.weekly_consistency), null, c.weekly_consistency_max, (v) => v !== null && v < c.weekly_consistency_max, 'x < ' + fmt(c.weekly_consistency_max)],
    ];
    return table(['Metric', 'Value', 'Criterion', 'Verdict'], rows.map(([name, v, , , ok, rule]) => {
      const pass = c && Object.keys(c).length ? ok(v) : null;
      return h('tr', { class: 'criterion ' + (pass ? 'pass' : 'fail') },
        h('td', {}, name), h('td', { class: 'num' }, fmt(v, Number.isInteger(v) ? undefined : 3)), h('td', {}, rule),
        h('td', {}, h('span', { class: 'badge ' + (pass ? 'pass' : 'fail') }, pass === null ? '?' : pass ? 'pass' : 'fail')));
    }), { class: 'criteria' });
  }

  function modelView(promotionId) {
    const err = h('div', {});
    const main = h('div', {}, h('p', { class: 'muted' }, 'loading…'));
    view().append(h('p', { class: 'crumbs' }, link('#/promoted', '← Hall of fame')), main, err);
    const load = async () => {
      const id = encodeURIComponent(promotionId);
      const doc = await api('/promoted/' + id);
      const p = doc.promotion, m = doc.model || {}, sim = doc.simulation || {}, res = doc.result || {};
      let config = {};
      try { config = (await api('/runs/' + encodeURIComponent(p.run_id))).run.config || {}; } catch (e) { config = {}; }
      const equityBox = h('div', { class: 'chart-box' }, h('p', { class: 'muted' }, 'replaying the backtest…'));
      main.replaceChildren(
        section('Promoted model', { id: 'model' },
          h('div', { class: 'run-head' }, h('h3', { class: 'mono' }, p.model_id), h('span', { class: 'badge st-promoted' }, 'SQN ' + fmt(p.sqn, 3))),
          kv([
            ['Run', link('#/runs/' + encodeURIComponent(p.run_id), p.run_id)],
            ['Generation', fmt(p.generation)],
            ['Symbol', m.symbol],
            ['Algorithm', m.algorithm + ' · target ' + m.target_col + ' (' + m.target_transform + ') · ' + m.timeframe],
            ['Hyperparameters', h('code', {}, JSON.stringify(m.hyperparameters || {}))],
            ['Data options', h('code', {}, JSON.stringify(m.data_options || {}))],
            ['Reference symbols', (m.reference_symbols || []).join(', ') || 'none'],
            ['Features', featureList(m.features, 'kept')],
            ['Promoted', when(p.created_at)],
          ])),
        h('div', { class: 'grid2' },
          section('Simulation parameters', { id: 'simulation' }, kv([
            ['Ticker', sim.ticker], ['Threshold', fmt(sim.threshold, 6)], ['Regime filter', regimeText(sim.regime)],
            ['Initial cash', fmt(config.initial_cash !== undefined ? config.initial_cash : sim.initial_cash)],
            ['Fee / slippage', fmt(config.fee_bps !== undefined ? config.fee_bps : sim.fee_bps) + ' / ' + fmt(config.slippage_bps !== undefined ? config.slippage_bps : sim.slippage_bps) + ' bps per side'],
            ['Period', fmt(res.start_date) + ' → ' + fmt(res.end_date)],
          ])),
          section('Metrics against the run’s criteria', { id: 'criteria' }, criteriaTable(res, config),
            kv([['Win rate', res.win_rate === null || res.win_rate === undefined ? '–' : fmt(res.win_rate * 100, 1) + ' %'],
              ['Total return', pct(res.total_return_pct)], ['Buy and hold', pct(res.benchmark_return_pct)],
              ['Max drawdown', pct(res.max_drawdown_pct)], ['Sharpe', fmt(res.sharpe, 2)], ['Exposure', fmt((res.exposure || 0) * 100, 1) + ' %']]))),
        h('div', { class: 'grid2' },
          section('Holdout confirmation', { id: 'holdout' }, p.holdout
            ? kv([['Verdict', holdoutNode(p.holdout)], ['Finalist', h('span', { class: 'mono' }, p.holdout.candidate_job_id)],
              ['Holdout job', h('span', { class: 'mono' }, p.holdout.job_id)]])
            : h('p', { class: 'muted' }, 'none: the run had no holdout (holdout_fraction 0)')),
          section('Selection statistics', { id: 'selection' }, p.selection ? kv(selectionRows(p.selection)) : h('p', { class: 'muted' }, 'not recorded'))),
        section('Equity curve', { id: 'equity' }, equityBox),
        section('Lineage back to the seed', { id: 'lineage' }, lineageTree(doc.lineage, p.model_id)));
      try {
        const eq = await api('/promoted/' + id + '/equity');
        const pts = eq.points || [];
        equityBox.replaceChildren(
          lineChart({ series: [
            { points: pts.map((x) => [x[0], x[1]]), cls: 'equity-line', label: 'model' },
            { points: pts.map((x) => [x[0], x[2]]), cls: 'bench-line', label: 'buy and hold' }],
          label: 'equity curve', cls: 'equity-chart', height: 260,
          xFmt: (t) => new Date(t * 1000).toISOString().slice(0, 10), yFmt: (v) => fmt(v, 0) }),
          h('p', { class: 'muted small-text' }, 'Span scored by the promoted result (the research span when the run held bars out) ' + eq.start_date + ' → ' + eq.end_date + ', ' + eq.bars + ' bars, ' +
            eq.trade_count + ' trades; ' + fmt(eq.initial_cash) + ' → ' + fmt(eq.final_equity, 0) + ' (' + pct(eq.total_return_pct) +
            '). Replayed by the built-in backtester from the model’s stored predictions, marked to market at each close.'));
      } catch (e) {
        equityBox.replaceChildren(errorNote(e));
      }
    };
    load().catch((e) => err.replaceChildren(errorNote(e)));
  }

  // ------------------------------------------------------------ job queue

  function jobsView(params) {
    let runId = params.get('run_id') || '';
    let offset = 0;
    const input = h('input', { type: 'text', id: 'jobs-run', placeholder: 'run id (all runs when empty)', value: runId, spellcheck: 'false' });
    const form = h('form', { class: 'toolbar', onsubmit: (ev) => { ev.preventDefault(); runId = input.value.trim(); offset = 0; viewPoller.now(); } },
      h('label', { for: 'jobs-run' }, 'Run '), input, h('button', { type: 'submit', class: 'small' }, 'Filter'));
    const counts = h('p', { class: 'muted' });
    const prev = h('button', { type: 'button', class: 'small', onclick: () => { offset = Math.max(0, offset - JOBS_PAGE); viewPoller.now(); } }, '← Previous');
    const next = h('button', { type: 'button', class: 'small', onclick: () => { offset += JOBS_PAGE; viewPoller.now(); } }, 'Next →');
    const box = h('div', {});
    const err = h('div', {});
    view().append(section('Job queue: pending jobs in claim order', { id: 'jobs' }, form, counts, box, h('div', { class: 'toolbar' }, prev, next)), err);
    live(async () => {
      if (lastStats) {
        counts.textContent = 'All runs: ' + lastStats.pending_jobs + ' pending, ' + lastStats.running_jobs + ' running, ' +
          lastStats.completed_jobs + ' completed, ' + lastStats.failed_jobs + ' failed, ' + lastStats.cancelled_jobs + ' cancelled.';
      }
      const data = await api('/jobs/pending?limit=' + JOBS_PAGE + '&offset=' + offset + (runId ? '&run_id=' + encodeURIComponent(runId) : ''));
      // A training job (kind train: one part of a model; assemble: the
      // model from its parts) has no grid cell.
      box.replaceChildren(table(['Job', 'Kind', 'Run', 'Gen.', 'Priority', 'Status', 'Threshold', 'Regime', 'Attempts', 'Queued'],
        (data.jobs || []).map((j) => {
          const simulation = !j.kind || j.kind === 'simulate';
          return h('tr', { class: 'job-row' },
          h('td', { class: 'mono' }, short(j.id)),
          h('td', { class: 'job-kind' }, j.kind || 'simulate'),
          h('td', { class: 'mono' }, link('#/runs/' + encodeURIComponent(j.run_id), short(j.run_id))),
          h('td', { class: 'num' }, fmt(j.generation)), h('td', { class: 'num' }, fmt(j.priority, 3)),
          h('td', {}, badge(j.status)), h('td', { class: 'num' }, simulation ? fmt(j.params && j.params.threshold, 5) : '—'),
          h('td', {}, simulation ? regimeText(j.params && j.params.regime) : '—'),
          h('td', { class: 'num' }, fmt(j.attempts) + ' / ' + fmt(j.max_attempts)),
          h('td', { title: when(j.created_at) }, ago(j.created_at)));
        }), { class: 'jobs' }));
      prev.disabled = offset === 0;
      next.disabled = (data.jobs || []).length < JOBS_PAGE;
    }, err);
  }

  // ------------------------------------------------------------ start evolution

  // Every POST /evolve field (docs/api.md), with the service's defaults
  // (GET /api/defaults: the library's EvolutionConfig, their one source).
  function startView() {
    const shown = location.hash;
    api('/api/defaults').then((d) => {
      if (location.hash === shown) startForm(d);
    }, (e) => {
      if (location.hash === shown) view().append(section('Start evolution', { id: 'start' }, errorNote(e)));
    });
  }

  function startForm(d) {
    const fieldBoxes = {};
    const top = h('div', { class: 'form-errors', id: 'form-errors', role: 'alert' });

    function field(name, label, control, hint) {
      const id = 'f-' + name.replace(/[^a-z0-9]+/gi, '-');
      control.id = control.id || id;
      const box = h('div', { class: 'field', 'data-field': name },
        h('label', { for: control.id }, label), control,
        hint ? h('small', { class: 'hint' }, hint) : null,
        h('span', { class: 'field-error', 'data-error-for': name, 'aria-live': 'polite' }));
      fieldBoxes[name] = box;
      return box;
    }
    const num = (name, value, extra) => h('input', Object.assign({ type: 'number', step: 'any', name, value: value === undefined || value === null ? '' : String(value) }, extra || {}));
    const text = (name, value, extra) => h('input', Object.assign({ type: 'text', name, value: value || '', spellcheck: 'false' }, extra || {}));
    const select = (name, options, value) => {
      const el = h('select', { name }, options.map(([v, l]) => h('option', { value: v }, l)));
      el.value = value;
      return el;
    };

    const symbol = h('select', { name: 'symbol', required: true }, h('option', { value: '' }, 'loading…'));
    const features = h('div', { class: 'checklist', id: 'f-seed_features', role: 'group', 'aria-label': 'seed features' });
    const featureFilter = h('input', { type: 'search', placeholder: 'filter features', 'aria-label': 'filter features',
      oninput: () => { const q = featureFilter.value.toLowerCase(); features.querySelectorAll('label').forEach((l) => { l.hidden = !l.textContent.toLowerCase().includes(q); }); } });
    const refs = h('div', { class: 'checklist small', id: 'f-reference_symbols', role: 'group', 'aria-label': 'reference symbols' });
    const setAll = (on) => features.querySelectorAll('input[type=checkbox]').forEach((c) => { if (!c.parentNode.hidden) c.checked = on; });

    const f = {
      algorithm: select('algorithm', [['RandomForest', 'RandomForest (random_forest_regressor)'], ['ElasticNet', 'ElasticNet (elasticnet_regression)'], ['linear_regression', 'linear_regression']], d.algorithm),
      target_col: text('target_col', d.target_col),
      target_transform: select('target_transform', [['log_return', 'log_return'], ['none', 'none'], ['log', 'log'], ['pct_change', 'pct_change']], d.target_transform),
      max_generations: num('max_generations', '', { placeholder: 'server default (' + d.max_generations + ')' }),
      timeframe: text('timeframe', '', { placeholder: 'the data’s (1m, 1h, 1d, ...)' }),
      train_window: num('data_options.train_window', '', { placeholder: '1000' }),
      test_window: num('data_options.test_window', '', { placeholder: '250' }),
      refit_every: num('data_options.refit_every', '', { placeholder: 'ceil(train / test)' }),
      seed_model_id: text('seed_model_id', '', { placeholder: 'none: train the seed' }),
      thresholds: text('thresholds', d.thresholds.join(', ')),
      regime_configs: h('textarea', { name: 'regime_configs', rows: '2', spellcheck: 'false' }, JSON.stringify(d.regime_configs)),
      sqn_min: num('sqn_min', d.sqn_min), sqn_max: num('sqn_max', d.sqn_max),
      profit_factor_min: num('profit_factor_min', d.profit_factor_min), profit_factor_max: num('profit_factor_max', d.profit_factor_max),
      trade_count_min: num('trade_count_min', d.trade_count_min, { step: '1' }), trade_count_max: num('trade_count_max', d.trade_count_max, { step: '1' }),
      weekly_consistency_max: num('weekly_consistency_max', d.weekly_consistency_max),
      holdout_fraction: num('holdout_fraction', d.holdout_fraction),
      holdout_start: text('holdout_start', '', { placeholder: 'YYYY-MM-DD (replaces the fraction)' }),
      dsr_min: num('dsr_min', d.dsr_min, { placeholder: 'none' }),
      pbo_max: num('pbo_max', d.pbo_max, { placeholder: 'none' }),
      hyperparameters: h('textarea', { name: 'hyperparameters', rows: '2', spellcheck: 'false' }, JSON.stringify(d.hyperparameters)),
      pruning_strategy: select('pruning.strategy', [['non_positive', 'non_positive: prune importance ≤ 0'], ['keep_top_fraction', 'keep_top_fraction'], ['threshold', 'threshold: prune importance ≤ min']], d.pruning.strategy),
      pruning_fraction: num('pruning.fraction', d.pruning.fraction),
      pruning_min_importance: num('pruning.min_importance', d.pruning.min_importance),
      initial_cash: num('initial_cash', d.initial_cash), fee_bps: num('fee_bps', d.fee_bps), slippage_bps: num('slippage_bps', d.slippage_bps),
    };
    const submit = h('button', { type: 'submit', class: 'primary', id: 'start-submit' }, 'Start evolution');
    const form = h('form', { id: 'evolve-form', class: 'evolve-form', novalidate: true },
      h('fieldset', {}, h('legend', {}, 'Data and model'),
        field('symbol', 'Symbol', symbol),
        field('algorithm', 'Algorithm', f.algorithm),
        field('target_col', 'Target column', f.target_col),
        field('target_transform', 'Target transform', f.target_transform),
        field('max_generations', 'Max generations', f.max_generations, '1..1000'),
        field('timeframe', 'Timeframe', f.timeframe),
        field('seed_model_id', 'Seed model id', f.seed_model_id),
        field('hyperparameters', 'Hyperparameters (JSON object)', f.hyperparameters, 'e.g. {"n_estimators": 50, "max_depth": 6}')),
      h('fieldset', {}, h('legend', {}, 'Walk-forward (data_options)'),
        h('div', { class: 'field', 'data-field': 'data_options' }, h('span', { class: 'field-error', 'data-error-for': 'data_options' })),
        field('data_options.train_window', 'Train window (bars)', f.train_window),
        field('data_options.test_window', 'Test window (bars)', f.test_window),
        field('data_options.refit_every', 'Refit every (test windows)', f.refit_every)),
      h('fieldset', { class: 'wide' }, h('legend', {}, 'Seed features'),
        field('seed_features', 'Features of the seed model (all when every box is ticked)', features),
        h('div', { class: 'toolbar' }, featureFilter, h('button', { type: 'button', class: 'small', onclick: () => setAll(true) }, 'All'),
          h('button', { type: 'button', class: 'small', onclick: () => setAll(false) }, 'None')),
        field('reference_symbols', 'Reference symbols (their features join the table)', refs)),
      h('fieldset', {}, h('legend', {}, 'Simulation grid'),
        field('thresholds', 'Thresholds (comma separated)', f.thresholds, '≥ 0, no duplicates'),
        field('regime_configs', 'Regime filters (JSON array)', f.regime_configs, '[{}] = no filter; e.g. [{}, {"regime_gmm": [0]}, {"regime_vix": [2, 3]}]'),
        field('initial_cash', 'Initial cash', f.initial_cash),
        field('fee_bps', 'Fee (bps per side)', f.fee_bps),
        field('slippage_bps', 'Slippage (bps per side)', f.slippage_bps)),
      h('fieldset', {}, h('legend', {}, 'Promotion criteria (“Holy Grail”)'),
        h('div', { class: 'pair' }, field('sqn_min', 'SQN min', f.sqn_min), field('sqn_max', 'SQN max', f.sqn_max)),
        h('div', { class: 'pair' }, field('profit_factor_min', 'Profit factor min', f.profit_factor_min), field('profit_factor_max', 'Profit factor max', f.profit_factor_max)),
        h('div', { class: 'pair' }, field('trade_count_min', 'Trades min', f.trade_count_min), field('trade_count_max', 'Trades max', f.trade_count_max)),
        field('weekly_consistency_max', 'Weekly consistency max', f.weekly_consistency_max, 'passes when below')),
      h('fieldset', {}, h('legend', {}, 'Holdout and selection'),
        field('holdout_fraction', 'Holdout fraction', f.holdout_fraction, 'last share of the bars, read once to confirm a finalist; 0 = none'),
        field('holdout_start', 'Holdout start', f.holdout_start),
        h('div', { class: 'pair' }, field('dsr_min', 'Deflated Sharpe min', f.dsr_min, '0..1'), field('pbo_max', 'PBO max', f.pbo_max, '0..1'))),
      h('fieldset', {}, h('legend', {}, 'Pruning'),
        h('div', { class: 'field', 'data-field': 'pruning' }, h('span', { class: 'field-error', 'data-error-for': 'pruning' })),
        field('pruning.strategy', 'Strategy', f.pruning_strategy),
        field('pruning.fraction', 'Fraction kept (keep_top_fraction)', f.pruning_fraction, 'in (0, 1)'),
        field('pruning.min_importance', 'Min importance (threshold)', f.pruning_min_importance)),
      h('div', { class: 'form-actions' }, top, submit));
    fieldBoxes.data_options = $('[data-field="data_options"]', form);
    fieldBoxes.pruning = $('[data-field="pruning"]', form);
    const result = h('div', { id: 'start-result' });
    view().append(section('Start evolution', { id: 'start' }, form, result));

    async function loadColumns() {
      features.replaceChildren(h('span', { class: 'muted' }, 'loading…'));
      refs.replaceChildren();
      if (!symbol.value) return;
      try {
        const cols = await api('/api/features/columns?symbol=' + encodeURIComponent(symbol.value));
        features.replaceChildren(...cols.columns.map((c) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: c, checked: true }), ' ', c)));
      } catch (e) {
        features.replaceChildren(errorNote(e));
      }
      for (const opt of symbol.options) {
        if (opt.value && opt.value !== symbol.value) refs.append(h('label', { class: 'check' }, h('input', { type: 'checkbox', value: opt.value }), ' ', opt.value));
      }
      if (!refs.childNodes.length) refs.append(h('span', { class: 'muted' }, 'no other symbol'));
    }
    symbol.addEventListener('change', loadColumns);
    api('/api/features/symbols').then((data) => {
      symbol.replaceChildren(...data.symbols.map((x) => h('option', { value: x }, x)));
      if (!data.symbols.length) symbol.append(h('option', { value: '' }, 'no symbol in the data directory'));
      return loadColumns();
    }).catch((e) => { symbol.replaceChildren(h('option', { value: '' }, 'unavailable')); top.replaceChildren(errorNote(e)); });

    function clearErrors() {
      top.replaceChildren();
      form.querySelectorAll('.field-error').forEach((x) => { x.textContent = ''; });
      form.querySelectorAll('.invalid').forEach((x) => x.classList.remove('invalid'));
    }
    // The form field an error's `field` belongs to: the longest known
    // prefix ("thresholds[1]" -> thresholds, "pruning.fraction").
    function boxFor(name) {
      let key = String(name || '');
      while (key) {
        if (fieldBoxes[key]) return fieldBoxes[key];
        const cut = Math.max(key.lastIndexOf('['), key.lastIndexOf('.'));
        if (cut <= 0) break;
        key = key.slice(0, cut);
      }
      return null;
    }
    function showError(name, message) {
      const box = boxFor(name);
      if (!box) {
        top.append(h('p', { class: 'error-note' }, (name ? name + ': ' : '') + message));
        return;
      }
      const span = $('.field-error', box);
      span.textContent = (span.textContent ? span.textContent + '; ' : '') + (name !== box.getAttribute('data-field') ? name + ': ' : '') + message;
      box.classList.add('invalid');
    }

    function body() {
      const b = { symbol: symbol.value };
      const errors = [];
      const put = (k, el, asInt) => {
        const v = el.value.trim();
        if (v === '') return;
        const n = Number(v);
        b[k] = Number.isFinite(n) ? (asInt ? n : n) : v;
      };
      b.algorithm = f.algorithm.value;
      if (f.target_col.value.trim()) b.target_col = f.target_col.value.trim();
      b.target_transform = f.target_transform.value;
      put('max_generations', f.max_generations, true);
      if (f.timeframe.value.trim()) b.timeframe = f.timeframe.value.trim();
      const dop = {};
      for (const [k, el] of [['train_window', f.train_window], ['test_window', f.test_window], ['refit_every', f.refit_every]]) {
        const v = el.value.trim();
        if (v !== '') dop[k] = Number.isFinite(Number(v)) ? Number(v) : v;
      }
      if (Object.keys(dop).length) b.data_options = dop;
      const boxes = [...features.querySelectorAll('input[type=checkbox]')];
      const ticked = boxes.filter((c) => c.checked).map((c) => c.value);
      if (boxes.length && ticked.length !== boxes.length) b.seed_features = ticked;
      if (f.seed_model_id.value.trim()) b.seed_model_id = f.seed_model_id.value.trim();
      const refsTicked = [...refs.querySelectorAll('input:checked')].map((c) => c.value);
      if (refsTicked.length) b.reference_symbols = refsTicked;
      const th = f.thresholds.value.split(/[\s,]+/).filter(Boolean);
      b.thresholds = th.map((x) => (Number.isFinite(Number(x)) ? Number(x) : x));
      for (const [k, el] of [['regime_configs', f.regime_configs], ['hyperparameters', f.hyperparameters]]) {
        const v = el.value.trim();
        if (!v) continue;
        try { b[k] = JSON.parse(v); } catch (e) { errors.push([k, 'not valid JSON: ' + e.message]); }
      }
      for (const k of ['sqn_min', 'sqn_max', 'profit_factor_min', 'profit_factor_max', 'weekly_consistency_max', 'initial_cash', 'fee_bps', 'slippage_bps',
        'holdout_fraction', 'dsr_min', 'pbo_max']) put(k, f[k]);
      if (f.holdout_start.value.trim()) b.holdout_start = f.holdout_start.value.trim();
      put('trade_count_min', f.trade_count_min, true);
      put('trade_count_max', f.trade_count_max, true);
      const pr = { strategy: f.pruning_strategy.value };
      if (pr.strategy === 'keep_top_fraction' && f.pruning_fraction.value.trim() !== '') pr.fraction = Number(f.pruning_fraction.value);
      if (pr.strategy === 'threshold' && f.pruning_min_importance.value.trim() !== '') pr.min_importance = Number(f.pruning_min_importance.value);
      b.pruning = pr;
      return { b, errors };
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors();
      result.replaceChildren();
      const { b, errors } = body();
      if (errors.length) {
        errors.forEach(([k, m]) => showError(k, m));
        return;
      }
      submit.disabled = true;
      try {
        const r = await post('/evolve', b);
        result.replaceChildren(h('p', { class: 'ok-note' }, r.message + ': ',
          link('#/runs/' + encodeURIComponent(r.run_id), r.run_id, { id: 'new-run-link' }), ' (' + r.max_generations + ' generations at most)'));
      } catch (e) {
        if (e.details && e.details.length) e.details.forEach((d) => showError(d.field, d.message));
        else if (e.status !== 401) top.append(errorNote(e));
        top.prepend(h('p', { class: 'error-note' }, 'Not started: ' + e.message));
        const first = form.querySelector('.invalid');
        if (first) first.scrollIntoView({ block: 'center' });
      } finally {
        submit.disabled = false;
      }
    });
  }

  // ------------------------------------------------------------ start

  function init() {
    const input = $('#token-input');
    input.value = token();
    $('#token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = input.value.trim();
      if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY);
      input.classList.remove('attention');
      hideBanner();
      // Retry what is shown without rebuilding it (a half-filled form stays).
      if (viewPoller) viewPoller.now();
      if (statusPoller) statusPoller.now();
    });
    statusPoller = new Poller(refreshStatus, (e, delay) => setConn(false, (e.status ? 'error ' + e.status : 'offline') + ' · retry in ' + Math.round(delay / 1000) + ' s'));
    window.addEventListener('hashchange', route);
    route();
  }

  document.addEventListener('DOMContentLoaded', init);
})();
