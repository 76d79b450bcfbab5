// The statistics page. Above, the service now: the overview the server sends on connecting
// and after every change (never asked for on a timer; the clock here only counts the
// minutes on from the instants it holds). Below, a period's figures, charts and tables from
// /api/v1/stats, fetched again when the period changes or, for a period that includes
// today, a little after the overview says something happened.
import {api, connectLive, element, fill, liveIndicator, pageData, STAFF_LIVE} from "./pages.js";

const data = pageData();
const {text} = data;
const $ = (selector) => document.querySelector(selector);
const language = document.documentElement.lang || "ca";
const numbers = new Intl.NumberFormat(language);
const percent = new Intl.NumberFormat(language, {style: "percent", maximumFractionDigits: 0});
const GROUPS = ["day", "hour", "office", "desk"];
const REFRESH_AFTER_MS = 2000;  // several changes in a row make one request
const COLOURS = {p50: "#0b5cad", p90: "#b3261e", average: "#1d7f3c", target: "#6b4e00",
                 issued: "#7a8a9c", served: "#0b5cad", inside: "#5a2ca0", within: "#1d7f3c"};

let overview = null;
let period = null;         // {from, to, office}
let refreshTimer = null;
let asked = 0;             // the newest request for a period: older answers are dropped
const charts = {};

// Durations ----------------------------------------------------------------------------------

