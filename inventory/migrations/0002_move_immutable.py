"""The ledger is append-only: the database itself refuses to update or delete a move."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION inventory_move_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'inventory moves are immutable: correct them with a reversing move';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER inventory_move_no_update BEFORE UPDATE OR DELETE ON inventory_move
    FOR EACH ROW EXECUTE FUNCTION inventory_move_immutable();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS inventory_move_no_update ON inventory_move;
DROP FUNCTION IF EXISTS inventory_move_immutable();
"""
SQLITE_UP = [
    "CREATE TRIGGER inventory_move_no_update BEFORE UPDATE ON inventory_move "
    "BEGIN SELECT RAISE(ABORT, 'inventory moves are immutable: correct them with a reversing move'); END;",
    "CREATE TRIGGER inventory_move_no_delete BEFORE DELETE ON inventory_move "
    "BEGIN SELECT RAISE(ABORT, 'inventory moves are immutable: correct them with a reversing move'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS inventory_move_no_update;",
    "DROP TRIGGER IF EXISTS inventory_move_no_delete;",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
