/* bertology interactive report: draws index.html from the JSON inlined in it (page.py).
 * Plain JavaScript and canvas, no library, no request of any kind. Layers and heads are shown
 * 1-based; state and data are 0-based like run.h5.
 *
 *   sections   generic blocks from page.py: grid ([L, H] values: hover, click selects the head),
 *              curve (SVG), table, text
 *   attention  example picker, head view (bertviz-style, canvas), the selected head's map
 *              (PNG/SVG export), model view (L x H small maps, click to enlarge)
 *
 * Attention maps are decoded per example when picked: base64 -> zlib (DecompressionStream) ->
 * bytes (value = byte / 255), dense rows or the top k of each row. */
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("bt-data").textContent);
  const L = DATA.L, H = DATA.H;
  const EX = DATA.examples;                    // null without saved attentions
  const HV = DATA.head_values;                 // key -> {label, values [L][H], fmt, cmap, vmin, vmax}
  const NAN_COLOUR = "#d0d0d0";
  const DPR = window.devicePixelRatio || 1;

  const state = {
    layer: 0, head: 0,                         // the selected head
    row: null, attn: null,                     // the example shown and its decoded maps
    hvHeads: new Set(), hvHover: null,         // head view: heads drawn, hovered token
    topk: "auto", thr: 0,                      // head view filters per query row
    scale: "absolute",                         // map colours: absolute or per-row max
    redraw: [],                                // grids etc. to redraw when the head changes
  };

  // ---- small helpers ----------------------------------------------------------------------

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of [].concat(children || [])) if (c != null) e.append(c);
    return e;
  }

  function fmt(v, f) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "n/a";
    if (typeof v !== "number") return String(v);
    const m = /^\.(\d+)([fg])$/.exec(f || ".3f");
    if (!m) return String(v);
    return m[2] === "f" ? v.toFixed(+m[1]) : String(+v.toPrecision(+m[1]));
  }

  // "code" spans of the notes page.py writes in Markdown style
  function richText(s) {
    const out = el("span");
    String(s).split("`").forEach((part, i) => out.append(i % 2 ? el("code", { text: part }) : part));
    return out;
  }

  const LUTS = {};
  function lut(name) {
    if (!LUTS[name]) {
      const hex = DATA.colormaps[name], a = new Uint8Array(hex.length / 2);
      for (let i = 0; i < a.length; i++) a[i] = parseInt(hex.substr(2 * i, 2), 16);
      LUTS[name] = a;
    }
    return LUTS[name];
  }
  function rgbOf(name, t) {                    // t in [0, 1] -> [r, g, b]
    const a = lut(name), i = 3 * Math.max(0, Math.min(255, Math.round(t * 255)));
    return [a[i], a[i + 1], a[i + 2]];
  }
  function cssOf(rgb) { return "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")"; }
  function headColour(h, alpha) {
    return "hsla(" + Math.round(360 * h / Math.max(H, 1)) + ",75%,42%," + (alpha === undefined ? 1 : alpha) + ")";
  }
  function lh(l, h) { return "layer " + (l + 1) + ", head " + (h + 1); }

  function sizedCanvas(w, h) {
    const c = el("canvas");
    c.width = Math.round(w * DPR); c.height = Math.round(h * DPR);
    c.style.width = w + "px"; c.style.height = h + "px";
    const g = c.getContext("2d");
    g.setTransform(DPR, 0, 0, DPR, 0, 0);
    return [c, g];
  }
  function resize(c, w, h) {
    c.width = Math.round(w * DPR); c.height = Math.round(h * DPR);
    c.style.width = w + "px"; c.style.height = h + "px";
    const g = c.getContext("2d");
    g.setTransform(DPR, 0, 0, DPR, 0, 0);
    return g;
  }
  function mousePos(c, ev) {
    const r = c.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  const tooltip = el("div", { id: "tooltip" });
  function showTip(ev, content) {
    tooltip.replaceChildren(content);
    tooltip.style.display = "block";
    const w = tooltip.offsetWidth, h = tooltip.offsetHeight;
    let x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > window.innerWidth - 4) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 4) y = ev.clientY - h - 14;
    tooltip.style.left = x + "px"; tooltip.style.top = y + "px";
  }
  function hideTip() { tooltip.style.display = "none"; }

  function download(name, blob) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }

  // ---- per-head values: the tooltip and the head card ---------------------------------------

  function headTable(l, h) {
    const rows = [el("tr", {}, [el("td", {}, el("b", { text: lh(l, h) })), el("td")])];
    for (const hv of Object.values(HV)) {
      rows.push(el("tr", {}, [el("td", { text: hv.label }), el("td", { text: fmt(hv.values[l][h], hv.fmt) })]));
    }
    return el("table", {}, rows);
  }

  function selectHead(l, h, opts) {
    if (!(l >= 0 && l < L && h >= 0 && h < H)) return;
    state.layer = l; state.head = h;
    state.hvHeads = new Set([h]);
    for (const f of state.redraw) f();
    if (opts && opts.scroll) {
      const t = document.getElementById(opts.scroll);
      if (t) t.scrollIntoView({ block: "nearest" });
    }
  }

  // ---- generic blocks ---------------------------------------------------------------------

  function gridBlock(block, small) {
    const hv = HV[block.key];
    const cell = Math.max(small ? 8 : 12, Math.min(small ? 22 : 40, Math.floor((small ? 200 : 420) / H),
                                                   Math.floor((small ? 200 : 380) / L)));
    const x0 = 30, y0 = 18, legendH = 34;
    const w = Math.max(x0 + H * cell + 6, 180), hgt = y0 + L * cell + legendH;
    const [c, g] = sizedCanvas(w, hgt);
    c.dataset.key = block.key;
    c.dataset.geom = JSON.stringify({ x0: x0, y0: y0, cell: cell, L: L, H: H });
    const annotate = !small && cell >= 30 && L * H <= 256;
    function norm(v) { return hv.vmax > hv.vmin ? (v - hv.vmin) / (hv.vmax - hv.vmin) : 0.5; }
    function draw() {
      g.clearRect(0, 0, w, hgt);
      g.font = "10px sans-serif"; g.fillStyle = "#444"; g.textAlign = "center"; g.textBaseline = "middle";
      const every = Math.ceil(H / Math.max(1, Math.floor(H * cell / 18)));
      for (let h = 0; h < H; h += every) g.fillText(String(h + 1), x0 + (h + .5) * cell, y0 / 2);
      g.textAlign = "right";
      const everyL = Math.ceil(L / Math.max(1, Math.floor(L * cell / 12)));
      for (let l = 0; l < L; l += everyL) g.fillText(String(l + 1), x0 - 5, y0 + (l + .5) * cell);
      for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
        const v = hv.values[l][h];
        const rgb = v === null ? null : rgbOf(hv.cmap, norm(v));
        g.fillStyle = rgb ? cssOf(rgb) : NAN_COLOUR;
        g.fillRect(x0 + h * cell, y0 + l * cell, cell, cell);
        if (annotate && v !== null) {
          const lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
          g.fillStyle = lum > 140 ? "#000" : "#fff"; g.textAlign = "center"; g.font = "9px sans-serif";
          g.fillText(fmt(v, hv.fmt.replace(/^\.(\d)g$/, ".3g")), x0 + (h + .5) * cell, y0 + (l + .5) * cell);
        }
      }
      g.strokeStyle = "#e00"; g.lineWidth = 2;
      g.strokeRect(x0 + state.head * cell + 1, y0 + state.layer * cell + 1, cell - 2, cell - 2);
      // colour bar
      const by = y0 + L * cell + 8, bw = Math.min(w - x0 - 6, 200);
      for (let i = 0; i < bw; i++) { g.fillStyle = cssOf(rgbOf(hv.cmap, i / (bw - 1))); g.fillRect(x0 + i, by, 1, 8); }
      g.fillStyle = "#444"; g.font = "10px sans-serif"; g.textBaseline = "top";
      g.textAlign = "left"; g.fillText(fmt(hv.vmin, hv.fmt), x0, by + 10);
      g.textAlign = "right"; g.fillText(fmt(hv.vmax, hv.fmt), x0 + bw, by + 10);
    }
    function at(ev) {
      const [x, y] = mousePos(c, ev);
      const h = Math.floor((x - x0) / cell), l = Math.floor((y - y0) / cell);
      return l >= 0 && l < L && h >= 0 && h < H ? [l, h] : null;
    }
    c.addEventListener("mousemove", ev => { const p = at(ev); if (p) showTip(ev, headTable(p[0], p[1])); else hideTip(); });
    c.addEventListener("mouseleave", hideTip);
    c.addEventListener("click", ev => { const p = at(ev); if (p) selectHead(p[0], p[1]); });
    draw();
    state.redraw.push(draw);
    const box = el("div", { class: "block gridwrap" }, [el("h3", { text: hv.label }), c]);
    if (hv.note) box.append(el("p", { class: "note", style: "max-width:" + w + "px" }, richText(hv.note)));
    return box;
  }

  function curveBlock(b) {
    const W = 420, Hh = 260, m = { l: 52, r: 12, t: 10, b: 40 };
    const xs = [], ys = [];
    for (const s of b.series) { s.x.forEach(v => v !== null && xs.push(v)); s.y.forEach(v => v !== null && ys.push(v)); }
    if (b.hline) ys.push(b.hline.y);
    if (b.vline) xs.push(b.vline.x);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = b.ymin !== undefined ? b.ymin : Math.min(...ys),
        y1 = b.ymax !== undefined ? b.ymax : Math.max(...ys);
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.05; if (b.ymin === undefined) y0 -= pad; if (b.ymax === undefined) y1 += pad;
    const X = v => m.l + (v - x0) / (x1 - x0) * (W - m.l - m.r), Y = v => Hh - m.b - (v - y0) / (y1 - y0) * (Hh - m.t - m.b);
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", Hh); svg.setAttribute("viewBox", "0 0 " + W + " " + Hh);
    function add(tag, attrs, text) {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.append(e); return e;
    }
    add("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: Hh - m.t - m.b, fill: "none", stroke: "#999" });
    for (let i = 0; i <= 4; i++) {
      const xv = x0 + (x1 - x0) * i / 4, yv = y0 + (y1 - y0) * i / 4;
      add("text", { x: X(xv), y: Hh - m.b + 14, "font-size": 10, "text-anchor": "middle", fill: "#444" }, fmt(xv, ".3g"));
      add("text", { x: m.l - 4, y: Y(yv) + 3, "font-size": 10, "text-anchor": "end", fill: "#444" }, fmt(yv, ".3g"));
      add("line", { x1: m.l, x2: W - m.r, y1: Y(yv), y2: Y(yv), stroke: "#eee" });
    }
    add("text", { x: (W + m.l) / 2, y: Hh - 6, "font-size": 11, "text-anchor": "middle" }, b.xlabel || "");
    add("text", { x: 12, y: (Hh - m.b) / 2, "font-size": 11, "text-anchor": "middle",
                  transform: "rotate(-90 12 " + (Hh - m.b) / 2 + ")" }, b.ylabel || "");
    if (b.hline) {
      add("line", { x1: m.l, x2: W - m.r, y1: Y(b.hline.y), y2: Y(b.hline.y), stroke: "#888", "stroke-dasharray": "4 3" });
      add("text", { x: W - m.r - 4, y: Y(b.hline.y) - 4, "font-size": 10, "text-anchor": "end", fill: "#666" }, b.hline.label);
    }
    if (b.vline) {
      add("line", { x1: X(b.vline.x), x2: X(b.vline.x), y1: m.t, y2: Hh - m.b, stroke: "#444", "stroke-dasharray": "6 3" });
      add("text", { x: X(b.vline.x) + 4, y: m.t + 12, "font-size": 10, fill: "#444" }, b.vline.label);
    }
    b.series.forEach((s, k) => {
      const colour = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"][k % 4];
      const pts = s.x.map((x, i) => [x, s.y[i]]).filter(p => p[0] !== null && p[1] !== null);
      add("polyline", { points: pts.map(p => X(p[0]) + "," + Y(p[1])).join(" "), fill: "none", stroke: colour, "stroke-width": 2 });
      for (const p of pts) {
        const dot = add("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: colour });
        const t = document.createElementNS(NS, "title"); t.textContent = s.name + ": (" + fmt(p[0], ".4g") + ", " + fmt(p[1], ".4g") + ")";
        dot.append(t);
      }
      add("text", { x: m.l + 8, y: m.t + 14 + 13 * k, "font-size": 10, fill: colour }, s.name);
    });
    if (b.mark) {
      add("circle", { cx: X(b.mark.x), cy: Y(b.mark.y), r: 6, fill: "none", stroke: "#e00", "stroke-width": 2 });
      add("text", { x: X(b.mark.x) + 8, y: Y(b.mark.y) + 14, "font-size": 10, fill: "#e00" }, b.mark.label);
    }
    return el("div", { class: "block curve" }, [el("h3", { text: b.title || "" }), svg]);
  }

  function tableBlock(b) {
    const t = el("table", {}, [el("tr", {}, b.header.map(h => el("th", { text: h })))]);
    for (const r of b.rows) {
      t.append(el("tr", {}, r.map((c, i) => {
        const m = i === b.head_column ? /^(\d+)-(\d+)$/.exec(String(c)) : null;
        if (!m) return el("td", { text: c });
        return el("td", { class: "headcell", text: c, title: "select " + lh(+m[1] - 1, +m[2] - 1),
                          onclick: () => selectHead(+m[1] - 1, +m[2] - 1, { scroll: "attention" }) });
      })));
    }
    return el("div", { class: "block table" }, [b.title ? el("h3", { text: b.title }) : null, t]);
  }

  const BLOCKS = { grid: gridBlock, curve: curveBlock, table: tableBlock,
                   text: b => el("p", {}, richText(b.text)) };

  function renderSection(s) {
    const sec = el("section", { id: s.id, class: s.small ? "small" : "" }, [el("h2", { text: s.title })]);
    if (s.note) sec.append(el("p", { class: "note" }, richText(s.note)));
    const row = el("div", { class: s.layout === "row" ? "row" : "" });
    for (const b of s.blocks) row.append((BLOCKS[b.kind] || (() => el("p", { text: "(" + b.kind + ")" })))(b, s.small));
    if (s.id === "heads") row.append(headCard());
    sec.append(row);
    return sec;
  }

  function headCard() {
    const card = el("div", { class: "card", id: "head-card" });
    function draw() { card.replaceChildren(el("h3", { text: "Selected: " + lh(state.layer, state.head) }), headTable(state.layer, state.head)); }
    draw();
    state.redraw.push(draw);
    return card;
  }

  // ---- attention: decoding ----------------------------------------------------------------

  class Attn {
    constructor(rec, bytes, nMaps) {
      this.T = rec.T; this.enc = rec.enc; this.nMaps = nMaps;
      const T = this.T;
      if (rec.enc === "dense") {
        if (bytes.length !== nMaps * T * T) throw new Error("example map has " + bytes.length + " bytes, expected " + nMaps * T * T);
        this.q = bytes;
      } else {
        const k = this.k = rec.k, n = nMaps * T * k;
        if (bytes.length !== n * (rec.ib + 1)) throw new Error("top-k map has " + bytes.length + " bytes, expected " + n * (rec.ib + 1));
        const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * rec.ib);
        this.idx = rec.ib === 2 ? new Uint16Array(buf) : new Uint32Array(buf);  // little-endian, as written
        this.val = bytes.subarray(n * rec.ib);
      }
      this.rowCache = new Map();
    }
    // the map index of (saved layer position k, head h)
    m(k, h) { return k * H + h; }
    value(m, t, s) {
      const T = this.T;
      if (this.q) return this.q[(m * T + t) * T + s] / 255;
      const base = (m * T + t) * this.k;
      for (let j = 0; j < this.k; j++) if (this.idx[base + j] === s) return this.val[base + j] / 255;
      return 0;
    }
    // every stored entry of map m: fn(t, s, byte)
    each(m, fn) {
      const T = this.T;
      if (this.q) {
        const o = m * T * T;
        for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) { const b = this.q[o + t * T + s]; if (b) fn(t, s, b); }
      } else {
        const o = m * T * this.k;
        for (let t = 0; t < T; t++) for (let j = 0; j < this.k; j++) {
          const b = this.val[o + t * this.k + j]; if (b) fn(t, this.idx[o + t * this.k + j], b);
        }
      }
    }
    // the entries of row t of map m above thr, largest first, at most topk: [[s, v], ...]
    row(m, t, topk, thr) {
      const key = m + ":" + t + ":" + topk + ":" + thr;
      let r = this.rowCache.get(key);
      if (r) return r;
      r = [];
      const T = this.T, minb = Math.max(1, Math.ceil(thr * 255 - 1e-9));
      if (this.q) {
        const o = (m * T + t) * T;
        for (let s = 0; s < T; s++) if (this.q[o + s] >= minb) r.push([s, this.q[o + s] / 255]);
      } else {
        const o = (m * T + t) * this.k;
        for (let j = 0; j < this.k; j++) if (this.val[o + j] >= minb) r.push([this.idx[o + j], this.val[o + j] / 255]);
      }
      r.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      if (topk > 0 && r.length > topk) r.length = topk;
      if (this.rowCache.size > 200000) this.rowCache.clear();
      this.rowCache.set(key, r);
      return r;
    }
  }

  function b64bytes(s) {
    const bin = atob(s), u = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    return u;
  }
  async function inflate(u8) {
    const stream = new Blob([u8]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const decoded = new Map();
  function loadExample(row) {
    if (decoded.has(row)) return decoded.get(row);
    const rec = EX.maps[String(row)];
    const p = rec ? inflate(b64bytes(rec.z)).then(b => new Attn(rec, b, EX.layers.length * H)) : Promise.resolve(null);
    decoded.set(row, p);
    if (decoded.size > 6) decoded.delete(decoded.keys().next().value);
    return p;
  }

  function tokensOf(row) { return EX.ids[row].map(i => EX.tokens[i]); }
  function savedIndex(l) { return EX.layers.indexOf(l); }
  function effTopk() { return state.topk === "auto" ? (state.attn && state.attn.T > 64 ? 8 : 0) : +state.topk; }

  // ---- attention: the example picker ------------------------------------------------------

  function labelText(v) {
    if (v === null || v === undefined) return "-";
    if (EX.label_names && EX.label_names[String(v)] !== undefined) return EX.label_names[String(v)];
    return EX.regression ? fmt(v, ".3f") : String(v);
  }

  function picker() {
    const search = el("input", { type: "search", id: "picker-search", placeholder: "search the text, or #row", size: 30 });
    const filter = el("select", { id: "picker-filter" }, [
      el("option", { value: "all", text: "all examples" }), el("option", { value: "maps", text: "with maps embedded" }),
      el("option", { value: "wrong", text: "misclassified" })]);
    const sort = el("select", { id: "picker-sort" }, [
      el("option", { value: "row", text: "data order" }), el("option", { value: "loss", text: "highest loss first" }),
      el("option", { value: "short", text: "shortest first" }), el("option", { value: "long", text: "longest first" })]);
    const count = el("span", { class: "muted", id: "picker-count" });
    const list = el("div", { id: "picker-list" });
    const LIMIT = 400;
    function wrong(r) { return r[2] !== null && r[3] !== null && !EX.regression && r[2] !== r[3]; }
    function update() {
      const q = search.value.trim().toLowerCase();
      let rows = EX.rows;
      const m = /^#(\d+)$/.exec(q);
      if (m) rows = rows.filter(r => r[0] === +m[1]);
      else if (q) rows = rows.filter(r => r[5].toLowerCase().includes(q));
      if (filter.value === "maps") rows = rows.filter(r => EX.maps[String(r[0])]);
      if (filter.value === "wrong") rows = rows.filter(wrong);
      rows = rows.slice();
      if (sort.value === "loss") rows.sort((a, b) => (b[4] ?? -Infinity) - (a[4] ?? -Infinity));
      if (sort.value === "short") rows.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      if (sort.value === "long") rows.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      count.textContent = rows.length + " of " + EX.rows.length + " examples" + (rows.length > LIMIT ? " (first " + LIMIT + " listed)" : "");
      list.replaceChildren(...rows.slice(0, LIMIT).map(r => {
        const has = !!EX.maps[String(r[0])];
        const lp = r[2] === null && r[3] === null ? "" : labelText(r[2]) + " \u2192 " + labelText(r[3]);
        const d = el("div", { class: "ex" + (has ? "" : " none") + (wrong(r) ? " wrong" : "") + (r[0] === state.row ? " sel" : ""),
                              "data-row": r[0], title: has ? r[5] : "attention not embedded in this page (see the notes at the top)" }, [
          el("span", { text: "#" + r[0] }), el("span", { text: r[1] + "t" }), el("span", { class: "lp", text: lp }),
          el("span", { text: r[4] === null ? "" : fmt(r[4], ".3f") }), el("span", { class: "txt", text: r[5] })]);
        if (has) d.addEventListener("click", () => selectExample(r[0]));
        return d;
      }));
    }
    search.addEventListener("input", update);
    filter.addEventListener("change", update);
    sort.addEventListener("change", update);
    state.redrawPicker = update;
    update();
    const head = el("div", { class: "ex muted", style: "font-weight:600;cursor:default" },
                    ["row", "len", "label \u2192 predicted", "loss", "text"].map(t => el("span", { text: t })));
    return el("div", {}, [el("div", { class: "controls" }, [search, filter, sort, count]), head, list]);
  }

  function exampleInfo() {
    const box = el("div", { id: "ex-info" });
    state.drawInfo = function () {
      const r = EX.rows[state.row];
      const parts = ["Example #" + r[0], r[1] + " tokens"];
      if (r[2] !== null) parts.push("label " + labelText(r[2]));
      if (r[3] !== null) parts.push("predicted " + labelText(r[3]));
      if (r[4] !== null) parts.push("loss " + fmt(r[4], ".4f"));
      const rec = EX.maps[String(r[0])];
      if (rec && rec.enc === "topk") parts.push("stored: top " + rec.k + " of each row (" + fmt(100 * rec.mass, ".1f") + "% of the attention)");
      box.replaceChildren(el("div", {}, el("b", { text: parts.join(" \u00b7 ") })), el("div", { class: "muted", text: r[5] }),
                          el("div", { id: "ex-tokens" }, tokensOf(r[0]).map((t, i) => el("span", { title: "token " + i, text: t }))));
    };
    return box;
  }

  async function selectExample(row) {
    state.row = row;
    if (state.redrawPicker) state.redrawPicker();
    const a = await loadExample(row);
    if (state.row !== row) return;           // a later pick won
    state.attn = a;
    state.hvHover = null;
    state.drawInfo();
    for (const f of state.redrawAttn) f();
  }

  // ---- attention: head view ---------------------------------------------------------------

  function headView() {
    const layerSel = el("select", { id: "hv-layer" }, EX.layers.map(l => el("option", { value: l, text: "layer " + (l + 1) })));
    const swatches = el("span", { id: "hv-heads" });
    const all = el("button", { text: "all heads", onclick: () => { state.hvHeads = new Set([...Array(H).keys()]); draw(); } });
    const topk = el("select", { id: "hv-topk", title: "lines drawn per query token" }, ["auto", "0", "1", "2", "3", "5", "10", "20"].map(
      v => el("option", { value: v, text: v === "auto" ? "top-k: auto" : v === "0" ? "top-k: all" : "top-" + v })));
    const thr = el("select", { id: "hv-thr", title: "smallest attention drawn" }, ["0", "0.01", "0.02", "0.05", "0.1", "0.2"].map(
      v => el("option", { value: v, text: "min " + v })));
    topk.addEventListener("change", () => { state.topk = topk.value; draw(); });
    thr.addEventListener("change", () => { state.thr = +thr.value; draw(); });
    layerSel.addEventListener("change", () => { selectHead(+layerSel.value, state.head); });
    for (let h = 0; h < H; h++) {
      const sw = el("span", { class: "swatch", title: "head " + (h + 1) + " (click: toggle, double-click: only this head)", text: h + 1 });
      sw.style.background = headColour(h);
      sw.addEventListener("click", () => { state.hvHeads.has(h) ? state.hvHeads.delete(h) : state.hvHeads.add(h); draw(); });
      sw.addEventListener("dblclick", () => selectHead(state.layer, h));
      swatches.append(sw);
    }
    // The canvas is as tall as the visible band only (sticky inside a spacer as tall as all the
    // tokens): the browser rasterises what is on screen, however long the example.
    const VIEW = 640;
    const c = el("canvas", { id: "head-view", style: "position: sticky; top: 0" });
    const spacer = el("div", { style: "position: relative" }, c);
    const box = el("div", { class: "scrollbox", style: "max-height:" + VIEW + "px" }, spacer);
    const msg = el("p", { class: "msg" });
    let geom = null, pending = false;

    function draw() {
      layerSel.value = String(state.layer);
      [...swatches.children].forEach((sw, h) => sw.classList.toggle("off", !state.hvHeads.has(h)));
      const A = state.attn, k = savedIndex(state.layer);
      if (!A || k < 0) {
        msg.textContent = !A ? "No attention maps for this example." : "Layer " + (state.layer + 1) + " was not saved (bertology --layers).";
        msg.style.display = "block"; box.style.display = "none"; return;
      }
      msg.style.display = "none"; box.style.display = "block";
      const T = A.T, toks = tokensOf(state.row);
      const rh = T <= 60 ? 18 : T <= 160 ? 14 : 11, font = Math.min(12, rh - 3);
      const g0 = c.getContext("2d");
      g0.font = font + "px sans-serif";
      const colW = Math.min(150, Math.max(40, ...toks.map(t => g0.measureText(t).width))) + 8;
      const gap = 260, pad = 8;
      const W = pad + colW + gap + colW + pad, total = pad * 2 + T * rh, viewH = Math.min(total, VIEW);
      spacer.style.height = total + "px";
      const top = Math.min(box.scrollTop, total - viewH);
      const g = resize(c, W, viewH);
      g.translate(0, -top);
      const xl = pad + colW, xr = xl + gap;
      geom = { xl: xl, xr: xr, rh: rh, pad: pad, T: T, colW: colW, top: top, height: viewH };
      c.dataset.geom = JSON.stringify(geom);
      const yOf = t => pad + (t + 0.5) * rh;
      const t0 = Math.max(0, Math.floor((top - pad) / rh) - 1), t1 = Math.min(T, Math.ceil((top + viewH - pad) / rh) + 1);
      const hov = state.hvHover, topn = effTopk(), thr = state.thr;
      const heads = [...state.hvHeads].sort((a, b) => a - b);
      // lines, batched by head and opacity; those outside the band are counted, not drawn
      g.lineWidth = 2;
      let drawn = 0;
      const keyWeight = new Float32Array(T);
      for (const h of heads) {
        const m = A.m(k, h), buckets = new Map();
        const add = (t, s, v) => {
          drawn++;
          if ((t < t0 && s < t0) || (t >= t1 && s >= t1)) return;
          const b = Math.min(20, Math.max(1, Math.round(v * 20)));
          let arr = buckets.get(b); if (!arr) buckets.set(b, arr = []);
          arr.push(t, s);
        };
        if (hov && hov.side === "R") {
          for (let t = 0; t < T; t++) for (const [s, v] of A.row(m, t, topn, thr)) if (s === hov.t) { add(t, s, v); keyWeight[t] = Math.max(keyWeight[t], v); }
        } else {
          const ts = hov ? [hov.t] : [...Array(T).keys()];
          for (const t of ts) for (const [s, v] of A.row(m, t, topn, thr)) { add(t, s, v); if (hov) keyWeight[s] = Math.max(keyWeight[s], v); }
        }
        for (const [b, arr] of buckets) {
          g.strokeStyle = headColour(h, Math.min(1, b / 20 * (hov ? 1 : 0.9)));
          g.beginPath();
          for (let i = 0; i < arr.length; i += 2) { g.moveTo(xl + 4, yOf(arr[i])); g.lineTo(xr - 4, yOf(arr[i + 1])); }
          g.stroke();
        }
      }
      c.dataset.lines = String(drawn);
      // tokens of the band
      g.font = font + "px sans-serif"; g.textBaseline = "middle";
      for (let t = t0; t < t1; t++) {
        for (const side of ["L", "R"]) {
          const x = side === "L" ? xl : xr, active = hov && hov.side === side && hov.t === t;
          const other = hov && hov.side !== side ? keyWeight[t] : 0;
          if (active || other > 0) {
            g.fillStyle = active ? "rgba(255,200,0,.55)" : "rgba(30,90,200," + Math.min(0.6, other) + ")";
            g.fillRect(side === "L" ? x - colW : x, pad + t * rh + 1, colW - 4, rh - 2);
          }
          if (rh >= 8) {
            g.fillStyle = "#222"; g.textAlign = side === "L" ? "right" : "left";
            g.fillText(toks[t], side === "L" ? x - 6 : x + 6, yOf(t), colW - 10);
          }
        }
      }
    }
    box.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; draw(); });
    });
    function tokenAt(ev) {
      if (!geom) return null;
      const [x, y] = mousePos(c, ev), t = Math.floor((y + geom.top - geom.pad) / geom.rh);
      if (t < 0 || t >= geom.T) return null;
      if (x <= geom.xl + 2 && x >= geom.xl - geom.colW) return { side: "L", t: t };
      if (x >= geom.xr - 2 && x <= geom.xr + geom.colW) return { side: "R", t: t };
      return null;
    }
    c.addEventListener("mousemove", ev => {
      const p = tokenAt(ev), old = state.hvHover;
      if ((p && old && p.side === old.side && p.t === old.t) || (!p && !old)) return;
      state.hvHover = p; draw();
    });
    c.addEventListener("mouseleave", () => { if (state.hvHover) { state.hvHover = null; draw(); } });
    state.redraw.push(draw);
    state.redrawAttn.push(draw);
    return el("div", { class: "panel", id: "head-view-panel" }, [
      el("h3", { text: "Head view" }),
      el("p", { class: "note", text: "Queries on the left, keys on the right; line opacity = attention. Hover a token to see only its " +
                                      "attention; click a head's colour to toggle it. At more than 64 tokens only the top 8 of each row are drawn (top-k)." }),
      el("div", { class: "controls" }, [layerSel, swatches, all, topk, thr]), msg, box]);
  }

  // ---- attention: the selected head's map, and its export -----------------------------------

  function drawMap(g, A, m, toks, opts) {
    // the map of query rows x key columns at (x0, y0), cell px per token, with token labels
    const T = A.T, cell = opts.cell, x0 = opts.x0, y0 = opts.y0;
    const img = g.createImageData(T * cell * opts.dpr, T * cell * opts.dpr);
    const px = img.data, Wp = T * cell * opts.dpr;
    const rowMax = new Float32Array(T).fill(1);
    if (state.scale === "row") { rowMax.fill(0); A.each(m, (t, s, b) => { rowMax[t] = Math.max(rowMax[t], b / 255); }); }
    const base = rgbOf("Blues", 0);
    for (let i = 0; i < px.length; i += 4) { px[i] = base[0]; px[i + 1] = base[1]; px[i + 2] = base[2]; px[i + 3] = 255; }
    const cp = cell * opts.dpr;
    A.each(m, (t, s, b) => {
      const rgb = rgbOf("Blues", (b / 255) / (rowMax[t] || 1));
      for (let y = t * cp; y < (t + 1) * cp; y++) for (let x = s * cp; x < (s + 1) * cp; x++) {
        const o = (y * Wp + x) * 4; px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2];
      }
    });
    g.putImageData(img, x0 * opts.dpr, y0 * opts.dpr);
    if (cell >= 8) {
      const font = Math.min(11, cell - 1);
      g.font = font + "px sans-serif"; g.fillStyle = "#222"; g.textBaseline = "middle";
      for (let t = 0; t < T; t++) {
        g.textAlign = "right"; g.fillText(toks[t], x0 - 4, y0 + (t + .5) * cell, opts.label - 6);
        g.save(); g.translate(x0 + (t + .5) * cell, y0 - 4); g.rotate(-Math.PI / 2);
        g.textAlign = "left"; g.fillText(toks[t], 0, 0, opts.label - 6); g.restore();
      }
    }
  }

  function mapLayout(T, toks, maxPx) {
    const cell = Math.max(1, Math.min(24, Math.floor(maxPx / T)));
    const g = document.createElement("canvas").getContext("2d");
    g.font = Math.min(11, cell - 1) + "px sans-serif";
    const label = cell >= 8 ? Math.min(130, Math.max(...toks.map(t => g.measureText(t).width)) + 10) : 4;
    return { cell: cell, label: label, x0: label, y0: label + 18 };
  }

  function headMap() {
    const c = el("canvas", { id: "head-map" });
    const title = el("h3", { id: "head-map-title" });
    const scale = el("select", { id: "map-scale" }, [el("option", { value: "absolute", text: "colour: attention 0..1" }),
                                                     el("option", { value: "row", text: "colour: per row, 0..row max" })]);
    scale.addEventListener("change", () => { state.scale = scale.value; draw(); });
    const msg = el("p", { class: "msg" });
    let lay = null;
    function current() {
      const A = state.attn, k = savedIndex(state.layer);
      return A && k >= 0 ? { A: A, m: A.m(k, state.head), toks: tokensOf(state.row) } : null;
    }
    function draw() {
      title.textContent = "Example #" + state.row + ", " + lh(state.layer, state.head);
      const cur = current();
      if (!cur) { msg.textContent = state.attn ? "Layer " + (state.layer + 1) + " was not saved." : "No attention maps for this example.";
                  msg.style.display = "block"; c.style.display = "none"; return; }
      msg.style.display = "none"; c.style.display = "block";
      // the map and its labels within the panel: labels take up to 130 px
      const panel = c.closest(".panel"), room = panel && panel.clientWidth ? panel.clientWidth - 150 : 560;
      lay = mapLayout(cur.A.T, cur.toks, Math.max(200, Math.min(560, room)));
      const side = lay.x0 + cur.A.T * lay.cell + 8;
      const g = resize(c, side, lay.y0 + cur.A.T * lay.cell + 8);
      g.font = "11px sans-serif"; g.fillStyle = "#666"; g.textAlign = "left"; g.textBaseline = "top";
      g.fillText("keys \u2192   (rows: queries)", lay.x0, 2);
      drawMap(g, cur.A, cur.m, cur.toks, Object.assign({ dpr: DPR }, lay));
      c.dataset.geom = JSON.stringify({ x0: lay.x0, y0: lay.y0, cell: lay.cell, T: cur.A.T });
    }
    c.addEventListener("mousemove", ev => {
      const cur = current(); if (!cur || !lay) return;
      const [x, y] = mousePos(c, ev), s = Math.floor((x - lay.x0) / lay.cell), t = Math.floor((y - lay.y0) / lay.cell);
      if (t < 0 || s < 0 || t >= cur.A.T || s >= cur.A.T) { hideTip(); return; }
      showTip(ev, el("div", {}, [el("div", { text: "query " + t + " \u201c" + cur.toks[t] + "\u201d \u2192 key " + s + " \u201c" + cur.toks[s] + "\u201d" }),
                                  el("b", { text: fmt(cur.A.value(cur.m, t, s), ".3f") })]));
    });
    c.addEventListener("mouseleave", hideTip);

    function fileBase() { return "attention_ex" + state.row + "_L" + (state.layer + 1) + "H" + (state.head + 1); }
    function pngBlob() {
      const cur = current(); if (!cur) return Promise.resolve(null);
      const lay2 = mapLayout(cur.A.T, cur.toks, Math.max(560, Math.min(2400, cur.A.T * 12)));
      const W = lay2.x0 + cur.A.T * lay2.cell + 12, Hc = lay2.y0 + cur.A.T * lay2.cell + 12;
      const off = document.createElement("canvas"); off.width = W; off.height = Hc;
      const g = off.getContext("2d");
      g.fillStyle = "#fff"; g.fillRect(0, 0, W, Hc);
      g.fillStyle = "#222"; g.font = "12px sans-serif"; g.textBaseline = "top"; g.textAlign = "left";
      g.fillText("example #" + state.row + ", " + lh(state.layer, state.head), 4, 2);
      drawMap(g, cur.A, cur.m, cur.toks, Object.assign({ dpr: 1 }, lay2));
      return new Promise(res => off.toBlob(res, "image/png"));
    }
    function svgText() {
      const cur = current(); if (!cur) return null;
      const A = cur.A, T = A.T, cell = Math.max(4, Math.min(20, Math.floor(900 / T))), lab = cell >= 8 ? 110 : 4;
      const x0 = lab, y0 = lab + 18, W = x0 + T * cell + 10, Hs = y0 + T * cell + 10;
      const esc = s => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
      const out = ['<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + Hs + '" viewBox="0 0 ' + W + " " + Hs + '">',
                   '<rect width="' + W + '" height="' + Hs + '" fill="#fff"/>',
                   '<text x="4" y="13" font-size="12" font-family="sans-serif">' + esc("example #" + state.row + ", " + lh(state.layer, state.head)) + "</text>"];
      if (cell >= 8) for (let t = 0; t < T; t++) {
        const y = y0 + (t + .5) * cell + 3, x = x0 + (t + .5) * cell + 3, fs = Math.min(11, cell - 1);
        out.push('<text x="' + (x0 - 4) + '" y="' + y + '" font-size="' + fs + '" font-family="sans-serif" text-anchor="end">' + esc(cur.toks[t]) + "</text>");
        out.push('<text transform="translate(' + x + "," + (y0 - 4) + ') rotate(-90)" font-size="' + fs + '" font-family="sans-serif">' + esc(cur.toks[t]) + "</text>");
      }
      // the map: rows = queries t, columns = keys s; each stored value a rect with its value as title
      out.push('<g id="map" transform="translate(' + x0 + "," + y0 + ')" data-cell="' + cell + '" data-tokens="' + T + '">',
               '<rect width="' + T * cell + '" height="' + T * cell + '" fill="' + cssOf(rgbOf("Blues", 0)) + '"/>');
      A.each(cur.m, (t, s, b) => {
        out.push('<rect x="' + s * cell + '" y="' + t * cell + '" width="' + cell + '" height="' + cell +
                 '" fill="' + cssOf(rgbOf("Blues", b / 255)) + '"><title>' + fmt(b / 255, ".3f") + "</title></rect>");
      });
      out.push("</g>");
      out.push("</svg>");
      return out.join("\n");
    }
    const png = el("button", { id: "export-png", text: "export PNG", onclick: () => pngBlob().then(b => b && download(fileBase() + ".png", b)) });
    const svg = el("button", { id: "export-svg", text: "export SVG", onclick: () => {
      const s = svgText(); if (s) download(fileBase() + ".svg", new Blob([s], { type: "image/svg+xml" })); } });
    state.exportPNG = pngBlob; state.exportSVG = svgText;
    state.redraw.push(draw);
    state.redrawAttn.push(draw);
    return el("div", { class: "panel", id: "head-map-panel" }, [title, el("div", { class: "controls" }, [scale, png, svg]), msg,
                                                                el("div", { class: "scrollbox" }, c)]);
  }

  // ---- attention: model view --------------------------------------------------------------

  function modelView() {
    const c = el("canvas", { id: "model-view" });
    const nl = EX.layers.length;
    const avail = Math.min(1240, (document.documentElement.clientWidth || 1240) - 40) - 62;
    const ts = Math.max(24, Math.min(96, Math.floor(avail / H) - 6)), gap = 6, x0 = 58, y0 = 20;
    const W = x0 + H * (ts + gap), Hm = y0 + nl * (ts + gap);
    const g = resize(c, W, Hm);
    c.dataset.geom = JSON.stringify({ x0: x0, y0: y0, size: ts, gap: gap, layers: EX.layers, H: H });
    let thumbs = null;                       // ImageData per map of the current example
    function build() {
      const A = state.attn; thumbs = null;
      if (!A) return;
      const T = A.T, n = ts * DPR | 0, bins = new Uint8Array(n * n);
      thumbs = [];
      for (let m = 0; m < nl * H; m++) {
        bins.fill(0);
        if (T >= n) A.each(m, (t, s, b) => { const o = (t * n / T | 0) * n + (s * n / T | 0); if (b > bins[o]) bins[o] = b; });
        else for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) bins[y * n + x] = Math.round(A.value(m, y * T / n | 0, x * T / n | 0) * 255);
        const img = new ImageData(n, n), px = img.data;
        for (let i = 0; i < n * n; i++) { const rgb = rgbOf("Blues", bins[i] / 255); px[4 * i] = rgb[0]; px[4 * i + 1] = rgb[1]; px[4 * i + 2] = rgb[2]; px[4 * i + 3] = 255; }
        thumbs.push(img);
      }
    }
    function draw() {
      g.clearRect(0, 0, W, Hm);
      g.font = "11px sans-serif"; g.fillStyle = "#444"; g.textBaseline = "middle";
      g.textAlign = "center";
      for (let h = 0; h < H; h++) g.fillText("head " + (h + 1), x0 + h * (ts + gap) + ts / 2, y0 / 2);
      g.textAlign = "right";
      EX.layers.forEach((l, k) => g.fillText("layer " + (l + 1), x0 - 6, y0 + k * (ts + gap) + ts / 2));
      if (!thumbs) return;
      thumbs.forEach((img, m) => {
        const k = m / H | 0, h = m % H;
        g.putImageData(img, (x0 + h * (ts + gap)) * DPR, (y0 + k * (ts + gap)) * DPR);
      });
      const k = savedIndex(state.layer);
      if (k >= 0) { g.strokeStyle = "#e00"; g.lineWidth = 2; g.strokeRect(x0 + state.head * (ts + gap) - 2, y0 + k * (ts + gap) - 2, ts + 4, ts + 4); }
    }
    function at(ev) {
      const [x, y] = mousePos(c, ev), h = Math.floor((x - x0) / (ts + gap)), k = Math.floor((y - y0) / (ts + gap));
      return h >= 0 && h < H && k >= 0 && k < nl && (x - x0) - h * (ts + gap) < ts && (y - y0) - k * (ts + gap) < ts ? [EX.layers[k], h] : null;
    }
    c.addEventListener("mousemove", ev => { const p = at(ev); if (p) showTip(ev, headTable(p[0], p[1])); else hideTip(); c.style.cursor = p ? "pointer" : "default"; });
    c.addEventListener("mouseleave", hideTip);
    c.addEventListener("click", ev => { const p = at(ev); if (p) selectHead(p[0], p[1], { scroll: "head-map-panel" }); });
    state.redraw.push(draw);
    state.redrawAttn.push(() => { build(); draw(); });
    return el("div", { id: "model-view-panel" }, [
      el("h3", { text: "Model view: every saved head on this example" }),
      el("p", { class: "note", text: "Rows: queries, columns: keys (each map shrunk, keeping the largest value of each block). Click a map to enlarge it above." }),
      el("div", { class: "scrollbox" }, c)]);
  }

  function attentionSection() {
    const sec = el("section", { id: "attention" }, [el("h2", { text: "Attention on an example" })]);
    if (!EX) {
      sec.append(el("p", { class: "note", text: "No attention maps in these runs (run bertology with --save-attentions)." }));
      return sec;
    }
    state.redrawAttn = [];
    const n = Object.keys(EX.maps).length;
    sec.append(el("p", { class: "note" }, richText("Examples of `" + EX.run + "`: pick one (attention maps of " + n + " of " + EX.rows.length +
      " examples are in this page, stored as " + (EX.top_k ? "the top " + EX.top_k + " of each row" : "whole rows") + ", 8 bits).")));
    sec.append(picker(), exampleInfo());
    sec.append(el("div", { class: "row" }, [headView(), headMap()]));
    sec.append(modelView());
    return sec;
  }

  // ---- the page ---------------------------------------------------------------------------

  function header() {
    const box = el("header", {}, [el("h1", { text: DATA.title })]);
    const t = el("table", {}, [el("tr", {}, ["run", "command", "layers x heads", "examples", "metrics", "ranks", "created"].map(h => el("th", { text: h })))]);
    for (const r of DATA.runs) {
      const metrics = Object.entries(r.metrics).map(([k, v]) => k + " = " + fmt(v, ".4f")).join(", ") || "-";
      t.append(el("tr", {}, [el("td", {}, el("code", { text: r.path })), el("td", {}, el("code", { text: r.command })),
                               el("td", { text: r.shape }), el("td", { text: r.examples }), el("td", { text: metrics }),
                               el("td", { text: r.ranks }), el("td", { text: r.created })]));
    }
    box.append(t, el("p", { class: "muted" }, [
      "Static figures and tables of the same runs: ", el("a", { href: "summary.html", text: "summary.html" }), ". Layers and heads count from 1."]));
    const notes = (DATA.notes || []).concat((DATA.skipped || []).map(s => "not shown: " + s));
    if (notes.length) box.append(el("ul", { class: "notes" }, notes.map(s => el("li", {}, richText(s)))));
    return box;
  }

  function initialHead() {
    const rank = HV.rank;
    let best = null;
    if (rank) for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
      const v = rank.values[l][h];
      if (v !== null && (!EX || EX.layers.includes(l)) && (!best || v < best[2])) best = [l, h, v];
    }
    if (best) return [best[0], best[1]];
    return [EX && EX.layers.length ? EX.layers[0] : 0, 0];
  }

  function main() {
    const t0 = performance.now();
    const app = document.getElementById("app");
    // index.html#head=3-5&ex=12 (1-based layer-head, example row) opens on that head and example
    const hash = new URLSearchParams(location.hash.slice(1));
    const hm = /^(\d+)-(\d+)$/.exec(hash.get("head") || "");
    let [l0, h0] = initialHead();
    if (hm && +hm[1] >= 1 && +hm[1] <= L && +hm[2] >= 1 && +hm[2] <= H) { l0 = +hm[1] - 1; h0 = +hm[2] - 1; }
    state.layer = l0; state.head = h0; state.hvHeads = new Set([h0]);
    state.redrawAttn = [];
    const parts = [header()];
    const secs = DATA.sections;
    secs.filter(s => s.id === "heads").forEach(s => parts.push(renderSection(s)));
    parts.push(attentionSection());
    secs.filter(s => s.id !== "heads").forEach(s => parts.push(renderSection(s)));
    app.replaceChildren(...parts);
    document.body.append(tooltip);
    performance.mark("bt-rendered");
    const asked = hash.get("ex");
    if (EX && asked !== null && EX.maps[asked]) EX.default = +asked;
    const first = EX ? (EX.maps[String(EX.default)] ? EX.default : +Object.keys(EX.maps)[0]) : null;
    const ready = first !== null && !Number.isNaN(first) ? selectExample(first) : Promise.resolve();
    window.btReport = { state: state, selectHead: selectHead, selectExample: selectExample, data: DATA,
                        ready: ready.then(() => { performance.mark("bt-ready"); return performance.now() - t0; }) };
  }

  main();
})();
