// Keyboard triage on the queue: j/k move, c confirm, d dismiss, n note (Escape leaves the note).
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-queue-row]"));
  if (!rows.length) { return; }
  var at = 0;

  function show(index) {
    if (rows[at]) { rows[at].classList.remove("current"); }
    at = Math.max(0, Math.min(index, rows.length - 1));
    rows[at].classList.add("current");
    rows[at].scrollIntoView({ block: "nearest" });
  }

  function submit(row, decision) {
    var form = row.querySelector("form.decide");
    if (!form) { return; }
    form.querySelector("input[name=focus]").value = String(at);
    form.requestSubmit(form.querySelector("button[value=" + decision + "]"));
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.matches("input, textarea, select")) {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var row = rows[at];
    if (event.key === "j") { show(at + 1); }
    else if (event.key === "k") { show(at - 1); }
    else if (event.key === "c") { submit(row, "confirmed"); }
    else if (event.key === "d") { submit(row, "dismissed"); }
    else if (event.key === "n") {
      var note = row.querySelector("input[name=note]");
      if (note) { event.preventDefault(); note.focus(); }
    }
  });

  show(parseInt(document.body.getAttribute("data-focus") || "0", 10) || 0);
})();
