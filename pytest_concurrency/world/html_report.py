"""A failing schedule as one self-contained HTML page: a swimlane timeline and the text.

:func:`render` turns an :class:`~.report.InterleavingFailure` into a page with
no external asset (inline CSS and JavaScript, no network): one lane per thread
or asyncio task, time going down, each operation a box with its resource and
the user's ``file:line``; preemptions marked; for a deadlock, the wait-for
graph drawn with its cycle; then the failure message, the trace as text and
the replay command. The failure's data travels as JSON inside the page (with
``<``, ``>`` and ``&`` escaped, so no user string can close the script); the
script builds the lanes with ``textContent`` only, never markup. Text shown
without the script goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from pytest_concurrency.world.report import InterleavingFailure

#: the longest file name (without suffix) made from a test's name
NAME_LIMIT = 120

#: the page's ids and classes that tests and tools may rely on
DATA_ID = "failure-data"
ERROR_ID = "render-error"


def file_stem(name: str) -> str:
    """A file name for a test's node id: ``tests/t.py::test_a[1]`` -> ``tests_t.py__test_a_1``."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "failure"
    return stem[:NAME_LIMIT]


def failure_data(failure: InterleavingFailure, *, title: str = "") -> dict[str, Any]:
    """The failure as plain data: what the page's script draws."""
    message = str(failure)
    threads: list[str] = []
    for step in failure.trace:
        if step.thread and step.thread not in threads:
            threads.append(step.thread)
    for edge in failure.wait_for:
        for name in (edge.thread, edge.holder):
            if name and name not in threads:
                threads.append(name)
    return {
        "title": title,
        "kind": type(failure).__name__,
        "summary": message.split("\n", 1)[0],
        "strategy": failure.strategy,
        "seed": failure.seed,
        "schedules_run": failure.schedules_run,
        "token": failure.token,
        "command": failure.command,
        "threads": threads,
        "steps": [
            {
                "step": s.step,
                "thread": s.thread,
                "op": s.op,
                "resource": s.resource,
                "location": s.location,
                "note": s.note,
                "preempted": s.preempted,
            }
            for s in failure.trace
        ],
        "wait_for": [
            {
                "thread": e.thread,
                "op": e.op,
                "resource": e.resource,
                "holder": e.holder,
                "in_cycle": e.in_cycle,
            }
            for e in failure.wait_for
        ],
    }


