"""What every stream of one sync shares: the survey list, survey details, export files, the start time.

Several streams need the list of surveys (`surveys`, the export-fed streams, questions, distributions,
the typed per-survey streams); it is read once per sync here. The same goes for a survey's details
(`GET /surveys/{id}`: its `responseCounts`), which windowing and the skip option both read, and for
export files that more than one stream reads (`export_cache.py`). The completeness check reads a
survey's counts a second time once its exports are done (`recount`), and `responses` leaves what it
found per survey in `export_reports` for the `survey_response_counts` stream.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from source_qualtrics.client import QualtricsClient
from source_qualtrics.completeness import CountsReading, SurveyExportReport
from source_qualtrics.config import QualtricsConfig
from source_qualtrics.dates import DateTime, iso_millis, now, parse_instant
from source_qualtrics.errors import ConfigError, QualtricsApiError, QualtricsConnectionError
from source_qualtrics.export_cache import ExportCache
from source_qualtrics.page_spool import Chains, PageSpool

logger = logging.getLogger("airbyte")

# What the streams read from a survey's details: its response counts and its creation date.
KEPT_DETAILS = ("responseCounts", "creationDate")


def survey_list_forbidden(host: str, error: QualtricsApiError) -> ConfigError:
    """A token that may not list surveys can sync nothing survey-related: one line that says so."""
    return ConfigError(
        f"The token's user may not list surveys on {host} ({error}): grant it access to the surveys "
        "(OAuth scope read:surveys), or use a token of a user who owns or shares them."
    )


class SyncContext:
    def __init__(self, client: QualtricsClient, config: QualtricsConfig) -> None:
        self.client = client
        self.config = config
        self.started_at: DateTime = now()
        self.exports = ExportCache()
        self._surveys: list[dict[str, Any]] | None = None
        self._surveys_lock = threading.Lock()
        self._by_id: dict[str, dict[str, Any]] = {}
        self._details: dict[str, dict[str, Any] | None] = {}
        self._read_at: dict[str, str] = {}  # when each survey's details were read
        self._recounts: dict[str, CountsReading | None] = {}
        self.export_reports: dict[str, SurveyExportReport] = {}  # by `responses`, per survey
        self._details_lock = threading.Lock()
        self._details_reads: dict[str, threading.Event] = {}  # surveys whose details a thread is reading
        self._spool_dir: Path | None = None
        self._spool_dir_lock = threading.Lock()
        self._read_ahead: dict[str, PageSpool] = {}

    def surveys(self) -> list[dict[str, Any]]:
        """Every survey the token's user can see, as `GET /surveys` lists them (read once per sync,
        whichever thread asks first: a read-ahead may)."""
        with self._surveys_lock:
            return self._list_surveys()

    def _list_surveys(self) -> list[dict[str, Any]]:
        if self._surveys is None:
            try:
                self._surveys = [
                    element
                    for element in self.client.paginate("surveys")
                    if isinstance(element.get("id"), str)
                ]
            except QualtricsApiError as error:
                if error.status == 403:
                    raise survey_list_forbidden(self.client.host, error) from None
                raise
            self._by_id = {survey["id"]: survey for survey in self._surveys}
        return self._surveys

    def listed(self, survey_id: str) -> Mapping[str, Any]:
        """The survey's entry in the list (empty for a configured id the list does not show)."""
        self.surveys()
        return self._by_id.get(survey_id, {})

    def survey_ids(self) -> list[str]:
        """The configured surveys, else every listed survey."""
        if self.config.survey_ids:
            return list(self.config.survey_ids)
        return [survey["id"] for survey in self.surveys()]

    def details(self, survey_id: str) -> dict[str, Any] | None:
        """`GET /surveys/{id}` once per sync, kept to what the streams use (`KEPT_DETAILS`: a survey's
        details hold its whole questionnaire, too much to keep for 10,000 surveys); None (with a
        warning) when it cannot be read. Safe from any thread: a survey being read by one thread is
        waited for by the others, not read twice."""
        with self._details_lock:
            if survey_id in self._details:
                return self._details[survey_id]
            reading = self._details_reads.get(survey_id)
            mine = reading is None
            if reading is None:
                reading = self._details_reads[survey_id] = threading.Event()
        if not mine:
            reading.wait()
            return self._details.get(survey_id)
        try:
            self._details[survey_id] = self._read_details(survey_id)
            self._read_at[survey_id] = iso_millis(now())
        finally:  # a read that stops the sync (a rejected credential) still releases the waiting threads
            with self._details_lock:
                del self._details_reads[survey_id]
            reading.set()
        return self._details[survey_id]

    def _read_details(self, survey_id: str) -> dict[str, Any] | None:
        try:
            result = self.client.get_result(f"surveys/{survey_id}")
        except (QualtricsApiError, QualtricsConnectionError) as error:
            logger.warning("Survey %s: its details could not be read: %s", survey_id, error)
            return None
        return {key: result[key] for key in KEPT_DETAILS if key in result}

    def response_counts(self, survey_id: str) -> dict[str, int] | None:
        """`responseCounts` (`auditable`, `deleted`, ...) of a survey, None when unknown."""
        return integer_counts(self.details(survey_id))

    def counts_reading(self, survey_id: str) -> CountsReading | None:
        """The sync's first read of the survey's counts (shared with planning and the skip option)."""
        return CountsReading.of(self.response_counts(survey_id), self._read_at.get(survey_id, ""))

    def recount(self, survey_id: str) -> CountsReading | None:
        """A read of the counts after the survey's exports (once per sync): the check's second bound."""
        if survey_id not in self._recounts:
            details = self._read_details(survey_id)
            self._recounts[survey_id] = CountsReading.of(integer_counts(details), iso_millis(now()))
        return self._recounts[survey_id]

    def latest_counts(self, survey_id: str) -> CountsReading | None:
        """The newest counts read in this sync (one read if none was made yet)."""
        return self._recounts.get(survey_id) or self.counts_reading(survey_id)

    def created(self, survey_id: str) -> DateTime | None:
        """When the survey was created: no response can be older, so windows start there."""
        return parse_instant((self.details(survey_id) or {}).get("creationDate"))

    def spool_dir(self) -> Path:
        """Where this sync's export files and read-ahead spools wait to be read; made on first use (by
        whichever thread comes first: downloads run on worker threads), removed by `close`."""
        with self._spool_dir_lock:
            if self._spool_dir is None:
                self._spool_dir = Path(tempfile.mkdtemp(prefix="source-qualtrics-"))
            return self._spool_dir

    def read_ahead(self, name: str, chains: Chains) -> PageSpool:
        """Start reading a stream's lists now, in the background (`page_spool.py`: the CDK reads
        streams one after another, so their requests overlap the other streams')."""
        file = self.spool_dir() / f"{name}.jsonl"
        spool = self._read_ahead[name] = PageSpool(file, chains, after=self.client.accepted, name=name)
        return spool

    def read_ahead_of(self, name: str) -> PageSpool | None:
        """The lists read ahead for stream `name`, None when nothing is."""
        return self._read_ahead.get(name)

    def close(self) -> None:
        for spool in self._read_ahead.values():
            spool.close()
        self._read_ahead.clear()
        self.exports.clear()
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None


def integer_counts(details: Mapping[str, Any] | None) -> dict[str, int] | None:
    """The integer entries of a survey's `responseCounts`, None when it has none."""
    counts = (details or {}).get("responseCounts")
    if not isinstance(counts, Mapping):
        return None
    return {
        key: value
        for key, value in counts.items()
        if isinstance(key, str) and isinstance(value, int) and not isinstance(value, bool)
    }
