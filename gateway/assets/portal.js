// The client portal's small enhancements; every page works without them.
// - "Select all" ticks every invoice of the page.
// - Download All shows how much has arrived while the ZIP streams in, then saves it.
// - An invoice page follows its status (a payment confirmed by the provider) without reload.
// - "Chat with us" on the home opens the chat widget.
(function () {
  "use strict";
  // "Chat with us" opens the chat widget when it is there; without it, the link opens a
  // new request.
  document.querySelectorAll("[data-open-chat]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (window.Switchboard && window.Switchboard.open) { e.preventDefault(); window.Switchboard.open(); }
    });
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="n"]').forEach(function (b) { b.checked = all.checked; });
    });
  }
  var form = document.getElementById("zip-form");
  var progress = document.getElementById("zip-progress");
  if (form && progress && window.fetch && window.ReadableStream) {
    form.addEventListener("submit", function (e) {
      if (!form.querySelector('input[name="n"]:checked')) { return; }
      e.preventDefault();
      var label = form.getAttribute("data-preparing") || "";
      progress.textContent = label;
      fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok || !r.body) { throw new Error(String(r.status)); }
          var reader = r.body.getReader(), parts = [], got = 0;
          function pump() {
            return reader.read().then(function (x) {
              if (x.done) { return new Blob(parts, { type: "application/zip" }); }
              parts.push(x.value); got += x.value.length;
              progress.textContent = label + " " + (got / 1048576).toFixed(1) + " MB";
              return pump();
            });
          }
          return pump();
        })
        .then(function (blob) {
          var a = document.createElement("a");
          a.href = URL.createObjectURL(blob); a.download = "invoices.zip";
          document.body.appendChild(a); a.click(); a.remove();
          progress.textContent = "";
        })
        .catch(function () { form.submit(); });
    });
  }
  var doc = document.querySelector("[data-state]");
  if (doc) {
    var url = doc.getAttribute("data-state");
    var pill = document.getElementById("doc-status");
    var balance = document.getElementById("doc-balance");
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s || !pill) { return; }
          if (pill.textContent !== s.status_word) {
            pill.textContent = s.status_word;
            pill.className = "pill big doc-" + s.status;
          }
          if (balance && balance.textContent !== s.balance) { balance.textContent = s.balance; }
        })
        .catch(function () {});
    }, 3000);
  }
})();
// A ticket's page follows its thread: each server-sent "changed" reads the thread again.
(function () {
  "use strict";
  var box = document.querySelector("[data-events]");
  var thread = document.getElementById("thread");
  if (!box || !thread || !window.EventSource) { return; }
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(box.getAttribute("data-thread"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html != null && thread.innerHTML !== html) { thread.innerHTML = html; } })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  var source = new EventSource(box.getAttribute("data-events"));
  source.addEventListener("changed", refresh);
  // After a reconnect, events may have been missed.
  source.addEventListener("open", refresh);
})();
