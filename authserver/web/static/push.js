// Waits for the app's answer to an approval request: server-sent events,
// with a poll as fallback, and a countdown. On an answer it submits the
// page's form, which completes or refuses the sign-in (or the payment) on
// the server. The form names the request (data-push-wait) and, when it is
// not a sign-in's, where its events and state are (data-push-events,
// data-push-status).
(function () {
  "use strict";
  var form = document.querySelector("form[data-push-wait]");
  if (!form) return;
  var id = encodeURIComponent(form.getAttribute("data-push-wait"));
  var events = form.getAttribute("data-push-events") || "/signin/factor/push/events";
  var status = form.getAttribute("data-push-status") || "/signin/factor/push/status";
  var done = false;
  function finish() {
    if (done) return;
    done = true;
    form.submit();
  }
  function onState(state) {
    if (state && state !== "pending") finish();
  }
  var counter = document.querySelector("[data-push-countdown]");
  if (counter) {
    var left = parseInt(counter.getAttribute("data-push-countdown"), 10) || 0;
    var timer = setInterval(function () {
      left = Math.max(0, left - 1);
      counter.textContent = String(left);
      if (left === 0) { clearInterval(timer); finish(); }
    }, 1000);
  }
  function poll() {
    if (done) return;
    fetch(status + "?id=" + id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { state: "gone" }; })
      .then(function (j) { onState(j.state); if (!done) setTimeout(poll, 3000); })
      .catch(function () { if (!done) setTimeout(poll, 5000); });
  }
  if (window.EventSource) {
    var es = new EventSource(events + "?id=" + id);
    es.addEventListener("state", function (e) { onState(e.data); if (done) es.close(); });
    es.onerror = function () { es.close(); if (!done) setTimeout(poll, 1000); };
  } else {
    poll();
  }
})();
