"""Code that runs inside PostgreSQL: every trigger and function, and the lock keys they share.

The catalogue keeps derived tables (row counts, hour counts, products below categories, their
counts) right in the same transaction as every write — API, bulk, admin or raw SQL — with
statement-level triggers. Their SQL lives here and only here, in named units; migrations
install a unit with the `InstallDatabaseCode` operation, and table names come from the models.

A unit is `setup` (one-time DDL and the backfill of existing rows, run when the unit first
arrives) plus `code` (functions and triggers, `CREATE OR REPLACE`, safe to run again). When a
unit's code changes, a new migration installs it again with `setup=False`.
"""

import zlib
from dataclasses import dataclass

from django.db import connection, migrations

# Category tree writes (create, move, delete) hold this lock exclusively; membership triggers
# hold it shared, so a membership written while a subtree moves lands under the right ancestors.
CATEGORY_TREE_LOCK = zlib.crc32(b"tree:category")


def lock_category_tree() -> None:
    """Serialise writes to the category tree for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CATEGORY_TREE_LOCK])


class Tables:
    """Table names from the models of a migration state (or of the running code)."""

    def __init__(self, apps):
        self.apps = apps

    def __getattr__(self, name: str) -> str:
        try:
            return self.apps.get_model("catalogue", name)._meta.db_table
        except LookupError:  # a model a later migration adds: Django's default name
            return f"catalogue_{name.lower()}"


@dataclass(frozen=True)
class Unit:
    name: str
    setup: object  # Tables -> SQL run once, when the unit arrives
    code: object  # Tables -> SQL that (re)creates its functions and triggers
    drop: object  # Tables -> SQL that removes them


def _trigger(name: str, table: str, timing: str, body: str) -> str:
    """DROP … IF EXISTS then CREATE, so installing code again replaces it."""
    return f"DROP TRIGGER IF EXISTS {name} ON {table};\nCREATE TRIGGER {name} {timing} ON {table} {body};\n"


# Row counts -----------------------------------------------------------------------------------
# Exact row counts without scanning: +n/-n per statement (see RowCountDelta).


def _row_counts_code(t: Tables) -> str:
    deltas, product = t.RowCountDelta, t.Product
    return f"""
    CREATE OR REPLACE FUNCTION catalogue_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (table_name, delta)
        SELECT TG_TABLE_NAME, count(*) FROM inserted HAVING count(*) > 0;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (table_name, delta)
        SELECT TG_TABLE_NAME, -count(*) FROM deleted HAVING count(*) > 0;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {deltas} WHERE table_name = TG_TABLE_NAME;
        RETURN NULL;
    END $$;
    """ + "".join(
        [
            _trigger(
                f"{product}_count_insert",
                product,
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_count_inserted()",
            ),
            _trigger(
                f"{product}_count_delete",
                product,
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_count_deleted()",
            ),
            _trigger(
                f"{product}_count_truncate",
                product,
                "AFTER TRUNCATE",
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_count_truncated()",
            ),
        ]
    )


def _row_counts_setup(t: Tables) -> str:
    return (
        f"INSERT INTO {t.RowCountDelta} (table_name, delta) "
        f"SELECT '{t.Product}', count(*) FROM {t.Product};"
    )


def _row_counts_drop(t: Tables) -> str:
    product = t.Product
    return f"""
    DROP TRIGGER IF EXISTS {product}_count_insert ON {product};
    DROP TRIGGER IF EXISTS {product}_count_delete ON {product};
    DROP TRIGGER IF EXISTS {product}_count_truncate ON {product};
    DROP FUNCTION IF EXISTS catalogue_count_inserted();
    DROP FUNCTION IF EXISTS catalogue_count_deleted();
    DROP FUNCTION IF EXISTS catalogue_count_truncated();
    """


# Hour counts ----------------------------------------------------------------------------------
# Rows per hour of created_at / last_modified_at (see HourCountDelta).

HOUR = "floor(extract(epoch FROM {}) / 3600)::bigint"


def _hour_counts_code(t: Tables) -> str:
    deltas, product = t.HourCountDelta, t.Product

    def columns(alias: str, delta: str = "") -> str:
        extra = f", {delta}" if delta else ""
        return (
            f"('created_at', {HOUR.format(f'{alias}.created_at')}{extra}), "
            f"('last_modified_at', {HOUR.format(f'{alias}.last_modified_at')}{extra})"
        )

    return f"""
    CREATE OR REPLACE FUNCTION catalogue_hours_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (table_name, column_name, hour, delta)
        SELECT TG_TABLE_NAME, c.name, c.hour, count(*)
        FROM inserted CROSS JOIN LATERAL (VALUES {columns("inserted")}) c(name, hour)
        GROUP BY c.name, c.hour;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_hours_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (table_name, column_name, hour, delta)
        SELECT TG_TABLE_NAME, c.name, c.hour, -count(*)
        FROM deleted CROSS JOIN LATERAL (VALUES {columns("deleted")}) c(name, hour)
        GROUP BY c.name, c.hour;
        RETURN NULL;
    END $$;
    -- An update keeps the rows: old hours out and new hours in nets out for unchanged hours.
    CREATE OR REPLACE FUNCTION catalogue_hours_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (table_name, column_name, hour, delta)
        SELECT TG_TABLE_NAME, c.name, c.hour, sum(c.delta)
        FROM (
            SELECT created_at, last_modified_at, 1 AS delta FROM after_rows
            UNION ALL
            SELECT created_at, last_modified_at, -1 FROM before_rows
        ) r CROSS JOIN LATERAL (VALUES {columns("r", "r.delta")}) c(name, hour, delta)
        GROUP BY c.name, c.hour HAVING sum(c.delta) <> 0;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_hours_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {deltas} WHERE table_name = TG_TABLE_NAME;
        RETURN NULL;
    END $$;
    """ + "".join(
        [
            _trigger(
                f"{product}_hours_insert",
                product,
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_hours_inserted()",
            ),
            _trigger(
                f"{product}_hours_delete",
                product,
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_hours_deleted()",
            ),
            _trigger(
                f"{product}_hours_update",
                product,
                "AFTER UPDATE",
                "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_hours_updated()",
            ),
            _trigger(
                f"{product}_hours_truncate",
                product,
                "AFTER TRUNCATE",
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_hours_truncated()",
            ),
        ]
    )


def _hour_counts_setup(t: Tables) -> str:
    return "".join(
        f"INSERT INTO {t.HourCountDelta} (table_name, column_name, hour, delta) "
        f"SELECT '{t.Product}', '{column}', {HOUR.format(column)}, count(*) "
        f"FROM {t.Product} GROUP BY 3;\n"
        for column in ("created_at", "last_modified_at")
    )


def _hour_counts_drop(t: Tables) -> str:
    product = t.Product
    return "".join(
        f"DROP TRIGGER IF EXISTS {product}_hours_{event} ON {product};\n"
        for event in ("insert", "delete", "update", "truncate")
    ) + "".join(
        f"DROP FUNCTION IF EXISTS catalogue_hours_{event}();\n"
        for event in ("inserted", "deleted", "updated", "truncated")
    )


# Membership status ---------------------------------------------------------------------------
# A membership, and each row of ProductAncestor, carries its product's status, so a search by
# categories and statuses is answered from them alone. A new membership reads the status under
# a share lock: a concurrent status change either comes first (and is read) or waits.


def _membership_status_code(t: Tables) -> str:
    memberships, product, ancestors = t.ProductCategory, t.Product, t.ProductAncestor
    return f"""
    CREATE OR REPLACE FUNCTION catalogue_membership_status() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.product_status := coalesce(
            (SELECT status FROM {product} WHERE id = NEW.product_id FOR SHARE),
            NEW.product_status);
        RETURN NEW;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_product_status_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE {memberships} m SET product_status = a.status
        FROM before_rows b JOIN after_rows a ON a.id = b.id
        WHERE m.product_id = a.id AND a.status IS DISTINCT FROM b.status;
        UPDATE {ancestors} t SET product_status = a.status
        FROM before_rows b JOIN after_rows a ON a.id = b.id
        WHERE t.product_id = a.id AND a.status IS DISTINCT FROM b.status;
        RETURN NULL;
    END $$;
    """ + "".join(
        [
            _trigger(
                f"{memberships}_status",
                memberships,
                "BEFORE INSERT",
                "FOR EACH ROW EXECUTE FUNCTION catalogue_membership_status()",
            ),
            _trigger(
                f"{product}_status_update",
                product,
                "AFTER UPDATE",
                "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_product_status_changed()",
            ),
        ]
    )


def _membership_status_setup(t: Tables) -> str:
    return (
        f"UPDATE {t.ProductCategory} m SET product_status = p.status FROM {t.Product} p "
        "WHERE p.id = m.product_id AND m.product_status <> p.status;"
    )


def _membership_status_drop(t: Tables) -> str:
    return f"""
    DROP TRIGGER IF EXISTS {t.ProductCategory}_status ON {t.ProductCategory};
    DROP TRIGGER IF EXISTS {t.Product}_status_update ON {t.Product};
    DROP FUNCTION IF EXISTS catalogue_membership_status();
    DROP FUNCTION IF EXISTS catalogue_product_status_changed();
    """


# Products below categories -------------------------------------------------------------------
# ProductAncestor: one row per (category at or above one of a product's categories, product),
# with the number of memberships that reach it.


def _ancestors_of(t: Tables) -> str:
    """The categories at or above a membership's category (`m`), from the nested sets."""
    return f"""
        JOIN {t.Category} c ON c.id = m.category_id
        JOIN {t.Category} a ON a.tree_id = c.tree_id AND a.lft <= c.lft AND a.rght >= c.rght
    """


