"""The xlsx workbook: Swedish headers, the comments kept, text never a formula."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from styrkedja_lika.exports.workbook import PLAN_HEADERS, RATING_HEADERS, Sheet, plan_rows, workbook_bytes


def test_comments_are_kept_and_text_is_never_a_formula():
    data = workbook_bytes([
        Sheet("Självskattning", [("Skolenhet", "29990011")], RATING_HEADERS,
              [["Ledning", "GR-LED-01", "Plan", "Påbörjad", "=HYPERLINK(\"http://x\",\"klick\")"],
               ["Ledning", "GR-LED-02", "Mål", "Uppnådd", "Bra,\nmen ojämnt"]]),
        Sheet("Handlingsplan", [], PLAN_HEADERS, plan_rows(
            [{"position": 1, "activity_id": "GR-LED-01-A1", "title": "Gör en plan", "indicator_id": "GR-LED-01",
              "area": "ledning", "current_rating": "STARTED", "priority": 1, "status": "in_progress",
              "owner": "Rektor", "due_date": date(2026, 12, 18), "suggested_term": "HT 2026/27",
              "tags": ["plan", "mal"], "note": "+SUM(A1)"}],
            {"ledning": "Ledning"}, {"STARTED": "Påbörjad"}))])
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Självskattning", "Handlingsplan"]
    ws = wb["Självskattning"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Skolenhet", "29990011", None, None, None)
    assert rows[2] == RATING_HEADERS
    assert rows[3][4] == "=HYPERLINK(\"http://x\",\"klick\")" and ws.cell(4, 5).data_type == "s"
    assert rows[4][4] == "Bra,\nmen ojämnt"
    plan = list(wb["Handlingsplan"].iter_rows(values_only=True))
    assert plan[0] == PLAN_HEADERS
    assert plan[1][7] == "Pågår" and plan[1][11] == "plan, mal" and plan[1][12] == "+SUM(A1)"
    assert wb["Handlingsplan"].cell(2, 13).data_type == "s"
