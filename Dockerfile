# syntax=docker/dockerfile:1.7
# Wharf's own image, built the way Wharf advises ML teams to build theirs: two stages (tools and
# dev dependencies never reach the runtime image), a slim pinned base, a non-root user, a health
# check, and layers ordered so a source change does not reinstall dependencies.
#
#   docker build -t wharf:0.1.0 .
#   docker run -p 5000:5000 -v wharf-data:/var/lib/wharf wharf:0.1.0        (embedded mode)
#
# Pin the base by digest in your own pipeline (FROM node:...@sha256:...) for reproducible builds.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 falls back to compiling when no prebuilt binary matches (build tools pinned to
# bookworm's versions; bump them with the base image)
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 make=4.3-4.1 g++=4:12.2.0-3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# no lifecycle scripts of the project itself yet (prepare builds, and src is not here);
# the native modules that need theirs are rebuilt explicitly
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 esbuild
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    WHARF_DATA=/var/lib/wharf \
    WHARF_LISTEN=0.0.0.0:5000
RUN groupadd --system --gid 10001 wharf \
 && useradd --system --uid 10001 --gid wharf --home-dir /var/lib/wharf --shell /usr/sbin/nologin wharf \
 && mkdir -p /var/lib/wharf \
 && chown wharf:wharf /var/lib/wharf
WORKDIR /app
# owned by root, read-only for the service user
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 10001:10001
VOLUME ["/var/lib/wharf"]
EXPOSE 5000
# /healthz answers while the process lives; the port follows WHARF_LISTEN (plain HTTP: with
# http.tls, health-check a TLS-aware way or through the orchestrator's probes instead)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.WHARF_LISTEN||'0.0.0.0:5000').split(':').pop();fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
