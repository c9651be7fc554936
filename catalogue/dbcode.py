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


# Records below categories ----------------------------------------------------------------------
# ProductAncestor (ClusterAncestor): one row per (category at or above one of a record's
# categories, record), with the number of memberships that reach it — and for products, the
# product's status.


@dataclass(frozen=True)
class Below:
    """A kind of record that sits in categories, as its ancestor triggers see it."""

    memberships: str  # model names
    ancestors: str
    item: str  # the membership's and the ancestor row's record column
    status: bool  # whether ancestor rows carry the product's status
    functions: str  # prefix of the function names: catalogue_<prefix>ancestors_added, …
    moved: str  # name of the function re-placing records below a moved category

    def columns(self) -> str:
        status = ", product_status" if self.status else ""
        return f"category_id, {self.item}{status}, paths"

    def select(self) -> str:
        status = ", max(m.product_status)" if self.status else ""
        return f"a.id, m.{self.item}{status}, count(*)"


PRODUCTS_BELOW = Below(
    "ProductCategory", "ProductAncestor", "product_id", True, "", "category_moved"
)
CLUSTERS_BELOW = Below(
    "ClusterCategory", "ClusterAncestor", "cluster_id", False, "cluster_", "category_moved_clusters"
)


def _ancestors_of(t: Tables) -> str:
    """The categories at or above a membership's category (`m`), from the nested sets."""
    return f"""
        JOIN {t.Category} c ON c.id = m.category_id
        JOIN {t.Category} a ON a.tree_id = c.tree_id AND a.lft <= c.lft AND a.rght >= c.rght
    """


def _add_ancestors(t: Tables, below: Below, rows: str) -> str:
    item = below.item
    status = ", product_status = EXCLUDED.product_status" if below.status else ""
    return f"""
    INSERT INTO {getattr(t, below.ancestors)} AS t ({below.columns()})
    SELECT {below.select()} FROM {rows} m {_ancestors_of(t)}
    GROUP BY a.id, m.{item}
    ON CONFLICT (category_id, {item})
    DO UPDATE SET paths = t.paths + EXCLUDED.paths{status};
    """


def _remove_ancestors(t: Tables, below: Below, rows: str) -> str:
    item, ancestors = below.item, getattr(t, below.ancestors)
    return f"""
    UPDATE {ancestors} t SET paths = t.paths - g.n
    FROM (SELECT a.id, m.{item}, count(*) AS n FROM {rows} m {_ancestors_of(t)}
          GROUP BY a.id, m.{item}) g
    WHERE t.category_id = g.id AND t.{item} = g.{item};
    DELETE FROM {ancestors} t USING (SELECT DISTINCT {item} FROM {rows} m) g
    WHERE t.{item} = g.{item} AND t.paths <= 0;
    """


def _moved_memberships(below: Below) -> tuple[str, str]:
    """Memberships whose record or category changed: before and after."""
    before = (
        "(SELECT b.* FROM before_rows b JOIN after_rows x ON x.id = b.id "
        f"WHERE (x.{below.item}, x.category_id) IS DISTINCT FROM (b.{below.item}, b.category_id))"
    )
    return before, before.replace("SELECT b.*", "SELECT x.*")


def _below_functions(t: Tables, below: Below) -> str:
    """The functions and triggers that keep a kind of record's ancestor rows right."""
    memberships, category = getattr(t, below.memberships), t.Category
    ancestors, item, prefix = getattr(t, below.ancestors), below.item, below.functions
    lock = f"PERFORM pg_advisory_xact_lock_shared({CATEGORY_TREE_LOCK});"
    moved_before, moved_after = _moved_memberships(below)
    return f"""
    CREATE OR REPLACE FUNCTION catalogue_{prefix}ancestors_added() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {lock}
        {_add_ancestors(t, below, "added")}
        RETURN NULL;
    END $$;
    CREATE OR REPLACE FUNCTION catalogue_{prefix}ancestors_removed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {lock}
        {_remove_ancestors(t, below, "removed")}
        RETURN NULL;
    END $$;
    -- The planner cannot know how few ancestors a category has (it guesses dozens): left alone
    -- it hash-joins the whole table with what a statement removed. Removals reach their rows
    -- through the primary key instead.
    ALTER FUNCTION catalogue_{prefix}ancestors_removed()
        SET enable_hashjoin = off SET enable_mergejoin = off;
    -- Memberships change only is_primary in practice: then there is nothing to do.
    CREATE OR REPLACE FUNCTION catalogue_{prefix}ancestors_relinked() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM {moved_before} m) THEN
            {lock}
            {_remove_ancestors(t, below, moved_before)}
            {_add_ancestors(t, below, moved_after)}
        END IF;
        RETURN NULL;
    END $$;
    -- A TRUNCATE naming both tables has emptied this one already (and may not truncate it twice).
    CREATE OR REPLACE FUNCTION catalogue_{prefix}ancestors_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT FROM {ancestors}) THEN
            TRUNCATE {ancestors};
        END IF;
        RETURN NULL;
    END $$;
    -- Run at commit, when the tree is whole again: the records below a moved category are
    -- placed again under their categories' current ancestors.
    CREATE OR REPLACE FUNCTION catalogue_{below.moved}() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        affected bigint[];
    BEGIN
        SELECT array_agg(DISTINCT m.{item}) INTO affected
        FROM {category} moved
        JOIN {category} d ON d.tree_id = moved.tree_id AND d.lft BETWEEN moved.lft AND moved.rght
        JOIN {memberships} m ON m.category_id = d.id
        WHERE moved.id = NEW.id;
        IF affected IS NOT NULL THEN
            DELETE FROM {ancestors} WHERE {item} = ANY(affected);
            INSERT INTO {ancestors} ({below.columns()})
            SELECT {below.select()}
            FROM {memberships} m {_ancestors_of(t)}
            WHERE m.{item} = ANY(affected)
            GROUP BY a.id, m.{item};
        END IF;
        RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS {category}_{below.moved.removeprefix("category_")} ON {category};
    CREATE CONSTRAINT TRIGGER {category}_{below.moved.removeprefix("category_")}
        AFTER UPDATE ON {category}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
        EXECUTE FUNCTION catalogue_{below.moved}();
    """ + "".join(
        _trigger(f"{memberships}_ancestors_{event}", memberships, timing, body)
        for event, timing, body in (
            (
                "insert",
                "AFTER INSERT",
                "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                f"EXECUTE FUNCTION catalogue_{prefix}ancestors_added()",
            ),
            (
                "delete",
                "AFTER DELETE",
                "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                f"EXECUTE FUNCTION catalogue_{prefix}ancestors_removed()",
            ),
            (
                "update",
                "AFTER UPDATE",
                "REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION catalogue_{prefix}ancestors_relinked()",
            ),
            (
                "truncate",
                "AFTER TRUNCATE",
                f"FOR EACH STATEMENT EXECUTE FUNCTION catalogue_{prefix}ancestors_truncated()",
            ),
        )
    )