def _add_ancestors(t: Tables, rows: str) -> str:
    return f"""
    INSERT INTO {t.ProductAncestor} AS t (category_id, product_id, product_status, paths)
    SELECT a.id, m.product_id, max(m.product_status), count(*) FROM {rows} m {_ancestors_of(t)}
    GROUP BY a.id, m.product_id
    ON CONFLICT (category_id, product_id)
    DO UPDATE SET paths = t.paths + EXCLUDED.paths, product_status = EXCLUDED.product_status;
    """


def _remove_ancestors(t: Tables, rows: str) -> str:
    return f"""
    UPDATE {t.ProductAncestor} t SET paths = t.paths - g.n
    FROM (SELECT a.id, m.product_id, count(*) AS n FROM {rows} m {_ancestors_of(t)}
          GROUP BY a.id, m.product_id) g
    WHERE t.category_id = g.id AND t.product_id = g.product_id;
    DELETE FROM {t.ProductAncestor} t USING (SELECT DISTINCT product_id FROM {rows} m) g
    WHERE t.product_id = g.product_id AND t.paths <= 0;
    """


# Memberships whose product or category changed, before and after.
MOVED_BEFORE = (
    "(SELECT b.* FROM before_rows b JOIN after_rows x ON x.id = b.id "
    "WHERE (x.product_id, x.category_id) IS DISTINCT FROM (b.product_id, b.category_id))"
)
MOVED_AFTER = MOVED_BEFORE.replace("SELECT b.*", "SELECT x.*")


