# syntax=docker/dockerfile:1
#
# The asset ingest consumer: one static binary in a distroless image, running as a non-root
# user. The same image serves every command (`consumer run` by default; the compose file also
# runs `consumer sandbox` and `consumer publish` from it).
#
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) -t asset-ingest-consumer .
#   docker run --rm -e NATS_URL=nats://nats:4222 -e AMPLIENCE_CLIENT_ID=... \
#     -e AMPLIENCE_CLIENT_SECRET_FILE=/run/secrets/amplience -p 8080:8080 asset-ingest-consumer

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# The build context leaves .git out: the commit comes as an argument.
ARG COMMIT=
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/consumer ./cmd/consumer

# distroless/static: CA certificates, tzdata and /etc/passwd with the nonroot user (65532),
# no shell and no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/consumer /consumer
USER 65532:65532
# /healthz, /readyz and /metrics; HTTP_ADDR (default :8080) moves it.
EXPOSE 8080
# No shell in the image: the binary checks its own /healthz, on the port HTTP_ADDR names.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/consumer", "healthcheck"]
ENTRYPOINT ["/consumer"]
CMD ["run"]
