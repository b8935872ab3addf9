// The dashboard: a register's heatmap, kept live by one `heatmapChanged`
// subscription over graphql-transport-ws; a cell's risks and a risk's
// details come from queries. Everything it shows comes from the public
// GraphQL API, with the tab's token.
"use strict";

(() => {
  const session = riskgraphSession;
  const $ = (id) => document.getElementById(id);
  const OPEN = ["OPEN", "PENDING", "MATERIALIZED"];
  const REGISTER_KEY = "riskgraph.register";

  const state = {
    register: null,
    basis: "RESIDUAL",
    heatmap: null,
    selected: null,
  };

  // --- the API -----------------------------------------------------------

  async function gql(query, variables = {}) {
    const response = await fetch(session.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        Authorization: `Bearer ${session.token()}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response
      .json()
      .catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
    if (body.errors && body.errors.length) {
      const error = new Error(body.errors[0].message);
      error.code = body.errors[0].extensions && body.errors[0].extensions.code;
      throw error;
    }
    return body.data;
  }

  const HEATMAP = `subscription($r: ID!, $b: ScoreBasis!) {
    heatmapChanged(registerId: $r, basis: $b) {
      basis total unscored
      register { id name scales { bands { level name color } } }
      likelihood { level name } impact { level name }
      cells { likelihoodLevel impactLevel count band { name color } }
    } }`;

  const CELL_RISKS = `query($f: RiskFilter, $o: [RiskOrder!]) {
    risks(filter: $f, orderBy: $o, first: 100) {
      totalCount
      nodes { id identifier title owner { name email }
              residual { score band { name color } } }
    } }`;

  const RISK = `query($id: ID!) { risk(id: $id) {
    identifier title description status stage category department
    treatment treatmentDescription mitigationTargetAt notes updatedAt
    owner { name email } severity { name }
    inherent { score band { name } } residual { score band { name } overridden }
    toleranceLevel withinTolerance
    controls { strength reduces control { identifier name health effectiveness } }
    history(first: 100) { nodes { kind cause occurredAt actor { name email }
                                 changes { field from to } } }
  } }`;

  // --- the live connection -------------------------------------------------

  function setConnection(kind, text) {
    const el = $("connection");
    el.dataset.state = kind;
    el.textContent = text;
  }

  // One socket, one subscription at a time; reconnects with jittered
  // exponential backoff and subscribes again.
  const live = (() => {
    let socket = null;
    let acked = false;
    let attempt = 0;
    let retry = null;
    let current = null;
    let nextId = 1;

    const send = (message) => socket.send(JSON.stringify(message));
    const subscribe = (sub) =>
      send({ id: sub.id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });

    function connect() {
      clearTimeout(retry);
      setConnection("connecting", "Connecting…");
      acked = false;
      socket = new WebSocket(session.socket, "graphql-transport-ws");
      socket.onopen = () =>
        send({ type: "connection_init", payload: { Authorization: `Bearer ${session.token()}` } });
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "connection_ack") {
          acked = true;
          attempt = 0;
          setConnection("live", "Live");
          if (current) subscribe(current);
        } else if (message.type === "ping") {
          send({ type: "pong" });
        } else if (current && message.id === current.id) {
          if (message.type === "next" && message.payload.data) {
            current.onData(message.payload.data);
          } else if (message.type === "next" || message.type === "error") {
            const errors = message.payload.errors || message.payload;
            showProblem(errors[0] ? errors[0].message : "the subscription failed");
          }
        }
      };
      socket.onclose = (event) => {
        acked = false;
        if (event.code === 4401 || event.code === 4403) {
          signOut(`The server refused the token (${event.reason || event.code}). Sign in again.`);
          return;
        }
        const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
        attempt += 1;
        setConnection("retrying", `Disconnected; retrying in ${Math.ceil(delay / 1000)} s`);
        retry = setTimeout(connect, delay);
      };
    }

    return {
      start: connect,
      watch(query, variables, onData) {
        if (current && acked) send({ id: current.id, type: "complete" });
        current = { id: String(nextId++), query, variables, onData };
        if (acked) subscribe(current);
      },
      stop() {
        current = null;
        clearTimeout(retry);
        if (socket) {
          socket.onclose = null;
          socket.close(1000);
        }
        setConnection("idle", "Not connected");
      },
    };
  })();

  // --- drawing -------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function showProblem(message) {
    $("totals").textContent = `Problem: ${message}`;
  }

  const key = (l, i) => `${l}:${i}`;
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  function cellLabel(h, cell) {
    const name = (levels, level) => (levels.find((x) => x.level === level) || { name: level }).name;
    return `Likelihood ${name(h.likelihood, cell.likelihoodLevel)}, impact ${name(h.impact, cell.impactLevel)}: ` +
      `${plural(cell.count, "risk", "risks")}, band ${cell.band.name}`;
  }

  // Builds the table when the register, basis or scales change; otherwise
  // updates the cells in place, so keyboard focus stays where it was, and
  // marks the cells whose count moved.
  function drawHeatmap(h) {
    const before = state.heatmap;
    state.heatmap = h;
    const shape = JSON.stringify([h.register.id, h.basis, h.likelihood, h.impact]);
    const table = $("heatmap");
    const rebuilt = table.dataset.shape !== shape;
    const previous = new Map();
    if (!rebuilt && before) {
      for (const c of before.cells) previous.set(key(c.likelihoodLevel, c.impactLevel), c.count);
    }
    $("map-title").textContent =
      `${h.register.name}: ${h.basis === "RESIDUAL" ? "residual" : "inherent"} risk`;
    $("totals").textContent = `${plural(h.total, "open risk", "open risks")}` +
      (h.unscored ? `; ${h.unscored} not scored yet, so not placed` : "");
    if (rebuilt) {
      table.dataset.shape = shape;
      const body = table.tBodies[0];
      body.replaceChildren();
      const rows = [...h.likelihood].sort((a, b) => b.level - a.level);
      for (const row of rows) {
        const tr = el("tr", {}, el("th", { scope: "row", textContent: row.name }));
        for (const column of h.impact) {
          const button = el("button", { type: "button" });
          button.dataset.l = row.level;
          button.dataset.i = column.level;
          button.append(el("span", { className: "count" }), el("span", { className: "band" }));
          button.addEventListener("click", () => openCell(row.level, column.level));
          tr.append(el("td", {}, button));
        }
        body.append(tr);
      }
      const foot = el("tr", {}, el("td"));
      for (const column of h.impact) foot.append(el("th", { scope: "col", textContent: column.name }));
      table.tFoot.replaceChildren(foot);
      $("legend").replaceChildren(
        ...h.register.scales.bands.map((band) =>
          el("li", {}, swatch(band.color), band.name)),
      );
    }
    for (const cell of h.cells) {
      const button = table.querySelector(
        `button[data-l="${cell.likelihoodLevel}"][data-i="${cell.impactLevel}"]`);
      if (!button) continue;
      button.style.background = cell.band.color;
      button.querySelector(".count").textContent = cell.count;
      button.querySelector(".band").textContent = cell.band.name;
      button.setAttribute("aria-label", cellLabel(h, cell));
      const selected = state.selected &&
        state.selected.l === cell.likelihoodLevel && state.selected.i === cell.impactLevel;
      button.setAttribute("aria-pressed", selected ? "true" : "false");
      const was = previous.get(key(cell.likelihoodLevel, cell.impactLevel));
      if (was !== undefined && was !== cell.count) {
        button.classList.remove("changed");
        void button.offsetWidth; // restarts the animation
        button.classList.add("changed");
        button.dataset.changed = String(Date.now());
        if (selected) openCell(cell.likelihoodLevel, cell.impactLevel);
      }
    }
    $("map").hidden = false;
  }

  function swatch(color) {
    const s = el("span", { className: "swatch" });
    s.style.background = color;
    return s;
  }

  async function openCell(l, i) {
    state.selected = { l, i };
    for (const b of $("heatmap").querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.l) === l && Number(b.dataset.i) === i));
    }
    const residual = state.basis === "RESIDUAL";
    const filter = residual
      ? { residualLikelihoodLevel: [l], residualImpactLevel: [i] }
      : { likelihoodLevel: [l], impactLevel: [i] };
    Object.assign(filter, { registerId: state.register, status: OPEN });
    const order = [{ field: residual ? "RESIDUAL_SCORE" : "INHERENT_SCORE", direction: "DESC" }];
    const h = state.heatmap;
    const cell = h.cells.find((c) => c.likelihoodLevel === l && c.impactLevel === i);
    $("cell-title").textContent = cell ? cellLabel(h, cell) : "Risks";
    try {
      const data = await gql(CELL_RISKS, { f: filter, o: order });
      const rows = data.risks.nodes.map((risk) => {
        const open = el("button", { type: "button", className: "link", textContent: risk.identifier });
        open.addEventListener("click", () => openRisk(risk.id));
        const owner = risk.owner ? risk.owner.name || risk.owner.email || "—" : "—";
        const score = risk.residual
          ? el("span", {}, `${round(risk.residual.score)} `, band(risk.residual.band))
          : "not scored";
        return el("tr", {}, el("td", {}, open), el("td", { textContent: risk.title }),
          el("td", { textContent: owner }), el("td", {}, score));
      });
      $("cell-risks").replaceChildren(...rows);
      $("cell-more").textContent = data.risks.totalCount > rows.length
        ? `The ${rows.length} highest of ${data.risks.totalCount}.`
        : rows.length ? "" : "No open risks in this cell.";
      $("cell").hidden = false;
    } catch (error) {
      $("cell-more").textContent = `Could not list the risks: ${error.message}`;
      $("cell").hidden = false;
    }
  }

  const round = (n) => Math.round(n * 100) / 100;

  function band(b) {
    const pill = el("span", { className: "pill", textContent: b.name });
    if (b.color) pill.style.background = b.color;
    return pill;
  }

  function show(value) {
    if (value === null || value === undefined || value === "") return "—";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  async function openRisk(id) {
    let risk;
    try {
      risk = (await gql(RISK, { id })).risk;
    } catch (error) {
      $("detail-title").textContent = `Could not open the risk: ${error.message}`;
      $("detail").hidden = false;
      return;
    }
    if (!risk) return;
    $("detail-title").textContent = `${risk.identifier} · ${risk.title}`;
    const score = (s) => (s ? `${round(s.score)} (${s.band.name})` : "not scored");
    const fields = [
      ["Status", risk.status], ["Stage", risk.stage], ["Owner", risk.owner && (risk.owner.name || risk.owner.email)],
      ["Severity", risk.severity && risk.severity.name], ["Category", risk.category],
      ["Department", risk.department], ["Inherent", score(risk.inherent)],
      ["Residual", score(risk.residual) + (risk.residual && risk.residual.overridden ? ", overridden" : "")],
      ["Within tolerance", risk.withinTolerance === null ? null : risk.withinTolerance ? "yes" : "no"],
      ["Treatment", risk.treatment], ["Treatment plan", risk.treatmentDescription],
      ["Target date", risk.mitigationTargetAt], ["Description", risk.description],
      ["Notes", risk.notes], ["Updated", new Date(risk.updatedAt).toLocaleString()],
    ];
    $("detail-fields").replaceChildren(
      ...fields.flatMap(([name, value]) => [el("dt", { textContent: name }), el("dd", { textContent: show(value) })]));
    $("detail-controls").replaceChildren(
      ...(risk.controls.length
        ? risk.controls.map((link) => el("li", {},
          `${link.control.identifier ? link.control.identifier + " " : ""}${link.control.name}: `,
          el("strong", { textContent: link.control.health }),
          `, effectiveness ${round(link.control.effectiveness)}, strength ${round(link.strength)}, reduces ${link.reduces}`))
        : [el("li", { textContent: "No controls linked." })]));
    $("detail-history").replaceChildren(
      ...risk.history.nodes.map((event) => {
        const who = event.actor ? event.actor.name || event.actor.email : "the system";
        const changes = event.changes.map((c) => `${c.field}: ${show(c.from)} → ${show(c.to)}`).join("; ");
        return el("li", {},
          el("time", { dateTime: event.occurredAt, textContent: new Date(event.occurredAt).toLocaleString() }),
          ` ${event.kind.toLowerCase()} by ${who} (${event.cause.toLowerCase().replaceAll("_", " ")})`,
          changes ? `: ${changes}` : "");
      }));
    $("detail").hidden = false;
    $("detail-close").focus();
  }

  // --- flow ------------------------------------------------------------------

  function watchHeatmap() {
    state.heatmap = null;
    state.selected = null;
    $("cell").hidden = true;
    $("detail").hidden = true;
    live.watch(HEATMAP, { r: state.register, b: state.basis }, (data) => drawHeatmap(data.heatmapChanged));
  }

  function signOut(message) {
    live.stop();
    session.forget();
    for (const id of ["controls", "map", "cell", "detail", "sign-out"]) $(id).hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
    if (message) setConnection("refused", "Signed out");
    $("token").focus();
  }

  async function start() {
    if (!session.token()) {
      signOut("");
      return;
    }
    let registers;
    try {
      registers = (await gql("{ registers { id name } }")).registers;
    } catch (error) {
      signOut(error.code === "UNAUTHENTICATED" ? `The token was refused: ${error.message}` : error.message);
      return;
    }
    $("sign-in").hidden = true;
    $("sign-out").hidden = false;
    if (!registers.length) {
      $("map").hidden = false;
      $("map-title").textContent = "No registers yet";
      $("totals").textContent = "Create one with createRegister (GraphiQL has the docs), or run serve --demo.";
      return;
    }
    const picker = $("register");
    picker.replaceChildren(...registers.map((r) => el("option", { value: r.id, textContent: r.name })));
    const remembered = sessionStorage.getItem(REGISTER_KEY);
    state.register = registers.some((r) => r.id === remembered) ? remembered : registers[0].id;
    picker.value = state.register;
    $("controls").hidden = false;
    live.start();
    watchHeatmap();
  }

  $("register").addEventListener("change", (event) => {
    state.register = event.target.value;
    sessionStorage.setItem(REGISTER_KEY, state.register);
    watchHeatmap();
  });
  for (const radio of document.querySelectorAll('input[name="basis"]')) {
    radio.addEventListener("change", (event) => {
      state.basis = event.target.value;
      watchHeatmap();
    });
  }
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    session.setToken($("token").value);
    $("token").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("detail-close").addEventListener("click", () => {
    $("detail").hidden = true;
  });
  start();
})();
