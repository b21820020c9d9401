# syntax=docker/dockerfile:1
# The coordinator in a container: a Rust builder stage, then a small Debian runtime with the
# binary, the bundled handbook and prompts, a non-root user and the state under /data.
#
#   docker build -t coordinator .
#   docker run -p 5001:5001 -v coordinator-data:/data coordinator
#
# The first start prints an admin API token once (docker logs); set COORDINATOR_API_TOKEN or
# run `docker run --rm -v coordinator-data:/data coordinator token create --name me --role admin`
# for another.

FROM rust:1.95-bookworm AS builder
# lancedb (the handbook index) compiles protobuf definitions at build time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and build caches survive between builds (BuildKit); the binary is copied out of
# the cached target folder.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked --bin coordinator \
 && install -D -m 0755 target/dist/coordinator /out/coordinator
# The handbook's default embedding model (all-MiniLM-L6-v2, checked against its pinned SHA-256),
# fetched by the binary itself, so that the image searches by meaning without a download.
RUN COORDINATOR_DATA_DIR=/tmp/model-fetch HANDBOOK_DIR=/src/handbook /out/coordinator handbook ingest \
 && mv /tmp/model-fetch/models/all-MiniLM-L6-v2 /out/model \
 && rm -rf /tmp/model-fetch

FROM debian:bookworm-slim AS runtime
# ca-certificates for the TLS of outside services; curl for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 coordinator \
 && useradd --system --uid 10001 --gid coordinator --home-dir /data --shell /usr/sbin/nologin coordinator \
 && mkdir -p /data \
 && chown coordinator:coordinator /data
COPY --from=builder /out/coordinator /usr/local/bin/coordinator
COPY handbook/ /app/handbook/
COPY --from=builder /out/model /app/models/all-MiniLM-L6-v2
# The prompts are built into the binary; these files replace them at start (COORDINATOR_PROMPTS_DIR).
COPY prompts/ /app/prompts/
WORKDIR /app
ENV COORDINATOR_ADDR=0.0.0.0:5001 \
    COORDINATOR_DATA_DIR=/data \
    DATABASE_URL=sqlite:///data/coordinator.db \
    HANDBOOK_DIR=/app/handbook \
    HANDBOOK_EMBEDDING_MODEL_DIR=/app/models/all-MiniLM-L6-v2 \
    RUST_LOG=info
USER coordinator:coordinator
VOLUME ["/data"]
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:5001/health || exit 1
ENTRYPOINT ["/usr/local/bin/coordinator"]
CMD ["serve"]
