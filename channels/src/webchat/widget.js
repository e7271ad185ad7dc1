/* Switchboard web-chat widget. Embed with:
 *   <script src="https://support.example.com/widget.js" async></script>
 * No build step, no dependencies. Keeps the visitor id in a first-party cookie: the server
 * issues it (signed) in the welcome frame, which also replaces any id it did not take, so
 * the widget always keeps what the server says. Restores the conversation on reload, shows
 * typing, and reconnects with back-off. Messages typed while offline wait in localStorage
 * and are resent with the same client id until the server acknowledges them, so nothing is
 * lost and nothing is stored twice.
 */
(function () {
  "use strict";
  if (window.Switchboard && window.Switchboard.loaded) return;

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var base = new URL(script ? script.src : "/widget.js", location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/webchat/ws";
  var COOKIE = "sb_visitor";

  function getCookie(name) {
    var m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function setCookie(name, value) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=31536000; Path=/; SameSite=Lax" + secure;
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  var state = {
    visitor: getCookie(COOKIE),
    ws: null,
    connected: false,
    attempt: 0,
    seen: {},          // message id -> element
    byClient: {},      // client id -> element
    outbox: [],        // [{client_id, text}] not yet acknowledged
    lastTypingSent: 0,
    typingTimer: null,
    agentTypingTimer: null,
    identified: false,
    prechat: false
  };

  function outboxKey() { return "sb_outbox_" + (state.visitor || "new"); }
  function loadOutbox() {
    try { state.outbox = JSON.parse(localStorage.getItem(outboxKey()) || "[]"); } catch (e) { state.outbox = []; }
  }
  function saveOutbox() {
    try { localStorage.setItem(outboxKey(), JSON.stringify(state.outbox)); } catch (e) { /* private mode */ }
  }

  // ---- UI ----
  var css = "" +
    ".sb-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;background:#2456d3;color:#fff;font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    ".sb-panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);font:14px/1.4 system-ui,sans-serif;color:#1b1b1b;overflow:hidden}" +
    ".sb-panel.sb-open{display:flex}" +
    ".sb-head{background:#2456d3;color:#fff;padding:12px 14px;font-weight:600;display:flex;justify-content:space-between;align-items:center}" +
    ".sb-status{font-size:12px;font-weight:400;opacity:.9}" +
    ".sb-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:6px;background:#f6f7f9}" +
    ".sb-msg{max-width:80%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word}" +
    ".sb-you{align-self:flex-end;background:#2456d3;color:#fff}" +
    ".sb-agent,.sb-bot,.sb-system{align-self:flex-start;background:#fff;border:1px solid #e1e4ea}" +
    ".sb-pending{opacity:.6}" +
    ".sb-typing{font-size:12px;color:#667;padding:0 12px 6px;min-height:18px;background:#f6f7f9}" +
    ".sb-form{display:flex;gap:6px;padding:10px;border-top:1px solid #e1e4ea}" +
    ".sb-form textarea{flex:1;resize:none;border:1px solid #ccd;border-radius:8px;padding:8px;font:inherit;height:40px}" +
    ".sb-form button,.sb-pre button{border:0;border-radius:8px;background:#2456d3;color:#fff;padding:0 14px;font:inherit;cursor:pointer}" +
    ".sb-pre{display:none;flex-direction:column;gap:8px;padding:14px;border-top:1px solid #e1e4ea}" +
    ".sb-pre input{border:1px solid #ccd;border-radius:8px;padding:8px;font:inherit}" +
    ".sb-pre button{padding:9px}" +
    ".sb-error{color:#b00020;font-size:12px;padding:0 12px}" +
    ".sb-close{background:none;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;padding:0 0 0 10px}" +
    "@media (max-width:480px){.sb-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100vh;height:100dvh;max-height:none;border-radius:0}" +
    ".sb-is-open .sb-launcher{display:none}}";

  var root, panel, log, typingLine, statusEl, textarea, form, pre, errorEl;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function buildUi(title) {
    var style = el("style"); style.textContent = css; document.head.appendChild(style);
    root = el("div"); root.setAttribute("data-switchboard", "");
    var launcher = el("button", "sb-launcher", "Chat");
    launcher.setAttribute("data-testid", "sb-launcher");
    launcher.setAttribute("aria-label", "Open chat");
    panel = el("div", "sb-panel"); panel.setAttribute("role", "dialog"); panel.setAttribute("data-testid", "sb-panel");
    var head = el("div", "sb-head");
    var titleEl = el("span", null, title || "Chat with us");
    statusEl = el("span", "sb-status", "connecting…"); statusEl.setAttribute("data-testid", "sb-status");
    var close = el("button", "sb-close", "\u00d7");
    close.setAttribute("aria-label", "Close chat"); close.setAttribute("data-testid", "sb-close");
    close.addEventListener("click", function () { toggle(false); });
    var right = el("span"); right.appendChild(statusEl); right.appendChild(close);
    head.appendChild(titleEl); head.appendChild(right);
    log = el("div", "sb-log"); log.setAttribute("data-testid", "sb-log"); log.setAttribute("aria-live", "polite");
    typingLine = el("div", "sb-typing"); typingLine.setAttribute("data-testid", "sb-typing");
    errorEl = el("div", "sb-error"); errorEl.setAttribute("data-testid", "sb-error");
    pre = el("form", "sb-pre"); pre.setAttribute("data-testid", "sb-prechat");
    var name = el("input"); name.name = "name"; name.placeholder = "Your name"; name.autocomplete = "name";
    var email = el("input"); email.name = "email"; email.type = "email"; email.placeholder = "Your email"; email.autocomplete = "email"; email.required = true;
    var start = el("button", null, "Start chat"); start.type = "submit";
    pre.appendChild(name); pre.appendChild(email); pre.appendChild(start);
    pre.addEventListener("submit", function (ev) {
      ev.preventDefault();
      send({ type: "identify", name: name.value || null, email: email.value || null });
      state.identified = true;
      try { localStorage.setItem("sb_identified_" + state.visitor, "1"); } catch (e) { /* private mode */ }
      showComposer();
    });
    form = el("form", "sb-form");
    textarea = el("textarea"); textarea.placeholder = "Type a message…"; textarea.setAttribute("data-testid", "sb-input");
    textarea.setAttribute("aria-label", "Message");
    var sendBtn = el("button", null, "Send"); sendBtn.type = "submit"; sendBtn.setAttribute("data-testid", "sb-send");
    form.appendChild(textarea); form.appendChild(sendBtn);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
    textarea.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submit(); }
    });
    textarea.addEventListener("input", onTyping);
    panel.appendChild(head); panel.appendChild(log); panel.appendChild(typingLine); panel.appendChild(errorEl);
    panel.appendChild(pre); panel.appendChild(form);
    launcher.addEventListener("click", function () { toggle(); });
    root.appendChild(panel); root.appendChild(launcher);
    document.body.appendChild(root);
  }

  function showComposer() {
    var needForm = state.prechat && !state.identified;
    pre.style.display = needForm ? "flex" : "none";
    form.style.display = needForm ? "none" : "flex";
  }

  function toggle(open) {
    var want = open == null ? !panel.classList.contains("sb-open") : open;
    panel.classList.toggle("sb-open", want);
    root.classList.toggle("sb-is-open", want);
    if (want) textarea.focus();
  }

  function render(m) {
    var node = state.seen[m.id] || (m.client_id && state.byClient[m.client_id]);
    if (!node) {
      node = el("div", "sb-msg sb-" + m.author, m.text);
      node.setAttribute("data-testid", "sb-msg");
      insertOrdered(node, m.id || ("~" + (m.client_id || "")));
    }
    node.classList.remove("sb-pending");
    node.setAttribute("data-author", m.author);
    if (m.id) { state.seen[m.id] = node; node.setAttribute("data-id", m.id); insertOrdered(node, m.id); }
    if (m.client_id) state.byClient[m.client_id] = node;
    log.scrollTop = log.scrollHeight;
  }

  // Ids are time-ordered (UUIDv7); pending messages ("~…") stay at the end.
  function insertOrdered(node, key) {
    node.setAttribute("data-key", key);
    var kids = log.children;
    for (var i = kids.length - 1; i >= 0; i--) {
      if (kids[i] === node) continue;
      if ((kids[i].getAttribute("data-key") || "") <= key) {
        if (kids[i].nextSibling !== node) log.insertBefore(node, kids[i].nextSibling);
        return;
      }
    }
    if (log.firstChild !== node) log.insertBefore(node, log.firstChild);
  }

  function renderPending(item) {
    if (state.byClient[item.client_id]) return;
    var node = el("div", "sb-msg sb-you sb-pending", item.text);
    node.setAttribute("data-testid", "sb-msg");
    node.setAttribute("data-author", "you");
    state.byClient[item.client_id] = node;
    insertOrdered(node, "~" + Date.now().toString(36) + item.client_id);
    log.scrollTop = log.scrollHeight;
  }

  function submit() {
    var text = textarea.value.trim();
    if (!text) return;
    textarea.value = "";
    var item = { client_id: newId(), text: text };
    state.outbox.push(item);
    saveOutbox();
    renderPending(item);
    send({ type: "message", client_id: item.client_id, text: item.text });
    sendTyping(false);
  }

  function onTyping() {
    var now = Date.now();
    if (now - state.lastTypingSent > 2000) { sendTyping(true); }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(function () { sendTyping(false); }, 3000);
  }
  function sendTyping(on) {
    state.lastTypingSent = on ? Date.now() : 0;
    send({ type: "typing", on: on });
  }

  // ---- connection ----
  function send(frame) {
    if (state.ws && state.connected) {
      state.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function setStatus(text) { statusEl.textContent = text; }

  function connect() {
    setStatus(state.attempt ? "reconnecting…" : "connecting…");
    var url = wsUrl + (state.visitor ? "?visitor=" + encodeURIComponent(state.visitor) : "");
    var ws = new WebSocket(url);
    state.ws = ws;
    ws.onopen = function () { state.connected = true; state.attempt = 0; };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      handle(f);
    };
    ws.onclose = function () {
      state.connected = false;
      if (state.ws !== ws) return;
      setStatus("offline");
      var delay = Math.min(30000, 500 * Math.pow(2, state.attempt)) * (0.5 + Math.random() / 2);
      state.attempt++;
      setTimeout(connect, delay);
    };
    ws.onerror = function () { /* onclose follows */ };
  }

  function flushOutbox() {
    for (var i = 0; i < state.outbox.length; i++) {
      var item = state.outbox[i];
      renderPending(item);
      send({ type: "message", client_id: item.client_id, text: item.text });
    }
  }

  function handle(f) {
    switch (f.type) {
      case "welcome":
        if (state.visitor !== f.visitor) {
          var before = state.outbox;
          state.visitor = f.visitor;
          setCookie(COOKIE, f.visitor);
          loadOutbox();
          state.outbox = state.outbox.concat(before);
          saveOutbox();
        }
        state.prechat = !!f.prechat;
        try { state.identified = f.identified || localStorage.getItem("sb_identified_" + state.visitor) === "1"; } catch (e) { state.identified = !!f.identified; }
        showComposer();
        setStatus("online");
        send({ type: "history" });
        flushOutbox();
        break;
      case "ack":
        state.outbox = state.outbox.filter(function (i) { return i.client_id !== f.client_id; });
        saveOutbox();
        var node = state.byClient[f.client_id];
        if (node) {
          node.classList.remove("sb-pending");
          if (!state.seen[f.id]) { state.seen[f.id] = node; node.setAttribute("data-id", f.id); }
        }
        break;
      case "message":
        render(f.message);
        if (f.message.author !== "you") { typingLine.textContent = ""; }
        break;
      case "history":
        for (var i = 0; i < f.messages.length; i++) render(f.messages[i]);
        break;
      case "typing":
        typingLine.textContent = f.on ? "Agent is typing…" : "";
        clearTimeout(state.agentTypingTimer);
        if (f.on) state.agentTypingTimer = setTimeout(function () { typingLine.textContent = ""; }, 6000);
        break;
      case "resync":
        send({ type: "history" });
        break;
      case "error":
        errorEl.textContent = f.message;
        setTimeout(function () { errorEl.textContent = ""; }, 6000);
        if (f.client_id && (f.code === "unavailable" || f.code === "rate_limited")) {
          // Not refused for good: send it again shortly.
          var again = state.outbox.filter(function (i) { return i.client_id === f.client_id; })[0];
          if (again) setTimeout(function () { send({ type: "message", client_id: again.client_id, text: again.text }); }, 3000);
        } else if (f.client_id) {
          // Refused for good (too large, empty): do not resend it.
          state.outbox = state.outbox.filter(function (i) { return i.client_id !== f.client_id; });
          saveOutbox();
        }
        break;
    }
  }

  function start() {
    buildUi(script && script.getAttribute("data-title"));
    loadOutbox();
    connect();
  }

  window.Switchboard = {
    loaded: true,
    open: function () { toggle(true); },
    close: function () { toggle(false); },
    state: state
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
