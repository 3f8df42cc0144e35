"""LIKA domain: the indicator catalogue and the pure self-assessment logic.

No HTTP, no database, no Kafka — only models and deterministic functions:

* :mod:`.catalogue` – catalogue models, loader (``load_catalogue``, ``load_catalogues``) and rules;
* :mod:`.ratings` – self-assessments and ``validate_self_assessment``;
* :mod:`.scores` – scores per area and overall;
* :mod:`.action_plan` – the generated action plan;
* :mod:`.comparison` – comparison of two self-assessments (radar data);
* :mod:`.compilation` – the organiser's compilation and to-do view.
"""

from .action_plan import ActionPlan, OrderedActivity, PlanItem, generate_action_plan, order_activities
from .catalogue import (
    Activity,
    Catalogue,
    CatalogueInvalid,
    CatalogueLibrary,
    Indicator,
    RetiredIndicator,
    available_versions,
    catalogue_schema,
    check_catalogue_rules,
    check_version_stability,
    find_dependency_cycle,
    load_catalogue,
    load_catalogues,
    parse_catalogue,
    read_catalogue_data,
    schema_problems,
    version_key,
)
from .comparison import (
    DISCUSSION_THRESHOLD,
    Comparison,
    IndicatorComparison,
    NotComparable,
    RadarSeries,
    compare_self_assessments,
)
from .compilation import Compilation, FormCompilation, TodoItem, UnitRow, compile_organiser, latest_published
from .enums import (
    AREA_ORDER,
    RATED_SCALE,
    Area,
    AssessmentStatus,
    OwnerRole,
    Rating,
    RespondentRole,
    SchoolForm,
)
from .ratings import (
    MAX_COMMENT_LENGTH,
    Problem,
    RatingEntry,
    Rule,
    SelfAssessment,
    SelfAssessmentInvalid,
    validate_self_assessment,
)
from .scores import AreaScore, ScoreCard, mean_level, score_ratings, score_self_assessment, to_percent
from .terms import SchoolTerm

__all__ = [
    "AREA_ORDER",
    "DISCUSSION_THRESHOLD",
    "MAX_COMMENT_LENGTH",
    "RATED_SCALE",
    "ActionPlan",
    "Activity",
    "Area",
    "AreaScore",
    "AssessmentStatus",
    "Catalogue",
    "CatalogueInvalid",
    "CatalogueLibrary",
    "Comparison",
    "Compilation",
    "FormCompilation",
    "Indicator",
    "IndicatorComparison",
    "NotComparable",
    "OrderedActivity",
    "OwnerRole",
    "PlanItem",
    "Problem",
    "RadarSeries",
    "Rating",
    "RatingEntry",
    "RespondentRole",
    "RetiredIndicator",
    "Rule",
    "SchoolForm",
    "SchoolTerm",
    "ScoreCard",
    "SelfAssessment",
    "SelfAssessmentInvalid",
    "TodoItem",
    "UnitRow",
    "available_versions",
    "catalogue_schema",
    "check_catalogue_rules",
    "check_version_stability",
    "compare_self_assessments",
    "compile_organiser",
    "find_dependency_cycle",
    "generate_action_plan",
    "latest_published",
    "load_catalogue",
    "load_catalogues",
    "mean_level",
    "order_activities",
    "parse_catalogue",
    "read_catalogue_data",
    "schema_problems",
    "score_ratings",
    "score_self_assessment",
    "to_percent",
    "validate_self_assessment",
    "version_key",
]
