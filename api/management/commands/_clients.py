"""What the API client commands share: how a client is printed and how errors end a command."""

import json
from contextlib import contextmanager

from django.core.management.base import CommandError

from api.services import ApiClientError, ApiClientInfo, IssuedClient


@contextmanager
def client_errors():
    """Turn a service's refusal into a one-line CommandError (exit status 1)."""
    try:
        yield
    except ApiClientError as exc:
        raise CommandError(str(exc)) from None


def info_payload(info: ApiClientInfo) -> dict:
    return {
        "name": info.name,
        "client_id": info.client_id,
        "scopes": info.scopes,
        "enabled": info.enabled,
        "active_tokens": info.active_tokens,
        "created": info.created.isoformat(),
    }


def issued_payload(issued: IssuedClient) -> dict:
    return {
        "name": issued.name,
        "client_id": issued.client_id,
        "client_secret": issued.client_secret,
        "scopes": issued.scopes,
    }


def dumps(payload) -> str:
    return json.dumps(payload)


def write_issued(command, issued: IssuedClient, *, as_json: bool, revoked: bool = False) -> None:
    """Print a client with its new secret, once."""
    if as_json:
        command.stdout.write(dumps(issued_payload(issued)))
        return
    command.stdout.write(f"API client '{issued.name}'")
    command.stdout.write(f"  client_id:     {issued.client_id}")
    command.stdout.write(f"  client_secret: {issued.client_secret}")
    command.stdout.write(f"  scopes:        {' '.join(issued.scopes)}")
    if revoked:
        command.stdout.write("Its previous secret and every token it had no longer work.")
    command.stdout.write("The secret is shown only now; store it safely.")
