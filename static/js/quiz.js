/* A quiz attempt: answers saved as the learner goes, a countdown, ordering arrows.
 *
 * Every change is sent to the server (debounced) as {"answers": {"<question id>": answer}};
 * the server keeps them, so a reload or a dropped connection loses nothing. Answers not yet
 * acknowledged are sent again with the next change and with the submit. At zero the form is
 * submitted; the server grades what it saved by its own clock either way.
 */
(function () {
  "use strict";
  var form = document.getElementById("quiz-form");
  if (!form) { return; }
  var status = document.getElementById("quiz-save-status");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var pending = {};
  var timer = null;
  var closed = false;

  function answerOf(fieldset) {
    var kind = fieldset.dataset.kind;
    var name = "q" + fieldset.dataset.question;
    var inputs = fieldset.querySelectorAll('[name="' + name + '"]');
    if (kind === "single" || kind === "truefalse") {
      var checked = fieldset.querySelector('[name="' + name + '"]:checked');
      if (!checked) { return null; }
      return kind === "truefalse" ? checked.value === "true" : checked.value;
    }
    if (kind === "multiple") {
      return Array.prototype.filter.call(inputs, function (i) { return i.checked; })
        .map(function (i) { return i.value; });
    }
    if (kind === "ordering") {
      return Array.prototype.map.call(inputs, function (i) { return i.value; });
    }
    var text = inputs[0].value.trim();
    return text === "" ? null : (kind === "numeric" ? text : inputs[0].value);
  }

  function show(text) { if (status) { status.textContent = text; } }

  function save() {
    timer = null;
    var answers = pending;
    if (closed || Object.keys(answers).length === 0) { return; }
    pending = {};
    show(form.dataset.savingText);
    fetch(form.dataset.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({answers: answers})
    }).then(function (response) {
      if (response.ok) { show(form.dataset.savedText); return; }
      if (response.status === 409) { closed = true; show(form.dataset.closedText); form.submit(); return; }
      pending = Object.assign(answers, pending);
      show(form.dataset.errorText);
    }).catch(function () {
      pending = Object.assign(answers, pending);
      show(form.dataset.errorText);
      if (!timer) { timer = setTimeout(save, 5000); }
    });
  }

  function changed(fieldset) {
    var answer = answerOf(fieldset);
    if (fieldset.dataset.kind === "numeric" && answer !== null && !isFinite(Number(String(answer).replace(",", ".")))) {
      return;  // not a number yet: the learner is still typing
    }
    pending[fieldset.dataset.question] = answer;
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 600);
  }

  form.addEventListener("change", function (event) {
    var fieldset = event.target.closest("fieldset[data-question]");
    if (fieldset) { changed(fieldset); }
  });
  form.addEventListener("input", function (event) {
    var fieldset = event.target.closest("fieldset[data-question]");
    if (fieldset && event.target.type === "text") { changed(fieldset); }
  });
  form.addEventListener("click", function (event) {
    var button = event.target.closest("[data-move]");
    if (!button) { return; }
    var item = button.closest("li");
    var list = item.parentNode;
    if (button.dataset.move === "-1" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (button.dataset.move === "1" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    }
    button.focus();
    changed(button.closest("fieldset[data-question]"));
  });

  form.addEventListener("submit", function (event) {
    if (!closed && !window.confirm(form.dataset.confirmText)) { event.preventDefault(); return; }
    if (timer) { clearTimeout(timer); timer = null; }
    closed = true;
    // The last answers go with a JSON submit; the plain form post is the fallback.
    event.preventDefault();
    Array.prototype.forEach.call(form.querySelectorAll("fieldset[data-question]"), function (f) {
      pending[f.dataset.question] = answerOf(f);
    });
    Object.keys(pending).forEach(function (key) {
      if (pending[key] === null) { delete pending[key]; }
    });
    document.getElementById("quiz-submit").disabled = true;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({answers: pending})
    }).then(function (response) {
      if (response.ok || response.status === 409) { window.location.reload(); return; }
      HTMLFormElement.prototype.submit.call(form);
    }).catch(function () { HTMLFormElement.prototype.submit.call(form); });
  });

  var countdown = document.getElementById("quiz-countdown");
  if (countdown) {
    var deadline = Date.now() + Number(countdown.dataset.secondsLeft) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      countdown.textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (left <= 60) { countdown.parentNode.classList.add("urgent"); }
      if (left === 0) {
        closed = true;  // no confirmation: the time is up
        if (form.requestSubmit) { form.requestSubmit(); } else { HTMLFormElement.prototype.submit.call(form); }
        return;
      }
      setTimeout(tick, 1000);
    };
    tick();
  }
  if (form.querySelector("fieldset[disabled]")) {
    closed = true;
    HTMLFormElement.prototype.submit.call(form);
  }
})();
