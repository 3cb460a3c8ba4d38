/**
 * The operator console: a single page over the public GraphQL API, with the API key the user types
 * (kept in this browser tab only). It shows what the key's role may do and nothing else: admins
 * manage taxonomies, mining and calibration; scorers score; admins and auditors read the history
 * and the audit log. Plain DOM, uPlot for the charts; bundled by tools/build-console.ts.
 */
import { type Client, createClient } from 'graphql-ws';
import uPlot from 'uplot';
import { foldInclusionPath } from '../transparency/proof-path.ts';

type Role = 'ADMIN' | 'SCORER' | 'AUDITOR';
interface Json {
  // biome-ignore lint/suspicious/noExplicitAny: GraphQL answers are read field by field
  [key: string]: any;
}

const STORAGE = 'neglabel-key';
let key = sessionStorage.getItem(STORAGE) ?? '';
let role: Role | null = null;

/** One GraphQL operation; `files` go as multipart uploads, as the variables $f0, $f1, … */
async function gql(query: string, variables: Json = {}, files: File[] = []): Promise<Json> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  let body: BodyInit;
  if (files.length > 0) {
    const form = new FormData();
    const slots = Object.fromEntries(files.map((_, i) => [`f${i}`, null]));
    form.set('operations', JSON.stringify({ query, variables: { ...variables, ...slots } }));
    form.set('map', JSON.stringify(Object.fromEntries(files.map((_, i) => [String(i), [`variables.f${i}`]]))));
    files.forEach((file, i) => {
      form.set(String(i), file, file.name);
    });
    body = form;
    headers['apollo-require-preflight'] = 'true';
  } else {
    body = JSON.stringify({ query, variables });
    headers['content-type'] = 'application/json';
  }
  const response = await fetch('/graphql', { method: 'POST', headers, body });
  const result = (await response.json()) as { data?: Json; errors?: Array<{ message: string }> };
  if (result.errors?.length) throw new Error(result.errors.map((e) => e.message).join('; '));
  return result.data!;
}

let socket: { key: string; client: Client } | null = null;

/** The subscription connection (graphql-ws on this origin's /graphql), opened again when the key changes. */
function subscriptions(): Client {
  if (socket?.key !== key) {
    void socket?.client.dispose();
    socket = {
      key,
      client: createClient({
        url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
        connectionParams: key ? { authorization: `Bearer ${key}` } : {},
      }),
    };
  }
  return socket.client;
}

const JOB_FIELDS = 'id status phase done total progress error createdAt startedAt';

/** Follows a mining job as the service pushes it (miningJobUpdated); resolves when the job ends. */
function followJob(id: string, onUpdate: (job: Json) => void): Promise<void> {
  return new Promise((resolve) => {
    subscriptions().subscribe<Json>(
      { query: `subscription($id: ID!) { miningJobUpdated(id: $id) { ${JOB_FIELDS} } }`, variables: { id } },
      {
        next: ({ data, errors }) => {
          if (data) onUpdate(data.miningJobUpdated);
          if (errors?.length) notice(errors.map((e) => e.message).join('; '));
        },
        error: (error) => {
          notice(Array.isArray(error) ? error.map((e) => e.message).join('; ') : 'the progress connection closed');
          resolve();
        },
        complete: resolve,
      },
    );
  });
}

/** The variable declarations of uploaded files ($f0, $f1, …) and the ImageInput list that names them. */
const uploadVariables = (files: File[]) => files.map((_, i) => `$f${i}: Upload!`).join(', ');
const uploadImages = (files: File[]) => `[${files.map((_, i) => `{ file: $f${i} }`).join(', ')}]`;

/** Builds an element: h('td', { class: 'ood' }, 'text', child). */
function h(tag: string, attributes: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function table(headers: string[], rows: Array<Array<Node | string>>): HTMLElement {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((c) => h('td', {}, c))))),
  );
}

function button(label: string, onClick: () => unknown, attributes: Record<string, string> = {}): HTMLElement {
  const b = h('button', { class: 'primary', ...attributes }, label);
  b.addEventListener('click', async () => {
    try {
      await onClick();
    } catch (error) {
      notice((error as Error).message);
    }
  });
  return b;
}

function notice(message: string): void {
  const line = document.getElementById('notice')!;
  // the service's messages quote code in backticks, as Markdown does: shown as code, not as ticks
  line.replaceChildren(...message.split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part)));
}

const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
/** A threshold space as people read it ("logit score"). */
const spaceName = (space: string) => space.toLowerCase().replace('_', ' ');
const decision = (ood: boolean) => h('span', { class: ood ? 'ood' : 'id' }, ood ? 'OOD' : 'ID');
const matches = (list: Json[]) => list.map((m) => `${m.label} (${m.similarity.toFixed(3)})`).join(', ');

// ---------------------------------------------------------------------------------------------
// Taxonomies, mining and the negative-set browser (admins act; everyone reads)

const TAXONOMIES = `{ taxonomies(first: 100) { edges { node { id name defaultThreshold thresholdSpace
  versions { version }
  latestVersion { id version labelCount model activeNegativeSet { id labelCount groupCount parameters { method } }
  miningJobs { ${JOB_FIELDS} } } } } } }`;

let taxonomies: Json[] = [];

async function loadTaxonomies(): Promise<Json[]> {
  taxonomies = (await gql(TAXONOMIES)).taxonomies.edges.map((e: Json) => e.node);
  return taxonomies;
}

/** A select of `[value, label]` choices, the first chosen. */
function choices(id: string, options: Array<[string, string]>): HTMLSelectElement {
  return h('select', { id }, ...options.map(([value, label]) => h('option', { value }, label))) as HTMLSelectElement;
}

