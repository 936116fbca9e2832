// Live parts of the dashboard: any element with data-refresh="/url" is re-fetched every
// data-every milliseconds and replaced by the server-rendered (escaped) HTML fragment.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-refresh]")) {
    const every = Number(el.dataset.every || 3000);
    const tick = async () => {
      try {
        const r = await fetch(el.dataset.refresh, { credentials: "same-origin" });
        if (r.ok) {
          el.innerHTML = await r.text();
          el.dataset.refreshedAt = String(Date.now());
        } else if (r.status === 401 || r.redirected) {
          window.location.assign("/login");
          return;
        }
      } catch (e) {
        // Network hiccup: keep the last state on screen and try again on the next tick.
      }
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }
});
