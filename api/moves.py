"""Many-item moves (assign, unassign, add to and remove from categories): references
resolved in a couple of queries, one result per reference."""

from msgspec import UNSET

from api.resources.base import RecordReference
from api.results import item_result
from catalogue import rules
from catalogue.errors import CatalogueError, Code
from catalogue.records import Ref


def _ref_key(ref: RecordReference) -> tuple[str, object]:
    if ref.id is not UNSET:
        return "id", ref.id
    return "sourceId", None if ref.sourceId is UNSET else ref.sourceId


def _domain_ref(ref: RecordReference) -> Ref | None:
    if ref.id is not UNSET:
        return Ref(id=ref.id)
    if ref.sourceId is UNSET or ref.source is UNSET:
        return None
    return Ref(source=ref.source, source_id=ref.sourceId)


def resolve(spec, refs: list[RecordReference]) -> list[tuple[int | None, CatalogueError | None]]:
    """Resolve references of one kind in two queries; one (id, error) per reference."""
    domain = [_domain_ref(ref) for ref in refs]
    found = rules.resolve_refs(spec, domain)
    result = []
    for domain_ref in domain:
        if domain_ref is None:
            result.append(
                (None, CatalogueError(Code.PAYLOAD_VALIDATION, "give id, or sourceId and source"))
            )
        elif found.get(domain_ref) is None:
            result.append((None, rules.reference_not_found(spec, domain_ref)))
        else:
            result.append((found[domain_ref], None))
    return result


def move_results(
    refs: list[RecordReference], resolved, operation, *, entity: str = "Product", **extra
) -> list[dict]:
    """Run a many-item move for the resolved ids; one result per reference, in order."""
    ids = list(dict.fromkeys(pk for pk, error in resolved if error is None))
    outcomes = operation(ids) if ids else {}
    results, seen = [], set()
    for index, (given, (record_id, error)) in enumerate(zip(refs, resolved, strict=True)):
        lookup_key, value = _ref_key(given)
        if error is None and record_id in seen:
            error = CatalogueError(
                Code.PAYLOAD_VALIDATION, f"{entity} with id [{record_id}] is named twice"
            )
        elif error is None:
            seen.add(record_id)
            error = outcomes.get(record_id)
        results.append(
            item_result(
                index,
                "move",
                record_id=record_id,
                key=value,
                lookup_key=lookup_key,
                error=error,
                **extra,
            )
        )
    return results
