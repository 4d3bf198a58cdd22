// kubeline web UI script. Part of kubeline, Apache License 2.0 (see the package metadata).
// kubeline's pages work as plain HTML; this script adds what needs a browser: uploads with
// inline errors, bulk actions, the live graph, the task panel and following a task's log.
// Actions go through the same REST API kfp.Client uses.
"use strict";

(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const FINAL = ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELED", "CACHED"];

  function toast(message) {
    const box = $("#toast");
    if (!box) return;
    box.textContent = message;
    box.classList.add("shown");
    window.setTimeout(() => box.classList.remove("shown"), 4000);
  }

  // The message of a KFP-shaped error body, or the HTTP status.
  async function problem(response) {
    try {
      const body = await response.json();
      return body.message || body.error || body.detail || response.statusText;
    } catch (_) {
      return `${response.status} ${response.statusText}`;
    }
  }

  function showError(element, message) {
    if (!element) return;
    element.textContent = message;
    element.hidden = !message;
  }

  async function api(method, url, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    if (!response.ok) throw new Error(await problem(response));
    return response.status === 204 ? {} : response.json().catch(() => ({}));
  }

  // ---- uploads: a pipeline, or a new version of one ------------------------------------
  function setUpUpload(form) {
    const error = $(".form-error", form);
    const file = $("input[type=file]", form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(error, "");
      if (!file.files.length) {
        showError(error, "Choose a compiled pipeline file (.yaml, .yml or .json) first.");
        file.focus();
        return;
      }
      const data = new FormData();
      data.append("uploadfile", file.files[0]);
      const params = new URLSearchParams();
      const name = $("input[name=name]", form);
      const description = $("input[name=description]", form);
      if (name && name.value.trim()) params.set("name", name.value.trim());
      if (description && description.value.trim()) params.set("description", description.value.trim());
      let url = "/apis/v2beta1/pipelines/upload";
      if (form.dataset.upload === "version") {
        url = "/apis/v2beta1/pipelines/upload_version";
        params.set("pipelineid", form.dataset.pipelineId);
      }
      const button = $("button[type=submit]", form);
      button.disabled = true;
      try {
        const response = await fetch(`${url}?${params}`, { method: "POST", body: data });
        if (!response.ok) {
          showError(error, await problem(response));
          return;
        }
        const body = await response.json();
        const pipelineId = body.pipeline_id || form.dataset.pipelineId;
        const version = body.pipeline_version_id ? `?version=${body.pipeline_version_id}` : "";
        window.location.assign(`/pipelines/${pipelineId}${version}`);
      } catch (err) {
        showError(error, `The upload did not reach the server: ${err.message}`);
      } finally {
        button.disabled = false;
      }
    });
    // Drag and drop: the whole form takes the file.
    ["dragenter", "dragover"].forEach((type) =>
      form.addEventListener(type, (event) => {
        event.preventDefault();
        form.classList.add("dragging");
      })
    );
    ["dragleave", "drop"].forEach((type) =>
      form.addEventListener(type, () => form.classList.remove("dragging"))
    );
    form.addEventListener("drop", (event) => {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      file.files = event.dataTransfer.files;
      form.requestSubmit();
    });
  }

  // ---- selects that reload their form ---------------------------------------------------
  function setUpAutosubmit(select) {
    select.addEventListener("change", () => {
      if (select.id === "pick-pipeline") {
        const version = $("#pick-version");
        if (version) version.disabled = true; // a new pipeline: its latest version
      }
      select.form.submit();
    });
  }

  // ---- JSON fields: checked as the reader types ------------------------------------------
  function jsonProblem(area) {
    const text = area.value.trim();
    if (!text) return "";
    try {
      const value = JSON.parse(text);
      const wantList = area.dataset.json === "list";
      if (wantList && !Array.isArray(value)) return "Expects a JSON list, e.g. [1, 2].";
      if (!wantList && (value === null || typeof value !== "object" || Array.isArray(value)))
        return 'Expects a JSON object, e.g. {"key": 1}.';
      return "";
    } catch (err) {
      return `Not valid JSON: ${err.message}`;
    }
  }

  function checkJson(area) {
    const message = jsonProblem(area);
    const error = document.getElementById(`${area.id}-error`);
    area.setAttribute("aria-invalid", message ? "true" : "false");
    if (error) showError(error, message);
    return !message;
  }

  function setUpRunForm(form) {
    // The server sent the form back refused: start where the problem is, not at the top.
    const invalid = $("[aria-invalid=true]", form);
    const summary = $("#run-form-error");
    if (invalid) invalid.focus();
    else if (summary) summary.focus();
    const areas = $$("textarea[data-json]", form);
    areas.forEach((area) => area.addEventListener("input", () => checkJson(area)));
    form.addEventListener("submit", (event) => {
      const bad = areas.filter((area) => !checkJson(area));
      if (bad.length) {
        event.preventDefault();
        bad[0].focus();
      }
    });
  }

  // ---- the runs list: selection and bulk actions ------------------------------------------
  function setUpRunsList() {
    const table = $("#runs-table");
    const bar = $("#bulk");
    if (!table || !bar) return;
    const boxes = $$(".select-run", table);
    const all = $("#select-all");
    const count = $("#bulk-count");
    const chosen = () => boxes.filter((box) => box.checked).map((box) => box.value);
    const refresh = () => {
      const ids = chosen();
      count.textContent = ids.length ? `${ids.length} selected` : "No run selected";
      $$("button[data-bulk]", bar).forEach((button) => {
        button.disabled = button.dataset.bulk === "compare" ? ids.length < 2 : !ids.length;
      });
      if (all) all.checked = ids.length === boxes.length && boxes.length > 0;
    };
    boxes.forEach((box) => box.addEventListener("change", refresh));
    if (all)
      all.addEventListener("change", () => {
        boxes.forEach((box) => (box.checked = all.checked));
        refresh();
      });
    $$("button[data-bulk]", bar).forEach((button) =>
      button.addEventListener("click", async () => {
        const ids = chosen();
        const action = button.dataset.bulk;
        if (action === "compare") {
          window.location.assign(`/runs/compare?ids=${ids.map(encodeURIComponent).join(",")}`);
          return;
        }
        const failures = [];
        for (const id of ids) {
          try {
            await api("POST", `/apis/v2beta1/runs/${encodeURIComponent(id)}:${action}`);
          } catch (err) {
            failures.push(`${id.slice(0, 8)}: ${err.message}`);
          }
        }
        if (failures.length) {
          toast(failures.join(" · "));
          window.setTimeout(() => window.location.reload(), 2500);
        } else {
          window.location.reload();
        }
      })
    );
    refresh();
  }

  // ---- one run: actions, live graph, task panel, log ----------------------------------------
  function setUpRun() {
    const head = $("#run-head");
    const graph = $("#graph");
    if (!head || !graph) return;
    const runId = head.dataset.runId;

    $$("button[data-run-action]").forEach((button) =>
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await api("POST", `/apis/v2beta1/runs/${encodeURIComponent(runId)}:${button.dataset.runAction}`);
          window.location.reload();
        } catch (err) {
          toast(err.message);
          button.disabled = false;
        }
      })
    );

    let expanded = graph.dataset.expanded !== undefined ? new Set(graph.dataset.expanded.split(",").filter(Boolean)) : null;
    const currentExpanded = () =>
      new Set($$("[data-toggle][aria-expanded=true]", graph).map((el) => el.dataset.toggle));

    async function refreshGraph() {
      const params = new URLSearchParams();
      if (expanded !== null) params.set("expanded", Array.from(expanded).join(","));
      const response = await fetch(`${graph.dataset.liveUrl}?${params}`, { cache: "no-store" });
      if (!response.ok) return null;
      const live = await response.json();
      const focused = document.activeElement && graph.contains(document.activeElement)
        ? document.activeElement.dataset.path || document.activeElement.dataset.toggle
        : null;
      graph.innerHTML = live.graph;
      markSelected();
      checkWide(graph);
      if (focused) {
        const again = $$("[data-path],[data-toggle]", graph).find(
          (el) => (el.dataset.path || el.dataset.toggle) === focused
        );
        if (again) again.focus();
      }
      return live;
    }

    function toggle(path) {
      if (expanded === null) expanded = currentExpanded();
      if (expanded.has(path)) expanded.delete(path);
      else expanded.add(path);
      const url = new URL(window.location.href);
      url.searchParams.set("expanded", Array.from(expanded).join(","));
      window.history.replaceState(null, "", url);
      refreshGraph();
    }

    const panel = $("#task-panel");
    const layout = $("#run-layout");
    let selected = new URL(window.location.href).searchParams.get("task");
    // Where focus goes back to when the panel closes: the node (by path, since the graph is
    // redrawn while a run goes) or the link that opened it.
    let opener = selected ? { path: selected } : null;

    const nodeAt = (path) => $$(".node[data-path]", graph).find((el) => el.dataset.path === path);

    function markSelected() {
      $$(".node.selected", graph).forEach((node) => {
        node.classList.remove("selected");
        node.removeAttribute("aria-current");
      });
      if (!selected) return;
      const node = nodeAt(selected);
      if (node) {
        node.classList.add("selected");
        node.setAttribute("aria-current", "true");
      }
    }

    // With no task open the panel takes no room: the graph gets the page's width.
    function showPanel(shown) {
      panel.hidden = !shown;
      if (layout) layout.classList.toggle("with-task", shown);
    }

    async function openTask(path, focusPanel) {
      const from = document.activeElement;
      opener = from && from.closest && from.closest("a[data-task-link]") ? { element: from } : { path };
      selected = path;
      markSelected();
      showPanel(true);
      const url = new URL(window.location.href);
      url.searchParams.set("task", path);
      window.history.replaceState(null, "", url);
      const response = await fetch(`${graph.dataset.panelUrl}?path=${encodeURIComponent(path)}`, { cache: "no-store" });
      panel.innerHTML = response.ok ? await response.text() : `<p>${response.status}: could not load this task.</p>`;
      setUpPanel();
      setUpScrollBoxes(panel);
      if (focusPanel) {
        panel.focus();
        panel.scrollIntoView({ block: "nearest" });
      }
    }

    function closePanel() {
      const back = opener;
      selected = null;
      opener = null;
      markSelected();
      const url = new URL(window.location.href);
      url.searchParams.delete("task");
      window.history.replaceState(null, "", url);
      if (logTimer) window.clearTimeout(logTimer);
      panel.innerHTML = '<p class="muted">No task selected. Select a task in the graph.</p>';
      showPanel(false);
      const target = back && (back.path ? nodeAt(back.path) : back.element);
      if (target && target.isConnected) target.focus();
    }

    function activate(target) {
      const toggler = target.closest("[data-toggle]");
      if (toggler) {
        toggle(toggler.dataset.toggle);
        return;
      }
      const node = target.closest(".node[data-path]");
      if (node) openTask(node.dataset.path, false);
    }

    graph.addEventListener("click", (event) => activate(event.target));
    graph.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      if (!event.target.closest("[data-toggle],.node[data-path]")) return;
      event.preventDefault();
      activate(event.target);
    });
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-task-link]");
      if (link) {
        event.preventDefault();
        openTask(link.dataset.taskLink, true);
        return;
      }
      if (event.target.closest("[data-close-panel]")) closePanel();
    });
    // Esc closes the panel from inside it or from the graph, as a dialog would.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || panel.hidden || event.defaultPrevented) return;
      const where = document.activeElement;
      if (where && where !== document.body && !panel.contains(where) && !graph.contains(where)) return;
      event.preventDefault();
      closePanel();
    });

    let logTimer = null;
    function setUpPanel() {
      if (logTimer) window.clearTimeout(logTimer);
      const log = $("#task-log", panel);
      if (!log) return;
      let offset = 0;
      const decoder = new TextDecoder();
      const follow = async () => {
        let final = true;
        try {
          const response = await fetch(`${log.dataset.logUrl}?offset=${offset}`, { cache: "no-store" });
          if (!response.ok) {
            log.textContent += `\n[${await problem(response)}]`;
            return;
          }
          const chunk = new Uint8Array(await response.arrayBuffer());
          offset = Number(response.headers.get("X-Kubeline-Next-Offset") || offset + chunk.length);
          final = FINAL.includes(response.headers.get("X-Kubeline-Task-State"));
          const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
          if (chunk.length) log.textContent += decoder.decode(chunk, { stream: true });
          if (atBottom) log.scrollTop = log.scrollHeight;
          const more = offset < Number(response.headers.get("X-Kubeline-Total-Size") || 0);
          if (!log.textContent && final) log.textContent = "(this task wrote nothing to its log)";
          if (more || !final) logTimer = window.setTimeout(follow, more ? 0 : 1000);
        } catch (err) {
          log.textContent += `\n[the log could not be read: ${err.message}]`;
        }
      };
      follow();
    }
    setUpPanel();
    markSelected();

    if (head.dataset.finished !== "true") {
      const tick = async () => {
        const live = await refreshGraph().catch(() => null);
        if (live && live.finished) {
          window.location.reload(); // outputs, visualizations and artifacts are now known
          return;
        }
        if (live) {
          $("#run-duration").textContent = live.duration;
          const counts = $("#run-counts");
          if (counts && typeof live.counts_html === "string") counts.innerHTML = live.counts_html;
          const badge = $("#run-state .badge");
          if (badge) {
            badge.className = `badge state-${live.state.toLowerCase()}`;
            badge.textContent = live.state_word;
          }
        }
        window.setTimeout(tick, 1000);
      };
      window.setTimeout(tick, 1000);
    }
  }

  // ---- wide boxes (previews, the graph): a cue when their content is wider than they are ----
  // A box with a data-scroll-label also becomes a named region that takes focus, so the
  // arrow keys scroll it; only while it is too wide, so narrow ones add no tab stop.
  let cueCount = 0;
  const scrollWatch =
    "ResizeObserver" in window ? new ResizeObserver((seen) => seen.forEach((e) => checkWide(e.target))) : null;

  function checkWide(box) {
    if (!box) return;
    const wide = box.scrollWidth > box.clientWidth + 1;
    box.classList.toggle("is-wide", wide);
    const cue = box.previousElementSibling;
    const hasCue = Boolean(cue && cue.classList.contains("scroll-cue"));
    if (hasCue) cue.hidden = !wide;
    if (box.dataset.scrollLabel === undefined) return;
    if (wide) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", box.dataset.scrollLabel);
      if (hasCue) {
        if (!cue.id) cue.id = `scroll-cue-${++cueCount}`;
        box.setAttribute("aria-describedby", cue.id);
      }
    } else {
      ["tabindex", "role", "aria-label", "aria-describedby"].forEach((name) => box.removeAttribute(name));
    }
  }

  function setUpScrollBoxes(root) {
    $$(".scroll-box", root).forEach((box) => {
      checkWide(box);
      if (scrollWatch) scrollWatch.observe(box);
    });
  }

  // ---- the pipeline page: fold and unfold groups ---------------------------------------------
  function setUpPipelineGraph() {
    const graph = $("#graph");
    if (!graph || graph.dataset.liveUrl) return;
    const toggle = (target) => {
      const toggler = target.closest("[data-toggle]");
      if (!toggler) return;
      const open = new Set($$("[data-toggle][aria-expanded=true]", graph).map((el) => el.dataset.toggle));
      const path = toggler.dataset.toggle;
      if (open.has(path)) open.delete(path);
      else open.add(path);
      const url = new URL(window.location.href);
      url.searchParams.set("expanded", Array.from(open).join(","));
      window.location.assign(url);
    };
    graph.addEventListener("click", (event) => toggle(event.target));
    graph.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target.closest("[data-toggle]")) {
        event.preventDefault();
        toggle(event.target);
      }
    });
  }

  // ---- experiments and recurring runs --------------------------------------------------------
  function setUpExperimentForm(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("#experiment-error");
      showError(error, "");
      try {
        await api("POST", "/apis/v2beta1/experiments", {
          display_name: form.display_name.value.trim(),
          description: form.description.value.trim(),
        });
        window.location.reload();
      } catch (err) {
        showError(error, err.message);
      }
    });
  }

  function setUpAliasForm(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = $("#alias-error");
      showError(error, "");
      const alias = form.alias.value.trim();
      try {
        await api(
          "PUT",
          `/kubeline/api/models/${encodeURIComponent(form.dataset.model)}/aliases/${encodeURIComponent(alias)}`,
          { version: Number(form.dataset.version) }
        );
        window.location.reload();
      } catch (err) {
        showError(error, err.message);
      }
    });
  }

  function setUpApiButtons() {
    $$("button[data-api-post],button[data-api-delete]").forEach((button) =>
      button.addEventListener("click", async () => {
        if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
        button.disabled = true;
        try {
          if (button.dataset.apiPost) await api("POST", button.dataset.apiPost);
          else await api("DELETE", button.dataset.apiDelete);
          window.location.reload();
        } catch (err) {
          toast(err.message);
          button.disabled = false;
        }
      })
    );
  }

  document.addEventListener("DOMContentLoaded", () => {
    $$("form[data-upload]").forEach(setUpUpload);
    $$("select[data-autosubmit]").forEach(setUpAutosubmit);
    const runForm = $("#run-form");
    if (runForm) setUpRunForm(runForm);
    const experimentForm = $("#experiment-form");
    if (experimentForm) setUpExperimentForm(experimentForm);
    const aliasForm = $("#alias-form");
    if (aliasForm) setUpAliasForm(aliasForm);
    const recurringForm = $("#recurring-form");
    if (recurringForm) setUpRunForm(recurringForm); // typed fields, like the run form
    setUpApiButtons();
    setUpRunsList();
    setUpScrollBoxes(document);
    setUpRun();
    setUpPipelineGraph();
  });
})();
