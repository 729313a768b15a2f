// Parley admin page: plain browser JavaScript, no build step. All data is shown with textContent.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const ENGINES = [
    ['array', 'Array'],
    ['hash', 'Hash'],
    ['rbtree', 'RBTree'],
  ];
  const STATUS_CLASS = { OK: 'ok', EXIST: 'warn', NO_EXIST: 'warn', FULL: 'err', ERROR: 'err' };
  const FALLBACK = {
    OK: 'OK',
    EXIST: 'Key exists',
    NO_EXIST: 'Key not found',
    FULL: 'Storage full',
    ERROR: 'Failed',
  };
  const NO_KEY = /^[HR]?(COUNT|KEYS)$/;
  let token = sessionStorage.getItem('parley-admin-token') || '';
  let fadeTimer;

  async function api(path, options = {}) {
    const headers = { ...(options.headers || {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) {
      const entered = window.prompt('This admin plane needs its ADMIN_TOKEN:');
      if (entered) {
        token = entered;
        sessionStorage.setItem('parley-admin-token', token);
        return api(path, options);
      }
    }
    return { status: response.status, body: await response.json() };
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function renderStats(data) {
    const cards = $('cards');
    cards.replaceChildren(
      ...ENGINES.map(([key, label]) => {
        const s = data[key];
        const card = el('div', undefined, 'card');
        card.dataset.engine = key;
        card.append(
          el('h3', `${label}`),
          el('div', `stored: ${s.count}`),
          el('div', `remaining: ${s.remaining} of ${s.max}`),
        );
        const bar = el('div', undefined, 'bar');
        const fill = el('span');
        fill.style.width = `${Math.min(100, (s.count / s.max) * 100)}%`;
        bar.setAttribute('role', 'progressbar');
        bar.setAttribute('aria-label', `${label} fill`);
        bar.setAttribute('aria-valuenow', String(s.count));
        bar.setAttribute('aria-valuemax', String(s.max));
        bar.append(fill);
        card.append(bar);
        return card;
      }),
    );
  }

  async function loadStats() {
    try {
      const { body } = await api('api/stats');
      if (body.status === 'OK') renderStats(body.data);
    } catch (error) {
      showReply(`Request failed: ${error.message}`, 'err');
    }
  }

  function showReply(text, cls) {
    const reply = $('reply');
    clearTimeout(fadeTimer);
    reply.className = cls;
    reply.textContent = text;
    fadeTimer = setTimeout(() => reply.classList.add('fade'), 3000);
  }

  function addHistory(command, text, cls) {
    const item = el('li');
    item.append(
      el('span', `${new Date().toLocaleTimeString()} `),
      el('strong', command),
      el('span', ` → `),
      el('span', text, cls),
    );
    const history = $('history');
    history.prepend(item);
    while (history.children.length > 50) history.lastElementChild.remove();
  }

  async function sendCommand(event) {
    event.preventDefault();
    const input = $('command');
    const words = input.value.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return showReply('Please enter a command', 'warn');
    const cmd = words[0].toUpperCase();
    if (words.length < 2 && !NO_KEY.test(cmd))
      return showReply('A command needs at least a command and a key', 'err');
    const payload = { cmd };
    if (words[1] !== undefined) payload.key = words[1];
    if (words.length > 2) payload.value = words.slice(2).join(' ');
    const button = $('send');
    button.disabled = true;
    try {
      const { body } = await api('api/kv', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payload),
      });
      // EXIST answers "yes" to an EXIST query: show it as success there (the original showed a warning).
      const cls =
        /^[HR]?EXIST$/.test(cmd) && body.status === 'EXIST' ? 'ok' : STATUS_CLASS[body.status] || 'info';
      let text = body.message || FALLBACK[body.status] || 'Unknown status';
      if (Array.isArray(body.result)) text += `: ${body.result.map((e) => `${e.key}=${e.value}`).join(', ')}`;
      showReply(`${body.status}: ${text}`, cls);
      addHistory(input.value.trim(), `${body.status} ${text}`, cls);
      if (body.data && body.data.data) renderStats(body.data.data);
      if (cmd.startsWith('R')) loadKeys();
    } catch (error) {
      showReply(`Request failed: ${error.message}`, 'err');
    } finally {
      button.disabled = false;
      input.focus();
    }
  }

  // Key browser: ordered pages of the tree, a stack of page starts for "previous".
  const pages = [undefined];
  async function loadKeys(reset = false) {
    if (reset) pages.splice(0, pages.length, undefined);
    const after = pages[pages.length - 1];
    const query = new URLSearchParams({ prefix: $('prefix').value, limit: '20' });
    if (after !== undefined) query.set('after', after);
    const { body } = await api(`api/kv/rbtree/keys?${query}`);
    if (body.status !== 'OK') return;
    const rows = body.data.entries.map((e) => {
      const tr = el('tr');
      tr.append(el('td', e.key), el('td', e.value));
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      tr.append(Object.assign(el('td', 'no keys'), { colSpan: 2 }));
      rows.push(tr);
    }
    $('keys').tBodies[0].replaceChildren(...rows);
    $('page-info').textContent = `page ${pages.length} · ${body.data.count} keys in the tree`;
    $('prev').disabled = pages.length <= 1;
    $('next').disabled = body.data.next === null;
    $('next').dataset.next = body.data.next ?? '';
  }

  async function loadCluster() {
    const { body } = await api('api/cluster');
    if (body.status !== 'OK') return;
    const n = body.data.node;
    const facts = [
      ['node', n.nodeId],
      ['mode', n.mode],
      ['uptime', `${n.uptimeS} s`],
      ['connections', `${n.connections.tcp} TCP, ${n.connections.ws} WebSocket`],
      ['online here', String(n.sessions)],
      ['messages/s', n.messagesPerS.toFixed(1)],
    ];
    $('node').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
    const rows = body.data.nodes.map((node) => {
      const tr = el('tr');
      tr.append(
        el('td', node.nodeId),
        el('td', String(node.sessions)),
        el('td', new Date(node.startedAt).toLocaleString()),
      );
      return tr;
    });
    if (rows.length === 0) {
      const tr = el('tr');
      tr.append(Object.assign(el('td', 'single node (no Redis): only this node'), { colSpan: 3 }));
      rows.push(tr);
    }
    $('nodes').tBodies[0].replaceChildren(...rows);
  }

  $('command-form').addEventListener('submit', sendCommand);
  $('refresh').addEventListener('click', () => {
    loadStats();
    loadCluster();
  });
  $('browser-form').addEventListener('submit', (e) => {
    e.preventDefault();
    loadKeys(true);
  });
  $('next').addEventListener('click', () => {
    pages.push($('next').dataset.next);
    loadKeys();
  });
  $('prev').addEventListener('click', () => {
    pages.pop();
    loadKeys();
  });
  $('help-open').addEventListener('click', () => $('help').showModal());
  $('help-close').addEventListener('click', () => $('help').close());
  $('help').addEventListener('click', (e) => {
    if (e.target === $('help')) $('help').close();
  });

  loadStats();
  loadKeys(true);
  loadCluster();
  setInterval(() => {
    if ($('live').checked && !document.hidden) {
      loadStats();
      loadCluster();
    }
  }, 2000);
})();
