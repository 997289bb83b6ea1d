"""Airbyte source connector for Qualtrics."""

from source_qualtrics.startup import skip_attribute_docstrings

# Before anything imports airbyte-cdk (see startup.py: ~0.6 s off every command's start-up).
skip_attribute_docstrings()
