// samplan — small progressive enhancement. Every page works without this script; with it the
// start page follows the unit's inbox live, Min plan gets a print button, a form sent back
// to be corrected puts the keyboard on what to correct, a form already sent is emptied when
// Back brings it again, and a step that went through puts the keyboard on the words that say
// so. Nothing here talks to any other host.
(function () {
  "use strict";

  // Min plan: the print button (hidden without this script, since it could do nothing then).
  document.querySelectorAll("[data-print]").forEach(function (button) {
    var wrap = button.closest("[data-print-wrap]");
    if (wrap) wrap.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  // The sign-in ends at a set time (WCAG 2.2.1): five minutes before, the page says so, with a
  // way to sign in again in another tab. The new sign-in holds for this tab too, so what was
  // typed here can still be sent. The page was made with the seconds left; the browser's own
  // clock only counts them down.
  var ending = document.getElementById("inloggning-slutar");
  var left = ending ? parseInt(ending.getAttribute("data-left"), 10) : NaN;
  // A timer longer than about 24.8 days fires at once, so a sign-in that long (a test token)
  // is not counted down at all.
  if (!isNaN(left) && left < 2000000) {
    var endsAt = new Date(Date.now() + left * 1000);
    var at = endsAt.getHours() + "." + ("0" + endsAt.getMinutes()).slice(-2);
    var tell = function (text) {
      ending.innerHTML = "";
      ending.hidden = false;
      // Filled after it is shown, so that the alert is read out.
      window.setTimeout(function () { ending.innerHTML = text; }, 50);
    };
    window.setTimeout(function () {
      tell(ending.innerHTML.replace("slutar snart", "slutar kl. " + at));
    }, Math.max(0, (left - 300) * 1000));
    window.setTimeout(function () {
      tell("Din inloggning slutade kl. " + at + ". <a href=\"/logga-in\" target=\"_blank\" " +
        "rel=\"noopener\">Logga in igen i en ny flik</a>, så kan du skicka det du skrivit här.");
    }, left * 1000);
  }

  // A form sent back with what to correct (422): the page loads at its top, so take the reader
  // to the first thing to correct — the list of them, the field beside its message, or the
  // form's own message —
  // and put the keyboard there, instead of leaving it somewhere far below the fold.
  // With more than one thing to correct, the list of them at the form's top is read first.
  var invalid = document.querySelector("form .error-summary") ||
    document.querySelector("form [aria-invalid='true'], form .form-error");
  if (invalid) {
    var details = invalid.closest("details");
    if (details) details.open = true;
    if (!invalid.matches("input, select, textarea, button")) invalid.setAttribute("tabindex", "-1");
    invalid.focus();
    invalid.scrollIntoView({ block: "center" });
    // The tab's name says there is something to correct (the page's own title is unchanged).
    if (document.title.indexOf("Rätta formuläret – ") !== 0) document.title = "Rätta formuläret – " + document.title;
  }

  // A form that went through, then the browser's Back (ADR 0049): the page is made again (it is
  // never cached) with a new one-time key, and the browser fills in what was typed before, so a
  // second Spara would save it all twice. A form remembers in this tab that it was sent; met
  // again by Back or Forward, the page is loaded afresh, the form empty and saying why. A form
  // sent back to be corrected, or sent while signed out, was not saved: it forgets.
  var SENT = "samplan-sent:";
  var SENT_FOR_MS = 60 * 60 * 1000;
  var guarded = document.querySelectorAll("form[method='post']");
  guarded.forEach(function (form) {
    if (!form.querySelector("input[name='_key']")) return;
    var mark = SENT + form.getAttribute("action");
    form.addEventListener("submit", function () {
      try { window.sessionStorage.setItem(mark, String(Date.now())); } catch (e) { /* private mode */ }
    });
    if (form.querySelector("[aria-invalid='true'], .form-error") || form.hasAttribute("data-not-saved")) {
      try { window.sessionStorage.removeItem(mark); } catch (e) { /* private mode */ }
    }
  });
  var navigation = window.performance && performance.getEntriesByType
    ? performance.getEntriesByType("navigation")[0] : null;
  var NOTICE = "samplan-sent-notice";
  if (navigation && navigation.type === "back_forward") {
    // The fields are filled in by the browser, not by this page, and not at a moment a script
    // can wait for: the page is loaded afresh instead, where nothing is filled in, and the
    // forms that were sent say why they are empty.
    var again = [];
    guarded.forEach(function (form) {
      if (!form.querySelector("input[name='_key']")) return;
      var mark = SENT + form.getAttribute("action");
      var sent = null;
      try { sent = window.sessionStorage.getItem(mark); window.sessionStorage.removeItem(mark); } catch (e) { /* private mode */ }
      if (sent && Date.now() - parseInt(sent, 10) <= SENT_FOR_MS) again.push(form.getAttribute("action"));
    });
    if (again.length) {
      try {
        window.sessionStorage.setItem(NOTICE, JSON.stringify(again));
        window.location.replace(window.location.href);
      } catch (e) { /* private mode: the key and the version still refuse what they can */ }
    }
  } else {
    var noticed = null;
    try { noticed = JSON.parse(window.sessionStorage.getItem(NOTICE) || "null"); window.sessionStorage.removeItem(NOTICE); } catch (e) { /* private mode */ }
    if (noticed) {
      guarded.forEach(function (form) {
        if (noticed.indexOf(form.getAttribute("action")) < 0) return;
        var details = form.closest("details");
        if (details) details.open = true;
        var notice = document.createElement("p");
        notice.className = "notice sent-before";
        notice.setAttribute("role", "status");
        notice.textContent = "Det här formuläret är redan skickat och sparat, så det visas tomt: " +
          "inget sparas två gånger. Fyll i det på nytt om något mer ska ändras.";
        form.insertBefore(notice, form.firstChild);
      });
    }
  }

  // A step that went through: the page says so at its top; the keyboard starts there too, so a
  // screen reader reads it out.
  var done = document.getElementById("klart");
  if (done && !invalid) done.focus();

  // Back from "Markera som läst": the keyboard goes on to the next message (the address names
  // it), or to the list's heading after the last, instead of starting over at the top.
  var hash = window.location.hash;
  if (!invalid && !done && (hash.indexOf("#meddelande-") === 0 || hash === "#rubrik-meddelanden")) {
    var next = document.getElementById(hash.slice(1)) || document.getElementById("rubrik-meddelanden");
    if (next) {
      if (!next.matches("a, button, input, select, textarea")) next.setAttribute("tabindex", "-1");
      next.focus();
    }
  }

  // The start page: listen to the unit's inbox and fetch the lists again when they change.
  var lists = document.getElementById("listor");
  if (!lists || !window.EventSource || !window.fetch) return;
  var status = document.getElementById("live-status");
  // The lists update by themselves unless the reader turns it off (WCAG 2.2.2: a screen reader's
  // place or a magnifier's view should not move under them); the choice is remembered here.
  var auto = document.getElementById("live-auto");
  var held = false;
  var source = null;
  var stopped = false;
  var away = false;
  var pending = null;
  var arrived = 0;
  var todosChanged = false;
  // Fetching the lists failed this many times in a row: the next try waits longer.
  var failures = 0;
  // The server refused the stream this many times in a row (see `reopen`).
  var reopenings = 0;

  // The status line is read out when its text changes: it is emptied first, so that the same
  // news twice ("Ett nytt meddelande har kommit.") is read out twice.
  function say(text) {
    if (!status) return;
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

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

  // What the user chose or typed in the lists' forms (the message filter) stays when the lists
  // are replaced: each field's value goes to the field of the same name in the fresh lists.
  function keepFields(from, to) {
    from.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (el) {
      if (el.type === "hidden" || el.type === "submit") return;
      var selector = el.tagName.toLowerCase() + "[name=\"" + CSS.escape(el.name) + "\"]";
      if (el.type === "checkbox" || el.type === "radio") {
        var twin = to.querySelector(selector + "[value=\"" + CSS.escape(el.value) + "\"]");
        if (twin) twin.checked = el.checked;
      } else {
        var same = to.querySelector(selector);
        if (same) same.value = el.value;
      }
    });
  }

  function refresh() {
    pending = null;
    if (stopped) return Promise.resolve();
    var url = lists.getAttribute("data-live") + window.location.search;
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // Sent to the sign-in page: the session ended.
        if (response.redirected) { signedOut(false); return null; }
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null || stopped) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("listor");
        if (!fresh) throw new Error("no lists in the answer");
        var news = [];
        if (failures > 0) {
          failures = 0;
          news.push("Listorna är uppdaterade igen.");
        }
        var place = focusPlace(document.activeElement);
        var openFilters = lists.querySelector("details.filters[open]") !== null;
        keepFields(lists, fresh);
        lists.replaceWith(fresh);
        lists = fresh;
        if (openFilters) { var d = lists.querySelector("details.filters"); if (d) d.open = true; }
        if (place) refocus(place);
        if (arrived > 0) {
          news.push(arrived === 1 ? "Ett nytt meddelande har kommit." : arrived + " nya meddelanden har kommit.");
          arrived = 0;
          todosChanged = false;
        } else if (todosChanged) {
          news.push("Att göra har ändrats.");
          todosChanged = false;
        }
        // One announcement: a second one right after would replace the first unread.
        if (news.length > 0) say(news.join(" "));
      })
      .catch(function () {
        // A change arrived but its lists did not: try again, a little later each time (up to
        // half a minute), and say once that the lists may be behind meanwhile.
        if (stopped) return;
        failures += 1;
        if (failures === 1) say("Listorna kunde inte uppdateras, så de kan vara inaktuella. Försöker igen …");
        if (!pending) pending = window.setTimeout(refresh, Math.min(30000, 1000 * Math.pow(2, failures - 1)));
      });
  }

  function changed(event) {
    if (event && event.type === "message") arrived += 1;
    if (event && event.type === "todo") todosChanged = true;
    if (auto && !auto.checked) {
      // Held: said once, and the lists are fetched when the reader turns updating on again.
      if (!held) say("Det finns ändringar. Kryssa i ”Uppdatera listorna automatiskt” för att se dem.");
      held = true;
      return;
    }
    if (!pending) pending = window.setTimeout(refresh, 250);
  }

  if (auto) {
    var remembered = null;
    try { remembered = window.localStorage.getItem("samplan.live"); } catch (e) { /* none */ }
    auto.checked = remembered !== "off";
    document.getElementById("live-toggle").hidden = false;
    auto.addEventListener("change", function () {
      try { window.localStorage.setItem("samplan.live", auto.checked ? "on" : "off"); } catch (e) { /* none */ }
      if (auto.checked && held) {
        held = false;
        changed();
      }
    });
  }

  function connect() {
    var url = lists.getAttribute("data-events") + "?from_position=" +
      encodeURIComponent(lists.getAttribute("data-position") || "0");
    source = new EventSource(url);
    ["message", "message_read", "todo", "ongoing"].forEach(function (name) {
      source.addEventListener(name, changed);
    });
    source.addEventListener("ready", function () {
      reopenings = 0;
      document.body.setAttribute("data-live", "on");
      if (away) {
        away = false;
        say("Kontakten är tillbaka; listorna uppdateras igen.");
        changed();
      }
    });
    // The server went away (a restart): EventSource reconnects by itself and resumes from the
    // last event id it got; meanwhile the page says the lists are not current — once per
    // outage, since the browser tries again every few seconds and each failed try would read
    // the same words out again.
    source.addEventListener("error", function () {
      if (stopped || source.readyState === EventSource.OPEN) return;
      document.body.setAttribute("data-live", "off");
      // CLOSED: the server refused the stream, and the browser will not try again by itself.
      if (source.readyState === EventSource.CLOSED) {
        reopen();
      } else if (!away) {
        away = true;
        say("Kontakten med servern bröts, så listorna kan vara inaktuella. Försöker ansluta igen …");
      }
    });
    // The sign-in ended (signed out in another tab or window, or expired).
    source.addEventListener("signed_out", function (event) {
      var revoked = false;
      try { revoked = JSON.parse(event.data).code === "token_revoked"; } catch (e) { /* expired */ }
      signedOut(revoked);
    });
  }

  // The server refused the stream: the sign-in ended while it was away (reading the lists finds
  // that out, and the page says so), the position it resumed from is unknown there (the database
  // was restored: 400 position_unknown), or it was briefly unable. Read the lists afresh and
  // open the stream from where they stand, a little later each time; after five refusals in a
  // row, ask for a reload.
  function reopen() {
    if (stopped) return;
    document.body.setAttribute("data-live", "off");
    if (reopenings >= 5) {
      away = true;
      say("Listorna uppdateras inte längre. Ladda om sidan.");
      return;
    }
    if (!away) {
      away = true;
      say("Kontakten med servern bröts, så listorna kan vara inaktuella. Försöker ansluta igen …");
    }
    reopenings += 1;
    window.setTimeout(function () {
      if (pending) { window.clearTimeout(pending); pending = null; }
      refresh().then(function () { if (!stopped) connect(); });
    }, 500 * Math.pow(2, reopenings - 1));
  }

  // The sign-in ended: the lists go, for they name patients, and the page says why and where to
  // sign in again.
  function signedOut(revoked) {
    if (stopped) return;
    stopped = true;
    if (source) source.close();
    document.body.setAttribute("data-live", "off");
    var notice = document.createElement("div");
    notice.id = "listor";
    notice.className = "notice signed-out";
    var text = document.createElement("p");
    text.textContent = revoked
      ? "Du har loggat ut, i den här eller en annan flik. Listorna visas inte längre."
      : "Inloggningen har gått ut. Listorna visas inte längre.";
    var again = document.createElement("a");
    again.href = "/logga-in";
    again.textContent = "Logga in igen";
    notice.appendChild(text);
    notice.appendChild(again);
    // The keyboard was in the lists, which go: it goes to the notice, which is then read out;
    // elsewhere it stays, and the status line reads the notice out. One message, not three:
    // the countdown's own "Din inloggning slutade" is put away.
    var hadFocus = lists.contains(document.activeElement) || document.activeElement === document.body;
    var ending = document.getElementById("inloggning-slutar");
    if (ending) ending.hidden = true;
    lists.replaceWith(notice);
    lists = notice;
    if (hadFocus) {
      notice.setAttribute("tabindex", "-1");
      notice.focus();
    } else {
      say(text.textContent);
    }
  }
  connect();
  window.addEventListener("pagehide", function () { if (source) source.close(); });
})();
