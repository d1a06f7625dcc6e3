// samplan — small progressive enhancement. Every page works without this script; with it the
// start page follows the unit's inbox live, Min plan gets a print button, a form sent back
// to be corrected puts the keyboard on what to correct, and a step that went through puts it on
// the words that say so. Nothing here talks
// to any other host.
(function () {
  "use strict";

  // Min plan: the print button (hidden without this script, since it could do nothing then).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    var wrap = button.closest("[data-print-wrap]");
    if (wrap) wrap.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  // A form sent back with what to correct (422): the page loads at its top, so take the reader
  // to the first thing to correct — the field beside its message, or the form's own message —
  // and put the keyboard there, instead of leaving it somewhere far below the fold.
  var invalid = document.querySelector("form [aria-invalid='true'], form .form-error");
  if (invalid) {
    var details = invalid.closest("details");
    if (details) details.open = true;
    if (!invalid.matches("input, select, textarea, button")) invalid.setAttribute("tabindex", "-1");
    invalid.focus();
    invalid.scrollIntoView({ block: "center" });
  }

  // A step that went through: the page says so at its top; the keyboard starts there too, so a
  // screen reader reads it out.
  var done = document.getElementById("klart");
  if (done && !invalid) done.focus();

  // The start page: listen to the unit's inbox and fetch the lists again when they change.
  var lists = document.getElementById("listor");
  if (!lists || !window.EventSource || !window.fetch) return;
  var status = document.getElementById("live-status");
  var source = null;
  var pending = null;
  var arrived = 0;

  function say(text) { if (status) status.textContent = text; }

  function refresh() {
    pending = null;
    var url = lists.getAttribute("data-live") + window.location.search;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("listor");
        if (!fresh) return;
        var focused = document.activeElement && document.activeElement.id;
        var openFilters = lists.querySelector("details.filters[open]") !== null;
        lists.replaceWith(fresh);
        lists = fresh;
        if (openFilters) { var d = lists.querySelector("details.filters"); if (d) d.open = true; }
        if (focused) { var again = document.getElementById(focused); if (again) again.focus(); }
        if (arrived > 0) {
          say(arrived === 1 ? "Ett nytt meddelande har kommit." : arrived + " nya meddelanden har kommit.");
          arrived = 0;
        }
      })
      .catch(function () { /* the next change tries again */ });
  }

  function changed(event) {
    if (event && event.type === "message") arrived += 1;
    if (!pending) pending = window.setTimeout(refresh, 250);
  }

  function connect() {
    var url = lists.getAttribute("data-events") + "?from_position=" +
      encodeURIComponent(lists.getAttribute("data-position") || "0");
    source = new EventSource(url);
    ["message", "message_read", "todo", "ongoing"].forEach(function (name) {
      source.addEventListener(name, changed);
    });
    source.addEventListener("ready", function () { document.body.setAttribute("data-live", "on"); });
    // EventSource reconnects by itself and resumes from the last event id it got.
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) source.close(); });
})();
