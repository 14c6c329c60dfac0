# syntax=docker/dockerfile:1
#
# eventrouter's container image: the static build (CGO_ENABLED=0, tag
# noduckdb) on distroless/static, as a non-root user.
#
# Why the static build: the image then holds one binary and nothing else
# (no libc, no shell, no package manager to patch), about 35 MB in all;
# and a container fleet wants a warehouse that several instances share,
# which is PostgreSQL (driver: postgres), not a DuckDB file with one
# writer. For DuckDB, run the default build: the Debian package or the
# release archive on a glibc system (see docs/install.md).
#
#   docker build -t eventrouter --build-arg VERSION=v0.1.0 \
#     --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(git log -1 --format=%cI) .
#   docker run -e EVENTROUTER_WRITE_KEY=... -p 8080:8080 -v eventrouter:/var/lib/eventrouter eventrouter
#
# The build runs the same command as `make package` (internal/release);
# the image runs the same command as the Debian package's systemd unit.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
RUN go run ./internal/release/cmd/release build -static -o /out/eventrouter \
      -version "$VERSION" -commit "$COMMIT" -date "$DATE" \
 && /out/eventrouter version \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/eventrouter /usr/bin/eventrouter
COPY deploy/eventrouter.yaml /etc/eventrouter/eventrouter.yaml
COPY --from=build --chown=65532:65532 /out/data /var/lib/eventrouter
ENV EVENTROUTER_CONFIG=/etc/eventrouter/eventrouter.yaml \
    EVENTROUTER_LISTEN=:8080
USER 65532:65532
WORKDIR /var/lib/eventrouter
VOLUME /var/lib/eventrouter
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/bin/eventrouter", "health"]
ENTRYPOINT ["/usr/bin/eventrouter"]
CMD ["serve", "--config", "/etc/eventrouter/eventrouter.yaml"]
