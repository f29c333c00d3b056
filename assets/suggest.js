// maildesk new-request form: solutions that may answer the subject, shown under it while
// the customer types. An enhancement only: without it the form works as before, and its
// "Search solutions" button carries the subject to the search page.
"use strict";
(function () {
  var region = document.getElementById("suggestions");
  var subject = document.getElementById("subject");
  if (!region || !subject || !region.dataset.suggest || typeof fetch === "undefined") return;
  var timer = null;
  var asked = null;
  var pending = null;

  function show(text) {
    if (text === asked) return;
    asked = text;
    if (pending) pending.abort();
    if (text.trim().length < 3) {
      region.innerHTML = "";
      return;
    }
    pending = typeof AbortController === "undefined" ? null : new AbortController();
    var url = region.dataset.suggest + "?q=" + encodeURIComponent(text);
    fetch(url, { credentials: "same-origin", signal: pending ? pending.signal : undefined })
      .then(function (response) {
        // Signed out meanwhile, or too many look-ups: keep what is shown.
        if (!response.ok || response.redirected) return null;
        return response.text();
      })
      .then(function (html) {
        if (html !== null && text === asked) region.innerHTML = html.trim();
      })
      .catch(function () { /* aborted or offline: the form works without suggestions */ });
  }

  subject.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { show(subject.value); }, 300);
  });
  // Back from a solution, the browser puts the typed subject back: show its suggestions.
  window.addEventListener("pageshow", function () {
    asked = null;
    if (subject.value) show(subject.value);
  });
})();
