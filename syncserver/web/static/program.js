// The program editor's repeatable rows (campaigns, tiers, multipliers, basket lines…).
// "Add" clones the list's <template>, numbering the new row after the highest one so far;
// "Remove" drops a row. The server reads rows by their numbers, gaps and all. Listeners sit on
// the document, so they keep working after htmx swaps the editor in place.
"use strict";

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;

  const add = target.closest("[data-add-row]");
  if (add) {
    const list = add.closest("[data-list]");
    const template = list && list.querySelector(":scope > template");
    const rows = list && list.querySelector(":scope > [data-rows]");
    if (!template || !rows) return;
    const index = Number(add.dataset.next || "0");
    add.dataset.next = String(index + 1);
    rows.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__i__", String(index)));
    const first = rows.lastElementChild && rows.lastElementChild.querySelector("input, select");
    if (first) first.focus();
    return;
  }

  const remove = target.closest("[data-remove-row]");
  if (remove) {
    const row = remove.closest("[data-row]");
    if (row) row.remove();
  }
});
