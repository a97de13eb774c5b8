# surge in a container, built from source (multi-stage): the release binary
# on a slim Debian, with the bundled scenarios in /scenarios.
#
#   docker build -t surge .
#   docker run --rm -v "$PWD/output:/work/output" surge \
#       surge run /scenarios/mmc.toml --out output/mmc
#
# Charts embed their font, so the runtime image needs no font packages.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin surge

FROM debian:bookworm-slim
COPY --from=build /src/target/release/surge /usr/local/bin/surge
COPY scenarios /scenarios
WORKDIR /work
CMD ["surge", "--help"]