def _product_ancestors_code(t: Tables) -> str:
    memberships, category, ancestors = t.ProductCategory, t.Category, t.ProductAncestor
    lock = f"PERFORM pg_advisory_xact_lock_shared({CATEGORY_TREE_LOCK});"
    return f"""
    CREATE OR REPLACE FUNCTION catalogue_ancestors_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {lock}
        {_add_ancestors(t, "added")}
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_ancestors_removed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {lock}
        {_remove_ancestors(t, "removed")}
        RETURN NULL;
    END $$;
    -- The planner cannot know how few ancestors a category has (it guesses dozens): left alone
    -- it hash-joins the whole table with what a statement removed. Removals reach their rows
    -- through the primary key instead.
    ALTER FUNCTION catalogue_ancestors_removed() SET enable_hashjoin = off SET enable_mergejoin = off;
    -- Memberships change only is_primary in practice: then there is nothing to do.
    CREATE OR REPLACE FUNCTION catalogue_ancestors_relinked() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM {MOVED_BEFORE} m) THEN
            {lock}
            {_remove_ancestors(t, MOVED_BEFORE)}
            {_add_ancestors(t, MOVED_AFTER)}
        END IF;
        RETURN NULL;
    END $$;
    -- A TRUNCATE naming both tables has emptied this one already (and may not truncate it twice).
    CREATE OR REPLACE FUNCTION catalogue_ancestors_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM {ancestors}) THEN
            TRUNCATE {ancestors};
        END IF;
        RETURN NULL;
    END $$;
    -- Run at commit, when the tree is whole again: the products below a moved category are
    -- placed again under their categories' current ancestors.
    CREATE OR REPLACE FUNCTION catalogue_category_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        affected bigint[];
    BEGIN
        SELECT array_agg(DISTINCT m.product_id) INTO affected
        FROM {category} moved
        JOIN {category} d ON d.tree_id = moved.tree_id AND d.lft BETWEEN moved.lft AND moved.rght
        JOIN {memberships} m ON m.category_id = d.id
        WHERE moved.id = NEW.id;
        IF affected IS NOT NULL THEN
            DELETE FROM {ancestors} WHERE product_id = ANY(affected);
            INSERT INTO {ancestors} (category_id, product_id, product_status, paths)
            SELECT a.id, m.product_id, max(m.product_status), count(*)
            FROM {memberships} m {_ancestors_of(t)}
            WHERE m.product_id = ANY(affected)
            GROUP BY a.id, m.product_id;
        END IF;
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS {category}_moved ON {category};
    CREATE CONSTRAINT TRIGGER {category}_moved AFTER UPDATE ON {category}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
        EXECUTE FUNCTION catalogue_category_moved();
    """ + "".join(
        [
            _trigger(
                f"{memberships}_ancestors_insert",
                memberships,
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_ancestors_added()",
            ),
            _trigger(
                f"{memberships}_ancestors_delete",
                memberships,
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_ancestors_removed()",
            ),
            _trigger(
                f"{memberships}_ancestors_update",
                memberships,
                "AFTER UPDATE",
                "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_ancestors_relinked()",
            ),
            _trigger(
                f"{memberships}_ancestors_truncate",
                memberships,
                "AFTER TRUNCATE",
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_ancestors_truncated()",
            ),
        ]
    )