/** A duration in seconds as people read it: "45 s", "12 min", "1 h 05 min". */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} ${text.seconds}`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} ${text.minutes}`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} ${text.minutes}`;
}

function secondsSince(iso) {
  return Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
}

function minutes(seconds) {
  return seconds === null || seconds === undefined ? null : Math.round(seconds / 6) / 10;
}

// The service now ----------------------------------------------------------------------------

function showOverview() {
  if (!overview) return;
  const {occupancy} = overview;
  $("#inside").textContent = numbers.format(occupancy.inside);
  $("#limit").textContent = numbers.format(occupancy.limit);
  $("#full").hidden = !occupancy.full;
  $("#building").classList.toggle("full", occupancy.full);
  const body = $("#now-offices tbody");
  body.replaceChildren(...overview.offices.map((office) => {
    const row = element("tr");
    row.dataset.office = office.code;
    const name = element("th", null, office.code);
    name.scope = "row";
    name.title = office.name;
    const longest = office.waiting_since ? secondsSince(office.waiting_since) : null;
    const late = longest !== null && longest > office.target_wait_s;
    const longestCell = element("td", `number${late ? " late" : ""}`, duration(longest));
    longestCell.dataset.since = office.waiting_since || "";
    longestCell.dataset.target = office.target_wait_s;
    row.append(name, element("td", "number waiting", numbers.format(office.waiting)),
               longestCell, element("td", "number", numbers.format(office.served)),
               element("td", "number", duration(office.wait_max_s)),
               element("td", "number", duration(office.target_wait_s)));
    return row;
  }));
  $("#now-desks").replaceChildren(...overview.desks.map((desk) => {
    const item = element("li", `desk state-${desk.state}`);
    item.dataset.desk = desk.id;
    const state = desk.state === "serving" ? fill(text.serving, {code: desk.ticket})
      : text[desk.state];
    const since = element("span", "since");
    since.dataset.since = desk.since || "";
    item.append(element("strong", null, desk.name), element("span", "state", state), since);
    return item;
  }));
  tick();
}

/** Count the minutes on from the instants the overview holds (no request). */
function tick() {
  for (const cell of document.querySelectorAll("#now-offices td[data-since]")) {
    if (!cell.dataset.since) continue;
    const waited = secondsSince(cell.dataset.since);
    cell.textContent = duration(waited);
    cell.classList.toggle("late", waited > Number(cell.dataset.target));
  }
  for (const since of document.querySelectorAll("#now-desks .since")) {
    since.textContent = since.dataset.since
      ? fill(text.for, {time: duration(secondsSince(since.dataset.since))}) : text.not_today;
  }
}

/** A fresh overview: shown at once; a period that includes today is fetched again a little
 *  later (only a change does that, not the snapshot of a connection). */
function onOverview(payload, {changed = true} = {}) {
  overview = payload;
  showOverview();
  if (changed && period && period.to >= data.today) {
    const shown = period;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      if (period === shown) load(shown);  // unless another period was chosen meanwhile
    }, REFRESH_AFTER_MS);
  }
}

// A period -----------------------------------------------------------------------------------

function query(group, chosen) {
  const parts = new URLSearchParams({from: chosen.from, to: chosen.to, group});
  if (chosen.office) parts.set("office", chosen.office);
  return parts;
}

function chosenPeriod() {
  const preset = document.querySelector('input[name="preset"]:checked');
  const custom = preset.value === "custom";
  return {
    from: custom ? $("#from").value : preset.dataset.from,
    to: custom ? $("#to").value : preset.dataset.to,
    office: $("#office").value,
  };
}

async function load(chosen) {
  clearTimeout(refreshTimer);  // this load is fresher than any refresh waiting
  const mine = ++asked;
  const error = $("#range-error");
  try {
    const answers = await Promise.all(
      GROUPS.map((group) => api("GET", `/stats?${query(group, chosen)}`)));
    if (mine !== asked) return;
    error.hidden = true;
    period = chosen;
    const byGroup = Object.fromEntries(GROUPS.map((group, n) => [group, answers[n].data]));
    show(byGroup);
  } catch (failure) {
    if (mine !== asked) return;
    error.textContent = fill(text.failed, {message: failure.message});
    error.hidden = false;
  }
}

function show(byGroup) {
  const {totals} = byGroup.day;
  $("#range-said").textContent = byGroup.day.from === byGroup.day.to ? byGroup.day.from
    : fill(text.range, {from: byGroup.day.from, to: byGroup.day.to});
  for (const link of document.querySelectorAll("#downloads a")) {
    const parts = query(link.dataset.group, period);
    parts.set("sep", data.csv_separator);
    link.href = `/api/v1/stats.csv?${parts}`;
  }
  showFigures(totals);
  showCharts(byGroup);
  for (const group of GROUPS) showTable(group, byGroup[group].rows);
}

function setFigure(key, value, detail) {
  const box = document.querySelector(`[data-figure="${key}"]`);
  box.querySelector(".value").textContent = value;
  box.querySelector(".detail").textContent = detail || "";
}

function showFigures(totals) {
  const called = totals.served + totals.no_show;
  setFigure("issued", numbers.format(totals.issued));
  setFigure("served", numbers.format(totals.served), totals.issued
    ? fill(text.served_detail, {share: percent.format(totals.served / totals.issued)}) : "");
  setFigure("no_show", numbers.format(totals.no_show));
  setFigure("wait_p50_s", duration(totals.wait_p50_s));
  setFigure("wait_p90_s", duration(totals.wait_p90_s));
  setFigure("within_target",
            totals.within_target === null ? "–" : percent.format(totals.within_target),
            called ? fill(text.target_detail, {n: numbers.format(called)}) : "");
  setFigure("service_avg_s", duration(totals.service_avg_s));
  setFigure("peak_inside", totals.peak_inside === null ? "–" : numbers.format(totals.peak_inside));
  // Those issued to wait outside while the building was full, and how long until let in.
  setFigure("waited_outside", numbers.format(totals.waited_outside),
            totals.outside_wait_p50_s === null ? ""
              : fill(text.outside_detail, {time: duration(totals.outside_wait_p50_s)}));
  setFigure("appointments", numbers.format(totals.appointments_checked_in),
            fill(text.appointments_detail, {kept: totals.appointments_checked_in,
                                            booked: totals.appointments_booked,
                                            missed: totals.appointments_missed}));
}

// Charts -------------------------------------------------------------------------------------

function targetOf(code) {
  const office = data.offices.find((each) => each.code === code);
  return office ? office.target_wait_s : null;
}

/** The target to draw on the hourly waits: the chosen office's, or the offices' common one. */
function commonTarget() {
  if (period.office) return targetOf(period.office);
  const targets = new Set(data.offices.map((office) => office.target_wait_s));
  return targets.size === 1 ? [...targets][0] : null;
}

function line(label, values, colour, extra = {}) {
  return {type: "line", label, data: values, borderColor: colour, backgroundColor: colour,
          spanGaps: true, tension: 0.2, pointRadius: 3, ...extra};
}

function bar(label, values, colour, extra = {}) {
  return {type: "bar", label, data: values, backgroundColor: colour, ...extra};
}

function hourLabel(hour) {
  return `${String(hour).padStart(2, "0")}h`;
}

function draw(key, labels, datasets, options = {}) {
  const box = $(`#chart-${key}`);
  const empty = labels.length === 0;
  box.querySelector(".empty-note").hidden = !empty;
  box.querySelector(".canvas-box").hidden = empty;
  if (charts[key]) charts[key].destroy();
  delete charts[key];
  if (empty) return;
  const {yTitle = text.minutes, percentAxis = false, second = null} = options;
  const scales = {
    y: {beginAtZero: true, title: {display: true, text: yTitle},
        ...(percentAxis ? {max: 100, ticks: {callback: (value) => `${value} %`}} : {})},
  };
  if (second) scales.y2 = {beginAtZero: true, position: "right", grid: {drawOnChartArea: false},
                           title: {display: true, text: second}};
  charts[key] = new window.Chart(box.querySelector("canvas"), {
    data: {labels, datasets},
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      interaction: {mode: "index", intersect: false},
      plugins: {legend: {position: "bottom"}},
      locale: language, scales,
    },
  });
}

