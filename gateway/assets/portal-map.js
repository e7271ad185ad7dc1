// The portal's map of a client's sites: one marker per site that has coordinates, red
// where a machine is down, each opening the site's card in the list below. The list is
// the page; the map only adds to it, so a missing script, a failed tile server or no
// coordinates leave everything readable.
(function () {
  "use strict";
  function start() {
    var el = document.getElementById("site-map");
    if (!el || !window.L) return;
    var cards = Array.prototype.slice.call(document.querySelectorAll(".site[data-lat][data-lon]"));
    if (!cards.length) { el.hidden = true; return; }
    var map = window.L.map(el, { scrollWheelZoom: false, zoomControl: true });
    var tiles = window.L.tileLayer(el.dataset.tiles, {
      maxZoom: 19,
      attribution: el.dataset.attribution || ""
    });
    var failed = 0;
    tiles.on("tileerror", function () {
      failed += 1;
      el.dataset.tileErrors = String(failed);
      if (failed === 1 && el.dataset.offline && !el.dataset.tilesLoaded) {
        var note = document.createElement("p");
        note.className = "site-map-offline";
        note.setAttribute("role", "status");
        note.textContent = el.dataset.offline;
        el.appendChild(note);
      }
    });
    tiles.on("tileload", function () { el.dataset.tilesLoaded = "1"; });
    tiles.addTo(map);
    var accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#2456c7";
    var points = [];
    cards.forEach(function (card) {
      var at = [parseFloat(card.dataset.lat), parseFloat(card.dataset.lon)];
      if (!isFinite(at[0]) || !isFinite(at[1])) return;
      points.push(at);
      var down = card.dataset.down !== "0";
      var colour = down ? "#b42318" : accent;
      var marker = window.L.circleMarker(at, {
        radius: down ? 11 : 9, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.95
      });
      var popup = document.createElement("div");
      var link = document.createElement("a");
      link.href = "#" + card.id;
      link.textContent = card.dataset.name;
      popup.appendChild(link);
      var count = card.querySelectorAll(".site-machine").length;
      var info = document.createElement("div");
      info.className = "muted small";
      info.textContent = count + " \u00b7 " + (card.querySelector(".site-address") || { textContent: "" }).textContent;
      popup.appendChild(info);
      marker.bindPopup(popup);
      marker.bindTooltip(card.dataset.name);
      marker.on("click", function () {
        cards.forEach(function (c) { c.classList.remove("site-current"); });
        card.classList.add("site-current");
      });
      marker.addTo(map);
    });
    function frame() {
      if (points.length === 1) map.setView(points[0], 15);
      else map.fitBounds(points, { padding: [32, 32], maxZoom: 16 });
    }
    frame();
    // A phone turned, a window resized: the sites stay in view until the client moves the map.
    var moved = false;
    map.on("dragstart", function () { moved = true; });
    var resizeTimer = 0;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        map.invalidateSize();
        if (!moved) frame();
      }, 100);
    });
    el.dataset.markers = String(points.length);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
