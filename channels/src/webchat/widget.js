/* Switchboard web-chat widget. Embed with:
 *   <script src="https://support.example.com/widget.js" async></script>
 * Optional attributes: data-title, data-lang (en, es, pt-BR; else the browser's
 * languages), data-accent (#rrggbb).
 * No build step, no dependencies. Keeps the visitor id in a first-party cookie: the server
 * issues it (signed) in the welcome frame, which also replaces any id it did not take, so
 * the widget always keeps what the server says. Restores the conversation on reload, shows
 * typing, and reconnects with back-off. Messages typed while offline wait in localStorage
 * and are resent with the same client id until the server acknowledges them, so nothing is
 * lost and nothing is stored twice. Files (images and PDF) are uploaded over HTTP first;
 * the message then names them by the receipt the upload answered. Outside business hours
 * it says when people are back and offers to take an email address. When the business has
 * a help center, the visitor can search its articles and read one inside the widget before
 * writing (public data: read without cookies).
 */
(function () {
  "use strict";
  if (window.Switchboard && window.Switchboard.loaded) return;

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var base = new URL(script ? script.src : "/widget.js", location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/webchat/ws";
  var httpBase = base.protocol + "//" + base.host;
  // On the server's own pages (the portal, /chat) the visitor cookie rides along with every
  // request, so the id stays out of URLs (and so out of logs and history).
  var sameOrigin = httpBase === location.protocol + "//" + location.host;
  var COOKIE = "sb_visitor";
  var TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"];

  // ---- language ----
  var TEXTS = {
    en: {
      launcher: "Chat", open: "Open chat", close: "Close chat", title: "Chat with us",
      connecting: "connecting…", reconnecting: "reconnecting…", online: "online", offline: "offline",
      message: "Message", placeholder: "Write a message…", send: "Send", attach: "Attach an image or PDF",
      typing: "Agent is typing…", bot: "Bot", uploading: "Uploading…", sending: "Sending…",
      name: "Your name", email: "Your email", start: "Start chat",
      away: "We're away right now.", awayWhen: "We usually reply from {when}.",
      awayNone: "Leave your email and we'll get back to you.",
      today: "today at {time}", tomorrow: "tomorrow at {time}", later: "{day} at {time}",
      awayEmail: "Email address", awayHint: "We'll write to you there when we reply.",
      awaySave: "Save email", awayThanks: "Thanks! We'll reply to {email}.",
      badEmail: "Enter an email address like name@example.com",
      tooBig: "That file is too large. Files can be up to {size}.",
      badType: "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
      slowDown: "Too many messages at once. Wait a moment and try again.",
      failed: "Something went wrong. Try again.",
      prechat: "Please tell us your name and email first.",
      offlineFile: "You're offline. Send the file again once the chat reconnects.",
      tooLong: "That message is too long.",
      file: "File",
      helpOpen: "Search help articles", helpLabel: "Search our help articles", helpPlaceholder: "Type your question…",
      helpPrompt: "Find an answer right away", helpNone: "No article matches. Write to us and we'll help.",
      helpBack: "Back to results", helpFull: "Open in the help center", helpStill: "Still need help? Chat with us",
      helpTitle: "Help articles"
    },
    es: {
      launcher: "Chat", open: "Abrir el chat", close: "Cerrar el chat", title: "Chatea con nosotros",
      connecting: "conectando…", reconnecting: "reconectando…", online: "en línea", offline: "sin conexión",
      message: "Mensaje", placeholder: "Escribe un mensaje…", send: "Enviar", attach: "Adjuntar una imagen o un PDF",
      typing: "El agente está escribiendo…", bot: "Bot", uploading: "Subiendo…", sending: "Enviando…",
      name: "Tu nombre", email: "Tu correo electrónico", start: "Empezar el chat",
      away: "Ahora no estamos disponibles.", awayWhen: "Solemos responder a partir de {when}.",
      awayNone: "Déjanos tu correo y te responderemos.",
      today: "hoy a las {time}", tomorrow: "mañana a las {time}", later: "el {day} a las {time}",
      awayEmail: "Correo electrónico", awayHint: "Te escribiremos allí cuando respondamos.",
      awaySave: "Guardar correo", awayThanks: "¡Gracias! Responderemos a {email}.",
      badEmail: "Escribe un correo como nombre@ejemplo.com",
      tooBig: "El archivo es demasiado grande. El máximo es {size}.",
      badType: "Solo se pueden enviar imágenes (PNG, JPEG, GIF, WebP) y archivos PDF.",
      slowDown: "Demasiados mensajes a la vez. Espera un momento y vuelve a intentarlo.",
      failed: "Algo salió mal. Vuelve a intentarlo.",
      prechat: "Antes, dinos tu nombre y tu correo.",
      offlineFile: "Estás sin conexión. Vuelve a enviar el archivo cuando el chat se reconecte.",
      tooLong: "El mensaje es demasiado largo.",
      file: "Archivo",
      helpOpen: "Buscar en la ayuda", helpLabel: "Busca en nuestros artículos de ayuda", helpPlaceholder: "Escribe tu pregunta…",
      helpPrompt: "Encuentra una respuesta ahora", helpNone: "Ningún artículo coincide. Escríbenos y te ayudamos.",
      helpBack: "Volver a los resultados", helpFull: "Abrir en el centro de ayuda", helpStill: "¿Aún necesitas ayuda? Chatea con nosotros",
      helpTitle: "Artículos de ayuda"
    },
    "pt-BR": {
      launcher: "Chat", open: "Abrir o chat", close: "Fechar o chat", title: "Fale conosco",
      connecting: "conectando…", reconnecting: "reconectando…", online: "conectado", offline: "sem conexão",
      message: "Mensagem", placeholder: "Escreva uma mensagem…", send: "Enviar", attach: "Anexar uma imagem ou um PDF",
      typing: "O atendente está digitando…", bot: "Bot", uploading: "Enviando arquivo…", sending: "Enviando…",
      name: "Seu nome", email: "Seu e-mail", start: "Iniciar conversa",
      away: "No momento estamos ausentes.", awayWhen: "Costumamos responder a partir de {when}.",
      awayNone: "Deixe seu e-mail e entraremos em contato.",
      today: "hoje às {time}", tomorrow: "amanhã às {time}", later: "{day} às {time}",
      awayEmail: "E-mail", awayHint: "Vamos escrever para você nesse endereço quando respondermos.",
      awaySave: "Salvar e-mail", awayThanks: "Obrigado! Vamos responder para {email}.",
      badEmail: "Digite um e-mail como nome@exemplo.com",
      tooBig: "O arquivo é grande demais. O limite é {size}.",
      badType: "Só é possível enviar imagens (PNG, JPEG, GIF, WebP) e arquivos PDF.",
      slowDown: "Muitas mensagens de uma vez. Aguarde um momento e tente de novo.",
      failed: "Algo deu errado. Tente de novo.",
      prechat: "Antes, informe seu nome e seu e-mail.",
      offlineFile: "Você está sem conexão. Envie o arquivo de novo quando o chat reconectar.",
      tooLong: "A mensagem é longa demais.",
      file: "Arquivo",
      helpOpen: "Buscar na ajuda", helpLabel: "Busque nos nossos artigos de ajuda", helpPlaceholder: "Digite sua pergunta…",
      helpPrompt: "Encontre uma resposta agora", helpNone: "Nenhum artigo corresponde. Escreva para nós que ajudamos.",
      helpBack: "Voltar aos resultados", helpFull: "Abrir na central de ajuda", helpStill: "Ainda precisa de ajuda? Fale conosco",
      helpTitle: "Artigos de ajuda"
    }
  };

  /** The first of the visitor's languages the widget speaks: en, es or pt-BR. */
  function pickLang(wanted) {
    for (var i = 0; i < wanted.length; i++) {
      var tag = String(wanted[i] || "").toLowerCase();
      var primary = tag.split("-")[0];
      if (primary === "pt") return "pt-BR";
      if (primary === "es") return "es";
      if (primary === "en") return "en";
    }
    return "en";
  }
  var attrLang = script && script.getAttribute("data-lang");
  var lang = pickLang(attrLang ? [attrLang] : (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]));
  var T = TEXTS[lang];
  function t(key, vars) {
    var s = T[key] || TEXTS.en[key] || key;
    if (vars) for (var k in vars) s = s.split("{" + k + "}").join(vars[k]);
    return s;
  }

  // ---- time ----
  var hhmm = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var full = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" });
  var weekday = new Intl.DateTimeFormat(lang, { weekday: "long" });
  var dayMonth = new Intl.DateTimeFormat(lang, { weekday: "long", day: "numeric", month: "long" });
  function dayNumber(d) { return Math.round(new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() / 86400000); }
  /** When people are back, in the visitor's time zone and words: today, tomorrow, a weekday. */
  function whenBack(ms) {
    var at = new Date(ms), now = new Date();
    var days = dayNumber(at) - dayNumber(now);
    var time = hhmm.format(at);
    if (days <= 0) return t("today", { time: time });
    if (days === 1) return t("tomorrow", { time: time });
    return t("later", { day: (days < 7 ? weekday : dayMonth).format(at), time: time });
  }
  function humanSize(n) {
    if (n >= 1048576) return (Math.round(n / 104857.6) / 10).toLocaleString(lang) + " MB";
    if (n >= 1024) return Math.round(n / 1024).toLocaleString(lang) + " KB";
    return n + " B";
  }

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
  function store(key, value) {
    try { if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }
  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  var state = {
    visitor: getCookie(COOKIE),
    ws: null,
    connected: false,
    attempt: 0,
    seen: {},          // message id -> element
    byClient: {},      // client id -> element
    outbox: [],        // [{client_id, text, attachments}] not yet acknowledged
    lastTypingSent: 0,
    typingTimer: null,
    agentTypingTimer: null,
    awayTimer: null,
    identified: false,
    prechat: false,
    maxBytes: 10485760,
    help: false,
    helpTimer: null,
    helpAsked: 0,
    lang: lang
  };

  function outboxKey() { return "sb_outbox_" + (state.visitor || "new"); }
  function loadOutbox() {
    try { state.outbox = JSON.parse(stored(outboxKey()) || "[]"); } catch (e) { state.outbox = []; }
  }
  function saveOutbox() { store(outboxKey(), JSON.stringify(state.outbox)); }
  /** `visitor=<id>&` for a URL, or nothing where the cookie carries the id. */
  function visitorParam() {
    if (sameOrigin && state.visitor && getCookie(COOKIE) === state.visitor) return "";
    return "visitor=" + encodeURIComponent(state.visitor || "") + "&";
  }
  function fileUrl(blob) {
    return httpBase + "/webchat/attachments/" + encodeURIComponent(blob) + "?" + visitorParam();
  }

  // ---- icons (Switchboard's line icons) ----
  var ICONS = {
    chat: '<path d="M4 5h16v11H9l-5 4z"/>',
    send: '<path d="M4 12l16-8-6 16-3-6z"/><path d="M11 14l9-10"/>',
    clip: '<path d="M20 11l-8 8a5 5 0 0 1-7-7l8-8a3.3 3.3 0 0 1 4.7 4.7L9.8 16.6a1.7 1.7 0 0 1-2.4-2.4L14.5 7"/>',
    file: '<path d="M6 3h8l4 4v14H6z"/><path d="M14 3v4h4"/>',
    clock: '<circle cx="12" cy="12" r="8.5"/><path d="M12 7v5l3 2"/>',
    check: '<path d="M4 12.5l5 5L20 6.5"/>',
    close: '<path d="M6 6l12 12M18 6L6 18"/>',
    search: '<circle cx="11" cy="11" r="6.5"/><path d="M16 16l4.5 4.5"/>',
    back: '<path d="M15 5l-7 7 7 7"/>',
    book: '<path d="M5 4.5h9a3 3 0 0 1 3 3V20H8a3 3 0 0 1-3-3z"/><path d="M5 17a3 3 0 0 1 3-3h9"/>'
  };
  function icon(name) {
    var span = document.createElement("span");
    span.className = "sb-icon";
    span.setAttribute("aria-hidden", "true");
    span.innerHTML = '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">' + ICONS[name] + "</svg>";
    return span;
  }

  /** Text on the accent: white or near-black, whichever contrasts more (WCAG luminance). */
  function textOn(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return "#ffffff";
    var c = [0, 2, 4].map(function (i) {
      var v = parseInt(m[1].substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var l = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#ffffff" : "#111111";
  }

  // ---- UI ----
  // Every colour, space and radius is a custom property on the widget's root; a 4 px
  // scale; light and dark from prefers-color-scheme; touch targets of at least 44 px.
  var css = "" +
    "[data-switchboard]{--sb-accent:#2456c7;--sb-accent-text:#ffffff;--sb-bg:#f6f7f9;--sb-surface:#ffffff;--sb-border:#dfe3e8;--sb-border-strong:#b9c0c9;" +
    "--sb-text:#17202b;--sb-text-2:#4a5563;--sb-text-3:#5f6873;--sb-danger:#b42318;--sb-danger-soft:#fdecea;--sb-away-bg:#fff7e0;--sb-away-border:#eed89a;--sb-ok:#1a7f43;--sb-focus:#f2a600;" +
    "--sb-s1:4px;--sb-s2:8px;--sb-s3:12px;--sb-s4:16px;--sb-s5:20px;--sb-r2:8px;--sb-r3:12px;--sb-r4:16px;" +
    "--sb-font:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue','Noto Sans','Liberation Sans',Arial,sans-serif;" +
    "--sb-shadow:0 8px 30px rgba(16,24,40,.22);font:15px/1.45 var(--sb-font);color:var(--sb-text)}" +
    "@media (prefers-color-scheme:dark){[data-switchboard]{--sb-bg:#0f1318;--sb-surface:#161b22;--sb-border:#2b333d;--sb-border-strong:#44505e;--sb-text:#e8edf2;--sb-text-2:#b3bcc6;--sb-text-3:#97a1ad;" +
    "--sb-danger:#ff7b72;--sb-danger-soft:#3a1714;--sb-away-bg:#2e2713;--sb-away-border:#5c4b1c;--sb-ok:#56d364;--sb-shadow:0 8px 30px rgba(0,0,0,.6)}}" +
    "[data-switchboard] *,[data-switchboard] *::before,[data-switchboard] *::after{box-sizing:border-box}" +
    ":where([data-switchboard]) :where(button,input,textarea){font:inherit;color:inherit}" +
    "[data-switchboard] :focus-visible{outline:3px solid var(--sb-focus);outline-offset:2px}" +
    "[data-switchboard] input:focus-visible,[data-switchboard] textarea:focus-visible{outline:2px solid var(--sb-accent);outline-offset:0;border-color:var(--sb-accent)}" +
    ".sb-icon{display:inline-flex;line-height:0}" +
    ".sb-launcher{position:fixed;right:var(--sb-s5);bottom:var(--sb-s5);z-index:2147483000;display:inline-flex;align-items:center;gap:var(--sb-s2);min-height:48px;border:0;border-radius:999px;padding:0 var(--sb-s5) 0 var(--sb-s4);background:var(--sb-accent);color:var(--sb-accent-text);font-weight:600;cursor:pointer;box-shadow:var(--sb-shadow)}" +
    ".sb-panel{position:fixed;right:var(--sb-s5);bottom:84px;z-index:2147483000;width:380px;max-width:calc(100vw - 24px);height:560px;max-height:calc(100vh - 110px);display:none;flex-direction:column;background:var(--sb-surface);border:1px solid var(--sb-border);border-radius:var(--sb-r4);box-shadow:var(--sb-shadow);overflow:hidden}" +
    ".sb-panel.sb-open{display:flex}" +
    ".sb-head{background:var(--sb-accent);color:var(--sb-accent-text);padding:var(--sb-s1) var(--sb-s1) var(--sb-s1) var(--sb-s4);display:flex;justify-content:space-between;align-items:center;gap:var(--sb-s2);min-height:56px}" +
    ".sb-head-text{display:flex;flex-direction:column;min-width:0}" +
    ".sb-title{font-weight:600;font-size:16px;margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}" +
    ".sb-status{font-size:13px;opacity:.9;display:inline-flex;align-items:center;gap:6px}" +
    ".sb-status::before{content:'';width:8px;height:8px;border-radius:50%;background:currentColor;opacity:.55}" +
    ".sb-status[data-state=online]::before{background:#3ccf6e;opacity:1}" +
    ".sb-close{background:none;border:0;color:inherit;cursor:pointer;width:44px;height:44px;border-radius:var(--sb-r2);display:inline-flex;align-items:center;justify-content:center;flex:none}" +
    ".sb-close:hover{background:rgba(127,127,127,.2)}" +
    ".sb-away{display:none;gap:var(--sb-s2);padding:var(--sb-s3) var(--sb-s4);background:var(--sb-away-bg);border-bottom:1px solid var(--sb-away-border);font-size:14px}" +
    ".sb-away.sb-shown{display:flex;flex-direction:column}" +
    ".sb-away-line{display:flex;gap:var(--sb-s2);align-items:flex-start}" +
    ".sb-away-line .sb-icon{margin-top:1px;color:var(--sb-text-2)}" +
    ".sb-away p{margin:0}" +
    ".sb-away-form{display:flex;flex-direction:column;gap:var(--sb-s1)}" +
    ".sb-away-form label,.sb-pre label{font-weight:600;font-size:14px}" +
    ".sb-hint{color:var(--sb-text-2);font-size:13px}" +
    ".sb-field-error{color:var(--sb-danger);font-weight:600;font-size:13px}" +
    ".sb-field-error:empty{display:none}" +
    ".sb-row-inline{display:flex;gap:var(--sb-s2)}" +
    ".sb-row-inline input{flex:1;min-width:0}" +
    "[data-switchboard] input{min-height:44px;border:1px solid var(--sb-border-strong);border-radius:var(--sb-r2);padding:0 var(--sb-s3);background:var(--sb-surface)}" +
    "[data-switchboard] input[aria-invalid=true]{border:2px solid var(--sb-danger)}" +
    ".sb-btn{min-height:44px;border:0;border-radius:var(--sb-r2);background:var(--sb-accent);color:var(--sb-accent-text);padding:0 var(--sb-s4);font-weight:600;cursor:pointer;white-space:nowrap}" +
    ".sb-thanks{display:flex;gap:var(--sb-s2);align-items:center;color:var(--sb-ok);font-weight:600}" +
    ".sb-log{flex:1;overflow-y:auto;padding:var(--sb-s4) var(--sb-s3);display:flex;flex-direction:column;gap:var(--sb-s3);background:var(--sb-bg)}" +
    ".sb-msg{display:flex;flex-direction:column;max-width:82%;gap:2px}" +
    ".sb-bubble{padding:var(--sb-s2) var(--sb-s3);border-radius:var(--sb-r3);white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".sb-you{align-self:flex-end;align-items:flex-end}" +
    ".sb-you .sb-bubble{background:var(--sb-accent);color:var(--sb-accent-text);border-bottom-right-radius:var(--sb-s1)}" +
    ".sb-agent,.sb-bot,.sb-system{align-self:flex-start;align-items:flex-start}" +
    ".sb-agent .sb-bubble,.sb-bot .sb-bubble,.sb-system .sb-bubble{background:var(--sb-surface);border:1px solid var(--sb-border);border-bottom-left-radius:var(--sb-s1)}" +
    ".sb-text:empty{display:none}" +
    ".sb-articles{display:flex;flex-direction:column;gap:var(--sb-s1);margin-top:var(--sb-s2)}" +
    ".sb-article{color:var(--sb-accent);font-weight:600;text-decoration:underline;text-underline-offset:2px}" +
    ".sb-quick{display:none;flex-wrap:wrap;gap:var(--sb-s2);margin-top:var(--sb-s2)}" +
    ".sb-msg:last-child .sb-quick{display:flex}" +
    ".sb-chip-btn{min-height:40px;padding:0 var(--sb-s4);border-radius:20px;border:1px solid var(--sb-accent);background:transparent;color:var(--sb-accent);font:inherit;font-weight:600;cursor:pointer}" +
    ".sb-chip-btn:hover{background:var(--sb-accent);color:var(--sb-accent-text)}" +
    ".sb-meta{display:flex;gap:6px;font-size:12px;color:var(--sb-text-3);padding:0 var(--sb-s1)}" +
    ".sb-author{font-weight:600;color:var(--sb-text-2)}" +
    ".sb-pending .sb-bubble{opacity:.65}" +
    ".sb-files{display:flex;flex-direction:column;gap:var(--sb-s2)}" +
    ".sb-text:not(:empty)+.sb-files{margin-top:var(--sb-s2)}" +
    ".sb-img{display:block;max-width:100%;border-radius:var(--sb-r2);overflow:hidden;line-height:0}" +
    ".sb-media .sb-bubble{padding:0;background:transparent!important;border:0!important}" +
    ".sb-media .sb-img{border-radius:var(--sb-r3);border:1px solid var(--sb-border)}" +
    ".sb-img img{display:block;max-width:100%;max-height:240px;object-fit:contain;background:rgba(127,127,127,.12)}" +
    ".sb-file{display:flex;align-items:center;gap:var(--sb-s2);min-height:44px;color:inherit;text-decoration:none;padding:var(--sb-s1) var(--sb-s2);border-radius:var(--sb-r2);background:rgba(127,127,127,.12)}" +
    ".sb-file-name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:200px}" +
    ".sb-file-size{font-size:12px;opacity:.8}" +
    ".sb-typing{font-size:13px;color:var(--sb-text-2);padding:0 var(--sb-s4) var(--sb-s1);min-height:22px;background:var(--sb-bg)}" +
    ".sb-error{color:var(--sb-danger);background:var(--sb-danger-soft);font-size:13px;padding:var(--sb-s2) var(--sb-s4)}" +
    ".sb-error:empty{display:none}" +
    ".sb-form{display:flex;gap:var(--sb-s1);padding:var(--sb-s2);border-top:1px solid var(--sb-border);align-items:flex-end;background:var(--sb-surface)}" +
    ".sb-form textarea{flex:1;min-width:0;resize:none;border:1px solid var(--sb-border-strong);border-radius:var(--sb-r2);padding:10px var(--sb-s3);height:44px;max-height:120px;background:var(--sb-surface)}" +
    ".sb-iconbtn{flex:none;width:44px;height:44px;border:0;border-radius:var(--sb-r2);display:inline-flex;align-items:center;justify-content:center;cursor:pointer;background:transparent;color:var(--sb-text-2)}" +
    ".sb-iconbtn:hover{background:rgba(127,127,127,.14)}" +
    ".sb-send{background:var(--sb-accent);color:var(--sb-accent-text)}" +
    ".sb-send:hover{background:var(--sb-accent);filter:brightness(1.08)}" +
    ".sb-pre{display:none;flex-direction:column;gap:var(--sb-s2);padding:var(--sb-s4);border-top:1px solid var(--sb-border)}" +
    ".sb-pre .sb-btn{margin-top:var(--sb-s1)}" +
    ".sb-head-actions{display:flex;gap:2px;flex:none}" +
    ".sb-help-btn{display:none}.sb-has-help .sb-help-btn{display:inline-flex}" +
    ".sb-help-btn[aria-pressed=true]{background:rgba(127,127,127,.25)}" +
    ".sb-help{display:none;flex:1;flex-direction:column;min-height:0;background:var(--sb-bg)}" +
    ".sb-helping .sb-help{display:flex}.sb-helping .sb-log,.sb-helping .sb-typing,.sb-helping .sb-form,.sb-helping .sb-pre{display:none!important}" +
    ".sb-help-search{display:flex;flex-direction:column;gap:var(--sb-s1);padding:var(--sb-s3) var(--sb-s4);border-bottom:1px solid var(--sb-border);background:var(--sb-surface)}" +
    ".sb-help-search label{font-weight:600;font-size:14px}" +
    ".sb-help-body{flex:1;overflow-y:auto;padding:var(--sb-s3) var(--sb-s4);display:flex;flex-direction:column;gap:var(--sb-s2)}" +
    ".sb-help-results{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:var(--sb-s2)}" +
    ".sb-help-hit{display:block;width:100%;text-align:left;background:var(--sb-surface);border:1px solid var(--sb-border);border-radius:var(--sb-r3);padding:var(--sb-s3);cursor:pointer;min-height:44px}" +
    ".sb-help-hit:hover{border-color:var(--sb-accent)}" +
    ".sb-help-hit-title{display:block;font-weight:600;color:var(--sb-accent)}" +
    ".sb-help-hit-snippet{display:block;font-size:13px;color:var(--sb-text-2);margin-top:2px}" +
    ".sb-help-hit-snippet mark{background:rgba(242,166,0,.3);color:inherit;border-radius:2px}" +
    ".sb-help-none{color:var(--sb-text-2);margin:0}" +
    ".sb-help-article h3{font-size:18px;margin:0 0 var(--sb-s2)}" +
    ".sb-help-article .sb-help-html{overflow-wrap:anywhere}.sb-help-article .sb-help-html :first-child{margin-top:0}" +
    ".sb-help-article img{max-width:100%}.sb-help-article pre{white-space:pre-wrap}" +
    ".sb-help-article a{color:var(--sb-accent)}" +
    ".sb-help-links{display:flex;flex-direction:column;gap:var(--sb-s2);margin-top:var(--sb-s3);padding-top:var(--sb-s3);border-top:1px solid var(--sb-border)}" +
    ".sb-linkbtn{display:inline-flex;align-items:center;gap:6px;min-height:44px;background:none;border:0;padding:0;color:var(--sb-accent);font-weight:600;cursor:pointer;text-decoration:none}" +
    ".sb-help-prompt{display:none;justify-content:center;padding:var(--sb-s2) var(--sb-s4);background:var(--sb-bg)}.sb-has-help .sb-log:empty+.sb-help-prompt{display:flex}" +
    ".sb-help-prompt .sb-chip-btn{display:inline-flex;align-items:center;gap:6px;min-height:44px;background:var(--sb-surface)}" +
    ".sb-help-prompt .sb-chip-btn:hover{background:var(--sb-accent)}.sb-helping .sb-help-prompt{display:none!important}" +
    ".sb-visually-hidden{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "@media (max-width:480px){.sb-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100vh;height:100dvh;max-height:none;border-radius:0;border:0}" +
    ".sb-is-open .sb-launcher{display:none}.sb-launcher{right:var(--sb-s4);bottom:var(--sb-s4)}}";

  var ui = {};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function setAccent(accent) {
    if (!/^#[0-9a-f]{6}$/i.test(accent || "")) return;
    ui.root.style.setProperty("--sb-accent", accent);
    ui.root.style.setProperty("--sb-accent-text", textOn(accent));
  }

  function field(form, id, label, type, autocomplete, hint) {
    var l = el("label", null, label);
    l.htmlFor = id;
    var input = el("input");
    input.id = id; input.name = id.replace(/^sb-\w+-/, ""); input.type = type; input.autocomplete = autocomplete;
    form.appendChild(l);
    if (hint) { var h = el("span", "sb-hint", hint); h.id = id + "-hint"; input.setAttribute("aria-describedby", h.id); form.appendChild(h); }
    var err = el("span", "sb-field-error"); err.id = id + "-error"; err.setAttribute("aria-live", "polite");
    form.appendChild(err);
    return { input: input, error: err };
  }

  function validEmail(v) { return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v); }

  function buildUi(title) {
    var style = el("style"); style.textContent = css; document.head.appendChild(style);
    var root = ui.root = el("div"); root.setAttribute("data-switchboard", ""); root.setAttribute("lang", lang);
    setAccent(script && script.getAttribute("data-accent"));
    var launcher = ui.launcher = el("button", "sb-launcher");
    launcher.type = "button";
    launcher.appendChild(icon("chat")); launcher.appendChild(el("span", null, t("launcher")));
    launcher.setAttribute("data-testid", "sb-launcher");
    launcher.setAttribute("aria-label", t("open"));
    launcher.setAttribute("aria-expanded", "false");
    var panel = ui.panel = el("div", "sb-panel");
    panel.setAttribute("role", "dialog"); panel.setAttribute("data-testid", "sb-panel");
    panel.setAttribute("aria-labelledby", "sb-title");
    var head = el("div", "sb-head");
    var headText = el("div", "sb-head-text");
    var titleEl = el("h2", "sb-title", title || t("title")); titleEl.id = "sb-title";
    ui.status = el("span", "sb-status", t("connecting")); ui.status.setAttribute("data-testid", "sb-status");
    ui.status.setAttribute("data-state", "connecting");
    headText.appendChild(titleEl); headText.appendChild(ui.status);
    var close = el("button", "sb-close");
    close.type = "button"; close.appendChild(icon("close"));
    close.setAttribute("aria-label", t("close")); close.setAttribute("data-testid", "sb-close");
    close.addEventListener("click", function () { toggle(false); ui.launcher.focus(); });
    var helpBtn = ui.helpBtn = el("button", "sb-close sb-help-btn");
    helpBtn.type = "button"; helpBtn.appendChild(icon("search"));
    helpBtn.setAttribute("aria-label", t("helpOpen")); helpBtn.title = t("helpOpen");
    helpBtn.setAttribute("aria-pressed", "false"); helpBtn.setAttribute("data-testid", "sb-help-open");
    helpBtn.addEventListener("click", function () { showHelp(!ui.panel.classList.contains("sb-helping")); });
    var actions = el("div", "sb-head-actions");
    actions.appendChild(helpBtn); actions.appendChild(close);
    head.appendChild(headText); head.appendChild(actions);

    ui.away = el("section", "sb-away"); ui.away.setAttribute("data-testid", "sb-away");
    ui.away.setAttribute("aria-label", t("away"));
    ui.log = el("div", "sb-log"); ui.log.setAttribute("data-testid", "sb-log");
    ui.log.setAttribute("role", "log"); ui.log.setAttribute("aria-live", "polite"); ui.log.setAttribute("tabindex", "0");
    ui.log.setAttribute("aria-label", title || t("title"));
    ui.typing = el("div", "sb-typing"); ui.typing.setAttribute("data-testid", "sb-typing");
    ui.error = el("div", "sb-error"); ui.error.setAttribute("data-testid", "sb-error"); ui.error.setAttribute("role", "alert");

    // Pre-chat form: labels above fields.
    var pre = ui.pre = el("form", "sb-pre"); pre.setAttribute("data-testid", "sb-prechat"); pre.noValidate = true;
    var name = field(pre, "sb-pre-name", t("name"), "text", "name");
    pre.appendChild(name.input);
    var email = field(pre, "sb-pre-email", t("email"), "email", "email");
    pre.appendChild(email.input);
    var start = el("button", "sb-btn", t("start")); start.type = "submit";
    pre.appendChild(start);
    pre.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = email.input.value.trim();
      if (!validEmail(v)) { showFieldError(email, t("badEmail")); return; }
      showFieldError(email, "");
      send({ type: "identify", name: name.input.value.trim() || null, email: v });
      state.identified = true;
      store("sb_identified_" + state.visitor, "1");
      showComposer();
      ui.textarea.focus();
    });

    var form = ui.form = el("form", "sb-form");
    var clip = el("button", "sb-iconbtn sb-attach"); clip.type = "button"; clip.appendChild(icon("clip"));
    clip.setAttribute("aria-label", t("attach")); clip.title = t("attach"); clip.setAttribute("data-testid", "sb-attach");
    var fileInput = ui.file = el("input"); fileInput.type = "file"; fileInput.accept = TYPES.join(",");
    fileInput.className = "sb-visually-hidden"; fileInput.tabIndex = -1; fileInput.setAttribute("aria-hidden", "true");
    fileInput.setAttribute("data-testid", "sb-file");
    clip.addEventListener("click", function () { fileInput.click(); });
    fileInput.addEventListener("change", function () {
      var files = Array.prototype.slice.call(fileInput.files || []);
      fileInput.value = "";
      files.forEach(upload);
    });
    var ta = ui.textarea = el("textarea"); ta.placeholder = t("placeholder"); ta.setAttribute("data-testid", "sb-input");
    ta.setAttribute("aria-label", t("message")); ta.rows = 1;
    var sendBtn = el("button", "sb-iconbtn sb-send"); sendBtn.type = "submit"; sendBtn.appendChild(icon("send"));
    sendBtn.setAttribute("aria-label", t("send")); sendBtn.title = t("send"); sendBtn.setAttribute("data-testid", "sb-send");
    form.appendChild(clip); form.appendChild(fileInput); form.appendChild(ta); form.appendChild(sendBtn);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); submit(); });
    ta.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submit(); }
    });
    ta.addEventListener("input", function () { grow(); onTyping(); });

    buildHelp();
    var prompt = el("div", "sb-help-prompt");
    var promptBtn = el("button", "sb-chip-btn");
    promptBtn.type = "button"; promptBtn.setAttribute("data-testid", "sb-help-prompt");
    promptBtn.appendChild(icon("search")); promptBtn.appendChild(el("span", null, t("helpPrompt")));
    promptBtn.addEventListener("click", function () { showHelp(true); });
    prompt.appendChild(promptBtn);
    panel.appendChild(head); panel.appendChild(ui.away); panel.appendChild(ui.help); panel.appendChild(ui.log); panel.appendChild(prompt); panel.appendChild(ui.typing);
    panel.appendChild(ui.error); panel.appendChild(pre); panel.appendChild(form);
    panel.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { toggle(false); ui.launcher.focus(); } });
    launcher.addEventListener("click", function () { toggle(); });
    root.appendChild(panel); root.appendChild(launcher);
    document.body.appendChild(root);
  }

  // ---- help articles ----
  // Search as the visitor types (published articles only, the help center's own search),
  // read one here, then go back to the results or on to the chat.
  function buildHelp() {
    var box = ui.help = el("section", "sb-help");
    box.setAttribute("data-testid", "sb-help"); box.setAttribute("aria-label", t("helpTitle"));
    var search = el("form", "sb-help-search"); search.setAttribute("role", "search");
    var label = el("label", null, t("helpLabel")); label.htmlFor = "sb-help-q";
    var q = ui.helpQuery = el("input"); q.id = "sb-help-q"; q.type = "search"; q.autocomplete = "off";
    q.placeholder = t("helpPlaceholder"); q.setAttribute("data-testid", "sb-help-q");
    search.appendChild(label); search.appendChild(q);
    search.addEventListener("submit", function (ev) { ev.preventDefault(); helpSearch(false); });
    q.addEventListener("input", function () {
      clearTimeout(state.helpTimer);
      state.helpTimer = setTimeout(function () { helpSearch(true); }, 150);
    });
    var body = ui.helpBody = el("div", "sb-help-body");
    body.setAttribute("aria-live", "polite");
    box.appendChild(search); box.appendChild(body);
  }

  function helpLang() { return lang === "pt-BR" ? "pt" : lang; }

  function getJson(path) {
    return fetch(httpBase + path, { credentials: "omit" }).then(function (res) {
      if (!res.ok) throw res;
      return res.json();
    });
  }

  function showHelp(on) {
    ui.panel.classList.toggle("sb-helping", on);
    ui.helpBtn.setAttribute("aria-pressed", on ? "true" : "false");
    if (on) {
      renderResults(state.helpResults || null);
      ui.helpQuery.focus();
    } else {
      ui.textarea.focus();
    }
  }

  function helpSearch(typing) {
    var text = ui.helpQuery.value.trim();
    var asked = ++state.helpAsked;
    if (!text) { state.helpResults = null; renderResults(null); return; }
    getJson("/help/search.json?" + (typing ? "typing=1&" : "") + "lang=" + helpLang() + "&q=" + encodeURIComponent(text))
      .then(function (r) {
        if (asked !== state.helpAsked) return; // a newer search is on its way
        state.helpResults = r.results || [];
        renderResults(state.helpResults);
      })
      .catch(function () { if (asked === state.helpAsked) showError(t("failed")); });
  }

  function renderResults(results) {
    var body = ui.helpBody;
    body.textContent = "";
    if (!results) return;
    if (!results.length) {
      var none = el("p", "sb-help-none", t("helpNone")); none.setAttribute("data-testid", "sb-help-none");
      body.appendChild(none);
      body.appendChild(stillButton());
      return;
    }
    var list = el("ul", "sb-help-results");
    results.forEach(function (hit) {
      var li = el("li");
      var b = el("button", "sb-help-hit"); b.type = "button"; b.setAttribute("data-testid", "sb-help-hit");
      b.appendChild(el("span", "sb-help-hit-title", hit.title));
      var snip = el("span", "sb-help-hit-snippet");
      snip.innerHTML = hit.snippet_html || ""; // escaped by the server, <mark> only
      b.appendChild(snip);
      b.addEventListener("click", function () { openArticle(hit.url); });
      li.appendChild(b); list.appendChild(li);
    });
    body.appendChild(list);
  }

  function stillButton() {
    var still = el("button", "sb-linkbtn"); still.type = "button"; still.setAttribute("data-testid", "sb-help-still");
    still.appendChild(icon("chat")); still.appendChild(el("span", null, t("helpStill")));
    still.addEventListener("click", function () { showHelp(false); });
    return still;
  }

  function openArticle(url) {
    var m = /^\/help\/([a-z]{2})\/([^/?#]+)$/.exec(url || "");
    if (!m) return;
    getJson("/help/article.json?lang=" + m[1] + "&slug=" + encodeURIComponent(m[2]))
      .then(function (a) {
        var body = ui.helpBody;
        body.textContent = "";
        var back = el("button", "sb-linkbtn"); back.type = "button"; back.setAttribute("data-testid", "sb-help-back");
        back.appendChild(icon("back")); back.appendChild(el("span", null, t("helpBack")));
        back.addEventListener("click", function () { renderResults(state.helpResults || null); ui.helpQuery.focus(); });
        var art = el("article", "sb-help-article"); art.setAttribute("data-testid", "sb-help-article");
        var h = el("h3", null, a.title); h.tabIndex = -1;
        var html = el("div", "sb-help-html");
        html.innerHTML = a.html; // sanitized by the server
        // Links lead to the help center's site, in a new tab.
        Array.prototype.forEach.call(html.querySelectorAll("a[href]"), function (link) {
          var href = link.getAttribute("href");
          if (/^\//.test(href)) link.href = httpBase + href;
          link.target = "_blank"; link.rel = "noopener noreferrer";
        });
        art.appendChild(h); art.appendChild(html);
        var links = el("div", "sb-help-links");
        var full = el("a", "sb-linkbtn"); full.href = httpBase + a.url; full.target = "_blank"; full.rel = "noopener";
        full.setAttribute("data-testid", "sb-help-full");
        full.appendChild(icon("book")); full.appendChild(el("span", null, t("helpFull")));
        links.appendChild(full); links.appendChild(stillButton());
        art.appendChild(links);
        body.appendChild(back); body.appendChild(art);
        body.scrollTop = 0;
        h.focus();
      })
      .catch(function () { showError(t("failed")); });
  }

  function grow() {
    var ta = ui.textarea;
    ta.style.height = "44px";
    ta.style.height = Math.min(120, ta.scrollHeight + 2) + "px";
  }

  function showFieldError(f, message) {
    f.error.textContent = message;
    if (message) f.input.setAttribute("aria-invalid", "true"); else f.input.removeAttribute("aria-invalid");
    if (message) f.input.setAttribute("aria-errormessage", f.error.id);
  }

  var errorTimer = null;
  function showError(message) {
    ui.error.textContent = message;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(function () { ui.error.textContent = ""; }, 8000);
  }

  function showComposer() {
    var needForm = state.prechat && !state.identified;
    ui.pre.style.display = needForm ? "flex" : "none";
    ui.form.style.display = needForm ? "none" : "flex";
  }

  function toggle(open) {
    var want = open == null ? !ui.panel.classList.contains("sb-open") : open;
    ui.panel.classList.toggle("sb-open", want);
    ui.root.classList.toggle("sb-is-open", want);
    ui.launcher.setAttribute("aria-expanded", want ? "true" : "false");
    if (want) { ui.textarea.focus(); ui.log.scrollTop = ui.log.scrollHeight; }
  }

  // ---- away ----
  function awayEmailKey() { return "sb_away_email_" + state.visitor; }

  function renderAway(away) {
    var box = ui.away;
    clearTimeout(state.awayTimer);
    box.textContent = "";
    if (!away) { box.classList.remove("sb-shown"); return; }
    box.classList.add("sb-shown");
    var line = el("div", "sb-away-line");
    line.appendChild(icon("clock"));
    var text = el("p");
    text.setAttribute("data-testid", "sb-away-text");
    var when = away.next_open_at != null ? t("awayWhen", { when: whenBack(away.next_open_at) }) : t("awayNone");
    text.textContent = t("away") + " " + when;
    line.appendChild(text);
    box.appendChild(line);
    var saved = stored(awayEmailKey());
    if (saved) {
      box.appendChild(thanks(saved));
    } else if (!state.identified) {
      box.appendChild(awayForm());
    }
    // Back at work while the chat is open: the notice goes.
    if (away.next_open_at != null) {
      var wait = away.next_open_at - Date.now();
      if (wait < 2147483000) state.awayTimer = setTimeout(function () { renderAway(null); }, Math.max(0, wait));
    }
  }

  function thanks(email) {
    var p = el("p", "sb-thanks");
    p.setAttribute("data-testid", "sb-away-thanks");
    p.setAttribute("role", "status");
    p.appendChild(icon("check"));
    p.appendChild(el("span", null, t("awayThanks", { email: email })));
    return p;
  }

  function awayForm() {
    var form = el("form", "sb-away-form"); form.noValidate = true;
    form.setAttribute("data-testid", "sb-away-form");
    var f = field(form, "sb-away-email", t("awayEmail"), "email", "email", t("awayHint"));
    var row = el("div", "sb-row-inline");
    var save = el("button", "sb-btn", t("awaySave")); save.type = "submit";
    row.appendChild(f.input); row.appendChild(save);
    form.appendChild(row);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = f.input.value.trim();
      if (!validEmail(v)) { showFieldError(f, t("badEmail")); f.input.focus(); return; }
      showFieldError(f, "");
      state.pendingEmail = v;
      state.pendingField = f;
      if (!send({ type: "identify", email: v })) showError(t("failed"));
    });
    return form;
  }

  function emailTaken() {
    var v = state.pendingEmail;
    if (!v) return;
    state.pendingEmail = null;
    store(awayEmailKey(), v);
    var form = ui.away.querySelector(".sb-away-form");
    if (form) form.parentNode.replaceChild(thanks(v), form);
  }

  // ---- messages ----
  function fileNode(a, previewUrl) {
    var url = previewUrl || (a.blob && !a.pending ? fileUrl(a.blob) : null);
    var isImage = /^image\//.test(a.mime || "");
    if (isImage && url) {
      var link = el("a", "sb-img");
      link.href = url; link.target = "_blank"; link.rel = "noopener noreferrer";
      var img = el("img"); img.src = url; img.alt = a.name || t("file"); img.loading = "lazy";
      img.addEventListener("load", function () { if (nearBottom()) ui.log.scrollTop = ui.log.scrollHeight; });
      link.appendChild(img);
      return link;
    }
    var chip = el(url ? "a" : "span", "sb-file");
    if (url) { chip.href = url; chip.target = "_blank"; chip.rel = "noopener noreferrer"; chip.setAttribute("download", a.name || ""); }
    chip.appendChild(icon("file"));
    var label = el("span");
    label.appendChild(el("span", "sb-file-name", a.name || t("file")));
    label.appendChild(document.createElement("br"));
    label.appendChild(el("span", "sb-file-size", humanSize(a.size || 0)));
    chip.appendChild(label);
    return chip;
  }

  function nearBottom() { return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80; }

  /** One bubble: the text, its files, and under it the author and the time. */
  function fill(node, m, note) {
    var author = m.author || "you";
    node.className = "sb-msg sb-" + author;
    node.setAttribute("data-author", author);
    node.textContent = "";
    var bubble = el("div", "sb-bubble");
    bubble.appendChild(el("div", "sb-text", m.text || ""));
    var files = m.attachments || [];
    // Pictures alone need no bubble round them.
    var media = !m.text && files.length && files.every(function (f) { return /^image\//.test(f.mime || "") && (f.preview || (f.blob && !f.pending)); });
    if (media) node.classList.add("sb-media");
    if (files.length) {
      var box = el("div", "sb-files");
      for (var i = 0; i < files.length; i++) box.appendChild(fileNode(files[i], files[i].preview));
      bubble.appendChild(box);
    }
    var links = m.articles || [];
    if (links.length) {
      var list = el("div", "sb-articles");
      for (var j = 0; j < links.length; j++) {
        var a = el("a", "sb-article", links[j].title);
        a.href = links[j].url;
        a.target = "_blank";
        a.rel = "noopener";
        list.appendChild(a);
      }
      bubble.appendChild(list);
    }
    node.appendChild(bubble);
    var quick = m.quick_replies || [];
    if (quick.length) {
      // Offered under the newest message only (older ones' buttons hide, see the CSS).
      var row = el("div", "sb-quick");
      row.setAttribute("role", "group");
      quick.forEach(function (q) {
        var b = el("button", "sb-chip-btn", q);
        b.type = "button";
        b.setAttribute("data-testid", "sb-quick");
        b.addEventListener("click", function () { queue({ client_id: newId(), text: q, at: Date.now() }); });
        row.appendChild(b);
      });
      node.appendChild(row);
    }
    var meta = el("div", "sb-meta");
    var who = author === "agent" ? (m.author_name || "") : author === "bot" ? t("bot") : "";
    if (who) {
      var a = el("span", "sb-author", who); a.setAttribute("data-testid", "sb-author");
      meta.appendChild(a);
    }
    if (note) {
      meta.appendChild(el("span", "sb-note", note));
    } else {
      var at = new Date(m.created_at || Date.now());
      var time = el("time", "sb-time", hhmm.format(at));
      time.setAttribute("datetime", at.toISOString());
      time.title = full.format(at);
      time.setAttribute("data-testid", "sb-time");
      meta.appendChild(time);
    }
    node.appendChild(meta);
  }

  function render(m) {
    var stick = nearBottom();
    var node = state.seen[m.id] || (m.client_id && state.byClient[m.client_id]);
    if (!node) {
      node = el("div");
      node.setAttribute("data-testid", "sb-msg");
      insertOrdered(node, m.id || ("~" + (m.client_id || "")));
    }
    fill(node, m);
    if (m.id) { state.seen[m.id] = node; node.setAttribute("data-id", m.id); insertOrdered(node, m.id); }
    if (m.client_id) state.byClient[m.client_id] = node;
    if (stick || m.author === "you") ui.log.scrollTop = ui.log.scrollHeight;
  }

  // Ids are time-ordered (UUIDv7); pending messages ("~…") stay at the end.
  function insertOrdered(node, key) {
    node.setAttribute("data-key", key);
    var log = ui.log, kids = log.children;
    for (var i = kids.length - 1; i >= 0; i--) {
      if (kids[i] === node) continue;
      if ((kids[i].getAttribute("data-key") || "") <= key) {
        if (kids[i].nextSibling !== node) log.insertBefore(node, kids[i].nextSibling);
        return;
      }
    }
    if (log.firstChild !== node) log.insertBefore(node, log.firstChild);
  }

  function renderPending(item, note) {
    var node = state.byClient[item.client_id];
    if (!node) {
      node = el("div");
      node.setAttribute("data-testid", "sb-msg");
      state.byClient[item.client_id] = node;
      insertOrdered(node, "~" + (item.at || Date.now()).toString(36) + item.client_id);
    } else if (!node.classList.contains("sb-pending")) {
      return;
    }
    // Files not yet in a message cannot be fetched back: shown by name (or a local preview).
    var files = (item.attachments || []).map(function (a) {
      return { name: a.name, mime: a.mime, size: a.size, preview: a.preview, pending: true };
    });
    fill(node, { author: "you", text: item.text, attachments: files, created_at: item.at }, note);
    node.classList.add("sb-pending");
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function frameOf(item) {
    var f = { type: "message", client_id: item.client_id, text: item.text || "" };
    if (item.attachments && item.attachments.length) {
      f.attachments = item.attachments.map(function (a) {
        return { name: a.name, mime: a.mime, size: a.size, blob: a.blob, token: a.token };
      });
    }
    return f;
  }

  function queue(item) {
    state.outbox.push(item);
    saveOutbox();
    renderPending(item);
    send(frameOf(item));
  }

  function submit() {
    var text = ui.textarea.value.trim();
    if (!text) return;
    ui.textarea.value = "";
    grow();
    queue({ client_id: newId(), text: text, at: Date.now() });
    sendTyping(false);
  }

  /** Checks a file here first (type and size), uploads it, then sends it as a message. */
  function upload(file) {
    if (TYPES.indexOf(file.type) < 0) { showError(t("badType")); return; }
    if (file.size > state.maxBytes) { showError(t("tooBig", { size: humanSize(state.maxBytes) })); return; }
    if (!state.visitor || !state.connected) { showError(t("offlineFile")); return; }
    var item = { client_id: newId(), text: "", at: Date.now() };
    var preview = /^image\//.test(file.type) && window.URL && URL.createObjectURL ? URL.createObjectURL(file) : null;
    var shown = { name: file.name, mime: file.type, size: file.size, preview: preview };
    renderPending({ client_id: item.client_id, text: "", at: item.at, attachments: [shown] }, t("uploading"));
    var url = httpBase + "/webchat/attachments?" + visitorParam() + "name=" + encodeURIComponent(file.name);
    fetch(url, { method: "POST", body: file, headers: { "content-type": file.type || "application/octet-stream" }, credentials: sameOrigin ? "same-origin" : "omit" })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) { return { status: res.status, body: body }; });
      })
      .then(function (r) {
        if (r.status !== 201 || !r.body.attachment) throw r;
        var a = r.body.attachment;
        item.attachments = [a];
        state.outbox.push(item);
        saveOutbox();
        var node = state.byClient[item.client_id];
        if (node) {
          fill(node, { author: "you", text: "", attachments: [{ name: a.name, mime: a.mime, size: a.size, preview: preview }], created_at: item.at }, t("sending"));
          node.classList.add("sb-pending");
        }
        send(frameOf(item));
      })
      .catch(function (r) {
        var node = state.byClient[item.client_id];
        if (node && node.parentNode) node.parentNode.removeChild(node);
        delete state.byClient[item.client_id];
        var status = r && r.status;
        showError(status === 413 ? t("tooBig", { size: humanSize(state.maxBytes) })
          : status === 415 ? t("badType")
          : status === 429 ? t("slowDown")
          : t("failed"));
      });
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

  function setStatus(key) {
    ui.status.textContent = t(key);
    ui.status.setAttribute("data-state", key);
  }

  function connect() {
    setStatus(state.attempt ? "reconnecting" : "connecting");
    var param = state.visitor ? visitorParam() : "";
    var url = wsUrl + (param ? "?" + param.slice(0, -1) : "");
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
      send(frameOf(item));
    }
  }

  var ERRORS = { rate_limited: "slowDown", unavailable: "failed", prechat_required: "prechat", bad_identity: "badEmail", too_large: "tooLong" };

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
        state.help = !!f.help;
        ui.root.classList.toggle("sb-has-help", state.help);
        if (!state.help && ui.panel.classList.contains("sb-helping")) showHelp(false);
        if (f.max_attachment_bytes) state.maxBytes = f.max_attachment_bytes;
        setAccent(!(script && script.getAttribute("data-accent")) && f.accent);
        state.identified = !!f.identified || stored("sb_identified_" + state.visitor) === "1";
        // An address left while away, not yet on the server (the chat went away first).
        var left = stored(awayEmailKey());
        if (left && !f.identified) send({ type: "identify", email: left });
        showComposer();
        renderAway(f.away || null);
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
          var note = node.querySelector(".sb-note");
          if (note) {
            var time = el("time", "sb-time", hhmm.format(new Date()));
            note.parentNode.replaceChild(time, note);
          }
          if (!state.seen[f.id]) { state.seen[f.id] = node; node.setAttribute("data-id", f.id); }
        }
        break;
      case "message":
        render(f.message);
        if (f.message.author !== "you") { ui.typing.textContent = ""; }
        break;
      case "history":
        for (var i = 0; i < f.messages.length; i++) render(f.messages[i]);
        break;
      case "identified":
        emailTaken();
        break;
      case "typing":
        ui.typing.textContent = f.on ? t("typing") : "";
        clearTimeout(state.agentTypingTimer);
        if (f.on) state.agentTypingTimer = setTimeout(function () { ui.typing.textContent = ""; }, 6000);
        break;
      case "resync":
        send({ type: "history" });
        break;
      case "error":
        if (f.code === "bad_identity" && state.pendingField) {
          showFieldError(state.pendingField, t("badEmail"));
          state.pendingEmail = null;
          break;
        }
        showError(t(ERRORS[f.code] || "failed"));
        if (f.client_id && (f.code === "unavailable" || f.code === "rate_limited")) {
          // Not refused for good: send it again shortly.
          var again = state.outbox.filter(function (i) { return i.client_id === f.client_id; })[0];
          if (again) setTimeout(function () { send(frameOf(again)); }, 3000);
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
