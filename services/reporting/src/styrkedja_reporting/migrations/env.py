from styrkedja_kit.migrations import run_env
from styrkedja_reporting.persistence import metadata

run_env(metadata)
