// The live page of the HTTP listener (GET /): the offline HTML report's sections, plus what a
// page left open needs: it refreshes itself and its tables sort by a click on a header.
//
// Refresh: a script fetches the page again every `refresh_seconds` and swaps the new
// <main id="report"> in, so the report is rendered by one builder only (the C++ one) and a
// sort the reader chose survives the refresh. Without JavaScript a <noscript> meta refresh
// reloads the whole page instead. Everything is inline: no CDN, no external fetch.
#include <fmt/format.h>

#include <algorithm>

#include "proxy/stats/html_escape.h"
#include "proxy/stats/report.h"

namespace sg::stats::report {

namespace {

constexpr const char* kLiveStyle = R"(
table.sortable th{cursor:pointer;user-select:none}table.sortable th:hover{background:#e6ebf2}
th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
#live-status{font-size:12px;color:#718096}
)";

// Sorting: numbers (the figures columns) numerically, anything else as text; a second click on
// the same header reverses. The chosen sort is kept per table id, applied again after each
// refresh, and written to the address ("#sort=statements.3.a,shards.1.d": table id, column
// index, ascending or descending), so a link or a reload shows the same order. The refresh
// fetches the page's own address without any user:password part (fetch refuses URLs with
// credentials; the browser resends the Basic credentials it already has). Failures (the proxy
// restarting, a 401 after an http_auth change) show in the status line and are retried.
constexpr const char* kScript = R"JS(
(function () {
  "use strict";
  var sorts = {};
  (window.location.hash.match(/sort=([^&]*)/) || ["", ""])[1].split(",").forEach(function (s) {
    var m = /^([\w-]+)\.(\d+)\.([ad])$/.exec(s);
    if (m) sorts[m[1]] = [parseInt(m[2], 10), m[3] === "a" ? 1 : -1];
  });
  function remember() {
    var parts = [];
    for (var id in sorts) parts.push(id + "." + sorts[id][0] + "." + (sorts[id][1] > 0 ? "a" : "d"));
    history.replaceState(null, "", "#sort=" + parts.join(","));
  }
  function key(cell) {
    var t = cell ? cell.textContent.trim() : "";
    if (/^-?\d+(\.\d+)?%?$/.test(t)) return parseFloat(t);
    return t.toLowerCase();
  }
  function apply(table, col, dir) {
    var body = table.tBodies[0];
    if (!body) return;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (typeof x !== typeof y) return (typeof x === "number" ? -1 : 1) * dir;
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    heads[col].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  }
  function wire() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead) return;
      var heads = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(heads, function (th, col) {
        th.title = "sort by " + th.textContent;
        th.addEventListener("click", function () {
          var s = sorts[table.id];
          var dir = s && s[0] === col ? -s[1] : (th.className === "q" ? 1 : -1);
          sorts[table.id] = [col, dir];
          apply(table, col, dir);
          remember();
        });
      });
      var s = sorts[table.id];
      if (s && s[0] < heads.length) apply(table, s[0], s[1]);
    });
  }
  function status(text) {
    var el = document.getElementById("live-status");
    if (el) el.textContent = text;
  }
  function refresh() {
    var self = window.location.protocol + "//" + window.location.host + window.location.pathname;
    fetch(self, { cache: "no-store", credentials: "same-origin" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("report");
        var now = document.getElementById("report");
        if (!next || !now) throw new Error("no report in the page");
        now.parentNode.replaceChild(document.importNode(next, true), now);
        wire();
        status("updated " + new Date().toLocaleTimeString() + "; refreshes every REFRESH s");
      })
      .catch(function (e) {
        status("refresh failed (" + e.message + "); retrying in REFRESH s");
      });
  }
  wire();
  setInterval(refresh, REFRESH * 1000);
})();
)JS";

}  // namespace

std::string render_live_html(const Report& r, int refresh_seconds, const std::string& status) {
    const int refresh = std::max(1, refresh_seconds);
    std::string script = kScript;
    for (size_t at = script.find("REFRESH"); at != std::string::npos;
         at = script.find("REFRESH", at))
        script.replace(at, 7, std::to_string(refresh));
    std::string page = fmt::format(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<noscript><meta http-equiv=\"refresh\" content=\"{}\"></noscript>"
        "<title>shardgate live query cost report</title><style>",
        refresh);
    page += html_style();
    page += kLiveStyle;
    page +=
        "</style></head><body><h1>shardgate query cost report <span "
        "class=\"muted\">live</span></h1>";
    page += fmt::format("<p id=\"live-status\">{}; refreshes every {} s</p>", html_escape(status),
                        refresh);
    page += "<main id=\"report\">";
    page += render_html_sections(r);
    page += "</main><script>";
    page += script;
    page += "</script></body></html>\n";
    return page;
}

}  // namespace sg::stats::report
