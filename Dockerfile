# syntax=docker/dockerfile:1
# visionbot: a static binary in a distroless image that runs as a non-root user.
#   docker build -t visionbot .
#   docker run --env-file .env -p 127.0.0.1:9090:9090 -e METRICS_ADDR=:9090 visionbot

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: they change less often than the code, so this layer is cached.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/visionbot ./cmd/visionbot

# distroless/static has CA certificates (for slack.com and Google's APIs),
# tzdata and a nonroot user, and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/visionbot /usr/local/bin/visionbot
USER nonroot:nonroot
# METRICS_ADDR serves /metrics, /healthz, /readyz and pprof when set.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/visionbot"]
CMD ["run"]