function taxonomySelect(id: string): HTMLSelectElement {
  const select = h('select', { id }) as HTMLSelectElement;
  for (const t of taxonomies) select.append(h('option', { value: t.id }, t.name));
  return select;
}

/** Seconds left at the rate the job has progressed since it started. */
function eta(job: Json): string {
  if (!job.startedAt || job.progress <= 0 || job.progress >= 1) return '';
  const elapsed = (Date.now() - Date.parse(job.startedAt)) / 1000;
  return `about ${Math.round((elapsed / job.progress) * (1 - job.progress))} s left in this phase`;
}

function jobLine(job: Json): HTMLElement {
  const line = h(
    'div',
    { class: 'row', 'data-job': job.id },
    h('span', {}, job.status),
    h('span', { class: 'muted' }, job.phase),
    h('progress', { max: '1', value: String(job.progress) }),
    h('span', { class: 'muted' }, `${job.done} / ${job.total} ${eta(job)}`),
  );
  if (job.error) line.append(h('span', { class: 'error' }, job.error));
  if (role === 'ADMIN' && (job.status === 'QUEUED' || job.status === 'RUNNING')) {
    line.append(
      button('Cancel', async () => {
        await gql('mutation($id: ID!) { cancelMiningJob(id: $id) { id } }', { id: job.id });
      }),
    );
  }
  return line;
}

const running = (job: Json | undefined) => job !== undefined && ['QUEUED', 'RUNNING'].includes(job.status);

async function renderTaxonomies(view: HTMLElement): Promise<void> {
  await loadTaxonomies();
  // the cells a running job changes, refreshed in place (a full redraw would wipe what is being typed)
  const setCell = (t: Json) => {
    const set = t.latestVersion.activeNegativeSet;
    if (!set) return h('div', {}, 'none yet');
    return h(
      'div',
      { class: 'row' },
      `${set.labelCount} (${set.parameters.method}, ${set.groupCount} groups)`,
      button('Negatives', () => renderNegatives(view, t.name, set.id)),
    );
  };
  const jobCell = (t: Json) => {
    const job = t.latestVersion.miningJobs[0];
    return job ? jobLine(job) : h('div', {}, 'none');
  };
  const cells = new Map<string, { set: HTMLElement; job: HTMLElement }>();
  const list = h('section', { class: 'card', id: 'taxonomies' }, h('h2', {}, 'Taxonomies'));
  list.append(
    table(
      ['name', 'version', 'labels', 'model', 'negative set', 'latest mining job', ''],
      taxonomies.map((t) => {
        const v = t.latestVersion;
        const actions = h('div', { class: 'row' });
        if (role === 'ADMIN') {
          // the parameters people change most; the rest keep the reference defaults
          const method = h('select', {}, h('option', {}, 'NEGLABEL'), h('option', {}, 'CSP')) as HTMLSelectElement;
          const number = (title: string, value: string, step: string) =>
            h('input', { type: 'number', title, value, step, min: step, class: 'narrow' }) as HTMLInputElement;
          const ratio = number('share of each part of speech kept', '0.15', '0.01');
          const groups = number('groups', '100', '1');
          actions.append(
            method,
            ratio,
            groups,
            button('Mine', async () => {
              const { startMining } = await gql('mutation($i: StartMiningInput!) { startMining(input: $i) { id } }', {
                i: {
                  taxonomyId: t.id,
                  method: method.value,
                  selectionRatio: Number(ratio.value),
                  groups: Number(groups.value),
                },
              });
              follow(t.id, startMining.id);
            }),
          );
        }
        const holder = { set: h('div', {}, setCell(t)), job: h('div', {}, jobCell(t)) };
        cells.set(t.id, holder);
        return [
          t.name,
          `${v.version} (of ${t.versions.length})`,
          String(v.labelCount),
          v.model,
          holder.set,
          holder.job,
          actions,
        ];
      }),
    ),
  );
  view.append(list);
  if (role === 'ADMIN') view.append(createTaxonomyForm());
  // live progress, pushed: each running job's row follows it, and the row is read again once it ends
  const followed = new Set<string>();
  const follow = (taxonomyId: string, jobId: string) => {
    if (followed.has(jobId)) return;
    followed.add(jobId);
    void followJob(jobId, (job) => {
      if (list.isConnected) cells.get(taxonomyId)?.job.replaceChildren(jobLine(job));
    }).then(async () => {
      if (!list.isConnected) return;
      for (const t of await loadTaxonomies()) {
        cells.get(t.id)?.set.replaceChildren(setCell(t));
        cells.get(t.id)?.job.replaceChildren(jobCell(t));
      }
    });
  };
  for (const t of taxonomies) {
    const job = t.latestVersion.miningJobs[0];
    if (running(job)) follow(t.id, job.id);
  }
}

function createTaxonomyForm(): HTMLElement {
  const name = h('input', { placeholder: 'name', id: 'new-name' }) as HTMLInputElement;
  const labels = h('textarea', { rows: '5', cols: '50', placeholder: 'class names, one per line', id: 'new-labels' });
  const file = h('input', { type: 'file', accept: '.txt,.csv' }) as HTMLInputElement;
  file.addEventListener('change', async () => {
    if (file.files?.[0]) (labels as HTMLTextAreaElement).value = await file.files[0].text();
  });
  return h(
    'section',
    { class: 'card', 'data-admin': '' },
    h('h2', {}, 'New taxonomy'),
    h('div', { class: 'row' }, name, h('span', { class: 'muted' }, 'or load a list:'), file),
    labels,
    h(
      'div',
      { class: 'row' },
      button('Create', async () => {
        const list = (labels as HTMLTextAreaElement).value
          .split(/[\n,]/)
          .map((l) => l.trim())
          .filter(Boolean);
        await gql('mutation($i: CreateTaxonomyInput!) { createTaxonomy(input: $i) { id } }', {
          i: { name: name.value.trim(), labels: list },
        });
        await show('taxonomies');
      }),
    ),
  );
}

