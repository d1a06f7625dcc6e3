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

  // Where the keyboard was in the lists, to put it back after they are replaced: the element by
  // its id, or else by what it is (a link by its address and text, a button by its form and
  // text) within the nearest section with an id. Gone with its row, the section's heading takes
  // it, so the reader stays where they were instead of starting over at the top of the page.
  function keyOf(el) {
    if (el.tagName === "A") return "a|" + el.getAttribute("href") + "|" + el.textContent;
    if (el.form) return el.tagName + "|" + el.form.getAttribute("action") + "|" + el.name + "|" + el.textContent;
    return null;
  }
  function focusPlace(el) {
    if (!el || !lists.contains(el)) return null;
    if (el.id) return { id: el.id };
    var section = el.parentElement && el.parentElement.closest("[id]");
    return section ? { section: section.id, key: keyOf(el) } : null;
  }
  function refocus(place) {
    var target = place.id ? document.getElementById(place.id) : null;
    var section = place.section ? document.getElementById(place.section) : null;
    if (!target && section && place.key) {
      var all = section.querySelectorAll("a, button, input, select, textarea");
      for (var i = 0; i < all.length && !target; i++) if (keyOf(all[i]) === place.key) target = all[i];
    }
    if (!target && section) {
      target = section.querySelector("h2") || section;
      target.setAttribute("tabindex", "-1");
    }
    if (target) target.focus();
  }

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
        var place = focusPlace(document.activeElement);
        var openFilters = lists.querySelector("details.filters[open]") !== null;
        lists.replaceWith(fresh);
        lists = fresh;
        if (openFilters) { var d = lists.querySelector("details.filters"); if (d) d.open = true; }
        if (place) refocus(place);
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
    // The sign-in ended (signed out in another tab, or expired): the lists stop updating, and
    // the page says so instead of showing them as current.
    source.addEventListener("signed_out", function () {
      source.close();
      document.body.setAttribute("data-live", "off");
      say("Inloggningen har gått ut och listorna uppdateras inte längre. Ladda om sidan och logga in igen.");
    });
    // EventSource reconnects by itself and resumes from the last event id it got.
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) source.close(); });
})();
