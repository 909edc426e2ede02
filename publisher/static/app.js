// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // 文号: show the normalised form as the editor types (the server normalises on save anyway).
  var FULL = "０１２３４５６７８９";
  function normaliseDocNumber(raw) {
    var text = raw.replace(/[０-９]/g, function (c) { return String(FULL.indexOf(c)); });
    text = text.replace(/\s+/g, "");
    text = text.replace(/[\[［(（【〔{｛<＜]\s*(\d{4})\s*[\]］)）】〕}｝>＞]/g, "〔$1〕");
    text = text.replace(/〕0+(\d)/, "〕$1").replace(/第0+(\d)/, "第$1");
    return text;
  }
  var doc = document.querySelector("input[name=doc_number]");
  if (doc) {
    var hint = document.createElement("div");
    hint.className = "help";
    hint.id = "doc-number-normalised";
    doc.parentNode.appendChild(hint);
    var update = function () {
      var n = normaliseDocNumber(doc.value);
      hint.textContent = n && n !== doc.value ? "将保存为：" + n : "";
    };
    doc.addEventListener("input", update);
    doc.addEventListener("blur", function () { update(); });
    update();
  }
  // Fields of other item types are hidden while editing this type.
  var type = document.querySelector("select[name=type]");
  function showTypeFields() {
    var current = type ? type.value : document.body.getAttribute("data-item-type");
    document.querySelectorAll("[data-types]").forEach(function (row) {
      var types = row.getAttribute("data-types").split(" ");
      row.hidden = types.indexOf(current) < 0;
    });
  }
  if (type) { type.addEventListener("change", showTypeFields); }
  showTypeFields();
  // Failed queue: select all.
  var all = document.querySelector("input[data-select-all]");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=delivery]").forEach(function (box) { box.checked = all.checked; });
    });
  }
})();