def _product_ancestors_setup(t: Tables) -> str:
    ancestors = t.ProductAncestor
    return f"""
    ALTER TABLE {ancestors} DROP CONSTRAINT {ancestors}_pkey,
        ADD CONSTRAINT {ancestors}_pkey PRIMARY KEY (category_id, product_id)
        INCLUDE (product_status);
    INSERT INTO {ancestors} (category_id, product_id, product_status, paths)
        SELECT a.id, m.product_id, max(m.product_status), count(*)
        FROM {t.ProductCategory} m {_ancestors_of(t)}
        GROUP BY a.id, m.product_id;
    """


def _product_ancestors_drop(t: Tables) -> str:
    memberships, category = t.ProductCategory, t.Category
    return (
        "".join(
            f"DROP TRIGGER IF EXISTS {memberships}_ancestors_{event} ON {memberships};\n"
            for event in ("insert", "delete", "update", "truncate")
        )
        + f"DROP TRIGGER IF EXISTS {category}_moved ON {category};\n"
        + "".join(
            f"DROP FUNCTION IF EXISTS catalogue_{name}();\n"
            for name in (
                "ancestors_added",
                "ancestors_removed",
                "ancestors_relinked",
                "ancestors_truncated",
                "category_moved",
            )
        )
    )


# Products below each category, counted by status (see CategoryProductDelta) ---------------------


