"""Long page chains read ahead from the start of the sync (`page_spool.py`), against requests-mock."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import SyncMode

from source_qualtrics.errors import QualtricsApiError
from source_qualtrics.page_spool import PageSpool, SpoolClosed
from source_qualtrics.source import SourceQualtrics, reading_order
from source_qualtrics.streams.directory import DirectoryContacts
from source_qualtrics.sync import SyncContext
from unit_tests.builders import BASE_URL, config, error_body
from unit_tests.helpers import catalog, run_read
from unit_tests.test_directory_streams import (
    FORBIDDEN,
    POOL_1,
    POOL_2,
    contact,
    data,
    list_directories,
    page,
    warnings,
)

CONTACTS_1 = f"{BASE_URL}/directories/{POOL_1}/contacts"
CONTACTS_2 = f"{BASE_URL}/directories/{POOL_2}/contacts"
SERVER_ERROR = error_body("500 - Internal Server Error", "GS_1", "Something broke.")


def chain_of_pages(api, url: str, prefix: str, pages: int, per_page: int) -> None:  # type: ignore[no-untyped-def]
    """`pages` skipToken pages of `per_page` contacts each at `url`."""
    for number in range(pages):
        here = url if number == 0 else f"{url}?skipToken={prefix}{number}"
        following = f"{url}?skipToken={prefix}{number + 1}" if number + 1 < pages else None
        contacts = [contact(f"CID_{prefix}{number}_{i}", extRef=f"{number}-{i}") for i in range(per_page)]
        api.get(here, complete_qs=number > 0, json=page(contacts, following))


def requested(api, url: str) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for request in api.request_history if request.url.split("?")[0] == url)


def plain_read(stream_source: SourceQualtrics) -> list[Mapping[str, Any]]:
    """The stream's records read without read-ahead (no catalog selects it: nothing is read ahead)."""
    streams = {stream.name: stream for stream in stream_source.streams(config())}
    records = streams["directory_contacts"].read_only_records()
    # as the protocol carries them: a field without a value is left out
    return [{k: v for k, v in record.items() if v is not None} for record in records]  # type: ignore[union-attr]


def test_records_read_ahead_are_the_records_of_a_plain_read_in_the_same_order(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1, POOL_2)
    chain_of_pages(api, CONTACTS_1, "a", pages=4, per_page=130)
    chain_of_pages(api, CONTACTS_2, "b", pages=2, per_page=3)
    output = run_read(source, config(), "directory_contacts", sync_mode=SyncMode.full_refresh)
    spooled = data(output, "directory_contacts")
    plain_source = SourceQualtrics(sleep=lambda _seconds: None)
    assert spooled == plain_read(plain_source)
    assert len(spooled) == 4 * 130 + 2 * 3
    # the read-ahead made the requests of one plain read: listing once, each page once
    assert requested(api, f"{BASE_URL}/directories") == 2  # this read and the plain one
    assert requested(api, CONTACTS_1) == 2 * 4
    assert requested(api, CONTACTS_2) == 2 * 2


def test_a_refused_directory_warns_once_at_its_place_and_the_next_directory_is_read(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1, POOL_2)
    api.get(CONTACTS_1, status_code=403, json=FORBIDDEN)
    chain_of_pages(api, CONTACTS_2, "b", pages=2, per_page=2)
    output = run_read(source, config(), "directory_contacts", sync_mode=SyncMode.full_refresh)
    assert [r["contactId"] for r in data(output, "directory_contacts")] == [
        "CID_b0_0",
        "CID_b0_1",
        "CID_b1_0",
        "CID_b1_1",
    ]
    assert len(warnings(output)) == 1
    assert f"GET /directories/{POOL_1}/contacts" in warnings(output)[0]


def test_a_server_error_fails_the_stream_at_its_place_and_nothing_past_it_is_read(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1, POOL_2)
    api.get(CONTACTS_1, json=page([contact("CID_1")], f"{CONTACTS_1}?skipToken=2"))
    api.get(f"{CONTACTS_1}?skipToken=2", complete_qs=True, status_code=500, json=SERVER_ERROR)
    api.get(CONTACTS_2, json=page([contact("CID_9")]))
    output = run_read(
        source, config(), "directory_contacts", sync_mode=SyncMode.full_refresh, expect_failure=True
    )
    assert [r["contactId"] for r in data(output, "directory_contacts")] == ["CID_1"]
    assert output.errors, "the 500 fails the stream as a plain read would"
    assert requested(api, f"{CONTACTS_1}") == 1 + 6  # the first page, then the failing one's attempts
    assert (
        requested(api, CONTACTS_2) == 0
    )  # the worker waits at the failed chain: the stream never went past it


