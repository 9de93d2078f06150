# syntax=docker/dockerfile:1
#
# One image for every backend process. The command picks the role:
#   algo web                  (default CMD: Quart/Hypercorn API on :8000)
#   algo pipeline ROLE        (feed | trigger | slwatch | executor | notifier)
#   algo migrate / algo streams
# docker-compose.yml runs each of them as a separate service.
#
# Two stages: the build stage has a compiler in case some dependency has no
# wheel for the target platform (e.g. on arm64), and the runtime image gets
# only the finished virtualenv.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

# The virtualenv is copied to the same path in the runtime stage. Its scripts
# (including the `algo` console script) hard-code that path in their shebang.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# .dockerignore keeps .venv, .git, tests, local data and .env out of the context.
COPY . .
# A regular (non-editable) install: the runtime image does not need /src.
# The cache mount speeds up rebuilds and does not end up in any layer.
# The image is what runs on AWS, so it carries the `cloudwatch` extra (off until
# ALGO_CLOUDWATCH_LOG_GROUP is set).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install '.[cloudwatch]'

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# PYTHONUNBUFFERED: logs reach `docker logs` immediately, not when a buffer fills.
# ALGO_ENV=prod by default: the settings refuse to start with the built-in dev
# secrets outside dev, so a container started without real secrets fails fast
# instead of running with known keys.
# ALGO_WEB_HOST=0.0.0.0: inside a container, listening on 127.0.0.1 (the app
# default) would make the published port unreachable.
# ALGO_DATA_DIR: the app default is the relative ".algo", which must be a
# writable location for the non-root user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALGO_ENV=prod \
    ALGO_WEB_HOST=0.0.0.0 \
    ALGO_WEB_PORT=8000 \
    ALGO_DATA_DIR=/var/lib/algo

# Fixed numeric ids, so volume permissions and Kubernetes runAsUser are predictable.
RUN groupadd --system --gid 10001 algo \
    && useradd --system --uid 10001 --gid algo \
        --home-dir /var/lib/algo --create-home --shell /usr/sbin/nologin algo

# The code is owned by root and is read-only for the runtime user: a compromised
# process cannot change the installed application.
COPY --from=build /opt/venv /opt/venv

WORKDIR /var/lib/algo
# Numeric, so runtimes that check "non-root" without reading /etc/passwd accept it.
USER 10001:10001

EXPOSE 8000

# Exec form: `algo` gets SIGTERM directly (no /bin/sh in between) and can drain
# before it exits. docker-compose.yml also sets `init: true`, so signals are
# forwarded and zombie processes are reaped.
# No HEALTHCHECK here: every role needs a different one, so docker-compose.yml
# sets one per service (HTTP /health/ready for web, `algo heartbeat-check ROLE`
# for pipelines).
CMD ["algo", "web"]
