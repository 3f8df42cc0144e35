"""The audit trail of student-level reads (the kit's `access_audit` table on the service's metadata)."""

from styrkedja_kit.auth.audit import define_audit_table

from ..metadata import metadata

audit_reads = define_audit_table(metadata)
