// seg console: a plan file dropped on (or chosen for) the plan box is read into it, so the
// page needs no upload; everything else works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  function readInto(file, box) {
    if (!file) { return; }
    file.text().then(function (text) { box.value = text; });
  }
  document.querySelectorAll("textarea[data-drop-target]").forEach(function (box) {
    box.addEventListener("dragover", function (event) {
      event.preventDefault();
      box.classList.add("dragging");
    });
    box.addEventListener("dragleave", function () { box.classList.remove("dragging"); });
    box.addEventListener("drop", function (event) {
      event.preventDefault();
      box.classList.remove("dragging");
      readInto(event.dataTransfer && event.dataTransfer.files[0], box);
    });
  });
  document.querySelectorAll("input[type=file][data-file-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      readInto(input.files[0], document.getElementById(input.dataset.fileInto));
    });
  });
});
