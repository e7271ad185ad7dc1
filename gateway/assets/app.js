// Switchboard's agent pages: live updates over one websocket, keyboard shortcuts, saved
// replies, relative times. Everything here enhances server-rendered pages that work
// without it; nothing here is needed to read or to submit a form.
(function () {
  "use strict";
  const $ = (s, r) => (r || document).querySelector(s);
  const $$ = (s, r) => Array.from((r || document).querySelectorAll(s));
  const lang = document.documentElement.lang || "en";
  const csrf = ($('meta[name="csrf-token"]') || {}).content || "";

  // ---- times: relative text, exact local time on hover, refreshed every 30 s
  const rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" }) : null;
  const dtf = window.Intl ? new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }) : null;
  function relative(ms) {
    const d = (ms - Date.now()) / 1000, a = Math.abs(d);
    if (!rtf) return "";
    if (a < 45) return rtf.format(0, "second");
    if (a < 3600) return rtf.format(Math.round(d / 60), "minute");
    if (a < 86400) return rtf.format(Math.round(d / 3600), "hour");
    return rtf.format(Math.round(d / 86400), "day");
  }
  function refreshTimes(root) {
    $$("time[data-ts]", root).forEach((t) => {
      const ms = Number(t.dataset.ts);
      if (!ms) return;
      const r = relative(ms);
      if (r) t.textContent = r;
      if (dtf) t.title = dtf.format(new Date(ms));
    });
  }
  refreshTimes(document);
  setInterval(() => refreshTimes(document), 30000);
  document.addEventListener("htmx:afterSwap", (e) => refreshTimes(e.target));
  // The WhatsApp template picker shows the chosen template's words.
  document.addEventListener("change", (e) => {
    if (e.target.id !== "wa-template") return;
    const o = e.target.selectedOptions[0], pv = $("#wa-preview");
    if (o && pv) pv.textContent = o.dataset.body || "";
  });

  function toast(text) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = text;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.textContent = ""), 4000);
  }
  document.addEventListener("htmx:responseError", (e) => {
    const x = e.detail.xhr;
    if (x && x.status === 409 && x.responseText) return; // the pane shows the conflict
    toast((x && x.responseText && x.responseText.length < 300 ? x.responseText : "") || "Error " + (x ? x.status : ""));
  });
  // A 409 from an action carries the refreshed pane with the conflict message: show it.
  document.addEventListener("htmx:beforeSwap", (e) => {
    if (e.detail.xhr.status === 409 || e.detail.xhr.status === 422) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // ---- the open conversation and the list
  const head = () => $("#conv-head");
  const openId = () => (head() ? head().dataset.id : null);
  const openNumber = () => (head() ? head().dataset.number : null);
  const list = $("#list");
  const filters = $("form.filters");

  function listQuery() {
    if (!filters) return "";
    return new URLSearchParams(new FormData(filters)).toString() + (openNumber() ? "&open=" + openNumber() : "");
  }
  let listTimer = null;
  function refreshList() {
    if (!list || !window.htmx) return;
    clearTimeout(listTimer);
    listTimer = setTimeout(() => {
      // Keep what the agent is doing: focus, ticked boxes, scroll position.
      const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement.closest("li") : null;
      const focusId = focused ? focused.id : null;
      const ticked = $$("input.pick:checked", list).map((c) => c.value);
      const before = new Set($$("li[data-number]", list).map((li) => li.id));
      const body = $("#list-body"), top = body ? body.scrollTop : 0;
      htmx.ajax("GET", "/conversations/list?" + listQuery(), { target: "#list", swap: "innerHTML" }).then(() => {
        ticked.forEach((n) => { const c = $('input.pick[value="' + n + '"]', list); if (c) c.checked = true; });
        $$("li[data-number]", list).forEach((li) => { if (!before.has(li.id)) li.classList.add("fresh"); });
        if (body) body.scrollTop = top;
        if (focusId) { const a = $("#" + focusId + " a.conv"); if (a) a.focus({ preventScroll: true }); }
        updateBulk();
      });
      document.body.dispatchEvent(new Event("sb:counts"));
    }, 150);
  }

  let threadBusy = false, threadAgain = false;
  // `cards`: something shown changed in place (an invoice turned Paid, a WhatsApp file
  // arrived): fetch the whole thread and replace what is shown, rather than only what came
  // after the last message.
  function refreshThread(cards) {
    const n = openNumber();
    if (!n || !window.htmx) return;
    if (threadBusy) { threadAgain = true; return; }
    threadBusy = true;
    const items = $$("#thread > li.msg[data-id]");
    const last = items.length && !cards ? items[items.length - 1].dataset.id : "";
    const body = $("#thread-body");
    const atBottom = body ? body.scrollHeight - body.scrollTop - body.clientHeight < 80 : true;
    fetch("/conversations/" + n + "/thread?after=" + encodeURIComponent(last), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : ""))
      .then((html) => {
        if (html.trim()) {
          const tpl = document.createElement("template");
          tpl.innerHTML = html;
          Array.from(tpl.content.children).forEach((li) => {
            const shown = li.id ? document.getElementById(li.id) : null;
            if (!shown) $("#thread").appendChild(li);
            else if (cards) shown.replaceWith(li);
          });
          refreshTimes($("#thread"));
          if (atBottom && body) body.scrollTop = body.scrollHeight;
        }
      })
      .finally(() => { threadBusy = false; if (threadAgain) { threadAgain = false; refreshThread(true); } });
  }
  const tb = $("#thread-body");
  if (tb) tb.scrollTop = tb.scrollHeight;
  document.addEventListener("htmx:afterSwap", (e) => {
    if (e.target.id === "thread") {
      // A reply's own answer can come after the socket's refresh has shown the same
      // message: the one shown first stays (its state is the newer), the copy goes.
      const seen = new Set();
      $$("#thread > li.msg[id]").forEach((li) => { if (seen.has(li.id)) li.remove(); else seen.add(li.id); });
      const b = $("#thread-body"); if (b) b.scrollTop = b.scrollHeight;
    }
    if (e.target.id === "conv-pane") { const b = $("#thread-body"); if (b) b.scrollTop = b.scrollHeight; sendViewing(); }
  });

  // ---- the websocket: events of what this agent may see; presence and typing out
  let ws = null, wsDelay = 1000;
  const viewers = new Map(); // user id -> {name, until}
  function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); }
  function sendViewing() { send({ type: "viewing", conversation_id: openId() }); }
  function connect() {
    if (!document.body.dataset.signedIn) return;
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/inbox/events");
    ws.onopen = () => { wsDelay = 1000; sendViewing(); document.body.dataset.live = "1"; };
    ws.onclose = () => { document.body.dataset.live = ""; setTimeout(connect, wsDelay); wsDelay = Math.min(wsDelay * 2, 30000); };
    ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (e) { /* a malformed frame is ignored */ } };
  }
  setInterval(sendViewing, 20000);
  function scopeOf(ev) { return ev.scope || ev.conversation || null; }
  function onEvent(ev) {
    const scope = scopeOf(ev);
    const cid = scope ? (scope.conversation_id || scope.id) : null;
    switch (ev.type) {
      case "delivery": {
        const st = document.querySelector("#m-" + CSS.escape(ev.message_id || "") + " .state");
        const labels = ($("#thread") || { dataset: {} }).dataset;
        if (st) { st.className = "state " + ev.state; st.textContent = labels["state" + ev.state[0].toUpperCase() + ev.state.slice(1)] || ev.state; }
        break;
      }
      case "message":
      case "note":
        // A message shown already came again changed (its file arrived): redraw it.
        if (cid && cid === openId()) refreshThread(!!(ev.message && document.getElementById("m-" + ev.message.id)));
        refreshList();
        break;
      case "card_added":
      case "card_updated":
        if (cid && cid === openId()) refreshThread(true);
        refreshList();
        break;
      case "conversation_opened":
      case "conversation_changed":
      case "handoff":
        refreshList();
        if (cid && cid === openId()) { const h = head(); if (h) h.dataset.stale = "1"; refreshThread(); }
        break;
      case "typing":
        if (ev.from === "contact" && cid && cid === openId()) {
          const t = $("#typing");
          if (t) { t.textContent = ev.on ? t.dataset.text || "…" : ""; clearTimeout(onEvent.typing); onEvent.typing = setTimeout(() => (t.textContent = ""), 6000); }
        }
        break;
      case "viewing":
        if (ev.user_id === document.body.dataset.user) break;
        if (ev.conversation_id === openId()) viewers.set(ev.user_id, { name: ev.name, until: Date.now() + 45000 });
        else viewers.delete(ev.user_id);
        showViewers();
        break;
      case "notification": {
        const n = ev.notification || {};
        const texts = document.body.dataset;
        const byKind = { mention: texts.mentioned, assigned: texts.assigned, reply: texts.notifyReply, breach: texts.notifyBreach, survey: texts.notifySurvey };
        const text = (byKind[n.kind] || texts.assigned || "").replace("#0", "#" + n.conversation_number);
        const href = "/conversations/" + n.conversation_number;
        const count = document.getElementById("notif-count");
        if (count) { count.textContent = String((parseInt(count.textContent, 10) || 0) + 1); count.hidden = false; }
        // A message on the conversation already open needs no toast.
        if (n.kind === "reply" && n.conversation_id === openId()) break;
        toast(text);
        if (window.Notification && Notification.permission === "granted" && document.hidden) {
          const bn = new Notification(document.title, { body: text, tag: n.id });
          bn.onclick = () => { window.focus(); location.href = href; };
        }
        document.body.dispatchEvent(new Event("sb:counts"));
        break;
      }
      case "resync":
        refreshList();
        refreshThread();
        break;
    }
  }
  function showViewers() {
    const el = $("#viewers");
    if (!el) return;
    const now = Date.now();
    const names = [];
    viewers.forEach((v, k) => { if (v.until > now) names.push(v.name); else viewers.delete(k); });
    el.textContent = names.length ? (el.dataset.label || "Also viewing:") + " " + names.join(", ") : "";
  }
  setInterval(showViewers, 15000);
  connect();

  // ---- composer: typing indicator, Ctrl+Enter, saved replies with /shortcut
  const composer = $("#composer");
  if (composer) {
    const ta = $("textarea", composer);
    const menu = $("#canned");
    let lastTyping = 0, typingOff = null, picks = [], sel = 0;
    const mode = () => (new FormData(composer).get("mode") || "reply");
    composer.addEventListener("change", () => composer.classList.toggle("note", mode() === "note"));
    ta.addEventListener("input", () => {
      if (mode() === "reply" && openId()) {
        const now = Date.now();
        if (now - lastTyping > 3000) { lastTyping = now; send({ type: "typing", conversation_id: openId(), on: true }); }
        clearTimeout(typingOff);
        typingOff = setTimeout(() => { lastTyping = 0; send({ type: "typing", conversation_id: openId(), on: false }); }, 4000);
      }
      const m = /(^|\s)\/([\w-]*)$/.exec(ta.value.slice(0, ta.selectionStart));
      if (!m) { hideMenu(); return; }
      fetch("/canned?prefix=" + encodeURIComponent(m[2]) + "&conversation=" + encodeURIComponent(openNumber() || ""), { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : []))
        .then((rows) => { picks = rows; sel = 0; drawMenu(); });
    });
    function drawMenu() {
      if (!picks.length) { hideMenu(); return; }
      menu.innerHTML = "";
      picks.forEach((p, i) => {
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === sel ? "true" : "false");
        const b = document.createElement("b"); b.textContent = "/" + p.shortcut;
        li.appendChild(b); li.appendChild(document.createTextNode(" " + p.title));
        li.addEventListener("mousedown", (e) => { e.preventDefault(); sel = i; insertPick(); });
        menu.appendChild(li);
      });
      menu.hidden = false;
    }
    function hideMenu() { picks = []; if (menu) { menu.hidden = true; menu.innerHTML = ""; } }
    function insertPick() {
      const p = picks[sel];
      if (!p) return;
      const upto = ta.value.slice(0, ta.selectionStart).replace(/\/[\w-]*$/, "");
      const rest = ta.value.slice(ta.selectionStart);
      ta.value = upto + p.body + rest;
      const pos = (upto + p.body).length;
      ta.setSelectionRange(pos, pos);
      hideMenu();
      ta.focus();
    }
    ta.addEventListener("keydown", (e) => {
      if (picks.length) {
        if (e.key === "ArrowDown") { sel = (sel + 1) % picks.length; drawMenu(); e.preventDefault(); return; }
        if (e.key === "ArrowUp") { sel = (sel - 1 + picks.length) % picks.length; drawMenu(); e.preventDefault(); return; }
        if (e.key === "Enter" || e.key === "Tab") { insertPick(); e.preventDefault(); return; }
        if (e.key === "Escape") { hideMenu(); e.preventDefault(); return; }
      }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); composer.requestSubmit(); }
    });
  }

  // ---- bulk selection
  function updateBulk() {
    const bulk = $("#bulk");
    if (!bulk) return;
    const n = $$("input.pick:checked").length;
    bulk.classList.toggle("on", n > 0);
    const c = $("#bulk-count");
    if (c) c.textContent = n ? n + " ✓" : "";
  }
  document.addEventListener("change", (e) => { if (e.target.classList && e.target.classList.contains("pick")) updateBulk(); });
  document.addEventListener("htmx:afterRequest", (e) => { if (e.target.id === "bulk" && e.detail.successful) { $$("input.pick:checked").forEach((c) => (c.checked = false)); updateBulk(); refreshList(); } });

  // ---- keyboard
  function typingInField(e) {
    const t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function move(step) {
    const rows = $$("#list li[data-number] a.conv");
    if (!rows.length) return;
    let i = rows.findIndex((a) => a.closest("li").classList.contains("selected"));
    i = i < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, i + step));
    location.href = rows[i].getAttribute("href");
  }
  function setMode(m) {
    const r = composer && $('input[name="mode"][value="' + m + '"]', composer);
    if (r) { r.checked = true; composer.classList.toggle("note", m === "note"); $("textarea", composer).focus(); }
  }
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      const d = $("#palette"); if (d && !d.open) { d.showModal(); $("#palette-q").focus(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typingInField(e)) return;
    const click = (k) => { const b = $('[data-shortcut="' + k + '"]'); if (b) { e.preventDefault(); b.click(); } };
    switch (e.key) {
      case "j": e.preventDefault(); move(1); break;
      case "k": e.preventDefault(); move(-1); break;
      case "r": e.preventDefault(); setMode("reply"); break;
      case "n": e.preventDefault(); setMode("note"); break;
      case "e": click("e"); break;
      case "i": click("i"); break;
      case "/": { const q = $("#q"); if (q) { e.preventDefault(); q.focus(); q.select(); } break; }
      case "?": { const d = $("#shortcuts"); if (d) { e.preventDefault(); d.showModal(); } break; }
    }
  });
  document.addEventListener("click", (e) => {
    const a = e.target.closest("[data-action]");
    if (!a) return;
    const act = a.dataset.action;
    if (act === "shortcuts") { e.preventDefault(); $("#shortcuts").showModal(); }
    if (act === "close-dialog") { e.preventDefault(); a.closest("dialog").close(); }
    if (act === "notify-optin" && window.Notification) { e.preventDefault(); Notification.requestPermission().then((p) => toast(p)); }
  });
})();

