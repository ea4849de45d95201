// scimd console: a directory's pages. Search as you type, live Teams
// presence, and rows added to the custom fields form. Each page works
// without it: the forms submit, the presence shown is the page's.
"use strict";
(function () {
  // Graph's PascalCase values as words, as the server words them
  // (console/contacts.go: words, availabilityClass).
  function words(s) {
    return s.replace(/\B([A-Z])/g, function (_, c) { return " " + c.toLowerCase(); });
  }
  function availabilityClass(a) {
    switch (a) {
      case "Available": case "AvailableIdle": return "ok";
      case "Busy": case "BusyIdle": case "DoNotDisturb": return "bad";
      case "Away": case "BeRightBack": return "warn";
    }
    return "idle";
  }
  function presenceLabel(p) {
    if (!p) return { label: "Unknown", cls: "idle" };
    var label = words(p.availability);
    if (p.activity && p.activity !== p.availability) label += " · " + words(p.activity);
    if (p.stale) label += " (not current)";
    return { label: label, cls: availabilityClass(p.availability) };
  }

  // Live presence: the console's stream, in the lookup API's format.
  var live = document.querySelector("[data-presence-stream]");
  if (live && window.EventSource) {
    var es = new EventSource(live.getAttribute("data-presence-stream"));
    es.addEventListener("presence", function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      var v = presenceLabel(data.presence);
      document.querySelectorAll("[data-presence-for]").forEach(function (el) {
        if (el.getAttribute("data-presence-for") !== data.contactId) return;
        el.textContent = v.label;
        el.classList.remove("ok", "bad", "warn", "idle");
        el.classList.add(v.cls);
        el.setAttribute("data-updated", "live");
      });
    });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // Search as you type: the results part of the page, fetched from the
  // console and swapped in; the address bar keeps the search.
  var form = document.getElementById("search-form");
  var results = document.getElementById("results");
  if (form && results && window.fetch) {
    var input = form.querySelector("input[name=q]");
    var timer = null, seq = 0;
    var run = function () {
      var q = input.value.trim();
      var n = ++seq;
      fetch(form.getAttribute("data-results") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (resp) {
          if (resp.redirected || !(resp.headers.get("Content-Type") || "").startsWith("text/html")) throw new Error("signed out");
          return resp.text();
        })
        .then(function (html) {
          if (n !== seq) return; // a later search answered first
          results.innerHTML = html; // the console's own escaped HTML
          history.replaceState(null, "", form.action + (q ? "?q=" + encodeURIComponent(q) : ""));
        })
        .catch(function () { /* the form still submits */ });
    };
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 200);
    });
  }

  // Custom fields: "Add a field" copies the empty row's template.
  var add = document.getElementById("add-custom-field");
  var tpl = document.getElementById("custom-field-row");
  var rows = document.getElementById("custom-rows");
  if (add && tpl && rows) {
    add.hidden = false;
    add.addEventListener("click", function () {
      var i = rows.querySelectorAll("tr").length;
      var html = tpl.innerHTML.replace(/__N__/g, String(i));
      rows.insertAdjacentHTML("beforeend", html);
      var first = rows.lastElementChild && rows.lastElementChild.querySelector("input");
      if (first) first.focus();
    });
  }
})();
