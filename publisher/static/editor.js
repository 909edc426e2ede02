// The rich-text editor for 正文 (body_html): Quill 2 (vendored, static/vendor/quill-2.0.3)
// over the form's own textarea, which stays the field the form posts and the content checks
// read. Headings, lists, tables, links, images with alt text; Quill's clipboard keeps the
// structure of what is pasted from Word. The server cleans the HTML with the same sanitiser
// as every other input, so nothing here is trusted. The HTML source stays editable behind
// "HTML 源码"; without script the textarea is the editor.
(function () {
  "use strict";
  var source = document.getElementById("f-body_html");
  if (!source || !window.Quill) { return; }
  var host = document.createElement("div");
  host.id = "body-editor";
  host.setAttribute("role", "group"); // a name on a bare div is not announced (axe: aria-prohibited-attr)
  host.setAttribute("aria-label", "正文编辑器");
  var details = document.createElement("details");
  details.id = "body-source";
  var summary = document.createElement("summary");
  summary.textContent = "HTML 源码";
  source.parentNode.insertBefore(host, source);
  source.parentNode.insertBefore(details, source);
  details.appendChild(summary);
  details.appendChild(source);

  function insertImage(url) {
    if (!url) { return; }
    if (!/^https?:\/\//i.test(url) && url.charAt(0) !== "/") { window.alert("图片地址须以 http:// 或 https:// 开头"); return; }
    var alt = window.prompt("图片的替代文字（为看不到图片的读者描述图片内容，必填）") || "";
    if (!alt.trim()) { window.alert("请填写替代文字"); return; }
    var at = (quill.getSelection(true) || { index: quill.getLength() }).index;
    quill.insertEmbed(at, "image", url, "user");
    quill.formatText(at, 1, { alt: alt.trim() }, "user");
    quill.setSelection(at + 1, 0, "silent");
  }

  var quill = new window.Quill(host, {
    theme: "snow",
    modules: {
      table: true,
      toolbar: {
        container: [
          [{ header: [2, 3, 4, false] }],
          ["bold", "italic", "underline"],
          [{ list: "ordered" }, { list: "bullet" }],
          ["link", "image", "table"],
          ["clean"]
        ],
        handlers: {
          image: function () {
            var form = source.form;
            var match = form && /\/app\/items\/([0-9a-z]{26})\/edit$/.exec(form.getAttribute("action") || "");
            if (!match) { insertImage(window.prompt("图片地址（http:// 或 https://；保存后可直接上传图片）")); return; }
            var picker = document.createElement("input");
            picker.type = "file";
            picker.accept = "image/png,image/jpeg,image/gif,image/webp";
            picker.addEventListener("change", function () {
              if (!picker.files || !picker.files[0]) { return; }
              var body = new FormData();
              body.append("csrf", form.querySelector("input[name=csrf]").value);
              body.append("file", picker.files[0]);
              fetch("/app/items/" + match[1] + "/images", { method: "POST", body: body, credentials: "same-origin" })
                .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
                .then(function (r) {
                  if (!r.ok) { window.alert(r.body.error || "上传失败"); return; }
                  insertImage(r.body.url);
                })
                .catch(function () { window.alert("上传失败，请重试"); });
            });
            picker.click();
          },
          table: function () {
            quill.getModule("table").insertTable(2, 3);
          }
        }
      }
    }
  });
  var toolbar = host.previousElementSibling;
  if (toolbar) {
    // name the buttons for screen readers (Quill's are icons only)
    var names = { "ql-bold": "加粗", "ql-italic": "斜体", "ql-underline": "下划线", "ql-link": "链接",
      "ql-image": "图片", "ql-table": "表格", "ql-clean": "清除格式" };
    toolbar.querySelectorAll("button").forEach(function (b) {
      var cls = Array.prototype.find.call(b.classList, function (c) { return names[c]; });
      if (cls) { b.setAttribute("aria-label", names[cls]); b.title = names[cls]; }
      if (b.classList.contains("ql-list")) { b.setAttribute("aria-label", b.value === "ordered" ? "编号列表" : "项目符号列表"); }
    });
    // the heading picker's label is a span acting as a button, unnamed by Quill
    toolbar.querySelectorAll(".ql-header .ql-picker-label").forEach(function (label) {
      label.setAttribute("aria-label", "标题级别");
    });
    // Quill 2 draws the table button with its own icon (an <svg>, which has no text: testing
    // textContent here once replaced the icon with a white character on a white toolbar)
    var tableButton = toolbar.querySelector(".ql-table");
    if (tableButton && !tableButton.querySelector("svg") && !tableButton.textContent.trim()) {
      tableButton.textContent = "表格";
      tableButton.classList.add("text-button");
    }
  }

  var syncing = false;
  function load() {
    syncing = true;
    quill.setContents(quill.clipboard.convert({ html: source.value }), "silent");
    syncing = false;
  }
  load();
  quill.on("text-change", function () {
    if (syncing) { return; }
    var html = quill.getSemanticHTML();
    source.value = quill.getText().trim() || html.indexOf("<img") >= 0 ? html : "";
    // the content checks and the form listen for input on the form's fields
    source.dispatchEvent(new Event("input", { bubbles: true }));
  });
  source.addEventListener("input", function (event) {
    if (event.isTrusted) { load(); } // typed into the source: show it in the editor
  });
})();
