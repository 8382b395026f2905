/* Camp LMS lesson page: completing a lesson updates the page without a reload.
 *
 * The player (player.js) announces each progress answer of the server as an "lms:progress"
 * event; "Mark as read" is sent with fetch and answered in JSON. Either way the sidebar's
 * lesson row and course progress follow, and when the answer says the course is finished a
 * congratulation with the certificate's link appears. Without scripts the form still posts
 * and the page reloads. See docs/video.md and docs/archive.md ("Finishing a course").
 */
(function () {
  "use strict";

  var finishBox = document.getElementById("course-finish");
  var finishLink = document.getElementById("course-finish-link");
  var sidebarCertificate = document.getElementById("course-certificate");
  var courseProgress = document.getElementById("course-progress");
  var row = document.getElementById("current-lesson-row");

  function setCoursePercent(percent) {
    if (!courseProgress || typeof percent !== "number") { return; }
    var bar = courseProgress.querySelector("progress");
    var label = courseProgress.querySelector(".progress-label");
    var box = courseProgress.querySelector(".progress");
    if (bar) { bar.value = percent; bar.textContent = percent + "%"; }
    if (label) { label.textContent = percent + "%"; }
    if (box) { box.title = percent + "%"; }
  }

  function setLessonDone() {
    if (!row) { return; }
    row.classList.add("done");
    var percent = row.querySelector(".muted.small");
    if (percent) { percent.remove(); }
  }

  function setLessonPercent(fraction) {
    if (!row || typeof fraction !== "number" || row.classList.contains("done")) { return; }
    var percent = Math.min(99, Math.floor(100 * fraction));
    if (percent <= 0) { return; }
    var label = row.querySelector(".muted.small");
    if (!label) {
      label = document.createElement("span");
      label.className = "muted small";
      row.appendChild(label);
    }
    label.textContent = percent + "%";
  }

  function celebrate(url) {
    if (sidebarCertificate && url) {
      sidebarCertificate.querySelector("a").href = url;
      sidebarCertificate.hidden = false;
    }
    if (!finishBox) { return; }
    if (url && finishLink) { finishLink.href = url; }
    else if (finishLink) { finishLink.parentNode.hidden = true; }
    finishBox.hidden = false;
    finishBox.focus();
    finishBox.scrollIntoView({ block: "nearest" });
  }

  /* One answer of the server: the progress API's, or the "mark as read" one. */
  function apply(state) {
    if (!state) { return; }
    if (state.completed) { setLessonDone(); } else { setLessonPercent(state.covered_fraction); }
    setCoursePercent(state.course_percent);
    if (state.course_completed) { celebrate(state.certificate_url); }
  }

  document.addEventListener("lms:progress", function (event) { apply(event.detail); });

  var form = document.querySelector("form[data-mark-read]");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
        body: new FormData(form)
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (state) {
        form.hidden = true;
        var done = document.getElementById("read-done");
        if (done) { done.hidden = false; }
        apply(state);
      }).catch(function () {
        form.submit();   // let the server answer as without scripts
      });
    });
  }
})();
