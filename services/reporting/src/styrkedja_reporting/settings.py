from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from styrkedja_kit.settings import ServiceSettings

from .access.disclosure import DisclosureRules

#: the most connections, pass parts or parallel workers a rebuild setting may ask for: as the rebuild's flags
#: (`rebuild.command.MAX_WORKERS`; `--connections 100000` asked PostgreSQL for as many)
MAX_REBUILD_WORKERS = 64
#: young objects between two runs of the cycle collector during a rebuild (Python's default 700: the read's chunks of
#: decoded events and staging rows live on for a chunk, so every young collection walked them and promoted them, and
#: the full collections walked every chunk's survivors: a third of the read's CPU at 60k events, 3.64 -> 2.42 s)
GC_GEN0 = 100_000


class RebuildSettings(BaseSettings):
    """The rebuild's own settings (`styrkedja rebuild reporting`), read from reporting's environment and checked with
    the rest of its settings: a bad value stops the command at its start with one line naming the variable and its
    rule, exit 2 (it was a bare `int()`: a ValueError traceback, or a value taken silently, `0` or `-3` parts).
    Mostly bench settings, to compare one way with another. Its flags, where it has them, win over these. An empty
    variable is an unset one (as the bare reads took it)."""

    model_config = SettingsConfigDict(env_prefix="STYRKEDJA_", extra="ignore")

    # connections doing the work after the read side by side (`--connections`); None: one per core, at most 4
    rebuild_connections: int | None = Field(None, ge=1, le=MAX_REBUILD_WORKERS)
    # parts of the organisers the pass figure is made in (`--pass-parts`); None: one per connection
    rebuild_pass_parts: int | None = Field(None, ge=1, le=MAX_REBUILD_WORKERS)
    # the assessments' levels made in pass's parts of the organisers, later parts appended (after38: no gain measured
    # at 402k or 1.6M events, the append's CPU on top; the work after the read is bound by its jobs' sum on two
    # connections, not by the levels' chain — to try at 6.4M, where one statement's sorts spill more)
    rebuild_level_parts: bool = False
    # PostgreSQL's parallel workers per statement and per index build (`rebuild.bulk.parallel_workers`); None: none
    # where several connections work, else the server's own
    rebuild_workers: int | None = Field(None, ge=0, le=MAX_REBUILD_WORKERS)
    # `work_mem` and `maintenance_work_mem` of the rebuild's transactions in MB (None: `rebuild.bulk.WORK_MEM_KB`);
    # at least 64 (below it the big sorts only spill more), at most 64 GB
    rebuild_work_mem_mb: int | None = Field(None, ge=64, le=65_536)
    # young objects between two runs of the cycle collector during a rebuild (`GC_GEN0`; 0: Python's own)
    rebuild_gc_gen0: int = Field(GC_GEN0, ge=0, le=100_000_000)
    # the indexes kept on the shadow tables and maintained row by row, not built after the load (to compare)
    rebuild_keep_indexes: bool = False
    # the decoder processes answer with the facts' rows as COPY text (off: as tuples, to compare)
    rebuild_copy_text: bool = True
    # the set statements run under EXPLAIN (ANALYZE, BUFFERS), their plans written to this file at the end
    rebuild_explain: Path | None = None

    @field_validator("rebuild_connections", "rebuild_pass_parts", "rebuild_workers", "rebuild_work_mem_mb",
                     "rebuild_gc_gen0", "rebuild_keep_indexes", "rebuild_level_parts", "rebuild_copy_text", "rebuild_explain", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[str(info.field_name)].default
        return value

    @field_validator("rebuild_explain")
    @classmethod
    def _writable_place(cls, path: Path | None) -> Path | None:
        # checked at the start: the plans are written after the rebuild committed, too late to say the folder is missing
        if path is not None and (path.is_dir() or not path.absolute().parent.is_dir()):
            raise ValueError("a file in a folder that exists (the plans are written there at the end)")
        return path


class ReportingSettings(ServiceSettings, RebuildSettings):
    service_name: str = "reporting"
    consumer_group: str = "reporting"
    # Ready again soon after a SIGKILL: the group hands the partitions over once the dead member's
    # session times out. The kit picks the session from the broker's capabilities (6 s on Apache
    # Kafka, its smallest by default; 1 s on the embedded broker); with Apache Kafka,
    # `consumer_group_instance_id` (static membership) makes the hand-over immediate.
    # stödinsatser: an investigation (utredning) open longer than this is listed as overdue
    support_investigation_weeks: int = Field(8, ge=1, le=104)
    # freshness bands of the figures (aktualitet): green under `yellow_from`, red over `red_after` months
    freshness_yellow_from_months: int = Field(4, ge=1, le=120)
    freshness_red_after_months: int = Field(8, ge=1, le=120)
    # freshness_red alerts: how often the sweep judges every unit (time passes without events); 0 = off
    freshness_sweep_seconds: float = Field(3600.0, ge=0)
    # the disclosure decisions readers asked for in the last minutes are taken again in the background after
    # each new state version, at most once per this many seconds (`access.warm`): the first read after a
    # batch finds its decision kept. 0 = off (the first read decides, in the decision thread)
    decision_warm_seconds: float = Field(1.0, ge=0)
    # disclosure control (röjandekontroll): a figure from fewer than this many students is withheld
    # above school-unit level for every role, at every level for politician and public
    disclosure_min_students: int = Field(10, ge=1, le=1000)
    # optional rules, off by default: shares where 1–4 students fail shown as `~100`; counts rounded
    disclosure_near_full: bool = False
    disclosure_round_counts_to: int | None = Field(None, ge=2, le=100)
    # figure and results answers kept per state version and reader class (`access.answers`); off
    # only to measure or compare the uncached read path
    read_cache_enabled: bool = True
    # the answer cache's byte budget (what its answers hold: bodies, headers, keys and entries, as
    # `access.answers.entry_bytes` counts them; least recently used out past it); sized so
    # reporting stays within its memory target (250 MB RSS) at the deadline week's scale
    read_cache_max_mb: int = Field(16, ge=1, le=1024)
    # reads of the state version at once (one connection each): a request takes a read that started
    # after it arrived, the next as soon as any slot frees (`access.answers.StateVersions`). 1 here:
    # with PostgreSQL on the same 2 cores, 4 read slower (bench/README.md, reads3); more may pay
    # where the database has cores of its own and the round trip is the network's
    read_cache_version_reads: int = Field(1, ge=1, le=32)
    # the most cells one results read answers (`results.read.TooManyCells`: more is a 422 naming the filters that
    # narrow it): a read's rows and cells are all held until encoded, so an unbounded one (every student
    # nationally: ~6.4M cells at the deadline week's scale) held GBs. A cell held ~1.8 kB of RSS (bench/README.md,
    # bound28): 40,000 are ~70 MB over a worker's ~200 MB; they cover one organiser's students at the national
    # average size (~22k) and at the bench's 400k events (~33k, its cell check reads per organiser)
    results_read_max_cells: int = Field(40_000, ge=1, le=10_000_000)
    # the cells of area, organiser and nation reads kept per state version (`results.read.KeptReads`; ~1.8 kB of RSS
    # a cell as kept, so 4,096 are ~7 MB): bounded by reads alone (512) they grew a worker by ~0.35 MB for every
    # organiser the cell check read, ~51 MB more at 200 organisers (bench/README.md, reads30). 0: none kept
    results_kept_cells: int = Field(4_096, ge=0, le=1_000_000)
    # glibc's allocator returns what a batch freed (`kit.app.tune_allocator`): bench/speed.py saw
    # reporting's RSS after catching up on 62k events at 195 MB with these, 224–235 MB without,
    # apply equally fast
    malloc_trim_threshold_bytes: int | None = Field(128 * 1024, ge=0)
    malloc_mmap_threshold_bytes: int | None = Field(128 * 1024, ge=0, le=32 * 2**20)
    malloc_arena_max: int | None = Field(2, ge=1)

    def disclosure_rules(self) -> DisclosureRules:
        return DisclosureRules(min_students=self.disclosure_min_students,
                               approximate_near_full=self.disclosure_near_full,
                               round_counts_to=self.disclosure_round_counts_to)
