"""Excel export of a self-assessment and its action plan, with the comments."""
