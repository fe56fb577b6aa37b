// upshift dashboard: keeps the page live and confirms actions. The server renders every piece of
// HTML; this script only re-fetches a piece when the live feed (Server-Sent Events on /ui/events)
// says its rollout moved, counts a bake down, and sends an action after a confirmation. Without it,
// the pages still work (filters, paging and actions are plain forms and links).
"use strict";

(() => {
  const main = document.getElementById("main");
  if (!main) return;
  const page = main.dataset.page;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  const status = document.getElementById("action-status") ?? document.getElementById("live-status");

  function say(text, isError) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  // Replaces the element `id` with the same element from `url`'s HTML.
  async function refresh(id, url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/login");
      return;
    }
    if (!response.ok) {
      say(`Could not update the page: ${(await response.text()).slice(0, 300)}`, true);
      return;
    }
    const current = document.getElementById(id);
    if (!current) return;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.getElementById(id) ?? template.content.firstElementChild;
    if (fresh) current.replaceWith(fresh);
    wire();
  }

  // Coalesces bursts of changes into one refresh per piece.
  const due = new Map();
  function soon(id, url) {
    if (due.has(id)) return;
    due.set(id, setTimeout(() => { due.delete(id); refresh(id, url()); }, 150));
  }

  const dialog = document.getElementById("confirm");
  const listUrl = () => `/ui/rollouts?${document.getElementById("rollouts-view")?.dataset.query ?? ""}`;
  const liveUrl = () => `${main.dataset.ui}/live`;
  const auditUrl = () => {
    const audit = document.getElementById("audit");
    const kind = audit?.dataset.kind ?? "all";
    const pageNo = audit?.dataset.page ?? "1";
    return `${main.dataset.ui}/audit?kind=${encodeURIComponent(kind)}&page=${encodeURIComponent(pageNo)}`;
  };

  function onChange(change) {
    if (page === "list") {
      soon("rollouts-view", listUrl);
    } else if (page === "rollout" && change.id === main.dataset.id) {
      // Not under an open confirmation: its buttons would move under the person's hand.
      if (!dialog?.open) soon("live", liveUrl);
      soon("audit", auditUrl);
    }
  }

  function connect() {
    if (!window.EventSource || (page !== "list" && page !== "rollout")) return;
    const source = new EventSource("/ui/events");
    let connected = false;
    source.addEventListener("ready", () => {
      document.body.dataset.live = "on";
      // After a reconnection (a server restart, another replica), catch up on what was missed.
      if (connected) onChange({ id: main.dataset.id });
      connected = true;
    });
    source.addEventListener("change", (e) => onChange(JSON.parse(e.data)));
    source.addEventListener("resync", () => onChange({ id: main.dataset.id }));
    source.onerror = () => { document.body.dataset.live = "reconnecting"; };
  }

  // The bake countdown: seconds left, from what the server said when it rendered the stage.
  function tick() {
    for (const el of document.querySelectorAll(".countdown[data-due-in-ms]")) {
      if (!el.dataset.base) el.dataset.base = String(Date.now());
      const left = Number(el.dataset.dueInMs) - (Date.now() - Number(el.dataset.base));
      el.textContent = left > 0 ? `${Math.ceil(left / 1000)} s left` : "bake over, verifying soon";
    }
  }

  async function send(form, reason) {
    const body = new URLSearchParams({ csrf, js: "1" });
    if (reason) body.set("reason", reason);
    const response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
    });
    if (response.ok) {
      say(`${form.dataset.action}: done`, false);
      refresh("live", liveUrl());
      refresh("audit", auditUrl());
    } else if (response.status === 401) {
      window.location.assign("/login");
    } else {
      say(`${form.dataset.action} refused: ${(await response.text()).slice(0, 500)}`, true);
    }
  }

  function confirmThen(form) {
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(`${form.dataset.action} this rollout?`)) send(form, "");
      return;
    }
    const name = document.querySelector("#live h1")?.firstChild?.textContent?.trim() ?? "this rollout";
    document.getElementById("confirm-title").textContent = `${form.dataset.action[0].toUpperCase()}${form.dataset.action.slice(1)} ${name}?`;
    document.getElementById("confirm-text").textContent = {
      approve: "The rollout moves on to its next stage.",
      pause: "The rollout stops at its next stage boundary until resumed.",
      resume: "The rollout continues from where it was paused.",
      abort: "The rollout stops and rolls back what it applied.",
    }[form.dataset.action] ?? "";
    const reason = document.getElementById("confirm-reason");
    reason.value = "";
    // Only a pause and an abort keep a reason (the journal's message of the transition).
    const asks = form.dataset.action === "pause" || form.dataset.action === "abort";
    document.querySelector('label[for="confirm-reason"]')?.toggleAttribute("hidden", !asks);
    reason.toggleAttribute("hidden", !asks);
    dialog.returnValue = "";
    dialog.onclose = () => {
      if (dialog.returnValue === "yes") send(form, asks ? reason.value.trim() : "");
      else soon("live", liveUrl);
    };
    dialog.showModal();
    (asks ? reason : document.getElementById("confirm-yes")).focus();
  }

  function wire() {
    for (const form of document.querySelectorAll("form.action")) {
      if (form.dataset.wired) continue;
      form.dataset.wired = "1";
      form.addEventListener("submit", (e) => { e.preventDefault(); confirmThen(form); });
    }
    const audit = document.getElementById("audit");
    if (audit && !audit.dataset.wired) {
      audit.dataset.wired = "1";
      audit.querySelector("#audit-kind")?.addEventListener("change", (e) => {
        audit.dataset.kind = e.target.value;
        audit.dataset.page = "1";
        refresh("audit", auditUrl());
      });
      audit.addEventListener("click", (e) => {
        const link = e.target.closest("a[data-page]");
        if (!link) return;
        e.preventDefault();
        audit.dataset.page = link.dataset.page;
        refresh("audit", auditUrl());
      });
    }
    const filters = document.getElementById("filters");
    if (filters && !filters.dataset.wired) {
      filters.dataset.wired = "1";
      const apply = () => {
        const query = new URLSearchParams(new FormData(filters));
        for (const [k, v] of [...query]) if (!v) query.delete(k);
        history.replaceState(null, "", query.toString() ? `/?${query}` : "/");
        document.getElementById("rollouts-view").dataset.query = query.toString();
        refresh("rollouts-view", listUrl());
      };
      filters.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
      filters.querySelector("#phase-filter")?.addEventListener("change", apply);
      filters.querySelector("#name-filter")?.addEventListener("input", () => soon("rollouts-view", () => {
        const query = new URLSearchParams(new FormData(filters));
        for (const [k, v] of [...query]) if (!v) query.delete(k);
        document.getElementById("rollouts-view").dataset.query = query.toString();
        return listUrl();
      }));
    }
    tick();
  }

  wire();
  connect();
  setInterval(tick, 1000);
})();
