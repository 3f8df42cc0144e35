"""Table exports: one table model rendered as JSON, CSV or xlsx, streamed, with the format chosen
by `format=` or the `Accept` header. See README.md in this folder."""

from .negotiate import ExportFormat, choose_format
from .response import export_response
from .table import Approximately, Column, ColumnType, Table, Withheld

__all__ = ["Approximately", "Column", "ColumnType", "ExportFormat", "Table", "Withheld", "choose_format", "export_response"]
