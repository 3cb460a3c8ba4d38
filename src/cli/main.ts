/**
 * `neglabel`, the command line client (the package's bin): it talks to a running service over its
 * public GraphQL API with a key, as any other client does, and imports nothing of the service.
 * Results go to standard output (a table, or JSON Lines with --json), progress and errors to
 * standard error. Exit status: 0 done, 1 something failed (named on standard error), 2 bad usage.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `Usage: neglabel [--url URL] [--key KEY] <command> [options]

  score --taxonomy ID [--threshold X] [--batch N] [--json] PATH...
        score image files, and every image under the folders given (PNG, JPEG, WebP, GIF, TIFF)
  mine --taxonomy ID [--method NEGLABEL|CSP] [--corpus FILE] [--groups N] [--selection-ratio X] [--follow]
        start mining negative labels (FILE: one "word<TAB>NOUN|ADJECTIVE" a line; default WordNet;
        the reference's 100 groups and 15 % otherwise); --follow prints progress until the job ends
  keys create --name NAME --role ADMIN|SCORER|AUDITOR [--taxonomy ID]...   a key, printed once
  keys list
  taxonomies
  history [--taxonomy ID] [--decision ID|OOD] [--from ISO-TIME] [--to ISO-TIME]
        the scoring history, newest first, as JSON Lines (every page)
  history-log [--from POSITION]
        the verifiable history log as JSON Lines (what npm run verify-history checks); --from resumes
  checkpoint     the latest signed checkpoint as JSON: keep it, to check later exports against it
  signing-keys   the public keys that signed checkpoints, as JSON Lines ({ keyId, publicKey })

The service's address and key come from --url and --key, or NEGLABEL_URL (default
http://127.0.0.1:4000) and NEGLABEL_KEY.`;

const IMAGE_FILE = /\.(png|jpe?g|webp|gif|tiff?)$/i;

class UsageError extends Error {}

/** A GraphQL error as the service reports it: its message and stable code. */
class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A GraphQL answer's data, read field by field as each command's query selects it. */
// biome-ignore lint/suspicious/noExplicitAny: the shape is the query's, not a type of ours
type Answer = any;

interface Client {
  request(query: string, variables?: Record<string, unknown>): Promise<Answer>;
  /** a GET of a route that streams (its body, read by the caller); an error answer throws */
  stream(route: string): Promise<ReadableStream<Uint8Array>>;
}

