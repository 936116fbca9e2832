// LessonGate local UI. Plain JS, no build step, nothing loaded from outside this server.
// The view is polled from /api/view; teacher actions go through the dialog. Every API call
// carries the per-start key in the X-LessonGate-Key header (the cookie travels by itself).
"use strict";

(function () {
  const POLL_MS = 1500;
  const T = JSON.parse(document.getElementById("strings").textContent);
  const KEY = document.querySelector('meta[name="lessongate-key"]').content;
  const LANG = document.documentElement.lang || "en";
  const $ = (id) => document.getElementById(id);

  let view = null;
  let viewKey = "";
  let lastOpen = null;
  let secondsLeft = null;
  let token = null; // teacher token: kept only while the dialog is open
  let teacher = null;

  function fill(template, params) {
    return template.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }

  function applyStrings() {
    document.querySelectorAll("[data-t]").forEach((el) => {
      el.textContent = T[el.dataset.t] || el.dataset.t;
    });
    const other = LANG === "es" ? "en" : "es";
    const link = $("lang-link");
    link.textContent = T.other_language;
    link.href = "/?lang=" + other;
    link.lang = other;
  }

  async function api(path, body) {
    const options = {
      method: body === undefined ? "GET" : "POST",
      headers: { "X-LessonGate-Key": KEY, Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path + "?lang=" + encodeURIComponent(LANG), options);
    } catch (err) {
      return { ok: false, error: "unknown", message: T.err_unknown };
    }
    try {
      return await response.json();
    } catch (err) {
      return { ok: false, error: "unknown", message: T.err_unknown };
    }
  }

  // ---- the student's screens ---------------------------------------------------------------

  function minutesText(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return T.less_than_a_minute;
    return fill(T.minutes_left, { minutes: Math.ceil(seconds / 60) });
  }

  function letterClass(text) {
    let hash = 0;
    for (const ch of text) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    return "tone-" + (hash % 6);
  }

  function renderCards(resources) {
    const list = $("resource-cards");
    list.replaceChildren();
    for (const r of resources) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.className = "card";
      link.href = r.url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.setAttribute("aria-label", r.title + ", " + r.site + ", " + T.opens_in_browser);
      const icon = document.createElement("span");
      icon.className = "card-icon " + letterClass(r.site);
      icon.setAttribute("aria-hidden", "true");
      icon.textContent = (r.title.trim()[0] || "?").toUpperCase();
      const title = document.createElement("span");
      title.className = "card-title";
      title.textContent = r.title;
      const site = document.createElement("span");
      site.className = "card-site";
      site.textContent = r.site;
      link.append(icon, title, site);
      item.append(link);
      list.append(item);
    }
    $("no-resources").hidden = resources.length > 0;
  }

  function render(next) {
    const key = JSON.stringify([next.state, next.room_name, next.objectives, next.resources, next.notice]);
    secondsLeft = next.seconds_left;
    $("time-left").textContent = minutesText(secondsLeft);
    if (key === viewKey) return; // unchanged: leave focus and scroll alone
    viewKey = key;
    view = next;
    $("room-name").textContent = next.room_name || next.room_id;
    $("closed-room").textContent = next.room_name || next.room_id;
    const notice = $("notice");
    notice.hidden = !next.notice;
    notice.textContent = next.notice || "";
    const open = next.state === "open";
    $("closed-screen").hidden = open;
    $("session-screen").hidden = !open;
    document.body.classList.toggle("is-open", open);
    if (open) {
      const titles = $("objective-titles");
      titles.replaceChildren(
        ...next.objectives.map((o) => {
          const li = document.createElement("li");
          li.textContent = o.title;
          return li;
        })
      );
      renderCards(next.resources);
    }
    if (open !== lastOpen && lastOpen !== null && token !== null && $("teacher-dialog").open) {
      // A session that opened or closed elsewhere (server, timer) changes what the teacher can do.
      showStepFor(open);
    }
    lastOpen = open;
  }

  async function poll() {
    const answer = await api("/api/view");
    if (answer.ok) {
      render(answer.view);
    } else if (answer.error === "forbidden" || answer.error === "bad_host") {
      const notice = $("notice");
      notice.hidden = false;
      notice.textContent = answer.message;
    }
  }

  function tick() {
    if (secondsLeft !== null && secondsLeft !== undefined && secondsLeft > 0) {
      secondsLeft -= 1;
      $("time-left").textContent = minutesText(secondsLeft);
    }
  }

  // ---- the teacher's dialog ----------------------------------------------------------------

  function showStep(id, titleKey) {
    for (const step of document.querySelectorAll("#teacher-dialog .step")) step.hidden = step.id !== id;
    $("dialog-title").textContent = T[titleKey];
    for (const e of document.querySelectorAll("#teacher-dialog .error, #teacher-dialog .ok")) {
      e.textContent = "";
    }
  }

  function showStepFor(open) {
    if (open) {
      showStep("session-tools", "teacher");
      $("end-button").focus();
    } else {
      showStep("start-form", "pick_objectives");
      buildObjectives();
      $("objective-search").focus();
    }
  }

  function openDialog() {
    token = null;
    teacher = null;
    $("login-form").reset();
    showStep("login-form", "teacher_sign_in");
    $("teacher-dialog").showModal();
    $("staff-id").focus();
  }

  function closeDialog() {
    const dialog = $("teacher-dialog");
    if (dialog.open) dialog.close();
  }

  function forget() {
    token = null;
    teacher = null;
    $("login-form").reset();
    $("start-form").reset();
    $("link-url").value = "";
    const back = view && view.state === "open" ? $("teacher-button-session") : $("teacher-button");
    back.focus();
  }

  function normalise(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function buildObjectives() {
    const groups = $("objective-groups");
    groups.replaceChildren();
    const bySubject = new Map();
    for (const c of teacher.choices) {
      if (!bySubject.has(c.subject)) bySubject.set(c.subject, []);
      bySubject.get(c.subject).push(c);
    }
    for (const [subject, choices] of bySubject) {
      const fieldset = document.createElement("fieldset");
      fieldset.className = "subject";
      const legend = document.createElement("legend");
      legend.textContent = subject;
      fieldset.append(legend);
      for (const c of choices) {
        const label = document.createElement("label");
        label.className = "choice";
        label.dataset.search = normalise(c.title + " " + c.subject + " " + c.id);
        const box = document.createElement("input");
        box.type = "checkbox";
        box.name = "objective";
        box.value = c.id;
        const text = document.createElement("span");
        text.textContent = c.title;
        label.append(box, text);
        fieldset.append(label);
      }
      groups.append(fieldset);
    }
    const minutes = $("minutes");
    minutes.max = String(teacher.max_minutes);
    minutes.value = String(teacher.default_minutes);
    $("minutes-hint").textContent = fill(T.minutes_hint, {
      default: teacher.default_minutes,
      max: teacher.max_minutes,
    });
    $("objective-search").value = "";
    filterObjectives();
  }

  function filterObjectives() {
    const words = normalise($("objective-search").value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const fieldset of document.querySelectorAll("#objective-groups fieldset")) {
      let inGroup = 0;
      for (const label of fieldset.querySelectorAll("label.choice")) {
        const checked = label.querySelector("input").checked;
        const match = checked || words.every((w) => label.dataset.search.includes(w));
        label.hidden = !match;
        if (match) inGroup += 1;
      }
      fieldset.hidden = inGroup === 0;
      shown += inGroup;
    }
    $("no-match").hidden = shown > 0;
  }

  function failed(errorId, answer) {
    if (answer.error === "not_signed_in") {
      token = null;
      teacher = null;
      showStep("login-form", "teacher_sign_in");
      $("login-error").textContent = answer.message;
      $("staff-id").focus();
      return;
    }
    $(errorId).textContent = answer.message || T.err_unknown;
  }

  async function onLogin(event) {
    event.preventDefault();
    const answer = await api("/api/teacher/login", {
      staff_id: $("staff-id").value,
      pin: $("pin").value,
    });
    if (!answer.ok) {
      $("pin").value = "";
      $("login-error").textContent = answer.message;
      (answer.error === "empty_staff_id" ? $("staff-id") : $("pin")).focus();
      return;
    }
    token = answer.token;
    teacher = answer.teacher;
    showStepFor(view !== null && view.state === "open");
  }

  async function onStart(event) {
    event.preventDefault();
    const ids = [...document.querySelectorAll('#objective-groups input[name="objective"]:checked')].map(
      (box) => box.value
    );
    const answer = await api("/api/session/start", {
      token,
      objective_ids: ids,
      minutes: $("minutes").value,
    });
    if (!answer.ok) return failed("start-error", answer);
    closeDialog();
    await poll();
  }

  async function onEnd() {
    const answer = await api("/api/session/end", { token });
    if (!answer.ok) return failed("tools-error", answer);
    closeDialog();
    await poll();
  }

  async function onExtend(event) {
    event.preventDefault();
    const answer = await api("/api/session/extend", { token, minutes: $("extend-minutes").value });
    if (!answer.ok) return failed("tools-error", answer);
    $("tools-error").textContent = "";
    $("tools-status").textContent = T.extended;
    await poll();
  }

  async function onAddLink(event) {
    event.preventDefault();
    const answer = await api("/api/session/link", { token, url: $("link-url").value });
    if (!answer.ok) return failed("tools-error", answer);
    $("tools-error").textContent = "";
    $("tools-status").textContent = T.link_added;
    $("link-url").value = "";
    await poll();
  }

  function start() {
    applyStrings();
    $("teacher-button").addEventListener("click", openDialog);
    $("teacher-button-session").addEventListener("click", openDialog);
    $("login-form").addEventListener("submit", onLogin);
    $("start-form").addEventListener("submit", onStart);
    $("extend-form").addEventListener("submit", onExtend);
    $("link-form").addEventListener("submit", onAddLink);
    $("end-button").addEventListener("click", onEnd);
    $("objective-search").addEventListener("input", filterObjectives);
    for (const button of document.querySelectorAll("#teacher-dialog .cancel")) {
      button.addEventListener("click", closeDialog);
    }
    // Escape closes a modal <dialog> by itself; either way the teacher's token is forgotten.
    $("teacher-dialog").addEventListener("close", forget);
    poll();
    setInterval(poll, POLL_MS);
    setInterval(tick, 1000);
  }

  start();
})();
