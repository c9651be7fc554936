"""Code that runs inside PostgreSQL: the advisory lock keys the triggers and services share."""

import zlib

from django.db import connection

# Category tree writes (create, move, delete) hold this lock exclusively; membership triggers
# hold it shared, so a membership written while a subtree moves lands under the right ancestors.
CATEGORY_TREE_LOCK = zlib.crc32(b"tree:category")


def lock_category_tree() -> None:
    """Serialise writes to the category tree for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CATEGORY_TREE_LOCK])
