// Progressive enhancement for the team's page; every page works without it.
// - Alerts: the feed updates itself from server-sent events.
// - Board: cards can be dragged between columns (the card's Move form is submitted).
(function () {
  "use strict";

  function liveFeed() {
    var feed = document.getElementById("feed");
    if (!feed || !window.EventSource) return;
    var source = new EventSource(feed.getAttribute("data-stream"));
    source.addEventListener("feed", function (event) {
      var data = event.data;
      var cut = data.indexOf("\n");
      var unread = parseInt(data.slice(0, cut), 10);
      feed.innerHTML = data.slice(cut + 1);
      if (isNaN(unread)) return;
      var count = document.getElementById("unread-count");
      if (count) count.textContent = String(unread);
      var badge = document.getElementById("unread");
      if (badge) {
        badge.textContent = String(unread);
        badge.setAttribute("aria-label", unread + " unread");
      }
    });
  }

  function dragCards() {
    var dragged = null;
    document.querySelectorAll(".card[draggable]").forEach(function (card) {
      card.addEventListener("dragstart", function (e) {
        dragged = card;
        e.dataTransfer.setData("text/plain", card.getAttribute("data-task"));
      });
    });
    document.querySelectorAll(".column[data-status]").forEach(function (column) {
      column.addEventListener("dragover", function (e) { e.preventDefault(); column.classList.add("drop"); });
      column.addEventListener("dragleave", function () { column.classList.remove("drop"); });
      column.addEventListener("drop", function (e) {
        e.preventDefault();
        column.classList.remove("drop");
        if (!dragged) return;
        var form = dragged.querySelector("form.move");
        form.querySelector("select[name=status]").value = column.getAttribute("data-status");
        form.submit();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    liveFeed();
    dragCards();
  });
})();
