// jango live page: a snapshot, then numbered deltas over one WebSocket.
// Every holding row keeps one <td> per column and remembers what it shows, so a delta
// repaints only the cells whose text or colour really changed (1,000 rows stay cheap).
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token") || "";
  const ALL_LABELS = JSON.parse(document.getElementById("labels").textContent);
  let lang = ["ko", "en"].includes(params.get("lang")) ? params.get("lang") : document.documentElement.lang;

  const $ = (id) => document.getElementById(id);
  const L = (key) => ALL_LABELS[lang][key] || key;
  const intFormat = new Intl.NumberFormat("ko-KR");
  const int = (n) => intFormat.format(n);
  // Korean convention: red for up, blue for down.
  const sign = (n) => (n > 0 ? "up" : n < 0 ? "down" : "");

  // Exact: "-12345.6789" -> "-12,345.67" (truncated), without going through a float.
  function decimal(text, places) {
    const negative = text.startsWith("-");
    const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-" : "") + grouped + "." + (fraction + "0".repeat(places)).slice(0, places);
  }

  // P&L as a percentage of cost, truncated to 2 places, in integers (BigInt) like the server.
  function rate(pnl, cost) {
    if (!cost) return "0.00";
    const hundredths = (BigInt(pnl) * 10000n) / BigInt(cost);
    const negative = hundredths < 0n;
    const digits = (negative ? -hundredths : hundredths).toString().padStart(3, "0");
    return decimal((negative ? "-" : "") + digits.slice(0, -2) + "." + digits.slice(-2), 2);
  }

  function signed(n) {
    return n > 0 ? "▲ " + int(n) : n < 0 ? "▼ " + int(-n) : "0";
  }

  const state = {
    accounts: new Map(), // id -> {id, label, cash, totals, open_orders}
    rows: new Map(), // row key -> record (see makeRecord)
    grand: null,
    sort: { column: null, direction: 1 },
    seq: -1,
    snapshots: 0,
  };

  const accountLabel = (id) => (state.accounts.get(id) || { label: id }).label;

  // ---------------------------------------------------------------- holdings grid

  const COLUMNS = [
    { id: "account", text: (r) => accountLabel(r.acct) },
    { id: "code", text: (r) => r.code },
    { id: "name", text: (r) => r.name },
    { id: "credit", text: (r) => L("credit_" + r.credit) },
    { id: "loan_date", text: (r) => r.loan_date || "" },
    { id: "qty", num: true, text: (r) => int(r.qty) },
    { id: "sellable", num: true, text: (r) => int(r.sellable) },
    { id: "avg_price", num: true, text: (r) => decimal(r.avg_price, 2), value: (r) => Number(r.avg_price) },
    { id: "purchase_amount", num: true, text: (r) => int(r.purchase_amount) },
    { id: "price", num: true, text: (r) => (r.price ? int(r.price) : "-"), cls: (r) => sign(r.diff) },
    { id: "diff", num: true, text: (r) => signed(r.diff), cls: (r) => sign(r.diff) },
    { id: "value", num: true, text: (r) => int(r.value) },
    { id: "pnl", num: true, text: (r) => int(r.pnl), cls: (r) => sign(r.pnl) },
    { id: "pnl_rate", num: true, text: (r) => decimal(r.pnl_rate, 2), cls: (r) => sign(r.pnl), value: (r) => Number(r.pnl_rate) },
  ];

  // Total rows reuse the grid's columns; these are the ones they fill.
  const TOTAL_COLUMNS = {
    account: (t) => t.label,
    name: () => L("total"),
    purchase_amount: (t) => int(t.totals.purchase_amount),
    value: (t) => int(t.totals.value),
    pnl: (t) => int(t.totals.pnl),
    pnl_rate: (t) => rate(t.totals.pnl, t.totals.purchase_amount),
  };
  const TOTAL_SIGNED = new Set(["pnl", "pnl_rate"]);

  function makeRecord(key, columns) {
    const tr = document.createElement("tr");
    tr.dataset.key = key;
    const tds = columns.map((col) => {
      const td = document.createElement("td");
      td.dataset.col = col.id;
      if (col.num) td.className = "num";
      tr.appendChild(td);
      return td;
    });
    return { key, tr, tds, texts: columns.map(() => null), classes: columns.map(() => ""), data: null };
  }

  // The one place cells are written: only when what they show differs.
  function paint(record, columns, textOf, classOf) {
    columns.forEach((col, i) => {
      const text = textOf(col);
      if (text !== record.texts[i]) {
        record.tds[i].textContent = text;
        record.texts[i] = text;
      }
      const cls = classOf(col);
      if (cls !== record.classes[i]) {
        record.tds[i].className = (col.num ? "num " : "") + cls;
        record.classes[i] = cls;
      }
    });
  }

  function paintRow(record) {
    const row = record.data;
    paint(record, COLUMNS, (col) => col.text(row), (col) => (col.cls ? col.cls(row) : ""));
  }

  function upsertRow(row) {
    let record = state.rows.get(row.key);
    const added = !record;
    if (added) {
      record = makeRecord(row.key, COLUMNS);
      state.rows.set(row.key, record);
    }
    record.data = row;
    paintRow(record);
    return added;
  }

  function removeRow(key) {
    const record = state.rows.get(key);
    if (!record) return;
    record.tr.remove();
    state.rows.delete(key);
  }

  // Rows keep their place while values change (nothing jumps under the cursor); the order is
  // applied on a header click and when rows are added.
  function sortRows() {
    const { column, direction } = state.sort;
    const records = [...state.rows.values()];
    if (column) {
      const value = column.value || ((r) => r[column.id]);
      records.sort((a, b) => {
        const x = value(a.data);
        const y = value(b.data);
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""), "ko");
        return order * direction || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
      });
    } else {
      records.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    const body = $("holdings-body");
    const fragment = document.createDocumentFragment();
    records.forEach((r) => fragment.appendChild(r.tr));
    body.appendChild(fragment);
  }

  function renderHead() {
    const head = $("holdings-head");
    head.replaceChildren(
      ...COLUMNS.map((col) => {
        const th = document.createElement("th");
        th.dataset.col = col.id;
        th.textContent = L(col.id);
        if (col.num) th.className = "num";
        if (state.sort.column === col) th.dataset.sort = state.sort.direction > 0 ? "asc" : "desc";
        th.addEventListener("click", () => {
          state.sort.direction = state.sort.column === col ? -state.sort.direction : 1;
          state.sort.column = col;
          renderHead();
          sortRows();
        });
        return th;
      }),
    );
    fillHead("cash-head", ["account", "deposit", "d2", "orderable", "realized_gross", "realized_net", "commission", "tax"]);
    fillHead("orders-head", ["account", "order_no", "code", "side", "order_qty", "order_price", "filled", "remaining", ""]);
    fillHead("discrepancies-head", ["time", "account", "code", "field", "computed", "reported", "reason"]);
  }

  function fillHead(id, keys) {
    $(id).replaceChildren(
      ...keys.map((key) => {
        const th = document.createElement("th");
        th.textContent = key ? L(key) : "";
        return th;
      }),
    );
  }

  // ---------------------------------------------------------------- totals, cash, orders

  const totals = new Map(); // total key -> record

  function totalsSources() {
    const list = [...state.accounts.values()].map((a) => ({ key: "total:" + a.id, label: a.label, totals: a.totals, cash: a.cash }));
    if (state.grand && state.accounts.size > 1) {
      list.push({ key: "total:all", label: L("all_accounts"), totals: state.grand, cash: state.grand });
    }
    return list;
  }

  function paintTotals() {
    const foot = $("holdings-foot");
    const cash = $("cash-body");
    const seen = new Set();
    for (const source of totalsSources()) {
      seen.add(source.key);
      let record = totals.get(source.key);
      if (!record) {
        record = { grid: makeRecord(source.key, COLUMNS), cash: makeRecord(source.key, CASH_COLUMNS) };
        totals.set(source.key, record);
        foot.appendChild(record.grid.tr);
        cash.appendChild(record.cash.tr);
      }
      paint(
        record.grid,
        COLUMNS,
        (col) => (TOTAL_COLUMNS[col.id] ? TOTAL_COLUMNS[col.id](source) : ""),
        (col) => (TOTAL_SIGNED.has(col.id) ? sign(source.totals.pnl) : ""),
      );
      paint(record.cash, CASH_COLUMNS, (col) => col.text(source), (col) => (col.signed ? sign(source.totals[col.id]) : ""));
    }
    for (const [key, record] of totals) {
      if (!seen.has(key)) {
        record.grid.tr.remove();
        record.cash.tr.remove();
        totals.delete(key);
      }
    }
  }

  const CASH_COLUMNS = [
    { id: "account", text: (s) => s.label },
    { id: "deposit", num: true, text: (s) => int(s.cash.deposit) },
    { id: "d2", num: true, text: (s) => int(s.cash.d2) },
    { id: "orderable", num: true, text: (s) => int(s.cash.orderable) },
    { id: "realized_gross", num: true, signed: true, text: (s) => int(s.totals.realized_gross) },
    { id: "realized_net", num: true, signed: true, text: (s) => int(s.totals.realized_net) },
    { id: "commission", num: true, text: (s) => int(s.totals.commission) },
    { id: "tax", num: true, text: (s) => int(s.totals.tax) },
  ];

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function renderOrders() {
    const rows = [];
    for (const account of state.accounts.values()) {
      for (const o of account.open_orders) {
        const tr = document.createElement("tr");
        tr.dataset.orderNo = o.order_no;
        tr.append(
          cell(account.label),
          cell(o.order_no),
          cell(o.code),
          cell(L(o.side), o.side === "buy" ? "up" : "down"),
          cell(int(o.qty), "num"),
          cell(o.price ? int(o.price) : L("market_order"), "num"),
          cell(int(o.filled), "num"),
          cell(int(o.remaining), "num"),
        );
        const pick = document.createElement("button");
        pick.type = "button";
        pick.textContent = L("amend") + "/" + L("cancel");
        pick.addEventListener("click", () => {
          $("ticket-account").value = account.id;
          $("ticket-order-no").value = o.order_no;
          $("ticket-code").value = o.code;
          $("ticket-qty").value = o.remaining;
          $("ticket-price").value = o.price || "";
        });
        const td = document.createElement("td");
        td.appendChild(pick);
        tr.appendChild(td);
        rows.push(tr);
      }
    }
    $("orders-body").replaceChildren(...rows);
  }

  function renderAccountChoices() {
    const select = $("ticket-account");
    const chosen = select.value;
    select.replaceChildren(
      ...[...state.accounts.values()].map((a) => {
        const option = document.createElement("option");
        option.value = a.id;
        option.textContent = a.label;
        return option;
      }),
    );
    if (state.accounts.has(chosen)) select.value = chosen;
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

  function renderStatus() {
    const ws = document.body.dataset.ws;
    $("ws-state").textContent = L(ws);
    const engine = state.status;
    const text = engine ? (engine.connected ? "" : L("engine_down") + " — ") + engine.detail + (engine.reconnects ? " · " + L("reconnects") + " " + engine.reconnects : "") : "";
    $("engine-state").textContent = text;
    document.body.dataset.engine = engine && engine.connected ? "up" : "down";
    // A task that stopped (the pump, a reader): the book may not be following the market.
    const problems = (engine && engine.problems) || [];
    const banner = $("degraded");
    banner.hidden = problems.length === 0;
    banner.replaceChildren(
      ...problems.map((p) => {
        const line = document.createElement("div");
        line.dataset.task = p.task;
        line.dataset.permanent = p.permanent;
        line.textContent = L("degraded") + ": " + p.text;
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

  function applySnapshot(msg) {
    state.accounts.clear();
    for (const a of msg.accounts) state.accounts.set(a.id, a);
    state.grand = msg.grand;
    for (const record of state.rows.values()) record.tr.remove();
    state.rows.clear();
    for (const a of msg.accounts) for (const row of a.rows) upsertRow(row);
    sortRows();
    paintTotals();
    renderOrders();
    renderAccountChoices();
    renderNotices(msg.notices);
    addDiscrepancies(msg.discrepancies, true);
    state.status = msg.status;
    state.snapshots += 1;
    document.body.dataset.snapshots = state.snapshots;
  }

  function applyDelta(msg) {
    let added = false;
    for (const row of msg.rows || []) added = upsertRow(row) || added;
    for (const key of msg.removed || []) removeRow(key);
    if (added) sortRows();
    if (msg.accounts) {
      let newAccount = false;
      for (const a of msg.accounts) {
        newAccount = newAccount || !state.accounts.has(a.id);
        state.accounts.set(a.id, a);
      }
      state.grand = msg.grand;
      paintTotals();
      renderOrders();
      if (newAccount) renderAccountChoices();
    }
    if (msg.notices) renderNotices(msg.notices);
    if (msg.discrepancies) addDiscrepancies(msg.discrepancies, false);
    if (msg.status) state.status = msg.status;
  }

  // ---------------------------------------------------------------- the socket

  let socket = null;
  let backoff = 250;

  function connect() {
    const query = token ? "?token=" + encodeURIComponent(token) : "";
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + query);
    socket = ws;
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      const msg = JSON.parse(event.data);
      if (msg.type === "snapshot") {
        applySnapshot(msg);
        state.seq = 0;
        backoff = 250;
        setSocketState("live");
      } else if (msg.seq !== state.seq + 1) {
        ws.close(); // a gap: start over from a fresh snapshot
      } else {
        state.seq = msg.seq;
        applyDelta(msg);
        if (msg.status) renderStatus();
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

  async function send(path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }

  function ticketAction(action) {
    const form = $("ticket");
    const v = (name) => form.elements[name].value.trim();
    const account = v("account");
    const orderNo = v("order_no");
    if (action === "place") {
      return send("/api/orders", { account, side: form.elements.side.value, code: v("code"), qty: v("qty"), price: v("price") || 0 });
    }
    const path = "/api/orders/" + encodeURIComponent(orderNo) + "/" + action;
    return action === "amend" ? send(path, { account, price: v("price"), qty: v("qty") || null }) : send(path, { account });
  }

  async function submit(action) {
    const out = $("ticket-result");
    try {
      const ack = await ticketAction(action);
      out.dataset.state = "ok";
      out.dataset.orderNo = ack.order_no;
      out.textContent = L("sent") + " #" + ack.order_no + (ack.message ? " — " + ack.message : "");
    } catch (error) {
      out.dataset.state = "error";
      delete out.dataset.orderNo;
      out.textContent = L("error") + ": " + error.message;
    }
  }

  // ---------------------------------------------------------------- language

  function applyLanguage() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-label]")) el.textContent = L(el.dataset.label);
    const query = new URLSearchParams(location.search);
    query.set("lang", lang);
    history.replaceState(null, "", "?" + query.toString());
    const download = new URLSearchParams({ lang });
    if (token) download.set("token", token);
    $("download").href = "/api/export.xlsx?" + download.toString();
    renderHead();
    for (const record of state.rows.values()) paintRow(record);
    paintTotals();
    renderOrders();
    renderNotices(state.notices || []);
    renderStatus();
  }

  $("lang-toggle").addEventListener("click", () => {
    lang = lang === "ko" ? "en" : "ko";
    applyLanguage();
  });
  $("ticket").addEventListener("submit", (event) => {
    event.preventDefault();
    submit("place");
  });
  $("ticket-amend").addEventListener("click", () => submit("amend"));
  $("ticket-cancel").addEventListener("click", () => submit("cancel"));

  applyLanguage();
  setSocketState("connecting");
  connect();
})();