function showCharts(byGroup) {
  const hours = byGroup.hour.rows.filter((row) => row.issued > 0);
  const hourLabels = hours.map((row) => hourLabel(row.key));
  const target = commonTarget();
  const waits = [
    line(text.p50, hours.map((row) => minutes(row.wait_p50_s)), COLOURS.p50),
    line(text.p90, hours.map((row) => minutes(row.wait_p90_s)), COLOURS.p90),
    line(text.average, hours.map((row) => minutes(row.wait_avg_s)), COLOURS.average,
         {borderDash: [4, 4]}),
  ];
  if (target !== null) {
    waits.push(line(text.target, hours.map(() => minutes(target)), COLOURS.target,
                    {pointRadius: 0, borderDash: [10, 6], borderWidth: 2}));
  }
  draw("waits", hourLabels, waits);
  draw("flow", hourLabels, [
    bar(text.issued, hours.map((row) => row.issued), COLOURS.issued),
    bar(text.served, hours.map((row) => row.served), COLOURS.served),
  ], {yTitle: text.issued});
  const inside = byGroup.hour.rows.filter((row) => row.peak_inside !== null);
  draw("inside", inside.map((row) => hourLabel(row.key)), [
    bar(text.inside, inside.map((row) => row.peak_inside), COLOURS.inside),
  ], {yTitle: text.inside});
  const offices = byGroup.office.rows.filter((row) => row.issued > 0);
  draw("offices", offices.map((row) => row.key), [
    bar(text.p50, offices.map((row) => minutes(row.wait_p50_s)), COLOURS.p50),
    bar(text.p90, offices.map((row) => minutes(row.wait_p90_s)), COLOURS.p90),
    bar(text.target, offices.map((row) => minutes(targetOf(row.key))), COLOURS.target),
  ]);
  const desks = byGroup.desk.rows.filter((row) => row.key !== null && row.served > 0);
  draw("desks", desks.map((row) => row.key), [
    bar(text.served, desks.map((row) => row.served), COLOURS.served),
    line(text.service_avg, desks.map((row) => minutes(row.service_avg_s)), COLOURS.average,
         {yAxisID: "y2", showLine: false, pointRadius: 6, order: -1}),  // over the bars
  ], {yTitle: text.served, second: text.minutes});
  // Day by day over a period; office by office within one day.
  const oneDay = byGroup.day.from === byGroup.day.to;
  const shares = (oneDay ? byGroup.office.rows : byGroup.day.rows)
    .filter((row) => row.within_target !== null);
  draw("target", shares.map((row) => (oneDay ? row.key : row.key.slice(5))), [
    (oneDay ? bar : line)(text.within,
                          shares.map((row) => Math.round(row.within_target * 100)),
                          COLOURS.within),
  ], {yTitle: text.within, percentAxis: true});
}

// Tables -------------------------------------------------------------------------------------

function keyName(group, key) {
  if (key === null) return text.no_desk;
  if (group === "hour") return hourLabel(key);
  if (group === "weekday") return data.weekdays[key] || key;
  return String(key);
}

function showTable(group, rows) {
  const body = $(`#table-${group} tbody`);
  body.replaceChildren(...rows.map((row) => {
    const made = element("tr");
    const head = element("th", null, keyName(group, row.key));
    head.scope = "row";
    made.append(head);
    const cells = [
      numbers.format(row.issued), numbers.format(row.served), numbers.format(row.no_show),
      numbers.format(row.cancelled), numbers.format(row.expired),
      numbers.format(row.transferred), duration(row.wait_avg_s), duration(row.wait_p50_s),
      duration(row.wait_p90_s), duration(row.wait_max_s), duration(row.service_avg_s),
      row.within_target === null ? "–" : percent.format(row.within_target),
      `${row.appointments_checked_in} / ${row.appointments_booked}`,
      numbers.format(row.waited_outside), duration(row.outside_wait_p50_s),
    ];
    for (const cell of cells) made.append(element("td", "number", cell));
    return made;
  }));
}

// Start --------------------------------------------------------------------------------------

function choosePreset() {
  const preset = document.querySelector('input[name="preset"]:checked');
  if (preset.value !== "custom") {
    $("#from").value = preset.dataset.from;
    $("#to").value = preset.dataset.to;
    load(chosenPeriod());
  }
}

for (const input of document.querySelectorAll('input[name="preset"]')) {
  input.addEventListener("change", choosePreset);
}
for (const input of [$("#from"), $("#to")]) {
  input.addEventListener("input", () => {
    document.querySelector('input[name="preset"][value="custom"]').checked = true;
  });
}
$("#office").addEventListener("change", () => load(chosenPeriod()));
$("#range-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load(chosenPeriod());
});

connectLive({}, {
  // A reconnection's snapshot may hold changes missed meanwhile; the first one does not.
  snapshot: (snapshot, {previous}) => onOverview(snapshot.overview, {changed: previous !== null}),
  overview: (payload) => onOverview(payload),
}, liveIndicator(text), STAFF_LIVE);
setInterval(tick, 1000);
load(chosenPeriod());
