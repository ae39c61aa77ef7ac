// Pagedesk's only script besides htmx: show why an HTMX request failed.
// (No inline scripts anywhere: the Content-Security-Policy forbids them.)
(function () {
  "use strict";

  function showError(text) {
    var flashes = document.getElementById("flashes");
    if (!flashes) return;
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = text; // textContent: a server message is never parsed as HTML
    flashes.replaceChildren(p);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = (xhr.responseText || "").trim();
    if (!text || text.charAt(0) === "<") text = "Something went wrong (error " + xhr.status + "). Reload the page and try again.";
    showError(text);
  });

  document.addEventListener("htmx:sendError", function () {
    showError("Pagedesk can't be reached. Check your connection, then try again.");
  });
})();
