"""Idempotency-Key on POST: the first response is kept 24 h per client and key and replayed.

A request claims its key by inserting a row before it runs. The claim is a lease: it expires
LEASE_SECONDS after it was last renewed, and one background thread per process renews the
leases of the requests that process is running (LeaseKeeper). So a duplicate of a request that
is still running gets 409 at once (with Retry-After), and a retry of a request whose process
died (its lease ran out) takes the key over and runs. No request thread waits on another.

The same key with a different request is refused (422). A run that lost its claim (its lease
ran out while it was still working, e.g. a stalled process) does not overwrite the response of
the run that took over.
"""

import hashlib
import logging
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from api.exceptions import ApiError, Replay
from api.inputs import text_problem
from api.models import IdempotencyRecord
from catalogue.errors import Code

logger = logging.getLogger("api")

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
LEASE_SECONDS = 10
RENEW_EVERY_SECONDS = LEASE_SECONDS / 4
# A request still running after this long stops renewing its lease: a stuck request must not
# hold its key forever.
MAX_RUN_SECONDS = 15 * 60
REPLAYED_HEADERS = ("ETag", "Location", "Content-Type")


@dataclass(frozen=True)
class Claim:
    record_id: int
    owner: str


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


_TABLE = IdempotencyRecord._meta.db_table
_LEASE = "statement_timestamp() + make_interval(secs => %s)"


def _insert_claim(client_id: str, key: str, digest: str, owner: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (client_id, key, request_hash, created_at, completed, "
            f"headers, lease_owner, lease_expires_at) "
            f"VALUES (%s, %s, %s, statement_timestamp(), false, '{{}}', %s, {_LEASE}) "
            "ON CONFLICT (client_id, key) DO NOTHING RETURNING id",
            [client_id, key, digest, owner, LEASE_SECONDS],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _take_over(record_id: int, owner: str) -> bool:
    """Claim an unfinished record whose lease ran out (its run died)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET lease_owner = %s, lease_expires_at = {_LEASE} "
            "WHERE id = %s AND NOT completed "
            "AND (lease_expires_at IS NULL OR lease_expires_at < statement_timestamp()) "
            "RETURNING id",
            [owner, LEASE_SECONDS, record_id],
        )
        return cursor.fetchone() is not None


def _lease_left(record_id: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT extract(epoch FROM lease_expires_at - statement_timestamp()) "
            f"FROM {_TABLE} WHERE id = %s",
            [record_id],
        )
        row = cursor.fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def begin(request, client_id: str) -> Claim | None:
    """Claim the request's key, or raise Replay / 409 (running) / 422 (used differently)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > 255:
        raise ApiError(Code.SCHEMA_VALIDATION, f"{HEADER}: must be 1 to 255 characters")
    if problem := text_problem(key):
        raise ApiError(Code.SCHEMA_VALIDATION, f"{HEADER}: {problem}")
    digest = request_hash(request)
    IdempotencyRecord.objects.filter(
        client_id=client_id, key=key, created_at__lt=timezone.now() - LIFETIME
    ).delete()
    owner = uuid.uuid4().hex
    # Twice at most: a record deleted between the insert and the read is claimed on the retry.
    for _ in range(2):
        record_id = _insert_claim(client_id, key, digest, owner)
        if record_id is not None:
            return lease_keeper.hold(Claim(record_id, owner))
        record = IdempotencyRecord.objects.filter(client_id=client_id, key=key).first()
        if record is None:
            continue
        if record.request_hash != digest:
            raise ApiError(
                Code.PAYLOAD_VALIDATION,
                f"{HEADER} [{key}] was already used for a different request",
                status=422,
            )
        if record.completed:
            raise Replay(_replay(record))
        if _take_over(record.pk, owner):
            logger.warning("%s [%s]: the first run's lease ran out; running again", HEADER, key)
            return lease_keeper.hold(Claim(record.pk, owner))
        record.refresh_from_db()
        if record.completed:
            raise Replay(_replay(record))
        break
    wait = max(1, math.ceil(_lease_left(record.pk))) if record else 1
    raise ApiError(
        Code.PAYLOAD_VALIDATION,
        f"The request with {HEADER} [{key}] is still running; retry after it has finished",
        status=409,
        headers={"Retry-After": str(wait)},
    )


def finish(claim: Claim, response) -> None:
    """Keep a final response for replays; release the key after a server error."""
    lease_keeper.release(claim)
    mine = IdempotencyRecord.objects.filter(pk=claim.record_id, lease_owner=claim.owner)
    if response.status_code >= 500:
        mine.delete()
        return
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    stored = mine.update(
        completed=True,
        status=response.status_code,
        body=response.content,
        headers=headers,
        lease_expires_at=None,
    )
    if not stored:
        logger.warning("%s: the claim was taken over while this run worked; not stored", HEADER)


class LeaseKeeper:
    """Renews, from one background thread per process, the leases of the claims it holds.

    Renewing in the background (not at checkpoints in the request) keeps a lease alive through
    a long SQL statement too. The thread opens its database connection only when it has leases
    to renew and closes it right after, so an idle process holds no extra connection.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._held: dict[Claim, float] = {}  # claim -> when it was taken (monotonic)
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def hold(self, claim: Claim) -> Claim:
        with self._lock:
            self._held[claim] = time.monotonic()
            self._ensure_thread()
        return claim

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._held.pop(claim, None)

    def held(self) -> list[Claim]:
        with self._lock:
            return list(self._held)

    def _ensure_thread(self) -> None:
        # After a fork (a server preloading the app) the parent's thread is not running here.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="idempotency-leases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(RENEW_EVERY_SECONDS)
            try:
                self.renew()
            except Exception:
                logger.exception("Could not renew idempotency leases")
            finally:
                connection.close()  # this thread's own connection; reopened when needed

    def renew(self) -> int:
        """Extend the lease of every held claim younger than MAX_RUN_SECONDS; returns how many
        records were renewed."""
        now = time.monotonic()
        with self._lock:
            claims = [c for c, since in self._held.items() if now - since < MAX_RUN_SECONDS]
        if not claims:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_TABLE} AS record SET lease_expires_at = {_LEASE} "
                "FROM unnest(%s::bigint[], %s::text[]) AS held(id, owner) "
                "WHERE record.id = held.id AND record.lease_owner = held.owner "
                "AND NOT record.completed",
                [
                    LEASE_SECONDS,
                    [claim.record_id for claim in claims],
                    [claim.owner for claim in claims],
                ],
            )
            return cursor.rowcount


lease_keeper = LeaseKeeper()
