/* The overview's charts: points issued and redeemed per day, and points expiring per month,
   drawn with Chart.js from the JSON the page embeds (#daily-data and #expiry-data, the same
   "days" and "expiry_forecast" GET /api/v1/overview answers).
   No inline script: this file is loaded by overview.html after Chart.js. Without
   JavaScript (or if Chart.js is missing) the table under the chart has the same numbers. */
(function () {
  "use strict";

  function shortDay(iso) {
    // "2026-11-23" -> "23 Nov" (the days are UTC days; no time-zone shift here).
    var parts = iso.split("-");
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return Number(parts[2]) + " " + months[Number(parts[1]) - 1];
  }

  function draw() {
    var canvas = document.getElementById("daily-chart");
    var data = document.getElementById("daily-data");
    if (!canvas || !data || typeof window.Chart === "undefined") {
      return;
    }
    var days = JSON.parse(data.textContent || "[]");
    var number = new Intl.NumberFormat("en");
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: days.map(function (d) { return shortDay(d.day); }),
        datasets: [
          {
            label: "Issued",
            data: days.map(function (d) { return d.issued; }),
            backgroundColor: "#1a7f37",
          },
          {
            label: "Redeemed",
            data: days.map(function (d) { return d.redeemed; }),
            backgroundColor: "#1f6feb",
          },
        ],
      },
      options: {
        responsive: true,
        aspectRatio: 3.2,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { grid: { display: false } },
          y: {
            beginAtZero: true,
            title: { display: true, text: "points" },
            ticks: { callback: function (value) { return number.format(value); } },
          },
        },
        plugins: {
          legend: { position: "top", align: "end" },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? days[items[0].dataIndex].day : ""; },
              label: function (item) {
                return item.dataset.label + ": " + number.format(item.parsed.y) + " pts";
              },
            },
          },
        },
      },
    });
  }

  function shortMonth(iso) {
    // "2027-01" -> "Jan 2027".
    var parts = iso.split("-");
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return months[Number(parts[1]) - 1] + " " + parts[0];
  }

  function drawExpiry() {
    // Points expiring per month (#expiry-data: GET /api/v1/overview's "expiry_forecast").
    var canvas = document.getElementById("expiry-chart");
    var data = document.getElementById("expiry-data");
    if (!canvas || !data || typeof window.Chart === "undefined") {
      return;
    }
    var months = JSON.parse(data.textContent || "[]");
    var number = new Intl.NumberFormat("en");
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: months.map(function (m) { return shortMonth(m.month); }),
        datasets: [
          {
            label: "Points expiring",
            data: months.map(function (m) { return m.points; }),
            backgroundColor: "#9a6700",
          },
        ],
      },
      options: {
        responsive: true,
        aspectRatio: 3.2,
        animation: false,
        scales: {
          x: { grid: { display: false } },
          y: {
            beginAtZero: true,
            title: { display: true, text: "points" },
            ticks: { callback: function (value) { return number.format(value); } },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (item) { return number.format(item.parsed.y) + " pts expire"; },
            },
          },
        },
      },
    });
  }

  function drawAll() {
    draw();
    drawExpiry();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
