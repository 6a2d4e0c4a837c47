# cxray in a container, for those who deploy that way (one binary; no database server needed).
#   docker build -t cxray .
#   docker run -p 8080:8080 -v cxray-data:/data cxray                 # cxray serve on /data
#   docker run -v cxray-data:/data cxray key add --name web --scope collect
# The store (/data/cxray.db) and an optional /data/cxray.toml live in the volume.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p cxray-cli \
 && strip target/release/cxray

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home cxray
COPY --from=build /src/target/release/cxray /usr/local/bin/cxray
USER cxray
WORKDIR /data
VOLUME /data
EXPOSE 8080
# SIGTERM (docker stop) lets requests under way finish; the store commits what it acknowledged.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cxray"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
