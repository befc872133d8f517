"""``lastmile publish``: produce JSONL lines to scans.v1 / complaints.v1 unchanged.

Lines are sent byte for byte (so invalid ones reach the dead-letter topic through the
worker), keyed by ``parcel_id`` when it can be read.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from lastmile.console import progress_bar
from lastmile.io.jsonl import strip_bom
from lastmile.io.kafka_access import KafkaAccess


def key_of(raw: bytes) -> bytes | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    pid = obj.get("parcel_id") if isinstance(obj, dict) else None
    return pid.encode() if isinstance(pid, str) and pid else None


async def publish_file(
    producer: AIOKafkaProducer, path: str, topic: str, rate: float | None
) -> int:
    """Send every line of a file to a topic (blank ones too: the worker dead-letters them).

    Lines end at b"\n" exactly as ``detect`` reads them, so both see the same lines.
    """
    lines = strip_bom(Path(path).read_bytes()).split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the file's final newline ends the last line; it does not start one
    lines = [x[:-1] if x.endswith(b"\r") else x for x in lines]
    start = time.monotonic()
    sent = 0
    with progress_bar(f"publishing {Path(path).name} → {topic}", len(lines)) as bar:
        for raw in lines:
            await producer.send(topic, value=raw, key=key_of(raw))
            sent += 1
            bar.advance()
            if rate:
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0.005:
                    await asyncio.sleep(ahead)
        await producer.flush()
    return sent


async def publish(
    kafka: KafkaAccess | str,
    scans: str | None,
    complaints: str | None,
    rate: float | None,
    prefix: str = "",
) -> dict[str, int]:
    producer = AIOKafkaProducer(
        **KafkaAccess.of(kafka).client_kwargs(),
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        enable_idempotence=True,
    )
    try:
        await producer.start()
        out = {}
        if scans:
            out[f"{prefix}scans.v1"] = await publish_file(
                producer, scans, f"{prefix}scans.v1", rate
            )
        if complaints:
            out[f"{prefix}complaints.v1"] = await publish_file(
                producer, complaints, f"{prefix}complaints.v1", rate
            )
        return out
    finally:
        await producer.stop()
