// lafs web UI: a file's page, "#/file/<cap>?name=<name>": its size,
// format and encoding, its caps with copy buttons (the only place the UI
// shows caps), a download link, check / verify / repair, a map of which
// server holds which share, and an editor for small mutable text files.
"use strict";

(function () {
  const L = window.LAFS;
  const EDIT_MAX = 64 * 1024;

  const scrub = L.scrub;
  const errText = L.errText;

  // capKN is k and N from a CHK read or verify cap
  // (URI:CHK:key:ueb:K:N:SIZE), or null.
  function capKN(cap) {
    const m = /^URI:CHK(?:-Verifier)?:[^:]+:[^:]+:(\d+):(\d+):\d+$/.exec(cap || "");
    return m ? { k: Number(m[1]), n: Number(m[2]) } : null;
  }

  // shareNumber is the share number of a sharemap key: "3" for
  // immutable files, "seq4-abcd-sh3" for mutable ones.
  function shareKey(key) {
    const m = /^(?:(seq(\d+)-[^-]*)-sh)?(\d+)$/.exec(key);
    if (!m) return null;
    return { version: m[1] || "", seq: m[2] ? Number(m[2]) : 0, share: Number(m[3]) };
  }

  function shortId(id) {
    return String(id || "").replace(/^v0-/, "").slice(0, 8);
  }

  function listNums(nums) {
    if (nums.length === 0) return "no shares";
    if (nums.length === 1) return "share " + nums[0];
    return "shares " + nums.slice(0, -1).join(", ") + " and " + nums[nums.length - 1];
  }

  L.route(/^\/file\/([^/?]+)(?:\?(.*))?$/, (m, main) => {
    let cap;
    let params;
    try {
      cap = decodeURIComponent(m[1]);
      params = new URLSearchParams(m[2] || "");
    } catch (e) {
      L.page(main, "File", L.errorBox(new Error("This address is garbled.")));
      return null;
    }
    const kind = L.kindOf(cap);
    if (kind === "directory") {
      location.replace(L.hash("browse", cap));
      return null;
    }
    if (kind !== "file") {
      L.page(main, "File", L.errorBox(new Error("That is not a file cap.")));
      return null;
    }
    return renderFile(cap, params.get("name") || "", params.get("edit") === "1", main);
  });

  function renderFile(cap, name, wantEdit, main) {
    let alive = true;
    const lit = /^URI:LIT:/.test(cap);
    let info = null;
    let kn = capKN(cap);
    let nicknames = null; // server id -> nickname, once grid.json answered

    const body = L.el("div", { class: "file-body" }, L.el("p", { class: "muted", text: "Loading…" }));
    L.page(main, name || "File");
    if (history.length > 1) {
      main.prepend(L.el("div", { class: "toolbar" },
        L.el("button", { type: "button", class: "small", text: "← Back", onclick: () => history.back() })));
    }
    main.append(body);

    const facts = L.el("dl", { id: "file-facts", class: "facts" });
    const knDd = L.el("dd", { "data-fact": "kn" });
    const checkResult = L.el("div", { id: "check-result", "aria-live": "polite" },
      L.el("p", { class: "muted", text: "Check asks the servers which shares they hold; verify also downloads and checks every share; repair makes missing shares again." }));
    const shareSection = L.el("div", { class: "share-section" });
    const editArea = L.el("div", { class: "edit-area" });

    function fact(label, key, value) {
      facts.append(L.el("dt", { text: label }), L.el("dd", { "data-fact": key, text: value }));
    }

    function showKN() {
      if (lit) knDd.textContent = "none: a literal file keeps its data in its cap";
      else if (kn) knDd.textContent = kn.k + " of " + kn.n + " (any " + kn.k + " of its " + kn.n + " shares rebuild it)";
      else knDd.textContent = "unknown until a check";
    }

    function capRow(label, action, value, note) {
      const row = L.el("div", { class: "cap-row" }, L.el("h3", { text: label }));
      if (value) {
        row.append(
          L.el("code", { class: "cap", text: value }),
          L.el("button", {
            type: "button", class: "small", "data-action": action, "aria-label": "Copy " + label.toLowerCase(),
            text: "Copy", onclick: () => L.copy(value, label),
          }));
      } else {
        row.append(L.el("p", { class: "muted", text: note }));
      }
      return row;
    }

    // drawShares shows a check's sharemap as one row per server and one
    // cell per share number.
    function drawShares(results) {
      if (lit) {
        shareSection.replaceChildren(L.el("p", { id: "no-shares", text: "This is a literal (LIT) file: its few bytes are inside the cap itself, so no server holds any share of it." }));
        return;
      }
      const sm = (results && results.sharemap) || {};
      const parsed = [];
      for (const [k, servers] of Object.entries(sm)) {
        const s = shareKey(k);
        if (s) parsed.push({ ...s, servers: Array.isArray(servers) ? servers : [] });
      }
      // A mutable file may show shares of several versions: map the newest.
      let note = null;
      const versions = new Set(parsed.map((p) => p.version));
      let shown = parsed;
      if (versions.size > 1) {
        const best = parsed.reduce((a, b) => (b.seq > a.seq ? b : a)).version;
        shown = parsed.filter((p) => p.version === best);
        note = "Servers hold shares of " + versions.size + " versions of this file; the map shows the newest.";
      }
      let n = kn ? kn.n : Number(results && results["count-shares-expected"]) || 0;
      for (const p of shown) n = Math.max(n, p.share + 1);
      const held = new Map(); // server -> share numbers
      for (const id of (results && results["servers-responding"]) || []) held.set(id, []);
      for (const p of shown) {
        for (const id of p.servers) {
          if (!held.has(id)) held.set(id, []);
          held.get(id).push(p.share);
        }
      }
      const nick = (id) => (nicknames && nicknames.get(id)) || "";
      const servers = Array.from(held.keys()).sort((a, b) => {
        const na = nick(a) || "~" + a;
        const nb = nick(b) || "~" + b;
        return na < nb ? -1 : na > nb ? 1 : 0;
      });
      const anywhere = new Set(shown.map((p) => p.share));
      const table = L.el("table", { id: "sharemap", class: "sharemap" },
        L.el("caption", { class: "visually-hidden", text: "Which server holds which share" }),
        L.el("thead", null, L.el("tr", null,
          L.el("th", { scope: "col", text: "Server" }),
          L.el("th", { scope: "col", text: "Shares" }),
          L.el("th", { scope: "col", text: "Map (share 0 to " + Math.max(0, n - 1) + ")" }))),
        L.el("tbody", null, ...servers.map((id) => {
          const nums = held.get(id).slice().sort((a, b) => a - b);
          const label = nick(id) || shortId(id);
          const cells = [];
          for (let i = 0; i < n; i++) {
            const has = nums.includes(i);
            cells.push(L.el("div", { class: "share-cell " + (has ? "held" : "empty"), title: "share " + i + (has ? ": held" : ""), text: String(i) }));
          }
          return L.el("tr", { "data-server": id },
            L.el("th", { scope: "row" }, label, nick(id) ? L.el("span", { class: "muted mono", text: " " + shortId(id) }) : null),
            L.el("td", { text: nums.length ? nums.join(", ") : "none" }),
            L.el("td", null,
              L.el("div", { class: "share-grid", "aria-hidden": "true" }, ...cells),
              L.el("span", { class: "visually-hidden", text: "server " + label + " holds " + listNums(nums) })));
        })));
      const missing = [];
      for (let i = 0; i < n; i++) if (!anywhere.has(i)) missing.push(i);
      shareSection.replaceChildren(...[
        servers.length ? L.el("div", { class: "table-scroll" }, table) : L.el("p", { class: "error", text: "No server answered the check." }),
        note ? L.el("p", { class: "muted", text: note }) : null,
        missing.length ? L.el("p", { class: "banner warn", text: "No responding server holds " + listNums(missing) + "." }) : null].filter(Boolean));
    }

    function resultsOf(j) {
      if (j["post-repair-results"]) return j["post-repair-results"].results || {};
      return j.results || {};
    }

    function showCheck(j, what) {
      const pre = j["pre-repair-results"] ? (j["pre-repair-results"].results || {}) : (j.results || {});
      const post = resultsOf(j);
      const healthy = post.healthy === true;
      const dl = L.el("dl", { class: "facts" });
      const add = (k, v) => { if (v !== undefined && v !== null) dl.append(L.el("dt", { text: k }), L.el("dd", { text: String(v) })); };
      const out = L.el("div", { class: "check-summary" },
        L.el("p", null,
          L.el("span", { class: "badge " + (healthy ? "ok" : "bad"), "data-health": healthy ? "healthy" : "unhealthy", text: healthy ? "healthy" : "unhealthy" }),
          " ", L.el("span", { text: what + " finished" + (j.summary || (j["post-repair-results"] && j["post-repair-results"].summary) ? ": " + scrub(j.summary || j["post-repair-results"].summary) : "") })),
        dl);
      if ("repair-attempted" in j) {
        const attempted = j["repair-attempted"] === true;
        const ok = j["repair-successful"] === true;
        add("Repair", attempted ? (ok ? "succeeded" : "failed") : "not needed");
        if (attempted) add("Healthy before repair", pre.healthy ? "yes" : "no");
      }
      if (lit) {
        add("Shares", "none: a literal file has no shares to check");
      } else {
        add("Shares good", post["count-shares-good"]);
        add("Shares needed", post["count-shares-needed"]);
        add("Shares expected", post["count-shares-expected"]);
        add("Happiness", post["count-happiness"]);
        add("Servers responding", Array.isArray(post["servers-responding"]) ? post["servers-responding"].length : undefined);
        add("Corrupt shares", post["count-corrupt-shares"]);
        if (post.recoverable === false) add("Recoverable", "no: too few shares are left");
      }
      checkResult.replaceChildren(out);
    }

    function learnFromCheck(results) {
      if (!kn && results && results["count-shares-needed"] && results["count-shares-expected"]) {
        kn = { k: Number(results["count-shares-needed"]), n: Number(results["count-shares-expected"]) };
        showKN();
      }
      drawShares(results);
    }

    async function check(opts) {
      let url = L.capPath(cap) + "?t=check&output=JSON";
      if (opts.verify) url += "&verify=true";
      if (opts.repair) url += "&repair=true";
      return L.api(url, { method: "POST" });
    }

    const buttons = [];
    function checkButton(id, label, what, opts) {
      const b = L.el("button", { type: "button", id, text: label });
      b.addEventListener("click", async () => {
        for (const x of buttons) x.disabled = true;
        checkResult.setAttribute("aria-busy", "true");
        checkResult.replaceChildren(L.el("p", null, L.el("progress", { "aria-label": what + " in progress" }), " " + what + " in progress…"));
        try {
          const j = await check(opts);
          if (!alive) return;
          showCheck(j, what);
          learnFromCheck(resultsOf(j));
        } catch (e) {
          if (!alive) return;
          checkResult.replaceChildren(L.errorBox(new Error(what + " failed: " + errText(e))));
        } finally {
          checkResult.removeAttribute("aria-busy");
          for (const x of buttons) x.disabled = false;
        }
      });
      buttons.push(b);
      return b;
    }

    async function openEditor() {
      const btn = document.getElementById("edit-btn");
      if (btn) btn.disabled = true;
      try {
        const resp = await L.api(L.capPath(info.rw_uri), { as: "response" });
        const buf = await resp.arrayBuffer();
        if (!alive) return;
        if (buf.byteLength > EDIT_MAX) throw new Error("it is larger than 64 KiB");
        let text;
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
        } catch (e) {
          throw new Error("it is not UTF-8 text");
        }
        if (text.includes("\u0000")) throw new Error("it is not text");
        const ta = L.el("textarea", { id: "edit-text", spellcheck: "false" });
        ta.value = text;
        const save = L.el("button", { type: "submit", id: "save-btn", class: "primary", text: "Save" });
        const cancel = L.el("button", { type: "button", text: "Cancel" });
        const form = L.el("form", { class: "editor" },
          L.el("label", { for: "edit-text", text: "Contents of " + (name || "this file") }), ta,
          L.el("div", { class: "toolbar" }, save, cancel));
        const close = () => {
          editArea.replaceChildren();
          if (btn) { btn.disabled = false; btn.focus(); }
        };
        cancel.addEventListener("click", close);
        form.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.preventDefault(); close(); } });
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          save.disabled = true;
          try {
            await L.api(L.capPath(info.rw_uri), { method: "PUT", body: ta.value, headers: { "Content-Type": "text/plain; charset=utf-8" }, as: "text" });
            if (!alive) return;
            L.toast("Saved", "ok");
            const size = new TextEncoder().encode(ta.value).length;
            const dd = facts.querySelector('dd[data-fact="size"]');
            if (dd) dd.textContent = L.fmtSize(size) + " (" + size + " bytes)";
            info.size = size;
            close();
          } catch (e) {
            save.disabled = false;
            L.toast("Could not save: " + errText(e), "error");
          }
        });
        editArea.replaceChildren(form);
        ta.focus();
      } catch (e) {
        if (btn) btn.disabled = false;
        L.toast("Cannot edit this file here: " + errText(e), "error");
      }
    }

    L.api(L.capPath(cap) + "?t=json").then((j) => {
      if (!alive) return;
      if (!Array.isArray(j) || j[0] !== "filenode") throw new Error("this is not a file");
      info = j[1] || {};
      const format = lit ? "LIT" : (info.format || "unknown");
      if (name) fact("Name", "name", name);
      fact("Size", "size", info.size === undefined || info.size === null ? "unknown" : L.fmtSize(info.size) + " (" + info.size + " bytes)");
      fact("Format", "format", format);
      fact("Mutable", "mutable", info.mutable ? "yes" : "no");
      facts.append(L.el("dt", { text: "Encoding (k of N)" }), knDd);
      showKN();

      const ro = info.ro_uri || (cap.includes("-RO:") || /^URI:(CHK|LIT):/.test(cap) ? cap : null);
      const dlName = name || "download";
      const caps = L.el("section", { class: "caps", "aria-labelledby": "caps-heading" },
        L.el("h2", { id: "caps-heading", text: "Caps" }),
        L.el("p", { class: "muted", text: "Anyone holding a cap can use it: share the write cap only with those who may change the file." }),
        info.rw_uri ? capRow("Write cap", "copy-write", info.rw_uri) : null,
        capRow("Read cap", "copy-read", ro, "not known"),
        capRow("Verify cap", "copy-verify", info.verify_uri, lit ? "none: a literal file has nothing on servers to verify" : "not known"));

      const editable = info.mutable && info.rw_uri && (info.size === undefined || info.size === null || info.size <= EDIT_MAX);
      const tools = L.el("div", { class: "toolbar" },
        ro ? L.el("a", {
          class: "button primary", "data-action": "download", download: dlName,
          href: L.capPath(ro) + "?filename=" + encodeURIComponent(dlName) + "&save=true", text: "Download",
        }) : null,
        editable ? L.el("button", { type: "button", id: "edit-btn", text: "Edit text", onclick: openEditor }) : null);

      const checks = L.el("section", { class: "checks", "aria-labelledby": "check-heading" },
        L.el("h2", { id: "check-heading", text: "Health" }),
        L.el("div", { class: "toolbar" },
          checkButton("check-btn", "Check", "Check", {}),
          checkButton("verify-btn", "Verify", "Verify", { verify: true }),
          checkButton("repair-btn", "Repair", "Repair", { repair: true })),
        checkResult,
        L.el("h2", { id: "shares-heading", text: "Where the shares are" }),
        shareSection);

      body.replaceChildren(facts, tools, editArea, caps, checks);
      if (editable && wantEdit) openEditor();

      if (lit) {
        drawShares(null);
        return;
      }
      shareSection.replaceChildren(L.el("p", { class: "muted" }, L.el("progress", { "aria-label": "Asking the servers" }), " Asking the servers…"));
      const grid = L.api("/ui/grid.json").then((g) => {
        nicknames = new Map(((g && g.servers) || []).map((s) => [s.nodeid, s.nickname]));
      }).catch(() => { nicknames = new Map(); });
      Promise.all([check({}), grid]).then(([c]) => {
        if (alive) learnFromCheck(resultsOf(c));
      }).catch((e) => {
        if (alive) shareSection.replaceChildren(L.errorBox(new Error("Could not ask the servers: " + errText(e))));
      });
    }).catch((e) => {
      if (alive) body.replaceChildren(L.errorBox(new Error(errText(e))));
    });

    return () => { alive = false; };
  }
})();
