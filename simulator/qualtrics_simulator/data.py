"""Deterministic survey and response content.

Nothing here holds per-response state: a response is regenerated from (seed, survey, slot, edit version)
whenever it is exported, which keeps a million-response survey at constant memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from .ids import digest, mix64

EPOCH_MS = 1767225600000  # 2026-01-01T00:00:00Z: base responses are spread over the year before it.
SPAN_MS = 365 * 86400 * 1000

META_KEYS = (
    "startDate",
    "endDate",
    "status",
    "ipAddress",
    "progress",
    "duration",
    "finished",
    "recordedDate",
    "_recordId",
    "locationLatitude",
    "locationLongitude",
    "distributionChannel",
    "userLanguage",
)
# Valid in surveyMetadataIds although anonymous responses never carry them.
OPTIONAL_META_KEYS = ("recipientLastName", "recipientFirstName", "recipientEmail", "externalReference")
EMBEDDED_FIELDS = ("segment", "customer_id")
QUESTION_IDS = ("QID1", "QID2", "QID3", "QID4", "QID5", "QID6")

SATISFACTION = (
    "Extremely dissatisfied",
    "Somewhat dissatisfied",
    "Neither satisfied nor dissatisfied",
    "Somewhat satisfied",
    "Extremely satisfied",
)
FEATURES = ("Dashboards", "Reports", "Mobile app", "Integrations", "Support portal")
MATRIX_ROWS = ("Price", "Quality", "Delivery", "Support")
MATRIX_SCALE = ("Poor", "Fair", "Good", "Very good", "Excellent")
DISSATISFACTION_REASONS = ("Too expensive", "Poor quality", "Slow delivery", "Unhelpful support")
NPS_GROUPS = ("Detractor", "Passive", "Promoter")
SEGMENTS = ("enterprise", "smb", "consumer", "public-sector")
LANGUAGES = ("EN", "EN", "EN", "EN", "ES", "FR", "DE")
WORDS = (
    "faster",
    "cheaper",
    "support",
    "great",
    "slow",
    "easy",
    "confusing",
    "love it",
    "pricing",
    "delivery",
    "quality",
    "mobile",
    "more options",
    "clearer invoices",
    "friendly staff",
    "naïve café ☕",
)
PRODUCTS = (
    "Beskar Armor",
    "Sourdough Bread",
    "Acme Widgets",
    "Cloud Storage",
    "City Transit",
    "Home Internet",
)
KINDS = ("Customer Satisfaction", "Product Feedback", "Onboarding Pulse", "Relationship NPS")


# values.status of generated responses; labels as in a recorded export (numeric codes UNCONFIRMED).
STATUS_PREVIEW = 1
STATUS_TEST = 2
GENERATED_LABELS = {STATUS_PREVIEW: ("Survey Preview", "preview"), STATUS_TEST: ("Survey Test", "test")}


def iso_seconds(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def iso_millis(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


WEEK_MS = 7 * 86400 * 1000


def busy_week_start(seed: int, survey_index: int) -> int:
    """Where a skewed survey's busy week begins: a whole week inside the year of base responses."""
    return EPOCH_MS - SPAN_MS + mix64(seed * 104_729 + survey_index) % (SPAN_MS // WEEK_MS) * WEEK_MS


def base_recorded_ms(
    seed: int, survey_index: int, slot: int, base_count: int, busy_week_fraction: float = 0.0
) -> int:
    """Non-decreasing in slot, so date windows can be found by bisection instead of a scan.

    Spread evenly over the year before EPOCH_MS; with `busy_week_fraction` > 0 that fraction of the
    slots falls in one week (`busy_week_start`) and the rest is spread over the other 51: surveys get
    answered in bursts, and backfills must cut by record count, not by halving time.
    """
    jitter = mix64(seed * 1_000_003 + survey_index * 7919 + slot)
    if busy_week_fraction <= 0:
        step = max(1, SPAN_MS // max(base_count, 1))
        return EPOCH_MS - SPAN_MS + slot * step + jitter % step
    week = busy_week_start(seed, survey_index)
    busy = round(base_count * min(1.0, busy_week_fraction))
    quiet = base_count - busy
    before = quiet * (week - (EPOCH_MS - SPAN_MS)) // (SPAN_MS - WEEK_MS)  # quiet slots before the week
    segments = (  # (first slot, slots, first ms, length ms), in slot and time order
        (0, before, EPOCH_MS - SPAN_MS, week - (EPOCH_MS - SPAN_MS)),
        (before, busy, week, WEEK_MS),
        (before + busy, quiet - before, week + WEEK_MS, EPOCH_MS - week - WEEK_MS),
    )
    for first, count, start_ms, length_ms in segments:
        if slot < first + count or first + count >= base_count:
            step = max(1, length_ms // max(count, 1))
            return start_ms + (slot - first) * step + jitter % step
    raise AssertionError("unreachable: the last segment ends at base_count")


@dataclass(frozen=True)
class SurveyInfo:
    """Static facts about one survey (its questions are the same template for every survey)."""

    id: str
    index: int
    name: str
    owner_id: str
    creation_ms: int
    modified_ms: int
    seed: int
    base_responses: int = 0
    generated_responses: int = 0  # test/preview responses among the base ones (responseCounts.generated)
    busy_week_fraction: float = 0.0  # of the base responses, the share recorded in one week
    extra_questions: int = 0  # questions after the six fixed ones (`wide_questions`): wider records

    @property
    def product(self) -> str:
        return PRODUCTS[self.index % len(PRODUCTS)]

    def generated_status(self, slot: int) -> int:
        """0 for a real response; 2 (Survey Test) or 1 (Survey Preview) for a generated one.

        Generated responses are spread evenly over the base slots; about one in eight is a preview.
        """
        if self.generated_responses <= 0 or slot >= self.base_responses:
            return 0
        stride = max(1, self.base_responses // self.generated_responses)
        number, rest = divmod(slot, stride)
        if rest or number >= self.generated_responses:
            return 0
        return STATUS_PREVIEW if number % 8 == 7 else STATUS_TEST


def survey_name(seed: int, index: int) -> str:
    kind = KINDS[digest("kind", seed, index)[0] % len(KINDS)]
    return f"{PRODUCTS[index % len(PRODUCTS)]} {kind} {index + 1}"


def survey_dates(seed: int, index: int) -> tuple[int, int]:
    raw = digest("dates", seed, index)
    created = EPOCH_MS - SPAN_MS - 86400_000 * (30 + raw[0] % 200) - 1000 * int.from_bytes(raw[1:4], "big")
    modified = created + 1000 * (3600 + int.from_bytes(raw[4:7], "big"))
    return created, modified


# --- survey definitions -------------------------------------------------------------------------------


def _choices(labels: tuple[str, ...], start: int = 1) -> dict[str, dict[str, str]]:
    return {str(i + start): {"Display": label} for i, label in enumerate(labels)}


def _question(
    qid: str, text: str, qtype: str, selector: str, sub: str | None, **extra: Any
) -> dict[str, Any]:
    q: dict[str, Any] = {
        "QuestionText": text,
        "DataExportTag": "Q" + qid[3:],
        "QuestionType": qtype,
        "Selector": selector,
    }
    if sub is not None:
        q["SubSelector"] = sub
    q.update(
        {
            "Configuration": {"QuestionDescriptionOption": "UseText"},
            "QuestionDescription": text,
        }
    )
    q.update(extra)
    q.update(
        {
            "Validation": {"Settings": {"ForceResponse": "OFF", "ForceResponseType": "ON", "Type": "None"}},
            "Language": [],
            "NextChoiceId": 12,
            "NextAnswerId": 6,
            "QuestionID": qid,
            "DataVisibility": {"Private": False, "Hidden": False},
            "QuestionText_Unsafe": text,
        }
    )
    return q


def definition_questions(info: SurveyInfo) -> dict[str, dict[str, Any]]:
    """Questions in survey-definitions format: one of each kind the connector must cope with."""
    p = info.product
    display_logic = {
        "0": {
            "0": {
                "LogicType": "Question",
                "QuestionID": "QID1",
                "QuestionIsInLoop": "no",
                "ChoiceLocator": "q://QID1/SelectableChoice/1",
                "Operator": "Selected",
                "QuestionIDFromLocator": "QID1",
                "LeftOperand": "q://QID1/SelectableChoice/1",
                "Type": "Expression",
                "Description": "If Overall satisfaction Extremely dissatisfied Is Selected",
            },
            "Type": "If",
        },
        "Type": "BooleanExpression",
        "inPage": False,
    }
    fixed = {
        "QID1": _question(
            "QID1",
            f"Overall, how satisfied are you with {p}?",
            "MC",
            "SAVR",
            "TX",
            Choices=_choices(SATISFACTION),
            ChoiceOrder=["1", "2", "3", "4", "5"],
        ),
        "QID2": _question(
            "QID2",
            f"Which parts of {p} do you use? (select all that apply)",
            "MC",
            "MAVR",
            "TX",
            Choices=_choices(FEATURES),
            ChoiceOrder=["1", "2", "3", "4", "5"],
        ),
        "QID3": _question("QID3", "What could we improve?", "TE", "SL", None),
        "QID4": _question(
            "QID4",
            f"How would you rate {p} on the following?",
            "Matrix",
            "Likert",
            "SingleAnswer",
            Choices=_choices(MATRIX_ROWS),
            ChoiceOrder=["1", "2", "3", "4"],
            Answers=_choices(MATRIX_SCALE),
            AnswerOrder=["1", "2", "3", "4", "5"],
        ),
        "QID5": _question(
            "QID5",
            f"How likely are you to recommend {p} to a friend or colleague?",
            "MC",
            "NPS",
            None,
            Choices={str(i): {"Display": str(i)} for i in range(11)},
            ChoiceOrder=[str(i) for i in range(11)],
        ),
        "QID6": _question(
            "QID6",
            "What was the main reason you were dissatisfied?",
            "MC",
            "SAVR",
            "TX",
            Choices=_choices(DISSATISFACTION_REASONS),
            ChoiceOrder=["1", "2", "3", "4"],
            DisplayLogic=display_logic,
        ),
    }
    return {**fixed, **wide_definitions(info.extra_questions)}


def question_ids(extra_questions: int) -> tuple[str, ...]:
    """The survey's question ids: the six fixed ones, then its wide ones."""
    return QUESTION_IDS + tuple(qid for qid, _ in wide_questions(extra_questions))


# --- wide surveys --------------------------------------------------------------------------------------
# Real surveys export from about 25 to 150 `values` keys per response. A survey with `extra_questions`
# gets that many questions after the six fixed ones, cycling through the shapes that make records wide:
# a Likert matrix (one key per row), a multi-select (lists of recodes and labels), a text entry, and a
# single choice whose last option takes "other" text (`QIDn_7_TEXT`, as in recorded responses).
WIDE_KINDS = ("matrix", "multi", "text", "single")
WIDE_ROWS = ("Ease of use", "Speed", "Reliability", "Value for money", "Look and feel")
AGREEMENT = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")
WIDE_OPTIONS = ("Email", "Phone", "Chat", "Web", "Store", "Partner")
SOURCES = ("Search", "Friend", "Advertising", "Social media", "Event", "Press", "Other (specify)")
OTHER_CHOICE = len(SOURCES)  # the option with a text entry
FIXED_VALUES = 25  # `values` keys of a finished response of the fixed template (24 to 26)
WIDE_VALUES_PER_CYCLE = 7.6  # keys the four kinds fill together: 4.7 matrix rows, 1, 0.7 texts, 1.14


def extra_questions_for(values: int) -> int:
    """How many wide questions bring a finished response to about `values` keys of `values`."""
    return max(0, round((values - FIXED_VALUES) * len(WIDE_KINDS) / WIDE_VALUES_PER_CYCLE))


def wide_questions(extra_questions: int) -> list[tuple[str, str]]:
    """(question id, kind) of the wide questions, numbered after the fixed six."""
    return [(f"QID{7 + n}", WIDE_KINDS[n % len(WIDE_KINDS)]) for n in range(extra_questions)]


def wide_keys(qid: str, kind: str) -> tuple[str, ...]:
    """The `values` keys a wide question can fill."""
    if kind == "matrix":
        return tuple(f"{qid}_{row}" for row in range(1, len(WIDE_ROWS) + 1))
    if kind == "text":
        return (f"{qid}_TEXT",)
    if kind == "single":
        return (qid, f"{qid}_{OTHER_CHOICE}_TEXT")
    return (qid,)


def _ordered(labels: tuple[str, ...], kind: str = "Choice") -> dict[str, Any]:
    """A question's `Choices` (or `Answers`) and their display order, numbered from 1."""
    return {f"{kind}s": _choices(labels), f"{kind}Order": [str(i) for i in range(1, len(labels) + 1)]}


def wide_definitions(extra_questions: int) -> dict[str, dict[str, Any]]:
    """The wide questions in survey-definitions format."""
    questions: dict[str, dict[str, Any]] = {}
    shape: tuple[str, str, str | None]
    for qid, kind in wide_questions(extra_questions):
        if kind == "matrix":
            text, shape = "How much do you agree with the following?", ("Matrix", "Likert", "SingleAnswer")
            options = {**_ordered(WIDE_ROWS), **_ordered(AGREEMENT, "Answer")}
        elif kind == "multi":
            text, shape = "How do you contact us? (select all that apply)", ("MC", "MAVR", "TX")
            options = _ordered(WIDE_OPTIONS)
        elif kind == "text":
            text, shape, options = "Anything else you would like to tell us?", ("TE", "SL", None), {}
        else:
            text, shape = "How did you hear about us?", ("MC", "SAVR", "TX")
            options = _ordered(SOURCES)
            options["Choices"][str(OTHER_CHOICE)]["TextEntry"] = "true"
        questions[qid] = _question(qid, text, *shape, **options)
    return questions


def wide_shown(extra_questions: int) -> tuple[list[str], dict[str, list[Any]]]:
    """displayedFields and displayedValues of the wide questions (every one is shown)."""
    fields: list[str] = []
    shown: dict[str, list[Any]] = {}
    for qid, kind in wide_questions(extra_questions):
        keys = wide_keys(qid, kind)
        fields.extend(keys)
        if kind == "matrix":
            shown.update({key: list(range(1, len(AGREEMENT) + 1)) for key in keys})
        elif kind == "multi":
            shown[qid] = [str(i) for i in range(1, len(WIDE_OPTIONS) + 1)]
        elif kind == "single":
            shown[qid] = list(range(1, len(SOURCES) + 1))
    return fields, shown


def wide_answers(
    extra_questions: int, seed: int, values: dict[str, Any], labels: dict[str, Any], version: int
) -> None:
    """One response's answers to the wide questions, drawn from `seed` (a per-response hash)."""
    for number, (qid, kind) in enumerate(wide_questions(extra_questions)):
        r = mix64(seed + number)
        if kind == "matrix":
            for row in range(len(WIDE_ROWS)):
                if (r >> (40 + 4 * row)) & 15:  # about one row in 16 left unanswered
                    answer = 1 + (r >> (3 * row)) % len(AGREEMENT)
                    values[f"{qid}_{row + 1}"] = answer
                    labels[f"{qid}_{row + 1}"] = AGREEMENT[answer - 1]
        elif kind == "multi":
            picked = [i for i in range(len(WIDE_OPTIONS)) if (1 + r % 63) >> i & 1]
            values[qid] = [str(i + 1) for i in picked]
            labels[qid] = [WIDE_OPTIONS[i] for i in picked]
        elif kind == "text":
            if r % 10 < 7 or version:
                text = f"{WORDS[(r >> 8) % len(WORDS)]} and {WORDS[(r >> 16) % len(WORDS)]}"
                values[f"{qid}_TEXT"] = f"{text} [edit {version}]" if version else text
        else:
            choice = 1 + r % len(SOURCES)
            values[qid] = choice
            labels[qid] = SOURCES[choice - 1]
            if choice == OTHER_CHOICE:
                values[f"{qid}_{OTHER_CHOICE}_TEXT"] = WORDS[(r >> 24) % len(WORDS)]


def survey_definition(info: SurveyInfo) -> dict[str, Any]:
    """GET /survey-definitions/{id} result, shaped like the recorded fetch_description payload."""
    block_id = "BL_" + info.id[3:]
    return {
        "SurveyID": info.id,
        "SurveyName": info.name,
        "SurveyStatus": "Active",
        "LastModified": iso_seconds(info.modified_ms),
        "LastAccessed": None,
        "LastActivated": iso_seconds(info.creation_ms + 600_000),
        "BrandID": "simbrand",
        "OwnerID": info.owner_id,
        "CreatorID": info.owner_id,
        "QuestionCount": str(len(question_ids(info.extra_questions))),
        "SurveyOptions": {
            "BackButton": "false",
            "SaveAndContinue": "true",
            "SurveyProtection": "PublicSurvey",
            "PartialData": "+1 week",
            "PartialDataCloseAfter": "LastActivity",
            "SurveyLanguage": "EN",
            "SurveyName": info.name,
            "SurveyCreationDate": iso_seconds(info.creation_ms),
        },
        "Questions": definition_questions(info),
        "Blocks": {
            block_id: {
                "Type": "Default",
                "Description": "Default Question Block",
                "ID": block_id,
                "BlockElements": [
                    {"Type": "Question", "QuestionID": q} for q in question_ids(info.extra_questions)
                ],
            }
        },
        "ResponseSets": {"RS_" + info.id[3:]: "Default Response Set"},
        "SurveyFlow": {
            "Type": "Root",
            "FlowID": "FL_1",
            "Flow": [
                {
                    "Type": "EmbeddedData",
                    "FlowID": "FL_2",
                    "EmbeddedData": [
                        {
                            "Description": f,
                            "Type": "Recipient",
                            "Field": f,
                            "VariableType": "String",
                            "Value": "",
                        }
                        for f in EMBEDDED_FIELDS
                    ],
                },
                {"Type": "Standard", "ID": block_id, "FlowID": "FL_3"},
            ],
            "Properties": {"Count": 3, "RemovedFieldsets": []},
        },
        "Scoring": {"ScoringCategories": [], "ScoringCategoryGroups": [], "DefaultScoringCategory": None},
        "ProjectInfo": {"SurveyID": info.id, "ProjectCategory": "CORE", "ProjectType": "CX"},
        "BrandBaseURL": "https://simbrand.qualtrics.com",
    }


def legacy_survey(info: SurveyInfo, response_counts: dict[str, int]) -> dict[str, Any]:
    """GET /surveys/{id} result, shaped like the recorded metadata payload."""
    questions: dict[str, Any] = {}
    export_map: dict[str, dict[str, str]] = {}
    for qid, q in definition_questions(info).items():
        entry: dict[str, Any] = {
            "questionType": {
                "type": q["QuestionType"],
                "selector": q["Selector"],
                "subSelector": q.get("SubSelector"),
            },
            "questionText": q["QuestionText"],
            "questionLabel": None,
            "validation": {"doesForceResponse": False},
            "questionName": q["DataExportTag"],
        }
        if "Choices" in q:
            entry["choices"] = {
                k: {
                    "recode": k,
                    "description": v["Display"],
                    "choiceText": v["Display"],
                    "imageDescription": None,
                    "variableName": None,
                    "analyze": True,
                }
                for k, v in q["Choices"].items()
            }
        if "Answers" in q:
            entry["subQuestions"] = {
                k: {"description": v["Display"], "choiceText": v["Display"]} for k, v in q["Choices"].items()
            }
            for row in q["Choices"]:
                export_map[f"{q['DataExportTag']}_{row}"] = {
                    "question": qid,
                    "subQuestion": f"{qid}.subQuestions.{row}",
                }
        elif q["QuestionType"] == "TE":
            export_map[q["DataExportTag"]] = {"question": qid}
        else:
            export_map[q["DataExportTag"]] = {"question": qid}
        questions[qid] = entry
    block_id = "BL_" + info.id[3:]
    return {
        "id": info.id,
        "name": info.name,
        "ownerId": info.owner_id,
        "organizationId": "simbrand",
        "isActive": True,
        "creationDate": iso_seconds(info.creation_ms),
        "lastModifiedDate": iso_seconds(info.modified_ms),
        "expiration": {"startDate": None, "endDate": None},
        "questions": questions,
        "exportColumnMap": export_map,
        "blocks": {
            block_id: {
                "description": "Default Question Block",
                "elements": [
                    {"type": "Question", "questionId": q} for q in question_ids(info.extra_questions)
                ],
            }
        },
        "flow": [{"type": "EmbeddedData"}, {"id": block_id, "type": "Block"}],
        "embeddedData": [{"name": f, "defaultValue": ""} for f in EMBEDDED_FIELDS],
        "comments": {},
        "loopAndMerge": {},
        "responseCounts": response_counts,
    }


def list_element(info: SurveyInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "ownerId": info.owner_id,
        "lastModified": iso_seconds(info.modified_ms),
        "creationDate": iso_seconds(info.creation_ms),
        "isActive": True,
    }


# --- response records ----------------------------------------------------------------------------------

QUESTION_KEYS = {
    "QID1": ("QID1",),
    "QID2": ("QID2",),
    "QID3": ("QID3_TEXT",),
    "QID4": tuple(f"QID4_{i}" for i in range(1, 5)),
    "QID5": ("QID5", "QID5_NPS_GROUP"),
    "QID6": ("QID6",),
}
_DISPLAYED_VALUES: dict[str, list[Any]] = {
    "QID1": [1, 2, 3, 4, 5],
    "QID2": ["1", "2", "3", "4", "5"],
    **{f"QID4_{i}": [1, 2, 3, 4, 5] for i in range(1, 5)},
    "QID5": list(range(11)),
    "QID6": [1, 2, 3, 4],
}
_FIELDS_ALWAYS = (
    "QID1",
    "QID2",
    "QID3_TEXT",
    "QID4_1",
    "QID4_2",
    "QID4_3",
    "QID4_4",
    "QID5",
    "QID5_NPS_GROUP",
)


@dataclass(frozen=True)
class KeyFilter:
    """Which value keys an export includes (questionIds / embeddedDataIds / surveyMetadataIds)."""

    metadata: tuple[str, ...] | None = None
    questions: tuple[str, ...] | None = None
    embedded: tuple[str, ...] | None = None

    def allowed(self, extra_questions: int = 0) -> frozenset[str] | None:
        if self.metadata is None and self.questions is None and self.embedded is None:
            return None
        keys: set[str] = set(self.metadata if self.metadata is not None else META_KEYS)
        wide = dict(wide_questions(extra_questions))
        for qid in self.questions if self.questions is not None else question_ids(extra_questions):
            keys.update(QUESTION_KEYS[qid] if qid in QUESTION_KEYS else wide_keys(qid, wide[qid]))
        keys.update(self.embedded if self.embedded is not None else EMBEDDED_FIELDS)
        keys.add("lastModifiedDate")
        return frozenset(keys)


class RecordFactory:
    """Builds export records as bytes; constant parts are serialised once per export for speed."""

    def __init__(self, info: SurveyInfo, key_filter: KeyFilter, with_last_modified: bool) -> None:
        self.info = info
        self.allowed = key_filter.allowed(info.extra_questions)
        self._extra = info.extra_questions
        self._wide_shown = wide_shown(info.extra_questions)
        self.with_last_modified = with_last_modified
        self._prefix = f"{info.seed}|{info.id}|"
        self._tails = {shown: self._tail(shown) for shown in (False, True)}

    def _tail(self, qid6_shown: bool) -> bytes:
        wide_fields, wide_values = self._wide_shown
        fields = list(_FIELDS_ALWAYS) + (["QID6"] if qid6_shown else []) + wide_fields
        if self.allowed is not None:
            fields = [f for f in fields if f in self.allowed]
        displayed = {**_DISPLAYED_VALUES, **wide_values}
        shown = {f: displayed[f] for f in fields if f in displayed}
        return (
            b',"displayedFields":'
            + orjson.dumps(fields)
            + b',"displayedValues":'
            + orjson.dumps(shown)
            + b"}"
        )

    def record(
        self,
        response_id: str,
        slot: int,
        recorded_ms: int,
        version: int = 0,
        modified_ms: int | None = None,
        in_progress: bool = False,
    ) -> bytes:
        d = digest(self._prefix, slot, version)
        stable = mix64(slot * 31 + self.info.index)
        duration = 20 + stable % 900
        end_ms = recorded_ms - (stable >> 20) % 5000
        q1 = 1 + d[0] % 5
        values: dict[str, Any] = {
            "startDate": iso_seconds(end_ms - duration * 1000),
            "endDate": iso_seconds(end_ms),
            "status": 0,
            "ipAddress": f"{10 + d[17] % 200}.{d[18]}.{d[19]}.{d[20]}",
            "progress": 100,
            "duration": duration,
            "finished": 1,
            "recordedDate": iso_millis(recorded_ms),
            "_recordId": response_id,
            "locationLatitude": f"{(int.from_bytes(d[21:23], 'big') / 65535) * 120 - 60:.4f}",
            "locationLongitude": f"{(int.from_bytes(d[23:25], 'big') / 65535) * 340 - 170:.4f}",
            "distributionChannel": "email" if d[15] % 5 == 0 else "anonymous",
            "userLanguage": LANGUAGES[d[16] % len(LANGUAGES)],
        }
        labels: dict[str, Any] = {"status": "IP Address", "finished": "True"}
        status = 0 if in_progress else self.info.generated_status(slot)
        if status:
            values["status"] = status
            labels["status"], values["distributionChannel"] = GENERATED_LABELS[status]
        values["QID1"] = q1
        labels["QID1"] = SATISFACTION[q1 - 1]
        if in_progress:
            values["progress"] = 10 + d[26] % 80
            values["finished"] = 0
            labels["finished"] = "False"
            qid6_shown = False
        else:
            mask = 1 + d[1] % 31
            picked = [i for i in range(5) if mask >> i & 1]
            values["QID2"] = [str(i + 1) for i in picked]
            labels["QID2"] = [FEATURES[i] for i in picked]
            if d[2] % 10 < 7 or version:
                text = f"{WORDS[d[3] % len(WORDS)]}, {WORDS[d[4] % len(WORDS)]}"
                values["QID3_TEXT"] = f"{text} [edit {version}]" if version else text
            for row in range(4):
                answer = 1 + d[5 + row] % 5
                values[f"QID4_{row + 1}"] = answer
                labels[f"QID4_{row + 1}"] = MATRIX_SCALE[answer - 1]
            nps = d[9] % 11
            group = 1 if nps <= 6 else 2 if nps <= 8 else 3
            values["QID5"] = nps
            values["QID5_NPS_GROUP"] = group
            labels["QID5_NPS_GROUP"] = NPS_GROUPS[group - 1]
            qid6_shown = q1 == 1
            if qid6_shown:
                reason = 1 + d[10] % 4
                values["QID6"] = reason
                labels["QID6"] = DISSATISFACTION_REASONS[reason - 1]
            if self._extra:
                wide_answers(self._extra, int.from_bytes(d[24:32], "big"), values, labels, version)
        values["segment"] = SEGMENTS[d[11] % len(SEGMENTS)]
        values["customer_id"] = f"C{int.from_bytes(d[12:15], 'big'):08d}"
        if self.with_last_modified:
            values["lastModifiedDate"] = iso_millis(modified_ms if modified_ms is not None else recorded_ms)
        allowed = self.allowed
        if allowed is not None:
            values = {k: v for k, v in values.items() if k in allowed}
            labels = {k: v for k, v in labels.items() if k in allowed}
        head = b'{"responseId":"' + response_id.encode() + b'","values":' + orjson.dumps(values)
        return head + b',"labels":' + orjson.dumps(labels) + self._tails[qid6_shown]
