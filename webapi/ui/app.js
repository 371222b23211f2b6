// lafs web UI: the shell. Pages register routes with LAFS.route; every
// page builds its DOM with LAFS.el (never innerHTML, so no text from the
// grid is ever taken as markup) and talks to the node's web API only.
"use strict";

(function () {
  const routes = [];
  let cleanup = null;

  const LAFS = {
    // route registers render(match, main) for hashes matching re
    // ("#/grid" is matched as "/grid"). render may return a function
    // called when the page is left (to stop timers).
    route(re, render) { routes.push({ re, render }); },

    // el makes an element: attrs are properties and attributes ("class",
    // "text", "onclick", "aria-label", "data-x", ...); children are
    // elements, strings (as text) or null (skipped).
    el(tag, attrs, ...children) {
      const e = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false) continue;
        if (k === "text") e.textContent = String(v);
        else if (k === "class") e.className = v;
        else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
        else if (k === "value") e.value = v;
        else if (v === true) e.setAttribute(k, "");
        else e.setAttribute(k, String(v));
      }
      for (const c of children.flat()) {
        if (c === null || c === undefined || c === false) continue;
        e.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
      return e;
    },

    // api fetches a path of the web API. opts: method, body, headers,
    // as ("json" default, "text", "response"), signal (an AbortSignal),
    // timeout (milliseconds: the request, body included, is abandoned
    // after it with an error of name "TimeoutError"). Errors carry the
    // server's message (which may name a cap: show them through scrub,
    // as errorBox and toast do).
    async api(path, opts = {}) {
      let signal = opts.signal || undefined;
      if (opts.timeout) {
        const t = AbortSignal.timeout(opts.timeout);
        signal = signal && AbortSignal.any ? AbortSignal.any([signal, t]) : t;
      }
      const resp = await fetch(path, {
        method: opts.method || "GET",
        body: opts.body,
        headers: opts.headers || {},
        credentials: "same-origin",
        cache: "no-store",
        signal,
      });
      if (!resp.ok) {
        let msg = (await resp.text()).trim();
        if (msg.length > 400) msg = msg.slice(0, 400) + "…";
        const err = new Error(msg || resp.status + " " + resp.statusText);
        err.status = resp.status;
        throw err;
      }
      if (opts.as === "response") return resp;
      if (opts.as === "text") return resp.text();
      return resp.json();
    },

    // capPath is the web API path of a cap and a path below it.
    capPath(cap, names) {
      let p = "/uri/" + encodeURIComponent(cap);
      for (const n of names || []) p += "/" + encodeURIComponent(n);
      return p;
    },

    // hash builds a UI location from parts, each encoded.
    hash(...parts) {
      return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
    },

    fmtSize(n) {
      if (n === null || n === undefined || n === "?") return "—";
      const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
      let i = 0;
      let v = Number(n);
      while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      return (i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 1 : 0)) + " " + units[i];
    },

    fmtTime(secs) {
      if (!secs) return "—";
      const d = new Date(secs * 1000);
      return d.toLocaleString();
    },

    fmtAgo(secs) {
      if (!secs) return "never";
      const s = Math.max(0, Date.now() / 1000 - secs);
      if (s < 60) return Math.round(s) + " s ago";
      if (s < 3600) return Math.round(s / 60) + " min ago";
      if (s < 86400) return Math.round(s / 3600) + " h ago";
      return Math.round(s / 86400) + " d ago";
    },

    fmtRate(bytes, secs) {
      if (!secs || secs <= 0) return "—";
      return LAFS.fmtSize(bytes / secs) + "/s";
    },

    // scrub is msg with anything that may be a cap taken out: "URI:…"
    // and its percent-encoded form "URI%3A…" (in any case), and whatever
    // follows "/uri/" in a path. Every error shown goes through it.
    scrub(msg) {
      return String(msg)
        .replace(/\/uri\/[^\s"'<>()]*/gi, "/uri/…")
        .replace(/URI(?::|%3A)(?:[A-Za-z0-9_.~:+=-]|%[0-9A-Fa-f]{2})+/gi, "(a cap)");
    },

    // errText is an error's message fit to show: the text of an HTML
    // error page or the "error" of a JSON one, on one line, shortened,
    // and scrubbed.
    errText(err) {
      let msg = String((err && err.message) || err || "").trim();
      if (err && err.name === "TimeoutError") msg = "the node did not answer in time";
      if (msg.startsWith("{")) {
        try {
          const j = JSON.parse(msg);
          if (j && typeof j.error === "string") msg = j.error;
        } catch (e) { /* not JSON after all */ }
      } else if (/^<(!doctype|html|\?xml)|<body/i.test(msg)) {
        const doc = new DOMParser().parseFromString(msg, "text/html");
        const p = doc.querySelector("p") || doc.body;
        msg = p ? p.textContent : msg;
      }
      msg = msg.replace(/\s+/g, " ").trim();
      if (msg.length > 300) msg = msg.slice(0, 300) + "…";
      return LAFS.scrub(msg || "unknown error");
    },

    // toast shows a short message; kind is "info", "ok" or "error". An
    // error's text is scrubbed of caps.
    toast(msg, kind = "info") {
      if (kind === "error") msg = LAFS.scrub(msg);
      const t = LAFS.el("div", { class: "toast " + kind, role: kind === "error" ? "alert" : null, text: msg });
      const box = document.getElementById("toasts");
      while (box.children.length >= 3) box.firstElementChild.remove(); // the newest matter
      box.append(t);
      setTimeout(() => t.remove(), kind === "error" ? 8000 : 3500);
    },

    // copy puts text on the clipboard and says so (never showing it,
    // since it is usually a cap).
    async copy(text, what = "Cap") {
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        const ta = LAFS.el("textarea", { class: "offscreen", "aria-hidden": "true" });
        ta.value = text;
        document.body.append(ta);
        ta.select();
        document.execCommand("copy");
        ta.remove();
      }
      LAFS.toast(what + " copied", "ok");
    },

    // confirm asks a yes/no question in a modal dialog.
    confirm(question, okLabel = "OK") {
      const d = document.getElementById("confirm");
      document.getElementById("confirm-text").textContent = question;
      document.getElementById("confirm-ok").textContent = okLabel;
      return new Promise((resolve) => {
        d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
        d.returnValue = "cancel";
        d.showModal();
        document.getElementById("confirm-cancel").focus();
      });
    },

    // kindOf names a cap's kind from its prefix.
    kindOf(cap) {
      if (!cap) return "unknown";
      if (/^URI:(DIR2|DIR2-RO|DIR2-CHK|DIR2-LIT|DIR2-MDMF|DIR2-MDMF-RO)(:|$)/.test(cap)) return "directory";
      if (/^URI:(SSK|SSK-RO|MDMF|MDMF-RO|CHK|LIT)(:|$)/.test(cap)) return "file";
      return "unknown";
    },

    // heading replaces main's content with a page title and returns main.
    page(main, title, ...extra) {
      main.replaceChildren(LAFS.el("h1", { text: title }), ...extra);
      document.title = title + " – lafs";
      return main;
    },

    // errorBox is a paragraph showing an error, scrubbed of caps.
    errorBox(err) {
      return LAFS.el("p", { class: "error", role: "alert", text: LAFS.errText(err) });
    },
  };
  window.LAFS = LAFS;

  function render() {
    const main = document.getElementById("main");
    if (cleanup) { try { cleanup(); } catch (e) { /* ignore */ } cleanup = null; }
    let h = location.hash.replace(/^#/, "") || "/grid";
    if (!h.startsWith("/")) return; // an in-page anchor such as the skip link's
    for (const a of document.querySelectorAll("nav a[data-nav]")) {
      const on = h.startsWith("/" + a.dataset.nav);
      if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    for (const r of routes) {
      const m = h.match(r.re);
      if (m) {
        main.replaceChildren();
        Promise.resolve(r.render(m, main)).then((c) => { if (typeof c === "function") cleanup = c; })
          .catch((e) => main.append(LAFS.errorBox(e)));
        return;
      }
    }
    LAFS.page(main, "Not found", LAFS.el("p", { text: "No such page." }));
  }

  window.addEventListener("hashchange", () => {
    if (!location.hash.startsWith("#/") && location.hash !== "") return;
    render();
    document.getElementById("main").focus();
  });
  window.addEventListener("DOMContentLoaded", () => {
    // The skip link moves the focus to the page, without changing the
    // route.
    document.getElementById("skip-link").addEventListener("click", (ev) => {
      ev.preventDefault();
      document.getElementById("main").focus();
    });
    document.getElementById("open-cap").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = document.getElementById("open-cap-input");
      const cap = input.value.trim();
      if (!cap) return;
      input.value = "";
      const kind = LAFS.kindOf(cap);
      if (kind === "directory") location.hash = LAFS.hash("browse", cap);
      else if (kind === "file") location.hash = LAFS.hash("file", cap);
      else LAFS.toast("That is not a cap lafs knows (it should start with URI:)", "error");
    });
    render();
  });
})();