def _fill_ancestors(t: Tables, below: Below) -> str:
    return f"""
    INSERT INTO {getattr(t, below.ancestors)} ({below.columns()})
        SELECT {below.select()}
        FROM {getattr(t, below.memberships)} m {_ancestors_of(t)}
        GROUP BY a.id, m.{below.item};
    """


def _drop_below(t: Tables, below: Below) -> str:
    memberships, category, prefix = getattr(t, below.memberships), t.Category, below.functions
    return (
        "".join(
            f"DROP TRIGGER IF EXISTS {memberships}_ancestors_{event} ON {memberships};\n"
            for event in ("insert", "delete", "update", "truncate")
        )
        + f"DROP TRIGGER IF EXISTS {category}_{below.moved.removeprefix('category_')} "
        f"ON {category};\n"
        + "".join(
            f"DROP FUNCTION IF EXISTS catalogue_{name}();\n"
            for name in (
                f"{prefix}ancestors_added",
                f"{prefix}ancestors_removed",
                f"{prefix}ancestors_relinked",
                f"{prefix}ancestors_truncated",
                below.moved,
            )
        )
    )


def _product_ancestors_code(t: Tables) -> str:
    return _below_functions(t, PRODUCTS_BELOW)


def _product_ancestors_setup(t: Tables) -> str:
    ancestors = t.ProductAncestor
    return f"""
    ALTER TABLE {ancestors} DROP CONSTRAINT {ancestors}_pkey,
        ADD CONSTRAINT {ancestors}_pkey PRIMARY KEY (category_id, product_id)
        INCLUDE (product_status);
    """ + _fill_ancestors(t, PRODUCTS_BELOW)


def _product_ancestors_drop(t: Tables) -> str:
    return _drop_below(t, PRODUCTS_BELOW)


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


def _cluster_ancestors_code(t: Tables) -> str:
    ancestors, deltas = t.ClusterAncestor, t.CategoryClusterDelta
    return (
        _below_functions(t, CLUSTERS_BELOW)
        + f"""
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
    """
        + "".join(
            _trigger(f"{ancestors}_counts_{event}", ancestors, timing, body)
            for event, timing, body in (
                (
                    "insert",
                    "AFTER INSERT",
                    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
                    "EXECUTE FUNCTION catalogue_clusters_below_added()",
                ),
                (
                    "delete",
                    "AFTER DELETE",
                    "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
                    "EXECUTE FUNCTION catalogue_clusters_below_removed()",
                ),
                (
                    "truncate",
                    "AFTER TRUNCATE",
                    "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_clusters_below_truncated()",
                ),
            )
        )
    )


def _cluster_ancestors_setup(t: Tables) -> str:
    return _fill_ancestors(t, CLUSTERS_BELOW)


def _cluster_ancestors_drop(t: Tables) -> str:
    ancestors = t.ClusterAncestor
    return (
        _drop_below(t, CLUSTERS_BELOW)
        + "".join(
            f"DROP TRIGGER IF EXISTS {ancestors}_counts_{event} ON {ancestors};\n"
            for event in ("insert", "delete", "truncate")
        )
        + "".join(
            f"DROP FUNCTION IF EXISTS catalogue_{name}();\n"
            for name in (
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
