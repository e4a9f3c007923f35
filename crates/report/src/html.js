(function () {
  "use strict";
  var d = document;
  d.documentElement.className = "js";
  var params = new URLSearchParams(location.search);

  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim().toLowerCase() : v;
  }

  function sortBy(th, descending) {
    var table = th.closest("table");
    var col = th.cellIndex;
    Array.prototype.forEach.call(th.parentNode.cells, function (c) {
      c.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]);
      var y = key(b.cells[col]);
      var nx = parseFloat(x);
      var ny = parseFloat(y);
      var c = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
      return descending ? -c : c;
    });
    rows.forEach(function (r) {
      body.appendChild(r);
    });
  }

  d.querySelectorAll("table.sortable th").forEach(function (th) {
    var b = d.createElement("button");
    b.type = "button";
    b.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(b);
    b.addEventListener("click", function () {
      sortBy(th, th.getAttribute("aria-sort") === "ascending");
    });
  });

  var filter = d.getElementById("filter");
  var count = d.getElementById("filter-count");
  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var shown = 0;
    d.querySelectorAll("table.filterable tbody tr").forEach(function (r) {
      var hit = q === "" || r.textContent.toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) shown += 1;
    });
    count.textContent = q === "" ? "" : shown + " rows match";
  }
  if (filter) {
    d.getElementById("tools").hidden = false;
    filter.addEventListener("input", applyFilter);
    filter.value = params.get("q") || "";
    applyFilter();
  }

  var sort = params.get("sort");
  if (sort) {
    var desc = sort.charAt(0) === "-";
    var th = d.querySelector('th[data-key="' + CSS.escape(desc ? sort.slice(1) : sort) + '"]');
    if (th) sortBy(th, desc);
  }

  var generation = d.body.getAttribute("data-generation");
  if (generation !== null) {
    setInterval(function () {
      fetch("generation", { cache: "no-store" })
        .then(function (r) {
          return r.ok ? r.text() : null;
        })
        .then(function (t) {
          if (t !== null && t.trim() !== generation) location.reload();
        })
        .catch(function () {});
    }, 2000);
  }
})();