/** A set's negatives, searched, filtered and ordered on the server over all of them, a page at a time. */
async function renderNegatives(view: HTMLElement, taxonomy: string, setId: string): Promise<void> {
  const search = h('input', { placeholder: 'search words', id: 'negative-search' }) as HTMLInputElement;
  const pos = choices('negative-pos', [
    ['', 'any part of speech'],
    ['NOUN', 'nouns'],
    ['ADJECTIVE', 'adjectives'],
  ]);
  const group = h('input', {
    type: 'number',
    min: '0',
    placeholder: 'group',
    id: 'negative-group',
  }) as HTMLInputElement;
  const order = choices('negative-order', [
    ['RANK', 'set order'],
    ['MAX_SIMILARITY', 'most similar to an ID label first'],
    ['QUANTILE_SIMILARITY', 'highest quantile similarity first'],
    ['WORD', 'alphabetical'],
  ]);
  const count = h('p', { class: 'muted', id: 'negative-count' });
  const holder = h('div');
  const more = h('div');
  const rows: string[][] = [];
  let request = 0;
  const load = async (after: string | null) => {
    const mine = ++request;
    const data = await gql(
      'query($id: ID!, $after: String, $search: String, $pos: PartOfSpeech, $group: Int, $order: NegativeLabelOrder) ' +
        '{ negativeLabelSet(id: $id) { labels(first: 100, after: $after, search: $search, partOfSpeech: $pos, ' +
        'group: $group, orderBy: $order) { totalCount edges { node { word partOfSpeech group quantileSimilarity ' +
        'maxSimilarity } } pageInfo { hasNextPage endCursor } } } }',
      {
        id: setId,
        after,
        search: search.value.trim() || null,
        pos: pos.value || null,
        group: group.value === '' ? null : Number(group.value),
        order: order.value,
      },
    );
    if (mine !== request) return; // a newer filter answered meanwhile
    const page = data.negativeLabelSet.labels;
    if (after === null) rows.length = 0;
    for (const { node: l } of page.edges)
      rows.push([
        l.word,
        l.partOfSpeech.toLowerCase(),
        String(l.group),
        l.quantileSimilarity.toFixed(3),
        l.maxSimilarity.toFixed(3),
      ]);
    count.textContent = `${page.totalCount.toLocaleString()} match · showing ${rows.length.toLocaleString()}`;
    holder.replaceChildren(
      rows.length
        ? table(['word', 'part of speech', 'group', 'similarity (quantile)', 'max similarity'], rows)
        : h('p', { class: 'muted' }, 'No negative label matches these filters.'),
    );
    more.replaceChildren(
      ...(page.pageInfo.hasNextPage ? [button('Show 100 more', () => load(page.pageInfo.endCursor))] : []),
    );
  };
  let pending: ReturnType<typeof setTimeout> | undefined;
  const reload = () => {
    clearTimeout(pending);
    pending = setTimeout(() => void load(null).catch((e) => notice(e.message)), 200);
  };
  for (const control of [search, pos, group, order]) control.addEventListener('input', reload);
  await load(null);
  view.append(
    h(
      'section',
      { class: 'card', id: 'negatives' },
      h('h2', {}, `Negative labels of ${taxonomy}`),
      h('div', { class: 'row' }, search, pos, group, order),
      count,
      holder,
      more,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Scoring and calibration

function dropZone(label: string, onFiles: (files: File[]) => unknown): HTMLElement {
  const input = h('input', { type: 'file', accept: 'image/*', multiple: '' }) as HTMLInputElement;
  const zone = h('div', { class: 'drop' }, label, h('br'), input);
  input.addEventListener('change', () => input.files && onFiles([...input.files]));
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    if (event.dataTransfer?.files) onFiles([...event.dataTransfer.files]);
  });
  return zone;
}

/** Why an image got its decision: its number in the threshold's space against the threshold. */
function decisionReason(r: Json): string {
  const space = r.thresholdSpace as string;
  const value = { SCORE: r.score, LOGIT_SCORE: r.logitScore, ADAPTIVE_SCORE: r.adaptiveScore }[space];
  return `${spaceName(space)} ${value.toFixed(4)} ${r.isOOD ? '<' : '≥'} threshold ${r.threshold.toFixed(4)}`;
}

const SCORE_BATCH =
  'scoreImageBatch(input: { taxonomyId: $t, images: IMAGES }) { __typename ' +
  '... on ImageScore { index score logitScore adaptiveScore isOOD threshold thresholdSpace ' +
  'topLabels { label similarity } topNegatives { label similarity } } ' +
  '... on ImageScoreFailure { index code message } }';

async function renderScoring(view: HTMLElement): Promise<void> {
  await loadTaxonomies();
  const select = taxonomySelect('score-taxonomy');
  const results = h('div', { id: 'score-results' });
  let previews: string[] = [];
  const score = async (files: File[]) => {
    notice(''); // an earlier batch's error is not about this one
    const uploaded = await gql(
      `mutation($t: ID!, ${uploadVariables(files)}) { ${SCORE_BATCH.replace('IMAGES', uploadImages(files))} }`,
      { t: select.value },
      files,
    );
    for (const url of previews) URL.revokeObjectURL(url);
    previews = files.map((file) => URL.createObjectURL(file));
    const outcomes: Json[] = uploaded.scoreImageBatch;
    const failed = outcomes.filter((r) => r.__typename === 'ImageScoreFailure').length;
    const image = (r: Json) =>
      h(
        'span',
        { class: 'image' },
        h('img', { class: 'preview', src: previews[r.index], alt: '' }),
        files[r.index].name,
      );
    results.replaceChildren(
      h(
        'p',
        { id: 'score-summary' },
        `${outcomes.length - failed} scored and recorded` +
          (failed ? `, ${failed} could not be scored (nothing recorded for ${failed === 1 ? 'it' : 'them'})` : ''),
      ),
      table(
        ['image', 'score', 'decision', 'top ID labels', 'top negatives'],
        outcomes.map((r) =>
          r.__typename === 'ImageScoreFailure'
            ? [image(r), '', h('span', { class: 'error' }, r.code), r.message, '']
            : [
                image(r),
                r.score.toFixed(4),
                h('span', {}, decision(r.isOOD), h('br'), h('small', { class: 'muted' }, decisionReason(r))),
                matches(r.topLabels),
                matches(r.topNegatives),
              ],
        ),
      ),
    );
  };
  view.append(
    h(
      'section',
      { class: 'card', id: 'scoring' },
      h('h2', {}, 'Score images'),
      h('div', { class: 'row' }, 'taxonomy', select),
      dropZone('Drop images here or choose files', (files) => score(files).catch((e) => notice(e.message))),
      results,
    ),
  );
  if (role === 'ADMIN') view.append(calibrationCard());
}

/** Below this many ID images a calibrated threshold moves a lot with each image (the card says so). */
const FEW_CALIBRATION_IMAGES = 100;

/** The 95 % Wilson score interval of a rate measured as `rate` over `n` trials. */
function wilsonInterval(rate: number, n: number): [number, number] {
  const z = 1.96;
  const centre = (rate + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((rate * (1 - rate)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

function calibrationCard(): HTMLElement {
  const select = taxonomySelect('calibrate-taxonomy');
  const target = h('input', {
    id: 'calibrate-target',
    type: 'number',
    min: '0.5',
    max: '1',
    step: '0.01',
    value: '0.95',
    title: 'share of ID images to keep as ID',
  }) as HTMLInputElement;
  const space = choices('calibrate-space', [
    ['SCORE', 'score'],
    ['LOGIT_SCORE', 'logit score (when scores saturate)'],
  ]);
  const outcome = h('div', { id: 'calibration' });
  let chosen: File[] = [];
  const calibrate = async (apply: boolean) => {
    const targetTpr = Number(target.value);
    if (!(targetTpr > 0 && targetTpr <= 1)) throw new Error('The target must be a share of ID images in (0, 1].');
    const data = await gql(
      `mutation($t: ID!, $apply: Boolean, $target: Float, $space: ScoreSpace, ${uploadVariables(chosen)}) { ` +
        'calibrateThreshold(input: { taxonomyId: $t, apply: $apply, targetTpr: $target, space: $space, ' +
        `images: ${uploadImages(chosen)} }) { threshold space achievedTpr targetTpr imageCount applied } }`,
      { t: select.value, apply, target: targetTpr, space: space.value },
      chosen,
    );
    const c = data.calibrateThreshold;
    // the threshold it replaces, as the page knew it; then the page learns the new one
    const taxonomy = taxonomies.find((t) => t.id === select.value);
    if (c.applied) await loadTaxonomies();
    const [low, high] = wilsonInterval(c.achievedTpr, c.imageCount);
    outcome.replaceChildren(
      h(
        'p',
        { id: 'calibration-change' },
        `${c.applied ? 'was' : 'current'} ${taxonomy ? `${taxonomy.defaultThreshold.toFixed(4)} ` : ''}` +
          `(${spaceName(taxonomy?.thresholdSpace ?? '')}) → ` +
          `${c.applied ? 'now' : 'proposed'} ${c.threshold.toFixed(4)} (${spaceName(c.space)})`,
      ),
      h(
        'p',
        {},
        `keeps ${percent(c.achievedTpr)} of ${c.imageCount} ID images (target ${percent(c.targetTpr)}); on new ID ` +
          `images expect ${percent(low)} to ${percent(high)} (95 % interval)${c.applied ? ': applied' : ''}`,
      ),
      c.imageCount < FEW_CALIBRATION_IMAGES
        ? h(
            'p',
            { class: 'warning', id: 'calibration-warning' },
            `Only ${c.imageCount} images: a threshold from so few moves with every image. Calibrate on at least ` +
              `${FEW_CALIBRATION_IMAGES} ID images that look like what you will score.`,
          )
        : '',
      c.applied ? '' : button('Apply this threshold', () => calibrate(true)),
    );
  };
  const recalibrate = () => {
    if (chosen.length) calibrate(false).catch((e) => notice(e.message));
  };
  for (const control of [select, target, space]) control.addEventListener('change', recalibrate);
  return h(
    'section',
    { class: 'card', 'data-admin': '' },
    h('h2', {}, 'Calibrate the threshold on known-ID images'),
    h('div', { class: 'row' }, 'taxonomy', select, 'keep as ID', target, 'on', space),
    dropZone('Drop ID images', (files) => {
      chosen = files;
      recalibrate();
    }),
    outcome,
  );
}

// ---------------------------------------------------------------------------------------------
// History: OOD rate per day, score histogram with the threshold, records, similar records

/** Charts fill their share of the row (between 280 and 900 px) and follow it when the window resizes. */
function fitToHolder(plot: uPlot, holder: HTMLElement): void {
  const fit = () => {
    const width = Math.max(280, Math.min(900, Math.floor(holder.clientWidth)));
    if (holder.clientWidth > 0 && Math.abs(width - plot.width) > 1) plot.setSize({ width, height: plot.height });
  };
  new ResizeObserver(fit).observe(holder);
}

function lineChart(title: string, xs: number[], ys: number[]): HTMLElement {
  const holder = h('div', { class: 'chart', 'data-chart': title });
  // at least a week wide, so that a young history's few days do not stretch over years
  const DAY = 86_400;
  const last = xs.length ? xs[xs.length - 1] : Date.now() / 1000;
  const first = Math.min(xs[0] ?? last, last - 6 * DAY);
  const plot = new uPlot(
    {
      title,
      width: 520,
      height: 220,
      // the legend names the series; values would read "--" until the pointer is over the chart
      legend: { live: false },
      series: [{}, { label: 'OOD rate', stroke: '#c0392b', width: 2, points: { size: 6 } }],
      scales: { x: { range: [first - DAY / 2, last + DAY / 2] }, y: { range: [0, 1] } },
    },
    [xs, ys],
    holder,
  );
  fitToHolder(plot, holder);
  return holder;
}

/**
 * The histogram of `score` (0 to 1). The threshold is drawn only when it is a score threshold: one
 * in the logit or adaptive space has another axis, and a line here would sit where it means nothing.
 */
function histogramChart(bins: Json[], threshold: number, space: string): HTMLElement {
  const holder = h('div', { class: 'chart', 'data-chart': 'histogram' });
  const centres = bins.map((b) => (b.lower + b.upper) / 2);
  const drawn = space === 'SCORE';
  const plot = new uPlot(
    {
      title: drawn
        ? `Score histogram (threshold ${threshold.toFixed(3)})`
        : `Score histogram (threshold ${threshold.toFixed(3)} is on the ${spaceName(space)}: ` +
          'not drawn on this axis)',
      width: 520,
      height: 220,
      // the legend names the series; values would read "--" until the pointer is over the chart
      legend: { live: false },
      scales: { x: { time: false, range: [0, 1] } },
      series: [
        {},
        { label: 'images', stroke: '#2f5bd3', fill: 'rgba(47,91,211,0.3)', paths: uPlot.paths.bars!({ size: [0.9] }) },
      ],
      hooks: {
        // the threshold as a vertical line: images left of it are OOD
        draw: [
          (u: uPlot) => {
            if (!drawn) return;
            const x = u.valToPos(threshold, 'x', true);
            u.ctx.save();
            u.ctx.strokeStyle = '#c0392b';
            u.ctx.setLineDash([6, 4]);
            u.ctx.beginPath();
            u.ctx.moveTo(x, u.bbox.top);
            u.ctx.lineTo(x, u.bbox.top + u.bbox.height);
            u.ctx.stroke();
            u.ctx.restore();
          },
        ],
      },
    },
    [centres, bins.map((b) => b.count)],
    holder,
  );
  fitToHolder(plot, holder);
  return holder;
}

const fromHex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** Whether an inclusion proof leads to its checkpoint's root, hashed here with WebCrypto (RFC 6962 nodes). */
async function proofLeadsToRoot(proof: Json): Promise<boolean> {
  const node = async (left: Promise<Uint8Array>, right: Promise<Uint8Array>) => {
    const [l, r] = await Promise.all([left, right]);
    const input = new Uint8Array(1 + l.length + r.length);
    input.set([1]);
    input.set(l, 1);
    input.set(r, 1 + l.length);
    return new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  };
  const hashes: Array<Promise<Uint8Array>> = proof.hashes.map((h: string) => Promise.resolve(fromHex(h)));
  const top = foldInclusionPath(
    Promise.resolve(fromHex(proof.leafHash)),
    proof.leafIndex,
    proof.treeSize,
    hashes,
    node,
  );
  return top !== null && toHex(await top) === proof.checkpoint.rootHash;
}

/** A record's place in the signed log: checked in this browser when it can hash (a secure context). */
function sealedCell(proof: Json | null): HTMLElement {
  if (!proof) return h('span', { class: 'muted', title: 'sealed within seconds of scoring' }, 'not yet');
  const cell = h('span', { title: `leaf ${proof.leafIndex}; the proof is checked here against the checkpoint root` });
  cell.textContent = `leaf ${proof.leafIndex} of ${proof.treeSize}`;
  if (!globalThis.crypto?.subtle) return cell;
  proofLeadsToRoot(proof).then(
    (ok) => {
      cell.textContent = ok ? `✓ in checkpoint ${proof.treeSize}` : '✗ the proof does not lead to the checkpoint';
      cell.className = ok ? 'id' : 'ood';
    },
    () => {},
  );
  return cell;
}

async function renderHistory(view: HTMLElement): Promise<void> {
  await loadTaxonomies();
  const select = taxonomySelect('history-taxonomy');
  const decisionFilter = choices('history-decision', [
    ['', 'all decisions'],
    ['ID', 'ID'],
    ['OOD', 'OOD'],
  ]);
  const charts = h('div', { class: 'charts' });
  const records = h('div', { id: 'records' });
  const more = h('div', { class: 'row' });
  let after: string | null = null;
  const loadRecords = async (reset: boolean) => {
    if (reset) after = null;
    const filter: Json = { taxonomyId: select.value };
    if (decisionFilter.value) filter.decision = decisionFilter.value;
    const data = await gql(
      'query($f: ScoringRecordFilter, $after: String) { scoringRecords(filter: $f, first: 20, after: $after) { ' +
        'edges { node { id createdAt caller filename thumbnail score isOOD predictedLabel topNegatives { label } ' +
        'proof { leafIndex treeSize leafHash hashes checkpoint { rootHash } } } } ' +
        'pageInfo { endCursor hasNextPage } } }',
      { f: filter, after },
    );
    const page = data.scoringRecords;
    const rows = page.edges.map(({ node: r }: Json) => [
      r.thumbnail ? h('img', { src: r.thumbnail, alt: r.filename ?? 'thumbnail', class: 'thumbnail' }) : '',
      r.id,
      new Date(r.createdAt).toLocaleString(),
      r.caller,
      r.filename ?? '',
      r.score.toFixed(4),
      decision(r.isOOD),
      r.predictedLabel,
      r.topNegatives.map((n: Json) => n.label).join(', '),
      sealedCell(r.proof),
    ]);
    const headers = ['', 'id', 'scored', 'caller', 'file', 'score', 'decision', 'predicted', 'top negatives', 'sealed'];
    if (reset) records.replaceChildren(table(headers, rows));
    else records.querySelector('tbody')!.append(...table(headers, rows).querySelectorAll('tbody tr'));
    after = page.pageInfo.endCursor;
    more.replaceChildren(page.pageInfo.hasNextPage ? button('Next page', () => loadRecords(false)) : '');
  };
  const load = async () => {
    const taxonomy = taxonomies.find((t) => t.id === select.value);
    if (!taxonomy) return;
    const stats = (
      await gql(
        'query($f: ScoringRecordFilter) { scoringStats(filter: $f, interval: DAY, histogramBins: 20) { total ' +
          'oodRate histogram { lower upper count } buckets { start oodRate } } }',
        { f: { taxonomyId: taxonomy.id } },
      )
    ).scoringStats;
    charts.replaceChildren(
      h('p', {}, `${stats.total} records, OOD rate ${percent(stats.oodRate)}`),
      lineChart(
        'OOD rate per day',
        stats.buckets.map((b: Json) => Date.parse(b.start) / 1000),
        stats.buckets.map((b: Json) => b.oodRate),
      ),
      histogramChart(stats.histogram, taxonomy.defaultThreshold, taxonomy.thresholdSpace),
    );
    await loadRecords(true);
  };
  const similarText = h('input', { placeholder: 'describe an image, e.g. "a red car"' }) as HTMLInputElement;
  const similar = h('div');
  // the filters live in the URL: a link (an alert's, a colleague's) opens the same records
  const linked = currentRoute().params;
  if (taxonomies.some((t) => t.id === linked.get('taxonomy'))) select.value = linked.get('taxonomy')!;
  if (['ID', 'OOD'].includes(linked.get('decision') ?? '')) decisionFilter.value = linked.get('decision')!;
  const remember = () => navigate('history', { taxonomy: select.value, decision: decisionFilter.value });
  select.addEventListener('change', () => {
    remember();
    load().catch((e) => notice(e.message));
  });
  decisionFilter.addEventListener('change', () => {
    remember();
    loadRecords(true).catch((e) => notice(e.message));
  });
  view.append(
    h('section', { class: 'card', id: 'history' }, h('h2', {}, 'History'), h('div', { class: 'row' }, select), charts),
    h('section', { class: 'card' }, h('h2', {}, 'Records'), h('div', { class: 'row' }, decisionFilter), records, more),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Similar records'),
      h(
        'div',
        { class: 'row' },
        similarText,
        button('Search', async () => {
          const data = await gql(
            'query($t: String, $x: ID) { similarScoringRecords(text: $t, taxonomyId: $x, first: 10) { similarity ' +
              'record { id filename score isOOD predictedLabel } } }',
            { t: similarText.value, x: select.value },
          );
          similar.replaceChildren(
            table(
              ['similarity', 'record', 'file', 'score', 'decision', 'predicted'],
              data.similarScoringRecords.map((m: Json) => [
                m.similarity.toFixed(3),
                m.record.id,
                m.record.filename ?? '',
                m.record.score.toFixed(4),
                decision(m.record.isOOD),
                m.record.predictedLabel,
              ]),
            ),
          );
        }),
      ),
      similar,
    ),
  );
  await load();
}

/** Downloads the history log (GET /v1/history/log, with the console's key) as a file. */
async function downloadLog(): Promise<void> {
  const response = await fetch('/v1/history/log', { headers: key ? { authorization: `Bearer ${key}` } : {} });
  if (!response.ok) throw new Error(((await response.json()) as Json).error?.message ?? `HTTP ${response.status}`);
  const link = h('a', { href: URL.createObjectURL(await response.blob()), download: 'neglabel-history-log.jsonl' });
  link.click();
  URL.revokeObjectURL(link.getAttribute('href')!);
}

/** An audit entry's details (a JSON object) as `key: value` pairs, ids of taxonomies by their names. */
function readableDetails(details: string): string {
  const value = (v: unknown): string => {
    if (typeof v === 'string') return named(v);
    if (v === null || typeof v !== 'object') return String(v);
    // lists are logged as their length (never the images or labels themselves)
    const count = (v as { count?: unknown }).count;
    return Object.keys(v).length === 1 && typeof count === 'number' ? `${count} items` : JSON.stringify(v);
  };
  return Object.entries(JSON.parse(details) as Json)
    .map(([k, v]) => `${k}: ${value(v)}`)
    .join(', ');
}

/** A taxonomy's name for its id (other ids as they are). */
const named = (id: string | null) => (id ? (taxonomies.find((t) => t.id === id)?.name ?? id) : '');

async function renderAudit(view: HTMLElement): Promise<void> {
  await loadTaxonomies();
  const data = await gql(
    '{ auditLog(first: 100) { edges { node { createdAt actor action target details } } } ' +
      'historyCheckpoint { treeSize rootHash signedAt keyId } historySigningKeys { keyId publicKey firstUsedAt } }',
  );
  const head = data.historyCheckpoint;
  view.append(
    h(
      'section',
      { class: 'card', id: 'checkpoint' },
      h('h2', {}, 'Verifiable history'),
      h(
        'p',
        {},
        head
          ? `Checkpoint of ${head.treeSize} records and audit entries, signed ` +
              `${new Date(head.signedAt).toLocaleString()}; ` +
              `root ${head.rootHash}.`
          : 'Nothing is sealed yet: the first checkpoint is signed within seconds of the first record.',
      ),
      table(
        ['signing key (SHA-256 fingerprint)', 'first used', 'public key'],
        data.historySigningKeys.map((k: Json) => [
          k.keyId,
          new Date(k.firstUsedAt).toLocaleString(),
          h('details', {}, h('summary', {}, 'PEM'), h('pre', {}, k.publicKey)),
        ]),
      ),
      h(
        'p',
        {},
        'Check a download offline with npm run verify-history -- --export <file> --public-key <pem> (README, ' +
          '"Verifiable history").',
      ),
      h(
        'div',
        { class: 'row' },
        button('Download the log (JSON Lines)', () => downloadLog()),
      ),
    ),
  );
  view.append(
    h(
      'section',
      { class: 'card', id: 'audit' },
      h('h2', {}, 'Audit log (newest first)'),
      table(
        ['when', 'actor', 'action', 'target', 'details'],
        data.auditLog.edges.map(({ node: e }: Json) => [
          new Date(e.createdAt).toLocaleString(),
          e.actor,
          e.action,
          named(e.target),
          readableDetails(e.details),
        ]),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// API keys (admins): the first admin key in open mode, then keys per service and auditor

let openMode = false;

/** A new key, shown once: with a copy button and the warning that it cannot be shown again. */
function shownOnce(created: Json): HTMLElement {
  const value = h('code', { id: 'new-key' }, created.key);
  return h(
    'div',
    { class: 'card', id: 'key-shown' },
    h('p', {}, `The key of "${created.apiKey.name}" (${created.apiKey.role.toLowerCase()}):`),
    h(
      'div',
      { class: 'row' },
      value,
      button('Copy', async () => {
        await navigator.clipboard?.writeText(created.key).catch(() => {});
        notice('');
      }),
    ),
    h(
      'p',
      { class: 'error' },
      'It is shown this once: the service keeps only its hash. Store it now (a secret manager, the ' +
        "service's environment); a lost key is revoked and replaced, never shown again.",
    ),
  );
}

async function renderKeys(view: HTMLElement): Promise<void> {
  await loadTaxonomies();
  const name = h('input', { id: 'key-name', placeholder: 'who uses it, e.g. checkout-service' }) as HTMLInputElement;
  const roleSelect = h(
    'select',
    { id: 'key-role' },
    ...(openMode ? ['ADMIN'] : ['SCORER', 'AUDITOR', 'ADMIN']).map((r) => h('option', {}, r)),
  ) as HTMLSelectElement;
  const scope = h(
    'select',
    { id: 'key-scope', multiple: 'true', title: 'limit the key to these taxonomies (none selected: all)' },
    ...taxonomies.map((t) => h('option', { value: t.id }, t.name)),
  ) as HTMLSelectElement;
  const result = h('div');
  const form = h(
    'section',
    { class: 'card', id: 'keys-create' },
    h('h2', {}, openMode ? 'Create your admin key first' : 'New key'),
    openMode
      ? h(
          'p',
          {},
          'No API key exists yet, so this service runs open: anyone on this machine acts as an admin. The first ' +
            'key must be an ADMIN key; once it exists every request needs a key, for good, and this console ' +
            'switches to it.',
        )
      : h('p', { class: 'muted' }, 'A scorer scores; an auditor reads the history and the audit log.'),
    h(
      'div',
      { class: 'row' },
      h('label', {}, 'name ', name),
      h('label', {}, 'role ', roleSelect),
      ...(openMode || taxonomies.length === 0 ? [] : [h('label', {}, 'only these taxonomies ', scope)]),
      button('Create key', async () => {
        const taxonomyIds = [...scope.selectedOptions].map((o) => o.value);
        const data = await gql(
          'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { id name role } } }',
          { i: { name: name.value.trim(), role: roleSelect.value, ...(taxonomyIds.length && { taxonomyIds }) } },
        );
        if (openMode) {
          // open mode ended with this key: the console goes on with it
          key = data.createApiKey.key;
          sessionStorage.setItem(STORAGE, key);
          keyInput.value = key;
          await start('keys');
          document.getElementById('keys-create')?.after(shownOnce(data.createApiKey));
          return;
        }
        result.replaceChildren(shownOnce(data.createApiKey));
        await listKeys();
      }),
    ),
    result,
  );
  const list = h('section', { class: 'card', id: 'keys' }, h('h2', {}, 'Keys'));
  const listKeys = async () => {
    const { apiKeys } = await gql('{ apiKeys { id name role keyPrefix taxonomyIds createdAt createdBy revoked } }');
    list.replaceChildren(
      h('h2', {}, 'Keys'),
      table(
        ['name', 'role', 'starts with', 'taxonomies', 'created', 'by', ''],
        apiKeys.map((k: Json) => [
          k.name,
          k.role.toLowerCase(),
          h('code', {}, k.keyPrefix),
          k.taxonomyIds.length ? k.taxonomyIds.map(named).join(', ') : 'all',
          new Date(k.createdAt).toLocaleString(),
          k.createdBy ?? '',
          k.revoked
            ? h('span', { class: 'muted' }, 'revoked')
            : button('Revoke', async () => {
                if (!confirm(`Revoke the key "${k.name}"? Requests with it are refused from now on.`)) return;
                await gql('mutation($id: ID!) { revokeApiKey(id: $id) { revoked } }', { id: k.id });
                await listKeys();
              }),
        ]),
      ),
    );
  };
  view.append(form);
  if (!openMode) {
    view.append(list);
    await listKeys();
  }
}

// ---------------------------------------------------------------------------------------------
// The frame: key, identity, the views the role may open

const VIEWS: Record<string, { title: string; roles: Role[]; render: (view: HTMLElement) => Promise<void> }> = {
  taxonomies: { title: 'Taxonomies', roles: ['ADMIN', 'SCORER', 'AUDITOR'], render: renderTaxonomies },
  scoring: { title: 'Scoring', roles: ['ADMIN', 'SCORER'], render: renderScoring },
  history: { title: 'History', roles: ['ADMIN', 'AUDITOR'], render: renderHistory },
  audit: { title: 'Audit log', roles: ['ADMIN', 'AUDITOR'], render: renderAudit },
  keys: { title: 'Keys', roles: ['ADMIN'], render: renderKeys },
};
/**
 * Renders and sign-ins run concurrently (a key typed while the first page load still asks who is
 * calling, a tab clicked twice); only the latest of each may touch the page, or a late one would
 * replace a form someone is already filling in.
 */
let latestRender = 0;
let latestStart = 0;

/** The view and its filters as the URL holds them: `#/history?taxonomy=<id>&decision=OOD`. */
function currentRoute(): { name: string; params: URLSearchParams } {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { name: path, params: new URLSearchParams(query) };
}

/** Puts a view and its filters in the URL as a new history entry, so the back button returns to the last. */
function navigate(name: string, params: Record<string, string> = {}): void {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  const target = `#/${name}${query ? `?${query}` : ''}`;
  if (target !== location.hash) history.pushState(null, '', target);
}

/** The view a URL names, when this caller's role may see it. */
function routedView(): string | null {
  const { name } = currentRoute();
  return Object.hasOwn(VIEWS, name) && VIEWS[name].roles.includes(role!) ? name : null;
}

/** Shows a view; `fromUrl`: the URL names it already (a link, the back button), so it is not pushed again. */
async function show(name: string, fromUrl = false): Promise<void> {
  if (!fromUrl && currentRoute().name !== name) navigate(name);
  const render = ++latestRender;
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.id === `tab-${name}`);
  const view = document.getElementById('view')!;
  const fresh = h('div');
  let failure = '';
  try {
    await VIEWS[name].render(fresh);
  } catch (error) {
    failure = (error as Error).message;
  }
  if (render !== latestRender) return;
  notice(failure);
  view.replaceChildren(fresh);
}

async function start(first = 'taxonomies'): Promise<void> {
  const nav = document.querySelector('nav')!;
  const identity = document.getElementById('identity')!;
  const attempt = ++latestStart;
  try {
    const { me } = await gql('{ me { name role openMode } }');
    if (attempt !== latestStart) return;
    role = me.role;
    openMode = me.openMode;
    identity.textContent = `${me.name} (${me.role.toLowerCase()}${me.openMode ? ', open mode' : ''})`;
  } catch (error) {
    if (attempt !== latestStart) return;
    role = null;
    identity.textContent = '';
    nav.replaceChildren();
    // the service's message says what is wrong with the key; the console says where to put one
    notice(`${(error as Error).message} Enter an API key in the field above.`);
    return;
  }
  nav.replaceChildren(
    ...Object.entries(VIEWS)
      .filter(([, v]) => v.roles.includes(role!))
      .map(([name, v]) => {
        const b = h('button', { id: `tab-${name}` }, v.title);
        b.addEventListener('click', () => show(name));
        return b;
      }),
  );
  // open mode: the first thing to do is the admin key; else the view the URL names
  const linked = routedView();
  if (openMode) await show('keys');
  else if (linked) await show(linked, true);
  else await show(first);
}

window.addEventListener('popstate', () => {
  const linked = routedView();
  if (role !== null && linked) void show(linked, true);
});

const keyInput = h('input', {
  id: 'key',
  type: 'password',
  placeholder: 'API key (kept in this tab only)',
  autocomplete: 'off',
}) as HTMLInputElement;
keyInput.value = key;
keyInput.addEventListener('change', () => {
  if (keyInput.value.trim() === key && role !== null) return;
  key = keyInput.value.trim();
  sessionStorage.setItem(STORAGE, key);
  void start();
});
document
  .getElementById('app')!
  .append(
    h(
      'header',
      {},
      h('h1', {}, 'neglabel'),
      h('nav'),
      keyInput,
      h('span', { id: 'identity', class: 'muted' }),
      h('a', { href: '/graphql' }, 'GraphQL IDE'),
    ),
    h('main', {}, h('p', { id: 'notice', class: 'error' }), h('div', { id: 'view' })),
  );
void start();
