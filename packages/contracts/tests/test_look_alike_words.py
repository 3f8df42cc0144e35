"""The names' whole-script look-alike rule (`identifiers.look_alike_word`, Unicode TS #39's whole-script confusables by
confusables.txt): beside Latin words, no word wholly of another script's letters drawn like ASCII ones."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from styrkedja_contracts import identifiers
from styrkedja_contracts.identifiers import Name, name_rule_broken

NAME = TypeAdapter(Name)
#: `identifiers.LOOK_ALIKE_RULE` (spelt out: the module imports on the old code, whose tests then fail one by one)
LOOK_ALIKE_RULE = "no_whole_script_confusables"


def look_alike_word(name: str) -> str | None:
    return identifiers.look_alike_word(name)  # type: ignore[no-any-return]

#: (name, the look-alike word): Cyrillic, Greek, Armenian, Cherokee; a digit's look-alike (Cyrillic З, "3"); a letter
#: with a mark on a look-alike (Cyrillic Ӧ is О with a diaeresis); the look-alike first or last
LOOK_ALIKES = [("Klass 7А", "7А"), ("Grupp АВ", "АВ"), ("Skola Рос", "Рос"), ("Skolan ΟΚ", "ΟΚ"), ("Klass ΝΕΟ", "ΝΕΟ"),
               ("Mathias օ", "օ"), ("Ꭺ skola", "Ꭺ"), ("Grupp З", "З"), ("Skola Ӧ", "Ӧ"), ("Skolan Ѕ", "Ѕ"),
               ("Rektor Ѕ.А.", "Ѕ.А.")]
#: names of one script, words of another script that do not look Latin, and a look-alike word beside a real word of
#: its script (the name is written in it too)
TAKEN = ["7А", "Рос Сор", "Київська школа", "Клас 7А", "Svenska Українська", "Svenska і Українська",
         "Modersmål Ελληνικά", "Modersmål Ρομά", "Ελληνικά ΟΚ", "Klass 7A", "Norra skolan", "Čáhcesullot skuvla",
         "Ŋuorra Šaŋŋa", "Hyvinkään koulu", "Dugsiga Xamar", "Skolan Åäö – العربية", "Tシャツ", "서울 학교 A", "Đà Nẵng",
         "İstanbul", "Ǆemal", "Skola 2 ١٢", "Mar'jana"]


@pytest.mark.parametrize(("name", "word"), LOOK_ALIKES)
def test_a_word_of_another_script_s_latin_look_alikes_beside_latin_words_is_refused(name: str, word: str) -> None:
    assert look_alike_word(name) == word and name_rule_broken(name) == LOOK_ALIKE_RULE
    with pytest.raises(ValidationError) as refused:
        NAME.validate_python(name)
    assert [e["type"] for e in refused.value.errors()] == [LOOK_ALIKE_RULE]
    assert refused.value.errors()[0]["msg"].endswith("(no_whole_script_confusables)")


@pytest.mark.parametrize("name", TAKEN)
def test_names_written_in_a_script_and_words_that_do_not_look_latin_are_taken(name: str) -> None:
    assert look_alike_word(name) is None and name_rule_broken(name) is None
    assert NAME.validate_python(name) == name


def test_latin_1_text_never_has_a_look_alike_word() -> None:
    """The decode's fast path judges a Latin-1 name by a pattern alone: no such name reaches this rule's data."""
    text = " ".join(chr(c) for c in range(0x21, 0x100) if c != 0x7F and not 0x80 <= c <= 0xA0)
    assert look_alike_word(text) is None


def test_the_look_alikes_are_unicode_s_confusables() -> None:
    """From confusables.txt (the pinned confusable-homoglyphs' copy): Cyrillic а, Greek Ο, Armenian օ are drawn like
    ASCII letters; Cyrillic л, Greek λ, Arabic ا are not."""
    from styrkedja_contracts.identifiers import _latin_look_alikes

    look_alikes = _latin_look_alikes()
    assert {"а", "А", "Ο", "ο", "օ", "Ꭺ", "З"} <= look_alikes
    assert not {"л", "λ", "ا", "a", "A", "3", "Ŋ", "å"} & look_alikes
