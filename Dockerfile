# Vigil: one image for every service (compose picks the entry point). Multi-stage on Node LTS slim:
# the build stage installs and compiles the monorepo, the runtime stage keeps dist + production deps
# and runs as the unprivileged `node` user.
#
#   docker build -t vigil:local .
#
# Machines without a registry build an equivalent image FROM scratch from host binaries:
# scripts/build-offline-images.sh (docs/containers.md).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY libs libs
COPY services services
COPY packages packages
COPY bench/package.json bench/package.json
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npx turbo run build --filter='!@vigil/bench' \
 && npm prune --omit=dev \
 && find libs services packages \( -type d -name src -o -type f -name '*.test.*' \) -prune -exec rm -rf {} +

FROM ${NODE_IMAGE} AS runtime
# iproute2: netmon reads interfaces and follows netlink with `ip -json` / `ip monitor`.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/vigil && chown node:node /var/lib/vigil
WORKDIR /app
COPY --from=build --chown=node:node /src /app
ENV NODE_ENV=production VIGIL_DATA_DIR=/var/lib/vigil
USER node
ENTRYPOINT ["node"]
CMD ["packages/vigil/dist/main.js", "help"]
