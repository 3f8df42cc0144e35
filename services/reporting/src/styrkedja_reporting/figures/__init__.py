"""Figures a head of education reads (trend, gender gap, freshness, coverage, forecast against
outcome, merit value, eligibility). Pure rules, no I/O: each figure has a contribution per fact,
a delta (old fact → new fact ⇒ change in additive cell state) for the apply path, and a function
deriving the figure from the cell state at read time. See README.md in this folder."""
