# syntax=docker/dockerfile:1
#
# What every Styrkedja Python image shares, written once: the services' Dockerfiles
# (services/<name>/Dockerfile) start from these two stages through BuildKit named contexts and add
# only their own package, labels and command.
#
#   build    a virtual environment with the pinned runtime dependencies, styrkedja-contracts and
#            styrkedja-kit (the service's build stage installs the service itself on top)
#   runtime  the interpreter, tzdata, the non-root user, the environment, port and liveness check
#
# docker-compose.yml builds both as the build-only services `base-build` and `base-runtime` and
# hands them to the service builds (`additional_contexts: {styrkedja-build: "service:base-build",
# ...}`), so that `docker compose build` orders the builds and the layers up to a service's own
# code are the same in every image (one copy in the build cache and on the registry). Without
# compose (build context: the repository root):
#   docker build -f deploy/docker/python-base.Dockerfile --target build   -t styrkedja/base-build:local .
#   docker build -f deploy/docker/python-base.Dockerfile --target runtime -t styrkedja/base-runtime:local .
#   docker buildx build -f services/assessment/Dockerfile -t styrkedja/assessment:local \
#       --build-context styrkedja-build=docker-image://styrkedja/base-build:local \
#       --build-context styrkedja-runtime=docker-image://styrkedja/base-runtime:local .

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build
FROM ${PYTHON_IMAGE} AS build
# Optional package mirror (--build-arg PIP_INDEX_URL=...); build-stage ARGs never reach the final image.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Third-party pins first, in a layer of their own: rebuilt only when the pins change.
# runtime.txt is the production subset of requirements/lock.txt (no pytest, no embedded servers).
COPY requirements/runtime.txt /tmp/runtime.txt
RUN pip install --require-virtualenv -r /tmp/runtime.txt
# The shared packages as regular (not editable) installs. --no-deps: every dependency comes from
# the pins above, and the service stage's `pip check` fails the build if one of them is missing.
COPY packages/contracts /src/packages/contracts
COPY packages/kit /src/packages/kit
RUN pip install --require-virtualenv --no-deps /src/packages/contracts /src/packages/kit

# ---- runtime: the interpreter and the user; the service copies its virtual environment in
FROM ${PYTHON_IMAGE} AS runtime
# Time-zone data for zoneinfo: the forecast service computes its reporting windows in
# Europe/Stockholm and slim images ship no /usr/share/zoneinfo. In every image, so that they
# behave alike and share this layer. Unpinned on purpose: time-zone rules change, and the newest
# tzdata of the base image's Debian release is the correct one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tzdata \
 && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 styrkedja \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin styrkedja
# The .pyc files are compiled at install time; the root filesystem is read-only in production.
# WEB_CONCURRENCY: uvicorn's worker processes (each a full replica: HTTP, consumer-group member,
# relay candidate). 1 where pods scale out and carry a static group instance id (k8s); compose sets 2.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WEB_CONCURRENCY=1
USER 10001:10001
EXPOSE 8000
# Liveness only (/healthz): /readyz also needs the database and the broker, and an unreachable
# dependency must not make Docker report the process itself as broken.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
