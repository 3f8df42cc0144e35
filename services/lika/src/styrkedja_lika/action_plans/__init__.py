"""Action plans (handlingsplaner): generated from a self-assessment, edited by the school unit."""