// A suggested article's link goes into the reply being written.
document.addEventListener("click", function (e) {
  var b = e.target.closest && e.target.closest("[data-insert]");
  if (!b) return;
  var box = document.getElementById("reply-text");
  if (!box) return;
  var text = b.getAttribute("data-insert");
  box.value = box.value ? box.value.replace(/\s*$/, "") + "\n" + text : text;
  box.focus();
});

// What the templates ask for with data attributes, in place of inline handlers: the pages
// run under a Content-Security-Policy that refuses inline script.
// - data-autosubmit on a field submits its form on change: "request" through
//   requestSubmit (so htmx sends it), "if-value" likewise but only once a value is picked,
//   "submit" with a plain form.submit().
// - data-confirm on a form asks before it is submitted.
// - data-reset-on-success on an htmx form empties it and focuses its text box again once
//   its request has succeeded.
document.addEventListener("change", function (e) {
  var field = e.target;
  var how = field && field.getAttribute && field.getAttribute("data-autosubmit");
  if (!how || !field.form) return;
  if (how === "submit") field.form.submit();
  else if (how === "request") field.form.requestSubmit();
  else if (how === "if-value" && field.value) field.form.requestSubmit();
});
document.addEventListener("submit", function (e) {
  var form = e.target;
  var text = form && form.getAttribute && form.getAttribute("data-confirm");
  if (text != null && !window.confirm(text)) e.preventDefault();
}, true);
document.addEventListener("htmx:afterRequest", function (e) {
  var form = e.target && e.target.closest && e.target.closest("[data-reset-on-success]");
  if (!form || !e.detail.successful) return;
  form.reset();
  var box = form.querySelector("textarea");
  if (box) box.focus();
});
