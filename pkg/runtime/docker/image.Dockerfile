# syntax=docker/dockerfile:1
#
# The sfp image built from a copy of the running sfp binary (a static Linux
# executable), which sfp writes next to this file. Nothing is compiled, so
# the image holds exactly the sfp that built it. Same final stage as the
# repository's Dockerfile, which builds the binary from source instead.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="sfp" org.opencontainers.image.version="${VERSION}"
COPY sfp /usr/local/bin/sfp
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/sfp"]
CMD ["--help"]
