// The dashboard: plain JavaScript and uPlot, no build step. Two views, by URL hash: the runs
// table (#/) and a run (#/runs/ID). While what is shown is live it refreshes every 2 s, asking
// the API with If-None-Match so an unchanged run costs a 304.
'use strict';

const app = document.getElementById('app');
const live = document.getElementById('live');
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED'];
const etags = new Map();
const cache = new Map();
let timer = null;
window.__charts = {}; // the drawn charts, by name: tests read their data

async function get(path) {
  const headers = etags.has(path) ? { 'if-none-match': etags.get(path) } : {};
  const response = await fetch(path, { headers });
  if (response.status === 304) return cache.get(path);
  // A failed request is marked apart from the body: run documents have an `error` field of their own.
  if (!response.ok) return { failed: (await response.json().catch(() => ({}))).error || `HTTP ${response.status}` };
  const body = await response.json();
  if (response.headers.get('etag')) etags.set(path, response.headers.get('etag'));
  cache.set(path, body);
  return body;
}

const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
const dur = (s) =>
  s === null || s === undefined ? '–' : s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
const stateBadge = (state) => `<span class="state ${esc(state)}" data-state="${esc(state)}">${esc(state)}</span>`;

async function showRuns() {
  const body = await get('api/runs?pageSize=100');
  if (body.failed) return (app.innerHTML = `<p class="reason">${esc(body.failed)}</p>`);
  app.innerHTML = `<table id="runs"><thead><tr><th>state</th><th>run</th><th>experiment</th><th>base model</th><th>attempts</th><th>queue wait</th><th>duration</th><th>est. cost</th><th>evaluation</th><th>note</th></tr></thead><tbody>${body.runs
    .map(
      (
        r,
      ) => `<tr data-run="${esc(r.runId)}"><td>${stateBadge(r.state)}</td><td><a href="#/runs/${esc(r.runId)}">${esc(r.runId)}</a></td><td>${esc(r.experiment)}</td><td>${esc(r.baseModel)}</td>
        <td class="num">${r.attempts}</td><td class="num">${dur(r.queueWaitSeconds)}</td><td class="num">${dur(r.durationSeconds)}</td>
        <td class="num">${r.estimatedCostUsd === null ? '–' : `$${r.estimatedCostUsd.toFixed(4)}`}</td>
        <td>${r.headline ? `${esc(r.headline.metric)} ${pct(r.headline.base)} → ${pct(r.headline.tuned)}` : '–'}</td><td class="reason">${esc(r.note)}</td></tr>`,
    )
    .join(
      '',
    )}</tbody></table>${body.runs.length === 0 ? '<p>No runs yet: drop a file with a launch sidecar into the raw bucket.</p>' : ''}`;
  return body.runs.some((r) => !TERMINAL.includes(r.state));
}

function seriesOf(metrics, name) {
  const doc = metrics.filter((m) => m.metric === name).sort((a, b) => b.attempt - a.attempt)[0];
  if (!doc) return new Map();
  return new Map(Object.entries(doc.points).map(([step, p]) => [Number(step), p.value]));
}

function drawChart(name, title, trainName, evalName, metrics, into) {
  const train = seriesOf(metrics, trainName);
  const evaluation = seriesOf(metrics, evalName);
  const steps = [...new Set([...train.keys(), ...evaluation.keys()])].sort((a, b) => a - b);
  const data = [steps, steps.map((s) => train.get(s) ?? null), steps.map((s) => evaluation.get(s) ?? null)];
  const box = document.createElement('div');
  box.className = 'chart';
  box.dataset.chart = name;
  into.appendChild(box);
  if (steps.length === 0) {
    box.textContent = `${title}: no points yet (they appear while the job trains)`;
    return;
  }
  if (window.__charts[name]) window.__charts[name].destroy();
  window.__charts[name] = new uPlot(
    {
      title,
      width: 520,
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 'step' }, {}],
      series: [
        { label: 'step' },
        { label: 'train', stroke: '#2f6fde', spanGaps: true },
        { label: 'eval', stroke: '#d9822b', spanGaps: true, points: { show: true } },
      ],
    },
    data,
    box,
  );
}