function client(url: string, key: string | undefined): Client {
  return {
    async request(query, variables = {}) {
      const response = await fetch(`${url.replace(/\/+$/, '')}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      }).catch((error: Error) => {
        throw new ApiError(`cannot reach ${url}: ${error.cause ?? error.message}`, 'UNREACHABLE', {});
      });
      const body = (await response.json().catch(() => null)) as { data?: Answer; errors?: Answer[] } | null;
      if (!body) throw new ApiError(`${url} answered HTTP ${response.status} without a GraphQL body`, 'BAD_ANSWER', {});
      const [error] = body.errors ?? [];
      if (error) {
        const { code = 'ERROR', ...details } = error.extensions ?? {};
        throw new ApiError(error.message, code, details);
      }
      return body.data;
    },
    async stream(route) {
      const response = await fetch(`${url.replace(/\/+$/, '')}${route}`, {
        headers: key ? { authorization: `Bearer ${key}` } : {},
      }).catch((error: Error) => {
        throw new ApiError(`cannot reach ${url}: ${error.cause ?? error.message}`, 'UNREACHABLE', {});
      });
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => null)) as { error?: { message: string; code: string } } | null;
        throw new ApiError(body?.error?.message ?? `HTTP ${response.status}`, body?.error?.code ?? 'BAD_ANSWER', {});
      }
      return response.body;
    },
  };
}

const CHECKPOINT = '{ historyCheckpoint { treeSize rootHash signedAt previousHash keyId signature } }';

/** Image files of the paths given, folders read recursively, in a stable order. */
function imageFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const given of paths) {
    const stat = statSync(given, { throwIfNoEntry: false });
    if (!stat) throw new UsageError(`${given}: no such file or folder`);
    if (stat.isFile()) files.push(given);
    else
      files.push(
        ...readdirSync(given, { recursive: true, encoding: 'utf8' })
          .filter((f) => IMAGE_FILE.test(f))
          .sort()
          .map((f) => path.join(given, f)),
      );
  }
  return files;
}

interface ScoreLine {
  file: string;
  score?: number;
  logitScore?: number;
  isOOD?: boolean;
  predictedLabel?: string;
  recordId?: string;
  error?: { code: string; message: string };
}

const SCORE = `mutation($i: ScoreImagesInput!) { scoreImages(input: $i) {
  score logitScore isOOD predictedLabel recordId } }`;

/**
 * Scores files a batch at a time. A refused image (its index named by the error) gets that error
 * and the rest of its batch is sent again without it, so one bad file costs no other its score.
 */
async function score(api: Client, taxonomyId: string, files: string[], batch: number, threshold?: number) {
  // in the files' order, whichever request answered each
  const lines: ScoreLine[] = files.map((file) => ({ file }));
  for (let start = 0; start < files.length; start += batch) {
    let pending = lines.slice(start, start + batch);
    while (pending.length > 0) {
      const images = pending.map(({ file }) => ({
        data: readFileSync(file).toString('base64'),
        filename: path.basename(file),
      }));
      try {
        const data = await api.request(SCORE, {
          i: { taxonomyId, images, ...(threshold !== undefined && { threshold }) },
        });
        const results: Array<Omit<ScoreLine, 'file'>> = data.scoreImages;
        for (const [i, result] of results.entries()) Object.assign(pending[i], result);
        pending = [];
      } catch (error) {
        const index = error instanceof ApiError ? error.details.index : undefined;
        if (typeof index !== 'number' || !pending[index]) throw error;
        const { code, message } = error as ApiError;
        pending[index].error = { code, message };
        pending = pending.filter((_, i) => i !== index);
      }
    }
    if (process.stderr.isTTY) process.stderr.write(`\rscored ${Math.min(start + batch, files.length)}/${files.length}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return lines;
}

function table(rows: Array<Record<string, string>>): string {
  if (rows.length === 0) return '';
  const columns = Object.keys(rows[0]);
  const width = (c: string) => Math.max(c.length, ...rows.map((r) => r[c].length));
  const line = (cells: Record<string, string>) =>
    columns
      .map((c) => cells[c].padEnd(width(c)))
      .join('  ')
      .trimEnd();
  return [line(Object.fromEntries(columns.map((c) => [c, c]))), ...rows.map(line)].join('\n');
}

function corpusFile(file: string): Array<{ text: string; partOfSpeech: string }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line, i) => {
      const [text, partOfSpeech = 'NOUN'] = line.split('\t');
      if (partOfSpeech !== 'NOUN' && partOfSpeech !== 'ADJECTIVE')
        throw new UsageError(`${file}:${i + 1}: the part of speech must be NOUN or ADJECTIVE, not ${partOfSpeech}`);
      return { text, partOfSpeech };
    });
}

