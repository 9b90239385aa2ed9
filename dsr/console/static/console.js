// Ask before irreversible actions (buttons with data-confirm). No inline handlers: CSP forbids them.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
});
