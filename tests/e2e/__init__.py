"""End-to-end tests (a package, so that `scope="package"` fixtures end with its last test)."""
