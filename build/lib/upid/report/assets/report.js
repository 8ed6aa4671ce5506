// upid report: filter the charted workloads, sort the tables. No network, no libraries.
(function () {
  "use strict";
  var cards = Array.prototype.slice.call(document.querySelectorAll("article.workload"));
  var text = document.getElementById("filter");
  var namespace = document.getElementById("namespace-filter");
  var shown = document.getElementById("shown");

  function filter() {
    var q = text ? text.value.trim().toLowerCase() : "";
    var ns = namespace ? namespace.value : "";
    var n = 0;
    cards.forEach(function (card) {
      var match = (!q || card.dataset.search.indexOf(q) !== -1) && (!ns || card.dataset.namespace === ns);
      card.hidden = !match;
      if (match) { n += 1; }
    });
    if (shown) { shown.textContent = n + " of " + cards.length + " shown"; }
  }

  function sortBy(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.dataset.type === "num";
    var descending = !th.classList.contains("desc");
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(descending ? "desc" : "asc");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
      var cmp;
      if (numeric) {
        var fx = parseFloat(x), fy = parseFloat(y);
        cmp = isNaN(fx) ? (isNaN(fy) ? 0 : -1) : (isNaN(fy) ? 1 : fx - fy);
      } else {
        cmp = x.localeCompare(y);
      }
      return descending ? -cmp : cmp;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.querySelectorAll("table.sortable th").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(th); } });
  });
  if (text) { text.addEventListener("input", filter); }
  if (namespace) { namespace.addEventListener("change", filter); }
  filter();
}());
