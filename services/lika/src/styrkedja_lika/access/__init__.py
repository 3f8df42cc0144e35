"""Who may do what with a self-assessment (ownership), and the caller's identity."""
