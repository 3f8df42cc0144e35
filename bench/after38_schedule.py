"""Issue 16, after38: the rebuild's after-read jobs list-scheduled on 2 connections as `Rebuilder._run_jobs` does (a
free connection takes the first job in list order whose inputs are done), each job taking its wall in scale37's 6.4M
run `merged37-6.4M-quiet` — the order of session 37's code, the levels in two parts (with an append), other orders.
A model: the walls are those of that run's jobs beside each other, not of the jobs alone.

    python3 bench/after38_schedule.py
"""

import json
from pathlib import Path

d = json.loads((Path(__file__).resolve().parent / "results" / "scale37.json").read_text())
run = next(r for r in d["runs"] if r["label"] == "merged37-6.4M-quiet")
tl = run["timeline"]
W = {k: v[1] - v[0] for k, v in tl.items()}
F = "facts.assessment_facts"
derive = ("handlers", F, "facts.forecast_facts")
fidx = ["index.assessment_facts_pkey", "index.ix_assessment_facts_organiser_id", "index.ix_assessment_facts_school_unit_code", "index.ix_assessment_facts_student_newest"]
ffidx = ["index.forecast_facts_pkey", "index.ix_forecast_facts_organiser_id", "index.ix_forecast_facts_school_unit_code", "index.ix_forecast_facts_student"]
aidx = ["index.assessment_aggregates_pkey", "index.ix_assessment_aggregates_nation"]
faidx = ["index.forecast_aggregates_pkey", "index.ix_forecast_aggregates_nation"]
pidx = ["index.figure_pass_pkey", "index.ix_figure_pass_nation", "index.ix_figure_pass_organiser_level"]
cidx = ["index.compliance_items_pkey", "index.ix_compliance_items_student", "index.compliance_cells_pkey"]
bidx = ["index.ix_support_below_pass_organiser_level_unit", "index.support_below_pass_pkey"]
appidx = ["index.consumer_applied_events_pkey"]

def jobs(split: bool, levels_factor=1.0, append=0.0):
    lv = ("levels.assessment_aggregates.0", "levels.assessment_aggregates.1", "levels.appended.1") if split else ("levels.assessment_aggregates",)
    if split:
        half = W["levels.assessment_aggregates"] * levels_factor / 2
        W.update({"levels.assessment_aggregates.0": half, "levels.assessment_aggregates.1": half, "levels.appended.1": append})
    pmk = ("figures.pass.0", "figures.pass.1")
    J = [("facts.assessment_facts.1", ()), ("facts.assessment_facts.2", ()), (F, ("facts.assessment_facts.1", "facts.assessment_facts.2")),
         ("handlers", ()), ("facts.forecast_facts", ())]
    judging = [("alerts.judge", ("handlers", *lv, *pmk)), ("alerts.judge.below", ("alerts.judge", F, "facts.forecast_facts", *fidx, *ffidx))]
    figs = [("figures.pass.0", derive), ("figures.pass.1", derive), ("figures.students.1", ("figures.pass.1", "figures.pass.0"))]
    fsidx = [("index.figure_students_pkey", (*pmk, "figures.students.1"))]
    if split:
        levels = [("levels.assessment_aggregates.0", derive), ("levels.assessment_aggregates.1", derive),
                  ("levels.appended.1", ("levels.assessment_aggregates.1", "levels.assessment_aggregates.0"))]
        J += judging + figs + levels + fsidx + [("compliance", derive), ("below_pass", derive)]
    else:
        J += judging + fsidx + figs + [("compliance", derive), ("below_pass", derive), ("levels.assessment_aggregates", derive)]
    J += [("levels.forecast_aggregates", derive), ("figures.forecasts", derive), ("figures.merit", derive),
          ("bookkeeping", ("handlers",)), ("freshness", ("handlers",))]
    J += [(i, (F,)) for i in fidx] + [(i, ("facts.forecast_facts",)) for i in ffidx] + [(i, lv) for i in aidx] + \
         [(i, ("levels.forecast_aggregates",)) for i in faidx] + [(i, pmk) for i in pidx] + [(i, ("compliance",)) for i in cidx] + \
         [(i, ("below_pass",)) for i in bidx] + [(i, ("bookkeeping",)) for i in appidx]
    readers = {"assessment_facts": ("alerts.judge.below", "figures.pass.0", "figures.pass.1", "compliance", "below_pass", *lv, "figures.merit"),
               "assessment_aggregates": ("alerts.judge",), "figure_pass": ("alerts.judge",)}
    for t, ix in (("assessment_facts", fidx), ("forecast_facts", ffidx), ("forecast_aggregates", faidx), ("figure_pass", pidx),
                  ("figure_students", ["index.figure_students_pkey"]), ("compliance_items", cidx[:2]), ("compliance_cells", cidx[2:]),
                  ("support_below_pass", bidx), ("consumer_applied_events", appidx), ("assessment_aggregates", aidx)):
        J.append((f"keys.{t}", (*ix, *readers.get(t, ()))))
    return J

def simulate(J, conns=2):
    done, free, taken = {}, [0.0] * conns, set()
    while len(taken) < len(J):
        free.sort(); now = free[0]
        ready = [j for j in J if j[0] not in taken and all(a in done and done[a] <= now for a in j[1])]
        if not ready:
            nxt = min(v for v in done.values() if v > now); free[0] = nxt; continue
        name, _ = ready[0]; taken.add(name)
        end = now + W.get(name, 0.0); done[name] = end; free[0] = end
    return max(done.values()), done

print("before (scale37's order):", round(simulate(jobs(False))[0], 1), "actual end of the last key", tl["keys.assessment_aggregates"][1])
for factor, append in ((1.0, 0.0), (1.0, 2.9), (1.06, 2.9)):
    end, done = simulate(jobs(True, factor, append))
    print(f"levels in 2 parts x{factor}, append {append}s:", round(end, 1), "levels done", round(done["levels.appended.1"], 1),
          "judge", round(done["alerts.judge"], 1), "agg pkey", round(done["index.assessment_aggregates_pkey"], 1))

def reorder(J, moves):
    """`moves`: (job, after_job): job moved right after after_job in the list."""
    J = list(J)
    for name, anchor in moves:
        j = next(x for x in J if x[0] == name); J.remove(j)
        J.insert(next(n for n, x in enumerate(J) if x[0] == anchor) + 1, j)
    return J

total = sum(W.get(n, 0) for n, _ in jobs(True, 1.0, 2.9))
print("bound (sum/2), split with append 2.9:", round(total / 2, 1), "; unsplit:", round(sum(W.get(n, 0) for n, _ in jobs(False)) / 2, 1))
for label, split, moves in (
        ("unsplit, agg indexes after the levels", False, [("index.assessment_aggregates_pkey", "levels.assessment_aggregates"), ("index.ix_assessment_aggregates_nation", "index.assessment_aggregates_pkey")]),
        ("split, agg indexes after the append", True, [("index.assessment_aggregates_pkey", "levels.appended.1"), ("index.ix_assessment_aggregates_nation", "index.assessment_aggregates_pkey")]),
        ("split, agg indexes after the append, fs pkey after them", True, [("index.assessment_aggregates_pkey", "levels.appended.1"), ("index.ix_assessment_aggregates_nation", "index.assessment_aggregates_pkey"), ("index.figure_students_pkey", "index.ix_assessment_aggregates_nation")]),
        ):
    for factor, append in ((1.0, 2.9), (1.06, 2.9)):
        J = reorder(jobs(split, factor, append), moves)
        end, done = simulate(J)
        print(f"{label} x{factor}: {end:.1f}")

