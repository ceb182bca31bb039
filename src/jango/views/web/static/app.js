// jango live page: a snapshot in parts, then numbered deltas of changed cells, over one WebSocket.
//
// The whole book lives here as a model (rows by number, integer cells); the grid renders only
// the rows in view from a small pool of <tr>, and repaints once per animation frame whatever
// arrived in between. So 5,000 rows cost what 30 visible rows cost, and a burst of deltas is one
// repaint. See jango/views/web/grid.py for the messages.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  const ALL_LABELS = JSON.parse(document.getElementById("labels").textContent);
  let lang = ["ko", "en"].includes(params.get("lang")) ? params.get("lang") : document.documentElement.lang;

  const $ = (id) => document.getElementById(id);
  const L = (key) => ALL_LABELS[lang][key] || key;
  // A label with {name} holes filled from ``values`` (numbers grouped by thousands).
  const T = (key, values) => L(key).replace(/\{(\w+)\}/g, (_, name) => (typeof values[name] === "number" ? int(values[name]) : String(values[name])));
  const intFormat = new Intl.NumberFormat("ko-KR");
  const int = (n) => intFormat.format(n);
  // Korean convention: red for up, blue for down.
  const sign = (n) => (n > 0 ? "up" : n < 0 ? "down" : "");

  // An integer in 1/10^scale units shown with ``places`` decimals, truncated, without floats.
  function fixed(n, scale, places) {
    const negative = n < 0;
    const digits = String(Math.abs(n)).padStart(scale + 1, "0");
    const whole = digits.slice(0, digits.length - scale);
    const fraction = digits.slice(digits.length - scale, digits.length - scale + places);
    return (negative && /[1-9]/.test(whole + fraction) ? "-" : "") + int(Number(whole)) + "." + fraction;
  }

  // P&L as a percentage of cost, truncated to 2 places, in integers (BigInt) like the server.
  function rate(pnl, cost) {
    if (!cost) return "0.00";
    return fixed(Number((BigInt(pnl) * 10000n) / BigInt(cost)), 2, 2);
  }

  const signed = (n) => (n > 0 ? "▲ " + int(n) : n < 0 ? "▼ " + int(-n) : "0");

  const state = {
    accounts: new Map(), // id -> {id, label, cash, totals, open_orders}
    rows: new Map(), // row id -> record {rid, key, acct, code, name, market, credit, loan_date, known, v}
    keys: new Map(), // row key -> row id
    grand: null,
    status: null,
    notices: [],
    col: {}, // value column name -> index in record.v
    sort: { column: null, direction: 1 },
    seq: -1,
    snapshots: 0,
    pendingParts: null,
  };
  const stats = { messages: 0, bytes: 0, largest: 0, latencies: [], frames: 0 };
  const STATS_KEPT = 20000;

  // charts.js, loaded before this file; absent (a stale cache) the page simply has no charts.
  const charts = window.jangoCharts || null;

  const accountLabel = (id) => (state.accounts.get(id) || { label: id }).label;
  const val = (r, name) => r.v[state.col[name]];

  // ---------------------------------------------------------------- columns

  // width: px at 1400; the table scales them up on wider screens. frozen: stays on the left.
  const COLUMNS = [
    { id: "account", width: 94, frozen: true, text: (r) => accountLabel(r.acct), sort: (r) => r.acct },
    { id: "code", width: 62, frozen: true, text: (r) => r.code, sort: (r) => r.code },
    { id: "name", width: 112, frozen: true, text: (r) => r.name + (r.known ? "" : " ※"), title: (r) => (r.known ? r.name : r.name + " — " + L("market_unknown")), sort: (r) => r.name },
    { id: "credit", width: 86, text: (r) => L("credit_" + r.credit), sort: (r) => r.credit },
    { id: "loan_date", width: 86, text: (r) => r.loan_date || "", sort: (r) => r.loan_date || "" },
    { id: "qty", width: 66, num: true, text: (r) => int(val(r, "qty")) },
    { id: "sellable", width: 66, num: true, text: (r) => int(val(r, "sellable")) },
    { id: "avg_price", width: 84, num: true, text: (r) => fixed(val(r, "avg_price"), 4, 2) },
    { id: "purchase_amount", width: 102, num: true, text: (r) => int(val(r, "purchase_amount")) },
    { id: "price", width: 78, num: true, text: (r) => (val(r, "price") ? int(val(r, "price")) : "-"), cls: (r) => sign(val(r, "diff")) },
    { id: "diff", width: 82, num: true, text: (r) => signed(val(r, "diff")), cls: (r) => sign(val(r, "diff")) },
    { id: "value", width: 102, num: true, text: (r) => int(val(r, "value")) },
    { id: "pnl", width: 104, num: true, text: (r) => int(val(r, "pnl")), cls: (r) => sign(val(r, "pnl")) },
    { id: "pnl_rate", width: 76, num: true, text: (r) => fixed(val(r, "pnl_rate"), 2, 2), cls: (r) => sign(val(r, "pnl")) },
    // The last minute of the price, drawn by charts.js into the cell; its text stays empty.
    { id: "trend", width: 56, text: () => "", sort: (r) => val(r, "diff") },
    { id: "loan_amount", width: 86, num: true, text: (r) => (val(r, "loan_amount") ? int(val(r, "loan_amount")) : "") },
  ];
  for (const col of COLUMNS) if (!col.sort) col.sort = (r) => val(r, col.id);

  // A totals band reuses the grid's columns; these are the ones it fills.
  const TOTAL_COLUMNS = {
    account: (t) => t.label,
    name: (t) => t.title,
    purchase_amount: (t) => int(t.totals.purchase_amount),
    value: (t) => int(t.totals.value),
    pnl: (t) => int(t.totals.pnl),
    pnl_rate: (t) => rate(t.totals.pnl, t.totals.purchase_amount),
  };
  const TOTAL_SIGNED = new Set(["pnl", "pnl_rate"]);

  // ---------------------------------------------------------------- the virtual grid

  const grid = {
    items: [], // what the grid shows in order: {row: rid} or {total: account id}
    pool: [], // <tr> records reused for the rows in view
    first: 0,
    rowHeight: 26,
    structure: true, // the item list must be rebuilt (rows added/removed, sort, filter)
    dirtyRows: new Set(),
    dirtyTotals: false,
    scheduled: false,
    stamp: null, // server time (ms) of the oldest change not yet on screen
    top: null,
    bottom: null,
  };
  const OVERSCAN = 6;

  function makeRecord(columns) {
    const tr = document.createElement("tr");
    const tds = columns.map((col) => {
      const td = document.createElement("td");
      td.dataset.col = col.id;
      if (col.num) td.className = "num";
      if (col.frozen) td.classList.add("frozen");
      tr.appendChild(td);
      return td;
    });
    return { tr, tds, texts: columns.map(() => null), classes: columns.map(() => null), item: null };
  }

  // The one place cells are written: only when what they show differs.
  function paint(record, columns, textOf, classOf) {
    for (let i = 0; i < columns.length; i++) {
      const col = columns[i];
      const text = textOf(col);
      if (text !== record.texts[i]) {
        record.tds[i].textContent = text;
        record.texts[i] = text;
      }
      const cls = classOf(col);
      if (cls !== record.classes[i]) {
        record.tds[i].className = (col.num ? "num " : "") + (col.frozen ? "frozen " : "") + cls;
        record.classes[i] = cls;
      }
    }
  }

  function totalSource(id) {
    if (id === "all") return { label: L("all_accounts"), title: L("total"), totals: state.grand || {}, cash: state.grand || {} };
    const a = state.accounts.get(id);
    return a ? { label: a.label, title: L("subtotal"), totals: a.totals, cash: a.cash } : null;
  }

  function paintTotal(record, id) {
    const source = totalSource(id);
    if (!source) return;
    paint(
      record,
      COLUMNS,
      (col) => (TOTAL_COLUMNS[col.id] ? TOTAL_COLUMNS[col.id](source) : ""),
      (col) => (TOTAL_SIGNED.has(col.id) ? sign(source.totals.pnl) : ""),
    );
  }

  function paintItem(record, item) {
    if (item.row !== undefined) {
      const r = state.rows.get(item.row);
      if (!r) return;
      paint(record, COLUMNS, (col) => col.text(r), (col) => (col.cls ? col.cls(r) : ""));
      const title = r.known ? "" : COLUMNS[2].title(r);
      if (record.tr.title !== title) record.tr.title = title;
    } else {
      paintTotal(record, item.total);
    }
  }

  function bind(record, item) {
    record.item = item;
    const tr = record.tr;
    if (item.row !== undefined) {
      const r = state.rows.get(item.row);
      tr.dataset.key = r.key;
      tr.className = "row";
    } else {
      tr.dataset.key = "total:" + item.total;
      tr.className = "band";
    }
    paintItem(record, item);
  }

  function filtered() {
    const chosen = $("account-filter").value || "all";
    const needle = $("filter").value.trim().toLowerCase();
    const { column, direction } = state.sort;
    const groups = new Map();
    for (const id of state.accounts.keys()) groups.set(id, []);
    for (const r of state.rows.values()) {
      if (chosen !== "all" && r.acct !== chosen) continue;
      if (needle && !r.code.toLowerCase().includes(needle) && !r.name.toLowerCase().includes(needle)) continue;
      if (!groups.has(r.acct)) groups.set(r.acct, []);
      groups.get(r.acct).push(r);
    }
    const byKey = (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    const order = column
      ? (a, b) => {
          const x = column.sort(a);
          const y = column.sort(b);
          const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "ko");
          return c * direction || byKey(a, b);
        }
      : byKey;
    const items = [];
    let shown = 0;
    for (const [id, rows] of groups) {
      if (chosen !== "all" && id !== chosen) continue;
      rows.sort(order);
      for (const r of rows) items.push({ row: r.rid });
      shown += rows.length;
      // One band per account, after its rows: bands scroll with the rows, so none overlaps another.
      if (state.accounts.has(id)) items.push({ total: id });
    }
    $("row-count").textContent = T("rows_shown", { shown, total: state.rows.size });
    return items;
  }

  function measure() {
    const h = parseFloat(getComputedStyle(document.body).getPropertyValue("--row-h"));
    if (h && h !== grid.rowHeight) {
      grid.rowHeight = h;
      return true;
    }
    return false;
  }

  function renderGrid(force) {
    const wrap = $("grid-wrap");
    if (grid.structure) {
      grid.items = filtered();
      grid.structure = false;
      force = true;
    }
    const h = grid.rowHeight;
    const head = $("holdings-head").offsetHeight || 0;
    const view = Math.max(1, Math.ceil((wrap.clientHeight - head) / h) + 2 * OVERSCAN);
    const first = Math.max(0, Math.min(Math.floor(wrap.scrollTop / h) - OVERSCAN, grid.items.length - view));
    const count = Math.min(view, grid.items.length - first);
    const body = $("holdings-body");
    while (grid.pool.length < count) {
      const record = makeRecord(COLUMNS);
      grid.pool.push(record);
      body.insertBefore(record.tr, grid.bottom);
    }
    while (grid.pool.length > count) grid.pool.pop().tr.remove();
    const moved = force || first !== grid.first;
    grid.first = first;
    grid.top.style.height = first * h + "px";
    grid.bottom.style.height = Math.max(0, grid.items.length - first - count) * h + "px";
    let rebound = false;
    for (let i = 0; i < count; i++) {
      const record = grid.pool[i];
      const item = grid.items[first + i];
      if (moved || record.item !== item) {
        bind(record, item);
        rebound = true;
      } else if (item.row !== undefined ? grid.dirtyRows.has(item.row) : grid.dirtyTotals) paintItem(record, item);
    }
    grid.dirtyRows.clear();
    if (rebound && charts) charts.rebound();
    if (rebound) sendView();
  }

  function schedule() {
    if (grid.scheduled) return;
    grid.scheduled = true;
    requestAnimationFrame(frame);
  }

  // Once per frame: whatever arrived since the last frame is painted together.
  function frame() {
    grid.scheduled = false;
    renderGrid(false);
    if (grid.dirtyTotals) {
      paintFooter();
      paintSummary();
      grid.dirtyTotals = false;
    }
    stats.frames += 1;
    const stamp = grid.stamp;
    grid.stamp = null;
    if (stamp !== null) {
      // After this frame's paint: a task queued now runs once the frame is on screen.
      afterPaint(() => {
        if (stats.latencies.length >= STATS_KEPT) stats.latencies.splice(0, STATS_KEPT / 2);
        stats.latencies.push(performance.timeOrigin + performance.now() - stamp);
      });
    }
  }

  const channel = new MessageChannel();
  const afterPaintQueue = [];
  channel.port1.onmessage = () => afterPaintQueue.shift()();
  function afterPaint(fn) {
    afterPaintQueue.push(fn);
    channel.port2.postMessage(0);
  }

  const footRecord = makeRecord(COLUMNS);
  function paintFooter() {
    const foot = $("holdings-foot");
    const many = state.accounts.size > 1 && ($("account-filter").value || "all") === "all";
    if (!many) {
      foot.replaceChildren();
      return;
    }
    if (!footRecord.tr.isConnected) {
      footRecord.tr.dataset.key = "total:all";
      footRecord.tr.className = "band grand";
      foot.appendChild(footRecord.tr);
    }
    paintTotal(footRecord, "all");
  }

  function renderHead() {
    $("holdings-cols").replaceChildren(
      ...COLUMNS.map((col) => {
        const c = document.createElement("col");
        c.style.width = col.width + "px";
        return c;
      }),
    );
    $("holdings-head").replaceChildren(
      ...COLUMNS.map((col) => {
        const th = document.createElement("th");
        th.dataset.col = col.id;
        th.textContent = L(col.id);
        th.title = L(col.id);
        th.className = (col.num ? "num" : "") + (col.frozen ? " frozen" : "");
        if (state.sort.column === col) th.dataset.sort = state.sort.direction > 0 ? "asc" : "desc";
        th.addEventListener("click", () => {
          state.sort.direction = state.sort.column === col ? -state.sort.direction : 1;
          state.sort.column = col;
          renderHead();
          grid.structure = true;
          schedule();
        });
        return th;
      }),
    );
    fillHead("cash-head", ["account", "purchase_amount", "value", "pnl", "pnl_rate", "deposit", "d1", "d2", "orderable", "realized_net", "commission", "tax"]);
    fillHead("orders-head", ["order_no", "code", "side", "order_qty", "order_price", "remaining", ""]);
    fillHead("discrepancies-head", ["time", "account", "code", "field", "computed", "reported", "reason"]);
    requestAnimationFrame(placeFrozen);
  }

  // Frozen columns stick at their own left edge, measured once the header is laid out.
  function placeFrozen() {
    const ths = [...$("holdings-head").children];
    let left = 0;
    const table = $("holdings");
    COLUMNS.forEach((col, i) => {
      if (!col.frozen) return;
      table.style.setProperty("--left-" + col.id, left + "px");
      left += ths[i].getBoundingClientRect().width;
    });
  }

  function fillHead(id, keys) {
    $(id).replaceChildren(
      ...keys.map((key) => {
        const th = document.createElement("th");
        th.textContent = key ? L(key) : "";
        th.dataset.col = key;
        if (key && !["account", "code", "side", "time", "field", "reason"].includes(key)) th.className = "num";
        return th;
      }),
    );
  }

  // ---------------------------------------------------------------- summary, orders

  const SUMMARY_COLUMNS = [
    { id: "account", text: (s) => s.label },
    { id: "purchase_amount", num: true, text: (s) => int(s.totals.purchase_amount) },
    { id: "value", num: true, text: (s) => int(s.totals.value) },
    { id: "pnl", num: true, signed: "pnl", text: (s) => int(s.totals.pnl) },
    { id: "pnl_rate", num: true, signed: "pnl", text: (s) => rate(s.totals.pnl, s.totals.purchase_amount) },
    { id: "deposit", num: true, text: (s) => int(s.cash.deposit) },
    { id: "d1", num: true, text: (s) => (s.cash.d1 === null || s.cash.d1 === undefined ? "-" : int(s.cash.d1)) },
    { id: "d2", num: true, text: (s) => int(s.cash.d2) },
    { id: "orderable", num: true, text: (s) => int(s.cash.orderable) },
    { id: "realized_net", num: true, signed: "realized_net", text: (s) => int(s.totals.realized_net) },
    { id: "commission", num: true, text: (s) => int(s.totals.commission) },
    { id: "tax", num: true, text: (s) => int(s.totals.tax) },
  ];
  const summary = new Map(); // account id or "all" -> record

  function paintSummary() {
    const body = $("cash-body");
    const ids = [...state.accounts.keys()];
    if (ids.length > 1) ids.push("all");
    const seen = new Set(ids);
    for (const id of ids) {
      let record = summary.get(id);
      if (!record) {
        record = makeRecord(SUMMARY_COLUMNS);
        record.tr.dataset.key = "total:" + id;
        if (id === "all") record.tr.className = "grand";
        summary.set(id, record);
      }
      body.appendChild(record.tr); // in account order, the overall line last
      const source = totalSource(id);
      paint(record, SUMMARY_COLUMNS, (col) => col.text(source), (col) => (col.signed ? sign(source.totals[col.signed]) : ""));
    }
    for (const [id, record] of summary) {
      if (!seen.has(id)) {
        record.tr.remove();
        summary.delete(id);
      }
    }
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function openOrder(accountId, orderNo) {
    const a = state.accounts.get(accountId);
    return a ? a.open_orders.find((o) => o.order_no === orderNo) : undefined;
  }

  function renderOrders() {
    const rows = [];
    for (const account of state.accounts.values()) {
      for (const o of account.open_orders) {
        const tr = document.createElement("tr");
        tr.dataset.orderNo = o.order_no;
        tr.title = account.label;
        if (ticket.orderNo() === o.order_no) tr.classList.add("chosen");
        tr.append(
          cell(o.order_no),
          cell(o.code),
          cell(L(o.side), o.side === "buy" ? "up" : "down"),
          cell(int(o.qty), "num"),
          cell(o.price ? int(o.price) : L("market_order"), "num"),
          cell(int(o.remaining), "num"),
        );
        const pick = document.createElement("button");
        pick.type = "button";
        pick.className = "pick";
        pick.textContent = L("amend") + "/" + L("cancel");
        pick.addEventListener("click", () => ticket.follow(account.id, o));
        const td = document.createElement("td");
        td.appendChild(pick);
        tr.appendChild(td);
        rows.push(tr);
      }
    }
    $("orders-body").replaceChildren(...rows);
  }

  function renderAccountChoices() {
    for (const [id, withAll] of [["ticket-account", false], ["account-filter", true]]) {
      const select = $(id);
      const chosen = select.value;
      const options = [...state.accounts.values()].map((a) => {
        const option = document.createElement("option");
        option.value = a.id;
        option.textContent = a.label;
        return option;
      });
      if (withAll) {
        const all = document.createElement("option");
        all.value = "all";
        all.textContent = L("all_accounts");
        options.unshift(all);
      }
      select.replaceChildren(...options);
      if (chosen && [...select.options].some((o) => o.value === chosen)) select.value = chosen;
    }
  }

  // ---------------------------------------------------------------- notices, differences, status

  const clock = (iso) => (iso ? iso.slice(11, 19) : "");

  function renderNotices(notices) {
    state.notices = notices;
    $("notices").replaceChildren(
      ...notices.map((n) => {
        const li = document.createElement("li");
        li.dataset.orderNo = n.order_no;
        li.dataset.kind = n.kind;
        li.className = n.kind === "filled" ? (n.side === "buy" ? "up" : "down") : n.kind === "rejected" ? "rejected" : "";
        const what = [clock(n.time), L(n.kind), L(n.action), L(n.side), n.code, n.name, int(n.qty) + " @ " + int(n.price), "#" + n.order_no];
        li.textContent = what.filter(Boolean).join(" ");
        return li;
      }),
    );
  }

  function addDiscrepancies(list, replace) {
    const body = $("discrepancies-body");
    if (replace) body.replaceChildren();
    for (const d of list) {
      const tr = document.createElement("tr");
      tr.append(cell(clock(d.time)), cell(d.account), cell(d.code), cell(d.field), cell(d.computed, "num"), cell(d.reported, "num"), cell(d.reason));
      body.prepend(tr);
    }
    while (body.children.length > 50) body.lastElementChild.remove();
  }

  // The status banner: the socket, the broker connection, and any task that stopped (since when).
  function renderStatus() {
    const ws = document.body.dataset.ws;
    $("ws-state").textContent = L(ws);
    const engine = state.status;
    const text = engine ? (engine.connected ? "" : L("engine_down") + " — ") + engine.detail + (engine.reconnects ? " · " + L("reconnects") + " " + engine.reconnects : "") : "";
    $("engine-state").textContent = text;
    document.body.dataset.engine = engine && engine.connected ? "up" : "down";
    const problems = (engine && engine.problems) || [];
    const banner = $("degraded");
    banner.hidden = problems.length === 0;
    banner.replaceChildren(
      ...problems.map((p) => {
        const line = document.createElement("div");
        line.dataset.task = p.task;
        line.dataset.permanent = p.permanent;
        const since = p.since ? " (" + L("since") + " " + clock(p.since) + ")" : "";
        line.textContent = L("degraded") + ": " + (p.text || p.task + " — " + p.error) + (p.text && p.text.includes(clock(p.since)) ? "" : since);
        return line;
      }),
    );
    document.body.dataset.degraded = problems.length ? "yes" : "no";
  }

  function setSocketState(name) {
    document.body.dataset.ws = name;
    renderStatus();
  }

  // ---------------------------------------------------------------- applying messages

  function addRow(a) {
    // [rid, key, acct, code, name, market, credit, loan_date, market_known, ...values]
    const r = { rid: a[0], key: a[1], acct: a[2], code: a[3], name: a[4], market: a[5], credit: a[6], loan_date: a[7], known: a[8] === 1, v: a.slice(9) };
    state.rows.set(r.rid, r);
    state.keys.set(r.key, r.rid);
  }

  function removeRow(rid) {
    const r = state.rows.get(rid);
    if (!r) return;
    state.rows.delete(rid);
    if (state.keys.get(r.key) === rid) state.keys.delete(r.key);
  }

  function applyAccounts(list, grand) {
    let added = false;
    for (const a of list) {
      added = added || !state.accounts.has(a.id);
      state.accounts.set(a.id, a);
    }
    state.grand = grand;
    if (charts) charts.totals(grand);
    grid.dirtyTotals = true;
    renderOrders();
    ticket.refresh();
    if (added) {
      renderAccountChoices();
      grid.structure = true;
    }
  }

  function applySnapshotPart(msg) {
    if (msg.part === 0) {
      state.pendingParts = { head: msg, rows: [] };
    }
    if (!state.pendingParts) return false;
    for (const a of msg.rows) state.pendingParts.rows.push(a);
    if (msg.part < msg.parts - 1) return false;
    const { head, rows } = state.pendingParts;
    state.pendingParts = null;
    state.col = {};
    head.columns.forEach((name, i) => (state.col[name] = i));
    state.rows.clear();
    state.keys.clear();
    for (const a of rows) addRow(a);
    state.accounts.clear();
    applyAccounts(head.accounts, head.grand);
    renderAccountChoices();
    renderNotices(head.notices);
    addDiscrepancies(head.discrepancies, true);
    state.status = head.status;
    state.snapshots += 1;
    document.body.dataset.snapshots = state.snapshots;
    grid.structure = true;
    grid.dirtyTotals = true;
    schedule();
    return true;
  }

  function applyDelta(msg) {
    for (const rid of msg.removed || []) removeRow(rid);
    for (const a of msg.added || []) addRow(a);
    if ((msg.removed && msg.removed.length) || (msg.added && msg.added.length)) grid.structure = true;
    const cells = msg.cells;
    if (cells) {
      // [rid, n, col, value, col, value, …] repeated
      let i = 0;
      while (i < cells.length) {
        const rid = cells[i];
        const n = cells[i + 1];
        const r = state.rows.get(rid);
        i += 2;
        if (r) {
          for (let k = 0; k < n; k++) r.v[cells[i + 2 * k]] = cells[i + 2 * k + 1];
          grid.dirtyRows.add(rid);
        }
        i += 2 * n;
      }
    }
    if (msg.accounts) applyAccounts(msg.accounts, msg.grand);
    if (msg.notices) renderNotices(msg.notices);
    if (msg.discrepancies) addDiscrepancies(msg.discrepancies, false);
    if (msg.status) {
      state.status = msg.status;
      renderStatus();
    }
    if (msg.t !== undefined && (grid.stamp === null || msg.t < grid.stamp)) grid.stamp = msg.t;
    schedule();
  }

  // ---------------------------------------------------------------- the socket

  let socket = null;
  let backoff = 250;
  let viewSent = null; // the rows on screen as last told to the server

  // Tell the server which rows are on screen (with the overscan): their cells come every
  // frame, the rest of the book at least every half second.
  // ?view=off keeps it to itself (benchmarks compare both in one run).
  const tellView = params.get("view") !== "off";
  function sendView() {
    if (!tellView || !socket || socket.readyState !== WebSocket.OPEN || state.seq < 0) return;
    const rows = [];
    for (const record of grid.pool) if (record.item && record.item.row !== undefined) rows.push(record.item.row);
    const text = JSON.stringify({ type: "view", rows });
    if (text === viewSent) return;
    viewSent = text;
    socket.send(text);
  }

  function connect() {
    const query = token ? "?token=" + encodeURIComponent(token) : "";
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + query);
    socket = ws;
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      stats.messages += 1;
      stats.bytes += event.data.length;
      if (event.data.length > stats.largest) stats.largest = event.data.length;
      const msg = JSON.parse(event.data);
      if (msg.type === "snapshot") {
        if (applySnapshotPart(msg)) {
          state.seq = 0;
          backoff = 250;
          setSocketState("live");
          viewSent = null; // a new connection knows nothing of this page's view yet
          requestAnimationFrame(sendView);
        }
      } else if (msg.seq !== state.seq + 1) {
        ws.close(); // a gap: start over from a fresh snapshot
      } else {
        state.seq = msg.seq;
        applyDelta(msg);
      }
      document.body.dataset.seq = state.seq;
    };
    ws.onclose = () => {
      if (ws !== socket) return;
      socket = null;
      setSocketState("reconnecting");
      // Backoff with jitter, so many pages do not all come back at the same instant.
      setTimeout(connect, backoff + Math.random() * backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  // ---------------------------------------------------------------- the order ticket

  const ticket = (() => {
    const form = $("ticket");
    const field = (name) => form.elements[name];
    const value = (name) => field(name).value.trim();
    const quotes = new Map(); // code -> quote (price, limits, tick table) or a pending promise
    let quoteFor = "";

    const normalCode = (raw) => {
      const text = raw.trim().toUpperCase();
      return text.length === 7 && text[0] === "A" ? text.slice(1) : text;
    };
    const validCode = (code) => /^[0-9A-Z]{6}$/.test(code);
    const wholeNumber = (text) => (/^\d{1,13}$/.test(text.replace(/,/g, "")) ? Number(text.replace(/,/g, "")) : null);

    // The tick of the band holding ``price`` in a tick table [[edge, tick], …] (edge included).
    function tickOf(ticks, price) {
      let size = ticks[0][1];
      for (const [edge, tick] of ticks) if (price >= edge) size = tick;
      return size;
    }
    // One tick up or down from ``price``, landing on the grid (an off-grid price snaps first).
    function stepPrice(ticks, price, up) {
      if (up) {
        const t = tickOf(ticks, price);
        return price % t ? price + (t - (price % t)) : price + t;
      }
      if (price <= 1) return price;
      const t = tickOf(ticks, price - 1);
      return price % t ? price - (price % t) : price - t;
    }

    function quote(code) {
      let q = quotes.get(code);
      if (!q) {
        q = get("/api/quote?code=" + encodeURIComponent(code)).then(
          (data) => {
            quotes.set(code, data);
            return data;
          },
          (error) => {
            quotes.delete(code);
            throw error;
          },
        );
        quotes.set(code, q);
      }
      return Promise.resolve(q);
    }

    const side = () => form.elements.side.value;
    const kind = () => field("order_type").value;

    function sellable(accountId, code) {
      let total = 0;
      for (const r of state.rows.values()) if (r.acct === accountId && r.code === code && r.credit === "cash") total += val(r, "sellable");
      return total;
    }
    function orderable(accountId) {
      const a = state.accounts.get(accountId);
      return a ? a.cash.orderable : 0;
    }

    // Why ``action`` cannot be sent as the form stands, in the page's language, or null.
    function problem(action, q) {
      const account = value("account");
      if (!state.accounts.has(account)) return L("rule_account");
      const orderNo = value("order_no");
      const order = action === "place" ? null : openOrder(account, orderNo);
      if (action !== "place" && !order) return orderNo ? T("rule_not_open", { order_no: orderNo }) : L("rule_pick_order");
      if (action === "cancel") return null;
      const code = action === "place" ? normalCode(value("code")) : order.code;
      if (!validCode(code)) return L("rule_code");
      const qty = wholeNumber(value("qty"));
      if (action === "place" && (qty === null || qty < 1)) return L("rule_qty");
      if (action === "amend" && value("qty") && (qty === null || qty < 1)) return L("rule_qty");
      if (action === "amend" && qty !== null && qty > order.remaining) return T("rule_remaining", { remaining: order.remaining });
      const market = action === "place" && kind() === "market";
      const price = wholeNumber(value("price"));
      if (!market) {
        if (price === null || price < 1) return L("rule_price");
        if (q) {
          const tick = tickOf(q.ticks, price);
          if (price % tick) {
            const below = price - (price % tick);
            return T("rule_tick", { price, tick, below, above: below + tick });
          }
          if (q.upper && price > q.upper) return T("rule_upper", { price, upper: q.upper });
          if (q.lower && price < q.lower) return T("rule_lower", { price, lower: q.lower });
        }
      }
      const buying = action === "place" ? side() === "buy" : order.side === "buy";
      if (action === "place" && !buying) {
        const can = sellable(account, code);
        if (qty > can) return T("rule_sellable", { qty, sellable: can });
      }
      if (buying) {
        const unit = market ? (q && (q.upper || q.price)) || 0 : price;
        const newQty = qty === null ? order.remaining : qty;
        const held = action === "amend" ? order.price * order.remaining : 0;
        const need = unit * newQty - held;
        const cash = orderable(account);
        if (need > cash) return T("rule_cash", { need, orderable: cash });
      }
      return null;
    }

    const out = $("ticket-result");
    function show(stateName, text) {
      out.dataset.state = stateName;
      out.textContent = text;
    }
    function clear() {
      out.dataset.state = "";
      delete out.dataset.orderNo;
      out.textContent = "";
    }

    function showQuote(q) {
      const box = $("ticket-quote");
      if (!q) {
        box.textContent = "";
        $("ticket-limits").textContent = "";
        return;
      }
      box.replaceChildren();
      const name = document.createElement("strong");
      name.textContent = q.name || q.code;
      const price = document.createElement("span");
      price.textContent = " " + int(q.price) + " ";
      price.className = sign(q.price - q.base);
      box.append(name, price);
      if (q.upper) box.append(L("upper") + " " + int(q.upper) + " · " + L("lower") + " " + int(q.lower));
      const account = value("account");
      $("ticket-limits").textContent = L("sellable") + " " + int(sellable(account, q.code)) + " · " + L("orderable") + " " + int(orderable(account));
    }

    async function currentQuote(code) {
      if (!validCode(code)) return null;
      try {
        return await quote(code);
      } catch (error) {
        show("error", error.message);
        return null;
      }
    }

    async function onCode() {
      const code = normalCode(value("code"));
      if (!validCode(code)) {
        quoteFor = "";
        showQuote(null);
        return;
      }
      quoteFor = code;
      const q = await currentQuote(code);
      if (q && quoteFor === code) {
        showQuote(q);
        // Never into a field the user is typing in: a quote that lands mid-typing glued its
        // price onto what was typed.
        const typing = document.activeElement === field("price");
        if (!value("price") && !typing && kind() === "limit") field("price").value = q.price;
      }
    }

    async function submit(action) {
      clear();
      const orderNo = value("order_no");
      const account = value("account");
      const order = action === "place" ? null : openOrder(account, orderNo);
      const code = action === "place" ? normalCode(value("code")) : order ? order.code : "";
      const needsQuote = action !== "cancel" && validCode(code) && !(action === "place" && kind() === "market" && side() === "sell");
      const q = needsQuote ? await currentQuote(code) : null;
      if (needsQuote && !q) return; // the quote's own error is on screen
      const why = problem(action, q);
      if (why) {
        show("refused", why);
        return;
      }
      show("pending", L("sending"));
      try {
        let ack;
        if (action === "place") {
          const market = kind() === "market";
          ack = await post("/api/orders", { account, side: side(), code, qty: value("qty").replace(/,/g, ""), price: market ? 0 : value("price").replace(/,/g, ""), order_type: market ? "market" : "limit" });
        } else if (action === "amend") {
          ack = await post("/api/orders/" + encodeURIComponent(orderNo) + "/amend", { account, price: value("price").replace(/,/g, ""), qty: value("qty").replace(/,/g, "") || null });
        } else {
          ack = await post("/api/orders/" + encodeURIComponent(orderNo) + "/cancel", { account });
        }
        out.dataset.orderNo = ack.order_no;
        show("ok", L(action === "place" ? "answer_placed" : action === "amend" ? "answer_amended" : "answer_cancelled") + " #" + ack.order_no + (ack.message ? " — " + ack.message : ""));
        out.dataset.orderNo = ack.order_no;
        // The ticket follows the order it acted on: an amend gives the order a new number.
        if (action !== "cancel") field("order_no").value = ack.order_no;
        else field("order_no").value = "";
        renderOrders();
      } catch (error) {
        show("error", error.message);
      }
    }

    function follow(accountId, o) {
      field("account").value = accountId;
      field("order_no").value = o.order_no;
      field("code").value = o.code;
      field("qty").value = o.remaining;
      field("price").value = o.price || "";
      field("order_type").value = o.price ? "limit" : "market";
      for (const input of form.elements.side) input.checked = input.value === o.side;
      clear();
      onCode();
      renderOrders();
      openSheet();
    }

    function fromRow(r) {
      field("account").value = r.acct;
      field("code").value = r.code;
      field("price").value = val(r, "price") || "";
      field("order_no").value = "";
      clear();
      onCode();
      openSheet();
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit("place");
    });
    $("ticket-amend").addEventListener("click", () => submit("amend"));
    $("ticket-cancel").addEventListener("click", () => submit("cancel"));
    // An old answer or refusal goes away as soon as the order is changed.
    form.addEventListener("input", (event) => {
      if (out.dataset.state) clear();
      if (event.target === field("code")) onCode();
      if (event.target === field("order_no")) renderOrders();
    });
    form.addEventListener("change", (event) => {
      if (event.target === field("order_type")) field("price").disabled = kind() === "market";
      if (event.target === field("account")) onCode();
    });
    // Arrow keys step the price by the tick of its band.
    field("price").addEventListener("keydown", async (event) => {
      if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
      event.preventDefault();
      const order = openOrder(value("account"), value("order_no"));
      const code = normalCode(value("code")) || (order && order.code);
      const q = await currentQuote(code);
      const price = wholeNumber(value("price")) || (q ? q.price : 0);
      if (!q || !price) return;
      let next = stepPrice(q.ticks, price, event.key === "ArrowUp");
      if (q.upper) next = Math.min(Math.max(next, q.lower), q.upper);
      field("price").value = next;
      if (out.dataset.state) clear();
    });

    return {
      follow,
      fromRow,
      orderNo: () => value("order_no"),
      refresh: () => {
        const q = quotes.get(quoteFor);
        if (q && !(q instanceof Promise)) showQuote(q);
      },
    };
  })();

  function openSheet() {
    document.body.dataset.sheet = "open";
  }
  $("ticket-open").addEventListener("click", () => {
    document.body.dataset.sheet = document.body.dataset.sheet === "open" ? "closed" : "open";
  });
  $("ticket-close").addEventListener("click", () => (document.body.dataset.sheet = "closed"));

  // ---------------------------------------------------------------- requests

  function headers(extra) {
    const h = { "Accept-Language": lang, ...extra };
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }
  async function answer(response) {
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }
  const get = async (path) => answer(await fetch(path, { headers: headers({}) }));
  const post = async (path, body) => answer(await fetch(path, { method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body) }));

  // ---------------------------------------------------------------- language, events, start

  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-label]")) el.textContent = L(el.dataset.label);
    for (const el of document.querySelectorAll("[data-placeholder]")) el.placeholder = L(el.dataset.placeholder);
    const query = new URLSearchParams(location.search);
    query.set("lang", lang);
    history.replaceState(null, "", "?" + query.toString());
    const download = new URLSearchParams({ lang });
    if (token) download.set("token", token);
    $("download").href = "/api/export.xlsx?" + download.toString();
    renderHead();
    renderAccountChoices();
    for (const record of grid.pool) record.item && paintItem(record, record.item);
    for (const record of summary.values()) record.texts.fill(null);
    grid.structure = true;
    grid.dirtyTotals = true;
    schedule();
    renderOrders();
    renderNotices(state.notices);
    renderStatus();
  }

  function setup() {
    const body = $("holdings-body");
    grid.top = document.createElement("tr");
    grid.top.className = "spacer";
    grid.bottom = document.createElement("tr");
    grid.bottom.className = "spacer";
    body.append(grid.top, grid.bottom);
    $("grid-wrap").addEventListener("scroll", () => renderGrid(false), { passive: true });
    body.addEventListener("click", (event) => {
      const tr = event.target.closest("tr.row");
      const rid = tr && state.keys.get(tr.dataset.key);
      if (rid !== undefined && state.rows.has(rid)) ticket.fromRow(state.rows.get(rid));
    });
    for (const id of ["filter", "account-filter"]) {
      $(id).addEventListener("input", () => {
        grid.structure = true;
        grid.dirtyTotals = true;
        $("grid-wrap").scrollTop = 0;
        schedule();
      });
    }
    window.addEventListener("resize", () => {
      measure();
      placeFrozen();
      renderGrid(true);
    });
    measure();
    $("lang-toggle").addEventListener("click", () => {
      lang = lang === "ko" ? "en" : "ko";
      applyLanguage();
    });
  }

  // For tests and benchmarks: what the page received and how long repaints took.
  window.jango = {
    stats,
    visibleKeys: () => grid.pool.map((r) => r.tr.dataset.key),
    modelSize: () => state.rows.size,
  };

  function startCharts() {
    if (!charts) return;
    const trend = COLUMNS.findIndex((col) => col.id === "trend");
    charts.start({
      L,
      int,
      rows: () => state.rows.values(),
      col: () => state.col,
      visible: () => grid.pool.map((record) => [record.item ? record.item.row : undefined, record.tds[trend]]),
    });
    fetch("/api/history", { headers: headers() })
      .then((response) => (response.ok ? response.json() : null))
      .then((payload) => payload && charts.history(payload))
      .catch(() => {}); // the live points still come with every totals update
  }

  setup();
  applyLanguage();
  setSocketState("connecting");
  startCharts();
  connect();
})();
