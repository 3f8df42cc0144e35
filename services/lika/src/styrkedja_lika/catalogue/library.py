"""The shipped catalogue versions, loaded once, and the rule that a version must be one of them."""

from __future__ import annotations

from styrkedja_kit.rules import RuleViolation

from ..domain import Catalogue, CatalogueLibrary, load_catalogues


def library() -> CatalogueLibrary:
    return load_catalogues()


def catalogue_for(version: str, *, field: str = "catalogue_version", status: int = 422) -> Catalogue:
    """The catalogue of `version`, or a problem naming `field` (rule `unknown_catalogue_version`)."""
    lib = library()
    try:
        return lib[version]
    except KeyError:
        raise RuleViolation(field, "unknown_catalogue_version",
                            f"no catalogue version {version!r}; known: {', '.join(lib)}", status=status) from None
