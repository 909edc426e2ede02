// The item page follows its deliveries live after an approval until they settle: it reloads
// the deliveries table (and the overall status) from the page itself every two seconds while
// the table says data-settled="false". Without script the page is simply reloaded by hand.
(function () {
  "use strict";
  var table = document.getElementById("deliveries");
  if (!table || table.getAttribute("data-settled") !== "false") { return; }
  var status = document.getElementById("follow-status");
  var tries = 0;
  function swap(doc, id) {
    var fresh = doc.getElementById(id);
    var old = document.getElementById(id);
    if (fresh && old) { old.replaceWith(fresh); }
    return fresh;
  }
  function poll() {
    tries += 1;
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = swap(doc, "deliveries") || table;
        swap(doc, "overall");
        swap(doc, "state");
        if (fresh.getAttribute("data-settled") === "false" && tries < 150) {
          window.setTimeout(poll, 2000);
        } else if (status) {
          status.textContent = fresh.getAttribute("data-settled") === "false" ? "仍在投递，请稍后刷新页面。" : "投递已全部结束。";
        }
      })
      .catch(function () { if (tries < 150) { window.setTimeout(poll, 4000); } });
  }
  if (status) { status.textContent = "正在跟踪投递进度……"; }
  window.setTimeout(poll, 1000);
})();
