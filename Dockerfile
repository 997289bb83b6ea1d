# Airbyte's convention for Python connectors: the platform runs the image with
# `spec`, `check --config`, `discover --config` or `read --config --catalog [--state]`.
# BASE_IMAGE defaults to Airbyte's Python connector base image (Python 3.11, pinned by digest);
# `make image-test` passes a locally built stand-in with the same Python and paths.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73
FROM ${BASE_IMAGE}

ARG PIP_CERT=""
WORKDIR /airbyte/integration_code

# Dependencies first so code edits reuse the cached layer.
COPY pyproject.toml README.md spec.json ./
COPY source_qualtrics ./source_qualtrics
COPY main.py ./
RUN if [ -n "$PIP_CERT" ]; then export PIP_CERT; fi \
    && python -m pip install --no-cache-dir . \
    && source-qualtrics spec > /dev/null

ENV AIRBYTE_ENTRYPOINT="python /airbyte/integration_code/main.py"
ENTRYPOINT ["python", "/airbyte/integration_code/main.py"]

LABEL io.airbyte.name=airbyte/source-qualtrics
LABEL io.airbyte.version=0.1.0
