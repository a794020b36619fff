// Headway dashboard: draw the embedded Plotly figures; small conveniences for forms.
"use strict";

(function () {
  function drawCharts() {
    if (typeof Plotly === "undefined") return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById("fig-" + el.dataset.figure);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      Plotly.newPlot(el, fig.data, fig.layout, { displayModeBar: false, responsive: true });
    });
  }

  // The compare button acts on the runs ticked in the table.
  function compareSelection() {
    var form = document.getElementById("compare-form");
    if (!form) return;
    var button = form.querySelector("button[type=submit]");
    var update = function () {
      var n = form.querySelectorAll("input[name=run]:checked").length;
      button.disabled = n === 0;
      button.textContent = n ? "Compare " + n + " run" + (n === 1 ? "" : "s") : "Compare runs";
    };
    form.addEventListener("change", update);
    update();
  }

  // A reviewer types their name once (remembered in this browser); every label carries it.
  function rememberReviewer() {
    var input = document.getElementById("reviewer");
    if (!input) return;
    var key = "headway.reviewer";
    try {
      input.value = window.localStorage.getItem(key) || "";
    } catch (e) {
      // storage disabled: the name is typed each visit
    }
    document.querySelectorAll("form.label-form").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.elements.reviewer.value = input.value;
        try {
          window.localStorage.setItem(key, input.value);
        } catch (e) {
          // storage disabled
        }
      });
    });
  }

  drawCharts();
  compareSelection();
  rememberReviewer();
})();
