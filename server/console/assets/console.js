// The keyseal console's only script of its own (served from /console/assets/, no inline
// script anywhere: the CSP forbids it). It moves focus to the result of the last action,
// copies the new key to the clipboard, and wipes the shown-once key when the page is
// left. It never logs, stores or sends anything.
(function () {
  "use strict";

  function focusResult(root) {
    var el = (root || document).querySelector("[data-focus]");
    if (el) {
      el.focus();
      if (el.select && el.readOnly) el.select();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusResult(document);
  });

  // After htmx swaps the results of a filter, announce them (role=status) and keep
  // focus where the user types.
  document.addEventListener("htmx:afterSwap", function (ev) {
    focusResult(ev.target);
  });

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!input) return;
    var done = function (msg) {
      if (status) status.textContent = msg;
    };
    input.focus();
    input.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(
        function () { done("Copied to the clipboard."); },
        function () { done("Copying was refused: the key is selected, press Ctrl+C (or Cmd+C)."); }
      );
    } else {
      done("The key is selected: press Ctrl+C (or Cmd+C) to copy it.");
    }
  });

  // The shown-once key leaves the page with the user: wipe it on close and on unload,
  // so neither the back/forward cache nor a later look at the page shows it.
  function wipe() {
    var input = document.getElementById("secret");
    if (input) {
      input.value = "";
      input.removeAttribute("value");
    }
  }
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("#close-once")) wipe();
  });
  window.addEventListener("pagehide", wipe);
})();
