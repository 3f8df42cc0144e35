"""Compliance (rapporteringsgrad): who has not reported in a reporting window. Pure rules; see README.md."""
