"""Storage: the SQLite database, its migrations, and the append-only event journal."""
