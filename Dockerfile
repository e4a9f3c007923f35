# syntax=docker/dockerfile:1
#
# priorityguard in a container: a static (musl) binary on distroless/static, running as the
# non-root user 65532. The image holds `priorityguard`, `kubectl-priorityguard` and the bundled
# example, nothing else (distroless/static adds CA certificates, tzdata and /etc/passwd).
#
#   docker build -t priorityguard .
#   docker run --rm priorityguard audit /examples/multus-daemonset.yml
#   docker run --rm -v "$PWD:/work:ro" priorityguard audit /work
#
# In a cluster it runs with its service account (in-cluster config): deploy/cronjob/ and
# deploy/serve/. The build stage runs scripts/build-static, which the test suite runs too.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    scripts/build-static /out

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
COPY examples/ /examples/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/priorityguard"]
CMD ["--help"]
