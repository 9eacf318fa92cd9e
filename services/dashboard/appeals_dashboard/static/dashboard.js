// The dashboard's only script: live alerts over server-sent events, acknowledgements
// without a reload, filters that apply on change. The pages work without it.
"use strict";

(function () {
  function liveAlerts(table) {
    var body = table.tBodies[0];
    var badge = document.getElementById("live");
    var empty = document.getElementById("alerts-empty");
    var source = new EventSource(table.dataset.stream);

    function status(online) {
      if (!badge) return;
      badge.textContent = online ? badge.dataset.live : badge.dataset.offline;
      badge.classList.toggle("offline", !online);
    }

    source.onopen = function () { status(true); };
    source.onerror = function () { status(false); };
    source.addEventListener("alert", function (message) {
      var item = JSON.parse(message.data);
      if (document.getElementById("alert-" + item.id)) return;
      body.insertAdjacentHTML("afterbegin", item.html);
      var row = document.getElementById("alert-" + item.id);
      if (row) row.classList.add("fresh");
      if (empty) empty.hidden = true;
    });
    source.addEventListener("acknowledged", function (message) {
      var item = JSON.parse(message.data);
      showAcknowledgement(item.alert_id, item.html);
    });
    source.addEventListener("reload", function () {
      source.close();
      window.location.reload();
    });
  }

  function showAcknowledgement(alertId, html) {
    var row = document.getElementById("alert-" + alertId);
    if (!row) return;
    var cell = row.querySelector("td.ack");
    if (cell) cell.innerHTML = html;
    row.classList.add("acknowledged");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("ack-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) {
        if (data.html) showAcknowledgement(data.alert_id, data.html);
        else if (button) button.disabled = false;
      });
    }).catch(function () {
      if (button) button.disabled = false;
    });
  });

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.tagName === "SELECT" && field.form && field.form.dataset.autosubmit === "true") {
      field.form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("alerts");
    if (table && table.dataset.stream && window.EventSource) liveAlerts(table);
  });
})();
