/* The trainer's check-in screen: refresh the rotating code and its QR image. */
(function () {
  "use strict";
  var page = document.getElementById("code-page");
  if (!page) { return; }
  var code = document.getElementById("code");
  var seconds = document.getElementById("seconds");
  var qr = document.getElementById("qr");
  var closed = document.getElementById("closed");
  var left = 0;
  function refresh() {
    fetch(page.dataset.url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        code.textContent = data.code;
        left = data.seconds_left;
        seconds.textContent = left;
        qr.src = data.qr;
        closed.hidden = data.open;
      });
  }
  refresh();
  window.setInterval(function () {
    left -= 1;
    if (left <= 0) { refresh(); } else { seconds.textContent = left; }
  }, 1000);
})();
