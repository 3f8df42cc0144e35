from styrkedja_kit.migrations import run_env

from styrkedja_forecast.persistence import metadata

run_env(metadata)
