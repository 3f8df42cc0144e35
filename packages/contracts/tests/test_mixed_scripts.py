"""The names' mixed-script rule (`identifiers.mixes_scripts`, Unicode TS #39's "highly restrictive" level per word)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from styrkedja_contracts.identifiers import MIXED_SCRIPT_RULE, Name, mixes_scripts

NAME = TypeAdapter(Name)


@pytest.mark.parametrize("word", ["Skоla", "аbc", "Sk-оla", "S.k.о.l.a", "Skօla", "Ꭺmerica", "gο", "Сáмi",
                                  "Ελληνικάx", "مدرسةA"])
def test_a_word_of_two_scripts_mixes(word: str) -> None:
    assert mixes_scripts(word) and mixes_scripts(f"Norra {word} skolan")
    with pytest.raises(ValidationError) as refused:
        NAME.validate_python(f"Norra {word}")
    assert [e["type"] for e in refused.value.errors()] == [MIXED_SCRIPT_RULE]


@pytest.mark.parametrize("name", ["Skola", "Школа", "Київ", "Ελληνικά", "مدرسة", "東京スクール", "Tシャツ", "漢字かな",
                                  "서울 학교", "한국어A", "注音ㄅㄆ", "Modersmål Ελληνικά", "7A", "7А", "Ŋuorra", "x\u0301",
                                  "Мар'яна", "Dugsi-ga", "O'Brien", "İ", "ǅ", "١٢ مدرسة", "Skola 2 ١٢"])
def test_a_word_of_one_script_or_latin_with_east_asian_scripts_does_not(name: str) -> None:
    assert not mixes_scripts(name)
    assert NAME.validate_python(name) == name


def test_the_rule_s_scripts_are_unicode_s_script_extensions() -> None:
    """A character of several scripts (Script_Extensions) joins a word of any of them: the Arabic comma (U+060C, also
    Syriac, Thaana, ...) in an Arabic word, the kana prolonged sound mark (U+30FC, Hiragana and Katakana) in a kana
    word; a digit or a dash (Common) joins any word."""
    assert not mixes_scripts("مدرسة\u060cالنور") and not mixes_scripts("ス\u30fcパ\u30fc")
    assert not mixes_scripts("Skola-7") and not mixes_scripts("Школа-7")
