/**
 * The GraphQL IDE page: GraphiQL (served by this service, with React) sending the API key the user
 * types above it. The key stays in this browser tab (sessionStorage), never on the server.
 */
declare const React: { createElement(type: unknown, props: Record<string, unknown>): unknown };
declare const ReactDOM: { createRoot(element: Element): { render(node: unknown): void } };
declare const GraphiQL: ((props: Record<string, unknown>) => unknown) & {
  createFetcher(options: { url: string; headers?: Record<string, string> }): unknown;
};

const STORAGE = 'neglabel-key';
const input = document.getElementById('key') as HTMLInputElement;
input.value = sessionStorage.getItem(STORAGE) ?? '';
const root = ReactDOM.createRoot(document.getElementById('graphiql')!);

function render(): void {
  const key = input.value.trim();
  const fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  root.render(React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }));
}

input.addEventListener('change', () => {
  sessionStorage.setItem(STORAGE, input.value.trim());
  render();
});
render();
