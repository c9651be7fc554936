"""Idempotency-Key on POST: the first response is kept 24 h per client and key and replayed.

A request claims its key by inserting a row before it runs; a concurrent duplicate finds the
claim and waits for the first to finish, then replays its response. The same key with a
different request is refused.
"""

import hashlib
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from api.exceptions import ApiError
from api.models import IdempotencyRecord
from catalogue.errors import Code

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
WAIT_SECONDS = 120
REPLAYED_HEADERS = ("ETag", "Location", "Content-Type")


@dataclass
class Claim:
    record_id: int


class Replay(Exception):
    """Raised to answer with the stored response instead of running the request again."""

    def __init__(self, response: HttpResponse):
        self.response = response
        super().__init__("idempotent replay")


def request_hash(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.get_full_path(), request.content_type or ""):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.body or b""), status=record.status)
    for name, value in record.headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def begin(request, client_id: str) -> Claim | None:
    """Claim the request's key, or raise Replay / a 422 when it was used before."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > 255:
        raise ApiError(Code.SCHEMA_VALIDATION, f"{HEADER}: must be 1 to 255 characters")
    digest = request_hash(request)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        IdempotencyRecord.objects.filter(
            client_id=client_id, key=key, created_at__lt=timezone.now() - LIFETIME
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    client_id=client_id, key=key, request_hash=digest
                )
            return Claim(record.pk)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(client_id=client_id, key=key).first()
        if record is None:
            continue  # released or expired meanwhile: claim it again
        if record.request_hash != digest:
            raise ApiError(
                Code.PAYLOAD_VALIDATION,
                f"{HEADER} [{key}] was already used for a different request",
                status=422,
            )
        if record.completed:
            raise Replay(_replay(record))
        if time.monotonic() > deadline:
            raise ApiError(
                Code.PAYLOAD_VALIDATION,
                f"The request with {HEADER} [{key}] is still running",
                status=409,
            )
        time.sleep(0.05)


def finish(claim: Claim, response) -> None:
    """Keep a final response for replays; release the key after a server error."""
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=claim.record_id).delete()
        return
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    IdempotencyRecord.objects.filter(pk=claim.record_id).update(
        completed=True, status=response.status_code, body=response.content, headers=headers
    )