def _category_counts_code(t: Tables) -> str:
    deltas, ancestors = t.CategoryProductDelta, t.ProductAncestor
    return f"""
    CREATE OR REPLACE FUNCTION catalogue_below_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (category_id, product_status, delta)
        SELECT category_id, product_status, count(*) FROM added GROUP BY 1, 2;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_below_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (category_id, product_status, delta)
        SELECT category_id, product_status, -count(*) FROM removed GROUP BY 1, 2;
        RETURN NULL;
    END $$;
    -- An update keeps the rows, so old rows out and new rows in nets out but for status changes.
    CREATE OR REPLACE FUNCTION catalogue_below_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (category_id, product_status, delta)
        SELECT category_id, product_status, sum(delta) FROM (
            SELECT category_id, product_status, 1 AS delta FROM after_rows
            UNION ALL
            SELECT category_id, product_status, -1 FROM before_rows
        ) changes
        GROUP BY 1, 2 HAVING sum(delta) <> 0;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_below_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {deltas};
        RETURN NULL;
    END $$;
    """ + "".join(
        [
            _trigger(
                f"{ancestors}_counts_insert",
                ancestors,
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_below_added()",
            ),
            _trigger(
                f"{ancestors}_counts_delete",
                ancestors,
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_below_removed()",
            ),
            _trigger(
                f"{ancestors}_counts_update",
                ancestors,
                "AFTER UPDATE",
                "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_below_updated()",
            ),
            _trigger(
                f"{ancestors}_counts_truncate",
                ancestors,
                "AFTER TRUNCATE",
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_below_truncated()",
            ),
        ]
    )


def _category_counts_setup(t: Tables) -> str:
    return (
        f"INSERT INTO {t.CategoryProductDelta} (category_id, product_status, delta) "
        f"SELECT category_id, product_status, count(*) FROM {t.ProductAncestor} GROUP BY 1, 2;"
    )


def _category_counts_drop(t: Tables) -> str:
    ancestors = t.ProductAncestor
    return "".join(
        f"DROP TRIGGER IF EXISTS {ancestors}_counts_{event} ON {ancestors};\n"
        for event in ("insert", "delete", "update", "truncate")
    ) + "".join(
        f"DROP FUNCTION IF EXISTS catalogue_below_{event}();\n"
        for event in ("added", "removed", "updated", "truncated")
    )


# Clusters below categories (ClusterAncestor) and their counts (CategoryClusterDelta) -----------
# The same structure as for products, without statuses.


def _cluster_ancestors_of(t: Tables) -> str:
    return f"""
        JOIN {t.Category} c ON c.id = m.category_id
        JOIN {t.Category} a ON a.tree_id = c.tree_id AND a.lft <= c.lft AND a.rght >= c.rght
    """


def _add_cluster_ancestors(t: Tables, rows: str) -> str:
    return f"""
    INSERT INTO {t.ClusterAncestor} AS t (category_id, cluster_id, paths)
    SELECT a.id, m.cluster_id, count(*) FROM {rows} m {_cluster_ancestors_of(t)}
    GROUP BY a.id, m.cluster_id
    ON CONFLICT (category_id, cluster_id) DO UPDATE SET paths = t.paths + EXCLUDED.paths;
    """


