"""The per-item result shape shared by bulk and every many-item operation."""

from catalogue.errors import CatalogueError


def item_result(
    index: int,
    action: str,
    *,
    record_id: int | None,
    key,
    lookup_key: str,
    error: CatalogueError | None = None,
    **extra,
) -> dict:
    result = {
        "index": index,
        "action": "error" if error else action,
        "id": record_id,
        "key": key,
        "lookupKey": lookup_key,
        "success": error is None,
        **extra,
    }
    if error is not None:
        result["errors"] = [
            {"code": error.code.number, "type": error.code.type_name, "messages": error.messages}
        ]
    return result


def summary(results: list[dict]) -> str:
    counts = {"create": 0, "update": 0, "skip": 0, "delete": 0, "move": 0, "error": 0}
    for result in results:
        counts[result["action"]] = counts.get(result["action"], 0) + 1
    parts = [f"{counts['create']} created", f"{counts['update']} updated"]
    if counts["delete"]:
        parts.append(f"{counts['delete']} deleted")
    if counts["move"]:
        parts.append(f"{counts['move']} moved")
    parts += [f"{counts['skip']} skipped", f"{counts['error']} failed"]
    return "Completed: " + ", ".join(parts)