async function showRun(runId) {
  const [run, metricsBody, datasetBody] = await Promise.all([
    get(`api/runs/${runId}`),
    get(`api/runs/${runId}/metrics`),
    get(`api/runs/${runId}/dataset`),
  ]);
  if (run.failed) return (app.innerHTML = `<p class="reason">${esc(run.failed)}</p>`);
  const last = run.history[run.history.length - 1];
  const failed = ['FAILED', 'REJECTED', 'CANCELLED'].includes(run.state);
  app.innerHTML = `
    <h1 id="run-title">${esc(run.runId)} ${stateBadge(run.state)}</h1>
    <p>${esc(run.experiment)} · ${esc(run.baseModel)}${run.request?.method === 'PREFERENCE' ? ' · preference tuning' : ''}${run.tunedModel ? ` · tuned model <code>${esc(run.tunedModel.model)}</code>` : ''}</p>
    ${run.lineage ? `<p>continued from <code>${esc(run.lineage.preTunedModel)}</code>${run.lineage.checkpointId ? ` (checkpoint ${esc(run.lineage.checkpointId)})` : ''}${run.lineage.parentRunId ? `, made by run <a href="#/runs/${esc(run.lineage.parentRunId)}">${esc(run.lineage.parentRunId)}</a>` : ''}</p>` : ''}
    ${run.stages ? `<ol id="stages">${run.stages.map((st) => `<li>stage ${st.number}: ${st.method === 'PREFERENCE' ? 'preference tuning' : 'supervised on the preferred answers'}${st.tunedModel ? ` → <code>${esc(st.tunedModel.model)}</code>` : ''}${st.metrics && st.metrics.summary['/train_total_loss'] ? `, final train loss ${esc(st.metrics.summary['/train_total_loss'].final)}` : ''}${st.costNote ? `, cost ${typeof st.costUsd === 'number' ? `$${esc(st.costUsd)}` : 'unknown'} (${esc(st.costNote)})` : ''}</li>`).join('')}</ol>` : ''}
    ${run.tunedModel?.checkpoints?.length ? `<p>checkpoints: ${run.tunedModel.checkpoints.map((c) => `${esc(c.checkpointId)} (epoch ${esc(c.epoch ?? '?')}, step ${esc(c.step ?? '?')})`).join(', ')}</p>` : ''}
    ${failed ? `<p class="reason" id="failure">${esc(run.rejection || (last && last.reason) || (run.error && run.error.message))}</p>` : ''}
    ${run.state === 'QUEUED' && run.queue ? `<p class="queued" id="queue-position">waiting for a tuning slot: position ${run.queue.position} of ${run.queue.of} in the pipeline's queue (${run.queue.maxConcurrent} at a time)</p>` : ''}
    ${run.warning ? `<p class="reason">${esc(run.warning)}</p>` : ''}
    ${((run.tuningDataStats && run.tuningDataStats.warnings) || []).map((w) => `<p class="reason data-warning">${esc(w)}</p>`).join('')}
    <section><h2>Training curves</h2><div class="charts" id="charts"></div></section>
    <section><h2>Attempts</h2><ol class="timeline" id="timeline">${run.attempts
      .map(
        (a) =>
          `<li>attempt ${a.number}${run.stages ? ` (stage ${a.stage})` : ''}${a.region ? ` in ${esc(a.region)}` : ''}: <code>${esc(a.jobName)}</code> submitted ${esc(a.submittedAt)}${a.startedAt ? `, started ${esc(a.startedAt)}` : ''}${a.endedAt ? `, ended ${esc(a.endedAt)} (${esc(a.endState)})` : ', current'} — ${esc(a.reason)}</li>`,
      )
      .join('')}</ol>
      <details><summary>history</summary><ol>${run.history.map((h) => `<li>${esc(h.at)} ${esc(h.from || '·')} → ${esc(h.to)}: ${esc(h.reason)}</li>`).join('')}</ol></details></section>
    <section id="evaluation"><h2>Evaluation, base vs tuned</h2>${evaluationTable(run.evaluation)}</section>
    ${run.evaluation && run.evaluation.result ? '<section id="examples"><h2>Example by example</h2><p id="example-filters"></p><div id="examples-list"></div></section>' : ''}
    <section id="dataset"><h2>Dataset report</h2>${datasetReport(datasetBody)}</section>`;
  const metrics = metricsBody.metrics || [];
  const charts = document.getElementById('charts');
  drawChart('loss', 'loss', '/train_total_loss', '/eval_total_loss', metrics, charts);
  drawChart(
    'accuracy',
    'next-step accuracy',
    '/train_fraction_of_correct_next_step_preds',
    '/eval_fraction_of_correct_next_step_preds',
    metrics,
    charts,
  );
  if (run.evaluation && run.evaluation.result) await showExamples(runId, 'all', run.evaluation.result.verdicts);
  return !TERMINAL.includes(run.state);
}

// Every held-out example side by side (the status API pages runs/{id}/examples), filtered by verdict.
async function showExamples(runId, verdict, counts) {
  const filters = document.getElementById('example-filters');
  const list = document.getElementById('examples-list');
  if (!filters || !list) return;
  const label = { all: 'all', better: 'tuned better', worse: 'tuned worse', same: 'same' };
  filters.innerHTML = Object.keys(label)
    .map(
      (key) =>
        `<button data-verdict="${key}" class="${key === verdict ? 'active' : ''}">${label[key]}${counts && key !== 'all' ? ` (${counts[key]})` : ''}</button>`,
    )
    .join(' ');
  for (const button of filters.querySelectorAll('button'))
    button.addEventListener('click', () => showExamples(runId, button.dataset.verdict, counts));
  const body = await get(`api/runs/${runId}/examples?pageSize=100${verdict === 'all' ? '' : `&verdict=${verdict}`}`);
  if (body.failed) return (list.innerHTML = `<p class="reason">${esc(body.failed)}</p>`);
  const cell = (text) => `<td class="text">${esc(text === null || text === undefined ? '(no answer)' : text)}</td>`;
  // The judge's preference, when the run asked for one; its reasons on hover.
  const judged = body.examples.some((e) => e.judge);
  const judgeCell = (e) =>
    judged ? `<td title="${esc(e.judge ? e.judge.explanation : '')}">${esc(e.judge ? e.judge.winner : '–')}</td>` : '';
  list.innerHTML = body.examples.length
    ? `<table id="examples-table"><thead><tr><th>#</th><th>verdict</th>${judged ? '<th>judge</th>' : ''}<th>prompt</th><th>reference</th><th>base</th><th>tuned</th></tr></thead><tbody>${body.examples
        .map(
          (e) =>
            `<tr class="verdict-${esc(e.verdict)}"><td class="num">${e.index}</td><td>${esc(e.verdict)}</td>${judgeCell(e)}${cell(e.prompt)}${cell(e.reference)}${cell(e.answers.base)}${cell(e.answers.tuned)}</tr>`,
        )
        .join(
          '',
        )}</tbody></table>${body.nextPageToken ? '<p>First 100 shown: the CLI exports all (sft-pipeline examples RUN_ID --csv).</p>' : ''}`
    : '<p>No example with this verdict.</p>';
  list.dataset.verdict = verdict;
}

// A model Vertex refused batch prediction for is asked online, in parts: show how far it got.
function trackText(track) {
  if (track.mode !== 'online' || !track.online) return esc(track.state);
  const parts = Math.ceil(track.online.requests / track.online.partSize);
  return `online (batch refused), ${track.online.partsDone} of ${parts} parts`;
}

function evaluationTable(evaluation) {
  if (evaluation === null || evaluation === undefined) return '<p>No evaluation (no held-out data, or not there yet).</p>';
  const stage1 = evaluation.jobs.stage1;
  if (!evaluation.result)
    return `<p>Inference on ${evaluation.examples} held-out examples: tuned ${trackText(evaluation.jobs.tuned)}, base ${trackText(evaluation.jobs.base)}${stage1 ? `, after stage 1 ${trackText(stage1)}` : ''}.</p>`;
  const r = evaluation.result;
  // A staged run shows the model after its first stage between base and tuned.
  const middle = (value) => (r.stage1 ? `<td class="num">${value}</td>` : '');
  const row = (label, key) => {
    const d = r.delta[key];
    return `<tr><td>${label}</td><td class="num">${pct(r.base[key])}</td>${middle(r.stage1 ? pct(r.stage1[key]) : '')}<td class="num">${pct(r.tuned[key])}</td><td class="num delta ${d > 0 ? 'up' : d < 0 ? 'down' : ''}">${d === null ? '–' : `${d > 0 ? '+' : ''}${(d * 100).toFixed(1)}`}</td></tr>`;
  };
  const c = r.confidence;
  const sure = c
    ? `<p id="confidence">gain ${(c.delta * 100).toFixed(1)} points, 95% interval [${(c.low * 100).toFixed(1)}, ${(c.high * 100).toFixed(1)}]: ${c.significant ? 'significant' : 'not significant (the interval holds 0)'}${r.verdicts ? `; tuned better on ${r.verdicts.better}, worse on ${r.verdicts.worse}, same on ${r.verdicts.same} examples` : ''}</p>`
    : '';
  const byCheckpoint = r.headline.checkpoints
    ? `<p id="checkpoints">${esc(r.metric)} by checkpoint: ${Object.entries(r.headline.checkpoints)
        .map(([arm, value]) => `${esc(arm.replace('checkpoint-', ''))}: ${pct(value)}`)
        .join(
          ', ',
        )}, final (tuned): ${pct(r.headline.tuned)}; best: ${esc(r.best || '–')}${r.selected && r.selected.arm !== 'tuned' ? `, the run's result (${esc(r.selected.model)})` : ''}</p>`
    : '';
  const j = r.judge;
  const judge = j
    ? `<p id="judge">judge (${esc(j.model)}): tuned preferred on ${j.tunedWins}, base on ${j.baseWins}, neither on ${j.ties} of ${j.judged} examples: tuned win rate ${pct(j.tunedWinRate)}, base ${pct(j.baseWinRate)}</p>`
    : r.judgeFailure
      ? `<p id="judge" class="reason">${esc(r.judgeFailure)}</p>`
      : '';
  return `<p>${r.n} held-out examples; headline ${esc(r.metric)}: <strong>${pct(r.headline.base)}${r.stage1 ? ` → ${pct(r.headline.stage1)}` : ''} → ${pct(r.headline.tuned)}</strong></p>${sure}${byCheckpoint}${judge}
    <table id="evaluation-table"><thead><tr><th></th><th>base</th>${r.stage1 ? '<th>after stage 1</th>' : ''}<th>tuned</th><th>delta (points)</th></tr></thead><tbody>
    ${row('exact match', 'exactMatch')}${row('normalised match', 'normalizedMatch')}${row('valid JSON', 'jsonValid')}${row('JSON fields right', 'jsonFieldAccuracy')}${r.base.rougeL !== undefined ? row('ROUGE-L', 'rougeL') + row('BLEU', 'bleu') : ''}${typeof r.tuned.toolCallValid === 'number' ? row('tool call valid', 'toolCallValid') + row('tool name match', 'toolNameMatch') + row('parameter key match', 'toolParameterKeyMatch') + row('parameter key-value match', 'toolParameterKvMatch') : ''}
    <tr><td>blocked / empty</td><td class="num">${r.base.blocked} / ${r.base.empty}</td>${middle(r.stage1 ? `${r.stage1.blocked} / ${r.stage1.empty}` : '')}<td class="num">${r.tuned.blocked} / ${r.tuned.empty}</td><td></td></tr></tbody></table>${classificationTable(r.classification)}`;
}

// Class labels: per-label F1 of each model (precision, recall and the confusion table are in the run document).
function classificationTable(classification) {
  if (!classification || !classification.tuned) return '';
  const base = classification.base;
  const tuned = classification.tuned;
  const rows = tuned.labels
    .map((item) => {
      const before = base && base.labels.find((b) => b.label === item.label);
      return `<tr><td>${esc(item.label)}</td><td class="num">${before ? before.f1.toFixed(2) : '–'}</td><td class="num">${item.f1.toFixed(2)}</td><td class="num">${item.support}</td></tr>`;
    })
    .join('');
  return `<p id="classification">classification: accuracy ${pct(base ? base.accuracy : null)} → ${pct(tuned.accuracy)}, macro F1 ${base ? base.macroF1.toFixed(2) : '–'} → ${tuned.macroF1.toFixed(2)}</p>
    <table id="per-label"><thead><tr><th>label</th><th>base F1</th><th>tuned F1</th><th>examples</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function datasetReport(body) {
  if (!body || body.failed) return `<p>${esc(body && body.failed)}</p>`;
  const d = body.dataset;
  if (!d.report) return `<p class="reason">${esc(d.rejection || d.state)}</p>`;
  const byCode = new Map();
  for (const issue of d.report.errors) byCode.set(issue.code, [...(byCode.get(issue.code) || []), issue]);
  return `<p>${esc(d.source.name)}: ${d.report.examples.valid} valid, ${d.report.examples.invalid} rejected; ${d.report.split.train} train / ${d.report.split.validation} validation; ${d.report.tokens.total} tokens</p>
    ${
      byCode.size === 0
        ? '<p>No errors.</p>'
        : `<table id="errors"><thead><tr><th>code</th><th>count</th><th>lines</th><th>first message</th></tr></thead><tbody>${[...byCode]
            .map(
              ([code, issues]) =>
                `<tr><td><code>${esc(code)}</code></td><td class="num">${issues.length}</td><td>${issues.map((i) => i.line).join(', ')}</td><td>${esc(issues[0].message)}</td></tr>`,
            )
            .join('')}</tbody></table>`
    }`;
}

async function route() {
  clearTimeout(timer);
  const match = /^#\/runs\/([A-Za-z0-9_-]+)/.exec(location.hash);
  let isLive = false;
  try {
    isLive = match ? await showRun(match[1]) : await showRuns();
  } catch (error) {
    app.innerHTML = `<p class="reason">${esc(error.message)}</p>`;
  }
  live.textContent = isLive ? '● live' : '';
  document.body.dataset.ready = 'true';
  if (isLive) timer = setTimeout(route, 2000);
}

window.addEventListener('hashchange', () => {
  window.__charts = {};
  route();
});
route();
