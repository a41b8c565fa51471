# flyteauth container image. The build stage compiles the release binary
# from this repository; the runtime stage holds it, its manual page and
# completions, and only the Debian packages it needs to run.
#
#   docker build -t flyteauth:0.1.0 .
#   docker run -d --name flyteauth -p 8088:8088 \
#     -v flyteauth-state:/var/lib/flyteauth \
#     -v "$PWD/secrets:/etc/flyteauth/secrets:ro" flyteauth:0.1.0
#
# The server runs as uid 10001, which must be able to read the secrets
# (chown 10001 secrets/*). Its config is /etc/flyteauth/flyteauth.yaml
# (deploy/container/flyteauth.yaml); mount another over it.

FROM debian:12-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN sh scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build build/release -j "$(nproc)" --target flyteauth \
 && make install-files INSTALL_BIN=build/release/flyteauth PREFIX=/usr/local DESTDIR=/out

FROM debian:12-slim
COPY scripts/install-deps.sh /tmp/
RUN sh /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=build /out/usr/local/ /usr/local/
COPY deploy/container/flyteauth.yaml /etc/flyteauth/flyteauth.yaml
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/flyteauth \
      --shell /usr/sbin/nologin flyteauth \
 && install -d -o flyteauth -g flyteauth -m 0700 /var/lib/flyteauth
USER 10001:10001
VOLUME /var/lib/flyteauth
EXPOSE 8088
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8088/healthcheck || exit 1
ENTRYPOINT ["flyteauth"]
CMD ["serve", "--config", "/etc/flyteauth/flyteauth.yaml"]
