from styrkedja_kit.migrations import run_env
from styrkedja_lika.persistence import metadata

run_env(metadata)
