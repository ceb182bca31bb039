// jango charts: the day's valuation and P&L, the allocation by holding and by market, and a
// sparkline of each visible row's price, drawn with uPlot (installed by npm, served from
// /static/vendor). Without uPlot the page works as before and the charts panel says why.
//
// app.js owns the model; it hands this module functions to read it (rows, columns, labels) and
// calls totals() with every totals update. Everything here is sampled on timers, so a burst of
// ticks costs the charts nothing until the next second.
"use strict";

window.jangoCharts = (() => {
  const available = typeof window.uPlot === "function";
  const SPARK_POINTS = 60; // one a second: the last minute of each row's price
  const TOP_HOLDINGS = 12;
  const DAY_POINTS = 30000;
  let env = null; // {L, int, rows: () => iterable, col: () => {name: index}, visible: () => [[rid, td]]}
  let day = null;
  let holdingsChart = null;
  let marketsChart = null;
  const dayData = [[], [], []]; // t (s), value, pnl
  let lastDayPoint = 0;
  const sparks = new Map(); // rid -> {prices: [], version}
  const sampled = { spark: 0, allocation: 0 };

  const css = (name) => getComputedStyle(document.body).getPropertyValue(name).trim();
  const upColor = () => css("--up") || "#d20000";
  const downColor = () => css("--down") || "#0046c8";
  const flatColor = () => css("--muted") || "#888";
  const colorOf = (n) => (n > 0 ? upColor() : n < 0 ? downColor() : flatColor());

  const kst = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Seoul");
  // Won on an axis: 억 and 만 as a Korean screen writes them.
  function compact(n) {
    const a = Math.abs(n);
    if (a >= 1e8) return (n / 1e8).toFixed(a >= 1e10 ? 0 : 1) + "억";
    if (a >= 1e4) return Math.round(n / 1e4).toLocaleString("ko-KR") + "만";
    return String(Math.round(n));
  }

  function widthOf(el) {
    return Math.max(160, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 320));
  }

  // ------------------------------------------------------------ the day's totals

  function makeDay() {
    const el = document.getElementById("chart-day");
    day = new uPlot(
      {
        width: widthOf(el),
        height: 180,
        tzDate: kst,
        legend: { live: false },
        scales: { v: { auto: true }, p: { auto: true } },
        series: [
          {},
          // With the cost unchanged the two lines coincide: P&L is valuation less cost.
          { label: env.L("value"), scale: "v", stroke: flatColor(), width: 1, dash: [4, 3], points: { show: false }, value: (u, v) => (v == null ? "-" : env.int(v)) },
          { label: env.L("pnl"), scale: "p", stroke: (u) => colorOf(last(dayData[2])), width: 2, points: { show: false }, value: (u, v) => (v == null ? "-" : env.int(v)) },
        ],
        axes: [
          {},
          { scale: "v", values: (u, vals) => vals.map(compact), size: 70 },
          { scale: "p", side: 1, values: (u, vals) => vals.map(compact), size: 64, grid: { show: false } },
        ],
      },
      dayData,
      el,
    );
  }

  const last = (a) => (a.length ? a[a.length - 1] : 0);

  function setHistory(payload) {
    dayData[0] = payload.t.slice();
    dayData[1] = payload.value.slice();
    dayData[2] = payload.pnl.slice();
    lastDayPoint = last(dayData[0]);
    if (day) day.setData(dayData);
  }

  function totals(grand) {
    if (!available || !grand) return;
    const now = Date.now() / 1000;
    if (now - lastDayPoint < 1) return; // one point a second at most
    lastDayPoint = now;
    dayData[0].push(now);
    dayData[1].push(grand.value || 0);
    dayData[2].push(grand.pnl || 0);
    if (dayData[0].length > DAY_POINTS) for (const s of dayData) s.splice(0, s.length - DAY_POINTS);
    if (day) day.setData(dayData);
  }

  // ------------------------------------------------------------ allocation

  // Horizontal bars (uPlot's x scale turned vertical), one colour per bar by its P&L.
  function makeBars(id) {
    const el = document.getElementById(id);
    const state = { names: [], pnls: [] };
    const chart = new uPlot(
      {
        width: widthOf(el),
        height: 220,
        legend: { show: false },
        cursor: { show: false },
        select: { show: false },
        scales: { x: { time: false, ori: 1, dir: -1, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { ori: 0, range: (u, min, max) => [0, Math.max(1, max)] } },
        axes: [
          { side: 3, size: 92, gap: 4, grid: { show: false }, ticks: { show: false }, splits: () => state.names.map((_, i) => i), values: (u, splits) => splits.map((i) => state.names[i] || "") },
          { side: 2, size: 28, space: 70, values: (u, vals) => vals.map(compact) },
        ],
        series: [
          {},
          {
            label: env.L("value"),
            fill: flatColor(),
            stroke: flatColor(),
            // Per-bar colours need both facets (uPlot draws per-bar fills only with strokes too).
            paths: uPlot.paths.bars({ size: [0.7, 24], disp: { fill: { unit: 3, values: () => state.pnls.map(colorOf) }, stroke: { unit: 3, values: () => state.pnls.map(colorOf) } } }),
            points: { show: false },
          },
        ],
      },
      [[], []],
      el,
    );
    return { chart, state };
  }

  function allocation() {
    const col = env.col();
    const byCode = new Map();
    const byMarket = new Map();
    for (const r of env.rows()) {
      const value = r.v[col.value] || 0;
      const pnl = r.v[col.pnl] || 0;
      const h = byCode.get(r.code) || { name: r.name || r.code, value: 0, pnl: 0 };
      h.value += value;
      h.pnl += pnl;
      byCode.set(r.code, h);
      const known = env.L("market_name_" + r.market);
      const m = byMarket.get(r.market) || { name: known === "market_name_" + r.market ? r.market : known, value: 0, pnl: 0 };
      m.value += value;
      m.pnl += pnl;
      byMarket.set(r.market, m);
    }
    const holdings = [...byCode.values()].sort((a, b) => b.value - a.value);
    const top = holdings.slice(0, TOP_HOLDINGS);
    const rest = holdings.slice(TOP_HOLDINGS);
    if (rest.length) {
      top.push({ name: env.L("others") + " " + rest.length, value: rest.reduce((s, h) => s + h.value, 0), pnl: rest.reduce((s, h) => s + h.pnl, 0) });
    }
    drawBars(holdingsChart, top);
    drawBars(marketsChart, [...byMarket.values()].sort((a, b) => b.value - a.value));
  }

  function drawBars(bars, items) {
    bars.state.names = items.map((h) => h.name);
    bars.state.pnls = items.map((h) => h.pnl);
    bars.chart.setData([items.map((_, i) => i), items.map((h) => h.value)]);
  }

  // ------------------------------------------------------------ sparklines

  function sampleSparks() {
    const col = env.col();
    const seen = new Set();
    for (const r of env.rows()) {
      seen.add(r.rid);
      const price = r.v[col.price] || 0;
      let s = sparks.get(r.rid);
      if (!s) {
        s = { prices: [], version: 0 };
        sparks.set(r.rid, s);
      }
      if (!price) continue;
      s.prices.push(price);
      if (s.prices.length > SPARK_POINTS) s.prices.shift();
      s.version += 1;
    }
    for (const rid of sparks.keys()) if (!seen.has(rid)) sparks.delete(rid);
  }

  function sparkChart(td) {
    const u = new uPlot(
      {
        width: Math.max(40, td.clientWidth - 8 || 56),
        height: 16,
        pxAlign: 0,
        legend: { show: false },
        cursor: { show: false },
        select: { show: false },
        scales: { x: { time: false } },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: (self) => self.jangoColor || flatColor(), width: 1, points: { show: false } }],
      },
      [[], []],
      td,
    );
    return { u, rid: null, version: -1 };
  }

  // Each visible row's cell shows its own row's line; a pooled cell that now shows another row
  // (after a scroll) is redrawn with that row's prices.
  function paintSparks() {
    for (const [rid, td] of env.visible()) {
      if (!td) continue;
      if (rid === undefined || rid === null) {
        if (td.jangoSpark) td.jangoSpark.u.root.hidden = true;
        continue;
      }
      const s = sparks.get(rid);
      if (!td.jangoSpark) td.jangoSpark = sparkChart(td);
      const spark = td.jangoSpark;
      spark.u.root.hidden = false;
      const version = s ? s.version : 0;
      if (spark.rid === rid && spark.version === version) continue;
      spark.rid = rid;
      spark.version = version;
      const prices = s ? s.prices : [];
      spark.u.jangoColor = colorOf(prices.length > 1 ? prices[prices.length - 1] - prices[0] : 0);
      spark.u.setData([prices.map((_, i) => i), prices]);
    }
  }

  // ------------------------------------------------------------ start

  function tick() {
    const now = Date.now();
    if (now - sampled.spark >= 1000) {
      sampled.spark = now;
      sampleSparks();
      paintSparks();
    }
    if (now - sampled.allocation >= 2000) {
      sampled.allocation = now;
      allocation();
    }
  }

  function resize() {
    for (const [chart, id] of [[day, "chart-day"], [holdingsChart && holdingsChart.chart, "chart-holdings"], [marketsChart && marketsChart.chart, "chart-markets"]]) {
      if (chart) chart.setSize({ width: widthOf(document.getElementById(id)), height: chart.height });
    }
  }

  function start(options) {
    env = options;
    const note = document.getElementById("charts-note");
    if (!available) {
      note.textContent = env.L("charts_unavailable");
      note.hidden = false;
      document.body.dataset.charts = "unavailable";
      return;
    }
    note.hidden = true;
    makeDay();
    holdingsChart = makeBars("chart-holdings");
    marketsChart = makeBars("chart-markets");
    window.addEventListener("resize", resize);
    setInterval(tick, 250);
    document.body.dataset.charts = "ready";
  }

  // The row's cells were rebound to another row (scroll, sort, filter): draw it at once.
  function rebound() {
    if (available && env) paintSparks();
  }

  return {
    available,
    start,
    history: (payload) => available && setHistory(payload),
    totals,
    rebound,
    // For tests: what each chart holds now.
    points: () => dayData[0].length,
    bars: () => (holdingsChart ? holdingsChart.state.names.slice() : []),
    markets: () => (marketsChart ? marketsChart.state.names.slice() : []),
    sparkLengths: () => env.visible().map(([rid, td]) => (td && td.jangoSpark && td.jangoSpark.rid === rid ? (sparks.get(rid) || { prices: [] }).prices.length : -1)),
  };
})();
