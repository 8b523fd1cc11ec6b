// A report page's chart, drawn from the data the page carries (no request of its own).
"use strict";

const chartSpec = JSON.parse(document.getElementById("chart-data").textContent);
drawChart(document.getElementById("report-chart"), chartSpec.labels, chartSpec.series,
          { percent: chartSpec.percent, title: chartSpec.title });
