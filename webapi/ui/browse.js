// lafs web UI: the file browser. "#/browse" is the Files start page (make
// a directory, reopen one from this tab); "#/browse/<dircap>/<names...>"
// lists a directory reached from a cap by a path of child names, with
// uploads, mkdir, rename, delete, cap copying and a deep check.
//
// The path in the hash is only the way there (and the breadcrumbs back):
// the page finds the directory's own cap once and then works on that cap
// alone, never on a URL path of names. A browser drops "." and ".."
// segments (and "%2e") from a URL path, so a child named "." or ".."
// cannot be reached by name in a path: the page walks through such a
// child by its cap, and deletes, renames and makes children with the
// name in the query string.
//
// Caps are secrets: they go into link targets and onto the clipboard,
// never into visible text, toasts, errors or the console.
"use strict";

(function () {
  const L = window.LAFS;
  const RECENT_KEY = "lafs-recent-dirs";
  const RECENT_MAX = 10;
  const MAX_IN_FLIGHT = 3;

  const ROW_LIMIT = 500;       // rows shown before "Show all"
  const REFRESH_DELAY = 300;   // ms within which listing refreshes are coalesced
  const POLL_TRIES = 5;        // deep-check status polls that may fail in a row

  const scrub = L.scrub;
  const errText = L.errText;

  function errBox(err) {
    return L.errorBox(new Error(errText(err)));
  }

  const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

  // EDGE_SPACE matches a name with ASCII white space (Python's) at an end.
  const EDGE_SPACE = /^[ \t\n\r\v\f]|[ \t\n\r\v\f]$/;

  // pathless reports whether a name cannot be a URL path segment: the
  // browser's URL parser takes "." and ".." (also as "%2e") as moves.
  function pathless(n) {
    return n === "." || n === "..";
  }

  // nameProblem is why n cannot be given as a new name, or null.
  // Names are taken as typed: spaces around them are part of them.
  function nameProblem(n) {
    if (n === "") return "a name cannot be empty";
    if (n.trim() === "") return "a name cannot be only spaces";
    if (pathless(n)) return "“" + n + "” cannot be a name here: in a web address it means “this directory” or “the one above”";
    if (n.includes("/")) return "a name cannot contain “/”";
    return null;
  }

  // capOf is the cap a listing entry opens with: the write cap if known.
  function capOf(info) {
    return (info && (info.rw_uri || info.ro_uri)) || null;
  }

  // resolve is GET ?t=json of what the path names leads to from cap. It
  // asks for as many names at once as a URL path can carry, and steps
  // over a "." or ".." child by its cap, read from its parent's listing.
  async function resolve(cap, names) {
    let i = names.findIndex(pathless);
    while (i >= 0) {
      const j = await L.api(L.capPath(cap, names.slice(0, i)) + "?t=json");
      const kids = Array.isArray(j) && j[0] === "dirnode" && j[1] && j[1].children;
      if (!kids) throw new Error("“" + (names[i - 1] || "the root") + "” is not a directory");
      const c = own(kids, names[i]) && Array.isArray(kids[names[i]]) ? kids[names[i]] : null;
      if (!c) {
        const e = new Error("No such child: " + names[i]);
        e.status = 404;
        throw e;
      }
      const next = capOf(c[1]);
      if (!next) throw new Error("“" + names[i] + "” has no cap this node can open");
      cap = next;
      names = names.slice(i + 1);
      i = names.findIndex(pathless);
    }
    return L.api(L.capPath(cap, names) + "?t=json");
  }

  // shortCap is a cap's kind and its first few characters, for labels.
  function shortCap(cap) {
    const m = /^(URI:[A-Za-z0-9-]+:)(.{0,4})/.exec(cap || "");
    return m ? m[1] + m[2] + "…" : "a cap";
  }

  // ---- recent directories (sessionStorage only) ----

  function recentDirs() {
    try {
      const v = JSON.parse(sessionStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(v) ? v.filter((e) => e && typeof e.cap === "string") : [];
    } catch (e) {
      return [];
    }
  }

  function rememberDir(cap) {
    const list = recentDirs().filter((e) => e.cap !== cap);
    list.unshift({ cap, at: Date.now() });
    try {
      sessionStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX)));
    } catch (e) { /* storage full or disabled: nothing to remember */ }
  }

  function clockTime(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // ---- uploads: one queue for the whole tab ----
  //
  // Uploads keep going when the page changes; each directory's list of
  // uploads is kept so it shows again when the directory is reopened.

  const uploads = {
    queue: [],          // jobs waiting to start
    active: 0,          // jobs in flight
    lists: new Map(),   // directory key -> ul#uploads element
    listeners: new Map(), // directory key -> function called after a finished upload
  };

  function uploadList(key) {
    let ul = uploads.lists.get(key);
    if (!ul) {
      ul = L.el("ul", { id: "uploads", class: "uploads", "aria-label": "Uploads" });
      uploads.lists.set(key, ul);
    }
    return ul;
  }

  window.addEventListener("beforeunload", (ev) => {
    if (uploads.active > 0 || uploads.queue.length > 0) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });

  // enqueue adds an upload of file to path (the web API path of the
  // directory's own cap: never a path of names) and shows it in the
  // directory's list. The caller has checked the name with nameProblem.
  function enqueue(key, path, file) {
    const name = file.name;
    const progress = L.el("progress", { max: "1", "aria-label": "Upload progress of " + name });
    const status = L.el("span", { class: "upload-status", text: "waiting" });
    const cancel = L.el("button", {
      type: "button", class: "small", "data-action": "cancel-upload",
      "aria-label": "Cancel upload of " + name, text: "Cancel",
    });
    const li = L.el("li", { "data-upload": name },
      L.el("span", { class: "upload-name", text: name }), progress, status, cancel);
    const job = { key, url: path + "/" + encodeURIComponent(name), file, li, progress, status, cancel, xhr: null, state: "queued" };
    cancel.addEventListener("click", () => cancelJob(job));
    uploadList(key).append(li);
    uploads.queue.push(job);
    pump();
  }

  function finish(job, state, text) {
    job.state = state;
    job.li.classList.add(state);
    job.status.textContent = text;
    job.cancel.remove();
    if (state === "done") {
      job.progress.max = 1;
      job.progress.value = 1;
    }
  }

  function cancelJob(job) {
    if (job.state === "queued") {
      uploads.queue = uploads.queue.filter((j) => j !== job);
      finish(job, "cancelled", "cancelled");
    } else if (job.state === "running" && job.xhr) {
      job.xhr.abort();
    }
  }

  function pump() {
    while (uploads.active < MAX_IN_FLIGHT && uploads.queue.length > 0) {
      start(uploads.queue.shift());
    }
  }

  function start(job) {
    uploads.active++;
    job.state = "running";
    job.status.textContent = "starting";
    const xhr = new XMLHttpRequest();
    job.xhr = xhr;
    const t0 = performance.now();
    let ended = false;
    const end = (state, text) => {
      if (ended) return;
      ended = true;
      uploads.active--;
      finish(job, state, text);
      if (state === "failed") L.toast("Upload of “" + job.file.name + "” failed: " + text, "error");
      // Refresh whatever the end: a cancel or a failure late in the upload
      // (while the node stores it on the grid) may still have linked it.
      const f = uploads.listeners.get(job.key);
      if (f) f(job.file.name, state);
      pump();
    };
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const secs = (performance.now() - t0) / 1000;
      job.progress.max = e.total || 1;
      job.progress.value = e.loaded;
      if (e.loaded >= e.total) {
        job.status.textContent = "storing on the grid…";
      } else {
        const pct = e.total ? Math.floor((100 * e.loaded) / e.total) : 100;
        job.status.textContent = pct + "% · " + rate(e.loaded, secs);
      }
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        const secs = (performance.now() - t0) / 1000;
        end("done", "done · " + L.fmtSize(job.file.size) + (job.file.size >= 1e6 ? " at " + rate(job.file.size, secs) : ""));
      } else {
        end("failed", errText(new Error((xhr.responseText || "").trim() || xhr.status + " " + xhr.statusText)));
      }
    };
    xhr.onerror = () => end("failed", "network error");
    xhr.onabort = () => end("cancelled", "cancelled");
    xhr.open("PUT", job.url);
    xhr.send(job.file);
  }

  // rate is a transfer rate in MB/s (decimal, as network speeds are
  // given), or KB/s when slow.
  function rate(bytes, secs) {
    if (!secs || secs <= 0) return "—";
    const r = bytes / secs;
    if (r >= 1e6) return (r / 1e6).toFixed(r >= 1e7 ? 0 : 1) + " MB/s";
    return Math.max(0, Math.round(r / 1e3)) + " kB/s";
  }

  // ---- the start page ----

  function renderStart(main) {
    const button = L.el("button", { type: "button", id: "new-root-dir", class: "primary", text: "Create a new directory" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const cap = (await L.api("/uri?t=mkdir", { method: "POST", as: "text" })).trim();
        if (L.kindOf(cap) !== "directory") throw new Error("the node did not answer with a directory cap");
        L.toast("Directory created: copy its cap and keep it somewhere safe", "ok");
        location.hash = L.hash("browse", cap);
      } catch (e) {
        L.toast("Could not create a directory: " + errText(e), "error");
        button.disabled = false;
      }
    });

    const list = L.el("ul", { id: "recent-dirs", class: "recent-dirs" });
    const clear = L.el("button", { type: "button", class: "small", text: "Forget this list" });
    const fill = () => {
      const items = recentDirs();
      list.replaceChildren(...items.map((e) => L.el("li", null,
        L.el("a", { href: L.hash("browse", e.cap), text: "Directory opened " + clockTime(e.at) + " (" + shortCap(e.cap) + ")" }),
        /-RO:|^URI:DIR2-(CHK|LIT)/.test(e.cap) ? L.el("span", { class: "muted", text: " read-only" }) : null)));
      if (items.length === 0) list.append(L.el("li", { class: "muted", text: "None yet in this tab." }));
      clear.hidden = items.length === 0;
    };
    clear.addEventListener("click", () => {
      try { sessionStorage.removeItem(RECENT_KEY); } catch (e) { /* nothing kept */ }
      fill();
    });
    fill();

    L.page(main, "Files",
      L.el("p", null,
        "A directory is reached by its cap, a long string starting with URI:DIR2. ",
        "Paste one into the “Open a cap” box at the top of the page to open it, ",
        "or create a new directory here. ",
        L.el("strong", { text: "Keep the cap of each directory you create somewhere safe: " }),
        "whoever holds it can read (or, with a write cap, change) the directory, and this node keeps no list of your directories."),
      L.el("div", { class: "toolbar" }, button),
      L.el("h2", { id: "recent-heading", text: "Directories opened in this tab" }),
      L.el("p", { class: "muted", text: "Kept only until this tab is closed." }),
      list, clear);
  }

  // ---- a directory ----

  function typeLabel(kind, info, cap) {
    if (kind === "dirnode") return info.mutable === false ? "directory (immutable)" : "directory";
    if (kind === "filenode") {
      const fmt = /^URI:LIT:/.test(cap || "") ? "LIT" : (info.format || "");
      return (info.mutable ? "mutable file" : "file") + (fmt ? " (" + fmt + ")" : "");
    }
    return "unknown";
  }

  function sortChildren(children) {
    const rows = Object.entries(children || {}).map(([name, v]) => ({
      name, kind: Array.isArray(v) ? v[0] : "unknown", info: (Array.isArray(v) && v[1]) || {},
    }));
    rows.sort((a, b) => {
      const da = a.kind === "dirnode" ? 0 : 1;
      const db = b.kind === "dirnode" ? 0 : 1;
      if (da !== db) return da - db;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    return rows;
  }

  function randomHandle() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function renderDir(rootCap, names, main) {
    let alive = true;
    let renaming = null; // {name, form, input} while a rename form is open
    let children = {};
    let dirPath = null;  // the web API path of this directory's own cap, once known
    let key = null;      // the uploads list's key: dirPath
    let writable = false;
    let showAll = false; // show every row of a big directory
    let seq = 0;         // number of the newest listing request
    let shown = 0;       // number of the listing shown
    let refreshTimer = null;
    let refreshWaiters = [];
    let stopDeep = null; // cancels a deep check under way
    const title = names.length ? names[names.length - 1] : "Directory";

    rememberDir(rootCap);

    // Breadcrumbs: the root, then each name of the path.
    const crumbs = L.el("ol");
    const crumbLink = (label, upto) => {
      const last = upto === names.length;
      const a = L.el("a", { href: L.hash("browse", rootCap, ...names.slice(0, upto)), text: label });
      if (last) a.setAttribute("aria-current", "page");
      return L.el("li", null, a);
    };
    crumbs.append(crumbLink("Root", 0));
    names.forEach((n, i) => crumbs.append(crumbLink(n, i + 1)));
    const nav = L.el("nav", { "aria-label": "Breadcrumbs", class: "breadcrumbs" }, crumbs);

    const body = L.el("div", { class: "dir-body" }, L.el("p", { class: "muted", text: "Loading…" }));
    L.page(main, title);
    main.prepend(nav);
    main.append(body);
    const h1 = main.querySelector("h1");

    const tbody = L.el("tbody");
    const table = L.el("table", { id: "listing", class: "listing" },
      L.el("caption", { class: "visually-hidden", text: "Contents of " + title }),
      L.el("thead", null, L.el("tr", null,
        L.el("th", { scope: "col", text: "Name" }),
        L.el("th", { scope: "col", text: "Type" }),
        L.el("th", { scope: "col", class: "num", text: "Size" }),
        L.el("th", { scope: "col", text: "Modified" }),
        L.el("th", { scope: "col", text: "Actions" }))),
      tbody);

    // load is the directory's listing (its [1]), or null when the path
    // led to a file (whose page it then opens instead). The first load
    // finds the directory's own cap; later ones ask for that cap alone.
    async function load() {
      const j = dirPath ? await L.api(dirPath + "?t=json") : await resolve(rootCap, names);
      if (!Array.isArray(j) || j[0] !== "dirnode") {
        if (Array.isArray(j) && j[0] === "filenode" && j[1]) {
          const c = capOf(j[1]);
          if (c && alive) location.replace(L.hash("file", c) + "?name=" + encodeURIComponent(title));
          return null;
        }
        throw new Error("this is not a directory");
      }
      const info = j[1] || {};
      if (!dirPath) {
        const c = capOf(info);
        if (c) dirPath = L.capPath(c);
        else if (!names.some(pathless)) dirPath = L.capPath(rootCap, names);
        else throw new Error("the node did not say this directory's cap");
      }
      return info;
    }

    // refresh reloads the listing. Calls within REFRESH_DELAY ms of each
    // other share one request; an answer older than the one shown is
    // dropped. It resolves once the listing it asked for is handled.
    function refresh() {
      if (!alive) return Promise.resolve();
      return new Promise((resolve) => {
        refreshWaiters.push(resolve);
        if (!refreshTimer) refreshTimer = setTimeout(reload, REFRESH_DELAY);
      });
    }

    async function reload() {
      refreshTimer = null;
      const waiters = refreshWaiters;
      refreshWaiters = [];
      const n = ++seq;
      try {
        const info = await load();
        if (alive && info && n > shown) {
          shown = n;
          children = info.children || {};
          fillRows();
        }
      } catch (e) {
        if (alive && n > shown) L.toast("Could not reload the listing: " + errText(e), "error");
      }
      for (const f of waiters) f();
    }

    // fillRows rebuilds the listing; a rename form still open stays in
    // its row (or goes if that child went). A big directory shows its
    // first ROW_LIMIT rows until asked for all.
    function fillRows() {
      const rows = sortChildren(children);
      if (renaming && !rows.some((r) => r.name === renaming.name)) renaming = null;
      const hadFocus = renaming !== null && renaming.form.contains(document.activeElement);
      const cut = !showAll && rows.length > ROW_LIMIT;
      const visible = cut ? rows.slice(0, ROW_LIMIT) : rows;
      tbody.replaceChildren(...visible.map(rowFor));
      if (rows.length === 0) {
        tbody.append(L.el("tr", { class: "empty" }, L.el("td", { colspan: "5", class: "muted", text: "empty directory" })));
      }
      if (cut) {
        const more = L.el("button", {
          type: "button", id: "show-all-rows", class: "small",
          text: "Show all " + rows.length + " entries",
        });
        more.addEventListener("click", () => {
          showAll = true;
          fillRows();
          const next = tbody.rows[ROW_LIMIT];
          const a = next && next.querySelector(".open");
          if (a) a.focus();
        });
        tbody.append(L.el("tr", { class: "more" }, L.el("td", { colspan: "5" },
          L.el("span", { class: "muted", text: "Showing the first " + ROW_LIMIT + " of " + rows.length + " entries. " }), more)));
      }
      if (renaming) {
        const row = rowNamed(renaming.name);
        if (row) row.querySelector("td.name").replaceChildren(renaming.form);
        else renaming = null;
        if (renaming && hadFocus) renaming.input.focus();
      }
    }

    function rowNamed(n) {
      return Array.from(tbody.querySelectorAll("tr[data-name]")).find((r) => r.dataset.name === n) || null;
    }

    function focusRow(n) {
      const row = rowNamed(n);
      const a = row && row.querySelector(".open");
      if (a) a.focus();
    }

    function rowFor(c) {
      const { name, kind, info } = c;
      const cap = capOf(info);
      let link;
      if (kind === "dirnode" && cap) {
        // The hash keeps the path for the breadcrumbs; the page opens the
        // child by its cap (see resolve), so "." and ".." are safe.
        link = L.el("a", { class: "open dir", href: L.hash("browse", rootCap, ...names, name), text: name });
      } else if (kind === "filenode" && cap) {
        link = L.el("a", { class: "open file", href: L.hash("file", cap) + "?name=" + encodeURIComponent(name), text: name });
      } else {
        link = L.el("span", { class: "open unknown", text: name });
      }
      const md = (info.metadata && info.metadata.tahoe) || {};
      const modified = md.linkmotime || md.linkcrtime || (info.metadata && info.metadata.mtime);
      const actions = L.el("td", { class: "actions" });
      if (kind === "filenode" && info.ro_uri) {
        actions.append(L.el("a", {
          class: "button small", "data-action": "download", "aria-label": "Download " + name,
          href: L.capPath(info.ro_uri) + "?filename=" + encodeURIComponent(name) + "&save=true",
          download: name, text: "Download",
        }));
      }
      if (writable && kind === "filenode" && info.mutable && info.rw_uri) {
        actions.append(L.el("a", {
          class: "button small", "data-action": "edit", "aria-label": "Edit " + name,
          href: L.hash("file", info.rw_uri) + "?name=" + encodeURIComponent(name) + "&edit=1", text: "Edit",
        }));
      }
      actions.append(
        L.el("button", {
          type: "button", class: "small", "data-action": "copy-ro", "aria-label": "Copy read-only cap of " + name,
          text: "Copy read cap", onclick: () => {
            if (info.ro_uri) L.copy(info.ro_uri, "Read-only cap of “" + name + "”");
            else L.toast("“" + name + "” has no read-only cap", "error");
          },
        }),
        L.el("button", {
          type: "button", class: "small", "data-action": "copy-verify", "aria-label": "Copy verify cap of " + name,
          text: "Copy verify cap", onclick: () => {
            if (info.verify_uri) L.copy(info.verify_uri, "Verify cap of “" + name + "”");
            else L.toast("“" + name + "” has no verify cap: a literal file keeps its data in its cap, with nothing stored on servers", "info");
          },
        }));
      if (writable) {
        actions.append(
          L.el("button", {
            type: "button", class: "small", "data-action": "rename", "aria-label": "Rename " + name,
            text: "Rename", onclick: (ev) => startRename(ev.currentTarget.closest("tr"), name),
          }),
          L.el("button", {
            type: "button", class: "small danger", "data-action": "delete", "aria-label": "Delete " + name,
            text: "Delete", onclick: () => remove(name, kind),
          }));
      }
      return L.el("tr", { "data-name": name },
        L.el("td", { class: "name" }, link),
        L.el("td", { text: typeLabel(kind, info, cap) }),
        L.el("td", { class: "num", text: kind === "filenode" ? L.fmtSize(info.size) : "—" }),
        L.el("td", { class: "when", text: modified ? L.fmtTime(modified) : "—" }),
        actions);
    }

    function startRename(tr, name) {
      if (!tr) return;
      if (renaming) {
        renaming.input.focus();
        return;
      }
      const input = L.el("input", { id: "rename-input", value: name, "aria-label": "New name for " + name, autocomplete: "off", spellcheck: "false", required: true });
      const cancelBtn = L.el("button", { type: "button", class: "small", text: "Cancel" });
      const form = L.el("form", { class: "rename-form" }, input,
        L.el("button", { type: "submit", class: "small primary", text: "Rename" }), cancelBtn);
      renaming = { name, form, input };
      const close = () => {
        renaming = null;
        fillRows();
        focusRow(name);
      };
      cancelBtn.addEventListener("click", close);
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); close(); }
      });
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        // The name as typed: "a " is another name than "a".
        const to = input.value;
        if (to === name) { close(); return; }
        const bad = nameProblem(to);
        if (bad) { L.toast("Cannot rename to “" + to + "”: " + bad, "error"); return; }
        if (own(children, to)) {
          L.toast("“" + to + "” already exists here", "error");
          return;
        }
        input.disabled = true;
        try {
          await renameChild(name, to);
          if (!alive) return;
          L.toast("Renamed “" + name + "” to “" + to + "”", "ok");
          renaming = null;
          await refresh();
          focusRow(to);
        } catch (e) {
          input.disabled = false;
          input.focus();
          L.toast("Could not rename “" + name + "”: " + errText(e), "error");
        }
      });
      tr.querySelector("td.name").replaceChildren(form);
      input.focus();
      input.select();
    }

    // renameChild renames a child with t=rename, which keeps its
    // metadata. But the node strips white space from the ends of both
    // names of a t=rename (as Tahoe does), which would rename another
    // child ("a" for "a ") or give another name: such names are moved
    // by linking the child's cap under the new name, then unlinking the
    // old one.
    async function renameChild(from, to) {
      if (!EDGE_SPACE.test(from) && !EDGE_SPACE.test(to)) {
        await L.api(dirPath + "?t=rename&replace=false&from_name=" + encodeURIComponent(from) + "&to_name=" + encodeURIComponent(to), { method: "POST", as: "text" });
        return;
      }
      const v = children[from];
      const c = Array.isArray(v) ? capOf(v[1]) : null;
      if (!c) throw new Error("the node gave no cap for it, and a name with spaces at its ends can only be moved by its cap");
      // The cap goes in the body, not in the URL.
      await L.api(dirPath + "?t=uri&replace=false&name=" + encodeURIComponent(to), {
        method: "POST", as: "text", body: new URLSearchParams({ uri: c }),
      });
      try {
        await L.api(dirPath + "?t=unlink&name=" + encodeURIComponent(from), { method: "POST", as: "text" });
      } catch (e) {
        throw new Error("it is now also named “" + to + "”, but the old name stays: " + errText(e));
      }
    }

    // remove unlinks a child by its name in the query string (a name in
    // the path could be "." or "..", which the browser would drop).
    async function remove(name, kind) {
      const q = kind === "dirnode"
        ? "Delete the directory “" + name + "” from here? Its contents stay reachable only through its cap."
        : "Delete “" + name + "”?";
      if (!(await L.confirm(q, "Delete"))) return;
      try {
        await L.api(dirPath + "?t=unlink&name=" + encodeURIComponent(name), { method: "POST", as: "text" });
        L.toast("Deleted “" + name + "”", "ok");
        refresh();
      } catch (e) {
        L.toast("Could not delete “" + name + "”: " + errText(e), "error");
      }
    }

    // replaceQuestion is what to ask before an upload replaces the child
    // of its name, by what that child is, or {refuse} when it cannot.
    function replaceQuestion(name) {
      const v = children[name];
      const kind = Array.isArray(v) ? v[0] : "unknown";
      const info = (Array.isArray(v) && v[1]) || {};
      if (kind === "dirnode") return { refuse: "a directory of that name exists here" };
      if (kind === "filenode" && info.mutable) {
        if (!info.rw_uri) return { refuse: "a read-only mutable file of that name exists here" };
        return {
          ask: "“" + name + "” is a mutable file. Uploading overwrites its contents, for everyone who holds its cap. Overwrite it?",
          ok: "Overwrite",
        };
      }
      if (kind === "filenode") {
        return {
          ask: "“" + name + "” exists. Make the name point to the uploaded file instead? The old file is not changed: whoever holds its cap can still read it.",
          ok: "Replace",
        };
      }
      return { ask: "Something named “" + name + "” exists here. Replace it?", ok: "Replace" };
    }

    // addFiles checks the names, asks before replacing existing
    // children, then queues uploads.
    async function addFiles(files) {
      const wanted = new Set();
      for (const f of files) {
        if (!alive) return;
        const bad = nameProblem(f.name);
        if (bad) { L.toast("Cannot upload “" + f.name + "”: " + bad, "error"); continue; }
        if (wanted.has(f.name)) {
          if (!(await L.confirm("Two of the chosen files are named “" + f.name + "”: upload this one too, replacing the other?", "Replace"))) continue;
        } else if (own(children, f.name)) {
          const r = replaceQuestion(f.name);
          if (r.refuse) { L.toast("Cannot upload “" + f.name + "”: " + r.refuse, "error"); continue; }
          if (!(await L.confirm(r.ask, r.ok))) continue;
        }
        if (!alive) return;
        wanted.add(f.name);
        enqueue(key, dirPath, f);
      }
    }

    function writeControls() {
      const input = L.el("input", { type: "file", id: "upload-input", multiple: true, class: "visually-hidden" });
      input.addEventListener("change", () => {
        const files = Array.from(input.files || []);
        input.value = "";
        addFiles(files);
      });
      // The label follows the input, so the input's keyboard focus can
      // show on it (browse.css: #upload-input:focus-visible + label).
      const uploadLabel = L.el("label", { for: "upload-input", class: "button primary upload-label", text: "Upload files" });

      const drop = L.el("div", {
        id: "dropzone", class: "dropzone", tabindex: "0", role: "button",
        "aria-label": "Drop files here to upload them, or press Enter to choose files",
      }, L.el("span", { text: "Drop files here to upload, or press Enter to choose them" }));
      let depth = 0;
      drop.addEventListener("click", () => input.click());
      drop.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); }
      });
      drop.addEventListener("dragenter", (ev) => { ev.preventDefault(); depth++; drop.classList.add("dragging"); });
      drop.addEventListener("dragover", (ev) => { ev.preventDefault(); if (ev.dataTransfer) ev.dataTransfer.dropEffect = "copy"; });
      drop.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (depth === 0) drop.classList.remove("dragging"); });
      drop.addEventListener("drop", (ev) => {
        ev.preventDefault();
        depth = 0;
        drop.classList.remove("dragging");
        const dt = ev.dataTransfer;
        if (!dt) return;
        const files = [];
        let folders = 0;
        const items = dt.items ? Array.from(dt.items) : [];
        if (items.length) {
          for (const it of items) {
            if (it.kind !== "file") continue;
            const entry = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
            if (entry && entry.isDirectory) { folders++; continue; }
            const f = it.getAsFile();
            if (f) files.push(f);
          }
        } else {
          files.push(...Array.from(dt.files || []));
        }
        if (folders) L.toast("Folders cannot be uploaded here: make a folder with “New folder” and upload its files into it", "error");
        if (files.length) addFiles(files);
      });

      const nameInput = L.el("input", { id: "mkdir-name", name: "name", autocomplete: "off", spellcheck: "false", required: true });
      const mkdir = L.el("form", { id: "mkdir-form", class: "inline-form" },
        L.el("label", { for: "mkdir-name", text: "Folder name" }), nameInput,
        L.el("button", { type: "submit", text: "New folder" }));
      mkdir.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const n = nameInput.value; // as typed, spaces and all
        const bad = nameProblem(n);
        if (bad) { L.toast("Cannot make a folder “" + n + "”: " + bad, "error"); return; }
        if (own(children, n)) { L.toast("“" + n + "” already exists here", "error"); return; }
        try {
          await L.api(dirPath + "?t=mkdir&replace=false&name=" + encodeURIComponent(n), { method: "POST", as: "text" });
          nameInput.value = "";
          L.toast("Created folder “" + n + "”", "ok");
          refresh();
        } catch (e) {
          L.toast("Could not create “" + n + "”: " + errText(e), "error");
        }
      });

      return L.el("section", { class: "write-controls", "aria-label": "Add to this directory" },
        L.el("div", { class: "toolbar" }, input, uploadLabel, mkdir),
        drop, uploadList(key));
    }

    // deepCheckSection runs a deep check as an operation with a handle:
    // it polls the handle (retrying a few failures in a row), releases
    // it once the result is shown, and cancels it when the user asks or
    // the page is left.
    function deepCheckSection() {
      const verify = L.el("input", { type: "checkbox", id: "deep-verify" });
      const repair = L.el("input", { type: "checkbox", id: "deep-repair" });
      const btn = L.el("button", { type: "button", id: "deep-check-btn", text: "Deep check" });
      const cancelBtn = L.el("button", { type: "button", id: "deep-check-cancel", class: "small", hidden: true, text: "Cancel the check" });
      const progress = L.el("div", { id: "deep-check-progress", "aria-live": "polite" });
      const result = L.el("div", { id: "deep-check-result" });

      btn.addEventListener("click", async () => {
        btn.disabled = true;
        result.replaceChildren();
        const h = randomHandle();
        const op = "/operations/" + h;
        const bar = L.el("progress", { "aria-label": "Deep check progress" });
        const counts = L.el("span", { class: "muted", text: "starting…" });
        progress.replaceChildren(bar, " ", counts);
        let timer = null;
        let over = false;   // polling stopped
        let held = true;    // the node keeps the handle for us
        // release lets the node forget the handle (cancelling the check
        // if it still runs); keepalive lets it go out as the tab closes.
        const release = () => {
          if (!held) return;
          held = false;
          fetch(op + "?t=cancel", { method: "POST", credentials: "same-origin", keepalive: true }).catch(() => {});
        };
        const onHide = () => release();
        const stop = (cancel) => {
          over = true;
          if (timer) clearTimeout(timer);
          timer = null;
          if (cancel) release();
          window.removeEventListener("pagehide", onHide);
          cancelBtn.hidden = true;
          cancelBtn.onclick = null;
          if (stopDeep === stopNow) stopDeep = null;
          btn.disabled = false;
        };
        const stopNow = () => stop(true);
        stopDeep = stopNow;
        window.addEventListener("pagehide", onHide);
        cancelBtn.hidden = false;
        cancelBtn.onclick = () => {
          stop(true);
          progress.replaceChildren(L.el("span", { class: "muted", text: "Deep check cancelled." }));
          btn.focus();
        };

        let url = dirPath + "?t=start-deep-check&output=JSON&ophandle=" + h;
        if (verify.checked) url += "&verify=true";
        if (repair.checked) url += "&repair=true";
        try {
          await L.api(url, { method: "POST", as: "text", timeout: 30000 });
        } catch (e) {
          if (over) return;
          // The node may have started it all the same.
          stop(true);
          if (alive) progress.replaceChildren(errBox(e));
          return;
        }
        if (over) {
          // Cancelled while it was starting: the first cancel may have
          // come before the handle existed.
          held = true;
          release();
          return;
        }
        let failures = 0;
        const poll = async () => {
          timer = null;
          if (over || !alive) return;
          let st;
          try {
            st = await L.api(op + "?t=status&output=JSON", { timeout: 10000 });
          } catch (e) {
            if (over || !alive) return;
            // A lost connection, a timeout or a busy node is worth
            // another try; an answer saying the check failed is not.
            const transient = !e.status || [408, 429, 502, 503, 504].includes(e.status);
            failures++;
            if (transient && failures < POLL_TRIES) {
              counts.textContent = "no answer from the node (" + errText(e) + "), trying again…";
              timer = setTimeout(poll, 1000 * failures);
              return;
            }
            if (e.status === 404) held = false; // the node forgot it already
            stop(true);
            progress.replaceChildren(errBox(e));
            return;
          }
          if (over || !alive) return;
          failures = 0;
          const healthy = st["count-objects-healthy"] ?? st["count-objects-healthy-pre-repair"] ?? 0;
          const unhealthy = st["count-objects-unhealthy"] ?? st["count-objects-unhealthy-pre-repair"] ?? 0;
          counts.textContent = (st["count-objects-checked"] || 0) + " objects checked: " + healthy + " healthy, " + unhealthy + " unhealthy";
          if (st.finished) {
            bar.max = 1;
            bar.value = 1;
            result.replaceChildren(deepResult(st));
            // The result is shown: let the node forget it.
            held = false;
            stop(false);
            L.api(op + "?t=status&output=JSON&release-after-complete=true", { timeout: 10000 }).catch(() => {});
            return;
          }
          timer = setTimeout(poll, 1000);
        };
        timer = setTimeout(poll, 300);
      });
      return L.el("section", { class: "deep-check", "aria-labelledby": "deep-check-heading" },
        L.el("h2", { id: "deep-check-heading", text: "Check everything below this directory" }),
        L.el("div", { class: "toolbar" },
          L.el("label", null, verify, " Verify every share (slower: downloads them)"),
          L.el("label", null, repair, " Repair what is unhealthy"),
          btn, cancelBtn),
        progress, result);
    }

    function deepResult(st) {
      const rep = "count-objects-healthy-pre-repair" in st;
      const dl = L.el("dl", { class: "facts" });
      const add = (k, v) => dl.append(L.el("dt", { text: k }), L.el("dd", { text: String(v) }));
      add("Objects checked", st["count-objects-checked"] ?? 0);
      if (rep) {
        add("Healthy before repair", st["count-objects-healthy-pre-repair"] ?? 0);
        add("Unhealthy before repair", st["count-objects-unhealthy-pre-repair"] ?? 0);
        add("Repairs attempted", st["count-repairs-attempted"] ?? 0);
        add("Repairs successful", st["count-repairs-successful"] ?? 0);
        add("Healthy after repair", st["count-objects-healthy-post-repair"] ?? 0);
        add("Unhealthy after repair", st["count-objects-unhealthy-post-repair"] ?? 0);
      } else {
        add("Healthy", st["count-objects-healthy"] ?? 0);
        add("Unhealthy", st["count-objects-unhealthy"] ?? 0);
      }
      add("Corrupt shares", st["count-corrupt-shares"] ?? st["count-corrupt-shares-pre-repair"] ?? 0);
      const list = Array.isArray(st["list-unhealthy-files"]) ? st["list-unhealthy-files"] : [];
      const unhealthy = rep ? st["count-objects-unhealthy-pre-repair"] : st["count-objects-unhealthy"];
      const ok = !unhealthy;
      const out = L.el("div", null,
        L.el("p", null, L.el("span", { class: "badge " + (ok ? "ok" : "bad"), text: ok ? "all healthy" : "some unhealthy" })),
        dl);
      if (list.length) {
        out.append(L.el("h3", { text: "Unhealthy" }), L.el("ul", { class: "unhealthy-list" }, ...list.map((e) => {
          const path = Array.isArray(e) && Array.isArray(e[0]) ? e[0] : [];
          const res = Array.isArray(e) && e[1] ? e[1] : {};
          const label = path.length ? path.join("/") : "(this directory)";
          return L.el("li", null, L.el("span", { class: "mono", text: label }),
            res.summary ? L.el("span", { class: "muted", text: " — " + scrub(res.summary) }) : null);
        })));
      }
      return out;
    }

    const onUpload = () => refresh();
    const first = ++seq;
    load().then((info) => {
      if (!alive || !info) return;
      writable = Boolean(info.rw_uri) && info.mutable !== false;
      if (first > shown) {
        shown = first;
        children = info.children || {};
      }
      key = dirPath;
      uploads.listeners.set(key, onUpload);
      if (!writable) {
        h1.append(" ", L.el("span", { id: "read-only-badge", class: "badge warn", text: "read-only" }));
      }
      const capTools = L.el("div", { class: "toolbar dir-tools" });
      if (info.rw_uri) {
        capTools.append(L.el("button", {
          type: "button", class: "small", "data-action": "copy-dir-write", text: "Copy this directory's write cap",
          onclick: () => L.copy(info.rw_uri, "Write cap of this directory"),
        }));
      }
      if (info.ro_uri) {
        capTools.append(L.el("button", {
          type: "button", class: "small", "data-action": "copy-dir-read", text: "Copy its read-only cap",
          onclick: () => L.copy(info.ro_uri, "Read-only cap of this directory"),
        }));
      }
      if (info.verify_uri) {
        capTools.append(L.el("button", {
          type: "button", class: "small", "data-action": "copy-dir-verify", text: "Copy its verify cap",
          onclick: () => L.copy(info.verify_uri, "Verify cap of this directory"),
        }));
      }
      capTools.append(L.el("button", { type: "button", class: "small", text: "Refresh", onclick: () => refresh() }));
      fillRows();
      body.replaceChildren(...[
        capTools,
        writable ? writeControls() : L.el("p", { class: "muted", text: "You hold a read-only cap for this directory: it can be read and checked but not changed." }),
        L.el("div", { class: "table-scroll" }, table),
        deepCheckSection()].filter(Boolean));
    }).catch((e) => {
      if (alive) body.replaceChildren(errBox(e));
    });

    return () => {
      alive = false;
      if (refreshTimer) clearTimeout(refreshTimer);
      refreshTimer = null;
      for (const f of refreshWaiters) f();
      refreshWaiters = [];
      if (stopDeep) stopDeep();
      if (key !== null && uploads.listeners.get(key) === onUpload) uploads.listeners.delete(key);
    };
  }

  L.route(/^\/browse\/?$/, (m, main) => { renderStart(main); });

  L.route(/^\/browse\/([^/?]+)((?:\/[^/?]*)*)\/?$/, (m, main) => {
    let cap;
    let names;
    try {
      cap = decodeURIComponent(m[1]);
      names = (m[2] || "").split("/").filter((s) => s !== "").map(decodeURIComponent);
    } catch (e) {
      L.page(main, "Files", L.errorBox(new Error("This address is garbled.")));
      return null;
    }
    const kind = L.kindOf(cap);
    if (kind === "file" && names.length === 0) {
      location.replace(L.hash("file", cap));
      return null;
    }
    if (kind !== "directory") {
      L.page(main, "Files", L.errorBox(new Error("That is not a directory cap.")));
      return null;
    }
    return renderDir(cap, names, main);
  });
})();
