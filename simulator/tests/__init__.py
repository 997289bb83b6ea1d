"""Tests of the Qualtrics simulator."""
