# syntax=docker/dockerfile:1
# visionbot: a static binary in a distroless image that runs as a non-root user.
#   docker build -t visionbot .
#   docker run --env-file .env -v visionbot-data:/var/lib/visionbot -p 127.0.0.1:9090:9090 -e METRICS_ADDR=:9090 visionbot

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: they change less often than the code, so this layer is cached.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/visionbot ./cmd/visionbot
# The channel settings' folder, empty: the final image has no shell to make it.
RUN mkdir -p /out/data

# distroless/static has CA certificates (for slack.com and Google's APIs),
# tzdata and a nonroot user, and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/visionbot /usr/local/bin/visionbot
# Without REDIS_URL, channels' settings are kept in this file: mount a volume
# there (docker run -v visionbot-data:/var/lib/visionbot …) so that they
# survive a new container. The folder is the nonroot user's, and a new named
# volume takes its owner from it.
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/visionbot
ENV SETTINGS_DB=/var/lib/visionbot/settings.db
VOLUME /var/lib/visionbot
USER nonroot:nonroot
# METRICS_ADDR serves /metrics, /healthz, /readyz and pprof when set.
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/visionbot"]
CMD ["run"]
