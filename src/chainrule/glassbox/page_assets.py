"""The explorer page's style sheet and script, inlined into every page (nothing is fetched,
so a page works from file:// and offline). The script reads the page's data (a JSON block
written by `page`) and only shows and hides what is already there: stepping with
Next/Previous or the →/← keys, and a node's full story on a click."""

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 16px;
       color: #222; }
h1 { font-size: 1.25em; margin: 0 0 6px; }
.bar { display: flex; gap: 8px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
.bar button { font-size: 1em; padding: 4px 14px; cursor: pointer; }
#cr-status { color: #555; }
.graph { overflow-x: auto; border: 1px solid #ddd; border-radius: 6px; background: #fcfcfc; }
.graph svg { display: block; max-width: 100%; height: auto; }
.node { cursor: pointer; }
.node circle, .node rect.shape { fill: #fff; stroke: #555; stroke-width: 1.3; }
.node.param rect.shape { fill: #d6eaf8; }
.node.fwd circle, .node.fwd rect.shape { stroke: #1e8449; stroke-width: 2; }
.node.bwd circle, .node.bwd rect.shape { stroke: #c0392b; stroke-width: 2; }
.node.cur circle, .node.cur rect.shape { fill: #fff3b0; stroke-width: 3; }
.node.picked circle, .node.picked rect.shape { stroke: #7d3c98; stroke-width: 3; }
.node text { font-size: 13px; text-anchor: middle; dominant-baseline: central; }
.node.const text { fill: #555; }
path.edge { fill: none; stroke: #888; stroke-width: 1.2; marker-end: url(#cr-arrow); }
text.ev { fill: #1e8449; font-size: 11.5px; text-anchor: middle; }
text.ev.start { text-anchor: start; }
text.eg, text.ng { fill: #c0392b; font-size: 11.5px; text-anchor: middle; }
.hidden { visibility: hidden; }
#cr-panel { margin-top: 10px; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px;
            min-height: 6em; background: #fff; }
#cr-panel h2 { font-size: 1.05em; margin: 2px 0 6px; }
.line { font-family: Menlo, Consolas, monospace; font-size: 13px; white-space: pre-wrap; }
.line.head { font-family: inherit; font-weight: bold; margin-top: 6px; }
#cr-notes .line { font-size: 12.5px; }
.legend { color: #555; font-size: 0.9em; }
.legend .v { color: #1e8449; } .legend .g { color: #c0392b; }
"""

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("cr-data").textContent);
  var cur = -1, picked = -1, n = D.steps.length;
  var fwdAt = D.nodes.map(function () { return -1; });
  var bwdAt = D.nodes.map(function () { return Infinity; });
  D.steps.forEach(function (s, i) {
    if (s.phase === "forward") { fwdAt[s.k] = i; } else { bwdAt[s.k] = i; }
  });
  function el(id) { return document.getElementById(id); }
  function show(title, groups) {
    var panel = el("cr-panel");
    panel.textContent = "";
    var h = document.createElement("h2");
    h.textContent = title;
    panel.appendChild(h);
    groups.forEach(function (g) {
      if (!g[1] || !g[1].length) { return; }
      if (g[0]) { add(panel, g[0], "line head"); }
      g[1].forEach(function (text) { add(panel, text, "line"); });
    });
  }
  function add(parent, text, cls) {
    var div = document.createElement("div");
    div.className = cls;
    div.textContent = text;
    parent.appendChild(div);
  }
  function toggle(id, visible) {
    var e = el(id);
    if (e) { e.classList.toggle("hidden", !visible); }
  }
  function render() {
    D.nodes.forEach(function (node, k) {
      var g = el("n" + k);
      g.classList.toggle("fwd", fwdAt[k] >= 0 && fwdAt[k] <= cur);
      g.classList.toggle("bwd", bwdAt[k] <= cur);
      g.classList.toggle("cur", cur >= 0 && D.steps[cur].k === k);
      g.classList.toggle("picked", k === picked);
      toggle("nv" + k, fwdAt[k] <= cur);
      toggle("ng" + k, bwdAt[k] <= cur);
    });
    D.edges.forEach(function (e, i) {
      toggle("ev" + i, fwdAt[e.from] <= cur);
      toggle("eg" + i, bwdAt[e.to] <= cur);
    });
    var fw = D.steps.filter(function (s) { return s.phase === "forward"; }).length;
    var status = cur < 0 ? "Start: the inputs and parameters. Press → or Next."
      : (cur < fw ? "Forward pass, step " + (cur + 1) + " of " + fw
         : "Backward pass, step " + (cur - fw + 1) + " of " + (n - fw));
    el("cr-status").textContent = status;
    el("cr-prev").disabled = cur < 0;
    el("cr-next").disabled = cur >= n - 1;
    if (cur < 0) {
      show("Ready", [["", ["Step through the forward pass node by node (each value computed), " +
        "then the backward pass (each node's upstream gradient, its local derivatives and " +
        "the products it sends back). Click a node for its full chain rule."]]]);
      return;
    }
    var s = D.steps[cur], node = D.nodes[s.k];
    el("n" + s.k).scrollIntoView({block: "nearest", inline: "center"});  // a wide graph scrolls
    if (s.phase === "forward") {
      show("Forward: " + node.name, [["", node.fwd]]);
    } else {
      show("Backward: " + node.name, [["Upstream gradient", node.up],
                                      ["Local derivatives and products", node.locals]]);
    }
  }
  function go(delta) {
    cur = Math.max(-1, Math.min(n - 1, cur + delta));
    picked = -1;
    render();
  }
  function pick(k) {
    var node = D.nodes[k];
    picked = k;
    render();
    show(node.name + " (" + node.kind + ", " + node.shape + ")",
         [["Forward", node.fwd], ["Upstream gradient", node.up],
          ["Local derivatives and products", node.locals],
          ["Chain rule from the output", node.chain],
          ["Gradient check", node.check]]);
  }
  el("cr-next").addEventListener("click", function () { go(1); });
  el("cr-prev").addEventListener("click", function () { go(-1); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { go(1); e.preventDefault(); }
    if (e.key === "ArrowLeft") { go(-1); e.preventDefault(); }
  });
  D.nodes.forEach(function (node, k) {
    el("n" + k).addEventListener("click", function () { pick(k); });
  });
  render();
})();
"""
