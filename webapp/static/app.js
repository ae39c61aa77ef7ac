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

  // A long form (connecting several pages) says what it is doing while it works.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.progress) return;
    var progress = form.querySelector(".progress");
    if (progress) progress.textContent = form.dataset.progress;
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = true;
    });
  });

  // In a chat pane, Enter sends the reply; Shift+Enter makes a new line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!box.matches || !box.matches(".chat-pane textarea")) return;
    event.preventDefault();
    if (box.form && box.value.trim()) box.form.requestSubmit();
  });

  document.addEventListener("htmx:sendError", function () {
    showError("Pagedesk can't be reached. Check your connection, then try again.");
  });
})();
