// Ask before irreversible actions (buttons with data-confirm). No inline handlers: CSP forbids them.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
});

// German messages for the browser's own form checks (Chromium would say "Please fill out this
// field" in an English browser): a field's data-required text, else a generic German sentence.
function germanValidity(field) {
  field.setCustomValidity("");
  if (field.validity.valid) { return; }
  if (field.validity.valueMissing || field.validity.tooShort) {
    var min = field.getAttribute("minlength");
    field.setCustomValidity(field.getAttribute("data-required") ||
      (min ? "Bitte mindestens " + min + " Zeichen eingeben." : "Bitte dieses Feld ausfüllen."));
  } else if (field.validity.typeMismatch || field.validity.badInput) {
    field.setCustomValidity("Bitte einen gültigen Wert eingeben.");
  } else if (field.validity.rangeOverflow || field.validity.rangeUnderflow) {
    field.setCustomValidity("Der Wert liegt außerhalb des erlaubten Bereichs.");
  }
}
document.addEventListener("invalid", function (event) { germanValidity(event.target); }, true);
document.addEventListener("input", function (event) {
  if (event.target.setCustomValidity) { event.target.setCustomValidity(""); }
}, true);

// Copy buttons (data-copy = id of the field whose value is copied).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) { return; }
  field.select();
  var done = function () { button.textContent = "Kopiert"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});

// Fields that only matter for one choice (the refusal reason beside "Ablehnung") are hidden
// until that choice is made; without JavaScript they simply stay visible.
function syncDependent(form) {
  form.querySelectorAll("[data-kind-only]").forEach(function (el) {
    var select = form.querySelector("select[name=kind]");
    el.hidden = !!select && el.getAttribute("data-kind-only").split(" ").indexOf(select.value) < 0;
  });
  form.querySelectorAll("[data-outcome-only]").forEach(function (el) {
    var select = form.querySelector("select[name=outcome]");
    el.hidden = !!select && el.getAttribute("data-outcome-only").split(" ").indexOf(select.value) < 0;
  });
}
document.addEventListener("change", function (event) {
  if (event.target.form) { syncDependent(event.target.form); }
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form").forEach(syncDependent);
});
