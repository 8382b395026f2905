/* Camp LMS lesson player.
 *
 * Chooses how to play (hls.js, the browser's own HLS, or the progressive MP4 renditions), offers
 * a quality menu, seek previews, speed, captions and keys, resumes where the learner stopped and
 * reports what the browser really played. The server decides what is credited and when a lesson
 * is complete. `?player=hlsjs|native|mp4` (or `data-player` on the <video>) forces a mode; the
 * chosen one is in `video.dataset.mode`. See docs/video.md.
 */
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) { return; }

  var data = video.dataset;
  var renditions = data.renditions ? JSON.parse(data.renditions) : [];  // lowest first
  var hls = null;
  var engine = "file";      // hlsjs | native | mp4 | file (the one file, no renditions)
  var quality = "auto";     // "auto" or a rendition height, as a string
  var errorBox = document.getElementById("player-error");
  var qualityMenu = document.getElementById("player-quality");

  function rendition(height) {
    return renditions.filter(function (r) { return String(r.height) === String(height); })[0];
  }

  /* ---- choosing and switching sources ---------------------------------------------------- */

  function requestedMode() {
    var asked = new URLSearchParams(window.location.search).get("player") || data.player || "";
    return ["hlsjs", "native", "mp4"].indexOf(asked) >= 0 ? asked : "";
  }

  function chooseEngine() {
    if (!renditions.length) { return "file"; }
    var hlsJs = !!(data.hls && window.Hls && window.Hls.isSupported());
    var asked = requestedMode();
    if (asked && (asked !== "hlsjs" || hlsJs)) { return asked; }
    if (hlsJs) { return "hlsjs"; }
    if (data.hls && video.canPlayType("application/vnd.apple.mpegurl")) { return "native"; }
    return "mp4";
  }

  /* The rendition to use without hls.js's bandwidth estimate, chosen as hls.js caps its levels:
   * the smallest one at least as big as the player on screen (in device pixels), stepping down
   * while its bit rate does not fit the connection, when the browser tells it. */
  function automaticRendition() {
    var box = Math.min(video.clientWidth, video.clientHeight) || 360;
    var needed = box * (window.devicePixelRatio || 1);
    var index = renditions.length - 1;
    while (index > 0 && renditions[index - 1].height >= needed) { index -= 1; }
    var downlink = navigator.connection && navigator.connection.downlink;  // Mbit/s
    while (index > 0 && downlink && renditions[index].bandwidth > downlink * 1e6 * 0.7) { index -= 1; }
    return renditions[index];
  }

  /* Load another URL in the same element, keeping the time, the speed and play/pause. */
  function swapSource(url, at, wasPlaying) {
    if (video.currentSrc === new URL(url, window.location.href).href) { return; }
    if (at === undefined) { at = video.currentTime; wasPlaying = !video.paused && !video.ended; }
    var rate = video.playbackRate;
    video.src = url;
    video.addEventListener("loadedmetadata", function () {
      if (at > 0) { video.currentTime = at; }
      video.playbackRate = rate;
      if (wasPlaying) { video.play().catch(function () {}); }
    }, { once: true });
  }

  function startHlsJs() {
    hls = new window.Hls({
      enableWorker: false,          // no worker from a blob: URL (CSP: worker-src stays 'self')
      capLevelToPlayerSize: true,   // a phone never pulls 720p into a 390 px player
      startLevel: -1
    });
    var mediaRecovered = false;
    hls.on(window.Hls.Events.LEVEL_SWITCHED, function (_event, info) {
      if (hls.autoLevelEnabled) { showAutoLevel(hls.levels[info.level]); }
    });
    hls.on(window.Hls.Events.ERROR, function (_event, info) {
      if (!info.fatal) { return; }
      if (info.type === window.Hls.ErrorTypes.MEDIA_ERROR && !mediaRecovered) {
        mediaRecovered = true;
        hls.recoverMediaError();
        return;
      }
      // Anything else fatal: play the progressive renditions from where we are.
      var at = video.currentTime;
      var wasPlaying = !video.paused;
      hls.destroy();
      hls = null;
      engine = "mp4";
      video.dataset.mode = engine;
      swapSource(sourceFor(quality), at, wasPlaying);
    });
    hls.loadSource(data.hls);
    hls.attachMedia(video);
  }

  function sourceFor(value) {
    var chosen = value === "auto" ? automaticRendition() : rendition(value) || automaticRendition();
    if (value === "auto") { showAutoLevel(chosen); }
    return chosen.src;
  }

  function setQuality(value) {
    quality = value;
    if (engine === "hlsjs" && hls) {
      var index = -1;
      hls.levels.forEach(function (level, i) { if (String(level.height) === String(value)) { index = i; } });
      hls.currentLevel = index;     // -1: automatic, by measured bandwidth
    } else if (engine === "native") {
      // The browser's HLS picks its own level: a manual choice plays that MP4 rendition.
      swapSource(value === "auto" ? data.hls : sourceFor(value));
    } else if (engine === "mp4") {
      swapSource(sourceFor(value));
    }
  }

  function showAutoLevel(level) {
    if (!qualityMenu || !level) { return; }
    var auto = qualityMenu.querySelector("option[value=auto]");
    auto.textContent = auto.dataset.label + " (" + level.height + "p)";
  }

  engine = chooseEngine();
  video.dataset.mode = engine;
  if (engine === "hlsjs") { startHlsJs(); }
  else if (engine === "native") { video.src = data.hls; }
  else if (engine === "mp4") { video.src = sourceFor("auto"); }

  if (qualityMenu && renditions.length > 1 && engine !== "file") {
    document.getElementById("player-quality-label").hidden = false;
    qualityMenu.addEventListener("change", function () { setQuality(qualityMenu.value); });
  }

  video.addEventListener("error", function () {
    if (errorBox && video.error) { errorBox.hidden = false; }
  });
  video.addEventListener("playing", function () { if (errorBox) { errorBox.hidden = true; } });

  /* ---- what was played: intervals of video time and seconds of playing ------------------ */

  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var sessionUrl = null;
  var sendsPlayedSeconds = false;   // the server announced report_every: it reads played_seconds
  var maxRate = 2;
  var reportEvery = 10;
  var reportTimer = null;
  var seq = 0;
  var lastSent = "";
  var played = [];          // merged [start, end] ranges played in this session
  var segmentStart = null;  // start of the range being played right now
  var lastTime = 0;
  var playedMs = 0;         // wall-clock milliseconds spent playing (not paused, not buffering)
  var playingSince = null;
  var resumed = false;
  var bar = document.getElementById("lesson-progress");
  var label = document.getElementById("lesson-progress-label");
  var status = document.getElementById("lesson-status");
  var rateWarning = document.getElementById("player-rate-warning");

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

  function clockStart() { if (playingSince === null) { playingSince = performance.now(); } }
  function clockStop() {
    if (playingSince !== null) { playedMs += performance.now() - playingSince; playingSince = null; }
  }
  function playedSeconds() {
    var ms = playedMs + (playingSince === null ? 0 : performance.now() - playingSince);
    return Math.round(ms) / 1000;
  }

  function show(state) {
    if (!state) { return; }
    var percent = Math.min(100, Math.round(100 * state.covered_fraction));
    if (bar) { bar.value = percent; }
    if (label) { label.textContent = percent + "%"; }
    if (status && state.completed) { status.hidden = false; }
    // lesson.js updates the sidebar and, when the course is finished, congratulates.
    document.dispatchEvent(new CustomEvent("lms:progress", { detail: state }));
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

  /* keepalive: the request outlives the page (pause, end, hidden or closed tab). */
  function report(keepalive) {
    if (!sessionUrl) { return; }
    var ranges = played.slice();
    if (segmentStart !== null && video.currentTime > segmentStart) {
      ranges = merge(ranges.concat([[segmentStart, video.currentTime]]));
    }
    var body = { seq: seq + 1, position: video.currentTime || 0, intervals: ranges };
    if (sendsPlayedSeconds) { body.played_seconds = playedSeconds(); }
    var signature = JSON.stringify([body.position, body.intervals, body.played_seconds]);
    if (signature === lastSent) { return; }   // e.g. "hidden" then "pagehide" when a tab closes
    lastSent = signature;
    seq = body.seq;
    post(sessionUrl, body, keepalive)
      .then(show).catch(function () { lastSent = ""; /* offline: the next report carries it all */ });
  }

  function resume(position) {
    if (resumed || !position || !isFinite(video.duration)) { return; }
    resumed = true;
    if (position > 1 && position < video.duration - 2) { video.currentTime = position; }
  }

  function checkRate() {
    if (!rateWarning) { return; }
    rateWarning.textContent = rateWarning.dataset.text.replace("RATE", String(maxRate));
    rateWarning.hidden = !(video.playbackRate > maxRate + 1e-9);
  }

  if (data.playbackUrl) {
    post(data.playbackUrl).then(function (state) {
      if (!state) { return; }
      sessionUrl = data.reportUrl.replace("SESSION", state.session_id);
      if (typeof state.max_rate === "number" && state.max_rate > 0) { maxRate = state.max_rate; }
      if (typeof state.report_every === "number" && state.report_every >= 1) {
        reportEvery = state.report_every;
        sendsPlayedSeconds = true;
      }
      window.clearInterval(reportTimer);
      reportTimer = window.setInterval(function () { if (!video.paused) { report(); } }, reportEvery * 1000);
      checkRate();
      show(state);
      if (video.readyState >= 1) { resume(state.position); }
      else { video.addEventListener("loadedmetadata", function () { resume(state.position); }, { once: true }); }
    });
  }

  video.addEventListener("playing", function () {
    segmentStart = video.currentTime;
    lastTime = video.currentTime;
    clockStart();
  });
  video.addEventListener("timeupdate", function () {
    var now = video.currentTime;
    // A jump (seek) ends the range; normal playback moves forward by less than ~1 s per event.
    if (segmentStart !== null && (now < lastTime || now - lastTime > 1.5 * Math.max(1, video.playbackRate))) {
      closeSegment(lastTime);
      if (!video.paused) { segmentStart = now; }
    }
    lastTime = now;
    if (!video.paused && video.readyState >= 3) { clockStart(); }
  });
  video.addEventListener("seeking", function () { closeSegment(lastTime); });
  video.addEventListener("seeked", function () { lastTime = video.currentTime; if (!video.paused) { segmentStart = video.currentTime; } });
  video.addEventListener("waiting", function () { clockStop(); });
  video.addEventListener("emptied", function () { closeSegment(lastTime); clockStop(); });
  video.addEventListener("pause", function () { closeSegment(video.currentTime); clockStop(); report(true); });
  video.addEventListener("ended", function () { closeSegment(video.currentTime); clockStop(); report(true); });
  document.addEventListener("visibilitychange", function () { if (document.hidden) { report(true); } });
  window.addEventListener("pagehide", function () { report(true); });

  /* ---- speed, seek previews, keys ------------------------------------------------------- */

  var speed = document.getElementById("player-speed");
  function rates() {
    return speed ? Array.prototype.map.call(speed.options, function (o) { return parseFloat(o.value); }) : [0.75, 1, 1.25, 1.5, 2];
  }
  function setRate(rate) {
    video.defaultPlaybackRate = rate;   // survives a change of source
    video.playbackRate = rate;
  }
  if (speed) {
    speed.addEventListener("change", function () { setRate(parseFloat(speed.value) || 1); });
  }
  video.addEventListener("ratechange", function () {
    if (speed) {
      var match = rates().indexOf(video.playbackRate) >= 0;
      if (match) { speed.value = String(video.playbackRate); }
    }
    checkRate();
  });

  var seek = document.getElementById("player-seek");
  if (seek && data.thumbnails) { seekPreviews(seek); }

  function seekPreviews(slider) {
    var scrub = document.getElementById("player-scrub");
    var preview = document.getElementById("player-preview");
    var image = preview.querySelector(".player-preview-image");
    var clock = preview.querySelector(".player-preview-time");
    var cues = [];
    var dragging = false;

    fetch(data.thumbnails, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (text) {
        cues = parseThumbnails(text, new URL(data.thumbnails, window.location.href));
        if (cues.length) { scrub.hidden = false; }
      }).catch(function () {});

    function at(seconds) {
      for (var i = 0; i < cues.length; i++) {
        if (seconds >= cues[i].start && seconds < cues[i].end) { return cues[i]; }
      }
      return cues[cues.length - 1];
    }

    function showPreview(fraction) {
      var duration = video.duration;
      if (!isFinite(duration) || !cues.length) { return; }
      fraction = Math.max(0, Math.min(1, fraction));
      var cue = at(fraction * duration);
      image.style.backgroundImage = 'url("' + cue.url + '")';
      image.style.backgroundPosition = (-cue.x) + "px " + (-cue.y) + "px";
      image.style.width = cue.w + "px";
      image.style.height = cue.h + "px";
      clock.textContent = formatTime(fraction * duration);
      var width = slider.clientWidth;
      preview.style.left = Math.max(0, Math.min(width - cue.w, fraction * width - cue.w / 2)) + "px";
      preview.hidden = false;
    }

    function fractionAt(event) {
      var box = slider.getBoundingClientRect();
      return (event.clientX - box.left) / box.width;
    }

    slider.addEventListener("pointermove", function (event) { showPreview(fractionAt(event)); });
    slider.addEventListener("pointerleave", function () { if (!dragging) { preview.hidden = true; } });
    slider.addEventListener("pointerdown", function () { dragging = true; });
    slider.addEventListener("pointerup", function () { dragging = false; preview.hidden = true; });
    slider.addEventListener("input", function () {
      showPreview(slider.value / 1000);
      if (isFinite(video.duration)) { video.currentTime = slider.value / 1000 * video.duration; }
    });
    slider.addEventListener("change", function () { preview.hidden = true; });
    video.addEventListener("timeupdate", function () {
      if (!dragging && isFinite(video.duration) && video.duration > 0) {
        slider.value = String(Math.round(1000 * video.currentTime / video.duration));
      }
    });
  }

  // Keyboard: space/k play-pause, ←/→ 5 s, j/l 10 s, </> speed, c captions, f fullscreen.
  var shell = document.getElementById("player-shell");
  (shell || video).addEventListener("keydown", function (event) {
    if (event.target.tagName === "SELECT" || event.target.tagName === "INPUT") { return; }
    if (event.key === " " && event.target === video) {
      // With the focus on the <video> itself, the browser's own controls may toggle play when
      // the key is released (Chromium does): toggling here too would undo it. So the page
      // does not scroll, and once the key is up, the player toggles only if nothing did.
      event.preventDefault();
      if (event.repeat) { return; }
      var before = video.paused;
      video.addEventListener("keyup", function () {
        setTimeout(function () { if (video.paused === before) { togglePlay(); } }, 0);
      }, { once: true });
      return;
    }
    var handled = true;
    switch (event.key) {
      case " ": case "k": togglePlay(); break;
      case "ArrowLeft": video.currentTime = Math.max(0, video.currentTime - 5); break;
      case "ArrowRight": video.currentTime = Math.min(video.duration, video.currentTime + 5); break;
      case "j": video.currentTime = Math.max(0, video.currentTime - 10); break;
      case "l": video.currentTime = Math.min(video.duration, video.currentTime + 10); break;
      case "<": case ">": {
        var list = rates();
        var index = list.indexOf(video.playbackRate);
        index = Math.max(0, Math.min(list.length - 1, (index < 0 ? list.indexOf(1) : index) + (event.key === ">" ? 1 : -1)));
        setRate(list[index]);
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

  /* ---- helpers -------------------------------------------------------------------------- */

  function togglePlay() {
    if (video.paused) { video.play(); } else { video.pause(); }
  }

  /* WebVTT thumbnail track: cues whose text is "sprite.jpg#xywh=x,y,w,h". */
  function parseThumbnails(text, base) {
    var out = [];
    text.replace(/\r\n?/g, "\n").split(/\n\n+/).forEach(function (block) {
      var lines = block.trim().split("\n");
      for (var i = 0; i < lines.length - 1; i++) {
        var times = lines[i].match(/^([\d:.]+)\s+-->\s+([\d:.]+)/);
        if (!times) { continue; }
        var target = lines[i + 1].trim();
        var hash = target.match(/#xywh=(\d+),(\d+),(\d+),(\d+)$/);
        if (!hash) { return; }
        out.push({
          start: toSeconds(times[1]),
          end: toSeconds(times[2]),
          url: new URL(target.split("#")[0], base).href,
          x: +hash[1], y: +hash[2], w: +hash[3], h: +hash[4]
        });
        return;
      }
    });
    return out;
  }

  function toSeconds(stamp) {
    return stamp.split(":").reduce(function (total, part) { return total * 60 + parseFloat(part); }, 0);
  }

  function formatTime(seconds) {
    var s = Math.floor(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + rest : m + ":" + rest;
  }
})();
