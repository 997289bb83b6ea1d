from __future__ import annotations

from source_qualtrics.streams.export_stream import Progress


def test_the_first_survey_is_estimated_from_its_file_size_and_extrapolated() -> None:
    progress = Progress(surveys=4)
    message = progress.estimate_message("responses", current_size=150_000)
    estimate = message.trace.estimate  # type: ignore[union-attr]
    assert estimate.name == "responses"
    assert estimate.row_estimate == 400  # 100 rows of ~1500 bytes, times 4 surveys
    assert estimate.byte_estimate == 600_000


def test_estimates_learn_the_real_bytes_per_record() -> None:
    progress = Progress(surveys=3)
    progress.survey_finished(rows=1000, size=500_000)  # 500 bytes per record in this brand
    estimate = progress.estimate_message("responses", current_size=250_000).trace.estimate  # type: ignore[union-attr]
    # done 1000 + current 500 + one more survey like the average (375,000 bytes = 750 rows)
    assert estimate.row_estimate == 2250
