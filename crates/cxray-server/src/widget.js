// The cxray web widget. A site shows it with one tag:
//   <script src="https://cx.example.com/w/widget.js" data-token="TOKEN"
//           data-touchpoint="checkout" async></script>
// TOKEN is the customer token the site's backend signs (GET /api/v1/widget says how).
// data-lang (optional) is the page's language; else <html lang>, else the browser's.
// For pages that change without loading (single-page apps): cxrayWidget.ask({token, touchpoint}).
// No dependencies. Everything it shows is set as text, never as HTML; its look lives in a
// shadow root, so the page's styles and its own do not meet.
(function () {
  "use strict";
  if (window.cxrayWidget) return;
  var me = document.currentScript;
  if (!me || !me.src) return;
  var base = new URL(me.src, location.href).origin;
  var host = null;

  var CSS =
    ":host{all:initial}" +
    ".card{position:fixed;right:16px;bottom:16px;z-index:2147483000;box-sizing:border-box;" +
    "width:min(420px,calc(100vw - 24px));max-height:calc(100vh - 32px);overflow:auto;" +
    "background:#fff;color:#1a1a1a;border:1px solid #c8c8c8;border-radius:12px;" +
    "box-shadow:0 6px 24px rgba(0,0,0,.18);padding:16px 16px 14px;" +
    "font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    "@media (max-width:480px){.card{right:12px;bottom:12px}}" +
    "*{box-sizing:border-box;font:inherit}" +
    ".top{display:flex;justify-content:space-between;align-items:center;gap:8px;margin:0 0 6px}" +
    ".progress{margin:0;color:#555;font-size:14px}" +
    ".close{border:0;background:none;color:#333;font-size:24px;line-height:1;min-width:40px;" +
    "min-height:40px;border-radius:8px;cursor:pointer}" +
    "fieldset{border:0;margin:0;padding:0;min-width:0}" +
    "legend,label.q{display:block;padding:0;margin:0 0 10px;font-weight:600;font-size:17px}" +
    ".scale{display:grid;gap:4px}" +
    ".scale button{min-height:44px;padding:0;border:1px solid #8a8a8a;border-radius:8px;" +
    "background:#f6f6f6;color:#1a1a1a;cursor:pointer;font-weight:600}" +
    ".scale button[aria-pressed=true]{background:#1d4ed8;border-color:#1d4ed8;color:#fff}" +
    ".scale button:hover{border-color:#1d4ed8}" +
    ".ends{display:flex;justify-content:space-between;gap:12px;margin-top:6px;color:#555;" +
    "font-size:13px}" +
    "textarea{width:100%;min-height:88px;padding:8px;border:1px solid #8a8a8a;border-radius:8px;" +
    "resize:vertical;color:#1a1a1a;background:#fff}" +
    ".actions{display:flex;gap:8px;margin-top:12px}" +
    ".actions button{min-height:44px;padding:0 18px;border-radius:8px;cursor:pointer;" +
    "border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;font-weight:600}" +
    ".actions button.secondary{background:#fff;color:#1d4ed8}" +
    ".error{color:#b00020;margin:8px 0 0}" +
    ".thanks{margin:4px 0 8px;font-weight:600;font-size:17px}" +
    "button:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = String(text);
    return e;
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      // text/plain: a simple request, no preflight.
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) {
          var why = (j.rows && j.rows[0] && j.rows[0].reason) || j.message || String(r.status);
          var e = new Error(why);
          e.status = r.status;
          throw e;
        }
        return j;
      });
    });
  }

  function remember(invitation, state) {
    try {
      localStorage.setItem("cxray:" + invitation, state);
    } catch (e) {}
  }

  function remembered(invitation) {
    try {
      return localStorage.getItem("cxray:" + invitation);
    } catch (e) {
      return null;
    }
  }

  function close() {
    if (host) host.remove();
    host = null;
  }

  function show(s) {
    close();
    host = el("div", { "data-cxray-widget": "" });
    var root = host.attachShadow({ mode: "open" });
    if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet) {
      // A constructed sheet: allowed by a page's Content-Security-Policy, unlike <style>.
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", {}, CSS));
    }
    var w = s.words;
    var card = el("section", { class: "card", role: "region", "aria-label": s.title || w.survey, lang: s.language });
    var top = el("div", { class: "top" });
    var progress = el("p", { class: "progress" });
    var shut = el("button", { class: "close", type: "button", "aria-label": w.close, title: w.close }, "\u00d7");
    shut.addEventListener("click", function () {
      remember(s.invitation, "closed");
      close();
    });
    top.append(progress, shut);
    var body = el("div");
    var error = el("p", { class: "error", role: "alert" });
    card.append(top, body, error);
    card.addEventListener("keydown", function (e) {
      if (e.key === "Escape") shut.click();
    });
    root.appendChild(card);
    document.body.appendChild(host);

    var n = s.questions.length;
    var score = null;
    s.questions.forEach(function (q) {
      if (q.kind === "scale" && q.answer != null) score = q.answer;
    });

    function send(k, value, skip) {
      error.textContent = "";
      var msg = { session: s.session, q: k, language: s.language };
      if (skip) msg.skip = true;
      else msg.value = value;
      return post("/w/answer", msg).then(
        function () {
          go(k + 1, true);
        },
        function (e) {
          error.textContent = e.message;
        }
      );
    }

    function go(k, focus) {
      body.textContent = "";
      if (k > n) {
        progress.textContent = s.title || "";
        remember(s.invitation, "done");
        body.append(el("p", { class: "thanks", role: "status", tabindex: "-1" }, w.thanks));
        if (focus) body.firstChild.focus();
        setTimeout(close, 6000);
        return;
      }
      progress.textContent = w.question_of.replace("{k}", k).replace("{n}", n);
      var q = s.questions[k - 1];
      var first;
      if (q.kind === "scale") {
        var id = "q" + k;
        var set = el("fieldset");
        set.append(el("legend", { id: id }, q.text));
        var grid = el("div", { class: "scale", role: "group", "aria-labelledby": id });
        var values = [];
        for (var v = q.min; v <= q.max; v++) values.push(v);
        grid.style.gridTemplateColumns = "repeat(" + values.length + ",1fr)";
        values.forEach(function (v) {
          var label = q.binary ? (v === 0 ? q.no : q.yes) : String(v);
          var b = el("button", { type: "button", "aria-pressed": String(q.answer === v) }, label);
          if (!q.binary && (v === q.min || v === q.max)) {
            b.setAttribute("aria-label", v + " \u2013 " + (v === q.min ? q.low : q.high));
          }
          b.addEventListener("click", function () {
            grid.querySelectorAll("button").forEach(function (o) {
              o.setAttribute("aria-pressed", String(o === b));
            });
            score = v;
            q.answer = v;
            send(k, v, false);
          });
          grid.append(b);
          if (!first) first = b;
        });
        set.append(grid);
        if (!q.binary && (q.low || q.high)) {
          var ends = el("div", { class: "ends", "aria-hidden": "true" });
          ends.append(el("span", {}, q.low), el("span", {}, q.high));
          set.append(ends);
        }
        body.append(set);
        var actions = el("div", { class: "actions" });
        var skip = el("button", { type: "button", class: "secondary" }, w.skip);
        skip.addEventListener("click", function () {
          send(k, null, true);
        });
        actions.append(skip);
        body.append(actions);
      } else {
        var text = q.below && score != null && score < q.below.score && q.below.text ? q.below.text : q.text;
        var tid = "t" + k;
        body.append(el("label", { class: "q", for: tid }, text));
        var area = el("textarea", { id: tid, maxlength: String(q.max_length || 2000), rows: "4" });
        if (q.answer) area.value = q.answer;
        body.append(area);
        first = area;
        var row = el("div", { class: "actions" });
        var next = el("button", { type: "button" }, w.next);
        var skipText = el("button", { type: "button", class: "secondary" }, w.skip);
        next.addEventListener("click", function () {
          var t = area.value.trim();
          if (t) {
            q.answer = t;
            send(k, t, false);
          } else {
            send(k, null, true);
          }
        });
        skipText.addEventListener("click", function () {
          send(k, null, true);
        });
        row.append(next, skipText);
        body.append(row);
      }
      if (focus && first) first.focus();
    }

    // Resume at the first question without an answer.
    var start = 1;
    while (start <= n && s.questions[start - 1].answer != null) start++;
    go(start, false);
  }

  // Asks the server whether this customer is surveyed on this page; shows the survey if so.
  // Resolves with the server's answer ({show, outcome, reason, …}).
  function ask(opts) {
    opts = opts || {};
    var token = opts.token || me.dataset.token;
    var touchpoint = opts.touchpoint || me.dataset.touchpoint;
    var lang = opts.language || me.dataset.lang || document.documentElement.lang || "";
    if (!token || !touchpoint) {
      return Promise.reject(new Error("cxray widget: data-token and data-touchpoint are required"));
    }
    return post("/w/ask", { token: token, touchpoint: touchpoint, language: lang }).then(function (s) {
      if (s.show && !remembered(s.invitation)) {
        var start = function () {
          show(s);
        };
        if (document.body) start();
        else document.addEventListener("DOMContentLoaded", start);
      }
      return s;
    });
  }

  window.cxrayWidget = { ask: ask, close: close };
  if (me.dataset.token && me.dataset.touchpoint) {
    ask().catch(function (e) {
      if (window.console) console.warn("cxray widget: " + e.message);
    });
  }
})();
