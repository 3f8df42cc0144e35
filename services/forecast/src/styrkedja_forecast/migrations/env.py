from styrkedja_forecast.persistence import metadata
from styrkedja_kit.migrations import run_env

run_env(metadata)