def script_json(data: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left as such."""
    text = json.dumps(data, ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def render(failure: InterleavingFailure, *, title: str = "") -> str:
    """The whole page for ``failure``; ``title`` names it (a test's node id, say)."""
    data = failure_data(failure, title=title)
    heading = title or data["kind"]
    esc = html.escape
    trace_text = str(failure.trace) if len(failure.trace) else "(no trace recorded)"
    command = failure.command or "(no replay command recorded)"
    return _PAGE.format(
        title=esc(f"{heading}: {data['summary']}"),
        heading=esc(heading),
        kind=esc(data["kind"]),
        summary=esc(data["summary"]),
        found=esc(_found(failure)),
        command=esc(command),
        token=esc(failure.token),
        message=esc(str(failure)),
        trace=esc(trace_text),
        data_id=DATA_ID,
        error_id=ERROR_ID,
        data=script_json(data),
        style=_STYLE,
        script=_SCRIPT,
    )


def _found(failure: InterleavingFailure) -> str:
    parts = [f"strategy {failure.strategy or '?'}"]
    if failure.seed is not None:
        parts.append(f"seed {failure.seed}")
    parts.append(f"{failure.schedules_run} schedule(s) run")
    return ", ".join(parts)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{heading}</h1>
<p class="summary"><span class="kind">{kind}</span> {summary}</p>
<p class="found">{found}</p>
<div class="replay"><span>replay this schedule with:</span>
<pre id="command">{command}</pre>
<span class="token">token {token}</span></div>
</header>
<main>
<section id="cycle-section" hidden>
<h2>wait-for graph</h2>
<div id="cycle"></div>
</section>
<section>
<h2>timeline of the failing schedule</h2>
<p class="legend"><span class="box sample">operation</span>
<span class="box sample preempted">preempted here</span>
<span class="box sample event">blocks, wakes, finishes</span>
<span class="box sample blocked">stuck at the end</span></p>
<div id="timeline"><noscript>the timeline needs JavaScript; the trace below has the same
steps</noscript></div>
</section>
<section>
<h2>failure</h2>
<pre id="message">{message}</pre>
</section>
<section>
<h2>trace</h2>
<pre id="trace">{trace}</pre>
</section>
</main>
<script type="application/json" id="{data_id}">{data}</script>
<script>
window.onerror = function (message, source, line) {{
  var box = document.createElement("div");
  box.id = "{error_id}";
  box.textContent = "render error: " + message + " (line " + line + ")";
  document.body.insertBefore(box, document.body.firstChild);
}};
</script>
<script>{script}</script>
</body>
</html>
"""

_STYLE = """
:root { --row: 56px; --lane: 250px; --ink: #1d2330; --muted: #5d6575; --line: #d5d9e2;
  --op: #e8f0fe; --op-edge: #6b8fd6; --bad: #c62828; --event: #f3f4f6; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: #fbfbfd; }
header { padding: 14px 22px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 15px; margin: 18px 0 8px; }
main { padding: 0 22px 30px; }
.summary { margin: 4px 0; font-size: 15px; }
.kind { background: var(--bad); color: #fff; border-radius: 3px; padding: 1px 6px;
  font-size: 12px; font-weight: 600; margin-right: 4px; }
.found, .token, .legend { color: var(--muted); font-size: 12px; }
.replay pre { display: inline-block; margin: 4px 0; padding: 4px 8px; background: #1d2330;
  color: #e9edf5; border-radius: 4px; white-space: pre-wrap; word-break: break-all; }
pre { font: 12px/1.45 ui-monospace, Menlo, Consolas, monospace; overflow-x: auto;
  background: #fff; border: 1px solid var(--line); padding: 10px; }
#timeline { overflow-x: auto; }
.lanes { display: flex; align-items: flex-start; }
.gutter, .lane { flex: none; }
.gutter { width: 46px; }
.lane { width: var(--lane); border-left: 1px dashed var(--line); }
.lane-head, .gutter-head { height: 34px; font-weight: 600; padding: 6px 8px;
  position: sticky; top: 0; background: #fbfbfd; border-bottom: 2px solid var(--ink);
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.rows { position: relative; }
.gutter .rows div { height: var(--row); color: var(--muted); font-size: 11px;
  padding: 6px 4px 0 0; text-align: right; }
.box { position: absolute; left: 6px; right: 6px; height: calc(var(--row) - 6px);
  background: var(--op); border: 1px solid var(--op-edge); border-radius: 5px;
  padding: 2px 6px; overflow: hidden; font-size: 12px; }
.box .op { font-weight: 600; }
.box .res { color: #2f3a59; }
.box .loc { color: var(--muted); font: 11px ui-monospace, Menlo, Consolas, monospace; }
.box div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.box.event { background: var(--event); border-color: #b8bdc7; border-style: dashed; }
.box.preempted { border: 2px solid var(--bad); box-shadow: inset 4px 0 0 var(--bad); }
.box.preempted .note { color: var(--bad); font-weight: 600; }
.box.blocked { background: #fdecea; border-color: var(--bad); }
.legend .box.sample { position: static; display: inline-block; height: auto; width: auto;
  margin-right: 8px; }
.divider { position: absolute; left: 0; right: 0; border-top: 1px dotted var(--muted);
  color: var(--muted); font-size: 11px; padding-left: 6px; }
#cycle { display: flex; align-items: flex-start; gap: 18px; }
#cycle svg { flex: none; background: #fff; border: 1px solid var(--line); }
#cycle .edges { margin: 6px 0; padding-left: 18px; }
#cycle .edges li.in-cycle { color: var(--bad); font-weight: 600; }
#render-error { background: var(--bad); color: #fff; padding: 8px 22px; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("failure-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // "Lock#2 (created at app.py:31)" -> "Lock#2": the box is small, its tooltip has it all
  function shortResource(label) {
    return label.replace(/ \(created at [^)]*\)$/, "");
  }

  function rowHeight() {
    var value = getComputedStyle(document.documentElement).getPropertyValue("--row");
    return parseFloat(value) || 58;
  }

  // in a deadlock, where each thread is stuck: its last step, when that step blocks
  function stuckSteps(steps) {
    var last = {};
    steps.forEach(function (s, i) { if (s.thread) last[s.thread] = i; });
    Object.keys(last).forEach(function (name) {
      if (steps[last[name]].op.indexOf("blocks") !== 0) delete last[name];
    });
    return last;
  }

  function buildTimeline() {
    var holder = document.getElementById("timeline");
    holder.textContent = "";
    var steps = data.steps;
    if (!steps.length) {
      holder.appendChild(el("p", "legend", "no trace was recorded for this schedule"));
      return;
    }
    var row = rowHeight();
    var height = steps.length * row + "px";
    var lanes = el("div", "lanes");
    var gutter = el("div", "gutter");
    gutter.appendChild(el("div", "gutter-head", "#"));
    var gutterRows = el("div", "rows");
    gutterRows.style.height = height;
    steps.forEach(function (s) { gutterRows.appendChild(el("div", "", s.step || "")); });
    gutter.appendChild(gutterRows);
    lanes.appendChild(gutter);

    var stuck = data.kind === "Deadlock" ? stuckSteps(steps) : {};
    var rowsOf = {};
    data.threads.forEach(function (name) {
      var lane = el("section", "lane");
      lane.setAttribute("data-thread", name);
      var head = el("div", "lane-head", name);
      head.title = name;
      lane.appendChild(head);
      var rows = el("div", "rows");
      rows.style.height = height;
      lane.appendChild(rows);
      lanes.appendChild(lane);
      rowsOf[name] = rows;
    });

    steps.forEach(function (s, i) {
      if (!s.thread) {  // virtual time moved: a line across every lane
        data.threads.forEach(function (name) {
          var line = el("div", "divider", s.note);
          line.style.top = (i * row + 4) + "px";
          rowsOf[name].appendChild(line);
        });
        return;
      }
      var cls = "box";
      if (!s.step && !s.preempted) cls += " event";
      if (s.preempted) cls += " preempted";
      if (stuck[s.thread] === i) cls += " blocked";
      var box = el("div", cls);
      box.setAttribute("data-step", s.step);
      box.setAttribute("data-op", s.op);
      box.style.top = (i * row + 3) + "px";
      var head = el("div", "");
      head.appendChild(el("span", "op", s.op));
      if (s.resource) head.appendChild(el("span", "res", " " + shortResource(s.resource)));
      box.appendChild(head);
      if (s.location) box.appendChild(el("div", "loc", s.location));
      if (s.preempted) {
        var when = s.preempted === "after" ? "preempted after it, " : "preempted, ";
        box.appendChild(el("div", "note", when + s.note));
      } else if (s.note) {
        box.appendChild(el("div", "note", s.note));
      }
      box.title = [s.op, s.resource, s.location, s.note].filter(Boolean).join("\n");
      rowsOf[s.thread].appendChild(box);
    });
    holder.appendChild(lanes);
  }

  // threads and resources on a circle; thread -> resource it waits on -> thread holding it
  function buildCycle() {
    var edges = data.wait_for;
    if (!edges.length) return;
    document.getElementById("cycle-section").hidden = false;
    var holder = document.getElementById("cycle");
    var nodes = [], index = {};
    function node(key, label, kind) {
      if (!(key in index)) { index[key] = nodes.length; nodes.push({label: label, kind: kind}); }
      return index[key];
    }
    var links = [];
    edges.forEach(function (e) {
      var t = node("t:" + e.thread, e.thread, "thread");
      if (!e.resource) return;
      // joining a thread waits on the thread itself; a resource nobody holds is drawn once
      // per waiter (two tasks awaiting "asyncio.Lock.acquire" may await different locks)
      var r;
      if (data.threads.indexOf(e.resource) >= 0) {
        r = node("t:" + e.resource, e.resource, "thread");
      } else if (e.holder) {
        r = node("r:" + e.resource, e.resource, "resource");
      } else {
        r = node("w:" + e.thread + "\n" + e.resource, e.resource, "resource");
      }
      links.push({from: t, to: r, label: e.op, cycle: e.in_cycle});
      if (e.holder) {
        links.push({from: r, to: node("t:" + e.holder, e.holder, "thread"),
                    label: "held by", cycle: e.in_cycle});
      }
    });
    var size = 320, cx = size / 2, cy = size / 2, radius = nodes.length > 1 ? 112 : 0;
    nodes.forEach(function (n, i) {
      var angle = -Math.PI / 2 + 2 * Math.PI * i / nodes.length;
      n.x = cx + radius * Math.cos(angle);
      n.y = cy + radius * Math.sin(angle);
    });
    var pic = svg("svg", {width: size, height: size, viewBox: "0 0 " + size + " " + size,
                          role: "img", "aria-label": "wait-for graph"});
    var defs = svg("defs", {});
    ["ok", "bad"].forEach(function (name) {
      var marker = svg("marker", {id: "arrow-" + name, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                  markerWidth: 7, markerHeight: 7, orient: "auto"});
      marker.appendChild(svg("path", {d: "M0,0 L10,5 L0,10 z",
                                      fill: name === "bad" ? "#c62828" : "#5d6575"}));
      defs.appendChild(marker);
    });
    pic.appendChild(defs);
    links.forEach(function (l) {
      var a = nodes[l.from], b = nodes[l.to];
      var dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
      var pad = 34;
      var line = svg("line", {x1: a.x + dx / d * pad, y1: a.y + dy / d * pad,
                              x2: b.x - dx / d * pad, y2: b.y - dy / d * pad,
                              stroke: l.cycle ? "#c62828" : "#5d6575",
                              "stroke-width": l.cycle ? 2.5 : 1.5,
                              "marker-end": "url(#arrow-" + (l.cycle ? "bad" : "ok") + ")",
                              "class": l.cycle ? "edge in-cycle" : "edge"});
      pic.appendChild(line);
      pic.appendChild(svg("text", {x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 4,
                                   "text-anchor": "middle", "font-size": 11,
                                   fill: "#5d6575"}, l.label));
    });
    nodes.forEach(function (n) {
      var g = svg("g", {"class": "node " + n.kind});
      if (n.kind === "thread") {
        g.appendChild(svg("ellipse", {cx: n.x, cy: n.y, rx: 44, ry: 20, fill: "#e8f0fe",
                                      stroke: "#6b8fd6"}));
      } else {
        g.appendChild(svg("rect", {x: n.x - 48, y: n.y - 16, width: 96, height: 32, rx: 4,
                                   fill: "#fff4e5", stroke: "#d08a2c"}));
      }
      var label = shortResource(n.label);
      if (label.length > 14) label = label.slice(0, 13) + "\u2026";
      g.appendChild(svg("text", {x: n.x, y: n.y + 4, "text-anchor": "middle",
                                 "font-size": 12}, label));
      g.appendChild(svg("title", {}, n.label));
      pic.appendChild(g);
    });
    holder.appendChild(pic);
    var list = el("ul", "edges");
    edges.forEach(function (e) {
      var text = e.thread + " waits (" + e.op + ")" + (e.resource ? " on " + e.resource : "");
      if (e.holder) text += ", held by " + e.holder;
      list.appendChild(el("li", e.in_cycle ? "in-cycle" : "", text));
    });
    holder.appendChild(list);
  }

  buildCycle();
  buildTimeline();
  document.documentElement.setAttribute("data-rendered", "ok");
})();
"""
