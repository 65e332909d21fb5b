# syntax=docker/dockerfile:1
#
# libevolve: one image with the three binaries (evolve, evolve-worker,
# evolve-engines) and the bundled bars. docker/entrypoint.sh picks the binary:
#
#   docker build -t libevolve:latest .
#   docker run --rm libevolve:latest help
#   docker run --rm -p 8400:8400 -e EVOLVE_API_TOKEN=... libevolve:latest serve
#
# docs/containers.md documents the image, docker-compose.yml and deploy/k8s/.
# This file was not built on the machine it was written on (no Docker there);
# tests/deploy/check_dockerfile.py checks its structure instead.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------
# Build stage: the build packages of scripts/install-deps.sh (not the test
# tools: no postgresql, chromium, node, curl), then configure, build, install.
FROM ${DEBIAN_IMAGE} AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config \
      libssl-dev rapidjson-dev libfmt-dev doctest-dev libsqlite3-dev \
      libpqxx-dev libcpp-httplib-dev \
      zlib1g-dev libzstd-dev libsnappy-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

RUN cmake -S . -B /build \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_INSTALL_PREFIX=/opt/evolve \
      -DEVOLVE_BUILD_TESTS=OFF \
      -DEVOLVE_BUILD_EXAMPLES=OFF \
      -DEVOLVE_WERROR=OFF \
 && cmake --build /build --parallel "$(nproc)" \
 && cmake --install /build \
 && strip --strip-debug /opt/evolve/bin/evolve /opt/evolve/bin/evolve-worker /opt/evolve/bin/evolve-engines

# ---------------------------------------------------------------------------
# Runtime stage: the shared libraries the binaries link (libpqxx, libpq,
# sqlite3, OpenSSL, cpp-httplib, zlib, zstd, snappy), the binaries, the bundled data
# (share/evolve/data, found by the binaries relative to bin/) and the SQL
# schemas; no compiler, no headers.
FROM ${DEBIAN_IMAGE} AS runtime

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libpqxx-6.4 libpq5 libsqlite3-0 libssl3 libcpp-httplib0.11 \
      zlib1g libzstd1 libsnappy1v5 \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/evolve/bin/ /opt/evolve/bin/
COPY --from=build /opt/evolve/share/evolve/ /opt/evolve/share/evolve/
COPY docker/entrypoint.sh docker/healthcheck.sh /usr/local/bin/

# A non-root user; its home is the working directory, where an SQLite store
# (./evolve.db, when no POSTGRES_URL is given) would be written.
RUN groupadd --system --gid 10001 evolve \
 && useradd --system --uid 10001 --gid evolve --home-dir /var/lib/evolve --shell /usr/sbin/nologin evolve \
 && mkdir -p /var/lib/evolve \
 && chown evolve:evolve /var/lib/evolve \
 && chmod 0755 /usr/local/bin/entrypoint.sh /usr/local/bin/healthcheck.sh

ENV PATH=/opt/evolve/bin:$PATH \
    LOG_LEVEL=INFO

WORKDIR /var/lib/evolve
VOLUME ["/var/lib/evolve"]
USER 10001:10001

# 8400 evolve serve; 8100/8200/8300 evolve-engines (features, training, simulation).
EXPOSE 8400 8100 8200 8300

ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
