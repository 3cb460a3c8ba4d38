/**
 * POST /v1/embeddings in the OpenAI embeddings format, for clients of embedding servers: `model`,
 * `input` (a string or a list of strings), `encoding_format` (float or base64). An input string
 * that is a `data:image/...;base64,` URI is embedded as an image, any other as a text: the same
 * vectors as the GraphQL embedTexts / embedImages give for the same inputs, through the same
 * services, key roles, limits and in-flight bound. GET /v1/models lists the loaded models in
 * OpenAI's format (what clients call to find a model id). Errors use OpenAI's `{ error: { message,
 * type, param, code } }` shape, with our stable codes.
 */
import type express from 'express';
import { DomainError, InvalidInputError, unwrapDomainError } from '../errors.ts';
import { admit, type Admission } from '../graphql/access.ts';
import type { Caller } from '../services/access-service.ts';
import { imageCacheScope } from '../services/embedding-service.ts';
import type { Services } from '../services/index.ts';
import type { InFlightLimiter } from '../services/in-flight-limiter.ts';
import type { ErrorBody } from './rate-limit.ts';

const DATA_IMAGE = /^data:image\/[a-z0-9.+-]+;base64,/i;

/** OpenAI's error type and the HTTP status for each of our codes. */
function classify(code: string): { status: number; type: string } {
  if (code === 'UNAUTHENTICATED') return { status: 401, type: 'authentication_error' };
  if (code === 'FORBIDDEN') return { status: 403, type: 'permission_error' };
  if (code === 'MODEL_NOT_FOUND' || code === 'NO_MODEL' || code === 'NOT_FOUND') {
    return { status: 404, type: 'not_found_error' };
  }
  if (code === 'RATE_LIMITED' || code === 'TOO_MANY_IN_FLIGHT') return { status: 429, type: 'rate_limit_error' };
  if (code === 'MODEL_NOT_LOADED' || code === 'ENCODER_UNAVAILABLE' || code === 'SHUTTING_DOWN') {
    return { status: 503, type: 'server_error' };
  }
  if (code === 'DEADLINE_EXCEEDED') return { status: 504, type: 'timeout_error' };
  if (code === 'INTERNAL_SERVER_ERROR') return { status: 500, type: 'server_error' };
  return { status: 400, type: 'invalid_request_error' };
}

export const openAiErrorBody: ErrorBody = (_req, message, code) => ({
  error: { message, type: classify(code).type, param: null, code },
});

function readRequest(body: unknown): { model: string | undefined; inputs: string[]; base64: boolean } {
  const request = (body ?? {}) as { model?: unknown; input?: unknown; encoding_format?: unknown; dimensions?: unknown };
  if (request.model !== undefined && typeof request.model !== 'string') {
    throw new InvalidInputError('model must be a model id string (see GET /v1/models or the GraphQL models query).', {
      field: 'model',
    });
  }
  const inputs = typeof request.input === 'string' ? [request.input] : request.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((i) => typeof i === 'string')) {
    throw new InvalidInputError(
      'input must be a non-empty string or list of strings (token arrays are not accepted: send the text).',
      { field: 'input' },
    );
  }
  if (
    request.encoding_format !== undefined &&
    request.encoding_format !== 'float' &&
    request.encoding_format !== 'base64'
  ) {
    throw new InvalidInputError('encoding_format must be float or base64.', { field: 'encoding_format' });
  }
  if (request.dimensions !== undefined) {
    throw new InvalidInputError(
      'dimensions is not supported: CLIP embeddings have the model width (see the models query).',
      { field: 'dimensions' },
    );
  }
  return { model: request.model, inputs, base64: request.encoding_format === 'base64' };
}

/** Little-endian float32 bytes, base64: what OpenAI clients decode for encoding_format base64. */
function toBase64(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

/** What a /v1 route tells the metrics and the log when it answers: its error code, if any, and the caller. */
export type RouteOutcome = (code: string | null, caller: string | undefined) => void;

/** The OpenAI error answer for anything a /v1 route threw (every /v1 route answers in this shape); returns its code. */
export function sendError(
  req: express.Request,
  res: express.Response,
  thrown: unknown,
  onUnexpected: (e: unknown) => void,
) {
  const error = unwrapDomainError(thrown);
  if (error instanceof DomainError) {
    res.status(classify(error.code).status).json(openAiErrorBody(req, error.message, error.code));
    return error.code;
  }
  onUnexpected(error);
  res
    .status(500)
    .json(
      openAiErrorBody(
        req,
        'Internal server error: the service logged the details; retry, and report it if it persists.',
        'INTERNAL_SERVER_ERROR',
      ),
    );
  return 'INTERNAL_SERVER_ERROR';
}

const openAiModel = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'neglabel' });

