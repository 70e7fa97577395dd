// Orchestrion console: live regions and confirmations. No inline script anywhere (the CSP forbids it).
//
// A live region is an element with data-live-url and data-sig. About once a second, while the tab is
// visible, it asks its URL with since=<sig>: the server answers 204 when nothing changed, or the region
// drawn anew, which htmx swaps in place (see api/console/live.py).
(function () {
  "use strict";
  var INTERVAL_MS = 1000;

  function poll(region) {
    if (region.dataset.busy) {
      return;
    }
    var url = new URL(region.dataset.liveUrl, window.location.href);
    if (region.dataset.sig) {
      url.searchParams.set("since", region.dataset.sig);
    }
    region.dataset.busy = "1";
    // What the reader opened or closed stays so after the region is drawn again.
    var folded = {};
    region.querySelectorAll("details[id]").forEach(function (d) {
      folded[d.id] = d.open;
    });
    window.htmx
      .ajax("GET", url.pathname + url.search, { target: region, swap: "outerHTML" })
      .then(function () {
        Object.keys(folded).forEach(function (id) {
          var d = document.getElementById(id);
          if (d) {
            d.open = folded[id];
          }
        });
      })
      .catch(function () {})
      .finally(function () {
        delete region.dataset.busy;
      });
  }

  function tick() {
    if (document.hidden || !window.htmx) {
      return;
    }
    document.querySelectorAll("[data-live-url]").forEach(poll);
  }

  window.setInterval(tick, INTERVAL_MS);
  document.addEventListener("visibilitychange", tick);

  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
