"""Micro-bench of `decode_event` (issue 16): µs per event, per step, per event type.

Corpora: every registered event type's committed example (pretty-printed, as committed, and
compact, as a producer writes it: `CloudEvent.to_bytes`), plus realistic generated streams of
assessment and forecast events (seeded; unique ids, repeating organisers/units/groups/students,
Swedish criteria text), written by `new_event(...).to_bytes()` like the services' outboxes.

Steps are timed one at a time on the inputs the step before produced (computed untimed), so the
sum of the steps is close to, not equal to, `total` (`decode_event` itself). The steps are the decode's
own: before issue 16's work parse, pin_scan, envelope, upcast, data, construct; after it plain_prefilter
(is the text plain, may it hold a personnummer), json_validate (the shadows' pydantic-core union over the
raw text) and construct_or_ordinary (model validators, the data model's instance, the CloudEvent; for a
type without a shadow or a refused message, the whole ordinary decode). `kit_record` is the
kit consumer's per-record Python around decode (`misplaced`, `record_digest`, `Delivered`).
Each figure is the best of `--repeats` passes over its corpus (the machine is shared: the best
pass is the one least disturbed), in µs per event.

    .venv/bin/python bench/decode.py --label after            # → bench/results/decode.json
    .venv/bin/python bench/decode.py --label before --quick   # fewer events, fewer passes

The JSON keeps one entry per label (a second run with the same label replaces it), so a
before and an after stay side by side.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for src in ("packages/contracts/src", "packages/kit/src"):
    if str(ROOT / src) not in sys.path:
        sys.path.append(str(ROOT / src))
sys.path.insert(0, str(ROOT / "bench"))

from measured import best_pass  # noqa: E402

from styrkedja_contracts import (  # noqa: E402
    REGISTRY,
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    decode_event,
    example_bytes,
    forecast_id_for,
    new_event,
    topic_for_event_type,
)
from styrkedja_contracts import envelope as env  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "decode.json"
T0 = datetime(2026, 11, 16, 14, 42, tzinfo=UTC)
CRITERIA = (
    "Eleven kan lösa enkla problem i elevnära situationer genom att välja och använda strategier och metoder "
    "med viss anpassning till problemets karaktär.",
    "Eleven för enkla och till viss del underbyggda resonemang om tillvägagångssätt och om resultatens rimlighet.",
    "Eleven kan läsa skönlitteratur och sakprosa med flyt genom att använda lässtrategier på ett i huvudsak "
    "fungerande sätt.",
    "Eleven kan förstå det huvudsakliga innehållet i tydligt talad, enkel engelska i lugnt tempo.",
)
SUBJECTS = ("GRGRMAT01", "GRGRSVE01", "GRGRENG01", "GRGRBIO01", "GRGRFYS01", "GRGRKEM01", "GRGRHIS01", "GRGRSAM01")


def generated(seed: int, n: int) -> dict[str, list[bytes]]:
    """`n` events of each of assessment published/retracted and forecast submitted/withdrawn."""
    rng = random.Random(seed)
    places = [(org, f"{org[:4]}{s:04d}", f"{year}{letter}") for org in ("2999", "3001", "212000-1234")
              for s in range(12) for year in (6, 7, 8, 9) for letter in "ABC"]
    out: dict[str, list[bytes]] = {"gen:assessment.published": [], "gen:assessment.retracted": [],
                                   "gen:forecast.submitted": [], "gen:forecast.withdrawn": []}

    def ids() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    for i in range(n):
        org, code, group = rng.choice(places)
        student, teacher, subject = f"stu-{rng.getrandbits(24):06x}", f"tch-{rng.getrandbits(16):04x}", rng.choice(SUBJECTS)
        value = rng.choice("ABCDEEF")
        at = T0 + timedelta(seconds=i)
        body = dict(organiser_id=org, school_unit_code=code, group_id=f"grp-{code}-{group}", student_id=student,
                    subject_code=subject, school_year="2026/27", term="HT")
        published = AssessmentPublishedV1(
            assessment_id=ids(), revision=rng.randint(1, 3), teacher_id=teacher, gender=rng.choice(
                ["female", "male", "unknown"]), year=int(group[0]), kind="assessment", scale="AF", value=value,
            unmet_criteria=tuple(rng.sample(CRITERIA, rng.randint(1, 2))) if value == "F" else (),
            round=rng.randint(1, 4), assessed_on=date(2026, 11, 13), published_at=at, **body)
        out["gen:assessment.published"].append(new_event(published, source="/assessment", subject=str(
            published.assessment_id), time=at).to_bytes())
        retracted = AssessmentRetractedV1(assessment_id=ids(), revision=rng.randint(2, 4), round=rng.randint(1, 4),
                                          retracted_at=at, reason=rng.choice([None, "Felaktigt registrerad"]), **body)
        out["gen:assessment.retracted"].append(new_event(retracted, source="/assessment", time=at).to_bytes())
        ids()  # drawn still (the corpus's other values as they were): a forecast's id is its key's
        forecast_id = forecast_id_for(org, student, subject, "2026/27", "HT")
        submitted = ForecastSubmittedV1(
            forecast_id=forecast_id, revision=rng.randint(1, 3), teacher_id=teacher,
            gender=rng.choice(["female", "male"]),
            year=int(group[0]), value=rng.choice(["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]),
            submitted_at=at, window_deadline=date(2026, 10, 23), late=rng.random() < 0.1, **body)
        out["gen:forecast.submitted"].append(new_event(submitted, source="/forecast", subject=str(
            submitted.forecast_id), time=at).to_bytes())
        ids()
        withdrawn = ForecastWithdrawnV1(forecast_id=forecast_id, revision=rng.randint(2, 4), withdrawn_at=at, **body)
        out["gen:forecast.withdrawn"].append(new_event(withdrawn, source="/forecast", time=at).to_bytes())
    return out


def corpora(seed: int, n: int, copies: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for event_type in sorted(REGISTRY.models):
        raw = example_bytes(event_type)
        out[f"example:{event_type}"] = [raw] * copies
        out[f"compact:{event_type}"] = [decode_event(raw).to_bytes()] * copies
    out.update(generated(seed, n))
    return out


# -- steps -------------------------------------------------------------------------------------------
# Each step: (name, function of the previous step's output). The step list follows the decode of the
# code under test: the fast path's steps where `envelope` has it, else the original decode's steps
# (a "before" run: `PYTHONPATH=` the `src` folders of an export of the older code).

def _steps() -> list[tuple[str, Callable[[Any], Any]]]:
    import json as _json

    def parse(raw: bytes) -> Any:
        return raw, _json.loads(bytes(raw).decode("utf-8"))

    if hasattr(env, "_json_shadows"):  # the fast path (issue 16)
        from pydantic import ValidationError

        from styrkedja_contracts.identifiers import is_plain_json, plain_json_may_contain_personal_identity_number

        def plain_prefilter(raw: bytes) -> Any:  # plain text, and no personnummer by the pre-filter
            return raw, is_plain_json(raw) and not plain_json_may_contain_personal_identity_number(raw)

        def json_validate(state: Any) -> Any:  # the shadows' union reads and validates the raw text
            raw, plain = state
            try:
                return raw, env._json_shadows()[0].validate_json(raw) if plain else None
            except ValidationError:
                return raw, None

        def construct_or_ordinary(state: Any) -> Any:  # model validators, adopt, CloudEvent; else decode_event
            raw, event = state
            if event is not None:
                shadow = env._json_shadows()[1][event.type]
                if shadow.checked(event) is not None:
                    return env._from_shadow(shadow.model, event)
            return decode_event(raw)  # no shadow for the type (nested models), or refused: the ordinary steps

        return [("plain_prefilter", plain_prefilter), ("json_validate", json_validate),
                ("construct_or_ordinary", construct_or_ordinary)]

    def pin_scan(state: Any) -> Any:
        raw, doc = state
        env._json_has_personal_identity_number(doc)
        return raw, doc

    def envelope(state: Any) -> Any:
        return env.Envelope.model_validate(state[1])

    def upcast(envelope: Any) -> Any:
        return envelope, REGISTRY.upcast(envelope.type, envelope.data)

    def data(state: Any) -> Any:
        envelope, (event_type, data) = state
        return envelope, event_type, REGISTRY.model_for(event_type).model_validate(data)

    def construct(state: Any) -> Any:
        envelope, event_type, payload = state
        return env.CloudEvent.model_construct(
            specversion="1.0", id=envelope.id, source=envelope.source, type=event_type, time=envelope.time,
            subject=envelope.subject, datacontenttype="application/json", dataschema=envelope.dataschema,
            data=payload)

    return [("parse", parse), ("pin_scan", pin_scan), ("envelope", envelope), ("upcast", upcast), ("data", data),
            ("construct", construct)]


def _kit_record() -> Callable[[bytes, Any], Any] | None:
    try:
        from styrkedja_kit.consumer import Delivered, misplaced, record_digest
    except ImportError:  # contracts only on the path
        return None

    def per_record(raw: bytes, event: Any) -> Any:
        topic = topic_for_event_type(event.type).name
        if misplaced(event.type, topic) is None:
            return Delivered(event, topic, 0, 1, record_digest(raw))
        return None

    return per_record


def measure(corpus: list[bytes], repeats: int) -> dict[str, float]:
    out: dict[str, float] = {}
    inputs: list[Any] = list(corpus)
    gc.collect()
    for name, step in _steps():
        outputs = [step(item) for item in inputs]  # untimed: the next step's inputs (and the caches warm)
        out[name] = best_pass(step, inputs, repeats)
        inputs = outputs
    out["steps_sum"] = round(sum(out.values()), 2)
    gc.collect()
    for raw in corpus[:50]:
        decode_event(raw)
    out["total"] = best_pass(decode_event, corpus, repeats)
    kit = _kit_record()
    if kit is not None:
        events = [decode_event(raw) for raw in corpus]
        pairs = list(zip(corpus, events, strict=True))
        out["kit_record"] = best_pass(lambda pair: kit(*pair), pairs, repeats)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="latest")
    parser.add_argument("--events", type=int, default=4000, help="generated events per kind")
    parser.add_argument("--copies", type=int, default=1000, help="passes of an example per timing pass")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="--events 1000 --copies 300 --repeats 3")
    parser.add_argument("--only", default="", help="corpora whose name contains this")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.events, args.copies, args.repeats = 1000, 300, 3
    results: dict[str, dict[str, float]] = {}
    for name, corpus in corpora(seed=16, n=args.events, copies=args.copies).items():
        if args.only and args.only not in name:
            continue
        results[name] = figures = measure(corpus, args.repeats)
        size = sum(map(len, corpus)) // len(corpus)
        figures["bytes"] = size
        print(f"{name:64s} {size:5d} B " + " ".join(f"{k}={v:6.2f}" for k, v in figures.items() if k != "bytes"),
              flush=True)
    entry = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(),
             "python": platform.python_version(), "load_average": os.getloadavg(),
             "args": {k: str(v) for k, v in vars(args).items()}, "us_per_event": results}
    stored: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    stored[args.label] = entry
    args.out.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out} [{args.label}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
