# syntax=docker/dockerfile:1
#
# twilio-operator container image.
#
#   make image                        # buildah, podman or docker, whichever is installed
#   docker build -t twilio-operator .
#
# Two stages: `build` turns the source into a wheel and installs it with its runtime dependencies (and
# nothing else: no sandbox, no test tools) into a virtualenv; the final stage copies only that virtualenv.
# The image runs as a fixed non-root UID, writes nothing outside /tmp (so `readOnlyRootFilesystem: true`
# works), has no HEALTHCHECK and serves kopf's liveness endpoint for Kubernetes probes instead.
#
# tests/packaging/test_dockerfile.py runs this stage's RUN steps in a temporary virtualenv, so keep every
# path in them behind the ENV names below.

FROM python:3.11.14-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/twilio-operator

WORKDIR /src
# Only what the package is built from (.dockerignore keeps the rest of the repository out of the context).
COPY pyproject.toml README.md ./
COPY operator ./operator

# The base image's pip builds the wheel in an isolated environment (setuptools from PyPI, as
# pyproject.toml's build-system asks) and installs it with its runtime dependencies only (no sandbox, no
# test tools) into a virtualenv that has no pip of its own. pip byte-compiles as it installs, so nothing
# writes __pycache__ at run time.
RUN python3 -m venv --without-pip "$VIRTUAL_ENV" \
    && python3 -m pip --python "$VIRTUAL_ENV/bin/python" install --no-cache-dir . \
    && "$VIRTUAL_ENV/bin/twilio-operator" version


FROM python:3.11.14-slim-bookworm

ARG VERSION=0.1.0
ARG REVISION=unknown
# The repository URL, passed in by whoever builds from a known remote; empty otherwise.
ARG SOURCE=""

LABEL org.opencontainers.image.title="twilio-operator" \
      org.opencontainers.image.description="Kubernetes operator for Twilio subaccounts, API keys and Messaging Services" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"

# Same path as in the build stage: the virtualenv's scripts have it in their shebang lines.
COPY --from=build /opt/twilio-operator /opt/twilio-operator

# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only in the chart; everything is compiled already.
# HOME and TMPDIR point at /tmp, the one writable place (an emptyDir in the chart).
ENV PATH=/opt/twilio-operator/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp

# A fixed numeric UID/GID with no passwd entry: Kubernetes can check `runAsNonRoot` only against a
# number, and nothing in the operator looks the user up. 65532 is the conventional "nonroot" ID.
USER 65532:65532

# kopf's liveness endpoint; the chart's probes use it.
EXPOSE 8080

ENTRYPOINT ["twilio-operator", "run"]
# Arguments to `run`; the chart replaces them (namespaces, peering, the same liveness endpoint).
CMD ["--liveness=http://0.0.0.0:8080/healthz"]
