// lafs web UI: the grid page (#/grid, also the start page), and LAFS.live,
// the helpers of the pages that refresh themselves (this one, and the
// activity and storage pages of ops.js).
"use strict";

(function () {
  const { el } = LAFS;

  // ---- LAFS.live: pages that keep themselves up to date ----

  // rel words a moment relative to now (both in seconds since the epoch):
  // "3 min ago", "in 5 min", "just now".
  function rel(secs, now) {
    if (secs === null || secs === undefined) return "never";
    const d = now - secs;
    const a = Math.abs(d);
    if (a < 5) return "just now";
    let s;
    if (a < 60) s = Math.floor(a) + " s";
    else if (a < 3600) s = Math.floor(a / 60) + " min";
    else if (a < 86400) {
      const h = Math.floor(a / 3600);
      const m = Math.floor((a % 3600) / 60);
      s = h + " h" + (h < 10 && m > 0 ? " " + m + " min" : "");
    } else s = Math.floor(a / 86400) + " d";
    return d >= 0 ? s + " ago" : "in " + s;
  }

  // when is a <time> saying how long ago secs was, with the date and
  // time in its title.
  function when(secs, now) {
    if (secs === null || secs === undefined) return el("span", { class: "muted", text: "never" });
    const d = new Date(secs * 1000);
    return el("time", { datetime: d.toISOString(), title: LAFS.fmtTime(secs), text: rel(secs, now) });
  }

  // duration words a number of seconds: "120 ms", "4.2 s", "3 min 12 s".
  function duration(s) {
    if (s === null || s === undefined || !isFinite(s) || s < 0) return "—";
    if (s < 0.001) return "< 1 ms";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
    const two = (a, ua, b, ub) => a + " " + ua + (b > 0 ? " " + b + " " + ub : "");
    if (s < 3600) return two(Math.floor(s / 60), "min", Math.floor(s % 60), "s");
    if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "min");
    return two(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
  }

  // rate is bytes per second, "—" when it cannot be told (or means
  // nothing, as for what took less than a millisecond).
  function rate(bytes, secs) {
    if (!secs || secs < 0.001 || bytes === null || bytes === undefined) return "—";
    return LAFS.fmtSize(Math.round(bytes / secs)) + "/s";
  }

  // sync makes cur look like next, keeping every child of cur that
  // already equals next's (so a selection or the focus in it survives)
  // and moving next's other children over. Children are matched by
  // position.
  function sync(cur, next) {
    for (const a of Array.from(cur.attributes)) {
      if (!next.hasAttribute(a.name)) cur.removeAttribute(a.name);
    }
    for (const a of Array.from(next.attributes)) {
      if (cur.getAttribute(a.name) !== a.value) cur.setAttribute(a.name, a.value);
    }
    fill(cur, Array.from(next.childNodes));
  }

  // fill makes parent's children equal kids, replacing only those that
  // differ.
  function fill(parent, kids) {
    kids = kids.filter((k) => k !== null && k !== undefined && k !== false)
      .map((k) => (k instanceof Node ? k : document.createTextNode(String(k))));
    for (let i = 0; i < kids.length; i++) {
      const old = parent.childNodes[i];
      if (!old) parent.append(kids[i]);
      else if (!old.isEqualNode(kids[i])) {
        if (old.nodeType === Node.ELEMENT_NODE && kids[i].nodeType === Node.ELEMENT_NODE &&
            old.tagName === kids[i].tagName && old.contains(document.activeElement)) {
          sync(old, kids[i]);
        } else parent.replaceChild(kids[i], old);
      }
    }
    while (parent.childNodes.length > kids.length) parent.lastChild.remove();
  }

  // rows makes tbody's rows those of next (each with a data-key), keeping
  // the rows (and in them the cells) that are already there and moving
  // them only when the order changed. With no rows, it shows one row
  // saying empty across cols columns.
  function rows(tbody, next, empty, cols) {
    if (next.length === 0) {
      next = [el("tr", { "data-key": "\u0000empty", class: "empty" },
        el("td", { colspan: cols, class: "muted", text: empty }))];
    }
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) old.set(tr.dataset.key, tr);
    next.forEach((nr, i) => {
      let tr = old.get(nr.dataset.key);
      if (tr) {
        old.delete(nr.dataset.key);
        sync(tr, nr);
      } else tr = nr;
      const at = tbody.children[i];
      if (at !== tr) tbody.insertBefore(tr, at || null);
    });
    for (const tr of old.values()) tr.remove();
  }

  // table is a table with the given id, caption (for screen readers) and
  // column headers ({text, num}); it returns the table and its tbody.
  function table(id, caption, cols) {
    const tbody = el("tbody");
    const t = el("table", { id, class: "live-table" },
      el("caption", { class: "visually-hidden", text: caption }),
      el("thead", null, el("tr", null, cols.map((c) =>
        el("th", { scope: "col", class: c.num ? "num" : null, text: c.text })))),
      tbody);
    return { table: t, tbody };
  }

  // LIVE_TIMEOUT is how long (ms) a live page's request may take before
  // the node counts as unreachable: a hung request must not freeze the
  // page.
  const LIVE_TIMEOUT = 10000;

  // poll calls load every ms milliseconds (and once now) and hands what
  // it got to show. While load fails the page keeps what it showed,
  // dimmed, and banner says the node is unreachable. It returns the
  // function that stops it.
  function poll(ms, load, show, banner, page) {
    let stopped = false;
    let busy = false;
    async function tick() {
      if (stopped || busy) return;
      busy = true;
      let data;
      try {
        data = await load();
      } catch (e) {
        busy = false;
        if (stopped) return;
        const why = e && e.status
          ? "The node answered with an error (" + LAFS.errText(e.message ? e : String(e.status)) + ")"
          : "Node unreachable";
        const text = why + " — retrying every " + Math.round(ms / 1000) + " s…";
        if (banner.textContent !== text) banner.textContent = text;
        banner.hidden = false;
        page.classList.add("stale");
        return;
      }
      busy = false;
      if (stopped) return;
      banner.hidden = true;
      page.classList.remove("stale");
      try {
        show(data);
      } catch (e) {
        console.error("lafs: showing the page failed", e);
      }
    }
    tick();
    const id = setInterval(tick, ms);
    return () => { stopped = true; clearInterval(id); };
  }

  // banner is the hidden "node unreachable" line poll shows.
  function banner() {
    return el("div", { class: "banner warn live-banner", role: "status", hidden: true });
  }

  // card is a summary card: a title, a big value and a note; tone is
  // "ok", "bad", "warn" or null.
  function card(title, big, note, tone, attrs) {
    const id = "card-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    return el("section", Object.assign({ class: "card live-card" + (tone ? " is-" + tone : ""), "aria-labelledby": id }, attrs || {}),
      el("h2", { class: "card-title", id, text: title }),
      el("p", { class: "big", text: big }),
      note ? el("p", { class: "card-note", text: note }) : null);
  }

  LAFS.live = { rel, when, duration, rate, sync, fill, rows, table, poll, banner, card, timeout: LIVE_TIMEOUT };

  // ---- the grid page ----

  // shortID is the start of a node id, enough to tell servers apart.
  function shortID(id) {
    if (!id) return "";
    return id.length > 14 ? id.slice(0, 13) + "…" : id;
  }

  // serverState is a server's connection in words: a badge and a detail.
  function serverState(s) {
    const st = s.connection_status || "";
    if (st.startsWith("unsupported:")) {
      return { tone: "warn", label: "Unsupported", detail: st.slice("unsupported:".length).trim() };
    }
    if (s.connected) return { tone: "ok", label: "Connected", detail: "" };
    if (st.startsWith("failure:")) {
      return { tone: "bad", label: "Not connected", detail: st.slice("failure:".length).trim() };
    }
    return { tone: "bad", label: "Not connected", detail: st === "unstarted" ? "not tried yet" : st };
  }

  function byConnectedThenName(a, b) {
    if (a.connected !== b.connected) return a.connected ? -1 : 1;
    const na = a.nickname || "";
    const nb = b.nickname || "";
    if (na !== nb) {
      if (!na) return 1;
      if (!nb) return -1;
      const c = na.localeCompare(nb, undefined, { numeric: true, sensitivity: "base" });
      if (c !== 0) return c;
    }
    return String(a.nodeid).localeCompare(String(b.nodeid));
  }

  function serverRow(s, now, largest) {
    const state = serverState(s);
    const space = typeof s.available_space === "number" ? s.available_space : null;
    let bar = null;
    if (space !== null && largest > 0) {
      // The width is set through the CSSOM, which the CSP allows.
      const fillBar = el("div", { class: "spacebar-fill" });
      fillBar.style.width = Math.max(space > 0 ? 1 : 0, Math.round((space / largest) * 100)) + "%";
      bar = el("div", { class: "spacebar" + (s.connected ? "" : " off"), "aria-hidden": "true" }, fillBar);
    }
    return el("tr", {
      "data-key": s.nodeid, "data-server": s.nodeid,
      "data-connected": s.connected ? "true" : "false",
      class: s.connected ? "connected" : "disconnected",
    },
    el("td", { class: "server-name" },
      el("span", { class: "nickname", text: s.nickname || "(no nickname)" }),
      el("span", { class: "mono muted nodeid", title: s.nodeid, text: shortID(s.nodeid) })),
    el("td", { class: "server-state" },
      el("span", { class: "badge " + state.tone, text: state.label }),
      state.detail ? el("span", { class: "state-detail", text: state.detail }) : null),
    el("td", null, when(s.since, now)),
    el("td", null, when(s.last_received_data, now)),
    el("td", { class: "num space" },
      el("span", { text: space === null ? "unknown" : LAFS.fmtSize(space) }),
      bar),
    el("td", { class: "muted version", text: s.version || "—" }));
  }

  function introducerRow(x, i, now) {
    return el("tr", { "data-key": String(i), "data-connected": x.connected ? "true" : "false" },
      el("td", { text: x.summary || "introducer " + (i + 1) }),
      el("td", null, el("span", { class: "badge " + (x.connected ? "ok" : "bad"), text: x.connected ? "Connected" : "Not connected" })),
      el("td", null, when(x.since, now)),
      el("td", null, when(x.last_received, now)));
  }

  function happinessWarning(g) {
    const enc = g.encoding || {};
    const have = g.servers_connected || 0;
    let more;
    if (have === 0) {
      more = "This node is connected to no storage server, so nothing can be uploaded or downloaded until one is reachable.";
    } else {
      more = "This node is connected to " + have + (have === 1 ? " storage server" : " storage servers") +
        " but an upload needs " + enc.happy + " (shares.happy) to place its shares safely. " +
        "Downloads of existing files may still work.";
    }
    return el("div", { id: "happiness-warning", class: "banner bad", role: "alert" },
      el("strong", { text: "Uploads will fail. " }), more);
  }

  LAFS.route(/^\/grid\/?$/, (match, main) => {
    const live = banner();
    const warn = el("div", { class: "warn-slot" });
    const who = el("p", { class: "lead muted" }, "Connecting to the node…");
    const cards = el("div", { class: "cards live-cards" });
    const servers = table("grid-servers", "Storage servers", [
      { text: "Server" }, { text: "Status" }, { text: "Since" }, { text: "Last heard from" },
      { text: "Available space", num: true }, { text: "Version" },
    ]);
    const intros = table("grid-introducers", "Introducers", [
      { text: "Introducer" }, { text: "Status" }, { text: "Since" }, { text: "Last heard from" },
    ]);
    rows(servers.tbody, [], "Loading…", 6);
    rows(intros.tbody, [], "Loading…", 4);
    // The refreshed part is not a live region (main is): a screen reader
    // would read every cell every 3 s. The banners announce themselves.
    const body = el("div", { class: "page-live page-grid", "aria-live": "off" },
      who, cards,
      el("h2", { text: "Storage servers" }),
      el("p", { class: "muted table-note", text: "Connected servers first. The bar shows each server's free space next to the roomiest." }),
      el("div", { class: "table-wrap" }, servers.table),
      el("h2", { text: "Introducers" }),
      el("div", { class: "table-wrap" }, intros.table));
    LAFS.page(main, "Grid", live, warn, body);

    let copyBtn = null;
    let nodeID = "";
    function show(g) {
      const now = typeof g.now === "number" ? g.now : Date.now() / 1000;
      const enc = g.encoding || {};
      const node = g.node || {};
      const list = (g.servers || []).slice().sort(byConnectedThenName);
      const known = list.length;
      const connected = typeof g.servers_connected === "number" ? g.servers_connected : list.filter((s) => s.connected).length;
      const ins = g.introducers || [];
      const insUp = ins.filter((x) => x.connected).length;
      let total = 0;
      let largest = 0;
      let withSpace = 0;
      for (const s of list) {
        if (typeof s.available_space !== "number") continue;
        largest = Math.max(largest, s.available_space);
        if (s.connected) { total += s.available_space; withSpace++; }
      }

      nodeID = node.nodeid || "";
      if (!copyBtn) {
        copyBtn = el("button", { type: "button", class: "small", "aria-label": "Copy this node's ID", onclick: () => LAFS.copy(nodeID, "Node ID") }, "Copy ID");
      }
      fill(who, [
        "This is ", el("strong", { text: node.nickname || "an unnamed node" }),
        node.version ? ", running " + node.version : "",
        nodeID ? el("span", null, " · node ID ", el("span", { class: "mono", title: nodeID, text: shortID(nodeID) }), " ") : "",
        nodeID ? copyBtn : null,
      ]);

      fill(warn, [g.happiness_reachable === false ? happinessWarning(g) : null]);

      fill(cards, [
        card("Storage servers", connected + " of " + known,
          known === 0 ? "none known yet" : "connected",
          connected === 0 ? "bad" : g.happiness_reachable === false ? "warn" : "ok"),
        card("Introducers", ins.length === 0 ? "none" : insUp + " of " + ins.length,
          ins.length === 0 ? "servers come from the static list" : "connected",
          ins.length === 0 ? null : insUp === ins.length ? "ok" : insUp === 0 ? "bad" : "warn"),
        card("Encoding", enc.k + " of " + enc.n,
          "happy " + enc.happy + ": each file becomes " + enc.n + " shares, any " + enc.k +
          " rebuild it, and an upload needs " + enc.happy + " servers.", null, { id: "encoding" }),
        card("Available space", withSpace ? LAFS.fmtSize(total) : "—",
          withSpace ? "on " + withSpace + (withSpace === 1 ? " connected server" : " connected servers") : "no server has said yet",
          null),
      ]);

      rows(servers.tbody, list.map((s) => serverRow(s, now, largest)),
        "No storage servers known yet: they appear once an introducer tells this node about them.", 6);
      rows(intros.tbody, ins.map((x, i) => introducerRow(x, i, now)),
        "This node uses no introducer.", 4);
    }

    return poll(3000, () => LAFS.api("/ui/grid.json", { timeout: LIVE_TIMEOUT }), show, live, body);
  });
})();
