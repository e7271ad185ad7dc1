// The help center's search box answers as the client types; without this script the
// form still searches on submit.
(function () {
  "use strict";
  var form = document.querySelector("[data-help-search]");
  if (!form) return;
  var input = form.querySelector("input[name=q]");
  var live = document.getElementById("help-live");
  var lang = form.getAttribute("data-lang");
  var timer = null, seq = 0;
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function show(results, q) {
    clear(live);
    if (!q) { live.hidden = true; return; }
    live.hidden = false;
    if (!results.length) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = live.getAttribute("data-none");
      live.appendChild(p);
      return;
    }
    var ol = document.createElement("ol");
    ol.className = "h-hits";
    results.forEach(function (r) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = r.url;
      a.textContent = r.title;
      li.appendChild(a);
      var p = document.createElement("p");
      p.className = "muted";
      // The server escaped the excerpt and marked the words it matched.
      p.innerHTML = r.snippet_html;
      li.appendChild(p);
      ol.appendChild(li);
    });
    live.appendChild(ol);
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    timer = setTimeout(function () {
      var mine = ++seq;
      if (!q) { show([], ""); return; }
      fetch("/help/search.json?typing=1&lang=" + encodeURIComponent(lang) + "&q=" + encodeURIComponent(input.value), { credentials: "omit" })
        .then(function (r) { return r.json(); })
        .then(function (d) { if (mine === seq) show(d.results || [], q); })
        .catch(function () {});
    }, 120);
  });
})();
