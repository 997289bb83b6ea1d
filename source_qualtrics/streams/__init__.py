"""One module per Qualtrics resource family."""
