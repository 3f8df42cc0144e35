// The term history chart: data from the page's <script type="application/json"> block (no inline script).
(function () {
  "use strict";
  var holder = document.getElementById("history");
  var source = document.getElementById("history-data");
  if (!holder || !source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var percent = function (v) { return v === null || v === undefined ? ".." : (v * 100).toFixed(1).replace(".", ",") + " %"; };
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: percent },
    legend: { bottom: 0, type: "scroll" },
    grid: { left: 50, right: 20, top: 20, bottom: 60 },
    xAxis: { type: "category", data: data.periods },
    yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + " %"; } } },
    series: data.series.map(function (s) { return { name: s.name, type: "line", data: s.data, connectNulls: false }; })
  });
  holder.setAttribute("data-rendered", "true");
  window.addEventListener("resize", function () { chart.resize(); });
})();
