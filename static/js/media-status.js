/* Camp LMS: live progress of videos the ingest pipeline is processing (trainers' pages).
 * Polls each video's status every 2 s; when one is ready or failed, reloads the page so it
 * shows the result (and, when ready, the player). */
(function () {
  "use strict";
  var items = document.querySelectorAll(".media-progress[data-status-url]");
  if (!items.length) { return; }

  function minutes(seconds) {
    if (seconds < 90) { return Math.max(1, Math.round(seconds)) + " s"; }
    return Math.round(seconds / 60) + " min";
  }

  function poll(item) {
    var bar = item.querySelector("progress");
    var label = item.querySelector("[data-progress-label]");
    fetch(item.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { window.setTimeout(function () { poll(item); }, 5000); return; }
        if (state.status !== "processing") { window.location.reload(); return; }
        bar.value = state.percent;
        label.textContent = state.eta_seconds != null
          ? label.dataset.templateEta.replace("TIME", minutes(state.eta_seconds)).replace("PERCENT", state.percent)
          : state.percent + "%";
        window.setTimeout(function () { poll(item); }, 2000);
      })
      .catch(function () { window.setTimeout(function () { poll(item); }, 5000); });
  }

  Array.prototype.forEach.call(items, poll);
})();
