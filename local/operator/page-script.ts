/**
 * The script of the operator page, as text: it runs in the browser (the project compiles without the
 * DOM library, so it is plain JavaScript here), allowed by its hash in the page's CSP.
 *
 * It keeps the pasted token in sessionStorage and sends it only as an Authorization header, polls
 * the JSON routes every two seconds, and builds every piece of the page with textContent and
 * createElement: nothing the server sends is ever parsed as HTML.
 */
export const POLL_INTERVAL_MS = 2000;

export const OPERATOR_PAGE_SCRIPT = `(function () {
  'use strict';
  var TOKEN_KEY = 'transfer-operator-token';
  var POLL_MS = ${POLL_INTERVAL_MS};
  var ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
  var TOKEN_PATTERN = /^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$/;
  var view = { selected: null, listText: '', detailText: '', open: {}, timer: null, generation: 0, busy: false, again: false, reveal: false };

  function byId(id) { return document.getElementById(id); }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  /** A table cell that names its column on a phone, where the rows are stacked. */
  function cell(label, className, text) {
    var td = el('td', className, text);
    td.setAttribute('data-label', label);
    return td;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function show(node, visible) { node.hidden = !visible; }

  function readToken() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }
  function writeToken(value) { try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode */ } }
  function dropToken() { try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ } }

  function pad(n, width) { var s = String(n); while (s.length < (width || 2)) s = '0' + s; return s; }
  function timeText(isoText, withDate, millis) {
    var d = new Date(isoText);
    if (isNaN(d.getTime())) return String(isoText || '');
    var time = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + (millis === false ? '' : '.' + pad(d.getMilliseconds(), 3));
    return withDate === false ? time : d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + time;
  }
  function durationText(ms) {
    function both(big, bigUnit, small, smallUnit) { return small === 0 ? big + ' ' + bigUnit : big + ' ' + bigUnit + ' ' + small + ' ' + smallUnit; }
    if (ms < 1000) return Math.round(ms) + ' ms';
    var s = ms / 1000;
    if (s < 60) return (s < 10 ? s.toFixed(1) : String(Math.round(s))) + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return both(m, 'min', Math.round(s % 60), 's');
    var h = Math.floor(m / 60);
    if (h < 48) return both(h, 'h', m % 60, 'min');
    return both(Math.floor(h / 24), 'd', h % 24, 'h');
  }
  function dateText(row) {
    if (row.immediate) return row.transferDate ? row.transferDate + ' (immediate)' : 'immediate';
    if (row.transferDate) return row.transferDate;
    if (row.requestedDate) return row.requestedDate + ' (asked)';
    return '\\u2014';
  }
  function statusClass(status) { return 'badge status-' + String(status || 'unknown').toLowerCase().replace(/[^a-z_]/g, ''); }
  function badge(status) { return el('span', statusClass(status), String(status || '').replace(/_/g, ' ')); }

  function AuthError(status) { this.status = status; }
  function ApiError(message) { this.message = message; }

  function api(path) {
    var token = readToken();
    if (!token) return Promise.reject(new AuthError(401));
    return fetch(path, {
      headers: { authorization: 'Bearer ' + token, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer'
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) throw new AuthError(response.status);
      return response.json().catch(function () { return null; }).then(function (body) {
        if (response.status === 404) return null;
        if (!response.ok) {
          var message = body && body.error && body.error.message ? body.error.message : 'HTTP ' + response.status;
          throw new ApiError(message);
        }
        return body;
      });
    });
  }

  // ------------------------------------------------------------------ sign-in

  function signedIn(visible) {
    show(byId('signin'), !visible);
    show(byId('console'), visible);
  }

  function signOut(message) {
    clearTimeout(view.timer);
    view.generation += 1;
    dropToken();
    view.listText = '';
    view.detailText = '';
    clear(byId('transfer-rows'));
    clear(byId('timeline-rows'));
    clearEvents();
    show(byId('detail'), false);
    signedIn(false);
    var error = byId('signin-error');
    if (message) {
      clear(error);
      error.appendChild(el('h2', null, 'The token was refused'));
      error.appendChild(el('p', null, message));
    }
    show(error, Boolean(message));
    var input = byId('token');
    input.value = '';
    if (message) error.focus(); else input.focus();
  }

  function authMessage(status) {
    return status === 403
      ? 'That token is not an operator\\'s: a partner token cannot open the operator view. Paste a token with the operator role (npm run --silent token -- --operator).'
      : 'The local API did not accept that token (expired, malformed, or signed by another local stack). Paste a fresh operator token.';
  }

  byId('token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var input = byId('token');
    var value = input.value.trim().replace(/^Bearer\\s+/i, '');
    input.value = '';
    if (!TOKEN_PATTERN.test(value)) {
      signOut('That does not look like a token: paste the whole line printed by npm run --silent token -- --operator.');
      return;
    }
    writeToken(value);
    show(byId('signin-error'), false);
    signedIn(true);
    setLive('Loading\\u2026', false);
    poll();
  });

  byId('sign-out').addEventListener('click', function () { signOut(null); });

  // ------------------------------------------------------------------ list

  function setLive(text, problem) {
    byId('live-text').textContent = text;
    byId('live').className = problem ? 'live live-problem' : 'live';
  }

  function renderList(body) {
    var text = JSON.stringify(body);
    if (text === view.listText) return;
    view.listText = text;
    var rows = byId('transfer-rows');
    clear(rows);
    var items = body && body.items ? body.items : [];
    items.forEach(function (row) {
      var tr = el('tr', row.id === view.selected ? 'selected' : null);
      tr.setAttribute('data-id', row.id);
      var first = el('td');
      var open = el('button', 'link-button', row.id);
      open.type = 'button';
      open.setAttribute('data-id', row.id);
      open.setAttribute('aria-pressed', row.id === view.selected ? 'true' : 'false');
      open.addEventListener('click', function () { select(row.id); });
      first.appendChild(open);
      tr.appendChild(first);
      var status = cell('Status'); status.appendChild(badge(row.status)); tr.appendChild(status);
      var current = cell('Current state', 'state-cell');
      if (row.execution) {
        current.appendChild(badge(row.execution.status));
        var where = stateText(row.execution);
        if (where) current.appendChild(el('span', 'state-name', where));
      } else {
        current.appendChild(el('span', 'muted', 'no execution'));
      }
      tr.appendChild(current);
      var customers = row.customers.map(function (c) { return c.id; }).join(', ');
      var parties = cell('From \\u2192 to');
      parties.appendChild(el('span', null, row.fromPartner.id + ' \\u2192 ' + row.toPartner.id));
      parties.appendChild(el('span', 'detail', customers));
      tr.appendChild(parties);
      tr.appendChild(cell('Date', 'nowrap', dateText(row)));
      var updated = cell('Updated', 'nowrap', timeText(row.updatedAt, true, false));
      updated.title = row.updatedAt;
      tr.appendChild(updated);
      rows.appendChild(tr);
    });
    show(byId('list-empty'), items.length === 0);
    show(byId('list-more'), Boolean(body && body.nextToken));
  }

  function loadList() {
    var status = byId('status-filter').value;
    var path = '/operator/api/executions?limit=100' + (status ? '&status=' + encodeURIComponent(status) : '');
    return api(path).then(renderList);
  }

  // ------------------------------------------------------------------ detail

  function fact(table, label, value) {
    var tr = el('tr');
    tr.appendChild(el('th', null, label));
    var td = el('td');
    if (value && value.nodeType) td.appendChild(value); else td.textContent = value === null || value === undefined ? '\\u2014' : String(value);
    tr.appendChild(td);
    table.appendChild(tr);
  }

  /** Where the execution is (running), or the state it stopped on (failed, stopped); nothing once it succeeded. */
  function stateText(execution) {
    if (execution.status === 'RUNNING') return execution.state || 'starting';
    return execution.state && execution.status !== 'SUCCEEDED' ? 'at ' + execution.state : '';
  }

  function stateNode(execution) {
    var wrap = el('span', 'state-cell');
    wrap.appendChild(badge(execution.status));
    var where = stateText(execution);
    if (where) wrap.appendChild(el('span', 'state-name', where));
    if (execution.status === 'RUNNING' && execution.since) {
      var since = el('span', 'detail since', '');
      since.setAttribute('data-since', execution.since);
      wrap.appendChild(since);
    }
    return wrap;
  }

  function tickSince() {
    var nodes = document.querySelectorAll('[data-since]');
    for (var i = 0; i < nodes.length; i += 1) {
      var started = Date.parse(nodes[i].getAttribute('data-since'));
      if (!isNaN(started)) nodes[i].textContent = 'in this state for ' + durationText(Math.max(0, Date.now() - started));
    }
  }

  function renderDetail(id, body) {
    var section = byId('detail');
    if (!body) {
      view.detailText = '';
      show(section, true);
      byId('detail-title').textContent = 'Transfer ' + id;
      clear(byId('detail-facts'));
      clear(byId('timeline-rows'));
      renderEvents([]);
      fact(byId('detail-facts'), 'Not found', 'There is no transfer ' + id + '.');
      return;
    }
    var text = JSON.stringify(body);
    if (text === view.detailText) { tickSince(); return; }
    view.detailText = text;
    show(section, true);
    if (view.reveal) {
      // A transfer just opened from the list: take the reader (and the screen reader) to it.
      view.reveal = false;
      byId('detail-title').focus();
    }
    var t = body.transfer;
    byId('detail-title').textContent = 'Transfer ' + t.id;
    var facts = byId('detail-facts');
    clear(facts);
    fact(facts, 'Status', badge(t.status));
    fact(facts, 'Execution', body.execution ? stateNode(body.execution) : 'no execution');
    if (body.execution && body.execution.redriveCount > 0) fact(facts, 'Redrives', body.execution.redriveCount + ' (last ' + timeText(body.execution.redriveDate) + ')');
    if (body.execution && body.execution.error) fact(facts, 'Error', body.execution.error + (body.execution.cause ? ': ' + body.execution.cause : ''));
    fact(facts, 'Customers', t.customers.map(function (c) { return c.name + ' (' + c.id + ')'; }).join(', '));
    fact(facts, 'From \\u2192 to', t.fromPartner.name + ' (' + t.fromPartner.id + ') \\u2192 ' + t.toPartner.name + ' (' + t.toPartner.id + ')');
    fact(facts, 'Date', dateText(t));
    if (t.ticketId) fact(facts, 'Ticket', t.ticketId);
    (t.unreachable || []).forEach(function (partnerId) {
      var flag = el('span');
      flag.appendChild(badge('UNREACHABLE'));
      flag.appendChild(document.createTextNode(' ' + partnerId + ': every contact bounced; no link, reminder or notice reaches it'));
      fact(facts, 'Unreachable', flag);
    });
    if (t.bounced && t.bounced.length > 0) fact(facts, 'Bounced', t.bounced.map(function (b) { return b.address + (b.partnerId ? ' (' + b.partnerId + ')' : ''); }).join(', '));
    if (t.decline) fact(facts, 'Declined', t.decline.step + ' declined, ' + t.decline.reasonCode + (t.decline.reason ? ': ' + t.decline.reason : '') + ' (signed by ' + t.decline.signedBy + ')');
    if (t.note) fact(facts, 'Note', t.note);
    if (t.outcomes && t.outcomes.length > 0) {
      fact(facts, 'Outcomes', t.outcomes.map(function (o) { return o.customerId + ' ' + o.outcome + (o.reason ? ' (' + o.reason + ')' : ''); }).join('; '));
    }
    fact(facts, 'Requested', timeText(t.createdAt));
    fact(facts, 'Updated', timeText(t.updatedAt));

    var rows = byId('timeline-rows');
    clear(rows);
    body.timeline.forEach(function (entry) {
      var tr = el('tr', 'tone-' + entry.tone + ' source-' + entry.source);
      var time = el('td', 'nowrap mono', timeText(entry.at));
      time.title = entry.at;
      tr.appendChild(time);
      tr.appendChild(cell('Source', 'source', entry.source === 'execution' ? 'Workflow' : 'Transfer'));
      tr.appendChild(el('td', 'event', entry.event));
      tr.appendChild(entry.state ? cell('State', 'state', entry.state) : el('td', 'state'));
      var detail = el('td', 'detail-cell');
      detail.appendChild(el('span', null, entry.detail));
      if (entry.data) {
        var more = el('details');
        if (view.open[entry.id]) more.open = true;
        more.appendChild(el('summary', null, 'Data'));
        more.appendChild(el('pre', null, entry.data));
        more.addEventListener('toggle', function () { view.open[entry.id] = more.open; });
        detail.appendChild(more);
      }
      tr.appendChild(detail);
      tr.appendChild(entry.durationMs === null ? el('td') : cell('Duration', 'nowrap', durationText(entry.durationMs)));
      rows.appendChild(tr);
    });
    renderEvents(body.events || []);
    tickSince();
  }

  // ------------------------------------------------------------------ events and deliveries

  function clearEvents() {
    var table = byId('events');
    var groups = table.querySelectorAll('tbody');
    for (var i = 0; i < groups.length; i += 1) table.removeChild(groups[i]);
  }

  function when(className, label, isoText, millis) {
    var span = el('span', className, label + ' ' + timeText(isoText, true, millis));
    span.title = isoText;
    return span;
  }

  function timeCell(label, isoText) {
    var td = cell(label, 'nowrap', isoText ? timeText(isoText, true, false) : '');
    if (isoText) td.title = isoText;
    return td;
  }

  function fullRow(className, text) {
    var tr = el('tr');
    var td = el('td', className, text);
    td.setAttribute('colspan', '7');
    tr.appendChild(td);
    return tr;
  }

  function deliveryRow(d) {
    var tr = el('tr', 'delivery');
    tr.appendChild(cell('Webhook', 'webhook mono', d.webhookId));
    tr.appendChild(cell('URL', 'target mono', d.target));
    var status = cell('Status');
    status.appendChild(badge(d.status));
    tr.appendChild(status);
    tr.appendChild(cell('Tries', null, d.attempts));
    var last = cell('Last try', 'last-try');
    if (d.lastStatus !== null) last.appendChild(el('span', 'nowrap', 'HTTP ' + d.lastStatus));
    if (d.lastError) last.appendChild(el('span', 'detail', d.lastError));
    if (d.note) last.appendChild(el('span', 'detail', d.note));
    tr.appendChild(last);
    if (d.status === 'pending' && !d.nextAttemptAt) tr.appendChild(cell('Next try', 'nowrap', 'queued'));
    else tr.appendChild(timeCell('Next try', d.nextAttemptAt));
    tr.appendChild(timeCell('Delivered / failed at', d.settledAt));
    return tr;
  }

  /** One group of rows per event: the event (type, id, when, whether the bus has it), then its deliveries. */
  function renderEvents(events) {
    clearEvents();
    var table = byId('events');
    show(byId('events-wrap'), events.length > 0);
    show(byId('events-empty'), events.length === 0);
    events.forEach(function (event) {
      var group = el('tbody');
      var head = el('tr', 'event-head');
      var th = el('th');
      th.setAttribute('scope', 'colgroup');
      th.setAttribute('colspan', '7');
      var published = event.relayedAt
        ? when('when published', 'Published to the bus', event.relayedAt, true)
        : el('span', 'when not-published', event.inOutbox ? 'Not yet published to the bus' : 'No longer in the outbox');
      [el('span', 'event', event.type), el('span', 'mono', event.id), when('when', 'Occurred', event.occurredAt, true), published].forEach(function (part, i) {
        // Spaces between the parts, so that they read (and copy) as words.
        if (i > 0) th.appendChild(document.createTextNode(' '));
        th.appendChild(part);
      });
      head.appendChild(th);
      group.appendChild(head);
      if (event.deliveries.length === 0) group.appendChild(fullRow('muted', 'No webhook deliveries.'));
      event.deliveries.forEach(function (d) { group.appendChild(deliveryRow(d)); });
      table.appendChild(group);
    });
  }

  function loadDetail() {
    var id = view.selected;
    if (!id) return Promise.resolve();
    var generation = view.generation;
    return api('/operator/api/executions/' + encodeURIComponent(id)).then(function (body) {
      if (generation === view.generation && id === view.selected) renderDetail(id, body);
    });
  }

  function select(id) {
    if (!ID_PATTERN.test(id)) return;
    if (location.hash !== '#' + id) history.replaceState(null, '', '#' + id);
    view.selected = id;
    view.reveal = true;
    view.detailText = '';
    view.open = {};
    view.generation += 1;
    var buttons = document.querySelectorAll('#transfer-rows button[data-id]');
    for (var i = 0; i < buttons.length; i += 1) {
      var on = buttons[i].getAttribute('data-id') === id;
      buttons[i].setAttribute('aria-pressed', on ? 'true' : 'false');
      buttons[i].parentNode.parentNode.className = on ? 'selected' : '';
    }
    view.listText = '';
    poll();
  }

  // ------------------------------------------------------------------ polling

  function poll() {
    clearTimeout(view.timer);
    if (!readToken()) return;
    // One request round at a time: a poll asked for meanwhile runs as soon as this one ends.
    if (view.busy) { view.again = true; return; }
    view.busy = true;
    view.again = false;
    Promise.all([loadList(), loadDetail()]).then(function () {
      setLive('Live \\u00b7 updated ' + timeText(new Date().toISOString(), false), false);
      show(byId('problem'), false);
    }, function (error) {
      if (error instanceof AuthError) { signOut(authMessage(error.status)); return; }
      var problem = byId('problem');
      problem.textContent = error instanceof ApiError
        ? 'The operator API answered: ' + error.message
        : 'The local stack does not answer; retrying every ' + (POLL_MS / 1000) + ' s\\u2026';
      show(problem, true);
      setLive('Not updating', true);
    }).then(function () {
      view.busy = false;
      if (!readToken()) return;
      if (view.again) poll(); else view.timer = setTimeout(poll, POLL_MS);
    });
  }

  byId('status-filter').addEventListener('change', function () { view.listText = ''; poll(); });
  window.addEventListener('hashchange', function () {
    var id = decodeURIComponent(location.hash.slice(1));
    if (id && id !== view.selected) select(id);
  });
  setInterval(tickSince, 1000);

  var initial = decodeURIComponent(location.hash.slice(1));
  if (ID_PATTERN.test(initial)) view.selected = initial;
  if (readToken()) { signedIn(true); poll(); } else { signedIn(false); }
})();
`;
