# syntax=docker/dockerfile:1
#
# The sfp image: one static binary (it embeds the migrations, docker-compose.yml
# and kong.yml) on a distroless base, running as a non-root user. The docker
# runtime's supabase-migrations container runs it as
# `sfp server migrate --init-key`.
#
#   docker build -t sfp:dev .
#   docker build --build-arg VERSION=v1.2.3 -t sfp:v1.2.3 .
#   docker run --rm sfp:dev version

# Go toolchain for the build stage; go.mod names the exact version, which the
# go command downloads if this image is older (GOTOOLCHAIN=auto).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
# The cache mounts keep downloaded modules and compiled packages between
# builds (BuildKit, the default builder since Docker 23).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/sfp-dev/sfp/pkg/cli.Version=${VERSION}" \
      -o /out/sfp ./cmd/sfp \
 && /out/sfp version

# distroless/static: CA certificates, /etc/passwd with a nonroot user
# (uid 65532), no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sfp /usr/local/bin/sfp
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/sfp"]
CMD ["--help"]