def _remove_cluster_ancestors(t: Tables, rows: str) -> str:
    return f"""
    UPDATE {t.ClusterAncestor} t SET paths = t.paths - g.n
    FROM (SELECT a.id, m.cluster_id, count(*) AS n FROM {rows} m {_cluster_ancestors_of(t)}
          GROUP BY a.id, m.cluster_id) g
    WHERE t.category_id = g.id AND t.cluster_id = g.cluster_id;
    DELETE FROM {t.ClusterAncestor} t USING (SELECT DISTINCT cluster_id FROM {rows} m) g
    WHERE t.cluster_id = g.cluster_id AND t.paths <= 0;
    """


CLUSTER_MOVED_BEFORE = (
    "(SELECT b.* FROM before_rows b JOIN after_rows x ON x.id = b.id "
    "WHERE (x.cluster_id, x.category_id) IS DISTINCT FROM (b.cluster_id, b.category_id))"
)
CLUSTER_MOVED_AFTER = CLUSTER_MOVED_BEFORE.replace("SELECT b.*", "SELECT x.*")


def _cluster_ancestors_code(t: Tables) -> str:
    memberships, category = t.ClusterCategory, t.Category
    ancestors, deltas = t.ClusterAncestor, t.CategoryClusterDelta
    lock = f"PERFORM pg_advisory_xact_lock_shared({CATEGORY_TREE_LOCK});"
    return f"""
    CREATE OR REPLACE FUNCTION catalogue_cluster_ancestors_added() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {lock}
        {_add_cluster_ancestors(t, "added")}
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_cluster_ancestors_removed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {lock}
        {_remove_cluster_ancestors(t, "removed")}
        RETURN NULL;
    END $$;
    ALTER FUNCTION catalogue_cluster_ancestors_removed()
        SET enable_hashjoin = off SET enable_mergejoin = off;
    CREATE OR REPLACE FUNCTION catalogue_cluster_ancestors_relinked() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM {CLUSTER_MOVED_BEFORE} m) THEN
            {lock}
            {_remove_cluster_ancestors(t, CLUSTER_MOVED_BEFORE)}
            {_add_cluster_ancestors(t, CLUSTER_MOVED_AFTER)}
        END IF;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_cluster_ancestors_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM {ancestors}) THEN
            TRUNCATE {ancestors};
        END IF;
        RETURN NULL;
    END $$;
    -- Run at commit, when the tree is whole again: the clusters below a moved category are
    -- placed again under their categories' current ancestors.
    CREATE OR REPLACE FUNCTION catalogue_category_moved_clusters() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        affected bigint[];
    BEGIN
        SELECT array_agg(DISTINCT m.cluster_id) INTO affected
        FROM {category} moved
        JOIN {category} d ON d.tree_id = moved.tree_id AND d.lft BETWEEN moved.lft AND moved.rght
        JOIN {memberships} m ON m.category_id = d.id
        WHERE moved.id = NEW.id;
        IF affected IS NOT NULL THEN
            DELETE FROM {ancestors} WHERE cluster_id = ANY(affected);
            INSERT INTO {ancestors} (category_id, cluster_id, paths)
            SELECT a.id, m.cluster_id, count(*)
            FROM {memberships} m {_cluster_ancestors_of(t)}
            WHERE m.cluster_id = ANY(affected)
            GROUP BY a.id, m.cluster_id;
        END IF;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_clusters_below_added() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (category_id, delta)
        SELECT category_id, count(*) FROM added GROUP BY 1;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_clusters_below_removed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {deltas} (category_id, delta)
        SELECT category_id, -count(*) FROM removed GROUP BY 1;
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_clusters_below_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {deltas};
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS {category}_moved_clusters ON {category};
    CREATE CONSTRAINT TRIGGER {category}_moved_clusters AFTER UPDATE ON {category}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
        EXECUTE FUNCTION catalogue_category_moved_clusters();
    """ + "".join(
        [
            _trigger(
                f"{memberships}_ancestors_insert",
                memberships,
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_cluster_ancestors_added()",
            ),
            _trigger(
                f"{memberships}_ancestors_delete",
                memberships,
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_cluster_ancestors_removed()",
            ),
            _trigger(
                f"{memberships}_ancestors_update",
                memberships,
                "AFTER UPDATE",
                "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_cluster_ancestors_relinked()",
            ),
            _trigger(
                f"{memberships}_ancestors_truncate",
                memberships,
                "AFTER TRUNCATE",
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_cluster_ancestors_truncated()",
            ),
            _trigger(
                f"{ancestors}_counts_insert",
                ancestors,
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_clusters_below_added()",
            ),
            _trigger(
                f"{ancestors}_counts_delete",
                ancestors,
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                "EXECUTE FUNCTION catalogue_clusters_below_removed()",
            ),
            _trigger(
                f"{ancestors}_counts_truncate",
                ancestors,
                "AFTER TRUNCATE",
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_clusters_below_truncated()",
            ),
        ]
    )


