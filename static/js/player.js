/* Camp LMS lesson player: resume, verified-progress reports, speed and keyboard controls.
 * The server decides what is credited and when a lesson is complete; this script only
 * reports what the browser really played. */
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video || !video.dataset.playbackUrl) { return; }

  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var sessionUrl = null;
  var seq = 0;
  var played = [];          // merged [start, end] ranges played in this session
  var segmentStart = null;  // start of the range being played right now
  var lastTime = 0;
  var resumed = false;
  var REPORT_EVERY_MS = 10000;
  var bar = document.getElementById("lesson-progress");
  var label = document.getElementById("lesson-progress-label");
  var status = document.getElementById("lesson-status");

  function merge(ranges) {
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    var out = [];
    ranges.forEach(function (r) {
      if (r[1] <= r[0]) { return; }
      var last = out[out.length - 1];
      if (last && r[0] <= last[1] + 0.01) { last[1] = Math.max(last[1], r[1]); }
      else { out.push([r[0], r[1]]); }
    });
    return out;
  }

  function closeSegment(end) {
    if (segmentStart !== null && end > segmentStart) {
      played = merge(played.concat([[segmentStart, end]]));
    }
    segmentStart = null;
  }

  function show(state) {
    if (!state) { return; }
    var percent = Math.min(100, Math.round(100 * state.covered_fraction));
    if (bar) { bar.value = percent; }
    if (label) { label.textContent = percent + "%"; }
    if (status && state.completed) { status.hidden = false; }
    if (state.course_completed) { window.location.reload(); }
  }

  function post(url, body, keepalive) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) { return response.ok ? response.json() : null; });
  }

  function report(keepalive) {
    if (!sessionUrl) { return; }
    var ranges = played.slice();
    if (segmentStart !== null && video.currentTime > segmentStart) {
      ranges = merge(ranges.concat([[segmentStart, video.currentTime]]));
    }
    seq += 1;
    post(sessionUrl, { seq: seq, position: video.currentTime || 0, intervals: ranges }, keepalive)
      .then(show).catch(function () { /* offline: the next report carries the same ranges */ });
  }

  function resume(position) {
    if (resumed || !position || !isFinite(video.duration)) { return; }
    resumed = true;
    if (position > 1 && position < video.duration - 2) { video.currentTime = position; }
  }

  post(video.dataset.playbackUrl).then(function (state) {
    if (!state) { return; }
    sessionUrl = video.dataset.reportUrl.replace("SESSION", state.session_id);
    show(state);
    if (video.readyState >= 1) { resume(state.position); }
    else { video.addEventListener("loadedmetadata", function () { resume(state.position); }, { once: true }); }
  });

  video.addEventListener("playing", function () { segmentStart = video.currentTime; lastTime = video.currentTime; });
  video.addEventListener("timeupdate", function () {
    var now = video.currentTime;
    // A jump (seek) ends the range; normal playback moves forward by less than ~1 s per event.
    if (segmentStart !== null && (now < lastTime || now - lastTime > 1.5 * Math.max(1, video.playbackRate))) {
      closeSegment(lastTime);
      if (!video.paused) { segmentStart = now; }
    }
    lastTime = now;
  });
  video.addEventListener("seeking", function () { closeSegment(lastTime); });
  video.addEventListener("seeked", function () { lastTime = video.currentTime; if (!video.paused) { segmentStart = video.currentTime; } });
  video.addEventListener("pause", function () { closeSegment(video.currentTime); report(); });
  video.addEventListener("ended", function () { closeSegment(video.currentTime); report(); });
  document.addEventListener("visibilitychange", function () { if (document.hidden) { report(true); } });
  window.setInterval(function () { if (!video.paused) { report(); } }, REPORT_EVERY_MS);

  var speed = document.getElementById("player-speed");
  if (speed) {
    speed.addEventListener("change", function () { video.playbackRate = parseFloat(speed.value) || 1; });
    video.addEventListener("ratechange", function () { speed.value = String(video.playbackRate); });
  }

  // Keyboard: space/k play-pause, ←/→ 5 s, j/l 10 s, </> speed, c captions, f fullscreen.
  var shell = document.getElementById("player-shell");
  (shell || video).addEventListener("keydown", function (event) {
    if (event.target.tagName === "SELECT") { return; }
    var rates = [0.75, 1, 1.25, 1.5, 2];
    var handled = true;
    switch (event.key) {
      case " ": case "k": if (video.paused) { video.play(); } else { video.pause(); } break;
      case "ArrowLeft": video.currentTime = Math.max(0, video.currentTime - 5); break;
      case "ArrowRight": video.currentTime = Math.min(video.duration, video.currentTime + 5); break;
      case "j": video.currentTime = Math.max(0, video.currentTime - 10); break;
      case "l": video.currentTime = Math.min(video.duration, video.currentTime + 10); break;
      case "<": case ">": {
        var index = rates.indexOf(video.playbackRate);
        index = Math.max(0, Math.min(rates.length - 1, (index < 0 ? 1 : index) + (event.key === ">" ? 1 : -1)));
        video.playbackRate = rates[index];
        break;
      }
      case "c": {
        var tracks = video.textTracks;
        for (var i = 0; i < tracks.length; i++) { tracks[i].mode = tracks[i].mode === "showing" ? "hidden" : (i === 0 ? "showing" : "hidden"); }
        break;
      }
      case "f": if (document.fullscreenElement) { document.exitFullscreen(); } else if (video.requestFullscreen) { video.requestFullscreen(); } break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });
})();
