// altur-gateway /status: renders status.json into the page and polls it every 2 s.
// Text goes in with textContent only: nothing from the data is parsed as HTML.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var polls = 0;
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls, key) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    if (key) e.setAttribute("data-k", key);
    return e;
  }
  function num(v) { return v === null || v === undefined ? "-" : String(v); }
  function pct(r) { return r === null || r === undefined ? "-" : (100 * r).toFixed(1) + "%"; }
  function ms(v) { return v === null || v === undefined ? "-" : v.toFixed(1); }
  function table(id, head, rows, empty) {
    var t = $(id);
    t.textContent = "";
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h[0], h[1] ? "n" : "")); });
    t.appendChild(tr);
    if (!rows.length) {
      var r = el("tr"), c = el("td", empty, "empty");
      c.colSpan = head.length;
      r.appendChild(c);
      t.appendChild(r);
    }
    rows.forEach(function (cells) {
      var r = el("tr");
      cells.forEach(function (c) { r.appendChild(c); });
      t.appendChild(r);
    });
  }
  function n(v, key, text) { return el("td", text === undefined ? num(v) : text, "n", key); }
  function badge(on, good, bad, key, warn) {
    var b = el("span", on ? bad : good, "badge" + (on ? (warn ? " warn" : " bad") : ""), key);
    b.setAttribute("data-v", on ? "1" : "0");
    return b;
  }

  function chart(b) {
    // Drawn at the element's own size: one unit is one pixel, text unstretched.
    var svg = $("chart"), top = 12, bottom = 18, left = 28;
    var w = Math.max(svg.clientWidth || 720, 360), h = Math.max(svg.clientHeight || 170, 120);
    var per = b.per_second, max = Math.max(b.limit, 1);
    per.forEach(function (v) { if (v > max) max = v; });
    svg.textContent = "";
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    var bw = (w - left) / per.length, y = function (v) { return top + (h - top - bottom) * (1 - v / max); };
    per.forEach(function (v, i) {
      var r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", (left + i * bw + 0.5).toFixed(1));
      r.setAttribute("width", Math.max(bw - 1, 1).toFixed(1));
      r.setAttribute("y", y(v).toFixed(1));
      r.setAttribute("height", (y(0) - y(v)).toFixed(1));
      r.setAttribute("class", "bar" + (v >= b.limit ? " full" : v >= 0.75 * b.limit ? " near" : ""));
      r.setAttribute("data-v", v);
      var t = document.createElementNS(SVG, "title");
      t.textContent = (per.length - 1 - i) + " s ago: " + v + " starts";
      r.appendChild(t);
      svg.appendChild(r);
    });
    var l = document.createElementNS(SVG, "line");
    l.setAttribute("class", "limit");
    l.setAttribute("x1", left); l.setAttribute("x2", w);
    l.setAttribute("y1", y(b.limit)); l.setAttribute("y2", y(b.limit));
    svg.appendChild(l);
    [[max, y(max)], [b.limit, y(b.limit)], [0, y(0)]].forEach(function (p) {
      var t = document.createElementNS(SVG, "text");
      t.setAttribute("x", 0); t.setAttribute("y", p[1] + 3);
      t.textContent = p[0];
      svg.appendChild(t);
    });
    [["-120 s", left], ["now", w - 22]].forEach(function (p) {
      var t = document.createElementNS(SVG, "text");
      t.setAttribute("x", p[1]); t.setAttribute("y", h - 4);
      t.textContent = p[0];
      svg.appendChild(t);
    });
  }

  function render(d) {
    var b = d.budget;
    chart(b);
    $("budget").textContent = "";
    [["starts in the last 2 min", b.last_two_minutes, "budget.last_two_minutes"],
     ["limit per second", b.limit, "budget.limit"],
     ["window (ms)", b.window_ms, "budget.window_ms"],
     ["starts since start", b.upstream_starts_total, "budget.upstream_starts_total"],
     ["backend", b.backend, "budget.backend"]].forEach(function (p) {
      var s = el("span"); s.appendChild(document.createTextNode(p[0] + ": "));
      s.appendChild(el("b", p[1], "", p[2]));
      $("budget").appendChild(s);
      $("budget").appendChild(document.createTextNode("  "));
    });
    $("depth").textContent = d.queue.depth;
    table("queue", [["caller"], ["waiting", 1], ["waits", 1], ["mean wait (ms)", 1], ["upstream starts", 1]],
      d.queue.by_caller.map(function (c) {
        var k = "queue." + c.caller + ".";
        return [el("td", c.caller), n(c.depth, k + "depth"), n(c.waits, k + "waits"),
          n(c.mean_wait_ms, k + "mean_wait_ms", ms(c.mean_wait_ms)), n(c.upstream_starts, k + "upstream_starts")];
      }), "no caller has queued yet");
    table("routes", [["route"], ["requests", 1], ["from cache", 1], ["hit ratio", 1]],
      d.routes.map(function (r) {
        var k = "route." + r.route + ".";
        var ratio = n(r.hit_ratio, k + "hit_ratio", pct(r.hit_ratio));
        ratio.setAttribute("data-v", r.hit_ratio === null ? "" : r.hit_ratio);
        var m = el("span", null, "meter"), f = el("span");
        f.style.width = (100 * (r.hit_ratio || 0)).toFixed(1) + "%";
        m.appendChild(f); ratio.appendChild(m);
        return [el("td", r.route), n(r.requests, k + "requests"), n(r.hits, k + "hits"), ratio];
      }), "no reads yet");
    table("refusals", [["reason"], ["refused", 1]], d.refusals.map(function (r) {
      return [el("td", r.reason), n(r.count, "refusal." + r.reason)];
    }), "");
    table("stale", [["kind"], ["answers", 1]], d.stale.map(function (s) {
      return [el("td", s.kind), n(s.count, "stale." + s.kind)];
    }), "");
    table("refreshes", [["trigger"], ["result"], ["refreshes", 1]], d.refreshes.map(function (r) {
      return [el("td", r.trigger), el("td", r.result), n(r.count, "refresh." + r.trigger + "." + r.result)];
    }), "");
    var s = d.state, st = $("state");
    st.textContent = "";
    function row(label, value) { st.appendChild(el("dt", label)); var dd = el("dd"); dd.appendChild(value); st.appendChild(dd); }
    row("rate limiter", el("span", s.backend === "redis" ? "shared, in Redis" : "local to this replica", "", "state.backend"));
    row("Redis limiter", badge(s.rate_limit_fallback, s.backend === "redis" ? "reachable" : "not used", "unreachable: local fallback", "state.rate_limit_fallback", true));
    row("shared cache", el("span", s.shared_cache ? "Redis (second level)" : "none", "", "state.shared_cache"));
    row("Altur key", badge(s.upstream_auth_failing, "accepted", "rejected by Altur (401/403)", "state.upstream_auth_failing"));
    var key = badge(s.key_reload_failing, "ok", "reload failing: last good key in use", "state.key_reload_failing", true);
    var kf = el("span"); kf.appendChild(key); kf.appendChild(document.createTextNode(" "));
    kf.appendChild(el("span", s.key_reload_failures, "", "state.key_reload_failures"));
    kf.appendChild(document.createTextNode(" failed re-reads"));
    row("key file", kf);
    var cf = el("span"); cf.appendChild(badge(!!s.callers_reload_failing, "ok", "reload failing: last good file in use", "state.callers_reload_failing", true));
    if (s.callers_reload_failing) cf.appendChild(el("span", " " + s.callers_reload_failing));
    cf.appendChild(document.createTextNode(" "));
    cf.appendChild(el("span", s.callers_reload_failures, "", "state.callers_reload_failures"));
    cf.appendChild(document.createTextNode(" failed re-reads"));
    row("callers file", cf);
    $("version").textContent = d.version;
    $("stamp").textContent = new Date().toLocaleTimeString();
  }

  render(JSON.parse($("initial").textContent));
  function poll() {
    fetch("status.json", { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) {
        render(d);
        polls += 1;
        document.body.setAttribute("data-polls", polls);
        $("offline").hidden = true;
      })
      .catch(function () { $("offline").hidden = false; });
  }
  setInterval(poll, 2000);
})();
