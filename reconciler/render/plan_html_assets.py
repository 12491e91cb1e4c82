"""The HTML plan's frame: its style sheet, its one script, and a policy that allows nothing else.

The Content-Security-Policy names the style sheet and the script by their SHA-256 hashes, so the
page runs nothing but them and fetches nothing at all, even if a name from the tenant slipped
past the escaping: no inline script or style attribute of its making would run or apply.
The script only filters the tables of who gains and loses what (by group, product and user,
kept in the URL fragment); without it every row shows.
"""

from __future__ import annotations

import base64
import hashlib
import html

STYLE = """
:root {
  --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --rule: #e7ebef; --soft: #f6f8fa;
  --add: #1a7f37; --add-bg: #dafbe1; --del: #cf222e; --del-bg: #ffebe9;
  --upd: #9a6700; --upd-bg: #fff8c5; --info: #0969da; --info-bg: #ddf4ff;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.wrap { max-width: 1240px; margin: 0 auto; padding: 0 32px; }
header.top { background: var(--soft); border-bottom: 1px solid var(--line); padding: 22px 0 16px; }
header.top .kicker {
  color: var(--muted); font-size: 12px; letter-spacing: .06em; text-transform: uppercase; margin: 0;
}
h1 { font-size: 24px; font-weight: 600; margin: 2px 0 6px; }
.meta { margin: 0; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 20px; }
.meta b { color: var(--fg); font-weight: 600; }
main { padding-bottom: 48px; }
h2 {
  font-size: 18px; font-weight: 600; margin: 36px 0 12px; padding-bottom: 6px;
  border-bottom: 1px solid var(--line);
}
h3 { font-size: 15px; font-weight: 600; margin: 24px 0 6px; }
h2 .count, h3 .count {
  font-size: 12px; font-weight: 600; color: var(--muted); background: var(--soft);
  border: 1px solid var(--line); border-radius: 10px; padding: 1px 8px; margin-left: 6px;
  vertical-align: 2px; font-variant-numeric: tabular-nums;
}
p { margin: 6px 0; }
.desc { color: var(--muted); margin: 0 0 8px; }
code, pre { font-family: var(--mono); font-size: 12.5px; }
code { background: var(--soft); border-radius: 4px; padding: 1px 4px; }
.verdict { font-size: 20px; font-weight: 600; margin: 24px 0 14px; }
.verdict.none { color: var(--add); }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { flex: 1 1 104px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tile .n {
  display: block; font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums;
  white-space: nowrap;
}
.tile .n small { font-size: 13px; font-weight: 400; color: var(--muted); }
.tile .l { display: block; color: var(--muted); font-size: 12px; }
.tile.add .n { color: var(--add); }
.tile.upd .n { color: var(--upd); }
.tile.del .n { color: var(--del); }
.tile.bad { border-color: var(--del); background: var(--del-bg); }
.tile.bad .n { color: var(--del); }
.tile.good .n { color: var(--add); }
.banner { border-left: 4px solid; border-radius: 6px; padding: 10px 16px; margin: 14px 0; }
.banner.caution { border-color: var(--del); background: var(--del-bg); }
.banner.warning { border-color: #d4a72c; background: var(--upd-bg); }
.banner.note { border-color: var(--info); background: var(--info-bg); }
.banner ul { margin: 4px 0; padding-left: 20px; }
nav.toc { display: flex; flex-wrap: wrap; gap: 8px; margin: 22px 0 0; }
nav.toc a {
  color: var(--info); text-decoration: none; border: 1px solid var(--line); border-radius: 16px;
  padding: 3px 12px; font-size: 13px;
}
nav.toc a:hover { background: var(--info-bg); }
table.data { border-collapse: collapse; width: 100%; font-size: 13px; margin: 4px 0 8px; }
table.data th {
  text-align: left; font-weight: 600; color: var(--muted); background: var(--soft);
  border-bottom: 1px solid var(--line); padding: 6px 10px; white-space: nowrap;
}
table.data td { border-bottom: 1px solid var(--rule); padding: 5px 10px; vertical-align: baseline; }
table.data.fit { width: auto; min-width: 50%; }
/* A table too long to lay out at once (100,000 rows take seconds) lays its rows out as grids,
   and only those on screen: content-visibility skips the rest. */
table.data.long, table.data.long > * { display: block; }
table.data.long tr {
  display: grid; content-visibility: auto; contain-intrinsic-size: auto 30px;
  grid-template-columns: minmax(0, 3fr) minmax(0, 1.5fr) minmax(0, 2fr) minmax(0, 3fr);
}
table.data.long.plans tr {
  grid-template-columns:
    minmax(0, 3fr) minmax(0, 1.5fr) minmax(0, 2fr) minmax(0, 2fr) minmax(0, 3fr);
}
table.data.long td { overflow-wrap: anywhere; }
table.data.fit th.num { min-width: 96px; }
table.data tbody tr:hover { background: #f6f8fa; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data tr.quiet td { color: var(--muted); }
table.data tfoot td { font-weight: 600; border-top: 1px solid var(--line); border-bottom: 0; }
td.user, td.product { font-family: var(--mono); font-size: 12.5px; white-space: nowrap; }
td.nowrap, td code { white-space: nowrap; }
.badge {
  display: inline-block; font-size: 11px; font-weight: 600; border-radius: 10px; padding: 0 8px;
  border: 1px solid var(--line); color: var(--muted); white-space: nowrap;
}
.badge.error { color: var(--del); background: var(--del-bg); border-color: #ffcecb; }
.badge.warning { color: var(--upd); background: var(--upd-bg); border-color: #f5e0a0; }
.badge.info { color: var(--info); background: var(--info-bg); border-color: #b6e3ff; }
.badge.temporary { color: var(--info); border-color: #b6e3ff; }
.short { color: var(--del); font-weight: 600; }
.up { color: var(--del); }
.down { color: var(--add); }
.hints { margin: 8px 0 0; padding-left: 20px; color: var(--muted); }
.card { border: 1px solid var(--line); border-radius: 8px; margin: 12px 0; overflow: hidden; }
.card h3 {
  margin: 0; padding: 8px 12px; font-size: 14px; background: var(--soft);
  border-bottom: 1px solid var(--line);
}
.card h3 .verb { font-weight: 400; color: var(--muted); }
.card .why { margin: 0; padding: 8px 12px 0; color: var(--muted); }
.card details { padding: 0 12px 8px; }
.sym {
  display: inline-block; min-width: 1.7em; text-align: center; font-family: var(--mono);
  font-weight: 700; border-radius: 4px; margin-right: 6px;
}
.create .sym { color: var(--add); background: var(--add-bg); }
.update .sym { color: var(--upd); background: var(--upd-bg); }
.destroy .sym { color: var(--del); background: var(--del-bg); }
pre.diff {
  margin: 0; padding: 8px 12px 10px; line-height: 1.5;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
pre.diff .a { color: var(--add); }
pre.diff .d { color: var(--del); }
pre.diff .u { color: var(--upd); }
ul.notes { padding-left: 20px; }
form.filters {
  position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 10px 14px;
  align-items: flex-end; margin: 10px 0 4px; padding: 10px 14px; background: #fffffff2;
  border: 1px solid var(--line); border-radius: 8px; box-shadow: 0 1px 3px #1f232814;
}
form.filters label {
  display: flex; flex-direction: column; gap: 2px; font-size: 12px; color: var(--muted);
}
form.filters select, form.filters input {
  font: inherit; font-size: 13px; color: var(--fg); background: #fff; min-width: 210px;
  border: 1px solid var(--line); border-radius: 6px; padding: 5px 8px;
}
form.filters button {
  font: inherit; font-size: 13px; color: var(--fg); background: var(--soft); cursor: pointer;
  border: 1px solid var(--line); border-radius: 6px; padding: 5px 12px;
}
form.filters output { margin-left: auto; color: var(--muted); font-variant-numeric: tabular-nums; }
details > summary { cursor: pointer; color: var(--info); margin: 6px 0; }
.none { color: var(--muted); font-style: italic; }
footer {
  color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding: 14px 0 28px;
}
@media print {
  form.filters, nav.toc { display: none; }
  body { font-size: 11px; }
  .card, table.data tr { break-inside: avoid; }
}
"""

