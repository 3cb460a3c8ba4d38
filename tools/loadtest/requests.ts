/** What the load test's clients and its prober both do: GraphQL over HTTP, and timing a request. */

/** A GraphQL request's data; a non-200 answer or GraphQL errors throw. */
export async function graphql(api: string, key: string, query: string, variables: object = {}): Promise<any> {
  const response = await fetch(`${api}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors) throw new Error(`${response.status} ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** Runs a request: its latency in ms goes to `latencies`, or its failure to `failures`. */
export async function timed(
  latencies: number[],
  failures: string[],
  name: string,
  run: () => Promise<unknown>,
): Promise<void> {
  const started = performance.now();
  try {
    await run();
    latencies.push(performance.now() - started);
  } catch (error) {
    failures.push(`${name}: ${(error as Error).message.slice(0, 200)}`);
  }
}
