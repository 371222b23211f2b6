// lafs web UI: the activity page (#/ops: the uploads, downloads, publishes
// and retrieves under way and recent, from /status?t=json) and the
// storage page (#/storage: this node's storage server, from
// /storage?t=json). Both refresh themselves through LAFS.live (grid.js).
"use strict";

(function () {
  const { el } = LAFS;
  const live = LAFS.live;

  // ---- activity ----

  const kinds = {
    upload: { label: "Upload", arrow: "↑", about: "An immutable file sent to the grid", writes: true },
    download: { label: "Download", arrow: "↓", about: "An immutable file read from the grid", writes: false },
    publish: { label: "Publish", arrow: "↑", about: "A new version of a mutable file or directory sent to the grid", writes: true },
    retrieve: { label: "Retrieve", arrow: "↓", about: "A mutable file or directory read from the grid", writes: false },
  };

  function kindCell(op) {
    const k = kinds[op.type] || { label: op.type || "?", arrow: "", about: "" };
    return el("td", { class: "op-kind", title: k.about || null },
      k.arrow ? el("span", { class: "op-arrow " + (k.writes ? "up" : "down"), "aria-hidden": "true", text: k.arrow }) : null,
      el("span", { text: k.label }),
      op.tag ? el("span", { class: "op-tag muted", text: op.tag }) : null);
  }

  function siCell(op) {
    const si = op["storage-index-string"];
    if (!si) return el("td", { class: "muted", text: "—" });
    return el("td", { class: "mono muted op-si", title: si, text: si.length > 10 ? si.slice(0, 10) + "…" : si });
  }

  function sizeCell(op) {
    const n = op["total-size"];
    return el("td", { class: "num", text: typeof n === "number" ? LAFS.fmtSize(n) : "—" });
  }

  function opKey(op) {
    return [op.type, op.started, op["storage-index-string"] || "", op.tag || ""].join("|");
  }

  function pct(p) {
    return (Math.round(Math.max(0, Math.min(1, p || 0)) * 1000) / 10) + "%";
  }

  function activeRow(op, now) {
    const p = op.type === "upload" ? op["progress-encode-push"] : op.progress;
    const elapsed = Math.max(0, now - op.started);
    let title = null;
    if (op.type === "upload") {
      title = "hashing " + pct(op["progress-hash"]) + ", encrypting " + pct(op["progress-ciphertext"]) +
        ", encoding and pushing " + pct(op["progress-encode-push"]);
    }
    const bar = el("progress", { max: "1", value: String(Math.max(0, Math.min(1, p || 0))), "aria-label": "Progress " + pct(p) });
    return el("tr", { "data-key": opKey(op), "data-kind": op.type },
      kindCell(op), sizeCell(op),
      el("td", { class: "op-progress", title },
        bar, " ", el("span", { class: "op-pct", text: pct(p) }),
        op.status ? el("span", { class: "op-status muted", text: op.status }) : null),
      el("td", null, live.when(op.started, now)),
      el("td", { class: "num", text: live.duration(elapsed) }),
      el("td", { class: "num", text: live.rate(op["bytes-done"], elapsed) }),
      siCell(op));
  }

  function recentRow(op, now) {
    const took = typeof op.finished === "number" ? op.finished - op.started : null;
    const failed = /^fail/i.test(op.status || "");
    const done = /^finished/i.test(op.status || "");
    return el("tr", { "data-key": opKey(op), "data-kind": op.type, class: failed ? "failed" : null },
      kindCell(op), sizeCell(op),
      el("td", null, el("span", { class: "badge " + (failed ? "bad" : done ? "ok" : "warn"), text: op.status || "?" })),
      el("td", null, live.when(op.started, now)),
      el("td", { class: "num", text: live.duration(took) }),
      el("td", { class: "num", text: failed || !op["bytes-done"] ? "—" : live.rate(op["bytes-done"], took) }),
      siCell(op));
  }

  function newestFirst(a, b) { return (b.started || 0) - (a.started || 0); }

  LAFS.route(/^\/ops\/?$/, (match, main) => {
    const banner = live.banner();
    const cards = el("div", { class: "cards live-cards" });
    const active = live.table("ops-active", "Operations under way", [
      { text: "Kind" }, { text: "Size", num: true }, { text: "Progress" }, { text: "Started" },
      { text: "Running for", num: true }, { text: "Throughput", num: true }, { text: "Storage index" },
    ]);
    const recent = live.table("ops-recent", "Recent operations", [
      { text: "Kind" }, { text: "Size", num: true }, { text: "Status" }, { text: "Started" },
      { text: "Duration", num: true }, { text: "Throughput", num: true }, { text: "Storage index" },
    ]);
    live.rows(active.tbody, [], "Loading…", 7);
    live.rows(recent.tbody, [], "Loading…", 7);

    const filter = el("select", { id: "ops-kind" },
      el("option", { value: "", text: "All kinds" }),
      Object.entries(kinds).map(([k, v]) => el("option", { value: k, text: v.label + "s" })));
    const body = el("div", { class: "page-live page-ops", "aria-live": "off" },
      el("p", { class: "lead muted", text: "What this node has been sending to and reading from the grid. " +
        "Uploads and downloads move immutable files; publishes and retrieves write and read mutable files and directories." }),
      cards,
      el("div", { class: "toolbar" }, el("label", { for: "ops-kind", text: "Show" }), filter),
      el("h2", { text: "Under way" }),
      el("div", { class: "table-wrap" }, active.table),
      el("h2", { text: "Recent" }),
      el("div", { class: "table-wrap" }, recent.table));
    LAFS.page(main, "Activity", banner, body);

    let last = null;
    function show(st) {
      last = st;
      const now = Date.now() / 1000;
      const want = filter.value;
      const pick = (ops) => (ops || []).filter((o) => !want || o.type === want).sort(newestFirst);
      const all = st.recent || [];
      let wrote = 0, read = 0, nw = 0, nr = 0, failed = 0;
      for (const o of all) {
        if (/^fail/i.test(o.status || "")) { failed++; continue; }
        const k = kinds[o.type];
        if (!k) continue;
        if (k.writes) { wrote += o["bytes-done"] || 0; nw++; } else { read += o["bytes-done"] || 0; nr++; }
      }
      const nActive = (st.active || []).length;
      live.fill(cards, [
        live.card("Under way", String(nActive), nActive === 1 ? "operation" : "operations", null),
        live.card("Sent recently", LAFS.fmtSize(wrote), nw + (nw === 1 ? " upload or publish" : " uploads and publishes"), null),
        live.card("Read recently", LAFS.fmtSize(read), nr + (nr === 1 ? " download or retrieve" : " downloads and retrieves"), null),
        live.card("Failed recently", String(failed),
          failed ? "see the red rows below" : all.length ? "all went well" : "nothing done yet",
          failed ? "bad" : all.length ? "ok" : null),
      ]);
      const what = want ? kinds[want].label.toLowerCase() + "s" : "operations";
      live.rows(active.tbody, pick(st.active).map((o) => activeRow(o, now)),
        "Nothing is under way right now.", 7);
      live.rows(recent.tbody, pick(st.recent).map((o) => recentRow(o, now)),
        "No recent " + what + " yet. Upload or open a file and it shows up here.", 7);
    }
    filter.addEventListener("change", () => { if (last) show(last); });

    return live.poll(2000, () => LAFS.api("/status?t=json", { timeout: live.timeout }), show, banner, body);
  });

  // ---- storage ----

  const plural = (n, what) => n + " " + what + (n === 1 ? "" : "s");
  const stat = (s, name) => (s ? s["storage_server." + name] : undefined);
  const isNum = (v) => typeof v === "number" && isFinite(v);

  function facts(pairs) {
    return el("dl", { class: "facts" }, pairs.filter(Boolean).flatMap(([k, v]) => [
      el("dt", { text: k }), el("dd", null, v),
    ]));
  }

  function expiryWords(c) {
    if (!c) return null;
    const on = c["expiration-enabled"];
    const m = c["configured-expiration-mode"] || [];
    const [mode, override, cutoff, types] = m;
    let rule;
    if (mode === "cutoff-date" && isNum(cutoff)) {
      rule = "Leases not renewed since " + new Date(cutoff * 1000).toLocaleDateString() + " count as expired";
    } else if (isNum(override)) {
      rule = "Leases not renewed for " + live.duration(override) + " count as expired";
    } else {
      rule = "Leases expire when they run out, usually 31 days after their last renewal";
    }
    const which = Array.isArray(types) && types.length ? ", on " + types.join(" and ") + " shares" : "";
    return (on ? "On: shares whose leases all expired are removed. " : "Off: leases are only counted, nothing is removed. ") +
      rule + which + ".";
  }

  function tally(sr, group) {
    if (!sr) return null;
    const g = (k) => sr[group + "-" + k];
    if (!isNum(g("shares"))) return null;
    return g("shares") + " shares in " + g("buckets") + " buckets, " + LAFS.fmtSize(g("diskbytes") || 0);
  }

  function leaseCounts(c) {
    const l = c && c["lease-counts"];
    if (!l) return null;
    return l["examined-leases"] + " examined, " + l["configured-leases"] + " expired, " + l["actual-leases"] + " removed";
  }

  function crawlerPart(prog, lc, now) {
    const out = [];
    if (prog && prog["cycle-in-progress"]) {
      const p = Number(prog["cycle-complete-percentage"]) || 0;
      const left = prog["estimated-cycle-complete-time-left"];
      out.push(el("p", { class: "crawl-now" },
        el("progress", { max: "100", value: String(p), "aria-label": "Crawl " + p.toFixed(1) + "% done" }), " ",
        el("strong", { text: p.toFixed(1) + "% " }),
        "through the current crawl",
        isNum(left) ? ", about " + live.duration(left) + " left" : ""));
    } else if (prog) {
      const next = prog["next-crawl-time"];
      out.push(el("p", { class: "crawl-now" },
        el("span", { class: "badge", text: "Resting" }), " ",
        isNum(next) ? ["next crawl ", live.when(next, now)] : "the crawler has not said when it runs next"));
    }
    const started = lc && lc["current-cycle-start-time"];
    out.push(facts([
      prog && isNum(prog["estimated-time-per-cycle"]) && ["A full crawl takes about", live.duration(prog["estimated-time-per-cycle"])],
      isNum(started) && ["This crawl started", live.when(started, now)],
      // Tahoe numbers the crawls from 0.
      lc && ["Full crawls done", isNum(lc["last-cycle-finished"]) ? String(lc["last-cycle-finished"] + 1) : "none yet"],
    ]));
    return out;
  }

  function leasePart(lc, now) {
    if (!lc) return [el("p", { class: "muted", text: "The lease checker has nothing to say yet." })];
    const cur = lc["cycle-to-date"];
    const hist = lc.history || {};
    const lastKey = Object.keys(hist).map(Number).filter(isFinite).sort((a, b) => b - a)[0];
    const last = lastKey === undefined ? null : hist[String(lastKey)];
    const expiry = expiryWords(cur || last);
    const out = [];
    out.push(facts([
      ["Expiration", expiry || "not known until the first crawl"],
    ]));
    if (cur) {
      out.push(el("h3", { text: "This crawl so far" }));
      out.push(facts([
        tally(cur["space-recovered"], "examined") && ["Looked at", tally(cur["space-recovered"], "examined")],
        tally(cur["space-recovered"], "actual") && ["Recovered", tally(cur["space-recovered"], "actual")],
        leaseCounts(cur) && ["Leases", leaseCounts(cur)],
        isNum(cur["corrupt-share-count"]) && ["Corrupt shares", String(cur["corrupt-share-count"])],
      ]));
    }
    if (last) {
      const t = last["cycle-start-finish-times"] || [];
      out.push(el("h3", { text: "Last full crawl" }));
      out.push(facts([
        isNum(t[1]) && ["Finished", live.when(t[1], now)],
        isNum(t[0]) && isNum(t[1]) && ["Took", live.duration(t[1] - t[0])],
        tally(last["space-recovered"], "examined") && ["Looked at", tally(last["space-recovered"], "examined")],
        tally(last["space-recovered"], "actual") && ["Recovered", tally(last["space-recovered"], "actual")],
        !last["expiration-enabled"] && tally(last["space-recovered"], "configured") &&
          ["Would have recovered", tally(last["space-recovered"], "configured") + " with expiration on"],
        leaseCounts(last) && ["Leases", leaseCounts(last)],
        isNum(last["corrupt-share-count"]) && ["Corrupt shares", String(last["corrupt-share-count"])],
      ]));
    }
    return out;
  }

  function noStorage(s) {
    return !s || !s.stats || Object.keys(s.stats).length === 0;
  }

  LAFS.route(/^\/storage\/?$/, (match, main) => {
    const banner = live.banner();
    const slot = el("div", { class: "storage-slot" }, el("p", { class: "muted", text: "Loading…" }));
    const body = el("div", { class: "page-live page-storage", "aria-live": "off" }, slot);
    LAFS.page(main, "Storage", banner, body);

    const cards = el("div", { class: "cards live-cards" });
    const crawler = el("div", { class: "storage-crawler" });
    const leases = el("div", { class: "storage-leases" });
    const storage = el("div", { id: "storage" },
      el("p", { class: "lead muted", text: "The shares this node keeps for the grid: its space, what it holds, and its crawler, which walks every share to count them and expire old leases." }),
      cards,
      el("h2", { text: "Share crawler" }), crawler,
      el("h2", { text: "Leases" }), leases);

    let stop = null;
    let stopped = false;
    function show(s) {
      if (noStorage(s)) {
        live.fill(slot, [el("p", { id: "no-storage", class: "banner warn" },
          el("strong", { text: "This node runs no storage server. " }),
          "It stores files on the grid's servers but keeps no shares for others. To offer space, set ",
          el("code", { text: "[storage] enabled = true" }), " in its tahoe.cfg and restart it.")]);
        stopped = true;
        if (stop) stop();
        return;
      }
      const now = Date.now() / 1000;
      const st = s.stats;
      const avail = stat(st, "disk_avail");
      const reserved = stat(st, "reserved_space");
      const accepting = stat(st, "accepting_immutable_shares");
      const buckets = isNum(stat(st, "total_bucket_count")) ? stat(st, "total_bucket_count")
        : s["bucket-counter"] && s["bucket-counter"]["last-complete-bucket-count"];
      const corrupt = stat(st, "corrupt_containers") || 0;
      const quarantined = stat(st, "quarantined_shares") || 0;
      live.fill(slot, [storage]);
      live.fill(cards, [
        live.card("Available space", isNum(avail) ? LAFS.fmtSize(avail) : "—",
          isNum(reserved) ? LAFS.fmtSize(reserved) + " kept in reserve" : null, isNum(avail) && avail === 0 ? "bad" : null),
        live.card("Accepting new shares", accepting ? "Yes" : "No",
          accepting ? "uploads may store shares here" : "read-only or full", accepting ? "ok" : "warn"),
        live.card("Files and directories held", isNum(buckets) ? String(buckets) : "—",
          isNum(buckets) ? "as of the last full crawl" : "not counted until the first crawl ends", null),
        live.card("Reserved for uploads", LAFS.fmtSize(stat(st, "allocated") || 0), "promised to uploads under way", null),
        live.card("Problems", String(corrupt + quarantined),
          plural(corrupt, "corrupt container") + ", " + plural(quarantined, "quarantined share"),
          corrupt + quarantined ? "bad" : "ok"),
      ]);
      live.fill(crawler, crawlerPart(s["lease-checker-progress"], s["lease-checker"], now));
      live.fill(leases, leasePart(s["lease-checker"], now));
    }
    async function load() {
      try {
        return await LAFS.api("/storage?t=json", { timeout: live.timeout });
      } catch (e) {
        if (e.status === 404) return null;
        throw e;
      }
    }
    stop = live.poll(5000, load, show, banner, body);
    if (stopped) stop();
    return () => stop();
  });
})();
