# Gatehouse in a container: the Debian package built in the first stage, installed on
# debian:12-slim in the second (apt resolves its Depends, as scripts/package-test.sh checks).
#
#   docker build -t gatehouse .
#   docker run -d --name gatehouse --read-only -p 8000:8000 \
#       -v gatehouse-data:/var/lib/gatehouse \
#       -e GATEHOUSE_PUBLIC_URL=https://auth.example.com gatehouse
#   docker exec -i gatehouse gatehouse user create --email admin@example.com --username admin \
#       --role admin --password-stdin <<<'Chang3-Me-Now!'
#
# Settings: -e NAME=value (the environment wins over /etc/gatehouse/gatehouse.conf), or mount your
# own file over /etc/gatehouse/gatehouse.conf. docs/install.md has the details.
# GATEHOUSE_SKIP_NPM=1 (--build-arg) builds without the npm registry: no Swagger UI at /docs.

FROM debian:12 AS build
ARG GATEHOUSE_SKIP_NPM=0
ENV GATEHOUSE_SKIP_NPM=${GATEHOUSE_SKIP_NPM}
WORKDIR /src
COPY . .
RUN scripts/deps.sh && scripts/package.sh && cp build/release/gatehouse_*.deb /gatehouse.deb

FROM debian:12-slim
# The package's postinst makes the system user gatehouse; making it first with a fixed id gives
# volumes and bind mounts a known owner (postinst keeps an existing user).
ARG GATEHOUSE_UID=999
RUN groupadd --system --gid "${GATEHOUSE_UID}" gatehouse \
    && useradd --system --uid "${GATEHOUSE_UID}" --gid gatehouse --home-dir /var/lib/gatehouse \
       --no-create-home --shell /usr/sbin/nologin gatehouse
COPY --from=build /gatehouse.deb /tmp/gatehouse.deb
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/gatehouse.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/gatehouse.deb

# Every command reads the packaged configuration (SQLite and keys in /var/lib/gatehouse); listen
# on every interface of the container. SQLite's temporary files go to the data directory too, so
# the root file system can be read-only with no /tmp.
ENV GATEHOUSE_CONFIG_FILE=/etc/gatehouse/gatehouse.conf \
    GATEHOUSE_LISTEN=0.0.0.0:8000 \
    GATEHOUSE_PUBLIC_URL=http://localhost:8000 \
    SQLITE_TMPDIR=/var/lib/gatehouse
USER gatehouse:gatehouse
WORKDIR /var/lib/gatehouse
VOLUME /var/lib/gatehouse
EXPOSE 8000
# No curl in the image: bash's /dev/tcp asks /healthz (the process is alive; /readyz also needs
# the database and Redis).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["bash", "-c", \
    "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/gatehouse"]
CMD ["serve"]