def test_nothing_is_read_ahead_when_the_stream_is_not_selected(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    api.get(CONTACTS_1, json=page([contact("CID_1")]))
    api.get(f"{BASE_URL}/directories/{POOL_1}/mailinglists", json=page([]))
    output = run_read(source, config(), "directories", "mailing_lists", sync_mode=SyncMode.full_refresh)
    assert [r["directoryId"] for r in data(output, "directories")] == [POOL_1]
    assert requested(api, CONTACTS_1) == 0
    assert requested(api, f"{BASE_URL}/directories") == 2  # directories, and mailing_lists' parents


def test_closing_the_sync_stops_the_read_ahead_and_removes_its_spool(api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1)
    chain_of_pages(api, CONTACTS_1, "a", pages=3, per_page=5)
    source = SourceQualtrics(sleep=lambda _seconds: None)
    stream = next(s for s in source.streams(config()) if s.name == "directory_contacts")
    assert isinstance(stream, DirectoryContacts)
    sync = source_sync(source)
    stream.start_read_ahead(SyncMode.full_refresh, {})
    spool = sync.read_ahead_of("directory_contacts")
    assert spool is not None
    first = next(iter(stream.read_only_records()))
    assert first["contactId"] == "CID_a0_0"
    spool_dir = sync.spool_dir()
    assert any(spool_dir.iterdir())
    sync.close()
    assert not spool_dir.exists()
    assert sync.read_ahead_of("directory_contacts") is None


def source_sync(source: SourceQualtrics) -> SyncContext:
    sync = source._sync  # the context `streams` made for this sync
    assert sync is not None
    return sync


# -- the spool on its own -------------------------------------------------------------------------


def proven() -> threading.Event:
    """The credential proved itself already: the worker starts at once."""
    event = threading.Event()
    event.set()
    return event


def elements(prefix: str, count: int, gate: threading.Event | None = None) -> Iterator[dict[str, Any]]:
    for number in range(count):
        if gate is not None and number == count // 2:
            gate.wait(5)
        yield {"id": f"{prefix}{number}"}


def test_the_stream_follows_a_chain_the_worker_is_still_writing(tmp_path: Path) -> None:
    gate = threading.Event()
    chains = [("a", elements("a", 300, gate)), ("b", elements("b", 2))]
    spool = PageSpool(tmp_path / "s.jsonl", lambda: chains, after=proven())
    read = spool.elements("a", lambda: pytest.fail("chain a was read ahead"))
    seen = [next(read)["id"] for _ in range(100)]  # handed over before the worker reached the gate
    assert seen[-1] == "a99"
    gate.set()
    seen += [element["id"] for element in read]
    assert seen == [f"a{n}" for n in range(300)]
    assert [e["id"] for e in spool.elements("b", lambda: [])] == ["b0", "b1"]
    spool.close()
    assert not (tmp_path / "s.jsonl").exists()


def test_after_a_failed_chain_the_worker_waits_until_the_stream_goes_past_it(tmp_path: Path) -> None:
    started: list[str] = []

    def chain(key: str) -> Iterator[dict[str, Any]]:
        started.append(key)
        yield {"id": key}
        if key == "a":
            raise QualtricsApiError(403, "forbidden")

    spool = PageSpool(tmp_path / "s.jsonl", lambda: ((key, chain(key)) for key in ("a", "b")), after=proven())
    read = spool.elements("a", lambda: [])
    assert next(read) == {"id": "a"}
    with pytest.raises(QualtricsApiError):
        next(read)
    assert started == ["a"]  # held: the stream has not asked for more
    assert list(spool.elements("b", lambda: [])) == [{"id": "b"}]
    assert started == ["a", "b"]
    spool.close()


def test_a_chain_the_worker_never_read_is_read_by_the_stream_itself(tmp_path: Path) -> None:
    spool = PageSpool(tmp_path / "s.jsonl", lambda: [("a", elements("a", 1))], after=proven())
    assert list(spool.elements("other", lambda: [{"id": "plain"}])) == [{"id": "plain"}]
    spool.close()


def test_a_credential_refused_in_the_read_ahead_still_stops_the_sync_with_one_error(source, api) -> None:  # type: ignore[no-untyped-def]
    list_directories(api, POOL_1, POOL_2)
    unauthorized = error_body("401 - Unauthorized", "AUTH_1", "Invalid token")
    api.get(CONTACTS_1, status_code=401, json=unauthorized)
    api.get(CONTACTS_2, json=page([contact("CID_9")]))
    output = run_read(
        source,
        config(),
        "directories",
        "directory_contacts",
        sync_mode=SyncMode.full_refresh,
        expect_failure=True,
    )
    assert not data(output, "directory_contacts")
    assert len(output.errors) == 1
    assert output.errors[0].trace.error.failure_type.value == "config_error"  # type: ignore[union-attr]
    assert requested(api, CONTACTS_2) == 0


def test_the_stream_read_ahead_is_read_after_the_others_and_before_the_counts() -> None:
    names = ("survey_response_counts", "directory_contacts", "users", "responses")
    ordered = reading_order(catalog(*names, sync_mode=SyncMode.full_refresh))
    assert [entry.stream.name for entry in ordered.streams] == [
        "users",
        "responses",
        "directory_contacts",
        "survey_response_counts",
    ]


def test_a_chain_cut_short_by_the_end_of_the_sync_fails_rather_than_ends_early(tmp_path: Path) -> None:
    gate = threading.Event()
    spool = PageSpool(tmp_path / "s.jsonl", lambda: [("a", elements("a", 300, gate))], after=proven())
    read = spool.elements("a", lambda: [])
    assert [next(read)["id"] for _ in range(100)][-1] == "a99"
    spool.close()
    gate.set()
    with pytest.raises(SpoolClosed):
        list(read)


def test_the_worker_waits_for_the_credential_to_prove_itself_or_for_the_stream_to_ask(tmp_path: Path) -> None:
    began = threading.Event()

    def chains() -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
        began.set()
        yield "a", elements("a", 2)

    waiting = PageSpool(tmp_path / "w.jsonl", chains, after=threading.Event())
    assert not began.wait(0.2)  # no request before another one proved the credential
    assert [e["id"] for e in waiting.elements("a", lambda: [])] == ["a0", "a1"]  # asking starts it
    waiting.close()

    began.clear()
    accepted = threading.Event()
    spool = PageSpool(tmp_path / "s.jsonl", chains, after=accepted)
    accepted.set()
    assert began.wait(5)
    spool.close()
