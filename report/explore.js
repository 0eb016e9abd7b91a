// Tables a reader can explore (sentiflow.report.explore): sort by a column (click its header), filter by a column's
// values and by words, show all rows or the first ones, download what is shown as CSV. Offline: no library, no
// network. Every cell is built with textContent, so a text from the data stays text.
(function () {
  "use strict";
  const plain = (value) => (value === null || value === undefined ? "" : Array.isArray(value) ? value.join(" ⟶ ") : String(value));

  function shown(value, column) {
    if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) return "–";
    if (column.kind === "number" && typeof value === "number" && column.digits !== null) return value.toFixed(column.digits);
    return plain(value);
  }

  function cell(value, column) {
    const td = document.createElement("td");
    if (column.kind !== "number") td.className = column.wide ? "text wide" : "text";
    if (Array.isArray(value) && value.length > 1) {  // a sentence pair: its texts on lines of their own
      value.forEach((text, i) => {
        if (i > 0) {
          td.appendChild(document.createElement("br"));
          const arrow = document.createElement("span");
          arrow.className = "second";
          arrow.textContent = "⟶ ";
          td.appendChild(arrow);
        }
        td.appendChild(document.createTextNode(text));
      });
    } else {
      td.textContent = shown(value, column);
    }
    return td;
  }

  function compare(a, b, column) {
    if (column.kind === "number") return a - b;
    return plain(a).localeCompare(plain(b), undefined, { numeric: true, sensitivity: "base" });
  }

  function csv(rows, columns) {
    const quote = (text) => (/[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text);
    const lines = [columns.map((c) => quote(c.label))].concat(rows.map((row) => row.map((v) => quote(plain(v)))));
    return lines.map((line) => line.join(",")).join("\r\n") + "\r\n";
  }

  function button(label) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    return b;
  }

  function explore(box) {
    const spec = JSON.parse(box.querySelector("script.explore-data").textContent);
    const columns = spec.columns;
    const table = box.querySelector("table");
    const body = table.tBodies[0];
    const state = { sort: null, ascending: true, words: "", filters: new Map(), all: false };
    const searched = columns.map((c, i) => (c.kind === "number" ? -1 : i)).filter((i) => i >= 0);

    const controls = document.createElement("div");
    controls.className = "explore-controls";
    const search = document.createElement("input");
    search.type = "search";
    search.placeholder = "search";
    search.setAttribute("aria-label", "search the table's text");
    search.addEventListener("input", () => { state.words = search.value.trim().toLowerCase(); render(); });
    controls.appendChild(search);
    columns.forEach((column, i) => {
      if (column.kind !== "category") return;
      const values = [...new Set(spec.rows.map((row) => plain(row[i])))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      if (values.length < 2) return;
      const select = document.createElement("select");
      select.dataset.column = column.key;
      select.setAttribute("aria-label", "only rows whose " + column.label + " is");
      const any = document.createElement("option");
      any.value = "";
      any.textContent = column.label + ": all";
      select.appendChild(any);
      values.forEach((v) => {
        const option = document.createElement("option");
        option.value = v;
        option.textContent = v === "" ? "(empty)" : v;
        select.appendChild(option);
      });
      select.addEventListener("change", () => {
        if (select.value === "" && select.selectedIndex === 0) state.filters.delete(i); else state.filters.set(i, select.value);
        render();
      });
      controls.appendChild(select);
    });
    const more = button("");
    more.className = "explore-more";
    more.addEventListener("click", () => { state.all = !state.all; render(); });
    const download = button("download CSV");
    download.className = "explore-download";
    download.addEventListener("click", () => {
      const blob = new Blob([csv(visible(), columns)], { type: "text/csv;charset=utf-8" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = spec.id + ".csv";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    });
    const status = document.createElement("span");
    status.className = "explore-status";
    status.setAttribute("aria-live", "polite");
    controls.append(more, download, status);
    table.caption.appendChild(controls);

    [...table.tHead.rows[0].cells].forEach((th, i) => {
      th.tabIndex = 0;
      const sort = () => {
        state.ascending = state.sort === i ? !state.ascending : true;
        state.sort = i;
        [...table.tHead.rows[0].cells].forEach((h) => { h.classList.remove("sorted-asc", "sorted-desc"); h.removeAttribute("aria-sort"); });
        th.classList.add(state.ascending ? "sorted-asc" : "sorted-desc");
        th.setAttribute("aria-sort", state.ascending ? "ascending" : "descending");
        render();
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); } });
    });

    function visible() {
      let rows = spec.rows.filter((row) => {
        for (const [i, wanted] of state.filters) if (plain(row[i]) !== wanted) return false;
        return !state.words || searched.some((i) => plain(row[i]).toLowerCase().includes(state.words));
      });
      if (state.sort !== null) {
        const column = columns[state.sort];
        const sign = state.ascending ? 1 : -1;
        rows = rows.map((row, order) => [row, order])
          .sort((x, y) => {
            const missing = (v) => v === null || v === undefined;
            const a = x[0][state.sort], b = y[0][state.sort];
            // Empty cells last whichever the direction; ties keep the table's own order.
            if (missing(a) || missing(b)) return missing(a) - missing(b) || x[1] - y[1];
            return sign * compare(a, b, column) || x[1] - y[1];
          })
          .map(([row]) => row);
      }
      return rows;
    }

    function render() {
      const rows = visible();
      const count = state.all ? rows.length : Math.min(spec.shown, rows.length);
      const fragment = document.createDocumentFragment();
      rows.slice(0, count).forEach((row) => {
        const tr = document.createElement("tr");
        row.forEach((value, i) => tr.appendChild(cell(value, columns[i])));
        fragment.appendChild(tr);
      });
      if (!rows.length) {
        const tr = document.createElement("tr");
        const td = document.createElement("td");
        td.className = "text";
        td.colSpan = columns.length;
        td.textContent = spec.rows.length ? "No row matches." : spec.empty;
        tr.appendChild(td);
        fragment.appendChild(tr);
      }
      body.replaceChildren(fragment);
      status.textContent = count + " of " + rows.length + " rows shown" + (rows.length !== spec.rows.length ? " (" + spec.rows.length + " in all)" : "");
      more.hidden = rows.length <= spec.shown;
      more.textContent = state.all ? "show the first " + spec.shown : "show all " + rows.length;
      box.dataset.visibleRows = String(count);
      box.dataset.matchingRows = String(rows.length);
    }

    render();
  }

  document.querySelectorAll("div.explore").forEach(explore);
})();
