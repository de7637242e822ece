# Production image: Caddy with Gatehouse, built with xcaddy.
#
#   docker build -f xcaddy.Dockerfile -t gatehouse .
#   docker run -p 443:443 -v $PWD/Caddyfile:/etc/caddy/Caddyfile -v caddy_data:/data gatehouse
#
# State (SQLite store, signing keys' encryption key, certificates) lives in
# /data, so keep that volume.
FROM golang:1.26-bookworm AS builder
RUN go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5
WORKDIR /src
COPY . .
RUN xcaddy build v2.11.9 --with github.com/gatehouse-auth/gatehouse=/src --output /out/caddy

FROM caddy:2.11
COPY --from=builder /out/caddy /usr/bin/caddy