# Filters the tables of who gains and loses what. One loop per table over arrays read once from
# the cells (no closure or listener per row), and only rows whose visibility changes are touched,
# so a plan of 100,000 removals filters in a blink. The state lives in the URL fragment
# (#group=...&product=...&user=...), so a link opens the same filtered view.
SCRIPT = """
(function () {
  "use strict";
  var root = document.documentElement;
  function record(what) {
    var before = root.getAttribute("data-errors");
    root.setAttribute("data-errors", (before ? before + "\\n" : "") + what);
  }
  window.addEventListener("error", function (e) { record("error: " + e.message); });
  document.addEventListener("securitypolicyviolation", function (e) {
    record("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
  var form = document.getElementById("filters");
  if (form) { filters(form); }
  root.setAttribute("data-ready", "1");

  function filters(form) {
    var fields = { group: form.elements.group, product: form.elements.product,
                   user: form.elements.user };
    var out = form.querySelector("output");
    var most = Number(form.getAttribute("data-open-rows"));
    var tables = [], total = 0, written = null, timer = 0;
    var found = document.querySelectorAll("table[data-filter]");
    for (var t = 0; t < found.length; t++) { tables.push(read(found[t])); }

    function read(table) {
      var rows = table.tBodies[0].rows, n = rows.length;
      var users = new Array(n), products = new Array(n), groups = new Array(n);
      for (var i = 0; i < n; i++) {
        var cells = rows[i].cells;
        users[i] = cells[0].textContent.toLowerCase();
        products[i] = cells[1].textContent;
        groups[i] = cells[2].textContent;
      }
      total += n;
      var section = table.closest("section");
      return { rows: rows, users: users, products: products, groups: groups,
               count: section.querySelector(".count"), none: section.querySelector(".none"),
               fold: table.closest("details"), visible: n };
    }

    function number(n) { return n.toLocaleString("en-US"); }

    function current() {
      return { group: fields.group.value, product: fields.product.value,
               user: fields.user.value.trim() };
    }

    function apply(state) {
      var user = state.user.toLowerCase(), active = !!(state.group || state.product || user);
      var shown = 0;
      for (var t = 0; t < tables.length; t++) {
        var d = tables[t], rows = d.rows, visible = 0;
        for (var i = 0; i < rows.length; i++) {
          var keep = (!state.group || d.groups[i] === state.group) &&
                     (!state.product || d.products[i] === state.product) &&
                     (!user || d.users[i].indexOf(user) !== -1);
          if (keep) { visible++; }
          if (rows[i].hidden === keep) { rows[i].hidden = !keep; }
        }
        d.visible = visible;
        shown += visible;
        d.count.textContent = active ? number(visible) + " of " + number(rows.length)
                                     : number(rows.length);
        d.none.hidden = visible > 0;
        if (d.fold) {
          d.fold.open = active && visible > 0 && visible <= most;
          d.fold.firstElementChild.textContent = active
            ? "Show the " + number(visible) + " rows that match"
            : "Show all " + number(rows.length) + " rows";
        }
      }
      out.textContent = active ? "Showing " + number(shown) + " of " + number(total) + " rows"
                               : number(total) + " rows";
      root.setAttribute("data-filtered", active ? "1" : "0");
    }

    function choose(select, value) {
      if (!value) { select.value = ""; return; }
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === value) { select.value = value; return; }
      }
      // a link may name what this plan doesn't have: keep it, and show no rows
      select.add(new Option(value, value));
      select.value = value;
    }

    function fromFragment() {
      var fragment = location.hash.slice(1);
      if (fragment.indexOf("=") < 0) { return false; }  // #warnings and the like: a place
      var query = new URLSearchParams(fragment);
      choose(fields.group, query.get("group") || "");
      choose(fields.product, query.get("product") || "");
      fields.user.value = query.get("user") || "";
      return true;
    }

    function toFragment(state) {
      var query = new URLSearchParams();
      for (var key in state) { if (state[key]) { query.set(key, state[key]); } }
      written = query.toString() ? "#" + query.toString() : "";
      if (location.hash === written) { return; }
      try {
        history.replaceState(null, "", written || location.pathname + location.search);
      } catch (e) {
        location.replace(written || "#");
      }
    }

    function changed() {
      clearTimeout(timer);
      var state = current();
      apply(state);
      toFragment(state);
    }

    fields.group.addEventListener("change", changed);
    fields.product.addEventListener("change", changed);
    fields.user.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(changed, 150);
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); changed(); });
    form.addEventListener("reset", function () { setTimeout(changed, 0); });
    window.addEventListener("hashchange", function () {
      if (location.hash !== written && fromFragment()) { apply(current()); }
    });
    form.hidden = false;
    fromFragment();
    apply(current());
  }
})();
"""


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Nothing from anywhere: no fetch, font, image, frame, form target or base URL; only the style
# sheet and script above, by hash. (frame-ancestors and sandbox are ignored in a <meta>.)
CSP = (
    "default-src 'none'; "
    f"style-src {_digest(STYLE)}; "
    f"script-src {_digest(SCRIPT)}; "
    "img-src 'none'; font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; "
    "frame-src 'none'; worker-src 'none'; manifest-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)


def page(title: str, body: str) -> str:
    """A whole HTML document around `body` (already escaped HTML); `title` is plain text."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="reconciler">\n'
        f"<title>{html.escape(title, quote=True)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
