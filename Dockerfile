# syntax=docker/dockerfile:1

# Build with cgo on Debian bookworm: mattn/go-sqlite3 links against glibc,
# so the runtime image must be a glibc one of the same Debian release.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/scimd/scimd/internal/server.version=${VERSION}" -o /out/scimd ./cmd/scimd \
 && mkdir /out/data

# distroless/base has glibc (unlike distroless/static, scratch or Alpine).
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/scimd /scimd
# A new named volume takes this directory's owner, so nonroot can write it.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV SCIMD_DB=/data/scimd.db \
    SCIMD_ADDR=:8080
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
# No curl in distroless: the binary checks /healthz itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/scimd", "healthcheck"]
ENTRYPOINT ["/scimd"]
CMD ["serve"]
