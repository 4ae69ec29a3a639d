"""The SQL store: tables, engine, migrations and the queries the routes and jobs need."""