async function follow(api: Client, jobId: string): Promise<boolean> {
  const query =
    'query($id: ID!) { miningJob(id: $id) { status phase done total error negativeSet { id labelCount } } }';
  let last = '';
  for (;;) {
    const { miningJob: job } = await api.request(query, { id: jobId });
    const line = `${job.status} ${job.phase} ${job.done}/${job.total}`;
    if (line !== last) process.stderr.write(`${line}\n`);
    last = line;
    if (job.status === 'SUCCEEDED') {
      console.log(JSON.stringify({ job: jobId, status: job.status, negativeSet: job.negativeSet }));
      return true;
    }
    if (job.status === 'FAILED' || job.status === 'CANCELLED') {
      console.log(JSON.stringify({ job: jobId, status: job.status, error: job.error }));
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const HISTORY = `query($f: ScoringRecordFilter, $a: String) { scoringRecords(filter: $f, first: 500, after: $a) {
  edges { node { id createdAt caller taxonomyId taxonomyVersion negativeSetId model threshold thresholdSpace
    imageHash filename url score logitScore isOOD predictedLabel latencyMs adaptiveScore memorySnapshotId } }
  pageInfo { hasNextPage endCursor } } }`;

async function run(argv: string[]): Promise<boolean> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      taxonomy: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'boolean' },
      method: { type: 'string' },
      corpus: { type: 'string' },
      groups: { type: 'string' },
      'selection-ratio': { type: 'string' },
      follow: { type: 'boolean' },
      name: { type: 'string' },
      role: { type: 'string' },
      decision: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return true;
  }
  if (!command) throw new UsageError('a command is needed');
  const api = client(
    values.url ?? process.env.NEGLABEL_URL ?? 'http://127.0.0.1:4000',
    values.key ?? process.env.NEGLABEL_KEY,
  );
  const taxonomy = () => {
    const [id] = values.taxonomy ?? [];
    if (!id) throw new UsageError(`${command} needs --taxonomy ID`);
    return id;
  };
  switch (command) {
    case 'score': {
      const files = imageFiles(rest);
      if (files.length === 0) throw new UsageError('score needs image files or folders holding some');
      const batch = Number(values.batch ?? 16);
      if (!Number.isInteger(batch) || batch < 1) throw new UsageError('--batch must be a positive integer');
      const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
      const lines = await score(api, taxonomy(), files, batch, threshold);
      if (values.json) for (const line of lines) console.log(JSON.stringify(line));
      else
        console.log(
          table(
            lines.map((l) => ({
              file: l.file,
              score: l.score?.toFixed(4) ?? '',
              decision: l.error ? `error ${l.error.code}` : l.isOOD ? 'OOD' : 'ID',
              'predicted label': l.predictedLabel ?? l.error?.message ?? '',
            })),
          ),
        );
      return lines.every((l) => !l.error);
    }
    case 'mine': {
      const input: Record<string, unknown> = { taxonomyId: taxonomy() };
      if (values.method) input.method = values.method;
      if (values.corpus) input.corpus = corpusFile(values.corpus);
      if (values.groups) input.groups = Number(values.groups);
      if (values['selection-ratio']) input.selectionRatio = Number(values['selection-ratio']);
      const data = await api.request(
        'mutation($i: StartMiningInput!) { startMining(input: $i) { id status reused } }',
        {
          i: input,
        },
      );
      const job = data.startMining;
      if (!values.follow) {
        console.log(JSON.stringify({ job: job.id, status: job.status, reused: job.reused }));
        return true;
      }
      return follow(api, job.id);
    }
    case 'keys': {
      if (rest[0] === 'list') {
        const data = await api.request('{ apiKeys { id name role taxonomyIds revoked createdAt } }');
        for (const key of data.apiKeys) console.log(JSON.stringify(key));
        return true;
      }
      if (rest[0] !== 'create' || !values.name || !values.role)
        throw new UsageError('keys create needs --name NAME and --role ADMIN|SCORER|AUDITOR (or: keys list)');
      const data = await api.request(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key apiKey { id name role taxonomyIds } } }',
        { i: { name: values.name, role: values.role, ...(values.taxonomy && { taxonomyIds: values.taxonomy }) } },
      );
      process.stderr.write('The key is shown once: store it now (the service keeps only its hash).\n');
      console.log(JSON.stringify({ key: data.createApiKey.key, ...data.createApiKey.apiKey }));
      return true;
    }
    case 'taxonomies': {
      const data = await api.request(
        '{ taxonomies(first: 500) { edges { node { id name latestVersion { version labelCount model } } } } }',
      );
      console.log(
        table(
          data.taxonomies.edges.map(({ node }: Answer) => ({
            id: node.id,
            name: node.name,
            version: String(node.latestVersion.version),
            labels: String(node.latestVersion.labelCount),
            model: node.latestVersion.model,
          })),
        ),
      );
      return true;
    }
    case 'history': {
      const filter = {
        ...(values.taxonomy && { taxonomyId: values.taxonomy[0] }),
        ...(values.decision && { decision: values.decision }),
        ...(values.from && { from: values.from }),
        ...(values.to && { to: values.to }),
      };
      let after: string | null = null;
      let count = 0;
      do {
        const data: Answer = await api.request(HISTORY, { f: filter, a: after });
        for (const { node } of data.scoringRecords.edges) console.log(JSON.stringify(node));
        count += data.scoringRecords.edges.length;
        if (process.stderr.isTTY) process.stderr.write(`\rexported ${count}`);
        after = data.scoringRecords.pageInfo.hasNextPage ? data.scoringRecords.pageInfo.endCursor : null;
      } while (after);
      if (process.stderr.isTTY) process.stderr.write('\n');
      return true;
    }
    case 'history-log': {
      if (values.from !== undefined && !/^\d+$/.test(values.from))
        throw new UsageError('history-log --from takes a log position (a whole number)');
      const body = await api.stream(`/v1/history/log${values.from ? `?from=${values.from}` : ''}`);
      let lines = 0;
      const reader = body.getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        const chunk = read.value;
        if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
        for (const byte of chunk) if (byte === 10) lines++;
        if (process.stderr.isTTY) process.stderr.write(`\rexported ${lines} lines`);
      }
      if (process.stderr.isTTY) process.stderr.write('\n');
      return true;
    }
    case 'checkpoint': {
      const data = await api.request(CHECKPOINT);
      if (!data.historyCheckpoint) throw new ApiError('nothing is sealed yet: try again in a few seconds', 'EMPTY', {});
      console.log(JSON.stringify(data.historyCheckpoint));
      return true;
    }
    case 'signing-keys': {
      const data = await api.request('{ historySigningKeys { keyId publicKey firstUsedAt } }');
      for (const key of data.historySigningKeys) console.log(JSON.stringify(key));
      return true;
    }
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

try {
  process.exitCode = (await run(process.argv.slice(2))) ? 0 : 1;
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`neglabel: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (error instanceof ApiError) {
    process.stderr.write(`neglabel: ${error.message} (${error.code})\n`);
    process.exitCode = 1;
  } else throw error;
}
