# neglabel, production image: API, worker or both, chosen by NEGLABEL_ROLE. Models are mounted at
# /app/models (read-only); the database is an external Postgres with pgvector (DATABASE_URL).
# Not built on the development machine (offline); see docs/scaling.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc schema.graphql ./
COPY prisma ./prisma
COPY src ./src
COPY tools/codegen ./tools/codegen
COPY tools/console ./tools/console
# the full install generates the Prisma client and the GraphQL types and builds the console's
# scripts (postinstall); pruning then drops the dev tools
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production NEGLABEL_MODELS_DIR=/app/models NEGLABEL_DATA_DIR=/home/node/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/src ./src
COPY --from=build /app/dist ./dist
COPY package.json schema.graphql ./
COPY migrations ./migrations
USER node
EXPOSE 4000
# the same command as `npm start`, without npm in between (signals reach the service directly)
CMD ["node", "--import", "tsx", "src/main.ts"]
