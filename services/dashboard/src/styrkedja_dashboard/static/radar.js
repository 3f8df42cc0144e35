// The LIKA radar: data from the page's <script type="application/json"> block (no inline script).
(function () {
  "use strict";
  var holder = document.getElementById("radar");
  var source = document.getElementById("radar-data");
  if (!holder || !source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var chart = echarts.init(holder, null, { renderer: "svg" });
  chart.setOption({
    animation: false,
    color: ["#005a9c", "#b5400b"],
    legend: { bottom: 0, data: [data.firstName, data.secondName] },
    tooltip: {},
    radar: { indicator: data.labels.map(function (l) { return { name: l, max: 4, min: 0 }; }), radius: "65%" },
    series: [{
      type: "radar",
      data: [
        { name: data.firstName, value: data.first.map(function (v) { return v === null ? 0 : v; }) },
        { name: data.secondName, value: data.second.map(function (v) { return v === null ? 0 : v; }) }
      ]
    }]
  });
  holder.setAttribute("data-rendered", "true");
  window.addEventListener("resize", function () { chart.resize(); });
})();
