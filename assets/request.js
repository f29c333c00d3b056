// maildesk request pages: enhancements only; every page works without this script.
// 1. Files can be dropped onto a form's file input area.
// 2. A request's page shows new comments as they arrive (server-sent events).
"use strict";
(function () {
  function dropTarget(form) {
    var input = form.querySelector('input[type=file]');
    if (!input || typeof DataTransfer === "undefined") return;
    form.addEventListener("dragover", function (e) {
      e.preventDefault();
      form.classList.add("dropping");
    });
    form.addEventListener("dragleave", function () { form.classList.remove("dropping"); });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      form.classList.remove("dropping");
      var all = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f) { all.items.add(f); });
      Array.prototype.forEach.call(e.dataTransfer.files, function (f) { all.items.add(f); });
      input.files = all.files;
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('form[enctype="multipart/form-data"]'), dropTarget);

  var list = document.getElementById("conversation");
  if (!list || !list.dataset.events || typeof EventSource === "undefined") return;
  var newestFirst = list.dataset.newestFirst === "true";
  var count = document.getElementById("comment-count");
  var source = new EventSource(list.dataset.events);
  source.addEventListener("comment", function (e) {
    var holder = document.createElement("ol");
    holder.innerHTML = e.data;
    var item = holder.firstElementChild;
    if (!item || document.getElementById(item.id)) return;
    if (newestFirst) list.insertBefore(item, list.firstChild); else list.appendChild(item);
    if (count) count.textContent = String(list.children.length);
  });
  source.addEventListener("status", function (e) {
    var status = document.querySelector(".facts .status");
    if (status) status.textContent = e.data;
  });
})();
