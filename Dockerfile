# Airbyte's convention for Python connectors: the platform runs the image with
# `spec`, `check --config`, `discover --config` or `read --config --catalog [--state]`.
# BASE_IMAGE defaults to Airbyte's Python connector base image (Python 3.11 in /usr/local, user `airbyte`
# uid 1000, pinned by digest); `make image-test` passes a locally built stand-in with the same Python
# minor version, paths and user (see image_tests/run_image_test.py).
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73
FROM ${BASE_IMAGE}

# Build-time only and empty by default: a CA bundle / package index the builder hands to pip
# (`make image-test` reads them from the host). Nothing of them stays in the image.
ARG PIP_CERT=""
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""

WORKDIR /airbyte/integration_code

# The locked set first, in its own layer: every package at the version and hashes of
# requirements/connector.lock (which holds the build backend, setuptools, too), nothing resolved.
COPY requirements/connector.lock ./requirements/
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && if [ -z "$PIP_INDEX_URL" ]; then unset PIP_INDEX_URL; fi \
    && if [ -z "$PIP_EXTRA_INDEX_URL" ]; then unset PIP_EXTRA_INDEX_URL; fi \
    && python -m pip install --no-cache-dir --require-hashes -r requirements/connector.lock

COPY pyproject.toml README.md LICENSE spec.json main.py ./
COPY source_qualtrics ./source_qualtrics
# In the repository source_qualtrics/spec.json is a symlink to ../spec.json: put the real file in its
# place so the package (and the wheel built from it) carries the content, then install the connector
# alone (no dependencies, the locked setuptools as build backend: no index is asked) and prove the
# installed command answers `spec` from outside the sources.
RUN cp --remove-destination spec.json source_qualtrics/spec.json \
    && python -m pip install --no-cache-dir --no-index --no-deps --no-build-isolation . \
    && cd / \
    && source-qualtrics spec > /dev/null \
    && python -c "import pathlib, source_qualtrics as s; p = pathlib.Path(s.__file__).with_name('spec.json'); assert p.is_file() and not p.is_symlink(), p"

# The installed console script, as Airbyte's own python-connector Dockerfile does.
ENV AIRBYTE_ENTRYPOINT="source-qualtrics"
ENTRYPOINT ["source-qualtrics"]

# Airbyte runs connectors as the base image's non-root user.
USER airbyte

LABEL io.airbyte.name=airbyte/source-qualtrics
LABEL io.airbyte.version=0.1.0
