# syntax=docker/dockerfile:1
# Multi-stage build of ohxd: a static, stripped binary on distroless (CA
# certificates, tzdata, non-root user 65532).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t ohxd .
#   docker run --rm -p 8080:8080 -e OHX_API_KEYS=... ohxd

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
    -ldflags "-s -w -X main.version=${VERSION}" \
    -o /out/ohxd ./cmd/ohxd \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ohxd /ohxd
# The embedded SQLite store and generated key ring live here; mount a volume
# (or use OHX_DATABASE_URL and OHX_SECRET_KEYS) to keep them.
COPY --from=build --chown=65532:65532 /out/data /data
ENV OHX_DATA_DIR=/data \
    OHX_ADDR=:8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/ohxd"]
CMD ["serve"]
