"""Airbyte source connector for Qualtrics."""