/**
 * GET /v1/models, the loaded models as OpenAI clients list them, and GET /v1/models/:id, one of
 * them as `models.retrieve` asks (public, as the models query is).
 */
export function openAiModelsHandler(services: Services) {
  return (req: express.Request, res: express.Response) => {
    const loaded = services.encoder.models().filter((m) => m.loaded);
    const id = req.params.id as string | undefined;
    if (id === undefined) {
      res.json({ object: 'list', data: loaded.map((m) => openAiModel(m.id)) });
      return;
    }
    if (loaded.some((m) => m.id === id)) {
      res.json(openAiModel(id));
      return;
    }
    res
      .status(404)
      .json(
        openAiErrorBody(
          req,
          `No loaded model is called ${JSON.stringify(id)}: GET /v1/models lists them.`,
          'MODEL_NOT_FOUND',
        ),
      );
  };
}

/** What a /v1 request brings to admission (graphql/access.ts): its key, and the caller the rate limit found. */
export function routeAdmission(
  req: express.Request,
  res: express.Response,
  services: Services,
  inFlight: InFlightLimiter,
): Admission {
  return {
    services,
    authorization: req.headers.authorization,
    auth: res.locals.caller as Caller | undefined,
    requestId: req.headers['x-request-id'] as string,
    inFlight,
  };
}

export function openAiEmbeddingsHandler(
  services: Services,
  inFlight: InFlightLimiter,
  onUnexpected: (error: unknown) => void,
  onAnswer: RouteOutcome,
) {
  return async (req: express.Request, res: express.Response) => {
    let release: (() => void) | null = null;
    const admission = routeAdmission(req, res, services, inFlight);
    try {
      // the GraphQL embedTexts query's admission: its roles, its in-flight bound
      release = await admit(admission, 'Query.embedTexts');
      const caller = admission.auth!;
      const { model: modelId, inputs, base64 } = readRequest(req.body);
      const model = services.encoder.resolveModel(modelId);
      const imageAt = inputs.flatMap((input, i) => (DATA_IMAGE.test(input) ? [i] : []));
      const textAt = inputs.flatMap((input, i) => (DATA_IMAGE.test(input) ? [] : [i]));
      const texts = textAt.map((i) => inputs[i]);
      const vectors: Float32Array[] = new Array(inputs.length);
      let promptTokens = 0;
      if (texts.length) {
        // counted where the texts were tokenized: the worker (no second tokenizer on this thread)
        const { vectors: textVectors, tokenCounts } = await services.embeddings.embedTexts(model.id, texts);
        textVectors.forEach((v, k) => {
          vectors[textAt[k]] = v;
        });
        promptTokens = tokenCounts.reduce((sum, n) => sum + n, 0);
      }
      if (imageAt.length) {
        const images = imageAt.map((i) => ({ data: inputs[i].replace(DATA_IMAGE, '') }));
        (
          await services.embeddings.embedImageInputs(model.id, images, imageCacheScope(caller.keyId), 'input')
        ).embeddings.forEach((v, k) => {
          vectors[imageAt[k]] = v;
        });
      }
      res.json({
        object: 'list',
        data: vectors.map((v, index) => ({
          object: 'embedding',
          index,
          embedding: base64 ? toBase64(v) : Array.from(v),
        })),
        model: model.id,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      });
      onAnswer(null, caller.name);
    } catch (thrown) {
      onAnswer(sendError(req, res, thrown, onUnexpected), admission.auth?.name);
    } finally {
      release?.();
    }
  };
}

/**
 * Any other /v1 request: a JSON error in OpenAI's format (an OpenAI client parses it), naming the
 * routes there are, instead of Express's HTML page.
 */
export function openAiUnknownRoute(req: express.Request, res: express.Response): void {
  res
    .status(404)
    .json(
      openAiErrorBody(
        req,
        `No route ${req.method} ${req.baseUrl}${req.path}: this service answers POST /v1/embeddings and ` +
          'GET /v1/models.',
        'NOT_FOUND',
      ),
    );
}
