"""Access to reporting's figures: disclosure control (who sees which figure, suppression of small
groups). Pure; the read path applies it to every output (JSON, CSV, xlsx, drill-down, trends)."""