def _cluster_ancestors_setup(t: Tables) -> str:
    return f"""
    INSERT INTO {t.ClusterAncestor} (category_id, cluster_id, paths)
        SELECT a.id, m.cluster_id, count(*)
        FROM {t.ClusterCategory} m {_cluster_ancestors_of(t)}
        GROUP BY a.id, m.cluster_id;
    """


def _cluster_ancestors_drop(t: Tables) -> str:
    memberships, category, ancestors = t.ClusterCategory, t.Category, t.ClusterAncestor
    return (
        "".join(
            f"DROP TRIGGER IF EXISTS {memberships}_ancestors_{event} ON {memberships};\n"
            for event in ("insert", "delete", "update", "truncate")
        )
        + "".join(
            f"DROP TRIGGER IF EXISTS {ancestors}_counts_{event} ON {ancestors};\n"
            for event in ("insert", "delete", "truncate")
        )
        + f"DROP TRIGGER IF EXISTS {category}_moved_clusters ON {category};\n"
        + "".join(
            f"DROP FUNCTION IF EXISTS catalogue_{name}();\n"
            for name in (
                "cluster_ancestors_added",
                "cluster_ancestors_removed",
                "cluster_ancestors_relinked",
                "cluster_ancestors_truncated",
                "category_moved_clusters",
                "clusters_below_added",
                "clusters_below_removed",
                "clusters_below_truncated",
            )
        )
    )


UNITS = {
    unit.name: unit
    for unit in (
        Unit("row_counts", _row_counts_setup, _row_counts_code, _row_counts_drop),
        Unit("hour_counts", _hour_counts_setup, _hour_counts_code, _hour_counts_drop),
        Unit(
            "membership_status",
            _membership_status_setup,
            _membership_status_code,
            _membership_status_drop,
        ),
        Unit(
            "product_ancestors",
            _product_ancestors_setup,
            _product_ancestors_code,
            _product_ancestors_drop,
        ),
        Unit(
            "category_counts", _category_counts_setup, _category_counts_code, _category_counts_drop
        ),
        Unit(
            "cluster_ancestors",
            _cluster_ancestors_setup,
            _cluster_ancestors_code,
            _cluster_ancestors_drop,
        ),
    )
}


class InstallDatabaseCode(migrations.operations.base.Operation):
    """Install units of database code (see the module docstring) in a migration."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, *names: str, setup: bool = True):
        self.names = names
        self.setup = setup

    def deconstruct(self):
        kwargs = {} if self.setup else {"setup": False}
        return self.__class__.__qualname__, list(self.names), kwargs

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        tables = Tables(to_state.apps)
        for name in self.names:
            unit = UNITS[name]
            # Code first: a setup that writes rows then fires the unit's own triggers too.
            schema_editor.execute(unit.code(tables))
            if self.setup:
                schema_editor.execute(unit.setup(tables))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if not self.setup:
            return  # the previous code stays in place
        tables = Tables(from_state.apps)
        for name in reversed(self.names):
            schema_editor.execute(UNITS[name].drop(tables))

    def describe(self):
        return f"Install database code: {', '.join(self.names)}"
