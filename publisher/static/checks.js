// The problem list as the editor types: the editor form is posted (debounced) to
// /app/checks/draft and the answer replaces the list of templates/app/_problems.html.
// Other pages render the same list on the server; this file only adds the live version.
(function () {
  "use strict";
  var box = document.querySelector("[data-problems]");
  var form = document.getElementById("editor");
  if (!box || !form) { return; }
  var list = box.querySelector(".problem-items");
  var summary = document.getElementById("problems-summary");
  var timer = null;
  var latest = 0;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // Select the matched text in the field it came from, when that field is an input here.
  function pointAt(p) {
    var field = document.getElementById("f-" + p.anchor);
    if (!field) { return; }
    var closed = field.closest("details");
    if (closed) { closed.open = true; } // the body's HTML source behind the rich-text editor
    field.focus();
    if (p.field === p.anchor && p.start !== null && field.setSelectionRange) {
      try { field.setSelectionRange(p.start, p.end); } catch (e) { /* not a text input */ }
    }
  }

  function item(p) {
    var li = el("li", "problem");
    li.setAttribute("data-rule", p.rule);
    li.setAttribute("data-severity", p.severity);
    li.setAttribute("data-key", p.key);
    var badge = p.severity === "block" ? ["s-failed", "须改正"] : p.accepted ? ["s-delivered", "提醒·已接受"] : ["s-retry_wait", "提醒"];
    li.appendChild(el("span", "badge " + badge[0], badge[1]));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("code", null, p.rule));
    li.appendChild(document.createTextNode(" "));
    if (p.anchor && document.getElementById("f-" + p.anchor)) {
      var link = el("a", null, p.label);
      link.href = "#f-" + p.anchor;
      link.addEventListener("click", function (event) { event.preventDefault(); pointAt(p); });
      li.appendChild(link);
    } else {
      li.appendChild(document.createTextNode(p.label || p.field));
    }
    if (p.matched) {
      li.appendChild(document.createTextNode("："));
      li.appendChild(el("mark", null, p.matched));
    }
    if (p.start !== null) { li.appendChild(el("span", "muted", "（第 " + (p.start + 1) + " 字起）")); }
    li.appendChild(el("div", null, p.message));
    if (p.suggestion) { li.appendChild(el("div", "help", "建议：" + p.suggestion)); }
    if (p.accepted) { li.appendChild(el("div", "help", "已接受：" + p.accepted.reason + "（" + p.accepted.by + "）")); }
    return li;
  }

  function render(report) {
    list.textContent = "";
    report.problems.forEach(function (p) { list.appendChild(item(p)); });
    if (summary) {
      summary.className = report.blocking ? "problems" : "help";
      summary.textContent = report.blocking
        ? report.blocking + " 个问题阻止批准 / " + report.blocking + " problem(s) refuse approval"
        : report.problems.length ? "没有阻止批准的问题 / nothing refuses approval" : "未发现问题 / no problems";
    }
    box.setAttribute("data-checked", String(latest));
  }

  function run() {
    var data = new FormData(form);
    var uid = box.getAttribute("data-uid");
    if (uid) { data.append("uid", uid); }
    var mine = ++latest;
    fetch("/app/checks/draft", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (report) { if (report && mine === latest) { render(report); } })
      .catch(function () { /* offline or logged out: the server checks again on save and approval */ });
  }

  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, 500);
  });
  run();
})();
